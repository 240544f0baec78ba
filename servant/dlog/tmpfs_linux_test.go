package dlog

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A real full disk: a 64KiB tmpfs, when the test may mount one (as root);
// TestFullDisk covers the same through an injected file system. Writes get
// ENOSPC, and Close returns at once with the error rather than hanging.
func TestFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); TestFullDisk injects the failure instead", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	l, err := Open(Config{DataDir: dir, SyncInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	line := strings.Repeat("x", 1000)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = l.Write(ctx, "a", "t", line)
		if err != nil && !errors.Is(err, ErrBufferFull) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no error from a full disk within 10s")
		}
	}
	if !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ErrWrite wrapping ENOSPC", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := l.Close(cctx); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close: %v, want the ENOSPC of the last flush", err)
	}
}
