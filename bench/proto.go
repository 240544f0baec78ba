package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Errors of the protocol client.
var (
	// ErrProtocol is returned when a reply cannot be parsed, or answers a
	// request that was not sent (a VALUE for a key not asked for, or out of
	// order): the stream is out of step and the connection must be dropped.
	ErrProtocol = errors.New("protocol error")
)

// ReplyError is returned when the server answered a request with ERROR,
// CLIENT_ERROR, SERVER_ERROR or another line the request does not expect
// (NOT_STORED to a set). The stream is still in step: the next reply
// belongs to the next request.
type ReplyError struct {
	Line string // the reply line without its CRLF
}

func (e *ReplyError) Error() string { return "error reply: " + e.Line }

// Kind is the kind of one reply line.
type Kind uint8

// Reply line kinds.
const (
	KindOther       Kind = iota // anything else
	KindValue                   // VALUE <key> <flags> <bytes> [<cas>]
	KindEnd                     // END
	KindStored                  // STORED
	KindNotStored               // NOT_STORED
	KindExists                  // EXISTS
	KindNotFound                // NOT_FOUND
	KindError                   // ERROR
	KindClientError             // CLIENT_ERROR <msg>
	KindServerError             // SERVER_ERROR <msg>
)

// maxValueLen bounds the <bytes> of a VALUE line memcached can send (its -I
// is at most 1GiB); a larger number is a protocol error, not an allocation.
const maxValueLen = 1 << 30

// ParseLine classifies one reply line, given with or without its CRLF. For
// a VALUE line it also returns the key (a sub-slice of line, valid as long
// as line is) and the data length; a malformed VALUE line returns
// ErrProtocol. It does not allocate.
func ParseLine(line []byte) (kind Kind, key []byte, size int, err error) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	word, rest := cut(line)
	switch string(word) {
	case "VALUE":
		var flags, n []byte
		key, rest = cut(rest)
		flags, rest = cut(rest)
		n, rest = cut(rest)
		if _, rest = cut(rest); len(rest) != 0 { // an optional cas, then nothing
			return KindValue, nil, 0, fmt.Errorf("%w: VALUE line %q has too many fields", ErrProtocol, line)
		}
		sz, ok := atoi(n)
		if _, fok := atoi(flags); len(key) == 0 || !fok || !ok || sz > maxValueLen {
			return KindValue, nil, 0, fmt.Errorf("%w: malformed VALUE line %q", ErrProtocol, line)
		}
		return KindValue, key, sz, nil
	case "END":
		return KindEnd, nil, 0, nil
	case "STORED":
		return KindStored, nil, 0, nil
	case "NOT_STORED":
		return KindNotStored, nil, 0, nil
	case "EXISTS":
		return KindExists, nil, 0, nil
	case "NOT_FOUND":
		return KindNotFound, nil, 0, nil
	case "ERROR":
		return KindError, nil, 0, nil
	case "CLIENT_ERROR":
		return KindClientError, nil, 0, nil
	case "SERVER_ERROR":
		return KindServerError, nil, 0, nil
	}
	return KindOther, nil, 0, nil
}

// cut splits s at its first space: the word before it and what follows.
func cut(s []byte) (word, rest []byte) {
	if i := bytes.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, nil
}

// atoi parses a non-negative decimal of at most 18 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// KeyList holds the keys of the requests of one batch back to back, so
// the replies can be checked against them without allocating. Keys are
// valid until Reset.
type KeyList struct {
	buf  []byte
	ends []int
}

// Reset empties l, keeping its memory.
func (l *KeyList) Reset() { l.buf, l.ends = l.buf[:0], l.ends[:0] }

// Append adds the key prefix+decimal(id) and returns its index.
func (l *KeyList) Append(prefix string, id uint64) int {
	l.buf = strconv.AppendUint(append(l.buf, prefix...), id, 10)
	l.ends = append(l.ends, len(l.buf))
	return len(l.ends) - 1
}

// Len is the number of keys in l.
func (l *KeyList) Len() int { return len(l.ends) }

// Key returns key i, a slice of l's buffer valid until Reset.
func (l *KeyList) Key(i int) []byte {
	start := 0
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.buf[start:l.ends[i]]
}

// Client is one memcached text-protocol connection's codec: requests are
// buffered by the Write methods and sent by Flush; replies are read, in
// request order, by the Read methods. It is not safe for concurrent use:
// one goroutine owns a Client. In steady state it does not allocate.
type Client struct {
	r   *bufio.Reader
	w   *bufio.Writer
	num []byte // scratch for formatting numbers
}

// NewClient returns a Client reading from r and writing to w with buffers
// of bufSize bytes each. A reply line longer than bufSize is an
// ErrProtocol.
func NewClient(r io.Reader, w io.Writer, bufSize int) *Client {
	return &Client{r: bufio.NewReaderSize(r, bufSize), w: bufio.NewWriterSize(w, bufSize), num: make([]byte, 0, 24)}
}

// Reset points c at a new connection, dropping anything buffered.
func (c *Client) Reset(r io.Reader, w io.Writer) {
	c.r.Reset(r)
	c.w.Reset(w)
}

// WriteGet buffers "get k1 k2 ...\r\n" for keys lo..hi-1 of keys.
func (c *Client) WriteGet(keys *KeyList, lo, hi int) {
	c.w.WriteString("get")
	for i := lo; i < hi; i++ {
		c.w.WriteByte(' ')
		c.w.Write(keys.Key(i))
	}
	c.w.WriteString("\r\n")
}

// WriteSet buffers "set <key> 0 0 <len>\r\n<value>\r\n".
func (c *Client) WriteSet(key, value []byte) {
	c.w.WriteString("set ")
	c.w.Write(key)
	c.w.WriteString(" 0 0 ")
	c.num = strconv.AppendInt(c.num[:0], int64(len(value)), 10)
	c.w.Write(c.num)
	c.w.WriteString("\r\n")
	c.w.Write(value)
	c.w.WriteString("\r\n")
}

// WriteLine buffers one raw command line; CRLF is appended.
func (c *Client) WriteLine(cmd string) {
	c.w.WriteString(cmd)
	c.w.WriteString("\r\n")
}

// Flush sends what the Write methods buffered.
func (c *Client) Flush() error { return c.w.Flush() }

// readLine returns the next line without its CRLF, a slice of the read
// buffer valid until the next read.
func (c *Client) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: reply line longer than %d bytes", ErrProtocol, c.r.Size())
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: reply line %q does not end in CRLF", ErrProtocol, line)
	}
	return line[:len(line)-2], nil
}

// ReadGet reads the reply to a get of keys lo..hi-1 of keys and returns
// how many were hits. Each VALUE must name the next asked-for key still
// unanswered (a miss is simply skipped), else ErrProtocol. A server error
// line returns a *ReplyError with the hits read before it.
func (c *Client) ReadGet(keys *KeyList, lo, hi int) (hits int, err error) {
	next := lo
	for {
		line, err := c.readLine()
		if err != nil {
			return hits, err
		}
		kind, key, size, err := ParseLine(line)
		if err != nil {
			return hits, err
		}
		switch kind {
		case KindEnd:
			return hits, nil
		case KindValue:
			for next < hi && !bytes.Equal(keys.Key(next), key) {
				next++
			}
			if next == hi {
				return hits, fmt.Errorf("%w: VALUE for key %q that was not asked for, or out of order", ErrProtocol, key)
			}
			next++
			if err := c.skipData(size); err != nil {
				return hits, err
			}
			hits++
		case KindError, KindClientError, KindServerError:
			return hits, &ReplyError{Line: string(line)}
		default:
			return hits, fmt.Errorf("%w: unexpected reply to get: %q", ErrProtocol, line)
		}
	}
}

// skipData discards a VALUE's data block and checks its CRLF.
func (c *Client) skipData(size int) error {
	if _, err := c.r.Discard(size); err != nil {
		return err
	}
	b, err := c.r.Peek(2)
	if err != nil {
		return err
	}
	if b[0] != '\r' || b[1] != '\n' {
		return fmt.Errorf("%w: data block not followed by CRLF", ErrProtocol)
	}
	_, err = c.r.Discard(2)
	return err
}

// ReadStored reads the reply to a set: nil for STORED, a *ReplyError for
// any other well-formed line.
func (c *Client) ReadStored() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	kind, _, _, err := ParseLine(line)
	switch {
	case err != nil:
		return err
	case kind == KindStored:
		return nil
	case kind == KindValue || kind == KindEnd || kind == KindOther:
		return fmt.Errorf("%w: unexpected reply to set: %q", ErrProtocol, line)
	}
	return &ReplyError{Line: string(line)}
}

// ReadStats reads the reply to "stats": each "STAT name value" line,
// through END, is passed to fn. It allocates; it is not for the hot path.
func (c *Client) ReadStats(fn func(name, value string)) error {
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		word, rest := cut(line)
		switch string(word) {
		case "END":
			return nil
		case "STAT":
			name, value := cut(rest)
			fn(string(name), string(value))
		case "ERROR", "CLIENT_ERROR", "SERVER_ERROR":
			return &ReplyError{Line: string(line)}
		default:
			return fmt.Errorf("%w: unexpected line in stats: %q", ErrProtocol, line)
		}
	}
}
