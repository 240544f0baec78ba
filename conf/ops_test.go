package conf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The token comes from the first line of admin_token_file, trimmed.
func TestAdminTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, body, want, wantErr string
	}{
		{name: "one line", body: "0123456789abcdef\n", want: "0123456789abcdef"},
		{name: "no newline", body: "0123456789abcdef", want: "0123456789abcdef"},
		{name: "first line only", body: "0123456789abcdef\nsomething else\n", want: "0123456789abcdef"},
		{name: "empty", body: "\n", wantErr: "admin_token_file: "},
		{name: "too short", body: "short\n", wantErr: "admin_token: 5 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tc.name, " ", "_"), tc.body)
			c := parseCase(t, "admin: 127.0.0.1:11219\nadmin_token_file: "+p+"\n", tc.wantErr)
			if c != nil && c.AdminToken != tc.want {
				t.Errorf("token %q, want %q", c.AdminToken, tc.want)
			}
		})
	}
}

func TestFileMode(t *testing.T) {
	for _, tc := range []struct {
		yaml    string
		want    FileMode
		wantErr string
	}{
		{yaml: "", want: 0o660},
		{yaml: `listen_unix_mode: "0600"`, want: 0o600},
		{yaml: `listen_unix_mode: 0666`, want: 0o666},
		{yaml: `listen_unix_mode: "0o700"`, want: 0o700},
		{yaml: `listen_unix_mode: "rw-rw----"`, wantErr: "line 2: \"rw-rw----\" is not a file mode"},
		{yaml: `listen_unix_mode: "1777"`, wantErr: "not a file mode"},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			c := parseCase(t, "listen_unix: /run/faed/faed.sock\n"+tc.yaml+"\n", tc.wantErr)
			if c != nil && c.ListenUnixMode != tc.want {
				t.Errorf("mode %s, want %s", c.ListenUnixMode, tc.want)
			}
		})
	}
}

// A refused file names itself and lists each problem on a line of its own.
func TestErrorListsProblems(t *testing.T) {
	p := filepath.Join(t.TempDir(), "faed.yaml")
	if err := os.WriteFile(p, []byte("listen: nowhere\nmax_conns: -1\nlog_level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load: %v, want an *Error", err)
	}
	if ce.File != p || len(ce.Problems) != 3 {
		t.Fatalf("file %q, problems %q", ce.File, ce.Problems)
	}
	for i, field := range []string{"listen: ", "log_level: ", "max_conns: "} {
		if !strings.HasPrefix(ce.Problems[i].Error(), field) {
			t.Errorf("problem %d %q, want it to start with %q", i, ce.Problems[i], field)
		}
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 4 || !strings.Contains(lines[0], p) {
		t.Errorf("message:\n%s", err)
	}
}
