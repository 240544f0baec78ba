//go:build !race

package testproc

// raceEnabled mirrors the test binary's -race flag into the faed build.
const raceEnabled = false
