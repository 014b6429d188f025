package efsrestore

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
	"github.com/restorable-cdk/restorable/internal/contract"
)

const (
	tempID  = "fs-0fedcba9876543210"
	tempArn = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0fedcba9876543210"
)

// copyAccount adds a temporary file system, created by "AWS Backup" when the
// job completes, and DataSync, which copies it into the world's root.
type copyAccount struct {
	mu        sync.Mutex
	w         *world
	exists    bool
	state     string
	token     string
	tags      map[string]string
	targets   []map[string]interface{}
	locations map[string]map[string]interface{}
	tasks     map[string]map[string]interface{}
	deleted   []string
}

func withCopy(t *testing.T, w *world) *copyAccount {
	a := &copyAccount{w: w, tags: map[string]string{}, locations: map[string]map[string]interface{}{}, tasks: map[string]map[string]interface{}{}}
	w.source = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0aaaaaaaaaaaaaaaa"
	w.created = tempArn
	// Amazon EFS, REST-JSON: API_DescribeFileSystems, API_TagResource,
	// API_UntagResource, API_DescribeMountTargets, API_CreateMountTarget,
	// API_DeleteMountTarget, API_DeleteFileSystem
	// (https://docs.aws.amazon.com/efs/latest/ug/API_Operations.html).
	w.efs = func(r awstest.Request) awstest.Response {
		a.mu.Lock()
		defer a.mu.Unlock()
		switch {
		case r.Operation == "GET /2015-02-01/file-systems":
			if !a.exists || r.Query.Get("CreationToken") != a.token {
				return awstest.JSON(map[string]interface{}{"FileSystems": []interface{}{}})
			}
			var tags []interface{}
			for k, v := range a.tags {
				tags = append(tags, map[string]string{"Key": k, "Value": v})
			}
			return awstest.JSON(map[string]interface{}{"FileSystems": []interface{}{map[string]interface{}{
				"OwnerId": awstest.Account, "CreationToken": a.token, "FileSystemId": tempID, "FileSystemArn": tempArn, "CreationTime": 1.7e9,
				"LifeCycleState": a.state, "NumberOfMountTargets": len(a.targets), "SizeInBytes": map[string]interface{}{"Value": 6144},
				"PerformanceMode": "generalPurpose", "Encrypted": true, "Tags": tags}}})
		case r.Operation == "POST /2015-02-01/resource-tags/"+tempID:
			var in struct{ Tags []map[string]string }
			require.NoError(t, r.JSON(&in))
			for _, tag := range in.Tags {
				a.tags[tag["Key"]] = tag["Value"]
			}
			return awstest.Response{Status: 200}
		case r.Operation == "DELETE /2015-02-01/resource-tags/"+tempID:
			for _, k := range r.Query["tagKeys"] {
				delete(a.tags, k)
			}
			return awstest.Response{Status: 200}
		case r.Operation == "GET /2015-02-01/mount-targets":
			out := []interface{}{}
			for _, mt := range a.targets {
				out = append(out, mt)
				mt["LifeCycleState"] = "available"
			}
			return awstest.JSON(map[string]interface{}{"MountTargets": out})
		case r.Operation == "POST /2015-02-01/mount-targets":
			var in map[string]interface{}
			require.NoError(t, r.JSON(&in))
			require.Equal(t, tempID, in["FileSystemId"], "a mount target only for the temporary file system")
			mt := map[string]interface{}{"MountTargetId": "fsmt-0123", "FileSystemId": tempID, "SubnetId": in["SubnetId"], "LifeCycleState": "creating"}
			a.targets = append(a.targets, mt)
			return awstest.JSON(mt)
		case strings.HasPrefix(r.Operation, "DELETE /2015-02-01/mount-targets/"):
			a.targets = nil
			a.deleted = append(a.deleted, "mount target")
			return awstest.Response{Status: 204}
		case r.Operation == "DELETE /2015-02-01/file-systems/"+tempID:
			a.state = "deleting"
			a.deleted = append(a.deleted, "file system")
			return awstest.Response{Status: 204}
		}
		return awstest.JSONError(400, "BadRequest", "unexpected "+r.Operation)
	}
	// AWS DataSync, JSON 1.1: API_CreateLocationEfs, API_CreateTask,
	// API_StartTaskExecution, API_DescribeTaskExecution, API_DeleteTask,
	// API_DeleteLocation (https://docs.aws.amazon.com/datasync/latest/userguide/API_Operations.html).
	w.dataSync = func(r awstest.Request) awstest.Response {
		a.mu.Lock()
		defer a.mu.Unlock()
		var in map[string]interface{}
		_ = r.JSON(&in)
		switch r.Operation {
		case "CreateLocationEfs":
			arn := "arn:aws:datasync:ap-northeast-1:123456789012:location/loc-" + string(rune('a'+len(a.locations)))
			a.locations[arn] = in
			return awstest.JSON(map[string]string{"LocationArn": arn})
		case "CreateTask":
			arn := "arn:aws:datasync:ap-northeast-1:123456789012:task/task-1"
			a.tasks[arn] = in
			return awstest.JSON(map[string]string{"TaskArn": arn})
		case "StartTaskExecution":
			// DataSync copies the temporary file system's root, which holds
			// AWS Backup's restore directory, into this one's root.
			dir := filepath.Join(w.root, "aws-backup-restore_2026-11-20T10-30-00-000Z")
			for p, c := range backedFiles {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644))
			}
			return awstest.JSON(map[string]string{"TaskExecutionArn": in["TaskArn"].(string) + "/execution/exec-1"})
		case "DescribeTaskExecution":
			return awstest.JSON(map[string]string{"TaskExecutionArn": in["TaskExecutionArn"].(string), "Status": "SUCCESS"})
		case "DeleteTask":
			a.deleted = append(a.deleted, "task")
			return awstest.JSON(map[string]string{})
		case "DeleteLocation":
			a.deleted = append(a.deleted, "location")
			return awstest.JSON(map[string]string{})
		}
		return awstest.JSONError(400, "InvalidRequestException", "unexpected "+r.Operation)
	}
	return a
}

func copyProps(w *world) map[string]interface{} {
	p := w.props()
	p[contract.RestoreTransferSubnetID] = "subnet-0123"
	p[contract.RestoreTransferSubnetArn] = "arn:aws:ec2:ap-northeast-1:123456789012:subnet/subnet-0123"
	p[contract.RestoreTransferSecurityGroupID] = "sg-0123"
	p[contract.RestoreTransferSecurityGroupArn] = "arn:aws:ec2:ap-northeast-1:123456789012:security-group/sg-0123"
	p[contract.RestoreTransferRoleArn] = "arn:aws:iam::123456789012:role/AppStack-FilesTransferRole-AbC"
	p[contract.RestoreCleanerFunction] = cleanerArn
	return p
}

func TestARecoveryPointOfAnotherFileSystemIsCopiedThroughATemporaryOne(t *testing.T) {
	w, h := newWorld(t)
	a := withCopy(t, w)
	w.write(liveFiles)
	_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestCreate, copyProps(w), nil, ""))
	require.NoError(t, err)
	st := run(t, h, w.startedInput(0), func(i int, st StepState) {
		if i == 0 {
			// AWS Backup creates the temporary file system and restores into it.
			a.mu.Lock()
			a.exists, a.state, a.token = true, "available", CreationToken(requestID)
			a.mu.Unlock()
			w.mu.Lock()
			w.jobs[st.JobID].status = "COMPLETED"
			w.mu.Unlock()
		}
	})
	require.Equal(t, StatusDone, st.Status, st.Message)
	// The job restored into a new file system, with this request's token.
	job := w.jobs["restore-job-1"].input["Metadata"].(map[string]interface{})
	assert.Equal(t, "true", job["newFileSystem"])
	assert.Equal(t, CreationToken(requestID), job["CreationToken"])
	assert.Equal(t, "fs-0aaaaaaaaaaaaaaaa", job["file-system-id"])
	// DataSync copied over TLS, overwriting nothing; everything it created
	// carries the recovery point's tag, which the IAM policy requires.
	require.Len(t, a.tasks, 1)
	for _, task := range a.tasks {
		opts := task["Options"].(map[string]interface{})
		assert.Equal(t, "NEVER", opts["OverwriteMode"])
		assert.Contains(t, fmtJSON(task["Tags"]), `{"Key":"restorable:recovery-point","Value":"1EB3B5E7-9EB0-435A-A80B-108B488B0D45"}`)
	}
	for _, loc := range a.locations {
		assert.Equal(t, "TLS1_2", loc["InTransitEncryption"])
		assert.Contains(t, fmtJSON(loc["Tags"]), `restorable:recovery-point`)
	}
	assert.Equal(t, "1EB3B5E7-9EB0-435A-A80B-108B488B0D45", a.tags[contract.TagRecoveryPoint])
	// The files are in place, and what the copy created is deleted.
	assert.Equal(t, "a, as backed up", w.read("data/a.txt"))
	assert.Equal(t, []string{"task", "location", "location", "mount target", "file system"}, a.deleted)
	assert.Equal(t, "SUCCESS", w.signals[0]["Status"])
}

func TestACopyNeverTouchesAFileSystemWithoutItsToken(t *testing.T) {
	w, h := newWorld(t)
	a := withCopy(t, w)
	_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestCreate, copyProps(w), nil, ""))
	require.NoError(t, err)
	st := run(t, h, w.startedInput(0), func(i int, st StepState) {
		a.mu.Lock()
		a.exists, a.state, a.token = true, "available", "someone-elses-file-system"
		a.mu.Unlock()
		w.jobs[st.JobID].status = "COMPLETED"
	})
	assert.Equal(t, StatusFailed, st.Status)
	assert.Contains(t, w.signals[0]["Reason"], "does not have this request's creation token")
	assert.Empty(t, a.deleted)
	assert.Empty(t, a.tags)
}

func fmtJSON(v interface{}) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}
