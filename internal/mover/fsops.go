package mover

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// Every path the mover touches is one name inside a directory it holds open.
// Directories are opened with openat2 and RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS,
// so a path never leaves the file system's root and never goes through a
// symbolic link, even one that a writer swaps in between two steps
// (https://man7.org/linux/man-pages/man2/openat2.2.html). Renames and removals
// take the directory descriptors and a single name (renameat, unlinkat), so
// they act on the directory the mover opened, wherever a writer has moved it
// since, and on the entry itself: a symbolic link is moved or removed, never
// followed.

// resolveSafe is openat2's resolve mode for every path the mover opens.
const resolveSafe = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// dir is an open directory.
type dir struct {
	fd   int
	name string // for messages: the path below the root
	// noRenameFlags is set when renameat2's flags are known to be refused,
	// as on NFS; dirs opened from this one inherit it.
	noRenameFlags bool
	// private is a directory no client writes in: the mover's own, under
	// /.restorable, and AWS Backup's restore directory, which only the
	// restore job writes, before the move. A plain rename into it cannot
	// replace a client's file.
	private bool
}

func (d dir) close() { _ = unix.Close(d.fd) }

// openRoot opens the mount point itself, which the mover trusts.
func openRoot(path string) (dir, error) {
	fd, err := unix.Open(path, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return dir{}, fmt.Errorf("mover: open the file system root %s: %w", path, err)
	}
	return dir{fd: fd, name: "/"}, nil
}

// sub opens the directory name inside d.
func (d dir) sub(name string) (dir, error) {
	if err := checkName(name); err != nil {
		return dir{}, err
	}
	fd, err := unix.Openat2(d.fd, name, &unix.OpenHow{Flags: unix.O_DIRECTORY | unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: resolveSafe})
	if err != nil {
		return dir{}, fmt.Errorf("mover: open directory %s: %w", d.join(name), err)
	}
	return dir{fd: fd, name: d.join(name), noRenameFlags: d.noRenameFlags, private: d.private}, nil
}

// ensure opens the directory name inside d, creating it (mode 0700) if needed.
func (d dir) ensure(name string) (dir, error) {
	if err := checkName(name); err != nil {
		return dir{}, err
	}
	if err := unix.Mkdirat(d.fd, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return dir{}, fmt.Errorf("mover: create directory %s: %w", d.join(name), err)
	}
	return d.sub(name)
}

func (d dir) join(name string) string {
	if d.name == "/" {
		return "/" + name
	}
	return d.name + "/" + name
}

// names lists d's entries, sorted.
func (d dir) names() ([]string, error) {
	fd, err := unix.Dup(d.fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), d.name)
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("mover: list %s: %w", d.name, err)
	}
	sort.Strings(names)
	return names, nil
}

// set lists d's entries as a set.
func (d dir) set() (map[string]bool, error) {
	names, err := d.names()
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// has reports whether d holds an entry called name, without following it.
func (d dir) has(name string) (bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, fmt.Errorf("mover: stat %s: %w", d.join(name), err)
}

// isDir reports whether name in d is a directory (not a link to one).
func (d dir) isDir(name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// errNoRenameFlags reports that the file system refuses renameat2's flags.
var errNoRenameFlags = errors.New("mover: the file system takes no rename flags")

// renameNoReplace renames name from d into to, under the same name, not over
// an entry that is there: renameat2 with RENAME_NOREPLACE fails with EEXIST
// if something (a client still writing) has created the name since the mover
// looked. A file system whose driver takes no rename flags answers EINVAL
// (https://man7.org/linux/man-pages/man2/rename.2.html); Linux's NFS client,
// and so EFS, is one. Then it returns errNoRenameFlags, and the caller places
// the entry another way (work.put), never with a plain rename that could
// replace what a writer created.
func (d dir) renameNoReplace(name string, to dir) error {
	if err := checkName(name); err != nil {
		return err
	}
	if d.noRenameFlags {
		return errNoRenameFlags
	}
	err := unix.Renameat2(d.fd, name, to.fd, name, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return errNoRenameFlags
	}
	if err != nil {
		return fmt.Errorf("mover: rename %s to %s: %w", d.join(name), to.join(name), err)
	}
	return nil
}

// The steps that place an entry without rename flags. Each is exclusive at
// the destination, also on NFS, where the server decides (RFC 8881):
//   - link: a hard link of a file, a symbolic link or any non-directory;
//     LINK "If the target name exists ... NFS4ERR_EXIST" (section 18.9), as
//     linkat(2) fails with EEXIST. The source name is then unlinked.
//   - mkdir: the placeholder of a directory; CREATE of an existing name
//     fails with NFS4ERR_EXIST (section 18.4), as mkdirat(2) with EEXIST.
//   - renameOver: a directory renamed onto its own placeholder, which
//     rename(2) replaces only while it is an empty directory: if a writer
//     has put anything in it, the rename fails with ENOTEMPTY or EEXIST and
//     replaces nothing (RENAME, section 18.26).

func (d dir) link(name string, to dir) error {
	if err := unix.Linkat(d.fd, name, to.fd, name, 0); err != nil {
		return fmt.Errorf("mover: link %s to %s: %w", d.join(name), to.join(name), err)
	}
	return nil
}

func (d dir) unlink(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("mover: unlink %s: %w", d.join(name), err)
	}
	return nil
}

func (d dir) mkdir(name string) error {
	if err := unix.Mkdirat(d.fd, name, 0o700); err != nil {
		return fmt.Errorf("mover: create the placeholder %s: %w", d.join(name), err)
	}
	return nil
}

func (d dir) renameOver(name string, to dir) error {
	if err := unix.Renameat(d.fd, name, to.fd, name); err != nil {
		return fmt.Errorf("mover: rename %s onto its placeholder %s: %w", d.join(name), to.join(name), err)
	}
	return nil
}

// sameFile reports whether name in d and name in other are one inode (a
// link that a crash left before its source was unlinked).
func (d dir) sameFile(name string, other dir) bool {
	var a, b unix.Stat_t
	return unix.Fstatat(d.fd, name, &a, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		unix.Fstatat(other.fd, name, &b, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		a.Dev == b.Dev && a.Ino == b.Ino && a.Mode&unix.S_IFMT != unix.S_IFDIR
}

// isEmptyDir reports whether name in d is an empty directory.
func (d dir) isEmptyDir(name string) bool {
	if !d.isDir(name) {
		return false
	}
	sub, err := d.sub(name)
	if err != nil {
		return false
	}
	defer sub.close()
	names, err := sub.names()
	return err == nil && len(names) == 0
}

// read reads the regular file name in d.
func (d dir) read(name string) ([]byte, error) {
	fd, err := unix.Openat2(d.fd, name, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: resolveSafe})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), d.join(name))
	defer f.Close()
	return io.ReadAll(f)
}

// write replaces the file name in d atomically: a temporary file, synced, then
// renamed over it, so an interruption never leaves half a record.
func (d dir) write(name string, data []byte) error {
	tmp := name + ".tmp"
	_ = unix.Unlinkat(d.fd, tmp, 0)
	fd, err := unix.Openat2(d.fd, tmp, &unix.OpenHow{Flags: unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_CLOEXEC | unix.O_NOFOLLOW, Mode: 0o600, Resolve: resolveSafe})
	if err != nil {
		return fmt.Errorf("mover: create %s: %w", d.join(tmp), err)
	}
	f := os.NewFile(uintptr(fd), d.join(tmp))
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := unix.Renameat(d.fd, tmp, d.fd, name); err != nil {
		return fmt.Errorf("mover: rename %s: %w", d.join(tmp), err)
	}
	return nil
}

// removeEmpty removes the directory name in d if it is empty; it reports
// whether it is gone.
func (d dir) removeEmpty(name string) (bool, error) {
	err := unix.Unlinkat(d.fd, name, unix.AT_REMOVEDIR)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return true, nil
	case errors.Is(err, unix.ENOTEMPTY), errors.Is(err, unix.EEXIST):
		return false, nil
	}
	return false, fmt.Errorf("mover: remove %s: %w", d.join(name), err)
}

// removeTree deletes the tree name in d, entry by entry, as long as more
// reports that there is time left; it reports whether the tree is gone. It
// never follows a symbolic link: links are removed, not their targets.
func (d dir) removeTree(name string, more func() bool) (bool, error) {
	if !d.isDir(name) {
		err := unix.Unlinkat(d.fd, name, 0)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return false, fmt.Errorf("mover: remove %s: %w", d.join(name), err)
		}
		return true, nil
	}
	sub, err := d.sub(name)
	if err != nil {
		return false, err
	}
	names, err := sub.names()
	if err != nil {
		sub.close()
		return false, err
	}
	for _, n := range names {
		if !more() {
			sub.close()
			return false, nil
		}
		done, err := sub.removeTree(n, more)
		if err != nil || !done {
			sub.close()
			return done, err
		}
	}
	sub.close()
	return d.removeEmpty(name)
}

// checkName accepts a single path component.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 {
		return fmt.Errorf("mover: %q is not a file name", name)
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' || name[i] == 0 {
			return fmt.Errorf("mover: %q is not a single file name", name)
		}
	}
	return nil
}
