package efsrestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/smithy-go"

	"github.com/restorable-cdk/restorable/internal/mover"
)

// Actions the state machine sends.
const (
	ActionStep = "step"
	ActionFail = "fail"
)

// StepInput is the state of an execution, which the state machine passes to
// every step: the request, and the state the previous step returned.
type StepInput struct {
	Action  string     `json:"action,omitempty"`
	Request Props      `json:"request"`
	State   StepState  `json:"state"`
	Error   *StepError `json:"error,omitempty"`
}

// StepError is what a Step Functions Catch records.
type StepError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Status values of a step.
const (
	StatusWait   = "wait"
	StatusDone   = "done"
	StatusFailed = "failed"
)

// StepState is a restore's progress, carried from step to step.
type StepState struct {
	Status string `json:"status"`
	// Prepared: the mover recorded the file system root.
	Prepared bool `json:"prepared,omitempty"`
	// JobID is the AWS Backup restore job; Mode is ModeInPlace or ModeCopy.
	JobID string `json:"jobId,omitempty"`
	Mode  string `json:"mode,omitempty"`
	// Copied: DataSync copied another file system's recovery point here.
	// Moved: the mover put the files in place.
	Copied bool `json:"copied,omitempty"`
	Moved  bool `json:"moved,omitempty"`
	// Settled are restore jobs of earlier, stopped requests that this
	// restore saw end before it recorded the file system's root.
	Settled []string `json:"settled,omitempty"`
	// Transient counts the steps in a row that hit a transient error.
	Transient int    `json:"transient,omitempty"`
	Message   string `json:"message,omitempty"`
}

// How a recovery point is restored.
const (
	// ModeInPlace: a recovery point of this file system, restored into it.
	ModeInPlace = "in-place"
	// ModeCopy: a recovery point of another file system, restored into a
	// temporary file system and copied into this one with DataSync.
	ModeCopy = "copy"
)

// maxTransient is how many steps in a row (30 seconds apart) may hit a
// transient error before the restore fails: 20 minutes.
const maxTransient = 40

// Step advances a restore as far as it can without waiting.
func (h Handler) Step(ctx context.Context, in StepInput) (StepState, error) {
	p := in.Request
	if err := p.check(); err != nil {
		return StepState{}, err
	}
	if p.RequestID == "" {
		return StepState{}, errors.New("efsrestore: the execution's request has no request ID")
	}
	st := in.State
	st.Status, st.Message = StatusWait, ""
	next, err := h.advance(ctx, p, st)
	if err == nil {
		next.Transient = 0
		return next, nil
	}
	if isTransient(err) && st.Transient < maxTransient {
		h.Log("%s: %v; trying again at the next step", p.Resource, err)
		st.Transient++
		st.Message = err.Error()
		return st, nil
	}
	return h.fail(ctx, p, st, err)
}

// advance runs the restore's stages in order: prepare, start the job, follow
// it, copy (for another file system's recovery point), move, signal.
func (h Handler) advance(ctx context.Context, p Props, st StepState) (StepState, error) {
	if !st.Prepared {
		var res mover.Result
		if err := h.callMover(ctx, p, mover.Request{Action: mover.ActionPrepare, RequestID: p.RequestID, RecoveryPoint: p.RecoveryPointArn, Settled: st.Settled}, &res); err != nil {
			return st, fmt.Errorf("the mover could not check the file system before the restore: %w", err)
		}
		switch res.Status {
		case mover.StatusBusy:
			return h.wait(p, st, "the mover is busy: %s", res.Message)
		case mover.StatusEarlierJobs:
			return h.awaitEarlierJobs(ctx, p, st, res.Jobs)
		case mover.StatusAlreadyRestored:
			msg := fmt.Sprintf("%s was restored into %s before (request %s, %s); nothing was restored again. To restore it once more, remove /.restorable/restored/%s.json from the file system first",
				p.RecoveryPointArn, p.FileSystemID, res.Marker.RequestID, res.Marker.RestoredAt.Format("2006-01-02T15:04:05Z"), p.point.ID)
			return h.succeed(ctx, p, st, msg)
		}
		if res.Message != "" {
			h.Log("%s: %s", p.Resource, res.Message)
		}
		st.Prepared = true
	}
	if st.JobID == "" {
		return h.startJob(ctx, p, st)
	}
	out, err := h.Backup.DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String(st.JobID)})
	if err != nil {
		return st, fmt.Errorf("could not read restore job %s: %w", st.JobID, err)
	}
	switch out.Status {
	case types.RestoreJobStatusCompleted:
	case types.RestoreJobStatusAborted, types.RestoreJobStatusFailed:
		return st, permanent(fmt.Errorf("AWS Backup restore job %s of %s ended %s: %s. Nothing was moved; the files of %s are as they were. Fix the cause and deploy again",
			st.JobID, p.RecoveryPointArn, out.Status, aws.ToString(out.StatusMessage), p.FileSystemID))
	default:
		return h.wait(p, st, "restore job %s is %s (%s done)", st.JobID, out.Status, aws.ToString(out.PercentDone))
	}
	if st.Mode == ModeCopy && !st.Copied {
		copied, msg, err := h.copyStep(ctx, p, st, aws.ToString(out.CreatedResourceArn))
		if err != nil || !copied {
			if err != nil {
				return st, err
			}
			return h.wait(p, st, "%s", msg)
		}
		st.Copied = true
	}
	// The mover answers a finished request with its result again, so a step
	// after the move asks once more, for the message.
	var res mover.Result
	if err := h.callMover(ctx, p, mover.Request{Action: mover.ActionMove, RequestID: p.RequestID, RecoveryPoint: p.RecoveryPointArn}, &res); err != nil {
		return st, fmt.Errorf("AWS Backup restored %s, but the mover could not put the files in place (the restored files are in an aws-backup-restore_ directory at the file system root): %w", p.RecoveryPointArn, err)
	}
	switch res.Status {
	case mover.StatusDone:
		st.Moved = true
	case mover.StatusAlreadyRestored:
		return h.succeed(ctx, p, st, "the recovery point was restored by another request")
	default:
		return h.wait(p, st, "the mover is %s: %d entries in place, %d set aside so far %s", res.Status, res.Moved, res.SetAside, res.Message)
	}
	if st.Mode == ModeCopy {
		if done, msg, err := h.callCleaner(ctx, p); err != nil || !done {
			if err != nil {
				return st, err
			}
			return h.wait(p, st, "%s", msg)
		}
	}
	msg := fmt.Sprintf("restored %s into %s: %d entries at the root put in place from %s", p.RecoveryPointArn, p.FileSystemID, res.Moved, res.RestoreDir)
	if res.SetAside > 0 {
		msg += fmt.Sprintf(", %d that were there before kept in %s", res.SetAside, res.PreRestoreDir)
	}
	return h.succeed(ctx, p, st, msg)
}

// startJob finds the recovery point and starts the AWS Backup restore job,
// with the request ID as its idempotency token, so a retried step never
// starts a second job.
func (h Handler) startJob(ctx context.Context, p Props, st StepState) (StepState, error) {
	point, err := h.locate(ctx, p.RecoveryPointArn)
	if err != nil {
		return st, err
	}
	mode, target := ModeInPlace, p.FileSystemID
	metadata := map[string]string{
		"file-system-id":  p.FileSystemID,
		"newFileSystem":   "false",
		"Encrypted":       p.Encrypted,
		"PerformanceMode": p.PerformanceMode,
		"KmsKeyId":        p.KmsKeyID,
	}
	if point.sourceArn != p.FileSystemArn {
		if err := p.checkTransfer(); err != nil {
			return st, permanent(err)
		}
		// AWS Backup restores a whole EFS recovery point into its source file
		// system or a new one ("file-system-id: the ID of the Amazon EFS file
		// system that is backed up",
		// https://docs.aws.amazon.com/aws-backup/latest/devguide/API_StartRestoreJob.html),
		// so a recovery point of another file system goes to a new one,
		// encrypted with this file system's key, and is copied from there.
		mode, target = ModeCopy, "a new, temporary file system"
		metadata["file-system-id"] = point.metadata["file-system-id"]
		metadata["newFileSystem"] = "true"
		metadata["CreationToken"] = CreationToken(p.RequestID)
		metadata["Encrypted"] = "true"
		h.Log("%s: %s is a recovery point of %s (vault %s), not of %s: restoring it into a temporary file system and copying it with DataSync",
			p.Resource, p.RecoveryPointArn, point.sourceArn, point.vault, p.FileSystemArn)
	}
	for k, v := range metadata {
		if v == "" {
			delete(metadata, k)
		}
	}
	out, err := h.Backup.StartRestoreJob(ctx, &backup.StartRestoreJobInput{
		RecoveryPointArn: aws.String(p.RecoveryPointArn),
		IamRoleArn:       aws.String(p.RestoreRoleArn),
		ResourceType:     aws.String("EFS"),
		Metadata:         metadata,
		IdempotencyToken: aws.String(p.RequestID),
	})
	if err != nil {
		return st, fmt.Errorf("AWS Backup did not start restoring %s into %s: %w", p.RecoveryPointArn, target, err)
	}
	// Recorded on the file system before anything else: AWS Backup cannot
	// stop the job, so if this deploy is stopped now, the next restore must
	// know to wait for it (internal/mover/jobs.go). A step retried after a
	// failure here starts the same job again (the idempotency token) and
	// records it then.
	if err := h.recordJob(ctx, p, aws.ToString(out.RestoreJobId)); err != nil {
		return st, err
	}
	st.JobID, st.Mode = aws.ToString(out.RestoreJobId), mode
	return h.wait(p, st, "restore job %s started: %s into %s", st.JobID, p.RecoveryPointArn, target)
}

func (h Handler) wait(p Props, st StepState, format string, args ...interface{}) (StepState, error) {
	st.Status, st.Message = StatusWait, fmt.Sprintf(format, args...)
	h.Log("%s: %s", p.Resource, st.Message)
	return st, nil
}

// succeed signals the wait condition that the restore is done.
func (h Handler) succeed(ctx context.Context, p Props, st StepState, msg string) (StepState, error) {
	if err := h.signal(ctx, p, true, msg); err != nil {
		return st, err
	}
	st.Status, st.Message = StatusDone, msg
	h.Log("%s: %s", p.Resource, msg)
	return st, nil
}

// fail signals the wait condition that the restore failed, which fails the
// deploy; CloudFormation then rolls back, and the rollback undoes the
// request's swaps, if any.
func (h Handler) fail(ctx context.Context, p Props, st StepState, cause error) (StepState, error) {
	msg := fmt.Sprintf("restorable: %s: %v", p.Resource, cause)
	// The swap is undone now, while the deploy still runs, so that a failure
	// to undo fails the deploy visibly: the stop that the rollback runs later
	// may come in CloudFormation's cleanup, where a failure is only skipped.
	if st.Prepared {
		var res mover.Result
		err := h.callMover(ctx, p, mover.Request{Action: mover.ActionAbort, RequestID: p.RequestID, RecoveryPoint: p.RecoveryPointArn}, &res)
		switch {
		case err != nil:
			msg += fmt.Sprintf("; and the swap could not be undone (%v): undo it with the mover, which alone may mount the root: aws lambda invoke --function-name %s --cli-binary-format raw-in-base64-out --payload '{\"action\":\"abort\",\"requestId\":\"%s\",\"recoveryPoint\":\"%s\"}' /dev/stdout",
				err, p.MoverFunction, p.RequestID, p.RecoveryPointArn)
		case res.Status == mover.StatusBusy:
			msg += "; a mover step still holds the lock, so the rollback undoes the swap once its lease ends"
		default:
			msg += "; " + res.Message
		}
	}
	if err := h.signal(ctx, p, false, msg); err != nil {
		return st, fmt.Errorf("%s; and the wait condition could not be told: %w", msg, err)
	}
	st.Status, st.Message = StatusFailed, msg
	h.Log("%s", msg)
	return st, nil
}

// Fail is the state machine's last step after an error it caught (a step
// that crashed or timed out over and over): it fails the deploy.
func (h Handler) Fail(ctx context.Context, in StepInput) (StepState, error) {
	cause := "the restore's execution failed"
	if in.Error != nil {
		cause = fmt.Sprintf("the restore's execution failed: %s: %s", in.Error.Error, in.Error.Cause)
	}
	p := in.Request
	if err := p.check(); err != nil {
		return StepState{}, err
	}
	return h.fail(ctx, p, in.State, errors.New(cause))
}

// permanentError marks an error that waiting does not fix.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

// isTransient reports whether a call may succeed at the next step: throttling,
// a server error after the SDK's own retries, a timeout, or a mover that ran
// out of time or is not active yet.
func isTransient(err error) bool {
	var pe permanentError
	if errors.As(err, &pe) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errMoverTimedOut) || errors.Is(err, errMoverNotReady) {
		return true
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "ServiceUnavailable",
		"ServiceUnavailableException", "InternalServerError", "InternalFailure", "ResourceNotReadyException", "ResourceConflictException":
		return true
	}
	return strings.Contains(ae.ErrorCode(), "Throttl")
}

// awaitEarlierJobs waits, before this restore records the file system's
// root, until AWS Backup reports every restore job of earlier, stopped
// requests ended (COMPLETED, ABORTED or FAILED), so that the directory such a
// job writes late is never taken for this restore's
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeRestoreJob.html).
func (h Handler) awaitEarlierJobs(ctx context.Context, p Props, st StepState, jobs []string) (StepState, error) {
	var running []string
	for _, id := range jobs {
		out, err := h.Backup.DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String(id)})
		var nf *types.ResourceNotFoundException
		switch {
		case errors.As(err, &nf):
			// Gone from AWS Backup's history: long ended.
		case err != nil:
			return st, fmt.Errorf("could not read the restore job %s of an earlier, stopped deploy: %w", id, err)
		case out.Status != types.RestoreJobStatusCompleted && out.Status != types.RestoreJobStatusAborted && out.Status != types.RestoreJobStatusFailed:
			running = append(running, id+" ("+string(out.Status)+")")
			continue
		}
		if !contains(st.Settled, id) {
			st.Settled = append(st.Settled, id)
		}
	}
	if len(running) > 0 {
		return h.wait(p, st, "waiting for the restore job %s of an earlier, stopped deploy to end: AWS Backup cannot stop a restore job, and the directory it writes must not be taken for this restore's", strings.Join(running, ", "))
	}
	return h.wait(p, st, "the restore jobs of earlier, stopped deploys have ended (%s); recording the file system's root", strings.Join(st.Settled, ", "))
}

// recordJob has the mover record the restore job on the file system,
// waiting briefly for the lock an abort may hold.
func (h Handler) recordJob(ctx context.Context, p Props, jobID string) error {
	for try := 0; ; try++ {
		var res mover.Result
		err := h.callMover(ctx, p, mover.Request{Action: mover.ActionJob, RequestID: p.RequestID, RecoveryPoint: p.RecoveryPointArn, JobID: jobID}, &res)
		switch {
		case err != nil:
			return fmt.Errorf("AWS Backup started restore job %s, but the mover could not record it: %w", jobID, err)
		case res.Status != mover.StatusBusy:
			return nil
		case try >= 12:
			return fmt.Errorf("AWS Backup started restore job %s, but the mover could not record it: %s", jobID, res.Message)
		}
		h.sleep(5 * time.Second)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
