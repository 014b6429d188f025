package test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
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
			// The app runs cdk-nag's AwsSolutions pack on every synth: its
			// report lists rules, and none is non-compliant.
			report, err := os.ReadFile(filepath.Join(outdir, "AwsSolutions--RedmineStack-NagReport.csv"))
			require.NoError(t, err)
			assert.Contains(t, string(report), `"AwsSolutions-RDS2"`)
			assert.NotContains(t, string(report), "Non-Compliant")
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
	// THEN the cluster and its instance are replaced and the task definition gets
	// a new revision that points at them; the security group rules, on the
	// cluster's port as a number, stay; nothing else is replaced
	assert.Equal(t, []string{
		"AWS::ECS::TaskDefinition",
		"AWS::RDS::DBCluster",
		"AWS::RDS::DBInstance",
	}, replacedResources(diff), diff)
	assert.Regexp(t, `\[\+\] SnapshotIdentifier \(requires replacement\)\n\s+│\s+└─ `+regexp.QuoteMeta(snapshotARN), diff)
}

// resourceType matches a CloudFormation resource type.
var resourceType = regexp.MustCompile(`^(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+|Custom::[A-Za-z0-9]+)$`)

// changedResources parses `cdk diff` output into the logical IDs it lists as
// changed, keyed to their type.
func changedResources(diff string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(diff, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 3 || !regexp.MustCompile(`^\[[~+-]\]$`).MatchString(fields[0]) || !resourceType.MatchString(fields[1]) {
			continue
		}
		if fields[len(fields)-1] == "replace" {
			fields = fields[:len(fields)-1]
		}
		out[fields[len(fields)-1]] = fields[1]
	}
	return out
}

// dependsOn returns every resource that id depends on in the template, directly
// or through others: DependsOn, Ref and Fn::GetAtt. CloudFormation updates a
// resource only after all of them.
func dependsOn(tmpl map[string]interface{}, id string) map[string]bool {
	resources := tmpl["Resources"].(map[string]interface{})
	direct := func(r map[string]interface{}) []string {
		var deps []string
		switch d := r["DependsOn"].(type) {
		case string:
			deps = append(deps, d)
		case []interface{}:
			for _, x := range d {
				deps = append(deps, x.(string))
			}
		}
		var walk func(v interface{})
		walk = func(v interface{}) {
			switch x := v.(type) {
			case map[string]interface{}:
				if ref, ok := x["Ref"].(string); ok {
					deps = append(deps, ref)
				}
				if att, ok := x["Fn::GetAtt"].([]interface{}); ok {
					deps = append(deps, att[0].(string))
				}
				for _, y := range x {
					walk(y)
				}
			case []interface{}:
				for _, y := range x {
					walk(y)
				}
			}
		}
		walk(r["Properties"])
		return deps
	}
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		r, ok := resources[n].(map[string]interface{})
		if !ok {
			return
		}
		for _, d := range direct(r) {
			if !seen[d] {
				seen[d] = true
				visit(d)
			}
		}
	}
	visit(id)
	return seen
}

func TestCLIDiffOfADroppedSourceShowsTheGuardFirst(t *testing.T) {
	// GIVEN the example as deployed after a snapshot restore
	restored := t.TempDir()
	out, err := runCDK(t, "synth", "--quiet", "-o", restored, "-c", "snapshotArn="+snapshotARN)
	require.NoError(t, err, out)
	// WHEN a deploy forgets the source (a teammate's branch, a CI job)
	after := t.TempDir()
	diff, err := runCDK(t, "diff", "--template", filepath.Join(restored, "RedmineStack.template.json"), "-o", after)
	require.NoError(t, err, diff)
	// THEN the diff shows the cluster being replaced by an empty one, and the
	// guard's properties changing with it
	changed := changedResources(diff)
	tmpl := cliTemplate(t, after)
	guardID, _ := guardOf(t, tmpl)
	clusterID := clusterIDOf(t, tmpl)
	require.Equal(t, restorable.GuardResourceType, changed[guardID], diff)
	require.Equal(t, "AWS::RDS::DBCluster", changed[clusterID], diff)
	assert.Regexp(t, `\[~\] Custom::RestorableGuard Database/ReplacementGuard `+guardID+`\n(.*\n)*?.*\[~\] Source\n.*\[-\] Removed: \.SnapshotIdentifier`, diff)
	// AND every other changed resource depends on the guard, so CloudFormation
	// updates the guard first, and its refusal stops the update before the
	// cluster, its instance or the service are touched
	for id, typ := range changed {
		if id == guardID {
			assert.False(t, dependsOn(tmpl, guardID)[clusterID], "the guard must not depend on the cluster")
			continue
		}
		assert.True(t, dependsOn(tmpl, id)[guardID], "%s %s changes before the guard", typ, id)
	}
	assert.GreaterOrEqual(t, len(changed), 4, diff)
}

func TestCLIDiffOfAFilesRestoreOnlyAddsTheRestore(t *testing.T) {
	// GIVEN the example as deployed without a recovery point
	before := t.TempDir()
	out, err := runCDK(t, "synth", "--quiet", "-o", before)
	require.NoError(t, err, out)
	// WHEN `cdk diff` compares it with the app restoring an EFS recovery point
	after := t.TempDir()
	diff, err := runCDK(t, "diff", "--template", filepath.Join(before, "RedmineStack.template.json"),
		"-o", after, "-c", "efsRecoveryPointArn="+efsRecoveryPoint)
	require.NoError(t, err, diff)
	// THEN the only changes are the restore resource and the permissions to
	// restore that recovery point: the file system, its mount targets, the
	// service and the cluster are untouched
	tmpl := cliTemplate(t, after)
	crID := resourceIDOf(t, tmpl, restorable.EFSRestoreResourceType)
	assert.Equal(t, map[string]string{crID: restorable.EFSRestoreResourceType,
		orchestratorPolicyID(t, tmpl): "AWS::IAM::Policy", restoreRolePolicyID(t, tmpl): "AWS::IAM::Policy"}, changedResources(diff), diff)
	assert.Empty(t, replacedResources(diff))
	assert.Regexp(t, `\[\+\] `+regexp.QuoteMeta(restorable.EFSRestoreResourceType)+` Files/RecoveryPointRestore `+crID, diff)
	// AND CloudFormation Validate finds nothing, and the only annotation is the
	// restore's warning
	assert.Empty(t, validationViolations(t, after, "CloudFormation Validate"))
	warnings := validationViolations(t, after, "Construct Annotations")
	require.Len(t, warnings, 1, warnings)
	assert.Contains(t, warnings[0], "Annotation::restorable:efsRestore")
}
