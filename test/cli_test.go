package test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the pinned CDK CLI (package.json) on the example app through
// cdk.json, as a user does. `make test` installs the CLI first.

// runCDK runs the CDK CLI in the repository root and returns its combined output
// and exit error.
func runCDK(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	bin := filepath.Join(root, "node_modules", ".bin")
	cdk := filepath.Join(bin, "cdk")
	if _, err := os.Stat(cdk); err != nil {
		t.Fatalf("the pinned CDK CLI is not installed at %s: run `make test`, which installs it (npm ci)", cdk)
	}
	cmd := exec.Command(cdk, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		// No AWS account: keep the CLI from probing for credentials.
		"AWS_EC2_METADATA_DISABLED=true",
		"CDK_DEFAULT_ACCOUNT=", "CDK_DEFAULT_REGION=",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

func cliTemplate(t *testing.T, outdir string) map[string]interface{} {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(outdir, "RedmineStack.template.json"))
	require.NoError(t, err)
	var tmpl map[string]interface{}
	require.NoError(t, json.Unmarshal(raw, &tmpl))
	return tmpl
}

func TestCLISynthesizesTheExampleInEveryMode(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		wantSource  string
		wantProps   map[string]interface{}
		absentProps []string
		warnings    []string
	}{
		{name: "new", wantSource: "source:  new, empty cluster",
			wantProps:   map[string]interface{}{"StorageEncrypted": true, "ManageMasterUserPassword": true},
			absentProps: []string{"SnapshotIdentifier", "SourceDBClusterIdentifier"}},
		{name: "snapshot", args: []string{"-c", "snapshotArn=" + snapshotARN},
			wantSource:  "source:  snapshot " + snapshotARN,
			wantProps:   map[string]interface{}{"SnapshotIdentifier": snapshotARN, "ManageMasterUserPassword": true},
			absentProps: []string{"MasterUsername", "StorageEncrypted"},
			warnings:    []string{"Annotation::restorable:keepSource", "Annotation::restorable:restore"}},
		{name: "point in time", args: []string{"-c", "restoreToTime=2026-11-20T19:15:22+09:00", "-c", "restoreSourceCluster=redminestack-database-abc"},
			wantSource:  "source:  point in time 2026-11-20T10:15:22Z of cluster redminestack-database-abc",
			wantProps:   map[string]interface{}{"RestoreToTime": "2026-11-20T10:15:22Z", "RestoreType": "full-copy", "SourceDBClusterIdentifier": "redminestack-database-abc"},
			absentProps: []string{"SnapshotIdentifier", "MasterUsername", "StorageEncrypted", "UseLatestRestorableTime"},
			warnings:    []string{"Annotation::restorable:keepSource", "Annotation::restorable:restore"}},
		{name: "clone", args: []string{"-c", "RedmineStack/Database.cloneSourceCluster=prod-db"},
			wantSource:  "source:  clone of cluster prod-db",
			wantProps:   map[string]interface{}{"RestoreType": "copy-on-write", "UseLatestRestorableTime": true, "SourceDBClusterIdentifier": "prod-db"},
			absentProps: []string{"SnapshotIdentifier", "RestoreToTime"},
			warnings:    []string{"Annotation::restorable:keepSource", "Annotation::restorable:restore"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outdir := t.TempDir()
			out, err := runCDK(t, append([]string{"synth", "--quiet", "-o", outdir}, tt.args...)...)
			require.NoError(t, err, out)
			// The app prints what the deploy would do.
			assert.Contains(t, out, "RedmineStack/Database (Aurora cluster)")
			assert.Contains(t, out, tt.wantSource)
			// CloudFormation Validate finds nothing; the only annotations are
			// restorable's own restore warnings.
			assert.Empty(t, validationViolations(t, outdir, "CloudFormation Validate"))
			var warnings []string
			for _, v := range validationViolations(t, outdir, "Construct Annotations") {
				warnings = append(warnings, regexp.MustCompile(`^Construct Annotations: (\S+):`).FindStringSubmatch(v)[1])
			}
			sort.Strings(warnings)
			assert.Equal(t, tt.warnings, warnings)
			_, cluster := onlyResource(t, cliTemplate(t, outdir), "AWS::RDS::DBCluster")
			for k, v := range tt.wantProps {
				assert.Equal(t, v, props(cluster)[k], k)
			}
			for _, k := range tt.absentProps {
				assert.NotContains(t, props(cluster), k)
			}
		})
	}
}

func TestCLIRejectsAnInstanceSnapshot(t *testing.T) {
	out, err := runCDK(t, "synth", "--quiet", "-o", t.TempDir(), "-c", "snapshotArn=arn:aws:rds:ap-northeast-1:123456789012:snapshot:redmine-db")
	require.Error(t, err, out)
	assert.Contains(t, out, `restorable: snapshotArn="arn:aws:rds:ap-northeast-1:123456789012:snapshot:redmine-db": is a DB instance snapshot, and an Aurora cluster restores from DB cluster snapshots. Fix: use a cluster snapshot ARN`)
}

// replacedResources parses `cdk diff` output into the types and logical IDs of
// the resources it marks for replacement.
func replacedResources(diff string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^\[~\] (AWS::\S+) .* (\S+) replace$`).FindAllStringSubmatch(diff, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

func TestCLIDiffOfARestoreReplacesOnlyTheClusterAndItsDependents(t *testing.T) {
	// GIVEN the template of the example as deployed without a restore source
	before := t.TempDir()
	out, err := runCDK(t, "synth", "--quiet", "-o", before)
	require.NoError(t, err, out)
	// WHEN `cdk diff` compares it, offline, with the app restoring a snapshot
	diff, err := runCDK(t, "diff", "--template", filepath.Join(before, "RedmineStack.template.json"),
		"-o", t.TempDir(), "-c", "snapshotArn="+snapshotARN)
	require.NoError(t, err, diff)
	// THEN the cluster and its instance are replaced, the task definition gets a
	// new revision that points at them, and the ingress rule keyed on the
	// endpoint's port is recreated; nothing else that holds data is replaced
	assert.Equal(t, []string{
		"AWS::EC2::SecurityGroupIngress",
		"AWS::ECS::TaskDefinition",
		"AWS::RDS::DBCluster",
		"AWS::RDS::DBInstance",
	}, replacedResources(diff), diff)
	assert.Regexp(t, `\[\+\] SnapshotIdentifier \(requires replacement\)\n\s+│\s+└─ `+regexp.QuoteMeta(snapshotARN), diff)
}
