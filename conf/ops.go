package conf

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Log formats (Config.LogFormat).
const (
	LogText = "text"
	LogJSON = "json"
)

// MinAdminToken is the shortest admin token accepted.
const MinAdminToken = 16

// maxUnixPath is the longest unix socket path Linux binds (sun_path is 108
// bytes with its NUL).
const maxUnixPath = 107

// FileMode is a file's permission bits, written in YAML in octal: "0660".
type FileMode uint32

// UnmarshalYAML reads an octal number, quoted or not.
func (m *FileMode) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(n.Value), "0o"), "0O")
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 {
		return fmt.Errorf("line %d: %q is not a file mode: write permission bits in octal, e.g. \"0660\"", n.Line, n.Value)
	}
	*m = FileMode(v)
	return nil
}

// Perm is m as file permission bits.
func (m FileMode) Perm() fs.FileMode { return fs.FileMode(m).Perm() }

// String writes m as YAML takes it.
func (m FileMode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// opsDefaults fills the operations fields left unset.
func (c *Config) opsDefaults() {
	if c.ListenUnixMode == 0 {
		c.ListenUnixMode = 0o660
	}
	if c.LogFormat == "" {
		c.LogFormat = LogText
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
}

// Level is LogLevel as a slog level; Validate has checked it.
func (c *Config) Level() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel))
	return l
}

// readTokenFile sets AdminToken from the first line of AdminTokenFile.
func (c *Config) readTokenFile() error {
	if c.AdminTokenFile == "" {
		return nil
	}
	f := "admin_token_file"
	switch {
	case c.AdminToken != "":
		return fmt.Errorf("%s: admin_token is set too: keep one of them", f)
	case !filepath.IsAbs(c.AdminTokenFile):
		return fmt.Errorf("%s: %q is relative: give an absolute path", f, c.AdminTokenFile)
	}
	data, err := os.ReadFile(c.AdminTokenFile)
	if err != nil {
		return fmt.Errorf("%s: %v", f, err)
	}
	line, _, _ := bufio.NewReader(bytes.NewReader(data)).ReadLine()
	tok := strings.TrimSpace(string(line))
	if tok == "" {
		return fmt.Errorf("%s: %s has no token on its first line", f, c.AdminTokenFile)
	}
	c.AdminToken = tok
	return nil
}

// validateOps checks the listeners, the admin API's access and the logs,
// reporting through bad.
func (c *Config) validateOps(bad func(field, format string, a ...any)) {
	if c.ListenUnix != "" {
		switch {
		case !filepath.IsAbs(c.ListenUnix):
			bad("listen_unix", "%q is relative: give an absolute path, e.g. /run/faed/faed.sock", c.ListenUnix)
		case len(c.ListenUnix) > maxUnixPath:
			bad("listen_unix", "%d bytes: a unix socket path has at most %d", len(c.ListenUnix), maxUnixPath)
		}
	}
	if c.ListenUnixMode > 0o777 {
		bad("listen_unix_mode", "%s is not permission bits: at most 0777", c.ListenUnixMode)
	}
	if c.Admin != "" {
		if _, _, err := net.SplitHostPort(c.Admin); err != nil {
			bad("admin", "%q is not host:port (e.g. 127.0.0.1:11219)", c.Admin)
		} else if !IsLoopback(c.Admin) {
			if !c.AdminAllowRemote {
				bad("admin", "%q is not a loopback address and the admin API serves pprof and changes the "+
					"running sidecar: use 127.0.0.1:PORT, or set admin_allow_remote: true and admin_token", c.Admin)
			}
			if c.AdminToken == "" && c.AdminTokenFile == "" {
				bad("admin_token", "required when admin (%q) is not a loopback address: every request must "+
					"carry it (set admin_token or admin_token_file)", c.Admin)
			}
		}
	}
	if c.AdminToken != "" {
		switch {
		case len(c.AdminToken) < MinAdminToken:
			bad("admin_token", "%d characters: use at least %d (e.g. openssl rand -hex 16)", len(c.AdminToken), MinAdminToken)
		case strings.ContainsFunc(c.AdminToken, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			bad("admin_token", "has spaces or control characters: it goes in an HTTP header")
		}
	}
	switch c.LogFormat {
	case LogText, LogJSON:
	default:
		bad("log_format", "%q is not a log format: use %s or %s", c.LogFormat, LogText, LogJSON)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("log_level", "%q is not a level: use debug, info, warn or error", c.LogLevel)
	}
}
