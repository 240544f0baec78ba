package local

import "testing"

func TestDeleteTouch(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"delete", []step{
			{req: del("k"), want: "NOT_FOUND\r\n"},
			{req: set("k", 0, 0, "v"), want: "STORED\r\n"},
			{req: del("k"), want: "DELETED\r\n"},
			{req: get("k"), want: "END\r\n"},
			{req: del("k"), want: "NOT_FOUND\r\n"},
		}},
		{"delete an expired item", []step{
			{req: set("k", 0, -1, "v"), want: "STORED\r\n"},
			{req: del("k"), want: "NOT_FOUND\r\n"},
		}},
		{"delete noreply", []step{
			{req: set("k", 0, 0, "v"), want: "STORED\r\n"},
			{req: noreply(del("k")), want: ""},
			{req: noreply(del("k")), want: ""},
			{req: get("k"), want: "END\r\n"},
		}},
		{"touch sets exptime, keeps cas", []step{
			{req: touch("k", 10), want: "NOT_FOUND\r\n"},
			{req: set("k", 0, 10, "v"), want: "STORED\r\n"},
			{req: touch("k", 100), want: "TOUCHED\r\n"},
			{advance: 99e9, req: gets("k"), want: "VALUE k 0 1 1\r\nv\r\nEND\r\n"},
			{req: touch("k", 0), want: "TOUCHED\r\n"},
			{advance: 1e12, req: get("k"), want: "VALUE k 0 1\r\nv\r\nEND\r\n"},
		}},
		{"touch with a past exptime expires", []step{
			{req: set("k", 0, 0, "v"), want: "STORED\r\n"},
			{req: touch("k", -1), want: "TOUCHED\r\n"},
			{req: get("k"), want: "END\r\n"},
			{req: touch("k", 0), want: "NOT_FOUND\r\n"},
		}},
		{"touch noreply", []step{
			{req: set("k", 0, 0, "v"), want: "STORED\r\n"},
			{req: noreply(touch("k", 1)), want: ""},
			{req: noreply(touch("q", 1)), want: ""},
			{advance: 1e9, req: get("k"), want: "END\r\n"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, Config{}, tt.steps) })
	}
}
