//go:build !linux

package peers

import (
	"errors"
	"net"
)

// setMulticastIf is Linux-only for now: elsewhere the system picks the
// interface, unless one is configured.
func setMulticastIf(conn *net.UDPConn, ifi *net.Interface) error {
	if ifi != nil {
		return errors.New("peers: multicast.interface is supported on Linux only")
	}
	return nil
}
