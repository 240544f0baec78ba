package mcbin

import (
	"encoding/binary"
	"errors"
)

// Defaults of the Parser limits.
const (
	DefaultMaxKeyLen   = 250     // memcached's KEY_MAX_LENGTH
	DefaultMaxItemSize = 1 << 20 // memcached -I 1m
)

// itemHeaderSize is sizeof(item) on 64-bit plus the 8-byte cas, the fixed
// part of memcached's item_size_ok.
const itemHeaderSize = 48 + 8

var (
	// ErrIncomplete is returned by Parse when the buffer does not yet hold
	// what it needs to decide; nothing was consumed and the caller should
	// wait for more bytes.
	ErrIncomplete = errors.New("mcbin: incomplete request")
)

// Error is a protocol error found while parsing. The server answers it
// and goes on with the connection, or closes it, as the fields say. Use
// errors.As to get one.
//
// One error has an effect on the store that the caller must reproduce: a
// set or setq refused with StatusValueTooLarge, or with [OutOfMemory],
// makes memcached unlink the key's current item, so the caller deletes
// Request.Key.
type Error struct {
	// Status is the status of the error response, sent with the request's
	// opcode and opaque and the status's message. StatusOK means send
	// nothing (a packet that does not start with the request magic).
	Status Status
	// Swallow is the number of bytes, after those that Parse consumed, to
	// discard before parsing again (the value of a refused set). They may
	// not have arrived yet.
	Swallow int
	// Close asks the server to close the connection after the response.
	Close bool
	// Message is the response's message when it is not the status's own.
	Message string
}

// OutOfMemory returns memcached's answer to a set, add, replace, append
// or prepend it has no memory for, for the request Parse left incomplete
// in req (req.Need > 0) when the caller will not hold it: "Out of memory"
// with memcached's message for it, even for a quiet opcode, and the whole
// packet swallowed.
func OutOfMemory(req *Request) *Error {
	return &Error{Status: StatusOutOfMemory, Swallow: req.Need, Message: "Out of memory allocating item"}
}

func (e *Error) Error() string {
	if e.Status == StatusOK {
		return "mcbin: bad magic"
	}
	return "mcbin: " + e.Status.Message()
}

// Parser parses binary-protocol requests as memcached 1.6.18 does: what it
// accepts, the status it answers what it refuses with, the bytes it
// discards and when it closes the connection. The zero value uses the
// defaults. A Parser is not modified by Parse and is safe for concurrent
// use.
type Parser struct {
	// MaxKeyLen is the longest key accepted (default 250).
	MaxKeyLen int
	// MaxItemSize is memcached's item_size_max, -I (default 1 MiB): a
	// value whose item would not fit is refused as too large.
	MaxItemSize int
}

func (p *Parser) maxKeyLen() int   { return orDefault(p.MaxKeyLen, DefaultMaxKeyLen) }
func (p *Parser) maxItemSize() int { return orDefault(p.MaxItemSize, DefaultMaxItemSize) }

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Parse parses one request from the front of buf into req and returns the
// number of bytes it used. req is reset first; its slices are views into
// buf. Parse does not allocate, except to return an *Error.
//
// When buf does not yet hold a whole request Parse returns (0,
// ErrIncomplete); Request.Need then says how many bytes the request needs
// once its header, extras and key are in. On a protocol error it returns an *Error and the number
// of bytes to drop now; req then holds the header's fields (Opcode, Opaque)
// for the error response, and for a too-large value the key and extras.
//
// The checks run in memcached's order: the magic byte (else close, sending
// nothing), then, once the extras and key are in, a key and extras longer
// than the body ("Unknown command", close), a key longer than MaxKeyLen
// ("Invalid arguments", close), an opcode not served ("Unknown command";
// the rest of its body is swallowed), extras, key and body lengths that do
// not fit the opcode ("Invalid arguments", close) and a value too large
// ("Too large."; the value is swallowed). Only then does Parse wait for the
// value.
//
// Parse differs from memcached where memcached misbehaves: memcached
// swallows the body of an unknown command counting from after its key,
// eating the start of the next request, and it leaves the body of a stat,
// touch or gat request with a value in the stream to be read as requests.
// Parse swallows exactly the rest of the unknown command and refuses the
// other two as "Invalid arguments". Verbosity with its 4-byte extras is
// accepted (memcached 1.6.18 no longer serves it and waits forever for the
// bytes it means to swallow); without them it is an unknown command, as
// memcached answers.
func (p *Parser) Parse(buf []byte, req *Request) (n int, err error) {
	*req = Request{}
	if len(buf) > 0 && buf[0] != MagicRequest {
		return len(buf), &Error{Close: true}
	}
	if len(buf) < HeaderLen {
		return 0, ErrIncomplete
	}
	req.Opcode = Opcode(buf[1])
	keyLen := int(binary.BigEndian.Uint16(buf[2:]))
	extLen := int(buf[4])
	req.DataType = buf[5]
	req.VBucket = binary.BigEndian.Uint16(buf[6:])
	bodyLen := int(binary.BigEndian.Uint32(buf[8:]))
	req.Opaque = binary.BigEndian.Uint32(buf[12:])
	req.Cas = binary.BigEndian.Uint64(buf[16:])

	head := HeaderLen + extLen + keyLen
	if len(buf) < head {
		return 0, ErrIncomplete
	}
	if keyLen+extLen > bodyLen {
		return head, &Error{Status: StatusUnknownCommand, Close: true}
	}
	if keyLen > p.maxKeyLen() {
		return head, &Error{Status: StatusInvalidArgs, Close: true}
	}
	info := &ops[req.Opcode]
	valueLen := bodyLen - extLen - keyLen
	if info.shape == shapeUnknown || (info.shape == shapeVerbosity && !(extLen == 4 && keyLen == 0 && valueLen == 0)) {
		return head, &Error{Status: StatusUnknownCommand, Swallow: valueLen}
	}
	if !info.shape.fits(extLen, keyLen, valueLen) {
		return head, &Error{Status: StatusInvalidArgs, Close: true}
	}
	req.Extras = buf[HeaderLen : HeaderLen+extLen : HeaderLen+extLen]
	req.Key = buf[HeaderLen+extLen : head : head]
	req.decodeExtras(info.shape)
	if (info.shape == shapeStore || info.shape == shapeConcat) && !p.fits(keyLen, req.Flags, valueLen+2) {
		return head, &Error{Status: StatusValueTooLarge, Swallow: valueLen}
	}
	end := head + valueLen
	if len(buf) < end {
		req.Need = end
		return 0, ErrIncomplete
	}
	req.Value = buf[head:end:end]
	return end, nil
}

// fits reports whether a request of shape s may have these lengths, as
// memcached's dispatch_bin_command checks them.
func (s shape) fits(extLen, keyLen, valueLen int) bool {
	switch s {
	case shapeEmpty:
		return extLen == 0 && keyLen == 0 && valueLen == 0
	case shapeGet:
		return extLen == 0 && keyLen > 0 && valueLen == 0
	case shapeStore:
		return extLen == 8 && keyLen > 0
	case shapeConcat:
		return extLen == 0 && keyLen > 0
	case shapeArith:
		return extLen == 20 && keyLen > 0 && valueLen == 0
	case shapeFlush:
		return (extLen == 0 || extLen == 4) && keyLen == 0 && valueLen == 0
	case shapeTouch:
		return extLen == 4 && keyLen > 0 && valueLen == 0
	case shapeStat:
		return extLen == 0 && valueLen == 0
	case shapeVerbosity:
		return true // checked with the unknown commands
	}
	return false
}

// decodeExtras fills the fields of req that its extras carry.
func (req *Request) decodeExtras(s shape) {
	e := req.Extras
	switch s {
	case shapeStore:
		req.Flags = binary.BigEndian.Uint32(e)
		req.Exptime = binary.BigEndian.Uint32(e[4:])
	case shapeArith:
		req.Delta = binary.BigEndian.Uint64(e)
		req.Initial = binary.BigEndian.Uint64(e[8:])
		req.Exptime = binary.BigEndian.Uint32(e[16:])
	case shapeFlush:
		if len(e) == 4 {
			req.HasExptime = true
			req.Exptime = binary.BigEndian.Uint32(e)
		}
	case shapeTouch:
		req.Exptime = binary.BigEndian.Uint32(e)
	case shapeVerbosity:
		req.Level = binary.BigEndian.Uint32(e)
	}
}

// fits is memcached's item_size_ok: the item header, the key and its NUL,
// the 4-byte flags suffix when flags are not 0, the value with its "\r\n"
// and the cas must fit in MaxItemSize.
func (p *Parser) fits(keyLen int, flags uint32, size int) bool {
	total := itemHeaderSize + keyLen + 1 + size
	if flags != 0 {
		total += 4
	}
	return total <= p.maxItemSize()
}
