package memcache

import "testing"

// Every line the pool answers for a server it did not reach, whatever the
// reason (a breaker's refusal included, once it is a pipeline reason), is
// Unreached; memcached's own error lines are not: a fallback replays only
// what the server never took.
func TestUnreached(t *testing.T) {
	p, err := New(Config{Servers: []Server{{Addr: "127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for r, line := range p.servers[0].lines {
		if r > 0 && !p.Unreached(line) {
			t.Errorf("reason %d: %q is not Unreached", r, line)
		}
	}
	for _, line := range []string{"SERVER_ERROR out of memory storing object\r\n", "SERVER_ERROR object too large for cache\r\n",
		"CLIENT_ERROR bad data chunk\r\n", "ERROR\r\n", "STORED\r\n", "NOT_STORED\r\n"} {
		if p.Unreached([]byte(line)) {
			t.Errorf("%q is Unreached", line)
		}
	}
	if got := p.Home([]byte("k")); got != "127.0.0.1:1" {
		t.Errorf("Home: %q", got)
	}
}
