package test

import (
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/restorable"
)

const efsRecoveryPoint = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"

// filesFromContext builds a restorable file system named Files that reads its
// recovery point from the context.
func filesFromContext(t *testing.T, ctx map[string]string) awscdk.Stack {
	t.Helper()
	stack, _ := newFiles(t, ctx, func(stack awscdk.Stack, p *restorable.FileSystemProps) {
		rp, err := restorable.FileSystemRecoveryPointFromContext(stack, "Files")
		require.NoError(t, err)
		p.RecoveryPointArn = rp
	})
	return stack
}

// functionWithHandler returns the logical ID and properties of the one function
// whose RESTORABLE_HANDLER is handler.
func functionWithHandler(t *testing.T, tmpl map[string]interface{}, handler string) (string, map[string]interface{}) {
	t.Helper()
	ids, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
	var id string
	var found map[string]interface{}
	for i, fn := range fns {
		if strings.Contains(fmtJSON(props(fn)["Environment"]), `"RESTORABLE_HANDLER":"`+handler+`"`) {
			require.Nil(t, found, "one %s function", handler)
			id, found = ids[i], fn
		}
	}
	require.NotNil(t, found, handler)
	return id, found
}

// statementsOf returns the policy statements attached to a role.
func statementsOf(t *testing.T, tmpl map[string]interface{}, roleID string) []map[string]interface{} {
	t.Helper()
	_, policies := resourcesOfType(t, tmpl, "AWS::IAM::Policy")
	var out []map[string]interface{}
	for _, p := range policies {
		if strings.Contains(fmtJSON(props(p)["Roles"]), `{"Ref":"`+roleID+`"}`) {
			for _, st := range props(p)["PolicyDocument"].(map[string]interface{})["Statement"].([]interface{}) {
				out = append(out, st.(map[string]interface{}))
			}
		}
	}
	return out
}

func statementBySid(t *testing.T, statements []map[string]interface{}, sid string) map[string]interface{} {
	t.Helper()
	for _, st := range statements {
		if st["Sid"] == sid {
			return st
		}
	}
	t.Fatalf("no statement %s in %v", sid, statements)
	return nil
}

func roleOf(fn map[string]interface{}) string {
	return props(fn)["Role"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
}

func TestRecoveryPointRestoreResource(t *testing.T) {
	stack := filesFromContext(t, map[string]string{"efsRecoveryPointArn": efsRecoveryPoint})
	tmpl := templateJSON(t, stack)
	fsID := resourceIDOf(t, tmpl, "AWS::EFS::FileSystem")
	_, cr := onlyResource(t, tmpl, restorable.EFSRestoreResourceType)
	p := props(cr)
	moverID, _ := functionWithHandler(t, tmpl, "efs-mover")
	startID, _ := functionWithHandler(t, tmpl, "efs-restore-start")
	assert.Equal(t, efsRecoveryPoint, p["RecoveryPointArn"])
	assert.Equal(t, map[string]interface{}{"Ref": fsID}, p["FileSystemId"])
	assert.Equal(t, "true", p["Encrypted"])
	assert.Equal(t, "generalPurpose", p["PerformanceMode"])
	assert.Contains(t, fmtJSON(p["KmsKeyId"]), "Fn::GetAtt")
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{moverID, "Arn"}}, p["MoverFunction"])
	assert.Contains(t, fmtJSON(p["RestoreRoleArn"]), "RestoreRestoreRole")
	assert.Equal(t, "AppStack/Files", p["Resource"])
	assert.Equal(t, "Delete", cr["DeletionPolicy"], "removing the restore never touches data")
	// Its provider: the framework's onEvent calls the start function, and
	// isComplete polls every 30 s for two hours.
	_, sm := onlyResource(t, tmpl, "AWS::StepFunctions::StateMachine")
	assert.Contains(t, fmtJSON(props(sm)["DefinitionString"]), `\"IntervalSeconds\":30,\"MaxAttempts\":240`)
	tokenTarget := p["ServiceToken"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	_, framework := resourceByID(t, tmpl, tokenTarget)
	env := fmtJSON(props(framework)["Environment"])
	assert.Contains(t, env, `"USER_ON_EVENT_FUNCTION_ARN":{"Fn::GetAtt":["`+startID+`","Arn"]}`)
	assert.Contains(t, env, "WAITER_STATE_MACHINE_ARN")
	assert.Empty(t, validationViolations(t, *awscdk.Stage_Of(stack).Outdir(), "CloudFormation Validate"))
}

func TestRestoreTransitionsTouchNoStatefulResource(t *testing.T) {
	none := templateJSON(t, filesFromContext(t, nil))
	restored := templateJSON(t, filesFromContext(t, map[string]string{"efsRecoveryPointArn": efsRecoveryPoint}))
	again := templateJSON(t, filesFromContext(t, map[string]string{"AppStack/Files.efsRecoveryPointArn": efsRecoveryPoint}))
	crID := resourceIDOf(t, restored, restorable.EFSRestoreResourceType)
	policies := []string{orchestratorPolicyID(t, restored) + ".Properties.PolicyDocument.Statement", restoreRolePolicyID(t, restored) + ".Properties.PolicyDocument.Statement"}
	sort.Strings(policies)
	// none -> a recovery point adds the restore, and the permissions to restore
	// that recovery point; the machinery is there already.
	assert.Equal(t, append([]string{"+" + crID}, policies...), templateChanges(none, restored))
	// The same recovery point on a later deploy changes nothing.
	assert.Empty(t, templateChanges(restored, again))
	// Removing the value removes the restore resource, whose Delete does
	// nothing, and the permissions; the file system, its guard and its
	// backups are untouched.
	assert.Equal(t, append([]string{"-" + crID}, policies...), templateChanges(restored, none))
	_, fs := onlyResource(t, restored, "AWS::EFS::FileSystem")
	_, fsNone := onlyResource(t, none, "AWS::EFS::FileSystem")
	assert.Equal(t, fsNone, fs)
}

func TestMoverRunsInTheVPCOnTheFileSystemRoot(t *testing.T) {
	tmpl := templateJSON(t, filesFromContext(t, nil))
	_, mover := functionWithHandler(t, tmpl, "efs-mover")
	p := props(mover)
	assert.Equal(t, "provided.al2023", p["Runtime"])
	assert.Equal(t, []interface{}{"arm64"}, p["Architectures"])
	assert.Equal(t, float64(600), p["Timeout"])
	// In the VPC's private subnets, with its own security group.
	vpc := p["VpcConfig"].(map[string]interface{})
	for _, s := range vpc["SubnetIds"].([]interface{}) {
		assert.Regexp(t, `^VpcPrivateSubnet`, s.(map[string]interface{})["Ref"])
	}
	sgID := vpc["SecurityGroupIds"].([]interface{})[0].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	_, sg := resourceByID(t, tmpl, sgID)
	// It reaches only the file system, on 2049. The group has no inline egress
	// and one AWS::EC2::SecurityGroupEgress resource; CloudFormation removes the
	// default allow-all rule when it adds that rule
	// (https://github.com/aws-cloudformation/cfn-language-discussion/issues/157,
	// and the CDK's SecurityGroup.addEgressRule relies on it).
	assert.NotContains(t, props(sg), "SecurityGroupEgress")
	_, egress := resourcesOfType(t, tmpl, "AWS::EC2::SecurityGroupEgress")
	var nfs []string
	for _, e := range egress {
		if fmtJSON(props(e)["GroupId"]) == fmtJSON(map[string]interface{}{"Fn::GetAtt": []interface{}{sgID, "GroupId"}}) {
			nfs = append(nfs, fmtJSON([]interface{}{props(e)["FromPort"], props(e)["ToPort"], props(e)["DestinationSecurityGroupId"]}))
		}
	}
	require.Len(t, nfs, 1)
	assert.Contains(t, nfs[0], `[2049,2049,{"Fn::GetAtt":["FilesEfsSecurityGroup`)
	// It mounts the root access point, which acts as root, and waits for the
	// mount targets.
	apID := ""
	ids, aps := resourcesOfType(t, tmpl, "AWS::EFS::AccessPoint")
	for i, ap := range aps {
		if props(ap)["RootDirectory"].(map[string]interface{})["Path"] == "/" {
			apID = ids[i]
			assert.Equal(t, map[string]interface{}{"Uid": "0", "Gid": "0"}, props(ap)["PosixUser"])
		}
	}
	require.NotEmpty(t, apID)
	assert.Contains(t, fmtJSON(p["FileSystemConfigs"]), `:access-point/",{"Ref":"`+apID+`"}`)
	assert.Contains(t, fmtJSON(p["FileSystemConfigs"]), `"LocalMountPath":"/mnt/efs"`)
	targets, _ := resourcesOfType(t, tmpl, "AWS::EFS::MountTarget")
	for _, mt := range targets {
		assert.Contains(t, mover["DependsOn"], mt)
	}
	// Its role: root access through that access point only, its network
	// interfaces and its logs; no AWS-managed policy.
	roleID := roleOf(mover)
	_, role := resourceByID(t, tmpl, roleID)
	assert.NotContains(t, props(role), "ManagedPolicyArns")
	st := statementsOf(t, tmpl, roleID)
	root := statementBySid(t, st, "MountAsRoot")
	assert.Equal(t, "elasticfilesystem:ClientRootAccess", root["Action"])
	assert.Contains(t, fmtJSON(root["Condition"]), `"elasticfilesystem:AccessPointArn"`)
	assert.Contains(t, fmtJSON(root["Condition"]), apID)
}

func TestRestoreRolesAreLeastPrivilege(t *testing.T) {
	tmpl := templateJSON(t, filesFromContext(t, nil))
	fsID := resourceIDOf(t, tmpl, "AWS::EFS::FileSystem")
	// The restore role: only AWS Backup, for this account, may assume it, and it
	// may restore into this file system only.
	var restoreRoleID string
	ids, roles := resourcesOfType(t, tmpl, "AWS::IAM::Role")
	for i, r := range roles {
		if strings.Contains(fmtJSON(props(r)["AssumeRolePolicyDocument"]), "backup.amazonaws.com") && strings.Contains(ids[i], "RestoreRole") {
			restoreRoleID = ids[i]
			assert.Equal(t, map[string]interface{}{"Statement": []interface{}{map[string]interface{}{
				"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]interface{}{"Service": "backup.amazonaws.com"},
				"Condition": map[string]interface{}{"StringEquals": map[string]interface{}{"aws:SourceAccount": "123456789012"}},
			}}, "Version": "2012-10-17"}, props(r)["AssumeRolePolicyDocument"])
		}
	}
	require.NotEmpty(t, restoreRoleID)
	st := statementsOf(t, tmpl, restoreRoleID)
	restore := statementBySid(t, st, "RestoreIntoThisFileSystem")
	assert.Equal(t, []interface{}{"elasticfilesystem:Restore", "elasticfilesystem:DescribeFileSystems"}, restore["Action"])
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{fsID, "Arn"}}, restore["Resource"])
	assert.Contains(t, fmtJSON(statementBySid(t, st, "UseKeysThroughEFS")["Condition"]), "elasticfilesystem.*.amazonaws.com")
	for _, s := range st {
		assert.NotContains(t, fmtJSON(s["Action"]), "CreateFilesystem")
		assert.NotContains(t, fmtJSON(s["Action"]), "DeleteFilesystem")
	}
	// The orchestrator: start restores, pass exactly that role to AWS Backup, and
	// invoke the mover.
	_, start := functionWithHandler(t, tmpl, "efs-restore-start")
	_, complete := functionWithHandler(t, tmpl, "efs-restore-complete")
	assert.Equal(t, roleOf(start), roleOf(complete))
	orch := statementsOf(t, tmpl, roleOf(start))
	var pass, invoke bool
	moverID, _ := functionWithHandler(t, tmpl, "efs-mover")
	for _, s := range orch {
		if s["Action"] == "iam:PassRole" {
			pass = true
			assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{restoreRoleID, "Arn"}}, s["Resource"])
			assert.Equal(t, map[string]interface{}{"StringEquals": map[string]interface{}{"iam:PassedToService": "backup.amazonaws.com"}}, s["Condition"])
		}
		if s["Action"] == "lambda:InvokeFunction" {
			invoke = true
			assert.Contains(t, fmtJSON(s["Resource"]), moverID)
		}
	}
	assert.True(t, pass)
	assert.True(t, invoke)
	// Without a recovery point the orchestrator may start no restore; with one,
	// it may start a restore of that recovery point only.
	for _, s := range orch {
		assert.NotContains(t, fmtJSON(s["Action"]), "backup:StartRestoreJob")
	}
	restoring := templateJSON(t, filesFromContext(t, map[string]string{"efsRecoveryPointArn": efsRecoveryPoint}))
	_, start = functionWithHandler(t, restoring, "efs-restore-start")
	this := statementBySid(t, statementsOf(t, restoring, roleOf(start)), "RestoreThisRecoveryPointAppStackFiles")
	assert.Equal(t, []interface{}{"backup:StartRestoreJob", "backup:DescribeRecoveryPoint", "backup:GetRecoveryPointRestoreMetadata"}, this["Action"])
	assert.Equal(t, efsRecoveryPoint, this["Resource"])
}

func TestACopyFromAnotherFileSystemIsWiredInTheTemplate(t *testing.T) {
	// GIVEN a file system restoring a recovery point, which may turn out, at
	// deploy, to be of another file system (a copy in a DR vault)
	stack := filesFromContext(t, map[string]string{"efsRecoveryPointArn": efsRecoveryPoint})
	tmpl := templateJSON(t, stack)
	fsID := resourceIDOf(t, tmpl, "AWS::EFS::FileSystem")
	_, cr := onlyResource(t, tmpl, restorable.EFSRestoreResourceType)
	p := props(cr)
	// THEN the restore names the transfer subnet, security group and role
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{fsID, "Arn"}}, p["FileSystemArn"])
	assert.Regexp(t, `^VpcPrivateSubnet1Subnet`, p["TransferSubnetId"].(map[string]interface{})["Ref"])
	assert.Contains(t, fmtJSON(p["TransferSubnetArn"]), `:subnet/",{"Ref":"VpcPrivateSubnet1Subnet`)
	sgID := p["TransferSecurityGroupId"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	assert.Contains(t, fmtJSON(p["TransferSecurityGroupArn"]), `:security-group/",{"Fn::GetAtt":["`+sgID+`","GroupId"]}`)
	// AND the transfer security group reaches itself (the temporary mount
	// target) and the file system's mount targets, on NFS only
	_, sg := resourceByID(t, tmpl, sgID)
	assert.NotContains(t, props(sg), "SecurityGroupEgress")
	var rules []string
	for _, typ := range []string{"AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"} {
		_, rs := resourcesOfType(t, tmpl, typ)
		for _, r := range rs {
			if j := fmtJSON(props(r)); strings.Contains(j, sgID) {
				assert.Equal(t, float64(2049), props(r)["FromPort"], j)
				assert.Equal(t, float64(2049), props(r)["ToPort"], j)
				rules = append(rules, typ)
			}
		}
	}
	assert.ElementsMatch(t, []string{"AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress", "AWS::EC2::SecurityGroupEgress"}, rules,
		"in from itself, out to itself, and the file system's group: in from it, and its out to the file system's group")
	// AND only DataSync, for this account, can assume the transfer role,
	// which may write into this file system as root, over a mount target
	roleID := p["TransferRoleArn"].(map[string]interface{})["Fn::GetAtt"].([]interface{})[0].(string)
	_, role := resourceByID(t, tmpl, roleID)
	assert.Contains(t, fmtJSON(props(role)["AssumeRolePolicyDocument"]), `"Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}},"Effect":"Allow","Principal":{"Service":"datasync.amazonaws.com"}`)
	write := statementBySid(t, statementsOf(t, tmpl, roleID), "WriteAsRoot")
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{fsID, "Arn"}}, write["Resource"])
	assert.Contains(t, fmtJSON(write["Condition"]), `"elasticfilesystem:AccessedViaMountTarget":"true"`)
	// AND the orchestrator may delete only file systems tagged with a restore
	// request, and never this one
	_, start := functionWithHandler(t, tmpl, "efs-restore-start")
	orch := statementsOf(t, tmpl, roleOf(start))
	manage := statementBySid(t, orch, "ManageTemporaryFileSystemsAppStackFiles")
	assert.Equal(t, map[string]interface{}{"StringLike": map[string]interface{}{"aws:ResourceTag/restorable:restore-request": "*"}}, manage["Condition"])
	never := statementBySid(t, orch, "NeverThisFileSystemAppStackFiles")
	assert.Equal(t, "Deny", never["Effect"])
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{fsID, "Arn"}}, never["Resource"])
	assert.Subset(t, never["Action"], []interface{}{"elasticfilesystem:DeleteFileSystem", "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:TagResource"})
	pass := statementBySid(t, orch, "PassTransferRoleAppStackFiles")
	assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{roleID, "Arn"}}, pass["Resource"])
	// AND AWS Backup may create the temporary file system, never delete one
	create := statementBySid(t, statementsOf(t, tmpl, restoreRolePolicyRole(t, tmpl)), "RestoreIntoATemporaryFileSystem")
	assert.NotContains(t, fmtJSON(create["Action"]), "Delete")
	assert.Contains(t, fmtJSON(create["Action"]), "elasticfilesystem:CreateFilesystem")
	assert.Empty(t, validationViolations(t, *awscdk.Stage_Of(stack).Outdir(), "CloudFormation Validate"))
}

// restoreRolePolicyRole is the logical ID of the role AWS Backup restores with.
func restoreRolePolicyRole(t *testing.T, tmpl map[string]interface{}) string {
	t.Helper()
	ids, _ := resourcesOfType(t, tmpl, "AWS::IAM::Role")
	for _, id := range ids {
		if strings.HasPrefix(id, "FilesRestoreRestoreRole") {
			return id
		}
	}
	t.Fatal("no restore role")
	return ""
}

// restoreRolePolicyID is the logical ID of the policy of the role AWS Backup
// restores with.
func restoreRolePolicyID(t *testing.T, tmpl map[string]interface{}) string {
	t.Helper()
	ids, policies := resourcesOfType(t, tmpl, "AWS::IAM::Policy")
	for i, p := range policies {
		if strings.Contains(fmtJSON(props(p)["Roles"]), "RestoreRestoreRole") {
			return ids[i]
		}
	}
	t.Fatal("no policy for the restore role")
	return ""
}

// orchestratorPolicyID is the logical ID of the EFS restore orchestrator's
// role policy.
func orchestratorPolicyID(t *testing.T, tmpl map[string]interface{}) string {
	t.Helper()
	_, start := functionWithHandler(t, tmpl, "efs-restore-start")
	ids, policies := resourcesOfType(t, tmpl, "AWS::IAM::Policy")
	for i, p := range policies {
		if fmtJSON(props(p)["Roles"]) == fmtJSON([]interface{}{map[string]interface{}{"Ref": roleOf(start)}}) {
			return ids[i]
		}
	}
	t.Fatal("no policy for the orchestrator's role")
	return ""
}

func TestOneOrchestratorPerStackOneMoverPerFileSystem(t *testing.T) {
	stack := newStack(t, nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	for _, id := range []string{"Uploads", "Attachments"} {
		restorable.NewFileSystem(stack, jsii.String(id), &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: vpc}})
	}
	tmpl := templateJSON(t, stack)
	count := func(handler string) int {
		n := 0
		_, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
		for _, fn := range fns {
			if strings.Contains(fmtJSON(props(fn)["Environment"]), `"RESTORABLE_HANDLER":"`+handler+`"`) {
				n++
			}
		}
		return n
	}
	assert.Equal(t, 1, count("efs-restore-start"))
	assert.Equal(t, 1, count("efs-restore-complete"))
	assert.Equal(t, 2, count("efs-mover"), "a Lambda function mounts one file system")
	sms, _ := resourcesOfType(t, tmpl, "AWS::StepFunctions::StateMachine")
	assert.Len(t, sms, 1)
}

func TestEFSRecoveryPointContextKeys(t *testing.T) {
	t.Run("a bare key with two file systems fails and names them", func(t *testing.T) {
		stack := newStack(t, map[string]string{"efsRecoveryPointArn": efsRecoveryPoint})
		vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
		for _, id := range []string{"Uploads", "Attachments"} {
			rp, err := restorable.FileSystemRecoveryPointFromContext(stack, id)
			require.NoError(t, err)
			restorable.NewFileSystem(stack, jsii.String(id), &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: vpc}, RecoveryPointArn: rp})
		}
		msg := panicMessage(t, func() { templateJSON(t, stack) })
		assert.Contains(t, msg, `context key "efsRecoveryPointArn" applies only when the app has exactly one restorable file system, and this app has 2: AppStack/Uploads, AppStack/Attachments`)
	})
	t.Run("an Aurora recovery point is refused with the key to use", func(t *testing.T) {
		stack := newStack(t, map[string]string{"efsRecoveryPointArn": "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:awsbackup:job-1"})
		_, err := restorable.FileSystemRecoveryPointFromContext(stack, "Files")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `restorable: efsRecoveryPointArn="arn:aws:rds:`)
		assert.Contains(t, err.Error(), "give it to the cluster: -c snapshotArn=")
	})
	t.Run("a recovery point in another region is refused with the copy command", func(t *testing.T) {
		stack := newStack(t, nil)
		vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2)})
		msg := panicMessage(t, func() {
			restorable.NewFileSystem(stack, jsii.String("Files"), &restorable.FileSystemProps{FileSystemProps: awsefs.FileSystemProps{Vpc: vpc},
				RecoveryPointArn: strings.Replace(efsRecoveryPoint, "ap-northeast-1", "ap-northeast-3", 1)})
		})
		assert.Contains(t, msg, "restorable: AppStack/Files: FileSystemProps.RecoveryPointArn=")
		assert.Contains(t, msg, "aws backup start-copy-job")
	})
	t.Run("synth says what the restore will do", func(t *testing.T) {
		stack := filesFromContext(t, map[string]string{"efsRecoveryPointArn": efsRecoveryPoint})
		templateJSON(t, stack)
		assertions.Annotations_FromStack(stack).HasWarning(jsii.String("/AppStack/Files"),
			assertions.Match_StringLikeRegexp(jsii.String(`restoring recovery point .* moving any current entry it would replace to /\.restorable/pre-restore-<time>-<request> \(nothing is deleted\)`)))
	})
}
