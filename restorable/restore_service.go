package restorable

import (
	"encoding/json"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// RestoreServiceID is the construct ID, at the stack's root, of the EFS
// restore's orchestrator and state machine, which exist only in a deploy that
// restores a recovery point.
const RestoreServiceID = "RestorableEfsRestore"

// stepWait is the pause between two steps of a restore. A Standard
// execution's history holds at most 25 000 events
// (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html);
// a step costs about 12, so 30 seconds keeps a 12-hour restore within it.
const stepWait = 30

// restoreService is a stack's EFS restore orchestrator: one function (not in
// a VPC) that answers the restore custom resource and runs the steps, and the
// state machine that calls a step every 30 seconds until the restore is done.
type restoreService struct {
	stack      awscdk.Stack
	fn         awslambda.Function
	role       awsiam.Role
	policy     awscdk.CfnResource
	machineArn *string
}

var restoreServices perStack[*restoreService]

// restoreServiceOf returns the restore orchestrator of scope's stack, creating
// it on first use.
func restoreServiceOf(scope constructs.Construct) *restoreService {
	return restoreServices.of(scope, newRestoreService)
}

func newRestoreService(stack awscdk.Stack) *restoreService {
	scope := constructs.NewConstruct(stack, jsii.String(RestoreServiceID))
	s := &restoreService{stack: stack}
	s.fn, s.role = newHandlerFunction(scope, "Function", contract.HandlerEFSRestore, functionOptions{
		description: "restorable: starts, runs and stops restores of the stack's file systems",
		timeout:     awscdk.Duration_Seconds(jsii.Number(contract.OrchestratorTimeout.Seconds())),
	})
	// The state machine's name is fixed from its path, so the function's
	// policy can name it without a reference, which would be circular (the
	// state machine invokes the function).
	machineName := *awscdk.Names_UniqueResourceName(scope, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(80)})
	machine := awsstepfunctions.NewStateMachine(scope, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName: jsii.String(machineName),
		Comment:          jsii.String("restorable: restores an EFS recovery point, puts the files in place, and tells CloudFormation"),
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromString(jsii.String(stepDefinition(*s.fn.FunctionArn()))),
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		// Errors only, without execution data: an execution's input carries
		// the wait condition's presigned URL, which lets anyone who reads it
		// end the deploy's wait
		// (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-log-level).
		Logs: &awsstepfunctions.LogOptions{
			Destination:          newLogGroup(scope, "StateMachineLogs"),
			Level:                awsstepfunctions.LogLevel_ERROR,
			IncludeExecutionData: jsii.Bool(false),
		},
		TracingEnabled: jsii.Bool(true),
	})
	s.fn.GrantInvoke(machine)
	s.machineArn = machine.StateMachineArn()
	arn := func(service, resource string) *string { return stackArn(stack, service, resource) }
	for _, st := range []*awsiam.PolicyStatementProps{
		{Sid: jsii.String("RunTheRestore"), Actions: jsii.Strings("states:StartExecution"), Resources: &[]*string{arn("states", "stateMachine:"+machineName)}},
		{Sid: jsii.String("StopTheRestore"), Actions: jsii.Strings("states:StopExecution", "states:DescribeExecution"), Resources: &[]*string{arn("states", "execution:"+machineName+":*")}},
		{Sid: jsii.String("ReadOwnStack"), Actions: jsii.Strings("cloudformation:DescribeStacks"), Resources: jsii.Strings(*stack.StackId())},
		// Neither action supports resource-level permissions
		// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbackup.html).
		{Sid: jsii.String("FollowRestoreJobs"), Actions: jsii.Strings("backup:DescribeRestoreJob", "backup:ListBackupVaults"), Resources: jsii.Strings("*")},
	} {
		s.role.AddToPolicy(awsiam.NewPolicyStatement(st))
	}
	s.policy = s.role.Node().TryFindChild(jsii.String("DefaultPolicy")).Node().DefaultChild().(awscdk.CfnResource)
	suppressNag(s.role, true, nagException{rule: nagWildcard, appliesTo: []string{"Resource::*"},
		reason: "backup:DescribeRestoreJob and backup:ListBackupVaults support no resource-level permissions, to follow the job and find the recovery point's vault; " +
			"on deploys that copy another file system's recovery point, so do ec2:DescribeSubnets, DescribeSecurityGroups and DescribeNetworkInterfaces (read-only) and datasync:CreateLocationEfs (allowed only with the recovery point's tag)."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:states:.+:execution:.+:\*$/`},
			reason: "The executions of this stack's restore state machine, named after the CloudFormation request that starts them."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:(elasticfilesystem:.+:file-system|datasync:.+:(task|location)|ec2:.+:(network-interface|subnet|security-group))\/\*$/`, `/^Resource::arn:.+:datasync:.+:task\/\*\/execution\/\*$/`},
			reason: "A copy's temporary file system and DataSync resources are created during the deploy, so their IDs are not known: every change to them requires the recovery point's tag (aws:ResourceTag/aws:RequestTag), file systems of any CloudFormation stack are denied, and network interfaces are limited to the VPC (ec2:Vpc)."})
	suppressNag(machine, false, nagException{rule: "AwsSolutions-SF1",
		reason: "The state machine logs errors, without execution data: its input carries the wait condition's presigned URL. Each step's own log (the orchestrator function's) records what the restore did."})
	suppressNag(machine, true, nagException{rule: nagWildcard, appliesTo: []string{"Resource::*", `/^Resource::<.+\.Arn>:\*$/`},
		reason: "The state machine's role may set up delivery of its logs and X-Ray traces, whose actions support no resource-level permissions (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy), and invoke the stack's own restore function and its versions."})
	return s
}

// stepDefinition is the state machine: a step, then a wait of stepWait
// seconds, until the step reports the restore done or failed (the step has
// signalled the wait condition either way). A step that fails over and over
// (Lambda's own errors are retried) ends in SignalFailure, which fails the
// deploy. Written in the Amazon States Language
// (https://states-language.net/spec.html).
func stepDefinition(functionArn string) string {
	invoke := func(action string, payload map[string]string, next string) map[string]interface{} {
		params := map[string]interface{}{"action": action}
		for k, v := range payload {
			params[k+".$"] = v
		}
		return map[string]interface{}{
			"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
			"Parameters":     map[string]interface{}{"FunctionName": functionArn, "Payload": params},
			"TimeoutSeconds": 960,
			"Retry": []interface{}{map[string]interface{}{
				"ErrorEquals":     []string{"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"},
				"IntervalSeconds": 5, "MaxAttempts": 5, "BackoffRate": 2,
			}},
			"ResultPath": "$.invoke", "Next": next,
		}
	}
	step := invoke("step", map[string]string{"request": "$.request", "state": "$.state"}, "Carry")
	step["Catch"] = []interface{}{map[string]interface{}{"ErrorEquals": []string{"States.ALL"}, "ResultPath": "$.error", "Next": "SignalFailure"}}
	definition := map[string]interface{}{
		"Comment": "restorable: a step every " + jsonNumber(stepWait) + " seconds until the restore is done",
		"StartAt": "Step",
		"States": map[string]interface{}{
			"Step":  step,
			"Carry": map[string]interface{}{"Type": "Pass", "Parameters": map[string]string{"request.$": "$.request", "state.$": "$.invoke.Payload"}, "Next": "Route"},
			"Route": map[string]interface{}{"Type": "Choice", "Default": "Failed", "Choices": []interface{}{
				map[string]string{"Variable": "$.state.status", "StringEquals": "wait", "Next": "Wait"},
				map[string]string{"Variable": "$.state.status", "StringEquals": "done", "Next": "Restored"},
			}},
			"Wait":          map[string]interface{}{"Type": "Wait", "Seconds": stepWait, "Next": "Step"},
			"Restored":      map[string]string{"Type": "Succeed"},
			"SignalFailure": invoke("fail", map[string]string{"request": "$.request", "state": "$.state", "error": "$.error"}, "Failed"),
			"Failed":        map[string]string{"Type": "Fail", "Error": "restorable.RestoreFailed", "Cause": "The restore failed; the wait condition was told why, and the deploy fails."},
		},
	}
	raw, _ := json.Marshal(definition)
	return string(raw)
}

func jsonNumber(n int) string {
	raw, _ := json.Marshal(n)
	return string(raw)
}

// grantRestore lets the orchestrator restore c's recovery point: start the
// job on that recovery point only, pass the roles of this restore, invoke its
// mover, and, for a recovery point of another file system, create, tag, copy
// from and delete only what carries the recovery point's tag, never a file
// system of a CloudFormation stack, and never c.
func (s *restoreService) grantRestore(c *FileSystem, r *fileSystemRestore) {
	stack := s.stack
	sid := func(name string) *string { return jsii.String(name + sidSuffix(c)) }
	arn := func(service, resource string) string { return *stackArn(stack, service, resource) }
	slash := func(service, resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String(service), Resource: jsii.String(resource), ResourceName: jsii.String("*")})
	}
	fileSystems := slash("elasticfilesystem", "file-system")
	tagged := map[string]interface{}{"StringEquals": map[string]interface{}{"aws:ResourceTag/" + contract.TagRecoveryPoint: c.point.ID}}
	tagging := map[string]interface{}{
		"StringEquals":            map[string]interface{}{"aws:RequestTag/" + contract.TagRecoveryPoint: c.point.ID},
		"ForAllValues:StringLike": map[string]interface{}{"aws:TagKeys": "restorable:*"},
	}
	statements := []*awsiam.PolicyStatementProps{
		{Sid: sid("RestoreThisRecoveryPoint"), Actions: jsii.Strings("backup:StartRestoreJob", "backup:DescribeRecoveryPoint", "backup:GetRecoveryPointRestoreMetadata"),
			Resources: jsii.Strings(c.point.ARN)},
		{Sid: sid("PassTheRestoreRole"), Actions: jsii.Strings("iam:PassRole"), Resources: &[]*string{r.restoreRole.RoleArn()},
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"iam:PassedToService": "backup.amazonaws.com"}}},
		{Sid: sid("RunTheMover"), Actions: jsii.Strings("lambda:InvokeFunction", "lambda:GetFunction"), Resources: &[]*string{r.mover.FunctionArn()}},
		// A copy through a temporary file system (internal/efsrestore/copy.go).
		{Sid: sid("ReadFileSystems"), Actions: jsii.Strings("elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeMountTargets"),
			Resources: jsii.Strings(fileSystems)},
		{Sid: sid("TagTheTemporaryFileSystem"), Actions: jsii.Strings("elasticfilesystem:TagResource"), Resources: jsii.Strings(fileSystems), Conditions: &tagging},
		// It creates and tags, and deletes nothing: the cleaner (another
		// principal, which cannot tag) deletes what carries the tag
		// (internal/efsrestore/cleaner.go).
		{Sid: sid("MountOnlyTaggedFileSystems"), Actions: jsii.Strings("elasticfilesystem:TagResource", "elasticfilesystem:CreateMountTarget"),
			Resources: jsii.Strings(fileSystems), Conditions: &tagged},
		{Sid: sid("NeverAStacksFileSystem"), Effect: awsiam.Effect_DENY, Actions: jsii.Strings("elasticfilesystem:TagResource", "elasticfilesystem:UntagResource",
			"elasticfilesystem:CreateMountTarget", "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:DeleteFileSystem"),
			Resources:  jsii.Strings(fileSystems),
			Conditions: &map[string]interface{}{"Null": map[string]interface{}{"aws:ResourceTag/aws:cloudformation:stack-id": "false"}}},
		{Sid: sid("NeverThisFileSystem"), Effect: awsiam.Effect_DENY, Actions: jsii.Strings("elasticfilesystem:TagResource", "elasticfilesystem:UntagResource",
			"elasticfilesystem:CreateMountTarget", "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:DeleteFileSystem"),
			Resources: jsii.Strings(*c.fs.FileSystemArn())},
		{Sid: sid("RunTheCleaner"), Actions: jsii.Strings("lambda:InvokeFunction"), Resources: &[]*string{r.cleaner.FunctionArn()}},
		// CreateMountTarget also needs these EC2 actions of its caller
		// (https://docs.aws.amazon.com/efs/latest/ug/API_CreateMountTarget.html);
		// the interface may be made only in the file system's VPC.
		{Sid: sid("MountTargetInterfaces"), Actions: jsii.Strings("ec2:CreateNetworkInterface"), Resources: jsii.Strings(slash("ec2", "network-interface"))},
		{Sid: sid("MountTargetInterfacesInTheVpc"), Actions: jsii.Strings("ec2:CreateNetworkInterface"),
			Resources:  jsii.Strings(slash("ec2", "subnet"), slash("ec2", "security-group")),
			Conditions: &map[string]interface{}{"ArnEquals": map[string]interface{}{"ec2:Vpc": r.vpcArn(stack)}}},
		{Sid: sid("DescribeNetworks"), Actions: jsii.Strings("ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"), Resources: jsii.Strings("*")},
		{Sid: sid("CreateTaggedTransfers"), Actions: jsii.Strings("datasync:CreateLocationEfs", "datasync:CreateTask", "datasync:TagResource"),
			Resources: jsii.Strings("*", slash("datasync", "location"), slash("datasync", "task")), Conditions: &tagging},
		{Sid: sid("RunTaggedTransfers"), Actions: jsii.Strings("datasync:StartTaskExecution"),
			Resources: jsii.Strings(slash("datasync", "task"), slash("datasync", "location")), Conditions: &tagged},
		{Sid: sid("FollowTransfers"), Actions: jsii.Strings("datasync:DescribeTaskExecution"), Resources: jsii.Strings(arn("datasync", "task/*/execution/*"))},
		{Sid: sid("PassTheTransferRole"), Actions: jsii.Strings("iam:PassRole"), Resources: &[]*string{r.transfer.RoleArn()},
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"iam:PassedToService": "datasync.amazonaws.com"}}},
		// DataSync creates its service-linked role with the first location.
		{Sid: sid("DataSyncServiceLinkedRole"), Actions: jsii.Strings("iam:CreateServiceLinkedRole"),
			Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("iam"), Region: jsii.String(""),
				Resource: jsii.String("role"), ResourceName: jsii.String("aws-service-role/datasync.amazonaws.com/AWSServiceRoleForDataSync")})),
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"iam:AWSServiceName": "datasync.amazonaws.com"}}},
	}
	for _, st := range statements {
		s.role.AddToPolicy(awsiam.NewPolicyStatement(st))
	}
}

// vpcArn is the ARN of the VPC the mover and the transfer run in.
func (r *fileSystemRestore) vpcArn(stack awscdk.Stack) *string {
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ec2"), Resource: jsii.String("vpc"), ResourceName: r.vpc.VpcId()})
}

// sidSuffix makes a statement ID unique per file system in the stack's shared
// orchestrator policy: the construct's path in its stack, letters and digits.
func sidSuffix(c constructs.Construct) string {
	p := outputPrefix(c)
	if p == "" {
		return p
	}
	return strings.ToUpper(p[:1]) + p[1:]
}
