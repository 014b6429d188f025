package efsrestore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/datasync"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/mover"
)

const (
	stackID       = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/AppStack/6f1e0a30-c7d1-11ee-8c1e-0a1b2c3d4e5f"
	pointArn      = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
	otherPoint    = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:2FC4C6F8-AFC1-446B-B91C-219C599C1E56"
	fileSystemID  = "fs-0123456789abcdef0"
	fileSystemArn = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0123456789abcdef0"
	moverArn      = "arn:aws:lambda:ap-northeast-1:123456789012:function:AppStack-FilesRestoreMover1A2B3C-AbCdEf"
	cleanerArn    = "arn:aws:lambda:ap-northeast-1:123456789012:function:AppStack-FilesRestoreCleaner1A2B3C-AbCdEf"
	machineArn    = "arn:aws:states:ap-northeast-1:123456789012:stateMachine:RestorableEfsRestoreStateMachine1A2B3C-AbCdEf"
	requestID     = "5f1c2b7e-0a1d-4c55-9e0f-6a7b8c9d0e1f"
)

// restoreJob is one AWS Backup restore job of the fake account.
type restoreJob struct {
	input  map[string]interface{}
	status string
}

// world is the account a restore runs in, served to the handler's real SDK
// clients by fake services, with the file system's root as a real directory
// on which the fake Lambda service runs the real mover.
type world struct {
	t       *testing.T
	root    string
	mu      sync.Mutex
	status  string
	vaults  map[string]string // vault name -> answer: "holds", "denied", "missing"
	source  string            // the recovery point's source file system ARN
	jobs    map[string]*restoreJob
	started []map[string]interface{}
	stopped []string
	// notReady rejects that many invokes of the mover with
	// ResourceNotReadyException, and functionStates are what GetFunction
	// reports, one per call, then Active.
	notReady       int
	functionStates []string
	// throttled throttles that many DescribeRestoreJob calls.
	throttled int
	signals   []map[string]string
	moverHook func(step string)
	// efs and dataSync answer for the copy tests.
	efs, dataSync awstest.Handler
	// created is the file system a copy job reports as created.
	created string
	// cleaner is the cleaner function's handler.
	cleaner Handler
	// clock is the world's time: the mover's leases and the stop's
	// deadline; the handler's sleeps advance it.
	clock time.Time

	cfnServer, backupServer, lambdaServer, sfnServer, efsServer, dataSyncServer *awstest.Server
	handle                                                                      *httptest.Server
}

func newWorld(t *testing.T) (*world, Handler) {
	t.Helper()
	w := &world{t: t, root: t.TempDir(), status: "UPDATE_IN_PROGRESS", vaults: map[string]string{"AppStackVault": "holds"},
		source: fileSystemArn, jobs: map[string]*restoreJob{}, clock: time.Now()}
	// CloudFormation, query protocol:
	// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
	w.cfnServer = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		return awstest.QueryXML(awstest.CloudFormationNS, "DescribeStacks", fmt.Sprintf(
			`<Stacks><member><StackName>AppStack</StackName><StackId>%s</StackId><CreationTime>2026-10-01T09:00:00Z</CreationTime><StackStatus>%s</StackStatus></member></Stacks>`, stackID, w.status))
	})
	// AWS Backup, REST-JSON: API_ListBackupVaults, API_DescribeRecoveryPoint,
	// API_GetRecoveryPointRestoreMetadata, API_StartRestoreJob,
	// API_DescribeRestoreJob (https://docs.aws.amazon.com/aws-backup/latest/devguide/).
	w.backupServer = awstest.NewServer(t, w.backup)
	// AWS Lambda, REST-JSON: API_Invoke, API_GetFunction.
	w.lambdaServer = awstest.NewServer(t, w.lambda)
	// Step Functions, JSON 1.0: API_StartExecution, API_StopExecution.
	w.sfnServer = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		var in map[string]interface{}
		_ = r.JSON(&in)
		w.mu.Lock()
		defer w.mu.Unlock()
		switch r.Operation {
		case "StartExecution":
			w.started = append(w.started, in)
			return awstest.JSON(map[string]interface{}{"executionArn": strings.Replace(machineArn, ":stateMachine:", ":execution:", 1) + ":" + in["name"].(string), "startDate": 1.7e9})
		case "StopExecution":
			w.stopped = append(w.stopped, in["executionArn"].(string))
			return awstest.JSON(map[string]interface{}{"stopDate": 1.7e9})
		}
		return awstest.JSONError(400, "InvalidAction", r.Operation)
	})
	w.efsServer = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		if w.efs != nil {
			return w.efs(r)
		}
		// No temporary file system: an in-place restore.
		return awstest.JSON(map[string]interface{}{"FileSystems": []interface{}{}})
	})
	w.dataSyncServer = awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		if w.dataSync != nil {
			return w.dataSync(r)
		}
		return awstest.JSONError(400, "InvalidRequestException", "unexpected "+r.Operation)
	})
	// The wait condition handle: a presigned S3 URL that takes a PUT.
	w.handle = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var sig map[string]string
		require.NoError(t, json.Unmarshal(raw, &sig))
		require.Equal(t, http.MethodPut, r.Method)
		require.Empty(t, r.Header.Get("Content-Type"), "a wait condition signal has no Content-Type")
		w.mu.Lock()
		w.signals = append(w.signals, sig)
		w.mu.Unlock()
	}))
	t.Cleanup(w.handle.Close)
	w.cleaner = Handler{EFS: efs.NewFromConfig(awstest.Config(w.efsServer.URL)), DataSync: datasync.NewFromConfig(awstest.Config(w.dataSyncServer.URL)), Log: t.Logf}
	return w, Handler{
		Backup:          backup.NewFromConfig(awstest.Config(w.backupServer.URL)),
		EFS:             efs.NewFromConfig(awstest.Config(w.efsServer.URL)),
		DataSync:        datasync.NewFromConfig(awstest.Config(w.dataSyncServer.URL)),
		Lambda:          lambda.NewFromConfig(awstest.Config(w.lambdaServer.URL)),
		SFN:             sfn.NewFromConfig(awstest.Config(w.sfnServer.URL)),
		CloudFormation:  cloudformation.NewFromConfig(awstest.Config(w.cfnServer.URL)),
		Log:             t.Logf,
		Sleep:           w.advance,
		Now:             w.now,
		MoverActiveWait: 5 * time.Second,
	}
}

func (w *world) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clock
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clock = w.clock.Add(d)
}

func (w *world) backup(r awstest.Request) awstest.Response {
	w.mu.Lock()
	defer w.mu.Unlock()
	path := r.Operation
	switch {
	case path == "GET /backup-vaults" || path == "GET /backup-vaults/":
		var list []interface{}
		for name := range w.vaults {
			list = append(list, map[string]interface{}{"BackupVaultName": name, "BackupVaultArn": "arn:aws:backup:ap-northeast-1:123456789012:backup-vault:" + name})
		}
		return awstest.JSON(map[string]interface{}{"BackupVaultList": list})
	case strings.HasPrefix(path, "GET /backup-vaults/"):
		parts := strings.SplitN(strings.TrimPrefix(path, "GET /backup-vaults/"), "/recovery-points/", 2)
		vault := parts[0]
		point, _ := url.PathUnescape(strings.TrimSuffix(parts[1], "/restore-metadata"))
		switch {
		case w.vaults[vault] == "denied":
			return awstest.JSONError(403, "AccessDeniedException", "Insufficient privileges to perform this action.")
		case w.vaults[vault] != "holds" || (point != pointArn && point != otherPoint):
			return awstest.JSONError(404, "ResourceNotFoundException", "Cannot find recovery point.")
		case strings.HasSuffix(parts[1], "/restore-metadata"):
			return awstest.JSON(map[string]interface{}{"BackupVaultArn": "arn:aws:backup:ap-northeast-1:123456789012:backup-vault:" + vault, "RecoveryPointArn": point,
				"RestoreMetadata": map[string]string{"file-system-id": strings.TrimPrefix(w.source, "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/"), "Encrypted": "true", "PerformanceMode": "generalPurpose"}})
		}
		// API_DescribeRecoveryPoint
		return awstest.JSON(map[string]interface{}{"RecoveryPointArn": point, "BackupVaultName": vault, "ResourceArn": w.source, "ResourceType": "EFS", "Status": "COMPLETED", "CreationDate": 1.7e9})
	case path == "PUT /restore-jobs":
		var in map[string]interface{}
		require.NoError(w.t, r.JSON(&in))
		id := fmt.Sprintf("restore-job-%d", len(w.jobs)+1)
		for existing, j := range w.jobs {
			if j.input["IdempotencyToken"] == in["IdempotencyToken"] {
				id = existing // the same idempotency token: the same job
			}
		}
		if w.jobs[id] == nil {
			w.jobs[id] = &restoreJob{input: in, status: "RUNNING"}
		}
		return awstest.JSON(map[string]interface{}{"RestoreJobId": id})
	case strings.HasPrefix(path, "GET /restore-jobs/"):
		if w.throttled > 0 {
			w.throttled--
			return awstest.JSONError(400, "ThrottlingException", "Rate exceeded")
		}
		id := strings.TrimPrefix(path, "GET /restore-jobs/")
		j := w.jobs[id]
		out := map[string]interface{}{"RestoreJobId": id, "Status": j.status, "PercentDone": "42.0%"}
		if j.status == "COMPLETED" && w.created != "" {
			out["CreatedResourceArn"] = w.created
		}
		if j.status == "FAILED" {
			out["StatusMessage"] = "Access denied to the file system's KMS key"
		}
		return awstest.JSON(out)
	}
	return awstest.JSONError(400, "InvalidAction", path)
}

func (w *world) lambda(r awstest.Request) awstest.Response {
	w.mu.Lock()
	if strings.HasPrefix(r.Operation, "GET /2015-03-31/functions/") {
		state := "Active"
		if len(w.functionStates) > 0 {
			state, w.functionStates = w.functionStates[0], w.functionStates[1:]
		}
		w.mu.Unlock()
		return awstest.JSON(map[string]interface{}{"Configuration": map[string]interface{}{"FunctionName": "mover", "FunctionArn": moverArn, "State": state, "LastUpdateStatus": "Successful"}})
	}
	if w.notReady > 0 {
		w.notReady--
		w.mu.Unlock()
		// API_Invoke: ResourceNotReadyException, HTTP 502.
		return awstest.JSONError(502, "ResourceNotReadyException", "The function is inactive and its VPC connection is no longer available. Wait for the VPC connection to reestablish and try again.")
	}
	w.mu.Unlock()
	if r.Operation == "POST /2015-03-31/functions/"+cleanerArn+"/invocations" {
		// The cleaner: the same code with clients of its own (its role).
		var in CleanupRequest
		require.NoError(w.t, r.JSON(&in))
		res, err := w.cleaner.Clean(context.Background(), in)
		if err != nil {
			raw, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "errorString"})
			return awstest.Response{Body: string(raw), Headers: map[string]string{"X-Amz-Function-Error": "Unhandled"}}
		}
		return awstest.JSON(res)
	}
	require.Equal(w.t, "POST /2015-03-31/functions/"+moverArn+"/invocations", r.Operation)
	var req mover.Request
	require.NoError(w.t, r.JSON(&req))
	m := mover.Mover{Root: w.root, Now: w.now, LeaseFor: contract.MoverLease, Budget: func(context.Context) bool { return true }, Hook: w.moverHook}
	res, err := func() (res mover.Result, err error) {
		defer func() {
			// A crash of the function: Lambda reports Runtime.ExitError.
			if r := recover(); r != nil {
				err = fmt.Errorf("Runtime.ExitError: %v", r)
			}
		}()
		return m.Handle(context.Background(), req)
	}()
	if err != nil {
		kind := "errorString"
		if strings.HasPrefix(err.Error(), "Runtime.") {
			kind = "Runtime.ExitError"
		}
		raw, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": kind})
		return awstest.Response{Body: string(raw), Headers: map[string]string{"X-Amz-Function-Error": "Unhandled"}}
	}
	return awstest.JSON(res)
}

// completeJob has "AWS Backup" finish a restore job: it writes the recovery
// point's files into a new restore directory at the root.
func (w *world) completeJob(id string, files map[string]string) {
	w.completeJobAt(id, "aws-backup-restore_2026-11-20T10-30-00-000Z", files)
}

// completeJobAt finishes a job into the named restore directory.
func (w *world) completeJobAt(id, name string, files map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	dir := filepath.Join(w.root, name)
	for p, c := range files {
		require.NoError(w.t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(w.t, os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644))
	}
	w.jobs[id].status = "COMPLETED"
}

func (w *world) props() map[string]interface{} {
	return map[string]interface{}{
		contract.RestoreResource: "AppStack/Files", contract.RestoreRecoveryPointArn: pointArn,
		contract.RestoreFileSystemID: fileSystemID, contract.RestoreFileSystemArn: fileSystemArn,
		contract.RestoreEncrypted: "true", contract.RestoreKmsKeyID: "arn:aws:kms:ap-northeast-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
		contract.RestorePerformanceMode: "generalPurpose",
		contract.RestoreRoleArn:         "arn:aws:iam::123456789012:role/AppStack-FilesRestoreRole-AbC",
		contract.RestoreMoverFunction:   moverArn, contract.RestoreStateMachineArn: machineArn,
		contract.RestoreWaitHandle: w.handle.URL + "/cloudformation-waitcondition-ap-northeast-1/arn%3Aaws%3Acloudformation?X-Amz-Signature=abc",
	}
}

func (w *world) event(kind cfn.RequestType, props, old map[string]interface{}, physical string) cfn.Event {
	return cfn.Event{RequestType: kind, RequestID: requestID, StackID: stackID, LogicalResourceID: "FilesRestoreStart1A2B3C4D",
		PhysicalResourceID: physical, ResourceProperties: props, OldResourceProperties: old}
}

// startedInput is the input of the execution the handler started.
func (w *world) startedInput(i int) StepInput {
	w.mu.Lock()
	defer w.mu.Unlock()
	var in StepInput
	require.NoError(w.t, json.Unmarshal([]byte(w.started[i]["input"].(string)), &in))
	return in
}

func (w *world) write(files map[string]string) {
	for p, c := range files {
		require.NoError(w.t, os.MkdirAll(filepath.Dir(filepath.Join(w.root, p)), 0o755))
		require.NoError(w.t, os.WriteFile(filepath.Join(w.root, p), []byte(c), 0o644))
	}
}

func (w *world) read(p string) string {
	raw, err := os.ReadFile(filepath.Join(w.root, p))
	if err != nil {
		return "(missing)"
	}
	return string(raw)
}

// breakLease ends the lease of a mover step that crashed while holding the
// file system's lock, as the passing of its 16 minutes would.
func breakLease(t *testing.T, root string) {
	t.Helper()
	path := filepath.Join(root, mover.StateDir, "lock", "lease.json")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var l map[string]interface{}
	require.NoError(t, json.Unmarshal(raw, &l))
	l["expires"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	raw, _ = json.Marshal(l)
	require.NoError(t, os.WriteFile(path, raw, 0o600))
}

// startedInputOrEmpty is a step input for the world's restore.
func (w *world) startedInputOrEmpty() StepInput {
	p, err := ParseProps(w.props())
	require.NoError(w.t, err)
	p.RequestID = requestID
	return StepInput{Action: ActionStep, Request: p}
}
