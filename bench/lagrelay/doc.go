// Package lagrelay is a TCP relay that holds every chunk it forwards for a
// fixed one-way delay, in both directions: a network hop between two
// programs on one host, for benchmarks where netem is not available.
//
// [Listen] binds a Relay; [Relay.Serve] runs it until its context ends;
// [Relay.Stats] reads its counters (connections, chunks, bytes, how long
// chunks were held and how late past their due time they left).
//
// It is built to cost little CPU and to hold chunks for the delay asked,
// not the delay a Go timer gives: one epoll loop on one locked OS thread
// reads a chunk when it arrives, stamps it due Delay later, and writes it
// when the loop wakes at that time (epoll_pwait2 with a nanosecond timeout,
// timer slack 1ns). A Go timer of 100µs fires after about 1ms on an idle
// process, and sooner under load, which would make the hop depend on the
// load measured. Per chunk the relay makes one read and one write; a
// connection's bytes keep their order, and a FIN is forwarded, after the
// bytes before it, Delay after it was read.
//
// With Config.Handshake, a connection's first client bytes reach the
// upstream no sooner than 3*Delay after the relay accepted it, as over a
// real hop where connect takes a round trip before the client can send
// (here connect returns at once): a client that opens a connection per
// request pays the round trip it would pay across the network.
//
// Linux only.
package lagrelay
