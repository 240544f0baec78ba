//go:build race

package dlog

// raceEnabled: the race detector adds allocations of its own, so
// allocation counts mean nothing under it.
const raceEnabled = true
