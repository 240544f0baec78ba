package server

import (
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// appendStats answers "stats" and its sub-commands as memcached does.
// Unknown sub-commands get "ERROR", as memcached answers them.
func (s *Server) appendStats(out []byte, args [][]byte) []byte {
	if len(args) > 0 {
		switch string(args[0]) {
		case "reset":
			return append(out, "RESET\r\n"...)
		case "settings":
			out = memcache.AppendStatUint(out, "maxconns", uint64(s.limits().MaxConns))
			out = memcache.AppendStatUint(out, "item_size_max", uint64(s.cfg.MaxItemSize))
			out = memcache.AppendStatUint(out, "num_threads", uint64(runtime.GOMAXPROCS(0)))
			out = memcache.AppendStatUint(out, "idle_timeout", uint64(s.limits().IdleTimeout/time.Second))
			return append(out, memcache.ReplyEnd...)
		case "items", "slabs", "sizes", "conns":
			return append(out, memcache.ReplyEnd...)
		case "peers":
			// One line per known peer: "STAT peer:<host:port> up|down".
			if s.cfg.Peers != nil {
				s.cfg.Peers(func(addr string, up bool) {
					state := "down"
					if up {
						state = "up"
					}
					out = memcache.AppendStat(out, "peer:"+addr, []byte(state))
				})
			}
			return append(out, memcache.ReplyEnd...)
		}
		if sub := s.cfg.SubStats[string(args[0])]; sub != nil {
			sub(func(name string, v uint64) { out = memcache.AppendStatUint(out, name, v) })
			return append(out, memcache.ReplyEnd...)
		}
		if sub := s.cfg.SubStatsText[string(args[0])]; sub != nil {
			sub(func(name, v string) { out = memcache.AppendStat(out, name, []byte(v)) })
			return append(out, memcache.ReplyEnd...)
		}
		return append(out, memcache.ReplyError...)
	}
	now := time.Now()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	out = memcache.AppendStatUint(out, "pid", uint64(os.Getpid()))
	out = memcache.AppendStatUint(out, "uptime", uint64(now.Sub(s.started)/time.Second))
	out = memcache.AppendStatUint(out, "time", uint64(now.Unix()))
	out = memcache.AppendStat(out, "version", []byte(s.cfg.Version))
	out = memcache.AppendStatUint(out, "pointer_size", strconv.IntSize)
	out = memcache.AppendStat(out, "rusage_user", appendTimeval(nil, ru.Utime))
	out = memcache.AppendStat(out, "rusage_system", appendTimeval(nil, ru.Stime))
	out = memcache.AppendStatUint(out, "max_connections", uint64(s.limits().MaxConns))
	out = memcache.AppendStatUint(out, "curr_connections", uint64(s.stats.currConns.Load()))
	out = memcache.AppendStatUint(out, "total_connections", s.stats.totalConns.Load())
	out = memcache.AppendStatUint(out, "rejected_connections", s.stats.rejectedConns.Load())

	// Pools report the same names; sum them in first-seen order.
	var names []string
	vals := map[string]uint64{}
	s.h.Stats(func(name string, v uint64) {
		if _, ok := vals[name]; !ok {
			names = append(names, name)
		}
		vals[name] += v
	})
	for _, n := range names {
		out = memcache.AppendStatUint(out, n, vals[n])
	}
	out = memcache.AppendStatUint(out, "bytes_read", s.stats.bytesRead.Load())
	out = memcache.AppendStatUint(out, "bytes_written", s.stats.bytesWritten.Load())
	out = memcache.AppendStatUint(out, "threads", uint64(runtime.GOMAXPROCS(0)))
	return append(out, memcache.ReplyEnd...)
}

func appendTimeval(out []byte, tv syscall.Timeval) []byte {
	out = strconv.AppendInt(out, int64(tv.Sec), 10)
	out = append(out, '.')
	us := strconv.AppendInt(nil, int64(tv.Usec)+1000000, 10)
	return append(out, us[1:]...)
}
