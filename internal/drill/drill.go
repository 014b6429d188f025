// Package drill validates the copies that AWS Backup's restore testing makes
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html):
// when a drill's restore job ends, the stack's drill state machine creates
// the drill function, which checks the copy step by step, reports SUCCESSFUL,
// FAILED or TIMED_OUT with PutRestoreValidationResult, writes the drill's
// times as metrics, tells the alert topic of a failure or a missed RTO, and
// removes what it added to the copy, so that AWS Backup can delete it at the
// end of the validation window. The state machine then deletes the function.
//
// A drill acts on the copy only: every call that changes something names the
// copy, which AWS Backup named (awsbackup-restore-test-...) and tagged
// (awsbackup-restore-test), or what the drill itself created on it; the
// drill's role is limited the same way (restorable/drills.go).
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rdsdata"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/emf"
)

// Handler runs a drill's steps.
type Handler struct {
	Backup  *backup.Client
	RDS     *rds.Client
	Data    *rdsdata.Client
	EFS     *efs.Client
	Lambda  *lambda.Client
	SNS     *sns.Client
	Metrics io.Writer
	Now     func() time.Time
	Log     func(string, ...interface{})
}

// Actions of the state machine's calls.
const (
	ActionStep  = "step"
	ActionAbort = "abort"
)

// StepInput is what the state machine passes to each step.
type StepInput struct {
	Action       string               `json:"action"`
	RestoreJobID string               `json:"restoreJobId"`
	Config       contract.DrillConfig `json:"config"`
	State        State                `json:"state"`
	// Error is the state machine's caught error, for ActionAbort.
	Error interface{} `json:"error,omitempty"`
}

// Verdicts, AWS Backup's validation statuses
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_PutRestoreValidationResult.html).
const (
	Successful = string(backuptypes.RestoreValidationStatusSuccessful)
	Failed     = string(backuptypes.RestoreValidationStatusFailed)
	TimedOut   = string(backuptypes.RestoreValidationStatusTimedOut)
)

// Phases of a drill.
const (
	phaseStart         = ""
	phaseAuroraPrepare = "aurora-prepare"
	phaseAuroraWait    = "aurora-wait"
	phaseAuroraCheck   = "aurora-check"
	phaseFilesMount    = "efs-mount"
	phaseFilesFunction = "efs-function"
	phaseFilesCheck    = "efs-check"
	phaseCleanup       = "cleanup"
	phaseReport        = "report"
	phaseDone          = "done"
)

// State is what a drill carries from one step to the next.
type State struct {
	Phase string `json:"phase"`
	// Status is "wait" (call again after WaitSeconds) or "done".
	Status      string `json:"status"`
	WaitSeconds int    `json:"waitSeconds"`

	Resource  *contract.DrillResource `json:"resource,omitempty"`
	CopyArn   string                  `json:"copyArn,omitempty"`
	CopyID    string                  `json:"copyId,omitempty"`
	Created   time.Time               `json:"created"`
	Completed time.Time               `json:"completed"`
	Deadline  time.Time               `json:"deadline"`
	// JobCompleted: the restore job completed, so there is a copy to
	// validate and a validation status to set.
	JobCompleted bool  `json:"jobCompleted,omitempty"`
	BackupSize   int64 `json:"backupSize,omitempty"`

	// Aurora
	Engine   string `json:"engine,omitempty"`
	Instance string `json:"instance,omitempty"`
	Secret   string `json:"secret,omitempty"`
	// EFS
	MountTarget   string `json:"mountTarget,omitempty"`
	AccessPoint   string `json:"accessPoint,omitempty"`
	AccessPointID string `json:"accessPointId,omitempty"`
	FilesFunction string `json:"filesFunction,omitempty"`
	Files         int64  `json:"files,omitempty"`
	Bytes         int64  `json:"bytes,omitempty"`

	// Polls counts the waits, which grow longer (backoff) so that a long
	// validation window stays within Step Functions' 25,000 events
	// (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
	Polls int `json:"polls,omitempty"`
	// Aborts counts the state machine's aborts of this drill.
	Aborts int `json:"aborts,omitempty"`

	Verdict string `json:"verdict,omitempty"`
	Message string `json:"message,omitempty"`
	// Reported: PutRestoreValidationResult was called (a status cannot be
	// changed once set).
	Reported bool `json:"reported,omitempty"`
}

func (h Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h Handler) logf(format string, args ...interface{}) {
	if h.Log != nil {
		h.Log(format, args...)
	}
}

// Step runs one step of the drill and says when to call again.
func (h Handler) Step(ctx context.Context, in StepInput) (State, error) {
	s := in.State
	if in.Action == ActionAbort {
		return h.abort(ctx, in), nil
	}
	if s.Phase != phaseStart && s.Phase != phaseCleanup && s.Phase != phaseReport && s.Phase != phaseDone &&
		!s.Deadline.IsZero() && h.now().After(s.Deadline) {
		s.verdict(TimedOut, fmt.Sprintf("the copy was not validated by %s, %s before the end of the %g-hour validation window (in phase %s)",
			s.Deadline.UTC().Format(time.RFC3339), contract.DrillMargin, in.Config.ValidationWindowHours, s.Phase))
		s.Phase = phaseCleanup
	}
	var err error
	switch s.Phase {
	case phaseStart:
		s, err = h.start(ctx, in)
	case phaseAuroraPrepare:
		s, err = h.auroraPrepare(ctx, s)
	case phaseAuroraWait:
		s, err = h.auroraWait(ctx, s)
	case phaseAuroraCheck:
		s, err = h.auroraCheck(ctx, s)
	case phaseFilesMount:
		s, err = h.filesMount(ctx, in.Config, s)
	case phaseFilesFunction:
		s, err = h.filesFunction(ctx, in.RestoreJobID, in.Config, s)
	case phaseFilesCheck:
		s, err = h.filesCheck(ctx, in.RestoreJobID, s)
	case phaseCleanup:
		s, err = h.cleanup(ctx, s)
	case phaseReport:
		s, err = h.report(ctx, in.RestoreJobID, in.Config, s)
	case phaseDone:
		s.Status = "done"
	default:
		return s, fmt.Errorf("drill: unknown phase %q", s.Phase)
	}
	if err == nil && s.Status == "wait" {
		s = s.backoff()
	}
	return s, err
}

// backoff lengthens the waits of a drill that has polled long: 5 minutes
// after 20 waits, 10 after 60.
func (s State) backoff() State {
	s.Polls++
	floor := 0
	switch {
	case s.Polls > 60:
		floor = 600
	case s.Polls > 20:
		floor = 300
	}
	if s.WaitSeconds < floor && s.Phase != phaseCleanup && s.Phase != phaseReport {
		s.WaitSeconds = floor
	}
	return s
}

// wait says to call again after seconds.
func (s State) wait(seconds int) State {
	s.Status, s.WaitSeconds = "wait", seconds
	return s
}

// next moves to a phase right away.
func (s State) next(phase string) State {
	s.Phase = phase
	return s.wait(1)
}

// verdict records the first verdict; a later one does not replace it.
func (s *State) verdict(v, message string) {
	if s.Verdict == "" {
		s.Verdict, s.Message = v, message
	}
}

// start reads the restore job, finds which resource it drills, and refuses
// any job that is not a restore test of one of them.
func (h Handler) start(ctx context.Context, in StepInput) (State, error) {
	s := in.State
	job, err := h.Backup.DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String(in.RestoreJobID)})
	if err != nil {
		return s, fmt.Errorf("drill: describe restore job %s: %w", in.RestoreJobID, err)
	}
	if job.CreatedBy == nil || aws.ToString(job.CreatedBy.RestoreTestingPlanArn) == "" {
		s.Phase, s.Status = phaseDone, "done"
		h.logf("drill: restore job %s is not a restore test; nothing to do", in.RestoreJobID)
		return s, nil
	}
	for i := range in.Config.Resources {
		if r := in.Config.Resources[i]; r.Arn == aws.ToString(job.SourceResourceArn) {
			s.Resource = &r
		}
	}
	if s.Resource == nil {
		s.Phase, s.Status = phaseDone, "done"
		h.logf("drill: restore job %s restores %s, which is not one of this stack's drilled resources", in.RestoreJobID, aws.ToString(job.SourceResourceArn))
		return s, nil
	}
	s.Created, s.Completed = aws.ToTime(job.CreationDate), aws.ToTime(job.CompletionDate)
	s.BackupSize = aws.ToInt64(job.BackupSizeInBytes)
	s.CopyArn = aws.ToString(job.CreatedResourceArn)
	if job.Status != backuptypes.RestoreJobStatusCompleted {
		s.verdict(Failed, fmt.Sprintf("the restore job ended %s: %s", job.Status, aws.ToString(job.StatusMessage)))
		if s.Completed.IsZero() {
			s.Completed = h.now()
		}
		return s.next(phaseReport), nil
	}
	s.JobCompleted = true
	window := time.Duration(in.Config.ValidationWindowHours * float64(time.Hour))
	s.Deadline = s.Completed.Add(window - contract.DrillMargin)
	switch s.Resource.Kind {
	case "Aurora":
		s.CopyID = lastField(s.CopyArn, ":")
		if !strings.HasPrefix(s.CopyID, contract.RestoreTestPrefix) {
			s.verdict(Failed, fmt.Sprintf("the restore job's copy %s is not named %s..., so the drill does not touch it", s.CopyArn, contract.RestoreTestPrefix))
			return s.next(phaseReport), nil
		}
		return s.next(phaseAuroraPrepare), nil
	case "EFS":
		s.CopyID = lastField(s.CopyArn, "/")
		return s.next(phaseFilesMount), nil
	}
	s.verdict(Failed, fmt.Sprintf("unknown resource kind %q", s.Resource.Kind))
	return s.next(phaseReport), nil
}

// abort ends a drill whose step failed for good: the verdict is FAILED, and
// the drill goes on with its cleanup, step by step with its waits, so that
// what it added to the copy is gone before the report (AWS Backup deletes
// the copy once the validation is reported or the window ends). After three
// aborts it reports at once.
func (h Handler) abort(ctx context.Context, in StepInput) State {
	s := in.State
	s.Aborts++
	s.verdict(Failed, fmt.Sprintf("the drill stopped in phase %q: %v", s.Phase, in.Error))
	if s.Resource == nil {
		if st, err := h.start(ctx, StepInput{RestoreJobID: in.RestoreJobID, Config: in.Config}); err == nil && st.Resource != nil {
			st.Verdict, st.Message, st.Aborts = s.Verdict, s.Message, s.Aborts
			s = st
		}
	}
	if s.Resource == nil {
		s.Phase, s.Status = phaseDone, "done"
		return s
	}
	if s.Aborts > 3 {
		var err error
		if s, err = h.report(ctx, in.RestoreJobID, in.Config, s); err != nil {
			h.logf("drill: report after abort: %v", err)
		}
		s.Phase, s.Status = phaseDone, "done"
		return s
	}
	if s.Phase != phaseReport && s.Phase != phaseDone {
		s.Phase = phaseCleanup
	}
	return s.wait(30)
}

// report sets the validation status, writes the drill's metrics, and tells
// the alert topic of a failure or a missed RTO.
func (h Handler) report(ctx context.Context, jobID string, cfg contract.DrillConfig, s State) (State, error) {
	end := h.now()
	if s.Verdict == "" {
		s.verdict(Failed, "the drill ended without a verdict")
	}
	total := end.Sub(s.Created)
	restore := s.Completed.Sub(s.Created)
	rto := time.Duration(s.Resource.RTOSeconds * float64(time.Second))
	summary := fmt.Sprintf("%s: %s (restore=%s total=%s rto=%s", s.Verdict, s.Message, restore.Round(time.Second), total.Round(time.Second), rto)
	if s.Resource.Kind == "EFS" && s.Verdict == Successful {
		summary += fmt.Sprintf(" files=%d bytes=%d", s.Files, s.Bytes)
	}
	summary += ")"
	if s.JobCompleted && !s.Reported {
		if _, err := h.Backup.PutRestoreValidationResult(ctx, &backup.PutRestoreValidationResultInput{
			RestoreJobId: aws.String(jobID), ValidationStatus: backuptypes.RestoreValidationStatus(s.Verdict),
			ValidationStatusMessage: aws.String(truncate(summary, 1000)),
		}); err != nil {
			return s.wait(30), fmt.Errorf("drill: put validation result: %w", err)
		}
		s.Reported = true
	}
	passed := 0.0
	if s.Verdict == Successful {
		passed = 1
	}
	if err := emf.Write(h.metrics(), end, cfg.Stack, s.Resource.Path, []emf.Metric{
		{Name: contract.MetricDrillRestore, Value: restore.Seconds(), Unit: "Seconds"},
		{Name: contract.MetricDrillTotal, Value: total.Seconds(), Unit: "Seconds"},
		{Name: contract.MetricDrillPassed, Value: passed, Unit: "Count"},
	}, map[string]interface{}{"restoreJobId": jobID, "verdict": s.Verdict, "message": s.Message, "files": s.Files, "bytes": s.Bytes}); err != nil {
		return s, err
	}
	var problems []string
	if s.Verdict != Successful {
		problems = append(problems, "the drill "+s.Verdict)
	}
	if rto > 0 && total > rto {
		problems = append(problems, fmt.Sprintf("restore and validation took %s, over the RTO of %s", total.Round(time.Second), rto))
	}
	if len(problems) > 0 && cfg.AlertTopicArn != "" {
		subject := truncate("restorable drill of "+s.Resource.Path+": "+strings.Join(problems, "; "), 100)
		body := fmt.Sprintf("%s\n\nStack %s, resource %s, restore job %s.\n%s\n\nSee docs/backup.md (Drills: what to do when an alarm fires).",
			strings.Join(problems, "; "), cfg.Stack, s.Resource.Path, jobID, summary)
		if _, err := h.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(cfg.AlertTopicArn), Subject: aws.String(asciiSubject(subject)), Message: aws.String(body)}); err != nil {
			h.logf("drill: alert: %v", err)
		}
	}
	h.logf("drill: %s %s", s.Resource.Path, summary)
	s.Phase, s.Status = phaseDone, "done"
	return s, nil
}

func (h Handler) metrics() io.Writer {
	if h.Metrics != nil {
		return h.Metrics
	}
	return io.Discard
}

// cleanup removes what the drill added to the copy, one thing per step.
func (h Handler) cleanup(ctx context.Context, s State) (State, error) {
	if s.Resource == nil {
		return s.next(phaseReport), nil
	}
	switch s.Resource.Kind {
	case "Aurora":
		return h.auroraCleanup(ctx, s)
	case "EFS":
		return h.filesCleanup(ctx, s)
	}
	return s.next(phaseReport), nil
}

func lastField(s, sep string) string {
	return s[strings.LastIndex(s, sep)+1:]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// asciiSubject keeps an SNS subject to printable ASCII without line breaks
// ("must be ASCII text that begins with a letter, number, or punctuation
// mark; must not include line breaks or control characters":
// https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
func asciiSubject(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// notFound reports an error whose code is one of codes.
func notFound(err error, codes ...string) bool {
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) {
		return false
	}
	for _, c := range codes {
		if coded.ErrorCode() == c {
			return true
		}
	}
	return false
}
