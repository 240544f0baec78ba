package dlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits and defaults.
const (
	// SubDir is the folder of the log files under the data directory.
	SubDir = "dlog"
	// MaxNameLen is the longest ident or tag, in bytes.
	MaxNameLen = 128
	// MaxLineLen is the longest line, in bytes.
	MaxLineLen = 64 << 10
	// MaxIdents is the most files open at once.
	MaxIdents = 1024
	// IdleTicks is how many sync intervals an ident's file stays open
	// without a write.
	IdleTicks = 60

	DefaultMaxFileSize  = 64 << 20
	DefaultMaxFiles     = 8
	DefaultMaxBuffered  = 4 << 20
	DefaultSyncInterval = time.Second

	// keepBuf is the largest buffer kept for reuse after a flush.
	keepBuf = 256 << 10
)

// Errors.
var (
	// ErrNoDataDir is returned by every Write of a Log opened without a
	// data directory.
	ErrNoDataDir = errors.New("dlog: data_dir is not set in faed's config: logs have nowhere to go")
	// ErrBadName is returned by Write when ident or tag is not 1-128 bytes
	// of ASCII letters, digits, '.', '_' or '-', or starts with '.'.
	ErrBadName = errors.New("dlog: ident and tag must be 1-128 bytes of letters, digits, '.', '_' or '-', not starting with '.'")
	// ErrBadLine is returned by Write when the line holds '\n' or '\r', or
	// is longer than MaxLineLen.
	ErrBadLine = errors.New("dlog: a line must hold no newline and be at most 64KiB")
	// ErrBufferFull is returned by Write when the bytes waiting to be
	// written would pass the Log's maximum: the disk is not keeping up.
	ErrBufferFull = errors.New("dlog: too many bytes waiting for the disk")
	// ErrTooManyIdents is returned by Write when MaxIdents files are open
	// and the line is for another ident.
	ErrTooManyIdents = errors.New("dlog: too many idents written at once")
	// ErrWrite is wrapped, with the cause, in the error Write returns
	// while writing or syncing the ident's file is failing.
	ErrWrite = errors.New("dlog: writing the log file failed")
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("dlog: closed")
)

// Config configures a Log. Zero fields take the defaults.
type Config struct {
	// DataDir is faed's data directory; files go to DataDir/dlog. Empty:
	// every Write fails with ErrNoDataDir.
	DataDir string
	// MaxFileSize is the size past which a file is rotated. Default 64MiB.
	MaxFileSize int64
	// MaxFiles is how many files of an ident are kept, the one being
	// written included. Default 8.
	MaxFiles int
	// MaxBuffered bounds the bytes accepted and not yet written, over all
	// idents. Default 4MiB.
	MaxBuffered int64
	// SyncInterval is how often written files are fsynced. Default 1s.
	SyncInterval time.Duration
	// Clock stamps the lines; nil: time.Now.
	Clock func() time.Time
	// FS is the file system; nil: OSFS.
	FS FS
}

// Log appends lines to per-ident files. Safe for concurrent use.
type Log struct {
	cfg      Config
	dir      string // DataDir/dlog; empty: no data directory
	buffered atomic.Int64
	tick     atomic.Int64 // sync ticks so far

	// mu guards streams and closed. Writes hold it for reading while they
	// append, so Close and the closing of idle files never lose a line;
	// adding and removing streams take it for writing.
	mu      sync.RWMutex
	streams map[string]*stream
	closed  bool

	dirtyMu sync.Mutex
	dirty   []*stream // streams whose buffer went from empty to not
	spare   []*stream // the flusher's, swapped with dirty
	kick    chan struct{}

	stop     chan struct{}
	done     chan struct{}
	closeErr error // the last flush's errors, read after done
}

// stream is one ident's file and buffers.
type stream struct {
	ident string
	name  string // the file's path

	mu       sync.Mutex // guards buf, err, lastTick, gone
	buf      []byte     // lines accepted, not yet taken by the flusher
	err      error      // the last write or sync failure; Writes fail while set
	lastTick int64      // the tick of the last Write
	gone     bool       // closed for being idle: no longer in the map

	// The flusher's own.
	f        File // nil after a failed rotation, until opened again
	size     int64
	out      []byte // taken from buf, not yet written
	midLine  bool   // the file ends inside a line (a write failed halfway)
	unsynced bool
}

// Open starts a Log on cfg. Without a DataDir it returns a Log that refuses
// every Write with ErrNoDataDir and starts nothing.
func Open(cfg Config) (*Log, error) {
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = DefaultMaxFiles
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = DefaultMaxBuffered
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.FS == nil {
		cfg.FS = OSFS{}
	}
	l := &Log{cfg: cfg, streams: map[string]*stream{}, done: make(chan struct{})}
	if cfg.DataDir == "" {
		close(l.done)
		return l, nil
	}
	l.dir = filepath.Join(cfg.DataDir, SubDir)
	if err := cfg.FS.MkdirAll(l.dir); err != nil {
		return nil, fmt.Errorf("dlog: %w", err)
	}
	l.kick = make(chan struct{}, 1)
	l.stop = make(chan struct{})
	go l.run()
	return l, nil
}

// Write appends "<time> <tag> <line>\n" to ident's file (see the package
// doc). It returns once the line is buffered, without waiting for the disk.
// Its errors are the package's sentinels (ErrWrite wrapped with its cause),
// or ctx's error if ctx has ended.
func (l *Log) Write(ctx context.Context, ident, tag, line string) error {
	if l.dir == "" {
		return ErrNoDataDir
	}
	if !validName(ident) || !validName(tag) {
		return ErrBadName
	}
	if len(line) > MaxLineLen || strings.ContainsAny(line, "\r\n") {
		return ErrBadLine
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for {
		l.mu.RLock()
		if l.closed {
			l.mu.RUnlock()
			return ErrClosed
		}
		if s := l.streams[ident]; s != nil {
			err := l.appendLine(s, tag, line)
			l.mu.RUnlock()
			return err
		}
		l.mu.RUnlock()
		if err := l.open(ident); err != nil {
			return err
		}
	}
}

// appendLine buffers one line on s; the caller holds l.mu for reading.
func (l *Log) appendLine(s *stream, tag, line string) error {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	before := len(s.buf)
	s.buf = l.cfg.Clock().UTC().AppendFormat(s.buf, time.RFC3339Nano)
	s.buf = append(s.buf, ' ')
	s.buf = append(s.buf, tag...)
	s.buf = append(s.buf, ' ')
	s.buf = append(s.buf, line...)
	s.buf = append(s.buf, '\n')
	n := int64(len(s.buf) - before)
	if l.buffered.Add(n) > l.cfg.MaxBuffered {
		l.buffered.Add(-n)
		s.buf = s.buf[:before]
		s.mu.Unlock()
		return ErrBufferFull
	}
	s.lastTick = l.tick.Load()
	s.mu.Unlock()
	if before == 0 {
		l.dirtyMu.Lock()
		l.dirty = append(l.dirty, s)
		l.dirtyMu.Unlock()
		select {
		case l.kick <- struct{}{}:
		default: // already kicked
		}
	}
	return nil
}

// open adds ident's stream, its file opened outside the lock so that a slow
// open holds up no other Write.
func (l *Log) open(ident string) error {
	l.mu.RLock()
	n := len(l.streams)
	l.mu.RUnlock()
	if n >= MaxIdents {
		return ErrTooManyIdents
	}
	s := &stream{ident: ident, name: filepath.Join(l.dir, ident+".log")}
	f, size, err := l.cfg.FS.OpenAppend(s.name)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrWrite, ident, err)
	}
	s.f, s.size, s.lastTick = f, size, l.tick.Load()
	l.mu.Lock()
	switch {
	case l.closed:
		err = ErrClosed
	case l.streams[ident] != nil: // opened meanwhile by another Write
	case len(l.streams) >= MaxIdents:
		err = ErrTooManyIdents
	default:
		l.streams[ident] = s
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	f.Close()
	return err
}

// Buffered returns the bytes accepted and not yet written.
func (l *Log) Buffered() int64 { return l.buffered.Load() }

// Close stops taking lines, writes and syncs what is buffered, closes the
// files and stops the flusher. It returns the errors of that last flush, or
// ctx's error if ctx ends first (the flusher then finishes on its own).
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	first := !l.closed
	l.closed = true
	l.mu.Unlock()
	if first && l.stop != nil {
		close(l.stop)
	}
	select {
	case <-l.done:
		return l.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the flusher: it writes buffers out when kicked, and on every tick
// retries failed files, syncs written ones and closes idle ones.
func (l *Log) run() {
	defer close(l.done)
	ticker := time.NewTicker(l.cfg.SyncInterval)
	defer ticker.Stop()
	var all []*stream
	for {
		select {
		case <-l.kick:
			l.flushDirty()
		case <-ticker.C:
			tick := l.tick.Add(1)
			l.flushDirty()
			all = l.snapshot(all[:0])
			for _, s := range all {
				l.tend(s, tick)
			}
		case <-l.stop:
			l.flushDirty()
			var errs []error
			for _, s := range l.snapshot(all[:0]) {
				err := l.flush(s) // wrapped by s.fail
				if err == nil {
					if e := l.sync(s); e != nil {
						err = s.fail(e)
					}
				}
				if s.f != nil {
					if e := s.f.Close(); e != nil {
						err = errors.Join(err, s.fail(e))
					}
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
			l.closeErr = errors.Join(errs...)
			return
		}
	}
}

// snapshot appends every stream to all.
func (l *Log) snapshot(all []*stream) []*stream {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, s := range l.streams {
		all = append(all, s)
	}
	return all
}

// flushDirty writes out the streams that were written to, except failed
// ones, which wait for the next tick's retry.
func (l *Log) flushDirty() {
	l.dirtyMu.Lock()
	dirty := l.dirty
	l.dirty, l.spare = l.spare[:0], nil
	l.dirtyMu.Unlock()
	for _, s := range dirty {
		if s.failure() == nil {
			l.flush(s)
		}
	}
	clear(dirty)
	l.dirtyMu.Lock()
	l.spare = dirty
	l.dirtyMu.Unlock()
}

// tend is a tick's work on s: retry a failed file, sync a written one,
// close an idle one.
func (l *Log) tend(s *stream, tick int64) {
	failed := s.failure() != nil
	if failed {
		if l.flush(s) != nil {
			return
		}
	}
	if err := l.sync(s); err != nil {
		s.fail(err)
		return
	}
	if failed {
		s.mu.Lock()
		s.err = nil
		s.mu.Unlock()
	}
	l.closeIfIdle(s, tick)
}

func (s *stream) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// fail records err as s's failure, which Writes to s return until a retry
// succeeds, and returns it.
func (s *stream) fail(err error) error {
	err = fmt.Errorf("%w: %s: %w", ErrWrite, s.ident, err)
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	return err
}

// flush writes out what s holds: the bytes a failed write left, then its
// buffer (twice at most: lines that arrive meanwhile kick it again).
func (l *Log) flush(s *stream) error {
	for range 2 {
		if len(s.out) == 0 {
			s.mu.Lock()
			if s.gone {
				s.mu.Unlock()
				return nil
			}
			s.out, s.buf = s.buf, s.out[:0]
			s.mu.Unlock()
			if len(s.out) == 0 {
				return nil
			}
		}
		n, err := l.writeOut(s)
		l.buffered.Add(-n)
		if err != nil {
			return s.fail(err)
		}
		if cap(s.out) > keepBuf {
			s.out = nil
		}
	}
	return nil
}

// writeOut writes s.out to s's file, rotating it when the next line would
// pass MaxFileSize; it returns how many bytes it wrote.
func (l *Log) writeOut(s *stream) (int64, error) {
	var written int64
	for len(s.out) > 0 {
		if s.f == nil {
			f, size, err := l.cfg.FS.OpenAppend(s.name)
			if err != nil {
				return written, err
			}
			s.f, s.size = f, size
		}
		chunk := l.fit(s)
		if len(chunk) == 0 {
			if err := l.rotate(s); err != nil {
				return written, err
			}
			continue
		}
		n, err := s.f.Write(chunk)
		written += int64(n)
		s.size += int64(n)
		s.out = s.out[n:]
		if n > 0 {
			s.unsynced = true
			s.midLine = chunk[n-1] != '\n'
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// fit returns the front of s.out that goes into the current file: the
// whole lines that fit in it; the first line alone if the file is empty (a
// line longer than MaxFileSize gets a file of its own); the rest of a line
// a failed write cut short, wherever it ends; or nothing: rotate first.
func (l *Log) fit(s *stream) []byte {
	room := l.cfg.MaxFileSize - s.size
	switch {
	case s.midLine || s.size == 0 && int64(len(s.out)) > room:
		return s.out[:bytes.IndexByte(s.out, '\n')+1]
	case int64(len(s.out)) <= room:
		return s.out
	case room <= 0:
		return nil
	}
	return s.out[:bytes.LastIndexByte(s.out[:room], '\n')+1]
}

// rotate syncs and closes s's file, shifts <ident>.log.N up by one (the
// oldest is dropped) and <ident>.log to .1, and opens a new <ident>.log.
func (l *Log) rotate(s *stream) error {
	if err := l.sync(s); err != nil {
		return err
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return err
	}
	if l.cfg.MaxFiles == 1 {
		if err := ignoreMissing(l.cfg.FS.Remove(s.name)); err != nil {
			return err
		}
	}
	for i := l.cfg.MaxFiles - 1; i >= 1; i-- {
		if err := ignoreMissing(l.cfg.FS.Rename(l.rotated(s, i-1), l.rotated(s, i))); err != nil {
			return err
		}
	}
	f, size, err := l.cfg.FS.OpenAppend(s.name)
	if err != nil {
		return err
	}
	s.f, s.size, s.midLine = f, size, false
	return nil
}

// rotated is the name of s's file n rotations old (0: the current one).
func (l *Log) rotated(s *stream, n int) string {
	if n == 0 {
		return s.name
	}
	return s.name + "." + strconv.Itoa(n)
}

// sync fsyncs s's file if it was written since the last sync.
func (l *Log) sync(s *stream) error {
	if !s.unsynced || s.f == nil {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.unsynced = false
	return nil
}

// closeIfIdle closes s's file if nothing was written to it for IdleTicks
// ticks and nothing waits; the next Write opens it again.
func (l *Log) closeIfIdle(s *stream, tick int64) {
	if len(s.out) > 0 || s.unsynced {
		return
	}
	l.mu.Lock()
	s.mu.Lock()
	idle := tick-s.lastTick >= IdleTicks && len(s.buf) == 0 && s.err == nil
	if idle {
		s.gone = true
		delete(l.streams, s.ident)
	}
	s.mu.Unlock()
	l.mu.Unlock()
	if idle && s.f != nil {
		s.f.Close()
	}
}

// validName: 1 to MaxNameLen bytes of [A-Za-z0-9._-], not starting with '.'.
func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
