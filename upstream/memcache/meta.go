package memcache

import (
	"bytes"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// Meta commands (mg, ms, md, ma, me) travel one key per request, on the
// key's connection, like the classic keyed commands. A q flag is not sent:
// memcached would then send nothing for a nominal outcome and the reply
// stream could not be matched to requests. The request goes without it and
// Pool.answer drops the reply memcached would have suppressed
// (memcache.MetaQuietDrop). The one reply that rule cannot predict, an ma
// with q and N (answered only when it creates the item), is sent with q and
// followed by an mn, and its reply is read up to that MN (kindMetaFenced).
//
// mn never reaches a pool: the server answers it in order, behind every
// earlier reply of the connection, which is what a client's mn means.

// metaKind is the reply framing of a meta request.
func metaKind(req *memcache.Request) replyKind {
	if req.Meta.Loud(req.Cmd).Fence {
		return kindMetaFenced
	}
	return kindMeta
}

// unfence strips the "MN\r\n" that ends a kindMetaFenced reply; nil when
// nothing precedes it.
func unfence(reply []byte) []byte {
	reply = reply[:len(reply)-len(memcache.ReplyMetaNoop)]
	if len(reply) == 0 {
		return nil
	}
	return reply
}

// scanMeta frames a meta reply: one line ("HD …", "EN", "NF …", "NS …",
// "EX …", "ME …" or an error line), or "VA <size> <flags>*\r\n" followed by
// <size> bytes and "\r\n"; for kindMetaFenced, such replies up to and with
// "MN\r\n". Like scan, it is resumable.
func (f *frame) scanMeta(b []byte) error {
	for !f.done {
		if f.data > 0 {
			if more, err := f.block(b); more || err != nil {
				return err
			}
			f.done = f.kind == kindMeta
			continue
		}
		line, err := f.line(b, len("HD\r\n"))
		if line == nil {
			return err
		}
		if retrievalLine(line) {
			return errBadReply
		}
		if bytes.HasPrefix(line, []byte("VA ")) {
			n, ok := vaLen(line)
			if !ok {
				return errBadReply
			}
			f.data = n + 2
			f.hits++
			continue
		}
		f.done = f.kind == kindMeta || string(line) == memcache.ReplyMetaNoop
	}
	return nil
}

// vaLen returns the <size> of "VA <size> <flags>*\r\n".
func vaLen(line []byte) (int, bool) {
	return lenField(line[len("VA ") : len(line)-2])
}
