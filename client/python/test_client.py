#!/usr/bin/python3
"""Calls every FunServant method of a fae Thrift server and checks the answers.

Usage: test_client.py HOST:PORT [--pool NAME] [--skip GROUP,...]

Speaks framed TBinaryProtocol through Debian's python3-thrift and the
generated package fae (next to this script). Prints one line per call,
"ok" or "FAIL", and exits 1 when a call failed, 2 on bad usage. Keys carry a
per-run suffix, so runs against one server do not meet. Groups, for --skip:
ping noop id lc mc lock dlog kvdb unknown.
"""

import argparse
import os
import sys
import time

from thrift.Thrift import TApplicationException, TMessageType
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

from fae import FunServant
from fae.ttypes import Context, TCacheMissed, TMemcacheData

GROUPS = ("ping", "noop", "id", "lc", "mc", "lock", "dlog", "kvdb", "unknown")


def show(v):
    """Formats a result or an exception for a line of output."""
    if isinstance(v, TApplicationException):
        return "TApplicationException(type=%d, %r)" % (v.type, v.message)
    if isinstance(v, Exception):
        return "%s(%r)" % (type(v).__name__, getattr(v, "message", str(v)))
    return repr(v)


class Run:
    """The client, a fresh Context per call, and the count of failures."""

    def __init__(self, client, iprot, oprot):
        self.client = client
        self.iprot = iprot
        self.oprot = oprot
        self.rid = 0
        self.failed = 0

    def ctx(self):
        self.rid += 1
        return Context(rid=self.rid, reason="test_client.py", uid=0)

    def check(self, what, got, ok):
        """Prints one line for a call; ok is a predicate of got, or the value
        got must equal."""
        ok = ok(got) if callable(ok) else got == ok and type(got) is type(ok)
        print("%-4s %s -> %s" % ("ok" if ok else "FAIL", what, show(got)))
        if not ok:
            self.failed += 1
        return got

    def raises(self, what, exc, fn, *args):
        """Checks that fn(*args) raises exc."""
        try:
            got = fn(*args)
        except exc as e:
            print("ok   %s -> %s" % (what, show(e)))
            return
        except Exception as e:  # the wrong exception: a failure, not a crash
            got = e
        self.check(what + " (want %s)" % exc.__name__, got, lambda _: False)

    def unknown_method(self):
        """Sends a call of a method FunServant does not have: UNKNOWN_METHOD."""
        self.oprot.writeMessageBegin("no_such_method", TMessageType.CALL, 0)
        self.oprot.writeStructBegin("no_such_method_args")
        self.oprot.writeFieldStop()
        self.oprot.writeStructEnd()
        self.oprot.writeMessageEnd()
        self.oprot.trans.flush()
        _, mtype, _ = self.iprot.readMessageBegin()
        got = None
        if mtype == TMessageType.EXCEPTION:
            got = TApplicationException()
            got.read(self.iprot)
        self.iprot.readMessageEnd()
        self.check("no_such_method()", got,
                   lambda e: e is not None and e.type == TApplicationException.UNKNOWN_METHOD)


def run_groups(r, skip, pool, suffix):
    """Runs each group not skipped; an exception a call did not expect fails
    its group, and the next group runs."""
    c = r.client
    key = "fae_test_" + suffix

    def ping():
        r.check("ping()", c.ping(r.ctx()), lambda v: isinstance(v, str) and v != "")

    def noop():
        r.check("noop(-42)", c.noop(-42), -42)

    def ids():
        a = r.check("id_next()", c.id_next(r.ctx()), lambda v: v > 0)
        r.check("id_next() again", c.id_next(r.ctx()), lambda v: v > a)
        t = r.check("id_next_with_tag(5)", c.id_next_with_tag(r.ctx(), 5), lambda v: v > 0)
        r.check("id_decode(%d)" % t, c.id_decode(r.ctx(), t), lambda v: len(v) == 4 and v[1] == 5)
        r.check("id_decode(%d)" % a, c.id_decode(r.ctx(), a), lambda v: len(v) == 4 and v[1] == 0)

    def lc():
        value = b"lc value \x00\xff"
        r.check("lc_set(%s)" % key, c.lc_set(r.ctx(), key, value), True)
        r.check("lc_get(%s)" % key, c.lc_get(r.ctx(), key), value)
        r.check("lc_del(%s)" % key, c.lc_del(r.ctx(), key), None)
        r.raises("lc_get(%s) deleted" % key, TCacheMissed, c.lc_get, r.ctx(), key)

    def mc():
        item = TMemcacheData(data=b"mc value \x00\xff", flags=0x1234)
        r.raises("mc_get(%s, %s) before" % (pool, key), TCacheMissed, c.mc_get, r.ctx(), pool, key)
        r.check("mc_set(%s, %s)" % (pool, key), c.mc_set(r.ctx(), pool, key, item, 60), True)
        r.check("mc_get(%s, %s)" % (pool, key), c.mc_get(r.ctx(), pool, key), item)
        r.check("mc_add(%s, %s) taken" % (pool, key), c.mc_add(r.ctx(), pool, key, item, 60), False)
        r.check("mc_delete(%s, %s)" % (pool, key), c.mc_delete(r.ctx(), pool, key), True)
        r.raises("mc_get(%s, %s) deleted" % (pool, key), TCacheMissed, c.mc_get, r.ctx(), pool, key)
        n = key + "_n"
        r.check("mc_add(%s, %s)" % (pool, n), c.mc_add(r.ctx(), pool, n, TMemcacheData(data=b"10", flags=0), 60), True)
        r.check("mc_increment(%s, %s, 5)" % (pool, n), c.mc_increment(r.ctx(), pool, n, 5), 15)
        r.check("mc_delete(%s, %s)" % (pool, n), c.mc_delete(r.ctx(), pool, n), True)

    def lock():
        token = r.check("lock(%s, 5000)" % key, c.lock(r.ctx(), key, 5000), lambda v: v != "")
        r.check("lock(%s, 5000) held" % key, c.lock(r.ctx(), key, 5000), "")
        r.check("unlock(%s, wrong token)" % key, c.unlock(r.ctx(), key, "x" + token), False)
        r.check("unlock(%s, token)" % key, c.unlock(r.ctx(), key, token), True)

    def dlog():
        r.check("dlog(fae_test, test)", c.dlog(r.ctx(), "fae_test", "test", '{"run":"%s"}' % suffix), None)

    def kvdb():
        k, value = key.encode() + b"\x00", b"kvdb value \x00\xff"
        r.raises("kvdb_get(%r) before" % k, TCacheMissed, c.kvdb_get, r.ctx(), k)
        r.check("kvdb_set(%r)" % k, c.kvdb_set(r.ctx(), k, value), True)
        r.check("kvdb_get(%r)" % k, c.kvdb_get(r.ctx(), k), value)
        r.check("kvdb_del(%r)" % k, c.kvdb_del(r.ctx(), k), True)
        r.raises("kvdb_get(%r) deleted" % k, TCacheMissed, c.kvdb_get, r.ctx(), k)

    groups = dict(ping=ping, noop=noop, id=ids, lc=lc, mc=mc, lock=lock, dlog=dlog, kvdb=kvdb,
                  unknown=r.unknown_method)
    for name in GROUPS:
        if name in skip:
            continue
        try:
            groups[name]()
        except Exception as e:
            r.check("%s group: %s" % (name, type(e).__name__), e, lambda _: False)


def connect(host, port, timeout):
    """Opens a framed binary-protocol connection; returns (transport, Run)."""
    sock = TSocket.TSocket(host, int(port))
    sock.setTimeout(timeout * 1000)
    trans = TTransport.TFramedTransport(sock)
    proto = TBinaryProtocol.TBinaryProtocol(trans)
    trans.open()
    return trans, Run(FunServant.Client(proto), proto, proto)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("addr", help="HOST:PORT of the server")
    ap.add_argument("--pool", default="default", help="memcache pool of the mc_* calls")
    ap.add_argument("--skip", default="", help="comma-separated groups not to call: " + " ".join(GROUPS))
    ap.add_argument("--timeout", type=float, default=10, help="seconds a call may take")
    args = ap.parse_args()
    host, _, port = args.addr.rpartition(":")
    skip = set(filter(None, args.skip.split(",")))
    if not host or not port.isdigit() or not skip <= set(GROUPS):
        ap.error("want HOST:PORT and groups among " + " ".join(GROUPS))

    trans, r = connect(host, port, args.timeout)
    try:
        run_groups(r, skip, args.pool, "%d_%d" % (time.time_ns(), os.getpid()))
    finally:
        trans.close()
    if r.failed:
        print("%d calls failed" % r.failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
