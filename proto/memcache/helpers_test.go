package memcache

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

func keys(ks ...string) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = []byte(k)
	}
	return out
}

// equalRequest compares two requests field by field, slices by content.
func equalRequest(a, b *Request) bool {
	return a.Cmd == b.Cmd && equalSlices(a.Keys, b.Keys) && a.Flags == b.Flags &&
		a.Exptime == b.Exptime && bytes.Equal(a.Data, b.Data) && a.Cas == b.Cas &&
		a.Delta == b.Delta && a.Level == b.Level && a.HasArg == b.HasArg &&
		a.NoReply == b.NoReply && equalSlices(a.Args, b.Args) &&
		equalMeta(&a.Meta, &b.Meta)
}

func equalSlices(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func describe(r *Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{%v", r.Cmd)
	for _, k := range r.Keys {
		fmt.Fprintf(&b, " key=%q", k)
	}
	if r.Flags != 0 {
		fmt.Fprintf(&b, " flags=%d", r.Flags)
	}
	if r.Exptime != 0 {
		fmt.Fprintf(&b, " exptime=%d", r.Exptime)
	}
	if r.Data != nil {
		d := r.Data
		if len(d) > 40 {
			d = d[:40]
		}
		fmt.Fprintf(&b, " data[%d]=%q", len(r.Data), d)
	}
	if r.Cas != 0 {
		fmt.Fprintf(&b, " cas=%d", r.Cas)
	}
	if r.Delta != 0 {
		fmt.Fprintf(&b, " delta=%d", r.Delta)
	}
	if r.Level != 0 {
		fmt.Fprintf(&b, " level=%d", r.Level)
	}
	if r.HasArg {
		b.WriteString(" hasarg")
	}
	if r.NoReply {
		b.WriteString(" noreply")
	}
	for _, a := range r.Args {
		fmt.Fprintf(&b, " arg=%q", a)
	}
	b.WriteString("}")
	return b.String()
}

// sameOutcome reports whether two Parse results are the same. Close errors
// consume whatever is buffered, so their n is not compared.
func sameOutcome(n1 int, err1 error, n2 int, err2 error) bool {
	var e1, e2 *Error
	if errors.As(err1, &e1) != errors.As(err2, &e2) {
		return false
	}
	if e1 != nil {
		return *e1 == *e2 && (e1.Close || n1 == n2)
	}
	return err1 == err2 && n1 == n2
}

// allowedEarlyClose reports whether a prefix may be refused before the whole
// request is there: memcached closes on more than 2048 bytes without "\n"
// unless they look like a get, whatever the rest would have been.
func allowedEarlyClose(prefix []byte, err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Close && len(prefix) > maxPartialLine &&
		bytes.IndexByte(prefix, '\n') < 0
}
