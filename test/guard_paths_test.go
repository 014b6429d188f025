package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/guard"
	"github.com/restorable-cdk/restorable/restorable"
)

// The paths around the guard that issue 23 names, each shown refused or safe.

func TestARestorableConstructInANestedStackIsRefused(t *testing.T) {
	// GIVEN a NestedStack in a stack
	// WHEN a restorable cluster, file system or protection is created in it
	// THEN synth refuses it with the reason and the fix
	for name, build := range map[string]func(stack awscdk.Stack, nested awscdk.NestedStack){
		"cluster": func(stack awscdk.Stack, nested awscdk.NestedStack) {
			restorable.NewAuroraCluster(nested, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack)})
		},
		"file system": func(stack awscdk.Stack, nested awscdk.NestedStack) {
			restorable.NewFileSystem(nested, jsii.String("Files"), &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: newVpc(stack)}})
		},
		"protection": func(_ awscdk.Stack, nested awscdk.NestedStack) { restorable.StackProtection(nested) },
	} {
		t.Run(name, func(t *testing.T) {
			stack := newStack(t, nil)
			nested := awscdk.NewNestedStack(stack, jsii.String("Data"), nil)
			msg := panicMessage(t, func() { build(stack, nested) })
			assert.Contains(t, msg, "restorable: AppStack/Data/")
			assert.Contains(t, msg, `scope="AppStack/Data": is a NestedStack. Renaming or moving a NestedStack makes CloudFormation create a new nested stack with new, EMPTY resources and delete the old one, which no guard can refuse`)
			assert.Contains(t, msg, "Fix: create restorable constructs in a top-level awscdk.Stack")
		})
	}
}

// plainCluster is the cluster awsrds.NewDatabaseCluster makes under the id
// restorable's cluster had, as if restorable were swapped back out.
func plainCluster(stack awscdk.Stack) awsrds.DatabaseCluster {
	return awsrds.NewDatabaseCluster(stack, jsii.String("Database"), ptr(clusterProps(stack)))
}

func TestSwappingAClusterBackToThePlainL2IsRefused(t *testing.T) {
	// GIVEN a restorable cluster as deployed, and the same stack with the
	// cluster swapped back to awsrds.NewDatabaseCluster under the same id,
	// while a restorable file system keeps the guard
	before := templateJSON(t, first(newCluster(t, nil)))
	swapped := newStack(t, nil)
	plain := plainCluster(swapped)
	restorable.NewFileSystem(swapped, jsii.String("Files"), &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: plain.Vpc()}})
	after := templateJSON(t, swapped)
	// THEN the cluster keeps its logical ID, so CloudFormation would replace it
	// in place of the restorable one: the plain L2's defaults change its
	// create-only properties (no customer-managed key, another master user)
	id := clusterIDOf(t, before)
	require.Equal(t, id, clusterIDOf(t, after))
	was, now := guardProps(t, before).Resources[id], guardProps(t, after).Resources[id]
	require.True(t, now.Plain, "the plain cluster has a guard entry")
	d := guard.Decide(was, now)
	assert.Equal(t, guard.NeedsConsent, d.Verdict)
	assert.Contains(t, d.Danger, "KmsKeyId: ")
	// AND CloudFormation updates the guard before the plain cluster
	_, cluster := resourceByID(t, after, id)
	assert.Contains(t, cluster["DependsOn"], guardIDOf(t, after))
}

// recordedApp is an app whose guard record is the file at record.
func recordedApp(t *testing.T, record string) awscdk.App {
	t.Helper()
	return newApp(t, map[string]string{restorable.ContextGuardRecord: record})
}

func envStack(app awscdk.App) awscdk.Stack {
	return awscdk.NewStack(app, jsii.String("AppStack"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)},
	})
}

func TestTheGuardRecordKeepsTheGuardOfAStackWithoutRestorableConstructs(t *testing.T) {
	record := filepath.Join(t.TempDir(), restorable.GuardRecordFile)
	require.NoError(t, os.WriteFile(record, []byte(`{"stacks": []}`), 0o644))
	// GIVEN an app whose stack has a restorable cluster, synthesized as Run
	// does, which records the stack
	app := recordedApp(t, record)
	stack := envStack(app)
	restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack)})
	restorable.Synth(app)
	before := templateJSON(t, stack)
	raw, err := os.ReadFile(record)
	require.NoError(t, err)
	var rec struct {
		Stacks []string `json:"stacks"`
	}
	require.NoError(t, json.Unmarshal(raw, &rec))
	assert.Equal(t, []string{"AppStack"}, rec.Stacks)

	// WHEN the last restorable construct is removed from the code
	t.Run("removed: the guard stays, and lists no cluster, so the deploy that deletes it is refused", func(t *testing.T) {
		app := recordedApp(t, record)
		stack := envStack(app)
		newVpc(stack)
		restorable.Synth(app)
		after := templateJSON(t, stack)
		// THEN the guard is still there, and lists no cluster: the handler
		// finds the deployed cluster missing from it and refuses
		// (internal/guard: TestTheLastRestorableConstructRemovedIsRefused)
		p := guardProps(t, after)
		assert.Empty(t, p.Resources)
		assert.False(t, p.Present[clusterIDOf(t, before)])
		assert.Equal(t, guardIDOf(t, before), guardIDOf(t, after), "the same guard, updated rather than created")
	})
	t.Run("swapped back to the plain L2: the guard compares it", func(t *testing.T) {
		app := recordedApp(t, record)
		stack := envStack(app)
		plainCluster(stack)
		restorable.Synth(app)
		after := templateJSON(t, stack)
		id := clusterIDOf(t, before)
		p := guardProps(t, after)
		require.Contains(t, p.Resources, id)
		assert.Equal(t, guard.NeedsConsent, guard.Decide(guardProps(t, before).Resources[id], p.Resources[id]).Verdict)
	})
	t.Run("a record that names no file is refused", func(t *testing.T) {
		app := recordedApp(t, filepath.Join(t.TempDir(), "none.json"))
		envStack(app)
		msg := panicMessage(t, func() { restorable.Synth(app) })
		assert.Contains(t, msg, `restorable:guardRecord="`)
		assert.Contains(t, msg, "names a guard record that cannot be read")
	})
	t.Run("without the stack in the record, nothing would keep it", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.json")
		require.NoError(t, os.WriteFile(empty, []byte(`{"stacks": []}`), 0o644))
		app := recordedApp(t, empty)
		stack := envStack(app)
		newVpc(stack)
		restorable.Synth(app)
		ids, _ := resourcesOfType(t, templateJSON(t, stack), restorable.GuardResourceType)
		assert.Empty(t, ids)
	})
	t.Run("a malformed record fails synth", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.json")
		require.NoError(t, os.WriteFile(bad, []byte("{stacks"), 0o644))
		app := recordedApp(t, bad)
		envStack(app)
		msg := panicMessage(t, func() { restorable.Synth(app) })
		assert.Contains(t, msg, "bad.json: is not a restorable guard record")
	})
}

func TestSnapshotBeforeOrdersAMigrationAfterTheGuard(t *testing.T) {
	// GIVEN a cluster, a migration in its stack and a consumer in another stack
	stack, db := newCluster(t, nil)
	migration := awscdk.NewCfnResource(stack, jsii.String("Migration"), &awscdk.CfnResourceProps{Type: jsii.String("Custom::Migration"),
		Properties: &map[string]interface{}{"ServiceToken": "arn:aws:lambda:ap-northeast-1:123456789012:function:migrate", "Host": db.ClusterEndpoint().Hostname()}})
	other := awscdk.NewStack(stack.Node().Root().(awscdk.App), jsii.String("Workers"), &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}})
	worker := awscdk.NewCfnResource(other, jsii.String("Worker"), &awscdk.CfnResourceProps{Type: jsii.String("AWS::SQS::Queue")})
	// WHEN they run after the snapshot
	db.SnapshotBefore(migration, worker)
	tmpl := templateJSON(t, stack)
	// THEN the migration waits for the guard, which waits for the snapshot
	_, m := byPath(t, tmpl, "AppStack/Migration")
	assert.Contains(t, m["DependsOn"], guardIDOf(t, tmpl))
	// AND the other stack deploys after this one
	var deps []string
	for _, d := range *other.Dependencies() {
		deps = append(deps, *d.Node().Path())
	}
	assert.Contains(t, deps, "AppStack")
}

func TestARestoredClusterCarriesItsRestoreTag(t *testing.T) {
	// The guard, seeing a cluster without its previous template, reads this
	// tag to know that a template without a source would empty it
	// (internal/guard: TestTheFirstDeployOnALiveClusterIsComparedWithIt).
	for ctx, want := range map[string]interface{}{"": nil, snapshotARN: "snapshot"} {
		context := map[string]string{}
		if ctx != "" {
			context["snapshotArn"] = ctx
		}
		tmpl := templateJSON(t, first(newCluster(t, context)))
		_, cluster := onlyResource(t, tmpl, "AWS::RDS::DBCluster")
		var got interface{}
		tags, _ := props(cluster)["Tags"].([]interface{})
		for _, tag := range tags {
			if m := tag.(map[string]interface{}); m["Key"] == "restorable:restored-from" {
				got = m["Value"]
			}
		}
		assert.Equal(t, want, got, ctx)
	}
}
