package test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

// panicMessage runs f and returns the message of the panic it raises, failing
// the test if it does not panic.
func panicMessage(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		require.NotNil(t, r, "expected a panic")
		if err, ok := r.(error); ok {
			msg = err.Error()
		} else {
			msg = strings.TrimSpace(strings.TrimPrefix(awscdkString(r), "Error: "))
		}
	}()
	f()
	return ""
}

func awscdkString(r interface{}) string {
	if s, ok := r.(string); ok {
		return s
	}
	if e, ok := r.(interface{ Error() string }); ok {
		return e.Error()
	}
	return ""
}

func TestMisusedPropsFailWithSettingValueAndFix(t *testing.T) {
	tests := []struct {
		name   string
		modify func(p *restorable.AuroraClusterProps)
		want   []string
	}{
		{"fixed cluster identifier", func(p *restorable.AuroraClusterProps) { p.ClusterIdentifier = jsii.String("prod-db") },
			[]string{`restorable: AppStack/Database: ClusterIdentifier="prod-db"`, "names would collide", "Fix: remove ClusterIdentifier"}},
		{"removal policy destroy", func(p *restorable.AuroraClusterProps) { p.RemovalPolicy = awscdk.RemovalPolicy_DESTROY },
			[]string{`RemovalPolicy="DESTROY"`, "without a snapshot", "Fix: leave RemovalPolicy unset"}},
		{"read replica", func(p *restorable.AuroraClusterProps) {
			p.ReplicationSourceIdentifier = jsii.String("arn:aws:rds:us-east-1:123456789012:cluster:src")
		}, []string{"ReplicationSourceIdentifier=", "read replica", "Fix: use awsrds.NewDatabaseCluster"}},
		{"generated secret", func(p *restorable.AuroraClusterProps) {
			p.Credentials = awsrds.Credentials_FromGeneratedSecret(jsii.String("app"), nil)
		}, []string{"Credentials: ask CDK to generate a secret", "Fix: use awsrds.Credentials_FromUsername"}},
		{"unmanaged password without credentials", func(p *restorable.AuroraClusterProps) { p.ManageMasterUserPassword = jsii.Bool(false) },
			[]string{`ManageMasterUserPassword="false"`, "would not match", "Fix: leave ManageMasterUserPassword unset"}},
		{"backtrack on PostgreSQL", func(p *restorable.AuroraClusterProps) { p.BacktrackWindow = awscdk.Duration_Hours(jsii.Number(24)) },
			[]string{`BacktrackWindow="24 hours"`, "only supported by Aurora MySQL", "aurora-postgresql"}},
		{"backtrack over 72 hours", func(p *restorable.AuroraClusterProps) {
			p.Engine = awsrds.DatabaseClusterEngine_AuroraMysql(&awsrds.AuroraMysqlClusterEngineProps{Version: awsrds.AuroraMysqlEngineVersion_VER_3_08_0()})
			p.BacktrackWindow = awscdk.Duration_Hours(jsii.Number(73))
		}, []string{`BacktrackWindow="73 hours"`, "outside 0 to 72 hours"}},
		{"instance snapshot as source", func(p *restorable.AuroraClusterProps) {
			p.Source = restorable.AuroraSource{SnapshotIdentifier: "arn:aws:rds:ap-northeast-1:123456789012:snapshot:db1"}
		}, []string{"AppStack/Database: AuroraSource.SnapshotIdentifier=", "DB instance snapshot"}},
		{"snapshot from another region", func(p *restorable.AuroraClusterProps) {
			p.Source = restorable.AuroraSource{SnapshotIdentifier: "arn:aws:rds:us-west-2:123456789012:cluster-snapshot:s1"}
		}, []string{"is in region us-west-2, but the stack deploys to ap-northeast-1", "copy-db-cluster-snapshot --region ap-northeast-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := newStack(t, nil)
			p := &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack)}
			tt.modify(p)
			msg := panicMessage(t, func() { restorable.NewAuroraCluster(stack, jsii.String("Database"), p) })
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
		})
	}
}

func TestNilPropsFail(t *testing.T) {
	stack := newStack(t, nil)
	msg := panicMessage(t, func() { restorable.NewAuroraCluster(stack, jsii.String("Database"), nil) })
	assert.Contains(t, msg, "restorable: AppStack/Database: props: are nil")
}

func TestContextKeys(t *testing.T) {
	// GIVEN an app with two restorable clusters
	twoClusters := func(ctx map[string]string) (awscdk.Stack, error) {
		stack := newStack(t, ctx)
		base := clusterProps(stack)
		for _, id := range []string{"Orders", "Users"} {
			src, err := restorable.AuroraSourceFromContext(stack, id)
			if err != nil {
				return nil, err
			}
			p := base
			p.Writer = awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil)
			restorable.NewAuroraCluster(stack, jsii.String(id), &restorable.AuroraClusterProps{DatabaseClusterProps: p, Source: src})
		}
		return stack, nil
	}
	t.Run("per-construct keys restore clusters independently", func(t *testing.T) {
		stack, err := twoClusters(map[string]string{"AppStack/Orders.snapshotArn": snapshotARN})
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
		stack, err := twoClusters(map[string]string{"snapshotArn": snapshotARN})
		require.NoError(t, err)
		msg := panicMessage(t, func() { templateJSON(t, stack) })
		assert.Contains(t, msg, `context key "snapshotArn" applies only when the app has exactly one restorable Aurora cluster, and this app has 2: AppStack/Orders, AppStack/Users`)
		assert.Contains(t, msg, "Fix: use the per-construct keys instead: AppStack/Orders.snapshotArn, AppStack/Users.snapshotArn")
	})
	t.Run("a per-construct key with a typo fails", func(t *testing.T) {
		stack, err := twoClusters(map[string]string{"AppStack/Order.snapshotArn": snapshotARN})
		require.NoError(t, err)
		msg := panicMessage(t, func() { templateJSON(t, stack) })
		assert.Contains(t, msg, `context key "AppStack/Order.snapshotArn" names "AppStack/Order", which is not a restorable Aurora cluster`)
		assert.Contains(t, msg, "are: AppStack/Orders, AppStack/Users")
	})
	t.Run("a key the app does not read fails instead of being ignored", func(t *testing.T) {
		stack := newStack(t, map[string]string{"snapshotArn": snapshotARN})
		restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack)})
		msg := panicMessage(t, func() { templateJSON(t, stack) })
		assert.Contains(t, msg, `context key "snapshotArn" is set, but this app does not read it for AppStack/Database, so it would be ignored`)
	})
	t.Run("a bare key in an app without clusters fails", func(t *testing.T) {
		// The app reads the context but builds no restorable cluster.
		stack := newStack(t, map[string]string{"restoreToTime": "latest", "restoreSourceCluster": "prod"})
		_, err := restorable.AuroraSourceFromContext(stack, "Database")
		require.NoError(t, err)
		awscdk.NewCfnOutput(stack, jsii.String("Nothing"), &awscdk.CfnOutputProps{Value: jsii.String("x")})
		msg := panicMessage(t, func() { templateJSON(t, stack) })
		assert.Contains(t, msg, `context key "restoreToTime" is set, but this app has no restorable Aurora cluster`)
	})
	t.Run("bare and per-construct keys together fail", func(t *testing.T) {
		stack := newStack(t, map[string]string{"snapshotArn": snapshotARN, "AppStack/Database.snapshotArn": "other"})
		_, err := restorable.AuroraSourceFromContext(stack, "Database")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `restorable: snapshotArn="`+snapshotARN+`": is set together with AppStack/Database.snapshotArn="other"`)
	})
	t.Run("a malformed context value names the key", func(t *testing.T) {
		stack := newStack(t, map[string]string{"restoreToTime": "2026-11-20 10:15", "restoreSourceCluster": "prod"})
		_, err := restorable.AuroraSourceFromContext(stack, "Database")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `restorable: restoreToTime="2026-11-20 10:15": is not a time in RFC 3339 format`)
	})
	t.Run("clone and point-in-time sources conflict", func(t *testing.T) {
		stack := newStack(t, map[string]string{"AppStack/Database.cloneSourceCluster": "prod", "restoreSourceCluster": "prod", "restoreToTime": "latest"})
		_, err := restorable.AuroraSourceFromContext(stack, "Database")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `AppStack/Database.cloneSourceCluster="prod": conflicts with restoreSourceCluster="prod"`)
	})
	t.Run("an empty value fails", func(t *testing.T) {
		stack := newStack(t, map[string]string{"snapshotArn": ""})
		_, err := restorable.AuroraSourceFromContext(stack, "Database")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "restorable: snapshotArn: is set but empty")
	})
}
