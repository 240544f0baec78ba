package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The example configuration parses as written.
func TestCluster(t *testing.T) {
	c, err := Load("testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := c.Peers
	if p == nil || p.Listen != "127.0.0.2:11212" || len(p.Static) != 1 || p.Heartbeat.D() != 200*time.Millisecond || p.DownAfter != 3 {
		t.Fatalf("peers: %+v", p)
	}
	if p.Multicast == nil || p.Multicast.Group != "239.255.77.77:7946" || p.Multicast.Interface != "lo" {
		t.Errorf("multicast: %+v", p.Multicast)
	}
	if s, err := p.LoadSecret(); err != nil || string(s) != "0123456789abcdef-cluster" {
		t.Errorf("secret %q, %v", s, err)
	}
	sh := c.Pools["shared"]
	if sh.Kind != KindCluster || sh.Replicas != 2 || sh.MaxBytes != 64<<20 || sh.Timeout.D() != 500*time.Millisecond {
		t.Errorf("shared pool: %+v", sh)
	}
}

func TestPeersDefaults(t *testing.T) {
	c, err := Parse([]byte("peers:\n  listen: 127.0.0.2:11212\n  secret: \"0123456789abcdef\"\n  multicast: {}\n" +
		"pools:\n  shared: {kind: cluster}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Peers; p.Heartbeat.D() != DefaultHeartbeat || p.DownAfter != DefaultDownAfter || p.Multicast.Group != DefaultMulticastGroup {
		t.Errorf("peers defaults: %+v %+v", p, p.Multicast)
	}
	if r := c.Pools["shared"].Replicas; r != 2 {
		t.Errorf("replicas default %d", r)
	}
	if c, err := Parse(nil); err != nil || c.Peers != nil {
		t.Errorf("no peers block: %+v, %v", c.Peers, err)
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want, wantErr string
	}{
		{name: "trailing newline", content: "0123456789abcdef-file\n", want: "0123456789abcdef-file"},
		{name: "short", content: "0123456789\n", wantErr: "peers.secret_file: the secret is 10 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(f, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Parse([]byte("peers:\n  listen: 127.0.0.2:11212\n  secret_file: " + f + "\n"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s, err := c.Peers.LoadSecret(); err != nil || string(s) != tc.want {
				t.Errorf("secret %q, %v", s, err)
			}
		})
	}
}
