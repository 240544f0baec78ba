package peers

import (
	"net"
	"syscall"
)

// setMulticastIf makes datagrams conn sends to a multicast group leave
// through ifi (IP_MULTICAST_IF), with a TTL of 1 (the LAN only) and looped
// back to this host's own group members (sidecars sharing a host).
func setMulticastIf(conn *net.UDPConn, ifi *net.Interface) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		if ifi != nil {
			if serr = syscall.SetsockoptIPMreqn(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_IF,
				&syscall.IPMreqn{Ifindex: int32(ifi.Index)}); serr != nil {
				return
			}
		}
		if serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_TTL, 1); serr != nil {
			return
		}
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_LOOP, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
