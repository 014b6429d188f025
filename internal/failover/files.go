package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/smithy-go"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// filesProps are the replica promotion's properties.
type filesProps struct {
	FileSystem string // the replica, in this function's region
	Mode       string
}

// filesStep makes the EFS replica p.FileSystem writeable: done once its
// replication overwrite protection is ENABLED again, which EFS sets when the
// replication configuration is gone and the file system is writeable
// (https://docs.aws.amazon.com/efs/latest/ug/replication-overwrite.html).
//
// A switchover first waits until the destination's LastReplicatedTimestamp
// is after the switch began: every change made on the source before then is
// on the replica (API_Destination.html). Stop the writers first; what they
// write after the switch began may not be. A failover does not wait. The
// deletion asks for both sides (ALL_CONFIGURATIONS); a failover whose source
// region cannot be reached deletes the local side only
// (LOCAL_CONFIGURATION_ONLY, API_DeleteReplicationConfiguration.html).
func (h Handler) filesStep(p filesProps) step {
	return func(ctx context.Context, e *Event, started time.Time) (bool, string, error) {
		out, err := h.EFS.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String(p.FileSystem)})
		if err != nil {
			return false, "", fmt.Errorf("restorable: could not read the replica %s: %w", p.FileSystem, err)
		}
		if len(out.FileSystems) != 1 {
			return false, "", fmt.Errorf("restorable: the replica %s does not exist", p.FileSystem)
		}
		protection := efstypes.ReplicationOverwriteProtection("")
		if fp := out.FileSystems[0].FileSystemProtection; fp != nil {
			protection = fp.ReplicationOverwriteProtection
		}
		state := "replication overwrite protection " + string(protection)
		if protection == efstypes.ReplicationOverwriteProtectionEnabled {
			if !e.Requested && p.Mode == contract.ModeSwitchover {
				// Writeable before this deploy ended the replication: nothing
				// proves it holds the source's last changes.
				return false, state, fmt.Errorf("restorable: %s is writeable already: its replication ended before this deploy, so a switchover cannot show that it holds every change of the source; check its content, then use failoverTo with allowDataLoss", p.FileSystem)
			}
			h.logf("%s is writeable", p.FileSystem)
			return true, state, nil
		}
		if e.Requested {
			// Deleting the configuration "can take several minutes"
			// (delete-replications.html).
			return false, state + "; the replication configuration is being deleted", nil
		}
		repl, err := h.EFS.DescribeReplicationConfigurations(ctx, &efs.DescribeReplicationConfigurationsInput{FileSystemId: aws.String(p.FileSystem)})
		var none *efstypes.ReplicationNotFound
		switch {
		case errors.As(err, &none) && protection == efstypes.ReplicationOverwriteProtectionDisabled:
			return false, state, fmt.Errorf("restorable: %s replicates from nothing (no replication configuration) and is not writeable yet; give the source's ReplicateTo this file system, or remove ReplicaOf", p.FileSystem)
		case errors.As(err, &none):
			return false, state + "; no replication configuration yet", nil
		case err != nil:
			return false, state, fmt.Errorf("restorable: could not read the replication of %s: %w", p.FileSystem, err)
		case len(repl.Replications) == 0:
			return false, state + "; no replication configuration yet", nil
		}
		r := repl.Replications[0]
		source := aws.ToString(r.SourceFileSystemId)
		if arn := aws.ToString(r.SourceFileSystemArn); arn != "" {
			// The API takes an ARN too, which names the source's region
			// when the call is made from the replica's.
			source = arn
		}
		var last *time.Time
		var destStatus efstypes.ReplicationStatus
		for _, d := range r.Destinations {
			if aws.ToString(d.FileSystemId) == p.FileSystem {
				last, destStatus = d.LastReplicatedTimestamp, d.Status
				if d.Status == efstypes.ReplicationStatusError && p.Mode == contract.ModeSwitchover {
					return false, state, fmt.Errorf("restorable: the replication from %s to %s is in ERROR (%s), so a switchover cannot know the replica is complete; repair it, or fail over with allowDataLoss",
						source, p.FileSystem, aws.ToString(d.StatusMessage))
				}
			}
		}
		if last == nil {
			// allowDataLoss consents to the last minutes, not to a replica
			// whose first copy never finished.
			return false, state, fmt.Errorf("restorable: %s has never completed a replication from %s (status %s), so it may hold part of the files or none; restore the source's copy in the vault instead (docs/runbooks/region.md)", p.FileSystem, source, destStatus)
		}
		h.logf("%s last replicated %s (%s ago)", p.FileSystem, last.Format(time.RFC3339), h.now().Sub(*last).Round(time.Second))
		if p.Mode == contract.ModeSwitchover {
			if last.Before(started) {
				return false, fmt.Sprintf("%s; waiting for the replica to have every change before %s (last replicated %v)", state, started.Format(time.RFC3339), last), nil
			}
		}
		if err := h.stillDeploying(ctx, e); err != nil {
			return false, state, err
		}
		mode := efstypes.DeletionModeAllConfigurations
		_, err = h.EFS.DeleteReplicationConfiguration(ctx, &efs.DeleteReplicationConfigurationInput{SourceFileSystemId: aws.String(source), DeletionMode: mode})
		if err != nil && p.Mode == contract.ModeFailover && !errors.As(err, &none) && unreachable(err) {
			h.logf("deleting the replication from %s on both sides: %v; the source's region is down, so only this side", source, err)
			mode = efstypes.DeletionModeLocalConfigurationOnly
			_, err = h.EFS.DeleteReplicationConfiguration(ctx, &efs.DeleteReplicationConfigurationInput{SourceFileSystemId: aws.String(source), DeletionMode: mode})
		}
		if err != nil && !errors.As(err, &none) {
			return false, state, fmt.Errorf("restorable: could not delete the replication from %s to %s (%s): %w", source, p.FileSystem, mode, err)
		}
		e.Requested = true
		h.logf("replication from %s to %s deleted (%s)", source, p.FileSystem, mode)
		return false, state + "; the replication configuration is being deleted", nil
	}
}

// unreachable reports whether a failed deletion of both sides may be the
// source's region not answering, the one case for deleting this side only
// (API_DeleteReplicationConfiguration.html, DeletionMode): not a refusal of
// the caller (access, throttling, a deletion already under way).
func unreachable(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDeniedException", "AccessDenied", "ThrottlingException", "Throttling", "BadRequest", "ValidationException", "IncorrectFileSystemLifeCycleState", "ConflictException", "FileSystemNotFound":
			return false
		}
	}
	return true
}
