package thrift

import (
	"context"
	"io"
)

// frameTransport is the apache TRichTransport a Processor's protocol reads a
// call's arguments from (r, a view into the frame) and writes its result to
// (w, appended to the caller's buffer). It neither copies nor allocates.
type frameTransport struct {
	r []byte
	w []byte
}

func (t *frameTransport) Read(b []byte) (int, error) {
	if len(t.r) == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	n := copy(b, t.r)
	t.r = t.r[n:]
	return n, nil
}

func (t *frameTransport) ReadByte() (byte, error) {
	if len(t.r) == 0 {
		return 0, io.EOF
	}
	c := t.r[0]
	t.r = t.r[1:]
	return c, nil
}

func (t *frameTransport) Write(b []byte) (int, error) {
	t.w = append(t.w, b...)
	return len(b), nil
}

func (t *frameTransport) WriteByte(c byte) error {
	t.w = append(t.w, c)
	return nil
}

func (t *frameTransport) WriteString(s string) (int, error) {
	t.w = append(t.w, s...)
	return len(s), nil
}

func (t *frameTransport) RemainingBytes() uint64      { return uint64(len(t.r)) }
func (t *frameTransport) Flush(context.Context) error { return nil }
func (t *frameTransport) Open() error                 { return nil }
func (t *frameTransport) IsOpen() bool                { return true }
func (t *frameTransport) Close() error                { return nil }
