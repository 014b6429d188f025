package restorable

import (
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// functionOptions configure a function of the restorable handler binary.
type functionOptions struct {
	description string
	timeout     awscdk.Duration
	memory      float64
	env         map[string]*string
	// vpc, subnets, securityGroups and filesystem put the function in a VPC
	// with a file system mounted (the mover).
	vpc            awsec2.IVpc
	subnets        *awsec2.SubnetSelection
	securityGroups []awsec2.ISecurityGroup
	filesystem     awslambda.FileSystem
}

// newHandlerFunction creates a Lambda function that runs the restorable
// handler binary as handler (arm64, provided.al2023), with its own role, which
// only Lambda can assume and which has no AWS-managed policy, and its own log
// group, kept a year and retained when the stack is deleted. The caller adds
// the role's other statements.
func newHandlerFunction(scope constructs.Construct, id, handler string, o functionOptions) (awslambda.Function, awsiam.Role) {
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(o.description),
	})
	logs := newLogGroup(scope, id+"Logs")
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logs.LogGroupArn()),
	}))
	env := map[string]*string{contract.EnvHandler: jsii.String(handler)}
	for k, v := range o.env {
		env[k] = v
	}
	memory := o.memory
	if memory == 0 {
		memory = 256
	}
	code := handlerCode(awscdk.Stack_Of(scope))
	fn := awslambda.NewFunction(scope, jsii.String(id), &awslambda.FunctionProps{
		Description:    jsii.String(o.description),
		Runtime:        awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:   awslambda.Architecture_ARM_64(),
		Handler:        jsii.String("bootstrap"),
		Code:           code,
		Role:           role,
		LogGroup:       logs,
		MemorySize:     jsii.Number(memory),
		Timeout:        o.timeout,
		Environment:    &env,
		Vpc:            o.vpc,
		VpcSubnets:     o.subnets,
		SecurityGroups: ptrSlice(o.securityGroups),
		Filesystem:     o.filesystem,
	})
	code.addAssetMetadata(fn)
	return fn, role
}

// newLogGroup is a log group kept a year and retained when the stack is
// deleted, so a restore's or a refusal's record outlives the stack.
func newLogGroup(scope constructs.Construct, id string) awslogs.LogGroup {
	return awslogs.NewLogGroup(scope, jsii.String(id), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
}

func ptrSlice[T any](s []T) *[]T {
	if s == nil {
		return nil
	}
	return &s
}

// defaultPolicies are the roles' DefaultPolicy constructs, asked once.
var defaultPolicies struct {
	sync.Mutex
	of map[awsiam.Role]awsiam.Policy
}

// addToRole adds the statements to role's default policy, as
// role.AddToPolicy does one at a time (aws-cdk-lib's Role.addToPrincipalPolicy
// creates the DefaultPolicy and adds each statement to it): the first through
// AddToPolicy, which creates the policy, and the rest in one
// Policy.addStatements call, one round trip to the jsii kernel instead of
// one per statement (issue 24). The template is the same, statement order
// included.
func addToRole(role awsiam.Role, statements ...*awsiam.PolicyStatementProps) {
	if len(statements) == 0 {
		return
	}
	built := make([]awsiam.PolicyStatement, len(statements))
	for i, st := range statements {
		built[i] = awsiam.NewPolicyStatement(st)
	}
	defaultPolicies.Lock()
	policy := defaultPolicies.of[role]
	defaultPolicies.Unlock()
	if policy == nil {
		role.AddToPolicy(built[0])
		built = built[1:]
		if len(built) == 0 {
			return
		}
		// A role of an app that customizes its roles
		// (awsiam.Role_CustomizeRoles) hands its statements to the
		// pre-created role and has no DefaultPolicy: one call each, then.
		found, ok := role.Node().TryFindChild(jsii.String("DefaultPolicy")).(awsiam.Policy)
		if !ok {
			for _, st := range built {
				role.AddToPolicy(st)
			}
			return
		}
		policy = found
		defaultPolicies.Lock()
		if defaultPolicies.of == nil {
			defaultPolicies.of = map[awsiam.Role]awsiam.Policy{}
		}
		defaultPolicies.of[role] = policy
		defaultPolicies.Unlock()
	}
	policy.AddStatements(built...)
}
