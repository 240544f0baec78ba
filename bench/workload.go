package bench

import (
	"errors"
	"fmt"
	"time"
)

// Workload is what one turn sends to a target. The zero value is not
// valid; DefaultWorkload documents every default.
type Workload struct {
	// Conns is the number of client connections, one goroutine each.
	Conns int `json:"conns" yaml:"conns"`
	// Pipeline is the number of requests written per connection before
	// their replies are read (1: no pipelining).
	Pipeline int `json:"pipeline" yaml:"pipeline"`
	// Duration is how long each turn measures. Ignored when Requests > 0.
	Duration time.Duration `json:"duration" yaml:"duration"`
	// Requests, when > 0, ends a turn after this many requests instead.
	Requests int64 `json:"requests,omitempty" yaml:"requests"`
	// Warmup runs the load this long before measuring; its requests are
	// not counted.
	Warmup time.Duration `json:"warmup" yaml:"warmup"`
	// Keys is the key space: ids 0..Keys-1.
	Keys int `json:"keys" yaml:"keys"`
	// Zipf is the skew s of key popularity; 0 is uniform (see KeyGen).
	Zipf float64 `json:"zipf" yaml:"zipf"`
	// ValueSize is the length of set values.
	ValueSize ValueSize `json:"value_size" yaml:"value_size"`
	// GetRatio is the share of requests that are gets; the rest are sets.
	GetRatio float64 `json:"get_ratio" yaml:"get_ratio"`
	// MultiGet is the number of keys per get.
	MultiGet int `json:"multiget" yaml:"multiget"`
	// KeyPrefix starts every key: key = KeyPrefix + decimal id.
	KeyPrefix string `json:"key_prefix" yaml:"key_prefix"`
	// Prefill sets every key once, before a target's first turn.
	Prefill bool `json:"prefill" yaml:"prefill"`
	// PerConn, when > 0, closes each connection after this many requests
	// and opens a new one, as a PHP-FPM worker does for each page; a batch
	// never spans two connections, and the connect is counted in the
	// latency of the first batch on the new one. 0: connections live for
	// the whole turn.
	PerConn int `json:"per_conn,omitempty" yaml:"per_conn"`
	// Timeout bounds each batch's round trip; a batch past it is an I/O
	// error and its connection is redialed.
	Timeout time.Duration `json:"timeout" yaml:"timeout"`
	// Seed makes key and value draws repeatable; each connection derives
	// its own source from it.
	Seed uint64 `json:"seed" yaml:"seed"`
}

// DefaultWorkload returns the defaults: 50 connections, no pipelining,
// 5s, 1s warmup, 10,000 uniform keys, 100-byte values, 90% gets of one
// key, prefix "fb:", prefill on, 5s timeout.
func DefaultWorkload() Workload {
	return Workload{
		Conns:     50,
		Pipeline:  1,
		Duration:  5 * time.Second,
		Warmup:    time.Second,
		Keys:      10000,
		ValueSize: ValueSize{Min: 100, Max: 100},
		GetRatio:  0.9,
		MultiGet:  1,
		KeyPrefix: "fb:",
		Prefill:   true,
		Timeout:   5 * time.Second,
		Seed:      1,
	}
}

// maxKeyLen is memcached's key length limit.
const maxKeyLen = 250

// Validate reports every invalid field, by its flag name.
func (w *Workload) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if w.Conns < 1 {
		bad("conns", "%d: need at least 1", w.Conns)
	}
	if w.Pipeline < 1 {
		bad("pipeline", "%d: need at least 1", w.Pipeline)
	}
	if w.Requests < 0 {
		bad("requests", "%d: must not be negative", w.Requests)
	}
	if w.Requests == 0 && w.Duration <= 0 {
		bad("duration", "%v: need a positive duration or --requests", w.Duration)
	}
	if w.Warmup < 0 {
		bad("warmup", "%v: must not be negative", w.Warmup)
	}
	if w.Keys < 1 {
		bad("keys", "%d: need at least 1", w.Keys)
	}
	if w.Zipf < 0 || w.Zipf == 1 {
		bad("zipf", "%v: use 0 (uniform), 0 < s < 1 or s > 1", w.Zipf)
	}
	if err := w.ValueSize.validate(); err != nil {
		bad("value-size", "%v", err)
	}
	if w.GetRatio < 0 || w.GetRatio > 1 {
		bad("get-ratio", "%v: must be between 0 and 1", w.GetRatio)
	}
	if w.MultiGet < 1 {
		bad("multiget", "%d: need at least 1", w.MultiGet)
	}
	if n := len(w.KeyPrefix) + len(fmt.Sprint(w.Keys)); n > maxKeyLen {
		bad("key-prefix", "keys would be %d bytes, over memcached's %d", n, maxKeyLen)
	}
	if w.PerConn < 0 {
		bad("per-conn", "%d: must not be negative (0: long-lived connections)", w.PerConn)
	}
	if w.Timeout <= 0 {
		bad("timeout", "%v: must be positive", w.Timeout)
	}
	return errors.Join(errs...)
}
