package mover

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	req1 = "11111111-0a1d-4c55-9e0f-6a7b8c9d0e1f"
	req2 = "22222222-0a1d-4c55-9e0f-6a7b8c9d0e1f"
)

func do(t *testing.T, m Mover, r Request) Result {
	t.Helper()
	res, err := m.Handle(context.Background(), r)
	require.NoError(t, err)
	return res
}

func TestALateJobsDirectoryIsNeverTakenForTheRetrysOwn(t *testing.T) {
	for name, mk := range map[string]func(string) Mover{"with rename flags": newMover, "on NFS": nfsMover} {
		t.Run(name, func(t *testing.T) {
			// GIVEN a request whose restore job started, then was stopped (a
			// cancelled deploy): AWS Backup cannot stop the job
			root := t.TempDir()
			write(t, root, live)
			m := mk(root)
			do(t, m, Request{Action: ActionPrepare, RequestID: req1, RecoveryPoint: rpA})
			assert.Contains(t, do(t, m, Request{Action: ActionJob, RequestID: req1, RecoveryPoint: rpA, JobID: "job-1"}).Message, "job-1 recorded")
			assert.Equal(t, StatusUndone, do(t, m, Request{Action: ActionAbort, RequestID: req1, RecoveryPoint: rpA}).Status)
			// WHEN the retry prepares while that job still runs
			res := do(t, m, Request{Action: ActionPrepare, RequestID: req2, RecoveryPoint: rpA})
			// THEN it waits for the job to end, recording nothing yet
			assert.Equal(t, StatusEarlierJobs, res.Status)
			assert.Equal(t, []string{"job-1"}, res.Jobs)
			// WHEN the late job writes its directory, and the retry prepares
			// again, the job seen to end
			late := "aws-backup-restore_20261120T100000000Z"
			restoreInto(t, root, late, tree{"data/": "", "data/a.txt": "a, as the late job restored it"})
			res = do(t, m, Request{Action: ActionPrepare, RequestID: req2, RecoveryPoint: rpA, Settled: []string{"job-1"}})
			// THEN the late directory is set aside in the mover's directory
			assert.Equal(t, StatusPrepared, res.Status)
			assert.Contains(t, res.Message, "/"+late+" (restore job job-1) to /.restorable/late/"+late)
			files := read(t, root)
			assert.NotContains(t, files, late+"/")
			assert.Equal(t, "a, as the late job restored it", files[".restorable/late/"+late+"/data/a.txt"])
			// AND the retry's own job's directory is the one it moves in
			restoreInto(t, root, restoreDir, backup)
			done := do(t, m, Request{Action: ActionMove, RequestID: req2, RecoveryPoint: rpA})
			assert.Equal(t, StatusDone, done.Status)
			assert.Equal(t, restoreDir, done.RestoreDir)
			assert.Equal(t, "a, as backed up", read(t, root)["data/a.txt"])
			// AND a later request does not wait for the settled job again
			assert.Equal(t, StatusAlreadyRestored, do(t, m, Request{Action: ActionPrepare, RequestID: req, RecoveryPoint: rpA}).Status)
			assert.Equal(t, StatusPrepared, do(t, m, Request{Action: ActionPrepare, RequestID: req, RecoveryPoint: rpB}).Status)
		})
	}
}

func TestAJobRecordedAfterItsRequestWasStopped(t *testing.T) {
	// GIVEN a request aborted while its step was starting the job
	root := t.TempDir()
	write(t, root, live)
	m := newMover(root)
	do(t, m, Request{Action: ActionPrepare, RequestID: req1, RecoveryPoint: rpA})
	do(t, m, Request{Action: ActionAbort, RequestID: req1, RecoveryPoint: rpA})
	// WHEN the step, still running, records the job it started
	do(t, m, Request{Action: ActionJob, RequestID: req1, RecoveryPoint: rpA, JobID: "job-1"})
	// THEN the next request waits for it
	assert.Equal(t, []string{"job-1"}, do(t, m, Request{Action: ActionPrepare, RequestID: req2, RecoveryPoint: rpA}).Jobs)
	// AND a job ID that is not one is refused
	_, err := m.Handle(context.Background(), Request{Action: ActionJob, RequestID: req1, RecoveryPoint: rpA, JobID: "../x"})
	assert.ErrorContains(t, err, "is not valid")
	_, err = m.Handle(context.Background(), Request{Action: ActionJob, RequestID: req1, RecoveryPoint: rpA, JobID: "job-2"})
	assert.ErrorContains(t, err, "has restore job job-1, not job-2")
}
