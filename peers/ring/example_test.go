package ring_test

import (
	"fmt"

	"github.com/fae-sidecar/fae/peers/ring"
)

func ExampleTable() {
	var t ring.Table
	_, _ = t.Set([]ring.Node{{Name: "127.0.0.2:11212"}, {Name: "127.0.0.3:11212"}, {Name: "127.0.0.4:11212"}})
	owners := make([]string, 0, 2) // reused: Owners allocates nothing
	r := t.Load()                  // one ring for the whole request
	owners = r.Owners([]byte("c:user:42"), 2, owners)
	fmt.Println(len(owners), owners[0] != owners[1], r.Version())
	// Output: 2 true 1
}
