package restorable

import (
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
)

// perStack holds one value per stack, such as the stack's guard handler or its
// shared protection, created on first use.
type perStack[T any] struct {
	mu      sync.Mutex
	byStack map[awscdk.Stack]T
}

// of returns the value of scope's stack, creating it with create on first use.
func (s *perStack[T]) of(scope constructs.Construct, create func(stack awscdk.Stack) T) T {
	v, _ := s.create(scope, create)
	return v
}

// create creates the value of scope's stack unless it exists, and reports
// whether it did.
func (s *perStack[T]) create(scope constructs.Construct, create func(stack awscdk.Stack) T) (T, bool) {
	stack := stackOf(scope)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.byStack[stack]; ok {
		return v, false
	}
	if s.byStack == nil {
		s.byStack = map[awscdk.Stack]T{}
	}
	v := create(stack)
	s.byStack[stack] = v
	return v, true
}
