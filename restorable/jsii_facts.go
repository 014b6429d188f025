package restorable

import (
	"reflect"
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
)

// Every call on a construct's Go proxy is a round trip to the jsii kernel
// (about 0.3 ms), and restorable's constructs asked the same questions many
// times: a construct's stack, its path, its app's root. Those answers never
// change once the construct exists (a construct cannot move in the tree), so
// they are asked once per construct and kept here (issue 24).
//
// The key is the construct's Go value: jsii returns the same Go value for the
// same construct (see registries), so a key is never shared by two
// constructs, at worst missed for a second Go value of the same one.

type constructFacts struct {
	stack   awscdk.Stack
	path    *string
	root    constructs.IConstruct
	inStack *bool
	node    constructs.Node
	// env is a stack's partition, region and account.
	env *[3]string
}

var facts struct {
	sync.Mutex
	of map[constructs.IConstruct]*constructFacts
}

// factsOf returns the kept facts of c, or nil for a Go value that cannot be a
// map key (a struct, not a proxy or a pointer).
func factsOf(c constructs.IConstruct) *constructFacts {
	if v := reflect.ValueOf(c); !v.IsValid() || v.Kind() != reflect.Pointer {
		return nil
	}
	facts.Lock()
	defer facts.Unlock()
	f, ok := facts.of[c]
	if !ok {
		if facts.of == nil {
			facts.of = map[constructs.IConstruct]*constructFacts{}
		}
		f = &constructFacts{}
		facts.of[c] = f
	}
	return f
}

// nodeOf is c.Node(), asked once: every call of Node() on a Go proxy is a
// round trip of its own.
func nodeOf(c constructs.IConstruct) constructs.Node {
	f := factsOf(c)
	if f == nil {
		return c.Node()
	}
	facts.Lock()
	n := f.node
	facts.Unlock()
	if n == nil {
		n = c.Node()
		facts.Lock()
		f.node = n
		facts.Unlock()
	}
	return n
}

// stackOf is awscdk.Stack_Of(c), asked once.
func stackOf(c constructs.IConstruct) awscdk.Stack {
	f := factsOf(c)
	if f == nil {
		return awscdk.Stack_Of(c)
	}
	facts.Lock()
	s := f.stack
	facts.Unlock()
	if s == nil {
		// Outside the lock: Stack_Of panics for a construct in no stack.
		s = awscdk.Stack_Of(c)
		facts.Lock()
		f.stack = s
		facts.Unlock()
	}
	return s
}

// pathOf is c's construct path, asked once.
func pathOf(c constructs.IConstruct) string {
	f := factsOf(c)
	if f == nil {
		return *c.Node().Path()
	}
	facts.Lock()
	p := f.path
	facts.Unlock()
	if p == nil {
		p = nodeOf(c).Path()
		facts.Lock()
		f.path = p
		facts.Unlock()
	}
	return *p
}

// rootOf is the root of c's tree (its app), asked once.
func rootOf(c constructs.IConstruct) constructs.IConstruct {
	f := factsOf(c)
	if f == nil {
		return c.Node().Root()
	}
	facts.Lock()
	r := f.root
	facts.Unlock()
	if r == nil {
		r = nodeOf(c).Root()
		facts.Lock()
		f.root = r
		facts.Unlock()
	}
	return r
}

// isInStack reports whether c or one of its scopes is a stack, asked once.
func isInStack(c constructs.IConstruct) bool {
	f := factsOf(c)
	if f != nil {
		facts.Lock()
		in := f.inStack
		facts.Unlock()
		if in != nil {
			return *in
		}
	}
	in := false
	for _, s := range *nodeOf(c).Scopes() {
		// A stack's Go proxy is an awscdk.Stack: no round trip to ask. Any
		// other Go value (the app, a construct of a type Go has no binding
		// for) is asked.
		if _, ok := s.(awscdk.Stack); ok || *awscdk.Stack_IsStack(s) {
			in = true
			break
		}
	}
	if f != nil {
		facts.Lock()
		f.inStack = &in
		facts.Unlock()
	}
	return in
}

// stackArn is stack.FormatArn for a resource of the stack's own partition,
// account and region, with no resource name: Arn.format joins
// "arn:<partition>:<service>:<region>:<account>:<resource>" from the stack's
// values, tokens included (aws-cdk-lib core/lib/arn.js), so the same join
// in Go gives the same template without a round trip per ARN. The stack's
// three values are asked once.
func stackArn(stack awscdk.Stack, service, resource string) *string {
	env := stackEnv(stack)
	arn := "arn:" + env[0] + ":" + service + ":" + env[1] + ":" + env[2] + ":" + resource
	return &arn
}

// stackEnv is the stack's partition, region and account (tokens for an
// environment-agnostic stack), asked once.
func stackEnv(stack awscdk.Stack) *[3]string {
	f := factsOf(stack)
	var env *[3]string
	if f != nil {
		facts.Lock()
		env = f.env
		facts.Unlock()
	}
	if env == nil {
		env = &[3]string{*stack.Partition(), *stack.Region(), *stack.Account()}
		if f != nil {
			facts.Lock()
			f.env = env
			facts.Unlock()
		}
	}
	return env
}
