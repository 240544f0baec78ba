package conf

import (
	"testing"
	"time"
)

func TestServantDefaults(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := DLog{MaxFileSize: 64 << 20, MaxFiles: 8, MaxBuffered: 4 << 20, SyncInterval: Duration(time.Second)}
	if c.DataDir != "" || c.MaxThriftFrame != 16<<20 || c.IDGen.WorkerID != 0 || c.LCache.MaxBytes != 64<<20 || c.DLog != want {
		t.Errorf("data_dir %q, max_thrift_frame %d, idgen %+v, lcache %+v, dlog %+v", c.DataDir, c.MaxThriftFrame, c.IDGen, c.LCache, c.DLog)
	}
}

// Each servant field is kept as written within its range, and refused
// outside it with an error naming the field.
func TestServantFields(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		check   func(c *Config) bool
		wantErr string
	}{
		{name: "data_dir", yaml: "data_dir: /var/lib/faed", check: func(c *Config) bool { return c.DataDir == "/var/lib/faed" }},
		{name: "data_dir relative", yaml: "data_dir: ./data", wantErr: "data_dir"},
		{name: "max_thrift_frame", yaml: "max_thrift_frame: 64KiB", check: func(c *Config) bool { return c.MaxThriftFrame == 64<<10 }},
		{name: "max_thrift_frame too large", yaml: "max_thrift_frame: 2G", wantErr: "max_thrift_frame"},
		{name: "worker 0", yaml: "idgen: {worker_id: 0}", check: func(c *Config) bool { return c.IDGen.WorkerID == 0 }},
		{name: "worker 31", yaml: "idgen: {worker_id: 31}", check: func(c *Config) bool { return c.IDGen.WorkerID == 31 }},
		{name: "worker -1", yaml: "idgen: {worker_id: -1}", wantErr: "idgen.worker_id"},
		{name: "worker 32", yaml: "idgen: {worker_id: 32}", wantErr: "idgen.worker_id"},
		{name: "lcache", yaml: "lcache: {max_bytes: 1G}", check: func(c *Config) bool { return c.LCache.MaxBytes == 1<<30 }},
		{name: "lcache too small", yaml: "lcache: {max_bytes: 1000}", wantErr: "lcache.max_bytes"},
		{name: "dlog", yaml: "dlog: {max_file_size: 1MiB, max_files: 1, max_buffered: 128KiB, sync_interval: 1ms}",
			check: func(c *Config) bool {
				return c.DLog == DLog{MaxFileSize: 1 << 20, MaxFiles: 1, MaxBuffered: 128 << 10, SyncInterval: Duration(time.Millisecond)}
			}},
		{name: "dlog max_files", yaml: "dlog: {max_files: 1001}", wantErr: "dlog.max_files"},
		{name: "dlog max_files negative", yaml: "dlog: {max_files: -1}", wantErr: "dlog.max_files"},
		{name: "dlog max_buffered", yaml: "dlog: {max_buffered: 64KiB}", wantErr: "dlog.max_buffered"},
		{name: "dlog sync_interval", yaml: "dlog: {sync_interval: 1us}", wantErr: "dlog.sync_interval"},
		{name: "unknown servant field", yaml: "idgen: {worker: 3}", wantErr: "field worker not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := parseCase(t, tc.yaml, tc.wantErr)
			if c != nil && !tc.check(c) {
				t.Errorf("parsed to data_dir %q, max_thrift_frame %d, idgen %+v, lcache %+v, dlog %+v", c.DataDir, c.MaxThriftFrame, c.IDGen, c.LCache, c.DLog)
			}
		})
	}
}
