package peers

import "errors"

// A beacon's payload (inside an auth.KindBeacon message):
//
//	version 1 | flags | id length | id | address length | address | destination (the rest)
//
// The destination is the peer address or the multicast group the beacon was
// sealed for: a receiver refuses one sealed for another, so a beacon seen on
// the way to a third peer cannot be replayed to hold a dead peer up.
const (
	beaconVersion = 1
	flagLeaving   = 1 << 0 // the sender is shutting down: mark it down now
	maxIDLen      = 64
	maxAddrLen    = 255
)

// beacon says "I am id, reach me at addr" to to.
type beacon struct {
	id, addr, to string
	leaving      bool
}

// errMalformed is returned by parseBeacon for a payload that is not a beacon.
var errMalformed = errors.New("peers: malformed beacon")

func appendBeacon(dst []byte, b beacon) []byte {
	flags := byte(0)
	if b.leaving {
		flags |= flagLeaving
	}
	dst = append(dst, beaconVersion, flags, byte(len(b.id)))
	dst = append(dst, b.id...)
	dst = append(dst, byte(len(b.addr)))
	dst = append(dst, b.addr...)
	return append(dst, b.to...)
}

func parseBeacon(p []byte) (beacon, error) {
	if len(p) < 3 || p[0] != beaconVersion {
		return beacon{}, errMalformed
	}
	n := int(p[2])
	if n == 0 || n > maxIDLen || len(p) < 3+n+1 {
		return beacon{}, errMalformed
	}
	id, p2 := p[3:3+n], p[3+n:]
	a := int(p2[0])
	if a == 0 || len(p2) < 1+a+1 || len(p2)-1-a > maxAddrLen {
		return beacon{}, errMalformed
	}
	return beacon{id: string(id), addr: string(p2[1 : 1+a]), to: string(p2[1+a:]), leaving: p[1]&flagLeaving != 0}, nil
}
