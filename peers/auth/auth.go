package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// A sealed message:
//
//	magic "fae" | version 1 | kind | unix nanos (8, big endian) | nonce (16) |
//	payload length (2, big endian) | payload | HMAC-SHA256 of all before (32)
//
// The HMAC key is derived from the secret (HMAC-SHA256(secret, keyLabel)),
// so the raw secret keys nothing else.
const (
	magic      = "fae"
	version    = 1
	nonceSize  = 16
	macSize    = sha256.Size
	headerSize = len(magic) + 1 + 1 + 8 + nonceSize + 2
	// Overhead is the bytes Seal adds to a payload.
	Overhead = headerSize + macSize
	// MaxPayload is the largest payload Seal accepts.
	MaxPayload = 1<<16 - 1
	// MinSecret is the shortest secret New accepts.
	MinSecret = 16
	keyLabel  = "fae peers v1"
)

// Kind says what a sealed message is, so a message sealed for one purpose
// cannot be replayed as another.
type Kind byte

// Kinds of message.
const (
	KindBeacon  Kind = 1 // membership: "I am id, reach me at addr"
	KindHello   Kind = 2 // peer link, dialer to listener: the opening of a handshake
	KindWelcome Kind = 3 // peer link, listener to dialer: the answer, echoing the hello's nonce
)

// Reason is why Open refused a message.
type Reason int

// Reasons of refusal, each counted.
const (
	Garbage  Reason = iota // not a sealed message: wrong magic or version, bad length
	Unsigned               // framed as a sealed message but with no MAC
	BadMAC                 // the MAC does not match: a foreign secret or a tampered message
	Stale                  // its timestamp is outside the window
	Replayed               // its nonce was seen within the window
	Full                   // the nonce set is full of fresh nonces: more sealed messages than it was sized for
	numReasons
)

var reasonNames = [numReasons]string{"garbage", "unsigned", "bad_mac", "stale", "replayed", "nonce_set_full"}

func (r Reason) String() string {
	if r < 0 || r >= numReasons {
		return "reason(" + fmt.Sprint(int(r)) + ")"
	}
	return reasonNames[r]
}

// Reasons lists every Reason, in order.
func Reasons() []Reason {
	rs := make([]Reason, numReasons)
	for i := range rs {
		rs[i] = Reason(i)
	}
	return rs
}

// Error is the error of a refused message.
type Error struct{ Reason Reason }

func (e *Error) Error() string { return "auth: message refused: " + e.Reason.String() }

// errs holds one Error per reason, so a refusal allocates nothing.
var errs = func() (e [numReasons]*Error) {
	for i := range e {
		e[i] = &Error{Reason: Reason(i)}
	}
	return
}()

// ErrShortSecret is returned by New when the secret is shorter than MinSecret.
var ErrShortSecret = fmt.Errorf("auth: the secret must be at least %d bytes", MinSecret)

// Config configures an Auth.
type Config struct {
	// Secret is the cluster's shared secret, at least MinSecret bytes.
	Secret []byte
	// Window is how far a message's timestamp may be from now, either way
	// (clock skew between hosts plus transit). Default 10s.
	Window time.Duration
	// Nonces is the size of the recent-nonce set: the most messages one
	// Auth accepts per Window. Past it messages are refused (Full) until
	// old nonces age out: the set never forgets a nonce still inside the
	// window. Default 32768 (about 1.5 MB; 3,276 messages a second with the
	// default window: a peer beaconing every 200ms to each of 300 peers).
	Nonces int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Auth seals and opens messages. Safe for concurrent use.
type Auth struct {
	window int64
	now    func() time.Time

	sealMu sync.Mutex
	sealer *mac
	nonce  [nonceSize]byte

	mu     sync.Mutex // guards opener and seen
	opener *mac
	seen   nonceSet

	refused [numReasons]atomic.Uint64
}

// New returns an Auth for cfg.
func New(cfg Config) (*Auth, error) {
	if len(cfg.Secret) < MinSecret {
		return nil, ErrShortSecret
	}
	if cfg.Window <= 0 {
		cfg.Window = 10 * time.Second
	}
	if cfg.Nonces <= 0 {
		cfg.Nonces = 1 << 15
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := hmac.New(sha256.New, cfg.Secret)
	m.Write([]byte(keyLabel))
	key := m.Sum(nil)
	return &Auth{
		window: int64(cfg.Window),
		now:    cfg.Now,
		sealer: newMAC(key),
		opener: newMAC(key),
		seen:   newNonceSet(cfg.Nonces),
	}, nil
}

// Seal appends to dst the sealed message of kind carrying payload, with the
// current time and a fresh random nonce, and returns it. It panics if
// payload is longer than MaxPayload.
func (a *Auth) Seal(dst []byte, kind Kind, payload []byte) []byte {
	if len(payload) > MaxPayload {
		panic("auth: payload too long")
	}
	start := len(dst)
	dst = append(dst, magic...)
	dst = append(dst, version, byte(kind))
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.now().UnixNano()))
	a.sealMu.Lock()
	// The nonce lives in a (a local would escape to the heap through
	// rand.Read's interface call).
	_, _ = rand.Read(a.nonce[:]) // never fails (crypto/rand panics rather than return an error)
	dst = append(dst, a.nonce[:]...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(payload)))
	dst = append(dst, payload...)
	dst = a.sealer.appendMAC(dst, dst[start:])
	a.sealMu.Unlock()
	return dst
}

// Message is an opened message. Payload is a view into the bytes given to
// Open: it lives as long as they do.
type Message struct {
	Kind    Kind
	Time    time.Time
	Nonce   [nonceSize]byte
	Payload []byte
}

// Open checks msg and returns what it carries, or an *Error saying why it
// is refused (counted, see Refused). A message is accepted once: opening it
// again within the window is a replay.
func (a *Auth) Open(msg []byte) (Message, error) {
	if len(msg) < headerSize || string(msg[:len(magic)]) != magic || msg[len(magic)] != version {
		return Message{}, a.refuse(Garbage)
	}
	plen := int(binary.BigEndian.Uint16(msg[headerSize-2:]))
	switch len(msg) {
	case headerSize + plen + macSize:
	case headerSize + plen:
		return Message{}, a.refuse(Unsigned)
	default:
		return Message{}, a.refuse(Garbage)
	}
	body, mac := msg[:headerSize+plen], msg[headerSize+plen:]
	var m Message
	m.Kind = Kind(msg[len(magic)+1])
	ts := int64(binary.BigEndian.Uint64(msg[len(magic)+2:]))
	copy(m.Nonce[:], msg[len(magic)+10:])
	m.Payload = body[headerSize:]

	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.opener.verify(body, mac) {
		return Message{}, a.refuse(BadMAC)
	}
	now := a.now().UnixNano()
	if ts < now-a.window || ts > now+a.window {
		return Message{}, a.refuse(Stale)
	}
	switch a.seen.add(m.Nonce, ts, now-a.window) {
	case addSeen:
		return Message{}, a.refuse(Replayed)
	case addFull:
		return Message{}, a.refuse(Full)
	}
	m.Time = time.Unix(0, ts)
	return m, nil
}

func (a *Auth) refuse(r Reason) error {
	a.refused[r].Add(1)
	return errs[r]
}

// Refused returns how many messages Open refused for reason r.
func (a *Auth) Refused(r Reason) uint64 {
	if r < 0 || r >= numReasons {
		return 0
	}
	return a.refused[r].Load()
}

// ReasonOf returns the reason of an error from Open, and false for any
// other error.
func ReasonOf(err error) (Reason, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason, true
	}
	return 0, false
}
