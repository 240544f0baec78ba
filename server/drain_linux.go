package server

import "golang.org/x/sys/unix"

// unacked is the number of bytes written to socket fd that its peer has not
// acknowledged yet (SIOCOUTQ); on error it reports none.
func unacked(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	if err != nil {
		return 0
	}
	return n
}
