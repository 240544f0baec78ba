package lagrelay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config is what a Relay relays, and how.
type Config struct {
	// Listen is the host:port to accept on (port 0: any free port).
	Listen string
	// Upstream is the host:port every accepted connection is relayed to,
	// over a connection of its own.
	Upstream string
	// Delay is the one-way delay: each chunk is written Delay after it was
	// read, in both directions. 0 relays at once.
	Delay time.Duration
	// Handshake holds a connection's first client bytes until 3*Delay after
	// its accept, the round trip of TCP's handshake plus the bytes' own
	// way (see the package doc).
	Handshake bool
	// MaxQueued bounds the bytes held for one direction of a connection:
	// past it the relay stops reading that direction's source until half
	// of them are written. 0: DefaultMaxQueued.
	MaxQueued int
}

// DefaultMaxQueued is Config.MaxQueued's default: 4 MiB.
const DefaultMaxQueued = 4 << 20

// readSize is the most one read takes, the size of a chunk's buffer.
const readSize = 16 << 10

// Relay is a bound relay; see the package doc. Serve runs it once.
type Relay struct {
	cfg    Config
	lnfd   int
	addr   string
	up     unix.Sockaddr
	family int
	st     counters

	mu      sync.Mutex // guards started and closed against Serve and Close
	started bool
	closed  bool
}

// Listen checks cfg, resolves its addresses and binds the listener; the
// relay accepts nothing until Serve. Close (or Serve's end) releases it.
func Listen(cfg Config) (*Relay, error) {
	if cfg.Delay < 0 {
		return nil, fmt.Errorf("lagrelay: delay %v: must not be negative", cfg.Delay)
	}
	if cfg.MaxQueued < 0 {
		return nil, fmt.Errorf("lagrelay: max queued %d: must not be negative", cfg.MaxQueued)
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	up, family, err := sockaddr(cfg.Upstream)
	if err != nil {
		return nil, fmt.Errorf("lagrelay: upstream: %w", err)
	}
	la, lfamily, err := sockaddr(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("lagrelay: listen: %w", err)
	}
	fd, err := unix.Socket(lfamily, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lagrelay: listen: %w", err)
	}
	if err := listenOn(fd, la); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lagrelay: listen %s: %w", cfg.Listen, err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lagrelay: listen: %w", err)
	}
	return &Relay{cfg: cfg, lnfd: fd, addr: addrString(bound), up: up, family: family}, nil
}

func listenOn(fd int, sa unix.Sockaddr) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	if err := unix.Bind(fd, sa); err != nil {
		return err
	}
	return unix.Listen(fd, 4096)
}

// sockaddr resolves host:port to a socket address and its family.
func sockaddr(hostport string) (unix.Sockaddr, int, error) {
	a, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		return nil, 0, err
	}
	if ip4 := a.IP.To4(); ip4 != nil || a.IP == nil {
		sa := &unix.SockaddrInet4{Port: a.Port}
		if ip4 != nil {
			copy(sa.Addr[:], ip4)
		}
		return sa, unix.AF_INET, nil
	}
	sa := &unix.SockaddrInet6{Port: a.Port}
	copy(sa.Addr[:], a.IP.To16())
	return sa, unix.AF_INET6, nil
}

func addrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return (&net.TCPAddr{IP: a.Addr[:], Port: a.Port}).String()
	case *unix.SockaddrInet6:
		return (&net.TCPAddr{IP: a.Addr[:], Port: a.Port}).String()
	}
	return fmt.Sprint(sa)
}

// Addr is the address the relay accepts on.
func (r *Relay) Addr() string { return r.addr }

// Stats returns the relay's counters; safe to call at any time.
func (r *Relay) Stats() Stats { return r.st.snapshot() }

// Close releases the listener of a relay never served; Serve releases
// everything itself when it returns, so Close after Serve does nothing.
func (r *Relay) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return nil
	}
	r.closed = true
	return unix.Close(r.lnfd)
}

// Serve relays until ctx is done, then closes every connection and the
// listener and returns ctx's error. It fails at once when called twice or
// after Close, and returns early on an unexpected system error. It runs on
// the calling goroutine, locked to its OS thread.
func (r *Relay) Serve(ctx context.Context) error {
	r.mu.Lock()
	if r.started || r.closed {
		r.mu.Unlock()
		return errors.New("lagrelay: Serve called twice, or after Close")
	}
	r.started = true
	r.mu.Unlock()

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Why: the loop sleeps until the next chunk is due, and the kernel may
	// wake a thread up to its timer slack (50µs by default) late. The
	// thread's slack is put back before it is unlocked.
	if old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0); err == nil {
		unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
		defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	}

	l, err := newLoop(r)
	if err != nil {
		unix.Close(r.lnfd)
		return err
	}
	defer l.closeAll()
	stop := context.AfterFunc(ctx, l.wake)
	defer stop()
	if err := l.run(ctx); err != nil {
		return err
	}
	return ctx.Err()
}

// side is one socket of a relayed connection: the client's or the
// upstream's. Its peer is the other one.
type side struct {
	fd         int
	id         uint32 // in the epoll event, so a reused fd is not taken for this side
	peer       *side
	out        fifo // chunks due but not written yet: the socket was full or connecting
	queued     int  // bytes read from peer and not yet written here
	connecting bool // the upstream's non-blocking connect is in progress
	readEOF    bool // read 0: this side sent its FIN
	shutWR     bool // the peer's FIN was forwarded here
	paused     bool // not reading this side: its peer holds MaxQueued bytes
	closed     bool
	registered bool   // in epoll, waiting for events
	events     uint32 // the events it waits for
	firstDue   int64  // Handshake: the earliest due of bytes read from this (client) side
}

// loop is the relay's event loop state; only Serve's goroutine touches it.
type loop struct {
	r      *Relay
	epfd   int
	evfd   int
	base   time.Time
	delay  int64
	max    int
	sides  []*side // by fd
	nextID uint32
	heap   dueHeap
	pool   chunkPool
	seq    uint64
	pwait2 bool // epoll_pwait2 works (kernel 5.11+); else epoll_wait in ms
	events []unix.EpollEvent
}

// Pseudo-ids of the listener's and the wake-up eventfd's epoll events.
const (
	idListener = 0
	idWake     = 1
	firstID    = 2
)

func newLoop(r *Relay) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("lagrelay: epoll: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("lagrelay: eventfd: %w", err)
	}
	l := &loop{
		r: r, epfd: epfd, evfd: evfd, base: time.Now(),
		delay: int64(r.cfg.Delay), max: r.cfg.MaxQueued, nextID: firstID,
		pool: chunkPool{bufSize: readSize}, pwait2: true,
		events: make([]unix.EpollEvent, 256),
	}
	for _, e := range []struct {
		fd int
		id int32
	}{{r.lnfd, idListener}, {evfd, idWake}} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(e.fd), Pad: e.id}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, e.fd, &ev); err != nil {
			unix.Close(epfd)
			unix.Close(evfd)
			return nil, fmt.Errorf("lagrelay: epoll: %w", err)
		}
	}
	return l, nil
}

// wake makes the loop's wait return (from any goroutine).
func (l *loop) wake() {
	var one = [8]byte{1}
	unix.Write(l.evfd, one[:])
}

func (l *loop) now() int64 { return int64(time.Since(l.base)) }

func (l *loop) run(ctx context.Context) error {
	for {
		now := l.now()
		for len(l.heap) > 0 && l.heap[0].due <= now {
			l.deliver(l.heap.pop())
			now = l.now()
		}
		var timeout int64 = -1
		if len(l.heap) > 0 {
			timeout = l.heap[0].due - now
		}
		n, err := l.wait(timeout)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("lagrelay: epoll wait: %w", err)
		}
		for i := range l.events[:n] {
			ev := &l.events[i]
			switch ev.Pad {
			case idWake:
				if ctx.Err() != nil {
					return nil
				}
				var b [8]byte
				unix.Read(l.evfd, b[:])
			case idListener:
				if err := l.accept(); err != nil {
					return err
				}
			default:
				l.handle(ev)
			}
		}
	}
}

// wait waits for events for up to timeout ns (-1: no limit).
func (l *loop) wait(timeout int64) (int, error) {
	if l.pwait2 {
		var ts *unix.Timespec
		if timeout >= 0 {
			t := unix.NsecToTimespec(timeout)
			ts = &t
		}
		r, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
			uintptr(len(l.events)), uintptr(unsafe.Pointer(ts)), 0, 0)
		if e != unix.ENOSYS {
			if e != 0 {
				return 0, e
			}
			return int(r), nil
		}
		l.pwait2 = false
	}
	ms := -1
	if timeout >= 0 {
		ms = int((timeout + 999_999) / 1_000_000) // round up: never early
	}
	return unix.EpollWait(l.epfd, l.events, ms)
}

func (l *loop) accept() error {
	for {
		cfd, _, err := unix.Accept4(l.r.lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN):
			return nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
			continue
		default:
			return fmt.Errorf("lagrelay: accept: %w", err)
		}
		l.r.st.accepted.Add(1)
		unix.SetsockoptInt(cfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		ufd, err := unix.Socket(l.r.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			unix.Close(cfd)
			return fmt.Errorf("lagrelay: socket: %w", err)
		}
		unix.SetsockoptInt(ufd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		err = unix.Connect(ufd, l.r.up)
		if err != nil && !errors.Is(err, unix.EINPROGRESS) {
			l.r.st.refused.Add(1)
			unix.Close(cfd)
			unix.Close(ufd)
			continue
		}
		c := l.newSide(cfd)
		u := l.newSide(ufd)
		c.peer, u.peer = u, c
		u.connecting = err != nil
		if l.r.cfg.Handshake {
			c.firstDue = l.now() + 3*l.delay
		}
		l.r.st.open.Add(1)
		l.update(c)
		l.update(u)
	}
}

func (l *loop) newSide(fd int) *side {
	for fd >= len(l.sides) {
		l.sides = append(l.sides, nil)
	}
	s := &side{fd: fd, id: l.nextID}
	l.nextID++
	if l.nextID < firstID {
		l.nextID = firstID
	}
	l.sides[fd] = s
	return s
}

// want is the events s waits for: readable unless its FIN was read or its
// peer holds too much; writable while connecting or while chunks wait.
func (l *loop) want(s *side) uint32 {
	var e uint32
	if !s.readEOF && !s.paused {
		e |= unix.EPOLLIN
	}
	if s.connecting || s.out.len() > 0 {
		e |= unix.EPOLLOUT
	}
	return e
}

// update changes s's registration when what it waits for changed. A side
// that waits for nothing (its FIN read and no chunk waiting, or paused)
// leaves epoll until it waits again: epoll reports a hang-up whatever the
// events asked, and would wake the loop for it until then.
func (l *loop) update(s *side) {
	if s.closed {
		return
	}
	w := l.want(s)
	var err error
	switch {
	case w == s.events && (w != 0) == s.registered:
		return
	case w == 0:
		err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
		s.registered = false
	case !s.registered:
		ev := unix.EpollEvent{Events: w, Fd: int32(s.fd), Pad: int32(s.id)}
		err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev)
		s.registered = true
	default:
		ev := unix.EpollEvent{Events: w, Fd: int32(s.fd), Pad: int32(s.id)}
		err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, s.fd, &ev)
	}
	s.events = w
	if err != nil {
		l.closePair(s)
	}
}

func (l *loop) handle(ev *unix.EpollEvent) {
	fd := int(ev.Fd)
	if fd >= len(l.sides) {
		return
	}
	s := l.sides[fd]
	if s == nil || s.id != uint32(ev.Pad) || s.closed {
		return // a side closed earlier in this batch
	}
	// A registered side wants to read or to write (see update), so an
	// error or hang-up reaches a read or a write, which sees it.
	if ev.Events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && (s.connecting || s.out.len() > 0) {
		l.writable(s)
	}
	if ev.Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 && !s.closed && !s.readEOF && !s.paused {
		l.readable(s)
	}
}

// readable reads one chunk from s and schedules it for its peer.
func (l *loop) readable(s *side) {
	c := l.pool.get()
	n, err := unix.Read(s.fd, c.buf)
	switch {
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
		l.pool.put(c)
		return
	case err != nil:
		l.pool.put(c)
		l.closePair(s)
		return
	case n == 0:
		c.eof = true
		s.readEOF = true
		l.update(s)
	default:
		c.buf = c.buf[:n]
		s.peer.queued += n
		l.r.st.queued.Add(int64(n))
		if s.peer.queued >= l.max {
			s.paused = true
			l.r.st.paused.Add(1)
			l.update(s)
		}
	}
	now := l.now()
	c.dst, c.read, c.due, c.seq = s.peer, now, max(now+l.delay, s.firstDue), l.seq
	l.seq++
	l.heap.push(c)
}

// deliver writes a chunk that is due, or queues it behind its side's
// waiting chunks.
func (l *loop) deliver(c *chunk) {
	d := c.dst
	switch {
	case d.closed:
		l.pool.put(c)
	case d.connecting || d.out.len() > 0:
		d.out.push(c)
		l.update(d)
	case l.write(d, c):
		l.pool.put(c)
	default:
		if !d.closed {
			d.out.push(c)
			l.update(d)
		}
	}
}

// writable finishes a connect, then writes the chunks waiting for s.
func (l *loop) writable(s *side) {
	if s.connecting {
		errno, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil || errno != 0 {
			l.r.st.refused.Add(1)
			l.closePair(s)
			return
		}
		s.connecting = false
	}
	for s.out.len() > 0 {
		c := s.out.peek()
		if !l.write(s, c) {
			break
		}
		if s.closed {
			return
		}
		l.pool.put(s.out.pop())
	}
	l.update(s)
}

// write writes what is left of c to d (or forwards its FIN) and says
// whether c is done with: all written, or d closed on an error. A full
// socket returns false with c.off advanced.
func (l *loop) write(d *side, c *chunk) bool {
	if c.eof {
		unix.Shutdown(d.fd, unix.SHUT_WR)
		d.shutWR = true
		l.update(d)
		l.finish(d)
		return true
	}
	for c.off < len(c.buf) {
		n, err := unix.Write(d.fd, c.buf[c.off:])
		switch {
		case err == nil:
			c.off += n
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return false
		default:
			l.closePair(d)
			return true
		}
	}
	now := l.now()
	l.r.st.written(len(c.buf), now-c.read, now-c.due)
	d.queued -= len(c.buf)
	l.r.st.queued.Add(-int64(len(c.buf)))
	if p := d.peer; p.paused && d.queued <= l.max/2 {
		p.paused = false
		l.update(p)
	}
	return true
}

// finish closes s's connection once both FINs were read and forwarded.
func (l *loop) finish(s *side) {
	if s.readEOF && s.shutWR && s.peer.readEOF && s.peer.shutWR {
		l.closePair(s)
	}
}

// closePair closes both sides of s's connection; chunks still due for
// them are dropped when they come up.
func (l *loop) closePair(s *side) {
	if s.closed {
		return
	}
	for _, x := range [2]*side{s, s.peer} {
		x.closed = true
		unix.Close(x.fd)
		if l.sides[x.fd] == x {
			l.sides[x.fd] = nil
		}
		for x.out.len() > 0 {
			l.pool.put(x.out.pop())
		}
		l.r.st.queued.Add(-int64(x.queued))
		x.queued = 0
	}
	l.r.st.open.Add(-1)
}

// closeAll closes every connection, the listener and the loop's own fds.
func (l *loop) closeAll() {
	for _, s := range l.sides {
		if s != nil && !s.closed {
			l.closePair(s)
		}
	}
	for len(l.heap) > 0 {
		l.pool.put(l.heap.pop())
	}
	unix.Close(l.r.lnfd)
	unix.Close(l.epfd)
	unix.Close(l.evfd)
}
