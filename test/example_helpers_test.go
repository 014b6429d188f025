package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/examples/redmine"
)

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
// values), writing to a temporary directory, as `cdk synth` runs an app.
func cdkJSONApp(t *testing.T, context map[string]string) (awscdk.App, string) {
	t.Helper()
	ctx := cdkJSONContext(t)
	for k, v := range context {
		ctx[k] = v
	}
	outdir := t.TempDir()
	return awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &ctx}), outdir
}

// example synthesizes the example app in-process, as `cdk synth` does with
// cdk.json, plus the given context (the -c values), in a fixed environment.
func example(t *testing.T, context map[string]string) (*redmine.Stack, map[string]interface{}, string) {
	t.Helper()
	stack, outdir := exampleStack(t, context)
	return stack, templateJSON(t, stack.Stack), outdir
}

// exampleStack builds the example app as example does, without synthesizing it.
func exampleStack(t *testing.T, context map[string]string) (*redmine.Stack, string) {
	t.Helper()
	app, outdir := cdkJSONApp(t, context)
	stack, err := redmine.NewStack(app, "RedmineStack", &redmine.StackProps{StackProps: awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)},
	}})
	require.NoError(t, err)
	return stack, outdir
}
