package dlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

var stamp = time.Date(2026, 12, 4, 9, 30, 0, 123456789, time.UTC)

func fixedClock() time.Time { return stamp }

// open starts a Log on a new data directory with cfg's other fields; the
// test closes it at its end.
func open(t *testing.T, cfg Config) (*Log, string) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Clock == nil {
		cfg.Clock = fixedClock
	}
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l, filepath.Join(cfg.DataDir, SubDir)
}

func closeLog(t *testing.T, l *Log) {
	t.Helper()
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNoDataDir(t *testing.T) {
	l, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(context.Background(), "app", "tag", "{}"); !errors.Is(err, ErrNoDataDir) {
		t.Errorf("Write: %v, want ErrNoDataDir", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// Bad idents and tags are refused, and nothing is written outside
// data_dir/dlog whatever the name.
func TestNames(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{name: "app", ok: true},
		{name: "user.login", ok: true},
		{name: "A-Z_0-9", ok: true},
		{name: "x.", ok: true},
		{name: strings.Repeat("n", MaxNameLen), ok: true},
		{name: strings.Repeat("n", MaxNameLen+1)},
		{name: ""},
		{name: "."},
		{name: ".."},
		{name: ".hidden"},
		{name: "../x"},
		{name: "../../etc/passwd"},
		{name: "/"},
		{name: "/tmp/x"},
		{name: "a/b"},
		{name: `a\b`},
		{name: "a\x00b"},
		{name: "a\nb"},
		{name: "a\tb"},
		{name: "\x7f"},
		{name: "a b"},
		{name: "é"},
	}
	dataDir := t.TempDir()
	l, dir := open(t, Config{DataDir: dataDir})
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			for _, where := range []string{"ident", "tag"} {
				ident, tag := "app", "tag"
				if where == "ident" {
					ident = tc.name
				} else {
					tag = tc.name
				}
				err := l.Write(ctx, ident, tag, "{}")
				if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrBadName) {
					t.Errorf("as %s: %v, want ok %v", where, err, tc.ok)
				}
			}
		})
	}
	closeLog(t, l)
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dataDir || path == dir {
			return err
		}
		if filepath.Dir(path) != dir || !strings.HasSuffix(path, ".log") {
			t.Errorf("written outside %s/*.log: %s", dir, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Lines are written as given, but for newlines; each is
// "<RFC3339Nano UTC> <tag> <line>\n".
func TestLines(t *testing.T) {
	long := strings.Repeat("j", MaxLineLen)
	cases := []struct {
		name string
		line string
		want error
	}{
		{name: "json", line: `{"uid":1,"act":"login"}`},
		{name: "empty", line: ""},
		{name: "not json", line: "plain text"},
		{name: "control bytes", line: "a\x00b\x01c\td"},
		{name: "utf-8", line: `{"name":"Zoë"}`},
		{name: "longest", line: long},
		{name: "too long", line: long + "j", want: ErrBadLine},
		{name: "newline", line: "{}\n{}", want: ErrBadLine},
		{name: "trailing newline", line: "{}\n", want: ErrBadLine},
		{name: "carriage return", line: "{}\r", want: ErrBadLine},
	}
	l, dir := open(t, Config{})
	var want strings.Builder
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := l.Write(context.Background(), "app", "evt", tc.line)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil {
				want.WriteString("2026-12-04T09:30:00.123456789Z evt " + tc.line + "\n")
			}
		})
	}
	closeLog(t, l)
	if got := readFile(t, filepath.Join(dir, "app.log")); got != want.String() {
		t.Errorf("file:\n%q\nwant:\n%q", got, want.String())
	}
}

// Lines go after what the file already holds (a restart appends).
func TestAppends(t *testing.T) {
	dataDir := t.TempDir()
	for i := range 2 {
		l, dir := open(t, Config{DataDir: dataDir})
		if err := l.Write(context.Background(), "app", "run", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		closeLog(t, l)
		want := "2026-12-04T09:30:00.123456789Z run 0\n"
		if i == 1 {
			want += "2026-12-04T09:30:00.123456789Z run 1\n"
		}
		if got := readFile(t, filepath.Join(dir, "app.log")); got != want {
			t.Errorf("run %d: %q", i, got)
		}
	}
}

func TestWriteCancelled(t *testing.T) {
	l, _ := open(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Write(ctx, "app", "t", "{}"); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
}

// logFiles returns the lines of ident's files, oldest file first, and
// checks each file: at most maxSize bytes unless it holds one line, whole
// lines only, at most maxFiles files.
func logFiles(t *testing.T, dir, ident string, maxSize int64, maxFiles int) []string {
	t.Helper()
	var lines []string
	for n := maxFiles + 2; n >= 0; n-- {
		name := filepath.Join(dir, ident+".log")
		if n > 0 {
			name += fmt.Sprint(".", n)
		}
		b, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n >= maxFiles {
			t.Errorf("%s kept: max %d files", name, maxFiles)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s ends inside a line", name)
		}
		fileLines := strings.SplitAfter(string(b), "\n")
		fileLines = fileLines[:len(fileLines)-1]
		if int64(len(b)) > maxSize && len(fileLines) > 1 {
			t.Errorf("%s: %d bytes in %d lines, max %d", name, len(b), len(fileLines), maxSize)
		}
		lines = append(lines, fileLines...)
	}
	return lines
}

func TestRotation(t *testing.T) {
	line := func(i int) string { return fmt.Sprintf(`{"i":%04d,"pad":"%s"}`, i, strings.Repeat("p", 47)) }
	full := func(i int) string { return "2026-12-04T09:30:00.123456789Z t " + line(i) + "\n" } // 100 bytes
	cases := []struct {
		name      string
		maxSize   int64
		maxFiles  int
		lines     int
		wantFirst int // the oldest line kept
	}{
		{name: "no rotation", maxSize: 1 << 20, maxFiles: 3, lines: 50, wantFirst: 0},
		{name: "three files", maxSize: 1000, maxFiles: 3, lines: 95, wantFirst: 70},
		{name: "exact fit", maxSize: 1000, maxFiles: 2, lines: 20, wantFirst: 0},
		{name: "one more than fits", maxSize: 1000, maxFiles: 2, lines: 21, wantFirst: 10},
		{name: "one file", maxSize: 1000, maxFiles: 1, lines: 25, wantFirst: 20},
		{name: "not a multiple of the line", maxSize: 950, maxFiles: 4, lines: 100, wantFirst: 72}, // 9 lines a file
		{name: "lines longer than a file", maxSize: 30, maxFiles: 3, lines: 10, wantFirst: 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, dir := open(t, Config{MaxFileSize: tc.maxSize, MaxFiles: tc.maxFiles})
			for i := range tc.lines {
				if err := l.Write(context.Background(), "app", "t", line(i)); err != nil {
					t.Fatal(err)
				}
			}
			closeLog(t, l)
			got := logFiles(t, dir, "app", tc.maxSize, tc.maxFiles)
			var want []string
			for i := tc.wantFirst; i < tc.lines; i++ {
				want = append(want, full(i))
			}
			if !slices.Equal(got, want) {
				t.Errorf("kept %d lines, want lines %d to %d:\n%q", len(got), tc.wantFirst, tc.lines-1, got)
			}
		})
	}
}

// testFS wraps the OS file system with failures: writes to files named in
// full fail with ENOSPC once they have room more bytes; writes wait while
// gate is closed; syncs and closes are counted.
type testFS struct {
	OSFS
	mu     sync.Mutex
	full   map[string]bool
	room   int64
	gate   chan struct{} // nil: open
	syncs  atomic.Int32
	closes atomic.Int32
}

type testFile struct {
	*os.File
	fs   *testFS
	name string
}

func (f *testFS) OpenAppend(name string) (File, int64, error) {
	file, size, err := f.OSFS.OpenAppend(name)
	if err != nil {
		return nil, 0, err
	}
	return &testFile{File: file.(*os.File), fs: f, name: filepath.Base(name)}, size, nil
}

func (f *testFS) setFull(name string, room int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.full == nil {
		f.full = map[string]bool{}
	}
	f.full[name], f.room = true, room
}

func (f *testFS) free() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.full)
}

func (f *testFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	gate := f.fs.gate
	f.fs.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if !f.fs.full[f.name] {
		return f.File.Write(p)
	}
	n := int(min(int64(len(p)), f.fs.room))
	f.fs.room -= int64(n)
	n, err := f.File.Write(p[:n])
	if n == len(p) || err != nil {
		return n, err
	}
	return n, &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
}

func (f *testFile) Sync() error  { f.fs.syncs.Add(1); return f.File.Sync() }
func (f *testFile) Close() error { f.fs.closes.Add(1); return f.File.Close() }

// A full disk: Writes to the failing ident get an error (wrapping ErrWrite
// and ENOSPC) at once, other idents go on, and when space comes back the
// next tick's retry writes what was accepted, whole, in order. In a
// synctest bubble: synctest.Wait lets the flusher finish what it was given.
func TestFullDisk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tfs := &testFS{}
		l, dir := open(t, Config{FS: tfs, SyncInterval: time.Second})
		ctx := context.Background()
		tfs.setFull("a.log", 20) // half of the first line
		var accepted []string
		write := func(ident string, i int) error {
			line := fmt.Sprintf(`{"n":%d}`, i)
			err := l.Write(ctx, ident, "t", line)
			if err == nil && ident == "a" {
				accepted = append(accepted, "2026-12-04T09:30:00.123456789Z t "+line+"\n")
			}
			return err
		}
		if err := write("a", 0); err != nil {
			t.Fatal(err) // taken into the buffer: the disk is not known to be full yet
		}
		synctest.Wait()
		err := write("a", 1)
		if !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Write to a full disk: %v, want ErrWrite wrapping ENOSPC", err)
		}
		if err := write("b", 0); err != nil {
			t.Errorf("another ident: %v", err)
		}
		time.Sleep(time.Second) // a retry, still full
		synctest.Wait()
		if err := write("a", 2); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("still full: %v", err)
		}
		tfs.free()
		time.Sleep(time.Second) // the retry succeeds
		synctest.Wait()
		for i := 3; i < 6; i++ {
			if err := write("a", i); err != nil {
				t.Fatalf("after space came back: %v", err)
			}
		}
		closeLog(t, l)
		if got := logFiles(t, dir, "a", DefaultMaxFileSize, DefaultMaxFiles); !slices.Equal(got, accepted) {
			t.Errorf("file holds\n%q\nwant the accepted lines\n%q", got, accepted)
		}
		if l.Buffered() != 0 {
			t.Errorf("%d bytes still counted as buffered", l.Buffered())
		}
	})
}

// A stuck disk: Writes buffer up to MaxBuffered, then fail at once with
// ErrBufferFull, for every ident; nothing blocks. When the disk moves
// again, the buffer drains and Writes are taken again.
func TestBufferBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		tfs := &testFS{gate: gate}
		const maxBuffered = 64 << 10
		l, dir := open(t, Config{FS: tfs, MaxBuffered: maxBuffered})
		ctx := context.Background()
		line := strings.Repeat("x", 1000)
		accepted := 0
		var err error
		for err == nil {
			if err = l.Write(ctx, "a", "t", line); err == nil {
				accepted++
			}
		}
		if !errors.Is(err, ErrBufferFull) {
			t.Fatalf("got %v, want ErrBufferFull", err)
		}
		if b := l.Buffered(); b > maxBuffered || b < maxBuffered-1100 {
			t.Errorf("buffered %d, max %d", b, maxBuffered)
		}
		if err := l.Write(ctx, "b", "t", line); !errors.Is(err, ErrBufferFull) {
			t.Errorf("another ident: %v, want ErrBufferFull", err)
		}
		close(gate)
		synctest.Wait()
		if b := l.Buffered(); b != 0 {
			t.Errorf("after the disk moved: %d bytes buffered", b)
		}
		if err := l.Write(ctx, "b", "t", line); err != nil {
			t.Errorf("after the disk moved: %v", err)
		}
		closeLog(t, l)
		if got := len(logFiles(t, dir, "a", DefaultMaxFileSize, 1)); got != accepted {
			t.Errorf("%d lines written, %d accepted", got, accepted)
		}
	})
}

// Files are fsynced on the timer, only when written since the last sync.
func TestSyncTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tfs := &testFS{}
		l, _ := open(t, Config{FS: tfs, SyncInterval: time.Second})
		ctx := context.Background()
		steps := []struct {
			name  string
			write bool
			wait  time.Duration
			want  int32
		}{
			{name: "written, before the tick", write: true, wait: 500 * time.Millisecond, want: 0},
			{name: "the tick", wait: 500 * time.Millisecond, want: 1},
			{name: "nothing written", wait: 3 * time.Second, want: 1},
			{name: "written again", write: true, wait: time.Second, want: 2},
		}
		for _, s := range steps {
			if s.write {
				if err := l.Write(ctx, "a", "t", "{}"); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(s.wait)
			synctest.Wait()
			if got := tfs.syncs.Load(); got != s.want {
				t.Errorf("%s: %d syncs, want %d", s.name, got, s.want)
			}
		}
		closeLog(t, l) // synctest.Test fails if the flusher outlives it
	})
}

// A file not written for IdleTicks ticks is closed; the next Write opens
// it again and appends.
func TestIdleClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tfs := &testFS{}
		l, dir := open(t, Config{FS: tfs, SyncInterval: time.Second})
		ctx := context.Background()
		l.Write(ctx, "a", "t", "1")
		time.Sleep((IdleTicks - 1) * time.Second)
		synctest.Wait()
		if n := tfs.closes.Load(); n != 0 {
			t.Fatalf("closed after %d ticks", IdleTicks-1)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := tfs.closes.Load(); n != 1 {
			t.Fatalf("%d closes after %d idle ticks, want 1", n, IdleTicks+1)
		}
		if err := l.Write(ctx, "a", "t", "2"); err != nil {
			t.Fatal(err)
		}
		closeLog(t, l)
		want := "2026-12-04T09:30:00.123456789Z t 1\n2026-12-04T09:30:00.123456789Z t 2\n"
		if got := readFile(t, filepath.Join(dir, "a.log")); got != want {
			t.Errorf("%q", got)
		}
	})
}

// Close writes what is buffered; Writes after it fail; a Close whose
// context ends first returns, and the flusher still finishes.
func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		tfs := &testFS{gate: gate}
		l, dir := open(t, Config{FS: tfs})
		bg := context.Background()
		for i := range 3 {
			l.Write(bg, "a", "t", fmt.Sprint(i))
		}
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		if err := l.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close on a stuck disk: %v", err)
		}
		if err := l.Write(bg, "a", "t", "late"); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Close: %v", err)
		}
		close(gate)
		if err := l.Close(bg); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if got := strings.Count(readFile(t, filepath.Join(dir, "a.log")), "\n"); got != 3 {
			t.Errorf("%d lines written, want 3", got)
		}
	})
}

// Many writers on a few idents: every line lands once, whole, and each
// writer's lines keep their order.
func TestConcurrentWriters(t *testing.T) {
	l, dir := open(t, Config{MaxFileSize: 64 << 10, MaxFiles: 100, MaxBuffered: 8 << 20})
	idents := []string{"a", "b", "c"}
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := l.Write(context.Background(), idents[i%3], "t", fmt.Sprintf("w%d-%d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	closeLog(t, l)
	for _, ident := range idents {
		next := make([]int, writers) // each writer's next line number on this ident
		for w := range next {
			for next[w]%3 != slices.Index(idents, ident) {
				next[w]++
			}
		}
		n := 0
		for _, line := range logFiles(t, dir, ident, 64<<10, 100) {
			var w, i int
			if _, err := fmt.Sscanf(line, "2026-12-04T09:30:00.123456789Z t w%d-%d\n", &w, &i); err != nil {
				t.Fatalf("%s: line %q: %v", ident, line, err)
			}
			if i != next[w] {
				t.Fatalf("%s: writer %d's line %d after %d", ident, w, i, next[w]-3)
			}
			next[w] += 3
			n++
		}
		if want := writers * ((each - slices.Index(idents, ident) + 2) / 3); n != want {
			t.Errorf("%s: %d lines", ident, n)
		}
	}
}

// Write allocates nothing once its buffers are grown.
func TestWriteAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under -race (make test runs this without it)")
	}
	l, _ := open(t, Config{})
	ctx := context.Background()
	for range 1000 {
		l.Write(ctx, "app", "evt", `{"uid":12345,"act":"login"}`)
	}
	if n := testing.AllocsPerRun(1000, func() { l.Write(ctx, "app", "evt", `{"uid":12345,"act":"login"}`) }); n != 0 {
		t.Errorf("Write: %v allocations, want 0", n)
	}
}

func BenchmarkWrite(b *testing.B) {
	l, err := Open(Config{DataDir: b.TempDir(), MaxBuffered: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Write(ctx, "app", "evt", `{"uid":12345,"act":"login"}`); err != nil && !errors.Is(err, ErrBufferFull) {
				b.Error(err)
				return
			}
		}
	})
}
