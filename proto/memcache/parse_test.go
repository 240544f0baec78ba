package memcache

import (
	"errors"
	"strings"
	"testing"
)

// parseCase is one request and what memcached 1.6.18 makes of it. Every
// expectation below was checked against the real server (see the report
// of the change that added this file for the probe transcripts).
type parseCase struct {
	name string
	p    Parser
	in   string
	// n is the number of bytes consumed; 0 means len(in).
	n int
	// req is the request expected; nil skips the check.
	req *Request
	// err is the error expected; nil means success.
	err        *Error
	incomplete bool
}

var (
	long251  = strings.Repeat("L", 251)
	key250   = strings.Repeat("k", 250)
	errUnk   = &Error{Reply: errUnknown}
	errFmt   = &Error{Reply: errBadFormat}
	errClose = &Error{Close: true}
	silent   = &Error{}
)

func manyKeys(n int, k string) string {
	return strings.TrimSpace(strings.Repeat(k+" ", n))
}

var retrievalCases = []parseCase{
	{name: "get", in: "get k\r\n", req: &Request{Cmd: CmdGet, Keys: keys("k")}},
	{name: "get bare LF", in: "get k\n", req: &Request{Cmd: CmdGet, Keys: keys("k")}},
	{name: "get many", in: "get a b c\r\n", req: &Request{Cmd: CmdGet, Keys: keys("a", "b", "c")}},
	{name: "get extra spaces", in: "get  a   b  \r\n", req: &Request{Cmd: CmdGet, Keys: keys("a", "b")}},
	{name: "get then more", in: "get a\r\nget b\r\n", n: 7, req: &Request{Cmd: CmdGet, Keys: keys("a")}},
	{name: "gets", in: "gets a b\r\n", req: &Request{Cmd: CmdGets, Keys: keys("a", "b")}},
	{name: "bget is get", in: "bget a\r\n", req: &Request{Cmd: CmdGet, Keys: keys("a")}},
	{name: "gat", in: "gat 100 a b\r\n", req: &Request{Cmd: CmdGat, Exptime: 100, Keys: keys("a", "b")}},
	{name: "gat no keys", in: "gat 100\r\n", err: &Error{Reply: replyEnd}},
	{name: "gats no keys", in: "gats 0   \r\n", err: &Error{Reply: replyEnd}},
	{name: "gats negative", in: "gats -1 a\r\n", req: &Request{Cmd: CmdGats, Exptime: -1, Keys: keys("a")}},
	{name: "gat bad exptime", in: "gat x a\r\n", err: &Error{Reply: errBadExptime}},
	{name: "gat exptime beyond int64", in: "gat 9223372036854775808 a\r\n", err: &Error{Reply: errBadExptime}},
	{name: "get alone", in: "get\r\n", err: errUnk},
	{name: "get space", in: "get \r\n", err: errUnk},
	{name: "gets alone", in: "gets\r\n", err: errUnk},
	{name: "gat alone", in: "gat\r\n", err: errUnk},
	{name: "gats alone", in: "gats\r\n", err: errUnk},
	{name: "get tab is not a separator", in: "get\ta\r\n", err: errUnk},
	{name: "key keeps second CR", in: "get a\r\r\n", req: &Request{Cmd: CmdGet, Keys: keys("a\r")}},
	{name: "key with inner CR", in: "get a\rb\n", req: &Request{Cmd: CmdGet, Keys: keys("a\rb")}},
	{name: "key with tab and ctl", in: "get a\tb \x01\xff\r\n", req: &Request{Cmd: CmdGet, Keys: keys("a\tb", "\x01\xff")}},
	{name: "NUL ends the line", in: "get a\x00zzz\r\n", req: &Request{Cmd: CmdGet, Keys: keys("a")}},
	{name: "NUL before key", in: "get \x00a\r\n", err: errUnk},
	{name: "NUL first", in: "\x00get a\r\n", err: errUnk},
	{name: "noreply is a key", in: "get a noreply\r\n", req: &Request{Cmd: CmdGet, Keys: keys("a", "noreply")}},
	{name: "get HTTP is keys", in: "get / HTTP/1.1\r\n", req: &Request{Cmd: CmdGet, Keys: keys("/", "HTTP/1.1")}},
	{name: "key 250", in: "get " + key250 + "\r\n", req: &Request{Cmd: CmdGet, Keys: keys(key250)}},
	{name: "key 251", in: "get " + long251 + "\r\n", err: errFmt},
	{name: "key 251 after keys", in: "get a b " + long251 + " c\r\n", err: errFmt, req: &Request{Cmd: CmdGet, Keys: keys("a", "b")}},
	{name: "key 251 in gets", in: "gets a " + long251 + "\r\n", err: errFmt},
	{name: "key 251 in gats keeps touched keys", in: "gats 7 a " + long251 + "\r\n", err: errFmt,
		req: &Request{Cmd: CmdGats, Exptime: 7, Keys: keys("a")}},
	{name: "key 251 after 25 keys", in: "get " + manyKeys(25, "a") + " " + long251 + "\r\n", err: errFmt},
	{name: "30 keys", in: "get " + manyKeys(30, "a") + "\r\n",
		req: &Request{Cmd: CmdGet, Keys: keys(strings.Fields(manyKeys(30, "a"))...)}},
	{name: "23rd token then spaces", in: "get " + manyKeys(22, "a") + "   \r\n",
		req: &Request{Cmd: CmdGet, Keys: keys(strings.Fields(manyKeys(22, "a"))...)}},
	{name: "100 keys", in: "get " + manyKeys(100, "key") + "\r\n",
		req: &Request{Cmd: CmdGet, Keys: keys(strings.Fields(manyKeys(100, "key"))...)}},
	{name: "custom key limit", p: Parser{MaxKeyLen: 3}, in: "get abc abcd\r\n", err: errFmt},
}

var storageCases = []parseCase{
	{name: "set", in: "set k1 0 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k1"), Data: []byte("a")}},
	{name: "set bare LF line", in: "set k1 0 0 1\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k1"), Data: []byte("a")}},
	{name: "set all fields", in: "set k 5 100 3\r\nabc\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Flags: 5, Exptime: 100, Data: []byte("abc")}},
	{name: "set empty", in: "set f 0 0 0\r\n\r\n", req: &Request{Cmd: CmdSet, Keys: keys("f"), Data: []byte{}}},
	{name: "data holds CRLF", in: "set k 0 0 4\r\na\r\nb\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Data: []byte("a\r\nb")}},
	{name: "add", in: "add k 0 0 1\r\na\r\n", req: &Request{Cmd: CmdAdd, Keys: keys("k"), Data: []byte("a")}},
	{name: "replace", in: "replace k 0 0 1\r\na\r\n", req: &Request{Cmd: CmdReplace, Keys: keys("k"), Data: []byte("a")}},
	{name: "append", in: "append k 0 0 1\r\na\r\n", req: &Request{Cmd: CmdAppend, Keys: keys("k"), Data: []byte("a")}},
	{name: "prepend", in: "prepend k 0 0 1\r\na\r\n", req: &Request{Cmd: CmdPrepend, Keys: keys("k"), Data: []byte("a")}},
	{name: "cas", in: "cas k1 0 0 1 5\r\na\r\n", req: &Request{Cmd: CmdCas, Keys: keys("k1"), Cas: 5, Data: []byte("a")}},
	{name: "cas noreply", in: "cas k 0 0 1 5 noreply\r\na\r\n", req: &Request{Cmd: CmdCas, Keys: keys("k"), Cas: 5, NoReply: true, Data: []byte("a")}},
	{name: "cas max", in: "cas k 0 0 1 18446744073709551615\r\na\r\n", req: &Request{Cmd: CmdCas, Keys: keys("k"), Cas: 1<<64 - 1, Data: []byte("a")}},
	{name: "cas minus zero", in: "cas k 0 0 1 -0\r\na\r\n", req: &Request{Cmd: CmdCas, Keys: keys("k"), Data: []byte("a")}},
	{name: "cas bad", in: "cas k1 0 0 1 x\r\na\r\n", n: 16, err: errFmt},
	{name: "cas negative", in: "cas k1 0 0 1 -1\r\n", err: errFmt},
	{name: "cas 2^64", in: "cas q 0 0 1 18446744073709551616\r\n", err: errFmt},
	{name: "cas 5 tokens", in: "cas k1 0 0 1\r\n", err: errUnk},
	{name: "noreply", in: "set k1 0 0 1 noreply\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k1"), NoReply: true, Data: []byte("a")}},
	{name: "7th token not noreply is ignored", in: "set k1 0 0 1 xx\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k1"), Data: []byte("a")}},
	{name: "4 args", in: "set k1 0 0\r\n", err: errUnk},
	{name: "7 args", in: "set k1 0 0 1 noreply x\r\n", err: errUnk},
	{name: "set alone", in: "set\r\n", err: errUnk},
	{name: "append alone", in: "append\r\n", err: errUnk},
	{name: "replace 1 arg", in: "replace k\r\n", err: errUnk},
	{name: "prepend 7 args", in: "prepend k 0 0 1 2 3\r\n", err: errUnk},
	{name: "cas alone", in: "cas\r\n", err: errUnk},
	{name: "set tab", in: "set\tk 0 0 1\r\n", err: errUnk},
	{name: "upper case", in: "SET k 0 0 1\r\n", err: errUnk},
	{name: "NUL cuts line", in: "set a 0 0 1\x00junk\r\nb\r\n", req: &Request{Cmd: CmdSet, Keys: keys("a"), Data: []byte("b")}},
	{name: "NUL in key", in: "set a\x00b 0 0 1\r\n", err: errUnk},
	{name: "ctl byte in key", in: "set a\x01b 0 0 1\r\nb\r\n", req: &Request{Cmd: CmdSet, Keys: keys("a\x01b"), Data: []byte("b")}},
	{name: "key 250", in: "set " + key250 + " 0 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys(key250), Data: []byte("a")}},
	{name: "key 251", in: "set " + long251 + " 0 0 1\r\n", err: errFmt},
	{name: "key 251 noreply", in: "set " + long251 + " 0 0 1 noreply\r\n", err: silent},
	{name: "bad flags", in: "set k1 x 0 1\r\n", err: errFmt},
	{name: "flags -1", in: "set k1 -1 0 1\r\n", err: errFmt},
	{name: "flags junk", in: "set k1 7x 0 1\r\n", err: errFmt},
	{name: "flags sign only", in: "set f - 0 1\r\n", err: errFmt},
	{name: "flags plus only", in: "set f + 0 1\r\n", err: errFmt},
	{name: "flags hex", in: "set f 0x1 0 1\r\n", err: errFmt},
	{name: "flags sign then tab", in: "set f -\t0 0 1\r\n", err: errFmt},
	{name: "flags 2^64", in: "set q 18446744073709551616 0 1\r\n", err: errFmt},
	{name: "flags truncated 2^32", in: "set k 4294967296 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Data: []byte("a")}},
	{name: "flags 2^32-1", in: "set k 4294967295 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Flags: 1<<32 - 1, Data: []byte("a")}},
	{name: "flags 2^63", in: "set k 9223372036854775808 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Data: []byte("a")}},
	{name: "flags 2^64-1", in: "set k 18446744073709551615 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Flags: 1<<32 - 1, Data: []byte("a")}},
	{name: "flags -(2^64-1)", in: "set k -18446744073709551615 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Flags: 1, Data: []byte("a")}},
	{name: "flags -2^63-1", in: "set k -9223372036854775809 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Flags: 1<<32 - 1, Data: []byte("a")}},
	{name: "flags -0", in: "set k -0 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Data: []byte("a")}},
	{name: "flags +7", in: "set k +7 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Flags: 7, Data: []byte("a")}},
	{name: "flags 007", in: "set k 007 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Flags: 7, Data: []byte("a")}},
	{name: "flags leading tab", in: "set k \t7 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Flags: 7, Data: []byte("a")}},
	{name: "flags tab then junk", in: "set k 7\tx 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Flags: 7, Data: []byte("a")}},
	{name: "flags tab minus zero", in: "set k \t-0 0 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Data: []byte("a")}},
	{name: "exptime negative", in: "set k 0 -1 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Exptime: -1, Data: []byte("a")}},
	{name: "exptime 2^31 wraps", in: "set k 0 2147483648 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Exptime: -1 << 31, Data: []byte("a")}},
	{name: "exptime -2^31-1 wraps", in: "set k 0 -2147483649 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Exptime: 1<<31 - 1, Data: []byte("a")}},
	{name: "exptime -(2^32-1) is 1", in: "set k 0 -4294967295 1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Exptime: 1, Data: []byte("a")}},
	{name: "bytes negative", in: "set k1 0 0 -1\r\n", err: errFmt},
	{name: "bytes negative noreply", in: "set k1 0 0 -1 noreply\r\n", err: silent},
	{name: "bytes noreply", in: "set k 0 0 noreply\r\n", err: silent},
	{name: "bad flags noreply", in: "set k x 0 1 noreply\r\n", err: silent},
	{name: "bytes INT_MAX-1", in: "set k1 0 0 2147483646\r\n", err: errFmt},
	{name: "bytes INT_MAX", in: "set k1 0 0 2147483647\r\n", err: errFmt},
	{name: "bytes 2^31", in: "set k1 0 0 2147483648\r\n", err: errFmt},
	{name: "bytes -(2^32-1) is 1", in: "set k 0 0 -4294967295\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("k"), Data: []byte("a")}},
	{name: "bytes 2^32+5 is 5", in: "set q 0 0 4294967301\r\nabcde\r\n", req: &Request{Cmd: CmdSet, Keys: keys("q"), Data: []byte("abcde")}},
	{name: "bytes +1", in: "set f 0 0 +1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("f"), Data: []byte("a")}},
	{name: "bytes -0", in: "set f 0 0 -0\r\n\r\n", req: &Request{Cmd: CmdSet, Keys: keys("f"), Data: []byte{}}},
	{name: "bytes then second CR", in: "set f 0 0 1\r\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("f"), Data: []byte("a")}},
	{name: "bytes then VT", in: "set f 0 0 1\v\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("f"), Data: []byte("a")}},
	{name: "bytes after FF", in: "set f 0 0 \f1\r\na\r\n", req: &Request{Cmd: CmdSet, Keys: keys("f"), Data: []byte("a")}},
	{name: "data LF only", in: "set k1 0 0 1\r\na\nversion\r\n", n: 17, err: &Error{Reply: errBadChunk}},
	{name: "data too long", in: "set k1 0 0 1\r\nabc\r\n", n: 17, err: &Error{Reply: errBadChunk}},
	{name: "data too short", in: "set k1 0 0 3\r\na\r\nversion\r\n", n: 19, err: &Error{Reply: errBadChunk}},
	{name: "bad chunk noreply", in: "set k1 0 0 1 noreply\r\nabc\r\n", n: 25, err: silent},
	{name: "data incomplete", in: "set k 0 0 5\r\nabc", incomplete: true},
	{name: "data without CRLF yet", in: "set k 0 0 3\r\nabc", incomplete: true},
}

func tooLarge(size int) *Error { return &Error{Reply: errTooLarge, Swallow: size} }

var sizeCases = []parseCase{
	{name: "largest item, key 1", in: "set k 0 0 1048516\r\n" + strings.Repeat("x", 1048516) + "\r\n",
		req: &Request{Cmd: CmdSet, Keys: keys("k"), Data: []byte(strings.Repeat("x", 1048516))}},
	{name: "too large, key 1", in: "set k 0 0 1048517\r\n", err: tooLarge(1048519),
		req: &Request{Cmd: CmdSet, Keys: keys("k")}},
	{name: "too large noreply", in: "set k 0 0 1048517 noreply\r\n", err: &Error{Swallow: 1048519},
		req: &Request{Cmd: CmdSet, Keys: keys("k"), NoReply: true}},
	{name: "too large with flags", in: "set k 1 0 1048513\r\n", err: tooLarge(1048515)},
	{name: "flags cost 4 bytes", in: "set k 4294967295 0 1048512\r\n" + strings.Repeat("x", 1048512) + "\r\n",
		req: &Request{Cmd: CmdSet, Keys: keys("k"), Flags: 1<<32 - 1, Data: []byte(strings.Repeat("x", 1048512))}},
	{name: "too large, key 2", in: "set kk 0 0 1048516\r\n", err: tooLarge(1048518)},
	{name: "too large cas", in: "cas k 0 0 2000000 1\r\n", err: tooLarge(2000002),
		req: &Request{Cmd: CmdCas, Keys: keys("k"), Cas: 1}},
	{name: "too large add", in: "add k 0 0 2000000\r\n", err: tooLarge(2000002)},
	{name: "too large INT_MAX-2", in: "set k 0 0 2147483645\r\n", err: tooLarge(2147483647)},
	{name: "custom item size fits", p: Parser{MaxItemSize: 100}, in: "set k 0 0 40\r\n" + strings.Repeat("x", 40) + "\r\n",
		req: &Request{Cmd: CmdSet, Keys: keys("k"), Data: []byte(strings.Repeat("x", 40))}},
	{name: "custom item size", p: Parser{MaxItemSize: 100}, in: "set k 0 0 41\r\n", err: tooLarge(43)},
}

var keyCommandCases = []parseCase{
	{name: "delete", in: "delete zz\r\n", req: &Request{Cmd: CmdDelete, Keys: keys("zz")}},
	{name: "delete 0", in: "delete zz 0\r\n", req: &Request{Cmd: CmdDelete, Keys: keys("zz")}},
	{name: "delete noreply", in: "delete zz noreply\r\n", req: &Request{Cmd: CmdDelete, Keys: keys("zz"), NoReply: true}},
	{name: "delete 0 noreply", in: "delete zz 0 noreply\r\n", req: &Request{Cmd: CmdDelete, Keys: keys("zz"), NoReply: true}},
	{name: "delete noreply key", in: "delete noreply\r\n", req: &Request{Cmd: CmdDelete, Keys: keys("noreply")}},
	{name: "delete 1", in: "delete zz 1\r\n", err: &Error{Reply: errDeleteUsage}},
	{name: "delete 1 noreply", in: "delete zz 1 noreply\r\n", err: silent},
	{name: "delete x noreply", in: "delete zz x noreply\r\n", err: silent},
	{name: "delete 4 args", in: "delete zz 0 noreply x\r\n", err: errUnk},
	{name: "delete alone", in: "delete\r\n", err: errUnk},
	{name: "delete long key", in: "delete " + long251 + "\r\n", err: errFmt},
	{name: "delete long key noreply", in: "delete " + long251 + " noreply\r\n", err: silent},
	{name: "delete long key 1", in: "delete " + long251 + " 1\r\n", err: &Error{Reply: errDeleteUsage}},

	{name: "incr", in: "incr n 1\r\n", req: &Request{Cmd: CmdIncr, Keys: keys("n"), Delta: 1}},
	{name: "decr", in: "decr n 1\r\n", req: &Request{Cmd: CmdDecr, Keys: keys("n"), Delta: 1}},
	{name: "incr noreply", in: "incr n 1 noreply\r\n", req: &Request{Cmd: CmdIncr, Keys: keys("n"), Delta: 1, NoReply: true}},
	{name: "incr 4th token ignored", in: "incr n 1 2\r\n", req: &Request{Cmd: CmdIncr, Keys: keys("n"), Delta: 1}},
	{name: "incr max", in: "incr n 18446744073709551615\r\n", req: &Request{Cmd: CmdIncr, Keys: keys("n"), Delta: 1<<64 - 1}},
	{name: "incr -0", in: "incr n -0\r\n", req: &Request{Cmd: CmdIncr, Keys: keys("n")}},
	{name: "incr +2", in: "incr n +2\r\n", req: &Request{Cmd: CmdIncr, Keys: keys("n"), Delta: 2}},
	{name: "incr trailing tab", in: "incr n 1\t\r\n", req: &Request{Cmd: CmdIncr, Keys: keys("n"), Delta: 1}},
	{name: "incr leading tab", in: "incr n \t1\r\n", req: &Request{Cmd: CmdIncr, Keys: keys("n"), Delta: 1}},
	{name: "incr -(2^64-1) is 1", in: "incr n -18446744073709551615\r\n", req: &Request{Cmd: CmdIncr, Keys: keys("n"), Delta: 1}},
	{name: "incr -2^63-1", in: "incr n -9223372036854775809\r\n", req: &Request{Cmd: CmdIncr, Keys: keys("n"), Delta: 1<<63 - 1}},
	{name: "incr -2^63", in: "incr n -9223372036854775808\r\n", err: &Error{Reply: errBadDelta}},
	{name: "incr -1", in: "incr n -1\r\n", err: &Error{Reply: errBadDelta}},
	{name: "incr x", in: "incr n x\r\n", err: &Error{Reply: errBadDelta}},
	{name: "incr 1x", in: "incr n 1x\r\n", err: &Error{Reply: errBadDelta}},
	{name: "incr 2^64", in: "incr n 18446744073709551616\r\n", err: &Error{Reply: errBadDelta}},
	{name: "incr x noreply", in: "incr n x noreply\r\n", err: silent},
	{name: "incr noreply as delta", in: "incr n noreply\r\n", err: silent},
	{name: "incr no delta", in: "incr n\r\n", err: errUnk},
	{name: "incr 4 args", in: "incr n 1 noreply x\r\n", err: errUnk},
	{name: "incr long key", in: "incr " + long251 + " 1\r\n", err: errFmt},
	{name: "incr long key bad delta", in: "incr " + long251 + " x\r\n", err: errFmt},

	{name: "touch", in: "touch zz 10\r\n", req: &Request{Cmd: CmdTouch, Keys: keys("zz"), Exptime: 10}},
	{name: "touch noreply", in: "touch n 10 noreply\r\n", req: &Request{Cmd: CmdTouch, Keys: keys("n"), Exptime: 10, NoReply: true}},
	{name: "touch 4th token ignored", in: "touch n 10 x\r\n", req: &Request{Cmd: CmdTouch, Keys: keys("n"), Exptime: 10}},
	{name: "touch negative", in: "touch n -1\r\n", req: &Request{Cmd: CmdTouch, Keys: keys("n"), Exptime: -1}},
	{name: "touch wraps int32", in: "touch n 99999999999\r\n", req: &Request{Cmd: CmdTouch, Keys: keys("n"), Exptime: 1215752191}},
	{name: "touch 2^63-1", in: "touch n 9223372036854775807\r\n", req: &Request{Cmd: CmdTouch, Keys: keys("n"), Exptime: -1}},
	{name: "touch -2^63", in: "touch n -9223372036854775808\r\n", req: &Request{Cmd: CmdTouch, Keys: keys("n")}},
	{name: "touch 2^63", in: "touch n 9223372036854775808\r\n", err: &Error{Reply: errBadExptime}},
	{name: "touch -2^63-1", in: "touch n -9223372036854775809\r\n", err: &Error{Reply: errBadExptime}},
	{name: "touch x", in: "touch n x\r\n", err: &Error{Reply: errBadExptime}},
	{name: "touch x noreply", in: "touch n x noreply\r\n", err: silent},
	{name: "touch no exptime", in: "touch n\r\n", err: errUnk},
	{name: "touch long key", in: "touch " + long251 + " x\r\n", err: errFmt},
}

var otherCases = []parseCase{
	{name: "flush_all", in: "flush_all\r\n", req: &Request{Cmd: CmdFlushAll}},
	{name: "flush_all 0", in: "flush_all 0\r\n", req: &Request{Cmd: CmdFlushAll, HasArg: true}},
	{name: "flush_all noreply", in: "flush_all noreply\r\n", req: &Request{Cmd: CmdFlushAll, NoReply: true}},
	{name: "flush_all 10 noreply", in: "flush_all 10 noreply\r\n", req: &Request{Cmd: CmdFlushAll, HasArg: true, Exptime: 10, NoReply: true}},
	{name: "flush_all -1", in: "flush_all -1\r\n", req: &Request{Cmd: CmdFlushAll, HasArg: true, Exptime: -1}},
	{name: "flush_all 2^31", in: "flush_all 2147483648\r\n", req: &Request{Cmd: CmdFlushAll, HasArg: true, Exptime: -1 << 31}},
	{name: "flush_all third token ignored", in: "flush_all 5 x\r\n", req: &Request{Cmd: CmdFlushAll, HasArg: true, Exptime: 5}},
	{name: "flush_all x", in: "flush_all x\r\n", err: &Error{Reply: errBadExptime}},
	{name: "flush_all HTTP", in: "flush_all HTTP/1.0\r\n", err: &Error{Reply: errBadExptime}},
	{name: "flush_all x noreply", in: "flush_all x noreply\r\n", err: silent},
	{name: "flush_all noreply noreply", in: "flush_all noreply noreply\r\n", err: silent},
	{name: "flush_all 3 args", in: "flush_all 1 2 3\r\n", err: errUnk},

	{name: "verbosity", in: "verbosity 1\r\n", req: &Request{Cmd: CmdVerbosity, Level: 1}},
	{name: "verbosity 0", in: "verbosity 0\r\n", req: &Request{Cmd: CmdVerbosity}},
	{name: "verbosity noreply", in: "verbosity 1 noreply\r\n", req: &Request{Cmd: CmdVerbosity, Level: 1, NoReply: true}},
	{name: "verbosity third token ignored", in: "verbosity 1 2\r\n", req: &Request{Cmd: CmdVerbosity, Level: 1}},
	{name: "verbosity 2^32 is 0", in: "verbosity 4294967296\r\n", req: &Request{Cmd: CmdVerbosity}},
	{name: "verbosity -(2^64-1) is 1", in: "verbosity -18446744073709551615\r\n", req: &Request{Cmd: CmdVerbosity, Level: 1}},
	{name: "verbosity -1", in: "verbosity -1\r\n", err: errFmt},
	{name: "verbosity -(2^32-1)", in: "verbosity -4294967295\r\n", err: errFmt},
	{name: "verbosity x", in: "verbosity x\r\n", err: errFmt},
	{name: "verbosity HTTP", in: "verbosity HTTP/1.0\r\n", err: errFmt},
	{name: "verbosity x noreply", in: "verbosity x noreply\r\n", err: silent},
	{name: "verbosity only noreply", in: "verbosity noreply\r\n", err: silent},
	{name: "verbosity alone", in: "verbosity\r\n", err: errUnk},
	{name: "verbosity 3 args", in: "verbosity 1 2 3\r\n", err: errUnk},

	{name: "version", in: "version\r\n", req: &Request{Cmd: CmdVersion}},
	{name: "version ignores args", in: "version foo bar\r\n", req: &Request{Cmd: CmdVersion}},
	{name: "version noreply still replies", in: "version noreply\r\n", req: &Request{Cmd: CmdVersion}},
	{name: "quit", in: "quit\r\n", req: &Request{Cmd: CmdQuit}},
	{name: "quit ignores args", in: "quit x\r\n", req: &Request{Cmd: CmdQuit}},
	{name: "quit HTTP", in: "quit HTTP/1.0\r\n", req: &Request{Cmd: CmdQuit}},
	{name: "stats", in: "stats\r\n", req: &Request{Cmd: CmdStats}},
	{name: "stats items", in: "stats items\r\n", req: &Request{Cmd: CmdStats, Args: keys("items")}},
	{name: "stats detail dump", in: "stats detail dump\r\n", req: &Request{Cmd: CmdStats, Args: keys("detail", "dump")}},
	{name: "stats HTTP", in: "stats HTTP/1.1\r\n", req: &Request{Cmd: CmdStats, Args: keys("HTTP/1.1")}},

	{name: "empty line", in: "\r\n", err: errUnk},
	{name: "empty bare LF", in: "\n", err: errUnk},
	{name: "spaces", in: "   \r\n", err: errUnk},
	{name: "one byte", in: "g\r\n", err: errUnk},
	{name: "one byte then HTTP", in: "H HTTP/1.1\r\n", err: errUnk},
	{name: "unknown", in: "foo bar\r\n", err: errUnk},
	{name: "unknown CR", in: "version\r\r\n", err: errUnk},
	{name: "upper VERSION", in: "VERSION\r\n", err: errUnk},
	{name: "ver", in: "ver\r\n", err: errUnk},
	{name: "versions", in: "versions\r\n", err: errUnk},
	{name: "verbosityx", in: "verbosityx 1\r\n", err: errUnk},
	{name: "flush_allx", in: "flush_allx\r\n", err: errUnk},
	{name: "quitx", in: "quitx\r\n", err: errUnk},
	{name: "stat", in: "stat\r\n", err: errUnk},
	{name: "statsx", in: "statsx\r\n", err: errUnk},
	{name: "HTTP GET", in: "GET / HTTP/1.1\r\n", err: errClose},
	{name: "HTTP POST", in: "POST / HTTP/1.1\r\n", err: errClose},
	{name: "HTTP alone", in: "HTTP/1.1\r\n", err: errClose},
	{name: "HTTP/ exactly", in: "xx HTTP/\r\n", err: errClose},
	{name: "HTTP not last", in: "xx HTTP/1.0 foo\r\n", err: errUnk},
	{name: "HTTP no slash", in: "xx HTTP\r\n", err: errUnk},
	{name: "HTTP lower case", in: "xx http/1.0\r\n", err: errUnk},
	{name: "HTTP after g", in: "gopher HTTP/1.0\r\n", err: errUnk},
	{name: "HTTP after 2-byte m", in: "mx HTTP/1.1\r\n", err: errUnk},
	{name: "HTTP after 3-byte m", in: "mxx HTTP/1.1\r\n", err: errClose},
	{name: "HTTP after v", in: "vx HTTP/1.0\r\n", err: errClose},
	{name: "HTTP after replacex", in: "replacex HTTP/1.0\r\n", err: errClose},
	{name: "HTTP after misbehave", in: "misbehave HTTP/1.1\r\n", err: errClose},
	{name: "HTTP as 23rd token", in: "XX " + manyKeys(21, "a") + " HTTP/1.1 b c\r\n", err: errClose},
	{name: "HTTP as 24th token", in: "XX " + manyKeys(22, "a") + " HTTP/1.1 b c\r\n", err: errUnk},
	{name: "lru HTTP", in: "lru HTTP/1.1\r\n", err: errUnk},
	{name: "watch HTTP", in: "watch HTTP/1.1\r\n", err: errUnk},
	{name: "lru_crawler HTTP", in: "lru_crawler HTTP/1.1\r\n", err: errUnk},
	{name: "extstore HTTP", in: "extstore HTTP/1.1\r\n", err: errUnk},
	{name: "slabs HTTP", in: "slabs HTTP/1.1\r\n", err: errUnk},
	{name: "cache_memlimit HTTP", in: "cache_memlimit HTTP/1.1\r\n", err: errUnk},
	{name: "shutdown", in: "shutdown\r\n", err: &Error{Reply: errShutdown}},
	{name: "shutdown noreply", in: "shutdown noreply\r\n", err: &Error{Reply: errShutdown}},
	{name: "refresh_certs noreply", in: "refresh_certs noreply\r\n", err: &Error{Reply: errRefreshCerts}},
}

var lineLengthCases = []parseCase{
	{name: "2048 bytes no LF", in: strings.Repeat("x", 2048), incomplete: true},
	{name: "2049 bytes no LF", in: strings.Repeat("x", 2049), err: errClose},
	{name: "3000 byte line arrived whole", in: strings.Repeat("x", 3000) + "\r\n", err: errUnk},
	{name: "3000 byte key arrived whole", in: "delete " + strings.Repeat("k", 3000) + "\r\n", err: errFmt},
	{name: "line fills read buffer", in: strings.Repeat("x", 16382) + "\r\n", err: errUnk},
	{name: "line over read buffer", in: strings.Repeat("x", 16383) + "\r\n", err: errClose},
	{name: "long get waits", in: "get " + manyKeys(2000, "k"), incomplete: true},
	{name: "long gets waits", in: "gets " + manyKeys(2000, "k"), incomplete: true},
	{name: "long indented get waits", in: strings.Repeat(" ", 100) + "get " + manyKeys(2000, "k"), incomplete: true},
	{name: "long get too indented", in: strings.Repeat(" ", 101) + "get " + manyKeys(2000, "k"), err: errClose},
	{name: "long gat closes", in: "gat 0 " + manyKeys(2000, "k"), err: errClose},
	{name: "long bget closes", in: "bget " + manyKeys(2000, "k"), err: errClose},
	{name: "long get with tab closes", in: "get\t" + manyKeys(2000, "k"), err: errClose},
	{name: "long getx closes", in: strings.Repeat("getx", 800), err: errClose},
	{name: "long get line", in: "get " + manyKeys(10000, "k") + "\r\n",
		req: &Request{Cmd: CmdGet, Keys: keys(strings.Fields(manyKeys(10000, "k"))...)}},
	{name: "get over MaxGetLine", p: Parser{MaxGetLine: 20000}, in: "get " + manyKeys(10000, "k"), err: &Error{Reply: errGetTooLong, Close: true}},
	{name: "get line over MaxGetLine", p: Parser{MaxGetLine: 20000}, in: "get " + manyKeys(10000, "k") + "\r\n", err: &Error{Reply: errGetTooLong, Close: true}},
}

// servantCases are fae's own verbs (not memcached's: see docs/PROTOCOL.md).
var servantCases = []parseCase{
	{name: "lock", in: "lock k 1500\r\n", req: &Request{Cmd: CmdLock, Keys: keys("k"), Delta: 1500}},
	{name: "lock max ttl", in: "lock k 2147483647\r\n", req: &Request{Cmd: CmdLock, Keys: keys("k"), Delta: 1<<31 - 1}},
	{name: "lock zero ttl", in: "lock k 0\r\n", err: errFmt},
	{name: "lock ttl too big", in: "lock k 2147483648\r\n", err: errFmt},
	{name: "lock ttl not a number", in: "lock k soon\r\n", err: errFmt},
	{name: "lock key too long", in: "lock " + long251 + " 10\r\n", err: errFmt},
	{name: "lock no ttl", in: "lock k\r\n", err: errUnk},
	{name: "lock extra", in: "lock k 10 x\r\n", err: errUnk},
	{name: "unlock", in: "unlock k 0123abcd\r\n", req: &Request{Cmd: CmdUnlock, Keys: keys("k"), Args: keys("0123abcd")}},
	{name: "unlock no token", in: "unlock k\r\n", err: errUnk},
	{name: "id", in: "id\r\n", req: &Request{Cmd: CmdID}},
	{name: "id tag", in: "id 31\r\n", req: &Request{Cmd: CmdID, Delta: 31, HasArg: true}},
	{name: "id tag too big", in: "id 32\r\n", err: errFmt},
	{name: "id two args", in: "id 1 2\r\n", err: errUnk},
}

var allParseCases = [][]parseCase{retrievalCases, storageCases, sizeCases, keyCommandCases, otherCases, lineLengthCases, metaCases, servantCases}

func TestParse(t *testing.T) {
	for _, group := range allParseCases {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) {
				var req Request
				n, err := tc.p.Parse([]byte(tc.in), &req)
				checkCase(t, tc, n, err, &req)
			})
		}
	}
}

func checkCase(t *testing.T, tc parseCase, n int, err error, req *Request) {
	t.Helper()
	if tc.incomplete {
		if err != ErrIncomplete || n != 0 {
			t.Fatalf("Parse = %d, %v; want 0, ErrIncomplete", n, err)
		}
		return
	}
	want := tc.n
	if want == 0 {
		want = len(tc.in)
	}
	var pe *Error
	switch {
	case tc.err == nil && err != nil:
		t.Fatalf("Parse error %v, want %s", err, describe(tc.req))
	case tc.err != nil && !errors.As(err, &pe):
		t.Fatalf("Parse = %d, %v (%s); want %+v", n, err, describe(req), *tc.err)
	case tc.err != nil && *pe != *tc.err:
		t.Fatalf("Parse error %+v, want %+v", *pe, *tc.err)
	}
	if n != want && !(pe != nil && pe.Close) {
		t.Fatalf("Parse consumed %d, want %d", n, want)
	}
	if tc.req != nil && !equalRequest(req, tc.req) {
		t.Fatalf("Parse = %s\nwant    %s", describe(req), describe(tc.req))
	}
}

// TestParseIncremental feeds every case one more byte at a time: until the
// request is whole Parse must say ErrIncomplete, then give the same answer
// as with the whole input. While it waits, Request.Need is 0 or the length
// the whole request takes.
func TestParseIncremental(t *testing.T) {
	for _, group := range allParseCases {
		for _, tc := range group {
			if len(tc.in) > 1<<16 {
				continue // the 1 MiB items: covered by the size cases
			}
			t.Run(tc.name, func(t *testing.T) {
				in := []byte(tc.in)
				var req Request
				fullN, fullErr := tc.p.Parse(in, &req)
				for k := 0; k < len(in); k++ {
					n, err := tc.p.Parse(in[:k], &req)
					if err == ErrIncomplete && n == 0 {
						if req.Need != 0 && req.Need != fullN && fullErr != ErrIncomplete {
							t.Fatalf("prefix %d/%d: Need %d; whole: %d, %v", k, len(in), req.Need, fullN, fullErr)
						}
						continue
					}
					if allowedEarlyClose(in[:k], err) || sameOutcome(n, err, fullN, fullErr) && n <= k {
						continue
					}
					t.Fatalf("prefix %d/%d: Parse = %d, %v; whole: %d, %v", k, len(in), n, err, fullN, fullErr)
				}
			})
		}
	}
}

// TestParseSplitEveryOffset splits a pipelined stream of requests at every
// offset, as reads from a socket would, and checks the parses match.
func TestParseSplitEveryOffset(t *testing.T) {
	stream := []byte("get a b\r\nset k 0 0 5\r\nhello\r\ngat 1 x\r\nincr n 5 noreply\r\n" +
		"delete k\r\ncas k 1 2 3 4\r\nabc\r\nstats items\r\nversion\r\nquit\r\n")
	var p Parser
	var want []string
	var req Request
	for b := stream; len(b) > 0; {
		n, err := p.Parse(b, &req)
		if err != nil {
			t.Fatalf("whole stream: %v", err)
		}
		want = append(want, describe(&req))
		b = b[n:]
	}
	for split := 1; split < len(stream); split++ {
		var got []string
		var buf []byte
		for _, chunk := range [][]byte{stream[:split], stream[split:]} {
			buf = append(buf, chunk...)
			for {
				n, err := p.Parse(buf, &req)
				if err == ErrIncomplete {
					break
				}
				if err != nil {
					t.Fatalf("split %d: %v", split, err)
				}
				got = append(got, describe(&req))
				buf = buf[n:]
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("split %d: got\n%s\nwant\n%s", split, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// Need says how long a storage request or ms is once its line is in, and
// OutOfMemory refuses it as memcached does when it has no memory for it.
func TestNeedAndOutOfMemory(t *testing.T) {
	const oom = "SERVER_ERROR out of memory storing object"
	for _, tc := range []struct {
		name string
		in   string
		need int
		err  *Error // OutOfMemory's, when need > 0
		cmd  Command
	}{
		{name: "line not in", in: "set k 0 0 5\r"},
		{name: "get line not in", in: "get k"},
		{name: "set", in: "set k 0 0 5\r\nhel", need: 20, err: &Error{Reply: oom, Swallow: 20}, cmd: CmdSet},
		{name: "set noreply", in: "set k 0 0 5 noreply\r\n", need: 28, err: &Error{Swallow: 28}, cmd: CmdSet},
		{name: "cas", in: "cas k 0 0 5 1\r\n", need: 22, err: &Error{Reply: oom, Swallow: 22}, cmd: CmdCas},
		{name: "ms", in: "ms k 5\r\nhe", need: 15, err: &Error{Reply: oom, Swallow: 15}, cmd: CmdSet},
		{name: "ms q", in: "ms k 5 q MA\r\n", need: 20, err: &Error{Reply: oom, Swallow: 20}, cmd: CmdSet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			var req Request
			n, err := p.Parse([]byte(tc.in), &req)
			if n != 0 || err != ErrIncomplete || req.Need != tc.need {
				t.Fatalf("Parse = %d, %v, Need %d; want 0, ErrIncomplete, Need %d", n, err, req.Need, tc.need)
			}
			if tc.need == 0 {
				return
			}
			if e := OutOfMemory(&req); *e != *tc.err || req.Cmd != tc.cmd {
				t.Errorf("OutOfMemory = %+v, Cmd %v; want %+v, Cmd %v", *e, req.Cmd, *tc.err, tc.cmd)
			}
		})
	}
}
