//go:build linux

package lagrelay

// chunk is what was read in one read from one side, or a FIN (eof), on
// its way to the other side.
type chunk struct {
	dst  *side
	seq  uint64 // order of reading, to break ties of due
	read int64  // loop clock (ns) when it was read
	due  int64  // loop clock when it may be written
	buf  []byte // pooled; the bytes still to write are buf[off:]
	off  int
	eof  bool // forward a FIN (shutdown) instead of bytes
}

// dueHeap is a min-heap of chunks by (due, seq). Chunks to one side are due
// in the order they were read (their due is read+Delay, or a later fixed
// first-due under Handshake), so popping by (due, seq) keeps each side's
// order.
type dueHeap []*chunk

func (h dueHeap) less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].seq < h[j].seq
}

func (h *dueHeap) push(c *chunk) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// pop removes and returns the chunk due first; h must not be empty.
func (h *dueHeap) pop() *chunk {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = nil
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if r < len(s) && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// fifo is a ring of chunks waiting for a side to take them: due, but its
// socket was full or still connecting.
type fifo struct {
	items []*chunk
	head  int
	n     int
}

func (q *fifo) len() int { return q.n }

func (q *fifo) push(c *chunk) {
	if q.n == len(q.items) {
		grown := make([]*chunk, max(8, 2*len(q.items)))
		for i := range q.n {
			grown[i] = q.items[(q.head+i)%len(q.items)]
		}
		q.items, q.head = grown, 0
	}
	q.items[(q.head+q.n)%len(q.items)] = c
	q.n++
}

// peek returns the oldest chunk; q must not be empty.
func (q *fifo) peek() *chunk { return q.items[q.head] }

// pop removes the oldest chunk and returns it; q must not be empty.
func (q *fifo) pop() *chunk {
	c := q.items[q.head]
	q.items[q.head] = nil
	q.head = (q.head + 1) % len(q.items)
	q.n--
	return c
}

// chunkPool recycles chunks and their read buffers (bufSize each). The
// loop owns it; a chunk is put back once written, or dropped with its
// connection.
type chunkPool struct {
	free    []*chunk
	bufSize int
}

func (p *chunkPool) get() *chunk {
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return c
	}
	return &chunk{buf: make([]byte, p.bufSize)}
}

// put recycles c. Why: the free list is bounded so that a burst of held
// bytes (up to MaxQueued per direction) is given back to the GC after.
func (p *chunkPool) put(c *chunk) {
	buf := c.buf[:cap(c.buf)]
	*c = chunk{buf: buf}
	if len(p.free) < maxFreeChunks {
		p.free = append(p.free, c)
	}
}

// maxFreeChunks bounds the pool: 1024 chunks of 16 KiB, 16 MiB.
const maxFreeChunks = 1024
