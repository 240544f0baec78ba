package mcbin

// Magic bytes of the binary protocol, the first byte of every packet.
const (
	MagicRequest  = 0x80
	MagicResponse = 0x81
)

// HeaderLen is the length of a request or response header.
const HeaderLen = 24

// Opcode is the command byte of a packet.
type Opcode uint8

// The opcodes memcached 1.6.18 serves, and verbosity (see [Parser.Parse]).
const (
	OpGet        Opcode = 0x00
	OpSet        Opcode = 0x01
	OpAdd        Opcode = 0x02
	OpReplace    Opcode = 0x03
	OpDelete     Opcode = 0x04
	OpIncrement  Opcode = 0x05
	OpDecrement  Opcode = 0x06
	OpQuit       Opcode = 0x07
	OpFlush      Opcode = 0x08
	OpGetQ       Opcode = 0x09
	OpNoop       Opcode = 0x0a
	OpVersion    Opcode = 0x0b
	OpGetK       Opcode = 0x0c
	OpGetKQ      Opcode = 0x0d
	OpAppend     Opcode = 0x0e
	OpPrepend    Opcode = 0x0f
	OpStat       Opcode = 0x10
	OpSetQ       Opcode = 0x11
	OpAddQ       Opcode = 0x12
	OpReplaceQ   Opcode = 0x13
	OpDeleteQ    Opcode = 0x14
	OpIncrementQ Opcode = 0x15
	OpDecrementQ Opcode = 0x16
	OpQuitQ      Opcode = 0x17
	OpFlushQ     Opcode = 0x18
	OpAppendQ    Opcode = 0x19
	OpPrependQ   Opcode = 0x1a
	OpVerbosity  Opcode = 0x1b
	OpTouch      Opcode = 0x1c
	OpGAT        Opcode = 0x1d
	OpGATQ       Opcode = 0x1e
	OpGATK       Opcode = 0x23
	OpGATKQ      Opcode = 0x24
)

// shape is the layout a request of an opcode must have; memcached answers
// any other with "Invalid arguments" and closes the connection.
type shape uint8

const (
	shapeUnknown   shape = iota // not served: "Unknown command"
	shapeEmpty                  // no extras, key or value: noop, version, quit
	shapeGet                    // key only
	shapeStore                  // 8 bytes of extras (flags, exptime), key, value
	shapeConcat                 // key and value: append, prepend
	shapeArith                  // 20 bytes of extras (delta, initial, exptime), key
	shapeFlush                  // optional 4 bytes of extras (exptime)
	shapeTouch                  // 4 bytes of extras (exptime), key
	shapeStat                   // optional key
	shapeVerbosity              // 4 bytes of extras (level)
)

// opInfo describes one opcode. base is the loud opcode of a quiet one.
type opInfo struct {
	name  string
	base  Opcode
	quiet bool
	shape shape
}

// ops maps an opcode to what it is; index = opcode. Read-only.
var ops = [256]opInfo{
	OpGet:        {"get", OpGet, false, shapeGet},
	OpSet:        {"set", OpSet, false, shapeStore},
	OpAdd:        {"add", OpAdd, false, shapeStore},
	OpReplace:    {"replace", OpReplace, false, shapeStore},
	OpDelete:     {"delete", OpDelete, false, shapeGet},
	OpIncrement:  {"increment", OpIncrement, false, shapeArith},
	OpDecrement:  {"decrement", OpDecrement, false, shapeArith},
	OpQuit:       {"quit", OpQuit, false, shapeEmpty},
	OpFlush:      {"flush", OpFlush, false, shapeFlush},
	OpGetQ:       {"getq", OpGet, true, shapeGet},
	OpNoop:       {"noop", OpNoop, false, shapeEmpty},
	OpVersion:    {"version", OpVersion, false, shapeEmpty},
	OpGetK:       {"getk", OpGetK, false, shapeGet},
	OpGetKQ:      {"getkq", OpGetK, true, shapeGet},
	OpAppend:     {"append", OpAppend, false, shapeConcat},
	OpPrepend:    {"prepend", OpPrepend, false, shapeConcat},
	OpStat:       {"stat", OpStat, false, shapeStat},
	OpSetQ:       {"setq", OpSet, true, shapeStore},
	OpAddQ:       {"addq", OpAdd, true, shapeStore},
	OpReplaceQ:   {"replaceq", OpReplace, true, shapeStore},
	OpDeleteQ:    {"deleteq", OpDelete, true, shapeGet},
	OpIncrementQ: {"incrementq", OpIncrement, true, shapeArith},
	OpDecrementQ: {"decrementq", OpDecrement, true, shapeArith},
	OpQuitQ:      {"quitq", OpQuit, true, shapeEmpty},
	OpFlushQ:     {"flushq", OpFlush, true, shapeFlush},
	OpAppendQ:    {"appendq", OpAppend, true, shapeConcat},
	OpPrependQ:   {"prependq", OpPrepend, true, shapeConcat},
	OpVerbosity:  {"verbosity", OpVerbosity, false, shapeVerbosity},
	OpTouch:      {"touch", OpTouch, false, shapeTouch},
	OpGAT:        {"gat", OpGAT, false, shapeTouch},
	OpGATQ:       {"gatq", OpGAT, true, shapeTouch},
	OpGATK:       {"gatk", OpGATK, false, shapeTouch},
	OpGATKQ:      {"gatkq", OpGATK, true, shapeTouch},
}

// String returns the opcode's name ("getkq"), or "" for one not served.
func (o Opcode) String() string { return ops[o].name }

// Known reports whether o is an opcode that Parse accepts.
func (o Opcode) Known() bool { return ops[o].shape != shapeUnknown }

// Quiet reports whether o is a quiet variant: it answers a get miss with
// nothing and a successful mutation with nothing; errors are still sent.
func (o Opcode) Quiet() bool { return ops[o].quiet }

// Base returns the loud opcode of a quiet one (OpGetKQ → OpGetK), and o
// itself otherwise.
func (o Opcode) Base() Opcode {
	if ops[o].shape == shapeUnknown {
		return o
	}
	return ops[o].base
}

// Status is the status field of a response.
type Status uint16

// Response statuses. memcached 1.6.18 sends those up to OutOfMemory;
// the others are the protocol's, for errors a proxy has and memcached
// does not.
const (
	StatusOK             Status = 0x0000
	StatusKeyNotFound    Status = 0x0001
	StatusKeyExists      Status = 0x0002
	StatusValueTooLarge  Status = 0x0003
	StatusInvalidArgs    Status = 0x0004
	StatusNotStored      Status = 0x0005
	StatusNonNumeric     Status = 0x0006
	StatusAuthError      Status = 0x0020
	StatusUnknownCommand Status = 0x0081
	StatusOutOfMemory    Status = 0x0082
	StatusNotSupported   Status = 0x0083
	StatusInternalError  Status = 0x0084
	StatusBusy           Status = 0x0085
	StatusTempFailure    Status = 0x0086
)

// Message returns the body memcached sends with an error status ("Not
// found"), or "" for StatusOK.
func (s Status) Message() string {
	switch s {
	case StatusOK:
		return ""
	case StatusKeyNotFound:
		return "Not found"
	case StatusKeyExists:
		return "Data exists for key."
	case StatusValueTooLarge:
		return "Too large."
	case StatusInvalidArgs:
		return "Invalid arguments"
	case StatusNotStored:
		return "Not stored."
	case StatusNonNumeric:
		return "Non-numeric server-side value for incr or decr"
	case StatusAuthError:
		return "Auth failure."
	case StatusUnknownCommand:
		return "Unknown command"
	case StatusOutOfMemory:
		return "Out of memory"
	case StatusNotSupported:
		return "Not supported"
	case StatusInternalError:
		return "Internal error"
	case StatusBusy:
		return "Busy"
	case StatusTempFailure:
		return "Temporary failure"
	}
	return "Unknown error"
}

// NoCreate is the Exptime of an increment or decrement that must not
// create a missing counter: memcached then answers "Not found".
const NoCreate = 0xffffffff

// Request is one parsed binary-protocol request. The extras are decoded
// into the fields the opcode uses (see each field); the others are zero.
//
// Key, Value and Extras are views into the buffer the request was parsed
// from and are valid only until that buffer is discarded or reused. A
// Request is reused across parses and is not safe for concurrent use.
type Request struct {
	Opcode   Opcode
	DataType uint8  // reserved by the protocol; memcached ignores it
	VBucket  uint16 // the reserved header field; memcached ignores it
	Opaque   uint32 // echoed in the response
	// Cas is the header's CAS: for set, add and replace a non-zero Cas
	// makes the command a compare-and-swap; for append, prepend, delete,
	// increment and decrement it is a condition on the item's unique.
	Cas    uint64
	Extras []byte
	Key    []byte
	Value  []byte
	// Flags is the client flags word of set, add and replace.
	Flags uint32
	// Exptime is the expiration of set, add, replace, touch, the gat
	// family, increment and decrement (NoCreate: do not create), and the
	// delay of flush. It is unsigned in this protocol: memcached never
	// reads it as "already expired".
	Exptime uint32
	// HasExptime reports whether flush carried its extras.
	HasExptime bool
	// Delta and Initial are the amount of increment and decrement and the
	// value a missing counter is created with.
	Delta, Initial uint64
	// Level is the argument of verbosity.
	Level uint32
	// Need is set when Parse returns ErrIncomplete for a request whose
	// header, extras and key are in and accepted and whose value is not:
	// the length of the whole packet. 0 otherwise.
	Need int
}
