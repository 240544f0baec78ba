// Package testproc starts and stops the real parts tests run against:
// memcached servers, the faed binary built from this module, and scripted
// TCP servers on loopback (ServeTCP), with WaitFor to wait on what they do.
//
// That is its one job. Every process it starts listens on a free loopback
// port, is waited for by polling (never by sleeping a fixed time), and is
// stopped by a t.Cleanup registered when it is started, so a test never
// leaks a process or depends on another test's. A tool that is missing is a
// test failure that says how to install it, never a skip.
package testproc
