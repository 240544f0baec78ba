package breaker_test

import (
	"fmt"
	"time"

	"github.com/fae-sidecar/fae/upstream/breaker"
)

func Example() {
	var now time.Duration // a fake clock; faed passes nil for the system's
	b := breaker.New(breaker.Config{MinRequests: 4, ErrorPercent: 50, SleepWindow: time.Second},
		func() time.Duration { return now })

	send := func(serverUp bool) string {
		t := b.Allow()
		if !t.OK() {
			return "refused at once"
		}
		b.Done(t, serverUp) // after the reply, or the timeout
		if t.Probe() {
			return "probe sent, breaker " + b.State().String()
		}
		return "sent, breaker " + b.State().String()
	}
	for range 4 {
		fmt.Println(send(false))
	}
	fmt.Println(send(false))
	now += time.Second
	fmt.Println(send(true))
	fmt.Println(send(true))
	// Output:
	// sent, breaker closed
	// sent, breaker closed
	// sent, breaker closed
	// sent, breaker open
	// refused at once
	// probe sent, breaker closed
	// sent, breaker closed
}
