package drill

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/restorable-cdk/restorable/internal/mover"
)

// errDeadline stops a walk at its deadline.
var errDeadline = errors.New("deadline")

// Walk is the files function: it finds the directory AWS Backup restored the
// copy into ("a recovery directory off of the root directory", also on a new
// file system: https://docs.aws.amazon.com/aws-backup/latest/devguide/restoring-efs.html),
// the same aws-backup-restore_<time> directory the mover swaps in on a real
// restore, checks that every path the user listed is in it, and counts its
// regular files and their bytes until the deadline. It only reads; symbolic
// links are counted, never followed.
func Walk(root string, now func() time.Time) func(context.Context, FilesInput) (FilesOutput, error) {
	return func(ctx context.Context, in FilesInput) (FilesOutput, error) {
		var out FilesOutput
		entries, err := os.ReadDir(root)
		if err != nil {
			out.Error = fmt.Sprintf("read the copy's root: %v", err)
			return out, nil
		}
		var dirs []string
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), mover.RestorePrefix) {
				dirs = append(dirs, e.Name())
			}
		}
		sort.Strings(dirs)
		if len(dirs) != 1 {
			out.Error = fmt.Sprintf("want one %s* directory at the copy's root, found %v", mover.RestorePrefix, dirs)
			return out, nil
		}
		out.RestoreDir = dirs[0]
		base := filepath.Join(root, out.RestoreDir)
		for _, p := range in.Paths {
			clean := path.Clean("/" + p)
			if _, err := os.Lstat(filepath.Join(base, filepath.FromSlash(clean))); err != nil {
				out.Missing = append(out.Missing, strings.TrimPrefix(clean, "/"))
			}
		}
		err = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ctx.Err() != nil || (!in.Deadline.IsZero() && now().After(in.Deadline)) {
				return errDeadline
			}
			if d.Type().IsRegular() {
				info, err := d.Info()
				if err != nil {
					return err
				}
				out.Files++
				out.Bytes += info.Size()
			}
			return nil
		})
		switch {
		case err == nil:
			out.Complete = true
		case errors.Is(err, errDeadline):
		default:
			out.Error = fmt.Sprintf("walk the copy: %v", err)
		}
		return out, nil
	}
}
