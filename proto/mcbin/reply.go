package mcbin

import (
	"encoding/binary"
	"errors"
)

// Response is one binary-protocol response. For ParseResponse its slices
// are views into the parsed buffer.
type Response struct {
	Opcode   Opcode
	DataType uint8
	Status   Status
	Opaque   uint32
	Cas      uint64
	Extras   []byte
	Key      []byte
	Value    []byte
}

// AppendResponse appends r as one packet to out. It does not allocate when
// out has room.
func AppendResponse(out []byte, r *Response) []byte {
	out = appendHeader(out, MagicResponse, r.Opcode, len(r.Key), len(r.Extras), r.DataType, uint16(r.Status),
		len(r.Extras)+len(r.Key)+len(r.Value), r.Opaque, r.Cas)
	out = append(out, r.Extras...)
	out = append(out, r.Key...)
	return append(out, r.Value...)
}

// AppendError appends an error response to a request with opcode op and
// opaque, with the status's message as memcached words it; a zero cas, as
// memcached sends with every error.
func AppendError(out []byte, op Opcode, opaque uint32, st Status) []byte {
	msg := st.Message()
	out = appendHeader(out, MagicResponse, op, 0, 0, 0, uint16(st), len(msg), opaque, 0)
	return append(out, msg...)
}

// AppendErrorMessage is AppendError with a message of the caller's.
func AppendErrorMessage(out []byte, op Opcode, opaque uint32, st Status, msg []byte) []byte {
	out = appendHeader(out, MagicResponse, op, 0, 0, 0, uint16(st), len(msg), opaque, 0)
	return append(out, msg...)
}

// AppendKeyMiss appends memcached's answer to a getk or gatk miss:
// "Not found" status with the key as the body (and no message).
func AppendKeyMiss(out []byte, op Opcode, opaque uint32, key []byte) []byte {
	out = appendHeader(out, MagicResponse, op, len(key), 0, 0, uint16(StatusKeyNotFound), len(key), opaque, 0)
	return append(out, key...)
}

// AppendRequest appends r to out as one request packet, its extras encoded
// from the fields r.Opcode uses (Request.Extras is not read). It is the
// inverse of Parse for every request Parse accepts.
func AppendRequest(out []byte, r *Request) []byte {
	var ext [20]byte
	var e []byte
	switch ops[r.Opcode].shape {
	case shapeStore:
		binary.BigEndian.PutUint32(ext[:], r.Flags)
		binary.BigEndian.PutUint32(ext[4:], r.Exptime)
		e = ext[:8]
	case shapeArith:
		binary.BigEndian.PutUint64(ext[:], r.Delta)
		binary.BigEndian.PutUint64(ext[8:], r.Initial)
		binary.BigEndian.PutUint32(ext[16:], r.Exptime)
		e = ext[:20]
	case shapeFlush:
		if r.HasExptime {
			binary.BigEndian.PutUint32(ext[:], r.Exptime)
			e = ext[:4]
		}
	case shapeTouch:
		binary.BigEndian.PutUint32(ext[:], r.Exptime)
		e = ext[:4]
	case shapeVerbosity:
		binary.BigEndian.PutUint32(ext[:], r.Level)
		e = ext[:4]
	}
	out = appendHeader(out, MagicRequest, r.Opcode, len(r.Key), len(e), r.DataType, r.VBucket,
		len(e)+len(r.Key)+len(r.Value), r.Opaque, r.Cas)
	out = append(out, e...)
	out = append(out, r.Key...)
	return append(out, r.Value...)
}

// appendHeader appends a 24-byte header. The sixth field is the status of
// a response and the reserved (vbucket) field of a request.
func appendHeader(out []byte, magic byte, op Opcode, keyLen, extLen int, dataType uint8, status uint16, bodyLen int, opaque uint32, cas uint64) []byte {
	out = append(out, magic, byte(op), byte(keyLen>>8), byte(keyLen), byte(extLen), dataType)
	out = binary.BigEndian.AppendUint16(out, status)
	out = binary.BigEndian.AppendUint32(out, uint32(bodyLen))
	out = binary.BigEndian.AppendUint32(out, opaque)
	return binary.BigEndian.AppendUint64(out, cas)
}

// ErrBadResponse is returned by ParseResponse for bytes that are not a
// response packet.
var ErrBadResponse = errors.New("mcbin: not a response packet")

// ParseResponse parses one response from the front of buf into r and
// returns its length. It returns (0, ErrIncomplete) until the whole packet
// is in buf, and ErrBadResponse for a wrong magic byte or lengths that do
// not add up. r's slices are views into buf.
func ParseResponse(buf []byte, r *Response) (int, error) {
	*r = Response{}
	if len(buf) > 0 && buf[0] != MagicResponse {
		return 0, ErrBadResponse
	}
	if len(buf) < HeaderLen {
		return 0, ErrIncomplete
	}
	keyLen := int(binary.BigEndian.Uint16(buf[2:]))
	extLen := int(buf[4])
	bodyLen := int(binary.BigEndian.Uint32(buf[8:]))
	if keyLen+extLen > bodyLen {
		return 0, ErrBadResponse
	}
	end := HeaderLen + bodyLen
	if len(buf) < end {
		return 0, ErrIncomplete
	}
	r.Opcode = Opcode(buf[1])
	r.DataType = buf[5]
	r.Status = Status(binary.BigEndian.Uint16(buf[6:]))
	r.Opaque = binary.BigEndian.Uint32(buf[12:])
	r.Cas = binary.BigEndian.Uint64(buf[16:])
	k := HeaderLen + extLen
	r.Extras = buf[HeaderLen:k:k]
	r.Key = buf[k : k+keyLen : k+keyLen]
	r.Value = buf[k+keyLen : end : end]
	return end, nil
}
