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
// cdk.json, as a user does, on the modes whose templates differ: a new app, a
// snapshot restore and its dropped source, and a file restore. `make test`
// installs the CLI first.

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

var cliNew string

// cliNewTemplate synthesizes the example with the CLI, without a restore
// source, once.
func cliNewTemplate(t *testing.T) string {
	t.Helper()
	if cliNew == "" {
		dir, err := os.MkdirTemp(scratch, "cli-new-")
		require.NoError(t, err)
		out, err := runCDK(t, "synth", "--quiet", "-o", dir)
		require.NoError(t, err, out)
		cliNew = dir
	}
	return cliNew
}

func TestCLISynthesizesTheExample(t *testing.T) {
	dir, err := os.MkdirTemp(scratch, "cli-new-")
	require.NoError(t, err)
	out, err := runCDK(t, "synth", "--quiet", "-o", dir)
	require.NoError(t, err, out)
	cliNew = dir
	// The app prints what each deploy would do, by itself.
	assert.Contains(t, out, "restorable: 4 restorable resource(s)")
	assert.Contains(t, out, "RedmineStack/RestorableProtection/AirGap (backup vault)")
	assert.Contains(t, out, "RedmineStack/Database (Aurora cluster)\n    source:  new, empty cluster")
	assert.Contains(t, out, "outputs: DatabaseClusterIdentifier (current identifier)")
	// CloudFormation Validate finds nothing, and the one annotation is the
	// example's warning that, without a certificate, traffic is clear text.
	assert.Empty(t, validationViolations(t, dir, "CloudFormation Validate"))
	annotations := validationViolations(t, dir, "Construct Annotations")
	require.Len(t, annotations, 1)
	assert.Contains(t, annotations[0], "redmine:cleartextHTTP: the load balancer listens on HTTP only")
	// The app runs cdk-nag's AwsSolutions pack on every synth: its report
	// lists rules, and none is non-compliant.
	report, err := os.ReadFile(filepath.Join(dir, "AwsSolutions--RedmineStack-NagReport.csv"))
	require.NoError(t, err)
	assert.Contains(t, string(report), `"AwsSolutions-RDS2"`)
	assert.NotContains(t, string(report), "Non-Compliant")
}

// replacedResources parses `cdk diff` output into the types of the resources it
// marks for replacement.
func replacedResources(diff string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^\[~\] (AWS::\S+) .* (\S+) replace$`).FindAllStringSubmatch(diff, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
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
		for len(fields) > 3 && (fields[len(fields)-1] == "replace" || fields[len(fields)-1] == "replaced" || fields[len(fields)-1] == "be" || fields[len(fields)-1] == "may") {
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

var cliRestored string

func TestCLIDiffOfARestoreReplacesOnlyTheClusterAndItsDependents(t *testing.T) {
	// GIVEN the template of the example as deployed without a restore source
	before := cliNewTemplate(t)
	// WHEN `cdk diff` compares it, offline, with the app restoring a snapshot
	after, err := os.MkdirTemp(scratch, "cli-restored-")
	require.NoError(t, err)
	diff, err := runCDK(t, "diff", "--template", filepath.Join(before, "RedmineStack.template.json"), "-o", after, "-c", "snapshotArn="+snapshotARN)
	require.NoError(t, err, diff)
	cliRestored = after
	// THEN the cluster and its instance are replaced and the task definition
	// gets a new revision that points at them; the security group rules, on the
	// cluster's port as a number, stay; nothing else is replaced
	assert.Equal(t, []string{"AWS::ECS::TaskDefinition", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance"}, replacedResources(diff), diff)
	assert.Regexp(t, `\[\+\] SnapshotIdentifier \(requires replacement\)\n\s+│\s+└─ `+regexp.QuoteMeta(snapshotARN), diff)
	for id, typ := range changedResources(diff) {
		assert.NotEqual(t, "AWS::EC2::SecurityGroupIngress", typ, id)
	}
	// AND the synth warns what the restore does, and nothing else but the
	// example's clear-text HTTP
	var warnings []string
	for _, v := range validationViolations(t, after, "Construct Annotations") {
		warnings = append(warnings, regexp.MustCompile(`^Construct Annotations: (\S+):`).FindStringSubmatch(v)[1])
	}
	sort.Strings(warnings)
	assert.Equal(t, []string{"Annotation::redmine:cleartextHTTP", "Annotation::restorable:keepSource", "Annotation::restorable:restore"}, warnings)
	assert.Empty(t, validationViolations(t, after, "CloudFormation Validate"))
}

func TestCLIDiffOfADroppedSourceShowsTheGuardFirst(t *testing.T) {
	// GIVEN the example as deployed after a snapshot restore
	restored := cliRestored
	if restored == "" {
		restored = t.TempDir()
		out, err := runCDK(t, "synth", "--quiet", "-o", restored, "-c", "snapshotArn="+snapshotARN)
		require.NoError(t, err, out)
	}
	// WHEN a deploy forgets the source (a teammate's branch, a CI job)
	after := t.TempDir()
	diff, err := runCDK(t, "diff", "--template", filepath.Join(restored, "RedmineStack.template.json"), "-o", after)
	require.NoError(t, err, diff)
	// THEN the diff shows the cluster being replaced by an empty one, and the
	// guard's properties changing with it
	changed := changedResources(diff)
	tmpl := cliTemplate(t, after)
	guardID := guardIDOf(t, tmpl)
	clusterID := clusterIDOf(t, tmpl)
	require.Equal(t, restorable.GuardResourceType, changed[guardID], diff)
	require.Equal(t, "AWS::RDS::DBCluster", changed[clusterID], diff)
	assert.Contains(t, diff, ".SnapshotIdentifier")
	// AND every other changed resource depends on the guard, so CloudFormation
	// updates the guard first, and its refusal stops the update before the
	// cluster, its instance or the service are touched
	for id, typ := range changed {
		if id == guardID {
			continue
		}
		assert.True(t, dependsOn(tmpl, id)[guardID], "%s %s changes before the guard", typ, id)
	}
	assert.GreaterOrEqual(t, len(changed), 4, diff)
}

func TestCLIDiffOfAFilesRestoreAddsOnlyTheRestore(t *testing.T) {
	// GIVEN the example as deployed without a recovery point
	before := cliNewTemplate(t)
	// WHEN `cdk diff` compares it with the app restoring an EFS recovery point
	after := t.TempDir()
	diff, err := runCDK(t, "diff", "--template", filepath.Join(before, "RedmineStack.template.json"), "-o", after, "-c", "efsRecoveryPointArn="+efsRecoveryPoint)
	require.NoError(t, err, diff)
	// THEN nothing is replaced or removed: the restore machinery is added, and
	// the file system's policy lets DataSync in, in place
	assert.Empty(t, replacedResources(diff), diff)
	assert.NotRegexp(t, `(?m)^\[-\] `, diff)
	tmpl := cliTemplate(t, after)
	filesID, _ := byPath(t, tmpl, "RedmineStack/Files/Default")
	for id, typ := range changedResources(diff) {
		if typ == "AWS::EFS::FileSystem" {
			assert.Equal(t, filesID, id)
			continue
		}
		_, r := resourceByID(t, tmpl, id)
		assert.Regexp(t, `^RedmineStack/(Files/Restore|Files/Default/RestoreAccessPoint|RestorableEfsRestore|Files/EfsSecurityGroup/from RedmineStackFilesRestore)`, cdkPath(r), "%s %s", typ, id)
	}
	assert.Regexp(t, `\[\+\] `+regexp.QuoteMeta(restorable.EFSRestoreResourceType)+` Files/Restore/Start`, diff)
	assert.Empty(t, validationViolations(t, after, "CloudFormation Validate"))
	warnings := validationViolations(t, after, "Construct Annotations")
	require.Len(t, warnings, 2, warnings)
	assert.Contains(t, strings.Join(warnings, "\n"), "Annotation::restorable:efsRestore")
	assert.Contains(t, strings.Join(warnings, "\n"), "Annotation::redmine:cleartextHTTP")
}
