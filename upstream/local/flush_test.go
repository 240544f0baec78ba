package local

import (
	"testing"
	"time"
)

func TestFlushAll(t *testing.T) {
	a := "VALUE a 0 1\r\n1\r\nEND\r\n"
	b := "VALUE b 0 1\r\n2\r\nEND\r\n"
	tests := []struct {
		name  string
		steps []step
	}{
		{"immediate, and the next cas skips one", []step{
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: flushAll(), want: "OK\r\n"},
			{req: get("a"), want: "END\r\n"},
			{req: set("b", 0, 0, "2"), want: "STORED\r\n"},
			{req: gets("b"), want: "VALUE b 0 1 3\r\n2\r\nEND\r\n"},
		}},
		{"0 and negative delays are immediate", []step{
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: flushIn(0), want: "OK\r\n"},
			{req: get("a"), want: "END\r\n"},
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: flushIn(-1), want: "OK\r\n"},
			{req: get("a"), want: "END\r\n"},
		}},
		{"delay d hides what was stored up to second d-1", []step{
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{advance: 500 * time.Millisecond, req: flushIn(3), want: "OK\r\n"},
			{advance: 600 * time.Millisecond, req: set("b", 0, 0, "2"), want: "STORED\r\n"},
			{req: get("a"), want: a},
			{advance: time.Second, req: get("a"), want: "END\r\n"},
			{req: get("b"), want: "END\r\n"},
			{advance: 800 * time.Millisecond, req: set("b", 0, 0, "2"), want: "STORED\r\n"},
			{req: get("b"), want: "END\r\n"},
			{advance: 100 * time.Millisecond, req: set("b", 0, 0, "2"), want: "STORED\r\n"},
			{req: get("b"), want: b},
		}},
		{"delay 1 also hides the rest of this second", []step{
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: flushIn(1), want: "OK\r\n"},
			{req: get("a"), want: "END\r\n"},
			{req: set("b", 0, 0, "2"), want: "STORED\r\n"},
			{req: get("b"), want: "END\r\n"},
			{advance: time.Second, req: set("b", 0, 0, "2"), want: "STORED\r\n"},
			{req: get("b"), want: b},
		}},
		{"a later delayed flush revives what was not yet reclaimed", []step{
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: flushAll(), want: "OK\r\n"},
			{req: flushIn(100), want: "OK\r\n"},
			{req: get("a"), want: a},
			{advance: 99 * time.Second, req: get("a"), want: "END\r\n"},
		}},
		{"absolute time before the store started disables flushing", []step{
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: flushIn(baseUnix - 3600), want: "OK\r\n"},
			{req: get("a"), want: a},
			{req: flushIn(100), want: "OK\r\n"},
			{req: flushIn(baseUnix - 3600), want: "OK\r\n"},
			{advance: 200 * time.Second, req: get("a"), want: a},
		}},
		{"recent absolute time is immediate", []step{
			{advance: 10 * time.Second, req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: flushIn(baseUnix), want: "OK\r\n"},
			{req: get("a"), want: "END\r\n"},
		}},
		{"absolute future time", []step{
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: flushIn(baseUnix + 60*60*24*31), want: "OK\r\n"},
			{advance: 60 * 60 * 24 * 30 * time.Second, req: get("a"), want: a},
			{advance: 60 * 60 * 24 * time.Second, req: get("a"), want: "END\r\n"},
		}},
		{"noreply", []step{
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: noreply(flushAll()), want: ""},
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: noreply(flushIn(-5)), want: ""},
			{req: get("a"), want: "END\r\n"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, Config{}, tt.steps) })
	}
}
