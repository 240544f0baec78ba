package bindiff

import (
	"strings"

	"github.com/fae-sidecar/fae/proto/mcbin"
)

// Request builders for scripts.

// Get is a get-family request (get, getq, getk, getkq, delete, deleteq).
func Get(op mcbin.Opcode, key string) Req {
	return Req{R: mcbin.Request{Opcode: op, Key: []byte(key)}}
}

// Store is set, add or replace (or a quiet one).
func Store(op mcbin.Opcode, key string, flags, exptime uint32, value string) Req {
	return Req{R: mcbin.Request{Opcode: op, Key: []byte(key), Flags: flags, Exptime: exptime, Value: []byte(value)}}
}

// Concat is append or prepend (or a quiet one).
func Concat(op mcbin.Opcode, key, value string) Req {
	return Req{R: mcbin.Request{Opcode: op, Key: []byte(key), Value: []byte(value)}}
}

// Arith is increment or decrement (or a quiet one).
func Arith(op mcbin.Opcode, key string, delta, initial uint64, exptime uint32) Req {
	return Req{R: mcbin.Request{Opcode: op, Key: []byte(key), Delta: delta, Initial: initial, Exptime: exptime}}
}

// Touch is touch or a gat-family request.
func Touch(op mcbin.Opcode, key string, exptime uint32) Req {
	return Req{R: mcbin.Request{Opcode: op, Key: []byte(key), Exptime: exptime}}
}

// Simple is a request without key or extras (noop, version, quit, stat).
func Simple(op mcbin.Opcode) Req { return Req{R: mcbin.Request{Opcode: op}} }

// Stat is stat with a sub-command.
func Stat(key string) Req { return Req{R: mcbin.Request{Opcode: mcbin.OpStat, Key: []byte(key)}} }

// Flush is flush or flushq, with the extras when withDelay.
func Flush(op mcbin.Opcode, withDelay bool, delay uint32) Req {
	return Req{R: mcbin.Request{Opcode: op, HasExptime: withDelay, Exptime: delay}}
}

// WithCas sets where the request's CAS comes from.
func WithCas(q Req, from int) Req {
	q.Cas = from
	return q
}

// WithFixedCas sets the request's CAS.
func WithFixedCas(q Req, cas uint64) Req {
	q.R.Cas = cas
	return q
}

// Raw is a request sent as is.
func Raw(b []byte) Req { return Req{Raw: b} }

// Script returns the steps that cover every opcode memcached 1.6.18 serves,
// their quiet variants, their errors and memcached's protocol errors, in
// an order that needs a fresh server. Every response of these steps is the
// same on memcached and on faed (but for the differences Options name).
func Script() []Step {
	key251 := strings.Repeat("k", 251)
	key250 := strings.Repeat("k", 250)
	key186 := strings.Repeat("k", 185) + " " // the longest that memcached takes in base64 (faed's pools)
	big := strings.Repeat("b", 1<<20)
	value100k := strings.Repeat("0123456789", 10<<10)
	steps := []Step{
		{Name: "noop", Reqs: []Req{Simple(mcbin.OpNoop)}},
		{Name: "version", Reqs: []Req{Simple(mcbin.OpVersion)}},
		{Name: "get miss, every get", Reqs: []Req{
			Get(mcbin.OpGet, "k1"), Get(mcbin.OpGetK, "k1"), Get(mcbin.OpGetQ, "k1"), Get(mcbin.OpGetKQ, "k1"),
		}},
		{Name: "set then every get", Reqs: []Req{
			Store(mcbin.OpSet, "k1", 0xdeadbeef, 0, "World"),
			Get(mcbin.OpGet, "k1"), Get(mcbin.OpGetK, "k1"), Get(mcbin.OpGetQ, "k1"), Get(mcbin.OpGetKQ, "k1"),
		}},
		{Name: "empty and 250-byte key", Reqs: []Req{
			Store(mcbin.OpSet, "empty", 1, 0, ""), Get(mcbin.OpGetK, "empty"),
			Store(mcbin.OpSet, key250, 2, 0, "long key"), Get(mcbin.OpGetK, key250),
		}},
		{Name: "100k value", Reqs: []Req{
			Store(mcbin.OpSet, "v100k", 3, 0, value100k), Get(mcbin.OpGet, "v100k"),
		}},
		{Name: "far exptime is not expired", Reqs: []Req{
			Store(mcbin.OpSet, "far", 0, 0xffffffff, "x"), Store(mcbin.OpSet, "soon", 0, 3600, "y"),
			Get(mcbin.OpGetK, "far"), Get(mcbin.OpGetK, "soon"),
		}},
		{Name: "add and replace", Reqs: []Req{
			Store(mcbin.OpAdd, "k4", 0, 0, "a"), Store(mcbin.OpAdd, "k4", 0, 0, "b"),
			Store(mcbin.OpReplace, "k5", 0, 0, "c"), Store(mcbin.OpReplace, "k4", 5, 0, "d"),
			Get(mcbin.OpGetK, "k4"), Get(mcbin.OpGetK, "k5"),
		}},
		{Name: "quiet storage", Reqs: []Req{
			Store(mcbin.OpSetQ, "k2", 0, 0, "v"), Store(mcbin.OpAddQ, "k2", 0, 0, "v"),
			Store(mcbin.OpReplaceQ, "k3", 0, 0, "v"), Store(mcbin.OpAddQ, "k3", 0, 0, "v3"),
			Store(mcbin.OpReplaceQ, "k3", 7, 0, "v33"), Get(mcbin.OpGetK, "k2"), Get(mcbin.OpGetK, "k3"),
		}},
		{Name: "cas: get the unique", Reqs: []Req{Store(mcbin.OpSet, "k6", 0, 0, "1"), Get(mcbin.OpGetK, "k6")}},
		{Name: "cas: set with it", Reqs: []Req{WithCas(Store(mcbin.OpSet, "k6", 0, 0, "2"), CasLast)}},
		{Name: "cas: stale", Reqs: []Req{Get(mcbin.OpGetK, "k6"), WithCas(Store(mcbin.OpSet, "k6", 0, 0, "3"), CasLastLess)}},
		{Name: "cas: setq stale", Reqs: []Req{WithCas(Store(mcbin.OpSetQ, "k6", 0, 0, "3"), CasLastLess)}},
		{Name: "cas: setq with it", Reqs: []Req{WithCas(Store(mcbin.OpSetQ, "k6", 0, 0, "4"), CasLast), Get(mcbin.OpGetK, "k6")}},
		{Name: "cas: add and replace", Reqs: []Req{
			WithCas(Store(mcbin.OpAdd, "k6", 0, 0, "5"), CasLastLess), WithCas(Store(mcbin.OpReplace, "k6", 0, 0, "6"), CasLast),
			Get(mcbin.OpGetK, "k6"), WithFixedCas(Store(mcbin.OpSet, "nokey", 0, 0, "7"), 12345),
			WithFixedCas(Store(mcbin.OpAdd, "nokey", 0, 0, "8"), 12345),
		}},
		{Name: "delete", Reqs: []Req{
			Get(mcbin.OpDelete, "k6"), Get(mcbin.OpDelete, "k6"), Get(mcbin.OpGet, "k6"),
			Get(mcbin.OpDeleteQ, "k1"), Get(mcbin.OpDeleteQ, "k1"),
		}},
		{Name: "delete with cas", Reqs: []Req{
			Store(mcbin.OpSet, "d1", 0, 0, "v"), Get(mcbin.OpGetK, "d1"),
			WithCas(Get(mcbin.OpDelete, "d1"), CasLastLess), WithCas(Get(mcbin.OpDelete, "d1"), CasLast),
			Get(mcbin.OpGetK, "d1"),
		}},
		{Name: "increment creates", Reqs: []Req{
			Arith(mcbin.OpIncrement, "c1", 1, 5, 0), Arith(mcbin.OpIncrement, "c1", 1, 5, 0),
			Arith(mcbin.OpIncrementQ, "c1", 10, 5, 0), Arith(mcbin.OpDecrement, "c1", 100, 0, 0),
			Arith(mcbin.OpDecrementQ, "c1", 1, 0, 0),
			// Not before the decrement: memcached rewrites a counter in
			// place only while no response holds the item, so a get's
			// response still queued in the same batch changes the outcome.
			Get(mcbin.OpGetK, "c1"),
		}},
		{Name: "decrement creates", Reqs: []Req{
			Arith(mcbin.OpDecrement, "c2", 3, 9, 3600), Arith(mcbin.OpDecrement, "c2", 3, 9, 3600),
			Arith(mcbin.OpDecrementQ, "c3", 1, 42, 0), Get(mcbin.OpGetK, "c3"),
		}},
		{Name: "increment without create", Reqs: []Req{
			Arith(mcbin.OpIncrement, "c4", 1, 0, mcbin.NoCreate), Arith(mcbin.OpIncrementQ, "c4", 1, 0, mcbin.NoCreate),
			Arith(mcbin.OpDecrement, "c4", 1, 0, mcbin.NoCreate), Arith(mcbin.OpDecrementQ, "c4", 1, 0, mcbin.NoCreate),
		}},
		{Name: "increment wraps, grows, refuses text", Reqs: []Req{
			Store(mcbin.OpSet, "c5", 0, 0, "18446744073709551615"), Arith(mcbin.OpIncrement, "c5", 2, 0, 0),
			Store(mcbin.OpSet, "c6", 0, 0, "99"), Arith(mcbin.OpIncrement, "c6", 1, 0, 0), Get(mcbin.OpGetK, "c6"),
			Store(mcbin.OpSet, "c7", 0, 0, "ten"), Arith(mcbin.OpIncrement, "c7", 1, 0, 0),
			Arith(mcbin.OpDecrementQ, "c7", 1, 0, 0),
		}},
		{Name: "increment with cas", Reqs: []Req{
			Store(mcbin.OpSet, "c8", 0, 0, "1"), Get(mcbin.OpGetK, "c8"),
			WithCas(Arith(mcbin.OpIncrement, "c8", 1, 0, 0), CasLastLess),
			WithCas(Arith(mcbin.OpIncrement, "c8", 1, 0, 0), CasLast),
		}},
		{Name: "append and prepend", Reqs: []Req{
			Store(mcbin.OpSet, "a1", 9, 0, "hello"), Concat(mcbin.OpAppend, "a1", " world"),
			Concat(mcbin.OpPrepend, "a1", ">"), Concat(mcbin.OpAppendQ, "a1", "!"), Concat(mcbin.OpPrependQ, "a1", "<"),
			Get(mcbin.OpGetK, "a1"), Concat(mcbin.OpAppend, "nokey", "x"), Concat(mcbin.OpPrepend, "nokey", "x"),
			Concat(mcbin.OpAppendQ, "nokey", "x"), Concat(mcbin.OpPrependQ, "nokey", "x"),
		}},
		{Name: "append with cas", Reqs: []Req{
			Get(mcbin.OpGetK, "a1"), WithCas(Concat(mcbin.OpAppend, "a1", "x"), CasLastLess),
			WithCas(Concat(mcbin.OpAppend, "a1", "y"), CasLast), Get(mcbin.OpGetK, "a1"),
		}},
		{Name: "prepend with cas", Reqs: []Req{
			WithCas(Concat(mcbin.OpPrependQ, "a1", "x"), CasLastLess), WithCas(Concat(mcbin.OpPrepend, "a1", "<"), CasLast),
			Get(mcbin.OpGetK, "a1"), WithFixedCas(Concat(mcbin.OpPrepend, "nokey", "x"), 1),
		}},
		{Name: "decrement and deleteq with cas", Reqs: []Req{
			Store(mcbin.OpSet, "c11", 0, 0, "50"), WithCas(Arith(mcbin.OpDecrementQ, "c11", 1, 0, 0), CasLastLess),
			WithCas(Arith(mcbin.OpDecrement, "c11", 5, 0, 0), CasLast), WithCas(Get(mcbin.OpDeleteQ, "c11"), CasLastLess),
			Get(mcbin.OpGetK, "c11"), WithCas(Get(mcbin.OpDeleteQ, "c11"), CasLast), Get(mcbin.OpGetK, "c11"),
			WithFixedCas(Arith(mcbin.OpIncrement, "nokey", 1, 0, mcbin.NoCreate), 1),
		}},
		{Name: "mutations answer the item's cas", Reqs: []Req{
			Store(mcbin.OpAdd, "m1", 1, 0, "a"), Get(mcbin.OpGetK, "m1"),
			Store(mcbin.OpReplace, "m1", 2, 0, "b"), Get(mcbin.OpGetK, "m1"),
			Concat(mcbin.OpAppend, "m1", "c"), Get(mcbin.OpGetK, "m1"),
			Concat(mcbin.OpPrepend, "m1", "d"), Get(mcbin.OpGetK, "m1"),
			Store(mcbin.OpSet, "m2", 0, 0, "7"), Arith(mcbin.OpIncrement, "m2", 1, 0, 0),
			Arith(mcbin.OpDecrement, "m2", 3, 0, 0), Arith(mcbin.OpIncrement, "m3", 1, 4, 0),
		}},
		{Name: "mutations answer the item's cas: gets", Reqs: []Req{
			Get(mcbin.OpGetK, "m2"), Get(mcbin.OpGetK, "m3"), Touch(mcbin.OpTouch, "m3", 0),
		}},
		{Name: "increment creates with an exptime", Reqs: []Req{
			// Past 2038 (0xfffffffe): still in the future. An absolute time
			// in 2001: expired at once, though the response has the value.
			Arith(mcbin.OpIncrement, "c9", 1, 7, 0xfffffffe), Arith(mcbin.OpIncrement, "c10", 1, 3, 1000000000),
			Arith(mcbin.OpDecrementQ, "c12", 1, 3, 1000000000),
		}},
		{Name: "increment creates with an exptime: gets", Reqs: []Req{
			Get(mcbin.OpGetK, "c9"), Get(mcbin.OpGetK, "c10"), Get(mcbin.OpGetK, "c12"),
		}},
		{Name: "keys with a space and a control byte", Reqs: []Req{
			Store(mcbin.OpSet, "a b", 5, 0, "v1"), Get(mcbin.OpGetK, "a b"), Get(mcbin.OpGet, "a b"),
			Store(mcbin.OpAdd, "a b", 0, 0, "x"), Store(mcbin.OpReplace, "a\x01b", 0, 0, "x"),
			Store(mcbin.OpAddQ, "a\x01b", 6, 0, "v2"), Concat(mcbin.OpAppend, "a b", "+"), Concat(mcbin.OpPrependQ, "a\x01b", "-"),
			Get(mcbin.OpGetK, "a b"), Get(mcbin.OpGetKQ, "a\x01b"), Get(mcbin.OpGetKQ, "no key"),
			Arith(mcbin.OpIncrement, "n \x7f", 2, 10, 0), Arith(mcbin.OpIncrement, "n \x7f", 2, 10, 0),
			Arith(mcbin.OpIncrement, "no\x00key", 1, 0, mcbin.NoCreate), Arith(mcbin.OpIncrement, "a b", 1, 0, 0),
		}},
		{Name: "keys with a space and a control byte: touch, cas, delete", Reqs: []Req{
			Get(mcbin.OpGetK, "n \x7f"), Touch(mcbin.OpTouch, "a b", 100), Touch(mcbin.OpGATK, "a\x01b", 100),
			Touch(mcbin.OpGATQ, "no key", 100), Touch(mcbin.OpTouch, "no key", 100),
			WithCas(Store(mcbin.OpSet, "a\x01b", 0, 0, "v3"), CasLastLess), WithCas(Store(mcbin.OpSet, "a\x01b", 0, 0, "v3"), CasLast),
			WithCas(Get(mcbin.OpDelete, "a\x01b"), CasLastLess), WithCas(Get(mcbin.OpDelete, "a\x01b"), CasLast),
			Get(mcbin.OpDelete, "a b"), Get(mcbin.OpDeleteQ, "a b"), Get(mcbin.OpGetK, "a b"), Get(mcbin.OpGetK, "a\x01b"),
		}},
		{Name: "longest key with a space", Reqs: []Req{
			Store(mcbin.OpSet, key186, 1, 0, "v"), Get(mcbin.OpGetK, key186), Get(mcbin.OpDelete, key186),
		}},
		{Name: "too large with a space", Reqs: []Req{
			Store(mcbin.OpSet, "big key", 0, 0, "small"), Store(mcbin.OpSet, "big key", 0, 0, big), Get(mcbin.OpGetK, "big key"),
		}},
		{Name: "touch and gat", Reqs: []Req{
			Store(mcbin.OpSet, "t1", 0xabcd, 0, "val"), Touch(mcbin.OpTouch, "t1", 100), Touch(mcbin.OpTouch, "nokey", 100),
			Touch(mcbin.OpGAT, "t1", 100), Touch(mcbin.OpGATK, "t1", 100), Touch(mcbin.OpGATQ, "t1", 100),
			Touch(mcbin.OpGATKQ, "t1", 100), Touch(mcbin.OpGAT, "nokey", 1), Touch(mcbin.OpGATK, "nokey", 1),
			Touch(mcbin.OpGATQ, "nokey", 1), Touch(mcbin.OpGATKQ, "nokey", 1),
		}},
		{Name: "pipelined multi-get", Reqs: []Req{
			Get(mcbin.OpGetKQ, "k1"), Get(mcbin.OpGetKQ, "k2"), Get(mcbin.OpGetKQ, "k3"), Get(mcbin.OpGetKQ, "k4"),
			Get(mcbin.OpGetKQ, "k5"), Get(mcbin.OpGetKQ, "a1"), Get(mcbin.OpGetKQ, "t1"), Get(mcbin.OpGetK, "c1"),
		}},
		{Name: "too large", Reqs: []Req{
			Store(mcbin.OpSet, "big", 0, 0, "small"), Store(mcbin.OpSet, "big", 0, 0, big), Get(mcbin.OpGetK, "big"),
			Store(mcbin.OpSetQ, "big2", 0, 0, big), Store(mcbin.OpAdd, "big3", 0, 0, big),
			Concat(mcbin.OpAppend, "a1", big), Get(mcbin.OpGetK, "a1"),
		}},
	}
	steps = append(steps, casMatchSteps("cm1")...)
	steps = append(steps, casMatchSteps("cm 2")...) // in base64, on meta commands
	return append(steps, []Step{
		{Name: "stat reset and unknown", Reqs: []Req{Stat("reset"), Stat("nosuchstat")}},
		{Name: "unknown commands", Reqs: []Req{
			// Verbosity without its extras: memcached 1.6.18 serves no
			// verbosity (with the extras it waits forever).
			Simple(0x20), Raw(Header(mcbin.MagicRequest, mcbin.OpVerbosity, 0, 0, 0, 8)),
			Raw(Header(mcbin.MagicRequest, 0x30, 0, 0, 0, 9)),
		}},
		{Name: "flush", Reqs: []Req{
			Flush(mcbin.OpFlush, false, 0), Get(mcbin.OpGetK, "k2"), Store(mcbin.OpSet, "f1", 0, 0, "v"),
			Flush(mcbin.OpFlushQ, false, 0), Get(mcbin.OpGetK, "f1"), Store(mcbin.OpSet, "f2", 0, 0, "v"),
			Flush(mcbin.OpFlush, true, 0), Get(mcbin.OpGetK, "f2"), Store(mcbin.OpSet, "f3", 0, 0, "v"),
			Flush(mcbin.OpFlushQ, true, 0), Get(mcbin.OpGetK, "f3"),
		}},
		{Name: "quit", Reqs: []Req{Simple(mcbin.OpQuit), Simple(mcbin.OpNoop)}},
		{Name: "quitq", Reqs: []Req{Simple(mcbin.OpQuitQ), Simple(mcbin.OpNoop)}},
		{Name: "key too long closes", Reqs: []Req{Get(mcbin.OpGet, key251), Simple(mcbin.OpNoop)}},
		{Name: "get with extras closes", Reqs: []Req{
			Raw(append(Header(mcbin.MagicRequest, mcbin.OpGet, 1, 4, 5, 1), "1234k"...)),
		}},
		{Name: "key beyond body closes", Reqs: []Req{
			Raw(append(Header(mcbin.MagicRequest, mcbin.OpGet, 3, 0, 2, 1), "kkk"...)),
		}},
		{Name: "set without extras closes", Reqs: []Req{
			Raw(append(Header(mcbin.MagicRequest, mcbin.OpSet, 1, 0, 2, 1), "kv"...)),
		}},
		{Name: "bad magic after a request closes", Reqs: []Req{
			Simple(mcbin.OpNoop), Raw(Header(mcbin.MagicResponse, mcbin.OpNoop, 0, 0, 0, 1)),
		}},
		{Name: "flush with a delay", Reqs: []Req{
			Store(mcbin.OpSet, "late", 0, 0, "v"), Flush(mcbin.OpFlush, true, 3600), Get(mcbin.OpGetK, "late"),
		}},
	}...)
}

// casMatchSteps covers the CAS conditions that hold: a request's CasLast is
// read when its step is sent, so each conditional request follows, in a
// later step, the response that carries the item's CAS.
func casMatchSteps(key string) []Step {
	cond := func(name string, q Req) Step {
		return Step{Name: "matching cas, " + key + ": " + name, Reqs: []Req{WithCas(q, CasLast), Get(mcbin.OpGetK, key)}}
	}
	prime := func(value string) Step {
		return Step{Name: "matching cas, " + key + ": set " + value, Reqs: []Req{
			Store(mcbin.OpSet, key, 3, 0, value), Get(mcbin.OpGetK, key),
		}}
	}
	return []Step{
		prime("v"), cond("delete", Get(mcbin.OpDelete, key)),
		prime("v"), cond("deleteq", Get(mcbin.OpDeleteQ, key)),
		prime("10"), cond("increment", Arith(mcbin.OpIncrement, key, 2, 0, 0)),
		cond("decrementq", Arith(mcbin.OpDecrementQ, key, 1, 0, mcbin.NoCreate)),
		cond("set", Store(mcbin.OpSet, key, 4, 0, "w")), cond("add", Store(mcbin.OpAdd, key, 5, 0, "x")),
		cond("replaceq", Store(mcbin.OpReplaceQ, key, 6, 0, "y")), cond("appendq", Concat(mcbin.OpAppendQ, key, "+")),
	}
}
