package server

import (
	"errors"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// textFront is memcached's text protocol, meta commands included: the
// front of every connection whose first byte is not the binary magic or a
// Thrift frame's. Owned by the connection's loop.
type textFront struct {
	req memcache.Request
}

// serveNext implements front.
func (tf *textFront) serveNext(cn *conn, out, buf []byte) ([]byte, int, step) {
	n, err := cn.s.parser.Parse(buf, &tf.req)
	if errors.Is(err, memcache.ErrIncomplete) {
		taken, ok := cn.await(buf, tf.req.Need)
		if !ok {
			return tf.protocolError(cn, out, memcache.OutOfMemory(&tf.req)), 0, stepNext
		}
		return out, taken, stepIncomplete
	}
	flush := err == nil && tf.req.Cmd == memcache.CmdFlushAll
	if flush && len(cn.pending) > 0 {
		// flush_all is a fence: upstream, the requests before it may
		// travel on other connections than the flush, so it leaves only
		// once they are answered, and nothing after it leaves before it
		// is. Parse it again then.
		return out, 0, stepFence
	}
	if err != nil {
		var pe *memcache.Error
		if !errors.As(err, &pe) {
			cn.closing = true
			return out, n, stepNext
		}
		return tf.protocolError(cn, out, pe), n, stepNext
	}
	out = tf.dispatch(cn, out)
	if flush && len(cn.pending) > 0 {
		cn.fence = true
	}
	return out, n, stepNext
}

// dispatch serves the request in tf.req and returns out with its reply, or
// queues a slot for it.
func (tf *textFront) dispatch(cn *conn, out []byte) []byte {
	req := &tf.req
	switch req.Cmd {
	case memcache.CmdVersion:
		return cn.reply(out, append(append(cn.scratch(), "VERSION "...), cn.s.cfg.Version+"\r\n"...))
	case memcache.CmdVerbosity:
		if v := cn.s.cfg.Verbosity; v != nil {
			v(req.Level)
		}
		if req.NoReply {
			return out
		}
		return cn.reply(out, append(cn.scratch(), memcache.ReplyOK...))
	case memcache.CmdQuit:
		cn.closing = true
		return out
	case memcache.CmdStats:
		return cn.reply(out, cn.s.appendStats(cn.scratch(), req.Args))
	case memcache.CmdLock, memcache.CmdUnlock:
		if cl := cn.s.cfg.ClusterLocks; cl != nil {
			if h := cl(req.Keys[0]); h != nil {
				return cn.handleWith(h, out, req)
			}
		}
		return cn.reply(out, cn.s.servantVerb(cn.scratch(), req))
	case memcache.CmdID:
		return cn.reply(out, cn.s.servantVerb(cn.scratch(), req))
	case memcache.CmdMetaNoop:
		// Queued behind the replies before it, like any reply: "MN" tells
		// a client every earlier (quiet) request is answered.
		return cn.reply(out, append(cn.scratch(), memcache.ReplyMetaNoop...))
	}
	return cn.handle(out, req)
}

// protocolError answers a request the parser refused, as memcached does.
func (tf *textFront) protocolError(cn *conn, out []byte, pe *memcache.Error) []byte {
	if pe.Reply != "" {
		out = cn.reply(out, append(append(cn.scratch(), pe.Reply...), '\r', '\n'))
	}
	cn.swallow = pe.Swallow
	if pe.Close {
		cn.closing = true
		return out
	}
	// memcached unlinks the old item when a set is refused as too large,
	// so that a reader does not keep seeing a value the client replaced.
	// An ms refused so comes as a set (see memcache.Error); its key, in
	// base64 with flag b, is unlinked by an md that says so.
	if pe.Swallow > 0 && tf.req.Cmd == memcache.CmdSet && len(tf.req.Keys) == 1 {
		tf.req.Cmd = memcache.CmdDelete
		if tf.req.Meta.Has('b') {
			tf.req.Cmd, tf.req.Meta = memcache.CmdMetaDelete, memcache.MetaFlags{}
			tf.req.Meta.AddFlag('b')
		}
		tf.req.NoReply, tf.req.Origin = true, memcache.OriginUnlink
		out = cn.handle(out, &tf.req)
	}
	// A gat or gats cut short by a too-long key has touched the keys
	// before it, as memcached does; their replies are dropped.
	if (tf.req.Cmd == memcache.CmdGat || tf.req.Cmd == memcache.CmdGats) && len(tf.req.Keys) > 0 {
		keys := tf.req.Keys
		tf.req.Cmd, tf.req.NoReply = memcache.CmdTouch, true
		for i := range keys {
			tf.req.Keys = keys[i : i+1]
			out = cn.handle(out, &tf.req)
		}
		tf.req.Keys = keys
	}
	return out
}
