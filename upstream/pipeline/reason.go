package pipeline

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Reason says why a server, a connection or a request failed.
type Reason uint8

const (
	ReasonNone Reason = iota
	ReasonConnecting
	ReasonRefused
	ReasonDialTimeout
	ReasonDial
	ReasonTimeout
	ReasonClosedByPeer
	ReasonIO
	ReasonBadReply
	ReasonQueueFull
	ReasonPoolClosed
	// NumReasons is the number of reasons: an owner may keep a prebuilt
	// answer per reason in an array of this size.
	NumReasons
)

// reasonText is the short text of each reason.
var reasonText = [NumReasons]string{
	ReasonNone:         "error",
	ReasonConnecting:   "connecting",
	ReasonRefused:      "connection refused",
	ReasonDialTimeout:  "connect timeout",
	ReasonDial:         "connect failed",
	ReasonTimeout:      "timeout",
	ReasonClosedByPeer: "connection closed",
	ReasonIO:           "connection error",
	ReasonBadReply:     "bad reply",
	ReasonQueueFull:    "too many pending requests",
	ReasonPoolClosed:   "pool closed",
}

// String returns the reason's short text, such as "timeout" or "connection
// refused".
func (r Reason) String() string {
	if r >= NumReasons {
		return "error"
	}
	return reasonText[r]
}

// errBadReply ends a reader when the bytes from a server cannot be the
// reply to the request at the head of the queue (Op.Scan failed, bytes
// nobody asked for, a probe answered wrongly): the stream is out of step
// and the connection must go.
var errBadReply = errors.New("pipeline: bad reply from server")

// dialReason classifies a failed dial.
func dialReason(err error) Reason {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ReasonDialTimeout
	}
	return ReasonDial
}

// readReason classifies the error that ended a connection's read loop.
func readReason(err error) Reason {
	switch {
	case errors.Is(err, errBadReply):
		return ReasonBadReply
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return ReasonClosedByPeer
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ReasonTimeout
	}
	return ReasonIO
}
