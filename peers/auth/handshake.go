package auth

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// The handshake of a peer link, before any request travels on it: the
// dialer sends a sealed hello, the listener answers a sealed welcome whose
// payload starts with the hello's nonce. Each message goes as a 2-byte
// big-endian length and the sealed bytes. The listener learns that the
// dialer holds the secret now (a replayed hello is refused by the nonce
// set), the dialer that the listener does and answered this very hello.
// Either side closes the connection on any error.

// ErrHandshake is returned (wrapped) when the other side's message is
// sealed well but is not the expected step of the handshake.
var ErrHandshake = errors.New("auth: handshake refused")

// MaxHandshake is the largest hello or welcome payload.
const MaxHandshake = 1024

// Client runs the dialer's side of the handshake on conn, sending hello
// (what the listener should know of the dialer, e.g. its id), and returns
// the listener's welcome payload. ctx bounds the whole exchange (through
// conn's deadline, cleared on return).
func (a *Auth) Client(ctx context.Context, conn net.Conn, hello []byte) ([]byte, error) {
	if len(hello) > MaxHandshake {
		return nil, fmt.Errorf("%w: hello longer than %d bytes", ErrHandshake, MaxHandshake)
	}
	defer setDeadline(ctx, conn)()
	msg := a.Seal(make([]byte, 2, 2+Overhead+len(hello)), KindHello, hello)
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
	nonce := msg[2+len(magic)+10 : 2+len(magic)+10+nonceSize]
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	m, err := a.readSealed(conn)
	if err != nil {
		return nil, err
	}
	if m.Kind != KindWelcome || len(m.Payload) < nonceSize || string(m.Payload[:nonceSize]) != string(nonce) {
		return nil, fmt.Errorf("%w: not a welcome to this hello", ErrHandshake)
	}
	return m.Payload[nonceSize:], nil
}

// Server runs the listener's side on conn: it reads a hello, answers with
// welcome, and returns the hello's payload. ctx bounds the exchange: a
// dialer that does not prove the secret in time is refused.
func (a *Auth) Server(ctx context.Context, conn net.Conn, welcome []byte) ([]byte, error) {
	if len(welcome)+nonceSize > MaxHandshake {
		return nil, fmt.Errorf("%w: welcome longer than %d bytes", ErrHandshake, MaxHandshake-nonceSize)
	}
	defer setDeadline(ctx, conn)()
	m, err := a.readSealed(conn)
	if err != nil {
		return nil, err
	}
	msg, err := a.welcome(m, welcome)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	return m.Payload, nil
}

// welcome returns the framed answer to hello m, or why m is not one.
func (a *Auth) welcome(m Message, welcome []byte) ([]byte, error) {
	if m.Kind != KindHello {
		return nil, fmt.Errorf("%w: not a hello", ErrHandshake)
	}
	payload := make([]byte, 0, nonceSize+len(welcome))
	payload = append(append(payload, m.Nonce[:]...), welcome...)
	msg := a.Seal(make([]byte, 2, 2+Overhead+len(payload)), KindWelcome, payload)
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
	return msg, nil
}

// ErrIncomplete is returned by Accept while buf does not hold the whole
// hello yet.
var ErrIncomplete = errors.New("auth: handshake incomplete")

// Accept is Server for a listener that reads without blocking (an event
// loop): it takes the hello at the start of buf and returns the framed
// welcome to write, the bytes of buf the hello used, and the hello's
// payload (a view into buf). It returns ErrIncomplete while the hello is
// not all in buf (the caller bounds the wait), any other error for a
// hello to refuse: close the connection.
func (a *Auth) Accept(buf, welcome []byte) (reply []byte, used int, hello []byte, err error) {
	if len(welcome)+nonceSize > MaxHandshake {
		return nil, 0, nil, fmt.Errorf("%w: welcome longer than %d bytes", ErrHandshake, MaxHandshake-nonceSize)
	}
	if len(buf) < 2 {
		return nil, 0, nil, ErrIncomplete
	}
	size := int(binary.BigEndian.Uint16(buf))
	if size < Overhead || size > Overhead+MaxHandshake {
		return nil, 0, nil, a.refuse(Garbage)
	}
	if len(buf) < 2+size {
		return nil, 0, nil, ErrIncomplete
	}
	m, err := a.Open(buf[2 : 2+size])
	if err != nil {
		return nil, 0, nil, err
	}
	if reply, err = a.welcome(m, welcome); err != nil {
		return nil, 0, nil, err
	}
	return reply, 2 + size, m.Payload, nil
}

// readSealed reads one length-prefixed sealed message and opens it.
func (a *Auth) readSealed(conn net.Conn) (Message, error) {
	var n [2]byte
	if _, err := io.ReadFull(conn, n[:]); err != nil {
		return Message{}, err
	}
	size := int(binary.BigEndian.Uint16(n[:]))
	// A length out of range is a stranger's protocol (a memcached command
	// reads as thousands of bytes): refused at once, not after the timeout.
	if size < Overhead || size > Overhead+MaxHandshake {
		return Message{}, a.refuse(Garbage)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return Message{}, err
	}
	return a.Open(buf)
}

// setDeadline sets conn's deadline from ctx and returns what clears it.
func setDeadline(ctx context.Context, conn net.Conn) func() {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Time{}
	}
	_ = conn.SetDeadline(d)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) }) // cancelled: unblock now
	return func() {
		stop()
		_ = conn.SetDeadline(time.Time{})
	}
}
