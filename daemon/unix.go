package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"
)

// checkUnixSocket makes sure listen_unix may be bound: nothing is there,
// or a stale socket that nobody accepts on (the listener replaces it).
// Anything else there is kept, and faed refuses to start.
func checkUnixSocket(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("listen_unix: %w", err)
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("listen_unix: %s exists and is not a socket: remove it or choose another path", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("listen_unix: %s is in use: another process accepts connections on it", path)
	}
	return nil
}
