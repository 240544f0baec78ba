package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	// ErrInvalidOp is returned by Append for an Op without a server or a
	// request.
	ErrInvalidOp = errors.New("spool: op needs a server and a request")
	// ErrCorrupt is returned when an entry on disk cannot be decoded.
	ErrCorrupt = errors.New("spool: corrupt entry")
)

// Defaults of Config.
const (
	DefaultMaxTries    = 10
	DefaultLockTimeout = time.Second
)

// Config says where the spool lives and how it treats failing entries.
type Config struct {
	// Path of the bbolt file (faed uses <data_dir>/spool.db); its directory
	// must exist. Open creates the file.
	Path string
	// MaxTries is how many failed tries move an entry to the dead letters
	// (default 10). Only tries the server answered count: see Replay.
	MaxTries int
	// LockTimeout is how long Open waits while another process holds the
	// file (default 1s), so that a second faed on one data_dir fails.
	LockTimeout time.Duration
	// Logger gets a line per dead-lettered entry; nil means slog.Default().
	Logger *slog.Logger
}

// Op is one write to spool. The spool keeps copies of its slices.
type Op struct {
	Pool   string
	Server string // the server's address: entries queue per server
	Key    []byte // the item's key, for superseding
	// Request is one memcached request exactly as it is to be sent again
	// (command line and data block). It must ask for a reply (no noreply,
	// no q flag): the replayer removes an entry only once the server has
	// answered it.
	Request []byte
	// Supersedes marks a write whose effect on the key depends on nothing
	// before it: an unconditional set or delete. Appending one removes the
	// key's older entries on that server, which it would overwrite anyway.
	// Leave it false for add, replace, cas, append, prepend, incr, decr and
	// touch: they queue behind the key's older entries, in order.
	Supersedes bool
}

// Entry is an Op in the spool.
type Entry struct {
	Op
	ID        uint64 // sequence number, increasing in append order over the whole spool
	Tries     int    // failed tries so far
	LastError string // the last failed try's error
}

// Root buckets; each holds one nested bucket per server, named by address.
var (
	queueBucket = []byte("queue") // id → entry, in append order
	indexBucket = []byte("index") // keyPrefix(key)+id → nil, to find a key's entries
	deadBucket  = []byte("dead")  // id → entry, dead letters
)

// Spool is a durable queue of writes per server. Safe for concurrent use.
type Spool struct {
	db       *bolt.DB
	maxTries int
	log      *slog.Logger

	mu      sync.Mutex
	servers map[string]*serverState

	group struct { // group commit of Appends
		mu    sync.Mutex
		busy  bool // a commit is being written; its leader hands over
		queue []*pendingAppend
		off   bool // each Append commits alone (benchmarks compare)
	}

	appended, superseded, acked, deadLettered atomic.Uint64
}

type serverState struct {
	pending, dead int
	wake          chan struct{} // gets a token after each Append to the server
}

// Open opens or creates the spool file and counts what it holds.
func Open(cfg Config) (*Spool, error) {
	if cfg.MaxTries <= 0 {
		cfg.MaxTries = DefaultMaxTries
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = DefaultLockTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: cfg.LockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", cfg.Path, err)
	}
	s := &Spool{db: db, maxTries: cfg.MaxTries, log: cfg.Logger, servers: map[string]*serverState{}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{queueBucket, indexBucket, deadBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		count := func(root []byte, add func(*serverState, int)) error {
			return tx.Bucket(root).ForEachBucket(func(name []byte) error {
				add(s.server(string(name)), tx.Bucket(root).Bucket(name).Stats().KeyN)
				return nil
			})
		}
		if err := count(queueBucket, func(st *serverState, n int) { st.pending = n }); err != nil {
			return err
		}
		return count(deadBucket, func(st *serverState, n int) { st.dead = n })
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("spool: open %s: %w", cfg.Path, err)
	}
	return s, nil
}

// Close closes the file. Calls after Close return errors.
func (s *Spool) Close() error { return s.db.Close() }

// server returns the state of a server, creating it; s.mu must be held or
// s not yet shared.
func (s *Spool) server(name string) *serverState {
	st := s.servers[name]
	if st == nil {
		st = &serverState{wake: make(chan struct{}, 1)}
		s.servers[name] = st
	}
	return st
}

// Append writes op to the end of its server's queue and returns its
// sequence number once the write is fsynced. On an error (the disk is full
// or read-only, the spool closed, ctx done before the write began) nothing
// was kept. Append blocks for a disk write and an fsync (a fraction of a
// millisecond to milliseconds): never call it on an event loop.
//
// Concurrent Appends share commits (group commit): while one transaction
// is being written, the Appends that arrive queue, and the first of them
// writes them all in the next one. A lone Append pays one commit; many
// pay one commit per batch, not each.
func (s *Spool) Append(ctx context.Context, op Op) (uint64, error) {
	if op.Server == "" || len(op.Request) == 0 {
		return 0, ErrInvalidOp
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	a := &pendingAppend{op: op, value: encode(&Entry{Op: op}), done: make(chan struct{})}
	if s.group.off {
		s.commit([]*pendingAppend{a})
		return a.id, a.err
	}
	s.group.mu.Lock()
	s.group.queue = append(s.group.queue, a)
	lead := !s.group.busy
	s.group.busy = true
	s.group.mu.Unlock()
	if !lead {
		<-a.done
		if !a.lead {
			return a.id, a.err
		}
	}
	s.group.mu.Lock()
	batch := s.group.queue
	s.group.queue = nil
	s.group.mu.Unlock()

	s.commit(batch)

	s.group.mu.Lock()
	if len(s.group.queue) > 0 {
		next := s.group.queue[0] // hand over: it commits the queue
		next.lead = true
		close(next.done)
	} else {
		s.group.busy = false
	}
	s.group.mu.Unlock()
	return a.id, a.err
}

// pendingAppend is an Append waiting for its commit.
type pendingAppend struct {
	op      Op
	value   []byte
	id      uint64
	dropped int // older entries of its key it superseded
	err     error
	lead    bool          // woken to commit the queue, not with its result
	done    chan struct{} // closed once id and err are set, or to lead
}

// commit writes a batch of Appends in one transaction, sets their results
// and wakes them. One failure fails them all: nothing of the batch is kept.
func (s *Spool) commit(batch []*pendingAppend) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, a := range batch {
			q, ix, err := serverBuckets(tx, a.op.Server)
			if err != nil {
				return err
			}
			if a.op.Supersedes {
				if a.dropped, err = dropKey(q, ix, a.op.Key); err != nil {
					return err
				}
			}
			if a.id, err = tx.Bucket(queueBucket).NextSequence(); err != nil {
				return err
			}
			if err := q.Put(idKey(a.id), a.value); err != nil {
				return err
			}
			if err := ix.Put(indexKey(a.op.Key, a.id), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.mu.Lock()
		for _, a := range batch {
			s.server(a.op.Server).pending += 1 - a.dropped
			s.appended.Add(1)
			s.superseded.Add(uint64(a.dropped))
		}
		s.mu.Unlock()
	}
	for _, a := range batch {
		if err != nil {
			a.id, a.dropped, a.err = 0, 0, fmt.Errorf("spool: append for %s: %w", a.op.Server, err)
		} else {
			s.wakeReplayer(a.op.Server)
		}
		if !a.lead {
			close(a.done)
		}
	}
}

func (s *Spool) wakeReplayer(server string) {
	s.mu.Lock()
	wake := s.server(server).wake
	s.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
}

func serverBuckets(tx *bolt.Tx, server string) (q, ix *bolt.Bucket, err error) {
	if q, err = tx.Bucket(queueBucket).CreateBucketIfNotExists([]byte(server)); err != nil {
		return nil, nil, err
	}
	if ix, err = tx.Bucket(indexBucket).CreateBucketIfNotExists([]byte(server)); err != nil {
		return nil, nil, err
	}
	return q, ix, nil
}

// dropKey removes every queued entry of key, returning how many.
func dropKey(q, ix *bolt.Bucket, key []byte) (int, error) {
	prefix := keyPrefix(key)
	var found [][]byte
	c := ix.Cursor()
	for k, _ := c.Seek(prefix); k != nil && len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		found = append(found, k)
	}
	for _, k := range found {
		if err := q.Delete(k[len(prefix):]); err != nil {
			return 0, err
		}
		if err := ix.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(found), nil
}

// Next returns the oldest entry queued for server, if any. It does not
// remove it: Ack or Fail does.
func (s *Spool) Next(server string) (e Entry, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		q := tx.Bucket(queueBucket).Bucket([]byte(server))
		if q == nil {
			return nil
		}
		k, v := q.Cursor().First()
		if k == nil {
			return nil
		}
		ok = true
		return decode(server, k, v, &e)
	})
	return e, ok && err == nil, err
}

// Entries returns every entry queued for server, oldest first: what a
// restarted sidecar had acknowledged and not yet delivered.
func (s *Spool) Entries(server string) ([]Entry, error) { return s.list(queueBucket, server) }

// Ack removes an entry that its server confirmed. An entry no longer queued
// (superseded meanwhile) is not an error.
func (s *Spool) Ack(server string, id uint64) error {
	var removed bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		q, ix, e, err := queued(tx, server, id)
		if e == nil || err != nil {
			removed = false
			return err
		}
		removed = true
		return unqueue(q, ix, e)
	})
	if err != nil {
		return fmt.Errorf("spool: ack %s #%d: %w", server, id, err)
	}
	if removed {
		s.acked.Add(1)
		s.mu.Lock()
		s.server(server).pending--
		s.mu.Unlock()
	}
	return nil
}

// Fail counts a failed try of an entry, remembering cause. At MaxTries it
// moves the entry to the server's dead letters, logs it and reports dead.
// An entry no longer queued is not an error.
func (s *Spool) Fail(server string, id uint64, cause error) (dead bool, err error) {
	var e *Entry
	err = s.db.Update(func(tx *bolt.Tx) error {
		dead = false
		var q, ix *bolt.Bucket
		var err error
		if q, ix, e, err = queued(tx, server, id); e == nil || err != nil {
			return err
		}
		e.Tries++
		if cause != nil {
			e.LastError = cause.Error()
		}
		if e.Tries < s.maxTries {
			return q.Put(idKey(id), encode(e))
		}
		dead = true
		d, err := tx.Bucket(deadBucket).CreateBucketIfNotExists([]byte(server))
		if err != nil {
			return err
		}
		if err := d.Put(idKey(id), encode(e)); err != nil {
			return err
		}
		return unqueue(q, ix, e)
	})
	if err != nil {
		return false, fmt.Errorf("spool: fail %s #%d: %w", server, id, err)
	}
	if dead {
		s.deadLettered.Add(1)
		s.mu.Lock()
		st := s.server(server)
		st.pending--
		st.dead++
		s.mu.Unlock()
		s.log.Warn("spool: write moved to dead letters", "server", server, "pool", e.Pool,
			"key", string(e.Key), "id", id, "tries", e.Tries, "error", e.LastError)
	}
	return dead, nil
}

// queued reads entry id of server in tx, with the server's buckets; e is
// nil when it is no longer queued.
func queued(tx *bolt.Tx, server string, id uint64) (q, ix *bolt.Bucket, e *Entry, err error) {
	if q, ix, err = serverBuckets(tx, server); err != nil {
		return nil, nil, nil, err
	}
	v := q.Get(idKey(id))
	if v == nil {
		return q, ix, nil, nil
	}
	e = &Entry{}
	if err := decode(server, idKey(id), v, e); err != nil {
		return nil, nil, nil, err
	}
	return q, ix, e, nil
}

// unqueue removes a queued entry and its index key.
func unqueue(q, ix *bolt.Bucket, e *Entry) error {
	if err := q.Delete(idKey(e.ID)); err != nil {
		return err
	}
	return ix.Delete(indexKey(e.Key, e.ID))
}

// DeadLetters returns the dead-lettered entries of server, oldest first.
func (s *Spool) DeadLetters(server string) ([]Entry, error) { return s.list(deadBucket, server) }

// list returns the entries of server's bucket under root, in id order.
func (s *Spool) list(root []byte, server string) ([]Entry, error) {
	var out []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(root).Bucket([]byte(server))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var e Entry
			if err := decode(server, k, v, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// Len returns how many entries are queued for server.
func (s *Spool) Len(server string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.servers[server]; st != nil {
		return st.pending
	}
	return 0
}

// Servers returns the servers with queued entries, sorted.
func (s *Spool) Servers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, st := range s.servers {
		if st.pending > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// wake returns the channel that gets a token after each Append to server.
func (s *Spool) wake(server string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.server(server).wake
}

// ServerStats are one server's counts.
type ServerStats struct {
	Pending int // entries queued
	Dead    int // entries in the dead letters
}

// Stats are the spool's counts: per server now, and totals since Open.
type Stats struct {
	Servers      map[string]ServerStats
	Appended     uint64 // entries appended
	Superseded   uint64 // entries removed by a newer write of their key
	Acked        uint64 // entries the server confirmed
	DeadLettered uint64 // entries moved to the dead letters
}

// Stats returns the counts.
func (s *Spool) Stats() Stats {
	st := Stats{
		Servers:      map[string]ServerStats{},
		Appended:     s.appended.Load(),
		Superseded:   s.superseded.Load(),
		Acked:        s.acked.Load(),
		DeadLettered: s.deadLettered.Load(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, ss := range s.servers {
		if ss.pending > 0 || ss.dead > 0 {
			st.Servers[name] = ServerStats{Pending: ss.pending, Dead: ss.dead}
		}
	}
	return st
}

// idKey is an entry's key in its bucket: the id big-endian, so that bbolt's
// byte order is append order.
func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// keyPrefix is uvarint(len(key)) key: no key's prefix is another's.
func keyPrefix(key []byte) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(key))), key...)
}

func indexKey(key []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(keyPrefix(key), id)
}

// An entry on disk: version 1, flags, uvarint tries, then pool, key,
// request and last error, each as uvarint length and bytes. The server is
// the bucket's name, the id the key.
const (
	formatV1        = 1
	flagSupersedes  = 1
	entryHeaderSize = 2
)

func encode(e *Entry) []byte {
	b := make([]byte, 0, entryHeaderSize+4*binary.MaxVarintLen32+len(e.Pool)+len(e.Key)+len(e.Request)+len(e.LastError)+binary.MaxVarintLen64)
	var flags byte
	if e.Supersedes {
		flags |= flagSupersedes
	}
	b = append(b, formatV1, flags)
	b = binary.AppendUvarint(b, uint64(e.Tries))
	for _, f := range [][]byte{[]byte(e.Pool), e.Key, e.Request, []byte(e.LastError)} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// decode fills e from a bucket's key and value, copying: bbolt's slices
// live only as long as the transaction.
func decode(server string, k, v []byte, e *Entry) error {
	if len(k) != 8 || len(v) < entryHeaderSize || v[0] != formatV1 {
		return ErrCorrupt
	}
	e.Server = server
	e.ID = binary.BigEndian.Uint64(k)
	e.Supersedes = v[1]&flagSupersedes != 0
	v = v[entryHeaderSize:]
	tries, n := binary.Uvarint(v)
	if n <= 0 {
		return ErrCorrupt
	}
	e.Tries = int(tries)
	v = v[n:]
	var fields [4][]byte
	for i := range fields {
		l, n := binary.Uvarint(v)
		if n <= 0 || uint64(len(v)-n) < l {
			return ErrCorrupt
		}
		fields[i] = bytes.Clone(v[n : n+int(l)])
		v = v[n+int(l):]
	}
	e.Pool, e.Key, e.Request, e.LastError = string(fields[0]), fields[1], fields[2], string(fields[3])
	return nil
}
