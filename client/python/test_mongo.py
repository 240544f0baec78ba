#!/usr/bin/python3
"""Calls every mg_* method of a fae Thrift server and checks the answers.

Usage: test_mongo.py HOST:PORT [--pool NAME] [--shards N]

The server's mongo pool NAME (default "users", N shards) must reach a
MongoDB-wire server. Documents are built and read with Debian's
python3-bson (pymongo's bson); the Thrift client is the generated package
fae over python3-thrift. Prints one line per call, "ok" or "FAIL", and exits
1 when a call failed. Tables carry a per-run suffix, so runs against one
server do not meet.
"""

import argparse
import os
import sys
import time

import bson
from bson.objectid import ObjectId
from bson.son import SON

from fae.ttypes import TMongoError, TMongoNotFound, TMongoOp, TMongoOpKind, TServantError
from test_client import connect


def doc(**kv):
    return bson.encode(SON(kv))


def dec(b):
    return bson.decode(b)


def run(r, pool, shards, suffix):
    c = r.client
    t = "people_" + suffix
    ann = ObjectId()

    def names(docs):
        return [dec(d)["name"] for d in docs]

    # Inserts and reads on shard 0.
    r.check("mg_insert(ann)", c.mg_insert(r.ctx(), pool, t, 0, doc(_id=ann, name="ann", age=31)), True)
    r.check("mg_inserts(bob, cy)", c.mg_inserts(r.ctx(), pool, t, 0, [doc(name="bob", age=25), doc(name="cy", age=40)]), True)
    r.check("mg_find_one(bob) with fields", c.mg_find_one(r.ctx(), pool, t, 0, doc(name="bob"), doc(age=1, _id=0)),
            lambda v: dec(v) == {"age": 25})
    r.raises("mg_find_one(nobody)", TMongoNotFound, c.mg_find_one, r.ctx(), pool, t, 0, doc(name="nobody"), b"")
    r.check("mg_find_id(ann)", c.mg_find_id(r.ctx(), pool, t, 0, doc(_id=ann)), lambda v: dec(v)["name"] == "ann")
    r.raises("mg_find_id(new id)", TMongoNotFound, c.mg_find_id, r.ctx(), pool, t, 0, doc(_id=ObjectId()))
    r.check("mg_find_all(-age)", names(c.mg_find_all(r.ctx(), pool, t, 0, b"", b"", 0, 0, ["-age"])), ["cy", "ann", "bob"])
    r.check("mg_find_all(age > 20, limit 1, skip 1, age)",
            names(c.mg_find_all(r.ctx(), pool, t, 0, doc(age={"$gt": 20}), doc(name=1), 1, 1, ["age"])), ["ann"])
    r.check("mg_find_all(nothing)", c.mg_find_all(r.ctx(), pool, t, 0, doc(age=99), b"", 0, 0, []), [])
    r.check("mg_count(age >= 31)", c.mg_count(r.ctx(), pool, t, 0, doc(age={"$gte": 31})), 2)

    # Writes.
    r.check("mg_update(bob, $inc)", c.mg_update(r.ctx(), pool, t, 0, doc(name="bob"), doc(**{"$inc": {"age": 1}})), True)
    r.check("mg_update(nobody)", c.mg_update(r.ctx(), pool, t, 0, doc(name="nobody"), doc(**{"$inc": {"age": 1}})), False)
    r.check("mg_update(cy, replacement)", c.mg_update(r.ctx(), pool, t, 0, doc(name="cy"), doc(name="cy", city="Oslo")), True)
    r.check("mg_find_one(cy) replaced", c.mg_find_one(r.ctx(), pool, t, 0, doc(name="cy"), doc(_id=0)),
            lambda v: dec(v) == {"name": "cy", "city": "Oslo"})
    r.check("mg_upsert(dee)", c.mg_upsert(r.ctx(), pool, t, 0, doc(name="dee"), doc(**{"$set": {"age": 50}})), True)
    r.check("mg_find_and_modify(bob, returnNew)",
            c.mg_find_and_modify(r.ctx(), pool, t, 0, doc(name="bob"), doc(**{"$inc": {"age": 10}}), False, False, True),
            lambda v: dec(v)["age"] == 36)
    r.check("mg_find_and_modify(bob, old)",
            c.mg_find_and_modify(r.ctx(), pool, t, 0, doc(name="bob"), doc(**{"$inc": {"age": 1}}), False, False, False),
            lambda v: dec(v)["age"] == 36)
    r.check("mg_find_and_modify(eve, upsert, returnNew)",
            c.mg_find_and_modify(r.ctx(), pool, t, 0, doc(name="eve"), doc(**{"$set": {"age": 7}}), True, False, True),
            lambda v: dec(v)["name"] == "eve")
    r.check("mg_find_and_modify(eve, remove)",
            c.mg_find_and_modify(r.ctx(), pool, t, 0, doc(name="eve"), b"", False, True, False),
            lambda v: dec(v)["name"] == "eve")
    r.raises("mg_find_and_modify(nobody)", TMongoNotFound, c.mg_find_and_modify, r.ctx(), pool, t, 0,
             doc(name="nobody"), doc(**{"$set": {"a": 1}}), False, False, True)
    r.check("mg_delete(ann)", c.mg_delete(r.ctx(), pool, t, 0, doc(name="ann")), True)
    r.check("mg_delete(ann) again", c.mg_delete(r.ctx(), pool, t, 0, doc(name="ann")), False)
    r.check("mg_count(all)", c.mg_count(r.ctx(), pool, t, 0, b""), 3)

    # Shards: id modulo their number.
    for sid in range(2 * shards):
        r.check("mg_insert(shard %d)" % sid, c.mg_insert(r.ctx(), pool, t + "_s", sid, doc(sid=sid)), True)
    for sid in range(shards):
        want = [sid, sid + shards]
        r.check("mg_find_all(shard %d)" % sid,
                [dec(d)["sid"] for d in c.mg_find_all(r.ctx(), pool, t + "_s", sid, b"", b"", 0, 0, ["sid"])], want)

    # Errors.
    def code(want):
        return lambda e: e.code == want and e.message != ""

    try:
        c.mg_insert(r.ctx(), pool, t, 0, doc(_id="dup"))
        c.mg_insert(r.ctx(), pool, t, 0, doc(_id="dup"))
        r.check("mg_insert(duplicate _id) (want TMongoError 11000)", None, lambda _: False)
    except TMongoError as e:
        r.check("mg_insert(duplicate _id)", e, code(11000))
    bad = b'{"name": "json is not bson"}'
    r.raises("mg_find_one(not BSON)", TServantError, c.mg_find_one, r.ctx(), pool, t, 0, bad, b"")
    r.raises("mg_insert(cut BSON)", TServantError, c.mg_insert, r.ctx(), pool, t, 0, doc(a=1)[:-1])
    r.raises("mg_inserts(one bad)", TServantError, c.mg_inserts, r.ctx(), pool, t, 0, [doc(a=1), bad])
    r.raises("mg_find_one(unknown pool)", TServantError, c.mg_find_one, r.ctx(), "nosuch", t, 0, b"", b"")
    r.raises("mg_find_one(shard -1)", TServantError, c.mg_find_one, r.ctx(), pool, t, -1, b"", b"")
    r.check("mg_count(all) after the failures", c.mg_count(r.ctx(), pool, t, 0, b""), 4)

    # FerretDB and standalone servers refuse transactions: TMongoError with
    # the server's code, nothing written.
    ops = [TMongoOp(kind=TMongoOpKind.INSERT, table=t, doc=doc(name="tx")),
           TMongoOp(kind=TMongoOpKind.DELETE, table=t, query=doc(name="bob"))]
    try:
        got = c.mg_transaction(r.ctx(), pool, 0, ops)
        r.check("mg_transaction", got, [1, 1])
    except TMongoError as e:
        r.check("mg_transaction refused by the server", e, lambda e: e.code != 0)
        r.check("mg_count(all) after the refused transaction", c.mg_count(r.ctx(), pool, t, 0, b""), 4)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("addr", help="HOST:PORT of the server")
    ap.add_argument("--pool", default="users", help="mongo pool of the mg_* calls")
    ap.add_argument("--shards", type=int, default=1, help="shards of the pool")
    ap.add_argument("--timeout", type=float, default=10, help="seconds a call may take")
    args = ap.parse_args()
    host, _, port = args.addr.rpartition(":")
    if not host or not port.isdigit():
        ap.error("want HOST:PORT")
    trans, r = connect(host, port, args.timeout)
    try:
        run(r, args.pool, args.shards, "%d_%d" % (time.time_ns(), os.getpid()))
    except Exception as e:  # an exception no call expected
        r.check("run: %s" % type(e).__name__, e, lambda _: False)
    finally:
        trans.close()
    if r.failed:
        print("%d calls failed" % r.failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
