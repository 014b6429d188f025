// Package failover moves what a region holds to another region inside a
// deploy, for the custom resources restorable adds only to the deploy that
// asks:
//
//   - an Aurora global database's writer (global.go): a switchover (both
//     regions healthy; no data lost) with SwitchoverGlobalCluster, or a
//     failover (the writer's region is down; what it had not replicated is
//     lost) with FailoverGlobalCluster and AllowDataLoss
//     (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html);
//   - an EFS replica (files.go), made writeable by deleting its replication
//     configuration (https://docs.aws.amazon.com/efs/latest/ug/delete-replications.html),
//     after the last changes reached it for a switchover.
//
// No CloudFormation update does either. CloudFormation gives a custom
// resource at most an hour; each takes minutes. The handler polls for up to
// its function's time, then invokes itself again, asynchronously, with the
// same event, and answers CloudFormation when the move is done, or with
// FAILED once 55 minutes have passed. A rollback never moves anything, and a
// Delete moves nothing back.
package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/restorable-cdk/restorable/internal/cfnstack"
	"github.com/restorable-cdk/restorable/internal/contract"
)

// Handler runs the custom resources.
type Handler struct {
	RDS            *rds.Client
	EFS            *efs.Client
	Lambda         *lambda.Client
	CloudFormation *cloudformation.Client
	// Respond answers CloudFormation; nil sends to the event's ResponseURL.
	Respond func(ctx context.Context, r *cfn.Response) error
	// FunctionName is this function's name, to invoke itself again.
	FunctionName string
	Now          func() time.Time
	Sleep        func(time.Duration)
	// Poll is how often the state is read; Slice how long one invocation
	// polls before it hands over to the next.
	Poll, Slice time.Duration
	Log         func(string, ...interface{})
}

// Limit is how long a move may take, under CloudFormation's hour.
const Limit = 55 * time.Minute

// Event is what the function receives: CloudFormation's event, or its own
// continuation of one.
type Event struct {
	cfn.Event
	// Started is when the first invocation got the event; set on a
	// continuation.
	Started *time.Time `json:"restorableStarted,omitempty"`
	// Requested is whether AWS accepted this deploy's request (the
	// switchover, the failover, the deletion of the replication).
	Requested bool `json:"restorableRequested,omitempty"`
	// RefusedSince is when AWS first refused the request as busy.
	RefusedSince *time.Time `json:"restorableRefusedSince,omitempty"`
}

// RefusalLimit is how long a request AWS refuses as busy, with nothing under
// way, is tried again: past it, the refusal is taken as final (for example
// members whose engine versions differ).
const RefusalLimit = 10 * time.Minute

// stillDeploying fails unless the stack is still in the deploy that sent the
// event: not rolling back, not cancelled, not finished. A continuation
// checks before it asks AWS to move anything.
func (h Handler) stillDeploying(ctx context.Context, e *Event) error {
	status, err := cfnstack.Status(ctx, h.CloudFormation, e.StackID)
	if err != nil {
		return fmt.Errorf("restorable: could not read the stack's status, so nothing moves: %w", err)
	}
	if cfnstack.IsRollback(status) || !strings.HasSuffix(status, "_IN_PROGRESS") {
		return fmt.Errorf("restorable: the stack is %s, no longer in the deploy that asked for this, so nothing moves", status)
	}
	return nil
}

// step reads the state once and acts on it: done, or not yet with what it
// waits for, or an error that fails the deploy.
type step func(ctx context.Context, e *Event, started time.Time) (done bool, waiting string, err error)

func (h Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h Handler) logf(f string, a ...interface{}) {
	if h.Log != nil {
		h.Log(f, a...)
	}
}

func (h Handler) sleep(d time.Duration) {
	if h.Sleep != nil {
		h.Sleep(d)
		return
	}
	time.Sleep(d)
}

// stepFor parses the resource's properties into its physical ID and step.
func (h Handler) stepFor(e Event) (string, step, error) {
	get := func(k string) string { v, _ := e.ResourceProperties[k].(string); return v }
	mode := get(contract.GlobalSwitchMode)
	if mode != contract.ModeSwitchover && mode != contract.ModeFailover {
		return "", nil, fmt.Errorf("restorable: the mode %q of %s is neither %s nor %s", mode, e.LogicalResourceID, contract.ModeSwitchover, contract.ModeFailover)
	}
	switch e.ResourceType {
	case contract.GlobalSwitchResourceType:
		p := globalProps{GlobalCluster: get(contract.GlobalSwitchCluster), Target: get(contract.GlobalSwitchTarget), Mode: mode}
		if p.GlobalCluster == "" || p.Target == "" {
			return "", nil, fmt.Errorf("restorable: the global switch's properties are incomplete: %v", e.ResourceProperties)
		}
		return p.GlobalCluster + "/" + p.Mode + "/" + p.Target, h.globalStep(p), nil
	case contract.ReplicaPromoteResourceType:
		p := filesProps{FileSystem: get(contract.ReplicaFileSystem), Mode: mode}
		if p.FileSystem == "" {
			return "", nil, fmt.Errorf("restorable: the replica's properties are incomplete: %v", e.ResourceProperties)
		}
		return p.FileSystem + "/" + p.Mode, h.filesStep(p), nil
	}
	return "", nil, fmt.Errorf("restorable: %s is not a resource type this function serves", e.ResourceType)
}

// Handle answers one invocation.
func (h Handler) Handle(ctx context.Context, e Event) error {
	started := h.now()
	if e.Started != nil {
		started = *e.Started
	}
	if e.RequestType == cfn.RequestDelete {
		return h.respond(ctx, e.Event, e.PhysicalResourceID, nil)
	}
	physical, step, err := h.stepFor(e)
	if err != nil {
		return h.respond(ctx, e.Event, e.PhysicalResourceID, err)
	}
	if e.Started == nil {
		status, err := cfnstack.Status(ctx, h.CloudFormation, e.StackID)
		if err != nil {
			return h.respond(ctx, e.Event, physical, fmt.Errorf("restorable: could not read the stack's status to tell a rollback from a deploy, so nothing moves: %w", err))
		}
		if cfnstack.IsRollback(status) {
			// A rollback never moves anything (a move it started runs on).
			h.logf("%s during %s: nothing moves", e.RequestType, status)
			return h.respond(ctx, e.Event, physical, nil)
		}
	}
	deadline := started.Add(Limit)
	sliceEnd := h.now().Add(h.Slice)
	for {
		done, waiting, err := step(ctx, &e, started)
		switch {
		case err != nil:
			return h.respond(ctx, e.Event, physical, err)
		case done:
			return h.respond(ctx, e.Event, physical, nil)
		case h.now().After(deadline):
			return h.respond(ctx, e.Event, physical, fmt.Errorf("restorable: %s has not finished within %s (%s); CloudFormation allows a custom resource an hour. It may still finish: run the same deploy again, which waits for it",
				physical, Limit, waiting))
		case h.now().Add(h.Poll).After(sliceEnd):
			return h.continueLater(ctx, e, started)
		}
		h.sleep(h.Poll)
	}
}

// continueLater invokes this function again with the same event; the next
// invocation answers CloudFormation.
func (h Handler) continueLater(ctx context.Context, e Event, started time.Time) error {
	e.Started = &started
	raw, err := json.Marshal(e)
	if err != nil {
		return h.respond(ctx, e.Event, e.PhysicalResourceID, err)
	}
	if _, err := h.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(h.FunctionName), InvocationType: lambdatypes.InvocationTypeEvent, Payload: raw}); err != nil {
		return h.respond(ctx, e.Event, e.PhysicalResourceID, fmt.Errorf("restorable: could not go on waiting: %w", err))
	}
	h.logf("still moving; continued in a new invocation")
	return nil
}

// respond answers CloudFormation: SUCCESS, or FAILED with the error.
func (h Handler) respond(ctx context.Context, e cfn.Event, physical string, err error) error {
	r := cfn.NewResponse(&e)
	r.PhysicalResourceID = physical
	if r.PhysicalResourceID == "" {
		r.PhysicalResourceID = e.LogicalResourceID
	}
	r.Status = cfn.StatusSuccess
	if err != nil {
		h.logf("%v", err)
		r.Status, r.Reason = cfn.StatusFailed, err.Error()
		if len(r.Reason) > 3000 {
			r.Reason = r.Reason[:3000]
		}
	}
	if h.Respond != nil {
		return h.Respond(ctx, r)
	}
	return r.Send()
}
