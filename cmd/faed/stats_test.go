package main_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// statsOn sends cmd ("stats", "stats peers", "stats pools", ...) on c and
// returns its STAT lines, name -> value. Any other line than
// "STAT <name> <value>" before END fails the test.
func statsOn(t *testing.T, c *hcClient, cmd string) map[string]string {
	t.Helper()
	_ = c.nc.SetDeadline(time.Now().Add(60 * time.Second)) // ends a hung test only
	if _, err := c.nc.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatal(err)
	}
	st := map[string]string{}
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if line == "END\r\n" {
			return st
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "STAT" {
			t.Fatalf("%s: bad line %q", cmd, line)
		}
		st[f[1]] = f[2]
	}
}

// statsOf is statsOn over a connection of its own to addr (faed or
// memcached).
func statsOf(t *testing.T, addr, cmd string) map[string]string {
	t.Helper()
	c := dialHC(t, addr)
	defer c.nc.Close()
	return statsOn(t, c, cmd)
}

// statUint is stat name of st as a number; a stat missing or not a number
// fails the test.
func statUint(t *testing.T, st map[string]string, name string) uint64 {
	t.Helper()
	s, ok := st[name]
	if !ok {
		t.Fatalf("stat %s not found", name)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("stat %s: %v", name, err)
	}
	return v
}

// statOf reads one general stat of the faed or memcached at addr.
func statOf(t *testing.T, addr, name string) uint64 {
	t.Helper()
	return statUint(t, statsOf(t, addr, "stats"), name)
}
