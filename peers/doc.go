// Package peers keeps this sidecar's view of its cluster: which peer
// sidecars exist and which are up. [Membership] finds peers by a static
// list and by beacons on a multicast group, heartbeats every known peer with
// a beacon every Heartbeat over UDP on the peer port, marks a peer down when
// DownAfter heartbeats went missing and up again at its next beacon, and
// reports each change in order. Every beacon is sealed with the cluster's
// shared secret (peers/auth); unsigned, foreign, replayed, stale and
// malformed beacons, and beacons announcing this sidecar's own id or
// address, are dropped and counted by reason.
//
// Placement of keys is peers/ring's job, the wiring of both the daemon's.
package peers
