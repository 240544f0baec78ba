package memcache

import "bytes"

// Meta commands (mg, ms, md, ma, me) travel one key per request, on the
// key's connection, like the classic keyed commands. A q flag is not sent:
// memcached would then send nothing for a nominal outcome and the reply
// stream could not be matched to requests. The request goes without it and
// Pool.answer drops the reply memcached would have suppressed
// (memcache.MetaQuietDrop). mn never reaches a pool: the server answers it
// in order, behind every earlier reply of the connection, which is what a
// client's mn means.

// scanMeta frames a meta reply: one line ("HD …", "EN", "NF …", "NS …",
// "EX …", "ME …" or an error line), or "VA <size> <flags>*\r\n" followed by
// <size> bytes and "\r\n". Like scan, it is resumable.
func (f *frame) scanMeta(b []byte) error {
	for !f.done {
		if f.data > 0 {
			end := f.n + f.data
			if len(b) < end {
				return nil
			}
			if b[end-2] != '\r' || b[end-1] != '\n' {
				return errBadReply
			}
			f.n, f.data, f.done = end, 0, true
			return nil
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(b) > maxLine {
				return errBadReply
			}
			return nil
		}
		line := b[:i+1]
		if len(line) > maxLine || len(line) < 4 || line[len(line)-2] != '\r' {
			return errBadReply
		}
		f.n = len(line)
		if !bytes.HasPrefix(line, []byte("VA ")) {
			f.done = true
			return nil
		}
		n, ok := vaLen(line)
		if !ok {
			return errBadReply
		}
		f.data = n + 2
		f.hits++
	}
	return nil
}

// vaLen returns the <size> of "VA <size> <flags>*\r\n".
func vaLen(line []byte) (int, bool) {
	rest := line[len("VA ") : len(line)-2]
	if sp := bytes.IndexByte(rest, ' '); sp >= 0 {
		rest = rest[:sp]
	}
	if len(rest) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > maxValueLen {
			return 0, false
		}
	}
	return n, true
}
