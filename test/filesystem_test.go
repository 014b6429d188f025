package test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/restorable"
)

func TestAFileSystemAtRest(t *testing.T) {
	// GIVEN a restorable file system with no restore, and a task role granted
	// read and write
	var role awsiam.Role
	stack, files := newFiles(t, nil, cfnValidated, func(stack awscdk.Stack, _ *restorable.FileSystemProps) {
		role = awsiam.NewRole(stack, jsii.String("Task"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil)})
	})
	files.GrantReadWrite(role)
	tmpl := templateJSON(t, stack)
	fsID, fs := byPath(t, tmpl, "AppStack/Files/Default")
	p := props(fs)
	t.Run("encrypted with a rotating key, kept, backed up by one plan", func(t *testing.T) {
		keyID, key := byPath(t, tmpl, "AppStack/Files/Key")
		assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{keyID, "Arn"}}, p["KmsKeyId"])
		assert.Equal(t, true, p["Encrypted"])
		assert.Equal(t, true, props(key)["EnableKeyRotation"])
		assert.Equal(t, "Retain", key["DeletionPolicy"])
		assert.Equal(t, "Retain", fs["DeletionPolicy"])
		assert.Equal(t, "Retain", fs["UpdateReplacePolicy"])
		assert.Equal(t, map[string]interface{}{"Status": "DISABLED"}, p["BackupPolicy"])
		_, sel := onlyResource(t, tmpl, "AWS::Backup::BackupSelection")
		assert.Contains(t, fmtJSON(props(sel)["BackupSelection"].(map[string]interface{})["Resources"]), `:file-system/",{"Ref":"`+fsID+`"}`)
	})
	t.Run("the policy: TLS only, through an access point only, and nothing allowed by itself", func(t *testing.T) {
		assert.Equal(t, []interface{}{
			map[string]interface{}{"Sid": "DenyWithoutTLS", "Effect": "Deny", "Principal": map[string]interface{}{"AWS": "*"}, "Action": "*",
				"Condition": map[string]interface{}{"Bool": map[string]interface{}{"aws:SecureTransport": "false"}}},
			map[string]interface{}{"Sid": "OnlyThroughAnAccessPoint", "Effect": "Deny", "Principal": map[string]interface{}{"AWS": "*"},
				"Action":    []interface{}{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"},
				"Condition": map[string]interface{}{"Null": map[string]interface{}{"elasticfilesystem:AccessPointArn": "true"}}},
		}, p["FileSystemPolicy"].(map[string]interface{})["Statement"])
	})
	t.Run("one access point, the application's", func(t *testing.T) {
		apID, ap := onlyResource(t, tmpl, "AWS::EFS::AccessPoint")
		assert.Equal(t, map[string]interface{}{"Path": "/data", "CreationInfo": map[string]interface{}{"OwnerUid": "1000", "OwnerGid": "1000", "Permissions": "750"}}, props(ap)["RootDirectory"])
		assert.Equal(t, stack.Resolve(files.AccessPoint().AccessPointId()), map[string]interface{}{"Ref": apID})
		// GrantReadWrite ties the client to that access point and to a mount target.
		roleID, _ := byPath(t, tmpl, "AppStack/Task")
		grants := statementsOf(t, tmpl, roleID)
		require.Len(t, grants, 1)
		assert.Equal(t, []interface{}{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"}, grants[0]["Action"])
		assert.Equal(t, map[string]interface{}{
			"Bool": map[string]interface{}{"elasticfilesystem:AccessedViaMountTarget": "true"},
			"StringEquals": map[string]interface{}{"elasticfilesystem:AccessPointArn": map[string]interface{}{"Fn::Join": []interface{}{"", []interface{}{
				"arn:", map[string]interface{}{"Ref": "AWS::Partition"}, ":elasticfilesystem:ap-northeast-1:123456789012:access-point/", map[string]interface{}{"Ref": apID}}}}},
		}, grants[0]["Condition"])
	})
	t.Run("no restore machinery: no function in the VPC, no state machine, no root access point", func(t *testing.T) {
		assert.Empty(t, functionsWithHandler(tmpl, contract.HandlerMover))
		assert.Empty(t, functionsWithHandler(tmpl, contract.HandlerEFSRestore))
		for _, typ := range []string{"AWS::StepFunctions::StateMachine", "AWS::CloudFormation::WaitCondition", restorable.EFSRestoreResourceType} {
			ids, _ := resourcesOfType(t, tmpl, typ)
			assert.Empty(t, ids, typ)
		}
		_, fns := resourcesOfType(t, tmpl, "AWS::Lambda::Function")
		for _, fn := range fns {
			assert.NotContains(t, props(fn), "VpcConfig")
		}
	})
	t.Run("the guard watches its create-only properties", func(t *testing.T) {
		entry := guardProps(t, tmpl).Resources[fsID]
		assert.Equal(t, map[string]interface{}{"Encrypted": true, "KmsKeyId": p["KmsKeyId"]}, entry.CreateOnly)
		assert.Contains(t, fs["DependsOn"], guardIDOf(t, tmpl))
	})
	t.Run("outputs", func(t *testing.T) {
		outputs := tmpl["Outputs"].(map[string]interface{})
		assert.Equal(t, map[string]interface{}{"Ref": fsID}, outputs["FilesFileSystemId"].(map[string]interface{})["Value"])
		assert.Contains(t, fmtJSON(outputs["FilesListRecoveryPointsCommand"]), "aws backup list-recovery-points-by-resource --resource-arn ")
		expectValid(t, *awscdk.Stage_Of(stack).Outdir())
	})
}

func TestAFileSystemRestore(t *testing.T) {
	// GIVEN the file system restoring a recovery point
	stack, _ := newFiles(t, map[string]string{"efsRecoveryPointArn": efsRecoveryPoint}, cfnValidated)
	tmpl := templateJSON(t, stack)
	fsID, fs := byPath(t, tmpl, "AppStack/Files/Default")
	guardID := guardIDOf(t, tmpl)
	startID, start := byPath(t, tmpl, "AppStack/Files/Restore/Start")
	waitID, wait := onlyResource(t, tmpl, "AWS::CloudFormation::WaitCondition")
	handleID, _ := onlyResource(t, tmpl, "AWS::CloudFormation::WaitConditionHandle")
	require.True(t, strings.HasPrefix(cdkPath(wait), "AppStack/Files/Restore/Done1EB3B5E79EB0435AA80B108B488B0D45"), cdkPath(wait))
	fnID, fn := functionWithHandler(t, tmpl, contract.HandlerEFSRestore)
	moverID, mover := functionWithHandler(t, tmpl, contract.HandlerMover)
	machineID, machine := onlyResource(t, tmpl, "AWS::StepFunctions::StateMachine")
	sp := props(start)

	t.Run("a short custom resource starts the execution, and a wait condition waits up to 12 hours", func(t *testing.T) {
		assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{fnID, "Arn"}}, sp["ServiceToken"])
		assert.Equal(t, "900", fmtJSONString(sp["ServiceTimeout"]))
		assert.Equal(t, efsRecoveryPoint, sp[contract.RestoreRecoveryPointArn])
		assert.Equal(t, map[string]interface{}{"Ref": fsID}, sp[contract.RestoreFileSystemID])
		assert.Equal(t, map[string]interface{}{"Ref": handleID}, sp[contract.RestoreWaitHandle])
		assert.Equal(t, map[string]interface{}{"Ref": machineID}, sp[contract.RestoreStateMachineArn])
		assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{moverID, "Arn"}}, sp[contract.RestoreMoverFunction])
		assert.Equal(t, "43200", props(wait)["Timeout"])
		assert.Equal(t, map[string]interface{}{"Ref": handleID}, props(wait)["Handle"])
		assert.Equal(t, float64(1), props(wait)["Count"])
		assert.Contains(t, wait["DependsOn"], startID)
		// The guard first, then the file system's policy, then the restore.
		assert.Contains(t, start["DependsOn"], guardID)
		assert.Contains(t, start["DependsOn"], fsID)
		_, fnFull := resourceByID(t, tmpl, fnID)
		assert.NotContains(t, props(fnFull), "VpcConfig", "the orchestrator runs outside the VPC")
		assert.Equal(t, float64(900), props(fn)["Timeout"])
	})
	t.Run("the state machine steps every 30 seconds and fails the deploy on errors", func(t *testing.T) {
		var definition map[string]interface{}
		require.NoError(t, json.Unmarshal([]byte(joinedString(t, props(machine)["DefinitionString"])), &definition))
		states := definition["States"].(map[string]interface{})
		assert.Equal(t, "Step", definition["StartAt"])
		assert.Equal(t, float64(30), states["Wait"].(map[string]interface{})["Seconds"])
		step := states["Step"].(map[string]interface{})
		assert.Equal(t, "SignalFailure", step["Catch"].([]interface{})[0].(map[string]interface{})["Next"])
		retry := step["Retry"].([]interface{})[0].(map[string]interface{})
		assert.NotContains(t, retry["ErrorEquals"], "States.ALL", "a step is retried only when Lambda itself failed to run it")
		assert.Equal(t, "fail", states["SignalFailure"].(map[string]interface{})["Parameters"].(map[string]interface{})["Payload"].(map[string]interface{})["action"])
		assert.Equal(t, "STANDARD", props(machine)["StateMachineType"])
	})
	t.Run("the mover runs in the VPC on the root, through an access point that exists only now", func(t *testing.T) {
		vpcConfig := props(mover)["VpcConfig"].(map[string]interface{})
		require.Len(t, vpcConfig["SecurityGroupIds"], 1)
		mount := props(mover)["FileSystemConfigs"].([]interface{})[0].(map[string]interface{})
		assert.Equal(t, contract.MoverMountPath, mount["LocalMountPath"])
		apID := refsIn(mount["Arn"])[0]
		_, ap := resourceByID(t, tmpl, apID)
		assert.Equal(t, "/", props(ap)["RootDirectory"].(map[string]interface{})["Path"])
		assert.Equal(t, map[string]interface{}{"Uid": "0", "Gid": "0"}, props(ap)["PosixUser"])
		mount2 := statementBySid(t, statementsOf(t, tmpl, roleOf(mover)), "MountTheRootAsRoot")
		assert.Equal(t, []string{apID}, refsIn(mount2["Condition"].(map[string]interface{})["StringEquals"].(map[string]interface{})["elasticfilesystem:AccessPointArn"]))
	})
	t.Run("the file system policy lets DataSync past the access point rule during the restore", func(t *testing.T) {
		policy := fmtJSON(props(fs)["FileSystemPolicy"])
		transferRole, _ := byPath(t, tmpl, "AppStack/Files/Restore/TransferRole")
		assert.Contains(t, policy, `"ArnNotEquals":{"aws:PrincipalArn":[{"Fn::GetAtt":["`+transferRole+`","Arn"]}]}`)
	})
	t.Run("no one principal can tag a file system it did not create and then delete it", func(t *testing.T) {
		statements := statementsOf(t, tmpl, roleOf(fn))
		restoreRP := statementBySid(t, statements, "RestoreThisRecoveryPointFiles")
		assert.Equal(t, efsRecoveryPoint, restoreRP["Resource"])
		orchestrator := iamPolicy(statements)
		_, cleanerFn := functionWithHandler(t, tmpl, contract.HandlerEFSCleaner)
		cleaner := iamPolicy(statementsOf(t, tmpl, roleOf(cleanerFn)))
		console := "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0fedcba9876543210"
		task := "arn:aws:datasync:ap-northeast-1:123456789012:task/task-1"
		const id = "1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
		forged := map[string]string{contract.TagRecoveryPoint: id, contract.TagRequest: "any"}
		tagged := map[string]string{contract.TagRecoveryPoint: id}
		stackFS := map[string]string{contract.TagRecoveryPoint: id, "aws:cloudformation:stack-id": "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/Other/1"}
		for _, tt := range []struct {
			who    string
			policy iamPolicy
			req    iamRequest
			want   bool
		}{
			// The orchestrator may set the restore's tag (aws:RequestTag) on a
			// file system made by the console, but then delete nothing.
			{"orchestrator", orchestrator, iamRequest{action: "elasticfilesystem:TagResource", resource: console, requestTags: forged}, true},
			{"orchestrator", orchestrator, iamRequest{action: "elasticfilesystem:TagResource", resource: console, requestTags: map[string]string{contract.TagRecoveryPoint: "another"}}, false},
			{"orchestrator", orchestrator, iamRequest{action: "elasticfilesystem:TagResource", resource: console, requestTags: map[string]string{contract.TagRecoveryPoint: id, "Name": "x"}}, false},
			{"orchestrator", orchestrator, iamRequest{action: "elasticfilesystem:DeleteFileSystem", resource: console, context: tagged}, false},
			{"orchestrator", orchestrator, iamRequest{action: "elasticfilesystem:DeleteMountTarget", resource: console, context: tagged}, false},
			{"orchestrator", orchestrator, iamRequest{action: "elasticfilesystem:UntagResource", resource: console, context: tagged}, false},
			{"orchestrator", orchestrator, iamRequest{action: "datasync:DeleteTask", resource: task, context: tagged}, false},
			{"orchestrator", orchestrator, iamRequest{action: "backup:StartRestoreJob", resource: "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:2FC4C6F8-AFC1-446B-B91C-219C599C1E56"}, false},
			// The cleaner may delete what carries the tag, and tag nothing.
			{"cleaner", cleaner, iamRequest{action: "elasticfilesystem:DeleteFileSystem", resource: console, context: tagged}, true},
			{"cleaner", cleaner, iamRequest{action: "elasticfilesystem:DeleteFileSystem", resource: console}, false},
			{"cleaner", cleaner, iamRequest{action: "elasticfilesystem:DeleteFileSystem", resource: console, context: map[string]string{contract.TagRecoveryPoint: "another"}}, false},
			{"cleaner", cleaner, iamRequest{action: "elasticfilesystem:DeleteFileSystem", resource: console, context: stackFS}, false},
			{"cleaner", cleaner, iamRequest{action: "elasticfilesystem:TagResource", resource: console, requestTags: forged}, false},
			{"cleaner", cleaner, iamRequest{action: "datasync:DeleteTask", resource: task, context: tagged}, true},
			{"cleaner", cleaner, iamRequest{action: "datasync:TagResource", resource: task, requestTags: forged}, false},
		} {
			assert.Equal(t, tt.want, tt.policy.allowsRequest(tt.req), "%s: %s on %s, resource tags %v, request tags %v", tt.who, tt.req.action, tt.req.resource, tt.req.context, tt.req.requestTags)
		}
		for _, p := range []iamPolicy{orchestrator, cleaner} {
			for _, action := range []string{"elasticfilesystem:DeleteFileSystem", "datasync:DeleteTask"} {
				resource := console
				if strings.HasPrefix(action, "datasync") {
					resource = task
				}
				tagAction := strings.Split(action, ":")[0] + ":TagResource"
				canTag := p.allowsRequest(iamRequest{action: tagAction, resource: resource, requestTags: forged})
				canDeleteTagged := p.allowsRequest(iamRequest{action: action, resource: resource, context: forged})
				assert.False(t, canTag && canDeleteTagged, "one principal can tag %s and then %s", resource, action)
			}
		}
		// Never the stack's own file system, whatever its tags.
		deny := statementBySid(t, statements, "NeverThisFileSystemFiles")
		assert.Equal(t, "Deny", deny["Effect"])
		assert.Equal(t, map[string]interface{}{"Fn::GetAtt": []interface{}{fsID, "Arn"}}, deny["Resource"])
		// Network interfaces for the temporary mount target, in this VPC only.
		vpcOnly := statementBySid(t, statements, "MountTargetInterfacesInTheVpcFiles")
		assert.Contains(t, fmtJSON(vpcOnly["Condition"]), `"ec2:Vpc"`)
	})
	t.Run("AWS Backup may restore, never delete", func(t *testing.T) {
		roleID, role := byPath(t, tmpl, "AppStack/Files/Restore/RestoreRole")
		assert.Equal(t, map[string]interface{}{"Service": "backup.amazonaws.com"}, props(role)["AssumeRolePolicyDocument"].(map[string]interface{})["Statement"].([]interface{})[0].(map[string]interface{})["Principal"])
		for _, st := range statementsOf(t, tmpl, roleID) {
			assert.NotContains(t, fmtJSON(st["Action"]), "Delete")
		}
		assert.Contains(t, fmtJSON(statementBySid(t, statementsOf(t, tmpl, roleID), "RestoreIntoATemporaryFileSystem")["Action"]), "elasticfilesystem:TagResource")
	})
	t.Run("synth says what the restore does", func(t *testing.T) {
		check(t, func() {
			assertions.Annotations_FromStack(stack).HasWarning(jsii.String("/AppStack/Files"), assertions.Match_StringLikeRegexp(jsii.String(
				`.*restoring recovery point `+efsRecoveryPoint+` into this file system, inside this deploy \(up to 12 hours\).*Stop the writers.*`)))
		})
		expectValid(t, *awscdk.Stage_Of(stack).Outdir())
	})
	t.Run("the same recovery point again changes nothing; another one gets a new wait", func(t *testing.T) {
		again := templateJSON(t, first(newFiles(t, map[string]string{"efsRecoveryPointArn": efsRecoveryPoint})))
		assert.Empty(t, templateChanges(tmpl, again))
		other := templateJSON(t, first(newFiles(t, map[string]string{"AppStack/Files.efsRecoveryPointArn": strings.Replace(efsRecoveryPoint, "1EB3B5E7", "2FC4C6F8", 1)})))
		changes := templateChanges(tmpl, other)
		assert.Contains(t, changes, "-"+waitID)
		assert.Contains(t, changes, "-"+handleID)
		for _, c := range changes {
			assert.False(t, strings.HasPrefix(c, fsID), "the file system is untouched: %s", c)
		}
	})
}

// joinedString renders a template string value (a literal or an Fn::Join of
// literals and intrinsics) with each intrinsic as "X".
func joinedString(t *testing.T, v interface{}) string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return x
	case map[string]interface{}:
		join := x["Fn::Join"].([]interface{})
		var b strings.Builder
		for _, part := range join[1].([]interface{}) {
			if s, ok := part.(string); ok {
				b.WriteString(s)
			} else {
				b.WriteString("X")
			}
		}
		return b.String()
	}
	t.Fatalf("not a string: %v", v)
	return ""
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
		{"a recovery point in another region", func(p *restorable.FileSystemProps) {
			p.RecoveryPointArn = strings.Replace(efsRecoveryPoint, "ap-northeast-1", "us-east-1", 1)
		}, "is in region us-east-1, but the stack deploys to ap-northeast-1"},
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
	awsefs.NewFileSystem(plainStack, jsii.String("Files"), &awsefs.FileSystemProps{Vpc: newVpc(plainStack)})
	plain := templateJSON(t, plainStack)
	restored := templateJSON(t, first(newFiles(t, nil)))
	plainID, _ := onlyResource(t, plain, "AWS::EFS::FileSystem")
	id, _ := onlyResource(t, restored, "AWS::EFS::FileSystem")
	assert.Equal(t, plainID, id)
	plainTargets, _ := resourcesOfType(t, plain, "AWS::EFS::MountTarget")
	targets, _ := resourcesOfType(t, restored, "AWS::EFS::MountTarget")
	assert.Equal(t, plainTargets, targets)
}

func TestExampleMountsTheFilesThroughTheAccessPointWithIAM(t *testing.T) {
	_, tmpl, _ := example(t, nil)
	fsID, _ := byPath(t, tmpl, "RedmineStack/Files/Default")
	apID, _ := byPath(t, tmpl, "RedmineStack/Files/Default/AccessPoint")
	_, taskDef := onlyResource(t, tmpl, "AWS::ECS::TaskDefinition")
	assert.Equal(t, []interface{}{map[string]interface{}{
		"Name": "files",
		"EFSVolumeConfiguration": map[string]interface{}{
			"FilesystemId":        map[string]interface{}{"Ref": fsID},
			"TransitEncryption":   "ENABLED",
			"AuthorizationConfig": map[string]interface{}{"AccessPointId": map[string]interface{}{"Ref": apID}, "IAM": "ENABLED"},
		},
	}}, props(taskDef)["Volumes"])
	grants := fmtJSON(statementsOf(t, tmpl, refOf(props(taskDef)["TaskRoleArn"])))
	assert.Contains(t, grants, `"Action":["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"]`)
	assert.Contains(t, grants, `:access-point/",{"Ref":"`+apID+`"}`)
}

func TestAReplacedFileSystemWaitsForItsOwnRestore(t *testing.T) {
	// GIVEN the recovery point kept in cdk.json
	restore := map[string]string{"efsRecoveryPointArn": efsRecoveryPoint}
	waitOf := func(tmpl map[string]interface{}) string {
		id, _ := onlyResource(t, tmpl, "AWS::CloudFormation::WaitCondition")
		return id
	}
	same := waitOf(templateJSON(t, first(newFiles(t, restore))))
	// WHEN a later deploy changes nothing else, THEN it is the same wait
	// condition, which waited once already (the restore is not repeated)
	assert.Equal(t, same, waitOf(templateJSON(t, first(newFiles(t, restore)))))
	// WHEN a deploy replaces the file system (another performance mode,
	// consented), THEN a new wait condition and handle wait for the restore
	// into the new file system, inside that deploy
	replaced := templateJSON(t, first(newFiles(t, restore, func(_ awscdk.Stack, p *restorable.FileSystemProps) {
		p.PerformanceMode = awsefs.PerformanceMode_MAX_IO
		p.AllowReplace = "fs-0123456789abcdef0"
	})))
	assert.NotEqual(t, same, waitOf(replaced))
}
