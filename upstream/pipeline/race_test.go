//go:build race

package pipeline

// raceEnabled: the race detector makes allocation counts meaningless.
const raceEnabled = true
