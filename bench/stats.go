package bench

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Stats are the memcached counters fae-bench reads from a server.
type Stats struct {
	CmdGet    uint64 // keys looked up by get/gets
	GetHits   uint64 // of which found
	BytesRead uint64 // bytes read from clients
	// TotalConns is total_connections: connections accepted since start.
	TotalConns uint64
}

// ReadStats sends "stats" to the memcached at addr over a new connection
// and returns its counters. timeout bounds the whole exchange.
func ReadStats(ctx context.Context, addr string, timeout time.Duration) (Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dial(ctx, &net.Dialer{}, addr)
	if err != nil {
		return Stats{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c := NewClient(conn, conn, 16<<10)
	c.WriteLine("stats")
	if err := c.Flush(); err != nil {
		return Stats{}, err
	}
	var st Stats
	var seen int // of the three required counters
	var perr error
	err = c.ReadStats(func(name, value string) {
		var p *uint64
		switch name {
		case "cmd_get":
			p = &st.CmdGet
		case "get_hits":
			p = &st.GetHits
		case "bytes_read":
			p = &st.BytesRead
		case "total_connections":
			p = &st.TotalConns
			seen-- // optional: not every memcached-speaking server has it
		default:
			return
		}
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil && perr == nil {
			perr = fmt.Errorf("stats %s: %q is not a count", name, value)
		}
		*p = n
		seen++
	})
	if err == nil {
		err = perr
	}
	if err == nil && seen < 3 {
		err = fmt.Errorf("stats of %s lack cmd_get, get_hits or bytes_read: is it a memcached?", addr)
	}
	return st, err
}
