package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// mount mounts and registers the unmount; it skips the test where mounting
// is not permitted (not root, or a container without CAP_SYS_ADMIN).
func mount(t *testing.T, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	if err := syscall.Mount(source, target, fstype, flags, data); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("mount %s: %v (needs root with CAP_SYS_ADMIN)", fstype, err)
		}
		t.Fatalf("mount %s on %s: %v", fstype, target, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

// readOnlyDir returns a directory bind-mounted read-only.
func readOnlyDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mount(t, dir, dir, "", syscall.MS_BIND, "")
	if err := syscall.Mount("", dir, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", dir, err)
	}
	return dir
}

// TestDiskFull fills a small tmpfs: Append must return an error once the
// disk is full, and every entry it acknowledged must be there, on the open
// spool and after reopening.
func TestDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mount(t, "tmpfs", dir, "tmpfs", 0, "size=1m")
	path := filepath.Join(dir, "spool.db")
	s, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Four writers, so that commits are shared and a failed one fails
	// every Append of its batch.
	value := string(make([]byte, 16<<10))
	var (
		mu        sync.Mutex
		acked     int
		appendErr error
		wg        sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				_, err := s.Append(context.Background(), set(s1, fmt.Sprint("k", w, "-", i), value))
				mu.Lock()
				if err != nil {
					appendErr = err
				} else {
					acked++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if appendErr == nil {
		t.Fatalf("%d appends of 16 KiB fit in a 1 MiB tmpfs", acked)
	}
	t.Logf("%d appends acknowledged, then: %v", acked, appendErr)
	if !errors.Is(appendErr, syscall.ENOSPC) {
		t.Errorf("Append error %v is not ENOSPC", appendErr)
	}
	if n := s.Len(s1); n != acked {
		t.Errorf("Len = %d, want the %d acknowledged", n, acked)
	}
	s.Close()
	s, err = Open(Config{Path: path})
	if err != nil {
		t.Fatalf("reopening a full spool: %v", err)
	}
	defer s.Close()
	if n := len(drain(t, s, s1)); n != acked {
		t.Errorf("reopened spool holds %d entries, want the %d acknowledged", n, acked)
	}
}
