package test

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/examples/dr"
	"github.com/restorable-cdk/restorable/internal/guard"
	"github.com/restorable-cdk/restorable/restorable"
)

const backupAccount = "210987654321"

var drBackupAccount *drSynth

// drWithBackupAccount is the DR example with its copies in a backup account,
// compliance-locked, synthesized once.
func drWithBackupAccount(t *testing.T) drSynth {
	t.Helper()
	if drBackupAccount == nil {
		outdir, err := os.MkdirTemp(scratch, "dr-account-")
		require.NoError(t, err)
		a, err := dr.New(cdkJSONApp(t, nil, outdir), &dr.Props{Account: jsii.String(drAccount), BackupAccount: backupAccount, LockRecoveryVault: true})
		require.NoError(t, err)
		drBackupAccount = &drSynth{app: a, vault: templateJSON(t, a.Vault), backup: templateJSON(t, a.Backup), primary: templateJSON(t, a.Primary.Stack), recovery: templateJSON(t, a.Recovery.Stack), outdir: outdir}
	}
	return *drBackupAccount
}

// airGapLockRefuses models AWS Backup's compliance-mode lock, which every
// logically air-gapped vault has: a recovery point cannot be deleted, nor its
// retention shortened, before the vault's minimum retention, by any
// principal, whatever the access policy says ("After the grace time expires,
// ... no user or role, including the root user, can delete the recovery
// points or change their lifecycle" until the minimum retention is reached:
// https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html), and
// a vault with recovery points cannot be deleted
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/delete-a-vault.html).
func airGapLockRefuses(action string, ageDays, minRetentionDays float64) bool {
	switch action {
	case "backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle", "backup:DisassociateRecoveryPoint":
		return ageDays < minRetentionDays
	case "backup:DeleteBackupVault", "backup:DeleteBackupVaultLockConfiguration":
		return true
	}
	return false
}

func TestTheAirGappedCopyOutlivesAHostileDeployer(t *testing.T) {
	// GIVEN the example's air-gapped vault
	_, tmpl, _ := example(t, nil)
	id, vault := onlyResource(t, tmpl, "AWS::Backup::LogicallyAirGappedBackupVault")
	p := props(vault)
	assert.Equal(t, "Retain", vault["DeletionPolicy"])
	assert.Equal(t, "Retain", vault["UpdateReplacePolicy"])
	min := p["MinRetentionDays"].(float64)
	assert.Equal(t, float64(35), min)
	// AND its policy denies loosening it to all but break-glass
	policy := iamPolicy(asStatements(p["AccessPolicy"]))
	assert.True(t, policy.denies("backup:DeleteBackupVault", "*", map[string]string{"aws:PrincipalArn": admin}))
	// WHEN a deployer deploys a template without the denies (the deployer is
	// the exempt principal anyway)
	delete(p, "AccessPolicy")
	hostile := iamPolicy(nil)
	for _, action := range []string{"backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle", "backup:DeleteBackupVault"} {
		// THEN no resource policy denies it any more, but the lock refuses
		// every deletion of a copy younger than the minimum retention
		assert.False(t, hostile.denies(action, "*", map[string]string{"aws:PrincipalArn": cfnExecRole}))
		assert.True(t, airGapLockRefuses(action, min-1, min), "%s on a copy %g days old", action, min-1)
	}
	assert.False(t, airGapLockRefuses("backup:DeleteRecoveryPoint", min, min), "at its minimum retention a copy may expire")
	// AND the bounds cannot be lowered in place: they are create-only, so a
	// lower minimum replaces the vault, which the guard refuses, and the old
	// vault, kept (Retain), keeps its locked copies
	entry := guardProps(t, tmpl).Resources[id]
	assert.Equal(t, min, entry.CreateOnly["MinRetentionDays"])
	lowered := entry
	lowered.CreateOnly = map[string]interface{}{"BackupVaultName": entry.CreateOnly["BackupVaultName"], "MinRetentionDays": float64(7), "MaxRetentionDays": entry.CreateOnly["MaxRetentionDays"]}
	assert.Equal(t, guard.NeedsConsent, guard.Decide(entry, lowered).Verdict)
}

func asStatements(doc interface{}) []map[string]interface{} {
	m, _ := doc.(map[string]interface{})
	raw, _ := m["Statement"].([]interface{})
	out := make([]map[string]interface{}, len(raw))
	for i, st := range raw {
		out[i] = st.(map[string]interface{})
	}
	return out
}

func TestAirGapOptions(t *testing.T) {
	t.Run("a given vault: no new one, copies go there", func(t *testing.T) {
		given := "arn:aws:backup:ap-northeast-1:210987654321:backup-vault:org-airgap"
		stack, _ := newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
			p.Protection = restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{AirGap: &restorable.AirGapProps{VaultArn: given}})
		})
		tmpl := templateJSON(t, stack)
		ids, _ := resourcesOfType(t, tmpl, "AWS::Backup::LogicallyAirGappedBackupVault")
		assert.Empty(t, ids)
		_, plan := onlyResource(t, tmpl, "AWS::Backup::BackupPlan")
		assert.Contains(t, fmtJSON(plan), given)
	})
	t.Run("disabled: no copy, and the report says so", func(t *testing.T) {
		stack, _ := newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
			p.Protection = restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{AirGap: &restorable.AirGapProps{Disabled: true}})
		})
		tmpl := templateJSON(t, stack)
		_, plan := onlyResource(t, tmpl, "AWS::Backup::BackupPlan")
		assert.NotContains(t, fmtJSON(plan), "CopyActions")
		var b strings.Builder
		require.NoError(t, restorable.WriteReport(&b, stack))
		assert.Contains(t, b.String(), "air gap: off (AirGap.Disabled)")
	})
	t.Run("bounds outside the rules are refused", func(t *testing.T) {
		stack := newStack(t, nil)
		msg := panicMessage(t, func() {
			restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{AirGap: &restorable.AirGapProps{MinRetention: awscdk.Duration_Days(jsii.Number(60))}})
		})
		assert.Contains(t, msg, `AirGap="60 to 365 days": does not hold the 35-day retention of rule Daily, so its copies would be refused`)
		msg = panicMessage(t, func() {
			restorable.NewProtection(stack, jsii.String("Other"), &restorable.ProtectionProps{AirGap: &restorable.AirGapProps{MinRetention: awscdk.Duration_Days(jsii.Number(3)), MaxRetention: awscdk.Duration_Days(jsii.Number(365))}})
		})
		assert.Contains(t, msg, "is shorter than the 7 days a logically air-gapped vault requires")
	})
	t.Run("a copy destination in the same region is refused unless in another account", func(t *testing.T) {
		stack := newStack(t, nil)
		msg := panicMessage(t, func() {
			restorable.NewProtection(stack, jsii.String("Same"), &restorable.ProtectionProps{CopyToVaultArn: "arn:aws:backup:ap-northeast-1:123456789012:backup-vault:x"})
		})
		assert.Contains(t, msg, "is in the stack's own region, ap-northeast-1, and account")
		restorable.NewProtection(stack, jsii.String("OtherAccount"), &restorable.ProtectionProps{CopyToVaultArn: "arn:aws:backup:ap-northeast-1:210987654321:backup-vault:x"})
	})
}

func TestTheAlerts(t *testing.T) {
	_, tmpl, _ := example(t, nil)
	topicID, topic := onlyResource(t, tmpl, "AWS::SNS::Topic")
	assert.Contains(t, props(topic), "KmsMasterKeyId")
	_, rules := resourcesOfType(t, tmpl, "AWS::Events::Rule")
	patterns := map[string]string{}
	for _, r := range rules {
		if !strings.Contains(cdkPath(r), "RestorableProtection/Alerts/") {
			continue
		}
		patterns[strings.TrimSuffix(strings.TrimPrefix(cdkPath(r), "RedmineStack/RestorableProtection/Alerts/"), "/Resource")] = fmtJSON(props(r)["EventPattern"])
		assert.Equal(t, map[string]interface{}{"Ref": topicID}, props(r)["Targets"].([]interface{})[0].(map[string]interface{})["Arn"], "to the topic")
	}
	require.Len(t, patterns, 4)
	assert.Contains(t, patterns["FailedJobs"], `"detail-type":["Backup Job State Change","Copy Job State Change"]`)
	assert.Contains(t, patterns["FailedJobs"], `"state":["FAILED","EXPIRED","ABORTED"]`)
	assert.Contains(t, patterns["PlanAndVaultChanges"], `"anything-but":["CREATED"]`)
	for _, call := range []string{"PutBackupVaultAccessPolicy", "DeleteBackupVaultLockConfiguration", "DeleteBackupPlan", "DeleteBackupSelection", "DeleteRecoveryPoint"} {
		assert.Contains(t, patterns["BackupCalls"], `"`+call+`"`)
	}
	for _, call := range []string{"ScheduleKeyDeletion", "DisableKey", "DisableKeyRotation", "PutKeyPolicy", "RevokeGrant"} {
		assert.Contains(t, patterns["KeyCalls"], `"`+call+`"`)
	}
	// EventBridge may publish: the topic's policy and its key's.
	_, policies := resourcesOfType(t, tmpl, "AWS::SNS::TopicPolicy")
	assert.Contains(t, fmtJSON(policies), `"Service":"events.amazonaws.com"`)
	assert.Contains(t, fmtJSON(policies), `"aws:SecureTransport":"false"`)
	keyID := refOf(props(topic)["KmsMasterKeyId"])
	_, key := resourceByID(t, tmpl, keyID)
	publish := statementBySid(t, asStatements(props(key)["KeyPolicy"]), "PublishFromEventBridgeAndCloudWatch")
	assert.Contains(t, fmtJSON(publish["Principal"]), `"events.amazonaws.com"`)
	// No aws:SourceAccount or aws:SourceArn: KMS does not get them from
	// EventBridge, and every delivery would fail
	// (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
	assert.NotContains(t, fmtJSON(publish), "aws:Source")
	check(t, func() {
		assertions.Template_FromJSON(&tmpl, nil).HasOutput(jsii.String("RestorableProtectionAlertTopicArn"), map[string]interface{}{})
	})
}

func TestTheDRExampleWithABackupAccount(t *testing.T) {
	s := drWithBackupAccount(t)
	// The copies' vault is in the backup account, compliance-locked, and
	// lets the workload account copy in, and only that.
	_, vault := onlyResource(t, s.backup, "AWS::Backup::BackupVault")
	assert.Equal(t, map[string]interface{}{"MinRetentionDays": float64(7), "ChangeableForDays": float64(3)}, props(vault)["LockConfiguration"])
	assert.Equal(t, "ap-northeast-1", *s.app.Backup.Region(), "in the primary region: Aurora is copied across accounts or across regions, not both")
	assert.Equal(t, backupAccount, *s.app.Backup.Account())
	allow := statementBySid(t, asStatements(props(vault)["AccessPolicy"]), "CopyIntoFromSourceAccounts")
	assert.Equal(t, "backup:CopyIntoBackupVault", allow["Action"])
	assert.Contains(t, fmtJSON(allow["Principal"]), ":iam::"+drAccount+":root")
	// The primary copies there, and to the recovery region's vault of its
	// own account, and shares its keys with the backup account for it.
	_, plan := onlyResource(t, s.primary, "AWS::Backup::BackupPlan")
	assert.Contains(t, fmtJSON(plan), ":backup:ap-northeast-1:"+backupAccount+":backup-vault:redmine-dr")
	assert.Contains(t, fmtJSON(plan), ":backup:ap-northeast-3:"+drAccount+":backup-vault:redmine-dr")
	assert.NotContains(t, fmtJSON(plan), ":backup:ap-northeast-3:"+backupAccount)
	_, keys := resourcesOfType(t, s.primary, "AWS::KMS::Key")
	shared := 0
	for _, k := range keys {
		if strings.Contains(fmtJSON(props(k)["KeyPolicy"]), "CopiesIntoTheBackupAccount") {
			shared++
			assert.Contains(t, fmtJSON(props(k)["KeyPolicy"]), ":iam::"+backupAccount+":root")
		}
	}
	assert.Equal(t, 3, shared, "the vault key, the cluster key, the file system key")
	// kms:GrantIsForAWSResource is only in CreateGrant's request context
	// (https://docs.aws.amazon.com/kms/latest/developerguide/grant-authorization.html),
	// so Decrypt and DescribeKey are shared through AWS services instead.
	for _, k := range keys {
		sts := asStatements(props(k)["KeyPolicy"])
		if !strings.Contains(fmtJSON(sts), "CopiesIntoTheBackupAccount") {
			continue
		}
		use := statementBySid(t, sts, "CopiesIntoTheBackupAccount")
		assert.ElementsMatch(t, []interface{}{"kms:Decrypt", "kms:DescribeKey", "kms:ReEncryptFrom"}, use["Action"])
		assert.NotContains(t, fmtJSON(use), "GrantIsForAWSResource")
		assert.Contains(t, fmtJSON(use), "kms:ViaService")
		grant := statementBySid(t, sts, "GrantsForCopiesIntoTheBackupAccount")
		assert.Equal(t, "kms:CreateGrant", grant["Action"])
		assert.Contains(t, fmtJSON(grant), `"kms:GrantIsForAWSResource":"true"`)
	}
}

func TestABackupDestinationMisuse(t *testing.T) {
	stack := newStack(t, nil)
	msg := panicMessage(t, func() {
		restorable.NewBackupDestination(stack, jsii.String("A"), &restorable.BackupDestinationProps{VaultName: "org-backups"})
	})
	assert.Contains(t, msg, "SourceAccounts: is empty and OrganizationID is not set")
	msg = panicMessage(t, func() {
		restorable.NewBackupDestination(stack, jsii.String("B"), &restorable.BackupDestinationProps{VaultName: "org-backups", SourceAccounts: []string{"12345"}})
	})
	assert.Contains(t, msg, `SourceAccounts="12345": is not a 12-digit AWS account ID`)
	_ = awsefs.PerformanceMode_GENERAL_PURPOSE
}

func TestCopiesThatCouldNeverSucceedAreCaught(t *testing.T) {
	t.Run("Aurora into an air-gapped vault of another region is refused", func(t *testing.T) {
		msg := panicMessage(t, func() {
			newCluster(t, nil, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
				p.Protection = restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{
					AirGap: &restorable.AirGapProps{VaultArn: "arn:aws:backup:ap-northeast-3:" + backupAccount + ":backup-vault:lag"},
				})
			})
		})
		assert.Contains(t, msg, `AirGap.VaultArn="arn:aws:backup:ap-northeast-3:`+backupAccount+`:backup-vault:lag": is in ap-northeast-3, and AWS Backup copies no Aurora backup across regions`)
		assert.Contains(t, msg, "give a logically air-gapped vault in ap-northeast-1")
	})
	t.Run("Aurora copied to another account and another region at once is refused", func(t *testing.T) {
		msg := panicMessage(t, func() {
			newCluster(t, nil, func(stack awscdk.Stack, p *restorable.AuroraClusterProps) {
				p.Protection = restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{
					CopyToVaultArn: "arn:aws:backup:ap-northeast-3:" + backupAccount + ":backup-vault:dr",
				})
			})
		})
		assert.Contains(t, msg, `CopyToVaultArn="arn:aws:backup:ap-northeast-3:`+backupAccount+`:backup-vault:dr": is in another account (`+backupAccount+`) and another region (ap-northeast-3)`)
		assert.Contains(t, msg, "AlsoCopyToVaultArns")
		// Files alone may: EFS copies go across both at once.
		newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
			p.Protection = restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{
				CopyToVaultArn: "arn:aws:backup:ap-northeast-3:" + backupAccount + ":backup-vault:dr",
			})
		})
	})
	t.Run("a key restorable cannot share with the copies' account is named", func(t *testing.T) {
		stack, _ := newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
			restorable.ConfigureStackProtection(stack, &restorable.ProtectionProps{CopyToVaultArn: "arn:aws:backup:ap-northeast-1:" + backupAccount + ":backup-vault:x"})
			p.KmsKey = awskms.Key_FromKeyArn(stack, jsii.String("Imported"), jsii.String("arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"))
		})
		assertions.Annotations_FromStack(stack).HasWarning(jsii.String("/AppStack/RestorableProtection"),
			assertions.Match_StringLikeRegexp(jsii.String(`copies go to account `+backupAccount+`, but the key AppStack/Imported is not one restorable created.*every copy job fails`)))
	})
}
