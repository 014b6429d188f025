package test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/cloudformationinclude"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

// These tests run two independent rule sets over the synthesized templates, as
// a security reviewer would, on every template in every mode: AWS Control
// Tower's proactive controls (the cfn-guard rules shipped in the pinned npm
// package @cdklabs/cdk-validator-cfnguard, run with its cfn-guard binary), and
// five cdk-nag packs applied outside the app, to the templates loaded with
// cloudformation-include, so that only what the template carries (its
// cdk_nag metadata) can suppress a finding. Every finding on a resource
// restorable creates must be listed, with its reason, in docs/security.md; a
// listed finding that no longer fires fails the test too.

// complianceTemplates are the templates to check, by mode.
var complianceCache map[string]map[string]interface{}

func complianceTemplates(t *testing.T) map[string]map[string]interface{} {
	t.Helper()
	if complianceCache != nil {
		return complianceCache
	}
	out := map[string]map[string]interface{}{}
	for name, ctx := range map[string]map[string]string{
		"example, new":                nil,
		"example, snapshot restore":   {"snapshotArn": snapshotARN},
		"example, point in time":      {"restoreToTime": restoreTime, "restoreSourceCluster": "redminestack-database-abc"},
		"example, clone":              {"RedmineStack/Database.cloneSourceCluster": "prod-db"},
		"example, EFS recovery point": {"efsRecoveryPointArn": efsRecoveryPoint},
	} {
		_, tmpl, outdir := example(t, ctx)
		// Each mode is validated here; the CLI's diffs of the same modes run
		// without validation for that reason (whole_process_cli_test.go).
		expectValid(t, outdir)
		out[name] = tmpl
	}
	mysql, _ := newCluster(t, nil, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) {
		p.Engine = awsrds.DatabaseClusterEngine_AuroraMysql(&awsrds.AuroraMysqlClusterEngineProps{Version: awsrds.AuroraMysqlEngineVersion_VER_3_08_0()})
	})
	out["Aurora MySQL, new"] = templateJSON(t, mysql)
	dr := drTemplates(t, nil)
	out["DR, recovery vault"] = dr.vault
	out["DR, recovery restoring the copies"] = drTemplates(t, drRestore).recovery
	// The warm standby's primary is the backup-and-restore primary (copies,
	// drills) plus the global database and its replicated secret.
	warm := drTemplates(t, warmFailover)
	out["DR, warm standby primary with copies and drills"] = warm.primary
	out["DR, warm standby failing over"] = warm.recovery
	complianceCache = out
	return out
}

// libraryPath returns the path, below its stack, of a resource restorable
// creates, and "" for the resources of the app or the test (its VPC, the
// example's service).
func libraryPath(cdkPath string) string {
	parts := strings.SplitN(cdkPath, "/", 2)
	if len(parts) < 2 {
		return ""
	}
	rest := strings.TrimSuffix(strings.TrimSuffix(parts[1], "/Resource"), "/Default")
	switch top := strings.SplitN(rest, "/", 2)[0]; {
	case top == "Database", top == "Files", top == "RecoveryVault", strings.HasPrefix(top, "Restorable"),
		strings.HasPrefix(top, "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"):
		return rest
	}
	return ""
}

// documentedFindings reads the rows of docs/security.md whose first cell is a
// rule ID matching prefix: "<rule> <path>" for each path in the second cell.
func documentedFindings(t *testing.T, prefix *regexp.Regexp) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docs", "security.md"))
	require.NoError(t, err)
	var out []string
	row := regexp.MustCompile("(?m)^\\| ((?:`[^`]+`(?:, )?)+) \\| ([^|]+) \\|")
	quoted := regexp.MustCompile("`([^`]+)`")
	for _, m := range row.FindAllStringSubmatch(string(raw), -1) {
		for _, rule := range quoted.FindAllStringSubmatch(m[1], -1) {
			if !prefix.MatchString(rule[1]) {
				continue
			}
			for _, p := range quoted.FindAllStringSubmatch(m[2], -1) {
				out = append(out, rule[1]+" "+p[1])
			}
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeTemplates writes each template to dir, by a file name for its mode.
func writeTemplates(t *testing.T, dir string, templates map[string]map[string]interface{}) map[string]string {
	t.Helper()
	files := map[string]string{}
	for name, tmpl := range templates {
		raw, err := json.Marshal(tmpl)
		require.NoError(t, err)
		file := filepath.Join(dir, regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(name, "-")+".json")
		require.NoError(t, os.WriteFile(file, raw, 0o644))
		files[file] = name
	}
	return files
}

var controlTowerID = regexp.MustCompile(`\[(CT\.[A-Z0-9]+\.PR\.\d+)\]`)

// controlTowerFindings runs every Control Tower rule over the templates with
// cfn-guard, and returns "<control> <library path>" for each failure on a
// resource restorable creates, with the modes where it fires.
func controlTowerFindings(t *testing.T, templates map[string]map[string]interface{}) (map[string][]string, findingCounts) {
	t.Helper()
	return startControlTower(t, templates).findings(t)
}

// controlTowerRun is cfn-guard running over the templates: its two processes
// start when a test first has the templates (the cdk-nag test), run on the
// second core while the tests that follow synthesize on the first, and the
// Control Tower test, in a file that sorts last, reads their results.
type controlTowerRun struct {
	running  sync.WaitGroup
	once     sync.Once
	found    map[string][]string
	counts   findingCounts
	shared   map[string][]string
	distinct map[string]map[string]interface{}
	files    map[string]string
	results  chan controlTowerResult
	sets     int
}

type controlTowerResult struct {
	out []byte
	err error
	// want is how many data files the run read.
	want int
}

var controlTowerStarted *controlTowerRun

// startControlTower starts cfn-guard over the templates, once per binary.
func startControlTower(t *testing.T, templates map[string]map[string]interface{}) *controlTowerRun {
	t.Helper()
	if controlTowerStarted != nil {
		return controlTowerStarted
	}
	pkg := filepath.Join(repoRoot, "node_modules", "@cdklabs", "cdk-validator-cfnguard")
	guard := filepath.Join(pkg, "bin", "ubuntu", "x86_64", "cfn-guard")
	if _, err := os.Stat(guard); err != nil {
		t.Fatalf("the pinned cfn-guard is not installed at %s: run `make test`, which installs it (npm ci)", guard)
	}
	// In scratch, not t.TempDir: the processes outlive the test that starts
	// them.
	dir, err := os.MkdirTemp(scratch, "control-tower-")
	require.NoError(t, err)
	// A resource that several modes hold byte for byte is evaluated once,
	// in the first mode (by name) that holds it, and its findings count for
	// every mode that holds it: the controls read one resource at a time,
	// and most of a template is the same in every mode.
	shared := map[string][]string{}
	distinct := map[string]map[string]interface{}{}
	modes := make([]string, 0, len(templates))
	for mode := range templates {
		modes = append(modes, mode)
	}
	sort.Strings(modes)
	for _, mode := range modes {
		kept := map[string]interface{}{}
		for id, res := range templates[mode]["Resources"].(map[string]interface{}) {
			key := id + " " + fmtJSON(res)
			if _, ok := shared[key]; !ok {
				kept[id] = res
			}
			shared[key] = append(shared[key], mode)
		}
		tmpl := map[string]interface{}{}
		for k, v := range templates[mode] {
			tmpl[k] = v
		}
		tmpl["Resources"] = kept
		distinct[mode] = tmpl
	}
	written := map[string]map[string]interface{}{}
	for mode, tmpl := range distinct {
		stripped := map[string]interface{}{}
		for id, res := range tmpl["Resources"].(map[string]interface{}) {
			stripped[id] = withoutCDKMetadata(res.(map[string]interface{}))
		}
		copied := map[string]interface{}{}
		for k, v := range tmpl {
			copied[k] = v
		}
		copied["Resources"] = stripped
		written[mode] = copied
	}
	groups := controlTowerRulesFor(t, filepath.Join(pkg, "rules", "control-tower", "cfn-guard"), templates)
	// Each group of rule files reads only the resources of the types its
	// rules name: cfn-guard parses every data file again for each rule file,
	// so a rule about KMS keys that read whole templates cost most of
	// cfn-guard's 20 s (issue 24). The controls read one resource at a time,
	// and see the others' names.
	files := map[string]string{}
	type guardJob struct {
		rules, data string
		want        int
	}
	var jobs []guardJob
	for i, g := range groups {
		data := filepath.Join(dir, fmt.Sprintf("data-%d", i))
		require.NoError(t, os.MkdirAll(data, 0o755))
		only := map[string]map[string]interface{}{}
		for mode, tmpl := range written {
			kept, held := map[string]interface{}{}, 0
			for id, res := range tmpl["Resources"].(map[string]interface{}) {
				if g.types == nil || g.types[res.(map[string]interface{})["Type"].(string)] {
					kept[id], held = res, held+1
					continue
				}
				// The other resources by name only, with no type that a
				// rule selects: some controls check that a Ref or a
				// Fn::GetAtt names a resource of the template (CT.LAMBDA.PR.2).
				kept[id] = map[string]interface{}{"Stub": true}
			}
			if held == 0 {
				continue
			}
			copied := map[string]interface{}{}
			for k, v := range tmpl {
				copied[k] = v
			}
			copied["Resources"] = kept
			only[mode] = copied
		}
		if len(only) == 0 {
			continue
		}
		for file, mode := range writeTemplates(t, data, only) {
			files[file] = mode
		}
		jobs = append(jobs, guardJob{rules: g.dir, data: data, want: len(only)})
	}
	run := &controlTowerRun{shared: shared, distinct: distinct, files: files,
		results: make(chan controlTowerResult, len(jobs)), sets: len(jobs)}
	// Two processes at a time, on the second core and whatever the first
	// leaves.
	queue := make(chan guardJob, len(jobs))
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	for range 2 {
		run.running.Add(1)
		go func() {
			defer run.running.Done()
			for j := range queue {
				cmd := exec.Command(guard, "validate", "--rules", j.rules, "--data", j.data, "--output-format", "json", "--show-summary", "none", "--structured")
				out, err := cmd.Output()
				// cfn-guard exits 19 when a rule fails, 0 when none does.
				if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() == 19 {
					err = nil
				}
				run.results <- controlTowerResult{out, err, j.want}
			}
		}()
	}
	controlTowerStarted = run
	return run
}

// findings waits for cfn-guard and returns "<control> <library path>" for
// each failure on a resource restorable creates, with the modes where it
// fires.
func (run *controlTowerRun) findings(t *testing.T) (map[string][]string, findingCounts) {
	t.Helper()
	// Read once (go test -count=2 runs the test again on the same run).
	run.once.Do(func() { run.found, run.counts = run.collect(t) })
	require.NotNil(t, run.found, "cfn-guard's results were read by an earlier run that failed")
	return run.found, run.counts
}

// waitForControlTower waits for cfn-guard's processes, if a test started
// them, so that TestMain removes scratch only after they have read it (a test
// selected alone, or -failfast, may start them and never read the results).
func waitForControlTower() {
	if controlTowerStarted != nil {
		controlTowerStarted.running.Wait()
	}
}

func (run *controlTowerRun) collect(t *testing.T) (map[string][]string, findingCounts) {
	t.Helper()
	shared, distinct, files := run.shared, run.distinct, run.files
	var reports []struct {
		Name         string        `json:"name"`
		NotCompliant []interface{} `json:"not_compliant"`
	}
	for range run.sets {
		r := <-run.results
		require.NoError(t, r.err, string(r.out))
		var part []struct {
			Name         string        `json:"name"`
			NotCompliant []interface{} `json:"not_compliant"`
		}
		require.NoError(t, json.Unmarshal(r.out, &part))
		require.Len(t, part, r.want, "cfn-guard read every data file")
		reports = append(reports, part...)
	}
	found := map[string][]string{}
	counts := findingCounts{}
	seen := map[string]bool{}
	counted := map[string]bool{}
	for _, r := range reports {
		mode := files[r.Name]
		resources := distinct[mode]["Resources"].(map[string]interface{})
		// A failure names its control in the message of the rule that failed,
		// and the resource in the paths of the checks below it.
		var walk func(v interface{}, control string)
		walk = func(v interface{}, control string) {
			switch x := v.(type) {
			case map[string]interface{}:
				if msgs, ok := x["messages"].(map[string]interface{}); ok {
					if m, ok := msgs["custom_message"].(string); ok {
						if id := controlTowerID.FindStringSubmatch(m); id != nil {
							control = id[1]
						}
					}
				}
				if p, ok := x["path"].(string); ok && control != "" {
					if id, ok := strings.CutPrefix(p, "/Resources/"); ok {
						id = strings.SplitN(id, "/", 2)[0]
						if res, ok := resources[id].(map[string]interface{}); ok {
							for _, m := range shared[id+" "+fmtJSON(res)] {
								if !counted[m+" "+control+" "+id] {
									counted[m+" "+control+" "+id] = true
									counts.add(m, "Control Tower", libraryPath(cdkPath(res)) != "")
								}
								if lib := libraryPath(cdkPath(res)); lib != "" && !seen[m+" "+control+" "+lib] {
									seen[m+" "+control+" "+lib] = true
									found[control+" "+lib] = append(found[control+" "+lib], m)
								}
							}
						}
					}
				}
				for _, y := range x {
					walk(y, control)
				}
			case []interface{}:
				for _, y := range x {
					walk(y, control)
				}
			}
		}
		walk(r.NotCompliant, "")
	}
	return found, counts
}

// findingCounts counts findings by mode and rule set: [library, app].
type findingCounts map[string]map[string][2]int

func (c findingCounts) add(mode, set string, library bool) {
	if c[mode] == nil {
		c[mode] = map[string][2]int{}
	}
	n := c[mode][set]
	if library {
		n[0]++
	} else {
		n[1]++
	}
	c[mode][set] = n
}

// log prints the counts as the table in docs/security.md.
func (c findingCounts) log(t *testing.T, sets []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("| mode | " + strings.Join(sets, " | ") + " |\n")
	modes := make([]string, 0, len(c))
	for m := range c {
		modes = append(modes, m)
	}
	sort.Strings(modes)
	for _, m := range modes {
		b.WriteString("| " + m)
		for _, s := range sets {
			n := c[m][s]
			b.WriteString(fmt.Sprintf(" | %d / %d", n[0], n[1]))
		}
		b.WriteString(" |\n")
	}
	t.Log("findings, library / app:\n" + b.String())
}

// withoutCDKMetadata is a resource without the Metadata that only the CDK and
// cdk-nag read (construct paths, nag suppressions: a third of the templates'
// bytes, which cfn-guard parses again for every rule file). The controls read
// a resource's Metadata only for their own suppressions, under "guard"
// (https://docs.aws.amazon.com/controltower/latest/controlreference/proactive-controls.html),
// which it keeps; the findings are the same with and without.
func withoutCDKMetadata(res map[string]interface{}) map[string]interface{} {
	meta, ok := res["Metadata"].(map[string]interface{})
	if !ok {
		return res
	}
	out := map[string]interface{}{}
	for k, v := range res {
		out[k] = v
	}
	delete(out, "Metadata")
	if g, ok := meta["guard"]; ok {
		out["Metadata"] = map[string]interface{}{"guard": g}
	}
	return out
}

// controlTowerRulesFor copies the rule files that can apply to the templates
// (those naming a resource type the templates hold, or none) into one
// directory per set of types they name, for one cfn-guard run each over the
// resources of those types. A rule file about types the templates lack finds
// nothing, and costs a read of every template.
func controlTowerRulesFor(t *testing.T, root string, templates map[string]map[string]interface{}) []ruleGroup {
	t.Helper()
	present := map[string]bool{}
	for _, tmpl := range templates {
		for _, r := range tmpl["Resources"].(map[string]interface{}) {
			present[r.(map[string]interface{})["Type"].(string)] = true
		}
	}
	types := regexp.MustCompile(`AWS::[A-Za-z0-9]+::[A-Za-z0-9]+`)
	byKey := map[string]*ruleGroup{}
	var groups []ruleGroup
	n, total := 0, 0
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		total++
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		named := types.FindAllString(string(raw), -1)
		var held []string
		for _, typ := range named {
			if present[typ] {
				held = append(held, typ)
			}
		}
		if len(named) > 0 && len(held) == 0 {
			return nil
		}
		// A rule that names no type reads every resource.
		sort.Strings(held)
		key := strings.Join(held, " ")
		g, ok := byKey[key]
		if !ok {
			dir, err := os.MkdirTemp(scratch, "control-tower-rules-")
			if err != nil {
				return err
			}
			g = &ruleGroup{dir: dir}
			if len(held) > 0 {
				g.types = map[string]bool{}
				for _, typ := range held {
					g.types[typ] = true
				}
			}
			byKey[key] = g
		}
		rel, _ := filepath.Rel(root, p)
		n++
		return os.WriteFile(filepath.Join(g.dir, strings.ReplaceAll(rel, string(filepath.Separator), "_")), raw, 0o644)
	}))
	require.Greater(t, n, 50, "the Control Tower rules for RDS, EFS, KMS, IAM, Lambda, ...")
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		groups = append(groups, *byKey[k])
	}
	t.Logf("Control Tower: %d of %d rule files name a resource type of the templates, in %d groups by type", n, total, len(groups))
	return groups
}

// ruleGroup is a directory of rule files that name the same resource types
// (types nil: no type, so every resource).
type ruleGroup struct {
	dir   string
	types map[string]bool
}

// nagPacks are the cdk-nag packs the tests run.
var nagPacks = []string{"AwsSolutions", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321", "Serverless"}

// nagFindings loads each template into a stack of a new app with
// cloudformation-include, applies the five packs, and returns "<rule> <library
// path>" for each finding on a resource restorable creates, with its modes,
// and the suppressed lines of restorable's resources.
func nagFindings(t *testing.T, templates map[string]map[string]interface{}) (found map[string][]string, suppressed []nagLine, counts findingCounts) {
	t.Helper()
	dir := t.TempDir()
	files := writeTemplates(t, dir, templates)
	outdir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
	stacks := map[string]string{} // stack name → template file
	names := make([]string, 0, len(files))
	for file := range files {
		names = append(names, file)
	}
	sort.Strings(names)
	for i, file := range names {
		name := "Nag" + string(rune('A'+i))
		stack := awscdk.NewStack(app, jsii.String(name), &awscdk.StackProps{
			Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)},
		})
		cloudformationinclude.NewCfnInclude(stack, jsii.String("Template"), &cloudformationinclude.CfnIncludeProps{TemplateFile: jsii.String(file)})
		stacks[name] = file
	}
	report := func() *cdknag.NagPackProps {
		return &cdknag.NagPackProps{Reports: jsii.Bool(true), ReportFormats: &[]cdknag.NagReportFormat{cdknag.NagReportFormat_CSV}}
	}
	aspects := awscdk.Aspects_Of(app)
	aspects.Add(cdknag.NewAwsSolutionsChecks(report()), nil)
	aspects.Add(cdknag.NewNIST80053R5Checks(report()), nil)
	aspects.Add(cdknag.NewHIPAASecurityChecks(report()), nil)
	aspects.Add(cdknag.NewPCIDSS321Checks(report()), nil)
	aspects.Add(cdknag.NewServerlessChecks(report()), nil)
	// The packs' errors fail synth; the reports are written first.
	func() {
		defer func() { _ = recover() }()
		app.Synth(nil)
	}()
	found, counts = map[string][]string{}, findingCounts{}
	for name, file := range stacks {
		mode := files[file]
		resources := templates[mode]["Resources"].(map[string]interface{})
		for _, pack := range nagPacks {
			matches, _ := filepath.Glob(filepath.Join(outdir, pack+"-*"+name+"-NagReport.csv"))
			require.Len(t, matches, 1, "%s report of %s", pack, name)
			lines := readNagReport(t, matches[0])
			require.NotEmpty(t, lines, "%s evaluated %s", pack, mode)
			seen := map[string]bool{}
			for _, l := range lines {
				id := l.ResourceID[strings.LastIndex(l.ResourceID, "/")+1:]
				res, ok := resources[id].(map[string]interface{})
				if !ok {
					continue
				}
				lib := libraryPath(cdkPath(res))
				if l.Compliance != "Compliant" && l.Compliance != "N/A" && l.Compliance != "Suppressed" {
					counts.add(mode, pack, lib != "")
				}
				if lib == "" {
					continue
				}
				switch l.Compliance {
				case "Compliant", "N/A":
				case "Suppressed":
					l.ResourceID = lib
					suppressed = append(suppressed, l)
				default:
					if key := l.RuleID + " " + lib; !seen[key] {
						seen[key] = true
						found[key] = append(found[key], mode)
					}
				}
			}
		}
	}
	return found, suppressed, counts
}

// nagLine is one line of a cdk-nag report.
type nagLine struct {
	RuleID, ResourceID, Compliance, ExceptionReason string
}

// readNagReport parses a cdk-nag CSV report. The packs write CSV rather than
// JSON here because the JSON logger reads and rewrites the whole file for
// every line, which cost seconds of the suite (issue 24); the CSV logger
// appends. Its header names the columns.
func readNagReport(t *testing.T, file string) []nagLine {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err, "cdk-nag report %s", file)
	require.NotEmpty(t, rows, "cdk-nag report %s has a header", file)
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"Rule ID", "Resource ID", "Compliance", "Exception Reason"} {
		_, ok := col[name]
		require.True(t, ok, "cdk-nag report %s has a %q column: %v", file, name, rows[0])
	}
	lines := make([]nagLine, 0, len(rows)-1)
	for _, r := range rows[1:] {
		lines = append(lines, nagLine{
			RuleID:          r[col["Rule ID"]],
			ResourceID:      r[col["Resource ID"]],
			Compliance:      r[col["Compliance"]],
			ExceptionReason: r[col["Exception Reason"]],
		})
	}
	return lines
}

func TestCdkNagPacksFindOnlyDocumentedExceptions(t *testing.T) {
	// GIVEN every template in every mode, loaded outside the app that made it
	templates := complianceTemplates(t)
	// (and cfn-guard starts over them, for the Control Tower test)
	startControlTower(t, templates)
	// WHEN the five packs run over them
	found, suppressed, counts := nagFindings(t, templates)
	counts.log(t, nagPacks)
	for _, f := range sortedKeys(found) {
		t.Logf("%s (%s)", f, strings.Join(found[f], "; "))
	}
	// THEN the findings on restorable's resources are exactly the exceptions
	// docs/security.md lists
	assert.Equal(t, documentedFindings(t, regexp.MustCompile(`^(AwsSolutions|NIST|HIPAA|PCI|Serverless)`)), sortedKeys(found))
	// AND AwsSolutions finds nothing: its exceptions are suppressions in the
	// template, with reasons, granular for wildcards
	for f := range found {
		assert.False(t, strings.HasPrefix(f, "AwsSolutions-"), f)
	}
	byRule := map[string][]string{}
	for _, l := range suppressed {
		assert.Greater(t, len(l.ExceptionReason), 60, "%s on %s: %q", l.RuleID, l.ResourceID, l.ExceptionReason)
		if strings.HasSuffix(l.RuleID, "IAM5") {
			assert.Regexp(t, `\[Resource::[^\]]+\]`, l.ExceptionReason, "wildcards are suppressed finding by finding")
		}
		byRule[l.RuleID] = append(byRule[l.RuleID], l.ResourceID)
	}
	// AND a restored cluster carries the same reason for its inherited
	// encryption in every pack that asks for StorageEncrypted
	for _, rule := range []string{"AwsSolutions-RDS2", "NIST.800.53.R5-RDSStorageEncrypted", "HIPAA.Security-RDSStorageEncrypted", "PCI.DSS.321-RDSStorageEncrypted"} {
		assert.Contains(t, byRule[rule], "Database", rule)
	}
	// AND each exception is in a resource's cdk_nag metadata once, however
	// many constructs add it
	for mode, tmpl := range templates {
		resources, _ := tmpl["Resources"].(map[string]interface{})
		for id, r := range resources {
			meta, _ := r.(map[string]interface{})["Metadata"].(map[string]interface{})
			nag, _ := meta["cdk_nag"].(map[string]interface{})
			rules, _ := nag["rules_to_suppress"].([]interface{})
			seen := map[string]bool{}
			for _, rule := range rules {
				key, err := json.Marshal(rule) // map keys sorted
				require.NoError(t, err)
				assert.False(t, seen[string(key)], "%s: %s suppresses %s twice", mode, id, key)
				seen[string(key)] = true
			}
		}
	}
}
