//go:build !race

package lagrelay

const raceEnabled = false
