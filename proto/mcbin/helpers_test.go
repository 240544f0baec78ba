package mcbin

import (
	"encoding/binary"
	"strings"
)

// raw builds a request packet field by field, so that tests can also make
// the ones AppendRequest would not: wrong lengths, wrong magic.
type raw struct {
	magic   byte
	op      Opcode
	keyLen  int // -1: len(key)
	extras  string
	key     string
	value   string
	bodyLen int // -1: len(extras)+len(key)+len(value)
	opaque  uint32
	cas     uint64
}

func pkt(op Opcode, extras, key, value string) raw {
	return raw{magic: MagicRequest, op: op, keyLen: -1, extras: extras, key: key, value: value, bodyLen: -1, opaque: 0xdeadbeef}
}

func (r raw) bytes() []byte {
	kl, bl := r.keyLen, r.bodyLen
	if kl < 0 {
		kl = len(r.key)
	}
	if bl < 0 {
		bl = len(r.extras) + len(r.key) + len(r.value)
	}
	b := []byte{r.magic, byte(r.op), byte(kl >> 8), byte(kl), byte(len(r.extras)), 0, 0, 0}
	b = binary.BigEndian.AppendUint32(b, uint32(bl))
	b = binary.BigEndian.AppendUint32(b, r.opaque)
	b = binary.BigEndian.AppendUint64(b, r.cas)
	return append(b, r.extras+r.key+r.value...)
}

func (r raw) String() string { return string(r.bytes()) }

func be32(v uint32) string { return string(binary.BigEndian.AppendUint32(nil, v)) }

func be64(v uint64) string { return string(binary.BigEndian.AppendUint64(nil, v)) }

// storeExt is the extras of set, add and replace.
func storeExt(flags, exptime uint32) string { return be32(flags) + be32(exptime) }

// arithExt is the extras of increment and decrement.
func arithExt(delta, initial uint64, exptime uint32) string {
	return be64(delta) + be64(initial) + be32(exptime)
}

var value100 = strings.Repeat("v", 100)
