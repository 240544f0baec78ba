//go:build !linux

package lagrelay

import (
	"context"
	"errors"
	"time"
)

// Config is what a Relay relays, and how (see the Linux build).
type Config struct {
	Listen, Upstream string
	Delay            time.Duration
	Handshake        bool
	MaxQueued        int
}

// DefaultMaxQueued is Config.MaxQueued's default: 4 MiB.
const DefaultMaxQueued = 4 << 20

// Relay is not built off Linux.
type Relay struct{}

// errNotLinux is returned by Listen off Linux.
var errNotLinux = errors.New("lagrelay: Linux only (epoll)")

// Listen fails off Linux.
func Listen(Config) (*Relay, error) { return nil, errNotLinux }

// Addr is empty off Linux.
func (*Relay) Addr() string { return "" }

// Stats is empty off Linux.
func (*Relay) Stats() Stats { return Stats{} }

// Close does nothing off Linux.
func (*Relay) Close() error { return nil }

// Serve fails off Linux.
func (*Relay) Serve(context.Context) error { return errNotLinux }
