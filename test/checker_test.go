package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/require"
)

// The checker is a second process of this test binary, with its own jsii
// kernel, that runs aws-cdk-lib's CloudFormation validation over the
// templates this process synthesizes, on the second core, while the tests
// here go on synthesizing: validating in this process's kernel was a sixth of
// the package's time, all of it on the critical path (issue 24).
//
// An app whose templates must be valid registers checkerValidation before its
// synth (validateApp): at synth the CDK hands the plugin the stack templates
// (IPolicyValidationContext.stackTemplates), which it copies, since a test's
// assembly is removed with its test, and queues. The checker runs the same
// plugin a user's synth runs by default, CloudFormationValidatePlugin, with
// each stack's account and region, as synthesis-validation.js does. The
// findings are asserted once every test has queued its templates
// (TestEveryValidatedAppPassesCloudFormationValidation, in a file that sorts
// last; TestMain when -run leaves that test out).

const checkerEnv = "RESTORABLE_TEST_CHECKER"

// checkJob is one request to the checker, a line of JSON on its stdin.
type checkJob struct {
	ID     int          `json:"id"`
	Stacks []checkStack `json:"stacks"`
}

type checkStack struct {
	Path     string `json:"path"`
	Template string `json:"template"`
	Account  string `json:"account,omitempty"`
	Region   string `json:"region,omitempty"`
}

// checkResult is the checker's answer, a line of JSON on its fd 3.
type checkResult struct {
	ID         int              `json:"id"`
	Violations []checkViolation `json:"violations"`
	Error      string           `json:"error,omitempty"`
}

// checkViolation is one rule's finding on one resource of a template (no
// logical ID: on the template).
type checkViolation struct {
	Rule        string `json:"rule"`
	Description string `json:"description"`
	Template    string `json:"template"`
	LogicalID   string `json:"logicalId,omitempty"`
}

// runCheckerIfAsked runs this binary as the checker, and exits, when the
// test process started it so.
func runCheckerIfAsked() {
	if os.Getenv(checkerEnv) != "1" {
		return
	}
	results := os.NewFile(3, "results")
	enc := json.NewEncoder(results)
	dec := json.NewDecoder(os.Stdin)
	var plugin awscdk.CloudFormationValidatePlugin
	var app awscdk.App
	for {
		var job checkJob
		if err := dec.Decode(&job); err != nil {
			break
		}
		res := checkResult{ID: job.ID}
		func() {
			defer func() {
				if r := recover(); r != nil {
					res.Error = fmt.Sprint(r)
				}
			}()
			if plugin == nil {
				plugin, app = awscdk.NewCloudFormationValidatePlugin(nil), awscdk.NewApp(nil)
			}
			res.Violations = validateStacks(plugin, app, job.Stacks)
		}()
		if err := enc.Encode(res); err != nil {
			break
		}
	}
	jsii.Close()
	os.Exit(0)
}

// validateStacks runs the plugin over the templates and returns its
// findings, one per resource.
func validateStacks(plugin awscdk.CloudFormationValidatePlugin, app awscdk.App, stacks []checkStack) []checkViolation {
	ctx := &validationContext{app: app}
	for _, s := range stacks {
		ps := &awscdk.PolicyValidationStack{StackConstructPath: jsii.String(s.Path), TemplatePath: jsii.String(s.Template)}
		if s.Account != "" {
			ps.AccountId = jsii.String(s.Account)
		}
		if s.Region != "" {
			ps.Region = jsii.String(s.Region)
		}
		ctx.stacks = append(ctx.stacks, ps)
	}
	report := plugin.Validate(ctx)
	var out []checkViolation
	if report == nil || report.Violations == nil {
		return out
	}
	for _, v := range *report.Violations {
		if v.ViolatingResources == nil {
			continue
		}
		for _, r := range *v.ViolatingResources {
			out = append(out, checkViolation{Rule: deref(v.RuleName), Description: deref(v.Description),
				Template: deref(r.TemplatePath), LogicalID: deref(r.ResourceLogicalId)})
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// validationContext is the IPolicyValidationContext the checker gives the
// plugin, which reads stackTemplates alone.
type validationContext struct {
	app    awscdk.App
	stacks []*awscdk.PolicyValidationStack
}

func (c *validationContext) StackTemplates() *[]*awscdk.PolicyValidationStack { return &c.stacks }
func (c *validationContext) AppConstruct() constructs.IConstruct              { return c.app }
func (c *validationContext) AccountId() *string                               { return nil }
func (c *validationContext) Region() *string                                  { return nil }
func (c *validationContext) TemplatePaths() *[]*string {
	paths := make([]*string, len(c.stacks))
	for i, s := range c.stacks {
		paths[i] = s.TemplatePath
	}
	return &paths
}

// theChecker is the test process's side: the process, and what it was asked.
var theChecker struct {
	once  sync.Once
	mu    sync.Mutex
	err   error
	in    *json.Encoder
	jobs  map[int]*queuedCheck
	byDir map[string][]*queuedCheck
	done  chan struct{}
	stop  func()
	// write orders the jobs on the checker's stdin; mu is not held while
	// writing, so that the reader can deliver results meanwhile.
	write sync.Mutex
}

// checkerAnswerTimeout bounds the wait for one synth's findings: a checker
// that hangs fails the run instead of holding it until CI kills it.
const checkerAnswerTimeout = 5 * time.Minute

// queuedCheck is one synth's templates, queued for the checker.
type queuedCheck struct {
	outdir string
	result checkResult
	ready  chan struct{}
	// stacks names each copied template's stack; acked holds the rules the
	// app acknowledged anywhere in its stacks, which aws-cdk-lib applies to
	// every finding of the app.
	stacks map[string]string
	acked  map[string]bool
	// asserted is set once validationFailures has reported this synth.
	asserted bool
}

// startChecker starts the checker process; TestMain calls it once scratch
// exists, so that its kernel and validation engine start while the first
// tests run.
func startChecker() {
	theChecker.once.Do(func() {
		theChecker.jobs = map[int]*queuedCheck{}
		theChecker.byDir = map[string][]*queuedCheck{}
		theChecker.done = make(chan struct{})
		self, err := os.Executable()
		if err != nil {
			theChecker.err = err
			return
		}
		r, w, err := os.Pipe()
		if err != nil {
			theChecker.err = err
			return
		}
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), checkerEnv+"=1")
		cmd.ExtraFiles = []*os.File{w}
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			theChecker.err = err
			return
		}
		if err := cmd.Start(); err != nil {
			theChecker.err = err
			return
		}
		w.Close()
		theChecker.in = json.NewEncoder(stdin)
		go func() {
			dec := json.NewDecoder(r)
			for {
				var res checkResult
				if err := dec.Decode(&res); err != nil {
					break
				}
				theChecker.mu.Lock()
				if q, ok := theChecker.jobs[res.ID]; ok {
					q.result = res
					close(q.ready)
				}
				theChecker.mu.Unlock()
			}
			// The checker ended: every job it did not answer fails.
			theChecker.mu.Lock()
			for _, q := range theChecker.jobs {
				select {
				case <-q.ready:
				default:
					q.result.Error = "the checker process ended before it validated these templates"
					close(q.ready)
				}
			}
			theChecker.mu.Unlock()
			_ = cmd.Wait()
			close(theChecker.done)
		}()
		// Closing stdin after the tests ends the checker (stopChecker).
		theChecker.stop = func() { stdin.Close() }
	})
}

// queueValidation copies the stacks' templates, which the checker reads
// later, and queues them.
func queueValidation(outdir string, stacks []checkStack) error {
	startChecker()
	if theChecker.err != nil {
		return theChecker.err
	}
	select {
	case <-theChecker.done:
		return fmt.Errorf("the checker process has ended")
	default:
	}
	dir, err := os.MkdirTemp(scratch, "validate-")
	if err != nil {
		return err
	}
	q := &queuedCheck{outdir: filepath.Clean(outdir), ready: make(chan struct{}),
		stacks: map[string]string{}, acked: map[string]bool{}}
	for i := range stacks {
		raw, err := os.ReadFile(stacks[i].Template)
		if err != nil {
			return err
		}
		copied := filepath.Join(dir, filepath.Base(stacks[i].Template))
		if err := os.WriteFile(copied, raw, 0o644); err != nil {
			return err
		}
		acked, err := acknowledgedRules(strings.TrimSuffix(stacks[i].Template, ".template.json") + ".metadata.json")
		if err != nil {
			return err
		}
		stacks[i].Template = copied
		q.stacks[copied] = stacks[i].Path
		for id := range acked {
			q.acked[id] = true
		}
	}
	theChecker.mu.Lock()
	id := len(theChecker.jobs) + 1
	theChecker.jobs[id] = q
	theChecker.byDir[q.outdir] = append(theChecker.byDir[q.outdir], q)
	theChecker.mu.Unlock()
	theChecker.write.Lock()
	err = theChecker.in.Encode(checkJob{ID: id, Stacks: stacks})
	theChecker.write.Unlock()
	if err != nil {
		// The checker is gone: the job fails now rather than wait for an
		// answer that cannot come.
		theChecker.mu.Lock()
		select {
		case <-q.ready:
		default:
			q.result.Error = "cannot send the templates to the checker: " + err.Error()
			close(q.ready)
		}
		theChecker.mu.Unlock()
	}
	return err
}

// stopChecker ends the checker once every job is answered; TestMain calls it
// after the tests.
func stopChecker() {
	if theChecker.stop == nil {
		return
	}
	theChecker.stop()
	<-theChecker.done
}

// expectValid requires that a synth into outdir queued its templates for the
// checker (the app registered it: cfnValidated, validateApp); their findings
// are asserted once every test has run.
func expectValid(t *testing.T, outdir string) {
	t.Helper()
	require.True(t, queuedFor(outdir), "CloudFormation validation did not run on %s: register it before the synth (cfnValidated, validateApp)", outdir)
}

// queuedFor reports whether a synth into outdir queued its templates.
func queuedFor(outdir string) bool {
	theChecker.mu.Lock()
	defer theChecker.mu.Unlock()
	return len(theChecker.byDir[filepath.Clean(outdir)]) > 0
}

// validationFailures waits for the findings of every queued synth it has not
// reported before and returns one line per synth that has any, or whose
// templates could not be checked in time.
func validationFailures() []string {
	theChecker.mu.Lock()
	var all []*queuedCheck
	for _, q := range theChecker.jobs {
		if !q.asserted {
			q.asserted = true
			all = append(all, q)
		}
	}
	theChecker.mu.Unlock()
	var out []string
	deadline := time.After(checkerAnswerTimeout)
	for _, q := range all {
		select {
		case <-q.ready:
		case <-deadline:
			out = append(out, q.outdir+": the checker gave no answer within "+checkerAnswerTimeout.String())
			continue
		}
		switch {
		case q.result.Error != "":
			out = append(out, q.outdir+": "+q.result.Error)
		default:
			if v := q.unacknowledged(); len(v) > 0 {
				out = append(out, q.outdir+": "+strings.Join(v, "; "))
			}
		}
	}
	sort.Strings(out)
	return out
}

// unacknowledged words the findings the app did not acknowledge
// (Validations.of(scope).acknowledge). aws-cdk-lib 2.270.0 matches an
// acknowledgment by rule ID alone, over the whole app
// (core/lib/private/synthesis-validation.js: collectAcknowledgedRuleIds walks
// the tree from the root), so one here covers every stack of the synth:
// "<plugin>: <rule>: <description> at <stack>#<logical ID>".
func (q *queuedCheck) unacknowledged() []string {
	var out []string
	for _, v := range q.result.Violations {
		if q.acked[validationID(v.Rule)] {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s: %s at %s#%s", cfnValidateName, v.Rule, v.Description, q.stacks[v.Template], v.LogicalID))
	}
	return out
}

// validationID is a CloudFormation Validate rule as an acknowledgment names it.
func validationID(rule string) string { return "CloudFormation-Validate::" + rule }

// acknowledgedRules reads the rules a stack's constructs acknowledged: its
// metadata file (the assembly's <stack>.metadata.json), whose
// aws:cdk:acknowledged-rules entries name them by ID. Acknowledgments made on
// the App or a Stage, outside every stack, are in no such file; no test makes
// one.
func acknowledgedRules(file string) (map[string]bool, error) {
	raw, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	var meta map[string][]struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := map[string]bool{}
	for _, entries := range meta {
		for _, e := range entries {
			if e.Type != "aws:cdk:acknowledged-rules" {
				continue
			}
			var rules map[string]json.RawMessage
			if json.Unmarshal(e.Data, &rules) == nil {
				for id := range rules {
					out[id] = true
				}
			}
		}
	}
	return out, nil
}

// queuedCount is how many synths queued their templates.
func queuedCount() int {
	theChecker.mu.Lock()
	defer theChecker.mu.Unlock()
	return len(theChecker.jobs)
}

// checkerValidation is the validation plugin the apps register
// (validateApp): it queues the stack templates for the checker and reports
// nothing itself.
type checkerValidation struct{}

var theCheckerPlugin = &checkerValidation{}

func (checkerValidation) Name() *string       { return jsii.String("restorable test checker") }
func (checkerValidation) RuleIds() *[]*string { return &[]*string{} }
func (checkerValidation) Version() *string    { return jsii.String("1.0.0") }
func (checkerValidation) Validate(ctx awscdk.IPolicyValidationContext) *awscdk.PolicyValidationPluginReport {
	report := &awscdk.PolicyValidationPluginReport{Success: jsii.Bool(true), Violations: &[]*awscdk.PolicyViolation{}}
	var stacks []checkStack
	outdir := ""
	for _, s := range *ctx.StackTemplates() {
		stacks = append(stacks, checkStack{Path: deref(s.StackConstructPath), Template: deref(s.TemplatePath), Account: deref(s.AccountId), Region: deref(s.Region)})
		outdir = filepath.Dir(deref(s.TemplatePath))
	}
	if len(stacks) == 0 {
		return report
	}
	if err := queueValidation(outdir, stacks); err != nil {
		report.Success = jsii.Bool(false)
		report.Violations = &[]*awscdk.PolicyViolation{{RuleName: jsii.String("checker"),
			Description: jsii.String("cannot queue the templates for CloudFormation validation: " + err.Error()), ViolatingResources: &[]*awscdk.PolicyViolatingResource{}}}
	}
	return report
}
