package mover

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	rp      = "arn:aws:backup:ap-northeast-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
	request = "7b0c3e58-1f0e-4d35-9a3a-2d1c0b6f4e21"
)

var clock = time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)

func newMover(t *testing.T) Mover {
	t.Helper()
	return Mover{Root: t.TempDir(), Now: func() time.Time { return clock }}
}

// tree writes files (path -> content; a content starting with "->" is a
// symlink target, a path ending in "/" an empty directory) below dir.
func tree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			require.NoError(t, os.MkdirAll(full, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		if strings.HasPrefix(content, "->") {
			require.NoError(t, os.Symlink(strings.TrimPrefix(content, "->"), full))
			continue
		}
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
}

// contents reads the files and symlinks below dir (path -> content, or "->"
// and the target for a symlink), skipping the mover's state.
func contents(t *testing.T, dir string, skipState bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		if skipState && (rel == StateDir || strings.HasPrefix(rel, StateDir+string(filepath.Separator))) && !strings.Contains(rel, "pre-restore-") {
			if d.IsDir() && rel != StateDir {
				return nil
			}
			if !d.IsDir() {
				return nil
			}
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			require.NoError(t, err)
			out[rel] = "->" + target
		case d.Type().IsRegular():
			raw, err := os.ReadFile(p)
			require.NoError(t, err)
			out[rel] = string(raw)
		}
		return nil
	}))
	return out
}

// restore simulates AWS Backup: it writes the recovery point into a new
// restore directory after Prepare.
func restore(t *testing.T, m Mover, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(m.Root, RestorePrefix+name)
	require.NoError(t, os.Mkdir(dir, 0o755))
	tree(t, dir, files)
	return dir
}

func prepareAndMove(t *testing.T, m Mover, restored map[string]string) MoveResult {
	t.Helper()
	prep, err := m.Prepare(request, rp)
	require.NoError(t, err)
	require.False(t, prep.AlreadyRestored)
	restore(t, m, "2026-11-20T10-30-05-000Z", restored)
	res, err := m.Move(context.Background(), request, rp)
	require.NoError(t, err)
	require.True(t, res.Done)
	return res
}

func TestRestoreIntoAnEmptyFileSystem(t *testing.T) {
	m := newMover(t)
	res := prepareAndMove(t, m, map[string]string{
		"redmine-files/2026/11/a.png": "A", "redmine-files/2026/11/b.pdf": "B", "README": "r",
	})
	assert.Equal(t, map[string]string{"redmine-files/2026/11/a.png": "A", "redmine-files/2026/11/b.pdf": "B", "README": "r"}, contents(t, m.Root, true))
	// Whole trees move with one rename each; nothing is set aside.
	assert.Equal(t, 2, res.Moved)
	assert.Equal(t, 0, res.SetAside)
	assert.Empty(t, res.PreRestoreDir)
	assert.NoDirExists(t, filepath.Join(m.Root, res.RestoreDir), "the empty restore directory is removed")
	assert.FileExists(t, filepath.Join(m.Root, StateDir, "restored", "1EB3B5E7-9EB0-435A-A80B-108B488B0D45.json"))
}

func TestCurrentFilesAreSetAsideNeverOverwritten(t *testing.T) {
	m := newMover(t)
	// GIVEN current files: some deleted since the backup, some changed, some new
	tree(t, m.Root, map[string]string{
		"files/kept-and-changed.txt": "current version",
		"files/only-current.txt":     "uploaded after the backup",
		"files/nested/deep.txt":      "current deep",
		"top.txt":                    "current top",
	})
	// WHEN the backup is restored
	res := prepareAndMove(t, m, map[string]string{
		"files/kept-and-changed.txt": "backup version",
		"files/deleted.txt":          "deleted by mistake",
		"files/nested/deep.txt":      "backup deep",
		"files/nested/gone/x.txt":    "x",
		"top.txt":                    "backup top",
	})
	// THEN every restored file is at its original path, files only the current
	// tree has stay, and every current file a restored one replaced is under the
	// pre-restore directory at the same relative path
	pre := "pre-restore-20261120T103000Z-7b0c3e58"
	assert.Equal(t, filepath.Join(StateDir, pre), res.PreRestoreDir)
	assert.Equal(t, map[string]string{
		"files/kept-and-changed.txt": "backup version",
		"files/only-current.txt":     "uploaded after the backup",
		"files/deleted.txt":          "deleted by mistake",
		"files/nested/deep.txt":      "backup deep",
		"files/nested/gone/x.txt":    "x",
		"top.txt":                    "backup top",
		filepath.Join(StateDir, pre, "files/kept-and-changed.txt"): "current version",
		filepath.Join(StateDir, pre, "files/nested/deep.txt"):      "current deep",
		filepath.Join(StateDir, pre, "top.txt"):                    "current top",
	}, contents(t, m.Root, true))
	assert.Equal(t, 3, res.SetAside)
	assert.Equal(t, 5, res.Moved) // nested/gone moves as one tree
	info, err := os.Stat(filepath.Join(m.Root, res.PreRestoreDir))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), info.Mode().Perm(), "what is set aside is readable by root only")
}

func TestTypeConflictsSetTheWholeEntryAside(t *testing.T) {
	m := newMover(t)
	tree(t, m.Root, map[string]string{"docs": "now a file", "logs/today.log": "now a directory"})
	res := prepareAndMove(t, m, map[string]string{"docs/guide.md": "was a directory", "logs": "was a file"})
	pre := res.PreRestoreDir
	assert.Equal(t, map[string]string{
		"docs/guide.md":                      "was a directory",
		"logs":                               "was a file",
		filepath.Join(pre, "docs"):           "now a file",
		filepath.Join(pre, "logs/today.log"): "now a directory",
	}, contents(t, m.Root, true))
}

func TestSymlinksAreMovedNotFollowed(t *testing.T) {
	m := newMover(t)
	outside := t.TempDir()
	tree(t, outside, map[string]string{"secret": "outside the file system"})
	// The current "shared" is a symlink to a directory elsewhere; the restored
	// one is a real directory. A restored "latest" is a symlink.
	tree(t, m.Root, map[string]string{"shared": "->" + outside})
	res := prepareAndMove(t, m, map[string]string{"shared/file": "restored", "latest": "->shared/file"})
	got := contents(t, m.Root, true)
	assert.Equal(t, "restored", got["shared/file"])
	assert.Equal(t, "->shared/file", got["latest"])
	assert.Equal(t, "->"+outside, got[filepath.Join(res.PreRestoreDir, "shared")], "the symlink itself is set aside")
	// Nothing was written through the old symlink.
	assert.Equal(t, map[string]string{"secret": "outside the file system"}, contents(t, outside, false))
}

func TestPermissionsAndOwnershipSurvive(t *testing.T) {
	m := newMover(t)
	prep, err := m.Prepare(request, rp)
	require.NoError(t, err)
	require.False(t, prep.AlreadyRestored)
	dir := restore(t, m, "x", map[string]string{"private/key.pem": "k", "public/index.html": "i", "run.sh": "#!/bin/sh"})
	require.NoError(t, os.Chmod(filepath.Join(dir, "private/key.pem"), 0o600))
	require.NoError(t, os.Chmod(filepath.Join(dir, "private"), 0o700))
	require.NoError(t, os.Chmod(filepath.Join(dir, "run.sh"), 0o755))
	before, err := os.Stat(filepath.Join(dir, "private/key.pem"))
	require.NoError(t, err)
	_, err = m.Move(context.Background(), request, rp)
	require.NoError(t, err)
	for p, want := range map[string]fs.FileMode{"private/key.pem": 0o600, "private": 0o700, "run.sh": 0o755, "public/index.html": 0o644} {
		info, err := os.Stat(filepath.Join(m.Root, p))
		require.NoError(t, err)
		assert.Equal(t, want, info.Mode().Perm(), p)
	}
	after, err := os.Stat(filepath.Join(m.Root, "private/key.pem"))
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after), "a rename keeps the same inode, so owner, times and links are untouched")
}

func TestAnEmptyRestore(t *testing.T) {
	m := newMover(t)
	tree(t, m.Root, map[string]string{"current.txt": "c"})
	res := prepareAndMove(t, m, map[string]string{})
	assert.Equal(t, 0, res.Moved)
	assert.Equal(t, map[string]string{"current.txt": "c"}, contents(t, m.Root, true))
	assert.NoDirExists(t, filepath.Join(m.Root, res.RestoreDir))
}

func TestRestoredStateAndOlderRestoresStayInTheRestoreDirectory(t *testing.T) {
	m := newMover(t)
	// A backup taken after an earlier restore contains its directories too.
	res := prepareAndMove(t, m, map[string]string{
		"app/data":                                  "d",
		StateDir + "/restored/OLD.json":             "{}",
		RestorePrefix + "2025-01-01T00-00-00/x.txt": "old restore",
	})
	assert.ElementsMatch(t, []string{StateDir, RestorePrefix + "2025-01-01T00-00-00"}, res.Left)
	assert.FileExists(t, filepath.Join(m.Root, res.RestoreDir, StateDir, "restored", "OLD.json"))
	assert.FileExists(t, filepath.Join(m.Root, "app/data"))
	assert.NoFileExists(t, filepath.Join(m.Root, StateDir, "restored", "OLD.json"), "the mover's own state is never overwritten")
}

func TestARecoveryPointIsRestoredOnlyOnce(t *testing.T) {
	m := newMover(t)
	first := prepareAndMove(t, m, map[string]string{"a": "1"})
	// A later deploy, or a retry after a lost response, asks again.
	prep, err := m.Prepare("11111111-2222-3333-4444-555555555555", rp)
	require.NoError(t, err)
	assert.True(t, prep.AlreadyRestored)
	require.NotNil(t, prep.Marker)
	assert.Equal(t, request, prep.Marker.RequestID)
	assert.Equal(t, first.RestoreDir, prep.Marker.RestoreDir)
	again, err := m.Move(context.Background(), request, rp)
	require.NoError(t, err)
	assert.Equal(t, first, again)
}

func TestAMoveResumesAfterTheTimeLimit(t *testing.T) {
	m := newMover(t)
	renames := 0
	m.Budget = func(context.Context) bool { renames++; return renames%3 != 0 } // stop every third rename
	current := map[string]string{}
	restored := map[string]string{}
	for i := 0; i < 10; i++ {
		current[fmt.Sprintf("d/f%02d", i)] = "current"
		restored[fmt.Sprintf("d/f%02d", i)] = "restored"
		restored[fmt.Sprintf("e/g%02d", i)] = "new"
	}
	tree(t, m.Root, current)
	_, err := m.Prepare(request, rp)
	require.NoError(t, err)
	restore(t, m, "r", restored)
	var res MoveResult
	calls := 0
	for !res.Done {
		calls++
		require.Less(t, calls, 50)
		res, err = m.Move(context.Background(), request, rp)
		require.NoError(t, err)
	}
	assert.Greater(t, calls, 1, "the move needed several calls")
	// Every file moved exactly once, and the counts add up over the calls.
	assert.Equal(t, 10, res.SetAside)
	assert.Equal(t, 11, res.Moved) // ten files into d, and e as one tree
	got := contents(t, m.Root, true)
	for p := range restored {
		assert.Equal(t, restored[p], got[p], p)
	}
	for p := range current {
		assert.Equal(t, "current", got[filepath.Join(res.PreRestoreDir, p)], p)
	}
}

func TestNothingIsLostOnRandomTrees(t *testing.T) {
	for seed := int64(1); seed <= 25; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewSource(seed))
			m := newMover(t)
			current, restored := randomTree(r, "c"), randomTree(r, "r")
			tree(t, m.Root, current)
			res := prepareAndMove(t, m, restored)
			got := contents(t, m.Root, true)
			// Every restored file is at its path with its content.
			for p, content := range restored {
				assert.Equal(t, content, got[p], "restored %s", p)
			}
			// Every current file is where it was, or set aside at the same path.
			for p, content := range current {
				if got[p] == content {
					continue
				}
				assert.Equal(t, content, got[filepath.Join(res.PreRestoreDir, p)], "current %s", p)
			}
			// And nothing else appeared: every file is one of the two.
			assert.Equal(t, len(got), countKept(got, current, restored, res.PreRestoreDir))
		})
	}
}

// randomTree builds a small tree whose names collide with other random trees,
// with file/directory clashes, symlinks and empty directories.
func randomTree(r *rand.Rand, tag string) map[string]string {
	names := []string{"a", "b", "c", "d"}
	files := map[string]string{}
	var add func(prefix string, depth int)
	add = func(prefix string, depth int) {
		for _, n := range names {
			p := prefix + n
			switch x := r.Intn(10); {
			case x < 4:
				files[p] = tag + ":" + p
			case x < 5:
				files[p] = "->" + tag + "-target"
			case x < 8 && depth < 3:
				add(p+"/", depth+1)
			}
		}
	}
	add("", 0)
	// A tree cannot hold p both as a file and as a directory prefix.
	for p := range files {
		for q := range files {
			if strings.HasPrefix(q, p+"/") {
				delete(files, p)
			}
		}
	}
	return files
}

func countKept(got, current, restored map[string]string, pre string) int {
	n := 0
	for p, content := range got {
		if restored[p] == content || current[p] == content || current[strings.TrimPrefix(p, pre+"/")] == content {
			n++
		}
	}
	return n
}

func TestMoveErrors(t *testing.T) {
	t.Run("no restore directory appeared", func(t *testing.T) {
		m := newMover(t)
		_, err := m.Prepare(request, rp)
		require.NoError(t, err)
		_, err = m.Move(context.Background(), request, rp)
		assert.ErrorContains(t, err, "no new aws-backup-restore_* directory is at the file system root")
	})
	t.Run("older restore directories are not taken for the new one", func(t *testing.T) {
		m := newMover(t)
		restore(t, m, "2025-01-01T00-00-00", map[string]string{"old": "o"})
		_, err := m.Prepare(request, rp)
		require.NoError(t, err)
		_, err = m.Move(context.Background(), request, rp)
		assert.ErrorContains(t, err, "there were [aws-backup-restore_2025-01-01T00-00-00] before")
		assert.FileExists(t, filepath.Join(m.Root, RestorePrefix+"2025-01-01T00-00-00", "old"))
	})
	t.Run("two new restore directories", func(t *testing.T) {
		m := newMover(t)
		_, err := m.Prepare(request, rp)
		require.NoError(t, err)
		restore(t, m, "1", nil)
		restore(t, m, "2", nil)
		_, err = m.Move(context.Background(), request, rp)
		assert.ErrorContains(t, err, "2 new restore directories appeared")
	})
	t.Run("a retried prepare keeps the first snapshot", func(t *testing.T) {
		m := newMover(t)
		_, err := m.Prepare(request, rp)
		require.NoError(t, err)
		restore(t, m, "new", map[string]string{"f": "x"})
		_, err = m.Prepare(request, rp) // the Lambda retried after AWS Backup started
		require.NoError(t, err)
		res, err := m.Move(context.Background(), request, rp)
		require.NoError(t, err)
		assert.Equal(t, RestorePrefix+"new", res.RestoreDir)
	})
	t.Run("move without prepare", func(t *testing.T) {
		_, err := newMover(t).Move(context.Background(), request, rp)
		assert.ErrorContains(t, err, "no record of request")
	})
	t.Run("another recovery point", func(t *testing.T) {
		m := newMover(t)
		_, err := m.Prepare(request, rp)
		require.NoError(t, err)
		_, err = m.Move(context.Background(), request, strings.Replace(rp, "1EB3", "2EB3", 1))
		assert.ErrorContains(t, err, "prepared recovery point")
	})
	t.Run("bad names", func(t *testing.T) {
		_, err := newMover(t).Prepare("../../etc", rp)
		assert.ErrorContains(t, err, "is not a valid name")
		_, err = newMover(t).Prepare(request, "arn:aws:backup:x:1:recovery-point:../x")
		assert.ErrorContains(t, err, "does not end in a recovery point ID")
	})
}

func TestDeadlineBudget(t *testing.T) {
	assert.True(t, deadlineBudget(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	assert.False(t, deadlineBudget(ctx), "less than a minute left")
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	assert.True(t, deadlineBudget(ctx))
}
