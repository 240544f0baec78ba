package metascript

import (
	_ "embed"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
)

//go:embed testdata/meta_script.txt
var script string

// Script returns the steps of testdata/meta_script.txt: one request a
// line, "|" standing for "\r\n", "#" lines being comments. The slice is
// new on each call.
func Script() []string {
	var steps []string
	for _, l := range strings.Split(script, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			steps = append(steps, l)
		}
	}
	return steps
}

// Random returns the i-th request of a random sequence, ending in "\r\n":
// an mg, ms, md or ma on one of a few keys (base64 ones included), with
// random flags in random order, q included, and CAS values near the live
// ones (those of the last few requests, i counting them).
func Random(r *rand.Rand, i int) string {
	key := []string{"a", "b", "c", "YQ== b", "Yg== b"}[r.IntN(5)]
	pick := func(flags ...string) string {
		var out []string
		for _, j := range r.Perm(len(flags)) {
			if r.IntN(3) == 0 {
				out = append(out, flags[j])
			}
		}
		return strings.Join(out, " ")
	}
	cas := fmt.Sprint("C", max(0, i-r.IntN(8)))
	if r.IntN(4) == 0 {
		cas = "C0"
	}
	ttl := fmt.Sprint("T", []int{0, 100, 1000}[r.IntN(3)])
	var line string
	switch r.IntN(4) {
	case 0:
		line = "mg " + key + " " + pick("v", "f", "t", "c", "k", "s", "O9", "q", "N100", ttl, "h", "u", "I")
	case 1:
		data := []string{"1", "22", "abc", "18446744073709551615", ""}[r.IntN(5)]
		fl := pick("c", "k", "q", "O1", "F5", ttl, "I", cas, "M"+string("SEAPR"[r.IntN(5)]))
		line = fmt.Sprintf("ms %s %d %s\r\n%s", key, len(data), fl, data)
	case 2:
		line = "md " + key + " " + pick("q", "k", "O2", "I", ttl, cas)
	default:
		line = "ma " + key + " " + pick("v", "c", "t", "k", "q", "O3", "N0", "J7", "D3", ttl, cas, "M"+string("I+D-"[r.IntN(4)]))
	}
	return strings.TrimRight(line, " ") + "\r\n"
}

// timeField matches the flags whose value is a number of seconds.
var timeField = regexp.MustCompile(`( t| l|la=)([0-9]+)`)

// SameReply reports whether replies a and b are equal, or differ only in
// seconds fields (t, l, la=), by at most one: a second boundary may fall
// between the two servers' answers.
func SameReply(a, b string) bool {
	if a == b {
		return true
	}
	as, bs := timeField.FindAllStringSubmatch(a, -1), timeField.FindAllStringSubmatch(b, -1)
	if len(as) != len(bs) || timeField.ReplaceAllString(a, "$1") != timeField.ReplaceAllString(b, "$1") {
		return false
	}
	for i := range as {
		x, _ := strconv.ParseInt(as[i][2], 10, 64)
		y, _ := strconv.ParseInt(bs[i][2], 10, 64)
		if x-y > 1 || y-x > 1 {
			return false
		}
	}
	return true
}
