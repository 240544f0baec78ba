package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"
)

// clock is an injected clock the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var secret = []byte("cluster secret, 32 bytes long!!!")

func newAuth(t testing.TB, c *clock, secret []byte, nonces int) *Auth {
	t.Helper()
	a, err := New(Config{Secret: secret, Window: 10 * time.Second, Nonces: nonces, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRoundTrip(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	a := newAuth(t, c, secret, 0)
	for _, payload := range [][]byte{nil, []byte("id=1 addr=127.0.0.2:11212"), bytes.Repeat([]byte{0xff}, MaxPayload)} {
		msg := a.Seal([]byte("prefix"), KindBeacon, payload)
		if len(msg) != len("prefix")+Overhead+len(payload) {
			t.Fatalf("sealed %d bytes", len(msg))
		}
		m, err := a.Open(msg[len("prefix"):])
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != KindBeacon || !bytes.Equal(m.Payload, payload) || !m.Time.Equal(c.t) {
			t.Errorf("opened %v %d bytes at %v", m.Kind, len(m.Payload), m.Time)
		}
	}
}

func TestShortSecret(t *testing.T) {
	if _, err := New(Config{Secret: []byte("short")}); err != ErrShortSecret {
		t.Errorf("New with a 5-byte secret: %v", err)
	}
}

// Every way a message can be refused is refused, with its reason, and
// counted under it alone.
func TestRefused(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	sender := newAuth(t, c, secret, 0)
	foreign := newAuth(t, c, []byte("another cluster's secret, 32 b.."), 0)
	good := func() []byte { return sender.Seal(nil, KindBeacon, []byte("hello")) }
	for _, tc := range []struct {
		name string
		msg  func(rx *Auth) []byte
		want Reason
	}{
		{name: "empty", msg: func(*Auth) []byte { return nil }, want: Garbage},
		{name: "random bytes", msg: func(*Auth) []byte { return []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789abcdef") }, want: Garbage},
		{name: "other version", msg: func(*Auth) []byte { m := good(); m[3] = 2; return m }, want: Garbage},
		{name: "truncated", msg: func(*Auth) []byte { m := good(); return m[:len(m)-1] }, want: Garbage},
		{name: "trailing byte", msg: func(*Auth) []byte { return append(good(), 0) }, want: Garbage},
		{name: "unsigned", msg: func(*Auth) []byte { m := good(); return m[:len(m)-macSize] }, want: Unsigned},
		{name: "foreign secret", msg: func(*Auth) []byte { return foreign.Seal(nil, KindBeacon, []byte("hello")) }, want: BadMAC},
		{name: "tampered payload", msg: func(*Auth) []byte { m := good(); m[headerSize] ^= 1; return m }, want: BadMAC},
		{name: "kind changed", msg: func(*Auth) []byte { m := good(); m[4] = byte(KindHello); return m }, want: BadMAC},
		{name: "zero mac", msg: func(*Auth) []byte { m := good(); clear(m[len(m)-macSize:]); return m }, want: BadMAC},
		{name: "replayed", msg: func(rx *Auth) []byte {
			m := good()
			if _, err := rx.Open(bytes.Clone(m)); err != nil {
				t.Fatal(err)
			}
			return m
		}, want: Replayed},
		{name: "stale", msg: func(*Auth) []byte {
			c.t = c.t.Add(-11 * time.Second)
			defer func() { c.t = c.t.Add(11 * time.Second) }()
			return good()
		}, want: Stale},
		{name: "from the future", msg: func(*Auth) []byte {
			c.t = c.t.Add(11 * time.Second)
			defer func() { c.t = c.t.Add(-11 * time.Second) }()
			return good()
		}, want: Stale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rx := newAuth(t, c, secret, 0)
			msg := tc.msg(rx)
			_, err := rx.Open(msg)
			r, ok := ReasonOf(err)
			if !ok || r != tc.want {
				t.Fatalf("Open: %v, want refused as %v", err, tc.want)
			}
			for _, other := range Reasons() {
				want := uint64(0)
				if other == tc.want {
					want = 1
				}
				if got := rx.Refused(other); got != want {
					t.Errorf("Refused(%v) = %d, want %d", other, got, want)
				}
			}
		})
	}
}

// A nonce is remembered while its message could still pass the time check,
// then forgotten; a set full of fresh nonces refuses rather than forget one.
func TestNonceWindow(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	sender := newAuth(t, c, secret, 0)
	rx := newAuth(t, c, secret, 2)
	m1 := sender.Seal(nil, KindBeacon, nil)
	m2 := sender.Seal(nil, KindBeacon, nil)
	for _, m := range [][]byte{m1, m2} {
		if _, err := rx.Open(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rx.Open(sender.Seal(nil, KindBeacon, nil)); !isReason(err, Full) {
		t.Fatalf("third fresh message in a set of 2: %v, want %v", err, Full)
	}
	c.t = c.t.Add(5 * time.Second)
	if _, err := rx.Open(m1); !isReason(err, Replayed) {
		t.Fatalf("replay 5s later: %v", err)
	}
	c.t = c.t.Add(5*time.Second + time.Nanosecond)
	if _, err := rx.Open(m1); !isReason(err, Stale) {
		t.Fatalf("replay past the window: %v", err)
	}
	// m1 and m2 aged out: room again.
	if _, err := rx.Open(sender.Seal(nil, KindBeacon, nil)); err != nil {
		t.Fatalf("fresh message once the old nonces aged out: %v", err)
	}
}

func isReason(err error, want Reason) bool {
	r, ok := ReasonOf(err)
	return ok && r == want
}

// Sealing into a buffer with room, and refusing garbage or a forgery,
// allocate nothing: a flood of junk costs no garbage collection.
func TestAllocs(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	a := newAuth(t, c, secret, 0)
	buf := make([]byte, 0, 256)
	payload := []byte("127.0.0.2:11212")
	if n := testing.AllocsPerRun(100, func() { buf = a.Seal(buf[:0], KindBeacon, payload) }); n != 0 {
		t.Errorf("Seal: %v allocs", n)
	}
	forged := append([]byte(nil), buf...)
	forged[headerSize] ^= 1
	junk := []byte("garbage garbage garbage garbage garbage garbage")
	if n := testing.AllocsPerRun(100, func() { _, _ = a.Open(forged); _, _ = a.Open(junk) }); n != 0 {
		t.Errorf("Open of a forgery and garbage: %v allocs", n)
	}
}

// Open never panics, accepts only what Seal made, and a message it accepts
// opens to what was sealed.
func FuzzOpen(f *testing.F) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	a := newAuth(f, c, secret, 0)
	f.Add(a.Seal(nil, KindBeacon, []byte("127.0.0.2:11212")))
	f.Add([]byte("fae\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		rx := newAuth(t, c, secret, 4)
		if m, err := rx.Open(msg); err == nil {
			if !bytes.Equal(m.Payload, msg[headerSize:len(msg)-macSize]) {
				t.Fatal("payload is not the sealed one")
			}
			if _, err := rx.Open(msg); !isReason(err, Replayed) {
				t.Fatalf("second open: %v", err)
			}
		}
	})
}

func TestMACIsHMAC(t *testing.T) {
	for _, key := range [][]byte{nil, []byte("k"), bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 64)} {
		for _, msg := range [][]byte{nil, []byte("abc"), bytes.Repeat([]byte("x"), 1000)} {
			want := hmac.New(sha256.New, key)
			want.Write(msg)
			if got := newMAC(key).appendMAC([]byte("p"), msg); !bytes.Equal(got[1:], want.Sum(nil)) || got[0] != 'p' {
				t.Errorf("key %d bytes, msg %d bytes: MAC differs from crypto/hmac", len(key), len(msg))
			}
		}
	}
}
