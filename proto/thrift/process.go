package thrift

import (
	"context"
	"errors"
	"fmt"

	apache "github.com/apache/thrift/lib/go/thrift"

	"github.com/fae-sidecar/fae/proto/thrift/fae"
)

// Processor runs FunServant calls: it decodes a call's arguments with the
// generated FunServant*Args structs, calls the handler's method directly and
// appends the framed reply. Unlike the generated FunServantProcessor it
// starts no goroutine per call (that one starts a connectivity-check
// goroutine for every call while apache's ServerConnectivityCheckInterval
// is not 0, which it is not by default) and reuses its argument and result
// structs, so a call allocates only what the arguments hold.
//
// A Processor is not safe for concurrent use: keep one per event loop or
// per worker goroutine.
type Processor struct {
	h fae.FunServant
	// OnPanic, when set, is called with the method and the value of a
	// handler panic, after the panic is recovered and before the call is
	// answered with an INTERNAL_ERROR TApplicationException.
	OnPanic func(m Method, v any)

	trans frameTransport
	prot  *apache.TBinaryProtocol
	args  callArgs
	res   callResults
	// The values of the results whose success field is a pointer, so that
	// pointing at them does not allocate.
	vStr  string
	vI32  int32
	vI64  int64
	vBool bool
}

// callArgs and callResults hold one struct of each kind, reused by the
// calls and cleared after each one, so that nothing a call read or returned
// stays reachable from the Processor.
type callArgs struct {
	ping            fae.FunServantPingArgs
	noop            fae.FunServantNoopArgs
	idNext          fae.FunServantIDNextArgs
	idNextWithTag   fae.FunServantIDNextWithTagArgs
	idDecode        fae.FunServantIDDecodeArgs
	lcSet           fae.FunServantLcSetArgs
	lcGet           fae.FunServantLcGetArgs
	lcDel           fae.FunServantLcDelArgs
	mcSet           fae.FunServantMcSetArgs
	mcAdd           fae.FunServantMcAddArgs
	mcGet           fae.FunServantMcGetArgs
	mcDelete        fae.FunServantMcDeleteArgs
	mcIncrement     fae.FunServantMcIncrementArgs
	lock            fae.FunServantLockArgs
	unlock          fae.FunServantUnlockArgs
	dlog            fae.FunServantDlogArgs
	kvdbSet         fae.FunServantKvdbSetArgs
	kvdbGet         fae.FunServantKvdbGetArgs
	kvdbDel         fae.FunServantKvdbDelArgs
	mgFindOne       fae.FunServantMgFindOneArgs
	mgFindAll       fae.FunServantMgFindAllArgs
	mgFindID        fae.FunServantMgFindIDArgs
	mgCount         fae.FunServantMgCountArgs
	mgUpdate        fae.FunServantMgUpdateArgs
	mgUpsert        fae.FunServantMgUpsertArgs
	mgInsert        fae.FunServantMgInsertArgs
	mgInserts       fae.FunServantMgInsertsArgs
	mgDelete        fae.FunServantMgDeleteArgs
	mgFindAndModify fae.FunServantMgFindAndModifyArgs
	mgTransaction   fae.FunServantMgTransactionArgs
}

type callResults struct {
	ping            fae.FunServantPingResult
	noop            fae.FunServantNoopResult
	idNext          fae.FunServantIDNextResult
	idNextWithTag   fae.FunServantIDNextWithTagResult
	idDecode        fae.FunServantIDDecodeResult
	lcSet           fae.FunServantLcSetResult
	lcGet           fae.FunServantLcGetResult
	lcDel           fae.FunServantLcDelResult
	mcSet           fae.FunServantMcSetResult
	mcAdd           fae.FunServantMcAddResult
	mcGet           fae.FunServantMcGetResult
	mcDelete        fae.FunServantMcDeleteResult
	mcIncrement     fae.FunServantMcIncrementResult
	lock            fae.FunServantLockResult
	unlock          fae.FunServantUnlockResult
	dlog            fae.FunServantDlogResult
	kvdbSet         fae.FunServantKvdbSetResult
	kvdbGet         fae.FunServantKvdbGetResult
	kvdbDel         fae.FunServantKvdbDelResult
	mgFindOne       fae.FunServantMgFindOneResult
	mgFindAll       fae.FunServantMgFindAllResult
	mgFindID        fae.FunServantMgFindIDResult
	mgCount         fae.FunServantMgCountResult
	mgUpdate        fae.FunServantMgUpdateResult
	mgUpsert        fae.FunServantMgUpsertResult
	mgInsert        fae.FunServantMgInsertResult
	mgInserts       fae.FunServantMgInsertsResult
	mgDelete        fae.FunServantMgDeleteResult
	mgFindAndModify fae.FunServantMgFindAndModifyResult
	mgTransaction   fae.FunServantMgTransactionResult
}

// NewProcessor returns a Processor calling h.
func NewProcessor(h fae.FunServant) *Processor {
	p := &Processor{h: h}
	p.prot = apache.NewTBinaryProtocolConf(&p.trans, &apache.TConfiguration{})
	return p
}

// Process answers one message, a frame's payload as ParseFrame returns it,
// with a new Processor: a convenience for tests and tools; a server keeps a
// Processor and calls its Process.
func Process(ctx context.Context, h fae.FunServant, msg, out []byte) ([]byte, error) {
	return NewProcessor(h).Process(ctx, msg, out)
}

// Process parses the header of msg, a frame's payload as ParseFrame returns
// it, and runs the call (see Call). Its error is ParseHeader's: nothing was
// appended and the connection must be closed.
func (p *Processor) Process(ctx context.Context, msg, out []byte) ([]byte, error) {
	var h Header
	if err := ParseHeader(msg, &h); err != nil {
		return out, err
	}
	return p.Call(ctx, &h, out), nil
}

// Call runs the call h (from ParseHeader) and appends its framed reply to
// out, with the call's name and sequence id: the method's result struct,
// holding its return value or the exception declared in the IDL that the
// handler returned (errors.As finds it in a wrapped error); or a
// TApplicationException: UNKNOWN_METHOD for a method FunServant does not
// have, PROTOCOL_ERROR for arguments that do not decode or lack the Context,
// INTERNAL_ERROR for any other handler error and for a handler panic. A
// oneway call is run and answered with nothing.
func (p *Processor) Call(ctx context.Context, h *Header, out []byte) []byte {
	if h.Method == MethodUnknown {
		if h.Type == TypeOneway {
			return out
		}
		return AppendException(out, h.Name, h.SeqID, ExceptionUnknownMethod, "Unknown function "+string(h.Name))
	}
	// On an error, what run appended is dropped: out up to its length is
	// unchanged, even when run grew a copy of it.
	replied, err := p.run(ctx, h, out)
	switch {
	case h.Type == TypeOneway:
		return out
	case err != nil:
		return AppendException(out, h.Name, h.SeqID, err.typ, err.msg)
	}
	return replied
}

// callError is a call answered with a TApplicationException.
type callError struct {
	typ ExceptionType
	msg string
}

// run reads the arguments, calls the handler and appends the reply frame.
// It recovers a panic of the handler, and clears the argument and result
// structs and the transport whatever happens.
func (p *Processor) run(ctx context.Context, h *Header, out []byte) (_ []byte, cerr *callError) {
	defer func() {
		p.args = callArgs{}
		p.res = callResults{}
		p.vStr = ""
		p.trans = frameTransport{}
		if v := recover(); v != nil {
			if p.OnPanic != nil {
				p.OnPanic(h.Method, v)
			}
			cerr = &callError{ExceptionInternalError, fmt.Sprintf("Internal error processing %s: panic: %v", h.Method, v)}
		}
	}()
	p.trans.r = h.Args
	res, cerr := p.invoke(ctx, h.Method)
	if cerr != nil {
		return out, cerr
	}
	out, frame := BeginFrame(out)
	p.trans.w = AppendMessageHeader(out, h.Name, TypeReply, h.SeqID)
	if err := res.Write(ctx, p.prot); err != nil {
		return out, &callError{ExceptionInternalError, "Internal error processing " + h.Method.String() + ": " + err.Error()}
	}
	return EndFrame(p.trans.w, frame), nil
}

// readArgs reads a call's arguments into a; c, when not nil, is a's
// Context, which every method but noop requires.
func (p *Processor) readArgs(ctx context.Context, m Method, a apache.TStruct, c **fae.Context) *callError {
	if err := a.Read(ctx, p.prot); err != nil {
		return &callError{ExceptionProtocolError, err.Error()}
	}
	if c != nil && *c == nil {
		return &callError{ExceptionProtocolError, m.String() + ": missing argument 1: Context c"}
	}
	return nil
}

// declared returns nil when err is nil or holds one of the exceptions the
// method declares (targets, pointers to its result's exception fields,
// which errors.As sets); any other error is answered INTERNAL_ERROR.
func declared(m Method, err error, targets ...any) *callError {
	if err == nil {
		return nil
	}
	for _, target := range targets {
		if errors.As(err, target) {
			return nil
		}
	}
	return &callError{ExceptionInternalError, "Internal error processing " + m.String() + ": " + err.Error()}
}

// The success fields of results are pointers: these point them at the
// Processor's own values, which does not allocate.
func (p *Processor) str(v string) *string { p.vStr = v; return &p.vStr }
func (p *Processor) i32(v int32) *int32   { p.vI32 = v; return &p.vI32 }
func (p *Processor) i64(v int64) *int64   { p.vI64 = v; return &p.vI64 }
func (p *Processor) bool(v bool) *bool    { p.vBool = v; return &p.vBool }

// invoke reads the arguments of m, calls the handler and returns the result
// struct to write. A result holds either its success value or an exception:
// a Python client looks at the success field first.
func (p *Processor) invoke(ctx context.Context, m Method) (apache.TStruct, *callError) {
	switch m {
	case MethodPing:
		a, r := &p.args.ping, &p.res.ping
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.Ping(ctx, a.C)
		r.Success = p.str(v)
		return r, declared(m, err)

	case MethodNoop:
		a, r := &p.args.noop, &p.res.noop
		if e := p.readArgs(ctx, m, a, nil); e != nil {
			return nil, e
		}
		v, err := p.h.Noop(ctx, a.X)
		r.Success = p.i32(v)
		return r, declared(m, err)

	case MethodIDNext:
		a, r := &p.args.idNext, &p.res.idNext
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.IDNext(ctx, a.C)
		if err == nil {
			r.Success = p.i64(v)
		}
		return r, declared(m, err, &r.Err)

	case MethodIDNextWithTag:
		a, r := &p.args.idNextWithTag, &p.res.idNextWithTag
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.IDNextWithTag(ctx, a.C, a.Tag)
		if err == nil {
			r.Success = p.i64(v)
		}
		return r, declared(m, err, &r.Err)

	case MethodIDDecode:
		a, r := &p.args.idDecode, &p.res.idDecode
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.IDDecode(ctx, a.C, a.ID)
		if v == nil {
			v = []int64{} // a nil list would not be written
		}
		r.Success = v
		return r, declared(m, err)

	case MethodLcSet:
		a, r := &p.args.lcSet, &p.res.lcSet
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.LcSet(ctx, a.C, a.Key, a.Value)
		r.Success = p.bool(v)
		return r, declared(m, err)

	case MethodLcGet:
		a, r := &p.args.lcGet, &p.res.lcGet
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.LcGet(ctx, a.C, a.Key)
		if err == nil {
			r.Success = nonNil(v)
		}
		return r, declared(m, err, &r.Miss)

	case MethodLcDel:
		a, r := &p.args.lcDel, &p.res.lcDel
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		return r, declared(m, p.h.LcDel(ctx, a.C, a.Key))

	case MethodMcSet:
		a, r := &p.args.mcSet, &p.res.mcSet
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.McSet(ctx, a.C, a.Pool, a.Key, a.Value, a.Expiration)
		if err == nil {
			r.Success = p.bool(v)
		}
		return r, declared(m, err, &r.Err)

	case MethodMcAdd:
		a, r := &p.args.mcAdd, &p.res.mcAdd
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.McAdd(ctx, a.C, a.Pool, a.Key, a.Value, a.Expiration)
		if err == nil {
			r.Success = p.bool(v)
		}
		return r, declared(m, err, &r.Err)

	case MethodMcGet:
		a, r := &p.args.mcGet, &p.res.mcGet
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.McGet(ctx, a.C, a.Pool, a.Key)
		if err == nil && v == nil {
			err = errNoValue
		}
		if err == nil {
			r.Success = v
		}
		return r, declared(m, err, &r.Miss, &r.Err)

	case MethodMcDelete:
		a, r := &p.args.mcDelete, &p.res.mcDelete
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.McDelete(ctx, a.C, a.Pool, a.Key)
		if err == nil {
			r.Success = p.bool(v)
		}
		return r, declared(m, err, &r.Err)

	case MethodMcIncrement:
		a, r := &p.args.mcIncrement, &p.res.mcIncrement
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.McIncrement(ctx, a.C, a.Pool, a.Key, a.Delta)
		if err == nil {
			r.Success = p.i64(v)
		}
		return r, declared(m, err, &r.Err)

	case MethodLock:
		a, r := &p.args.lock, &p.res.lock
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.Lock(ctx, a.C, a.Key, a.TTLMs)
		if err == nil {
			r.Success = p.str(v)
		}
		return r, declared(m, err, &r.Err)

	case MethodUnlock:
		a, r := &p.args.unlock, &p.res.unlock
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.Unlock(ctx, a.C, a.Key, a.Token)
		r.Success = p.bool(v)
		return r, declared(m, err)

	case MethodDlog:
		a, r := &p.args.dlog, &p.res.dlog
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		return r, declared(m, p.h.Dlog(ctx, a.C, a.Ident, a.Tag, a.JSON), &r.Err)

	case MethodKvdbSet:
		a, r := &p.args.kvdbSet, &p.res.kvdbSet
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.KvdbSet(ctx, a.C, a.Key, a.Value)
		if err == nil {
			r.Success = p.bool(v)
		}
		return r, declared(m, err, &r.Err)

	case MethodKvdbGet:
		a, r := &p.args.kvdbGet, &p.res.kvdbGet
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.KvdbGet(ctx, a.C, a.Key)
		if err == nil {
			r.Success = nonNil(v)
		}
		return r, declared(m, err, &r.Miss, &r.Err)

	case MethodKvdbDel:
		a, r := &p.args.kvdbDel, &p.res.kvdbDel
		if e := p.readArgs(ctx, m, a, &a.C); e != nil {
			return nil, e
		}
		v, err := p.h.KvdbDel(ctx, a.C, a.Key)
		if err == nil {
			r.Success = p.bool(v)
		}
		return r, declared(m, err, &r.Err)
	}
	return p.invokeMongo(ctx, m)
}

// errNoValue is a handler returning neither a value nor an error where the
// result must be a struct.
var errNoValue = errors.New("handler returned no value")

// nonNil returns b, or an empty slice when b is nil: a binary result is
// written only when not nil, and a nil one would reach the client as a
// missing result instead of an empty value.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
