package conf

// What a memcache pool does with a write its server did not take
// (on_failure).
const (
	// OnFailureFail answers the client SERVER_ERROR (the default).
	OnFailureFail = "fail"
	// OnFailureMemory keeps the write in faed's memory and in a durable
	// spool under data_dir, answers as memcached would have, and replays
	// it to the server once it answers again.
	OnFailureMemory = "memory"
)

// fallbackDefaults sets a memcache pool's on_failure.
func (p *Pool) fallbackDefaults() {
	if p.Kind == KindMemcache && p.OnFailure == "" {
		p.OnFailure = OnFailureFail
	}
}

// validateFallback checks on_failure of pool f (a field path).
func (c *Config) validateFallback(f string, p *Pool, bad func(field, format string, a ...any)) {
	switch p.OnFailure {
	case "", OnFailureFail:
	case OnFailureMemory:
		if p.Kind != KindMemcache {
			bad(f+".on_failure", "memory is for memcache pools")
		} else if c.DataDir == "" {
			bad(f+".on_failure", "memory keeps a spool of the writes it acknowledged on disk: set data_dir (e.g. /var/lib/faed)")
		}
		if p.MaxBytes != 0 && p.MaxBytes < 1<<20 {
			bad(f+".max_bytes", "must be at least 1MiB")
		}
	default:
		bad(f+".on_failure", "%q is not one of fail, memory", p.OnFailure)
	}
	if p.OnFailure != "" && p.Kind != KindMemcache && p.OnFailure != OnFailureMemory {
		bad(f+".on_failure", "only a memcache pool has on_failure")
	}
}
