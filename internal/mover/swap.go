package mover

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// move advances a request through its phases as far as time allows.
func (w *work) move() (Result, error) {
	if mk, err := w.marker(); err != nil || (mk != nil && mk.RequestID != w.req.RequestID) {
		if mk != nil {
			return Result{Status: StatusAlreadyRestored, Marker: mk, RestoreDir: mk.RestoreDir, PreRestoreDir: mk.PreRestoreDir}, nil
		}
		return Result{}, err
	}
	found, err := w.load()
	if err != nil {
		return Result{}, err
	}
	if !found {
		return Result{}, fmt.Errorf("mover: no record of request %s: it was not prepared, so the mover cannot tell which restore directory is its own", w.req.RequestID)
	}
	defer w.closeDirs()
	for {
		if w.job.Phase == phaseDone {
			return w.result(StatusDone), nil
		}
		if w.job.Phase == phaseUndone {
			return Result{}, fmt.Errorf("mover: request %s was aborted and undone; a new deploy starts a new request", w.req.RequestID)
		}
		if !w.more() {
			return w.result(StatusContinue), nil
		}
		var err error
		switch w.job.Phase {
		case phasePrepared:
			err = w.plan()
		case phasePlanned:
			err = w.swap()
		case phaseSwapped:
			err = w.finishSwap()
		case phasePurging:
			err = w.purge()
		default:
			err = fmt.Errorf("mover: request %s is in an unknown phase %q", w.req.RequestID, w.job.Phase)
		}
		if err != nil {
			return w.result(""), err
		}
	}
}

func (w *work) result(status string) Result {
	r := Result{Status: status, RestoreDir: w.job.RestoreDir, Moved: w.job.Moved, SetAside: w.job.SetAside}
	if w.job.SetAside > 0 {
		r.PreRestoreDir = "/" + StateDir + "/" + w.job.AsideDir
	}
	return r
}

func (w *work) closeDirs() {
	for _, d := range []*dir{&w.restore, &w.aside, &w.dc} {
		if d.fd > 0 {
			d.close()
			d.fd = 0
		}
	}
}

// plan finds the request's restore directory (the one that was not at the
// root when the request was prepared) and records its entries.
func (w *work) plan() error {
	names, err := w.root.names()
	if err != nil {
		return err
	}
	before := map[string]bool{}
	for _, d := range w.job.Before {
		before[d] = true
	}
	var added []string
	for _, d := range restoreDirs(names) {
		if !before[d] && w.root.isDir(d) {
			added = append(added, d)
		}
	}
	switch len(added) {
	case 0:
		return fmt.Errorf("mover: AWS Backup reported the restore complete, but no new %s* directory is at the file system root (there were %v before)", RestorePrefix, w.job.Before)
	case 1:
	default:
		return fmt.Errorf("mover: %d new restore directories are at the file system root (%s): another restore ran at the same time, so the mover cannot tell which is this one; nothing was moved", len(added), strings.Join(added, ", "))
	}
	w.job.RestoreDir = added[0]
	restore, err := w.root.sub(w.job.RestoreDir)
	if err != nil {
		return err
	}
	entries, err := restore.names()
	restore.close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if excluded(e) {
			w.job.Excluded = append(w.job.Excluded, e)
		} else {
			w.job.Entries = append(w.job.Entries, e)
		}
	}
	w.hook("plan")
	return w.save(phasePlanned)
}

// openDirs opens the restore directory and the mover's aside and discard
// directories of the request.
func (w *work) openDirs() error {
	var err error
	if w.restore.fd == 0 {
		if w.restore, err = w.root.sub(w.job.RestoreDir); err != nil {
			return err
		}
		w.restore.private = true
	}
	if w.aside.fd == 0 {
		if w.aside, err = w.state.ensure(w.job.AsideDir); err != nil {
			return err
		}
	}
	if w.dc.fd == 0 {
		if w.dc, err = w.state.ensure(w.job.DiscardDir); err != nil {
			return err
		}
	}
	return nil
}

// swap moves the restore directory's copies of the mover's state and of
// older restore directories to the discard directory, then, entry by entry,
// the current entry aside and the restored one into its place. Which of the
// two renames an entry still needs is read from the three directories, so an
// interrupted swap resumes exactly where it stopped.
func (w *work) swap() error {
	if err := w.openDirs(); err != nil {
		return err
	}
	inRestore, err := w.restore.set()
	if err != nil {
		return err
	}
	inDiscard, err := w.dc.set()
	if err != nil {
		return err
	}
	for _, e := range w.job.Excluded {
		if !inRestore[e] {
			continue
		}
		if inDiscard[e] {
			found, err := w.resolvePut(e, w.dc, w.restore)
			if err != nil {
				return err
			}
			if found {
				continue
			}
			return fmt.Errorf("mover: %s is both in the restore directory and in %s; nothing more is moved", e, w.dc.name)
		}
		w.hook("discard " + e)
		if err := w.put(w.restore, e, w.dc); err != nil {
			return err
		}
		w.hook("discarded " + e)
	}
	inRoot, err := w.root.set()
	if err != nil {
		return err
	}
	inAside, err := w.aside.set()
	if err != nil {
		return err
	}
	for _, e := range w.job.Entries {
		if !inRestore[e] {
			continue // in place already
		}
		if !w.more() {
			return w.save(phasePlanned)
		}
		// A placement that a crash interrupted: an entry linked (or its
		// placeholder made) at the destination, its source not yet gone.
		if inRoot[e] && inAside[e] {
			found, err := w.resolvePut(e, w.aside, w.root)
			if err != nil {
				return err
			}
			inRoot[e] = !found
		}
		if inRoot[e] {
			found, err := w.resolvePut(e, w.root, w.restore)
			if err != nil {
				return err
			}
			if found {
				w.job.Moved++
				inRestore[e] = false
				continue
			}
		}
		if inRoot[e] && inAside[e] {
			return fmt.Errorf("mover: /%s was moved aside to %s, and an entry of that name is at the root again: something wrote at the root during the restore; stop it, move one of them, and deploy again", e, w.aside.name)
		}
		if inRoot[e] {
			w.hook("aside " + e)
			if err := w.put(w.root, e, w.aside); err != nil {
				return err
			}
			w.hook("moved aside " + e)
			w.job.SetAside++
			inRoot[e], inAside[e] = false, true
		}
		w.hook("restore " + e)
		if err := w.put(w.restore, e, w.root); err != nil {
			return err
		}
		w.hook("restored " + e)
		w.job.Moved++
		inRoot[e], inRestore[e] = true, false
	}
	// Counted from the directories, so that a step that crashed between a
	// rename and its record still counts right.
	w.job.Moved, w.job.SetAside = len(w.job.Entries), 0
	for _, e := range w.job.Entries {
		if inAside[e] {
			w.job.SetAside++
		}
	}
	return w.save(phaseSwapped)
}

// finishSwap removes the emptied restore directory and an unused aside
// directory.
func (w *work) finishSwap() error {
	if w.job.RestoreDir != "" {
		w.hook("remove restore directory")
		w.closeDirs()
		gone, err := w.root.removeEmpty(w.job.RestoreDir)
		if err != nil {
			return err
		}
		if !gone {
			left, _ := w.leftIn(w.job.RestoreDir)
			return fmt.Errorf("mover: the restore directory /%s is not empty after the swap (it holds %s): something wrote into it; nothing was deleted", w.job.RestoreDir, strings.Join(left, ", "))
		}
	}
	if w.job.SetAside == 0 {
		_, _ = w.state.removeEmpty(w.job.AsideDir)
	}
	return w.save(phasePurging)
}

func (w *work) leftIn(name string) ([]string, error) {
	d, err := w.root.sub(name)
	if err != nil {
		return nil, err
	}
	defer d.close()
	return d.names()
}

// purge deletes the discarded copies, then records the recovery point as
// restored. Discard directories of earlier requests that an abort left are
// deleted too.
func (w *work) purge() error {
	names, err := w.state.names()
	if err != nil {
		return err
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "discard-") {
			continue
		}
		w.hook("purge " + n)
		done, err := w.state.removeTree(n, w.more)
		if err != nil {
			return err
		}
		if !done {
			return w.save(phasePurging)
		}
	}
	restored, err := w.state.ensure("restored")
	if err != nil {
		return err
	}
	defer restored.close()
	res := w.result(StatusDone)
	raw, _ := json.MarshalIndent(Marker{RecoveryPoint: w.req.RecoveryPoint, RequestID: w.req.RequestID, RestoredAt: w.m.now().UTC(),
		RestoreDir: w.job.RestoreDir, PreRestoreDir: res.PreRestoreDir, Moved: w.job.Moved, SetAside: w.job.SetAside}, "", "  ")
	w.hook("marker")
	if err := restored.write(w.rp.ID+".json", raw); err != nil {
		return err
	}
	w.hook("marked")
	return w.save(phaseDone)
}

// abort stops a request. Before the swap is complete it undoes the request's
// own renames, from its record and the three directories, so the root is as
// it was; after, it leaves the restored files in place and completes the
// record. Either way the files are never half swapped.
func (w *work) abort() (Result, error) {
	defer func() { _ = deleteFile(w.jobs, w.req.RequestID+".abort") }()
	found, err := w.load()
	if err != nil || !found {
		return Result{Status: StatusUndone, Message: "nothing was prepared for this request"}, err
	}
	defer w.closeDirs()
	switch w.job.Phase {
	case phasePrepared:
		return Result{Status: StatusUndone, Message: "nothing had been moved"}, w.save(phaseUndone)
	case phasePlanned:
		kept, err := w.undo()
		if err != nil {
			return Result{}, err
		}
		msg := "the swap was undone: every entry is back at the root as it was, and AWS Backup's restore directory is left at the root"
		if len(kept) > 0 {
			msg = fmt.Sprintf("the swap was undone, but for %s: a client wrote an entry of that name at the root during the restore, which stays; the entry that was there before is kept in /%s/%s. AWS Backup's restore directory is left at the root",
				strings.Join(kept, ", "), StateDir, w.job.AsideDir)
		}
		return Result{Status: StatusUndone, RestoreDir: w.job.RestoreDir, Kept: kept, Message: msg}, w.save(phaseUndone)
	case phaseSwapped, phasePurging:
		// Fully restored: record it. Leftover discarded copies are deleted by
		// the next restore.
		if w.job.Phase == phaseSwapped {
			if err := w.finishSwap(); err != nil {
				return Result{}, err
			}
		}
		restored, err := w.state.ensure("restored")
		if err != nil {
			return Result{}, err
		}
		defer restored.close()
		res := w.result(StatusDone)
		raw, _ := json.MarshalIndent(Marker{RecoveryPoint: w.req.RecoveryPoint, RequestID: w.req.RequestID, RestoredAt: w.m.now().UTC(),
			RestoreDir: w.job.RestoreDir, PreRestoreDir: res.PreRestoreDir, Moved: w.job.Moved, SetAside: w.job.SetAside}, "", "  ")
		if err := restored.write(w.rp.ID+".json", raw); err != nil {
			return Result{}, err
		}
		res.Message = "the swap was complete, so the restored files stay in place"
		return res, w.save(phaseDone)
	}
	return w.result(StatusDone), nil
}

// undo reverses the request's renames.
func (w *work) undo() ([]string, error) {
	if err := w.openDirs(); err != nil {
		return nil, err
	}
	var kept []string
	inRestore, err := w.restore.set()
	if err != nil {
		return nil, err
	}
	inRoot, err := w.root.set()
	if err != nil {
		return nil, err
	}
	inAside, err := w.aside.set()
	if err != nil {
		return nil, err
	}
	entries := append([]string(nil), w.job.Entries...)
	sort.Sort(sort.Reverse(sort.StringSlice(entries)))
	for _, e := range entries {
		if inRoot[e] && inRestore[e] {
			// A placement that a crash interrupted: take the link or the
			// placeholder back, so the restored entry is whole in the
			// restore directory again.
			found, err := w.resolvePut(e, w.restore, w.root)
			if err != nil {
				return nil, err
			}
			inRoot[e] = !found
		}
		if inRestore[e] && !inAside[e] && !inRoot[e] {
			continue // untouched
		}
		if inRoot[e] && !inRestore[e] {
			// The restored entry is in place: put it back.
			w.hook("unrestore " + e)
			if err := w.put(w.root, e, w.restore); err != nil {
				return nil, err
			}
			inRoot[e], inRestore[e] = false, true
		}
		if inAside[e] {
			if inRoot[e] {
				// An unaside a crash interrupted, or a writer's entry.
				found, err := w.resolvePut(e, w.root, w.aside)
				if err != nil {
					return nil, err
				}
				if found {
					continue
				}
				// A client's new entry: it stays, and the one that was
				// there before stays aside; nothing is overwritten.
				kept = append(kept, "/"+e)
				continue
			}
			w.hook("unaside " + e)
			if err := w.put(w.aside, e, w.root); err != nil {
				return nil, err
			}
		}
	}
	inDiscard, err := w.dc.set()
	if err != nil {
		return nil, err
	}
	// First settle a put a crash interrupted, whose journal entry the next
	// put would overwrite.
	for _, e := range w.job.Excluded {
		if inDiscard[e] && inRestore[e] {
			found, err := w.resolvePut(e, w.restore, w.dc)
			if err != nil {
				return nil, err
			}
			inDiscard[e] = !found
		}
	}
	for _, e := range w.job.Excluded {
		if inDiscard[e] && !inRestore[e] {
			if err := w.put(w.dc, e, w.restore); err != nil {
				return nil, err
			}
		}
	}
	w.closeDirs()
	_, _ = w.state.removeEmpty(w.job.AsideDir)
	_, _ = w.state.removeEmpty(w.job.DiscardDir)
	w.job.Moved, w.job.SetAside = 0, 0
	sort.Strings(kept)
	return kept, nil
}

func deleteFile(d dir, name string) error {
	err := unix.Unlinkat(d.fd, name, 0)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// put moves the entry name from one directory to another under the same
// name, never over an entry that is there: by a rename with
// RENAME_NOREPLACE where the file system takes it, and otherwise (NFS, so
// EFS) by steps that are each exclusive at the destination (fsops.go): a
// hard link then an unlink of the source for a file, and for a directory a
// placeholder directory, recorded in the journal first, that the rename
// replaces only while it is empty. If a writer creates the name at the
// destination at any moment, the step fails with EEXIST (or ENOTEMPTY) and
// both entries are kept; the swap stops and says so.
func (w *work) put(from dir, name string, to dir) error {
	err := from.renameNoReplace(name, to)
	if !errors.Is(err, errNoRenameFlags) {
		return err
	}
	if to.private {
		// Into a directory no client writes in: a plain rename, atomic on
		// the server (RFC 8881, section 18.26), moves whatever the source
		// name holds at that moment, also a file a writer has just saved
		// over it with its own rename, so nothing at the source is lost;
		// and the name at the destination is free (checked just before,
		// and nobody else creates names there).
		exists, err := to.has(name)
		if err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("mover: rename %s to %s: %w", from.join(name), to.join(name), unix.EEXIST)
		}
		w.hook("rename " + name)
		return from.renameOver(name, to)
	}
	// Into a directory clients write in (the root), from one they do not:
	// never onto a name a client could have created meanwhile.
	if !from.isDir(name) {
		w.hook("link " + name)
		if err := from.link(name, to); err != nil {
			return err
		}
		w.hook("linked " + name)
		return from.unlink(name)
	}
	w.job.Placing = to.join(name)
	if err := w.save(w.job.Phase); err != nil {
		return err
	}
	w.hook("placeholder " + name)
	if err := to.mkdir(name); err != nil {
		return err
	}
	w.hook("placed " + name)
	return from.renameOver(name, to)
}

// resolvePut settles a put between two directories that a crash
// interrupted, keeping the entry in keep, and reports whether it found one:
// both names one inode (the link made, its source not yet unlinked), or the
// journal's placeholder, still an empty directory, in either directory. A
// placeholder in keep is replaced by the directory; one in other goes.
func (w *work) resolvePut(name string, keep, other dir) (bool, error) {
	switch {
	case keep.sameFile(name, other):
		w.hook("unlink " + name)
		return true, other.unlink(name)
	case w.job.Placing == keep.join(name) && keep.isEmptyDir(name) && other.isDir(name):
		w.hook("replace placeholder " + name)
		if err := other.renameOver(name, keep); err != nil {
			return false, err
		}
		return true, nil
	case w.job.Placing == other.join(name) && other.isEmptyDir(name) && keep.isDir(name):
		w.hook("remove placeholder " + name)
		_, err := other.removeEmpty(name)
		return err == nil, err
	}
	return false, nil
}
