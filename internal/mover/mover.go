// Package mover puts the files of an AWS Backup restore of an EFS file system
// in place. AWS Backup never restores EFS in place: it writes the recovery
// point into a new directory off the root, aws-backup-restore_<time>
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/restoring-efs.html).
//
// The mover swaps whole entries at the root: each entry at the root that the
// backup holds moves aside, as a whole, into
// /.restorable/pre-restore-<time>-<request>, and the restored entry moves into
// its place. Entries at the root that the backup lacks stay where they are.
// Only renames are used, so the cost grows with the number of entries at the
// root, not with the number of files, and nothing is copied, overwritten or
// deleted; the only things deleted are the backup's own copies of the mover's
// state (/.restorable) and of earlier restore directories, which the live file
// system or the recovery point still holds, so that they never come back.
//
// The mover keeps a record of each request under /.restorable/jobs, works
// only while it holds the file system's lock (lock.go), and can always resume:
// a step interrupted at any point (a Lambda time limit, a crash) and run again
// ends in the same state. An abort undoes a request's own swaps from its
// record, unless the swap is complete, so the files are either as they were or
// fully restored.
package mover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/restorable-cdk/restorable/internal/contract"
)

const (
	// RestorePrefix starts the name of the directory AWS Backup restores into.
	RestorePrefix = "aws-backup-restore_"
	// FailedRestorePrefix starts the directory of a restore that failed.
	FailedRestorePrefix = "aws-backup-failed-restore_"
	// StateDir is the mover's own directory at the file system root.
	StateDir = ".restorable"
)

// Actions of a Request.
const (
	ActionPrepare = "prepare"
	ActionMove    = "move"
	ActionAbort   = "abort"
	// ActionJob records the AWS Backup restore job a request started.
	ActionJob = "job"
)

// Request is what the restore orchestrator sends the mover.
type Request struct {
	Action        string `json:"action"`
	RequestID     string `json:"requestId"`
	RecoveryPoint string `json:"recoveryPoint"`
	// JobID, with ActionJob, is the restore job the request started.
	JobID string `json:"jobId,omitempty"`
	// Settled, with ActionPrepare, are restore jobs of earlier requests
	// that the orchestrator found ended.
	Settled []string `json:"settled,omitempty"`
}

// Status values of a Result.
const (
	// StatusPrepared: the request is recorded; start the restore job.
	StatusPrepared = "prepared"
	// StatusAlreadyRestored: the recovery point was restored before; start nothing.
	StatusAlreadyRestored = "already-restored"
	// StatusContinue: the step ran out of time; call it again.
	StatusContinue = "continue"
	// StatusBusy: another step holds the lock; call again later.
	StatusBusy = "busy"
	// StatusDone: the files are in place.
	StatusDone = "done"
	// StatusUndone: an abort put the files back as they were.
	StatusUndone = "undone"
	// StatusEarlierJobs: restore jobs of earlier, stopped requests may still
	// write into the file system (Result.Jobs); prepare again, with them in
	// Settled, once AWS Backup reports them ended.
	StatusEarlierJobs = "earlier-jobs"
)

// Result answers a Request.
type Result struct {
	Status string `json:"status"`
	// RestoreDir is the directory AWS Backup restored into.
	RestoreDir string `json:"restoreDir,omitempty"`
	// PreRestoreDir holds the entries that were at the root before, if any.
	PreRestoreDir string `json:"preRestoreDir,omitempty"`
	// Moved and SetAside count the entries moved into place and aside.
	Moved    int `json:"moved"`
	SetAside int `json:"setAside"`
	// Kept lists the entries at the root that the backup lacks, left in place.
	Kept []string `json:"kept,omitempty"`
	// Marker describes the earlier restore of an already restored recovery point.
	Marker *Marker `json:"marker,omitempty"`
	// Jobs, with StatusEarlierJobs, are the earlier requests' restore jobs
	// that have not been seen to end.
	Jobs    []string `json:"jobs,omitempty"`
	Message string   `json:"message,omitempty"`
}

// Marker records a completed restore of a recovery point.
type Marker struct {
	RecoveryPoint string    `json:"recoveryPoint"`
	RequestID     string    `json:"requestId"`
	RestoredAt    time.Time `json:"restoredAt"`
	RestoreDir    string    `json:"restoreDir"`
	PreRestoreDir string    `json:"preRestoreDir,omitempty"`
	Moved         int       `json:"moved"`
	SetAside      int       `json:"setAside"`
}

// Phases of a job, in order.
const (
	phasePrepared = "prepared"
	phasePlanned  = "planned"
	phaseSwapped  = "swapped"
	phasePurging  = "purging"
	phaseDone     = "done"
	phaseUndone   = "undone"
)

// job is the record of one request.
type job struct {
	RecoveryPoint string   `json:"recoveryPoint"`
	Phase         string   `json:"phase"`
	Before        []string `json:"before"`
	RestoreDir    string   `json:"restoreDir,omitempty"`
	AsideDir      string   `json:"asideDir"`
	DiscardDir    string   `json:"discardDir"`
	// Entries are the restore directory's entries to put in place; Excluded
	// are its copies of the mover's state and of older restore directories.
	Entries  []string `json:"entries,omitempty"`
	Excluded []string `json:"excluded,omitempty"`
	Moved    int      `json:"moved"`
	SetAside int      `json:"setAside"`
	// Placing is the directory whose placeholder put may have created at the
	// destination, on a file system without rename flags.
	Placing string `json:"placing,omitempty"`
	// JobID is the AWS Backup restore job of the request, recorded as soon
	// as it starts; JobEnded, that a later request saw it end. A job can end
	// long after its request was stopped (AWS Backup cannot stop a restore
	// job), and write a whole restore directory at the root then.
	JobID    string `json:"jobId,omitempty"`
	JobEnded bool   `json:"jobEnded,omitempty"`
	// LateDir is where a later request set aside the restore directory
	// that this request's job wrote after the request was stopped.
	LateDir string `json:"lateDir,omitempty"`
}

// Mover works on a file system mounted at Root.
type Mover struct {
	// Root is where the file system's root directory is mounted.
	Root string
	// Now is the clock, for names and records.
	Now func() time.Time
	// Budget reports whether there is time left for another step; when it
	// returns false the mover stops, keeps its record and reports
	// StatusContinue. It defaults to the context's deadline less a minute.
	Budget func(ctx context.Context) bool
	// LeaseFor is how long the lock is held without a release: longer than an
	// invocation can run. Default: 16 minutes (Lambda's limit is 15).
	LeaseFor time.Duration
	// Hook, for tests, runs before each step that changes the file system,
	// with the step's name.
	Hook func(step string)
	// NoRenameFlags places entries as on a file system that refuses
	// renameat2's flags, such as NFS, which the mover otherwise finds out by
	// itself (EINVAL); tests set it to run that path on local files.
	NoRenameFlags bool
}

// Handle answers a Request. Every field is checked against a fixed pattern
// before use.
func (m Mover) Handle(ctx context.Context, req Request) (Result, error) {
	if !contract.RequestIDPattern.MatchString(req.RequestID) {
		return Result{}, fmt.Errorf("mover: request ID %q is not valid (letters, digits and hyphens)", req.RequestID)
	}
	rp, err := contract.ParseRecoveryPoint(req.RecoveryPoint)
	if err != nil {
		return Result{}, fmt.Errorf("mover: recovery point %q: %w", req.RecoveryPoint, err)
	}
	switch req.Action {
	case ActionPrepare, ActionMove, ActionAbort, ActionJob:
	default:
		return Result{}, fmt.Errorf("mover: unknown action %q", req.Action)
	}
	root, err := openRoot(m.Root)
	if err != nil {
		return Result{}, err
	}
	root.noRenameFlags = m.NoRenameFlags
	defer root.close()
	state, err := root.ensure(StateDir)
	if err != nil {
		return Result{}, err
	}
	state.private = true
	defer state.close()
	jobs, err := state.ensure("jobs")
	if err != nil {
		return Result{}, err
	}
	defer jobs.close()
	if req.Action == ActionAbort {
		// Ask a step that is running to stop, before waiting for its lock.
		if err := jobs.write(req.RequestID+".abort", []byte(m.now().UTC().Format(time.RFC3339))); err != nil {
			return Result{}, err
		}
	}
	lock, err := acquire(state, req.RequestID, m.now(), m.leaseFor())
	if errors.Is(err, ErrBusy) {
		return Result{Status: StatusBusy, Message: err.Error()}, nil
	}
	if err != nil {
		return Result{}, err
	}
	w := &work{m: m, ctx: ctx, root: root, state: state, jobs: jobs, lock: lock, req: req, rp: rp}
	var res Result
	switch req.Action {
	case ActionPrepare:
		res, err = w.prepare()
	case ActionMove:
		res, err = w.move()
	case ActionAbort:
		res, err = w.abort()
	case ActionJob:
		res, err = w.recordJob()
	}
	cleanLocks(state, m.now())
	if rerr := lock.release(); err == nil && rerr != nil {
		err = rerr
	}
	return res, err
}

func (m Mover) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func (m Mover) leaseFor() time.Duration {
	if m.LeaseFor == 0 {
		return 16 * time.Minute
	}
	return m.LeaseFor
}

// work is one step of one request, under the lock.
type work struct {
	m                  Mover
	ctx                context.Context
	root, state, jobs  dir
	lock               *held
	req                Request
	rp                 contract.RecoveryPoint
	job                job
	restore, aside, dc dir
}

func (w *work) hook(step string) {
	if w.m.Hook != nil {
		w.m.Hook(step)
	}
}

// more reports whether the step may go on: time is left, no abort was asked
// for (unless this is the abort), and the lock is still this step's.
func (w *work) more() bool {
	budget := w.m.Budget
	if budget == nil {
		budget = deadlineBudget
	}
	if !budget(w.ctx) {
		return false
	}
	if w.req.Action != ActionAbort {
		if ok, _ := w.jobs.has(w.req.RequestID + ".abort"); ok {
			return false
		}
	}
	return true
}

func (w *work) load() (bool, error) {
	raw, err := w.jobs.read(w.req.RequestID + ".json")
	if errors.Is(err, unix.ENOENT) || errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, &w.job); err != nil {
		return false, fmt.Errorf("mover: the record of request %s is unreadable: %w", w.req.RequestID, err)
	}
	if w.job.RecoveryPoint != w.req.RecoveryPoint {
		return false, fmt.Errorf("mover: request %s restores %s, not %s", w.req.RequestID, w.job.RecoveryPoint, w.req.RecoveryPoint)
	}
	return true, nil
}

func (w *work) save(phase string) error {
	if !w.lock.stillHeld() {
		return errors.New("mover: the lock was lost (its lease expired), so this step stops without recording anything")
	}
	w.job.Phase = phase
	raw, err := json.MarshalIndent(w.job, "", "  ")
	if err != nil {
		return err
	}
	return w.jobs.write(w.req.RequestID+".json", raw)
}

func (w *work) marker() (*Marker, error) {
	restored, err := w.state.ensure("restored")
	if err != nil {
		return nil, err
	}
	defer restored.close()
	raw, err := restored.read(w.rp.ID + ".json")
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var mk Marker
	if err := json.Unmarshal(raw, &mk); err != nil {
		return nil, err
	}
	return &mk, nil
}

// prepare records the restore directories at the root before the restore job
// starts, so that the new one can be told apart, or reports that the recovery
// point was restored before.
func (w *work) prepare() (Result, error) {
	mk, err := w.marker()
	if err != nil {
		return Result{}, err
	}
	if mk != nil {
		return Result{Status: StatusAlreadyRestored, Marker: mk, RestoreDir: mk.RestoreDir, PreRestoreDir: mk.PreRestoreDir}, nil
	}
	found, err := w.load()
	if err != nil || found {
		return Result{Status: StatusPrepared}, err
	}
	pending, setAside, err := w.earlierJobs()
	if err != nil {
		return Result{}, err
	}
	if len(pending) > 0 {
		return Result{Status: StatusEarlierJobs, Jobs: pending,
			Message: "restore jobs of earlier, stopped requests may still write a restore directory at the root: " + strings.Join(pending, ", ")}, nil
	}
	names, err := w.root.names()
	if err != nil {
		return Result{}, err
	}
	short := w.req.RequestID
	if len(short) > 8 {
		short = short[:8]
	}
	stamp := w.m.now().UTC().Format("20060102T150405Z")
	w.job = job{RecoveryPoint: w.req.RecoveryPoint, Before: restoreDirs(names),
		AsideDir: "pre-restore-" + stamp + "-" + short, DiscardDir: "discard-" + stamp + "-" + short}
	w.hook("prepare")
	res := Result{Status: StatusPrepared}
	if len(setAside) > 0 {
		res.Message = "set aside the restore directories that jobs of earlier, stopped requests wrote after they stopped: " + strings.Join(setAside, ", ")
	}
	return res, w.save(phasePrepared)
}

// restoreDirs keeps the names of restore directories.
func restoreDirs(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, RestorePrefix) {
			out = append(out, n)
		}
	}
	return out
}

// excluded reports whether an entry of a restore directory is a copy of the
// mover's state or of an earlier restore directory, which never comes back.
func excluded(name string) bool {
	return name == StateDir || strings.HasPrefix(name, RestorePrefix) || strings.HasPrefix(name, FailedRestorePrefix)
}

func deadlineBudget(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > time.Minute
}
