package mover

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// jobIDPattern is what the mover accepts as an AWS Backup restore job ID.
var jobIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,127}$`)

// AWS Backup cannot stop a restore job (there is no StopRestoreJob:
// https://docs.aws.amazon.com/aws-backup/latest/devguide/API_Operations_AWS_Backup.html),
// so a job whose request was stopped (a wait condition that timed out, a
// cancelled update, a rollback) can finish later and write a whole restore
// directory at the root. Each request records its job as soon as it starts
// (ActionJob); a later request waits, before it records the restore
// directories at the root, until every earlier request's job is seen to
// end, so that a late directory is never taken for its own, and sets that
// directory aside.

// recordJob records the restore job of the request, in whatever phase the
// request is: a request stopped while its job was starting still learns
// its job.
func (w *work) recordJob() (Result, error) {
	if w.req.JobID == "" || !jobIDPattern.MatchString(w.req.JobID) {
		return Result{}, fmt.Errorf("mover: restore job ID %q is not valid", w.req.JobID)
	}
	found, err := w.load()
	if err != nil {
		return Result{}, err
	}
	if !found {
		return Result{}, fmt.Errorf("mover: no record of request %s to record restore job %s in", w.req.RequestID, w.req.JobID)
	}
	if w.job.JobID != "" && w.job.JobID != w.req.JobID {
		return Result{}, fmt.Errorf("mover: request %s has restore job %s, not %s", w.req.RequestID, w.job.JobID, w.req.JobID)
	}
	w.job.JobID = w.req.JobID
	w.hook("record job")
	return Result{Status: StatusPrepared, Message: "restore job " + w.req.JobID + " recorded"}, w.save(w.job.Phase)
}

// unsettled reports whether a request's job may still write a restore
// directory: it started, nobody has seen it end, and the request never got
// as far as taking its restore directory (which needs the job complete).
func (j job) unsettled() bool {
	return j.JobID != "" && !j.JobEnded && j.RestoreDir == "" && (j.Phase == phasePrepared || j.Phase == phaseUndone)
}

// earlierJobs returns the restore jobs of other requests that may still
// write into the file system and are not in the request's Settled list.
// Those in it are marked ended; when exactly one of them ended since its
// request recorded the root, and exactly one restore directory appeared at
// the root since that is no request's own, that directory is its late one,
// and is set aside in /.restorable/late. It returns the set-aside paths.
func (w *work) earlierJobs() (pending, setAside []string, err error) {
	settled := map[string]bool{}
	for _, id := range w.req.Settled {
		settled[id] = true
	}
	names, err := w.jobs.names()
	if err != nil {
		return nil, nil, err
	}
	records := map[string]job{}
	claimed := map[string]bool{}
	for _, n := range names {
		id, ok := strings.CutSuffix(n, ".json")
		if !ok || id == w.req.RequestID {
			continue
		}
		raw, err := w.jobs.read(n)
		if err != nil {
			return nil, nil, err
		}
		var j job
		if json.Unmarshal(raw, &j) != nil {
			continue // not a record the mover can read; it holds no job
		}
		records[id] = j
		claimed[j.RestoreDir] = true
		claimed[strings.TrimPrefix(j.LateDir, "/"+StateDir+"/late/")] = true
	}
	var ended []string
	for _, id := range sortedKeys(records) {
		j := records[id]
		switch {
		case !j.unsettled():
		case settled[j.JobID]:
			ended = append(ended, id)
		default:
			pending = append(pending, j.JobID)
		}
	}
	if len(pending) > 0 {
		return pending, nil, nil
	}
	var late string
	if len(ended) == 1 {
		if late, err = w.lateDir(records[ended[0]], claimed); err != nil {
			return nil, nil, err
		}
	}
	for _, id := range ended {
		j := records[id]
		j.JobEnded = true
		if late != "" {
			j.LateDir = "/" + StateDir + "/late/" + late
			setAside = append(setAside, "/"+late+" (restore job "+j.JobID+") to "+j.LateDir)
		}
		raw, _ := json.MarshalIndent(j, "", "  ")
		w.hook("settle " + id)
		if err := w.jobs.write(id+".json", raw); err != nil {
			return nil, nil, err
		}
	}
	return nil, setAside, nil
}

// lateDir sets aside the one restore directory that appeared at the root
// since the stopped request j recorded it and that no request claims, and
// returns its name, or "" when there is not exactly one.
func (w *work) lateDir(j job, claimed map[string]bool) (string, error) {
	names, err := w.root.names()
	if err != nil {
		return "", err
	}
	before := map[string]bool{}
	for _, d := range j.Before {
		before[d] = true
	}
	var added []string
	for _, d := range restoreDirs(names) {
		if !before[d] && !claimed[d] && w.root.isDir(d) {
			added = append(added, d)
		}
	}
	if len(added) != 1 {
		return "", nil
	}
	late, err := w.state.ensure("late")
	if err != nil {
		return "", err
	}
	defer late.close()
	// Into the mover's own directory, where no client writes, so a plain
	// rename is safe; a name there already (an earlier set-aside of the same
	// directory that a crash interrupted) is never replaced.
	if exists, err := late.has(added[0]); err != nil || exists {
		return "", err
	}
	w.hook("set aside " + added[0])
	if err := w.root.renameOver(added[0], late); err != nil {
		return "", err
	}
	return added[0], nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
