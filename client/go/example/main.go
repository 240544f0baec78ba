// Command example calls faed's Thrift front with the generated Go client
// (package github.com/fae-sidecar/fae/proto/thrift/fae) over a framed
// transport and the binary protocol, as any Go application would:
//
//	go run ./client/go/example -addr 127.0.0.1:11211
//
// It pings, takes an id and decodes it, and sets and reads a key of the
// local cache, printing one line per call.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:11211", "faed's address (host:port)")
	timeout := flag.Duration("timeout", 5*time.Second, "time for all the calls")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// run makes the calls on one connection to addr and prints their results
// to w.
func run(ctx context.Context, addr string, w io.Writer) error {
	cfg := &thrift.TConfiguration{ConnectTimeout: 5 * time.Second, SocketTimeout: 5 * time.Second}
	if deadline, ok := ctx.Deadline(); ok {
		cfg.ConnectTimeout = time.Until(deadline)
		cfg.SocketTimeout = time.Until(deadline)
	}
	trans := thrift.NewTFramedTransportConf(thrift.NewTSocketConf(addr, cfg), cfg)
	if err := trans.Open(); err != nil {
		return err
	}
	defer trans.Close()
	prot := thrift.NewTBinaryProtocolConf(trans, cfg)
	client := fae.NewFunServantClient(thrift.NewTStandardClient(prot, prot))
	// Every call but noop carries a Context: a request id and a reason for
	// the logs, and the user the call is made for.
	c := &fae.Context{Rid: time.Now().UnixNano(), Reason: "client/go/example", UID: 0}

	version, err := client.Ping(ctx, c)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	fmt.Fprintf(w, "ping: %s\n", version)

	id, err := client.IDNext(ctx, c)
	if err != nil {
		return fmt.Errorf("id_next: %w", err)
	}
	parts, err := client.IDDecode(ctx, c, id)
	if err != nil {
		return fmt.Errorf("id_decode: %w", err)
	}
	fmt.Fprintf(w, "id_next: %d = [ms tag worker seq] %v\n", id, parts)

	if _, err := client.LcSet(ctx, c, "example", []byte("hello")); err != nil {
		return fmt.Errorf("lc_set: %w", err)
	}
	value, err := client.LcGet(ctx, c, "example")
	if err != nil {
		return fmt.Errorf("lc_get: %w", err)
	}
	fmt.Fprintf(w, "lc_get example: %q\n", value)

	// A miss is the exception the IDL declares, TCacheMissed.
	_, err = client.LcGet(ctx, c, "example:absent")
	var miss *fae.TCacheMissed
	if !errors.As(err, &miss) {
		return fmt.Errorf("lc_get of an absent key: %v, want TCacheMissed", err)
	}
	fmt.Fprintln(w, "lc_get example:absent: missed")
	return nil
}
