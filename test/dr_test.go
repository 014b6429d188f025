package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/examples/dr"
	"github.com/restorable-cdk/restorable/restorable"
)

const (
	drAccount = "123456789012"
	// Copies in the recovery region's vault.
	copiedSnapshot      = "arn:aws:rds:ap-northeast-3:123456789012:cluster-snapshot:awsbackup:copyjob-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
	copiedRecoveryPoint = "arn:aws:backup:ap-northeast-3:123456789012:recovery-point:5C7E9A1B-3D5F-4A7C-9E1B-3D5F7A9C1E3B"
)

// drApp builds the DR example with cdk.json's feature flags and the given
// context, in a fixed account.
func drApp(t *testing.T, context map[string]string) (*dr.App, string) {
	t.Helper()
	app, outdir := cdkJSONApp(t, context)
	a, err := dr.New(app, &dr.Props{Account: jsii.String(drAccount)})
	require.NoError(t, err)
	return a, outdir
}

func TestDRExampleSynthesizesThreeStacksInTwoRegions(t *testing.T) {
	// GIVEN the DR example
	a, outdir := drApp(t, nil)
	// WHEN it is synthesized
	vault := templateJSON(t, a.Vault)
	primary := templateJSON(t, a.Primary.Stack)
	recovery := templateJSON(t, a.Recovery.Stack)
	// THEN the vault stack and the recovery stack are in Osaka, the primary in
	// Tokyo
	assert.Equal(t, "ap-northeast-3", *a.Vault.Region())
	assert.Equal(t, "ap-northeast-1", *a.Primary.Stack.Region())
	assert.Equal(t, "ap-northeast-3", *a.Recovery.Stack.Region())
	// AND the recovery vault has the fixed name the primary copies to, its own
	// key, and is kept and guarded
	vaultID, v := onlyResource(t, vault, "AWS::Backup::BackupVault")
	assert.Equal(t, dr.VaultName, props(v)["BackupVaultName"])
	assert.Equal(t, "Retain", v["DeletionPolicy"])
	assert.Equal(t, "Retain", v["UpdateReplacePolicy"])
	assert.Contains(t, fmtJSON(props(v)["AccessPolicy"]), "backup:DeleteRecoveryPoint")
	guardFor(t, vault, vaultID)
	// AND every rule of the primary's plan copies to that vault, by an ARN
	// computed without a reference across regions
	_, plan := onlyResource(t, primary, "AWS::Backup::BackupPlan")
	want := "arn:aws:backup:ap-northeast-3:123456789012:backup-vault:redmine-dr"
	for _, r := range props(plan)["BackupPlan"].(map[string]interface{})["BackupPlanRule"].([]interface{}) {
		copies := r.(map[string]interface{})["CopyActions"].([]interface{})
		require.Len(t, copies, 1)
		assert.Equal(t, want, copies[0].(map[string]interface{})["DestinationBackupVaultArn"])
	}
	assert.NotContains(t, fmtJSON(primary), "Fn::ImportValue")
	// AND the primary stack deploys after the vault stack
	assert.Contains(t, manifestDependencies(t, outdir, "RedminePrimary"), "RedmineDrVault")
	// AND the recovery stack is the same app, not copying anywhere, and says
	// that deploying it without a source creates an empty app
	for _, typ := range []string{"AWS::RDS::DBCluster", "AWS::EFS::FileSystem", "AWS::ECS::Service", "AWS::Route53::RecordSet"} {
		p, _ := resourcesOfType(t, primary, typ)
		r, _ := resourcesOfType(t, recovery, typ)
		assert.Equal(t, p, r, "%s: the same resources, with the same logical IDs, in both regions", typ)
	}
	_, recoveryPlan := onlyResource(t, recovery, "AWS::Backup::BackupPlan")
	assert.NotContains(t, fmtJSON(recoveryPlan), "CopyActions")
	assertions.Annotations_FromStack(a.Recovery.Stack).HasWarning(jsii.String("/RedmineRecovery"),
		assertions.Match_StringLikeRegexp(jsii.String(`creates an EMPTY Redmine in ap-northeast-3`)))
	assert.Empty(t, validationViolations(t, outdir, "CloudFormation Validate"))
}

// manifestDependencies returns the artifacts a stack depends on in the cloud
// assembly's manifest, which orders `cdk deploy`.
func manifestDependencies(t *testing.T, outdir, stack string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(outdir, "manifest.json"))
	require.NoError(t, err)
	var m struct {
		Artifacts map[string]struct {
			Dependencies []string `json:"dependencies"`
		} `json:"artifacts"`
	}
	require.NoError(t, json.Unmarshal(raw, &m))
	return m.Artifacts[stack].Dependencies
}

func TestCopiesNeedPermissionsInTheRecoveryRegion(t *testing.T) {
	a, _ := drApp(t, nil)
	tmpl := templateJSON(t, a.Primary.Stack)
	// AWS Backup copies an Aurora snapshot in the destination region, and has
	// it encrypted with that vault's key.
	var roleID string
	ids, roles := resourcesOfType(t, tmpl, "AWS::IAM::Role")
	for i, r := range roles {
		if strings.HasPrefix(ids[i], "RestorableProtectionBackupRole") {
			roleID = ids[i]
			assert.Contains(t, fmtJSON(props(r)["AssumeRolePolicyDocument"]), "backup.amazonaws.com")
		}
	}
	require.NotEmpty(t, roleID)
	st := statementsOf(t, tmpl, roleID)
	copies := statementBySid(t, st, "CopyAuroraSnapshots")
	assert.Equal(t, "arn:aws:rds:ap-northeast-3:123456789012:cluster-snapshot:*", copies["Resource"])
	assert.Contains(t, copies["Action"], "rds:CopyDBClusterSnapshot")
	keys := statementBySid(t, st, "CopyKeys")
	assert.Equal(t, "arn:aws:kms:ap-northeast-3:123456789012:key/*", keys["Resource"])
	assert.Equal(t, map[string]interface{}{"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": "true"}}, keys["Condition"])
	assert.Contains(t, fmtJSON(statementBySid(t, st, "Vaults")["Resource"]), "backup-vault:redmine-dr")
}

func TestRestoreDrillsRehearseEveryProtectedResource(t *testing.T) {
	// GIVEN the primary stack, whose protection has restore testing
	a, _ := drApp(t, nil)
	tmpl := templateJSON(t, a.Primary.Stack)
	// THEN a restore testing plan picks the latest snapshot of the last week in
	// the stack's vault, monthly
	vaultID := resourceIDOf(t, tmpl, "AWS::Backup::BackupVault")
	_, plan := onlyResource(t, tmpl, "AWS::Backup::RestoreTestingPlan")
	p := props(plan)
	assert.Equal(t, "cron(0 4 15 * ? *)", p["ScheduleExpression"])
	assert.Equal(t, float64(24), p["StartWindowHours"])
	assert.Equal(t, map[string]interface{}{
		"Algorithm":           "LATEST_WITHIN_WINDOW",
		"IncludeVaults":       []interface{}{map[string]interface{}{"Fn::GetAtt": []interface{}{vaultID, "BackupVaultArn"}}},
		"RecoveryPointTypes":  []interface{}{"SNAPSHOT"},
		"SelectionWindowDays": float64(7),
	}, p["RecoveryPointSelection"])
	assert.Regexp(t, `^[A-Za-z0-9_]+$`, p["RestoreTestingPlanName"])
	// AND one selection per resource type names the cluster and the file
	// system by reference, keeping each copy 24 hours for checks
	clusterID := clusterIDOf(t, tmpl)
	fsID := resourceIDOf(t, tmpl, "AWS::EFS::FileSystem")
	_, sels := resourcesOfType(t, tmpl, "AWS::Backup::RestoreTestingSelection")
	require.Len(t, sels, 2)
	byType := map[string]map[string]interface{}{}
	for _, s := range sels {
		sp := props(s)
		byType[sp["ProtectedResourceType"].(string)] = sp
		assert.Equal(t, float64(24), sp["ValidationWindowHours"])
		assert.Equal(t, p["RestoreTestingPlanName"], sp["RestoreTestingPlanName"])
		assert.Regexp(t, `^[A-Za-z0-9_]+$`, sp["RestoreTestingSelectionName"])
	}
	assert.Contains(t, fmtJSON(byType["Aurora"]["ProtectedResourceArns"]), `:cluster:",{"Ref":"`+clusterID+`"}`)
	assert.Equal(t, []interface{}{map[string]interface{}{"Fn::GetAtt": []interface{}{fsID, "Arn"}}}, byType["EFS"]["ProtectedResourceArns"])
	// AND the role AWS Backup restores the copies with can create and restore,
	// never delete (AWS Backup's service-linked role deletes the copies)
	roleID := byType["EFS"]["IamRoleArn"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	_, role := resourceByID(t, tmpl, roleID)
	assert.NotContains(t, props(role), "ManagedPolicyArns")
	assert.Contains(t, fmtJSON(props(role)["AssumeRolePolicyDocument"]), `"aws:SourceAccount":"123456789012"`)
	for _, s := range statementsOf(t, tmpl, roleID) {
		assert.NotContains(t, fmtJSON(s["Action"]), "Delete", s["Sid"])
	}
	assert.Contains(t, fmtJSON(statementBySid(t, statementsOf(t, tmpl, roleID), "RestoreClusters")["Action"]), "rds:RestoreDBClusterFromSnapshot")
	// AND the recovery stack, deployed only in a disaster, has no drills
	ids, _ := resourcesOfType(t, templateJSON(t, a.Recovery.Stack), "AWS::Backup::RestoreTestingPlan")
	assert.Empty(t, ids)
}

func TestRestoreDrillMisuse(t *testing.T) {
	for name, tt := range map[string]struct {
		props restorable.RestoreTestingProps
		want  string
	}{
		"a validation window over a week": {restorable.RestoreTestingProps{ValidationWindow: awscdk.Duration_Hours(jsii.Number(200))},
			`RestoreTesting.ValidationWindow="8 days 8 hours": is not a whole number of hours from 0 to 168`},
		"a start window of minutes": {restorable.RestoreTestingProps{StartWindow: awscdk.Duration_Minutes(jsii.Number(90))},
			`RestoreTesting.StartWindow="1 hour 30 minutes": is not a whole number of hours from 1 to 168`},
		"a selection window of hours": {restorable.RestoreTestingProps{SelectionWindow: awscdk.Duration_Hours(jsii.Number(36))},
			`RestoreTesting.SelectionWindow="1 day 12 hours": is not a whole number of days from 1 to 365`},
	} {
		t.Run(name, func(t *testing.T) {
			stack := newStack(t, nil)
			msg := panicMessage(t, func() {
				restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{RestoreTesting: &tt.props})
			})
			assert.Contains(t, msg, tt.want)
		})
	}
}

func TestARestoreInTheRecoveryRegionUsesTheCopies(t *testing.T) {
	// GIVEN the recovery stack as synthesized before the disaster
	before, _ := drApp(t, nil)
	empty := templateJSON(t, before.Recovery.Stack)
	// WHEN it is deployed with the copied ARNs, named for the recovery stack
	after, outdir := drApp(t, map[string]string{
		"RedmineRecovery/Database.snapshotArn":      copiedSnapshot,
		"RedmineRecovery/Files.efsRecoveryPointArn": copiedRecoveryPoint,
	})
	restored := templateJSON(t, after.Recovery.Stack)
	// THEN the cluster is created from the copied snapshot, which is in the
	// recovery region's vault
	_, cluster := onlyResource(t, restored, "AWS::RDS::DBCluster")
	assert.Equal(t, copiedSnapshot, props(cluster)["SnapshotIdentifier"])
	// AND the files are restored from the copied recovery point into the
	// recovery stack's own file system; the copy is of another file system, so
	// the restore carries what the DataSync copy needs
	_, cr := onlyResource(t, restored, restorable.EFSRestoreResourceType)
	assert.Equal(t, copiedRecoveryPoint, props(cr)["RecoveryPointArn"])
	for _, k := range []string{"TransferSubnetId", "TransferSubnetArn", "TransferSecurityGroupId", "TransferSecurityGroupArn", "TransferRoleArn"} {
		assert.NotEmpty(t, props(cr)[k], k)
	}
	// AND only the recovery stack changes: the primary's template is the same
	assert.Empty(t, templateChanges(templateJSON(t, before.Primary.Stack), templateJSON(t, after.Primary.Stack)))
	// AND in the recovery stack the cluster and its guard take the source, the
	// restore is added with its permissions, and nothing else changes: the
	// stable endpoint's record keeps its name, and CloudFormation points it at
	// the restored cluster
	var other []string
	clusterID := clusterIDOf(t, restored)
	guardID, _ := guardOf(t, restored)
	crID := resourceIDOf(t, restored, restorable.EFSRestoreResourceType)
	for _, c := range templateChanges(empty, restored) {
		id := strings.SplitN(strings.TrimLeft(c, "+-"), ".", 2)[0]
		switch {
		case id == clusterID, id == guardID, id == crID, restorePolicy.MatchString(c):
		default:
			other = append(other, c)
		}
	}
	assert.Empty(t, other)
	assert.Empty(t, validationViolations(t, outdir, "CloudFormation Validate"))
}

// restorePolicy matches a change to the statements of the restore's roles.
var restorePolicy = regexp.MustCompile(`^(RestorableEfsRestoreRole|FilesRestoreRestoreRole)DefaultPolicy[0-9A-F]{8}\.Properties\.PolicyDocument\.Statement$`)

func TestTheBareKeysAreRefusedInTheDRApp(t *testing.T) {
	// GIVEN the DR app, whose two stacks each have a restorable cluster
	// WHEN a restore in the recovery region uses the bare key
	app, _ := cdkJSONApp(t, map[string]string{"snapshotArn": copiedSnapshot})
	_, err := dr.New(app, &dr.Props{Account: jsii.String(drAccount)})
	// THEN the app fails before any template is written: the key reaches the
	// primary's cluster too, where the copy is in the wrong region, and the
	// message says to name the cluster
	require.Error(t, err)
	assert.Contains(t, err.Error(), `restorable: snapshotArn="`+copiedSnapshot+`": is in region ap-northeast-3, but the stack deploys to ap-northeast-1`)
	assert.Contains(t, err.Error(), "snapshotArn came from a bare context key, which applies to the app's only restorable cluster, here RedminePrimary/Database; to restore one cluster of several, name it: -c <stack>/<construct>.snapshotArn=...")
}

func TestRecoveryVaultMisuse(t *testing.T) {
	t.Run("a vault without a name", func(t *testing.T) {
		stack := newStack(t, nil)
		msg := panicMessage(t, func() { restorable.NewRecoveryVault(stack, jsii.String("Vault"), &restorable.RecoveryVaultProps{}) })
		assert.Contains(t, msg, "restorable: AppStack/Vault: VaultName: is not set, and the primary stack needs the vault's name to copy to it")
	})
	t.Run("a copy to the stack's own region", func(t *testing.T) {
		stack := newStack(t, nil)
		msg := panicMessage(t, func() { restorable.RecoveryVaultArn(stack, "ap-northeast-1", "redmine-dr") })
		assert.Contains(t, msg, `RecoveryVaultArn region="ap-northeast-1": is the stack's own region`)
	})
	t.Run("a misspelled region", func(t *testing.T) {
		stack := newStack(t, nil)
		msg := panicMessage(t, func() { restorable.RecoveryVaultArn(stack, "osaka", "redmine-dr") })
		assert.Contains(t, msg, `RecoveryVaultArn region="osaka": is not an AWS region name`)
	})
	t.Run("a name AWS Backup refuses", func(t *testing.T) {
		stack := newStack(t, nil)
		msg := panicMessage(t, func() { restorable.RecoveryVaultArn(stack, "ap-northeast-3", "redmine dr") })
		assert.Contains(t, msg, `RecoveryVaultArn name="redmine dr": is not a valid AWS Backup vault name`)
	})
	t.Run("configuring the stack's protection after it exists", func(t *testing.T) {
		stack := newStack(t, nil)
		restorable.StackProtection(stack)
		msg := panicMessage(t, func() { restorable.ConfigureStackProtection(stack, &restorable.ProtectionProps{}) })
		assert.Contains(t, msg, "ConfigureStackProtection: is called after the stack's protection was created")
	})
}

func TestStableEndpointNamesTheClusterInTheZone(t *testing.T) {
	// GIVEN a cluster with a stable endpoint in a private zone
	build := func(ctx map[string]string) (awscdk.Stack, *restorable.AuroraCluster) {
		stack := newStack(t, ctx)
		p := clusterProps(stack)
		zone := awsroute53.NewPrivateHostedZone(stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{
			ZoneName: jsii.String("app.internal"), Vpc: p.Vpc.(awsec2.IVpc),
		})
		src, err := restorable.AuroraSourceFromContext(stack, "Database")
		require.NoError(t, err)
		db := restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{
			DatabaseClusterProps: p, Source: src, StableEndpoint: &restorable.StableEndpointProps{Zone: zone},
		})
		return stack, db
	}
	stack, db := build(nil)
	tmpl := templateJSON(t, stack)
	clusterID := clusterIDOf(t, tmpl)
	zoneID := resourceIDOf(t, tmpl, "AWS::Route53::HostedZone")
	// THEN CNAME records name the writer and the readers, for a minute
	ids, records := resourcesOfType(t, tmpl, "AWS::Route53::RecordSet")
	require.Len(t, records, 2)
	got := map[string]interface{}{}
	for _, r := range records {
		rp := props(r)
		assert.Equal(t, "CNAME", rp["Type"])
		assert.Equal(t, "60", rp["TTL"])
		assert.Equal(t, map[string]interface{}{"Ref": zoneID}, rp["HostedZoneId"])
		got[rp["Name"].(string)] = rp["ResourceRecords"]
	}
	assert.Equal(t, map[string]interface{}{
		"database.app.internal.":    []interface{}{map[string]interface{}{"Fn::GetAtt": []interface{}{clusterID, "Endpoint.Address"}}},
		"database-ro.app.internal.": []interface{}{map[string]interface{}{"Fn::GetAtt": []interface{}{clusterID, "ReadEndpoint.Address"}}},
	}, got)
	// AND StableHostname is the record's name, which no restore changes
	assert.Contains(t, ids, stack.Resolve(db.StableHostname()).(map[string]interface{})["Ref"])
	assert.Contains(t, fmtJSON(tmpl["Outputs"].(map[string]interface{})["DatabaseStableHostname"]), `"Ref":"DatabaseStableEndpoint`)
	// AND a restore changes neither record in the template: CloudFormation
	// updates their values in place when the cluster is replaced
	restored, _ := build(map[string]string{"snapshotArn": snapshotARN})
	for _, c := range templateChanges(tmpl, templateJSON(t, restored)) {
		assert.NotContains(t, c, "StableEndpoint", c)
		assert.NotContains(t, c, "StableReaderEndpoint", c)
	}
}

func TestStableEndpointMisuse(t *testing.T) {
	stack := newStack(t, nil)
	p := clusterProps(stack)
	msg := panicMessage(t, func() {
		restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: p, StableEndpoint: &restorable.StableEndpointProps{}})
	})
	assert.Contains(t, msg, "restorable: AppStack/Database: StableEndpoint.Zone: is not set")
	stack = newStack(t, nil)
	p = clusterProps(stack)
	zone := awsroute53.NewPrivateHostedZone(stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{ZoneName: jsii.String("app.internal"), Vpc: p.Vpc.(awsec2.IVpc)})
	msg = panicMessage(t, func() {
		restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: p,
			StableEndpoint: &restorable.StableEndpointProps{Zone: zone, RecordName: "db_writer"}})
	})
	assert.Contains(t, msg, `StableEndpoint.RecordName="db_writer": is not a DNS name inside the zone`)
}

func TestExampleServiceUsesTheStableHostname(t *testing.T) {
	ex, tmpl, _ := example(t, nil)
	_, taskDef := onlyResource(t, tmpl, "AWS::ECS::TaskDefinition")
	container := props(taskDef)["ContainerDefinitions"].([]interface{})[0].(map[string]interface{})
	var host interface{}
	for _, e := range container["Environment"].([]interface{}) {
		if e.(map[string]interface{})["Name"] == "REDMINE_DB_POSTGRES" {
			host = e.(map[string]interface{})["Value"]
		}
	}
	assert.Equal(t, ex.Stack.Resolve(ex.Database.StableHostname()), host)
	assert.Contains(t, fmtJSON(host), `"Ref":"DatabaseStableEndpoint`)
}
