package test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/guard"
	"github.com/restorable-cdk/restorable/restorable"
)

func TestASnapshotBeforeEveryRiskyChange(t *testing.T) {
	// GIVEN a new cluster with the defaults
	stack, _ := newCluster(t, nil)
	tmpl := templateJSON(t, stack)
	clusterID := clusterIDOf(t, tmpl)
	guardID := guardIDOf(t, tmpl)
	entry := guardProps(t, tmpl).Resources[clusterID]
	t.Run("the guard watches the engine version, the parameter group and its parameters, and keeps 3", func(t *testing.T) {
		require.NotNil(t, entry.BeforeChange)
		assert.Equal(t, 3, entry.BeforeChange.Keep)
		w := entry.BeforeChange.Watch
		assert.Equal(t, "16.4", w["EngineVersion"])
		pgID, pg := onlyResource(t, tmpl, "AWS::RDS::DBClusterParameterGroup")
		assert.Equal(t, pgID, w["ParameterGroup"])
		assert.Equal(t, "aurora-postgresql16", w["Family"])
		assert.Equal(t, props(pg)["Parameters"], w["Parameters"])
		// The group is named, not referenced, and is updated after the guard,
		// so that the snapshot comes before a parameter change.
		assert.Empty(t, refsIn(w))
		assert.Contains(t, pg["DependsOn"], guardID)
		assert.NotContains(t, w, "Release")
	})
	t.Run("an output gives the rollback command the guard answers with", func(t *testing.T) {
		out := tmpl["Outputs"].(map[string]interface{})["DatabaseRollbackCommand"].(map[string]interface{})
		assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{guardID, contract.RollbackAttribute(clusterID)}}, out["Value"])
	})
	t.Run("the guard may wait up to 15 minutes, and CloudFormation a minute longer", func(t *testing.T) {
		_, fn := functionWithHandler(t, tmpl, contract.HandlerGuard)
		assert.Equal(t, float64(900), props(fn)["Timeout"])
		_, g := resourceByID(t, tmpl, guardID)
		assert.Equal(t, "960", fmt.Sprint(props(g)["ServiceTimeout"]))
	})
	t.Run("its role snapshots clusters, and deletes only the snapshots it tagged for this stack's clusters", func(t *testing.T) {
		_, fn := functionWithHandler(t, tmpl, contract.HandlerGuard)
		policy := iamPolicy(statementsOf(t, tmpl, roleOf(fn)))
		cluster := "arn:aws:rds:ap-northeast-1:123456789012:cluster:appstack-databaseb269d8bb-0abc"
		snap := "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:restorable-appstack-database-20261129-103000"
		ours := map[string]string{contract.TagBeforeChange: "AppStack/Database"}
		assert.True(t, policy.allows("rds:CreateDBClusterSnapshot", cluster, nil))
		assert.True(t, policy.allows("rds:DescribeDBClusterSnapshots", snap, nil))
		assert.True(t, policy.allows("rds:DeleteDBClusterSnapshot", snap, ours))
		assert.False(t, policy.allows("rds:DeleteDBClusterSnapshot", snap, nil), "not without the tag")
		assert.False(t, policy.allows("rds:DeleteDBClusterSnapshot", snap, map[string]string{contract.TagBeforeChange: "OtherStack/Database"}))
		assert.False(t, policy.allows("rds:DeleteDBClusterSnapshot", "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident", ours))
		assert.False(t, policy.allows("rds:DeleteDBCluster", cluster, nil))
		assert.False(t, policy.allows("rds:ModifyDBCluster", cluster, nil))
	})
	t.Run("the report says when a snapshot is taken and where the rollback is", func(t *testing.T) {
		var b bytes.Buffer
		require.NoError(t, restorable.WriteReport(&b, stack))
		assert.Contains(t, b.String(), "before a change: a deploy that changes the engine version, the cluster parameter group or its parameters first takes a manual snapshot and waits for it (the newest 3 are kept)")
		assert.Contains(t, b.String(), "rollback: stack output DatabaseRollbackCommand (cdk deploy -c AppStack/Database.snapshotArn=<that snapshot>)")
	})
}

func TestSnapshotBeforeChangeOptions(t *testing.T) {
	t.Run("a release marker, and how many to keep", func(t *testing.T) {
		stack, _ := newCluster(t, nil, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) {
			p.SnapshotBeforeChange = &restorable.SnapshotBeforeChangeProps{Release: "redmine:6.0.4", Keep: 5}
		})
		tmpl := templateJSON(t, stack)
		entry := guardProps(t, tmpl).Resources[clusterIDOf(t, tmpl)]
		assert.Equal(t, "redmine:6.0.4", entry.BeforeChange.Watch["Release"])
		assert.Equal(t, 5, entry.BeforeChange.Keep)
	})
	t.Run("off", func(t *testing.T) {
		stack, _ := newCluster(t, nil, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) {
			p.SnapshotBeforeChange = &restorable.SnapshotBeforeChangeProps{Disabled: true}
		})
		tmpl := templateJSON(t, stack)
		assert.Nil(t, guardProps(t, tmpl).Resources[clusterIDOf(t, tmpl)].BeforeChange)
		assert.NotContains(t, tmpl["Outputs"], "DatabaseRollbackCommand")
		_, fn := functionWithHandler(t, tmpl, contract.HandlerGuard)
		assert.NotContains(t, fmtJSON(statementsOf(t, tmpl, roleOf(fn))), "rds:CreateDBClusterSnapshot")
	})
	for name, tt := range map[string]struct {
		give restorable.SnapshotBeforeChangeProps
		want string
	}{
		"keep too many":       {restorable.SnapshotBeforeChangeProps{Keep: 500}, `SnapshotBeforeChange.Keep="500": is not from 1 to 100`},
		"off, with a release": {restorable.SnapshotBeforeChangeProps{Disabled: true, Release: "v2"}, `SnapshotBeforeChange.Disabled="true": is set together with Release or Keep`},
	} {
		t.Run(name, func(t *testing.T) {
			stack := newStack(t, nil)
			p := restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack), SnapshotBeforeChange: &tt.give}
			assert.Contains(t, panicMessage(t, func() { restorable.NewAuroraCluster(stack, jsii.String("Database"), &p) }), tt.want)
		})
	}
}

// upgrade synthesizes the cluster before and after a major version upgrade.
func upgrade(t *testing.T, from, to awsrds.IClusterEngine) (before, after map[string]interface{}) {
	t.Helper()
	build := func(engine awsrds.IClusterEngine) map[string]interface{} {
		stack, _ := newCluster(t, nil, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) { p.Engine = engine })
		return templateJSON(t, stack)
	}
	return build(from), build(to)
}

func TestInPlaceMajorVersionUpgrades(t *testing.T) {
	for name, tt := range map[string]struct {
		from, to           awsrds.IClusterEngine
		fromVer, toVer     string
		fromFamily, family string
	}{
		"Aurora PostgreSQL 15 to 16": {
			awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{Version: awsrds.AuroraPostgresEngineVersion_VER_15_8()}),
			awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{Version: awsrds.AuroraPostgresEngineVersion_VER_16_4()}),
			"15.8", "16.4", "aurora-postgresql15", "aurora-postgresql16"},
		"Aurora MySQL 2 to 3": {
			awsrds.DatabaseClusterEngine_AuroraMysql(&awsrds.AuroraMysqlClusterEngineProps{Version: awsrds.AuroraMysqlEngineVersion_VER_2_12_4()}),
			awsrds.DatabaseClusterEngine_AuroraMysql(&awsrds.AuroraMysqlClusterEngineProps{Version: awsrds.AuroraMysqlEngineVersion_VER_3_08_0()}),
			"5.7.mysql_aurora.2.12.4", "8.0.mysql_aurora.3.08.0", "aurora-mysql5.7", "aurora-mysql8.0"},
	} {
		t.Run(name, func(t *testing.T) {
			// GIVEN the cluster on the old major version, and the same code
			// with the new one
			before, after := upgrade(t, tt.from, tt.to)
			clusterID := clusterIDOf(t, before)
			require.Equal(t, clusterID, clusterIDOf(t, after), "the same cluster resource")
			_, oldCluster := resourceByID(t, before, clusterID)
			_, newCluster := resourceByID(t, after, clusterID)
			assert.Equal(t, tt.fromVer, props(oldCluster)["EngineVersion"])
			assert.Equal(t, tt.toVer, props(newCluster)["EngineVersion"])
			// THEN no create-only property of the cluster or its instances
			// changes, per the registry schemas: CloudFormation updates both in
			// place (its handler allows the major upgrade itself)
			for _, typ := range []string{"AWS::RDS::DBCluster", "AWS::RDS::DBInstance"} {
				ids, olds := resourcesOfType(t, before, typ)
				newIDs, _ := resourcesOfType(t, after, typ)
				require.Equal(t, ids, newIDs, typ)
				for i, id := range ids {
					_, n := resourceByID(t, after, id)
					for prop := range createOnly(t, typ) {
						assert.Equal(t, props(olds[i])[prop], props(n)[prop], "%s %s.%s", typ, id, prop)
					}
				}
			}
			// AND the cluster parameter group of the new family is a new
			// group, which the cluster points at in the same update
			_, pg := onlyResource(t, after, "AWS::RDS::DBClusterParameterGroup")
			assert.Equal(t, tt.family, props(pg)["Family"])
			_, oldPg := onlyResource(t, before, "AWS::RDS::DBClusterParameterGroup")
			assert.Equal(t, tt.fromFamily, props(oldPg)["Family"])
			// AND the guard lets it through, after a snapshot: the watched
			// values change, and nothing needs consent
			oldEntry := guardProps(t, before).Resources[clusterID]
			newEntry := guardProps(t, after).Resources[clusterID]
			assert.Equal(t, guard.Allow, guard.Decide(oldEntry, newEntry).Verdict)
			assert.NotEqual(t, oldEntry.BeforeChange.Watch, newEntry.BeforeChange.Watch)
			// AND the template is valid
			for _, c := range templateChanges(before, after) {
				assert.NotContains(t, c, "DBSubnetGroup", c)
			}
		})
	}
}
