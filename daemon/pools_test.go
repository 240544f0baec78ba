package daemon

import (
	"strings"
	"testing"

	"github.com/fae-sidecar/fae/conf"
)

// A configuration with a cluster pool fails at start, naming the pool,
// until the daemon serves cluster pools.
func TestClusterPoolNotServedYet(t *testing.T) {
	cfg, err := conf.Parse([]byte("peers:\n  listen: 127.0.0.2:11212\n  secret: \"0123456789abcdef\"\n" +
		"pools:\n  shared: {kind: cluster, replicas: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = build(cfg, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "pools.shared: pool kind cluster: not served yet") {
		t.Fatalf("build: %v", err)
	}
}
