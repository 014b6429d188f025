// Package test holds the assertion tests on synthesized templates. They share one
// test binary, so the jsii kernel starts once; they never call t.Parallel().
package test

import (
	"os"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}
