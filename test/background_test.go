package test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// The tests that run other processes (the CDK CLI on the example, the
// example's binary with bad input, a consumer module) do not use this
// process's jsii kernel, so
// their commands start in the background when the test binary starts, on the
// second core, while the template tests synthesize here; the tests then wait
// for their results and assert as before. Their files, whole_process_*,
// sort last, so they seldom wait. Only the tests that -run selects start
// theirs.

// command is one external command's result.
type command struct {
	out string
	err error
}

// background is a chain of commands that runs in order, in one goroutine.
type background struct {
	once    sync.Once
	done    chan struct{}
	run     func() map[string]command
	results map[string]command
}

func newBackground(run func() map[string]command) *background {
	return &background{done: make(chan struct{}), run: run}
}

// runNow runs the chain here, once; a second call waits for the first.
func (b *background) runNow() {
	b.once.Do(func() {
		b.results = b.run()
		close(b.done)
	})
	<-b.done
}

// result waits for the chain (running it if nothing has) and returns one of
// its commands.
func (b *background) result(name string) command {
	b.runNow()
	return b.results[name]
}

// selected reports whether the -run flag selects a test whose name matches
// prefix (all tests when -run is not given).
func selected(prefix string) bool {
	f := flag.Lookup("test.run")
	if f == nil || f.Value.String() == "" {
		return true
	}
	re, err := regexp.Compile(f.Value.String())
	if err != nil {
		return true
	}
	// A prefix that the pattern's first alternatives could match, such as
	// "TestCLI" for ^TestCLI|TestBad.
	return re.MatchString(prefix) || re.MatchString(prefix+"X") || regexp.MustCompile(regexp.QuoteMeta(prefix)).MatchString(f.Value.String())
}

// runCDKIn runs the CDK CLI in the repository root, without a *testing.T.
func runCDKIn(args ...string) command { return runCDKEnv(nil, args...) }

// noValidation turns off the CloudFormation validation that the app runs in
// every synth (about 4 s of a process's time), for the commands whose tests
// read the change set, not the validation report.
var noValidation = []string{"CDK_VALIDATION=false"}

// runCDKEnv is runCDKIn with more environment variables.
func runCDKEnv(env []string, args ...string) command {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return command{err: err}
	}
	bin := filepath.Join(root, "node_modules", ".bin")
	cmd := exec.Command(filepath.Join(bin, "cdk"), args...)
	cmd.Dir = root
	// Validation as a user's synth has it: CDK_VALIDATION unset, whatever the
	// test binary inherited (the CLI reads CDK_* variables as its options, and
	// an empty --validation is false). The chain counts these assemblies as
	// validated (validatedDirs).
	var inherited []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CDK_VALIDATION=") {
			inherited = append(inherited, kv)
		}
	}
	cmd.Env = append(inherited,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		// No AWS account: keep the CLI from probing for credentials.
		"AWS_EC2_METADATA_DISABLED=true",
		"CDK_DEFAULT_ACCOUNT=", "CDK_DEFAULT_REGION=",
	)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return command{out: out.String(), err: err}
}

// startBackground starts the chains the selected tests need; TestMain calls
// it once scratch exists.
// The chains run one after the other, in one goroutine: one core for them,
// one for the tests here.
func startBackground() {
	var chains []*background
	for _, c := range []struct {
		prefix string
		chain  *background
	}{{"TestCLI", cliChain}, {"TestBadInput", badInputChain}, {"TestConsumer", consumerChain}} {
		if selected(c.prefix) {
			chains = append(chains, c.chain)
		}
	}
	go func() {
		for _, c := range chains {
			c.runNow()
		}
	}()
}
