package spool

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzDecode: an entry read back from disk never panics the decoder,
// whatever the bytes; one that decodes survives encode and decode again
// unchanged (flag bits it does not know are dropped).
func FuzzDecode(f *testing.F) {
	f.Add(binary.BigEndian.AppendUint64(nil, 7), encode(&Entry{Op: Op{Pool: "default", Key: []byte("k"), Request: []byte("set k 0 0 1\r\nv\r\n"), Supersedes: true}}))
	f.Add(binary.BigEndian.AppendUint64(nil, 1), encode(&Entry{Tries: 3, LastError: "SERVER_ERROR x"}))
	f.Add([]byte("short"), []byte{formatV1, 0, 0x80})
	f.Add(binary.BigEndian.AppendUint64(nil, 2), []byte{formatV1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		var e Entry
		if err := decode("srv", k, v, &e); err != nil {
			return
		}
		if e.Server != "srv" || e.ID != binary.BigEndian.Uint64(k) {
			t.Fatalf("decoded %+v from key %x", e, k)
		}
		var again Entry
		if err := decode("srv", k, encode(&e), &again); err != nil {
			t.Fatalf("%+v: re-encoded entry refused: %v", e, err)
		}
		if again.Pool != e.Pool || !bytes.Equal(again.Key, e.Key) || !bytes.Equal(again.Request, e.Request) ||
			again.Supersedes != e.Supersedes || again.Tries != e.Tries || again.LastError != e.LastError || again.ID != e.ID {
			t.Fatalf("decoded %+v, then %+v", e, again)
		}
	})
}
