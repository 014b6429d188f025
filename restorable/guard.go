package restorable

import (
	"reflect"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// ContextAllowReplace is the per-construct context key that consents, for one
// deploy, to replacing or removing a guarded resource:
// -c '<construct path>.allowReplace=<physical ID of the current resource>'.
// There is no bare key: consent always names one resource.
const ContextAllowReplace = contract.ConsentSuffix

// GuardResourceType is the CloudFormation type of the replacement guard.
const GuardResourceType = contract.GuardResourceType

// GuardID is the construct ID, at the stack's root, of the stack's one
// replacement guard: its function and the Custom::RestorableGuard ("Guard").
const GuardID = "RestorableGuard"

// guardFunctionTimeout is the guard function's timeout, Lambda's longest (15
// minutes): a decision reads a few AWS APIs in seconds, but before a risky
// change the guard waits for a cluster snapshot, and fails the deploy before
// this runs out. guardTimeout, the custom resource's ServiceTimeout, is a
// minute longer, so CloudFormation always hears from the function first;
// without it CloudFormation would wait an hour for a response that never
// comes (ServiceTimeout, 1 to 3600 s, default 3600:
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html).
const (
	guardFunctionTimeout = 900
	guardTimeout         = guardFunctionTimeout + 60
)

// stackGuard is a stack's replacement guard: one Lambda function and one
// Custom::RestorableGuard that every guarded resource depends on, so that
// CloudFormation updates the guard first, and a refusal fails the deploy
// before any guarded resource is touched.
type stackGuard struct {
	stack    awscdk.Stack
	resource awscdk.CustomResource
	// cfn is resource's L1, which every guarded resource depends on.
	cfn   awscdk.CfnResource
	fn    awslambda.Function
	role  awsiam.Role
	scope constructs.Construct
	// probed are the resources whose recovery point age the hourly probe
	// measures (recovery_targets.go).
	probed    []probed
	probeRule awsevents.Rule
	entries   []*guardEntry
	// plain are the resources of a guarded type that no restorable construct
	// owns, and presentIDs the logical IDs of every resource of a guarded
	// type, restorable's or not; scan fills both once.
	plain      []*guardEntry
	presentIDs []string
	scanned    bool
	// ids are the logical IDs of the entries and of every guarded type's
	// resource in the stack, which scan asks once.
	ids map[awscdk.CfnResource]string
	// snapshots is whether the role may take snapshots before a change.
	snapshots bool
}

// guardEntry is one guarded resource.
type guardEntry struct {
	path    string
	target  awscdk.CfnResource
	consent string
	adopt   bool
	// plain is a resource of a guarded type that no restorable construct
	// owns (guard_scan.go).
	plain bool
	// source and createOnly read the resource's restore properties and its
	// other create-only properties at synth, after every escape-hatch change.
	source, createOnly func() map[string]interface{}
	// beforeChange, for an Aurora cluster, renders what the guard watches to
	// take a snapshot before a risky change; nil when off.
	beforeChange func() map[string]interface{}
}

var stackGuards perStack[*stackGuard]

// guardOf returns the guard of scope's stack, creating it on first use.
func guardOf(scope constructs.Construct) *stackGuard {
	return stackGuards.of(scope, func(stack awscdk.Stack) *stackGuard {
		refuseNestedStack(scope, stack)
		return newStackGuard(stack)
	})
}

// refuseNestedStack refuses a guarded resource inside a NestedStack.
// CloudFormation deploys a nested stack as one AWS::CloudFormation::Stack
// resource of its parent
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html):
// renaming or moving the NestedStack construct gives that resource a new
// logical ID, so CloudFormation creates a whole new nested stack, with new,
// empty databases and file systems, points the parent at its outputs, and
// deletes the old stack in the cleanup. The old stack's guard only receives a
// Delete, and the parent's guard would have to see into every nested stack
// and its own rollback; a refusal at synth is the one answer that cannot be
// got around.
func refuseNestedStack(scope constructs.Construct, stack awscdk.Stack) {
	if stack.NestedStackParent() == nil {
		return
	}
	panic(&InputError{Construct: *scope.Node().Path(), Setting: "scope", Value: *stack.Node().Path(),
		Problem: "is a NestedStack. Renaming or moving a NestedStack makes CloudFormation create a new nested stack with new, EMPTY resources and delete the old one, which no guard can refuse",
		Fix:     "create restorable constructs in a top-level awscdk.Stack, and pass what the nested stack needs (Cluster(), Secret(), FileSystem(), AccessPoint()) to it through its props, or split the app into top-level stacks that reference each other"})
}

func newStackGuard(stack awscdk.Stack) *stackGuard {
	g := &stackGuard{stack: stack}
	scope := constructs.NewConstruct(stack, jsii.String(GuardID))
	fn, role := newHandlerFunction(scope, "Function", contract.HandlerGuard, functionOptions{
		description: "restorable: refuses deploys that would replace or delete a database, file system or backup vault with its data",
		timeout:     awscdk.Duration_Seconds(jsii.Number(guardFunctionTimeout)),
	})
	g.fn, g.role, g.scope = fn, role, scope
	arn := func(service, resource string) *string { return stackArn(stack, service, resource) }
	addToRole(role,
		// The stack's own ARN (AWS::StackId), with the ID CloudFormation gave
		// it: no other stack, not even a later one with the same name.
		&awsiam.PolicyStatementProps{Sid: jsii.String("ReadOwnStack"), Actions: jsii.Strings("cloudformation:DescribeStacks", "cloudformation:ListStackResources", "cloudformation:DescribeStackResource"),
			Resources: jsii.Strings(*stack.StackId())},
		// Read-only, to compare a live resource with the template on the first
		// deploy that guards it. Their identifiers are generated by
		// CloudFormation, so they are matched within this account and region.
		&awsiam.PolicyStatementProps{Sid: jsii.String("CompareLiveClusters"), Actions: jsii.Strings("rds:DescribeDBClusters"), Resources: &[]*string{arn("rds", "cluster:*")}},
		&awsiam.PolicyStatementProps{Sid: jsii.String("CompareLiveFileSystems"), Actions: jsii.Strings("elasticfilesystem:DescribeFileSystems"), Resources: &[]*string{arn("elasticfilesystem", "file-system/*")}},
		&awsiam.PolicyStatementProps{Sid: jsii.String("CompareLiveVaults"), Actions: jsii.Strings("backup:DescribeBackupVault"), Resources: &[]*string{arn("backup", "backup-vault:*")}},
		// A global database's ARN has no region (arn:aws:rds::<account>:global-cluster:<id>).
		&awsiam.PolicyStatementProps{Sid: jsii.String("CompareLiveGlobalDatabases"), Actions: jsii.Strings("rds:DescribeGlobalClusters"), Resources: &[]*string{stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("rds"), Region: jsii.String(""), Resource: jsii.String("global-cluster:*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME})}},
	)
	suppressNag(role, true, nagException{rule: nagWildcard,
		appliesTo: []string{`/^Resource::arn:.+:(rds|elasticfilesystem|backup):.*:(cluster:\*|file-system\/\*|backup-vault:\*|global-cluster:\*)$/`},
		reason: "Read-only Describe calls that compare a live cluster, global database, file system or vault with the template before the first deploy that guards it; " +
			"their identifiers are generated by CloudFormation and change with every restore, so they are matched within this account and region."})
	g.resource = awscdk.NewCustomResource(scope, jsii.String("Guard"), &awscdk.CustomResourceProps{
		ServiceToken:   fn.FunctionArn(),
		ServiceTimeout: awscdk.Duration_Seconds(jsii.Number(guardTimeout)),
		ResourceType:   jsii.String(contract.GuardResourceType),
		Properties: &map[string]interface{}{
			contract.GuardStack:     pathOf(stack),
			contract.GuardResources: awscdk.Lazy_Any(&lazyAny{g.resources}, nil),
			contract.GuardPresent:   awscdk.Lazy_List(&lazyList{g.present}, nil),
			contract.GuardConsent:   awscdk.Lazy_Any(&lazyAny{g.consent}, nil),
		},
		// The guard holds no data; removing it must never be blocked.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	g.cfn = g.resource.Node().DefaultChild().(awscdk.CfnResource)
	scope.Node().AddValidation(&guardScan{g})
	return g
}

// protect guards target, the stateful resource of owner.
func (g *stackGuard) protect(owner constructs.Construct, target awscdk.CfnResource, consent string, adopt bool, source, createOnly func() map[string]interface{}) *guardEntry {
	e := &guardEntry{path: pathOf(owner), target: target, consent: consent, adopt: adopt, source: source, createOnly: createOnly}
	if e.source == nil {
		e.source = func() map[string]interface{} { return map[string]interface{}{} }
	}
	g.entries = append(g.entries, e)
	g.before(target)
	return e
}

// before makes CloudFormation create and update the guard before target.
func (g *stackGuard) before(target awscdk.CfnResource) {
	target.AddResourceDependency(g.cfn,
		jsii.String("the replacement guard is updated first and stops a deploy that would replace or delete data"))
}

// resources renders the entries for the template, keyed by logical ID.
func (g *stackGuard) resources() interface{} {
	g.scan()
	out := map[string]interface{}{}
	for _, e := range append(append([]*guardEntry(nil), g.entries...), g.plain...) {
		entry := map[string]interface{}{
			contract.GuardPath:       e.path,
			contract.GuardType:       *e.target.CfnResourceType(),
			contract.GuardSource:     e.source(),
			contract.GuardCreateOnly: e.createOnly(),
		}
		if e.adopt {
			entry[contract.GuardAdopt] = "true"
		}
		if e.plain {
			entry[contract.GuardPlain] = "true"
		}
		if e.beforeChange != nil {
			entry[contract.GuardBeforeChange] = e.beforeChange()
		}
		id, known := g.ids[e.target]
		if !known {
			id = logicalID(e.target)
		}
		out[id] = entry
	}
	return out
}

// consent gathers the consents of the deploy: those given to the guarded
// constructs, and the <path>.allowReplace context values for paths in this
// stack that are no longer restorable constructs (a renamed or removed
// resource, which the guard refuses to let CloudFormation delete otherwise).
func (g *stackGuard) consent() interface{} {
	out := map[string]interface{}{}
	known := map[string]bool{}
	for _, e := range g.entries {
		known[e.path] = true
		if e.consent != "" {
			out[e.path] = e.consent
		}
	}
	prefix := *g.stack.Node().Path() + "/"
	all, _ := g.stack.Node().Root().Node().GetAllContext(nil).(map[string]interface{})
	for key, v := range all {
		path := strings.TrimSuffix(key, "."+ContextAllowReplace)
		if value, ok := v.(string); ok && path != key && strings.HasPrefix(path, prefix) && !known[path] && value != "" {
			out[path] = value
		}
	}
	return out
}

// fingerprint is the guard's fingerprint of the entry's template values
// (tokens as their CloudFormation intrinsics).
func (e *guardEntry) fingerprint() string {
	stack := stackOf(e.target)
	s, _ := stack.Resolve(e.source()).(map[string]interface{})
	c, _ := stack.Resolve(e.createOnly()).(map[string]interface{})
	return contract.Fingerprint(s, c)
}

func isGuardedType(t string) bool {
	for _, g := range contract.GuardedTypes {
		if g == t {
			return true
		}
	}
	return false
}

// logicalID is a resource's logical ID as the template has it.
func logicalID(r awscdk.CfnResource) string {
	switch id := stackOf(r).Resolve(r.LogicalId()).(type) {
	case string:
		return id
	case *string:
		return *id
	}
	panic("restorable: the logical ID of " + *r.Node().Path() + " does not resolve to a string")
}

// lazyAny and lazyList produce a value when the template is synthesized.
type lazyAny struct{ produce func() interface{} }

// Produce implements awscdk.IStableAnyProducer.
func (l *lazyAny) Produce() interface{} { return l.produce() }

type lazyList struct{ produce func() []*string }

type lazyString struct{ produce func() string }

// Produce implements awscdk.IStableStringProducer.
func (l *lazyString) Produce() *string { return jsii.String(l.produce()) }

// Produce implements awscdk.IStableListProducer.
func (l *lazyList) Produce() *[]*string {
	out := l.produce()
	return &out
}

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
