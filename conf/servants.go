package conf

import (
	"path/filepath"
	"time"
)

// IDGen configures the idgen servant.
type IDGen struct {
	// WorkerID is this sidecar's number in the ids it makes, 0-31. Every
	// sidecar whose ids must not collide with another's needs its own:
	// two with the same worker id can make the same id. Default 0.
	WorkerID int `yaml:"worker_id"`
}

// LCache configures the lcache servant, a cache shared by every client of
// this sidecar (apart from the pools' data).
type LCache struct {
	// MaxBytes bounds it, counting keys, values and overhead. Default 64MiB.
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// DLog configures the dlog servant, which appends clients' lines to
// <data_dir>/dlog/<ident>.log.
type DLog struct {
	// MaxFileSize is the size past which a file is rotated. Default 64MiB.
	MaxFileSize ByteSize `yaml:"max_file_size"`
	// MaxFiles is how many files of an ident are kept, the current one
	// included. Default 8.
	MaxFiles int `yaml:"max_files"`
	// MaxBuffered bounds the bytes accepted and not yet written, over all
	// idents; past it writes fail at once. Default 4MiB.
	MaxBuffered ByteSize `yaml:"max_buffered"`
	// SyncInterval is how often written files are fsynced. Default 1s.
	SyncInterval Duration `yaml:"sync_interval"`
}

// servantDefaults fills the servants' unset fields.
func (c *Config) servantDefaults() {
	if c.MaxThriftFrame == 0 {
		c.MaxThriftFrame = 16 << 20
	}
	if c.LCache.MaxBytes == 0 {
		c.LCache.MaxBytes = 64 << 20
	}
	if c.DLog.MaxFileSize == 0 {
		c.DLog.MaxFileSize = 64 << 20
	}
	if c.DLog.MaxFiles == 0 {
		c.DLog.MaxFiles = 8
	}
	if c.DLog.MaxBuffered == 0 {
		c.DLog.MaxBuffered = 4 << 20
	}
	if c.DLog.SyncInterval == 0 {
		c.DLog.SyncInterval = Duration(time.Second)
	}
}

// validateServants checks data_dir, max_thrift_frame and the servants'
// fields, reporting through bad.
func (c *Config) validateServants(bad func(field, format string, a ...any)) {
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		bad("data_dir", "%q is relative: give an absolute path (e.g. /var/lib/faed), or leave it empty to run without dlog and kvdb", c.DataDir)
	}
	if c.MaxThriftFrame < 64<<10 || c.MaxThriftFrame > 1<<30 {
		bad("max_thrift_frame", "must be between 64KiB and 1GiB")
	}
	if c.IDGen.WorkerID < 0 || c.IDGen.WorkerID > 31 {
		bad("idgen.worker_id", "%d is out of range: give each sidecar sharing an id space its own number from 0 to 31", c.IDGen.WorkerID)
	}
	if c.LCache.MaxBytes < 64<<10 {
		bad("lcache.max_bytes", "must be at least 64KiB")
	}
	if c.DLog.MaxFileSize < 1<<20 {
		bad("dlog.max_file_size", "must be at least 1MiB")
	}
	if c.DLog.MaxFiles < 1 || c.DLog.MaxFiles > 1000 {
		bad("dlog.max_files", "must be between 1 and 1000")
	}
	if c.DLog.MaxBuffered < 128<<10 {
		bad("dlog.max_buffered", "must be at least 128KiB (two of the longest lines)")
	}
	if c.DLog.SyncInterval < Duration(time.Millisecond) {
		bad("dlog.sync_interval", "must be at least 1ms, e.g. 1s: it bounds how much a crash of the host may lose")
	}
}
