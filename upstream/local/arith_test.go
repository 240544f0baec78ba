package local

import (
	"strings"
	"testing"
)

func TestArith(t *testing.T) {
	nonNumeric := "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
	tests := []struct {
		name  string
		steps []step
	}{
		{"missing", []step{
			{req: incr("k", 1), want: "NOT_FOUND\r\n"},
			{req: decr("k", 1), want: "NOT_FOUND\r\n"},
		}},
		{"incr grows into a new item", []step{
			{req: set("k", 5, 0, "9"), want: "STORED\r\n"},
			{req: incr("k", 1), want: "10\r\n"},
			{req: gets("k"), want: "VALUE k 5 2 2\r\n10\r\nEND\r\n"},
		}},
		{"decr pads in place with spaces", []step{
			{req: set("k", 0, 0, "10"), want: "STORED\r\n"},
			{req: decr("k", 1), want: "9\r\n"},
			{req: gets("k"), want: "VALUE k 0 2 2\r\n9 \r\nEND\r\n"},
			{req: incr("k", 1), want: "10\r\n"},
			{req: gets("k"), want: "VALUE k 0 2 3\r\n10\r\nEND\r\n"},
		}},
		{"decr floors at zero", []step{
			{req: set("k", 0, 0, "5"), want: "STORED\r\n"},
			{req: decr("k", 100), want: "0\r\n"},
		}},
		{"incr wraps at 2^64", []step{
			{req: set("k", 0, 0, "18446744073709551615"), want: "STORED\r\n"},
			{req: incr("k", 2), want: "1\r\n"},
			{req: get("k"), want: "VALUE k 0 20\r\n1                   \r\nEND\r\n"},
		}},
		{"value longer than 20 digits", []step{
			{req: set("k", 0, 0, "000000000000000000000000001"), want: "STORED\r\n"},
			{req: incr("k", 1), want: "2\r\n"},
			{req: get("k"), want: "VALUE k 0 27\r\n2                          \r\nEND\r\n"},
		}},
		{"leading space and trailing text after a space", []step{
			{req: set("k", 0, 0, " 5 abc"), want: "STORED\r\n"},
			{req: incr("k", 1), want: "6\r\n"},
			{req: get("k"), want: "VALUE k 0 6\r\n6     \r\nEND\r\n"},
		}},
		{"non-numeric", []step{
			{req: set("k", 0, 0, "5abc"), want: "STORED\r\n"},
			{req: incr("k", 1), want: nonNumeric},
			{req: set("k", 0, 0, ""), want: "STORED\r\n"},
			{req: decr("k", 1), want: nonNumeric},
			{req: set("k", 0, 0, "-1"), want: "STORED\r\n"},
			{req: incr("k", 1), want: nonNumeric},
			{req: noreply(incr("k", 1)), want: ""},
		}},
		{"noreply", []step{
			{req: set("k", 0, 0, "1"), want: "STORED\r\n"},
			{req: noreply(incr("k", 1)), want: ""},
			{req: noreply(decr("q", 1)), want: ""},
			{req: get("k"), want: "VALUE k 0 1\r\n2\r\nEND\r\n"},
		}},
		{"keeps flags and exptime", []step{
			{req: set("k", 7, 10, "99"), want: "STORED\r\n"},
			{req: incr("k", 1), want: "100\r\n"},
			{req: get("k"), want: "VALUE k 7 3\r\n100\r\nEND\r\n"},
			{advance: 10e9, req: get("k"), want: "END\r\n"},
		}},
		{"chunked items are never numeric", []step{
			// 524288 bytes in all: the largest unchunked item for key "k".
			{req: set("k", 0, 0, strings.Repeat("0", 524228-1)+"1"), want: "STORED\r\n"},
			{req: incr("k", 1), want: "2\r\n"},
			{req: set("k", 0, 0, strings.Repeat("0", 524229-1)+"1"), want: "STORED\r\n"},
			{req: incr("k", 1), want: nonNumeric},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, Config{}, tt.steps) })
	}
}

func TestParseCounter(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"18446744073709551615", 1<<64 - 1, true},
		{"18446744073709551616", 0, false},
		{"99999999999999999999999", 0, false},
		{"00000000000000000000000000007", 7, true},
		{" \t5", 5, true},
		{"5 ", 5, true},
		{"5\tx", 5, true},
		{"5\x00x", 5, true},
		{"5x", 0, false},
		{"+5", 5, true},
		{"-0", 0, true},
		{"-1", 0, false},
		{"-9223372036854775809", 9223372036854775807, true},
		{"-18446744073709551615", 1, true},
		{"-18446744073709551616", 0, false},
		{"", 0, false},
		{"+", 0, false},
		{"- 5", 0, false},
		{"   ", 0, false},
		{"\x00", 0, false},
		{"abc", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseCounter([]byte(tt.in))
			if got != tt.want || ok != tt.ok {
				t.Fatalf("parseCounter(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestArithOutOfMemory covers a longer incr result that the memory cannot
// hold: the item stays as it was.
func TestArithOutOfMemory(t *testing.T) {
	runSteps(t, Config{MaxBytes: 61, MaxItemSize: 61, Shards: 1}, []step{
		{req: set("k", 0, 0, "9"), want: "STORED\r\n"},
		{req: incr("k", 1), want: "SERVER_ERROR out of memory\r\n"},
		{req: noreply(incr("k", 1)), want: ""},
		{req: gets("k"), want: "VALUE k 0 1 1\r\n9\r\nEND\r\n"},
	})
}
