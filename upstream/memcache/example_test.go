package memcache_test

import (
	"fmt"
	"time"

	"github.com/fae-sidecar/fae/proto/memcache"
	mcpool "github.com/fae-sidecar/fae/upstream/memcache"
)

// printer is a Waiter that prints the reply it is handed and signals.
type printer chan struct{}

func (p printer) Done(reply []byte) {
	fmt.Printf("%q\n", reply) // reply is only valid during Done
	close(p)
}

func Example() {
	pool, err := mcpool.New(mcpool.Config{
		Servers: []mcpool.Server{{Addr: "10.0.0.5:11211"}, {Addr: "10.0.0.6:11211", Weight: 2}},
		Timeout: 200 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	// On an event loop: Serve never blocks. It answers at once (a server
	// known to be down) or later, through the Waiter.
	req := &memcache.Request{Cmd: memcache.CmdGet, Keys: [][]byte{[]byte("user:42")}}
	done := make(printer)
	if out, async := pool.Serve(req, nil, done); !async {
		fmt.Printf("%q\n", out)
		return
	}
	<-done
}
