package memcache

import "github.com/fae-sidecar/fae/proto/memcache"

// Meta commands (mg, ms, md, ma, me) travel one key per request, on the
// key's connection, like the classic keyed commands. A q flag is not sent:
// memcached would then send nothing for a nominal outcome and the reply
// stream could not be matched to requests. The request goes without it and
// Pool.answer drops the reply memcached would have suppressed
// (memcache.MetaQuietDrop). The one reply that rule cannot predict, an ma
// with q and N (answered only when it creates the item), is sent with q and
// followed by an mn, and its reply is read up to that MN
// (memcache.FrameMetaFenced).
//
// mn never reaches a pool: the server answers it in order, behind every
// earlier reply of the connection, which is what a client's mn means.

// metaKind is the reply framing of a meta request.
func metaKind(req *memcache.Request) memcache.FrameKind {
	if req.Meta.Loud(req.Cmd).Fence {
		return memcache.FrameMetaFenced
	}
	return memcache.FrameMeta
}
