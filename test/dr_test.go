package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
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

// drRestore is the context of a restore in the recovery region.
var drRestore = map[string]string{
	"RedmineRecovery/Database.snapshotArn":      copiedSnapshot,
	"RedmineRecovery/Files.efsRecoveryPointArn": copiedRecoveryPoint,
}

// drSynth is the DR example's templates, synthesized once per context.
type drSynth struct {
	app                      *dr.App
	vault, primary, recovery map[string]interface{}
	// backup is the backup account's vault, with BackupAccount.
	backup map[string]interface{}
	outdir string
}

var drSynths = map[string]drSynth{}

// drTemplates builds the DR example with cdk.json's feature flags and the
// given context, in a fixed account, and synthesizes it once per context.
func drTemplates(t *testing.T, context map[string]string) drSynth {
	t.Helper()
	key := fmt.Sprint(context)
	if s, ok := drSynths[key]; ok {
		return s
	}
	outdir, err := os.MkdirTemp(scratch, "dr-")
	require.NoError(t, err)
	// The context key strategy picks the strategy, as the example's command does.
	a, err := dr.New(cdkJSONApp(t, context, outdir), &dr.Props{Account: jsii.String(drAccount), Strategy: dr.Strategy(context["strategy"]),
		ReplicaFileSystemId: context["replicaFileSystemId"]})
	require.NoError(t, err)
	s := drSynth{app: a, vault: templateJSON(t, a.Vault), primary: templateJSON(t, a.Primary.Stack), recovery: templateJSON(t, a.Recovery.Stack), outdir: outdir}
	drSynths[key] = s
	return s
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

func TestTheDRExample(t *testing.T) {
	// GIVEN the DR example, synthesized
	s := drTemplates(t, nil)
	a := s.app
	t.Run("three stacks in two regions, the primary after the vault", func(t *testing.T) {
		assert.Equal(t, "ap-northeast-3", *a.Vault.Region())
		assert.Equal(t, "ap-northeast-1", *a.Primary.Stack.Region())
		assert.Equal(t, "ap-northeast-3", *a.Recovery.Stack.Region())
		assert.Contains(t, manifestDependencies(t, s.outdir, "RedminePrimary"), "RedmineDrVault")
		expectValid(t, s.outdir)
	})
	t.Run("the recovery vault is named, kept, guarded, locked in governance mode, and only break-glass can loosen it", func(t *testing.T) {
		vaultID, v := onlyResource(t, s.vault, "AWS::Backup::BackupVault")
		assert.Equal(t, dr.VaultName, props(v)["BackupVaultName"])
		assert.Equal(t, "Retain", v["DeletionPolicy"])
		assert.Equal(t, "Retain", v["UpdateReplacePolicy"])
		// Governance mode: a minimum retention and no ChangeableFor.
		assert.Equal(t, map[string]interface{}{"MinRetentionDays": float64(7)}, props(v)["LockConfiguration"])
		policy := props(v)["AccessPolicy"].(map[string]interface{})["Statement"].([]interface{})
		assert.Contains(t, fmtJSON(policy), "backup:DeleteRecoveryPoint")
		assert.Contains(t, fmtJSON(policy), "backup:DeleteBackupVaultLockConfiguration")
		assert.Contains(t, guardProps(t, s.vault).Resources, vaultID)
	})
	t.Run("every rule of the primary's plan copies to that vault, by an ARN computed without a cross-region reference", func(t *testing.T) {
		_, plan := onlyResource(t, s.primary, "AWS::Backup::BackupPlan")
		want := "arn:aws:backup:ap-northeast-3:123456789012:backup-vault:redmine-dr"
		for _, r := range props(plan)["BackupPlan"].(map[string]interface{})["BackupPlanRule"].([]interface{}) {
			copies := r.(map[string]interface{})["CopyActions"].([]interface{})
			require.Len(t, copies, 2, "to the recovery vault, and to the stack's air-gapped vault")
			assert.Equal(t, want, copies[0].(map[string]interface{})["DestinationBackupVaultArn"])
			airGapID, _ := onlyResource(t, s.primary, "AWS::Backup::LogicallyAirGappedBackupVault")
			assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{airGapID, "BackupVaultArn"}}, copies[1].(map[string]interface{})["DestinationBackupVaultArn"])
		}
		assert.NotContains(t, fmtJSON(s.primary), "Fn::ImportValue")
	})
	t.Run("copies have permissions in the recovery region", func(t *testing.T) {
		roleID, _ := byPath(t, s.primary, "RedminePrimary/RestorableProtection/BackupRole")
		st := statementsOf(t, s.primary, roleID)
		copies := statementBySid(t, st, "CopyAuroraSnapshots")
		assert.Equal(t, "arn:aws:rds:ap-northeast-3:123456789012:cluster-snapshot:*", copies["Resource"])
		assert.Contains(t, copies["Action"], "rds:CopyDBClusterSnapshot")
		keys := statementBySid(t, st, "CopyKeys")
		assert.Equal(t, "arn:aws:kms:ap-northeast-3:123456789012:key/*", keys["Resource"])
		assert.Equal(t, map[string]interface{}{"Bool": map[string]interface{}{"kms:GrantIsForAWSResource": "true"}}, keys["Condition"])
		assert.Contains(t, fmtJSON(statementBySid(t, st, "Vaults")["Resource"]), "backup-vault:redmine-dr")
	})
	t.Run("the recovery stack is the same app, with the same logical IDs, not copying to another region, and warns that it is empty", func(t *testing.T) {
		for _, typ := range []string{"AWS::RDS::DBCluster", "AWS::EFS::FileSystem", "AWS::ECS::Service", "AWS::Route53::RecordSet"} {
			p, _ := resourcesOfType(t, s.primary, typ)
			r, _ := resourcesOfType(t, s.recovery, typ)
			assert.Equal(t, p, r, typ)
		}
		_, recoveryPlan := onlyResource(t, s.recovery, "AWS::Backup::BackupPlan")
		assert.NotContains(t, fmtJSON(recoveryPlan), "backup-vault:redmine-dr", "no copies to another region")
		check(t, func() {
			assertions.Annotations_FromStack(a.Recovery.Stack).HasWarning(jsii.String("/RedmineRecovery"),
				assertions.Match_StringLikeRegexp(jsii.String(`creates an EMPTY Redmine in ap-northeast-3`)))
		})
		ids, _ := resourcesOfType(t, s.recovery, "AWS::Backup::RestoreTestingPlan")
		assert.Empty(t, ids, "no drills in a stack deployed only in a disaster")
	})
	t.Run("drills rehearse a restore of every protected resource, from continuous and snapshot recovery points", func(t *testing.T) {
		vaultID, _ := byPath(t, s.primary, "RedminePrimary/RestorableProtection/Vault")
		_, plan := onlyResource(t, s.primary, "AWS::Backup::RestoreTestingPlan")
		p := props(plan)
		assert.Equal(t, "cron(0 5 2 * ? *)", p["ScheduleExpression"])
		assert.Equal(t, float64(24), p["StartWindowHours"])
		assert.Equal(t, map[string]interface{}{
			"Algorithm":           "LATEST_WITHIN_WINDOW",
			"IncludeVaults":       []interface{}{map[string]interface{}{"Fn::GetAtt": []interface{}{vaultID, "BackupVaultArn"}}},
			"RecoveryPointTypes":  []interface{}{"CONTINUOUS", "SNAPSHOT"},
			"SelectionWindowDays": float64(7),
		}, p["RecoveryPointSelection"])
		clusterID := clusterIDOf(t, s.primary)
		fsID, _ := onlyResource(t, s.primary, "AWS::EFS::FileSystem")
		_, sels := resourcesOfType(t, s.primary, "AWS::Backup::RestoreTestingSelection")
		require.Len(t, sels, 2)
		byType := map[string]map[string]interface{}{}
		for _, sel := range sels {
			sp := props(sel)
			byType[sp["ProtectedResourceType"].(string)] = sp
			assert.Equal(t, float64(24), sp["ValidationWindowHours"])
			assert.Equal(t, p["RestoreTestingPlanName"], sp["RestoreTestingPlanName"])
		}
		assert.Contains(t, fmtJSON(byType["Aurora"]["ProtectedResourceArns"]), `:cluster:",{"Ref":"`+clusterID+`"}`)
		assert.Equal(t, []interface{}{map[string]interface{}{"Fn::GetAtt": []interface{}{fsID, "Arn"}}}, byType["EFS"]["ProtectedResourceArns"])
		// The role AWS Backup restores the copies with can create and restore,
		// never delete; AWS Backup's service-linked role deletes the copies.
		roleID := refOf(byType["EFS"]["IamRoleArn"])
		_, role := resourceByID(t, s.primary, roleID)
		assert.NotContains(t, props(role), "ManagedPolicyArns")
		assert.Contains(t, fmtJSON(props(role)["AssumeRolePolicyDocument"]), `"Service":"backup.amazonaws.com"`)
		for _, st := range statementsOf(t, s.primary, roleID) {
			assert.NotContains(t, fmtJSON(st["Action"]), "Delete", st["Sid"])
		}
		assert.Contains(t, fmtJSON(statementBySid(t, statementsOf(t, s.primary, roleID), "RestoreClusters")["Action"]), "rds:RestoreDBClusterFromSnapshot")
	})
}

func TestARestoreInTheRecoveryRegionUsesTheCopies(t *testing.T) {
	// GIVEN the recovery stack as synthesized before the disaster
	before := drTemplates(t, nil)
	// WHEN it is deployed with the copied ARNs, named for the recovery stack
	after := drTemplates(t, drRestore)
	restored := after.recovery
	// THEN the cluster is created from the copied snapshot
	_, cluster := onlyResource(t, restored, "AWS::RDS::DBCluster")
	assert.Equal(t, copiedSnapshot, props(cluster)["SnapshotIdentifier"])
	// AND the files are restored from the copied recovery point into the
	// recovery stack's own file system
	_, cr := onlyResource(t, restored, restorable.EFSRestoreResourceType)
	assert.Contains(t, fmtJSON(props(cr)), copiedRecoveryPoint)
	// AND only the recovery stack changes
	assert.Empty(t, templateChanges(before.primary, after.primary))
	assert.Empty(t, templateChanges(before.vault, after.vault))
	// AND in the recovery stack, the stable endpoint's records keep their
	// names: CloudFormation points them at the restored cluster
	for _, c := range templateChanges(before.recovery, restored) {
		assert.NotRegexp(t, `^[-+]?DatabaseStable(Reader)?Endpoint`, c)
	}
	expectValid(t, after.outdir)
}

func TestTheBareKeysAreRefusedInTheDRApp(t *testing.T) {
	// GIVEN the DR app, whose two stacks each have a restorable cluster
	// WHEN a restore in the recovery region uses the bare key
	app := cdkJSONApp(t, map[string]string{"snapshotArn": copiedSnapshot}, t.TempDir())
	var err error
	msg := panicMessage(t, func() {
		_, err = dr.New(app, &dr.Props{Account: jsii.String(drAccount)})
		if err != nil {
			panic(err)
		}
	})
	// THEN the app fails before any template is written, and says to name the
	// cluster: the key would reach both stacks' clusters
	assert.Contains(t, msg, "snapshotArn")
	assert.Contains(t, msg, "<stack>/<construct>.snapshotArn")
}

func TestRestoreDrillMisuse(t *testing.T) {
	for name, tt := range map[string]struct {
		props restorable.RestoreTestingProps
		want  string
	}{
		"a validation window over a week": {restorable.RestoreTestingProps{ValidationWindow: awscdk.Duration_Hours(jsii.Number(200))},
			`RestoreTesting.ValidationWindow="8 days 8 hours": is not a whole number of hours from 1 to 168`},
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

func TestRecoveryVaultMisuse(t *testing.T) {
	for name, tt := range map[string]struct {
		f    func(stack awscdk.Stack)
		want string
	}{
		"a vault without a name": {func(stack awscdk.Stack) {
			restorable.NewRecoveryVault(stack, jsii.String("Vault"), &restorable.RecoveryVaultProps{})
		}, "restorable: AppStack/Vault: VaultName: is not set, and the primary stack needs the vault's name to copy to it"},
		"a lock and no lock": {func(stack awscdk.Stack) {
			restorable.NewRecoveryVault(stack, jsii.String("Vault"), &restorable.RecoveryVaultProps{VaultName: "redmine-dr", WithoutVaultLock: true,
				VaultLock: &awsbackup.LockConfiguration{MinRetention: awscdk.Duration_Days(jsii.Number(7))}})
		}, `WithoutVaultLock="true": is set together with VaultLock`},
		"a copy to the stack's own region": {func(stack awscdk.Stack) { restorable.RecoveryVaultArn(stack, "ap-northeast-1", "redmine-dr") },
			`RecoveryVaultArn region="ap-northeast-1": is the stack's own region`},
		"a misspelled region": {func(stack awscdk.Stack) { restorable.RecoveryVaultArn(stack, "osaka", "redmine-dr") },
			`RecoveryVaultArn region="osaka": is not an AWS region name`},
		"a name AWS Backup refuses": {func(stack awscdk.Stack) { restorable.RecoveryVaultArn(stack, "ap-northeast-3", "redmine dr") },
			`RecoveryVaultArn name="redmine dr": is not a valid AWS Backup vault name`},
		"configuring the stack's protection after it exists": {func(stack awscdk.Stack) {
			restorable.StackProtection(stack)
			restorable.ConfigureStackProtection(stack, &restorable.ProtectionProps{})
		}, "ConfigureStackProtection: is called after the stack's protection was created"},
	} {
		t.Run(name, func(t *testing.T) {
			stack := newStack(t, nil)
			assert.Contains(t, panicMessage(t, func() { tt.f(stack) }), tt.want)
		})
	}
}

func TestStableEndpointNamesTheClusterInTheZone(t *testing.T) {
	// GIVEN a cluster with a stable endpoint in a private zone
	build := func(ctx map[string]string) (awscdk.Stack, *restorable.AuroraCluster) {
		return newCluster(t, ctx, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
			zone := awsroute53.NewPrivateHostedZone(stack, jsii.String("Zone"), &awsroute53.PrivateHostedZoneProps{
				ZoneName: jsii.String("app.internal"), Vpc: p.Vpc.(awsec2.IVpc),
			})
			p.StableEndpoint = &restorable.StableEndpointProps{Zone: zone}
		})
	}
	stack, db := build(nil)
	tmpl := templateJSON(t, stack)
	clusterID := clusterIDOf(t, tmpl)
	zoneID, _ := onlyResource(t, tmpl, "AWS::Route53::HostedZone")
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
	assert.Contains(t, ids, refOf(stack.Resolve(db.StableHostname())))
	assert.Contains(t, fmtJSON(tmpl["Outputs"]), `"Ref":"DatabaseStableEndpoint`)
	// AND a restore changes neither record in the template: CloudFormation
	// updates their values in place when the cluster is replaced
	restored, _ := build(map[string]string{"snapshotArn": snapshotARN})
	for _, c := range templateChanges(tmpl, templateJSON(t, restored)) {
		for _, id := range ids {
			assert.False(t, strings.HasPrefix(strings.TrimLeft(c, "+-"), id), c)
		}
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
	assert.Regexp(t, regexp.MustCompile(`"Ref":"DatabaseStableEndpoint`), fmtJSON(host))
}
