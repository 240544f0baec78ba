package memcache

// Command names a text-protocol command.
type Command uint8

// The commands of the memcached text protocol.
const (
	CmdUnknown Command = iota
	CmdGet
	CmdGets
	CmdGat
	CmdGats
	CmdSet
	CmdAdd
	CmdReplace
	CmdAppend
	CmdPrepend
	CmdCas
	CmdDelete
	CmdIncr
	CmdDecr
	CmdTouch
	CmdFlushAll
	CmdVersion
	CmdVerbosity
	CmdQuit
	CmdStats
	// fae's own verbs, served by the server's servants (docs/PROTOCOL.md):
	// "lock <key> <ttl_ms>", "unlock <key> <token>", "id [<tag>]".
	CmdLock
	CmdUnlock
	CmdID
	// The meta commands mg, ms, md, ma, mn and me (see meta.go).
	CmdMetaGet
	CmdMetaSet
	CmdMetaDelete
	CmdMetaArith
	CmdMetaNoop
	CmdMetaDebug
	numCommands
)

// commandNames maps a Command to its protocol name; index = Command.
var commandNames = [numCommands]string{
	CmdUnknown:   "",
	CmdGet:       "get",
	CmdGets:      "gets",
	CmdGat:       "gat",
	CmdGats:      "gats",
	CmdSet:       "set",
	CmdAdd:       "add",
	CmdReplace:   "replace",
	CmdAppend:    "append",
	CmdPrepend:   "prepend",
	CmdCas:       "cas",
	CmdDelete:    "delete",
	CmdIncr:      "incr",
	CmdDecr:      "decr",
	CmdTouch:     "touch",
	CmdFlushAll:  "flush_all",
	CmdVersion:   "version",
	CmdVerbosity: "verbosity",
	CmdQuit:      "quit",
	CmdStats:     "stats",
	CmdLock:      "lock",
	CmdUnlock:    "unlock",
	CmdID:        "id",

	CmdMetaGet:    "mg",
	CmdMetaSet:    "ms",
	CmdMetaDelete: "md",
	CmdMetaArith:  "ma",
	CmdMetaNoop:   "mn",
	CmdMetaDebug:  "me",
}

// String returns the command's protocol name.
func (c Command) String() string {
	if c < numCommands {
		return commandNames[c]
	}
	return ""
}

// IsRetrieval reports whether c is get, gets, gat or gats.
func (c Command) IsRetrieval() bool { return c >= CmdGet && c <= CmdGats }

// IsStorage reports whether c is set, add, replace, append, prepend or
// cas: the classic commands that carry a data block (ms carries one too
// but is not counted here, see IsMeta).
func (c Command) IsStorage() bool { return c >= CmdSet && c <= CmdCas }

// HasKey reports whether c addresses one or more keys: every keyed classic
// command, and the meta commands but mn. A meta command has exactly one key.
func (c Command) HasKey() bool {
	return c >= CmdGet && c <= CmdTouch || c.IsMeta() && c != CmdMetaNoop
}

// IsMeta reports whether c is a meta command (mg, ms, md, ma, mn, me).
func (c Command) IsMeta() bool { return c >= CmdMetaGet && c <= CmdMetaDebug }

// Origin is what a Request stands for when a server made it rather than
// parsed it from a text-protocol client. memcached counts a few outcomes
// of those differently from the command that carries them, and pools
// count a request as memcached counts what the client sent.
type Origin uint8

const (
	// OriginText is a request parsed from a text-protocol client.
	OriginText Origin = iota
	// OriginBinary is the translation of a binary-protocol request:
	// memcached counts a binary delete refused for its CAS (the md's EX)
	// as neither a hit nor a miss, where it counts an md's EX a miss.
	OriginBinary
	// OriginUnlink is a server's unlink of the item of a set it refused as
	// too large: memcached counts nothing for that set and its unlink.
	OriginUnlink
)

// Request is one parsed text-protocol request.
//
// Every byte slice in a Request is a view into the buffer it was parsed from
// and is valid only until that buffer is discarded or reused; copy what must
// outlive it (see [Request.CopyTo]). A Request is reused across parses and is
// not safe for concurrent use.
type Request struct {
	Cmd Command
	// Keys holds the keys in request order: one for storage, delete, incr,
	// decr and touch; one or more for retrievals (Parse answers a gat or
	// gats without keys itself, see [Error]).
	Keys [][]byte
	// Flags is the client flags word of a storage command.
	Flags uint32
	// Exptime is the expiration time as sent (storage, touch, gat, gats),
	// and the delay of flush_all. Negative means "already expired". Like
	// memcached, Parse keeps only the low 32 bits of the number sent, so it
	// is always within int32.
	Exptime int64
	// Data is the data block of a storage command, without its "\r\n".
	Data []byte
	// Cas is the compare-and-swap unique of a cas command.
	Cas uint64
	// Delta is the amount of incr and decr, the ttl in milliseconds of
	// lock, and the tag of id.
	Delta uint64
	// Level is the argument of verbosity.
	Level uint32
	// HasArg reports whether flush_all carried a delay argument, or id a
	// tag.
	HasArg bool
	// NoReply is true when the client asked for no reply (a meta command
	// asks with flag q instead). Parse sets it on the classic commands
	// only; a server sets it on a request of its own, meta or not, whose
	// reply nobody reads (the unlink that follows a refused set).
	NoReply bool
	// Origin is what the request stands for when a server made it (the
	// translation of a binary request, or its own unlink), so that pools
	// count it as memcached counts what the client sent. Parse leaves it
	// OriginText.
	Origin Origin
	// Args holds the arguments of stats (e.g. "items", "slabs"), and the
	// token of unlock.
	Args [][]byte
	// Meta holds the flags of a meta command; its data block (ms) is in
	// Data.
	Meta MetaFlags
	// Need is set when Parse returns ErrIncomplete for a storage command
	// or ms whose command line is in and accepted and whose data block is
	// not: the length of the whole request, command line and data block
	// with its "\r\n". The other fields then hold what the line says
	// (Cmd, Keys, NoReply, Meta...). 0 otherwise.
	Need int

	// item is the decoded key of a meta command whose key came in base64
	// (flag b): Parse decodes it into itemBuf once, as it must to check it,
	// and [Request.SetItemKey] sets it on a request built by hand. nil
	// otherwise; Reset clears it.
	item []byte
	// itemBuf holds a parsed request's item; its capacity (MaxMetaKey) is
	// kept across Reset, so decoding allocates once per Request.
	itemBuf []byte
}

// Reset clears r for reuse, keeping the capacity of its slices.
func (r *Request) Reset() {
	keys, args, ib := r.Keys[:0], r.Args[:0], r.itemBuf
	// Zeroing in place, then setting the kept fields, spares the copy of
	// a whole Request that a composite literal with them costs.
	*r = Request{}
	r.Keys, r.Args, r.itemBuf = keys, args, ib
}

// Key returns the first key, or nil.
func (r *Request) Key() []byte {
	if len(r.Keys) == 0 {
		return nil
	}
	return r.Keys[0]
}

// CopyTo makes dst a deep copy of r whose slices point into arena, which is
// grown as needed and returned; dst stays valid after r's buffer is gone.
// Reusing dst and arena makes the copy allocation-free in steady state.
func (r *Request) CopyTo(dst *Request, arena []byte) []byte {
	arena = arena[:0]
	n := len(r.Data) + len(r.Meta.Tokens) + len(r.item)
	for _, k := range r.Keys {
		n += len(k)
	}
	for _, a := range r.Args {
		n += len(a)
	}
	if cap(arena) < n {
		arena = make([]byte, 0, n)
	}
	keys, args, ib := dst.Keys[:0], dst.Args[:0], dst.itemBuf
	*dst = *r
	dst.itemBuf = ib
	for _, k := range r.Keys {
		s := len(arena)
		arena = append(arena, k...)
		keys = append(keys, arena[s:len(arena):len(arena)])
	}
	for _, a := range r.Args {
		s := len(arena)
		arena = append(arena, a...)
		args = append(args, arena[s:len(arena):len(arena)])
	}
	dst.Keys, dst.Args = keys, args
	if r.Data != nil {
		s := len(arena)
		arena = append(arena, r.Data...)
		dst.Data = arena[s:len(arena):len(arena)]
	}
	if r.Meta.Tokens != nil {
		s := len(arena)
		arena = append(arena, r.Meta.Tokens...)
		dst.Meta.Tokens = arena[s:len(arena):len(arena)]
	}
	if r.item != nil {
		s := len(arena)
		arena = append(arena, r.item...)
		dst.item = arena[s:len(arena):len(arena)]
	}
	return arena
}
