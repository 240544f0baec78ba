package spool_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fae-sidecar/fae/router/spool"
)

func Example() {
	dir, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(dir)
	s, err := spool.Open(spool.Config{Path: filepath.Join(dir, "spool.db")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	// The server did not answer: keep the write before answering STORED.
	ctx := context.Background()
	for _, v := range []string{"1", "2"} {
		op := spool.Op{Pool: "default", Server: "127.0.0.1:11211", Key: []byte("k"), Supersedes: true,
			Request: []byte("set k 0 0 1\r\n" + v + "\r\n")}
		if _, err := s.Append(ctx, op); err != nil {
			fmt.Println("SERVER_ERROR", err) // never a false STORED
			return
		}
	}
	fmt.Println("queued:", s.Len("127.0.0.1:11211")) // the second set superseded the first

	// The replayer, once the server answers again.
	ctx, cancel := context.WithCancel(ctx)
	send := func(ctx context.Context, e spool.Entry) error {
		fmt.Printf("replay #%d: %q\n", e.ID, e.Request)
		cancel() // a real send returns once the server answered
		return nil
	}
	s.Replay(ctx, "127.0.0.1:11211", spool.ReplayConfig{Send: send})
	// Output:
	// queued: 1
	// replay #2: "set k 0 0 1\r\n2\r\n"
}
