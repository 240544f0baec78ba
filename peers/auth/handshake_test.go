package auth

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func realAuth(t *testing.T, secret []byte) *Auth {
	t.Helper()
	a, err := New(Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestHandshake runs the dialer's Client against the listener's Server,
// and against Accept fed the bytes as they arrive, as an event loop would.
func TestHandshake(t *testing.T) {
	for name, serve := range map[string]func(ctx context.Context, a *Auth, s net.Conn) ([]byte, error){
		"Server": func(ctx context.Context, a *Auth, s net.Conn) ([]byte, error) {
			return a.Server(ctx, s, []byte("listener-id"))
		},
		"Accept": acceptOn,
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			c, s := pair(t)
			dialer, listener := realAuth(t, secret), realAuth(t, secret)
			got := make(chan []byte, 1)
			go func() {
				hello, err := serve(ctx, listener, s)
				if err != nil {
					t.Error(err)
				}
				got <- hello
			}()
			welcome, err := dialer.Client(ctx, c, []byte("dialer-id"))
			if err != nil {
				t.Fatal(err)
			}
			if string(welcome) != "listener-id" || string(<-got) != "dialer-id" {
				t.Errorf("welcome %q", welcome)
			}
		})
	}
	// Accept refuses garbage (a memcached command) at once, not after a
	// wait for more bytes.
	if _, _, _, err := realAuth(t, secret).Accept([]byte("get k\r\n"), nil); err == nil || errors.Is(err, ErrIncomplete) {
		t.Fatalf("Accept of garbage: %v", err)
	}
}

// acceptOn is Server done with Accept over small reads of s.
func acceptOn(_ context.Context, a *Auth, s net.Conn) ([]byte, error) {
	var buf []byte
	b := make([]byte, 64) // small reads: Accept sees the hello in pieces
	for {
		n, err := s.Read(b)
		if err != nil {
			return nil, err
		}
		buf = append(buf, b[:n]...)
		reply, used, hello, err := a.Accept(buf, []byte("listener-id"))
		switch {
		case errors.Is(err, ErrIncomplete):
			continue
		case err != nil:
			return nil, err
		case used != len(buf):
			return nil, fmt.Errorf("Accept used %d of %d bytes", used, len(buf))
		}
		_, err = s.Write(reply)
		return bytes.Clone(hello), err
	}
}

func TestHandshakeRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		// run plays the dialer's side against a listener's Server on c.
		run  func(t *testing.T, c net.Conn)
		want func(error) bool
	}{
		{name: "wrong secret", run: func(t *testing.T, c net.Conn) {
			_, _ = realAuth(t, []byte("the wrong secret, 32 bytes long!")).Client(t.Context(), c, nil)
		}, want: func(err error) bool { return isReason(err, BadMAC) }},
		{name: "unauthenticated bytes", run: func(t *testing.T, c net.Conn) {
			_, _ = c.Write([]byte("get foo\r\n"))
		}, want: func(err error) bool { return isReason(err, Garbage) }},
		{name: "silent", run: func(*testing.T, net.Conn) {},
			want: func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }},
		{name: "replayed hello", run: func(t *testing.T, c net.Conn) {
			// A hello recorded on another connection to this listener.
			_, _ = c.Write(recordedHello)
		}, want: func(err error) bool { return isReason(err, Replayed) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			listener := realAuth(t, secret)
			recordHello(t, listener)
			c, s := pair(t)
			go tc.run(t, c)
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			if _, err := listener.Server(ctx, s, nil); !tc.want(err) {
				t.Errorf("Server: %v", err)
			}
		})
	}
}

var recordedHello []byte

// recordHello runs one genuine handshake with listener and keeps the
// dialer's hello as a wire recorder would.
func recordHello(t *testing.T, listener *Auth) {
	c, s := pair(t)
	go func() { _, _ = listener.Server(t.Context(), s, nil) }()
	dialer := realAuth(t, secret)
	rec := &recorder{Conn: c}
	if _, err := dialer.Client(t.Context(), rec, nil); err != nil {
		t.Fatal(err)
	}
	recordedHello = rec.sent
}

type recorder struct {
	net.Conn
	sent []byte
}

func (r *recorder) Write(b []byte) (int, error) {
	r.sent = append(r.sent, b...)
	return r.Conn.Write(b)
}

// A welcome that does not answer this hello (one recorded from another
// handshake) is refused by the dialer.
func TestHandshakeForeignWelcome(t *testing.T) {
	c, s := pair(t)
	dialer := realAuth(t, secret)
	other := realAuth(t, secret)
	go func() {
		_, _ = other.readSealed(s) // swallow the hello
		payload := append(make([]byte, nonceSize), "x"...)
		msg := other.Seal(make([]byte, 2), KindWelcome, payload)
		msg[0], msg[1] = byte((len(msg)-2)>>8), byte(len(msg)-2)
		_, _ = s.Write(msg)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := dialer.Client(ctx, c, nil); !errors.Is(err, ErrHandshake) {
		t.Errorf("Client: %v", err)
	}
}

// Accept (the peer port's handshake on an event loop) never panics on
// what a stranger sends: it waits for more, refuses, or, for a real hello
// only, uses exactly the hello's bytes and answers a welcome.
func FuzzAccept(f *testing.F) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	a := newAuth(f, c, secret, 0)
	hello := a.Seal(make([]byte, 2), KindHello, []byte("127.0.0.2:11212"))
	binary.BigEndian.PutUint16(hello, uint16(len(hello)-2))
	f.Add(hello)
	f.Add(append(append([]byte(nil), hello...), "get k\r\n"...))
	f.Add([]byte("get k\r\n"))
	f.Add([]byte{0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, buf []byte) {
		rx := newAuth(t, c, secret, 4)
		reply, used, _, err := rx.Accept(buf, []byte("127.0.0.3:11212"))
		if err != nil {
			if used != 0 || reply != nil {
				t.Fatalf("refused or incomplete, yet used %d and replied %x", used, reply)
			}
			return
		}
		if used < 2+Overhead || used > len(buf) || len(reply) == 0 {
			t.Fatalf("accepted %x: used %d of %d, reply %x", buf, used, len(buf), reply)
		}
	})
}
