package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

// twoClusters builds an app with two restorable clusters, Orders and Users,
// that read their sources from the context.
func twoClusters(t *testing.T, ctx map[string]string) (awscdk.Stack, error) {
	t.Helper()
	stack := newStack(t, ctx)
	base := clusterProps(stack)
	for _, id := range []string{"Orders", "Users"} {
		p := base
		p.Writer = awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil)
		props, err := restorable.AuroraClusterFromContext(stack, id, restorable.AuroraClusterProps{DatabaseClusterProps: p})
		if err != nil {
			return nil, err
		}
		restorable.NewAuroraCluster(stack, jsii.String(id), props)
	}
	return stack, nil
}

func TestWrongKeysFailWithTheKeyAndTheNearestValidOne(t *testing.T) {
	tests := []struct {
		key  string
		want []string
	}{
		{"snapshotARN", []string{`context key "snapshotARN" looks like "snapshotArn"`, "Fix: use -c snapshotArn=... (keys are case-sensitive)"}},
		{"snapshot_arn", []string{`context key "snapshot_arn" looks like "snapshotArn"`}},
		{"restoreTime", []string{`context key "restoreTime" looks like "restoreToTime"`}},
		{"AppStack/Database.SnapshotArn", []string{`context key "AppStack/Database.SnapshotArn": "SnapshotArn" is not a setting of the restorable Aurora cluster AppStack/Database`, "Fix: use -c 'AppStack/Database.snapshotArn=...'"}},
		{"AppStack/Database.restoreTime", []string{`"restoreTime" is not a setting`, "AppStack/Database.restoreToTime"}},
		{"AppStack/Databse.snapshotArn", []string{`context key "AppStack/Databse.snapshotArn" names "AppStack/Databse", which is not a restorable Aurora cluster`, "are: AppStack/Database"}},
		{"AppStack/Databse.snapshotARN", []string{`looks like "AppStack/Databse.snapshotArn"`, "the restorable resources in this app are: AppStack/Database"}},
		{"allowReplace", []string{`context key "allowReplace" exists only per construct`, "-c 'AppStack/Database.allowReplace=...'"}},
		{"cloneSourceCluster", []string{`context key "cloneSourceCluster" exists only per construct`, "-c 'AppStack/Database.cloneSourceCluster=...'"}},
		{"efsRecoveryPointArn", []string{`context key "efsRecoveryPointArn" is set, but this app has no restorable file system`}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			stack, _ := newCluster(t, map[string]string{tt.key: "x"})
			msg := panicMessage(t, func() { templateJSON(t, stack) })
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
		})
	}
	t.Run("other tools' keys stay untouched", func(t *testing.T) {
		stack, _ := newCluster(t, map[string]string{"stage": "prod", "primaryRegion": "ap-northeast-1", "@aws-cdk/core:newStyleStackSynthesis": "true"})
		templateJSON(t, stack)
	})
}

func TestBareAndPerConstructKeys(t *testing.T) {
	t.Run("per-construct keys restore clusters independently", func(t *testing.T) {
		stack, err := twoClusters(t, map[string]string{"AppStack/Orders.snapshotArn": snapshotARN})
		require.NoError(t, err)
		_, clusters := resourcesOfType(t, templateJSON(t, stack), "AWS::RDS::DBCluster")
		require.Len(t, clusters, 2)
		var snapshots []interface{}
		for _, c := range clusters {
			snapshots = append(snapshots, props(c)["SnapshotIdentifier"])
		}
		assert.ElementsMatch(t, []interface{}{snapshotARN, nil}, snapshots)
	})
	t.Run("a bare key with two clusters fails and names them", func(t *testing.T) {
		stack, err := twoClusters(t, map[string]string{"snapshotArn": snapshotARN})
		require.NoError(t, err)
		msg := panicMessage(t, func() { templateJSON(t, stack) })
		assert.Contains(t, msg, `context key "snapshotArn" applies only when the app has exactly one restorable Aurora cluster, and this app has 2: AppStack/Orders, AppStack/Users`)
		assert.Contains(t, msg, "Fix: use the per-construct keys instead: AppStack/Orders.snapshotArn, AppStack/Users.snapshotArn")
	})
	t.Run("a key the app does not read fails instead of being ignored", func(t *testing.T) {
		stack := newStack(t, map[string]string{"snapshotArn": snapshotARN})
		restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack)})
		msg := panicMessage(t, func() { templateJSON(t, stack) })
		assert.Contains(t, msg, `context key "snapshotArn" is set, but this app does not read it for AppStack/Database, so it would be ignored`)
		assert.Contains(t, msg, "restorable.AuroraClusterFromContext")
	})
	t.Run("bare and per-construct keys together fail", func(t *testing.T) {
		stack := newStack(t, map[string]string{"snapshotArn": snapshotARN, "AppStack/Database.snapshotArn": "other"})
		_, err := restorable.AuroraClusterFromContext(stack, "Database", restorable.AuroraClusterProps{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `restorable: snapshotArn="`+snapshotARN+`": is set together with AppStack/Database.snapshotArn="other"`)
	})
	t.Run("a value set on a scope wins over the app's, as tryGetContext finds it", func(t *testing.T) {
		stack := newStack(t, map[string]string{"AppStack/Group/Database.snapshotArn": "from-the-app", "AppStack/Group/Database.allowReplace": "old-db"})
		group := constructs.NewConstruct(stack, jsii.String("Group"))
		group.Node().SetContext(jsii.String("AppStack/Group/Database.snapshotArn"), jsii.String(snapshotARN))
		props, err := restorable.AuroraClusterFromContext(group, "Database", restorable.AuroraClusterProps{})
		require.NoError(t, err)
		assert.Equal(t, snapshotARN, props.Source.SnapshotIdentifier)
		assert.Equal(t, "old-db", props.AllowReplace, "the app's value where the scope sets none")
		group.Node().SetContext(jsii.String("AppStack/Group/Database.cloneSourceCluster"), jsii.Number(5))
		_, err = restorable.AuroraClusterFromContext(group, "Database", restorable.AuroraClusterProps{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `AppStack/Group/Database.cloneSourceCluster="5": is a float64, not a string`)
	})
	t.Run("a malformed value names its key", func(t *testing.T) {
		msg := panicMessage(t, func() {
			newCluster(t, map[string]string{"restoreToTime": "2026-11-20 10:15", "restoreSourceCluster": "prod"})
		})
		assert.Contains(t, msg, `restorable: AppStack/Database: restoreToTime="2026-11-20 10:15": is not a time in RFC 3339 format`)
	})
	t.Run("a value in quotes says to remove them", func(t *testing.T) {
		msg := panicMessage(t, func() { newCluster(t, map[string]string{"snapshotArn": `"` + snapshotARN + `"`}) })
		assert.Contains(t, msg, `restorable: AppStack/Database: snapshotArn="\"`+snapshotARN+`\"": is wrapped in quotes`)
		assert.Contains(t, msg, "Fix: remove the quotes")
	})
	t.Run("a time in the future names the clock", func(t *testing.T) {
		msg := panicMessage(t, func() {
			newCluster(t, map[string]string{"restoreToTime": "2099-01-01T00:00:00Z", "restoreSourceCluster": "prod"})
		})
		assert.Contains(t, msg, `restoreToTime="2099-01-01T00:00:00Z": is in the future (this machine's clock says it is now `)
	})
	t.Run("clone and point-in-time sources conflict", func(t *testing.T) {
		stack := newStack(t, map[string]string{"AppStack/Database.cloneSourceCluster": "prod", "restoreSourceCluster": "prod", "restoreToTime": "latest"})
		_, err := restorable.AuroraClusterFromContext(stack, "Database", restorable.AuroraClusterProps{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `AppStack/Database.cloneSourceCluster="prod": conflicts with restoreSourceCluster="prod"`)
	})
	t.Run("an empty value fails", func(t *testing.T) {
		stack := newStack(t, map[string]string{"snapshotArn": ""})
		_, err := restorable.AuroraClusterFromContext(stack, "Database", restorable.AuroraClusterProps{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "restorable: snapshotArn: is set but empty")
	})
}
