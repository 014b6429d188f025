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
func TestConsumerModuleBuildsTheHandlerFromTheModuleCache(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	version := fmt.Sprintf("v0.0.0-%s-000000000000", time.Now().UTC().Format("20060102150405"))
	proxy := t.TempDir()
	publish(t, proxy, root, version)
	modCache := strings.TrimSpace(goOutput(t, root, nil, "env", "GOMODCACHE"))
	t.Cleanup(func() { removeFromModuleCache(modCache, version) })

	// The consumer, requiring the published version instead of the replace.
	work := t.TempDir()
	copyTo(t, filepath.Join(root, "test", "consumer", "main.go"), filepath.Join(work, "main.go"))
	copyTo(t, filepath.Join(root, "test", "consumer", "go.sum"), filepath.Join(work, "go.sum"))
	require.NoError(t, os.WriteFile(filepath.Join(work, "go.mod"),
		[]byte("module example.com/restorable-consumer\n\ngo 1.26\n\nrequire "+restorableModule+" "+version+"\n"), 0o644))
	env := []string{
		"GOPROXY=file://" + filepath.ToSlash(proxy) + "," + strings.TrimSpace(goOutput(t, root, nil, "env", "GOPROXY")),
		"GONOSUMDB=" + restorableModule, "GOFLAGS=-mod=mod", "GOWORK=off",
	}
	goOutput(t, work, env, "mod", "tidy")
	dir := strings.TrimSpace(goOutput(t, work, env, "list", "-m", "-f", "{{.Dir}}", restorableModule))
	require.True(t, strings.HasPrefix(dir, modCache), "restorable is used from the module cache, not %s", dir)
	info, err := os.Stat(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	assert.Zero(t, info.Mode()&0o222, "the module cache copy is read-only")

	// WHEN the consumer's app synthesizes
	out := t.TempDir()
	goOutput(t, work, append(env, "CDK_OUTDIR="+out), "run", ".")

	// THEN its guard handler is the same asset as the one built here
	raw, err := os.ReadFile(filepath.Join(out, "ConsumerStack.template.json"))
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
func goOutput(t *testing.T, dir string, env []string, args ...string) string {
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
func publish(t *testing.T, proxy, root, version string) {
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

func copyTo(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, raw, 0o644))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
