package server

import (
	"strconv"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// TextServants answers fae's own text verbs (docs/PROTOCOL.md) on the
// event loop: it must not block.
type TextServants interface {
	// TextLock takes key's lease for ttl: its token and true, or false
	// while another holds it.
	TextLock(key []byte, ttl time.Duration) (token string, ok bool, err error)
	// TextUnlock gives key's lease back if token is its token and it has
	// not expired.
	TextUnlock(key, token []byte) bool
	// TextID returns a new id with tag, without waiting for a clock that
	// stepped back.
	TextID(tag int) (int64, error)
}

// servantVerb appends the reply to lock, unlock or id. Without servants
// they are unknown commands, as in memcached.
func (s *Server) servantVerb(out []byte, req *memcache.Request) []byte {
	sv := s.cfg.Servants
	if sv == nil {
		return append(out, "ERROR\r\n"...)
	}
	switch req.Cmd {
	case memcache.CmdLock:
		token, ok, err := sv.TextLock(req.Keys[0], time.Duration(req.Delta)*time.Millisecond)
		return memcache.AppendLock(out, token, ok, err)
	case memcache.CmdUnlock:
		return memcache.AppendUnlock(out, sv.TextUnlock(req.Keys[0], req.Args[0]))
	}
	id, err := sv.TextID(int(req.Delta))
	if err != nil {
		return appendServerError(out, err)
	}
	return append(strconv.AppendInt(append(out, "ID "...), id, 10), '\r', '\n')
}

func appendServerError(out []byte, err error) []byte {
	return append(append(append(out, "SERVER_ERROR "...), err.Error()...), '\r', '\n')
}
