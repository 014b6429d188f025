package mover

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The swap on a file system without rename flags, as Linux's NFS client and
// so EFS are: NoRenameFlags makes the mover take that path on local files.

// nfsMover is a mover that places entries as on NFS.
func nfsMover(root string) Mover {
	m := newMover(root)
	m.NoRenameFlags = true
	return m
}

// stepsOf runs a whole restore with m and returns its steps.
func stepsOf(t *testing.T, mk func(root string) Mover) []string {
	root := t.TempDir()
	write(t, root, live)
	m := mk(root)
	var names []string
	m.Hook = func(step string) { names = append(names, step) }
	handle(t, m, ActionPrepare, rpA)
	restoreInto(t, root, restoreDir, backup)
	handle(t, m, ActionMove, rpA)
	return names
}

func TestOnNFSEveryEntryIsLinkedOrPlacedNeverRenamedOver(t *testing.T) {
	all := stepsOf(t, nfsMover)
	joined := strings.Join(all, "\n")
	assert.Contains(t, joined, "link settings.json", "a file is hard-linked")
	assert.Contains(t, joined, "placeholder data", "a directory gets a placeholder first")
	// And the result is the same as with rename flags.
	rootA, rootB := t.TempDir(), t.TempDir()
	for _, c := range []struct {
		root string
		m    Mover
	}{{rootA, newMover(rootA)}, {rootB, nfsMover(rootB)}} {
		write(t, c.root, live)
		handle(t, c.m, ActionPrepare, rpA)
		restoreInto(t, c.root, restoreDir, backup)
		assert.Equal(t, StatusDone, handle(t, c.m, ActionMove, rpA).Status)
	}
	assert.Equal(t, read(t, rootA), read(t, rootB))
}

func TestOnNFSACrashAtAnyStepResumesToTheSameState(t *testing.T) {
	all := stepsOf(t, nfsMover)
	var want tree
	for _, at := range all {
		t.Run(at, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, live)
			clock := time.Date(2026, 11, 20, 10, 15, 22, 0, time.UTC)
			m := nfsMover(root)
			m.Now = func() time.Time { return clock }
			m.Hook = func(step string) {
				if step == at {
					panic(crash{step})
				}
			}
			func() {
				defer func() { _, ok := recover().(crash); require.True(t, ok) }()
				_, _ = m.Handle(context.Background(), Request{Action: ActionPrepare, RequestID: req, RecoveryPoint: rpA})
				if at != "prepare" {
					restoreInto(t, root, restoreDir, backup)
				}
				_, _ = m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
			}()
			m.Hook = nil
			clock = clock.Add(17 * time.Minute)
			if at == "prepare" {
				handle(t, m, ActionPrepare, rpA)
				restoreInto(t, root, restoreDir, backup)
			}
			res := handle(t, m, ActionMove, rpA)
			assert.Equal(t, StatusDone, res.Status)
			assert.Equal(t, 2, res.Moved)
			assert.Equal(t, 2, res.SetAside)
			got := withoutBrokenLocks(read(t, root))
			if want == nil {
				want = got
			}
			assert.Equal(t, want, got)
		})
	}
}

func withoutBrokenLocks(got tree) tree {
	for p := range got {
		if strings.HasPrefix(p, StateDir+"/lock.broken-") {
			delete(got, p)
		}
	}
	return got
}

func TestOnNFSAnAbortAfterACrashAtAnyStepPutsEverythingBack(t *testing.T) {
	// GIVEN a move that crashed at a step of the swap, on NFS
	for _, at := range stepsOf(t, nfsMover) {
		if !strings.HasPrefix(at, "link ") && !strings.HasPrefix(at, "linked ") && !strings.HasPrefix(at, "placeholder ") &&
			!strings.HasPrefix(at, "placed ") && !strings.HasPrefix(at, "aside ") && !strings.HasPrefix(at, "moved aside ") && !strings.HasPrefix(at, "restore ") {
			continue
		}
		t.Run(at, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, live)
			clock := time.Date(2026, 11, 20, 10, 15, 22, 0, time.UTC)
			m := nfsMover(root)
			m.Now = func() time.Time { return clock }
			handle(t, m, ActionPrepare, rpA)
			restoreInto(t, root, restoreDir, backup)
			withRestore := read(t, root)
			m.Hook = func(step string) {
				if step == at {
					panic(crash{step})
				}
			}
			func() {
				defer func() { _ = recover() }()
				_, _ = m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
			}()
			m.Hook = nil
			clock = clock.Add(17 * time.Minute)
			// WHEN the deploy rolls back and aborts the request
			res := handle(t, m, ActionAbort, rpA)
			// THEN the root is as it was with the restore directory beside it
			assert.Equal(t, StatusUndone, res.Status)
			assert.Equal(t, withRestore, withoutBrokenLocks(read(t, root)))
		})
	}
}

// contents counts the files and links of a tree by content.
func contents(files tree) map[string]int {
	out := map[string]int{}
	for p, c := range files {
		if !strings.HasSuffix(p, "/") {
			out[c]++
		}
	}
	return out
}

var notAName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func TestAWriterAtTheRootDuringAnyStepLosesNothing(t *testing.T) {
	// The backup's own copies of the mover's state and of older restore
	// directories are deleted by design; every other file of the file
	// system, of the backup and of the writer must survive somewhere.
	kept := tree{}
	for p, c := range live {
		kept[p] = c
	}
	for p, c := range backup {
		if !strings.HasPrefix(p, StateDir) && !strings.HasPrefix(p, RestorePrefix) {
			kept["backup/"+p] = c
		}
	}
	for name, mk := range map[string]func(string) Mover{"with rename flags": newMover, "on NFS": nfsMover} {
		for _, at := range stepsOf(t, mk) {
			t.Run(name+"/"+at, func(t *testing.T) {
				// GIVEN a writer that, at this step, creates at the root the
				// very entry the step places, and another file
				root := t.TempDir()
				write(t, root, live)
				m := mk(root)
				handle(t, m, ActionPrepare, rpA)
				restoreInto(t, root, restoreDir, backup)
				entry := at[strings.LastIndex(at, " ")+1:]
				written := map[string]bool{}
				wroteEntry := false
				replaced := ""
				m.Hook = func(step string) {
					if step != at || written[step] {
						return
					}
					written[step] = true
					st, err := os.Lstat(filepath.Join(root, entry))
					switch {
					case os.IsNotExist(err) && checkName(entry) == nil:
						require.NoError(t, os.WriteFile(filepath.Join(root, entry), []byte("writer's "+entry), 0o644))
						wroteEntry = true
					case err == nil && st.Mode().IsRegular() && readFile(filepath.Join(root, entry)) != backup[entry]:
						// An editor's save: a new file renamed over the name,
						// before the restored file is in its place (saving
						// over the restored file afterwards is a write like
						// any other after the restore).
						replaced = readFile(filepath.Join(root, entry)) // the writer's own save replaces it
						tmp := filepath.Join(root, ".new-"+entry)
						require.NoError(t, os.WriteFile(tmp, []byte("writer's "+entry), 0o644))
						require.NoError(t, os.Rename(tmp, filepath.Join(root, entry)))
						wroteEntry = true
					}
					require.NoError(t, os.WriteFile(filepath.Join(root, "new-"+notAName.ReplaceAllString(step, "_")), []byte("writer's new file"), 0o644))
				}
				// WHEN the mover moves (it may stop), and the deploy aborts
				_, moveErr := m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
				m.Hook = nil
				afterMove := read(t, root)
				_, abortErr := m.Handle(context.Background(), Request{Action: ActionAbort, RequestID: req, RecoveryPoint: rpA})
				afterAbort := read(t, root)
				// THEN after each, every file is somewhere, with its content:
				// nothing was overwritten or lost
				for label, got := range map[string]tree{"after the move": afterMove, "after the abort": afterAbort} {
					have := contents(got)
					for p, c := range kept {
						if !strings.HasSuffix(p, "/") && c != replaced {
							assert.Positive(t, have[c], "%s: %s (%q) is gone (move: %v, abort: %v)", label, p, c, moveErr, abortErr)
						}
					}
					if written[at] {
						assert.Positive(t, have["writer's new file"], "%s: the writer's new file is gone", label)
						if wroteEntry {
							assert.Positive(t, have["writer's "+entry], "%s: the writer's %s is gone", label, entry)
						}
					}
				}
			})
		}
	}
}

func readFile(p string) string {
	raw, _ := os.ReadFile(p)
	return string(raw)
}
