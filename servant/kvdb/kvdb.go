package kvdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Limits and names.
const (
	// FileName is the store's file under the data directory.
	FileName = "kvdb.db"
	// MaxKeyLen is the longest key, in bytes.
	MaxKeyLen = 1024
	// MaxValueLen is the largest value, in bytes.
	MaxValueLen = 1 << 20
	// MaxBatch is the most writes committed together.
	MaxBatch = 256
	// MaxQueue is the most writes waiting for the committer.
	MaxQueue = 1024
	// lockTimeout bounds the wait for the file's lock at Open.
	lockTimeout = time.Second
)

var bucket = []byte("kv")

// Errors.
var (
	// ErrNoDataDir is returned by every call on a DB opened without a data
	// directory.
	ErrNoDataDir = errors.New("kvdb: data_dir is not set in faed's config: the store has nowhere to live")
	// ErrBadKey is returned when a key is empty or longer than MaxKeyLen.
	ErrBadKey = errors.New("kvdb: key must be 1 to 1024 bytes")
	// ErrTooLarge is returned by Set when the value is longer than MaxValueLen.
	ErrTooLarge = errors.New("kvdb: value larger than 1MiB")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("kvdb: closed")
)

// DB is the store. Safe for concurrent use.
type DB struct {
	bolt *bolt.DB // nil: no data directory

	// mu guards closed; writers hold it for reading while they queue, so
	// that Close, which takes it for writing, knows the queue is final.
	mu     sync.RWMutex
	closed bool
	queue  chan *write
	stop   chan struct{}
	done   chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// write is one Set or Del waiting for its commit.
type write struct {
	key     []byte
	value   []byte // nil: delete
	existed bool   // Del: the key was there
	done    chan error
}

// Open opens (creating it if needed) dataDir/kvdb.db and starts the
// committer. With an empty dataDir it returns a DB that refuses every call
// with ErrNoDataDir and starts nothing.
func Open(dataDir string) (*DB, error) {
	d := &DB{done: make(chan struct{})}
	if dataDir == "" {
		close(d.done)
		return d, nil
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("kvdb: %w", err)
	}
	path := filepath.Join(dataDir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("kvdb: %s is held by another process (another faed on this data_dir?)", path)
		}
		return nil, fmt.Errorf("kvdb: %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("kvdb: %s: %w", path, err)
	}
	d.bolt = db
	d.queue = make(chan *write, MaxQueue)
	d.stop = make(chan struct{})
	go d.commit()
	return d, nil
}

func checkKey(key string) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return ErrBadKey
	}
	return nil
}

// Set stores value under key; it returns once the write is on disk.
func (d *DB) Set(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueLen {
		return ErrTooLarge
	}
	if value == nil {
		value = []byte{} // nil means delete to the committer
	}
	_, err := d.do(ctx, &write{key: []byte(key), value: value})
	return err
}

// Del removes key; it returns once the removal is on disk, and reports
// whether key was there.
func (d *DB) Del(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	return d.do(ctx, &write{key: []byte(key)})
}

// do queues w and waits for its commit.
func (d *DB) do(ctx context.Context, w *write) (bool, error) {
	if d.bolt == nil {
		return false, ErrNoDataDir
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	w.done = make(chan error, 1)
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return false, ErrClosed
	}
	select {
	case d.queue <- w:
	case <-ctx.Done():
		d.mu.RUnlock()
		return false, ctx.Err()
	}
	d.mu.RUnlock()
	select {
	case err := <-w.done:
		return w.existed, err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// commit is the committer: it commits the queued writes in batches, one
// transaction and one fsync each, until Close.
func (d *DB) commit() {
	defer close(d.done)
	batch := make([]*write, 0, MaxBatch)
	for {
		select {
		case w := <-d.queue:
			batch = append(batch[:0], w)
		case <-d.stop:
			// Close has shut the queue: commit what is left in it.
			for len(d.queue) > 0 {
				batch = batch[:0]
				for len(d.queue) > 0 && len(batch) < MaxBatch {
					batch = append(batch, <-d.queue)
				}
				d.apply(batch)
			}
			return
		}
	more:
		for len(batch) < MaxBatch {
			select {
			case w := <-d.queue:
				batch = append(batch, w)
			default:
				break more
			}
		}
		d.apply(batch)
	}
}

// apply commits batch in one transaction and tells each write how it went.
func (d *DB) apply(batch []*write) {
	err := d.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, w := range batch {
			if w.value != nil {
				if err := b.Put(w.key, w.value); err != nil {
					return err
				}
				continue
			}
			w.existed = b.Get(w.key) != nil
			if err := b.Delete(w.key); err != nil {
				return err
			}
		}
		return nil
	})
	for _, w := range batch {
		if err != nil {
			w.existed = false
			err = fmt.Errorf("kvdb: %w", err)
		}
		w.done <- err
	}
	clear(batch)
}

// Get returns a copy of key's value and true, or nil and false.
func (d *DB) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if d.bolt == nil {
		return nil, false, ErrNoDataDir
	}
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, false, ErrClosed
	}
	var value []byte
	var ok bool
	err := d.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get([]byte(key))
		if v != nil {
			value, ok = append([]byte{}, v...), true
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("kvdb: %w", err)
	}
	return value, ok, nil
}

// Close commits the queued writes, stops the committer and closes the file.
// It returns ctx's error if ctx ends first (the committer then finishes on
// its own and the file stays open).
func (d *DB) Close(ctx context.Context) error {
	if d.bolt == nil {
		return nil
	}
	d.mu.Lock()
	first := !d.closed
	d.closed = true
	d.mu.Unlock()
	if first {
		close(d.stop)
	}
	select {
	case <-d.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	d.closeOnce.Do(func() { d.closeErr = d.bolt.Close() })
	return d.closeErr
}
