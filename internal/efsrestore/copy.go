package efsrestore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/datasync"
	dstypes "github.com/aws/aws-sdk-go-v2/service/datasync/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// A recovery point of another file system is restored in steps, each resumed
// at the next step from what AWS reports, so that a retried or interrupted step
// never repeats one:
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
//  4. The mover puts the files in place; then the DataSync task and locations,
//     the mount target and the temporary file system are deleted.
//
// The progress is kept in tags on the temporary file system, which also carries
// the recovery point's ID: the restore's IAM policy lets it change only file
// systems and DataSync resources with that tag, and none that belongs to a
// CloudFormation stack. Nothing but what this request created is ever deleted:
// the temporary file system must carry the request's creation token.

// Progress tags on the temporary file system.
const (
	tagSource      = "restorable:datasync-source"
	tagDestination = "restorable:datasync-destination"
	tagTask        = "restorable:datasync-task"
	tagExecution   = "restorable:datasync-execution"
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

// tempFS is the temporary file system of a request, as EFS describes it.
type tempFS struct {
	id, arn string
	state   efstypes.LifeCycleState
	tags    map[string]string
}

// findTemp finds the request's temporary file system by its creation token.
func (h Handler) findTemp(ctx context.Context, p Props) (*tempFS, error) {
	out, err := h.EFS.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{CreationToken: aws.String(CreationToken(p.RequestID))})
	if err != nil {
		return nil, err
	}
	for _, f := range out.FileSystems {
		id := aws.ToString(f.FileSystemId)
		if id == p.FileSystemID || aws.ToString(f.CreationToken) != CreationToken(p.RequestID) {
			continue
		}
		t := &tempFS{id: id, arn: aws.ToString(f.FileSystemArn), state: f.LifeCycleState, tags: map[string]string{}}
		for _, tag := range f.Tags {
			t.tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		return t, nil
	}
	return nil, nil
}

// copyStep advances a copy by what it can do without waiting; copied is true
// once DataSync has copied the files.
func (h Handler) copyStep(ctx context.Context, p Props, st StepState, created string) (bool, string, error) {
	createdID, err := fileSystemIDOf(created)
	if err != nil {
		return false, "", permanent(fmt.Errorf("restore job %s completed, but %w", st.JobID, err))
	}
	if createdID == p.FileSystemID {
		return false, "", permanent(fmt.Errorf("restore job %s reports %s, this file system, as the one it created; restorable touches nothing", st.JobID, createdID))
	}
	temp, err := h.findTemp(ctx, p)
	if err != nil {
		return false, "", fmt.Errorf("could not read the temporary file system: %w", err)
	}
	if temp == nil || temp.id != createdID {
		return false, "", permanent(fmt.Errorf("file system %s, which restore job %s reports as created, does not have this request's creation token %q; restorable touches nothing. Check it, and delete it yourself if it is a leftover",
			createdID, st.JobID, CreationToken(p.RequestID)))
	}
	if temp.state != efstypes.LifeCycleStateAvailable {
		return false, fmt.Sprintf("temporary file system %s is %s", temp.id, temp.state), nil
	}
	if temp.tags[contract.TagRecoveryPoint] == "" {
		if err := h.tagTemp(ctx, temp, map[string]string{contract.TagRecoveryPoint: p.point.ID, contract.TagRequest: p.RequestID}); err != nil {
			return false, "", fmt.Errorf("could not tag the temporary file system %s: %w", temp.id, err)
		}
	}
	targets, err := h.EFS.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: aws.String(temp.id)})
	if err != nil {
		return false, "", fmt.Errorf("could not list the mount targets of %s: %w", temp.id, err)
	}
	if len(targets.MountTargets) == 0 {
		if _, err := h.EFS.CreateMountTarget(ctx, &efs.CreateMountTargetInput{
			FileSystemId: aws.String(temp.id), SubnetId: aws.String(p.TransferSubnetID), SecurityGroups: []string{p.TransferSecurityGroupID},
		}); err != nil {
			return false, "", fmt.Errorf("could not create a mount target for %s in %s: %w", temp.id, p.TransferSubnetID, err)
		}
		return false, fmt.Sprintf("creating a mount target for the temporary file system %s in %s", temp.id, p.TransferSubnetID), nil
	}
	for _, mt := range targets.MountTargets {
		if mt.LifeCycleState != efstypes.LifeCycleStateAvailable {
			return false, fmt.Sprintf("mount target %s of %s is %s", aws.ToString(mt.MountTargetId), temp.id, mt.LifeCycleState), nil
		}
	}
	tags := []dstypes.TagListEntry{{Key: aws.String(contract.TagRecoveryPoint), Value: aws.String(p.point.ID)}, {Key: aws.String(contract.TagRequest), Value: aws.String(p.RequestID)}}
	ec2 := &dstypes.Ec2Config{SubnetArn: aws.String(p.TransferSubnetArn), SecurityGroupArns: []string{p.TransferSecurityGroupArn}}
	if temp.tags[tagSource] == "" {
		loc, err := h.DataSync.CreateLocationEfs(ctx, &datasync.CreateLocationEfsInput{EfsFilesystemArn: aws.String(temp.arn), Ec2Config: ec2,
			InTransitEncryption: dstypes.EfsInTransitEncryptionTls12, Subdirectory: aws.String("/"), Tags: tags})
		if err != nil {
			return false, "", fmt.Errorf("could not create the DataSync location of the temporary file system %s: %w", temp.id, err)
		}
		if err := h.tagTemp(ctx, temp, map[string]string{tagSource: aws.ToString(loc.LocationArn)}); err != nil {
			return false, "", err
		}
	}
	if temp.tags[tagDestination] == "" {
		loc, err := h.DataSync.CreateLocationEfs(ctx, &datasync.CreateLocationEfsInput{EfsFilesystemArn: aws.String(p.FileSystemArn), Ec2Config: ec2,
			InTransitEncryption: dstypes.EfsInTransitEncryptionTls12, FileSystemAccessRoleArn: aws.String(p.TransferRoleArn), Subdirectory: aws.String("/"), Tags: tags})
		if err != nil {
			return false, "", fmt.Errorf("could not create the DataSync location of %s: %w", p.FileSystemID, err)
		}
		if err := h.tagTemp(ctx, temp, map[string]string{tagDestination: aws.ToString(loc.LocationArn)}); err != nil {
			return false, "", err
		}
	}
	if temp.tags[tagTask] == "" {
		task, err := h.DataSync.CreateTask(ctx, &datasync.CreateTaskInput{
			SourceLocationArn: aws.String(temp.tags[tagSource]), DestinationLocationArn: aws.String(temp.tags[tagDestination]),
			Name: aws.String("restorable-" + p.RequestID),
			Options: &dstypes.Options{
				// Add, never replace: files already in this file system stay.
				OverwriteMode: dstypes.OverwriteModeNever, PreserveDeletedFiles: dstypes.PreserveDeletedFilesPreserve,
				TransferMode: dstypes.TransferModeChanged, VerifyMode: dstypes.VerifyModeOnlyFilesTransferred,
				PosixPermissions: dstypes.PosixPermissionsPreserve, Uid: dstypes.UidIntValue, Gid: dstypes.GidIntValue,
				Mtime: dstypes.MtimePreserve, Atime: dstypes.AtimeBestEffort, PreserveDevices: dstypes.PreserveDevicesNone, LogLevel: dstypes.LogLevelOff,
			},
			Tags: tags,
		})
		if err != nil {
			return false, "", fmt.Errorf("could not create the DataSync task from %s to %s: %w", temp.id, p.FileSystemID, err)
		}
		if err := h.tagTemp(ctx, temp, map[string]string{tagTask: aws.ToString(task.TaskArn)}); err != nil {
			return false, "", err
		}
	}
	if temp.tags[tagExecution] == "" {
		run, err := h.DataSync.StartTaskExecution(ctx, &datasync.StartTaskExecutionInput{TaskArn: aws.String(temp.tags[tagTask]), Tags: tags})
		if err != nil {
			return false, "", fmt.Errorf("could not start the DataSync task %s: %w", temp.tags[tagTask], err)
		}
		if err := h.tagTemp(ctx, temp, map[string]string{tagExecution: aws.ToString(run.TaskExecutionArn)}); err != nil {
			return false, "", err
		}
		return false, fmt.Sprintf("DataSync is copying %s into %s (%s)", temp.id, p.FileSystemID, aws.ToString(run.TaskExecutionArn)), nil
	}
	run, err := h.DataSync.DescribeTaskExecution(ctx, &datasync.DescribeTaskExecutionInput{TaskExecutionArn: aws.String(temp.tags[tagExecution])})
	if err != nil {
		return false, "", fmt.Errorf("could not read the DataSync execution %s: %w", temp.tags[tagExecution], err)
	}
	switch run.Status {
	case dstypes.TaskExecutionStatusSuccess:
		return true, "", nil
	case dstypes.TaskExecutionStatusError:
		detail := ""
		if r := run.Result; r != nil {
			detail = aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorDetail)
		}
		return false, "", permanent(fmt.Errorf("the DataSync copy %s of the restored recovery point failed (%s). Nothing in %s was overwritten; the copied part is in an aws-backup-restore_ directory at its root. "+
			"The restored files are in the temporary file system %s, which is kept with its mount target and DataSync task for you to check; delete them when done: aws efs delete-mount-target, aws efs delete-file-system --file-system-id %s",
			temp.tags[tagExecution], detail, p.FileSystemID, temp.id, temp.id))
	}
	return false, fmt.Sprintf("DataSync copy %s is %s", temp.tags[tagExecution], run.Status), nil
}

// cleanupStep deletes what the copy created, as far as it can without
// waiting; done is true once the temporary file system is gone.
func (h Handler) cleanupStep(ctx context.Context, p Props) (bool, string, error) {
	temp, err := h.findTemp(ctx, p)
	if err != nil {
		return false, "", fmt.Errorf("could not read the temporary file system: %w", err)
	}
	if temp == nil || temp.state == efstypes.LifeCycleStateDeleted {
		return true, "", nil
	}
	if temp.tags[contract.TagRequest] != p.RequestID {
		return false, "", permanent(fmt.Errorf("file system %s has this request's creation token but not its tag %s=%s; restorable deletes nothing", temp.id, contract.TagRequest, p.RequestID))
	}
	if task := temp.tags[tagTask]; task != "" {
		if _, err := h.DataSync.DeleteTask(ctx, &datasync.DeleteTaskInput{TaskArn: aws.String(task)}); err != nil && !isDataSyncNotFound(err) {
			return false, "", fmt.Errorf("could not delete the DataSync task %s: %w", task, err)
		}
		if err := h.untagTemp(ctx, temp, tagTask, tagExecution); err != nil {
			return false, "", err
		}
	}
	for _, key := range []string{tagSource, tagDestination} {
		if loc := temp.tags[key]; loc != "" {
			if _, err := h.DataSync.DeleteLocation(ctx, &datasync.DeleteLocationInput{LocationArn: aws.String(loc)}); err != nil && !isDataSyncNotFound(err) {
				return false, "", fmt.Errorf("could not delete the DataSync location %s: %w", loc, err)
			}
			if err := h.untagTemp(ctx, temp, key); err != nil {
				return false, "", err
			}
		}
	}
	targets, err := h.EFS.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: aws.String(temp.id)})
	if err != nil {
		return false, "", fmt.Errorf("could not list the mount targets of %s: %w", temp.id, err)
	}
	if len(targets.MountTargets) > 0 {
		for _, mt := range targets.MountTargets {
			if mt.LifeCycleState == efstypes.LifeCycleStateDeleting {
				continue
			}
			if _, err := h.EFS.DeleteMountTarget(ctx, &efs.DeleteMountTargetInput{MountTargetId: mt.MountTargetId}); err != nil {
				return false, "", fmt.Errorf("could not delete mount target %s of %s: %w", aws.ToString(mt.MountTargetId), temp.id, err)
			}
		}
		return false, "deleting the mount targets of the temporary file system " + temp.id, nil
	}
	if temp.state != efstypes.LifeCycleStateDeleting {
		if _, err := h.EFS.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: aws.String(temp.id)}); err != nil {
			return false, "", fmt.Errorf("could not delete the temporary file system %s: %w", temp.id, err)
		}
	}
	h.Log("%s: deleted the temporary file system %s", p.Resource, temp.id)
	return true, "", nil
}

// cleanupCopy removes what a stopped copy left, as far as it can in a few
// tries; an AWS Backup job that is still creating the temporary file system
// cannot be stopped, and its file system is named in the log for deletion.
func (h Handler) cleanupCopy(ctx context.Context, p Props) {
	for i := 0; i < 20; i++ {
		done, msg, err := h.callCleaner(ctx, p)
		if err != nil {
			h.Log("%s: cleaning up the stopped copy: %v", p.Resource, err)
			return
		}
		if done {
			return
		}
		h.Log("%s: %s", p.Resource, msg)
		h.sleep(15e9)
	}
	h.Log("%s: the temporary file system with creation token %s is still being deleted; check it with aws efs describe-file-systems --creation-token %s",
		p.Resource, CreationToken(p.RequestID), CreationToken(p.RequestID))
}

func (h Handler) tagTemp(ctx context.Context, temp *tempFS, tags map[string]string) error {
	list := make([]efstypes.Tag, 0, len(tags))
	for k, v := range tags {
		list = append(list, efstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := h.EFS.TagResource(ctx, &efs.TagResourceInput{ResourceId: aws.String(temp.id), Tags: list}); err != nil {
		return fmt.Errorf("could not tag the temporary file system %s: %w", temp.id, err)
	}
	for k, v := range tags {
		temp.tags[k] = v
	}
	return nil
}

func (h Handler) untagTemp(ctx context.Context, temp *tempFS, keys ...string) error {
	if _, err := h.EFS.UntagResource(ctx, &efs.UntagResourceInput{ResourceId: aws.String(temp.id), TagKeys: keys}); err != nil {
		return fmt.Errorf("could not untag the temporary file system %s: %w", temp.id, err)
	}
	for _, k := range keys {
		delete(temp.tags, k)
	}
	return nil
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
