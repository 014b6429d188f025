package restorable

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// AuroraDrillCheck is what a validated drill checks on the copy of the
// cluster that AWS Backup restores. Every field is optional.
type AuroraDrillCheck struct {
	// SQL is a read-only query; the copy passes when its first row's first
	// column is true, a non-zero number, or a non-empty string other than
	// "0", "f" and "false". It runs in a transaction that is rolled back (and
	// read-only on PostgreSQL), connected as the stack's master user.
	// Default: the copy has at least one user table, and a row of it can be
	// read.
	SQL string
	// Database is the database the check connects to.
	// Default: the cluster's DefaultDatabaseName, or the engine's default
	// database.
	Database string
	// Timeout stops the check (statement_timeout on PostgreSQL,
	// max_execution_time on MySQL); at most 40 seconds, under the Data API's
	// 45 (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-timeouts.html).
	// Default: 30 seconds.
	Timeout awscdk.Duration
	// InstanceClass is the class of the writer the drill adds to the copy
	// (not a T class: the Data API does not run on them).
	// Default: db.serverless, with 0.5 to 4 capacity units.
	InstanceClass string
}

// FileSystemDrillCheck is what a validated drill checks on the copy of the
// file system that AWS Backup restores. Every field is optional.
type FileSystemDrillCheck struct {
	// Paths must all be in the copy, relative to the file system's root (the
	// default access point's files are under "data/").
	// Default: none; the copy must hold at least one file.
	Paths []string
	// Factor bounds the copy: its size within this factor of the backup's
	// size, and its file count within this factor of the last passed drill's.
	// Default: 2.
	Factor float64
}

// drillSpec is one drilled resource, with tokens.
type drillSpec struct {
	path    string
	kind    testedType
	arn     *string
	rto     time.Duration
	aurora  AuroraDrillCheck
	timeout float64
	files   FileSystemDrillCheck
	subnet  *string
	// vpc is the resource's VPC, where the drill's copy and functions go;
	// subnetGroup, for a cluster, the DB subnet group its copy is restored
	// into.
	vpc         awsec2.IVpc
	subnetGroup *string
	// live are the resource's own ARNs (and its secret's), which the drill's
	// roles are denied.
	live []*string
}

// drillValidation is a protection's drill machinery: the rule that starts the
// state machine when a drill's restore job ends, the state machine, the roles
// of the drill's functions (created by the state machine for the drill's
// window only), their log group and code.
type drillValidation struct {
	t                                 *restoreTesting
	scope                             constructs.Construct
	drillRole, filesRole, machineRole awsiam.Role
	logs                              awslogs.LogGroup
	code                              stagedHandler
	specs                             []*drillSpec
	// group is the drill's own security group, in the drilled resources'
	// VPC: the copies and the files function are in it, and nothing else may
	// reach them.
	group awsec2.SecurityGroup
	vpc   awsec2.IVpc
	// subnetGroup is the DB subnet group the Aurora copies are restored
	// into (the first drilled cluster's).
	subnetGroup *string
}

// drillValidationOf creates the machinery on the first drilled resource.
func (t *restoreTesting) drillValidationOf(p *Protection) *drillValidation {
	if t.drills != nil {
		return t.drills
	}
	d := &drillValidation{t: t, scope: constructs.NewConstruct(t.scope, jsii.String("Validation"))}
	t.drills = d
	stack := awscdk.Stack_Of(t.scope)
	d.logs = newLogGroup(d.scope, "Logs")
	d.code = handlerLocation(stack)
	lambdaRole := func(id, description string) awsiam.Role {
		r := awsiam.NewRole(d.scope, jsii.String(id), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil), Description: jsii.String(description),
		})
		r.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("WriteDrillLogs"),
			Actions: jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"), Resources: jsii.Strings(*d.logs.LogGroupArn())}))
		return r
	}
	d.drillRole = lambdaRole("DrillRole", "restorable: the drill function checks AWS Backup's copy, during the drill's window only")
	d.filesRole = lambdaRole("FilesRole", "restorable: the files function reads a restored file system's copy, during its drill only")
	p.grantAlert(d.drillRole)
	d.grantDrill(stack)
	d.grantFiles(stack)
	machineName := *awscdk.Names_UniqueResourceName(d.scope, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(80)})
	machine := awsstepfunctions.NewStateMachine(d.scope, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName: jsii.String(machineName),
		Comment:          jsii.String("restorable: validates a drill's copy with a function that exists for the drill only"),
		// Written at synth, once every drilled resource has joined: the
		// first state carries the config (not the rule's input, which
		// EventBridge limits to 8192 characters).
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromString(awscdk.Lazy_String(&lazyString{func() string { return d.definition(stack, p) }}, nil)),
		StateMachineType: awsstepfunctions.StateMachineType_STANDARD,
		Logs: &awsstepfunctions.LogOptions{
			Destination: newLogGroup(d.scope, "StateMachineLogs"), Level: awsstepfunctions.LogLevel_ERROR, IncludeExecutionData: jsii.Bool(false),
		},
		TracingEnabled: jsii.Bool(true),
	})
	d.machineRole = machine.Role().(awsiam.Role)
	d.grantMachine(stack)
	// AWS Backup reports every restore job's end
	// (https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html);
	// a drill's carries its restore testing plan's ARN
	// (https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html).
	rule := awsevents.NewRule(d.scope, jsii.String("RestoreJobEnded"), &awsevents.RuleProps{
		Description: jsii.String("restorable: a drill's restore job ended; validate the copy"),
		EventPattern: &awsevents.EventPattern{
			Source: jsii.Strings("aws.backup"), DetailType: jsii.Strings("Restore Job State Change"),
			Detail: &map[string]interface{}{
				"status":                []string{"COMPLETED", "FAILED", "ABORTED"},
				"restoreTestingPlanArn": awscdk.Lazy_List(&lazyList{t.planArns}, nil),
			},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSfnStateMachine(machine, &awseventstargets.SfnStateMachineProps{
			Input: awsevents.RuleTargetInput_FromObject(map[string]interface{}{
				"restoreJobId": awsevents.EventField_FromPath(jsii.String("$.detail.restoreJobId")),
			}),
			RetryAttempts: jsii.Number(3),
		})},
	})
	// A drill that is never validated would leave no trace: the rule that
	// could not start the state machine, or an execution that failed, goes
	// to the alert topic (AWS/Events FailedInvocations:
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html;
	// AWS/States ExecutionsFailed:
	// https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html).
	unvalidated := awscloudwatch.NewAlarm(d.scope, jsii.String("Unvalidated"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("restorable: a drill's copy was not validated: the rule could not start the drill state machine, or an execution failed. See docs/backup.md, \"When an alarm fires\"."),
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("FILL(invocations, 0) + FILL(executions, 0)"), Period: awscdk.Duration_Hours(jsii.Number(1)),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"invocations": awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("AWS/Events"), MetricName: jsii.String("FailedInvocations"),
					DimensionsMap: &map[string]*string{"RuleName": rule.RuleName()}, Statistic: jsii.String("Sum")}),
				"executions": machine.MetricFailed(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum")}),
			},
		}),
		Threshold: jsii.Number(0), ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods: jsii.Number(1), TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	if p.alerts != nil {
		unvalidated.AddAlarmAction(awscloudwatchactions.NewSnsAction(p.alerts.topic))
	}
	suppressNag(machine, false, nagException{rule: "AwsSolutions-SF1",
		reason: "The drill state machine logs errors, without execution data; the drill function's log (RestoreTesting/Validation/Logs) records each drill."})
	return d
}

// config is the state machine's input config: the drilled resources.
func (d *drillValidation) config(p *Protection) interface{} {
	resources := make([]interface{}, 0, len(d.specs))
	for _, s := range d.specs {
		r := map[string]interface{}{"path": s.path, "kind": string(s.kind), "arn": s.arn, "rtoSeconds": s.rto.Seconds()}
		switch s.kind {
		case testedAurora:
			for k, v := range map[string]string{"sql": s.aurora.SQL, "database": s.aurora.Database, "instanceClass": s.aurora.InstanceClass} {
				if v != "" {
					r[k] = v
				}
			}
			r["timeoutSeconds"] = s.timeout
		case testedEFS:
			if len(s.files.Paths) > 0 {
				r["paths"] = s.files.Paths
			}
			r["factor"] = s.files.Factor
			r["subnetId"], r["securityGroup"] = s.subnet, d.group.SecurityGroupId()
		}
		resources = append(resources, r)
	}
	cfg := map[string]interface{}{
		"stack": awscdk.Stack_Of(d.scope).StackName(), "validationWindowHours": d.t.validation,
		"filesRoleArn": d.filesRole.RoleArn(), "codeBucket": d.code.bucket, "codeKey": d.code.key,
		"logGroup": d.logs.LogGroupName(), "resources": resources,
	}
	if p.alerts != nil {
		cfg["alertTopicArn"] = p.alerts.topic.TopicArn()
	}
	return cfg
}

// definition is the state machine, in the Amazon States Language
// (https://states-language.net/spec.html): create the drill function from the
// handler's asset, wait until it is Active, run its steps until it is done,
// delete it. A step that fails for good aborts the drill (cleanup and a
// FAILED result); a function that cannot be created reports FAILED itself
// through AWS Backup's API (aws-sdk service integrations:
// https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
func (d *drillValidation) definition(stack awscdk.Stack, p *Protection) string {
	lambdaErrors := []string{"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"}
	lambdaRetry := []interface{}{map[string]interface{}{"ErrorEquals": lambdaErrors, "IntervalSeconds": 5, "MaxAttempts": 6, "BackoffRate": 2}}
	catch := func(next string, errors ...string) map[string]interface{} {
		if len(errors) == 0 {
			errors = []string{"States.ALL"}
		}
		return map[string]interface{}{"ErrorEquals": errors, "ResultPath": "$.error", "Next": next}
	}
	invoke := func(action string, extra map[string]interface{}) map[string]interface{} {
		payload := map[string]interface{}{"action": action, "restoreJobId.$": "$.restoreJobId", "config.$": "$.config", "state.$": "$.state"}
		for k, v := range extra {
			payload[k] = v
		}
		return map[string]interface{}{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
			"Parameters": map[string]interface{}{"FunctionName.$": "$.function.name", "Payload": payload}, "TimeoutSeconds": 960,
			// The service's errors, then the handler's own (a passing fault
			// of an AWS API it called), before the drill is aborted.
			"Retry": []interface{}{
				map[string]interface{}{"ErrorEquals": lambdaErrors, "IntervalSeconds": 5, "MaxAttempts": 6, "BackoffRate": 2},
				map[string]interface{}{"ErrorEquals": []string{"States.TaskFailed"}, "IntervalSeconds": 30, "MaxAttempts": 3, "BackoffRate": 2},
			},
			"ResultSelector": map[string]string{"value.$": "$.Payload"}, "ResultPath": "$.step"}
	}
	step := invoke(ActionStep(), nil)
	step["Next"] = "Carry"
	step["Catch"] = []interface{}{catch("Abort")}
	abort := invoke(ActionAbort(), map[string]interface{}{"error.$": "$.error"})
	// An abort goes on with the cleanup, step by step.
	abort["Next"] = "Carry"
	abort["Catch"] = []interface{}{catch("DeleteFunction")}
	report := func(next string) map[string]interface{} {
		return map[string]interface{}{"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:backup:putRestoreValidationResult",
			"Parameters": map[string]string{"RestoreJobId.$": "$.restoreJobId", "ValidationStatus": "FAILED",
				"ValidationStatusMessage": "restorable's drill function could not be created or did not start; see the drill state machine's execution"},
			"ResultPath": nil, "Next": next, "Catch": []interface{}{map[string]interface{}{"ErrorEquals": []string{"States.ALL"}, "ResultPath": nil, "Next": next}}}
	}
	definition := map[string]interface{}{
		"Comment": "restorable: a drill's validation, with a function that exists only while it runs",
		"StartAt": "Configure",
		"States": map[string]interface{}{
			"Configure": map[string]interface{}{"Type": "Pass", "Next": "CreateFunction",
				"Parameters": map[string]interface{}{"restoreJobId.$": "$.restoreJobId", "state": map[string]interface{}{}, "config": d.config(p)}},
			"CreateFunction": map[string]interface{}{"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:createFunction",
				"Parameters": map[string]interface{}{
					"FunctionName.$": "States.Format('" + contract.DrillFunctionPrefix + "{}', $.restoreJobId)",
					"Role":           d.drillRole.RoleArn(), "Runtime": "provided.al2023", "Architectures": []string{"arm64"}, "Handler": "bootstrap",
					"Code":    map[string]interface{}{"S3Bucket": d.code.bucket, "S3Key": d.code.key},
					"Timeout": 900, "MemorySize": 256,
					"Description":   "restorable: validates one drill's copy; deleted when the drill ends",
					"Environment":   map[string]interface{}{"Variables": map[string]string{contract.EnvHandler: contract.HandlerDrill}},
					"LoggingConfig": map[string]interface{}{"LogGroup": d.logs.LogGroupName(), "LogFormat": "Text"},
				},
				"ResultSelector": map[string]string{"name.$": "$.FunctionName"}, "ResultPath": "$.function",
				// A role that was just created may not be assumable yet.
				"Retry": []interface{}{map[string]interface{}{"ErrorEquals": []string{"Lambda.InvalidParameterValueException", "Lambda.TooManyRequestsException", "Lambda.ServiceException"},
					"IntervalSeconds": 10, "MaxAttempts": 6, "BackoffRate": 2}},
				// The function exists: another execution for the same job
				// (EventBridge delivers at least once) runs this drill.
				"Catch": []interface{}{catch("Duplicate", "Lambda.ResourceConflictException"), catch("CreateFailed")},
				"Next":  "WaitActive"},
			"WaitActive": map[string]interface{}{"Type": "Wait", "Seconds": 10, "Next": "GetFunction"},
			"GetFunction": map[string]interface{}{"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:getFunctionConfiguration",
				"Parameters": map[string]interface{}{"FunctionName.$": "$.function.name"}, "ResultSelector": map[string]string{"state.$": "$.State"},
				"ResultPath": "$.functionState", "Retry": lambdaRetry, "Next": "IsActive", "Catch": []interface{}{catch("FunctionFailed")}},
			"IsActive": map[string]interface{}{"Type": "Choice", "Default": "WaitActive", "Choices": []interface{}{
				map[string]string{"Variable": "$.functionState.state", "StringEquals": "Active", "Next": "Step"},
				map[string]string{"Variable": "$.functionState.state", "StringEquals": "Failed", "Next": "FunctionFailed"},
			}},
			"Step":  step,
			"Carry": map[string]interface{}{"Type": "Pass", "Parameters": map[string]string{"restoreJobId.$": "$.restoreJobId", "config.$": "$.config", "function.$": "$.function", "state.$": "$.step.value"}, "Next": "IsDone"},
			"IsDone": map[string]interface{}{"Type": "Choice", "Default": "Wait", "Choices": []interface{}{
				map[string]string{"Variable": "$.state.status", "StringEquals": "done", "Next": "DeleteFunction"},
			}},
			"Wait":  map[string]interface{}{"Type": "Wait", "SecondsPath": "$.state.waitSeconds", "Next": "Step"},
			"Abort": abort,
			"DeleteFunction": map[string]interface{}{"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:deleteFunction",
				"Parameters": map[string]interface{}{"FunctionName.$": "$.function.name"}, "ResultPath": nil, "Retry": lambdaRetry, "Next": "Validated",
				"Catch": []interface{}{map[string]interface{}{"ErrorEquals": []string{"Lambda.ResourceNotFoundException"}, "ResultPath": nil, "Next": "Validated"}}},
			// The function never started: report, then delete it.
			"FunctionFailed": report("DeleteFailedFunction"),
			"DeleteFailedFunction": map[string]interface{}{"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:lambda:deleteFunction",
				"Parameters": map[string]interface{}{"FunctionName.$": "$.function.name"}, "ResultPath": nil, "Retry": lambdaRetry, "Next": "NotValidated",
				"Catch": []interface{}{map[string]interface{}{"ErrorEquals": []string{"States.ALL"}, "ResultPath": nil, "Next": "NotValidated"}}},
			"CreateFailed": report("NotValidated"),
			"Duplicate":    map[string]string{"Type": "Succeed", "Comment": "another execution validates this drill"},
			"Validated":    map[string]string{"Type": "Succeed"},
			"NotValidated": map[string]interface{}{"Type": "Fail", "Error": "DrillFunction", "Cause": "the drill function could not be created or did not start"},
		},
	}
	return *stack.ToJsonString(definition, nil)
}

// ActionStep and ActionAbort are the drill function's actions
// (internal/drill); functions so the constructs need not import the handler.
func ActionStep() string  { return "step" }
func ActionAbort() string { return "abort" }

// add registers a drilled resource, and gives the drills their security
// group in its VPC on the first one.
func (d *drillValidation) add(s *drillSpec) {
	if d.group == nil {
		d.vpc = s.vpc
		// All traffic out (the files function reaches the copy's mount
		// target); in, only NFS from the group itself. The Aurora copy needs
		// no network: the Data API reaches it.
		d.group = awsec2.NewSecurityGroup(d.scope, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
			Vpc: s.vpc, AllowAllOutbound: jsii.Bool(true),
			Description: jsii.String("restorable: the drill copies and the function that reads them, nothing else"),
		})
		d.group.AddIngressRule(d.group, awsec2.Port_Tcp(jsii.Number(2049)), jsii.String("restorable: the files function mounts the copy"), nil)
	} else if *d.vpc.VpcId() != *s.vpc.VpcId() {
		panic(&InputError{Construct: s.path, Setting: "Vpc", Value: *s.vpc.Node().Path(),
			Problem: "differs from the VPC of the protection's first drilled resource (" + *d.vpc.Node().Path() + "): the drills restore every copy into one VPC",
			Fix:     "give this resource a protection of its own (NewProtection), or put the protection's resources in one VPC"})
	}
	if s.kind == testedAurora && d.subnetGroup == nil {
		d.subnetGroup = s.subnetGroup
	}
	d.specs = append(d.specs, s)
}

// auroraOverrides are the restore metadata AWS Backup restores the Aurora
// copies with: the cluster's DB subnet group and the drills' security group,
// not the default VPC's (inferred otherwise:
// https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-inferred-metadata.html;
// list values as JSON-array-encoded strings).
func (d *drillValidation) auroraOverrides() interface{} {
	if d == nil || d.subnetGroup == nil {
		return nil
	}
	return map[string]interface{}{
		"dbSubnetGroupName":   d.subnetGroup,
		"vpcSecurityGroupIds": awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String(`["`), d.group.SecurityGroupId(), jsii.String(`"]`)}),
	}
}

// drillFunctionArn matches the functions of drills.
func drillFunctionArn(stack awscdk.Stack, prefix string) string {
	return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("lambda"), Resource: jsii.String("function"), ResourceName: jsii.String(prefix + "*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
}

// grantMachine lets the state machine create, run and delete the drill's
// function, and nothing else.
func (d *drillValidation) grantMachine(stack awscdk.Stack) {
	fn := drillFunctionArn(stack, contract.DrillFunctionPrefix)
	for _, st := range []*awsiam.PolicyStatementProps{
		{Sid: jsii.String("DrillFunction"), Actions: jsii.Strings("lambda:CreateFunction", "lambda:GetFunctionConfiguration", "lambda:InvokeFunction", "lambda:DeleteFunction"),
			Resources: jsii.Strings(fn, fn+":*")},
		{Sid: jsii.String("PassTheDrillRole"), Actions: jsii.Strings("iam:PassRole"), Resources: &[]*string{d.drillRole.RoleArn()},
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"iam:PassedToService": "lambda.amazonaws.com"}}},
		// CreateFunction reads the code with the caller's permissions.
		{Sid: jsii.String("ReadTheCode"), Actions: jsii.Strings("s3:GetObject"), Resources: &[]*string{d.code.objectArn(stack)}},
		// PutRestoreValidationResult supports no resource-level permission.
		{Sid: jsii.String("ReportACreateFailure"), Actions: jsii.Strings("backup:PutRestoreValidationResult"), Resources: jsii.Strings("*")},
	} {
		d.machineRole.AddToPolicy(awsiam.NewPolicyStatement(st))
	}
	suppressNag(d.machineRole, true,
		nagException{rule: nagWildcard, appliesTo: []string{"Resource::*"},
			reason: "backup:PutRestoreValidationResult supports no resource-level permission (a failed drill's result); X-Ray and log delivery actions neither (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy)."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:lambda:.+:function:` + regexp.QuoteMeta(contract.DrillFunctionPrefix) + `\*(:\*)?$/`, `/^Resource::.+\/\*$/`},
			reason: "The drill functions are named after the restore job they validate, which is not known until the drill runs; the state machine creates, runs and deletes only functions with that prefix, with the drill role only."})
}

// restoreTestCluster and restoreTestDB are the ARNs of the copies AWS Backup
// makes of clusters, and of the instances the drill adds to them.
func restoreTestArn(stack awscdk.Stack, resource string) string {
	return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("rds"), Resource: jsii.String(resource + ":" + contract.RestoreTestPrefix + "*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})
}

// grantDrill lets the drill function act on the copies only: clusters AWS
// Backup named awsbackup-restore-test-..., file systems it tagged
// awsbackup-restore-test, the copies' RDS-managed secrets, and the files
// function; and never on a live resource (an explicit deny on each drilled
// resource's ARNs, filled in as resources join).
func (d *drillValidation) grantDrill(stack awscdk.Stack) {
	arn := func(service, resource string) string { return *stackArn(stack, service, resource) }
	slash := func(service, resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String(service), Resource: jsii.String(resource), ResourceName: jsii.String("*")})
	}
	copies := restoreTestArn(stack, "cluster")
	instances := restoreTestArn(stack, "db")
	restoreTest := map[string]interface{}{"Null": map[string]interface{}{"aws:ResourceTag/" + contract.RestoreTestTag: "false"}}
	filesFn := drillFunctionArn(stack, contract.DrillFilesFunctionPrefix)
	for _, st := range []*awsiam.PolicyStatementProps{
		// Neither supports resource-level permissions.
		{Sid: jsii.String("FollowTheRestoreJob"), Actions: jsii.Strings("backup:DescribeRestoreJob", "backup:PutRestoreValidationResult", "backup:ListRestoreJobsByProtectedResource"), Resources: jsii.Strings("*")},
		{Sid: jsii.String("ReadCopies"), Actions: jsii.Strings("rds:DescribeDBClusters", "rds:DescribeDBInstances"), Resources: jsii.Strings(copies, instances)},
		{Sid: jsii.String("PrepareTheCopy"), Actions: jsii.Strings("rds:ModifyDBCluster", "rds:EnableHttpEndpoint", "rds:CreateDBInstance", "rds:AddTagsToResource"),
			Resources: jsii.Strings(copies, instances)},
		// CreateDBInstance also authorizes the copy's subnet group and
		// parameter groups, which AWS Backup chose.
		{Sid: jsii.String("TheCopysGroups"), Actions: jsii.Strings("rds:CreateDBInstance"), Resources: jsii.Strings(arn("rds", "subgrp:*"), arn("rds", "pg:*"), arn("rds", "og:*"))},
		{Sid: jsii.String("RemoveTheDrillsInstance"), Actions: jsii.Strings("rds:DeleteDBInstance"), Resources: jsii.Strings(instances),
			Conditions: &map[string]interface{}{"StringLike": map[string]interface{}{"aws:ResourceTag/" + contract.TagDrill: contract.RestoreTestPrefix + "*"}}},
		// ManageMasterUserPassword: RDS creates the copy's secret with the
		// caller's permissions (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html).
		{Sid: jsii.String("TheCopysSecret"), Actions: jsii.Strings("secretsmanager:CreateSecret", "secretsmanager:TagResource"), Resources: jsii.Strings(arn("secretsmanager", "secret:rds!cluster-*"))},
		// ... and describes its key, aws/secretsmanager (same page).
		{Sid: jsii.String("TheSecretsKey"), Actions: jsii.Strings("kms:DescribeKey"), Resources: jsii.Strings(arn("kms", "key/*"))},
		// The Data API reads the secret with the caller's permissions
		// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.access.html):
		// only the secrets RDS made for a copy.
		{Sid: jsii.String("ReadTheCopysSecret"), Actions: jsii.Strings("secretsmanager:GetSecretValue"), Resources: jsii.Strings(arn("secretsmanager", "secret:rds!cluster-*")),
			Conditions: &map[string]interface{}{"StringLike": map[string]interface{}{"secretsmanager:ResourceTag/aws:rds:primaryDBClusterArn": copies}}},
		{Sid: jsii.String("CheckTheCopy"), Actions: jsii.Strings("rds-data:BeginTransaction", "rds-data:ExecuteStatement", "rds-data:RollbackTransaction"), Resources: jsii.Strings(copies)},
		{Sid: jsii.String("ReadFileSystemCopies"), Actions: jsii.Strings("elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeMountTargets", "elasticfilesystem:DescribeAccessPoints"),
			Resources: jsii.Strings(slash("elasticfilesystem", "file-system"), slash("elasticfilesystem", "access-point"))},
		{Sid: jsii.String("MountTheCopy"), Actions: jsii.Strings("elasticfilesystem:CreateMountTarget", "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:CreateAccessPoint"),
			Resources: jsii.Strings(slash("elasticfilesystem", "file-system")), Conditions: &restoreTest},
		// Only as the access point is created: never an existing one
		// (https://docs.aws.amazon.com/efs/latest/ug/using-tags-efs.html).
		{Sid: jsii.String("TagTheCopysAccessPoint"), Actions: jsii.Strings("elasticfilesystem:TagResource"), Resources: jsii.Strings(slash("elasticfilesystem", "access-point")),
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"elasticfilesystem:CreateAction": "CreateAccessPoint"},
				"Null": map[string]interface{}{"aws:RequestTag/" + contract.TagDrill: "false"}}},
		{Sid: jsii.String("RemoveTheCopysAccessPoint"), Actions: jsii.Strings("elasticfilesystem:DeleteAccessPoint"), Resources: jsii.Strings(slash("elasticfilesystem", "access-point")),
			Conditions: &map[string]interface{}{"Null": map[string]interface{}{"aws:ResourceTag/" + contract.TagDrill: "false"}}},
		// A mount target's network interface is the caller's to create and
		// delete (https://docs.aws.amazon.com/efs/latest/ug/API_CreateMountTarget.html).
		{Sid: jsii.String("MountTargetInterfaces"), Actions: jsii.Strings("ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"),
			Resources: jsii.Strings(slash("ec2", "network-interface"), slash("ec2", "subnet"), slash("ec2", "security-group"))},
		{Sid: jsii.String("DescribeNetworks"), Actions: jsii.Strings("ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs"), Resources: jsii.Strings("*")},
		{Sid: jsii.String("FilesFunction"), Actions: jsii.Strings("lambda:CreateFunction", "lambda:GetFunctionConfiguration", "lambda:InvokeFunction", "lambda:DeleteFunction", "lambda:TagResource"),
			Resources: jsii.Strings(filesFn)},
		{Sid: jsii.String("PassTheFilesRole"), Actions: jsii.Strings("iam:PassRole"), Resources: &[]*string{d.filesRole.RoleArn()},
			Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"iam:PassedToService": "lambda.amazonaws.com"}}},
		{Sid: jsii.String("ReadTheCode"), Actions: jsii.Strings("s3:GetObject"), Resources: &[]*string{d.code.objectArn(stack)}},
		{Sid: jsii.String("NeverTheLiveResources"), Effect: awsiam.Effect_DENY, Actions: jsii.Strings("rds:*", "rds-data:*", "elasticfilesystem:*", "secretsmanager:*"),
			Resources: awscdk.Lazy_List(&lazyList{d.liveArns}, nil)},
	} {
		d.drillRole.AddToPolicy(awsiam.NewPolicyStatement(st))
	}
	suppressNag(d.drillRole, true,
		nagException{rule: nagWildcard, appliesTo: []string{"Resource::*"},
			reason: "backup:DescribeRestoreJob, PutRestoreValidationResult and ListRestoreJobsByProtectedResource, and the ec2:Describe* calls, support no resource-level permission; all but PutRestoreValidationResult only read."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:(rds|secretsmanager|elasticfilesystem|ec2|lambda):.+$/`, `/^Resource::.+\/\*$/`, `/^Resource::<.+\.Arn>:\*$/`, "Action::rds:*", "Action::rds-data:*", "Action::elasticfilesystem:*", "Action::secretsmanager:*"},
			reason: "A drill's copy is named and tagged by AWS Backup when the drill runs (awsbackup-restore-test...), so the role names copies by that prefix, tag or RDS's secret tag, never a live resource, which an explicit deny on each drilled resource's ARNs also covers (the Action wildcards are in that deny)."})
}

// grantFiles lets the files function mount copies only, in its VPC.
func (d *drillValidation) grantFiles(stack awscdk.Stack) {
	slash := func(service, resource string) string {
		return *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String(service), Resource: jsii.String(resource), ResourceName: jsii.String("*")})
	}
	for _, st := range []*awsiam.PolicyStatementProps{
		{Sid: jsii.String("MountCopiesReadOnly"), Actions: jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientRootAccess"), Resources: jsii.Strings(slash("elasticfilesystem", "file-system")),
			Conditions: &map[string]interface{}{"Null": map[string]interface{}{"aws:ResourceTag/" + contract.RestoreTestTag: "false"}}},
		// A function in a VPC manages its own network interfaces; these
		// actions support no resource-level permission
		// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions).
		{Sid: jsii.String("FunctionInterfaces"), Actions: jsii.Strings("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
			"ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"), Resources: jsii.Strings("*")},
		{Sid: jsii.String("NeverTheLiveResources"), Effect: awsiam.Effect_DENY, Actions: jsii.Strings("elasticfilesystem:*"),
			Resources: awscdk.Lazy_List(&lazyList{d.liveArns}, nil)},
	} {
		d.filesRole.AddToPolicy(awsiam.NewPolicyStatement(st))
	}
	suppressNag(d.filesRole, true,
		nagException{rule: nagWildcard, appliesTo: []string{"Resource::*"},
			reason: "The network interface actions of a function in a VPC support no resource-level permission (AWSLambdaVPCAccessExecutionRole grants them on * too)."},
		nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::arn:.+:elasticfilesystem:.+:file-system\/\*$/`, `/^Resource::<.+\.Arn>:\*$/`, "Action::elasticfilesystem:*"},
			reason: "The copy's file system is created by AWS Backup during the drill; the function mounts only file systems AWS Backup tagged awsbackup-restore-test, and an explicit deny covers the drilled file systems."})
}

// liveArns are the ARNs the drill's roles may never act on.
func (d *drillValidation) liveArns() []*string {
	var out []*string
	for _, s := range d.specs {
		out = append(out, s.live...)
	}
	if len(out) == 0 {
		out = []*string{jsii.String("arn:aws:rds:::cluster:none")}
	}
	return out
}

// planArns are the restore testing plans whose jobs are drills.
func (t *restoreTesting) planArns() []*string {
	out := []*string{t.plan.AttrRestoreTestingPlanArn()}
	if t.now != nil {
		out = append(out, t.now.AttrRestoreTestingPlanArn())
	}
	return out
}

// dataAPIVersions are the first engine versions of each major one that the
// RDS Data API supports on Aurora Serverless v2 and provisioned clusters
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.Aurora_Fea_Regions_DB-eng.Feature.Data_API.html).
var dataAPIVersions = map[string]map[int][2]int{
	"aurora-postgresql": {13: {13, 11}, 14: {14, 8}, 15: {15, 3}, 16: {16, 1}, 17: {17, 4}},
}

var versionNumbers = regexp.MustCompile(`\d+`)

// dataAPISupport says whether the drill can check an engine version through
// the Data API, and if not, why.
func dataAPISupport(engine, version string) (bool, string) {
	nums := versionNumbers.FindAllString(version, -1)
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	switch {
	case version == "" || isToken(version) || len(nums) < 2:
		return true, ""
	case engine == "aurora-postgresql":
		major, minor := atoi(nums[0]), atoi(nums[1])
		first, ok := dataAPIVersions[engine][major]
		if major > 17 || (ok && minor >= first[1]) {
			return true, ""
		}
		if ok {
			return false, fmt.Sprintf("Aurora PostgreSQL %d supports the RDS Data API from %d.%d", major, first[0], first[1])
		}
		return false, "the RDS Data API supports Aurora PostgreSQL 13.11, 14.8, 15.3, 16.1, 17.4 and later"
	case engine == "aurora-mysql":
		// 8.0.mysql_aurora.3.07.0: Aurora MySQL version 3.07 and later.
		if len(nums) >= 5 && atoi(nums[2]) >= 3 {
			if atoi(nums[2]) > 3 || atoi(nums[3]) >= 7 {
				return true, ""
			}
		}
		return false, "the RDS Data API supports Aurora MySQL 3.07 and later"
	}
	return true, ""
}

// validatePaths checks the paths a file system drill looks for.
func validatePaths(owner string, paths []string) {
	for _, p := range paths {
		clean := strings.TrimPrefix(path.Clean("/"+p), "/")
		if p == "" || strings.Contains(p, "..") || clean == "" {
			panic(&InputError{Construct: owner, Setting: "DrillCheck.Paths", Value: p,
				Problem: "is not a path inside the file system", Fix: `give paths relative to the file system's root, such as "data/files"`})
		}
	}
}
