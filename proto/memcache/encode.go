package memcache

import "strconv"

// AppendRequest appends r to out in canonical text-protocol form: the
// command line, then for storage commands the data block and its "\r\n".
// " noreply" is written when r.NoReply is set and the command accepts it;
// the proxy clears NoReply on its copy so the upstream always answers.
// Optional arguments that memcached ignores (delete's legacy "0") are not
// written. It does not allocate when out has room.
func AppendRequest(out []byte, r *Request) []byte {
	out = append(out, r.Cmd.String()...)
	switch r.Cmd {
	case CmdGet, CmdGets:
		out = appendKeys(out, r.Keys)
	case CmdGat, CmdGats:
		out = append(out, ' ')
		out = strconv.AppendInt(out, r.Exptime, 10)
		out = appendKeys(out, r.Keys)
	case CmdSet, CmdAdd, CmdReplace, CmdAppend, CmdPrepend, CmdCas:
		out = appendKeys(out, r.Keys)
		out = append(out, ' ')
		out = strconv.AppendUint(out, uint64(r.Flags), 10)
		out = append(out, ' ')
		out = strconv.AppendInt(out, r.Exptime, 10)
		out = append(out, ' ')
		out = strconv.AppendUint(out, uint64(len(r.Data)), 10)
		if r.Cmd == CmdCas {
			out = append(out, ' ')
			out = strconv.AppendUint(out, r.Cas, 10)
		}
		out = appendNoReply(out, r.NoReply)
		out = append(out, '\r', '\n')
		out = append(out, r.Data...)
	case CmdDelete:
		out = appendKeys(out, r.Keys)
		out = appendNoReply(out, r.NoReply)
	case CmdIncr, CmdDecr:
		out = appendKeys(out, r.Keys)
		out = append(out, ' ')
		out = strconv.AppendUint(out, r.Delta, 10)
		out = appendNoReply(out, r.NoReply)
	case CmdTouch:
		out = appendKeys(out, r.Keys)
		out = append(out, ' ')
		out = strconv.AppendInt(out, r.Exptime, 10)
		out = appendNoReply(out, r.NoReply)
	case CmdFlushAll:
		if r.HasArg {
			out = append(out, ' ')
			out = strconv.AppendInt(out, r.Exptime, 10)
		}
		out = appendNoReply(out, r.NoReply)
	case CmdVerbosity:
		out = append(out, ' ')
		out = strconv.AppendUint(out, uint64(r.Level), 10)
		out = appendNoReply(out, r.NoReply)
	case CmdStats:
		out = appendKeys(out, r.Args)
	case CmdLock:
		out = appendKeys(out, r.Keys)
		out = append(out, ' ')
		out = strconv.AppendUint(out, r.Delta, 10)
	case CmdUnlock:
		out = appendKeys(out, r.Keys)
		out = appendKeys(out, r.Args)
	case CmdID:
		if r.HasArg {
			out = append(out, ' ')
			out = strconv.AppendUint(out, r.Delta, 10)
		}
	case CmdMetaGet, CmdMetaSet, CmdMetaDelete, CmdMetaArith, CmdMetaDebug:
		out = appendMeta(out, r)
	}
	return append(out, '\r', '\n')
}

func appendKeys(out []byte, keys [][]byte) []byte {
	for _, k := range keys {
		out = append(out, ' ')
		out = append(out, k...)
	}
	return out
}

func appendNoReply(out []byte, noreply bool) []byte {
	if noreply {
		out = append(out, " noreply"...)
	}
	return out
}
