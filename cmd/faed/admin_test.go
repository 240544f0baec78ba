package main_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fae-sidecar/fae/internal/testproc"
)

// faed refuses to serve pprof on an address other hosts reach unless the
// configuration says so; it exits before binding anything.
func TestAdminRefusesRemoteAddress(t *testing.T) {
	bin := testproc.BuildFaed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-listen", testproc.FreePort(t), "-admin", "0.0.0.0:0").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("faed -admin 0.0.0.0:0: %v, want exit status 2\n%s", err, out)
	}
	if !strings.Contains(string(out), "admin_allow_remote") {
		t.Errorf("error does not say how to allow it:\n%s", out)
	}
}
