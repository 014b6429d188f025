package drill

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/restorable-cdk/restorable/internal/contract"
)

// withTables gives the copy's database user tables.
func (w *world) withTables(tables ...string) { w.tables = tables }

func validation(t *testing.T, w *world) (string, string) {
	t.Helper()
	require.Len(t, w.validations, 1, "one validation result")
	return w.validations[0]["ValidationStatus"].(string), w.validations[0]["ValidationStatusMessage"].(string)
}

func TestAPassingAuroraDrill(t *testing.T) {
	// GIVEN a drill's copy of the cluster, with user tables
	w, h, metrics := newWorld(t)
	w.withTables("public.issues", "public.users")
	w.instancePolls = 3
	// WHEN the drill runs
	s := w.run(h, config())
	// THEN the copy was checked through the Data API as its master user, in a
	// read-only transaction rolled back
	status, msg := validation(t, w)
	assert.Equal(t, Successful, status)
	assert.Contains(t, msg, "public.issues is readable")
	assert.Contains(t, w.statements, "SET TRANSACTION READ ONLY")
	assert.Contains(t, w.statements, `SELECT 1 FROM "public"."issues" LIMIT 1`)
	assert.Contains(t, w.statements, "SET LOCAL statement_timeout = 20000")
	assert.Equal(t, 1, w.rollbacks)
	// AND the copy got an RDS-managed password, capacity, the Data API and a
	// Serverless v2 writer, which the drill deleted again
	require.NotEmpty(t, w.modifications)
	assert.Equal(t, "true", w.modifications[0].Get("ManageMasterUserPassword"))
	assert.Equal(t, "0.5", w.modifications[0].Get("ServerlessV2ScalingConfiguration.MinCapacity"))
	assert.True(t, w.httpEnabled)
	assert.Equal(t, []string{"db.serverless"}, w.createdClasses)
	assert.Empty(t, w.instances, "the drill's instance is deleted, for AWS Backup to delete the copy")
	// AND the drill's times are metrics: the restore's 20 minutes, the whole drill
	recs := metricLines(t, metrics)
	require.Len(t, recs, 1)
	assert.Equal(t, "AppStack/Database", recs[0].Dimensions[contract.MetricResource])
	assert.Equal(t, 1200.0, recs[0].Values[contract.MetricDrillRestore])
	assert.Equal(t, 1.0, recs[0].Values[contract.MetricDrillPassed])
	assert.Greater(t, recs[0].Values[contract.MetricDrillTotal], 1200.0)
	assert.Less(t, recs[0].Values[contract.MetricDrillTotal], 7200.0)
	// AND nobody was alerted
	assert.Empty(t, w.alerts)
	assert.Equal(t, "done", s.Status)
}

func TestAFailingAuroraDrill(t *testing.T) {
	t.Run("an empty database", func(t *testing.T) {
		w, h, metrics := newWorld(t)
		w.run(h, config())
		status, msg := validation(t, w)
		assert.Equal(t, Failed, status)
		assert.Contains(t, msg, "no user table in app: an empty database")
		assert.Equal(t, 0.0, metricLines(t, metrics)[0].Values[contract.MetricDrillPassed])
		require.Len(t, w.alerts, 1)
		assert.Contains(t, w.alerts[0].Get("Subject"), "restorable drill of AppStack/Database: the drill FAILED")
		assert.Contains(t, w.alerts[0].Get("Message"), jobID)
		assert.Empty(t, w.instances, "cleaned up after a failure too")
	})
	t.Run("a table that cannot be read", func(t *testing.T) {
		w, h, _ := newWorld(t)
		w.withTables("public.issues")
		w.unreadable["public.issues"] = true
		w.run(h, config())
		status, msg := validation(t, w)
		assert.Equal(t, Failed, status)
		assert.Contains(t, msg, "reading public.issues failed")
	})
	t.Run("the user's check answers false", func(t *testing.T) {
		w, h, _ := newWorld(t)
		w.withTables("public.issues")
		cfg := config()
		cfg.Resources[0].SQL = "SELECT count(*) > 1000 FROM issues"
		w.answers[cfg.Resources[0].SQL] = `{"booleanValue": false}`
		w.run(h, cfg)
		status, msg := validation(t, w)
		assert.Equal(t, Failed, status)
		assert.Contains(t, msg, `returned false`)
		// AND a true answer passes
		w2, h2, _ := newWorld(t)
		w2.answers[cfg.Resources[0].SQL] = `{"longValue": 1}`
		w2.run(h2, cfg)
		status, _ = validation(t, w2)
		assert.Equal(t, Successful, status)
	})
}

func TestATimedOutDrill(t *testing.T) {
	t.Run("the copy's instance never becomes available within the validation window", func(t *testing.T) {
		w, h, metrics := newWorld(t)
		w.withTables("public.issues")
		w.instancePolls = -1
		cfg := config()
		cfg.ValidationWindowHours = 2
		w.run(h, cfg)
		status, msg := validation(t, w)
		assert.Equal(t, TimedOut, status)
		assert.Contains(t, msg, "15m0s before the end of the 2-hour validation window")
		assert.Empty(t, w.instances, "the instance is deleted even so")
		assert.Equal(t, 0.0, metricLines(t, metrics)[0].Values[contract.MetricDrillPassed])
		require.Len(t, w.alerts, 1)
		assert.Contains(t, w.alerts[0].Get("Subject"), "TIMED_OUT")
	})
	t.Run("the check runs out of its own time", func(t *testing.T) {
		w, h, _ := newWorld(t)
		cfg := config()
		cfg.Resources[0].SQL = "SELECT pg_sleep(60) IS NULL"
		w.slowSQL = true
		w.run(h, cfg)
		status, msg := validation(t, w)
		assert.Equal(t, TimedOut, status)
		assert.Contains(t, msg, "ran out of time")
	})
}

func TestAnOverRTODrill(t *testing.T) {
	// GIVEN a copy that passes, but whose restore took 3 hours against an RTO of 2
	w, h, metrics := newWorld(t)
	w.withTables("public.issues")
	w.job["CreationDate"] = float64(w.now.Add(-3 * time.Hour).Unix())
	w.run(h, config())
	// THEN the data passed
	status, msg := validation(t, w)
	assert.Equal(t, Successful, status)
	assert.Contains(t, msg, "rto=2h0m0s")
	// AND the drill's time, over the RTO, is the metric the RTO alarm watches
	rec := metricLines(t, metrics)[0]
	assert.Greater(t, rec.Values[contract.MetricDrillTotal], 7200.0)
	assert.Equal(t, 1.0, rec.Values[contract.MetricDrillPassed])
	// AND the alert says so
	require.Len(t, w.alerts, 1)
	assert.Contains(t, w.alerts[0].Get("Subject"), "over the RTO of 2h0m0s")
}

// restored writes a copy's restore directory under root.
func restored(t *testing.T, root string, files map[string]string) {
	dir := filepath.Join(root, "aws-backup-restore_2026-12-02T05-00-00-000Z")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func TestAPassingFileSystemDrill(t *testing.T) {
	// GIVEN a drill's copy of the file system, restored into its recovery
	// directory, with the paths the user lists
	w, h, metrics := newWorld(t)
	w.filesJob()
	w.filesRoot = t.TempDir()
	restored(t, w.filesRoot, map[string]string{"files/2026/a.png": strings.Repeat("x", 3000), "files/2026/b.png": strings.Repeat("y", 3000), "config/settings.yml": "a: 1"})
	w.job["BackupSizeInBytes"] = 6004
	cfg := config()
	cfg.Resources[1].Paths = []string{"files", "config/settings.yml"}
	// WHEN the drill runs
	w.run(h, cfg)
	// THEN it passed, and recorded the count the next drill compares with
	status, msg := validation(t, w)
	assert.Equal(t, Successful, status)
	assert.Contains(t, msg, "files=3 bytes=6004")
	assert.Contains(t, msg, "aws-backup-restore_2026-12-02T05-00-00-000Z")
	// AND the mount target, access point and files function were the copy's
	// and are gone
	assert.Empty(t, w.mountTargets)
	assert.Empty(t, w.accessPoints)
	assert.Empty(t, w.functions)
	assert.Equal(t, 1.0, metricLines(t, metrics)[0].Values[contract.MetricDrillPassed])
	assert.Empty(t, w.alerts)
}

func TestTheFilesFunctionIsCreatedInTheVPCWithTheCopyMounted(t *testing.T) {
	w, h, _ := newWorld(t)
	w.filesJob()
	w.filesRoot = t.TempDir()
	restored(t, w.filesRoot, map[string]string{"a": "1"})
	cfg := config()
	in := StepInput{Action: ActionStep, RestoreJobID: jobID, Config: cfg}
	var created map[string]interface{}
	for i := 0; i < 50 && created == nil; i++ {
		s, err := h.Step(context.Background(), in)
		require.NoError(t, err)
		in.State = s
		w.mu.Lock()
		created = w.functions[contract.DrillFilesFunctionPrefix+jobID]
		w.mu.Unlock()
	}
	require.NotNil(t, created)
	assert.Equal(t, map[string]interface{}{"SubnetIds": []interface{}{"subnet-1"}, "SecurityGroupIds": []interface{}{"sg-1"}}, created["VpcConfig"])
	fsc := created["FileSystemConfigs"].([]interface{})[0].(map[string]interface{})
	assert.Equal(t, contract.DrillMount, fsc["LocalMountPath"])
	assert.Contains(t, fsc["Arn"], ":access-point/fsap-")
	assert.Equal(t, cfg.FilesRoleArn, created["Role"])
	assert.Equal(t, map[string]interface{}{"S3Bucket": "cdk-assets", "S3Key": "handler.zip"}, created["Code"])
	assert.Equal(t, contract.HandlerDrillFiles, created["Environment"].(map[string]interface{})["Variables"].(map[string]interface{})[contract.EnvHandler])
}

func TestAFailingFileSystemDrill(t *testing.T) {
	for name, tt := range map[string]struct {
		files    map[string]string
		paths    []string
		size     int64
		previous int64
		want     string
	}{
		"missing files":               {files: map[string]string{"files/a.png": "x"}, paths: []string{"files", "config/settings.yml"}, want: "lacks config/settings.yml"},
		"an empty copy":               {files: map[string]string{}, want: "holds no files"},
		"far smaller than the backup": {files: map[string]string{"a": "xx"}, size: 1 << 20, want: "not within a factor 2 of the backup's 1048576"},
		"far fewer files than the last drill": {files: map[string]string{"a": "x", "b": "y"}, previous: 100,
			want: "holds 2 files, not within a factor 2 of the 100 of the last passed drill"},
	} {
		t.Run(name, func(t *testing.T) {
			w, h, _ := newWorld(t)
			w.filesJob()
			w.filesRoot = t.TempDir()
			restored(t, w.filesRoot, tt.files)
			w.job["BackupSizeInBytes"] = tt.size
			if tt.previous > 0 {
				w.previous = []map[string]interface{}{{"RestoreJobId": "older", "Status": "COMPLETED", "ValidationStatus": "SUCCESSFUL",
					"CreationDate": float64(w.now.Add(-30 * 24 * time.Hour).Unix()), "ValidationStatusMessage": "SUCCESSFUL: ... files=100 bytes=9000)"}}
			}
			cfg := config()
			cfg.Resources[1].Paths = tt.paths
			w.run(h, cfg)
			status, msg := validation(t, w)
			assert.Equal(t, Failed, status)
			assert.Contains(t, msg, tt.want)
			assert.Empty(t, w.mountTargets)
			assert.Empty(t, w.functions)
			require.Len(t, w.alerts, 1)
		})
	}
}

func TestADrillNeverTouchesWhatIsNotItsCopy(t *testing.T) {
	t.Run("a restore job that is not a restore test", func(t *testing.T) {
		w, h, metrics := newWorld(t)
		delete(w.job, "CreatedBy")
		w.run(h, config())
		assert.Empty(t, w.validations)
		assert.Empty(t, w.modifications)
		assert.Empty(t, w.rdsServer.Operations())
		assert.Empty(t, metrics.String())
	})
	t.Run("a file system without AWS Backup's restore-test tag", func(t *testing.T) {
		w, h, _ := newWorld(t)
		w.filesJob()
		w.fsTags = nil
		w.run(h, config())
		status, msg := validation(t, w)
		assert.Equal(t, Failed, status)
		assert.Contains(t, msg, "lacks AWS Backup's awsbackup-restore-test tag")
		for _, op := range w.efsServer.Operations() {
			assert.True(t, strings.HasPrefix(op, "GET "), "only reads: %s", op)
		}
		assert.Empty(t, w.lambdaServer.Operations())
	})
	t.Run("a cluster not named by AWS Backup", func(t *testing.T) {
		w, h, _ := newWorld(t)
		w.job["CreatedResourceArn"] = liveDB
		w.run(h, config())
		status, msg := validation(t, w)
		assert.Equal(t, Failed, status)
		assert.Contains(t, msg, "is not named awsbackup-restore-test")
		assert.Empty(t, w.rdsServer.Operations())
	})
}

func TestARestoreJobThatFailedIsAFailedDrill(t *testing.T) {
	w, h, metrics := newWorld(t)
	w.job["Status"], w.job["StatusMessage"] = "FAILED", "Access denied to the KMS key"
	w.run(h, config())
	assert.Empty(t, w.validations, "no validation status for a job with no copy")
	rec := metricLines(t, metrics)[0]
	assert.Equal(t, 0.0, rec.Values[contract.MetricDrillPassed])
	require.Len(t, w.alerts, 1)
	assert.Contains(t, w.alerts[0].Get("Message"), "the restore job ended FAILED: Access denied to the KMS key")
}

func TestAnAbortedDrillCleansUpAndReportsTheFailure(t *testing.T) {
	// GIVEN a file system drill stopped by the state machine after its files
	// function was created
	w, h, _ := newWorld(t)
	w.filesJob()
	w.filesRoot = t.TempDir()
	restored(t, w.filesRoot, map[string]string{"a": "1"})
	cfg := config()
	in := StepInput{Action: ActionStep, RestoreJobID: jobID, Config: cfg}
	for i := 0; i < 50 && in.State.Phase != phaseFilesCheck; i++ {
		s, err := h.Step(context.Background(), in)
		require.NoError(t, err)
		in.State = s
	}
	require.Equal(t, phaseFilesCheck, in.State.Phase)
	require.NotEmpty(t, w.functions)
	// WHEN it is aborted, and the state machine goes on stepping
	in.Action, in.Error = ActionAbort, map[string]string{"Error": "Lambda.ServiceException"}
	s, err := h.Step(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, "wait", s.Status, "the cleanup goes on, with its waits")
	assert.Empty(t, w.validations, "nothing is reported before the copy is clean")
	in.State = s
	s = w.runFrom(h, in)
	// THEN everything it added to the copy is gone, and the drill FAILED
	assert.Equal(t, "done", s.Status)
	assert.Empty(t, w.functions)
	assert.Empty(t, w.accessPoints)
	assert.Empty(t, w.mountTargets)
	status, msg := validation(t, w)
	assert.Equal(t, Failed, status)
	assert.Contains(t, msg, "Lambda.ServiceException")
}

func TestTheWalk(t *testing.T) {
	t.Run("counts regular files, follows no link, and finds listed paths", func(t *testing.T) {
		root := t.TempDir()
		restored(t, root, map[string]string{"a/b.txt": "hello", "c.txt": "!"})
		dir := filepath.Join(root, "aws-backup-restore_2026-12-02T05-00-00-000Z")
		outside := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(outside, "big"), make([]byte, 1<<16), 0o644))
		require.NoError(t, os.Symlink(outside, filepath.Join(dir, "link")))
		out, err := Walk(root, time.Now)(context.Background(), FilesInput{Paths: []string{"a/b.txt", "/c.txt", "link", "../etc/passwd"}})
		require.NoError(t, err)
		assert.Equal(t, int64(2), out.Files)
		assert.Equal(t, int64(6), out.Bytes)
		assert.True(t, out.Complete)
		assert.Equal(t, []string{"etc/passwd"}, out.Missing, "a path cannot climb out of the copy")
	})
	t.Run("stops at its deadline, and says so", func(t *testing.T) {
		root := t.TempDir()
		restored(t, root, map[string]string{"a": "1", "b": "2"})
		out, err := Walk(root, time.Now)(context.Background(), FilesInput{Deadline: time.Now().Add(-time.Second)})
		require.NoError(t, err)
		assert.False(t, out.Complete)
	})
	t.Run("wants exactly one restore directory", func(t *testing.T) {
		root := t.TempDir()
		out, err := Walk(root, time.Now)(context.Background(), FilesInput{})
		require.NoError(t, err)
		assert.Contains(t, out.Error, "want one aws-backup-restore_* directory")
	})
}

func TestALongDrillBacksOff(t *testing.T) {
	// GIVEN a copy whose writer takes most of a 168-hour window to come up
	w, h, _ := newWorld(t)
	w.withTables("public.issues")
	w.instanceReady = w.now.Add(60 * time.Hour)
	cfg := config()
	cfg.ValidationWindowHours = 168
	in := StepInput{Action: ActionStep, RestoreJobID: jobID, Config: cfg}
	steps := 0
	for ; steps < 2000; steps++ {
		s, err := h.Step(context.Background(), in)
		require.NoError(t, err)
		if s.Status == "done" {
			break
		}
		in.State = s
		w.now = w.now.Add(time.Duration(s.WaitSeconds) * time.Second)
	}
	// THEN the drill ends within the window in few enough steps for Step
	// Functions' 25,000-event history (about 11 events a step)
	status, _ := validation(t, w)
	assert.Equal(t, Successful, status)
	assert.Less(t, steps*11, 25000, "%d steps", steps)
}

func TestADrillInstanceNameIsValid(t *testing.T) {
	long := "awsbackup-restore-test-" + strings.Repeat("a", 34) + "-x"
	id := instanceID(long)
	assert.LessOrEqual(t, len(id), 63)
	assert.False(t, strings.HasSuffix(id, "-"))
	assert.NotContains(t, id, "...")
	assert.Equal(t, copyDB+"-drill", instanceID(copyDB))
}
