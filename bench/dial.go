package bench

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// unixPrefix marks a target address that is a unix socket's path
// ("unix:/run/faed.sock") rather than a TCP host:port.
const unixPrefix = "unix:"

// dial opens a connection to addr with d: a unix socket for "unix:PATH",
// else TCP.
func dial(ctx context.Context, d *net.Dialer, addr string) (net.Conn, error) {
	if path, ok := strings.CutPrefix(addr, unixPrefix); ok {
		return d.DialContext(ctx, "unix", path)
	}
	return d.DialContext(ctx, "tcp", addr)
}

// checkAddr reports whether addr is one dial takes.
func checkAddr(addr string) error {
	if path, ok := strings.CutPrefix(addr, unixPrefix); ok {
		if path == "" {
			return fmt.Errorf("%q: no socket path", addr)
		}
		return nil
	}
	_, _, err := net.SplitHostPort(addr)
	return err
}
