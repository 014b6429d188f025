// Package test holds the assertion tests on synthesized templates, and the tests
// that run the pinned CDK CLI on the example app. They share one test binary, so
// the jsii kernel starts once; they never call t.Parallel().
package test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// repoRoot is the repository root, relative to this package.
const repoRoot = ".."

func TestMain(m *testing.M) {
	// Use the pinned Node.js (package.json) for the jsii kernel and the CDK CLI
	// when it is installed, as `make test` does.
	if bin, err := filepath.Abs(filepath.Join(repoRoot, "node_modules", ".bin")); err == nil {
		if _, err := os.Stat(filepath.Join(bin, "node")); err == nil {
			os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		}
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}
