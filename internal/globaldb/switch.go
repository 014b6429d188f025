// Package globaldb moves the writer of an Aurora global database to another
// region inside a deploy: a switchover (the writer's region is healthy; no
// data is lost) with SwitchoverGlobalCluster, or a failover (the writer's
// region is down; what it had not replicated is lost) with
// FailoverGlobalCluster and AllowDataLoss
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html).
// No CloudFormation update does either, so a custom resource in the stack of
// the cluster that becomes the writer does, in that cluster's region, and
// waits until the global database reports it as the writer.
//
// CloudFormation gives a custom resource at most an hour. A switchover or a
// failover takes minutes; the handler polls for up to its function's time,
// then invokes itself again, asynchronously, with the same event, and answers
// CloudFormation when the writer has moved, or with FAILED once 55 minutes
// have passed.
package globaldb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restorable-cdk/restorable/internal/cfnstack"
	"github.com/restorable-cdk/restorable/internal/contract"
)

// Handler runs the custom resource.
type Handler struct {
	RDS            *rds.Client
	Lambda         *lambda.Client
	CloudFormation *cloudformation.Client
	// Respond answers CloudFormation; nil sends to the event's ResponseURL.
	Respond func(ctx context.Context, r *cfn.Response) error
	// FunctionName is this function's name, to invoke itself again.
	FunctionName string
	Now          func() time.Time
	Sleep        func(time.Duration)
	// Poll is how often the global database is read; Slice how long one
	// invocation polls before it hands over to the next.
	Poll, Slice time.Duration
	Log         func(string, ...interface{})
}

// Limit is how long a switch may take, under CloudFormation's hour.
const Limit = 55 * time.Minute

// Event is what the function receives: CloudFormation's event, or its own
// continuation of one.
type Event struct {
	cfn.Event
	// Started is when the first invocation got the event; set on a
	// continuation.
	Started *time.Time `json:"restorableStarted,omitempty"`
	// Requested is whether RDS accepted this deploy's switchover or failover.
	Requested bool `json:"restorableRequested,omitempty"`
}

// Props are the custom resource's properties.
type Props struct {
	GlobalCluster string
	Target        string // the ARN of the cluster that becomes the writer
	Mode          string // switchover or failover
}

func parseProps(m map[string]interface{}) (Props, error) {
	p := Props{}
	get := func(k string) string { v, _ := m[k].(string); return v }
	p.GlobalCluster, p.Target, p.Mode = get(contract.GlobalSwitchCluster), get(contract.GlobalSwitchTarget), get(contract.GlobalSwitchMode)
	if p.GlobalCluster == "" || p.Target == "" || (p.Mode != contract.ModeSwitchover && p.Mode != contract.ModeFailover) {
		return p, fmt.Errorf("restorable: the global switch's properties are incomplete: %v", m)
	}
	return p, nil
}

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

// Handle answers one invocation.
func (h Handler) Handle(ctx context.Context, e Event) error {
	started := h.now()
	if e.Started != nil {
		started = *e.Started
	}
	physical := e.PhysicalResourceID
	if e.RequestType == cfn.RequestDelete {
		// Removing the switch moves nothing back.
		return h.respond(ctx, e.Event, physical, nil)
	}
	p, err := parseProps(e.ResourceProperties)
	if err != nil {
		return h.respond(ctx, e.Event, physical, err)
	}
	physical = p.GlobalCluster + "/" + p.Mode + "/" + p.Target
	if e.Started == nil {
		status, err := cfnstack.Status(ctx, h.CloudFormation, e.StackID)
		if err != nil {
			return h.respond(ctx, e.Event, physical, fmt.Errorf("restorable: could not read the stack's status to tell a rollback from a deploy, so the writer stays where it is: %w", err))
		}
		if cfnstack.IsRollback(status) {
			// A rollback never moves the writer (a switch it started runs on).
			h.logf("%s during %s: the writer stays where it is", e.RequestType, status)
			return h.respond(ctx, e.Event, physical, nil)
		}
	}
	deadline := started.Add(Limit)
	sliceEnd := h.now().Add(h.Slice)
	refusal := ""
	var requestedAt time.Time // zero on a continuation: long ago
	for {
		g, err := h.describe(ctx, p.GlobalCluster)
		if err != nil {
			return h.respond(ctx, e.Event, physical, err)
		}
		busy := g.FailoverState != nil && g.FailoverState.Status != ""
		switch {
		case writer(g) == p.Target && !busy && aws.ToString(g.Status) == "available":
			h.logf("%s: %s is the writer", p.GlobalCluster, p.Target)
			return h.respond(ctx, e.Event, physical, nil)
		case !member(g, p.Target):
			return h.respond(ctx, e.Event, physical, fmt.Errorf("restorable: %s is not a member of the global database %s (members: %s), so it cannot become its writer",
				p.Target, p.GlobalCluster, strings.Join(members(g), ", ")))
		case busy:
			// An operation is under way: this one, or another deploy's,
			// which is waited for, not interrupted.
		case e.Requested && h.now().Sub(requestedAt) > 2*h.Poll:
			// This deploy's operation ended without moving the writer
			// (cancelled, or refused by the service after it began).
			return h.respond(ctx, e.Event, physical, fmt.Errorf("restorable: the %s of %s to %s ended, but the writer is still %s; see the RDS events of the global database, then deploy again",
				p.Mode, p.GlobalCluster, p.Target, writer(g)))
		case !e.Requested:
			ok, why, err := h.start(ctx, p)
			if err != nil {
				return h.respond(ctx, e.Event, physical, err)
			}
			e.Requested, refusal, requestedAt = ok, why, h.now()
		}
		if h.now().After(deadline) {
			msg := fmt.Sprintf("restorable: the %s of %s to %s has not finished within %s (status %s, failover state %s); CloudFormation allows a custom resource an hour",
				p.Mode, p.GlobalCluster, p.Target, Limit, aws.ToString(g.Status), failoverStatus(g))
			if refusal != "" {
				msg += "; RDS refused to start it: " + refusal
			}
			return h.respond(ctx, e.Event, physical, errors.New(msg+". It may still finish: run the same deploy again, which waits for it"))
		}
		if h.now().Add(h.Poll).After(sliceEnd) {
			return h.continueLater(ctx, e, started)
		}
		h.sleep(h.Poll)
	}
}

func (h Handler) sleep(d time.Duration) {
	if h.Sleep != nil {
		h.Sleep(d)
		return
	}
	time.Sleep(d)
}

// start asks for the switchover or failover. It reports whether RDS
// accepted it; a refusal because the global database is busy (another
// operation, a member being modified) is retried at the next poll.
func (h Handler) start(ctx context.Context, p Props) (bool, string, error) {
	var err error
	switch p.Mode {
	case contract.ModeSwitchover:
		_, err = h.RDS.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: aws.String(p.GlobalCluster), TargetDbClusterIdentifier: aws.String(p.Target)})
	case contract.ModeFailover:
		_, err = h.RDS.FailoverGlobalCluster(ctx, &rds.FailoverGlobalClusterInput{GlobalClusterIdentifier: aws.String(p.GlobalCluster), TargetDbClusterIdentifier: aws.String(p.Target), AllowDataLoss: aws.Bool(true)})
	}
	var busyGlobal *rdstypes.InvalidGlobalClusterStateFault
	var busyCluster *rdstypes.InvalidDBClusterStateFault
	if errors.As(err, &busyGlobal) || errors.As(err, &busyCluster) {
		h.logf("%s of %s: %v; trying again", p.Mode, p.GlobalCluster, err)
		return false, err.Error(), nil
	}
	if err != nil {
		return false, "", fmt.Errorf("restorable: the %s of %s to %s was refused: %w", p.Mode, p.GlobalCluster, p.Target, err)
	}
	h.logf("%s of %s to %s started", p.Mode, p.GlobalCluster, p.Target)
	return true, "", nil
}

func (h Handler) describe(ctx context.Context, id string) (*rdstypes.GlobalCluster, error) {
	out, err := h.RDS.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("restorable: could not read the global database %s: %w", id, err)
	}
	if len(out.GlobalClusters) != 1 {
		return nil, fmt.Errorf("restorable: the global database %s does not exist", id)
	}
	return &out.GlobalClusters[0], nil
}

func writer(g *rdstypes.GlobalCluster) string {
	for _, m := range g.GlobalClusterMembers {
		if aws.ToBool(m.IsWriter) {
			return aws.ToString(m.DBClusterArn)
		}
	}
	return ""
}

func member(g *rdstypes.GlobalCluster, arn string) bool {
	for _, m := range g.GlobalClusterMembers {
		if aws.ToString(m.DBClusterArn) == arn {
			return true
		}
	}
	return false
}

func members(g *rdstypes.GlobalCluster) []string {
	var out []string
	for _, m := range g.GlobalClusterMembers {
		out = append(out, aws.ToString(m.DBClusterArn))
	}
	return out
}

func failoverStatus(g *rdstypes.GlobalCluster) string {
	if g.FailoverState == nil {
		return "none"
	}
	return string(g.FailoverState.Status)
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
		return h.respond(ctx, e.Event, e.PhysicalResourceID, fmt.Errorf("restorable: could not go on waiting for the switch: %w", err))
	}
	h.logf("still switching; continued in a new invocation")
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
