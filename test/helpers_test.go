// Package test holds the assertion tests on synthesized templates, and the tests
// that run the pinned CDK CLI on the example app. They share one test binary, so
// the jsii kernel starts once; they never call t.Parallel(). Apps that several
// tests read are synthesized once (example, cluster) and only read after.
package test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/examples/redmine"
	"github.com/restorable-cdk/restorable/restorable"
)

const (
	account = "123456789012"
	region  = "ap-northeast-1"

	snapshotARN      = "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident"
	otherSnapshotARN = "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:after-migration"
	efsRecoveryPoint = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
)

// restoreTime is a restore time that RDS accepts whenever the tests run: two
// hours ago, in UTC; restoreTimeJST is the same time with Japan's offset.
var (
	restoreAt      = time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	restoreTime    = restoreAt.Format("2006-01-02T15:04:05Z")
	restoreTimeJST = restoreAt.In(time.FixedZone("JST", 9*3600)).Format(time.RFC3339)
)

// repoRoot is the repository root, relative to this package.
const repoRoot = ".."

// scratch holds the cloud assemblies of apps that outlive one test.
var scratch string

func TestMain(m *testing.M) {
	runCheckerIfAsked()
	// Use the pinned Node.js (package.json) for the jsii kernel and the CDK CLI
	// when it is installed, as `make test` does.
	if bin, err := filepath.Abs(filepath.Join(repoRoot, "node_modules", ".bin")); err == nil {
		if _, err := os.Stat(filepath.Join(bin, "node")); err == nil {
			os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		}
	}
	var err error
	if scratch, err = os.MkdirTemp("", "restorable-test-"); err != nil {
		panic(err)
	}
	flag.Parse()
	startKernelWithoutDefaultValidation()
	startChecker()
	startBackground()
	code := m.Run()
	// The synths that TestEveryValidatedAppPassesCloudFormationValidation did
	// not report: all of them when -run leaves it out, and those queued after
	// it when -shuffle runs it early.
	{
		if failures := validationFailures(); len(failures) > 0 {
			fmt.Fprintln(os.Stderr, "FAIL: CloudFormation validation:\n  "+strings.Join(failures, "\n  "))
			code = 1
		}
	}
	stopChecker()
	jsii.Close()
	waitForControlTower()
	os.RemoveAll(scratch)
	os.Exit(code)
}

// startKernelWithoutDefaultValidation starts the jsii kernel with
// CDK_VALIDATION=false, which turns off the CloudFormation validation that
// every synth runs by default (aws-cdk-lib's core/lib/private/
// synthesis-validation.js reads the variable), and then clears the variable so
// that the processes the tests start (the CDK CLI, the example's binary, the
// consumer module) validate as a user's would. The apps whose templates must
// be valid register the checker (cfnValidated, validateApp), which validates
// them with the same plugin in a second process (checker_test.go): validating
// every app here took 20 to 45 s of the package's time, later 14 s, all on
// the critical path (issue 24).
func startKernelWithoutDefaultValidation() {
	old, had := os.LookupEnv("CDK_VALIDATION")
	os.Setenv("CDK_VALIDATION", "false")
	awscdk.Token_IsUnresolved(jsii.String("starts the kernel"))
	if had {
		os.Setenv("CDK_VALIDATION", old)
	} else {
		os.Unsetenv("CDK_VALIDATION")
	}
}

// cfnValidated registers CloudFormation validation on stack's app, for a test
// that expects its templates valid (expectValid); it has the signature of
// newCluster's and newFiles's tweaks.
func cfnValidated[P any](stack awscdk.Stack, _ *P) { validateApp(stack.Node().Root()) }

func validateApp(app constructs.IConstruct) {
	awscdk.Validations_Of(app).AddPlugins(theCheckerPlugin)
}

// validatedDirs are the cloud assemblies of the CDK CLI's runs with
// validation on, whose report validationViolations reads. The report lists
// only the plugins that found something, so an empty list from an assembly
// not in here would be a pass that cannot fail; validationViolations refuses
// it. The apps synthesized here are validated by the checker (expectValid).
var validatedDirs sync.Map

// appContext is the context every test app starts from: what the CDK CLI
// passes (construct paths in the template's metadata), plus ctx.
func appContext(ctx map[string]string) map[string]interface{} {
	out := map[string]interface{}{"aws:cdk:enable-path-metadata": true}
	for k, v := range ctx {
		out[k] = v
	}
	return out
}

// newApp returns a fresh app with the given context, writing to a temporary
// directory.
func newApp(t *testing.T, context map[string]string) awscdk.App {
	t.Helper()
	ctx := appContext(context)
	return awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &ctx})
}

// newStack returns a stack with a fixed environment in a fresh app.
func newStack(t *testing.T, context map[string]string) awscdk.Stack {
	t.Helper()
	return awscdk.NewStack(newApp(t, context), jsii.String("AppStack"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)},
	})
}

func newVpc(stack awscdk.Stack) awsec2.Vpc {
	return awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
}

// clusterProps are minimal props of a PostgreSQL cluster in a new VPC.
func clusterProps(stack awscdk.Stack) awsrds.DatabaseClusterProps {
	return awsrds.DatabaseClusterProps{
		Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{
			Version: awsrds.AuroraPostgresEngineVersion_VER_16_4(),
		}),
		Vpc:    newVpc(stack),
		Writer: awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil),
	}
}

// newCluster builds a restorable cluster named Database in a new stack, reading
// its source and consent from the given context; tweak changes its props.
func newCluster(t *testing.T, context map[string]string, tweaks ...func(stack awscdk.Stack, p *restorable.AuroraClusterProps)) (awscdk.Stack, *restorable.AuroraCluster) {
	t.Helper()
	stack := newStack(t, context)
	p := restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack)}
	for _, tweak := range tweaks {
		tweak(stack, &p)
	}
	props, err := restorable.AuroraClusterFromContext(stack, "Database", p)
	require.NoError(t, err)
	return stack, restorable.NewAuroraCluster(stack, jsii.String("Database"), props)
}

// newFiles builds a restorable file system named Files in a new stack with a
// VPC, reading its recovery point and consent from the context.
func newFiles(t *testing.T, context map[string]string, tweaks ...func(stack awscdk.Stack, p *restorable.FileSystemProps)) (awscdk.Stack, *restorable.FileSystem) {
	t.Helper()
	stack := newStack(t, context)
	p := restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: newVpc(stack)}}
	for _, tweak := range tweaks {
		tweak(stack, &p)
	}
	props, err := restorable.FileSystemFromContext(stack, "Files", p)
	require.NoError(t, err)
	return stack, restorable.NewFileSystem(stack, jsii.String("Files"), props)
}

// templateJSON synthesizes the stack's app (once; later calls reuse the cloud
// assembly, and app validations run as in `cdk synth`) and returns the stack's
// template as a map.
func templateJSON(t *testing.T, stack awscdk.Stack) map[string]interface{} {
	t.Helper()
	asm := awscdk.Stage_Of(stack).Synth(nil)
	// The template as synth wrote it, read here: the artifact's Template()
	// is the same file parsed, but sent through the jsii kernel's pipe as
	// JSON, which cost more than the synth itself for a large template
	// (issue 24).
	raw, err := os.ReadFile(*asm.GetStackArtifact(stack.ArtifactId()).TemplateFullPath())
	require.NoError(t, err)
	var out map[string]interface{}
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// synthesized is an app synthesized once and read by several tests.
type synthesized struct {
	stack  *redmine.Stack
	tmpl   map[string]interface{}
	outdir string
}

var examples = map[string]synthesized{}

// example synthesizes the example app as `cdk synth` runs it with cdk.json,
// plus the given context (the -c values), in a fixed environment: once per
// context, so tests must only read the result.
func example(t *testing.T, context map[string]string) (*redmine.Stack, map[string]interface{}, string) {
	t.Helper()
	key := fmt.Sprint(context)
	if s, ok := examples[key]; ok {
		return s.stack, s.tmpl, s.outdir
	}
	outdir, err := os.MkdirTemp(scratch, "example-")
	require.NoError(t, err)
	stack := exampleStackIn(t, context, outdir)
	s := synthesized{stack: stack, tmpl: templateJSON(t, stack.Stack), outdir: outdir}
	examples[key] = s
	return s.stack, s.tmpl, s.outdir
}

// exampleStack builds the example app as example does, without synthesizing it.
func exampleStack(t *testing.T, context map[string]string) (*redmine.Stack, string) {
	t.Helper()
	outdir := t.TempDir()
	return exampleStackIn(t, context, outdir), outdir
}

func exampleStackIn(t *testing.T, context map[string]string, outdir string) *redmine.Stack {
	t.Helper()
	app := cdkJSONApp(t, context, outdir)
	stack, err := redmine.NewStack(app, "RedmineStack", &redmine.StackProps{StackProps: awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)},
	}})
	require.NoError(t, err)
	return stack
}

// cdkJSONContext returns the context of the root cdk.json (the feature flags),
// which `cdk synth` passes to the example app.
func cdkJSONContext(t *testing.T) map[string]interface{} {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "cdk.json"))
	require.NoError(t, err)
	var cfg struct {
		Context map[string]interface{} `json:"context"`
	}
	require.NoError(t, json.Unmarshal(raw, &cfg))
	return cfg.Context
}

// cdkJSONApp is an app with cdk.json's context plus the given context (the -c
// values), as `cdk synth` runs an app.
func cdkJSONApp(t *testing.T, context map[string]string, outdir string) awscdk.App {
	t.Helper()
	ctx := appContext(context)
	for k, v := range cdkJSONContext(t) {
		ctx[k] = v
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &ctx})
	// cdk.json turns validation errors into synth errors
	// (@aws-cdk/core:validateAgainstDefaultRules), as a user's synth of the
	// example does: every mode of the example and the DR example validates.
	validateApp(app)
	return app
}

// resourcesOfType returns the logical IDs and resources of the given type, sorted
// by logical ID.
func resourcesOfType(t *testing.T, tmpl map[string]interface{}, typ string) ([]string, []map[string]interface{}) {
	t.Helper()
	resources, _ := tmpl["Resources"].(map[string]interface{})
	var ids []string
	for id, r := range resources {
		if r.(map[string]interface{})["Type"] == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := make([]map[string]interface{}, len(ids))
	for i, id := range ids {
		out[i] = resources[id].(map[string]interface{})
	}
	return ids, out
}

// onlyResource returns the logical ID and the resource of the one resource of the
// given type, failing the test when there is not exactly one.
func onlyResource(t *testing.T, tmpl map[string]interface{}, typ string) (string, map[string]interface{}) {
	t.Helper()
	ids, res := resourcesOfType(t, tmpl, typ)
	require.Len(t, ids, 1, "resources of type %s", typ)
	return ids[0], res[0]
}

// cdkPath is the construct path CDK recorded for a resource.
func cdkPath(r map[string]interface{}) string {
	meta, _ := r["Metadata"].(map[string]interface{})
	p, _ := meta["aws:cdk:path"].(string)
	return p
}

// byPath returns the logical ID and the resource whose construct path is path
// (with or without the L1's "/Resource"), failing the test if there is none.
func byPath(t *testing.T, tmpl map[string]interface{}, path string) (string, map[string]interface{}) {
	t.Helper()
	for id, r := range tmpl["Resources"].(map[string]interface{}) {
		res := r.(map[string]interface{})
		if p := cdkPath(res); p == path || p == path+"/Resource" || p == path+"/Default" || p == path+"/Resource/Resource" {
			return id, res
		}
	}
	t.Fatalf("no resource at %s", path)
	return "", nil
}

// underPath returns the logical IDs of the resources of type typ whose
// construct path starts with prefix.
func underPath(tmpl map[string]interface{}, prefix, typ string) []string {
	var out []string
	for id, r := range tmpl["Resources"].(map[string]interface{}) {
		res := r.(map[string]interface{})
		if (typ == "" || res["Type"] == typ) && strings.HasPrefix(cdkPath(res), prefix) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// resourceByID returns a resource by its logical ID.
func resourceByID(t *testing.T, tmpl map[string]interface{}, id string) (string, map[string]interface{}) {
	t.Helper()
	r, ok := tmpl["Resources"].(map[string]interface{})[id].(map[string]interface{})
	require.True(t, ok, id)
	return id, r
}

// props returns a resource's Properties.
func props(r map[string]interface{}) map[string]interface{} {
	p, _ := r["Properties"].(map[string]interface{})
	return p
}

// fmtJSON renders a template value as compact JSON, for substring checks.
func fmtJSON(v interface{}) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// refOf returns the logical ID a {"Ref": ...} or {"Fn::GetAtt": [...]} names.
func refOf(v interface{}) string {
	m, _ := v.(map[string]interface{})
	if r, ok := m["Ref"].(string); ok {
		return r
	}
	if g, ok := m["Fn::GetAtt"].([]interface{}); ok {
		return g[0].(string)
	}
	return ""
}

// refsIn returns the logical IDs a template value refers to (Ref, GetAtt),
// pseudo parameters left out.
func refsIn(v interface{}) []string {
	var out []string
	var walk func(v interface{})
	walk = func(v interface{}) {
		switch x := v.(type) {
		case map[string]interface{}:
			if r := refOf(x); r != "" && !strings.HasPrefix(r, "AWS::") {
				out = append(out, r)
				return
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
	walk(v)
	return out
}

// functionWithHandler returns the logical ID and resource of the one function
// whose RESTORABLE_HANDLER is handler.
func functionWithHandler(t *testing.T, tmpl map[string]interface{}, handler string) (string, map[string]interface{}) {
	t.Helper()
	ids := functionsWithHandler(tmpl, handler)
	require.Len(t, ids, 1, "one %s function", handler)
	return resourceByID(t, tmpl, ids[0])
}

func functionsWithHandler(tmpl map[string]interface{}, handler string) []string {
	var out []string
	for id, r := range tmpl["Resources"].(map[string]interface{}) {
		res := r.(map[string]interface{})
		if res["Type"] == "AWS::Lambda::Function" && strings.Contains(fmtJSON(props(res)["Environment"]), `"RESTORABLE_HANDLER":"`+handler+`"`) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// statementsOf returns the policy statements attached to a role.
func statementsOf(t *testing.T, tmpl map[string]interface{}, roleID string) []map[string]interface{} {
	t.Helper()
	_, policies := resourcesOfType(t, tmpl, "AWS::IAM::Policy")
	var out []map[string]interface{}
	for _, p := range policies {
		if strings.Contains(fmtJSON(props(p)["Roles"]), `{"Ref":"`+roleID+`"}`) {
			for _, st := range props(p)["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
				out = append(out, st.(map[string]interface{}))
			}
		}
	}
	return out
}

// inlineStatements returns the statements of a role's inline policies.
func inlineStatements(t *testing.T, role map[string]interface{}) []map[string]interface{} {
	t.Helper()
	var out []map[string]interface{}
	policies, _ := props(role)["Policies"].([]interface{})
	require.NotEmpty(t, policies)
	for _, p := range policies {
		for _, st := range p.(map[string]interface{})["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
			out = append(out, st.(map[string]interface{}))
		}
	}
	return out
}

func statementBySid(t *testing.T, statements []map[string]interface{}, sid string) map[string]interface{} {
	t.Helper()
	for _, st := range statements {
		if st["Sid"] == sid {
			return st
		}
	}
	t.Fatalf("no statement %s in %v", sid, statements)
	return nil
}

func roleOf(fn map[string]interface{}) string {
	return refOf(props(fn)["Role"])
}

// panicMessage runs f and returns the message of the panic it raises, failing
// the test if it does not panic.
func panicMessage(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		require.NotNil(t, r, "expected a panic")
		if err, ok := r.(error); ok {
			msg = err.Error()
		} else {
			msg = fmt.Sprint(r)
		}
		msg = strings.TrimSpace(strings.TrimPrefix(msg, "Error: "))
	}()
	f()
	return ""
}

// check runs a jsii assertion (assertions.Template and Annotations report a
// failure as a panic), so that a failure fails this test alone, with its
// message, and the other tests still run.
func check(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("assertion failed: %v", r)
		}
	}()
	f()
}

func ptr[T any](v T) *T { return &v }

func clusterIDOf(t *testing.T, tmpl map[string]interface{}) string {
	t.Helper()
	id, _ := onlyResource(t, tmpl, "AWS::RDS::DBCluster")
	return id
}
