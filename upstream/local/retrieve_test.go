package local

import "testing"

func TestRetrieve(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"get miss", []step{
			{req: get("a"), want: "END\r\n"},
		}},
		{"get hit", []step{
			{req: set("a", 5, 0, "hello"), want: "STORED\r\n"},
			{req: get("a"), want: "VALUE a 5 5\r\nhello\r\nEND\r\n"},
		}},
		{"empty value", []step{
			{req: set("a", 0, 0, ""), want: "STORED\r\n"},
			{req: get("a"), want: "VALUE a 0 0\r\n\r\nEND\r\n"},
		}},
		{"max flags", []step{
			{req: set("a", 4294967295, 0, "x"), want: "STORED\r\n"},
			{req: get("a"), want: "VALUE a 4294967295 1\r\nx\r\nEND\r\n"},
		}},
		{"multi get in request order, repeats included", []step{
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: set("b", 0, 0, "2"), want: "STORED\r\n"},
			{req: get("b", "x", "a", "b"), want: "VALUE b 0 1\r\n2\r\nVALUE a 0 1\r\n1\r\nVALUE b 0 1\r\n2\r\nEND\r\n"},
		}},
		{"gets shows cas", []step{
			{req: set("a", 0, 0, "1"), want: "STORED\r\n"},
			{req: set("b", 0, 0, "2"), want: "STORED\r\n"},
			{req: gets("a", "b"), want: "VALUE a 0 1 1\r\n1\r\nVALUE b 0 1 2\r\n2\r\nEND\r\n"},
		}},
		{"gat updates exptime and keeps cas", []step{
			{req: set("a", 3, 100, "v"), want: "STORED\r\n"},
			{req: gat(1000, "a", "b"), want: "VALUE a 3 1\r\nv\r\nEND\r\n"},
			{advance: 500e9, req: gets("a"), want: "VALUE a 3 1 1\r\nv\r\nEND\r\n"},
			{advance: 500e9, req: get("a"), want: "END\r\n"},
		}},
		{"gats shows cas", []step{
			{req: set("a", 0, 0, "v"), want: "STORED\r\n"},
			{req: gats(0, "a"), want: "VALUE a 0 1 1\r\nv\r\nEND\r\n"},
		}},
		{"gat with a past exptime returns the value once", []step{
			{req: set("a", 0, 0, "v"), want: "STORED\r\n"},
			{req: gat(-1, "a"), want: "VALUE a 0 1\r\nv\r\nEND\r\n"},
			{req: get("a"), want: "END\r\n"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, Config{}, tt.steps) })
	}
}

// TestValueNotAliased checks that the store keeps a copy of the request's
// data, which is a view into a reused network buffer.
func TestValueNotAliased(t *testing.T) {
	s, _ := newTestStore(Config{})
	req := set("k", 0, 0, "abc")
	s.Serve(req, nil, nil)
	copy(req.Data, "xyz")
	copy(req.Keys[0], "z")
	if got, _ := s.Serve(get("k"), nil, nil); string(got) != "VALUE k 0 3\r\nabc\r\nEND\r\n" {
		t.Fatalf("got %q", got)
	}
}
