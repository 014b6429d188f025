// Package mover puts the files of an AWS Backup restore of an EFS file system
// back where they were. AWS Backup never restores EFS in place: it writes the
// recovery point into a new directory off the root, aws-backup-restore_<time>
// (https://docs.aws.amazon.com/aws-backup/latest/devguide/restoring-efs.html).
// The mover merges that directory into the root, entry by entry, with renames
// only, so it takes no time and no extra space, and it never deletes or
// overwrites a file: any current entry that a restored one would replace is
// first moved aside, under /.restorable/pre-restore-<time>-<request>, at the same
// relative path.
//
// It keeps its state under /.restorable, so that a move interrupted by the
// Lambda time limit resumes where it stopped, and a recovery point that was
// restored once is never restored twice.
package mover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

const (
	// RestorePrefix starts the name of the directory AWS Backup restores into.
	RestorePrefix = "aws-backup-restore_"
	// StateDir is the mover's own directory at the file system root.
	StateDir = ".restorable"
)

// Mover works on a file system mounted at Root.
type Mover struct {
	// Root is where the file system's root directory is mounted.
	Root string
	// Now is the clock, for names and records.
	Now func() time.Time
	// Budget reports whether there is time left for another rename; when it
	// returns false, Move stops and reports that it is not done. It defaults to
	// the context's deadline less a minute.
	Budget func(ctx context.Context) bool
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
	Left          []string  `json:"left,omitempty"`
}

// job is the state of one restore request.
type job struct {
	RecoveryPoint string   `json:"recoveryPoint"`
	Before        []string `json:"before"`
	RestoreDir    string   `json:"restoreDir,omitempty"`
	PreRestoreDir string   `json:"preRestoreDir"`
	Moved         int      `json:"moved"`
	SetAside      int      `json:"setAside"`
}

// PrepareResult answers Prepare.
type PrepareResult struct {
	// AlreadyRestored is true when the recovery point was restored before: no
	// new restore job must start.
	AlreadyRestored bool    `json:"alreadyRestored"`
	Marker          *Marker `json:"marker,omitempty"`
}

// MoveResult answers Move.
type MoveResult struct {
	// Done is false when Move ran out of time; call it again to resume.
	Done bool `json:"done"`
	// RestoreDir is the directory AWS Backup restored into.
	RestoreDir string `json:"restoreDir"`
	// PreRestoreDir holds what was moved aside, if anything was.
	PreRestoreDir string `json:"preRestoreDir,omitempty"`
	// Moved and SetAside count the renames, over every call for the request.
	Moved    int `json:"moved"`
	SetAside int `json:"setAside"`
	// Left lists entries left in RestoreDir: the restored copies of the mover's
	// own state and of older restore directories, which are not moved.
	Left []string `json:"left,omitempty"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,128}$`)

// recoveryPointID is the last part of a recovery point ARN.
func recoveryPointID(arn string) (string, error) {
	id := arn[strings.LastIndex(arn, ":")+1:]
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("mover: %q does not end in a recovery point ID", arn)
	}
	return id, nil
}

func (m Mover) state(parts ...string) string {
	return filepath.Join(append([]string{m.Root, StateDir}, parts...)...)
}

// Prepare is called before a restore job starts. It reports whether the
// recovery point was already restored, and otherwise records which restore
// directories exist now, so that Move can tell the new one.
func (m Mover) Prepare(requestID, recoveryPoint string) (PrepareResult, error) {
	if !idPattern.MatchString(requestID) {
		return PrepareResult{}, fmt.Errorf("mover: request ID %q is not a valid name", requestID)
	}
	rpID, err := recoveryPointID(recoveryPoint)
	if err != nil {
		return PrepareResult{}, err
	}
	var marker Marker
	if err := readJSON(m.state("restored", rpID+".json"), &marker); err == nil {
		return PrepareResult{AlreadyRestored: true, Marker: &marker}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return PrepareResult{}, err
	}
	var existing job
	if err := readJSON(m.state("jobs", requestID+".json"), &existing); err == nil {
		// A retry of the same request: keep the first snapshot of the root.
		return PrepareResult{}, nil
	}
	before, err := m.restoreDirs()
	if err != nil {
		return PrepareResult{}, err
	}
	j := job{
		RecoveryPoint: recoveryPoint,
		Before:        before,
		PreRestoreDir: filepath.Join(StateDir, fmt.Sprintf("pre-restore-%s-%s", m.Now().UTC().Format("20060102T150405Z"), shortID(requestID))),
	}
	return PrepareResult{}, writeJSON(m.state("jobs", requestID+".json"), j)
}

// Move merges the restore directory of the request into the root. It resumes
// an interrupted move, and after the last rename it records the recovery point
// as restored.
func (m Mover) Move(ctx context.Context, requestID, recoveryPoint string) (MoveResult, error) {
	rpID, err := recoveryPointID(recoveryPoint)
	if err != nil {
		return MoveResult{}, err
	}
	var marker Marker
	if err := readJSON(m.state("restored", rpID+".json"), &marker); err == nil {
		return MoveResult{Done: true, RestoreDir: marker.RestoreDir, PreRestoreDir: marker.PreRestoreDir,
			Moved: marker.Moved, SetAside: marker.SetAside, Left: marker.Left}, nil
	}
	var j job
	if err := readJSON(m.state("jobs", requestID+".json"), &j); err != nil {
		return MoveResult{}, fmt.Errorf("mover: no record of request %s (was Prepare called?): %w", requestID, err)
	}
	if j.RecoveryPoint != recoveryPoint {
		return MoveResult{}, fmt.Errorf("mover: request %s prepared recovery point %s, not %s", requestID, j.RecoveryPoint, recoveryPoint)
	}
	if j.RestoreDir == "" {
		if j.RestoreDir, err = m.newRestoreDir(j.Before); err != nil {
			return MoveResult{}, err
		}
		if err := writeJSON(m.state("jobs", requestID+".json"), j); err != nil {
			return MoveResult{}, err
		}
	}
	res := MoveResult{RestoreDir: j.RestoreDir, Moved: j.Moved, SetAside: j.SetAside}
	budget := m.Budget
	if budget == nil {
		budget = deadlineBudget
	}
	w := walker{root: m.Root, aside: filepath.Join(m.Root, j.PreRestoreDir), budget: func() bool { return budget(ctx) }, res: &res}
	done, err := w.merge(filepath.Join(m.Root, j.RestoreDir), m.Root, "", true)
	j.Moved, j.SetAside = res.Moved, res.SetAside
	if werr := writeJSON(m.state("jobs", requestID+".json"), j); err == nil {
		err = werr
	}
	if err != nil || !done {
		return res, err
	}
	// The restore directory is removed only when empty; what is left in it is
	// reported, never deleted.
	if err := os.Remove(filepath.Join(m.Root, j.RestoreDir)); err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotEmpty(err) {
		return res, err
	}
	if exists(filepath.Join(m.Root, j.PreRestoreDir)) {
		res.PreRestoreDir = j.PreRestoreDir
	}
	res.Done = true
	marker = Marker{RecoveryPoint: recoveryPoint, RequestID: requestID, RestoredAt: m.Now().UTC(), RestoreDir: j.RestoreDir,
		PreRestoreDir: res.PreRestoreDir, Moved: res.Moved, SetAside: res.SetAside, Left: res.Left}
	return res, writeJSON(m.state("restored", rpID+".json"), marker)
}

// restoreDirs lists the restore directories at the root.
func (m Mover) restoreDirs() ([]string, error) {
	entries, err := os.ReadDir(m.Root)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), RestorePrefix) {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}

// newRestoreDir is the one restore directory that was not there before.
func (m Mover) newRestoreDir(before []string) (string, error) {
	now, err := m.restoreDirs()
	if err != nil {
		return "", err
	}
	old := map[string]bool{}
	for _, d := range before {
		old[d] = true
	}
	var added []string
	for _, d := range now {
		if !old[d] {
			added = append(added, d)
		}
	}
	switch len(added) {
	case 1:
		return added[0], nil
	case 0:
		return "", fmt.Errorf("mover: AWS Backup reported the restore complete, but no new %s directory is at the file system root (there were %v before, and %v now)", RestorePrefix+"*", before, now)
	default:
		return "", fmt.Errorf("mover: %d new restore directories appeared at the file system root (%s): another restore ran at the same time, so the mover cannot tell which is this one; move the files by hand (see the README)", len(added), strings.Join(added, ", "))
	}
}

// walker merges one directory tree into another.
type walker struct {
	root, aside string
	budget      func() bool
	res         *MoveResult
}

// merge moves every entry of src into dst. rel is src's path below the restore
// directory. At the top, the mover's state and older restore directories, which
// a backup may contain, are left where they are.
func (w walker) merge(src, dst, rel string, top bool) (bool, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		name := e.Name()
		if top && (name == StateDir || strings.HasPrefix(name, RestorePrefix)) {
			w.res.Left = appendOnce(w.res.Left, name)
			continue
		}
		if !w.budget() {
			return false, nil
		}
		from, to, relPath := filepath.Join(src, name), filepath.Join(dst, name), filepath.Join(rel, name)
		fromInfo, err := os.Lstat(from)
		if err != nil {
			return false, err
		}
		toInfo, err := os.Lstat(to)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Nothing there: the whole entry, a file or a tree, moves at once.
			if err := os.Rename(from, to); err != nil {
				return false, err
			}
			w.res.Moved++
		case err != nil:
			return false, err
		case fromInfo.IsDir() && toInfo.IsDir():
			// Both are directories (never symlinks, which Lstat does not
			// follow): merge into the current one, keeping what only it has.
			done, err := w.merge(from, to, relPath, false)
			if err != nil || !done {
				return done, err
			}
			if err := os.Remove(from); err != nil && !isNotEmpty(err) {
				return false, err
			}
		default:
			// A current entry would be replaced: move it aside first.
			asidePath := filepath.Join(w.aside, relPath)
			if err := os.MkdirAll(filepath.Dir(asidePath), 0o700); err != nil {
				return false, err
			}
			if err := os.Rename(to, asidePath); err != nil {
				return false, err
			}
			w.res.SetAside++
			if err := os.Rename(from, to); err != nil {
				return false, err
			}
			w.res.Moved++
		}
	}
	return true, nil
}

// deadlineBudget leaves a minute before the context's deadline for the reply.
func deadlineBudget(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > time.Minute
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// isNotEmpty reports the error of removing a directory that still has entries.
func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func readJSON(path string, v interface{}) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// writeJSON writes atomically, so an interruption never leaves half a record.
func writeJSON(path string, v interface{}) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Actions of a Request.
const (
	ActionPrepare = "prepare"
	ActionMove    = "move"
)

// Request is what the restore handler sends the mover Lambda.
type Request struct {
	Action        string `json:"action"`
	RequestID     string `json:"requestId"`
	RecoveryPoint string `json:"recoveryPoint"`
}

// Handle answers a Request: a PrepareResult or a MoveResult.
func (m Mover) Handle(ctx context.Context, req Request) (interface{}, error) {
	switch req.Action {
	case ActionPrepare:
		return m.Prepare(req.RequestID, req.RecoveryPoint)
	case ActionMove:
		return m.Move(ctx, req.RequestID, req.RecoveryPoint)
	default:
		return nil, fmt.Errorf("mover: unknown action %q", req.Action)
	}
}
