package kvdb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func open(t testing.TB, dir string) *DB {
	t.Helper()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func TestNoDataDir(t *testing.T) {
	d, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Set(ctx, "k", nil); !errors.Is(err, ErrNoDataDir) {
		t.Errorf("Set: %v", err)
	}
	if _, _, err := d.Get(ctx, "k"); !errors.Is(err, ErrNoDataDir) {
		t.Errorf("Get: %v", err)
	}
	if _, err := d.Del(ctx, "k"); !errors.Is(err, ErrNoDataDir) {
		t.Errorf("Del: %v", err)
	}
	if err := d.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestSetGetDel(t *testing.T) {
	type op struct {
		do    string // set, get, del
		key   string
		value string
		want  string
		ok    bool // get: found; del: was there
	}
	cases := []struct {
		name string
		ops  []op
	}{
		{name: "miss", ops: []op{{do: "get", key: "a"}}},
		{name: "set, get", ops: []op{{do: "set", key: "a", value: "1"}, {do: "get", key: "a", want: "1", ok: true}}},
		{name: "replace", ops: []op{{do: "set", key: "a", value: "1"}, {do: "set", key: "a", value: "2"}, {do: "get", key: "a", want: "2", ok: true}}},
		{name: "empty value is not a miss", ops: []op{{do: "set", key: "a"}, {do: "get", key: "a", want: "", ok: true}}},
		{name: "del", ops: []op{
			{do: "set", key: "a", value: "1"}, {do: "del", key: "a", ok: true},
			{do: "get", key: "a"}, {do: "del", key: "a", ok: false},
		}},
		{name: "binary", ops: []op{{do: "set", key: "\x00k\n", value: "\x00\xff\r\n"}, {do: "get", key: "\x00k\n", want: "\x00\xff\r\n", ok: true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := open(t, t.TempDir())
			ctx := context.Background()
			for i, o := range tc.ops {
				switch o.do {
				case "set":
					if err := d.Set(ctx, o.key, []byte(o.value)); err != nil {
						t.Fatalf("op %d: %v", i, err)
					}
				case "get":
					v, ok, err := d.Get(ctx, o.key)
					if err != nil || ok != o.ok || string(v) != o.want {
						t.Errorf("op %d: get %q = %q %v %v, want %q %v", i, o.key, v, ok, err, o.want, o.ok)
					}
				case "del":
					ok, err := d.Del(ctx, o.key)
					if err != nil || ok != o.ok {
						t.Errorf("op %d: del %q = %v %v, want %v", i, o.key, ok, err, o.ok)
					}
				}
			}
		})
	}
}

func TestLimits(t *testing.T) {
	d := open(t, t.TempDir())
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		key      string
		valueLen int
		want     error
	}{
		{name: "empty key", key: "", want: ErrBadKey},
		{name: "longest key", key: strings.Repeat("k", MaxKeyLen)},
		{name: "key too long", key: strings.Repeat("k", MaxKeyLen+1), want: ErrBadKey},
		{name: "largest value", key: "v", valueLen: MaxValueLen},
		{name: "value too large", key: "w", valueLen: MaxValueLen + 1, want: ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.Set(ctx, tc.key, make([]byte, tc.valueLen)); !errors.Is(err, tc.want) {
				t.Fatalf("Set: %v, want %v", err, tc.want)
			}
			v, ok, err := d.Get(ctx, tc.key)
			if tc.want == ErrBadKey && !errors.Is(err, ErrBadKey) {
				t.Errorf("Get: %v, want ErrBadKey", err)
			}
			if tc.want == nil && (!ok || len(v) != tc.valueLen) {
				t.Errorf("Get: %d bytes, %v, %v", len(v), ok, err)
			}
			if tc.want == ErrTooLarge && ok {
				t.Error("a refused value was stored")
			}
		})
	}
}

// Get returns a copy: changing it changes nothing stored.
func TestGetCopies(t *testing.T) {
	d := open(t, t.TempDir())
	ctx := context.Background()
	value := []byte("value")
	d.Set(ctx, "k", value)
	copy(value, "XXXXX")
	v, _, _ := d.Get(ctx, "k")
	copy(v, "YYYYY")
	if v, _, _ := d.Get(ctx, "k"); string(v) != "value" {
		t.Errorf("stored value changed: %q", v)
	}
}

// A call whose context has ended writes nothing.
func TestCancelled(t *testing.T) {
	d := open(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Set(ctx, "k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Errorf("Set: %v", err)
	}
	if _, ok, _ := d.Get(context.Background(), "k"); ok {
		t.Error("a cancelled Set was written")
	}
}

// Writes survive Close and Open; calls after Close fail.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.bolt.NoSync {
		t.Fatal("bbolt's NoSync is on: commits would not be fsynced")
	}
	d.Set(ctx, "a", []byte("1"))
	d.Set(ctx, "b", []byte("2"))
	d.Del(ctx, "b")
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Set(ctx, "c", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Set after Close: %v", err)
	}
	if _, _, err := d.Get(ctx, "a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	if err := d.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	d = open(t, dir)
	for _, tc := range []struct {
		key  string
		want string
		ok   bool
	}{{key: "a", want: "1", ok: true}, {key: "b"}, {key: "c"}} {
		if v, ok, err := d.Get(ctx, tc.key); err != nil || ok != tc.ok || string(v) != tc.want {
			t.Errorf("%s: %q %v %v", tc.key, v, ok, err)
		}
	}
}

// A second process (or a second Open) on the same data_dir is refused.
func TestSecondOpen(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second Open: %v", err)
	}
}

// Concurrent writers share commits, and every write lands.
func TestConcurrent(t *testing.T) {
	d := open(t, t.TempDir())
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 40 {
				k := fmt.Sprintf("g%d-%d", g, i)
				if err := d.Set(ctx, k, []byte(k)); err != nil {
					t.Error(err)
					return
				}
				if i%4 == 3 {
					if ok, err := d.Del(ctx, k); !ok || err != nil {
						t.Errorf("Del %s: %v %v", k, ok, err)
					}
				}
			}
		})
	}
	wg.Wait()
	for g := range 16 {
		for i := range 40 {
			k := fmt.Sprintf("g%d-%d", g, i)
			v, ok, err := d.Get(ctx, k)
			if err != nil || ok != (i%4 != 3) || ok && string(v) != k {
				t.Fatalf("%s: %q %v %v", k, v, ok, err)
			}
		}
	}
}

const childEnv = "FAE_KVDB_CHILD_DIR"

// TestMain runs the child of TestSIGKILL when asked to.
func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		child(dir)
		return
	}
	os.Exit(m.Run())
}

// child writes keys from 4 goroutines forever, printing "ack <key>" once
// each Set has returned, until it is killed.
func child(dir string) {
	d, err := Open(dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				k := fmt.Sprintf("k%d-%d", g, i)
				if err := d.Set(context.Background(), k, []byte("value of "+k)); err != nil {
					fmt.Println("error", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintln(out, "ack", k)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// A write acknowledged survives a SIGKILL right after: a child process
// writes keys and prints an ack after each Set returns; it is killed
// mid-stream; reopened, the store holds every acked key.
func TestSIGKILL(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILL$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	lines := bufio.NewScanner(stdout)
	killed := false
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) == 2 && f[0] == "ack" {
			acked = append(acked, f[1])
		} else {
			t.Errorf("child: %s", lines.Text())
		}
		if len(acked) == 500 && !killed {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true // the acks already in the pipe are read on
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, not by SIGKILL", err)
	}
	d := open(t, dir)
	ctx := context.Background()
	for _, k := range acked {
		v, ok, err := d.Get(ctx, k)
		if err != nil || !ok || string(v) != "value of "+k {
			t.Fatalf("acked key %s: %q %v %v", k, v, ok, err)
		}
	}
	t.Logf("%d acked keys all there", len(acked))
}

func BenchmarkSet(b *testing.B) {
	d := open(b, b.TempDir())
	ctx := context.Background()
	value := make([]byte, 100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := d.Set(ctx, fmt.Sprint("key", i%1000), value); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSetParallel: 32 writers share commits.
func BenchmarkSetParallel(b *testing.B) {
	d := open(b, b.TempDir())
	ctx := context.Background()
	value := make([]byte, 100)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := d.Set(ctx, fmt.Sprint("key", i%1000), value); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkGet(b *testing.B) {
	d := open(b, b.TempDir())
	ctx := context.Background()
	d.Set(ctx, "key", make([]byte, 100))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := d.Get(ctx, "key"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
