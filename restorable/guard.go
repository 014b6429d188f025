package restorable

import (
	"reflect"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/guard"
)

// ContextAllowReplace is the per-construct context key that consents, for one
// deploy, to replacing a guarded resource with an empty one:
// -c '<construct path>.allowReplace=<physical ID of the current resource>'.
// There is no bare key: consent always names one resource.
const ContextAllowReplace = "allowReplace"

// AllowReplaceFromContext reads the consent for the resource that will be
// created as NewX(scope, id, ...) from the context key "<path>.allowReplace". Pass
// it as the construct's AllowReplace prop. It returns "" when the key is not set.
func AllowReplaceFromContext(scope constructs.Construct, id string) (string, error) {
	v, err := readContext(scope, registryOf(scope), childPath(scope, id), ContextAllowReplace, false)
	return v.value, err
}

// GuardResourceType is the CloudFormation type of the replacement guard.
const GuardResourceType = "Custom::RestorableGuard"

// replacementGuard protects one stateful L1 resource.
type replacementGuard struct {
	resource   awscdk.CustomResource
	source     func() map[string]interface{}
	createOnly func() map[string]interface{}
}

// newReplacementGuard adds the replacement guard of target under scope (as
// "ReplacementGuard") and makes target depend on it, so CloudFormation updates
// the guard first. source and createOnly read the target's restore properties
// and its other create-only properties at synth, after every escape-hatch
// change; CloudFormation resolves them at deploy.
func newReplacementGuard(scope constructs.Construct, target awscdk.CfnResource, allowReplace string,
	source, createOnly func() map[string]interface{}) *replacementGuard {
	path := *scope.Node().Path()
	properties := map[string]interface{}{
		guard.PropResource:     path,
		guard.PropResourceType: *target.CfnResourceType(),
		guard.PropLogicalID:    target.LogicalId(),
		guard.PropSource:       awscdk.Lazy_Any(&lazyMap{source}, nil),
		guard.PropCreateOnly:   awscdk.Lazy_Any(&lazyMap{createOnly}, nil),
		guard.PropConsentKey:   ContextKey(path, ContextAllowReplace),
	}
	if allowReplace != "" {
		properties[guard.PropAllowReplace] = allowReplace
	}
	cr := awscdk.NewCustomResource(scope, jsii.String("ReplacementGuard"), &awscdk.CustomResourceProps{
		ServiceToken: guardServiceOf(scope).ServiceToken(),
		ResourceType: jsii.String(GuardResourceType),
		Properties:   &properties,
		// The guard holds no data; removing it must never be blocked.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	target.AddResourceDependency(cr.Node().DefaultChild().(awscdk.CfnResource), jsii.String("the replacement guard is updated first and stops an update that would replace this resource with an empty one"))
	return &replacementGuard{resource: cr, source: source, createOnly: createOnly}
}

// fingerprint is the guard's fingerprint of the template values (tokens as
// their CloudFormation intrinsics); the deployed guard computes it from the
// values CloudFormation resolves.
func (g *replacementGuard) fingerprint() string {
	stack := awscdk.Stack_Of(g.resource)
	s, _ := stack.Resolve(g.source()).(map[string]interface{})
	c, _ := stack.Resolve(g.createOnly()).(map[string]interface{})
	return guard.Fingerprint(s, c)
}

// lazyMap produces a property map at synth.
type lazyMap struct{ produce func() map[string]interface{} }

// Produce implements awscdk.IStableAnyProducer.
func (l *lazyMap) Produce() interface{} { return l.produce() }

// put adds v to m under k unless v is nil or a nil pointer.
func put(m map[string]interface{}, k string, v interface{}) {
	if v == nil {
		return
	}
	if rv := reflect.ValueOf(v); (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map) && rv.IsNil() {
		return
	}
	m[k] = v
}

// guardService is a stack's one guard handler: a Go Lambda and the custom
// resource provider around it.
type guardService struct {
	provider customresources.Provider
}

func (s *guardService) ServiceToken() *string { return s.provider.ServiceToken() }

var guardServices perStack[*guardService]

// guardServiceOf returns the guard handler of scope's stack, creating it (as
// "RestorableGuard" at the stack's root) on first use.
func guardServiceOf(scope constructs.Construct) *guardService {
	return guardServices.of(scope, newGuardService)
}

func newGuardService(stack awscdk.Stack) *guardService {
	c := constructs.NewConstruct(stack, jsii.String("RestorableGuard"))
	fn := newHandlerFunction(c, "Handler", "guard", "restorable: refuses stack updates that would replace a database or file system with an empty one",
		[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:     jsii.String("ReadOwnStack"),
			Actions: jsii.Strings("cloudformation:DescribeStacks", "cloudformation:DescribeStackResource"),
			// The stack's own ARN (AWS::StackId), with the ID CloudFormation
			// gave it: no other stack, not even a later one with the same name.
			Resources: jsii.Strings(*stack.StackId()),
		})})
	return &guardService{provider: newProvider(c, "Provider", fn, nil)}
}

// newHandlerFunction creates a Lambda function running the restorable handler
// binary as handler, with its own role (least privilege: its log group plus
// the statements given) and a log group kept for a year.
func newHandlerFunction(scope constructs.Construct, id, handler, description string, statements []awsiam.PolicyStatement) awslambda.Function {
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(description),
	})
	fn := newRoleFunction(scope, id, handler, description, role, awscdk.Duration_Minutes(jsii.Number(1)))
	for _, st := range statements {
		role.AddToPrincipalPolicy(st)
	}
	return fn
}

// newProvider wraps handler functions in the CDK custom resource provider
// framework, whose own functions get roles without AWS-managed policies and log
// groups with a retention.
func newProvider(scope constructs.Construct, id string, onEvent awslambda.IFunction, props *customresources.ProviderProps) customresources.Provider {
	p := customresources.ProviderProps{}
	if props != nil {
		p = *props
	}
	p.OnEventHandler = onEvent
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	p.LogGroup = logs
	roles := []awsiam.Role{frameworkRole(scope, id+"OnEventRole", logs)}
	p.FrameworkOnEventRole = roles[0]
	if p.IsCompleteHandler != nil {
		roles = append(roles, frameworkRole(scope, id+"WaiterRole", logs))
		p.FrameworkCompleteAndTimeoutRole = roles[1]
		// The waiter state machine logs every event (cdk-nag AwsSolutions-SF1).
		p.DisableWaiterStateMachineLogging = jsii.Bool(false)
		p.WaiterStateMachineLogOptions = &customresources.LogOptions{
			Destination: awslogs.NewLogGroup(scope, jsii.String(id+"WaiterLogs"), &awslogs.LogGroupProps{
				Retention:     awslogs.RetentionDays_ONE_YEAR,
				RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
			}),
			Level: awsstepfunctions.LogLevel_ALL,
		}
	}
	provider := customresources.NewProvider(scope, jsii.String(id), &p)
	invokeVersions := nagException{rule: nagWildcard, appliesTo: []string{`/^Resource::<.+\.Arn>:\*$/`},
		reason: "The CDK provider framework grants lambda:InvokeFunction on its handler functions, which are this stack's own, and on their versions and aliases (<function ARN>:*); nothing else."}
	for _, r := range roles {
		suppressNag(r, true, invokeVersions)
	}
	if p.IsCompleteHandler != nil {
		suppressNag(provider, true, invokeVersions,
			nagException{rule: nagWildcard, appliesTo: []string{"Resource::*"},
				reason: "The waiter state machine's role may set up delivery of its logs to CloudWatch Logs; the logs:*LogDelivery and logs:Describe* actions do not support resource-level permissions (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy)."},
			nagException{rule: nagStateMachineXRay,
				reason: "The waiter state machine only calls the isComplete function every 30 seconds until it reports done; every event is logged at level ALL, and X-Ray tracing would add no information."})
	}
	return provider
}

func frameworkRole(scope constructs.Construct, id string, logs awslogs.LogGroup) awsiam.Role {
	r := awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("restorable: custom resource provider framework"),
	})
	r.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logs.LogGroupArn()),
	}))
	return r
}
