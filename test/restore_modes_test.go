package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

// clusterProps of the one DBCluster in a template.
func clusterOf(t *testing.T, tmpl map[string]interface{}) map[string]interface{} {
	t.Helper()
	_, c := onlyResource(t, tmpl, "AWS::RDS::DBCluster")
	return props(c)
}

func TestPointInTimeRestoreProperties(t *testing.T) {
	tests := []struct {
		name    string
		ctx     map[string]string
		want    map[string]interface{}
		absent  []string
		wantSrc string
	}{
		{"a time with an offset, normalized to UTC",
			map[string]string{"restoreToTime": "2026-11-20T19:15:22+09:00", "restoreSourceCluster": "app-db-abc123"},
			map[string]interface{}{"RestoreToTime": "2026-11-20T10:15:22Z", "RestoreType": "full-copy", "SourceDBClusterIdentifier": "app-db-abc123"},
			[]string{"UseLatestRestorableTime", "SourceDbClusterResourceId"}, "point in time"},
		{"the latest restorable time",
			map[string]string{"restoreToTime": "latest", "restoreSourceCluster": "app-db-abc123"},
			map[string]interface{}{"UseLatestRestorableTime": true, "RestoreType": "full-copy", "SourceDBClusterIdentifier": "app-db-abc123"},
			[]string{"RestoreToTime"}, "point in time"},
		{"a deleted cluster by resource ID",
			map[string]string{"restoreToTime": "2026-11-20T10:15:22Z", "restoreSourceClusterResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
			map[string]interface{}{"RestoreToTime": "2026-11-20T10:15:22Z", "SourceDbClusterResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
			[]string{"SourceDBClusterIdentifier"}, "point in time"},
		{"a clone",
			map[string]string{"AppStack/Database.cloneSourceCluster": "prod-db"},
			map[string]interface{}{"RestoreType": "copy-on-write", "UseLatestRestorableTime": true, "SourceDBClusterIdentifier": "prod-db"},
			[]string{"RestoreToTime"}, "clone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack, db := newCluster(t, tt.ctx)
			p := clusterOf(t, templateJSON(t, stack))
			for k, v := range tt.want {
				assert.Equal(t, v, p[k], k)
			}
			// Every restore kind leaves out what a restore must not set, and keeps
			// the key and the RDS-managed password.
			for _, k := range append(tt.absent, "SnapshotIdentifier", "MasterUsername", "StorageEncrypted", "MasterUserPassword") {
				assert.NotContains(t, p, k)
			}
			assert.NotNil(t, p["KmsKeyId"])
			assert.Equal(t, true, p["ManageMasterUserPassword"])
			assert.Contains(t, []restorable.SourceKind{restorable.KindPointInTime, restorable.KindClone}, db.Kind())
		})
	}
}

func TestExamplePointInTimeTransitions(t *testing.T) {
	pitr := map[string]string{"restoreToTime": "2026-11-20T10:15:22Z", "restoreSourceCluster": "redminestack-database-abc"}
	_, fresh, _ := example(t, nil)
	_, restored, _ := example(t, pitr)
	_, again, _ := example(t, pitr)
	_, snapshot, _ := example(t, map[string]string{"snapshotArn": snapshotARN})
	id := clusterIDOf(t, fresh)
	require.Equal(t, id, clusterIDOf(t, restored))

	t.Run("new to point in time changes only the cluster's restore properties", func(t *testing.T) {
		assert.ElementsMatch(t, clusterAndGuardChanges(t, fresh, "RestoreToTime", "RestoreType", "SourceDBClusterIdentifier", "MasterUsername", "StorageEncrypted"),
			templateChanges(fresh, restored))
	})
	t.Run("the same point in time again changes nothing", func(t *testing.T) {
		assert.Empty(t, templateChanges(restored, again))
	})
	t.Run("point in time to a snapshot swaps the restore properties", func(t *testing.T) {
		assert.ElementsMatch(t, clusterAndGuardChanges(t, restored, "RestoreToTime", "RestoreType", "SourceDBClusterIdentifier", "SnapshotIdentifier"),
			templateChanges(restored, snapshot))
	})
}

func TestExampleNewToClone(t *testing.T) {
	_, fresh, _ := example(t, nil)
	_, clone, _ := example(t, map[string]string{"RedmineStack/Database.cloneSourceCluster": "prod-db"})
	assert.ElementsMatch(t, clusterAndGuardChanges(t, fresh, "RestoreType", "UseLatestRestorableTime", "SourceDBClusterIdentifier", "MasterUsername", "StorageEncrypted"),
		templateChanges(fresh, clone))
	assert.Equal(t, "copy-on-write", clusterOf(t, clone)["RestoreType"])
}

// prodAndStaging builds a production stack and a staging stack whose cluster is
// a clone of production's, referenced as a construct, in one app with the given
// context.
func prodAndStaging(t *testing.T, ctx map[string]interface{}) (prodStack, stagingStack awscdk.Stack) {
	t.Helper()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &ctx})
	env := &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	prodStack = awscdk.NewStack(app, jsii.String("Prod"), &awscdk.StackProps{Env: env})
	prod := restorable.NewAuroraCluster(prodStack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(prodStack)})
	stagingStack = awscdk.NewStack(app, jsii.String("Staging"), &awscdk.StackProps{Env: env})
	restorable.NewAuroraCluster(stagingStack, jsii.String("Database"), &restorable.AuroraClusterProps{
		DatabaseClusterProps: clusterProps(stagingStack),
		Source:               restorable.AuroraSource{Clone: true, SourceCluster: prod.Cluster()},
	})
	return prodStack, stagingStack
}

func TestCloneOfAClusterInAnotherStack(t *testing.T) {
	// GIVEN a production stack and a staging stack in one app, the staging
	// cluster a clone of the production one, with the default (strong)
	// cross-stack references
	prodStack, stagingStack := prodAndStaging(t, map[string]interface{}{})
	// THEN the clone reads the production cluster's current identifier from the
	// production stack, so nothing is copied by hand
	staging := clusterOf(t, templateJSON(t, stagingStack))
	assert.Equal(t, "copy-on-write", staging["RestoreType"])
	assert.Contains(t, fmtJSON(staging["SourceDBClusterIdentifier"]), "Fn::ImportValue")
	assert.Contains(t, fmtJSON(staging["SourceDBClusterIdentifier"]), "Prod:ExportsOutputRefDatabase")
	// AND the production cluster is untouched
	assert.NotContains(t, clusterOf(t, templateJSON(t, prodStack)), "RestoreType")
	// AND synth warns that the export would block a restore of production
	assertions.Annotations_FromStack(stagingStack).HasWarning(jsii.String("/Staging/Database"),
		assertions.Match_StringLikeRegexp(jsii.String(`CloudFormation refuses to change an export that another stack imports: a restore of Prod/Database would fail`)))
}

func TestCloneWithWeakReferencesReadsTheOutput(t *testing.T) {
	_, stagingStack := prodAndStaging(t, map[string]interface{}{"@aws-cdk/core:defaultCrossStackReferences": "weak"})
	src := clusterOf(t, templateJSON(t, stagingStack))["SourceDBClusterIdentifier"].(map[string]interface{})
	assert.Equal(t, "Prod", src["Fn::GetStackOutput"].(map[string]interface{})["StackName"])
	a := assertions.Annotations_FromStack(stagingStack)
	a.HasNoWarning(jsii.String("/Staging/Database"), assertions.Match_StringLikeRegexp(jsii.String("refuses to change an export")))
}

func TestPointInTimeOfAClusterInThisStack(t *testing.T) {
	// GIVEN a second cluster restored to a point in time of the first one
	stack := newStack(t, nil)
	base := clusterProps(stack)
	orders := restorable.NewAuroraCluster(stack, jsii.String("Orders"), &restorable.AuroraClusterProps{DatabaseClusterProps: base})
	investigate := base
	investigate.Writer = awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil)
	restorable.NewAuroraCluster(stack, jsii.String("Investigate"), &restorable.AuroraClusterProps{
		DatabaseClusterProps: investigate,
		Source:               restorable.AuroraSource{RestoreToTime: "2026-11-20T10:15:22Z", SourceCluster: orders.Cluster()},
	})
	tmpl := templateJSON(t, stack)
	ids, clusters := resourcesOfType(t, tmpl, "AWS::RDS::DBCluster")
	require.Len(t, ids, 2)
	var refs []string
	for _, c := range clusters {
		if src, ok := props(c)["SourceDBClusterIdentifier"]; ok {
			refs = append(refs, fmtJSON(src))
		}
	}
	// THEN the template references the source cluster directly
	ordersID := stack.Resolve(orders.ClusterIdentifier())
	assert.Equal(t, []string{fmtJSON(ordersID)}, refs)
}

func TestOutputsCarryTheRestoreCommands(t *testing.T) {
	stack, _ := newCluster(t, nil)
	tmpl := templateJSON(t, stack)
	cluster := clusterIDOf(t, tmpl)
	outputs := tmpl["Outputs"].(map[string]interface{})
	value := func(name string) interface{} {
		o, ok := outputs[name].(map[string]interface{})
		require.True(t, ok, "output %s in %v", name, outputs)
		return o["Value"]
	}
	assert.Equal(t, map[string]interface{}{"Ref": cluster}, value("DatabaseClusterIdentifier"))
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{cluster, "DBClusterResourceId"}}, value("DatabaseClusterResourceId"))
	assert.Equal(t, map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
		"cdk deploy -c AppStack/Database.restoreToTime=<time> -c AppStack/Database.restoreSourceCluster=",
		map[string]interface{}{"Ref": cluster},
	}}}, value("DatabasePointInTimeRestoreCommand"))
	assert.Contains(t, fmtJSON(value("DatabaseListSnapshotsCommand")), "aws rds describe-db-cluster-snapshots --db-cluster-identifier ")
}

func TestRestoreTimeWarningsReachSynth(t *testing.T) {
	stack, _ := newCluster(t, map[string]string{"restoreToTime": "2099-01-01T00:00:00Z", "restoreSourceCluster": "prod"})
	templateJSON(t, stack)
	assertions.Annotations_FromStack(stack).HasWarning(jsii.String("/AppStack/Database"),
		assertions.Match_StringLikeRegexp(jsii.String(`restoreToTime=2099-01-01T00:00:00Z is in the future`)))
}

func TestAWSBackupRecoveryPointOfTheCluster(t *testing.T) {
	const rp = "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:awsbackup:job-be59cf2a-2343-4402-bd8b-226993d23453"
	stack, db := newCluster(t, map[string]string{"snapshotArn": rp})
	assert.Equal(t, rp, clusterOf(t, templateJSON(t, stack))["SnapshotIdentifier"])
	assert.Equal(t, restorable.KindSnapshot, db.Kind())

	efsPoint := newStack(t, map[string]string{"snapshotArn": "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"})
	_, err := restorable.AuroraSourceFromContext(efsPoint, "Database")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AWS Backup keeps an Aurora cluster's recovery points as DB cluster snapshots")
	assert.Contains(t, err.Error(), "give an EFS recovery point to efsRecoveryPointArn instead")
}

func TestBacktrackOnMySQL(t *testing.T) {
	mysql := func(window awscdk.Duration) (awscdk.Stack, map[string]interface{}) {
		stack := newStack(t, nil)
		p := clusterProps(stack)
		p.Engine = awsrds.DatabaseClusterEngine_AuroraMysql(&awsrds.AuroraMysqlClusterEngineProps{Version: awsrds.AuroraMysqlEngineVersion_VER_3_08_0()})
		p.BacktrackWindow = window
		restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: p})
		return stack, clusterOf(t, templateJSON(t, stack))
	}
	stack, p := mysql(awscdk.Duration_Hours(jsii.Number(24)))
	assert.Equal(t, float64(86400), p["BacktrackWindow"])
	assertions.Annotations_FromStack(stack).HasInfo(jsii.String("/AppStack/Database"),
		assertions.Match_StringLikeRegexp(jsii.String(`backtracking \(24 hours\) can only be turned on when a cluster is created or restored.*aws rds backtrack-db-cluster`)))
	// By default, Aurora MySQL backtracks 24 hours and listens on 3307, not
	// MySQL's well-known port (cdk-nag AwsSolutions-RDS14 and RDS11).
	_, p = mysql(nil)
	assert.Equal(t, float64(86400), p["BacktrackWindow"])
	assert.Equal(t, float64(3307), p["Port"])
	pg, _ := newCluster(t, nil)
	postgres := clusterOf(t, templateJSON(t, pg))
	assert.NotContains(t, postgres, "BacktrackWindow")
	assert.Equal(t, float64(5432), postgres["Port"])
	stack, p = mysql(awscdk.Duration_Seconds(jsii.Number(0)))
	assert.Equal(t, float64(0), p["BacktrackWindow"])
	assertions.Annotations_FromStack(stack).HasWarning(jsii.String("/AppStack/Database"),
		assertions.Match_StringLikeRegexp(jsii.String(`BacktrackWindow is 0, which turns backtracking off for good`)))
}
