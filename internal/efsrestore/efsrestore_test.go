package efsrestore

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// the live file system, and the recovery point AWS Backup restores.
var (
	liveFiles   = map[string]string{"data/a.txt": "a, after the backup", "data/new.txt": "new since the backup"}
	backedFiles = map[string]string{"data/a.txt": "a, as backed up", "data/b.txt": "b, deleted since"}
)

// run drives an execution as the state machine does: a step every 30 seconds
// until the step is no longer waiting; between steps, between runs, what
// happens outside (AWS Backup finishing) is simulated by between.
func run(t *testing.T, h Handler, in StepInput, between func(i int, st StepState)) StepState {
	t.Helper()
	in.Action = ActionStep
	for i := 0; i < 50; i++ {
		st, err := h.Step(context.Background(), in)
		require.NoError(t, err)
		if st.Status != StatusWait {
			return st
		}
		in.State = st
		if between != nil {
			between(i, st)
		}
	}
	t.Fatal("the restore never finished")
	return StepState{}
}

func TestARestoreIsOneDeploy(t *testing.T) {
	w, h := newWorld(t)
	w.write(liveFiles)
	// WHEN CloudFormation creates the restore
	physical, data, err := h.OnEvent(context.Background(), w.event(cfn.RequestCreate, w.props(), nil, ""))
	require.NoError(t, err)
	// THEN it starts one execution, named after the request, and answers at once
	assert.Equal(t, "restorable-efs-restore/1EB3B5E7-9EB0-435A-A80B-108B488B0D45/"+requestID, physical)
	require.Len(t, w.started, 1)
	name := ExecutionName(stackID, "FilesRestoreStart1A2B3C4D", requestID)
	assert.Equal(t, name, w.started[0]["name"])
	assert.Equal(t, name, data["Execution"])
	assert.LessOrEqual(t, len(name), 80)
	assert.Regexp(t, `^[A-Za-z0-9-]+$`, name)
	assert.Equal(t, machineArn, w.started[0]["stateMachineArn"])
	in := w.startedInput(0)
	assert.Equal(t, requestID, in.Request.RequestID)
	assert.Equal(t, []string{"DescribeStacks"}, w.cfnServer.Operations())

	// WHEN the execution runs, and AWS Backup finishes after a few polls
	st := run(t, h, in, func(i int, st StepState) {
		if i == 2 {
			w.completeJob(st.JobID, backedFiles)
		}
	})
	// THEN the job was started once, into this file system, with the request
	// as its idempotency token
	require.Len(t, w.jobs, 1)
	job := w.jobs["restore-job-1"].input
	assert.Equal(t, pointArn, job["RecoveryPointArn"])
	assert.Equal(t, requestID, job["IdempotencyToken"])
	assert.Equal(t, "EFS", job["ResourceType"])
	assert.Equal(t, map[string]interface{}{"file-system-id": fileSystemID, "newFileSystem": "false", "Encrypted": "true", "PerformanceMode": "generalPurpose",
		"KmsKeyId": "arn:aws:kms:ap-northeast-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"}, job["Metadata"])
	// AND the files are in place, the old ones kept aside
	assert.Equal(t, StatusDone, st.Status)
	assert.Equal(t, "a, as backed up", w.read("data/a.txt"))
	assert.Equal(t, "b, deleted since", w.read("data/b.txt"))
	assert.Equal(t, "(missing)", w.read("data/new.txt"))
	// AND the wait condition got one SUCCESS
	require.Len(t, w.signals, 1)
	assert.Equal(t, "SUCCESS", w.signals[0]["Status"])
	assert.Contains(t, w.signals[0]["Reason"], "1 entries at the root put in place")
	assert.Contains(t, w.signals[0]["Reason"], "kept in /.restorable/pre-restore-")
}

func TestTheSameRecoveryPointAgainDoesNothing(t *testing.T) {
	w, h := newWorld(t)
	physical, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestUpdate, w.props(), w.props(), "restorable-efs-restore/1EB3B5E7-9EB0-435A-A80B-108B488B0D45/earlier"))
	require.NoError(t, err)
	assert.Equal(t, "restorable-efs-restore/1EB3B5E7-9EB0-435A-A80B-108B488B0D45/earlier", physical)
	assert.Empty(t, w.started)
}

func TestARollbackNeverStartsARestore(t *testing.T) {
	for _, status := range []string{"UPDATE_ROLLBACK_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"} {
		t.Run(status, func(t *testing.T) {
			w, h := newWorld(t)
			w.status = status
			// GIVEN a deploy that restored otherPoint, and failed later: the
			// rollback sends the old properties, and the new ones as old
			failed := w.props()
			failed[contract.RestoreRecoveryPointArn] = otherPoint
			physical := "restorable-efs-restore/2FC4C6F8-AFC1-446B-B91C-219C599C1E56/" + requestID
			kind := cfn.RequestUpdate
			if status == "ROLLBACK_IN_PROGRESS" {
				kind = cfn.RequestCreate
			}
			_, _, err := h.OnEvent(context.Background(), w.event(kind, w.props(), failed, physical))
			require.NoError(t, err)
			// THEN no execution starts, no job, no move
			assert.Empty(t, w.started)
			assert.Empty(t, w.jobs)
			if kind == cfn.RequestUpdate {
				// AND the failed deploy's execution is stopped
				assert.Equal(t, []string{executionArn(machineArn, ExecutionName(stackID, "FilesRestoreStart1A2B3C4D", requestID))}, w.stopped)
			}
		})
	}
}

func TestARollbackUndoesTheSwapOfItsDeploy(t *testing.T) {
	// GIVEN a restore whose mover stopped halfway through the swap
	w, h := newWorld(t)
	w.write(liveFiles)
	w.write(map[string]string{"settings.json": "current"})
	_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestCreate, w.props(), nil, ""))
	require.NoError(t, err)
	in := w.startedInput(0)
	in.Action = ActionStep
	st, err := h.Step(context.Background(), in)
	require.NoError(t, err)
	w.completeJob(st.JobID, map[string]string{"data/a.txt": "a, as backed up", "settings.json": "old"})
	w.moverHook = func(step string) {
		if step == "restore settings.json" {
			panic("the mover's Lambda invocation ended here")
		}
	}
	func() {
		defer func() { _ = recover() }()
		in.State = st
		_, _ = h.Step(context.Background(), in)
	}()
	w.moverHook = nil
	require.Equal(t, "a, as backed up", w.read("data/a.txt"), "half swapped")
	require.Equal(t, "(missing)", w.read("settings.json"))
	// WHEN the deploy fails and CloudFormation deletes the new restore, after
	// the crashed step's lease ended
	w.status = "ROLLBACK_IN_PROGRESS"
	breakLease(t, w.root)
	physical := "restorable-efs-restore/1EB3B5E7-9EB0-435A-A80B-108B488B0D45/" + requestID
	_, _, err = h.OnEvent(context.Background(), w.event(cfn.RequestDelete, w.props(), nil, physical))
	require.NoError(t, err)
	// THEN the execution is stopped and the files are as they were
	assert.Len(t, w.stopped, 1)
	assert.Equal(t, "a, after the backup", w.read("data/a.txt"))
	assert.Equal(t, "new since the backup", w.read("data/new.txt"))
	assert.Equal(t, "current", w.read("settings.json"))
}

func TestAnInactiveMoverIsWokenAndWaitedFor(t *testing.T) {
	w, h := newWorld(t)
	w.write(liveFiles)
	// GIVEN a mover that Lambda made inactive: invokes fail with
	// ResourceNotReadyException until its network interface is back
	w.notReady = 4
	w.functionStates = []string{"Pending", "Pending", "Active"}
	_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestCreate, w.props(), nil, ""))
	require.NoError(t, err)
	in := w.startedInput(0)
	in.Action = ActionStep
	// WHEN the first step calls it
	st, err := h.Step(context.Background(), in)
	require.NoError(t, err)
	// THEN the SDK retried the 502 three times, the handler waited for Active
	// with the SDK's waiter, and the call went through (then the step
	// recorded the job it started)
	assert.Equal(t, StatusWait, st.Status)
	assert.True(t, st.Prepared)
	assert.NotEmpty(t, st.JobID)
	ops := w.lambdaServer.Operations()
	invoke := "POST /2015-03-31/functions/" + moverArn + "/invocations"
	getFunction := "GET /2015-03-31/functions/" + moverArn
	assert.Equal(t, []string{invoke, invoke, invoke, getFunction, getFunction, getFunction, invoke, invoke, invoke}, ops)
}

func TestThrottlingWaitsForTheNextStep(t *testing.T) {
	w, h := newWorld(t)
	_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestCreate, w.props(), nil, ""))
	require.NoError(t, err)
	in := w.startedInput(0)
	in.Action = ActionStep
	st, err := h.Step(context.Background(), in)
	require.NoError(t, err)
	w.throttled = 3 // more than the SDK's three attempts
	in.State = st
	st, err = h.Step(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, StatusWait, st.Status)
	assert.Equal(t, 1, st.Transient)
	assert.Contains(t, st.Message, "ThrottlingException")
	assert.Empty(t, w.signals)
}

func TestAFailedJobFailsTheDeployAndMovesNothing(t *testing.T) {
	w, h := newWorld(t)
	w.write(liveFiles)
	_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestCreate, w.props(), nil, ""))
	require.NoError(t, err)
	st := run(t, h, w.startedInput(0), func(i int, st StepState) { w.jobs[st.JobID].status = "FAILED" })
	assert.Equal(t, StatusFailed, st.Status)
	require.Len(t, w.signals, 1)
	assert.Equal(t, "FAILURE", w.signals[0]["Status"])
	assert.Contains(t, w.signals[0]["Reason"], "ended FAILED: Access denied to the file system's KMS key. Nothing was moved")
	assert.Equal(t, "a, after the backup", w.read("data/a.txt"))
}

func TestARecoveryPointRestoredBeforeIsNotRestoredAgain(t *testing.T) {
	w, h := newWorld(t)
	w.write(liveFiles)
	_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestCreate, w.props(), nil, ""))
	require.NoError(t, err)
	run(t, h, w.startedInput(0), func(i int, st StepState) { w.completeJob(st.JobID, backedFiles) })
	// WHEN a later deploy creates a restore of the same recovery point
	e := w.event(cfn.RequestCreate, w.props(), nil, "")
	e.RequestID = "7a2b3c4d-0a1d-4c55-9e0f-6a7b8c9d0e1f"
	_, _, err = h.OnEvent(context.Background(), e)
	require.NoError(t, err)
	st := run(t, h, w.startedInput(1), nil)
	// THEN it starts no job and says how to restore it once more
	assert.Equal(t, StatusDone, st.Status)
	assert.Len(t, w.jobs, 1)
	assert.Contains(t, w.signals[1]["Reason"], "was restored into "+fileSystemID+" before (request "+requestID)
	assert.Contains(t, w.signals[1]["Reason"], "remove /.restorable/restored/1EB3B5E7-9EB0-435A-A80B-108B488B0D45.json")
}

func TestLocateSkipsVaultsThatDenyAccess(t *testing.T) {
	w, h := newWorld(t)
	w.vaults = map[string]string{"a-locked-vault": "denied", "b-empty-vault": "missing", "c-the-vault": "holds"}
	point, err := h.locate(context.Background(), pointArn)
	require.NoError(t, err)
	assert.Equal(t, "c-the-vault", point.vault)

	w.vaults = map[string]string{"a-locked-vault": "denied", "b-empty-vault": "missing"}
	_, err = h.locate(context.Background(), pointArn)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is in none of the 2 backup vaults")
	assert.Contains(t, err.Error(), "a-locked-vault (AccessDeniedException)")
}

func TestBadPropertiesAreRefused(t *testing.T) {
	w, h := newWorld(t)
	for key, bad := range map[string]string{
		contract.RestoreRecoveryPointArn: "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:../../x",
		contract.RestoreMoverFunction:    "",
		contract.RestoreStateMachineArn:  "not-an-arn",
	} {
		p := w.props()
		p[key] = bad
		_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestCreate, p, nil, ""))
		assert.Error(t, err, key)
	}
	in := w.startedInputOrEmpty()
	in.Request.RequestID = "../../app/forged"
	_, err := h.Step(context.Background(), in)
	assert.Error(t, err)
	assert.Empty(t, w.started)
}
