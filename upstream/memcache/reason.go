package memcache

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/fae-sidecar/fae/proto/memcache"
)

// reason says why a server, a connection or a request failed. Each reason has
// a prebuilt SERVER_ERROR line per server (server.lines), so failing fast
// does not allocate.
type reason uint8

const (
	reasonNone reason = iota
	reasonConnecting
	reasonRefused
	reasonDialTimeout
	reasonDial
	reasonTimeout
	reasonClosedByPeer
	reasonIO
	reasonBadReply
	reasonQueueFull
	reasonPoolClosed
	numReasons
)

// reasonText is the short text of each reason, as the client sees it after
// "SERVER_ERROR upstream <addr> ".
var reasonText = [numReasons]string{
	reasonNone:         "error",
	reasonConnecting:   "connecting",
	reasonRefused:      "connection refused",
	reasonDialTimeout:  "connect timeout",
	reasonDial:         "connect failed",
	reasonTimeout:      "timeout",
	reasonClosedByPeer: "connection closed",
	reasonIO:           "connection error",
	reasonBadReply:     "bad reply",
	reasonQueueFull:    "too many pending requests",
	reasonPoolClosed:   "pool closed",
}

// dialReason classifies a failed dial.
func dialReason(err error) reason {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return reasonRefused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return reasonDialTimeout
	}
	return reasonDial
}

// readReason classifies the error that ended a connection's read loop.
func readReason(err error) reason {
	switch {
	case errors.Is(err, memcache.ErrBadReply):
		return reasonBadReply
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return reasonClosedByPeer
	case errors.Is(err, os.ErrDeadlineExceeded):
		return reasonTimeout
	}
	return reasonIO
}
