package test

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

// newFiles builds a restorable file system named Files in a new stack with a
// VPC, and returns the stack.
func newFiles(t *testing.T, ctx map[string]string, tweak func(stack awscdk.Stack, p *restorable.FileSystemProps)) (awscdk.Stack, *restorable.FileSystem) {
	t.Helper()
	stack := newStack(t, ctx)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	p := &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: vpc}}
	if tweak != nil {
		tweak(stack, p)
	}
	return stack, restorable.NewFileSystem(stack, jsii.String("Files"), p)
}

func TestFileSystemDefaults(t *testing.T) {
	stack, files := newFiles(t, nil, nil)
	tmpl := templateJSON(t, stack)
	fsID, fs := onlyResource(t, tmpl, "AWS::EFS::FileSystem")
	p := props(fs)
	// Encrypted with a customer-managed key that rotates and is kept.
	keyID := p["KmsKeyId"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	_, key := resourceByID(t, tmpl, keyID)
	assert.Equal(t, true, p["Encrypted"])
	assert.Equal(t, true, props(key)["EnableKeyRotation"])
	assert.Equal(t, "Retain", key["DeletionPolicy"])
	// Kept on delete and on replace.
	assert.Equal(t, "Retain", fs["DeletionPolicy"])
	assert.Equal(t, "Retain", fs["UpdateReplacePolicy"])
	// EFS's own backup plan is off: AWS Backup's plan is the only one.
	assert.Equal(t, map[string]interface{}{"Status": "DISABLED"}, p["BackupPolicy"])
	// The policy denies everything without TLS and allows nothing by itself, so
	// anonymous clients (allowed by the default EFS policy) are refused.
	assert.Equal(t, map[string]interface{}{
		"Version": "2012-10-17",
		"Statement": []interface{}{map[string]interface{}{
			"Sid": "DenyWithoutTLS", "Effect": "Deny", "Principal": map[string]interface{}{"AWS": "*"}, "Action": "*",
			"Condition": map[string]interface{}{"Bool": map[string]interface{}{"aws:SecureTransport": "false"}},
		}},
	}, p["FileSystemPolicy"])
	// Mount targets in the private subnets.
	_, targets := resourcesOfType(t, tmpl, "AWS::EFS::MountTarget")
	require.Len(t, targets, 2)
	for _, mt := range targets {
		assert.Regexp(t, `^VpcPrivateSubnet`, props(mt)["SubnetId"].(map[string]interface{})["Ref"])
	}
	// An access point for the application (the other one is the restore's, at /).
	apID, ap := applicationAccessPoint(t, tmpl)
	assert.Equal(t, map[string]interface{}{"Ref": fsID}, props(ap)["FileSystemId"])
	assert.Equal(t, map[string]interface{}{"Path": "/data", "CreationInfo": map[string]interface{}{"OwnerUid": "1000", "OwnerGid": "1000", "Permissions": "750"}}, props(ap)["RootDirectory"])
	assert.Equal(t, map[string]interface{}{"Uid": "1000", "Gid": "1000"}, props(ap)["PosixUser"])
	assert.Equal(t, stack.Resolve(files.AccessPoint().AccessPointId()), map[string]interface{}{"Ref": apID})
	// The outputs.
	outputs := tmpl["Outputs"].(map[string]interface{})
	assert.Equal(t, map[string]interface{}{"Ref": fsID}, outputs["FilesFileSystemId"].(map[string]interface{})["Value"])
	assert.Contains(t, fmtJSON(outputs["FilesListRecoveryPointsCommand"]), "aws backup list-recovery-points-by-resource --resource-arn ")
	assert.Empty(t, validationViolations(t, *awscdk.Stage_Of(stack).Outdir(), "CloudFormation Validate"))
}

// applicationAccessPoint returns the one access point not rooted at "/"; the
// restore's access point is rooted there.
func applicationAccessPoint(t *testing.T, tmpl map[string]interface{}) (string, map[string]interface{}) {
	t.Helper()
	ids, aps := resourcesOfType(t, tmpl, "AWS::EFS::AccessPoint")
	require.Len(t, aps, 2, "the application's and the restore's")
	var id string
	var found map[string]interface{}
	for i, ap := range aps {
		if props(ap)["RootDirectory"].(map[string]interface{})["Path"] != "/" {
			require.Nil(t, found)
			id, found = ids[i], ap
		}
	}
	require.NotNil(t, found)
	return id, found
}

func resourceIDOf(t *testing.T, tmpl map[string]interface{}, typ string) string {
	t.Helper()
	id, _ := onlyResource(t, tmpl, typ)
	return id
}

func TestFileSystemIsSelectedByReferenceInTheStackPlan(t *testing.T) {
	stack, _ := newFiles(t, nil, nil)
	tmpl := templateJSON(t, stack)
	fsID := resourceIDOf(t, tmpl, "AWS::EFS::FileSystem")
	planID := resourceIDOf(t, tmpl, "AWS::Backup::BackupPlan")
	_, sel := onlyResource(t, tmpl, "AWS::Backup::BackupSelection")
	s := props(sel)
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{planID, "BackupPlanId"}}, s["BackupPlanId"])
	selection := s["BackupSelection"].(map[string]interface{})
	// By ARN, through a reference to the file system: compliance checks see it.
	assert.Contains(t, fmtJSON(selection["Resources"]), `:file-system/",{"Ref":"`+fsID+`"}`)
	assert.NotContains(t, selection, "ListOfTags")
	// The selection's role is the protection's, which uses no AWS-managed policy.
	roleID := selection["IamRoleArn"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	_, role := resourceByID(t, tmpl, roleID)
	assert.NotContains(t, props(role), "ManagedPolicyArns")
	assert.Contains(t, fmtJSON(props(role)["AssumeRolePolicyDocument"]), `"Service":"backup.amazonaws.com"`)
}

func TestVaultKeepsRecoveryPoints(t *testing.T) {
	stack, _ := newFiles(t, nil, nil)
	tmpl := templateJSON(t, stack)
	vaultID, vault := onlyResource(t, tmpl, "AWS::Backup::BackupVault")
	// Encrypted with its own rotating customer-managed key.
	keyID := props(vault)["EncryptionKeyArn"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	_, key := resourceByID(t, tmpl, keyID)
	assert.Equal(t, true, props(key)["EnableKeyRotation"])
	// Nobody may delete a recovery point or shorten its lifecycle.
	assert.Equal(t, []interface{}{map[string]interface{}{
		"Effect": "Deny", "Principal": map[string]interface{}{"AWS": "*"}, "Resource": "*",
		"Action": []interface{}{"backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"},
	}}, props(vault)["AccessPolicy"].(map[string]interface{})["Statement"])
	// Kept on delete and on replace, and guarded.
	assert.Equal(t, "Retain", vault["DeletionPolicy"])
	assert.Equal(t, "Retain", vault["UpdateReplacePolicy"])
	vaultGuard, g := guardFor(t, tmpl, vaultID)
	assert.Equal(t, map[string]interface{}{
		"BackupVaultName":  props(vault)["BackupVaultName"],
		"EncryptionKeyArn": props(vault)["EncryptionKeyArn"],
	}, g["CreateOnly"])
	assert.Equal(t, "AppStack/RestorableProtection.allowReplace", g["ConsentKey"])
	assert.Contains(t, vault["DependsOn"], vaultGuard)
}

func TestDefaultPlanRules(t *testing.T) {
	stack, _ := newFiles(t, nil, nil)
	_, plan := onlyResource(t, templateJSON(t, stack), "AWS::Backup::BackupPlan")
	p := props(plan)["BackupPlan"].(map[string]interface{})
	// Plan names must be unique in the account and region: the name is the
	// protection's path with a hash, and the same on every synth.
	again, _ := newFiles(t, nil, nil)
	_, planAgain := onlyResource(t, templateJSON(t, again), "AWS::Backup::BackupPlan")
	assert.Regexp(t, `^AppStackRestorableProtection[0-9A-F]{8}$`, p["BackupPlanName"])
	assert.Equal(t, p["BackupPlanName"], props(planAgain)["BackupPlan"].(map[string]interface{})["BackupPlanName"])
	rules := p["BackupPlanRule"].([]interface{})
	require.Len(t, rules, 2)
	daily, monthly := rules[0].(map[string]interface{}), rules[1].(map[string]interface{})
	assert.Equal(t, "Daily", daily["RuleName"])
	assert.Equal(t, "cron(0 3 * * ? *)", daily["ScheduleExpression"])
	assert.Equal(t, true, daily["EnableContinuousBackup"])
	assert.Equal(t, map[string]interface{}{"DeleteAfterDays": float64(35)}, daily["Lifecycle"])
	assert.Equal(t, "Monthly", monthly["RuleName"])
	assert.Equal(t, "cron(0 3 1 * ? *)", monthly["ScheduleExpression"])
	assert.Equal(t, map[string]interface{}{"DeleteAfterDays": float64(365), "MoveToColdStorageAfterDays": float64(90)}, monthly["Lifecycle"])
	assert.NotContains(t, daily, "CopyActions")
}

func TestOneVaultAndOnePlanPerStack(t *testing.T) {
	// GIVEN two file systems and an Aurora cluster that joins the stack's protection
	stack := newStack(t, nil)
	cp := clusterProps(stack)
	for _, id := range []string{"Uploads", "Attachments"} {
		restorable.NewFileSystem(stack, jsii.String(id), &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: cp.Vpc}})
	}
	restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{
		DatabaseClusterProps: cp, Protection: restorable.StackProtection(stack),
	})
	tmpl := templateJSON(t, stack)
	// THEN there is one vault, one plan and one backup role, and three selections
	// into that plan, each naming one resource by reference
	for typ, want := range map[string]int{"AWS::Backup::BackupVault": 1, "AWS::Backup::BackupPlan": 1, "AWS::Backup::BackupSelection": 3} {
		ids, _ := resourcesOfType(t, tmpl, typ)
		assert.Len(t, ids, want, typ)
	}
	_, selections := resourcesOfType(t, tmpl, "AWS::Backup::BackupSelection")
	var roles, names []string
	for _, s := range selections {
		sel := props(s)["BackupSelection"].(map[string]interface{})
		roles = append(roles, fmtJSON(sel["IamRoleArn"]))
		names = append(names, sel["SelectionName"].(string))
	}
	assert.Equal(t, roles[0], roles[1])
	assert.Equal(t, roles[0], roles[2])
	assert.Len(t, map[string]bool{names[0]: true, names[1]: true, names[2]: true}, 3, "selection names are unique")
	clusterID := clusterIDOf(t, tmpl)
	var all string
	for _, s := range selections {
		all += fmtJSON(props(s)["BackupSelection"].(map[string]interface{})["Resources"])
	}
	assert.Contains(t, all, `:cluster:",{"Ref":"`+clusterID+`"}`)
	// AND the cluster keeps the continuous rule's retention, as AWS Backup manages it
	assert.Equal(t, float64(35), clusterOf(t, tmpl)["BackupRetentionPeriod"])
}

func TestAuroraRetentionFollowsTheContinuousRule(t *testing.T) {
	stack := newStack(t, nil)
	cp := clusterProps(stack)
	cp.Backup = &awsrds.BackupProps{Retention: awscdk.Duration_Days(jsii.Number(14))}
	restorable.NewAuroraCluster(stack, jsii.String("Database"), &restorable.AuroraClusterProps{DatabaseClusterProps: cp, Protection: restorable.StackProtection(stack)})
	assert.Equal(t, float64(35), clusterOf(t, templateJSON(t, stack))["BackupRetentionPeriod"])
	assertions.Annotations_FromStack(stack).HasWarning(jsii.String("/AppStack/Database"),
		assertions.Match_StringLikeRegexp(jsii.String(`Backup.Retention is 14 days, but the AWS Backup plan's continuous rule keeps 35 days`)))
}

func TestProtectionOptions(t *testing.T) {
	const drVault = "arn:aws:backup:ap-northeast-3:123456789012:backup-vault:restorable-dr"
	t.Run("copies every recovery point to another region", func(t *testing.T) {
		stack, _ := newFiles(t, nil, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
			p.Protection = restorable.NewProtection(stack, jsii.String("Protection"), &restorable.ProtectionProps{CopyToVaultArn: drVault})
		})
		tmpl := templateJSON(t, stack)
		_, plan := onlyResource(t, tmpl, "AWS::Backup::BackupPlan")
		for _, r := range props(plan)["BackupPlan"].(map[string]interface{})["BackupPlanRule"].([]interface{}) {
			rule := r.(map[string]interface{})
			copies := rule["CopyActions"].([]interface{})
			require.Len(t, copies, 1, rule["RuleName"])
			c := copies[0].(map[string]interface{})
			assert.Equal(t, drVault, c["DestinationBackupVaultArn"])
			assert.Equal(t, rule["Lifecycle"], c["Lifecycle"], "copies are kept as long as the originals")
		}
		// The backup role may copy into the destination vault.
		_, policies := resourcesOfType(t, tmpl, "AWS::IAM::Policy")
		var found bool
		for _, p := range policies {
			for _, st := range props(p)["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
				if st.(map[string]interface{})["Sid"] == "Vaults" {
					found = true
					assert.Contains(t, fmtJSON(st), drVault)
					assert.Contains(t, fmtJSON(st), "backup:CopyIntoBackupVault")
				}
			}
		}
		assert.True(t, found)
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
	tests := []struct {
		name  string
		props restorable.ProtectionProps
		want  []string
	}{
		{"copy to the same region", restorable.ProtectionProps{CopyToVaultArn: "arn:aws:backup:ap-northeast-1:123456789012:backup-vault:v"},
			[]string{`CopyToVaultArn="arn:aws:backup:ap-northeast-1:123456789012:backup-vault:v": is in the stack's own region`, "another region"}},
		{"copy to something else", restorable.ProtectionProps{CopyToVaultArn: "arn:aws:s3:ap-northeast-3:123456789012:bucket"},
			[]string{"is not an AWS Backup vault ARN", "arn:aws:backup:<region>:<account>:backup-vault:<name>"}},
		{"a lock grace time under 72 hours", restorable.ProtectionProps{VaultLock: &awsbackup.LockConfiguration{MinRetention: awscdk.Duration_Days(jsii.Number(1)), ChangeableFor: awscdk.Duration_Days(jsii.Number(1))}},
			[]string{"VaultLock.ChangeableFor", "shorter than the 72 hours"}},
		{"a lock longer than a rule", restorable.ProtectionProps{VaultLock: &awsbackup.LockConfiguration{MinRetention: awscdk.Duration_Days(jsii.Number(60))}},
			[]string{"VaultLock.MinRetention", "longer than the retention of rule Daily (35 days)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := newStack(t, nil)
			msg := panicMessage(t, func() { restorable.NewProtection(stack, jsii.String("Protection"), &tt.props) })
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
		})
	}
}

func TestFileSystemMisuse(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(p *restorable.FileSystemProps)
		want  string
	}{
		{"destroy", func(p *restorable.FileSystemProps) { p.RemovalPolicy = awscdk.RemovalPolicy_DESTROY }, `RemovalPolicy="DESTROY": would delete the file system's data`},
		{"automatic backups", func(p *restorable.FileSystemProps) { p.EnableAutomaticBackups = jsii.Bool(true) }, "backed up twice, by two plans (aws-cdk#29881)"},
		{"anonymous access", func(p *restorable.FileSystemProps) { p.AllowAnonymousAccess = jsii.Bool(true) }, "AllowAnonymousAccess=\"true\": is managed by restorable"},
		{"public subnets", func(p *restorable.FileSystemProps) {
			p.VpcSubnets = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC}
		}, "mount targets in public subnets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := panicMessage(t, func() {
				newFiles(t, nil, func(_ awscdk.Stack, p *restorable.FileSystemProps) { tt.tweak(p) })
			})
			assert.Contains(t, msg, "restorable: AppStack/Files: ")
			assert.Contains(t, msg, tt.want)
		})
	}
}

func TestFileSystemLogicalIDsMatchAPlainFileSystem(t *testing.T) {
	plainStack := newStack(t, nil)
	vpc := awsec2.NewVpc(plainStack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	awsefs.NewFileSystem(plainStack, jsii.String("Files"), &awsefs.FileSystemProps{Vpc: vpc})
	plain := templateJSON(t, plainStack)
	stack, _ := newFiles(t, nil, nil)
	restored := templateJSON(t, stack)
	assert.Equal(t, resourceIDOf(t, plain, "AWS::EFS::FileSystem"), resourceIDOf(t, restored, "AWS::EFS::FileSystem"))
	plainTargets, _ := resourcesOfType(t, plain, "AWS::EFS::MountTarget")
	targets, _ := resourcesOfType(t, restored, "AWS::EFS::MountTarget")
	assert.Equal(t, plainTargets, targets)
}

func TestFileSystemGuard(t *testing.T) {
	stack, _ := newFiles(t, nil, nil)
	tmpl := templateJSON(t, stack)
	fsID, fs := onlyResource(t, tmpl, "AWS::EFS::FileSystem")
	guardID, g := guardFor(t, tmpl, fsID)
	assert.Contains(t, fs["DependsOn"], guardID)
	assert.Equal(t, map[string]interface{}{"Encrypted": true, "KmsKeyId": props(fs)["KmsKeyId"]}, g["CreateOnly"])
	assert.Equal(t, map[string]interface{}{}, g["Source"])
	assert.Equal(t, "AppStack/Files.allowReplace", g["ConsentKey"])

	// A new performance mode is a create-only change the guard sees.
	maxIO, _ := newFiles(t, nil, func(_ awscdk.Stack, p *restorable.FileSystemProps) { p.PerformanceMode = awsefs.PerformanceMode_MAX_IO })
	after := templateJSON(t, maxIO)
	assert.Equal(t, []string{"Properties.CreateOnly.PerformanceMode"}, changesOf(templateChanges(tmpl, after), guardID))
}

func TestExampleMountsTheFilesOverTLSWithIAM(t *testing.T) {
	_, tmpl, _ := example(t, nil)
	fsID := resourceIDOf(t, tmpl, "AWS::EFS::FileSystem")
	apID, _ := applicationAccessPoint(t, tmpl)
	_, taskDef := onlyResource(t, tmpl, "AWS::ECS::TaskDefinition")
	assert.Equal(t, []interface{}{map[string]interface{}{
		"Name": "files",
		"EFSVolumeConfiguration": map[string]interface{}{
			"FilesystemId":        map[string]interface{}{"Ref": fsID},
			"TransitEncryption":   "ENABLED",
			"AuthorizationConfig": map[string]interface{}{"AccessPointId": map[string]interface{}{"Ref": apID}, "IAM": "ENABLED"},
		},
	}}, props(taskDef)["Volumes"])
	container := props(taskDef)["ContainerDefinitions"].([]interface{})[0].(map[string]interface{})
	assert.Equal(t, []interface{}{map[string]interface{}{"ContainerPath": "/usr/src/redmine/files", "ReadOnly": false, "SourceVolume": "files"}}, container["MountPoints"])
	// The task role may mount and write, through a mount target only.
	taskRole := props(taskDef)["TaskRoleArn"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	_, policies := resourcesOfType(t, tmpl, "AWS::IAM::Policy")
	var grant string
	for _, p := range policies {
		if fmtJSON(props(p)["Roles"]) == fmtJSON([]interface{}{map[string]interface{}{"Ref": taskRole}}) {
			grant = fmtJSON(props(p)["PolicyDocument"])
		}
	}
	assert.Contains(t, grant, `"Action":["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"]`)
	assert.Contains(t, grant, `"Condition":{"Bool":{"elasticfilesystem:AccessedViaMountTarget":"true"}}`)
	assert.Contains(t, grant, `{"Fn::GetAtt":["`+fsID+`","Arn"]}`)
	// The tasks reach the mount targets on port 2049.
	_, ingress := resourcesOfType(t, tmpl, "AWS::EC2::SecurityGroupIngress")
	var nfs bool
	for _, i := range ingress {
		if props(i)["FromPort"] == float64(2049) && props(i)["ToPort"] == float64(2049) {
			nfs = true
		}
	}
	assert.True(t, nfs)
	// And the file system and the cluster are selected in the one plan.
	_, selections := resourcesOfType(t, tmpl, "AWS::Backup::BackupSelection")
	assert.Len(t, selections, 2)
}
