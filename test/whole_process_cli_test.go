package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/restorable"
)

// These tests run the pinned CDK CLI (package.json) on the example app through
// cdk.json, as a user does, on the modes whose templates differ: a new app, a
// snapshot restore and its dropped source, and a file restore. `make test`
// installs the CLI first.

// cliDirs are the cloud assemblies the CLI chain writes.
var cliDirs struct{ fresh, restored, dropped, files string }

// cliChain runs the CLI as a user does, in the background from the start of
// the test binary (background_test.go): the new app's synth, then `cdk diff`
// of a snapshot restore against it, of the restore's dropped source against
// that, and of a file restore against the new app.
var cliChain = newBackground(func() map[string]command {
	dir := func(prefix string) string {
		d, err := os.MkdirTemp(scratch, prefix)
		if err != nil {
			panic(err)
		}
		return d
	}
	out := map[string]command{}
	cliDirs.fresh = dir("cli-new-")
	out["synth"] = runCDKIn("synth", "--quiet", "-o", cliDirs.fresh)
	before := filepath.Join(cliDirs.fresh, "RedmineStack.template.json")
	cliDirs.restored = dir("cli-restored-")
	// The diffs read the change set and the construct annotations, which
	// the report keeps without CloudFormation validation; the same modes'
	// templates are validated in this process (complianceTemplates), so
	// only the first synth validates here, as a user's does (issue 24:
	// about 4 s of CPU per run).
	out["restore"] = runCDKEnv(noValidation, "diff", "--template", before, "-o", cliDirs.restored, "-c", "snapshotArn="+snapshotARN)
	cliDirs.dropped = dir("cli-dropped-")
	out["dropped"] = runCDKEnv(noValidation, "diff", "--template", filepath.Join(cliDirs.restored, "RedmineStack.template.json"), "-o", cliDirs.dropped)
	cliDirs.files = dir("cli-files-")
	out["files"] = runCDKEnv(noValidation, "diff", "--template", before, "-o", cliDirs.files, "-c", "efsRecoveryPointArn="+efsRecoveryPoint)
	validatedDirs.Store(filepath.Clean(cliDirs.fresh), true)
	return out
})

// cliRun is one command of the chain, which must have succeeded.
func cliRun(t *testing.T, name string) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(root, "node_modules", ".bin", "cdk")); err != nil {
		t.Fatalf("the pinned CDK CLI is not installed: run `make test`, which installs it (npm ci)")
	}
	c := cliChain.result(name)
	require.NoError(t, c.err, c.out)
	return c.out
}

func cliTemplate(t *testing.T, outdir string) map[string]interface{} {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(outdir, "RedmineStack.template.json"))
	require.NoError(t, err)
	var tmpl map[string]interface{}
	require.NoError(t, json.Unmarshal(raw, &tmpl))
	return tmpl
}

func TestCLISynthesizesTheExample(t *testing.T) {
	out := cliRun(t, "synth")
	dir := cliDirs.fresh
	// The app prints what each deploy would do, by itself.
	assert.Contains(t, out, "restorable: 4 restorable resource(s)")
	assert.Contains(t, out, "RedmineStack/RestorableProtection/AirGap (backup vault)")
	assert.Contains(t, out, "RedmineStack/Database (Aurora cluster)\n    source:  new, empty cluster")
	assert.Contains(t, out, "outputs: DatabaseClusterIdentifier (current identifier)")
	// CloudFormation Validate finds nothing, and the one annotation is the
	// example's warning that, without a certificate, traffic is clear text.
	assert.Empty(t, validationViolations(t, dir, cfnValidateName))
	annotations := validationViolations(t, dir, "Construct Annotations")
	require.Len(t, annotations, 1)
	assert.Contains(t, annotations[0], "redmine:cleartextHTTP: the load balancer listens on HTTP only")
	// The app runs cdk-nag's AwsSolutions pack on every synth: its report
	// lists rules, and none is non-compliant.
	report, err := os.ReadFile(filepath.Join(dir, "AwsSolutions--RedmineStack-NagReport.csv"))
	require.NoError(t, err)
	assert.Contains(t, string(report), `"AwsSolutions-RDS2"`)
	assert.NotContains(t, string(report), "Non-Compliant")
	// The guard's code is an asset of the assembly that `cdk deploy`
	// publishes: the manifest names a directory holding an executable
	// bootstrap, zipped, at the key the function names, and the function
	// carries the asset metadata SAM reads.
	tmpl := cliTemplate(t, dir)
	guardFns := functionsWithHandler(tmpl, contract.HandlerGuard)
	require.Len(t, guardFns, 1)
	_, fn := resourceByID(t, tmpl, guardFns[0])
	key := props(fn)["Code"].(map[string]interface{})["S3Key"].(string)
	raw, err := os.ReadFile(filepath.Join(dir, "RedmineStack.assets.json"))
	require.NoError(t, err)
	var assets struct {
		Files map[string]struct {
			Source struct {
				Path      string `json:"path"`
				Packaging string `json:"packaging"`
			} `json:"source"`
			Destinations map[string]struct {
				ObjectKey string `json:"objectKey"`
			} `json:"destinations"`
		} `json:"files"`
	}
	require.NoError(t, json.Unmarshal(raw, &assets))
	asset, ok := assets.Files[strings.TrimSuffix(key, ".zip")]
	require.True(t, ok, "the assets manifest lists the guard's code %s", key)
	assert.Equal(t, "zip", asset.Source.Packaging)
	for _, d := range asset.Destinations {
		assert.Equal(t, key, d.ObjectKey)
	}
	info, err := os.Stat(filepath.Join(dir, asset.Source.Path, "bootstrap"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), info.Mode().Perm())
	meta := fn["Metadata"].(map[string]interface{})
	assert.Equal(t, asset.Source.Path, meta["aws:asset:path"])
	assert.Equal(t, "Code", meta["aws:asset:property"])
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

func TestCLIDiffOfARestoreReplacesOnlyTheClusterAndItsDependents(t *testing.T) {
	// GIVEN the template of the example as deployed without a restore source
	cliRun(t, "synth")
	// WHEN `cdk diff` compares it, offline, with the app restoring a snapshot
	diff := cliRun(t, "restore")
	after := cliDirs.restored
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
}

func TestCLIDiffOfADroppedSourceShowsTheGuardFirst(t *testing.T) {
	// GIVEN the example as deployed after a snapshot restore
	cliRun(t, "restore")
	// WHEN a deploy forgets the source (a teammate's branch, a CI job)
	diff := cliRun(t, "dropped")
	after := cliDirs.dropped
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
	cliRun(t, "synth")
	// WHEN `cdk diff` compares it with the app restoring an EFS recovery point
	diff := cliRun(t, "files")
	after := cliDirs.files
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
	warnings := validationViolations(t, after, "Construct Annotations")
	require.Len(t, warnings, 2, warnings)
	assert.Contains(t, strings.Join(warnings, "\n"), "Annotation::restorable:efsRestore")
	assert.Contains(t, strings.Join(warnings, "\n"), "Annotation::redmine:cleartextHTTP")
}

// badInputs are the bad -c values the example's binary is run with.
var badInputs = []struct {
	name string
	ctx  map[string]string
	want string
}{
	{"a misspelled key", map[string]string{"snapshotARN": snapshotARN}, `context key "snapshotARN" looks like "snapshotArn"`},
	{"an instance snapshot", map[string]string{"snapshotArn": "arn:aws:rds:ap-northeast-1:123456789012:snapshot:redmine-db"},
		`restorable: RedmineStack/Database: snapshotArn="arn:aws:rds:ap-northeast-1:123456789012:snapshot:redmine-db": is a DB instance snapshot`},
	{"an unknown construct path", map[string]string{"RedmineStack/Db.snapshotArn": snapshotARN}, `names "RedmineStack/Db", which is not a restorable Aurora cluster`},
	{"an empty value", map[string]string{"efsRecoveryPointArn": ""}, "restorable: efsRecoveryPointArn: is set but empty"},
}

// badInputChain builds the example's binary and runs it with each bad
// input, as the CDK CLI runs it, in the background (background_test.go).
var badInputChain = newBackground(func() map[string]command {
	out := map[string]command{}
	bin := filepath.Join(scratch, "redmine-bad-input")
	build := exec.Command("go", "build", "-o", bin, "./examples/redmine/cmd/redmine")
	build.Dir = repoRoot
	if b, err := build.CombinedOutput(); err != nil {
		out["build"] = command{out: string(b), err: err}
		return out
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "cdk.json"))
	if err != nil {
		out["build"] = command{err: err}
		return out
	}
	var cfg struct {
		Context map[string]interface{} `json:"context"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		out["build"] = command{err: err}
		return out
	}
	for _, tt := range badInputs {
		ctx := map[string]interface{}{}
		for k, v := range cfg.Context {
			ctx[k] = v
		}
		for k, v := range tt.ctx {
			ctx[k] = v
		}
		raw, _ := json.Marshal(ctx)
		dir, _ := os.MkdirTemp(scratch, "bad-input-")
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "CDK_CONTEXT_JSON="+string(raw), "CDK_OUTDIR="+dir)
		var b bytes.Buffer
		cmd.Stdout, cmd.Stderr = &b, &b
		err := cmd.Run()
		out[tt.name] = command{out: b.String(), err: err}
	}
	return out
})

func TestBadInputExitsWithTheMessageAlone(t *testing.T) {
	build := badInputChain.result("build")
	require.NoError(t, build.err, build.out)
	for _, tt := range badInputs {
		t.Run(tt.name, func(t *testing.T) {
			// GIVEN the app run as the CDK CLI runs it, with a bad -c value
			c := badInputChain.result(tt.name)
			// THEN it exits with status 1, with the message and no goroutine dump
			var exit *exec.ExitError
			require.True(t, errors.As(c.err, &exit), "exit status: %v\n%s", c.err, c.out)
			assert.Equal(t, 1, exit.ExitCode(), c.out)
			assert.Contains(t, c.out, tt.want)
			assert.NotContains(t, c.out, "goroutine")
			assert.NotContains(t, c.out, "panic")
		})
	}
}
