package efsrestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/datasync"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/restorable-cdk/restorable/internal/cfnstack"
	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/mover"
)

// Handler restores recovery points. Its clients are the SDK's own; the tests
// point them at fake services.
type Handler struct {
	Backup         *backup.Client
	EFS            *efs.Client
	DataSync       *datasync.Client
	Lambda         *lambda.Client
	SFN            *sfn.Client
	CloudFormation *cloudformation.Client
	// SNS tells the protection's alert topic of a stop that failed.
	SNS *sns.Client
	// HTTP signals the wait condition; default http.DefaultClient.
	HTTP *http.Client
	Log  Logger
	// Sleep waits between the tries of an abort; default time.Sleep.
	Sleep func(time.Duration)
	// MoverActiveWait bounds the wait for an inactive mover to become active.
	// Default: 10 minutes.
	MoverActiveWait time.Duration
	// Now is the clock of the stop's deadline; default time.Now.
	Now func() time.Time
}

func (h Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Logger records what the restore does.
type Logger func(format string, args ...interface{})

// physicalPrefix starts the physical ID of a restore: the recovery point's ID
// and the request that started its execution follow.
const physicalPrefix = "restorable-efs-restore/"

// PhysicalID names a restore by its recovery point and the request that
// started it. The same recovery point on a later deploy keeps it (nothing
// happens); another recovery point gets a new one, so CloudFormation replaces
// the resource and deletes the old one, whose execution finished long ago.
func PhysicalID(p Props, requestID string) string {
	return physicalPrefix + p.point.ID + "/" + requestID
}

// requestOf reads the request ID back from a physical ID.
func requestOf(physicalID string) (string, bool) {
	rest, ok := strings.CutPrefix(physicalID, physicalPrefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndex(rest, "/")
	if i < 0 || !contract.RequestIDPattern.MatchString(rest[i+1:]) {
		return "", false
	}
	return rest[i+1:], true
}

// ExecutionName is the Step Functions execution of a request: derived from the
// stack, the resource and the request, so a retried event starts nothing new
// (StartExecution is idempotent for the same name and input:
// https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html),
// and at most 80 letters, digits and hyphens.
func ExecutionName(stackID, logicalID, requestID string) string {
	sum := sha256.Sum256([]byte(stackID + "/" + logicalID))
	return "restorable-" + hex.EncodeToString(sum[:])[:12] + "-" + requestID
}

// OnEvent answers Custom::RestorableEfsRestore (cfn.LambdaWrap sends the
// response).
func (h Handler) OnEvent(ctx context.Context, e cfn.Event) (string, map[string]interface{}, error) {
	if e.RequestType == cfn.RequestDelete {
		// A Delete can come in CloudFormation's cleanup, after a rollback,
		// where a failure only skips the resource: the alert topic hears
		// of it too.
		return e.PhysicalResourceID, nil, h.alertOnFailure(ctx, e, h.stop(ctx, e, e.PhysicalResourceID, e.ResourceProperties))
	}
	p, err := ParseProps(e.ResourceProperties)
	if err != nil {
		return e.PhysicalResourceID, nil, err
	}
	status, err := cfnstack.Status(ctx, h.CloudFormation, e.StackID)
	if err != nil {
		return e.PhysicalResourceID, nil, fmt.Errorf("restorable: %s: could not read the stack's status to tell a rollback from a deploy, so no restore starts: %w", p.Resource, err)
	}
	if cfnstack.IsRollback(status) {
		// A rollback never starts a restore. It stops the restore this deploy
		// started, whose properties CloudFormation passes as the old ones.
		h.Log("%s %s during %s: no restore starts", e.RequestType, p.Resource, status)
		if e.RequestType == cfn.RequestUpdate {
			return e.PhysicalResourceID, nil, h.stop(ctx, e, e.PhysicalResourceID, e.OldResourceProperties)
		}
		return e.PhysicalResourceID, nil, nil
	}
	if e.RequestType == cfn.RequestUpdate {
		old, err := ParseProps(e.OldResourceProperties)
		switch {
		case err == nil && old.RecoveryPointArn == p.RecoveryPointArn && old.FileSystemID == p.FileSystemID:
			h.Log("update %s: same recovery point %s, nothing to restore", p.Resource, p.RecoveryPointArn)
			if old.WaitHandle != p.WaitHandle {
				// A new wait condition for the same restore (its name scheme
				// changed with an upgrade of restorable): it would wait 12
				// hours for a restore that is not repeated, so tell it now.
				if err := h.signal(ctx, p, true, "restorable: "+p.Resource+": "+p.RecoveryPointArn+" was restored into "+p.FileSystemID+" by an earlier deploy; nothing is restored again"); err != nil {
					return e.PhysicalResourceID, nil, fmt.Errorf("restorable: %s: could not tell the new wait condition that nothing is restored: %w", p.Resource, err)
				}
			}
			return e.PhysicalResourceID, nil, nil
		case err == nil && old.WaitHandle == p.WaitHandle:
			// The wait condition waits once, and this one has: a restore
			// started now would run after the deploy, while the app writes.
			return e.PhysicalResourceID, nil, fmt.Errorf("restorable: %s: the file system changed from %s to %s (it was replaced) while %s is still the restore source, and this deploy would not wait for a restore into it: nothing restores outside a deploy. "+
				"Fix: deploy once without the recovery point (efsRecoveryPointArn), then again with it, to restore into the new file system inside that deploy", p.Resource, old.FileSystemID, p.FileSystemID, p.RecoveryPointArn)
		}
	}
	p.RequestID = e.RequestID
	if err := p.check(); err != nil {
		return e.PhysicalResourceID, nil, err
	}
	name := ExecutionName(e.StackID, e.LogicalResourceID, e.RequestID)
	input, _ := json.Marshal(StepInput{Request: p})
	out, err := h.SFN.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(p.StateMachineArn), Name: aws.String(name), Input: aws.String(string(input))})
	var exists *sfntypes.ExecutionAlreadyExists
	switch {
	case errors.As(err, &exists):
		// The same request, retried after its execution ended: it ran once.
		h.Log("%s: execution %s exists already", p.Resource, name)
	case err != nil:
		return e.PhysicalResourceID, nil, fmt.Errorf("restorable: %s: could not start the restore of %s: %w", p.Resource, p.RecoveryPointArn, err)
	default:
		h.Log("%s: restoring %s into %s: execution %s", p.Resource, p.RecoveryPointArn, p.FileSystemID, aws.ToString(out.ExecutionArn))
	}
	return PhysicalID(p, e.RequestID), map[string]interface{}{"Execution": name}, nil
}

// stop ends the request named by a physical ID: its execution stops, and the
// mover undoes the request's swaps unless they are complete. It waits for a
// mover step that is still running to see the abort and let go of the lock.
func (h Handler) stop(ctx context.Context, e cfn.Event, physicalID string, props map[string]interface{}) error {
	requestID, ok := requestOf(physicalID)
	if !ok {
		h.Log("%s %s: not a restore this handler started; nothing to stop", e.RequestType, physicalID)
		return nil
	}
	p, err := ParseProps(props)
	if err != nil {
		h.Log("%s %s: its properties are unreadable (%v); nothing to stop", e.RequestType, physicalID, err)
		return nil
	}
	name := ExecutionName(e.StackID, e.LogicalResourceID, requestID)
	execArn := executionArn(p.StateMachineArn, name)
	_, err = h.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(execArn),
		Error: aws.String("restorable.Stopped"), Cause: aws.String("CloudFormation " + strings.ToLower(string(e.RequestType)) + " of " + p.Resource)})
	var missing *sfntypes.ExecutionDoesNotExist
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("restorable: %s: could not stop the restore's execution %s: %w", p.Resource, execArn, err)
	}
	p.RequestID = requestID
	// Longer than a crashed mover step's lease (contract.MoverLease), so the
	// abort gets the lock once that step's lease ends.
	remaining := contract.OrchestratorTimeout
	if d, ok := ctx.Deadline(); ok {
		remaining = time.Until(d)
	}
	deadline := h.now().Add(remaining - contract.StopMargin)
	abort := mover.Request{Action: mover.ActionAbort, RequestID: requestID, RecoveryPoint: p.RecoveryPointArn}
	for {
		var res mover.Result
		err := h.callMover(ctx, p, abort, &res)
		switch {
		case err == nil && res.Status != mover.StatusBusy:
			h.Log("%s: request %s stopped: %s %s", p.Resource, requestID, res.Status, res.Message)
			h.cleanupCopy(ctx, p)
			return nil
		case err != nil && !isTransient(err):
			return fmt.Errorf("restorable: %s: the restore's execution is stopped, but the mover could not undo request %s: %w", p.Resource, requestID, err)
		case h.now().After(deadline):
			payload, _ := json.Marshal(abort)
			return fmt.Errorf("restorable: %s: the restore's execution is stopped, but a mover step still holds the file system's lock (%s). "+
				"Once it is free, undo the request with the mover, which alone may mount the file system's root: "+
				"aws lambda invoke --function-name %s --cli-binary-format raw-in-base64-out --payload '%s' /dev/stdout; "+
				"then continue the rollback: aws cloudformation continue-update-rollback --stack-name %s",
				p.Resource, res.Message, p.MoverFunction, payload, e.StackID)
		}
		h.sleep(5 * time.Second)
	}
}

// executionArn is the ARN of an execution of a state machine.
func executionArn(stateMachineArn, name string) string {
	return strings.Replace(stateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + name
}

func (h Handler) sleep(d time.Duration) {
	if h.Sleep != nil {
		h.Sleep(d)
		return
	}
	time.Sleep(d)
}

// alertOnFailure publishes a failed stop to the protection's alert topic:
// CloudFormation skips a resource it cannot delete in the cleanup after a
// rollback ("CloudFormation tries to delete a resource three times before
// CloudFormation skips the resource and continues the cleanup process":
// https://repost.aws/knowledge-center/cloudformation-stack-cleanup-stuck),
// so the stack would report success with the files half restored.
func (h Handler) alertOnFailure(ctx context.Context, e cfn.Event, err error) error {
	if err == nil || h.SNS == nil {
		return err
	}
	p, perr := ParseProps(e.ResourceProperties)
	if perr != nil || p.AlertTopicArn == "" {
		return err
	}
	subject := "restorable: a restore of " + p.Resource + " could not be undone"
	if len(subject) > 100 {
		subject = subject[:100]
	}
	if _, serr := h.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(p.AlertTopicArn), Subject: aws.String(subject),
		Message: aws.String(err.Error() + "\n\nStack: " + e.StackID)}); serr != nil {
		h.Log("%s: could not publish to %s: %v", p.Resource, p.AlertTopicArn, serr)
	}
	return err
}
