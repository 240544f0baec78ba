package server

import (
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// claim checks that addr is free before the loops bind it with SO_REUSEPORT,
// which would share the port with another process of the same user bound
// the same way (a second faed) rather than fail, and returns the address
// the loops bind: addr, or with port 0 the port the check was given, so
// that every loop listens on the same one.
//
// The check binds a socket and closes it without listening: a listening
// one would take a client's connection into its backlog in the instant
// before the close and reset it (a client started with faed, as a test or
// a PHP worker is, sees "connection reset by peer" instead of waiting for
// the port). SO_REUSEADDR is set, as net.Listen sets it, so only a socket
// that listens there, or is bound without it, makes the check fail.
func claim(addr string) (string, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return "", err
	}
	var sa syscall.Sockaddr
	family := syscall.AF_INET
	if ip4 := ta.IP.To4(); ta.IP == nil || ip4 != nil {
		a := &syscall.SockaddrInet4{Port: ta.Port}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		family = syscall.AF_INET6
		a := &syscall.SockaddrInet6{Port: ta.Port}
		copy(a.Addr[:], ta.IP.To16())
		if ta.Zone != "" {
			if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
				a.ZoneId = uint32(ifi.Index)
			}
		}
		sa = a
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("listen tcp %s: %w", addr, err)
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return "", fmt.Errorf("listen tcp %s: %w", addr, err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return "", fmt.Errorf("listen tcp %s: bind: %w", addr, err)
	}
	host, port, _ := net.SplitHostPort(addr) // well formed: resolved above
	if port != "0" {
		return addr, nil
	}
	got, err := syscall.Getsockname(fd)
	if err != nil {
		return "", fmt.Errorf("listen tcp %s: %w", addr, err)
	}
	switch a := got.(type) {
	case *syscall.SockaddrInet4:
		port = strconv.Itoa(a.Port)
	case *syscall.SockaddrInet6:
		port = strconv.Itoa(a.Port)
	}
	return net.JoinHostPort(host, port), nil
}
