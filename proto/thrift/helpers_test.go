package thrift

import (
	"context"
	"encoding/binary"
	"testing"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// testCtx is the Context the tests send.
func testCtx() *fae.Context {
	return &fae.Context{Rid: 42, Reason: "test", UID: 7}
}

// encodeCall encodes a whole frame with apache's own encoder, independent
// of the package's: a message header and args (nil: no bytes at all).
func encodeCall(t testing.TB, name string, typ apache.TMessageType, seqID int32, args apache.TStruct) []byte {
	t.Helper()
	ctx := context.Background()
	buf := apache.NewTMemoryBuffer()
	prot := apache.NewTBinaryProtocolConf(buf, nil)
	if err := prot.WriteMessageBegin(ctx, name, typ, seqID); err != nil {
		t.Fatal(err)
	}
	if args != nil {
		if err := args.Write(ctx, prot); err != nil {
			t.Fatal(err)
		}
	}
	return frameOf(buf.Bytes())
}

// frameOf prefixes msg with its length.
func frameOf(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(msg))), msg...)
}

// reply is a reply frame decoded by apache's decoder.
type reply struct {
	name  string
	typ   apache.TMessageType
	seqID int32
	// exc is the TApplicationException of an EXCEPTION reply.
	exc apache.TApplicationException
}

// decodeReply decodes the single frame in b, reading a REPLY's result
// into result.
func decodeReply(t testing.TB, b []byte, result apache.TStruct) reply {
	t.Helper()
	if len(b) < 4 || int(binary.BigEndian.Uint32(b)) != len(b)-4 {
		t.Fatalf("not one whole frame: % x", b)
	}
	ctx := context.Background()
	buf := apache.NewTMemoryBuffer()
	buf.Write(b[4:])
	prot := apache.NewTBinaryProtocolConf(buf, &apache.TConfiguration{TBinaryStrictRead: apache.BoolPtr(true)})
	var r reply
	var err error
	r.name, r.typ, r.seqID, err = prot.ReadMessageBegin(ctx)
	if err != nil {
		t.Fatalf("reply header: %v", err)
	}
	switch r.typ {
	case apache.EXCEPTION:
		r.exc = apache.NewTApplicationException(0, "")
		err = r.exc.Read(ctx, prot)
	case apache.REPLY:
		if result == nil {
			t.Fatalf("a reply where an exception was expected")
		}
		err = result.Read(ctx, prot)
	default:
		t.Fatalf("reply of type %d", r.typ)
	}
	if err != nil {
		t.Fatalf("reply body: %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("%d bytes after the reply", buf.Len())
	}
	return r
}

// rawArgs is an arguments struct written as these bytes, for arguments the
// generated structs cannot write.
type rawArgs string

func (a rawArgs) Write(_ context.Context, p apache.TProtocol) error {
	_, err := p.Transport().Write([]byte(a))
	return err
}

func (a rawArgs) Read(context.Context, apache.TProtocol) error { return nil }
