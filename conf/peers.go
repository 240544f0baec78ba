package conf

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"time"
)

// Defaults of the peers block.
const (
	DefaultMulticastGroup = "239.255.77.77:7946"
	DefaultHeartbeat      = 200 * time.Millisecond
	DefaultDownAfter      = 3
	// MinSecret is the shortest shared secret accepted, in bytes.
	MinSecret = 16
)

// Peers configures this sidecar's membership of a cluster of sidecars,
// which cluster pools place keys on.
type Peers struct {
	// Listen is the peer address, host:port: peer links and beacons (UDP,
	// same port) arrive there, and it is the address announced to the other
	// peers, so it must be one they reach (not 0.0.0.0). Never the client
	// port.
	Listen string `yaml:"listen"`
	// Secret is shared by every sidecar of the cluster, at least 16 bytes:
	// every beacon and peer link proves it. Exactly one of Secret and
	// SecretFile is required.
	Secret string `yaml:"secret"`
	// SecretFile is a file holding the secret (trailing newlines are
	// dropped).
	SecretFile string `yaml:"secret_file"`
	// Static lists peer addresses (host:port) to heartbeat from the start,
	// for networks without multicast. This sidecar's own address may be
	// listed (one list for the whole cluster): it is skipped.
	Static []string `yaml:"static"`
	// Multicast announces this sidecar on a multicast group and finds the
	// others there; nil: no multicast. Static and multicast can be on
	// together.
	Multicast *Multicast `yaml:"multicast"`
	// Heartbeat is the watchdog interval: each peer is sent a beacon this
	// often. Default 200ms.
	Heartbeat Duration `yaml:"heartbeat"`
	// DownAfter is the number of heartbeats missed before a peer is marked
	// down. Default 3.
	DownAfter int `yaml:"down_after"`
}

// Multicast is the discovery group.
type Multicast struct {
	// Group is the multicast IPv4 group and UDP port. Default
	// 239.255.77.77:7946 (239/8: organization-local scope).
	Group string `yaml:"group"`
	// Interface is the network interface (name) to join the group on and
	// send announcements through; empty: the system's choice.
	Interface string `yaml:"interface"`
}

func (p *Peers) defaults() {
	if p == nil {
		return
	}
	if p.Heartbeat == 0 {
		p.Heartbeat = Duration(DefaultHeartbeat)
	}
	if p.DownAfter == 0 {
		p.DownAfter = DefaultDownAfter
	}
	if p.Multicast != nil && p.Multicast.Group == "" {
		p.Multicast.Group = DefaultMulticastGroup
	}
}

// LoadSecret returns the shared secret: Secret, or the content of
// SecretFile without trailing newlines.
func (p *Peers) LoadSecret() ([]byte, error) {
	if p.SecretFile == "" {
		return []byte(p.Secret), nil
	}
	b, err := os.ReadFile(p.SecretFile)
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

func (p *Peers) validate(clientListen string, bad func(field, format string, a ...any)) {
	if p == nil {
		return
	}
	host, port, err := net.SplitHostPort(p.Listen)
	switch {
	case err != nil:
		bad("peers.listen", "%q is not host:port (e.g. 10.0.0.5:11212)", p.Listen)
	case host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified():
		bad("peers.listen", "%q: give the address the other peers reach this sidecar at, not every interface", p.Listen)
	case p.Listen == clientListen:
		bad("peers.listen", "%q is the client port (listen): peers need a port of their own", p.Listen)
	default:
		if _, err := net.LookupPort("udp", port); err != nil {
			bad("peers.listen", "%q: bad port", p.Listen)
		}
	}
	switch {
	case p.Secret == "" && p.SecretFile == "":
		bad("peers.secret", "one of secret and secret_file is required: every peer proves the cluster's shared secret")
	case p.Secret != "" && p.SecretFile != "":
		bad("peers.secret", "set one of secret and secret_file, not both")
	default:
		field := "peers.secret"
		if p.SecretFile != "" {
			field = "peers.secret_file"
		}
		if s, err := p.LoadSecret(); err != nil {
			bad(field, "%v", err)
		} else if len(s) < MinSecret {
			bad(field, "the secret is %d bytes: use at least %d (e.g. openssl rand -base64 32)", len(s), MinSecret)
		}
	}
	for i, s := range p.Static {
		if _, _, err := net.SplitHostPort(s); err != nil {
			bad(fmt.Sprintf("peers.static[%d]", i), "%q is not host:port", s)
		}
	}
	if m := p.Multicast; m != nil {
		addr, err := net.ResolveUDPAddr("udp4", m.Group)
		switch {
		case err != nil:
			bad("peers.multicast.group", "%q is not host:port of an IPv4 multicast group (e.g. %s)", m.Group, DefaultMulticastGroup)
		case !addr.IP.IsMulticast() || addr.IP.To4() == nil:
			bad("peers.multicast.group", "%s is not an IPv4 multicast address (224.0.0.0/4; e.g. %s)", addr.IP, DefaultMulticastGroup)
		case addr.Port == 0:
			bad("peers.multicast.group", "%q needs a port", m.Group)
		}
		if m.Interface != "" {
			if _, err := net.InterfaceByName(m.Interface); err != nil {
				bad("peers.multicast.interface", "%q: %v", m.Interface, err)
			}
		}
	}
	if p.Heartbeat <= 0 {
		bad("peers.heartbeat", "must be positive (e.g. 200ms)")
	}
	if p.DownAfter < 1 {
		bad("peers.down_after", "must be at least 1 (heartbeats missed before a peer is down)")
	}
}
