package efsrestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/mover"
)

const (
	rp        = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
	otherRP   = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:2FC4C6F8-0FC1-546B-B91C-219C599C1E56"
	requestID = "7b0c3e58-1f0e-4d35-9a3a-2d1c0b6f4e21"
	moverFn   = "arn:aws:lambda:ap-northeast-1:123456789012:function:AppStack-FilesMover"
)

const (
	fsArn       = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0123456789abcdef0"
	otherFSArn  = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0fedcba9876543210"
	tempFSID    = "fs-0aaaabbbbccccdddd"
	tempFSArn   = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/" + tempFSID
	backupVault = "restorable-vault"
)

// storedPoint is a recovery point in a fake vault.
type storedPoint struct {
	resourceArn, resourceType string
	status                    types.RecoveryPointStatus
}

// fakeBackup records the calls, answers DescribeRestoreJob from a script, and
// keeps recovery points in vaults.
type fakeBackup struct {
	started  []*backup.StartRestoreJobInput
	statuses []types.RestoreJobStatus
	message  string
	errs     []error
	polls    int
	// vaults maps a vault name to its recovery points by ARN.
	vaults map[string]map[string]storedPoint
	// onCompleted runs when a job is first reported COMPLETED.
	onCompleted func(in *backup.StartRestoreJobInput)
	completed   bool
}

func (f *fakeBackup) StartRestoreJob(_ context.Context, in *backup.StartRestoreJobInput, _ ...func(*backup.Options)) (*backup.StartRestoreJobOutput, error) {
	f.started = append(f.started, in)
	return &backup.StartRestoreJobOutput{RestoreJobId: aws.String("job-1")}, nil
}

func (f *fakeBackup) ListBackupVaults(_ context.Context, in *backup.ListBackupVaultsInput, _ ...func(*backup.Options)) (*backup.ListBackupVaultsOutput, error) {
	var names []string
	for name := range f.vaults {
		names = append(names, name)
	}
	sort.Strings(names)
	// One vault per page, to exercise the paging.
	i := 0
	if in.NextToken != nil {
		i, _ = strconv.Atoi(*in.NextToken)
	}
	out := &backup.ListBackupVaultsOutput{}
	if i < len(names) {
		out.BackupVaultList = []types.BackupVaultListMember{{BackupVaultName: aws.String(names[i])}}
	}
	if i+1 < len(names) {
		out.NextToken = aws.String(strconv.Itoa(i + 1))
	}
	return out, nil
}

func (f *fakeBackup) DescribeRecoveryPoint(_ context.Context, in *backup.DescribeRecoveryPointInput, _ ...func(*backup.Options)) (*backup.DescribeRecoveryPointOutput, error) {
	rp, ok := f.vaults[aws.ToString(in.BackupVaultName)][aws.ToString(in.RecoveryPointArn)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no such recovery point")}
	}
	return &backup.DescribeRecoveryPointOutput{BackupVaultName: in.BackupVaultName, RecoveryPointArn: in.RecoveryPointArn,
		ResourceArn: aws.String(rp.resourceArn), ResourceType: aws.String(rp.resourceType), Status: rp.status}, nil
}

func (f *fakeBackup) GetRecoveryPointRestoreMetadata(_ context.Context, in *backup.GetRecoveryPointRestoreMetadataInput, _ ...func(*backup.Options)) (*backup.GetRecoveryPointRestoreMetadataOutput, error) {
	rp := f.vaults[aws.ToString(in.BackupVaultName)][aws.ToString(in.RecoveryPointArn)]
	return &backup.GetRecoveryPointRestoreMetadataOutput{RecoveryPointArn: in.RecoveryPointArn, RestoreMetadata: map[string]string{
		"file-system-id": rp.resourceArn[strings.LastIndex(rp.resourceArn, "/")+1:], "Encrypted": "true", "PerformanceMode": "generalPurpose",
	}}, nil
}

func (f *fakeBackup) DescribeRestoreJob(_ context.Context, in *backup.DescribeRestoreJobInput, _ ...func(*backup.Options)) (*backup.DescribeRestoreJobOutput, error) {
	i := f.polls
	f.polls++
	if i < len(f.errs) && f.errs[i] != nil {
		return nil, f.errs[i]
	}
	status := f.statuses[len(f.statuses)-1]
	if i < len(f.statuses) {
		status = f.statuses[i]
	}
	out := &backup.DescribeRestoreJobOutput{RestoreJobId: in.RestoreJobId, Status: status, StatusMessage: aws.String(f.message), PercentDone: aws.String("50%")}
	if status == types.RestoreJobStatusCompleted && len(f.started) > 0 {
		last := f.started[len(f.started)-1]
		if last.Metadata["newFileSystem"] == "true" {
			out.CreatedResourceArn = aws.String(tempFSArn)
		}
		if !f.completed && f.onCompleted != nil {
			f.onCompleted(last)
		}
		f.completed = true
	}
	return out, nil
}

// localMover is a fake Lambda client that runs the real mover on a directory,
// as the mover Lambda does on the mounted file system; restoreDir, when set, is
// created (as AWS Backup would) after the prepare call.
type localMover struct {
	m            mover.Mover
	restored     map[string]string
	calls        []string
	fail         string
	afterPrepare func()
	// moveErrs are answered, in order, to the first move calls.
	moveErrs []func() (*lambda.InvokeOutput, error)
}

func (l *localMover) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	var req mover.Request
	if err := json.Unmarshal(in.Payload, &req); err != nil {
		return nil, err
	}
	l.calls = append(l.calls, req.Action+" "+aws.ToString(in.FunctionName))
	if req.Action == mover.ActionMove && len(l.moveErrs) > 0 {
		next := l.moveErrs[0]
		l.moveErrs = l.moveErrs[1:]
		return next()
	}
	if l.fail == req.Action {
		return &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: []byte(`{"errorMessage":"open /mnt/efs: permission denied","errorType":"PathError"}`)}, nil
	}
	out, err := l.m.Handle(ctx, req)
	if err != nil {
		payload, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "errorString"})
		return &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: payload}, nil
	}
	if req.Action == mover.ActionPrepare && l.afterPrepare != nil {
		l.afterPrepare()
	}
	payload, err := json.Marshal(out)
	return &lambda.InvokeOutput{Payload: payload}, err
}

func props(recoveryPoint string) map[string]interface{} {
	return map[string]interface{}{
		PropResource: "AppStack/Files", PropRecoveryPointArn: recoveryPoint, PropFileSystemID: "fs-0123456789abcdef0",
		PropEncrypted: "true", PropKmsKeyID: "arn:aws:kms:ap-northeast-1:123456789012:key/1", PropPerformanceMode: "generalPurpose",
		PropRestoreRoleArn: "arn:aws:iam::123456789012:role/restore", PropMoverFunction: moverFn, PropFileSystemArn: fsArn,
		PropTransferSubnetID: "subnet-0a1", PropTransferSubnetArn: "arn:aws:ec2:ap-northeast-1:123456789012:subnet/subnet-0a1",
		PropTransferSecurityGroupID: "sg-0t1", PropTransferSecurityGroupArn: "arn:aws:ec2:ap-northeast-1:123456789012:security-group/sg-0t1",
		PropTransferRoleArn: "arn:aws:iam::123456789012:role/transfer",
	}
}

func setup(t *testing.T, statuses ...types.RestoreJobStatus) (Handler, *fakeBackup, *localMover) {
	t.Helper()
	root := t.TempDir()
	lm := &localMover{m: mover.Mover{Root: root, Now: func() time.Time { return time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC) }}}
	lm.afterPrepare = func() {
		dir := filepath.Join(root, mover.RestorePrefix+"2026-11-20T10-30-05")
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "uploads"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "uploads", "deleted.png"), []byte("restored"), 0o644))
	}
	fb := &fakeBackup{statuses: statuses, vaults: map[string]map[string]storedPoint{
		"Default":   {},
		backupVault: {rp: {fsArn, "EFS", types.RecoveryPointStatusCompleted}, otherRP: {fsArn, "EFS", types.RecoveryPointStatusCompleted}},
	}}
	return Handler{Backup: fb, Lambda: lm, Log: func(string, ...interface{}) {}}, fb, lm
}

func create(recoveryPoint string) Event {
	return Event{RequestType: "Create", RequestID: requestID, ResourceProperties: props(recoveryPoint)}
}

// run drives a request through onEvent and isComplete polls, as the provider
// framework does.
func run(t *testing.T, h Handler, e Event) (Response, CompleteResponse, error) {
	t.Helper()
	resp, err := h.OnEvent(context.Background(), e)
	if err != nil {
		return resp, CompleteResponse{}, err
	}
	e.PhysicalResourceID, e.Data = resp.PhysicalResourceID, resp.Data
	for i := 0; i < 50; i++ {
		done, err := h.IsComplete(context.Background(), e)
		if err != nil || done.IsComplete {
			return resp, done, err
		}
	}
	t.Fatal("never completed")
	return resp, CompleteResponse{}, nil
}

func TestARestoreStartsAJobWaitsAndMovesTheFilesBack(t *testing.T) {
	h, fb, lm := setup(t, types.RestoreJobStatusPending, types.RestoreJobStatusRunning, types.RestoreJobStatusCompleted)
	resp, done, err := run(t, h, create(rp))
	require.NoError(t, err)
	assert.Equal(t, "restorable-efs-restore-1EB3B5E7-9EB0-435A-A80B-108B488B0D45", resp.PhysicalResourceID)
	// One job, into the stack's own file system, idempotent on the request.
	require.Len(t, fb.started, 1)
	in := fb.started[0]
	assert.Equal(t, rp, aws.ToString(in.RecoveryPointArn))
	assert.Equal(t, "EFS", aws.ToString(in.ResourceType))
	assert.Equal(t, requestID, aws.ToString(in.IdempotencyToken))
	assert.Equal(t, "arn:aws:iam::123456789012:role/restore", aws.ToString(in.IamRoleArn))
	assert.Equal(t, map[string]string{
		"file-system-id": "fs-0123456789abcdef0", "newFileSystem": "false", "CreationToken": requestID,
		"Encrypted": "true", "KmsKeyId": "arn:aws:kms:ap-northeast-1:123456789012:key/1", "PerformanceMode": "generalPurpose",
	}, in.Metadata)
	// It polled until COMPLETED, then moved the files back.
	assert.Equal(t, 3, fb.polls)
	assert.Equal(t, []string{"prepare " + moverFn, "move " + moverFn}, lm.calls)
	assert.FileExists(t, filepath.Join(lm.m.Root, "uploads", "deleted.png"))
	assert.Equal(t, "restored", done.Data[DataStatus])
	assert.Equal(t, 1, done.Data[DataMoved])
}

func TestTheSameRecoveryPointIsNeverRestoredTwice(t *testing.T) {
	h, fb, lm := setup(t, types.RestoreJobStatusCompleted)
	_, _, err := run(t, h, create(rp))
	require.NoError(t, err)
	// A deploy that changes another property of the restore (say, the mover
	// function) sends an Update with the same recovery point: nothing happens.
	update := Event{RequestType: "Update", RequestID: "b2", PhysicalResourceID: PhysicalID(rp), ResourceProperties: props(rp), OldResourceProperties: props(rp)}
	resp, done, err := run(t, h, update)
	require.NoError(t, err)
	assert.Equal(t, "unchanged", resp.Data[DataStatus])
	assert.True(t, done.IsComplete)
	// A new request for the same recovery point (the stack's restore resource
	// was removed and added again, or CloudFormation lost the response) finds the
	// mover's record and starts no job.
	again := create(rp)
	again.RequestID = "c3c3c3c3-0000-0000-0000-000000000000"
	resp, _, err = run(t, h, again)
	require.NoError(t, err)
	assert.Equal(t, "already-restored", resp.Data[DataStatus])
	assert.Len(t, fb.started, 1)
	assert.Equal(t, []string{"prepare " + moverFn, "move " + moverFn, "prepare " + moverFn}, lm.calls)
}

func TestAnotherRecoveryPointIsANewRestore(t *testing.T) {
	h, fb, _ := setup(t, types.RestoreJobStatusCompleted)
	update := Event{RequestType: "Update", RequestID: requestID, PhysicalResourceID: PhysicalID(rp), ResourceProperties: props(otherRP), OldResourceProperties: props(rp)}
	resp, _, err := run(t, h, update)
	require.NoError(t, err)
	assert.Equal(t, PhysicalID(otherRP), resp.PhysicalResourceID, "a new physical ID: CloudFormation deletes the old one, which does nothing")
	require.Len(t, fb.started, 1)
	assert.Equal(t, otherRP, aws.ToString(fb.started[0].RecoveryPointArn))
}

func TestAFailedJobFailsTheDeployAndMovesNothing(t *testing.T) {
	for _, status := range []types.RestoreJobStatus{types.RestoreJobStatusFailed, types.RestoreJobStatusAborted} {
		t.Run(string(status), func(t *testing.T) {
			h, fb, lm := setup(t, types.RestoreJobStatusRunning, status)
			fb.message = "Access denied to the recovery point's KMS key"
			_, _, err := run(t, h, create(rp))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "AWS Backup restore job job-1 of "+rp+" into fs-0123456789abcdef0 ended "+string(status)+": Access denied to the recovery point's KMS key. Nothing was moved")
			assert.Equal(t, []string{"prepare " + moverFn}, lm.calls)
			assert.DirExists(t, filepath.Join(lm.m.Root, mover.RestorePrefix+"2026-11-20T10-30-05"))
			assert.NoFileExists(t, filepath.Join(lm.m.Root, "uploads", "deleted.png"))
		})
	}
}

func TestThrottlingIsRetriedAtTheNextPoll(t *testing.T) {
	h, fb, _ := setup(t, types.RestoreJobStatusRunning, types.RestoreJobStatusCompleted)
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	fb.errs = []error{throttled, throttled}
	_, done, err := run(t, h, create(rp))
	require.NoError(t, err)
	assert.True(t, done.IsComplete)
	assert.Equal(t, 3, fb.polls)

	h, fb, _ = setup(t, types.RestoreJobStatusRunning)
	fb.errs = []error{&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}}
	_, _, err = run(t, h, create(rp))
	assert.ErrorContains(t, err, "could not read restore job job-1")
}

func TestTimeoutsAreResumedAtTheNextPoll(t *testing.T) {
	h, fb, lm := setup(t, types.RestoreJobStatusRunning, types.RestoreJobStatusCompleted)
	// This handler's call to AWS Backup runs out of time once.
	fb.errs = []error{fmt.Errorf("operation error Backup: DescribeRestoreJob: %w", context.DeadlineExceeded)}
	// The mover hits its Lambda time limit, then the invoke is throttled, then
	// it finishes.
	lm.moveErrs = []func() (*lambda.InvokeOutput, error){
		func() (*lambda.InvokeOutput, error) {
			return &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"),
				Payload: []byte(`{"errorMessage":"2026-11-20T10:45:05Z 0b1c Task timed out after 600.00 seconds","errorType":"Sandbox.Timedout"}`)}, nil
		},
		func() (*lambda.InvokeOutput, error) {
			return nil, &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate exceeded"}
		},
	}
	_, done, err := run(t, h, create(rp))
	require.NoError(t, err)
	assert.True(t, done.IsComplete)
	assert.Equal(t, "restored", done.Data[DataStatus])
	assert.Equal(t, []string{"prepare " + moverFn, "move " + moverFn, "move " + moverFn, "move " + moverFn}, lm.calls)
	assert.FileExists(t, filepath.Join(lm.m.Root, "uploads", "deleted.png"))
	assert.Len(t, fb.started, 1, "no second job")
}

func TestAMoverFailureExplainsWhereTheFilesAre(t *testing.T) {
	h, _, lm := setup(t, types.RestoreJobStatusCompleted)
	lm.fail = mover.ActionMove
	_, _, err := run(t, h, create(rp))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "moving the files back to their paths failed (the restored files are in the aws-backup-restore_ directory")
	assert.Contains(t, err.Error(), "open /mnt/efs: permission denied")

	h, fb, lm := setup(t, types.RestoreJobStatusCompleted)
	lm.fail = mover.ActionPrepare
	_, _, err = run(t, h, create(rp))
	assert.ErrorContains(t, err, "the mover could not check the file system before the restore")
	assert.Empty(t, fb.started, "no job without the mover's record")
}

func TestDeletesAndRollbacksNeverTouchData(t *testing.T) {
	h, fb, lm := setup(t, types.RestoreJobStatusCompleted)
	resp, done, err := run(t, h, Event{RequestType: "Delete", RequestID: requestID, PhysicalResourceID: PhysicalID(rp), ResourceProperties: props(rp)})
	require.NoError(t, err)
	assert.Equal(t, PhysicalID(rp), resp.PhysicalResourceID)
	assert.True(t, done.IsComplete)
	assert.Empty(t, fb.started)
	assert.Empty(t, lm.calls)
}

func TestPropertiesAreChecked(t *testing.T) {
	bad := props("arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:x")
	_, err := ParseProps(bad)
	assert.ErrorContains(t, err, "is not an AWS Backup recovery point ARN")
	missing := props(rp)
	delete(missing, PropMoverFunction)
	_, err = ParseProps(missing)
	assert.ErrorContains(t, err, "property MoverFunction is missing")
	assert.True(t, isThrottling(&smithy.GenericAPIError{Code: "TooManyRequestsException"}))
	assert.False(t, isThrottling(errors.New("plain")))
}
