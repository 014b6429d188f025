package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// globalProps are the global switch's properties.
type globalProps struct {
	GlobalCluster string
	Target        string // the ARN of the cluster that becomes the writer
	Mode          string // switchover or failover
}

// globalStep moves the writer of p.GlobalCluster to p.Target: done once
// DescribeGlobalClusters reports the target as the writer, available, with
// no operation under way.
func (h Handler) globalStep(p globalProps) step {
	var requestedAt time.Time // zero on a continuation: long ago
	return func(ctx context.Context, e *Event, started time.Time) (bool, string, error) {
		g, err := h.describeGlobal(ctx, p.GlobalCluster)
		if err != nil {
			return false, "", err
		}
		busy := g.FailoverState != nil && g.FailoverState.Status != ""
		state := fmt.Sprintf("status %s, failover state %s, writer %s", aws.ToString(g.Status), failoverStatus(g), writer(g))
		switch {
		case writer(g) == p.Target && !busy:
			// The writer is where it was asked: done, whatever the global
			// status (during a regional outage the old primary may not come
			// back for a while).
			h.logf("%s: %s is the writer (%s)", p.GlobalCluster, p.Target, state)
			return true, state, nil
		case !member(g, p.Target):
			return false, state, fmt.Errorf("restorable: %s is not a member of the global database %s (members: %s), so it cannot become its writer",
				p.Target, p.GlobalCluster, strings.Join(members(g), ", "))
		case busy && !e.Requested && aws.ToString(g.FailoverState.ToDbClusterArn) != "" && aws.ToString(g.FailoverState.ToDbClusterArn) != p.Target:
			// Another deploy is moving the writer elsewhere: moving it again
			// behind it would bounce the writer between regions.
			return false, state, fmt.Errorf("restorable: a %s of %s to %s is under way, not to %s; let it finish, then decide which region is the writer and deploy only that key",
				map[bool]string{true: "failover", false: "switchover"}[aws.ToBool(g.FailoverState.IsDataLossAllowed)], p.GlobalCluster, aws.ToString(g.FailoverState.ToDbClusterArn), p.Target)
		case busy:
			// This deploy's operation, or one to the same target: waited for.
			return false, state, nil
		case e.Requested && h.now().Sub(requestedAt) > 2*h.Poll:
			// This deploy's operation ended without moving the writer
			// (cancelled, or refused by the service after it began).
			return false, state, fmt.Errorf("restorable: the %s of %s to %s ended, but the writer is still %s; see the RDS events of the global database, then deploy again",
				p.Mode, p.GlobalCluster, p.Target, writer(g))
		case !e.Requested:
			// Before every request: a deploy that was cancelled or rolled
			// back while this waited must not move the writer afterwards.
			if err := h.stillDeploying(ctx, e); err != nil {
				return false, state, err
			}
			ok, refusal, err := h.startGlobal(ctx, p)
			if err != nil {
				return false, state, err
			}
			e.Requested, requestedAt = ok, h.now()
			if refusal != "" {
				if e.RefusedSince == nil {
					now := h.now()
					e.RefusedSince = &now
				}
				if h.now().Sub(*e.RefusedSince) > RefusalLimit {
					return false, state, fmt.Errorf("restorable: RDS has refused the %s of %s to %s for %s with nothing under way, so it will not start: %s",
						p.Mode, p.GlobalCluster, p.Target, RefusalLimit, refusal)
				}
				state += "; RDS refused to start it: " + refusal
			}
		}
		return false, state, nil
	}
}

// startGlobal asks for the switchover or failover. It reports whether RDS
// accepted it; a refusal because the global database is busy (another
// operation, a member being modified) is retried at the next poll.
func (h Handler) startGlobal(ctx context.Context, p globalProps) (bool, string, error) {
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

func (h Handler) describeGlobal(ctx context.Context, id string) (*rdstypes.GlobalCluster, error) {
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
	if g.FailoverState == nil || g.FailoverState.Status == "" {
		return "none"
	}
	return string(g.FailoverState.Status)
}
