package efsrestore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/datasync"
	dstypes "github.com/aws/aws-sdk-go-v2/service/datasync/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
)

// A recovery point of another file system is restored in four steps, each
// resumed at the next poll from what AWS reports, so that a retried or
// interrupted poll never repeats one:
//
//  1. AWS Backup restores it into a new, temporary file system, encrypted with
//     this file system's key, whose creation token names the request. Like
//     every EFS restore, the files land in aws-backup-restore_<time> off its
//     root (aws/aws-cli#6468).
//  2. A mount target in the transfer subnet lets AWS DataSync reach it.
//  3. A DataSync task copies the temporary file system's root into this one's
//     root, over TLS, keeping owners, modes and times, and overwriting nothing
//     (OverwriteMode NEVER), so this file system gains one new
//     aws-backup-restore_<time> directory, as with an in-place restore.
//  4. The mover merges that directory into the root (moveBack), then the
//     DataSync task and locations, the mount target and the temporary file
//     system are deleted.
//
// The progress is kept in tags on the temporary file system. Nothing but what
// this request created is ever deleted: the temporary file system must carry
// the request's creation token, and must not be this file system.

// FileSystems is the part of the Amazon EFS client a copy uses.
type FileSystems interface {
	DescribeFileSystems(ctx context.Context, in *efs.DescribeFileSystemsInput, opts ...func(*efs.Options)) (*efs.DescribeFileSystemsOutput, error)
	DescribeMountTargets(ctx context.Context, in *efs.DescribeMountTargetsInput, opts ...func(*efs.Options)) (*efs.DescribeMountTargetsOutput, error)
	CreateMountTarget(ctx context.Context, in *efs.CreateMountTargetInput, opts ...func(*efs.Options)) (*efs.CreateMountTargetOutput, error)
	DeleteMountTarget(ctx context.Context, in *efs.DeleteMountTargetInput, opts ...func(*efs.Options)) (*efs.DeleteMountTargetOutput, error)
	DeleteFileSystem(ctx context.Context, in *efs.DeleteFileSystemInput, opts ...func(*efs.Options)) (*efs.DeleteFileSystemOutput, error)
	TagResource(ctx context.Context, in *efs.TagResourceInput, opts ...func(*efs.Options)) (*efs.TagResourceOutput, error)
	UntagResource(ctx context.Context, in *efs.UntagResourceInput, opts ...func(*efs.Options)) (*efs.UntagResourceOutput, error)
}

// Transfers is the part of the AWS DataSync client a copy uses.
type Transfers interface {
	CreateLocationEfs(ctx context.Context, in *datasync.CreateLocationEfsInput, opts ...func(*datasync.Options)) (*datasync.CreateLocationEfsOutput, error)
	CreateTask(ctx context.Context, in *datasync.CreateTaskInput, opts ...func(*datasync.Options)) (*datasync.CreateTaskOutput, error)
	StartTaskExecution(ctx context.Context, in *datasync.StartTaskExecutionInput, opts ...func(*datasync.Options)) (*datasync.StartTaskExecutionOutput, error)
	DescribeTaskExecution(ctx context.Context, in *datasync.DescribeTaskExecutionInput, opts ...func(*datasync.Options)) (*datasync.DescribeTaskExecutionOutput, error)
	DeleteTask(ctx context.Context, in *datasync.DeleteTaskInput, opts ...func(*datasync.Options)) (*datasync.DeleteTaskOutput, error)
	DeleteLocation(ctx context.Context, in *datasync.DeleteLocationInput, opts ...func(*datasync.Options)) (*datasync.DeleteLocationOutput, error)
}

// Tags on the temporary file system and on the DataSync resources. The
// restore's IAM policy lets it delete only file systems that carry TagRequest.
const (
	TagRequest     = "restorable:restore-request"
	tagSource      = "restorable:datasync-source"
	tagDestination = "restorable:datasync-destination"
	tagTask        = "restorable:datasync-task"
	tagExecution   = "restorable:datasync-execution"
	tagStage       = "restorable:stage"
	stageCleanup   = "cleanup"
)

// CreationToken is the creation token of the temporary file system of a
// request (at most 64 characters).
func CreationToken(requestID string) string {
	t := "restorable-" + requestID
	if len(t) > 64 {
		t = t[:64]
	}
	return t
}

// checkTransfer reports a template without the properties a copy needs.
func (p Props) checkTransfer() error {
	for name, v := range map[string]string{PropTransferSubnetID: p.TransferSubnetID, PropTransferSubnetArn: p.TransferSubnetArn,
		PropTransferSecurityGroupID: p.TransferSecurityGroupID, PropTransferSecurityGroupArn: p.TransferSecurityGroupArn, PropTransferRoleArn: p.TransferRoleArn} {
		if v == "" {
			return fmt.Errorf("restorable: %s: %s is a recovery point of another file system, and the restore's property %s is missing; deploy with a restorable version that sets it", p.Resource, p.RecoveryPointArn, name)
		}
	}
	return nil
}

// completeCopy advances a copy by one step per call, as far as it can go
// without waiting.
func (h Handler) completeCopy(ctx context.Context, e Event, p Props, job string) (CompleteResponse, error) {
	wait := func(format string, args ...interface{}) (CompleteResponse, error) {
		h.Log(p.Resource+": "+format, args...)
		return CompleteResponse{IsComplete: false}, nil
	}
	out, err := h.Backup.DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String(job)})
	if err != nil {
		if isTransient(err) {
			return wait("restore job %s: asking again at the next poll: %v", job, err)
		}
		return CompleteResponse{}, fmt.Errorf("restorable: %s: could not read restore job %s: %w", p.Resource, job, err)
	}
	switch out.Status {
	case types.RestoreJobStatusCompleted:
	case types.RestoreJobStatusAborted, types.RestoreJobStatusFailed:
		return CompleteResponse{}, fmt.Errorf("restorable: %s: AWS Backup restore job %s of %s into a temporary file system ended %s: %s. Nothing was copied; %s is as it was. Fix the cause and deploy again, or remove the recovery point from the context",
			p.Resource, job, p.RecoveryPointArn, out.Status, aws.ToString(out.StatusMessage), p.FileSystemID)
	default:
		return wait("restore job %s into a temporary file system is %s (%s done)", job, out.Status, aws.ToString(out.PercentDone))
	}
	tempID, err := fileSystemIDOf(aws.ToString(out.CreatedResourceArn))
	if err != nil {
		return CompleteResponse{}, fmt.Errorf("restorable: %s: restore job %s completed, but %w", p.Resource, job, err)
	}
	if tempID == p.FileSystemID {
		return CompleteResponse{}, fmt.Errorf("restorable: %s: restore job %s reports %s, this file system, as the one it created; restorable touches nothing", p.Resource, job, tempID)
	}
	c := copyRun{h: h, e: e, p: p, job: job, temp: tempID, tempArn: aws.ToString(out.CreatedResourceArn), wait: wait}
	return c.step(ctx)
}

// copyRun is one poll of a copy.
type copyRun struct {
	h   Handler
	e   Event
	p   Props
	job string
	// temp and tempArn are the temporary file system's ID and ARN.
	temp, tempArn string
	tags          map[string]string
	wait          func(format string, args ...interface{}) (CompleteResponse, error)
}

func (c *copyRun) step(ctx context.Context) (CompleteResponse, error) {
	fsOut, err := c.h.EFS.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String(c.temp)})
	var notFound *efstypes.FileSystemNotFound
	if errors.As(err, &notFound) {
		// Deleted on an earlier poll, after the files were moved back: the
		// mover's record says so.
		return c.finish(ctx)
	}
	if err != nil {
		return c.transientOr(err, "could not read the temporary file system %s", c.temp)
	}
	if len(fsOut.FileSystems) != 1 {
		return CompleteResponse{}, fmt.Errorf("restorable: %s: DescribeFileSystems %s returned %d file systems", c.p.Resource, c.temp, len(fsOut.FileSystems))
	}
	temp := fsOut.FileSystems[0]
	if token := aws.ToString(temp.CreationToken); token != CreationToken(c.e.RequestID) {
		return CompleteResponse{}, fmt.Errorf("restorable: %s: file system %s, which restore job %s reports as created, has creation token %q, not this request's %q; restorable touches nothing. Check it, and delete it yourself if it is a leftover",
			c.p.Resource, c.temp, c.job, token, CreationToken(c.e.RequestID))
	}
	c.tags = map[string]string{}
	for _, t := range temp.Tags {
		c.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	switch temp.LifeCycleState {
	case efstypes.LifeCycleStateAvailable:
	case efstypes.LifeCycleStateDeleting, efstypes.LifeCycleStateDeleted:
		return c.finish(ctx)
	default:
		return c.wait("temporary file system %s is %s", c.temp, temp.LifeCycleState)
	}
	if c.tags[TagRequest] == "" {
		if err := c.tag(ctx, TagRequest, c.e.RequestID); err != nil {
			return c.transientOr(err, "could not tag the temporary file system %s", c.temp)
		}
	}
	if c.tags[tagStage] == stageCleanup {
		return c.cleanup(ctx)
	}

	// 2. A mount target DataSync can reach.
	targets, err := c.h.EFS.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: aws.String(c.temp)})
	if err != nil {
		return c.transientOr(err, "could not list the mount targets of %s", c.temp)
	}
	if len(targets.MountTargets) == 0 {
		if _, err := c.h.EFS.CreateMountTarget(ctx, &efs.CreateMountTargetInput{
			FileSystemId: aws.String(c.temp), SubnetId: aws.String(c.p.TransferSubnetID), SecurityGroups: []string{c.p.TransferSecurityGroupID},
		}); err != nil {
			return c.transientOr(err, "could not create a mount target for %s in %s", c.temp, c.p.TransferSubnetID)
		}
		return c.wait("creating a mount target for the temporary file system %s in %s", c.temp, c.p.TransferSubnetID)
	}
	for _, mt := range targets.MountTargets {
		if mt.LifeCycleState != efstypes.LifeCycleStateAvailable {
			return c.wait("mount target %s of %s is %s", aws.ToString(mt.MountTargetId), c.temp, mt.LifeCycleState)
		}
	}

	// 3. The DataSync locations, task and execution.
	requestTag := []dstypes.TagListEntry{{Key: aws.String(TagRequest), Value: aws.String(c.e.RequestID)}}
	if c.tags[tagSource] == "" {
		loc, err := c.h.DataSync.CreateLocationEfs(ctx, &datasync.CreateLocationEfsInput{
			EfsFilesystemArn:    aws.String(c.tempArn),
			Ec2Config:           &dstypes.Ec2Config{SubnetArn: aws.String(c.p.TransferSubnetArn), SecurityGroupArns: []string{c.p.TransferSecurityGroupArn}},
			InTransitEncryption: dstypes.EfsInTransitEncryptionTls12,
			Subdirectory:        aws.String("/"),
			Tags:                requestTag,
		})
		if err != nil {
			return c.transientOr(err, "could not create the DataSync location of the temporary file system %s", c.temp)
		}
		if err := c.tag(ctx, tagSource, aws.ToString(loc.LocationArn)); err != nil {
			return c.transientOr(err, "could not tag %s", c.temp)
		}
	}
	if c.tags[tagDestination] == "" {
		loc, err := c.h.DataSync.CreateLocationEfs(ctx, &datasync.CreateLocationEfsInput{
			EfsFilesystemArn:        aws.String(c.p.FileSystemArn),
			Ec2Config:               &dstypes.Ec2Config{SubnetArn: aws.String(c.p.TransferSubnetArn), SecurityGroupArns: []string{c.p.TransferSecurityGroupArn}},
			InTransitEncryption:     dstypes.EfsInTransitEncryptionTls12,
			FileSystemAccessRoleArn: aws.String(c.p.TransferRoleArn),
			Subdirectory:            aws.String("/"),
			Tags:                    requestTag,
		})
		if err != nil {
			return c.transientOr(err, "could not create the DataSync location of %s", c.p.FileSystemID)
		}
		if err := c.tag(ctx, tagDestination, aws.ToString(loc.LocationArn)); err != nil {
			return c.transientOr(err, "could not tag %s", c.temp)
		}
	}
	if c.tags[tagTask] == "" {
		task, err := c.h.DataSync.CreateTask(ctx, &datasync.CreateTaskInput{
			SourceLocationArn:      aws.String(c.tags[tagSource]),
			DestinationLocationArn: aws.String(c.tags[tagDestination]),
			Name:                   aws.String("restorable-" + c.e.RequestID),
			Options: &dstypes.Options{
				// Add, never replace: files already in this file system stay.
				OverwriteMode:        dstypes.OverwriteModeNever,
				PreserveDeletedFiles: dstypes.PreserveDeletedFilesPreserve,
				TransferMode:         dstypes.TransferModeChanged,
				VerifyMode:           dstypes.VerifyModeOnlyFilesTransferred,
				PosixPermissions:     dstypes.PosixPermissionsPreserve,
				Uid:                  dstypes.UidIntValue,
				Gid:                  dstypes.GidIntValue,
				Mtime:                dstypes.MtimePreserve,
				Atime:                dstypes.AtimeBestEffort,
				PreserveDevices:      dstypes.PreserveDevicesNone,
				LogLevel:             dstypes.LogLevelOff,
			},
			Tags: requestTag,
		})
		if err != nil {
			return c.transientOr(err, "could not create the DataSync task from %s to %s", c.temp, c.p.FileSystemID)
		}
		if err := c.tag(ctx, tagTask, aws.ToString(task.TaskArn)); err != nil {
			return c.transientOr(err, "could not tag %s", c.temp)
		}
	}
	if c.tags[tagExecution] == "" {
		run, err := c.h.DataSync.StartTaskExecution(ctx, &datasync.StartTaskExecutionInput{TaskArn: aws.String(c.tags[tagTask])})
		if err != nil {
			return c.transientOr(err, "could not start the DataSync task %s", c.tags[tagTask])
		}
		if err := c.tag(ctx, tagExecution, aws.ToString(run.TaskExecutionArn)); err != nil {
			return c.transientOr(err, "could not tag %s", c.temp)
		}
		return c.wait("DataSync is copying %s into %s (%s)", c.temp, c.p.FileSystemID, aws.ToString(run.TaskExecutionArn))
	}
	run, err := c.h.DataSync.DescribeTaskExecution(ctx, &datasync.DescribeTaskExecutionInput{TaskExecutionArn: aws.String(c.tags[tagExecution])})
	if err != nil {
		return c.transientOr(err, "could not read the DataSync execution %s", c.tags[tagExecution])
	}
	switch run.Status {
	case dstypes.TaskExecutionStatusSuccess:
	case dstypes.TaskExecutionStatusError:
		detail := ""
		if r := run.Result; r != nil {
			detail = aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorDetail)
		}
		return CompleteResponse{}, fmt.Errorf("restorable: %s: the DataSync copy %s of the restored recovery point %s failed (%s). Nothing in %s was overwritten; the copied part is in an aws-backup-restore_ directory at its root. "+
			"The restored files are in the temporary file system %s, which is kept with its mount target and DataSync task for you to check. Fix the cause and deploy again (a new request restores again), then delete %s: aws efs delete-mount-target, aws efs delete-file-system --file-system-id %s",
			c.p.Resource, c.tags[tagExecution], c.p.RecoveryPointArn, detail, c.p.FileSystemID, c.temp, c.temp, c.temp)
	default:
		return c.wait("DataSync copy %s is %s", c.tags[tagExecution], run.Status)
	}

	// 4. Back to their paths, then clean up.
	if _, done, err := c.h.moveBack(ctx, c.e, c.p); err != nil || !done {
		return CompleteResponse{}, err
	}
	if err := c.tag(ctx, tagStage, stageCleanup); err != nil {
		return c.transientOr(err, "could not tag %s", c.temp)
	}
	return c.cleanup(ctx)
}

// cleanup deletes what the copy created, one kind per call until the
// temporary file system itself is gone. Each deletion untags its resource, so
// a later poll does not try again.
func (c *copyRun) cleanup(ctx context.Context) (CompleteResponse, error) {
	if task := c.tags[tagTask]; task != "" {
		if _, err := c.h.DataSync.DeleteTask(ctx, &datasync.DeleteTaskInput{TaskArn: aws.String(task)}); err != nil && !isDataSyncNotFound(err) {
			return c.transientOr(err, "could not delete the DataSync task %s", task)
		}
		if err := c.untag(ctx, tagTask, tagExecution); err != nil {
			return c.transientOr(err, "could not untag %s", c.temp)
		}
	}
	for _, key := range []string{tagSource, tagDestination} {
		if loc := c.tags[key]; loc != "" {
			if _, err := c.h.DataSync.DeleteLocation(ctx, &datasync.DeleteLocationInput{LocationArn: aws.String(loc)}); err != nil && !isDataSyncNotFound(err) {
				return c.transientOr(err, "could not delete the DataSync location %s", loc)
			}
			if err := c.untag(ctx, key); err != nil {
				return c.transientOr(err, "could not untag %s", c.temp)
			}
		}
	}
	targets, err := c.h.EFS.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: aws.String(c.temp)})
	if err != nil {
		return c.transientOr(err, "could not list the mount targets of %s", c.temp)
	}
	if len(targets.MountTargets) > 0 {
		for _, mt := range targets.MountTargets {
			if mt.LifeCycleState == efstypes.LifeCycleStateDeleting {
				continue
			}
			if _, err := c.h.EFS.DeleteMountTarget(ctx, &efs.DeleteMountTargetInput{MountTargetId: mt.MountTargetId}); err != nil {
				return c.transientOr(err, "could not delete mount target %s of %s", aws.ToString(mt.MountTargetId), c.temp)
			}
		}
		return c.wait("deleting the mount targets of the temporary file system %s", c.temp)
	}
	if _, err := c.h.EFS.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: aws.String(c.temp)}); err != nil {
		return c.transientOr(err, "could not delete the temporary file system %s", c.temp)
	}
	c.h.Log("%s: deleted the temporary file system %s", c.p.Resource, c.temp)
	return c.finish(ctx)
}

// finish completes the copy once the mover's record says the files are back.
func (c *copyRun) finish(ctx context.Context) (CompleteResponse, error) {
	moved, done, err := c.h.moveBack(ctx, c.e, c.p)
	if err != nil {
		return CompleteResponse{}, err
	}
	if !done {
		return CompleteResponse{}, fmt.Errorf("restorable: %s: the temporary file system %s is gone, but the mover has not finished moving the copied files back; they are in the aws-backup-restore_ directory at the root of %s (see the README)",
			c.p.Resource, c.temp, c.p.FileSystemID)
	}
	return CompleteResponse{IsComplete: true, Data: map[string]interface{}{
		DataRestoreJobID: c.job, DataStatus: "restored", DataMode: ModeCopy, DataTemporaryFileSystem: c.temp,
		DataMoved: moved.Moved, DataSetAside: moved.SetAside, DataPreRestoreDir: moved.PreRestoreDir,
	}}, nil
}

func (c *copyRun) tag(ctx context.Context, key, value string) error {
	if c.temp == c.p.FileSystemID {
		return fmt.Errorf("refusing to tag %s, this file system", c.temp)
	}
	_, err := c.h.EFS.TagResource(ctx, &efs.TagResourceInput{ResourceId: aws.String(c.temp), Tags: []efstypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}})
	if err == nil {
		c.tags[key] = value
	}
	return err
}

func (c *copyRun) untag(ctx context.Context, keys ...string) error {
	_, err := c.h.EFS.UntagResource(ctx, &efs.UntagResourceInput{ResourceId: aws.String(c.temp), TagKeys: keys})
	if err == nil {
		for _, k := range keys {
			delete(c.tags, k)
		}
	}
	return err
}

// transientOr waits for the next poll on a transient error, and fails the
// deploy with what was being done on any other.
func (c *copyRun) transientOr(err error, format string, args ...interface{}) (CompleteResponse, error) {
	what := fmt.Sprintf(format, args...)
	if isTransient(err) {
		return c.wait("%s; trying again at the next poll: %v", what, err)
	}
	return CompleteResponse{}, fmt.Errorf("restorable: %s: copying recovery point %s from the temporary file system %s into %s: %s: %w",
		c.p.Resource, c.p.RecoveryPointArn, c.temp, c.p.FileSystemID, what, err)
}

// fileSystemIDOf reads the file system ID from a file system ARN.
func fileSystemIDOf(fsArn string) (string, error) {
	a, err := arn.Parse(fsArn)
	if err != nil || a.Service != "elasticfilesystem" || !strings.HasPrefix(a.Resource, "file-system/") {
		return "", fmt.Errorf("it reports %q as the resource it created, which is not an EFS file system ARN", fsArn)
	}
	return strings.TrimPrefix(a.Resource, "file-system/"), nil
}

// isDataSyncNotFound reports a DataSync resource that no longer exists.
func isDataSyncNotFound(err error) bool {
	var ire *dstypes.InvalidRequestException
	return errors.As(err, &ire) && strings.Contains(strings.ToLower(aws.ToString(ire.Message)), "not found")
}
