package test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

// cfnExecRole is the CDK bootstrap's CloudFormation execution role in the test
// account and region: the default break-glass principal.
const cfnExecRole = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-ap-northeast-1"

// admin is an administrator of the account, who is not the break-glass principal.
const admin = "arn:aws:iam::123456789012:role/Admin"

// protectedStack is a stack with two file systems and an Aurora cluster that
// joins the stack's protection, synthesized once.
var protectedStack struct {
	stack awscdk.Stack
	tmpl  map[string]interface{}
}

func protected(t *testing.T) (awscdk.Stack, map[string]interface{}) {
	t.Helper()
	if protectedStack.tmpl == nil {
		stack := newStack(t, nil)
		cp := clusterProps(stack)
		cp.Backup = &awsrds.BackupProps{Retention: awscdk.Duration_Days(jsii.Number(14))}
		for _, id := range []string{"Uploads", "Attachments"} {
			restorable.NewFileSystem(stack, jsii.String(id), &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: cp.Vpc}})
		}
		restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{
			DatabaseClusterProps: cp, Protection: restorable.StackProtection(stack),
		})
		protectedStack.stack, protectedStack.tmpl = stack, templateJSON(t, stack)
	}
	return protectedStack.stack, protectedStack.tmpl
}

func TestTheStacksProtection(t *testing.T) {
	// GIVEN two file systems and an Aurora cluster that joins the stack's
	// protection
	stack, tmpl := protected(t)
	t.Run("one vault, one plan and one role, and a selection by reference per resource", func(t *testing.T) {
		for typ, want := range map[string]int{"AWS::Backup::BackupVault": 1, "AWS::Backup::BackupPlan": 1, "AWS::Backup::BackupSelection": 3} {
			ids, _ := resourcesOfType(t, tmpl, typ)
			assert.Len(t, ids, want, typ)
		}
		planID, _ := byPath(t, tmpl, "AppStack/RestorableProtection/Plan")
		_, selections := resourcesOfType(t, tmpl, "AWS::Backup::BackupSelection")
		roles, names, all := map[string]bool{}, map[string]bool{}, ""
		for _, s := range selections {
			assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{planID, "BackupPlanId"}}, props(s)["BackupPlanId"])
			sel := props(s)["BackupSelection"].(map[string]interface{})
			roles[fmtJSON(sel["IamRoleArn"])] = true
			names[sel["SelectionName"].(string)] = true
			assert.NotContains(t, sel, "ListOfTags", "by ARN, never by tag")
			all += fmtJSON(sel["Resources"])
		}
		assert.Len(t, roles, 1)
		assert.Len(t, names, 3, "selection names are unique")
		assert.Contains(t, all, `:cluster:",{"Ref":"`+clusterIDOf(t, tmpl)+`"}`)
		uploads, _ := byPath(t, tmpl, "AppStack/Uploads/Default")
		assert.Contains(t, all, `:file-system/",{"Ref":"`+uploads+`"}`)
		roleID, role := byPath(t, tmpl, "AppStack/RestorableProtection/BackupRole")
		assert.NotContains(t, props(role), "ManagedPolicyArns")
		assert.Contains(t, fmtJSON(props(role)["AssumeRolePolicyDocument"]), `"Service":"backup.amazonaws.com"`)
		// It may back up resources of this account and region, and delete only
		// AWS Backup's own snapshots.
		policy := iamPolicy(statementsOf(t, tmpl, roleID))
		assert.True(t, policy.allows("rds:DeleteDBClusterSnapshot", "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:awsbackup:job-1234", nil))
		assert.False(t, policy.allows("rds:DeleteDBClusterSnapshot", "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:before-incident", nil))
		assert.False(t, policy.allows("rds:DeleteDBCluster", "arn:aws:rds:ap-northeast-1:123456789012:cluster:prod", nil))
		assert.False(t, policy.allows("elasticfilesystem:Backup", "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1", nil))
	})
	t.Run("the default rules: daily kept 35 days with continuous backup, monthly kept a year", func(t *testing.T) {
		_, plan := onlyResource(t, tmpl, "AWS::Backup::BackupPlan")
		p := props(plan)["BackupPlan"].(map[string]interface{})
		// Plan names must be unique in the account and region: the path with a
		// hash, the same on every synth.
		assert.Regexp(t, `^AppStackRestorableProtection[0-9A-F]{8}$`, p["BackupPlanName"])
		rules := map[string]map[string]interface{}{}
		for _, r := range p["BackupPlanRule"].([]interface{}) {
			rules[r.(map[string]interface{})["RuleName"].(string)] = r.(map[string]interface{})
		}
		require.Len(t, rules, 2)
		assert.Equal(t, "cron(0 3 * * ? *)", rules["Daily"]["ScheduleExpression"])
		assert.Equal(t, true, rules["Daily"]["EnableContinuousBackup"])
		assert.Equal(t, map[string]interface{}{"DeleteAfterDays": float64(35)}, rules["Daily"]["Lifecycle"])
		assert.Equal(t, "cron(0 3 1 * ? *)", rules["Monthly"]["ScheduleExpression"])
		assert.Equal(t, map[string]interface{}{"DeleteAfterDays": float64(365), "MoveToColdStorageAfterDays": float64(90)}, rules["Monthly"]["Lifecycle"])
		airGapID, airGap := onlyResource(t, tmpl, "AWS::Backup::LogicallyAirGappedBackupVault")
		for name, days := range map[string]float64{"Daily": 35, "Monthly": 365} {
			assert.Equal(t, []interface{}{map[string]interface{}{
				"DestinationBackupVaultArn": map[string]interface{}{"Fn::GetAtt": []interface{}{airGapID, "BackupVaultArn"}},
				"Lifecycle":                 map[string]interface{}{"DeleteAfterDays": days},
			}}, rules[name]["CopyActions"], "%s: only to the air-gapped vault, kept warm as long as the rule keeps its backups", name)
		}
		assert.Equal(t, float64(35), props(airGap)["MinRetentionDays"])
		assert.Equal(t, float64(365), props(airGap)["MaxRetentionDays"])
	})
	t.Run("the cluster's retention follows the continuous rule, with a warning", func(t *testing.T) {
		_, cluster := byPath(t, tmpl, "AppStack/Database/Default")
		assert.Equal(t, float64(35), props(cluster)["BackupRetentionPeriod"])
		check(t, func() {
			assertions.Annotations_FromStack(stack).HasWarning(jsii.String("/AppStack/Database"),
				assertions.Match_StringLikeRegexp(jsii.String(`Backup.Retention is 14 days, but the AWS Backup plan's continuous rule keeps 35 days`)))
		})
	})
	t.Run("the vault: its own key, kept, guarded", func(t *testing.T) {
		vaultID, vault := byPath(t, tmpl, "AppStack/RestorableProtection/Vault")
		keyID := refOf(props(vault)["EncryptionKeyArn"])
		_, key := resourceByID(t, tmpl, keyID)
		assert.Equal(t, true, props(key)["EnableKeyRotation"])
		assert.Equal(t, "Retain", vault["DeletionPolicy"])
		assert.Equal(t, "Retain", vault["UpdateReplacePolicy"])
		assert.Equal(t, "Retain", key["DeletionPolicy"])
		assert.Contains(t, guardProps(t, tmpl).Resources, vaultID)
	})
	t.Run("nobody deletes a recovery point early, and only break-glass loosens the vault", func(t *testing.T) {
		_, vault := byPath(t, tmpl, "AppStack/RestorableProtection/Vault")
		policy := vaultPolicy(vault)
		rp := "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
		vaultArn := "arn:aws:backup:ap-northeast-1:123456789012:backup-vault:v"
		for _, who := range []string{admin, cfnExecRole} {
			ctx := map[string]string{"aws:PrincipalArn": who}
			assert.True(t, policy.denies("backup:DeleteRecoveryPoint", rp, ctx), who)
			assert.True(t, policy.denies("backup:UpdateRecoveryPointLifecycle", rp, ctx), who)
		}
		for _, action := range []string{"backup:DeleteBackupVault", "backup:DeleteBackupVaultAccessPolicy", "backup:PutBackupVaultAccessPolicy",
			"backup:DeleteBackupVaultLockConfiguration", "backup:PutBackupVaultLockConfiguration", "backup:DisassociateRecoveryPoint"} {
			assert.True(t, policy.denies(action, vaultArn, map[string]string{"aws:PrincipalArn": admin}), action)
			assert.False(t, policy.denies(action, vaultArn, map[string]string{"aws:PrincipalArn": cfnExecRole}), action)
		}
		// Restores and reads stay open to whom IAM allows them.
		assert.False(t, policy.denies("backup:StartRestoreJob", rp, map[string]string{"aws:PrincipalArn": admin}))
	})
	t.Run("every key restorable creates: only break-glass can delete, disable or re-police it, and only AWS services get grants", func(t *testing.T) {
		keys := map[string]string{
			"vault":   "AppStack/RestorableProtection/VaultKey",
			"cluster": "AppStack/Database/Key",
			"files":   "AppStack/Uploads/Key",
		}
		for name, path := range keys {
			_, key := byPath(t, tmpl, path)
			policy := keyPolicy(key)
			for _, action := range []string{"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"} {
				assert.True(t, policy.denies(action, "*", map[string]string{"aws:PrincipalArn": admin}), "%s: %s", name, action)
				assert.False(t, policy.denies(action, "*", map[string]string{"aws:PrincipalArn": cfnExecRole}), "%s: %s", name, action)
				assert.True(t, policy.allows(action, "*", map[string]string{"aws:PrincipalArn": cfnExecRole}), "%s: %s", name, action)
			}
			// Encryption stays open to the account's principals.
			assert.False(t, policy.denies("kms:Decrypt", "*", map[string]string{"aws:PrincipalArn": admin}), name)
			// Grants: only for AWS resources, or by AWS services.
			assert.True(t, policy.denies("kms:CreateGrant", "*", map[string]string{"aws:PrincipalArn": admin,
				"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}), name)
			assert.False(t, policy.denies("kms:CreateGrant", "*", map[string]string{"aws:PrincipalArn": admin,
				"kms:GrantIsForAWSResource": "true", "aws:PrincipalIsAWSService": "false"}), name)
			// The CT.KMS.PR.3 statement, in the one form the control accepts.
			assert.Contains(t, fmtJSON(props(key)["KeyPolicy"]),
				`{"Action":"kms:CreateGrant","Condition":{"BoolIfExists":{"aws:PrincipalIsAWSService":"false","kms:GrantIsForAWSResource":"false"}},"Effect":"Deny","Principal":"*","Resource":"*","Sid":"DenyGrantsExceptForAWSServices"}`, name)
		}
	})
}

// vaultPolicy and keyPolicy read the statements of a vault's access policy and
// of a key's policy.
func vaultPolicy(vault map[string]interface{}) iamPolicy {
	return statementsIn(props(vault)["AccessPolicy"])
}

func keyPolicy(key map[string]interface{}) iamPolicy {
	return statementsIn(props(key)["KeyPolicy"])
}

func statementsIn(doc interface{}) iamPolicy {
	var out iamPolicy
	for _, st := range doc.(map[string]interface{})["Statement"].([]interface{}) {
		out = append(out, st.(map[string]interface{}))
	}
	return out
}

func TestABreakGlassPrincipalOfTheUsersChoice(t *testing.T) {
	// GIVEN a file system, and then the stack's break-glass role
	stack, _ := newFiles(t, nil)
	const breakGlass = "arn:aws:iam::123456789012:role/BreakGlass"
	restorable.ConfigureBreakGlass(stack, breakGlass)
	tmpl := templateJSON(t, stack)
	// THEN that role, and no longer the deploy role, may loosen the key and
	// the vault
	for _, path := range []string{"AppStack/Files/Key", "AppStack/RestorableProtection/VaultKey"} {
		_, key := byPath(t, tmpl, path)
		policy := keyPolicy(key)
		assert.False(t, policy.denies("kms:ScheduleKeyDeletion", "*", map[string]string{"aws:PrincipalArn": breakGlass}), path)
		assert.True(t, policy.denies("kms:ScheduleKeyDeletion", "*", map[string]string{"aws:PrincipalArn": cfnExecRole}), path)
	}
	_, vault := byPath(t, tmpl, "AppStack/RestorableProtection/Vault")
	assert.False(t, vaultPolicy(vault).denies("backup:DeleteBackupVaultAccessPolicy", "*", map[string]string{"aws:PrincipalArn": breakGlass}))
	// AND a second call is refused
	assert.Contains(t, panicMessage(t, func() { restorable.ConfigureBreakGlass(stack, breakGlass) }), "ConfigureBreakGlass=")
}

func TestMovingTheBreakGlassFromOneRoleToAnother(t *testing.T) {
	// GIVEN the stack's key, with the deploy role and a new break-glass role
	// both configured (the first step of a move, deployed as the old role)
	stack, _ := newFiles(t, nil)
	const next = "arn:aws:iam::123456789012:role/BreakGlass"
	restorable.ConfigureBreakGlass(stack, cfnExecRole, next)
	_, key := byPath(t, templateJSON(t, stack), "AppStack/Files/Key")
	policy := keyPolicy(key)
	// THEN either may change the key policy, so KMS's lockout check passes
	// whichever deploys, and an administrator still may not
	for _, who := range []string{cfnExecRole, next} {
		assert.False(t, policy.denies("kms:PutKeyPolicy", "*", map[string]string{"aws:PrincipalArn": who}), who)
	}
	assert.True(t, policy.denies("kms:PutKeyPolicy", "*", map[string]string{"aws:PrincipalArn": admin}))
	// AND a mistyped principal, which would leave nobody able to change the
	// policies, is refused at synth
	other := newStack(t, nil)
	assert.Contains(t, panicMessage(t, func() { restorable.ConfigureBreakGlass(other, "BreakGlass") }),
		`ConfigureBreakGlass="BreakGlass": is not the ARN of one IAM role, user or account root`)
	// AND so is a wildcard, which would exempt every role it matches
	assert.Contains(t, panicMessage(t, func() { restorable.ConfigureBreakGlass(newStack(t, nil), "arn:aws:iam::123456789012:role/*") }),
		`(wildcards would exempt every principal they match)`)
}

func TestProtectionOptions(t *testing.T) {
	const drVault = "arn:aws:backup:ap-northeast-3:123456789012:backup-vault:restorable-dr"
	t.Run("copies every recovery point to another region, kept as long", func(t *testing.T) {
		stack, _ := newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
			p.Protection = restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{CopyToVaultArn: drVault})
		})
		tmpl := templateJSON(t, stack)
		_, plan := onlyResource(t, tmpl, "AWS::Backup::BackupPlan")
		for _, r := range props(plan)["BackupPlan"].(map[string]interface{})["BackupPlanRule"].([]interface{}) {
			rule := r.(map[string]interface{})
			copies := rule["CopyActions"].([]interface{})
			require.Len(t, copies, 2, rule["RuleName"])
			c := copies[0].(map[string]interface{})
			assert.Equal(t, drVault, c["DestinationBackupVaultArn"])
			assert.Equal(t, rule["Lifecycle"], c["Lifecycle"])
		}
		roleID, _ := byPath(t, tmpl, "AppStack/Protection/BackupRole")
		vaults := statementBySid(t, statementsOf(t, tmpl, roleID), "Vaults")
		assert.Contains(t, fmtJSON(vaults), drVault)
		assert.Contains(t, fmtJSON(vaults), "backup:CopyIntoBackupVault")
	})
	t.Run("locks the vault", func(t *testing.T) {
		stack, _ := newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
			p.Protection = restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{VaultLock: &awsbackup.LockConfiguration{
				MinRetention: awscdk.Duration_Days(jsii.Number(7)), ChangeableFor: awscdk.Duration_Days(jsii.Number(3)),
			}})
		})
		_, vault := onlyResource(t, templateJSON(t, stack), "AWS::Backup::BackupVault")
		assert.Equal(t, map[string]interface{}{"MinRetentionDays": float64(7), "ChangeableForDays": float64(3)}, props(vault)["LockConfiguration"])
	})
	t.Run("uses an existing vault and plan", func(t *testing.T) {
		stack, _ := newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
			p.Protection = restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{
				Vault: awsbackup.BackupVault_FromBackupVaultName(stack, jsii.String("Existing"), jsii.String("central-vault")),
				Plan:  awsbackup.BackupPlan_FromBackupPlanId(stack, jsii.String("ExistingPlan"), jsii.String("plan-1234")),
			})
		})
		tmpl := templateJSON(t, stack)
		for _, typ := range []string{"AWS::Backup::BackupVault", "AWS::Backup::BackupPlan"} {
			ids, _ := resourcesOfType(t, tmpl, typ)
			assert.Empty(t, ids, typ)
		}
		_, sel := onlyResource(t, tmpl, "AWS::Backup::BackupSelection")
		assert.Equal(t, "plan-1234", props(sel)["BackupPlanId"])
	})
}

func TestProtectionMisuse(t *testing.T) {
	for name, tt := range map[string]struct {
		props restorable.ProtectionProps
		want  []string
	}{
		"copy to the same region": {restorable.ProtectionProps{CopyToVaultArn: "arn:aws:backup:ap-northeast-1:123456789012:backup-vault:v"},
			[]string{`CopyToVaultArn="arn:aws:backup:ap-northeast-1:123456789012:backup-vault:v": is in the stack's own region`, "another region"}},
		"copy to something else": {restorable.ProtectionProps{CopyToVaultArn: "arn:aws:s3:ap-northeast-3:123456789012:bucket"},
			[]string{"is not an AWS Backup vault ARN", "arn:aws:backup:<region>:<account>:backup-vault:<name>"}},
		"a lock grace time under 72 hours": {restorable.ProtectionProps{VaultLock: &awsbackup.LockConfiguration{MinRetention: awscdk.Duration_Days(jsii.Number(1)), ChangeableFor: awscdk.Duration_Days(jsii.Number(1))}},
			[]string{"VaultLock.ChangeableFor", "shorter than the 72 hours"}},
		"a lock longer than a rule": {restorable.ProtectionProps{VaultLock: &awsbackup.LockConfiguration{MinRetention: awscdk.Duration_Days(jsii.Number(60))}},
			[]string{"VaultLock.MinRetention", "longer than the retention of rule Daily (35 days)"}},
	} {
		t.Run(name, func(t *testing.T) {
			stack := newStack(t, nil)
			msg := panicMessage(t, func() { restorable.NewProtection(stack, jsii.String("Protection"), &tt.props) })
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
		})
	}
}

// A drill is the restore testing plan choosing, for each protected resource,
// the latest recovery point of the chosen types within the selection window
// before the drill. drillGaps replays a year of the plan's backup rules and of
// the drill schedule, and returns the drills at which some resource type has no
// recovery point to choose: a drill that silently tests nothing for it.
//
// What each resource type gets from a rule
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/point-in-time-recovery.html):
// Aurora gets one continuous recovery point from a rule with continuous backup
// (and no snapshot from it), and a snapshot from any other rule; EFS does not
// support continuous backup and gets a snapshot from every rule.
func drillGaps(t *testing.T, rules []interface{}, drill map[string]interface{}, year int) []string {
	t.Helper()
	selection := drill["RecoveryPointSelection"].(map[string]interface{})
	window := time.Duration(selection["SelectionWindowDays"].(float64)) * 24 * time.Hour
	types := map[string]bool{}
	for _, typ := range selection["RecoveryPointTypes"].([]interface{}) {
		types[typ.(string)] = true
	}
	type source struct {
		schedule   cronSchedule
		continuous bool
	}
	var sources []source
	for _, r := range rules {
		rule := r.(map[string]interface{})
		continuous, _ := rule["EnableContinuousBackup"].(bool)
		sources = append(sources, source{parseCron(t, rule["ScheduleExpression"].(string)), continuous})
	}
	drills := parseCron(t, drill["ScheduleExpression"].(string))
	start := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	var gaps []string
	for at := start; at.Before(start.AddDate(1, 0, 0)); at = at.Add(time.Hour) {
		if !drills.matches(at) {
			continue
		}
		for _, kind := range []string{"Aurora", "EFS"} {
			found := false
			for _, s := range sources {
				if s.continuous && kind == "Aurora" {
					// One continuous recovery point, always current.
					found = found || types["CONTINUOUS"]
					continue
				}
				if !types["SNAPSHOT"] {
					continue
				}
				for b := at.Add(-window); !b.After(at); b = b.Add(time.Hour) {
					if s.schedule.matches(b) {
						found = true
						break
					}
				}
			}
			if !found {
				gaps = append(gaps, fmt.Sprintf("%s at %s", kind, at.Format(time.RFC3339)))
			}
		}
	}
	return gaps
}

// cronSchedule is an AWS cron expression, cron(minutes hours day-of-month
// month day-of-week year), with the forms backup plans use: *, ?, numbers and
// comma lists (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html).
type cronSchedule [6]map[int]bool // nil: any

func parseCron(t *testing.T, expr string) cronSchedule {
	t.Helper()
	inner, ok := strings.CutPrefix(expr, "cron(")
	require.True(t, ok, expr)
	fields := strings.Fields(strings.TrimSuffix(inner, ")"))
	require.Len(t, fields, 6, expr)
	var c cronSchedule
	for i, f := range fields {
		if f == "*" || f == "?" {
			continue
		}
		c[i] = map[int]bool{}
		for _, v := range strings.Split(f, ",") {
			n, err := strconv.Atoi(v)
			require.NoError(t, err, "%s: field %q", expr, f)
			c[i][n] = true
		}
	}
	return c
}

func (c cronSchedule) matches(at time.Time) bool {
	values := []int{at.Minute(), at.Hour(), at.Day(), int(at.Month()), int(at.Weekday()) + 1, at.Year()}
	for i, v := range values {
		if c[i] != nil && !c[i][v] {
			return false
		}
	}
	return true
}

func TestDrillsFindARecoveryPointOfEveryResourceAllYear(t *testing.T) {
	// GIVEN the DR example's primary stack, with the default rules and drills
	s := drTemplates(t, nil)
	_, plan := onlyResource(t, s.primary, "AWS::Backup::BackupPlan")
	rules := props(plan)["BackupPlan"].(map[string]interface{})["BackupPlanRule"].([]interface{})
	_, drillPlan := onlyResource(t, s.primary, "AWS::Backup::RestoreTestingPlan")
	drill := props(drillPlan)
	// WHEN a year of backups and drills is replayed
	// THEN every drill finds a recovery point of the cluster and of the files
	assert.Empty(t, drillGaps(t, rules, drill, 2027))
	// AND every month has a drill, and every resource a drill selects is
	// validated: the validation hears the plan's restore jobs and knows the
	// resource
	drills := parseCron(t, drill["ScheduleExpression"].(string))
	months := map[time.Month]int{}
	for at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC); at.Year() == 2027; at = at.Add(time.Hour) {
		if drills.matches(at) {
			months[at.Month()]++
		}
	}
	assert.Len(t, months, 12, "a drill every month: %v", months)
	validated := map[string]bool{}
	_, rule := byPath(t, s.primary, "RedminePrimary/RestorableProtection/RestoreTesting/Validation/RestoreJobEnded")
	for _, r := range drillConfig(t, s.primary, "RedminePrimary")["resources"].([]interface{}) {
		validated[r.(map[string]interface{})["arn"].(string)] = true
	}
	_, sels := resourcesOfType(t, s.primary, "AWS::Backup::RestoreTestingSelection")
	selected := 0
	for _, sel := range sels {
		for _, arn := range props(sel)["ProtectedResourceArns"].([]interface{}) {
			selected++
			assert.True(t, validated[rendered(t, s.primary, arn)], "%s is drilled but not validated", rendered(t, s.primary, arn))
		}
	}
	assert.Equal(t, 2, selected)
	assert.Contains(t, fmtJSON(props(rule)["EventPattern"]), "restoreTestingPlanArn")
	// AND the replay does find the gap of drills that choose snapshots only,
	// mid-month: Aurora's only snapshot is the monthly one, outside the window
	// (restorable's drills until this release)
	old := map[string]interface{}{"ScheduleExpression": "cron(0 4 15 * ? *)", "RecoveryPointSelection": map[string]interface{}{
		"SelectionWindowDays": float64(7), "RecoveryPointTypes": []interface{}{"SNAPSHOT"},
	}}
	gaps := drillGaps(t, rules, old, 2027)
	assert.Len(t, gaps, 12)
	assert.Contains(t, gaps, "Aurora at 2027-03-15T04:00:00Z")
}
