package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

const restorableModule = "github.com/restorable-cdk/restorable"

// TestConsumerModuleBuildsTheHandlerFromTheModuleCache proves that restorable
// works as a dependency of another module: it publishes this repository as a
// module version on a local file:// module proxy, has the consumer module in
// test/consumer require that version (so restorable lands in the read-only
// module cache, and the consumer's go.mod lacks the handler's dependencies),
// synthesizes the consumer's app, and checks that the guard's Lambda asset is
// the same, hash for hash, as the one built from this repository.
// consumerRun is what the consumer chain did: the module's directory in the
// module cache, and the consumer's synthesized assembly.
var consumerRun struct {
	version, modCache, dir, out string
}

// consumerChain publishes this module to a file:// proxy, and builds and runs
// a consumer that requires it from there, in the background
// (background_test.go).
var consumerChain = newBackground(func() map[string]command {
	t := &chainT{}
	err := t.run(func() {
		root, err := filepath.Abs(repoRoot)
		require.NoError(t, err)
		version := fmt.Sprintf("v0.0.0-%s-000000000000", time.Now().UTC().Format("20060102150405"))
		consumerRun.version = version
		proxy, err := os.MkdirTemp(scratch, "proxy-")
		require.NoError(t, err)
		publish(t, proxy, root, version)
		consumerRun.modCache = strings.TrimSpace(goOutput(t, root, nil, "env", "GOMODCACHE"))
		// The consumer, requiring the published version instead of the replace.
		work, err := os.MkdirTemp(scratch, "consumer-")
		require.NoError(t, err)
		copyTo(t, filepath.Join(root, "test", "consumer", "main.go"), filepath.Join(work, "main.go"))
		copyTo(t, filepath.Join(root, "test", "consumer", "go.sum"), filepath.Join(work, "go.sum"))
		require.NoError(t, os.WriteFile(filepath.Join(work, "go.mod"),
			[]byte("module example.com/restorable-consumer\n\ngo 1.26\n\nrequire "+restorableModule+" "+version+"\n"), 0o644))
		env := []string{
			"GOPROXY=file://" + filepath.ToSlash(proxy) + "," + strings.TrimSpace(goOutput(t, root, nil, "env", "GOPROXY")),
			"GONOSUMDB=" + restorableModule, "GOFLAGS=-mod=mod", "GOWORK=off",
		}
		goOutput(t, work, env, "mod", "tidy")
		consumerRun.dir = strings.TrimSpace(goOutput(t, work, env, "list", "-m", "-f", "{{.Dir}}", restorableModule))
		// The consumer's app synthesizes.
		consumerRun.out, err = os.MkdirTemp(scratch, "consumer-out-")
		require.NoError(t, err)
		goOutput(t, work, append(append(env, "CDK_OUTDIR="+consumerRun.out), noValidation...), "run", ".")
	})
	return map[string]command{"consumer": {out: strings.Join(t.errs, "\n"), err: err}}
})

// chainT collects what require reports in a background chain, which has no
// *testing.T: FailNow ends the chain, whose error the test then reports.
type chainT struct{ errs []string }

type chainFailed struct{}

func (c *chainT) Errorf(format string, args ...interface{}) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}
func (c *chainT) FailNow() { panic(chainFailed{}) }
func (c *chainT) Helper()  {}

func (c *chainT) run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(chainFailed); !ok {
				panic(r)
			}
			err = fmt.Errorf("the chain failed")
		}
	}()
	f()
	return nil
}

// tb is what the helpers shared by tests and chains need.
type tb interface {
	require.TestingT
	Helper()
}

func TestConsumerModuleBuildsTheHandlerFromTheModuleCache(t *testing.T) {
	// GIVEN this module published as a version, and a consumer that requires it
	c := consumerChain.result("consumer")
	t.Cleanup(func() { removeFromModuleCache(consumerRun.modCache, consumerRun.version) })
	require.NoError(t, c.err, c.out)
	require.True(t, strings.HasPrefix(consumerRun.dir, consumerRun.modCache), "restorable is used from the module cache, not %s", consumerRun.dir)
	info, err := os.Stat(filepath.Join(consumerRun.dir, "go.mod"))
	require.NoError(t, err)
	assert.Zero(t, info.Mode()&0o222, "the module cache copy is read-only")

	// WHEN the consumer's app synthesized (in the chain)
	// THEN its guard handler is the same asset as the one built here
	raw, err := os.ReadFile(filepath.Join(consumerRun.out, "ConsumerStack.template.json"))
	require.NoError(t, err)
	var consumer map[string]interface{}
	require.NoError(t, json.Unmarshal(raw, &consumer))
	ours := lambdaCodeKeys(t, templateJSON(t, first(newCluster(t, nil))))
	require.Len(t, ours, 1)
	assert.Equal(t, ours, lambdaCodeKeys(t, consumer))
	_, guard := onlyResource(t, consumer, "Custom::RestorableGuard")
	assert.Contains(t, fmtJSON(props(guard)["Resources"]), `"Path":"ConsumerStack/Database"`)
}

// lambdaCodeKeys returns the S3 keys of the Go handler functions' code.
func lambdaCodeKeys(t *testing.T, tmpl map[string]interface{}) []string {
	t.Helper()
	_, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
	var keys []string
	for _, fn := range fns {
		if props(fn)["Handler"] == "bootstrap" {
			keys = append(keys, props(fn)["Code"].(map[string]interface{})["S3Key"].(string))
		}
	}
	return keys
}

// goOutput runs the go command in dir and returns its standard output.
func goOutput(t tb, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "go %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.String()
}

// publish writes the module at root as version to a file:// module proxy.
func publish(t tb, proxy, root, version string) {
	t.Helper()
	dir := filepath.Join(proxy, restorableModule, "@v")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var files []modzip.File
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "cdk.out" || exists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, localFile{root: root, rel: filepath.ToSlash(rel)})
		}
		return nil
	}))
	zipFile, err := os.Create(filepath.Join(dir, version+".zip"))
	require.NoError(t, err)
	require.NoError(t, modzip.Create(zipFile, module.Version{Path: restorableModule, Version: version}, files))
	require.NoError(t, zipFile.Close())
	copyTo(t, filepath.Join(root, "go.mod"), filepath.Join(dir, version+".mod"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, version+".info"),
		[]byte(fmt.Sprintf(`{"Version":%q,"Time":%q}`, version, time.Now().UTC().Format(time.RFC3339))), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "list"), []byte(version+"\n"), 0o644))
}

// localFile is a file of the module for modzip.Create.
type localFile struct{ root, rel string }

func (f localFile) Path() string                 { return f.rel }
func (f localFile) Lstat() (os.FileInfo, error)  { return os.Lstat(filepath.Join(f.root, f.rel)) }
func (f localFile) Open() (io.ReadCloser, error) { return os.Open(filepath.Join(f.root, f.rel)) }

// removeFromModuleCache removes the published version from the module cache,
// whose files the go command makes read-only.
func removeFromModuleCache(modCache, version string) {
	escaped, err := module.EscapePath(restorableModule)
	if err != nil {
		return
	}
	extracted := filepath.Join(modCache, escaped+"@"+version)
	_ = filepath.WalkDir(extracted, func(path string, d fs.DirEntry, err error) error {
		if err == nil {
			_ = os.Chmod(path, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(extracted)
	downloads, _ := filepath.Glob(filepath.Join(modCache, "cache", "download", escaped, "@v", version+".*"))
	for _, f := range append(downloads, filepath.Join(modCache, "cache", "download", escaped, "@v", "list")) {
		_ = os.Remove(f)
	}
}

func copyTo(t tb, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, raw, 0o644))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
