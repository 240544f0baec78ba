package thrift

import (
	"encoding/binary"
	"errors"
)

// DefaultMaxFrame is the largest frame payload ParseFrame accepts when the
// caller passes no limit: 16 MiB, as Thrift's own servers and clients.
const DefaultMaxFrame = 16 << 20

// version1 is the strict TBinaryProtocol version word; the message type is
// its low byte.
const (
	version1    = 0x80010000
	versionMask = 0xffff0000
)

// minMessage is the smallest message: a version word, an empty name, a
// seqid and the STOP byte of an empty arguments struct.
const minMessage = 4 + 4 + 4 + 1

var (
	// ErrIncomplete is returned by ParseFrame when buf does not yet hold a
	// whole frame; nothing was consumed and the caller should wait for more
	// bytes.
	ErrIncomplete = errors.New("thrift: incomplete frame")
	// ErrFrameSize is returned by ParseFrame when a frame's length is over
	// the limit or shorter than any message. The connection cannot be read
	// further: close it.
	ErrFrameSize = errors.New("thrift: bad frame size")
	// ErrBadMessage is returned by ParseHeader when a frame does not start
	// with a strict TBinaryProtocol message header (a version word, a name
	// that fits in the frame, a sequence id) or its type is not a call.
	// Nothing can be answered without a sequence id: close the connection.
	ErrBadMessage = errors.New("thrift: bad message header")
)

// MessageType is the type of a message, the low byte of its version word.
type MessageType uint8

// The message types of TBinaryProtocol.
const (
	TypeCall      MessageType = 1
	TypeReply     MessageType = 2
	TypeException MessageType = 3
	TypeOneway    MessageType = 4
)

// Header is a message header, parsed by ParseHeader. Name and Args are views
// into the message: they live as long as the buffer it came from.
type Header struct {
	Type MessageType
	// Name is the method name as the client sent it.
	Name []byte
	// Method is Name's id, MethodUnknown when FunServant has no such method.
	Method Method
	SeqID  int32
	// Args is the rest of the message: the call's arguments struct.
	Args []byte
}

// ParseFrame reads one frame from the front of buf: a 4-byte big-endian
// length and that many bytes. It returns the frame's payload, msg, a view
// into buf, and n, the bytes the frame takes in buf (4+len(msg)). A frame
// longer than maxFrame (DefaultMaxFrame when maxFrame <= 0), or too short to
// hold a message, is ErrFrameSize; a buffer that does not hold the whole
// frame is ErrIncomplete. ParseFrame does not allocate.
func ParseFrame(buf []byte, maxFrame int) (msg []byte, n int, err error) {
	if len(buf) < 4 {
		return nil, 0, ErrIncomplete
	}
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	size := binary.BigEndian.Uint32(buf)
	if uint64(size) > uint64(maxFrame) || size < minMessage {
		return nil, 0, ErrFrameSize
	}
	n = 4 + int(size)
	if len(buf) < n {
		return nil, 0, ErrIncomplete
	}
	return buf[4:n:n], n, nil
}

// ParseHeader parses the strict TBinaryProtocol header at the front of msg,
// a frame's payload, into h. Only calls and oneway calls are accepted;
// anything else, or a header that does not fit in msg, is ErrBadMessage.
// ParseHeader does not allocate.
func ParseHeader(msg []byte, h *Header) error {
	if len(msg) < 12 {
		return ErrBadMessage
	}
	version := binary.BigEndian.Uint32(msg)
	if version&versionMask != version1 {
		return ErrBadMessage
	}
	typ := MessageType(version)
	if typ != TypeCall && typ != TypeOneway {
		return ErrBadMessage
	}
	nameLen := binary.BigEndian.Uint32(msg[4:])
	if uint64(nameLen) > uint64(len(msg)-12) {
		return ErrBadMessage
	}
	end := 8 + int(nameLen)
	h.Type = typ
	h.Name = msg[8:end:end]
	h.Method = MethodOf(h.Name)
	h.SeqID = int32(binary.BigEndian.Uint32(msg[end:]))
	h.Args = msg[end+4:]
	return nil
}

// BeginFrame appends a frame length placeholder to out and returns out and
// the frame's start, for EndFrame.
func BeginFrame(out []byte) ([]byte, int) {
	return append(out, 0, 0, 0, 0), len(out)
}

// EndFrame writes the length of the frame begun at start into out.
func EndFrame(out []byte, start int) []byte {
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	return out
}

// AppendMessageHeader appends a strict TBinaryProtocol message header.
func AppendMessageHeader(out, name []byte, typ MessageType, seqID int32) []byte {
	out = binary.BigEndian.AppendUint32(out, version1|uint32(typ))
	out = binary.BigEndian.AppendUint32(out, uint32(len(name)))
	out = append(out, name...)
	return binary.BigEndian.AppendUint32(out, uint32(seqID))
}

// ExceptionType is the type of a TApplicationException, as Thrift numbers
// them.
type ExceptionType int32

// The TApplicationException types a server sends.
const (
	ExceptionUnknown            ExceptionType = 0
	ExceptionUnknownMethod      ExceptionType = 1
	ExceptionInvalidMessageType ExceptionType = 2
	ExceptionInternalError      ExceptionType = 6
	ExceptionProtocolError      ExceptionType = 7
)

// The field types of TBinaryProtocol that the exception encoder writes.
const (
	typeStop   = 0
	typeI32    = 8
	typeString = 11
)

// AppendException appends a whole frame answering the call (name, seqID)
// with a TApplicationException of type typ carrying message. It does not
// allocate beyond growing out.
func AppendException(out, name []byte, seqID int32, typ ExceptionType, message string) []byte {
	out, start := BeginFrame(out)
	out = AppendMessageHeader(out, name, TypeException, seqID)
	out = append(out, typeString, 0, 1)
	out = binary.BigEndian.AppendUint32(out, uint32(len(message)))
	out = append(out, message...)
	out = append(out, typeI32, 0, 2)
	out = binary.BigEndian.AppendUint32(out, uint32(typ))
	out = append(out, typeStop)
	return EndFrame(out, start)
}
