"""Exercise pymemcache (Debian python3-pymemcache) against memcached servers.

Usage: /usr/bin/python3 pymemcache_test.py host:port [host:port ...]

With one server it uses pymemcache's base Client, with several a HashClient.
Prints "ok N - what" for every passed check and exits 1 at the first failure,
saying what differed. Run by cmd/faed/clients_test.go.
"""

import os
import socket
import sys

try:
    from pymemcache.client.base import Client
    from pymemcache.client.hash import HashClient
except ImportError as e:  # pragma: no cover
    print("not ok - pymemcache is not importable (%s): apt-get install python3-pymemcache" % e)
    sys.exit(1)

n = 0


def show(v):
    """repr of v for a failure message, cut to 300 characters."""
    r = repr(v)
    return r if len(r) <= 300 else "%s... (%d chars)" % (r[:300], len(r))


def check(what, got, want):
    global n
    n += 1
    if got != want:
        print("not ok %d - %s\n  got:  %s\n  want: %s" % (n, what, show(got), show(want)))
        sys.exit(1)
    print("ok %d - %s" % (n, what))


def raw_get(servers, key):
    """The raw reply to "get key" from the first server that has the key."""
    reply = None
    for addr in servers:
        with socket.create_connection(addr, timeout=5) as conn:
            conn.sendall(b"get " + key.encode() + b"\r\n")
            reply = b""
            while not reply.endswith(b"END\r\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                reply += chunk
        if reply != b"END\r\n":
            return reply
    return reply


def parse(hp):
    host, port = hp.rsplit(":", 1)
    return (host, int(port))


def main():
    if len(sys.argv) < 2:
        print("usage: pymemcache_test.py host:port [host:port ...]")
        sys.exit(2)
    servers = [parse(a) for a in sys.argv[1:]]
    opts = dict(connect_timeout=5, timeout=5, default_noreply=False, allow_unicode_keys=True)
    if len(servers) == 1:
        c = Client(servers[0], **opts)
    else:
        c = HashClient(servers, **opts)
    p = "py-%d-" % os.getpid()

    # set / get
    check("set", c.set(p + "s", b"hello"), True)
    check("get", c.get(p + "s"), b"hello")
    check("get missing", c.get(p + "missing"), None)
    check("get missing with default", c.get(p + "missing", default=b"dflt"), b"dflt")
    binval = b"a\r\nb\x00c\xff\r\nEND\r\n"
    check("set binary", c.set(p + "bin", binval), True)
    check("get binary", c.get(p + "bin"), binval)
    check("set empty", c.set(p + "e", b""), True)
    check("get empty", c.get(p + "e"), b"")
    check("set unicode key", c.set(p + "ключ", "значение".encode()), True)
    check("get unicode key", c.get(p + "ключ"), "значение".encode())
    check("set with flags", c.set(p + "fl", b"x", flags=12345), True)
    check("raw get shows the flags", raw_get(servers, p + "fl"), b"VALUE " + (p + "fl").encode() + b" 12345 1\r\nx\r\nEND\r\n")
    big = os.urandom(512 * 1024)
    check("set 512 KB", c.set(p + "big", big), True)
    check("get 512 KB", c.get(p + "big"), big)

    # set_many / get_many
    many = {p + "m%d" % i: b"v%d" % i for i in range(100)}
    check("set_many 100 (no failed keys)", c.set_many(many), [])
    got = c.get_many(list(many) + [p + "nokey"])
    check("get_many 100 + 1 missing", got, many)
    check("get_many all missing", c.get_many([p + "no1", p + "no2"]), {})

    # add / replace / append / prepend
    check("add existing", c.add(p + "s", b"x"), False)
    check("add new", c.add(p + "a", b"added"), True)
    check("get added", c.get(p + "a"), b"added")
    check("replace missing", c.replace(p + "nokey", b"x"), False)
    check("replace existing", c.replace(p + "a", b"replaced"), True)
    check("get replaced", c.get(p + "a"), b"replaced")
    check("append", c.append(p + "a", b"_end"), True)
    check("prepend", c.prepend(p + "a", b"start_"), True)
    check("get appended", c.get(p + "a"), b"start_replaced_end")
    check("append missing", c.append(p + "nokey", b"x"), False)
    check("prepend missing", c.prepend(p + "nokey", b"x"), False)

    # gets / cas
    val, cas = c.gets(p + "a")
    check("gets value", val, b"start_replaced_end")
    check("gets cas is a number", cas is not None and cas.isdigit(), True)
    check("cas with current token", c.cas(p + "a", b"swapped", cas), True)
    check("get after cas", c.get(p + "a"), b"swapped")
    check("cas with stale token", c.cas(p + "a", b"stale", cas), False)
    check("cas on missing key", c.cas(p + "nokey", b"x", cas), None)
    check("gets missing", c.gets(p + "nokey"), (None, None))
    if len(servers) == 1:
        gm = c.gets_many([p + "a", p + "s", p + "nokey"])
        check("gets_many keys", sorted(gm), sorted([p + "a", p + "s"]))
        check("gets_many cas", gm[p + "a"][1] != cas, True)

    # delete
    check("delete existing", c.delete(p + "a"), True)
    check("delete missing", c.delete(p + "a"), False)
    check("get deleted", c.get(p + "a"), None)
    check("delete_many", c.delete_many([p + "m1", p + "m2", p + "nokey"]), True)
    check("get_many after delete_many", c.get_many([p + "m1", p + "m2", p + "m3"]), {p + "m3": b"v3"})

    # incr / decr
    check("set counter", c.set(p + "n", b"10"), True)
    check("incr", c.incr(p + "n", 5), 15)
    check("decr", c.decr(p + "n", 3), 12)
    check("decr below zero", c.decr(p + "n", 100), 0)
    check("incr missing", c.incr(p + "nokey", 1), None)
    check("decr missing", c.decr(p + "nokey", 1), None)
    check("set 2^64-1", c.set(p + "max", b"18446744073709551615"), True)
    check("incr wraps", c.incr(p + "max", 1), 0)
    check("set 100", c.set(p + "pad", b"100"), True)
    check("decr to 99", c.decr(p + "pad", 1), 99)
    check("decr pads with a space", c.get(p + "pad"), b"99 ")

    # touch
    check("touch existing", c.touch(p + "s", 1000), True)
    check("touch missing", c.touch(p + "nokey", 1000), False)
    check("touch -1 expires", c.touch(p + "s", -1), True)
    check("get after touch -1", c.get(p + "s"), None)

    # noreply: the client does not wait for a reply and returns True
    check("set noreply", c.set(p + "nr", b"quiet", noreply=True), True)
    check("add noreply (not stored)", c.add(p + "nr", b"loud", noreply=True), True)
    check("append noreply", c.append(p + "nr", b"!", noreply=True), True)
    check("incr noreply", c.incr(p + "n", 7, noreply=True), None)
    check("delete noreply missing", c.delete(p + "nokey", noreply=True), True)
    check("touch noreply", c.touch(p + "nr", 1000, noreply=True), True)
    check("set_many noreply", c.set_many({p + "q1": b"1", p + "q2": b"2"}, noreply=True), [])
    # The replies that never come must not shift later replies.
    check("get after noreply commands", c.get(p + "nr"), b"quiet!")
    check("incr noreply took effect (0 padded to '0 ' by the decr)", c.get(p + "n"), b"7 ")
    check("set_many noreply took effect", c.get_many([p + "q1", p + "q2"]), {p + "q1": b"1", p + "q2": b"2"})

    # expiry
    check("set already expired", c.set(p + "exp", b"x", expire=-1), True)
    check("get already expired", c.get(p + "exp"), None)

    # version and stats answer
    if len(servers) == 1:
        check("version", len(c.version()) > 0, True)
        check("stats", len(c.stats()) > 0, True)

    c.close() if hasattr(c, "close") else None
    print("# pymemcache_test.py: all %d checks passed" % n)


if __name__ == "__main__":
    main()
