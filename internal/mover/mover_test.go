package mover

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const (
	rpA = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
	rpB = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:2FC4C6F8-AFC1-446B-B91C-219C599C1E56"
	rpC = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:3AD5D709-B0D2-457C-8A2D-32AD6AAD2F67"
	req = "5f1c2b7e-0a1d-4c55-9e0f-6a7b8c9d0e1f"
)

// tree is a file system as a map from slash path to content: "d/" for a
// directory, "-> target" for a symbolic link.
type tree map[string]string

func write(t testing.TB, root string, files tree) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		switch {
		case strings.HasSuffix(p, "/"):
			require.NoError(t, os.MkdirAll(full, 0o755))
		case strings.HasPrefix(content, "-> "):
			require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
			require.NoError(t, os.Symlink(strings.TrimPrefix(content, "-> "), full))
		default:
			require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
			require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
		}
	}
}

// stamp is the time in the names of pre-restore and discard directories.
var stamp = regexp.MustCompile(`\d{8}T\d{6}Z`)

// read returns the tree at root, leaving out the mover's records, locks and
// the names that carry a time.
func read(t testing.TB, root string) tree {
	t.Helper()
	out := tree{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		for _, skip := range []string{StateDir + "/jobs", StateDir + "/restored", StateDir + "/lock"} {
			if strings.HasPrefix(rel, skip) {
				if d.IsDir() && rel == skip {
					return filepath.SkipDir
				}
				return nil
			}
		}
		rel = stamp.ReplaceAllString(rel, "<time>")
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		case d.IsDir():
			out[rel+"/"] = ""
		default:
			raw, _ := os.ReadFile(p)
			out[rel] = string(raw)
		}
		return nil
	}))
	return out
}

func newMover(root string) Mover {
	return Mover{Root: root, Now: func() time.Time { return time.Date(2026, 11, 20, 10, 15, 22, 0, time.UTC) }, Budget: func(context.Context) bool { return true }}
}

func handle(t testing.TB, m Mover, action, point string) Result {
	t.Helper()
	res, err := m.Handle(context.Background(), Request{Action: action, RequestID: req, RecoveryPoint: point})
	require.NoError(t, err)
	return res
}

// live is the file system now: the application's directory, written to since
// the backup, a directory the backup does not have, and a file at the root.
var live = tree{
	"data/":              "",
	"data/a.txt":         "a, edited after the backup",
	"data/new.txt":       "written after the backup",
	"uploads-2026/":      "",
	"uploads-2026/x.bin": "not in the backup",
	"settings.json":      "current settings",
	"aws-backup-restore_20260101T000000000Z/":        "",
	"aws-backup-restore_20260101T000000000Z/old.txt": "a leftover restore directory",
}

// backup is what AWS Backup restores: the root as it was, including the
// mover's state and a leftover restore directory, which it backed up too.
var backup = tree{
	"data/":                       "",
	"data/a.txt":                  "a, as backed up",
	"data/b.txt":                  "b, deleted since",
	"settings.json":               "old settings",
	".restorable/":                "",
	".restorable/restored/":       "",
	".restorable/restored/x.json": "{}",
	"aws-backup-restore_20260101T000000000Z/":        "",
	"aws-backup-restore_20260101T000000000Z/old.txt": "a leftover restore directory",
}

const restoreDir = "aws-backup-restore_20261120T101522000Z"

// restoreInto writes b where AWS Backup would, as a new restore directory.
func restoreInto(t testing.TB, root, dirName string, b tree) {
	t.Helper()
	moved := tree{dirName + "/": ""}
	for p, c := range b {
		moved[dirName+"/"+p] = c
	}
	write(t, root, moved)
}

func TestARestoreSwapsWholeEntriesAtTheRoot(t *testing.T) {
	// GIVEN a file system and a request prepared before AWS Backup restores
	root := t.TempDir()
	write(t, root, live)
	m := newMover(root)
	assert.Equal(t, StatusPrepared, handle(t, m, ActionPrepare, rpA).Status)
	restoreInto(t, root, restoreDir, backup)
	// WHEN the mover moves
	res := handle(t, m, ActionMove, rpA)
	// THEN each root entry the backup holds is the backup's, and the current
	// one is kept aside as a whole; what the backup lacks stays; the backup's
	// copies of the mover's state and of older restore directories are gone,
	// and so is the emptied restore directory
	assert.Equal(t, StatusDone, res.Status)
	assert.Equal(t, 2, res.Moved)
	assert.Equal(t, 2, res.SetAside)
	assert.Equal(t, restoreDir, res.RestoreDir)
	assert.Equal(t, "/.restorable/pre-restore-20261120T101522Z-5f1c2b7e", res.PreRestoreDir)
	assert.Equal(t, tree{
		"data/":              "",
		"data/a.txt":         "a, as backed up",
		"data/b.txt":         "b, deleted since",
		"settings.json":      "old settings",
		"uploads-2026/":      "",
		"uploads-2026/x.bin": "not in the backup",
		"aws-backup-restore_20260101T000000000Z/":        "",
		"aws-backup-restore_20260101T000000000Z/old.txt": "a leftover restore directory",
		".restorable/": "",
		".restorable/pre-restore-<time>-5f1c2b7e/":              "",
		".restorable/pre-restore-<time>-5f1c2b7e/data/":         "",
		".restorable/pre-restore-<time>-5f1c2b7e/data/a.txt":    "a, edited after the backup",
		".restorable/pre-restore-<time>-5f1c2b7e/data/new.txt":  "written after the backup",
		".restorable/pre-restore-<time>-5f1c2b7e/settings.json": "current settings",
	}, read(t, root))
	// AND the recovery point is recorded as restored: restoring it again
	// starts nothing
	again := handle(t, m, ActionPrepare, rpA)
	assert.Equal(t, StatusAlreadyRestored, again.Status)
	require.NotNil(t, again.Marker)
	assert.Equal(t, req, again.Marker.RequestID)
}

func TestRequestsAreCheckedBeforeAnythingIsTouched(t *testing.T) {
	root := t.TempDir()
	write(t, root, tree{"app/": "", "app/forged.json": `{"recoveryPoint":"` + rpA + `","phase":"planned"}`})
	m := newMover(root)
	for _, r := range []Request{
		{Action: ActionMove, RequestID: "../../app/forged", RecoveryPoint: rpA},
		{Action: ActionMove, RequestID: "a/b", RecoveryPoint: rpA},
		{Action: ActionMove, RequestID: "", RecoveryPoint: rpA},
		{Action: ActionMove, RequestID: req, RecoveryPoint: "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:../../x"},
		{Action: ActionMove, RequestID: req, RecoveryPoint: "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:x"},
		{Action: "delete", RequestID: req, RecoveryPoint: rpA},
	} {
		_, err := m.Handle(context.Background(), r)
		assert.Error(t, err, "%+v", r)
	}
	_, err := os.Stat(filepath.Join(root, StateDir))
	assert.True(t, os.IsNotExist(err), "nothing was created")
}

func TestAMoveWithoutAPreparedRequestFails(t *testing.T) {
	root := t.TempDir()
	write(t, root, live)
	restoreInto(t, root, restoreDir, backup)
	_, err := newMover(root).Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "was not prepared")
	assert.Equal(t, read(t, root)["data/a.txt"], "a, edited after the backup")
}

func TestTwoNewRestoreDirectoriesMoveNothing(t *testing.T) {
	root := t.TempDir()
	write(t, root, live)
	m := newMover(root)
	handle(t, m, ActionPrepare, rpA)
	restoreInto(t, root, restoreDir, backup)
	restoreInto(t, root, "aws-backup-restore_20261120T101600000Z", backup)
	before := read(t, root)
	_, err := m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 new restore directories")
	assert.Equal(t, before, read(t, root))
}

func TestSymlinksSwappedInDuringTheMoveNeverRedirectIt(t *testing.T) {
	outside := t.TempDir()
	write(t, outside, tree{"keep.txt": "outside the file system"})
	tests := []struct {
		name string
		at   string
		swap func(root string)
	}{
		{"the current entry becomes a link out of the file system, before it moves aside", "aside data", func(root string) {
			require.NoError(t, os.RemoveAll(filepath.Join(root, "data")))
			require.NoError(t, os.Symlink(outside, filepath.Join(root, "data")))
		}},
		{"the restore directory becomes a link to the mover's state", "restore data", func(root string) {
			require.NoError(t, os.Rename(filepath.Join(root, restoreDir), filepath.Join(root, "elsewhere")))
			require.NoError(t, os.Symlink(filepath.Join(root, StateDir), filepath.Join(root, restoreDir)))
		}},
		{"the restored entry becomes a link out of the file system", "restore settings.json", func(root string) {
			require.NoError(t, os.Remove(filepath.Join(root, restoreDir, "settings.json")))
			require.NoError(t, os.Symlink(filepath.Join(outside, "keep.txt"), filepath.Join(root, restoreDir, "settings.json")))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, live)
			m := newMover(root)
			handle(t, m, ActionPrepare, rpA)
			restoreInto(t, root, restoreDir, backup)
			m.Hook = func(step string) {
				if step == tt.at {
					tt.swap(root)
				}
			}
			_, _ = m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
			// Nothing outside the file system changed, and nothing was planted
			// in the mover's state directory.
			assert.Equal(t, tree{"keep.txt": "outside the file system"}, read(t, outside))
			state, err := os.ReadDir(filepath.Join(root, StateDir))
			require.NoError(t, err)
			for _, e := range state {
				assert.Regexp(t, `^(jobs|restored|pre-restore-.*|discard-.*|lock.*)$`, e.Name())
			}
			_, err = os.Stat(filepath.Join(root, StateDir, "settings.json"))
			assert.True(t, os.IsNotExist(err))
		})
	}
	t.Run("a restore directory that is a link is never opened", func(t *testing.T) {
		root := t.TempDir()
		write(t, root, live)
		m := newMover(root)
		handle(t, m, ActionPrepare, rpA)
		require.NoError(t, os.Symlink(outside, filepath.Join(root, restoreDir)))
		_, err := m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
		require.Error(t, err)
		assert.Equal(t, tree{"keep.txt": "outside the file system"}, read(t, outside))
	})
}

func TestTwoMoversAtOnceNeverBothWork(t *testing.T) {
	root := t.TempDir()
	write(t, root, live)
	m := newMover(root)
	handle(t, m, ActionPrepare, rpA)
	restoreInto(t, root, restoreDir, backup)
	// GIVEN a mover that stops halfway through the swap
	inside, release := make(chan struct{}), make(chan struct{})
	first := m
	var once sync.Once
	first.Hook = func(step string) {
		if step == "restore data" {
			once.Do(func() { close(inside); <-release })
		}
	}
	var firstRes Result
	var firstErr error
	done := make(chan struct{})
	go func() {
		firstRes, firstErr = first.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
		close(done)
	}()
	<-inside
	// WHEN a second mover starts, for the same request and for another
	for _, point := range []string{rpA, rpB} {
		res, err := m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: point})
		require.NoError(t, err)
		// THEN it does nothing and says the lock is held
		assert.Equal(t, StatusBusy, res.Status)
		assert.Contains(t, res.Message, "request "+req)
	}
	close(release)
	<-done
	require.NoError(t, firstErr)
	assert.Equal(t, StatusDone, firstRes.Status)
	assert.Equal(t, "a, as backed up", read(t, root)["data/a.txt"])
	assert.Equal(t, "a, edited after the backup", read(t, root)[".restorable/pre-restore-<time>-5f1c2b7e/data/a.txt"])
}

// steps runs a whole restore and returns the names of its steps.
func steps(t *testing.T) []string {
	root := t.TempDir()
	write(t, root, live)
	m := newMover(root)
	var names []string
	m.Hook = func(step string) { names = append(names, step) }
	handle(t, m, ActionPrepare, rpA)
	restoreInto(t, root, restoreDir, backup)
	handle(t, m, ActionMove, rpA)
	return names
}

type crash struct{ step string }

func TestACrashAtAnyStepResumesToTheSameState(t *testing.T) {
	all := steps(t)
	require.GreaterOrEqual(t, len(all), 8, all)
	var want tree
	for _, at := range all {
		t.Run(at, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, live)
			clock := time.Date(2026, 11, 20, 10, 15, 22, 0, time.UTC)
			m := newMover(root)
			m.Now = func() time.Time { return clock }
			// GIVEN a mover that crashes at this step, holding the lock
			m.Hook = func(step string) {
				if step == at {
					panic(crash{step})
				}
			}
			func() {
				defer func() {
					r := recover()
					_, ok := r.(crash)
					require.True(t, ok, "crashed at %s: %v", at, r)
				}()
				_, _ = m.Handle(context.Background(), Request{Action: ActionPrepare, RequestID: req, RecoveryPoint: rpA})
				if at != "prepare" {
					restoreInto(t, root, restoreDir, backup)
				}
				_, _ = m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
			}()
			m.Hook = nil
			// THEN until its lease ends, no other step works
			res := handle(t, m, ActionMove, rpA)
			assert.Equal(t, StatusBusy, res.Status)
			// WHEN the lease has ended and the step runs again
			clock = clock.Add(17 * time.Minute)
			if at == "prepare" {
				handle(t, m, ActionPrepare, rpA)
				restoreInto(t, root, restoreDir, backup)
			}
			res = handle(t, m, ActionMove, rpA)
			// THEN it ends as a restore that never crashed
			assert.Equal(t, StatusDone, res.Status)
			assert.Equal(t, 2, res.Moved)
			assert.Equal(t, 2, res.SetAside)
			got := read(t, root)
			for p := range got {
				if strings.HasPrefix(p, StateDir+"/lock.broken-") {
					delete(got, p)
				}
			}
			if want == nil {
				want = got
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestAnAbortUndoesAnUnfinishedSwap(t *testing.T) {
	// GIVEN a move that ran out of time after one entry
	root := t.TempDir()
	write(t, root, live)
	original := read(t, root)
	m := newMover(root)
	handle(t, m, ActionPrepare, rpA)
	restoreInto(t, root, restoreDir, backup)
	withRestore := read(t, root)
	calls := 0
	m.Budget = func(context.Context) bool { calls++; return calls < 4 }
	res := handle(t, m, ActionMove, rpA)
	require.Equal(t, StatusContinue, res.Status)
	require.Equal(t, 1, res.Moved)
	require.NotEqual(t, withRestore, read(t, root))
	// WHEN the deploy rolls back and aborts the request
	m.Budget = func(context.Context) bool { return true }
	res = handle(t, m, ActionAbort, rpA)
	// THEN every entry is back as it was, and AWS Backup's restore directory
	// is as AWS Backup wrote it
	assert.Equal(t, StatusUndone, res.Status)
	assert.Equal(t, withRestore, read(t, root))
	// AND the request cannot move again
	_, err := m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
	assert.ErrorContains(t, err, "aborted and undone")
	assert.NotEqual(t, original, withRestore)
}

func TestAnAbortAfterTheSwapKeepsTheRestoredFiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, live)
	m := newMover(root)
	clock := time.Date(2026, 11, 20, 10, 15, 22, 0, time.UTC)
	m.Now = func() time.Time { return clock }
	handle(t, m, ActionPrepare, rpA)
	restoreInto(t, root, restoreDir, backup)
	m.Hook = func(step string) {
		if step == "remove restore directory" {
			panic(crash{step})
		}
	}
	func() {
		defer func() { _ = recover() }()
		_, _ = m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
	}()
	m.Hook = nil
	clock = clock.Add(17 * time.Minute) // the crashed step's lease has ended
	res := handle(t, m, ActionAbort, rpA)
	assert.Equal(t, StatusDone, res.Status)
	assert.Equal(t, "a, as backed up", read(t, root)["data/a.txt"])
	assert.NotContains(t, read(t, root), restoreDir+"/")
}

func TestThreeRestoresInARowNeverNest(t *testing.T) {
	root := t.TempDir()
	write(t, root, live)
	var sizes []int
	for i, point := range []string{rpA, rpB, rpC} {
		// Each backup is the root as it is now, with the mover's state and
		// every earlier pre-restore directory.
		snapshot := read(t, root)
		m := newMover(root)
		m.Now = func() time.Time { return time.Date(2026, 11, 20+i, 10, 0, 0, 0, time.UTC) }
		r := fmt.Sprintf("0000000%d-0a1d-4c55-9e0f-6a7b8c9d0e1f", i)
		_, err := m.Handle(context.Background(), Request{Action: ActionPrepare, RequestID: r, RecoveryPoint: point})
		require.NoError(t, err)
		dirName := fmt.Sprintf("aws-backup-restore_202611%02dT100000000Z", 20+i)
		restoreInto(t, root, dirName, snapshot)
		res, err := m.Handle(context.Background(), Request{Action: ActionMove, RequestID: r, RecoveryPoint: point})
		require.NoError(t, err)
		require.Equal(t, StatusDone, res.Status)
		got := read(t, root)
		assert.NotContains(t, got, dirName+"/", "the emptied restore directory is removed")
		for p := range got {
			assert.NotContains(t, p, StateDir+"/pre-restore-<time>-0000000"+fmt.Sprint(i)+"/"+StateDir, "no copy of the state comes back")
			assert.False(t, strings.Count(p, RestorePrefix) > 1, "no restore directory inside another: %s", p)
		}
		sizes = append(sizes, len(got))
	}
	// Each restore adds one pre-restore directory of the swapped entries, not a
	// copy of everything before it.
	assert.Equal(t, sizes[1]-sizes[0], sizes[2]-sizes[1], "growth per restore: %v", sizes)
}

func TestLocks(t *testing.T) {
	root := t.TempDir()
	m := newMover(root)
	stateDir := filepath.Join(root, StateDir)
	require.NoError(t, os.MkdirAll(filepath.Join(stateDir, "lock"), 0o700))
	write(t, stateDir, tree{"lock/lease.json": `{"token":"other","requestId":"another-request","expires":"2026-11-20T10:20:00Z"}`})
	res := handle(t, m, ActionPrepare, rpA)
	assert.Equal(t, StatusBusy, res.Status, "a live lease")
	assert.Contains(t, res.Message, "another-request")

	write(t, stateDir, tree{"lock/lease.json": `{"token":"other","requestId":"another-request","expires":"2026-11-20T10:00:00Z"}`})
	assert.Equal(t, StatusPrepared, handle(t, m, ActionPrepare, rpA).Status, "an expired lease is broken")
	names, err := os.ReadDir(stateDir)
	require.NoError(t, err)
	var got []string
	for _, n := range names {
		got = append(got, n.Name())
	}
	sort.Strings(got)
	assert.Equal(t, []string{"jobs", "lock.broken-other", "restored"}, got, "released, and the broken lock kept")
}

func TestAFileWrittenAtTheRootDuringTheSwapIsNeverOverwritten(t *testing.T) {
	// GIVEN a writer that creates settings.json again right after the mover
	// moved the current one aside, before it moves the restored one in
	root := t.TempDir()
	write(t, root, live)
	m := newMover(root)
	handle(t, m, ActionPrepare, rpA)
	restoreInto(t, root, restoreDir, backup)
	m.Hook = func(step string) {
		if step == "restore settings.json" {
			require.NoError(t, os.WriteFile(filepath.Join(root, "settings.json"), []byte("written during the restore"), 0o644))
		}
	}
	// WHEN the mover moves
	_, err := m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
	// THEN it stops rather than rename over the new file, which keeps its
	// content, and the restored file waits in the restore directory
	require.Error(t, err)
	assert.ErrorIs(t, err, unix.EEXIST)
	files := read(t, root)
	assert.Equal(t, "written during the restore", files["settings.json"])
	assert.Equal(t, "old settings", files[restoreDir+"/settings.json"])
	assert.Equal(t, "current settings", files[".restorable/pre-restore-<time>-5f1c2b7e/settings.json"])
}
