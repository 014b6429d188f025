package efsrestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/datasync"
	dstypes "github.com/aws/aws-sdk-go-v2/service/datasync/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/mover"
)

// copiedRP is a copy, in this region's DR vault, of a recovery point of a file
// system in another region.
const (
	copiedRP = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:3AD5D7F9-1AD2-657C-CA2D-32AD6AAD2F67"
	drVault  = "restorable-dr-vault"
)

// fakeFS is one file system in fakeEFS.
type fakeFS struct {
	token string
	state efstypes.LifeCycleState
	tags  map[string]string
	// mounts maps mount target IDs to their state.
	mounts map[string]efstypes.LifeCycleState
}

// fakeEFS keeps file systems and records every call that changes one.
type fakeEFS struct {
	fs      map[string]*fakeFS
	changes []string
	errs    map[string]error
}

func (f *fakeEFS) fail(op string) error {
	if err := f.errs[op]; err != nil {
		delete(f.errs, op)
		return err
	}
	return nil
}

func (f *fakeEFS) DescribeFileSystems(_ context.Context, in *efs.DescribeFileSystemsInput, _ ...func(*efs.Options)) (*efs.DescribeFileSystemsOutput, error) {
	if err := f.fail("DescribeFileSystems"); err != nil {
		return nil, err
	}
	fs, ok := f.fs[aws.ToString(in.FileSystemId)]
	if !ok {
		return nil, &efstypes.FileSystemNotFound{Message: aws.String("File system does not exist.")}
	}
	d := efstypes.FileSystemDescription{FileSystemId: in.FileSystemId, CreationToken: aws.String(fs.token), LifeCycleState: fs.state}
	for k, v := range fs.tags {
		d.Tags = append(d.Tags, efstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if fs.state == efstypes.LifeCycleStateCreating {
		fs.state = efstypes.LifeCycleStateAvailable
	}
	return &efs.DescribeFileSystemsOutput{FileSystems: []efstypes.FileSystemDescription{d}}, nil
}

func (f *fakeEFS) DescribeMountTargets(_ context.Context, in *efs.DescribeMountTargetsInput, _ ...func(*efs.Options)) (*efs.DescribeMountTargetsOutput, error) {
	fs := f.fs[aws.ToString(in.FileSystemId)]
	out := &efs.DescribeMountTargetsOutput{}
	for id, state := range fs.mounts {
		out.MountTargets = append(out.MountTargets, efstypes.MountTargetDescription{MountTargetId: aws.String(id), FileSystemId: in.FileSystemId, LifeCycleState: state})
		// Each look moves a mount target on: created, or gone.
		switch state {
		case efstypes.LifeCycleStateCreating:
			fs.mounts[id] = efstypes.LifeCycleStateAvailable
		case efstypes.LifeCycleStateDeleting:
			delete(fs.mounts, id)
		}
	}
	return out, nil
}

func (f *fakeEFS) CreateMountTarget(_ context.Context, in *efs.CreateMountTargetInput, _ ...func(*efs.Options)) (*efs.CreateMountTargetOutput, error) {
	f.changes = append(f.changes, fmt.Sprintf("CreateMountTarget %s %s %v", aws.ToString(in.FileSystemId), aws.ToString(in.SubnetId), in.SecurityGroups))
	f.fs[aws.ToString(in.FileSystemId)].mounts["fsmt-1"] = efstypes.LifeCycleStateCreating
	return &efs.CreateMountTargetOutput{MountTargetId: aws.String("fsmt-1")}, nil
}

func (f *fakeEFS) DeleteMountTarget(_ context.Context, in *efs.DeleteMountTargetInput, _ ...func(*efs.Options)) (*efs.DeleteMountTargetOutput, error) {
	f.changes = append(f.changes, "DeleteMountTarget "+aws.ToString(in.MountTargetId))
	for _, fs := range f.fs {
		if _, ok := fs.mounts[aws.ToString(in.MountTargetId)]; ok {
			fs.mounts[aws.ToString(in.MountTargetId)] = efstypes.LifeCycleStateDeleting
		}
	}
	return &efs.DeleteMountTargetOutput{}, nil
}

func (f *fakeEFS) DeleteFileSystem(_ context.Context, in *efs.DeleteFileSystemInput, _ ...func(*efs.Options)) (*efs.DeleteFileSystemOutput, error) {
	f.changes = append(f.changes, "DeleteFileSystem "+aws.ToString(in.FileSystemId))
	if len(f.fs[aws.ToString(in.FileSystemId)].mounts) > 0 {
		return nil, &efstypes.FileSystemInUse{Message: aws.String("File system has mount targets.")}
	}
	delete(f.fs, aws.ToString(in.FileSystemId))
	return &efs.DeleteFileSystemOutput{}, nil
}

func (f *fakeEFS) TagResource(_ context.Context, in *efs.TagResourceInput, _ ...func(*efs.Options)) (*efs.TagResourceOutput, error) {
	if err := f.fail("TagResource"); err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		f.changes = append(f.changes, "TagResource "+aws.ToString(in.ResourceId)+" "+aws.ToString(t.Key))
		f.fs[aws.ToString(in.ResourceId)].tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return &efs.TagResourceOutput{}, nil
}

func (f *fakeEFS) UntagResource(_ context.Context, in *efs.UntagResourceInput, _ ...func(*efs.Options)) (*efs.UntagResourceOutput, error) {
	for _, k := range in.TagKeys {
		f.changes = append(f.changes, "UntagResource "+aws.ToString(in.ResourceId)+" "+k)
		delete(f.fs[aws.ToString(in.ResourceId)].tags, k)
	}
	return &efs.UntagResourceOutput{}, nil
}

// fakeDataSync records its calls and "copies" by running copy when an
// execution first reports SUCCESS.
type fakeDataSync struct {
	locations []*datasync.CreateLocationEfsInput
	tasks     []*datasync.CreateTaskInput
	runs      int
	statuses  []dstypes.TaskExecutionStatus
	polls     int
	result    *dstypes.TaskExecutionResultDetail
	copy      func()
	copied    bool
	deleted   []string
}

func (f *fakeDataSync) CreateLocationEfs(_ context.Context, in *datasync.CreateLocationEfsInput, _ ...func(*datasync.Options)) (*datasync.CreateLocationEfsOutput, error) {
	f.locations = append(f.locations, in)
	return &datasync.CreateLocationEfsOutput{LocationArn: aws.String(fmt.Sprintf("arn:aws:datasync:ap-northeast-1:123456789012:location/loc-%d", len(f.locations)))}, nil
}

func (f *fakeDataSync) CreateTask(_ context.Context, in *datasync.CreateTaskInput, _ ...func(*datasync.Options)) (*datasync.CreateTaskOutput, error) {
	f.tasks = append(f.tasks, in)
	return &datasync.CreateTaskOutput{TaskArn: aws.String("arn:aws:datasync:ap-northeast-1:123456789012:task/task-1")}, nil
}

func (f *fakeDataSync) StartTaskExecution(_ context.Context, in *datasync.StartTaskExecutionInput, _ ...func(*datasync.Options)) (*datasync.StartTaskExecutionOutput, error) {
	f.runs++
	return &datasync.StartTaskExecutionOutput{TaskExecutionArn: aws.String(aws.ToString(in.TaskArn) + "/execution/exec-1")}, nil
}

func (f *fakeDataSync) DescribeTaskExecution(_ context.Context, in *datasync.DescribeTaskExecutionInput, _ ...func(*datasync.Options)) (*datasync.DescribeTaskExecutionOutput, error) {
	status := f.statuses[len(f.statuses)-1]
	if f.polls < len(f.statuses) {
		status = f.statuses[f.polls]
	}
	f.polls++
	if status == dstypes.TaskExecutionStatusSuccess && !f.copied {
		f.copied = true
		f.copy()
	}
	return &datasync.DescribeTaskExecutionOutput{TaskExecutionArn: in.TaskExecutionArn, Status: status, Result: f.result}, nil
}

func (f *fakeDataSync) DeleteTask(_ context.Context, in *datasync.DeleteTaskInput, _ ...func(*datasync.Options)) (*datasync.DeleteTaskOutput, error) {
	f.deleted = append(f.deleted, aws.ToString(in.TaskArn))
	return &datasync.DeleteTaskOutput{}, nil
}

func (f *fakeDataSync) DeleteLocation(_ context.Context, in *datasync.DeleteLocationInput, _ ...func(*datasync.Options)) (*datasync.DeleteLocationOutput, error) {
	f.deleted = append(f.deleted, aws.ToString(in.LocationArn))
	return &datasync.DeleteLocationOutput{}, nil
}

// setupCopy is setup with copiedRP, a recovery point of another file system,
// in a DR vault: AWS Backup restores it into a new file system, and DataSync
// copies that into the mover's root.
func setupCopy(t *testing.T, statuses ...dstypes.TaskExecutionStatus) (Handler, *fakeBackup, *fakeEFS, *fakeDataSync, *localMover) {
	t.Helper()
	h, fb, lm := setup(t, types.RestoreJobStatusRunning, types.RestoreJobStatusCompleted)
	restoreDir := lm.afterPrepare
	lm.afterPrepare = nil // AWS Backup writes into the temporary file system.
	fb.vaults[drVault] = map[string]storedPoint{copiedRP: {otherFSArn, "EFS", types.RecoveryPointStatusCompleted}}
	fe := &fakeEFS{fs: map[string]*fakeFS{}, errs: map[string]error{}}
	fb.onCompleted = func(in *backup.StartRestoreJobInput) {
		fe.fs[tempFSID] = &fakeFS{token: in.Metadata["CreationToken"], state: efstypes.LifeCycleStateCreating, tags: map[string]string{}, mounts: map[string]efstypes.LifeCycleState{}}
	}
	fd := &fakeDataSync{statuses: statuses, copy: restoreDir}
	h.EFS, h.DataSync = fe, fd
	return h, fb, fe, fd, lm
}

func TestACopyIsRestoredThroughATemporaryFileSystem(t *testing.T) {
	// GIVEN a recovery point of another file system (a copy in a DR vault)
	h, fb, fe, fd, lm := setupCopy(t, dstypes.TaskExecutionStatusLaunching, dstypes.TaskExecutionStatusTransferring, dstypes.TaskExecutionStatusSuccess)
	// WHEN the deploy restores it
	resp, done, err := run(t, h, create(copiedRP))
	require.NoError(t, err)
	assert.Equal(t, ModeCopy, resp.Data[DataMode])
	// THEN AWS Backup restores it into a new file system, with this file
	// system's key and a creation token that names the request
	require.Len(t, fb.started, 1)
	assert.Equal(t, map[string]string{
		"file-system-id": "fs-0fedcba9876543210", "newFileSystem": "true", "CreationToken": "restorable-" + requestID,
		"Encrypted": "true", "KmsKeyId": "arn:aws:kms:ap-northeast-1:123456789012:key/1", "PerformanceMode": "generalPurpose",
	}, fb.started[0].Metadata)
	// AND DataSync copies it over TLS from a mount target in the transfer
	// subnet, writing into this file system with the transfer role
	require.Len(t, fd.locations, 2)
	ec2 := &dstypes.Ec2Config{SubnetArn: aws.String("arn:aws:ec2:ap-northeast-1:123456789012:subnet/subnet-0a1"),
		SecurityGroupArns: []string{"arn:aws:ec2:ap-northeast-1:123456789012:security-group/sg-0t1"}}
	assert.Equal(t, tempFSArn, aws.ToString(fd.locations[0].EfsFilesystemArn))
	assert.Equal(t, ec2, fd.locations[0].Ec2Config)
	assert.Nil(t, fd.locations[0].FileSystemAccessRoleArn)
	assert.Equal(t, fsArn, aws.ToString(fd.locations[1].EfsFilesystemArn))
	assert.Equal(t, "arn:aws:iam::123456789012:role/transfer", aws.ToString(fd.locations[1].FileSystemAccessRoleArn))
	for _, l := range fd.locations {
		assert.Equal(t, dstypes.EfsInTransitEncryptionTls12, l.InTransitEncryption)
		assert.Equal(t, "/", aws.ToString(l.Subdirectory))
		assert.Equal(t, requestID, aws.ToString(l.Tags[0].Value))
	}
	// AND the task adds files, never overwrites one, and keeps owners and modes
	require.Len(t, fd.tasks, 1)
	o := fd.tasks[0].Options
	assert.Equal(t, dstypes.OverwriteModeNever, o.OverwriteMode)
	assert.Equal(t, dstypes.PreserveDeletedFilesPreserve, o.PreserveDeletedFiles)
	assert.Equal(t, dstypes.PosixPermissionsPreserve, o.PosixPermissions)
	assert.Equal(t, dstypes.UidIntValue, o.Uid)
	assert.Equal(t, dstypes.GidIntValue, o.Gid)
	assert.Equal(t, 1, fd.runs, "one execution, however many polls")
	// AND the mover puts the files back at their paths
	assert.FileExists(t, filepath.Join(lm.m.Root, "uploads", "deleted.png"))
	assert.Equal(t, "restored", done.Data[DataStatus])
	assert.Equal(t, ModeCopy, done.Data[DataMode])
	assert.Equal(t, tempFSID, done.Data[DataTemporaryFileSystem])
	// AND everything the copy created is deleted, the temporary file system
	// last; nothing else is changed
	assert.Equal(t, []string{"arn:aws:datasync:ap-northeast-1:123456789012:task/task-1",
		"arn:aws:datasync:ap-northeast-1:123456789012:location/loc-1", "arn:aws:datasync:ap-northeast-1:123456789012:location/loc-2"}, fd.deleted)
	assert.Equal(t, "CreateMountTarget "+tempFSID+" subnet-0a1 [sg-0t1]", fe.changes[1])
	assert.Equal(t, "DeleteFileSystem "+tempFSID, fe.changes[len(fe.changes)-1])
	assert.NotContains(t, fe.fs, tempFSID)
	for _, c := range fe.changes {
		assert.Contains(t, c, "fs", c)
		assert.NotContains(t, c, "fs-0123456789abcdef0", "never a change to this file system")
	}
	// AND a later deploy with the same recovery point changes nothing
	again := create(copiedRP)
	again.RequestID = "d4d4d4d4-0000-0000-0000-000000000000"
	resp, _, err = run(t, h, again)
	require.NoError(t, err)
	assert.Equal(t, "already-restored", resp.Data[DataStatus])
	assert.Len(t, fb.started, 1)
}

func TestAFailedCopyKeepsTheTemporaryFileSystem(t *testing.T) {
	h, _, fe, fd, lm := setupCopy(t, dstypes.TaskExecutionStatusTransferring, dstypes.TaskExecutionStatusError)
	fd.result = &dstypes.TaskExecutionResultDetail{ErrorCode: aws.String("PermissionDenied"), ErrorDetail: aws.String("Cannot write to the destination")}
	_, _, err := run(t, h, create(copiedRP))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the DataSync copy arn:aws:datasync:ap-northeast-1:123456789012:task/task-1/execution/exec-1 of the restored recovery point "+copiedRP+" failed (PermissionDenied: Cannot write to the destination)")
	assert.Contains(t, err.Error(), "The restored files are in the temporary file system "+tempFSID+", which is kept")
	assert.Contains(t, fe.fs, tempFSID)
	assert.Empty(t, fd.deleted)
	assert.NoFileExists(t, filepath.Join(lm.m.Root, "uploads", "deleted.png"))
	assert.Equal(t, []string{"prepare " + moverFn}, lm.calls, "nothing moved")
}

func TestACopyNeverTouchesAFileSystemItDidNotCreate(t *testing.T) {
	h, fb, fe, fd, _ := setupCopy(t, dstypes.TaskExecutionStatusSuccess)
	fb.onCompleted = func(*backup.StartRestoreJobInput) {
		fe.fs[tempFSID] = &fakeFS{token: "someone-elses", state: efstypes.LifeCycleStateAvailable, tags: map[string]string{}, mounts: map[string]efstypes.LifeCycleState{}}
	}
	_, _, err := run(t, h, create(copiedRP))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `file system `+tempFSID+`, which restore job job-1 reports as created, has creation token "someone-elses", not this request's "restorable-`+requestID+`"; restorable touches nothing`)
	assert.Empty(t, fe.changes)
	assert.Empty(t, fd.locations)
}

func TestACopyWaitsOutThrottling(t *testing.T) {
	h, _, fe, fd, lm := setupCopy(t, dstypes.TaskExecutionStatusSuccess)
	fe.errs["DescribeFileSystems"] = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	fe.errs["TagResource"] = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	_, done, err := run(t, h, create(copiedRP))
	require.NoError(t, err)
	assert.True(t, done.IsComplete)
	assert.Equal(t, 1, fd.runs)
	assert.FileExists(t, filepath.Join(lm.m.Root, "uploads", "deleted.png"))
}

func TestRecoveryPointsAreFoundInTheirVault(t *testing.T) {
	h, fb, _ := setup(t, types.RestoreJobStatusCompleted)
	t.Run("in no vault", func(t *testing.T) {
		_, err := h.OnEvent(context.Background(), create("arn:aws:backup:ap-northeast-1:123456789012:recovery-point:99999999-0000-0000-0000-000000000000"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is in none of the 2 backup vaults of this account and region (Default, restorable-vault)")
		assert.Contains(t, err.Error(), "must first be copied into a vault of this one")
	})
	t.Run("of another kind of resource", func(t *testing.T) {
		fb.vaults[backupVault][rp] = storedPoint{"arn:aws:rds:ap-northeast-1:123456789012:cluster:db", "Aurora", types.RecoveryPointStatusCompleted}
		_, err := h.OnEvent(context.Background(), create(rp))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is a backup of a Aurora resource, arn:aws:rds:ap-northeast-1:123456789012:cluster:db, not of an EFS file system")
	})
	t.Run("not completed", func(t *testing.T) {
		fb.vaults[backupVault][rp] = storedPoint{fsArn, "EFS", types.RecoveryPointStatusPartial}
		_, err := h.OnEvent(context.Background(), create(rp))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is PARTIAL, and only a COMPLETED recovery point can be restored")
	})
	assert.Empty(t, fb.started, "no job for a recovery point that cannot be restored")
}

func TestACopyNeedsTheTransferProperties(t *testing.T) {
	h, fb, _, _, _ := setupCopy(t, dstypes.TaskExecutionStatusSuccess)
	e := create(copiedRP)
	delete(e.ResourceProperties, PropTransferRoleArn)
	_, err := h.OnEvent(context.Background(), e)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is a recovery point of another file system, and the restore's property TransferRoleArn is missing")
	assert.Empty(t, fb.started)
}

func TestTheCopiedRestoreDirectoryIsMergedLikeAnInPlaceOne(t *testing.T) {
	// A current file that the restored one would replace is set aside, as in
	// an in-place restore.
	h, _, _, _, lm := setupCopy(t, dstypes.TaskExecutionStatusSuccess)
	require.NoError(t, os.MkdirAll(filepath.Join(lm.m.Root, "uploads"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(lm.m.Root, "uploads", "deleted.png"), []byte("broken"), 0o644))
	_, done, err := run(t, h, create(copiedRP))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(lm.m.Root, "uploads", "deleted.png"))
	require.NoError(t, err)
	assert.Equal(t, "restored", string(got))
	aside, _ := done.Data[DataPreRestoreDir].(string)
	require.NotEmpty(t, aside)
	got, err = os.ReadFile(filepath.Join(lm.m.Root, aside, "uploads", "deleted.png"))
	require.NoError(t, err)
	assert.Equal(t, "broken", string(got))
	assert.DirExists(t, filepath.Join(lm.m.Root, mover.StateDir))
}
