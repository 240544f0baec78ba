package server

import "time"

// Limits are the limits of a running server that a reload may change
// (SetLimits); the others (Addr, Loops, MaxKeyLen, MaxItemSize, …) hold
// for the server's life. A zero field takes the default of Config.
type Limits struct {
	MaxConns    int
	MaxInflight int
	MaxInbound  int
	MaxOutbound int
	IdleTimeout time.Duration
}

// SetLimits puts l in force: a connection sees it at its next request, a
// new connection at once. Connections over a lowered MaxConns stay open.
// Safe for concurrent use.
func (s *Server) SetLimits(l Limits) {
	c := Config{MaxConns: l.MaxConns, MaxInflight: l.MaxInflight, MaxInbound: l.MaxInbound,
		MaxOutbound: l.MaxOutbound, IdleTimeout: l.IdleTimeout}
	c.defaults()
	s.lim.Store(&Limits{MaxConns: c.MaxConns, MaxInflight: c.MaxInflight, MaxInbound: c.MaxInbound,
		MaxOutbound: c.MaxOutbound, IdleTimeout: c.IdleTimeout})
}

// limits are the limits in force: one atomic load.
func (s *Server) limits() *Limits { return s.lim.Load() }
