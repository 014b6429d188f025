package restorable

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// The switch keys move what a region holds to the resource at <path>, in
// its own region: a global database's writer (global_database.go), or an
// EFS replica made writeable (efs_replication.go).

// readSwitch reads the switchoverTo, failoverTo and allowDataLoss keys of
// the resource at path and returns the mode this deploy asks for ("" for
// none) and the key that asks. member is whether the resource can take
// them; otherwise any key fails synth with notMember and fix.
func readSwitch(scope constructs.Construct, path, region string, member bool, notMember, fix string) (string, contextValue) {
	reg := registryOf(scope)
	ctx := newContextReader(scope)
	read := func(k string) contextValue {
		v, err := ctx.read(reg, path, k, false)
		if err != nil {
			panic(atConstruct(path, err))
		}
		return v
	}
	sw, fo, loss := read(ContextSwitchoverTo), read(ContextFailoverTo), read(ContextAllowDataLoss)
	if !member {
		for _, v := range []contextValue{sw, fo, loss} {
			if v.set {
				panic(&InputError{Construct: path, Setting: v.setting, Value: v.value, Problem: notMember, Fix: fix})
			}
		}
		return "", contextValue{}
	}
	switch {
	case sw.set && fo.set:
		panic(&InputError{Construct: path, Setting: sw.setting, Value: sw.value, Problem: "is given together with " + fo.setting,
			Fix: "give one: switchoverTo when both regions are healthy (no data lost), failoverTo with allowDataLoss when the other region is down"})
	case loss.set && loss.value != "true":
		panic(&InputError{Construct: path, Setting: loss.setting, Value: loss.value, Problem: `is not "true"`,
			Fix: "give -c '" + ContextKey(path, ContextAllowDataLoss) + "=true' with failoverTo, or leave it out"})
	case loss.set && !fo.set:
		panic(&InputError{Construct: path, Setting: loss.setting, Value: loss.value, Problem: "is given without " + ContextKey(path, ContextFailoverTo),
			Fix: "add -c '" + ContextKey(path, ContextFailoverTo) + "=" + region + "' for a failover, or remove it"})
	case fo.set && !loss.set:
		panic(&InputError{Construct: path, Setting: fo.setting, Value: fo.value,
			Problem: "asks for a failover, which loses the writes the other region had not replicated, without consent to that",
			Fix:     "when the other region is down, add -c '" + ContextKey(path, ContextAllowDataLoss) + "=true'; when it is healthy, use " + ContextKey(path, ContextSwitchoverTo) + " instead, which loses nothing"})
	}
	v, mode := sw, contract.ModeSwitchover
	if fo.set {
		v, mode = fo, contract.ModeFailover
	}
	if !v.set {
		return "", v
	}
	if v.value != region {
		panic(&InputError{Construct: path, Setting: v.setting, Value: v.value,
			Problem: "names another region than this resource's (" + region + "); the key goes to the resource that takes over, in its region",
			Fix:     "give the key of the resource in " + v.value + ", and deploy that resource's stack"})
	}
	return mode, v
}

// switchSpec is one deploy's switch: its custom resource and what its
// function may do.
type switchSpec struct {
	description, resourceType string
	properties                map[string]interface{}
	statements                []*awsiam.PolicyStatementProps
	// wildcard is the nag exception for a statement's wildcard, if any.
	wildcard nagException
	// after is what the switch waits for: the resources that take over.
	after []constructs.IConstruct
}

// addSwitch adds the switch's function (internal/failover, which answers
// within CloudFormation's hour) and custom resource under scope.
func addSwitch(scope constructs.Construct, s switchSpec) awscdk.CustomResource {
	fn, role := newHandlerFunction(scope, "Function", contract.HandlerGlobalSwitch, functionOptions{
		description: s.description,
		timeout:     awscdk.Duration_Minutes(jsii.Number(15)),
	})
	stack := awscdk.Stack_Of(scope)
	for _, st := range append(s.statements, &awsiam.PolicyStatementProps{Sid: jsii.String("ReadOwnStack"),
		Actions: jsii.Strings("cloudformation:DescribeStacks"), Resources: jsii.Strings(*stack.StackId())}) {
		role.AddToPolicy(awsiam.NewPolicyStatement(st))
	}
	// Its own ARN, in a policy of its own: the function does not wait for
	// it, so the ARN does not depend on itself; the switch does.
	self := awsiam.NewPolicy(scope, jsii.String("ContinuePolicy"), &awsiam.PolicyProps{Roles: &[]awsiam.IRole{role},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("ContinueWaiting"),
			Actions: jsii.Strings("lambda:InvokeFunction"), Resources: jsii.Strings(*fn.FunctionArn())})}})
	if s.wildcard.rule != "" {
		suppressNag(role, true, s.wildcard)
	}
	sw := awscdk.NewCustomResource(scope, jsii.String("Resource"), &awscdk.CustomResourceProps{
		ServiceToken:   fn.FunctionArn(),
		ServiceTimeout: awscdk.Duration_Minutes(jsii.Number(60)),
		ResourceType:   jsii.String(s.resourceType),
		Properties:     &s.properties,
		RemovalPolicy:  awscdk.RemovalPolicy_DESTROY,
	})
	sw.Node().AddDependency(self)
	for _, a := range s.after {
		sw.Node().AddDependency(a)
	}
	return sw
}

// dependOn makes d wait for r: d's own resource when it has one (an L2's
// default child), so that nothing else under d, such as its security group,
// which the resource that takes over may reference, waits too.
func dependOn(d constructs.IConstruct, r constructs.IConstruct) {
	if l1 := d.Node().DefaultChild(); l1 != nil {
		d = l1
	}
	d.Node().AddDependency(r)
}
