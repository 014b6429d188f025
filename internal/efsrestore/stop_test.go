package efsrestore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/awstest"
	"github.com/restorable-cdk/restorable/internal/contract"
	"github.com/restorable-cdk/restorable/internal/mover"
)

// crashMidSwap runs a restore whose mover step crashes halfway through the
// swap, holding the file system's lock, and returns the step's state.
func crashMidSwap(t *testing.T, w *world, h Handler) {
	t.Helper()
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
	in.State = st
	_, _ = h.Step(context.Background(), in)
	w.moverHook = nil
	require.Equal(t, "(missing)", w.read("settings.json"), "half swapped")
}

func TestAStopWaitsOutTheLeaseOfACrashedStep(t *testing.T) {
	// GIVEN a restore whose mover step crashed holding the lock, its lease
	// running for contract.MoverLease
	w, h := newWorld(t)
	crashMidSwap(t, w, h)
	crashed := w.now()
	// WHEN the deploy rolls back right away, with the orchestrator's 15
	// minutes to answer
	w.status = "ROLLBACK_IN_PROGRESS"
	ctx, cancel := context.WithTimeout(context.Background(), contract.OrchestratorTimeout)
	defer cancel()
	physical := "restorable-efs-restore/1EB3B5E7-9EB0-435A-A80B-108B488B0D45/" + requestID
	_, _, err := h.OnEvent(ctx, w.event(cfn.RequestDelete, w.props(), nil, physical))
	// THEN the stop waited out the lease, undid the swap, and the rollback
	// goes on: the files are as they were
	require.NoError(t, err)
	assert.GreaterOrEqual(t, w.now().Sub(crashed), contract.MoverLease, "waited for the lease")
	assert.Less(t, w.now().Sub(crashed), contract.OrchestratorTimeout-contract.StopMargin, "within the time CloudFormation gives")
	assert.Equal(t, "a, after the backup", w.read("data/a.txt"))
	assert.Equal(t, "current", w.read("settings.json"))
}

func TestAStopThatCannotGetTheLockNamesACommandThatWorks(t *testing.T) {
	// GIVEN a lock whose lease outlives the stop (a mover still running
	// past its timeout cannot happen, but a clock can be wrong)
	w, h := newWorld(t)
	crashMidSwap(t, w, h)
	lease := filepath.Join(w.root, mover.StateDir, "lock", "lease.json")
	raw, err := os.ReadFile(lease)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(lease, []byte(strings.Replace(string(raw), `"expires":"`, `"expires":"2099`+`-01-01T00:00:00Z","was":"`, 1)), 0o600))
	w.status = "UPDATE_ROLLBACK_IN_PROGRESS"
	ctx, cancel := context.WithTimeout(context.Background(), contract.OrchestratorTimeout)
	defer cancel()
	physical := "restorable-efs-restore/1EB3B5E7-9EB0-435A-A80B-108B488B0D45/" + requestID
	_, _, err = h.OnEvent(ctx, w.event(cfn.RequestDelete, w.props(), nil, physical))
	// THEN the rollback fails with the mover's own abort as the command (the
	// file system policy lets no one else mount the root), then the rollback
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aws lambda invoke --function-name "+moverArn+" --cli-binary-format raw-in-base64-out --payload '"+
		`{"action":"abort","requestId":"`+requestID+`","recoveryPoint":"`+pointArn+`"}' /dev/stdout`)
	assert.Contains(t, err.Error(), "aws cloudformation continue-update-rollback --stack-name "+stackID)
	assert.NotContains(t, err.Error(), "delete /.restorable/lock")
}

func TestALateJobIsWaitedForAndItsDirectoryNeverTaken(t *testing.T) {
	// GIVEN a deploy cancelled while its restore job ran: the execution and
	// the swap are stopped, but AWS Backup cannot stop the job
	w, h := newWorld(t)
	w.write(liveFiles)
	_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestCreate, w.props(), nil, ""))
	require.NoError(t, err)
	in := w.startedInput(0)
	in.Action = ActionStep
	first, err := h.Step(context.Background(), in)
	require.NoError(t, err)
	require.NotEmpty(t, first.JobID)
	w.status = "UPDATE_ROLLBACK_IN_PROGRESS"
	physical := "restorable-efs-restore/1EB3B5E7-9EB0-435A-A80B-108B488B0D45/" + requestID
	_, _, err = h.OnEvent(context.Background(), w.event(cfn.RequestDelete, w.props(), nil, physical))
	require.NoError(t, err)
	// WHEN the retry runs while that job still runs
	w.status = "UPDATE_IN_PROGRESS"
	retry := w.event(cfn.RequestCreate, w.props(), nil, "")
	retry.RequestID = "7a2d3c8f-1b2e-4d66-8f10-7b8c9d0e1f2a"
	_, _, err = h.OnEvent(context.Background(), retry)
	require.NoError(t, err)
	in = w.startedInput(1)
	in.Action = ActionStep
	st, err := h.Step(context.Background(), in)
	// THEN it waits, starting no job of its own
	require.NoError(t, err)
	assert.Equal(t, StatusWait, st.Status)
	assert.Contains(t, st.Message, "waiting for the restore job "+first.JobID+" (RUNNING) of an earlier, stopped deploy to end")
	assert.False(t, st.Prepared)
	assert.Len(t, w.jobs, 1)
	// WHEN the late job ends, writing its whole directory at the root
	w.completeJob(first.JobID, map[string]string{"data/a.txt": "a, from the late job"})
	in.State = st
	st, err = h.Step(context.Background(), in)
	require.NoError(t, err)
	in.State = st
	st, err = h.Step(context.Background(), in)
	require.NoError(t, err)
	// THEN the retry prepares, its directory set aside, and starts its job
	assert.True(t, st.Prepared)
	assert.Equal(t, []string{first.JobID}, st.Settled)
	require.NotEqual(t, first.JobID, st.JobID)
	assert.Equal(t, "(missing)", w.read("aws-backup-restore_2026-11-20T10-30-00-000Z/data/a.txt"), "not at the root")
	assert.Equal(t, "a, from the late job", w.read(".restorable/late/aws-backup-restore_2026-11-20T10-30-00-000Z/data/a.txt"))
	// AND its own job's directory is the one put in place
	w.completeJobAt(st.JobID, "aws-backup-restore_2026-11-21T08-00-00-000Z", map[string]string{"data/a.txt": "a, as backed up"})
	for i := 0; i < 4 && st.Status == StatusWait; i++ {
		in.State = st
		st, err = h.Step(context.Background(), in)
		require.NoError(t, err)
	}
	assert.Equal(t, StatusDone, st.Status, st.Message)
	assert.Equal(t, "a, as backed up", w.read("data/a.txt"))
}

func TestNothingRestoresOutsideADeploy(t *testing.T) {
	// GIVEN a restore done, and a deploy that replaced the file system while
	// the recovery point stayed, with the same wait condition, which has
	// waited once already
	w, h := newWorld(t)
	old := w.props()
	next := w.props()
	next[contract.RestoreFileSystemID] = "fs-0fedcba9876543210"
	next[contract.RestoreFileSystemArn] = "arn:aws:elasticfilesystem:ap-northeast-1:123456789012:file-system/fs-0fedcba9876543210"
	physical := "restorable-efs-restore/1EB3B5E7-9EB0-435A-A80B-108B488B0D45/" + requestID
	// WHEN CloudFormation updates the restore
	_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestUpdate, next, old, physical))
	// THEN it refuses to start a restore the deploy would not wait for
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothing restores outside a deploy")
	assert.Empty(t, w.started)
	// AND with a new wait condition handle, the restore starts
	next[contract.RestoreWaitHandle] = w.handle.URL + "/another-handle"
	_, _, err = h.OnEvent(context.Background(), w.event(cfn.RequestUpdate, next, old, physical))
	require.NoError(t, err)
	assert.Len(t, w.started, 1)
}

func TestTheSameRestoreWithANewWaitConditionIsSignalledAtOnce(t *testing.T) {
	// GIVEN a restore done, and an upgrade of restorable that renames the
	// wait condition, with the recovery point still in cdk.json
	w, h := newWorld(t)
	old := w.props()
	next := w.props()
	next[contract.RestoreWaitHandle] = w.handle.URL + "/renamed-handle"
	physical := "restorable-efs-restore/1EB3B5E7-9EB0-435A-A80B-108B488B0D45/" + requestID
	// WHEN CloudFormation updates the restore
	_, _, err := h.OnEvent(context.Background(), w.event(cfn.RequestUpdate, next, old, physical))
	// THEN nothing restores, and the new wait condition is told at once,
	// rather than wait its 12 hours
	require.NoError(t, err)
	assert.Empty(t, w.started)
	require.Len(t, w.signals, 1)
	assert.Equal(t, "SUCCESS", w.signals[0]["Status"])
	// AND the same handle again signals nothing (it waited once)
	_, _, err = h.OnEvent(context.Background(), w.event(cfn.RequestUpdate, next, next, physical))
	require.NoError(t, err)
	assert.Len(t, w.signals, 1)
}

func TestAFailedSwapIsUndoneBeforeTheDeployHearsOfIt(t *testing.T) {
	// GIVEN a restore whose swap stops at an entry a writer created at the
	// root after the mover set the current one aside
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
			w.write(map[string]string{"settings.json": "written during the restore"})
		}
	}
	in.State = st
	st, err = h.Step(context.Background(), in)
	w.moverHook = nil
	// THEN the step failed the deploy only after undoing the swap, and said so
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, st.Status)
	require.Len(t, w.signals, 1)
	assert.Equal(t, "FAILURE", w.signals[0]["Status"])
	assert.Contains(t, w.signals[0]["Reason"], "the swap was undone")
	assert.Equal(t, "a, after the backup", w.read("data/a.txt"))
	assert.Equal(t, "written during the restore", w.read("settings.json"), "the writer's file stays")
}

func TestAStopThatFailsInTheCleanupIsAlerted(t *testing.T) {
	// GIVEN a stop whose undo cannot get the lock, with an alert topic
	w, h := newWorld(t)
	crashMidSwap(t, w, h)
	lease := filepath.Join(w.root, mover.StateDir, "lock", "lease.json")
	raw, err := os.ReadFile(lease)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(lease, []byte(strings.Replace(string(raw), `"expires":"`, `"expires":"2099`+`-01-01T00:00:00Z","was":"`, 1)), 0o600))
	var published []string
	// Amazon SNS, query protocol: https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
	snsServer := awstest.NewServer(t, func(r awstest.Request) awstest.Response {
		published = append(published, r.Form.Get("TopicArn")+" "+r.Form.Get("Subject")+" "+r.Form.Get("Message"))
		return awstest.QueryXML("http://sns.amazonaws.com/doc/2010-03-31/", "Publish", "<MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId>")
	})
	h.SNS = sns.NewFromConfig(awstest.Config(snsServer.URL))
	props := w.props()
	props[contract.RestoreAlertTopicArn] = "arn:aws:sns:ap-northeast-1:123456789012:AppStack-Alerts"
	w.status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
	ctx, cancel := context.WithTimeout(context.Background(), contract.OrchestratorTimeout)
	defer cancel()
	physical := "restorable-efs-restore/1EB3B5E7-9EB0-435A-A80B-108B488B0D45/" + requestID
	// WHEN CloudFormation deletes the restore in its cleanup
	_, _, err = h.OnEvent(ctx, w.event(cfn.RequestDelete, props, nil, physical))
	// THEN the delete fails, and the alert topic hears of it
	require.Error(t, err)
	require.Len(t, published, 1)
	assert.Contains(t, published[0], "arn:aws:sns:ap-northeast-1:123456789012:AppStack-Alerts restorable: a restore of AppStack/Files could not be undone")
	assert.Contains(t, published[0], "aws lambda invoke --function-name "+moverArn)
}
