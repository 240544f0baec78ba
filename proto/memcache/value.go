package memcache

import "bytes"

// NextValue reads the first "VALUE key flags bytes [cas]\r\ndata\r\n" block
// of a retrieval reply. It returns the key, the whole block, the bytes after
// it, and false when reply does not start with a complete block (e.g. at
// "END\r\n"). The returned slices are views into reply.
func NextValue(reply []byte) (key, block, rest []byte, ok bool) {
	if !bytes.HasPrefix(reply, []byte("VALUE ")) {
		return nil, nil, reply, false
	}
	eol := bytes.IndexByte(reply, '\n')
	if eol < 0 {
		return nil, nil, reply, false
	}
	line := reply[len("VALUE "):eol]
	line = bytes.TrimSuffix(line, []byte{'\r'})
	// key flags bytes [cas]
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return nil, nil, reply, false
	}
	key = line[:sp]
	f := line[sp+1:]
	sp = bytes.IndexByte(f, ' ')
	if sp < 0 {
		return nil, nil, reply, false
	}
	f = f[sp+1:]
	if sp = bytes.IndexByte(f, ' '); sp >= 0 {
		f = f[:sp]
	}
	n := 0
	for _, c := range f {
		if c < '0' || c > '9' || n > 1<<30 {
			return nil, nil, reply, false
		}
		n = n*10 + int(c-'0')
	}
	end := eol + 1 + n + 2
	if len(f) == 0 || end > len(reply) {
		return nil, nil, reply, false
	}
	return key, reply[:end], reply[end:], true
}
