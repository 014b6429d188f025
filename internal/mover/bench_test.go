package mover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The benchmark restores a tree of 100 000 files in 1 000 directories over a
// root that holds the same 1 000 directories, and compares the mover with the
// plain renames an operator would run by hand (mv of each current entry aside,
// then mv of each restored entry into place). The cost grows with the 1 000
// root entries, not with the 100 000 files.

const (
	benchDirs  = 1000
	benchFiles = 100
)

func benchTree(b *testing.B, dir string) {
	b.Helper()
	for d := 0; d < benchDirs; d++ {
		p := filepath.Join(dir, fmt.Sprintf("dir%04d", d))
		if err := os.MkdirAll(p, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := 0; f < benchFiles; f++ {
			if err := os.WriteFile(filepath.Join(p, fmt.Sprintf("f%03d", f)), nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkMoverRestore100kFiles(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := b.TempDir()
		benchTree(b, root)
		m := newMover(root)
		if _, err := m.Handle(context.Background(), Request{Action: ActionPrepare, RequestID: req, RecoveryPoint: rpA}); err != nil {
			b.Fatal(err)
		}
		benchTree(b, filepath.Join(root, restoreDir))
		b.StartTimer()
		res, err := m.Handle(context.Background(), Request{Action: ActionMove, RequestID: req, RecoveryPoint: rpA})
		if err != nil || res.Status != StatusDone {
			b.Fatal(res, err)
		}
		b.ReportMetric(float64(res.Moved+res.SetAside), "renames/op")
	}
}

func BenchmarkPlainMv100kFiles(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := b.TempDir()
		benchTree(b, root)
		restore := filepath.Join(root, restoreDir)
		benchTree(b, restore)
		aside := filepath.Join(root, "aside")
		if err := os.Mkdir(aside, 0o700); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		entries, err := os.ReadDir(restore)
		if err != nil {
			b.Fatal(err)
		}
		renames := 0
		for _, e := range entries {
			if err := os.Rename(filepath.Join(root, e.Name()), filepath.Join(aside, e.Name())); err != nil {
				b.Fatal(err)
			}
			if err := os.Rename(filepath.Join(restore, e.Name()), filepath.Join(root, e.Name())); err != nil {
				b.Fatal(err)
			}
			renames += 2
		}
		if err := os.Remove(restore); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(renames), "renames/op")
	}
}
