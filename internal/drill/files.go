package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// A restored file system is checked by a function that mounts it: the drill
// gives the copy a mount target in the source's subnet and security group and
// an access point at its root, creates the files function in the VPC with
// the access point mounted, invokes it once, and deletes all three. Lambda
// mounts EFS through an access point, with a mount target in the function's
// Availability Zone (https://docs.aws.amazon.com/lambda/latest/dg/configuration-filesystem.html).

// defaultFactor is how far the copy's size and file count may be from what
// they are compared with.
const defaultFactor = 2.0

// filesMount gives the copy a mount target, then an access point.
func (h Handler) filesMount(ctx context.Context, cfg contract.DrillConfig, s State) (State, error) {
	out, err := h.EFS.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String(s.CopyID)})
	if notFound(err, "FileSystemNotFound") || (err == nil && len(out.FileSystems) != 1) {
		s.verdict(Failed, "the restored file system "+s.CopyID+" is gone")
		return s.next(phaseCleanup), nil
	}
	if err != nil {
		return s, fmt.Errorf("drill: describe the copy %s: %w", s.CopyID, err)
	}
	fs := out.FileSystems[0]
	if !hasTag(fs.Tags, contract.RestoreTestTag) {
		s.verdict(Failed, fmt.Sprintf("the file system %s lacks AWS Backup's %s tag, so it is not a drill's copy and the drill does not touch it", s.CopyID, contract.RestoreTestTag))
		return s.next(phaseReport), nil
	}
	if fs.LifeCycleState != efstypes.LifeCycleStateAvailable {
		return s.wait(30), nil
	}
	if s.MountTarget == "" {
		mt, err := h.EFS.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: aws.String(s.CopyID),
			SubnetId: aws.String(s.Resource.SubnetID), SecurityGroups: []string{s.Resource.SecurityGroup}})
		if err != nil {
			s.verdict(Failed, fmt.Sprintf("could not give the copy a mount target: %v", err))
			return s.next(phaseCleanup), nil
		}
		s.MountTarget = aws.ToString(mt.MountTargetId)
		return s.wait(30), nil
	}
	mts, err := h.EFS.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{MountTargetId: aws.String(s.MountTarget)})
	if err != nil {
		return s, fmt.Errorf("drill: describe the copy's mount target: %w", err)
	}
	if len(mts.MountTargets) != 1 || mts.MountTargets[0].LifeCycleState != efstypes.LifeCycleStateAvailable {
		return s.wait(20), nil
	}
	if s.AccessPoint == "" {
		ap, err := h.EFS.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{
			ClientToken: aws.String(truncate("drill-"+s.CopyID, 64)), FileSystemId: aws.String(s.CopyID),
			// Root, to read every file whatever its owner; the copy has no
			// file system policy, and the files function only reads.
			PosixUser:     &efstypes.PosixUser{Uid: aws.Int64(0), Gid: aws.Int64(0)},
			RootDirectory: &efstypes.RootDirectory{Path: aws.String("/")},
			Tags:          []efstypes.Tag{{Key: aws.String(contract.TagDrill), Value: aws.String(s.CopyID)}},
		})
		if err != nil {
			s.verdict(Failed, fmt.Sprintf("could not give the copy an access point: %v", err))
			return s.next(phaseCleanup), nil
		}
		s.AccessPoint, s.AccessPointID = aws.ToString(ap.AccessPointArn), aws.ToString(ap.AccessPointId)
		return s.wait(5), nil
	}
	aps, err := h.EFS.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{AccessPointId: aws.String(s.AccessPointID)})
	if err != nil {
		return s, fmt.Errorf("drill: describe the copy's access point: %w", err)
	}
	if len(aps.AccessPoints) != 1 || aps.AccessPoints[0].LifeCycleState != efstypes.LifeCycleStateAvailable {
		return s.wait(5), nil
	}
	return s.next(phaseFilesFunction), nil
}

func hasTag(tags []efstypes.Tag, key string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return true
		}
	}
	return false
}

// filesFunction creates the files function for this drill and waits until
// Lambda has set up its network interface and mount (Pending to Active:
// https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
func (h Handler) filesFunction(ctx context.Context, jobID string, cfg contract.DrillConfig, s State) (State, error) {
	if s.FilesFunction == "" {
		name := contract.DrillFilesFunctionPrefix + jobID
		_, err := h.Lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(name), Role: aws.String(cfg.FilesRoleArn),
			Runtime: lambdatypes.RuntimeProvidedal2023, Architectures: []lambdatypes.Architecture{lambdatypes.ArchitectureArm64},
			Handler: aws.String("bootstrap"), Code: &lambdatypes.FunctionCode{S3Bucket: aws.String(cfg.CodeBucket), S3Key: aws.String(cfg.CodeKey)},
			Timeout: aws.Int32(int32(contract.DrillFilesTimeout.Seconds())), MemorySize: aws.Int32(512),
			Description:       aws.String("restorable: reads the copy of " + s.Resource.Path + " for drill " + jobID + "; deleted when the drill ends"),
			Environment:       &lambdatypes.Environment{Variables: map[string]string{contract.EnvHandler: contract.HandlerDrillFiles}},
			VpcConfig:         &lambdatypes.VpcConfig{SubnetIds: []string{s.Resource.SubnetID}, SecurityGroupIds: []string{s.Resource.SecurityGroup}},
			FileSystemConfigs: []lambdatypes.FileSystemConfig{{Arn: aws.String(s.AccessPoint), LocalMountPath: aws.String(contract.DrillMount)}},
			LoggingConfig:     &lambdatypes.LoggingConfig{LogGroup: aws.String(cfg.LogGroup), LogFormat: lambdatypes.LogFormatText},
			Tags:              map[string]string{contract.TagDrill: jobID},
		})
		if err != nil && !notFound(err, "ResourceConflictException") {
			s.verdict(Failed, fmt.Sprintf("could not create the function that reads the copy: %v", err))
			return s.next(phaseCleanup), nil
		}
		s.FilesFunction = name
		return s.wait(15), nil
	}
	fn, err := h.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(s.FilesFunction)})
	if err != nil {
		return s, fmt.Errorf("drill: the files function: %w", err)
	}
	switch fn.State {
	case lambdatypes.StateActive:
		return s.next(phaseFilesCheck), nil
	case lambdatypes.StateFailed:
		s.verdict(Failed, fmt.Sprintf("the function that reads the copy could not start: %s %s", fn.StateReasonCode, aws.ToString(fn.StateReason)))
		return s.next(phaseCleanup), nil
	}
	return s.wait(15), nil
}

// FilesInput is what the files function is asked to check.
type FilesInput struct {
	Paths    []string  `json:"paths"`
	Deadline time.Time `json:"deadline"`
}

// FilesOutput is what it found in the copy's restore directory.
type FilesOutput struct {
	RestoreDir string   `json:"restoreDir"`
	Files      int64    `json:"files"`
	Bytes      int64    `json:"bytes"`
	Missing    []string `json:"missing"`
	// Complete: the walk reached every entry before its deadline.
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`
}

// filesCheck invokes the files function and judges what it found.
func (h Handler) filesCheck(ctx context.Context, jobID string, s State) (State, error) {
	walkEnd := h.now().Add(contract.DrillFilesTimeout - time.Minute)
	if walkEnd.After(s.Deadline) {
		walkEnd = s.Deadline
	}
	payload, _ := json.Marshal(FilesInput{Paths: s.Resource.Paths, Deadline: walkEnd})
	out, err := h.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(s.FilesFunction), Payload: payload})
	if err != nil {
		return s, fmt.Errorf("drill: invoke the files function: %w", err)
	}
	if out.FunctionError != nil {
		s.verdict(Failed, fmt.Sprintf("the function that reads the copy failed: %s %s", aws.ToString(out.FunctionError), truncate(string(out.Payload), 300)))
		return s.next(phaseCleanup), nil
	}
	var found FilesOutput
	if err := json.Unmarshal(out.Payload, &found); err != nil {
		return s, fmt.Errorf("drill: the files function's answer: %w", err)
	}
	s.Files, s.Bytes = found.Files, found.Bytes
	previous, err := h.previousFiles(ctx, jobID, s.Resource.Arn)
	if err != nil {
		h.logf("drill: previous drills of %s: %v", s.Resource.Arn, err)
	}
	v, msg := judgeFiles(found, s.Resource, s.BackupSize, previous)
	s.verdict(v, msg)
	return s.next(phaseCleanup), nil
}

// judgeFiles decides a file system drill: every listed path (by default,
// anything at all) is in the restore directory, and the size and file count
// are within the factor of the backup's size and of the last passed drill's
// count.
func judgeFiles(found FilesOutput, r *contract.DrillResource, backupSize, previous int64) (string, string) {
	factor := r.Factor
	if factor <= 0 {
		factor = defaultFactor
	}
	switch {
	case found.Error != "":
		return Failed, "the copy could not be read: " + found.Error
	case len(found.Missing) > 0:
		return Failed, fmt.Sprintf("the copy lacks %s (in %s)", strings.Join(found.Missing, ", "), found.RestoreDir)
	case found.Files == 0:
		return Failed, "the copy holds no files (" + found.RestoreDir + " is empty)"
	}
	if backupSize > 0 {
		if float64(found.Bytes) > float64(backupSize)*factor || (found.Complete && float64(found.Bytes)*factor < float64(backupSize)) {
			return Failed, fmt.Sprintf("the copy holds %d bytes, not within a factor %g of the backup's %d", found.Bytes, factor, backupSize)
		}
	}
	if previous > 0 && found.Complete && (float64(found.Files)*factor < float64(previous) || float64(found.Files) > float64(previous)*factor) {
		return Failed, fmt.Sprintf("the copy holds %d files, not within a factor %g of the %d of the last passed drill", found.Files, factor, previous)
	}
	msg := fmt.Sprintf("the copy holds %d files, %d bytes, in %s", found.Files, found.Bytes, found.RestoreDir)
	if len(r.Paths) > 0 {
		msg += ", with " + strings.Join(r.Paths, ", ")
	}
	if !found.Complete {
		msg += " (counted until the deadline; the copy has more)"
	}
	return Successful, msg
}

var filesCount = regexp.MustCompile(`\bfiles=(\d+)\b`)

// previousFiles is the file count the last passed drill of the resource
// recorded in its validation message, 0 if none did
// (ListRestoreJobsByProtectedResource:
// https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListRestoreJobsByProtectedResource.html).
func (h Handler) previousFiles(ctx context.Context, jobID, resource string) (int64, error) {
	var newest time.Time
	var count int64
	pages := backup.NewListRestoreJobsByProtectedResourcePaginator(h.Backup, &backup.ListRestoreJobsByProtectedResourceInput{
		ResourceArn: aws.String(resource), ByStatus: backuptypes.RestoreJobStatusCompleted,
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, j := range page.RestoreJobs {
			if aws.ToString(j.RestoreJobId) == jobID || j.ValidationStatus != backuptypes.RestoreValidationStatusSuccessful || !aws.ToTime(j.CreationDate).After(newest) {
				continue
			}
			m := filesCount.FindStringSubmatch(aws.ToString(j.ValidationStatusMessage))
			if m == nil {
				continue
			}
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil {
				continue
			}
			newest, count = aws.ToTime(j.CreationDate), n
		}
	}
	return count, nil
}

// filesCleanup deletes the files function, the access point and the mount
// target, one per step.
func (h Handler) filesCleanup(ctx context.Context, s State) (State, error) {
	switch {
	case s.FilesFunction != "":
		_, err := h.Lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(s.FilesFunction)})
		if err != nil && !notFound(err, "ResourceNotFoundException") {
			return s, fmt.Errorf("drill: delete the files function: %w", err)
		}
		s.FilesFunction = ""
		return s.wait(1), nil
	case s.AccessPointID != "":
		_, err := h.EFS.DeleteAccessPoint(ctx, &efs.DeleteAccessPointInput{AccessPointId: aws.String(s.AccessPointID)})
		if err != nil && !notFound(err, "AccessPointNotFound") {
			return s, fmt.Errorf("drill: delete the copy's access point: %w", err)
		}
		s.AccessPoint, s.AccessPointID = "", ""
		return s.wait(1), nil
	case s.MountTarget != "":
		_, err := h.EFS.DeleteMountTarget(ctx, &efs.DeleteMountTargetInput{MountTargetId: aws.String(s.MountTarget)})
		if err != nil && !notFound(err, "MountTargetNotFound") {
			return s, fmt.Errorf("drill: delete the copy's mount target: %w", err)
		}
		s.MountTarget = ""
	}
	return s.next(phaseReport), nil
}
