// Package efsrestore restores an AWS Backup recovery point into a stack's own EFS
// file system, inside `cdk deploy`. It is the onEvent and isComplete handler of
// the Custom::RestorableEfsRestore resource (CDK provider framework):
//
//   - onEvent asks the mover whether the recovery point was already restored
//     (then it does nothing), lets it record the file system root, finds the
//     recovery point's vault and source file system, and starts an AWS Backup
//     restore job, with the CloudFormation request ID as idempotency token, so
//     a retried event never starts a second job;
//   - a recovery point of this file system is restored into it; AWS Backup
//     writes it to a new aws-backup-restore_<time> directory off the root;
//   - a recovery point of another file system (a copy in another region's
//     vault, or a backup of a replaced file system) cannot be restored into
//     this one: AWS Backup restores a whole EFS recovery point only into its
//     source file system or a new one. It is restored into a new, temporary file
//     system, which AWS DataSync copies into this one (copy.go), and which is
//     deleted afterwards;
//   - isComplete polls; when the restore directory is in place it has the mover
//     put the restored files back at their paths (resuming across calls), and
//     when a job ended FAILED or ABORTED it fails the deploy with AWS Backup's
//     message and moves nothing;
//   - a Delete, including a rollback, never touches data.
package efsrestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/restorable-cdk/restorable/internal/mover"
)

// Property names of Custom::RestorableEfsRestore.
const (
	PropResource         = "Resource"
	PropRecoveryPointArn = "RecoveryPointArn"
	PropFileSystemID     = "FileSystemId"
	PropEncrypted        = "Encrypted"
	PropKmsKeyID         = "KmsKeyId"
	PropPerformanceMode  = "PerformanceMode"
	PropRestoreRoleArn   = "RestoreRoleArn"
	PropMoverFunction    = "MoverFunction"
	// The file system's ARN, and what a copy from another file system uses:
	// the subnet and security group of the temporary mount target and of
	// DataSync's network interfaces, and the role DataSync writes with.
	PropFileSystemArn            = "FileSystemArn"
	PropTransferSubnetID         = "TransferSubnetId"
	PropTransferSubnetArn        = "TransferSubnetArn"
	PropTransferSecurityGroupID  = "TransferSecurityGroupId"
	PropTransferSecurityGroupArn = "TransferSecurityGroupArn"
	PropTransferRoleArn          = "TransferRoleArn"
)

// Props are the restore's properties as CloudFormation passes them.
type Props struct {
	Resource, RecoveryPointArn, FileSystemID, Encrypted, KmsKeyID, PerformanceMode, RestoreRoleArn, MoverFunction string
	FileSystemArn                                                                                                 string
	TransferSubnetID, TransferSubnetArn, TransferSecurityGroupID, TransferSecurityGroupArn, TransferRoleArn       string
}

// ParseProps reads and checks the properties of an event.
func ParseProps(raw map[string]interface{}) (Props, error) {
	s := func(k string) string { v, _ := raw[k].(string); return v }
	p := Props{
		Resource: s(PropResource), RecoveryPointArn: s(PropRecoveryPointArn), FileSystemID: s(PropFileSystemID),
		Encrypted: s(PropEncrypted), KmsKeyID: s(PropKmsKeyID), PerformanceMode: s(PropPerformanceMode),
		RestoreRoleArn: s(PropRestoreRoleArn), MoverFunction: s(PropMoverFunction), FileSystemArn: s(PropFileSystemArn),
		TransferSubnetID: s(PropTransferSubnetID), TransferSubnetArn: s(PropTransferSubnetArn),
		TransferSecurityGroupID: s(PropTransferSecurityGroupID), TransferSecurityGroupArn: s(PropTransferSecurityGroupArn),
		TransferRoleArn: s(PropTransferRoleArn),
	}
	for name, v := range map[string]string{PropRecoveryPointArn: p.RecoveryPointArn, PropFileSystemID: p.FileSystemID, PropRestoreRoleArn: p.RestoreRoleArn,
		PropMoverFunction: p.MoverFunction, PropFileSystemArn: p.FileSystemArn} {
		if v == "" {
			return Props{}, fmt.Errorf("efsrestore: property %s is missing", name)
		}
	}
	a, err := arn.Parse(p.RecoveryPointArn)
	if err != nil || a.Service != "backup" || !strings.HasPrefix(a.Resource, "recovery-point:") {
		return Props{}, fmt.Errorf("efsrestore: %s=%q is not an AWS Backup recovery point ARN", PropRecoveryPointArn, p.RecoveryPointArn)
	}
	return p, nil
}

// Event is a custom resource event as the provider framework passes it to
// onEvent and, with the onEvent result merged in, to isComplete.
type Event struct {
	RequestType           string                 `json:"RequestType"`
	RequestID             string                 `json:"RequestId"`
	PhysicalResourceID    string                 `json:"PhysicalResourceId"`
	ResourceProperties    map[string]interface{} `json:"ResourceProperties"`
	OldResourceProperties map[string]interface{} `json:"OldResourceProperties"`
	Data                  map[string]interface{} `json:"Data"`
}

// Response answers onEvent.
type Response struct {
	PhysicalResourceID string                 `json:"PhysicalResourceId"`
	Data               map[string]interface{} `json:"Data,omitempty"`
}

// CompleteResponse answers isComplete.
type CompleteResponse struct {
	IsComplete bool                   `json:"IsComplete"`
	Data       map[string]interface{} `json:"Data,omitempty"`
}

// Backup is the part of the AWS Backup client the restore uses.
type Backup interface {
	StartRestoreJob(ctx context.Context, in *backup.StartRestoreJobInput, opts ...func(*backup.Options)) (*backup.StartRestoreJobOutput, error)
	DescribeRestoreJob(ctx context.Context, in *backup.DescribeRestoreJobInput, opts ...func(*backup.Options)) (*backup.DescribeRestoreJobOutput, error)
	ListBackupVaults(ctx context.Context, in *backup.ListBackupVaultsInput, opts ...func(*backup.Options)) (*backup.ListBackupVaultsOutput, error)
	DescribeRecoveryPoint(ctx context.Context, in *backup.DescribeRecoveryPointInput, opts ...func(*backup.Options)) (*backup.DescribeRecoveryPointOutput, error)
	GetRecoveryPointRestoreMetadata(ctx context.Context, in *backup.GetRecoveryPointRestoreMetadataInput, opts ...func(*backup.Options)) (*backup.GetRecoveryPointRestoreMetadataOutput, error)
}

// Invoker is the part of the Lambda client that calls the mover.
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Logger records what the restore does.
type Logger func(format string, args ...interface{})

// Handler restores recovery points.
type Handler struct {
	Backup Backup
	Lambda Invoker
	// EFS and DataSync copy a recovery point of another file system (copy.go).
	EFS      FileSystems
	DataSync Transfers
	Log      Logger
}

// Data keys of the responses.
const (
	DataRestoreJobID  = "RestoreJobId"
	DataStatus        = "Status"
	DataMoved         = "Moved"
	DataSetAside      = "SetAside"
	DataPreRestoreDir = "PreRestoreDir"
	// DataMode is ModeInPlace or ModeCopy.
	DataMode = "Mode"
	// DataTemporaryFileSystem is the file system a copy was restored into.
	DataTemporaryFileSystem = "TemporaryFileSystemId"
)

// How a recovery point is restored.
const (
	// ModeInPlace: a recovery point of this file system, restored into it.
	ModeInPlace = "in-place"
	// ModeCopy: a recovery point of another file system, restored into a
	// temporary file system and copied into this one with DataSync.
	ModeCopy = "copy"
)

// PhysicalID names a restore by its recovery point: another recovery point is a
// new restore (CloudFormation replaces the custom resource, whose Delete does
// nothing), while the same one is never restored again.
func PhysicalID(recoveryPointArn string) string {
	return "restorable-efs-restore-" + recoveryPointArn[strings.LastIndex(recoveryPointArn, ":")+1:]
}

// OnEvent starts the restore of a Create, or of an Update to another recovery
// point.
func (h Handler) OnEvent(ctx context.Context, e Event) (Response, error) {
	if e.RequestType == "Delete" {
		h.Log("delete %s: nothing to do; restored files stay where they are", e.PhysicalResourceID)
		return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
	}
	p, err := ParseProps(e.ResourceProperties)
	if err != nil {
		return Response{}, err
	}
	id := PhysicalID(p.RecoveryPointArn)
	if e.RequestType == "Update" {
		if old, err := ParseProps(e.OldResourceProperties); err == nil && old.RecoveryPointArn == p.RecoveryPointArn {
			h.Log("update %s: same recovery point %s, nothing to restore", p.Resource, p.RecoveryPointArn)
			return Response{PhysicalResourceID: id, Data: map[string]interface{}{DataStatus: "unchanged"}}, nil
		}
	}
	var prep mover.PrepareResult
	if err := h.callMover(ctx, p.MoverFunction, mover.Request{Action: mover.ActionPrepare, RequestID: e.RequestID, RecoveryPoint: p.RecoveryPointArn}, &prep); err != nil {
		return Response{}, fmt.Errorf("restorable: %s: the mover could not check the file system before the restore: %w", p.Resource, err)
	}
	if prep.AlreadyRestored {
		h.Log("%s: %s was already restored at %s (request %s); no new restore job", p.Resource, p.RecoveryPointArn, prep.Marker.RestoredAt, prep.Marker.RequestID)
		return Response{PhysicalResourceID: id, Data: map[string]interface{}{DataStatus: "already-restored"}}, nil
	}
	point, err := h.locate(ctx, p.RecoveryPointArn)
	if err != nil {
		return Response{}, fmt.Errorf("restorable: %s: %w", p.Resource, err)
	}
	mode, target := ModeInPlace, p.FileSystemID
	metadata := map[string]string{
		"file-system-id":  p.FileSystemID,
		"newFileSystem":   "false",
		"CreationToken":   e.RequestID,
		"Encrypted":       p.Encrypted,
		"PerformanceMode": p.PerformanceMode,
		"KmsKeyId":        p.KmsKeyID,
	}
	if point.sourceArn != p.FileSystemArn {
		if err := p.checkTransfer(); err != nil {
			return Response{}, err
		}
		// AWS Backup restores a whole EFS recovery point into its source file
		// system or a new one ("file-system-id: the ID of the Amazon EFS file
		// system that is backed up", StartRestoreJob), so a recovery point of
		// another file system goes to a new one, encrypted with this file
		// system's key, and is copied from there.
		mode, target = ModeCopy, "a new, temporary file system"
		metadata["file-system-id"] = point.metadata["file-system-id"]
		metadata["newFileSystem"] = "true"
		metadata["CreationToken"] = CreationToken(e.RequestID)
		metadata["Encrypted"] = "true"
		h.Log("%s: %s is a recovery point of %s (vault %s), not of %s: restoring it into a temporary file system and copying it here with DataSync",
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
		IdempotencyToken: aws.String(e.RequestID),
	})
	if err != nil {
		return Response{}, fmt.Errorf("restorable: %s: AWS Backup did not start restoring %s into %s: %w", p.Resource, p.RecoveryPointArn, target, err)
	}
	job := aws.ToString(out.RestoreJobId)
	h.Log("%s: restore job %s started: %s into %s", p.Resource, job, p.RecoveryPointArn, target)
	return Response{PhysicalResourceID: id, Data: map[string]interface{}{DataRestoreJobID: job, DataStatus: "started", DataMode: mode}}, nil
}

// recoveryPoint is where a recovery point is and what it backs up.
type recoveryPoint struct {
	vault     string
	sourceArn string
	metadata  map[string]string
}

// locate finds the vault that holds a recovery point in this account and
// region, the file system it is a backup of, and its restore metadata.
// DescribeRecoveryPoint needs the vault's name, which the ARN does not carry.
func (h Handler) locate(ctx context.Context, recoveryPointArn string) (recoveryPoint, error) {
	var vaults []string
	for token := (*string)(nil); ; {
		out, err := h.Backup.ListBackupVaults(ctx, &backup.ListBackupVaultsInput{NextToken: token})
		if err != nil {
			return recoveryPoint{}, fmt.Errorf("could not list the backup vaults to find %s: %w", recoveryPointArn, err)
		}
		for _, v := range out.BackupVaultList {
			vaults = append(vaults, aws.ToString(v.BackupVaultName))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	for _, vault := range vaults {
		rp, err := h.Backup.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String(vault), RecoveryPointArn: aws.String(recoveryPointArn)})
		if err != nil {
			var nf *types.ResourceNotFoundException
			if errors.As(err, &nf) {
				continue
			}
			return recoveryPoint{}, fmt.Errorf("could not read recovery point %s in vault %s: %w", recoveryPointArn, vault, err)
		}
		if t := aws.ToString(rp.ResourceType); t != "EFS" {
			return recoveryPoint{}, fmt.Errorf("recovery point %s (vault %s) is a backup of a %s resource, %s, not of an EFS file system. Fix: give a recovery point of an EFS file system; aws backup list-recovery-points-by-resource lists them",
				recoveryPointArn, vault, t, aws.ToString(rp.ResourceArn))
		}
		if rp.Status != types.RecoveryPointStatusCompleted {
			return recoveryPoint{}, fmt.Errorf("recovery point %s (vault %s) is %s, and only a COMPLETED recovery point can be restored. Fix: wait for it, or pick another one",
				recoveryPointArn, vault, rp.Status)
		}
		meta, err := h.Backup.GetRecoveryPointRestoreMetadata(ctx, &backup.GetRecoveryPointRestoreMetadataInput{BackupVaultName: aws.String(vault), RecoveryPointArn: aws.String(recoveryPointArn)})
		if err != nil {
			return recoveryPoint{}, fmt.Errorf("could not read the restore metadata of %s in vault %s: %w", recoveryPointArn, vault, err)
		}
		return recoveryPoint{vault: vault, sourceArn: aws.ToString(rp.ResourceArn), metadata: meta.RestoreMetadata}, nil
	}
	return recoveryPoint{}, fmt.Errorf("recovery point %s is in none of the %d backup vaults of this account and region (%s). Fix: check the ARN; a copy in another account must first be copied into a vault of this one",
		recoveryPointArn, len(vaults), strings.Join(vaults, ", "))
}

// IsComplete reports whether the restore is done, moving the files back once
// AWS Backup has finished.
func (h Handler) IsComplete(ctx context.Context, e Event) (CompleteResponse, error) {
	job, _ := e.Data[DataRestoreJobID].(string)
	if e.RequestType == "Delete" || job == "" {
		return CompleteResponse{IsComplete: true}, nil
	}
	p, err := ParseProps(e.ResourceProperties)
	if err != nil {
		return CompleteResponse{}, err
	}
	if mode, _ := e.Data[DataMode].(string); mode == ModeCopy {
		return h.completeCopy(ctx, e, p, job)
	}
	out, err := h.Backup.DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String(job)})
	if err != nil {
		if isTransient(err) {
			h.Log("%s: restore job %s: asking again at the next poll: %v", p.Resource, job, err)
			return CompleteResponse{IsComplete: false}, nil
		}
		return CompleteResponse{}, fmt.Errorf("restorable: %s: could not read restore job %s: %w", p.Resource, job, err)
	}
	switch out.Status {
	case types.RestoreJobStatusCompleted:
	case types.RestoreJobStatusAborted, types.RestoreJobStatusFailed:
		return CompleteResponse{}, fmt.Errorf("restorable: %s: AWS Backup restore job %s of %s into %s ended %s: %s. Nothing was moved; the file system's files are as they were. Fix the cause and deploy again, or remove the recovery point from the context",
			p.Resource, job, p.RecoveryPointArn, p.FileSystemID, out.Status, aws.ToString(out.StatusMessage))
	default:
		h.Log("%s: restore job %s is %s (%s done)", p.Resource, job, out.Status, aws.ToString(out.PercentDone))
		return CompleteResponse{IsComplete: false}, nil
	}
	moved, done, err := h.moveBack(ctx, e, p)
	if err != nil || !done {
		return CompleteResponse{}, err
	}
	return CompleteResponse{IsComplete: true, Data: map[string]interface{}{
		DataRestoreJobID: job, DataStatus: "restored", DataMode: ModeInPlace, DataMoved: moved.Moved, DataSetAside: moved.SetAside, DataPreRestoreDir: moved.PreRestoreDir,
	}}, nil
}

// moveBack has the mover merge the restore directory into the root. It reports
// done once every entry is back; a mover call that ran out of time or was
// throttled is resumed at the next poll.
func (h Handler) moveBack(ctx context.Context, e Event, p Props) (mover.MoveResult, bool, error) {
	var moved mover.MoveResult
	if err := h.callMover(ctx, p.MoverFunction, mover.Request{Action: mover.ActionMove, RequestID: e.RequestID, RecoveryPoint: p.RecoveryPointArn}, &moved); err != nil {
		if isTransient(err) {
			// The mover keeps its progress on the file system, so the next
			// poll resumes where this call stopped.
			h.Log("%s: the mover did not finish this call, resuming at the next poll: %v", p.Resource, err)
			return moved, false, nil
		}
		return moved, false, fmt.Errorf("restorable: %s: AWS Backup restored %s into %s, but moving the files back to their paths failed (the restored files are in the aws-backup-restore_ directory at the file system root; see the README): %w",
			p.Resource, p.RecoveryPointArn, p.FileSystemID, err)
	}
	if !moved.Done {
		h.Log("%s: moved %d entries so far, %d set aside; continuing", p.Resource, moved.Moved, moved.SetAside)
		return moved, false, nil
	}
	h.Log("%s: restore of %s done: %d entries moved back, %d set aside in %s, left in %s: %v",
		p.Resource, p.RecoveryPointArn, moved.Moved, moved.SetAside, moved.PreRestoreDir, moved.RestoreDir, moved.Left)
	return moved, true, nil
}

// callMover invokes the mover Lambda synchronously and decodes its answer.
func (h Handler) callMover(ctx context.Context, function string, req mover.Request, out interface{}) error {
	payload, err := json.Marshal(req)
	if err != nil {
		return err
	}
	resp, err := h.Lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(function),
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return err
	}
	if resp.FunctionError != nil {
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
			ErrorType    string `json:"errorType"`
		}
		_ = json.Unmarshal(resp.Payload, &fe)
		if fe.ErrorMessage == "" {
			fe.ErrorMessage = string(resp.Payload)
		}
		err := fmt.Errorf("%s: %s", aws.ToString(resp.FunctionError), fe.ErrorMessage)
		// A function that hit its time limit reports Sandbox.Timedout
		// (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html,
		// FunctionError and the error payload).
		if fe.ErrorType == "Sandbox.Timedout" || strings.Contains(fe.ErrorMessage, "Task timed out") {
			return fmt.Errorf("%w: %v", errMoverTimedOut, err)
		}
		return err
	}
	return json.Unmarshal(resp.Payload, out)
}

// errMoverTimedOut marks a mover call that ran out of time.
var errMoverTimedOut = errors.New("the mover function timed out")

// isTransient reports whether a call may succeed if made again at the next
// poll: throttling, a timeout of this handler's call, or a mover that ran out of
// time (its work so far is kept).
func isTransient(err error) bool {
	return isThrottling(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errMoverTimedOut)
}

func isThrottling(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded":
		return true
	}
	return false
}
