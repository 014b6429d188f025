package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/guard"
	"github.com/restorable-cdk/restorable/restorable"
)

// guardIDOf returns the logical ID of the stack's one guard.
func guardIDOf(t *testing.T, tmpl map[string]interface{}) string {
	t.Helper()
	id, _ := onlyResource(t, tmpl, restorable.GuardResourceType)
	return id
}

// guardProps parses the synthesized guard properties as the handler does; the
// template's intrinsics stand for the values CloudFormation resolves, and equal
// intrinsics resolve to equal values.
func guardProps(t *testing.T, tmpl map[string]interface{}) guard.Props {
	t.Helper()
	_, g := onlyResource(t, tmpl, restorable.GuardResourceType)
	p, err := guard.ParseProps(props(g))
	require.NoError(t, err)
	return p
}

func TestTheStacksGuard(t *testing.T) {
	// GIVEN a stack with a restorable cluster, a restorable file system (which
	// joins the stack's protection, and so its vault), a plain cluster, and a
	// file system written as a bare awscdk.CfnResource
	stack, _ := newCluster(t, nil, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
		restorable.NewFileSystem(stack, jsii.String("Files"), &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: p.Vpc}})
		awsrds.NewDatabaseCluster(stack, jsii.String("Legacy"), &awsrds.DatabaseClusterProps{Engine: p.Engine, Vpc: p.Vpc,
			Writer: awsrds.ClusterInstance_ServerlessV2(jsii.String("writer"), nil)})
		awscdk.NewCfnResource(stack, jsii.String("RawFiles"), &awscdk.CfnResourceProps{Type: jsii.String(contract.TypeFileSystem)})
		awsefs.NewFileSystem(stack, jsii.String("LegacyFiles"), &awsefs.FileSystemProps{Vpc: p.Vpc})
	})
	tmpl := templateJSON(t, stack)
	guardID, g := onlyResource(t, tmpl, restorable.GuardResourceType)
	clusterID, cluster := byPath(t, tmpl, "AppStack/Database/Default")
	filesID, files := byPath(t, tmpl, "AppStack/Files/Default")
	vaultID, vault := byPath(t, tmpl, "AppStack/RestorableProtection/Vault")
	airGapID, _ := byPath(t, tmpl, "AppStack/RestorableProtection/AirGap/Vault")
	legacyID, legacy := byPath(t, tmpl, "AppStack/Legacy")
	rawID, _ := byPath(t, tmpl, "AppStack/RawFiles")
	legacyFilesID, _ := byPath(t, tmpl, "AppStack/LegacyFiles")
	p := guardProps(t, tmpl)

	t.Run("one entry per guarded resource, by logical ID", func(t *testing.T) {
		require.Len(t, p.Resources, 6, "the cluster, the file system, the vault, the air-gapped vault, the plain cluster, the plain file system")
		assert.Equal(t, "AppStack/Database", p.Resources[clusterID].Path)
		assert.Equal(t, contract.TypeDBCluster, p.Resources[clusterID].Type)
		assert.Equal(t, "AppStack/Files", p.Resources[filesID].Path)
		assert.Equal(t, "AppStack/RestorableProtection", p.Resources[vaultID].Path)
		keyID, _ := byPath(t, tmpl, "AppStack/Database/Key")
		subnets, _ := byPath(t, tmpl, "AppStack/Database/Default/Subnets/Default")
		assert.Equal(t, map[string]interface{}{
			"DBSubnetGroupName": map[string]interface{}{"Ref": subnets},
			"Engine":            "aurora-postgresql",
			"KmsKeyId":          map[string]interface{}{"Fn::GetAtt": []interface{}{keyID, "Arn"}},
			"MasterUsername":    props(cluster)["MasterUsername"],
			"StorageEncrypted":  true,
		}, p.Resources[clusterID].CreateOnly)
		assert.Empty(t, p.Resources[clusterID].Source)
		assert.Equal(t, true, p.Resources[filesID].CreateOnly["Encrypted"])
		assert.Equal(t, "AppStack", p.Stack)
		assert.Empty(t, p.Consent)
	})
	t.Run("the template's every resource of a guarded type, restorable's or not, an L1 class or a bare CfnResource", func(t *testing.T) {
		assert.Equal(t, map[string]bool{clusterID: true, filesID: true, vaultID: true, airGapID: true, legacyID: true, rawID: true, legacyFilesID: true}, p.Present)
	})
	t.Run("the plain cluster is guarded too, as plain", func(t *testing.T) {
		l := p.Resources[legacyID]
		assert.True(t, l.Plain)
		assert.False(t, p.Resources[clusterID].Plain)
		assert.Equal(t, "AppStack/Legacy", l.Path)
		assert.Equal(t, "aurora-postgresql", l.CreateOnly["Engine"])
		assert.Equal(t, props(legacy)["MasterUsername"], l.CreateOnly["MasterUsername"])
		assert.Empty(t, l.Source)
	})
	t.Run("updated before every guarded resource", func(t *testing.T) {
		for _, r := range []map[string]interface{}{cluster, files, vault, legacy} {
			assert.Contains(t, r["DependsOn"], guardID)
		}
		assert.False(t, dependsOn(tmpl, guardID)[clusterID], "the guard must not depend on the cluster")
	})
	t.Run("one Go function that answers CloudFormation itself, within Lambda's 15 minutes and a minute of margin", func(t *testing.T) {
		fnID, fn := functionWithHandler(t, tmpl, contract.HandlerGuard)
		assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{fnID, "Arn"}}, props(g)["ServiceToken"])
		assert.Equal(t, "960", fmtJSONString(props(g)["ServiceTimeout"]))
		assert.Equal(t, float64(900), props(fn)["Timeout"])
		assert.Equal(t, "provided.al2023", props(fn)["Runtime"])
		assert.Equal(t, []interface{}{"arm64"}, props(fn)["Architectures"])
		assert.Empty(t, underPath(tmpl, "AppStack/RestorableGuard", "AWS::Lambda::Function")[1:], "no provider framework")
		assert.Equal(t, "Delete", g["DeletionPolicy"], "removing the guard never blocks a deploy")
	})
	t.Run("its role reads its own stack and describes, and deletes only its own snapshots", func(t *testing.T) {
		_, fn := functionWithHandler(t, tmpl, contract.HandlerGuard)
		statements := statementsOf(t, tmpl, roleOf(fn))
		own := statementBySid(t, statements, "ReadOwnStack")
		assert.Equal(t, []interface{}{"cloudformation:DescribeStacks", "cloudformation:ListStackResources", "cloudformation:DescribeStackResource"}, own["Action"])
		assert.Equal(t, map[string]interface{}{"Ref": "AWS::StackId"}, own["Resource"])
		assert.Equal(t, "rds:DescribeDBClusters", statementBySid(t, statements, "CompareLiveClusters")["Action"])
		assert.Contains(t, fmtJSON(statementBySid(t, statements, "CompareLiveClusters")["Resource"]), ":cluster:*")
		for _, st := range statements {
			if st["Sid"] == "PruneSnapshotsBeforeAChange" {
				assert.Equal(t, "rds:DeleteDBClusterSnapshot", st["Action"])
				assert.Contains(t, fmtJSON(st["Condition"]), `"aws:ResourceTag/restorable:before-change"`)
				continue
			}
			assert.NotContains(t, fmtJSON(st["Action"]), "Delete")
			assert.NotContains(t, fmtJSON(st["Action"]), "Modify")
		}
	})
}

func fmtJSONString(v interface{}) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmtJSON(v)
}

func TestGuardPropertiesChangeExactlyOnDangerousTransitions(t *testing.T) {
	snapshot := map[string]string{"snapshotArn": snapshotARN}
	variant := func(ctx map[string]string, tweak func(stack awscdk.Stack, p *restorable.AuroraClusterProps)) map[string]interface{} {
		var tweaks []func(awscdk.Stack, *restorable.AuroraClusterProps)
		if tweak != nil {
			tweaks = append(tweaks, tweak)
		}
		return templateJSON(t, first(newCluster(t, ctx, tweaks...)))
	}
	base := variant(nil, nil)
	restored := variant(snapshot, nil)
	id := clusterIDOf(t, base)
	tests := []struct {
		name          string
		before, after map[string]interface{}
		want          guard.Verdict
	}{
		{"a plain redeploy", base, variant(nil, nil), guard.Allow},
		{"an update that replaces nothing (backup retention)", base, variant(nil, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) {
			p.Backup = &awsrds.BackupProps{Retention: awscdk.Duration_Days(jsii.Number(14))}
		}), guard.Allow},
		{"new to snapshot: a restore", base, restored, guard.Allow},
		{"the same snapshot again", restored, variant(snapshot, nil), guard.Allow},
		{"snapshot to none: the source dropped", restored, base, guard.NeedsConsent},
		{"a new KMS key: a create-only property", base, variant(nil, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
			p.StorageEncryptionKey = awskms.NewKey(stack, jsii.String("OtherKey"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
		}), guard.NeedsConsent},
		{"a database name added: a create-only property", base, variant(nil, func(_ awscdk.Stack, p *restorable.AuroraClusterProps) {
			p.DefaultDatabaseName = jsii.String("app")
		}), guard.NeedsConsent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, after := guardProps(t, tt.before), guardProps(t, tt.after)
			assert.Equal(t, tt.want, guard.Decide(before.Resources[id], after.Resources[id]).Verdict)
			// The guard's properties change exactly when the verdict needs
			// one: a deploy that changes nothing dangerous leaves them as
			// they were, so CloudFormation does not even call it.
			changed := len(changesOf(templateChanges(tt.before, tt.after), guardIDOf(t, tt.after))) > 0
			assert.Equal(t, tt.want == guard.NeedsConsent || tt.name == "new to snapshot: a restore", changed)
		})
	}
}

func TestConsentReachesTheGuard(t *testing.T) {
	// GIVEN consent for the cluster, and for a path in this stack that is no
	// longer a restorable construct (a renamed one)
	stack, _ := newCluster(t, map[string]string{
		"AppStack/Database.allowReplace":    "appstack-databaseb269d8bb-0abc",
		"AppStack/OldDatabase.allowReplace": "appstack-olddatabase-0def",
	})
	tmpl := templateJSON(t, stack)
	// THEN the guard carries the consents of this stack's paths
	assert.Equal(t, map[string]string{
		"AppStack/Database":    "appstack-databaseb269d8bb-0abc",
		"AppStack/OldDatabase": "appstack-olddatabase-0def",
	}, guardProps(t, tmpl).Consent)
	// AND synth says that the consent for an unknown path is taken as consent
	// to delete a renamed or removed resource
	check(t, func() {
		assertions.Annotations_FromStack(stack).HasWarning(jsii.String("/AppStack"),
			assertions.Match_StringLikeRegexp(jsii.String(`.*"AppStack/OldDatabase.allowReplace" names AppStack/OldDatabase, which is not a restorable resource in this app; the guard takes it as consent.*`)))
	})
}

func TestARenamedClusterLeavesTheGuardsLists(t *testing.T) {
	// GIVEN the cluster as deployed, and the same code with the construct renamed
	before := templateJSON(t, first(newCluster(t, nil)))
	renamed := newStack(t, nil)
	restorable.NewAuroraCluster(renamed, jsii.String("MainDatabase"), &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(renamed)})
	after := templateJSON(t, renamed)
	// THEN the new template's guard lists the new logical ID and not the old
	// one, so the guard sees that CloudFormation would delete the deployed
	// cluster (internal/guard refuses it unless consented)
	oldID, newID := clusterIDOf(t, before), clusterIDOf(t, after)
	require.NotEqual(t, oldID, newID)
	p := guardProps(t, after)
	assert.False(t, p.Present[oldID])
	assert.True(t, p.Present[newID])
	assert.Equal(t, guardIDOf(t, before), guardIDOf(t, after), "the guard keeps its logical ID")
}

func TestConsentForAPathInNoStackFails(t *testing.T) {
	stack, _ := newCluster(t, map[string]string{"OtherStack/Database.allowReplace": "otherstack-database-0123"})
	msg := panicMessage(t, func() { templateJSON(t, stack) })
	assert.Contains(t, msg, `context key "OtherStack/Database.allowReplace" names "OtherStack/Database", which is not a restorable Aurora cluster or file system or backup vault`)
}

func TestAnAppThatCustomizesItsRolesSynthesizes(t *testing.T) {
	// GIVEN an app whose organisation pre-creates its IAM roles
	// (awsiam.Role_CustomizeRoles: a role then hands its statements to the
	// pre-created role and has no DefaultPolicy)
	stack := newStack(t, nil)
	awsiam.Role_CustomizeRoles(stack, &awsiam.CustomizeRolesOptions{PreventSynthesis: jsii.Bool(false)})
	restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: clusterProps(stack),
		Protection: restorable.StackProtection(stack)})
	// WHEN it synthesizes
	tmpl := templateJSON(t, stack)
	// THEN the guard and the backup plan are there, and the statements of
	// the guard's and AWS Backup's roles went to the pre-created roles'
	// report, not into a policy of the template
	_, guards := resourcesOfType(t, tmpl, contract.GuardResourceType)
	assert.Len(t, guards, 1)
	_, plans := resourcesOfType(t, tmpl, "AWS::Backup::BackupPlan")
	assert.Len(t, plans, 1)
	_, policies := resourcesOfType(t, tmpl, "AWS::IAM::Policy")
	assert.Empty(t, policies)
}
