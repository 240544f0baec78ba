package spool

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// crashChildEnv makes the test binary, run again by TestCrash, act as the
// child: it appends to the spool at this path until it is killed.
const crashChildEnv = "FAE_SPOOL_CRASH_CHILD"

const (
	crashWriters   = 4
	crashKillAfter = 200 // acknowledged appends before the SIGKILL
)

// TestCrash runs a child process that appends from several goroutines and
// prints each append as it returns (the acknowledgement a client would
// get), SIGKILLs it mid-stream, and checks that the reopened spool holds
// every acknowledged entry, in order.
func TestCrash(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "spool.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]uint64{} // key → id
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var id uint64
		var key string
		if _, err := fmt.Sscanf(sc.Text(), "acked %d %s", &id, &key); err != nil {
			t.Errorf("child said %q", sc.Text())
			continue
		}
		acked[key] = id
		if len(acked) == crashKillAfter {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v after %d acknowledged appends, want killed", err, len(acked))
	}

	s := openTest(t, Config{Path: path})
	found := map[string]uint64{}
	last := uint64(0)
	for {
		e, ok, err := s.Next(s1)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if e.ID <= last {
			t.Fatalf("entry #%d after #%d: out of order", e.ID, last)
		}
		last = e.ID
		found[string(e.Key)] = e.ID
		if err := s.Ack(s1, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	lost := 0
	for key, id := range acked {
		if found[key] != id {
			lost++
			t.Errorf("acknowledged entry #%d (%s) lost", id, key)
		}
	}
	// Appends in flight when the child died may be kept without their
	// acknowledgement having been printed: at most one per writer.
	if extra := len(found) - len(acked); extra < 0 || extra > crashWriters {
		t.Errorf("spool holds %d entries for %d acknowledged", len(found), len(acked))
	}
	t.Logf("%d acknowledged before SIGKILL, %d in the spool after reopening, %d lost", len(acked), len(found), lost)
}

func crashChild(path string) {
	s, err := Open(Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			for i := 0; i < 100_000; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				id, err := s.Append(context.Background(), set(s1, key, strings.Repeat("v", 100)))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "acked %d %s\n", id, key)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(3) // the parent kills the child long before this
}
