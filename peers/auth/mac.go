package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
)

// mac computes HMAC-SHA256 (RFC 2104) with two reused SHA-256 states.
// crypto/hmac's Sum allocates once per call (Go 1.26), and Open must not
// allocate on a flood of forgeries. TestMACIsHMAC pins it to crypto/hmac.
// Not safe for concurrent use.
type mac struct {
	ipad, opad [sha256.BlockSize]byte
	inner      hash.Hash
	outer      hash.Hash
	sum, out   [sha256.Size]byte // the inner hash and verify's MAC, kept here so they do not escape
}

// newMAC returns the MAC keyed with key (at most one block: the derived key
// always is).
func newMAC(key []byte) *mac {
	if len(key) > sha256.BlockSize {
		panic("auth: mac key longer than a block")
	}
	m := &mac{inner: sha256.New(), outer: sha256.New()}
	copy(m.ipad[:], key)
	copy(m.opad[:], key)
	for i := range m.ipad {
		m.ipad[i] ^= 0x36
		m.opad[i] ^= 0x5c
	}
	return m
}

// appendMAC appends the MAC of msg to dst.
func (m *mac) appendMAC(dst, msg []byte) []byte {
	m.inner.Reset()
	m.inner.Write(m.ipad[:])
	m.inner.Write(msg)
	inner := m.inner.Sum(m.sum[:0])
	m.outer.Reset()
	m.outer.Write(m.opad[:])
	m.outer.Write(inner)
	return m.outer.Sum(dst)
}

// verify reports, in constant time, whether sum is the MAC of msg.
func (m *mac) verify(msg, sum []byte) bool {
	return hmac.Equal(m.appendMAC(m.out[:0], msg), sum)
}
