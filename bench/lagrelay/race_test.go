//go:build race

package lagrelay

// raceEnabled: the race detector adds allocations of its own, so
// allocation counts are checked without it (make test runs them again).
const raceEnabled = true
