package local_test

import (
	"fmt"

	"github.com/fae-sidecar/fae/proto/memcache"
	"github.com/fae-sidecar/fae/upstream/local"
)

func ExampleStore_Serve() {
	s := local.New(local.Config{MaxBytes: 1 << 20})
	defer s.Close()
	var out []byte
	for _, req := range []*memcache.Request{
		{Cmd: memcache.CmdSet, Keys: [][]byte{[]byte("n")}, Flags: 7, Data: []byte("10")},
		{Cmd: memcache.CmdDecr, Keys: [][]byte{[]byte("n")}, Delta: 1},
		{Cmd: memcache.CmdGets, Keys: [][]byte{[]byte("n"), []byte("missing")}},
	} {
		out, _ = s.Serve(req, out, nil)
	}
	fmt.Printf("%q\n", out)
	// Output: "STORED\r\n9\r\nVALUE n 7 2 2\r\n9 \r\nEND\r\n"
}
