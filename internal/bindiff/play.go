package bindiff

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/proto/mcbin"
)

// stepTimeout bounds one step: a server that neither answers nor closes
// fails the step instead of hanging the test. Never a pass criterion.
const stepTimeout = 10 * time.Second

// markOpaque is the opaque of the noop that ends a step.
const markOpaque = 0xfae0fae0

// CAS sources of a request (Req.Cas).
const (
	CasAsIs     = iota // Req.R.Cas
	CasLast            // the CAS of the connection's last response that had one, when the step is sent
	CasLastLess        // that minus one: a stale CAS
)

// Req is one request of a step.
type Req struct {
	R   mcbin.Request // encoded with mcbin.AppendRequest; Opaque is set by Play
	Raw []byte        // when not nil, sent as is instead of R
	Cas int           // where the header's CAS comes from
}

// Step is a batch of requests written at once.
type Step struct {
	Name string
	Reqs []Req
}

// Result is what one step got back: the responses, normalized, and "EOF"
// when the server closed the connection.
type Result struct {
	Step    string
	Packets []string // one line per response (see describe)
	Err     string   // a failure of the run itself (timeout, garbage)
}

// player is one run of a script against one server.
type player struct {
	t       testing.TB
	addr    string
	c       net.Conn
	in      []byte
	lastCas uint64
	casIDs  map[uint64]int // CAS value → order of appearance
}

// Play runs steps against the server at addr and returns what each got.
func Play(t testing.TB, addr string, steps []Step) []Result {
	t.Helper()
	p := &player{t: t, addr: addr, casIDs: map[uint64]int{}}
	defer p.close()
	var res []Result
	for _, st := range steps {
		res = append(res, p.step(st))
	}
	return res
}

func (p *player) close() {
	if p.c != nil {
		_ = p.c.Close()
		p.c = nil
	}
}

func (p *player) step(st Step) Result {
	r := Result{Step: st.Name}
	if p.c == nil {
		c, err := net.DialTimeout("tcp", p.addr, stepTimeout)
		if err != nil {
			r.Err = err.Error()
			return r
		}
		p.c, p.in = c, p.in[:0]
	}
	var out []byte
	for i, q := range st.Reqs {
		if q.Raw != nil {
			out = append(out, q.Raw...)
			continue
		}
		req := q.R
		req.Opaque = uint32(i + 1)
		switch q.Cas {
		case CasLast:
			req.Cas = p.lastCas
		case CasLastLess:
			req.Cas = p.lastCas - 1
		}
		out = mcbin.AppendRequest(out, &req)
	}
	out = mcbin.AppendRequest(out, &mcbin.Request{Opcode: mcbin.OpNoop, Opaque: markOpaque})
	_ = p.c.SetDeadline(time.Now().Add(stepTimeout))
	if _, err := p.c.Write(out); err != nil && !isClosed(err) {
		r.Err = "write: " + err.Error()
		p.close()
		return r
	}
	for {
		var resp mcbin.Response
		n, err := mcbin.ParseResponse(p.in, &resp)
		if err == nil {
			if resp.Opcode == mcbin.OpNoop && resp.Opaque == markOpaque {
				p.in = p.in[:copy(p.in, p.in[n:])]
				return r
			}
			r.Packets = append(r.Packets, p.describe(&resp))
			if resp.Cas != 0 {
				p.lastCas = resp.Cas
			}
			p.in = p.in[:copy(p.in, p.in[n:])]
			continue
		}
		if !errors.Is(err, mcbin.ErrIncomplete) {
			r.Err = fmt.Sprintf("not a response: %q", p.in[:min(len(p.in), 64)])
			p.close()
			return r
		}
		var buf [64 << 10]byte
		m, err := p.c.Read(buf[:])
		p.in = append(p.in, buf[:m]...)
		if err != nil {
			if isClosed(err) {
				if len(p.in) > 0 {
					r.Packets = append(r.Packets, fmt.Sprintf("trailing %q", p.in))
				}
				r.Packets = append(r.Packets, "EOF")
			} else {
				r.Err = "read: " + err.Error()
			}
			p.close()
			return r
		}
	}
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset")
}

// describe renders a response with its CAS renumbered: "#1" for the first
// CAS value the run saw, "#2" for the next, "0" for none. Two runs compare
// equal only if every response has a CAS where the other's has one, and
// the same CAS where the other's repeats one (a mutation's, then a get's).
func (p *player) describe(r *mcbin.Response) string {
	cas := "0"
	if r.Cas != 0 {
		id, ok := p.casIDs[r.Cas]
		if !ok {
			id = len(p.casIDs) + 1
			p.casIDs[r.Cas] = id
		}
		cas = fmt.Sprintf("#%d", id)
	}
	val := r.Value
	if len(val) > 64 {
		val = append(append([]byte{}, val[:32]...), fmt.Sprintf("...(%d bytes, sum %d)", len(r.Value), sum(r.Value))...)
	}
	return fmt.Sprintf("%s op=%02x status=%04x opaque=%d cas=%s dt=%d extras=%x key=%q value=%q",
		r.Opcode, uint8(r.Opcode), uint16(r.Status), r.Opaque, cas, r.DataType, r.Extras, r.Key, val)
}

func sum(b []byte) uint32 {
	var s uint32
	for _, c := range b {
		s = s*31 + uint32(c)
	}
	return s
}

// Compare fails t for every step whose responses differ between ref and
// got, showing both.
func Compare(t testing.TB, ref, got []Result) {
	t.Helper()
	if len(ref) != len(got) {
		t.Fatalf("%d results, reference has %d", len(got), len(ref))
	}
	bad := 0
	for i := range ref {
		a, b := ref[i], got[i]
		if a.Err != "" {
			t.Errorf("step %q: reference failed: %s", a.Step, a.Err)
			continue
		}
		if b.Err == "" && strings.Join(a.Packets, "\n") == strings.Join(b.Packets, "\n") {
			continue
		}
		if bad++; bad > 10 {
			t.Errorf("... more steps differ")
			return
		}
		t.Errorf("step %q differs\nmemcached:\n  %s\ngot:\n  %s%s", a.Step,
			strings.Join(a.Packets, "\n  "), strings.Join(b.Packets, "\n  "), errSuffix(b.Err))
	}
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return "\n  error: " + e
}

// Header builds a raw request header, for requests mcbin.AppendRequest
// would not make (wrong lengths, wrong magic).
func Header(magic byte, op mcbin.Opcode, keyLen, extLen int, bodyLen uint32, opaque uint32) []byte {
	b := []byte{magic, byte(op), byte(keyLen >> 8), byte(keyLen), byte(extLen), 0, 0, 0}
	b = binary.BigEndian.AppendUint32(b, bodyLen)
	b = binary.BigEndian.AppendUint32(b, opaque)
	return append(b, bytes.Repeat([]byte{0}, 8)...)
}
