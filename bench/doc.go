// Package bench is a load generator for the memcached text protocol: it
// drives one or more targets (faed, twemproxy, memcached) with a
// [Workload], in turns, and reports throughput, hit ratio, errors and HDR
// latency percentiles per target.
//
// The pieces, from the wire up:
//
//   - [Client] writes get and set requests and reads their replies without
//     allocating, checking each VALUE key against the keys asked for so a
//     proxy that reorders or mixes up replies is counted as an error.
//   - [KeyGen] draws key ids uniformly or with a Zipf skew; [ValueSize] a
//     fixed or ranged value length.
//   - [RunTurn] runs one workload against one target with one goroutine
//     and one histogram per connection, merged when the turn ends; with
//     Workload.PerConn each connection is replaced after that many
//     requests, its connect counted in the latency.
//   - [Schedule] and [RunTurns] take targets in turns (A B A B ...) so a
//     noisy machine slows every target alike; [Summarize] and [WriteTable]
//     report each target's median of rounds and its ratio to the first.
//   - [ReadStats] reads a memcached's counters, to count the gets a proxy
//     sent upstream; [ReadProc] a process's CPU time and read/write
//     syscalls, which a turn reports per request ([ProcUse]); [HoldIdle]
//     measures the memory idle connections cost a server; [SendChunked]
//     and [HoldPartial] what values that arrive in pieces cost it, in CPU
//     time ([ReadCPU]) and memory ([ReadRSS]).
//
// Scenarios (named workloads) load from a YAML file with [LoadScenarios].
// The lag relay that puts a network hop in front of memcached is package
// lagrelay.
package bench
