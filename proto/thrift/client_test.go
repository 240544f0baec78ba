package thrift

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"testing"
	"time"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// Checks of a call's error.
func noErr(err error) bool { return err == nil }

func isMiss(err error) bool {
	var e *fae.TCacheMissed
	return errors.As(err, &e)
}

func isServantError(err error) bool {
	var e *fae.TServantError
	return errors.As(err, &e) && e.Message != ""
}

func isApp(typ int32) func(error) bool {
	return func(err error) bool {
		var e apache.TApplicationException
		return errors.As(err, &e) && e.TypeId() == typ
	}
}

// TestClientRoundTrip calls every method, with every outcome the IDL
// declares, through the generated Go client over a real loopback TCP
// connection to a server running Process: it shows that the replies are
// what the stock client expects.
func TestClientRoundTrip(t *testing.T) {
	cl := dial(t, startServer(t, newTestHandler()))
	c := testCtx()
	fail := &fae.Context{Rid: 1, Reason: reasonFail}
	data := &fae.TMemcacheData{Data: []byte("mc value"), Flags: 0x1234}
	big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 200<<10) // 800 KiB, over the server's read size

	steps := []step{
		{"ping", func(ctx context.Context) (any, error) { return cl.Ping(ctx, c) }, testVersion, noErr},
		{"noop", func(ctx context.Context) (any, error) { return cl.Noop(ctx, -77) }, int32(-77), noErr},
		{"id_next", func(ctx context.Context) (any, error) { return cl.IDNext(ctx, c) }, int64(1), noErr},
		{"id_next fails", func(ctx context.Context) (any, error) { return cl.IDNext(ctx, fail) }, nil, isServantError},
		{"id_next_with_tag", func(ctx context.Context) (any, error) { return cl.IDNextWithTag(ctx, c, 3) }, int64(3<<32 | 2), noErr},
		{"id_next_with_tag fails", func(ctx context.Context) (any, error) { return cl.IDNextWithTag(ctx, fail, 3) }, nil, isServantError},
		{"id_decode", func(ctx context.Context) (any, error) { return cl.IDDecode(ctx, c, 3<<32|2) }, []int64{testEpochMS, 3, testWorker, 2}, noErr},
		{"lc_get missed", func(ctx context.Context) (any, error) { return cl.LcGet(ctx, c, "k") }, nil, isMiss},
		{"lc_set", func(ctx context.Context) (any, error) { return cl.LcSet(ctx, c, "k", []byte("v\x00\xff")) }, true, noErr},
		{"lc_get", func(ctx context.Context) (any, error) { return cl.LcGet(ctx, c, "k") }, []byte("v\x00\xff"), noErr},
		{"lc_set empty", func(ctx context.Context) (any, error) { return cl.LcSet(ctx, c, "e", []byte{}) }, true, noErr},
		{"lc_get empty", func(ctx context.Context) (any, error) { return cl.LcGet(ctx, c, "e") }, []byte{}, noErr},
		{"lc_set big", func(ctx context.Context) (any, error) { return cl.LcSet(ctx, c, "big", big) }, true, noErr},
		{"lc_get big", func(ctx context.Context) (any, error) { return cl.LcGet(ctx, c, "big") }, big, noErr},
		{"lc_del", func(ctx context.Context) (any, error) { return nil, cl.LcDel(ctx, c, "k") }, nil, noErr},
		{"lc_get deleted", func(ctx context.Context) (any, error) { return cl.LcGet(ctx, c, "k") }, nil, isMiss},
		{"lc_get panics", func(ctx context.Context) (any, error) { return cl.LcGet(ctx, c, keyPanic) }, nil, isApp(apache.INTERNAL_ERROR)},
		{"lc_get fails", func(ctx context.Context) (any, error) { return cl.LcGet(ctx, c, keyError) }, nil, isApp(apache.INTERNAL_ERROR)},
		{"mc_get missed", func(ctx context.Context) (any, error) { return cl.McGet(ctx, c, "p", "k") }, nil, isMiss},
		{"mc_set", func(ctx context.Context) (any, error) { return cl.McSet(ctx, c, "p", "k", data, 60) }, true, noErr},
		{"mc_set fails", func(ctx context.Context) (any, error) { return cl.McSet(ctx, c, poolBad, "k", data, 60) }, nil, isServantError},
		{"mc_get", func(ctx context.Context) (any, error) { return cl.McGet(ctx, c, "p", "k") }, data, noErr},
		{"mc_get fails", func(ctx context.Context) (any, error) { return cl.McGet(ctx, c, poolBad, "k") }, nil, isServantError},
		{"mc_add taken", func(ctx context.Context) (any, error) { return cl.McAdd(ctx, c, "p", "k", data, 0) }, false, noErr},
		{"mc_add", func(ctx context.Context) (any, error) {
			return cl.McAdd(ctx, c, "p", "n", &fae.TMemcacheData{Data: []byte("10")}, 0)
		}, true, noErr},
		{"mc_add fails", func(ctx context.Context) (any, error) { return cl.McAdd(ctx, c, poolBad, "k", data, 0) }, nil, isServantError},
		{"mc_increment", func(ctx context.Context) (any, error) { return cl.McIncrement(ctx, c, "p", "n", 5) }, int64(15), noErr},
		{"mc_increment fails", func(ctx context.Context) (any, error) { return cl.McIncrement(ctx, c, poolBad, "n", 5) }, nil, isServantError},
		{"mc_delete", func(ctx context.Context) (any, error) { return cl.McDelete(ctx, c, "p", "k") }, true, noErr},
		{"mc_delete again", func(ctx context.Context) (any, error) { return cl.McDelete(ctx, c, "p", "k") }, false, noErr},
		{"mc_delete fails", func(ctx context.Context) (any, error) { return cl.McDelete(ctx, c, poolBad, "k") }, nil, isServantError},
		{"lock", func(ctx context.Context) (any, error) { return cl.Lock(ctx, c, "l", 1000) }, "t42", noErr},
		{"lock held", func(ctx context.Context) (any, error) { return cl.Lock(ctx, c, "l", 1000) }, "", noErr},
		{"unlock wrong token", func(ctx context.Context) (any, error) { return cl.Unlock(ctx, c, "l", "x") }, false, noErr},
		{"unlock", func(ctx context.Context) (any, error) { return cl.Unlock(ctx, c, "l", "t42") }, true, noErr},
		{"dlog", func(ctx context.Context) (any, error) { return nil, cl.Dlog(ctx, c, "app", "tag", `{"a":1}`) }, nil, noErr},
		{"dlog fails", func(ctx context.Context) (any, error) { return nil, cl.Dlog(ctx, c, identBad, "tag", "{}") }, nil, isServantError},
		{"kvdb_get missed", func(ctx context.Context) (any, error) { return cl.KvdbGet(ctx, c, []byte("k\x00")) }, nil, isMiss},
		{"kvdb_set", func(ctx context.Context) (any, error) { return cl.KvdbSet(ctx, c, []byte("k\x00"), []byte("kv")) }, true, noErr},
		{"kvdb_get", func(ctx context.Context) (any, error) { return cl.KvdbGet(ctx, c, []byte("k\x00")) }, []byte("kv"), noErr},
		{"kvdb_get fails", func(ctx context.Context) (any, error) { return cl.KvdbGet(ctx, c, []byte(poolBad)) }, nil, isServantError},
		{"kvdb_del", func(ctx context.Context) (any, error) { return cl.KvdbDel(ctx, c, []byte("k\x00")) }, true, noErr},
		{"kvdb_del again", func(ctx context.Context) (any, error) { return cl.KvdbDel(ctx, c, []byte("k\x00")) }, false, noErr},
		{"kvdb_set fails", func(ctx context.Context) (any, error) { return cl.KvdbSet(ctx, c, []byte(keyError), nil) }, nil, isApp(apache.INTERNAL_ERROR)},
		{"ping after the failures", func(ctx context.Context) (any, error) { return cl.Ping(ctx, c) }, testVersion, noErr},
	}
	runSteps(t, steps)
}

// step is one call of a client test and its expected outcome.
type step struct {
	name string
	call func(ctx context.Context) (any, error)
	want any // compared when the check is noErr
	ok   func(error) bool
}

// runSteps makes the calls in order, each within 10s.
func runSteps(t *testing.T, steps []step) {
	t.Helper()
	for _, s := range steps {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := s.call(ctx)
		cancel()
		if !s.ok(err) {
			t.Fatalf("%s: unexpected error %v (%T)", s.name, err, err)
		}
		if err == nil && !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s = %#v, want %#v", s.name, got, s.want)
		}
	}
}

// TestPipelined writes many calls, one unknown, in one write and reads the
// replies back in order, each with its call's seqid.
func TestPipelined(t *testing.T) {
	conn := dialRaw(t, startServer(t, newTestHandler()))
	const calls = 50
	var req []byte
	for i := range calls {
		if i == calls/2 {
			req = append(req, encodeCall(t, "no_such_method", apache.CALL, int32(i), nil)...)
			continue
		}
		req = append(req, encodeCall(t, "noop", apache.CALL, int32(i), &fae.FunServantNoopArgs{X: int32(i) * 3})...)
	}
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	var in []byte
	buf := make([]byte, 4096)
	for i := 0; i < calls; {
		_, n, err := ParseFrame(in, 0)
		if errors.Is(err, ErrIncomplete) {
			m, rerr := conn.Read(buf)
			if rerr != nil {
				t.Fatalf("after %d replies: %v", i, rerr)
			}
			in = append(in, buf[:m]...)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var res fae.FunServantNoopResult
		r := decodeReply(t, in[:n], &res)
		if r.seqID != int32(i) {
			t.Fatalf("reply %d has seqid %d", i, r.seqID)
		}
		if i == calls/2 {
			if r.typ != apache.EXCEPTION || r.exc.TypeId() != apache.UNKNOWN_METHOD {
				t.Fatalf("unknown method answered %+v", r)
			}
		} else if r.typ != apache.REPLY || res.GetSuccess() != int32(i)*3 {
			t.Fatalf("noop %d answered %+v %+v", i, r, res)
		}
		in = in[n:]
		i++
	}
}

// TestBadFrameCloses checks that the server loop closes a connection whose
// frame is too large, as a Thrift server does.
func TestBadFrameCloses(t *testing.T) {
	conn := dialRaw(t, startServer(t, newTestHandler()))
	if _, err := conn.Write([]byte{0x7f, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d, %v; want EOF", n, err)
	}
}

// dialRaw returns a TCP connection to addr with a deadline, closed by the
// test's cleanup.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}
