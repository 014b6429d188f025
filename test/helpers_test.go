package test

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

const (
	account = "123456789012"
	region  = "ap-northeast-1"
)

// newApp returns a fresh app with the given context, writing to a temporary
// directory.
func newApp(t *testing.T, context map[string]string) awscdk.App {
	t.Helper()
	ctx := map[string]interface{}{}
	for k, v := range context {
		ctx[k] = v
	}
	return awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &ctx})
}

// newStack returns a stack with a fixed environment in a fresh app.
func newStack(t *testing.T, context map[string]string) awscdk.Stack {
	t.Helper()
	app := newApp(t, context)
	return awscdk.NewStack(app, jsii.String("AppStack"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)},
	})
}

// clusterProps are minimal props of a PostgreSQL cluster in a new VPC.
func clusterProps(stack awscdk.Stack) awsrds.DatabaseClusterProps {
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	return awsrds.DatabaseClusterProps{
		Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{
			Version: awsrds.AuroraPostgresEngineVersion_VER_16_4(),
		}),
		Vpc:    vpc,
		Writer: awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil),
	}
}

// newCluster builds a restorable cluster named Database in a new stack, reading
// its source from the given context.
func newCluster(t *testing.T, context map[string]string) (awscdk.Stack, *restorable.AuroraCluster) {
	t.Helper()
	stack := newStack(t, context)
	src, err := restorable.AuroraSourceFromContext(stack, "Database")
	require.NoError(t, err)
	db := restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{
		DatabaseClusterProps: clusterProps(stack),
		Source:               src,
	})
	return stack, db
}

// templateJSON synthesizes the stack's app (once; later calls reuse the cloud
// assembly, and app validations run as in `cdk synth`) and returns the stack's
// template as a map.
func templateJSON(t *testing.T, stack awscdk.Stack) map[string]interface{} {
	t.Helper()
	asm := awscdk.Stage_Of(stack).Synth(nil)
	raw, err := json.Marshal(asm.GetStackArtifact(stack.ArtifactId()).Template())
	require.NoError(t, err)
	var out map[string]interface{}
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
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
