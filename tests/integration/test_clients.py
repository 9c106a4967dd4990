"""Real clients through seawall against a real redis-server: redis-cli, redis-py, raw RESP.

The byte-identity tests run the same command list through seawall and straight to Redis, from
the same empty state, and require every reply to be the same bytes.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import threading

import pytest
import redis

from conftest import client_for
from harness import RawConnection, encode_command

# --------------------------------------------------------------------------------------------
# redis-cli


def reset(direct: redis.Redis) -> None:
    direct.flushall()
    direct.script_flush()


def redis_cli(port: int, *args: str, stdin: bytes = None, extra=()) -> tuple[int, bytes, bytes]:
    proc = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *extra, *args],
                          input=stdin, capture_output=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


CLI_COMMANDS = [
    ["PING"],
    ["SET", "cli:str", "hello world"],
    ["GET", "cli:str"],
    ["GET", "cli:missing"],
    ["INCRBY", "cli:n", "42"],
    ["HSET", "cli:h", "a", "1", "b", "2"],
    ["HGETALL", "cli:h"],
    ["RPUSH", "cli:l", "x", "y", "z"],
    ["LRANGE", "cli:l", "0", "-1"],
    ["ZADD", "cli:z", "1", "one", "2.5", "two"],
    ["ZRANGE", "cli:z", "0", "-1", "WITHSCORES"],
    ["XADD", "cli:x", "1-1", "f", "v"],
    ["XRANGE", "cli:x", "-", "+"],
    ["EVAL", "return {1,'a',{2,'b'}}", "0"],
    ["LPUSH", "cli:str", "x"],
    ["NOSUCHCOMMAND", "arg"],
    ["GET"],
    ["TYPE", "cli:h"],
]


@pytest.mark.parametrize("mode", [[], ["--raw"], ["--no-raw"]], ids=["default", "raw", "no-raw"])
def test_redis_cli_output_matches_direct(seawall, redis_server, direct_client, mode):
    outputs = {}
    for name, port in (("seawall", seawall.port), ("direct", redis_server.port)):
        reset(direct_client)
        outputs[name] = [redis_cli(port, *cmd, extra=mode) for cmd in CLI_COMMANDS]
    for cmd, via_proxy, direct in zip(CLI_COMMANDS, outputs["seawall"], outputs["direct"]):
        assert via_proxy == direct, f"redis-cli {' '.join(cmd)}"


def test_redis_cli_commands_from_stdin(seawall, redis_server, direct_client):
    script = b"".join(b" ".join(c.encode() if " " not in c else b'"' + c.encode() + b'"'
                                for c in cmd) + b"\n" for cmd in CLI_COMMANDS)
    outputs = []
    for port in (seawall.port, redis_server.port):
        reset(direct_client)
        outputs.append(redis_cli(port, stdin=script))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == 0


def test_redis_cli_pipe_mode(seawall, direct_client):
    n = 20000
    payload = b"".join(encode_command("SET", f"pipe:{i}", f"value-{i}") for i in range(n))
    code, out, err = redis_cli(seawall.port, stdin=payload, extra=["--pipe"])
    assert code == 0, (out, err)
    assert b"errors: 0, replies: %d" % n in out, out
    assert direct_client.get("pipe:0") == b"value-0"
    assert direct_client.get(f"pipe:{n - 1}") == f"value-{n - 1}".encode()
    assert direct_client.dbsize() == n


# --------------------------------------------------------------------------------------------
# redis-py, default settings


def test_strings(proxy_client, direct_client):
    r = proxy_client
    assert r.ping() is True
    assert r.set("s:a", "1") is True
    assert r.get("s:a") == b"1"
    assert r.get("s:missing") is None
    assert r.set("s:a", "2", nx=True) is None
    assert r.set("s:a", "3", xx=True, get=True) == b"1"
    assert r.incr("s:a") == 4
    assert r.incrby("s:a", -10) == -6
    assert r.incrbyfloat("s:f", 2.5) == 2.5
    assert r.append("s:b", "abc") == 3
    assert r.getrange("s:b", 1, 2) == b"bc"
    assert r.mset({"s:m1": "x", "s:m2": "y"}) is True
    assert r.mget("s:m1", "s:missing", "s:m2") == [b"x", None, b"y"]
    assert r.expire("s:b", 1000) is True
    assert 990 <= r.ttl("s:b") <= 1000
    assert r.exists("s:a", "s:b", "s:missing") == 2
    assert r.delete("s:a", "s:missing") == 1
    assert r.getdel("s:m1") == b"x"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("s:b")
    # Writes through the proxy really reached Redis.
    assert direct_client.get("s:m2") == b"y"
    assert direct_client.get("s:a") is None


def test_hashes(proxy_client):
    r = proxy_client
    assert r.hset("h", mapping={"f1": "v1", "f2": "v2", "n": "5"}) == 3
    assert r.hget("h", "f1") == b"v1"
    assert r.hget("h", "nope") is None
    assert r.hgetall("h") == {b"f1": b"v1", b"f2": b"v2", b"n": b"5"}
    assert r.hmget("h", "f2", "nope") == [b"v2", None]
    assert r.hincrby("h", "n", 3) == 8
    assert r.hlen("h") == 3
    assert sorted(r.hkeys("h")) == [b"f1", b"f2", b"n"]
    assert r.hdel("h", "f1", "nope") == 1
    assert r.hexists("h", "f1") is False
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lpush("h", "x")


def test_lists(proxy_client):
    r = proxy_client
    assert r.rpush("l", *[str(i) for i in range(10)]) == 10
    assert r.lpush("l", "head") == 11
    assert r.lrange("l", 0, 2) == [b"head", b"0", b"1"]
    assert r.lpop("l") == b"head"
    assert r.rpop("l", 2) == [b"9", b"8"]
    assert r.llen("l") == 8
    assert r.lindex("l", 3) == b"3"
    assert r.lset("l", 0, "zero") is True
    assert r.ltrim("l", 0, 3) is True
    assert r.lrange("l", 0, -1) == [b"zero", b"1", b"2", b"3"]
    assert r.lpop("l:missing") is None
    assert r.lrange("l:missing", 0, -1) == []


def test_sets(proxy_client):
    r = proxy_client
    assert r.sadd("set:a", "x", "y", "z") == 3
    assert r.sadd("set:b", "y", "z", "w") == 3
    assert r.smembers("set:a") == {b"x", b"y", b"z"}
    assert r.sismember("set:a", "x") is True
    assert r.sinter("set:a", "set:b") == {b"y", b"z"}
    assert r.sunion("set:a", "set:b") == {b"w", b"x", b"y", b"z"}
    assert r.sdiff("set:a", "set:b") == {b"x"}
    assert r.srem("set:a", "x", "nope") == 1
    assert r.scard("set:a") == 2


def test_sorted_sets(proxy_client):
    r = proxy_client
    assert r.zadd("z", {"a": 1, "b": 2, "c": 3.5}) == 3
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0), (b"c", 3.5)]
    assert r.zscore("z", "c") == 3.5
    assert r.zscore("z", "nope") is None
    assert r.zincrby("z", 10, "a") == 11.0
    assert r.zrank("z", "a") == 2
    assert r.zrangebyscore("z", 2, 4) == [b"b", b"c"]
    assert r.zrevrange("z", 0, 0) == [b"a"]
    assert r.zcount("z", "-inf", "+inf") == 3
    assert r.zpopmin("z") == [(b"b", 2.0)]
    assert r.zcard("z") == 2


def test_streams(proxy_client):
    r = proxy_client
    assert r.xadd("x", {"f": "1"}, id="1-1") == b"1-1"
    assert r.xadd("x", {"f": "2", "g": "b"}, id="2-1") == b"2-1"
    auto_id = r.xadd("x", {"f": "3"})
    assert r.xlen("x") == 3
    entries = r.xrange("x", "-", "+")
    assert entries[0] == (b"1-1", {b"f": b"1"})
    assert entries[1] == (b"2-1", {b"f": b"2", b"g": b"b"})
    assert entries[2][0] == auto_id
    assert r.xrevrange("x", "+", "-", count=1)[0][0] == auto_id
    assert r.xdel("x", "1-1") == 1
    assert r.xtrim("x", maxlen=1, approximate=False) == 1
    assert r.xlen("x") == 1
    with pytest.raises(redis.ResponseError):
        r.xadd("x", {"f": "old"}, id="1-0")


def test_streams_xread_without_block(proxy_client):
    """XREAD/XREADGROUP without BLOCK never block, so they must not be refused as stateful."""
    r = proxy_client
    r.xadd("xr", {"f": "1"}, id="1-1")
    r.xadd("xr", {"f": "2"}, id="2-1")
    assert r.xread({"xr": "0"}, count=1) == [[b"xr", [(b"1-1", {b"f": b"1"})]]]
    assert r.xgroup_create("xr", "g", id="0") is True
    got = r.xreadgroup("g", "c1", {"xr": ">"}, count=2)
    assert [e[0] for e in got[0][1]] == [b"1-1", b"2-1"]
    assert r.xack("xr", "g", "1-1", "2-1") == 2


def test_eval_with_keys(proxy_client):
    r = proxy_client
    script = ("redis.call('SET', KEYS[1], ARGV[1]); redis.call('RPUSH', KEYS[2], ARGV[2]); "
              "return {redis.call('GET', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1), "
              "{tonumber(ARGV[3]) * 2, 'nested'}}")
    assert r.eval(script, 2, "ev:k", "ev:l", "val", "item", "21") == [
        b"val", [b"item"], [42, b"nested"]]
    sha = r.script_load("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert r.evalsha(sha, 1, "ev:n", 5) == 5
    assert r.evalsha(sha, 1, "ev:n", 5) == 10
    with pytest.raises(redis.ResponseError):
        r.eval("return redis.call('LPUSH', KEYS[1], 'x')", 1, "ev:k")


def test_pipeline_of_100k_commands(proxy_client):
    r = proxy_client
    n = 100_000
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"p:{i}", i)
    assert pipe.execute() == [True] * n
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.get(f"p:{i}")
    assert pipe.execute() == [str(i).encode() for i in range(n)]
    # A mixed pipeline whose replies have different types, to catch reordering.
    pipe = r.pipeline(transaction=False)
    for i in range(n // 4):
        pipe.incr("p:counter")
        pipe.get(f"p:{i}")
        pipe.get("p:missing")
        pipe.rpush("p:list", i)
    out = pipe.execute()
    for i in range(n // 4):
        assert out[4 * i: 4 * i + 4] == [i + 1, str(i).encode(), None, i + 1], i


def test_200_concurrent_clients(seawall):
    threads_n, ops = 200, 300
    barrier = threading.Barrier(threads_n)
    errors: list[str] = []

    def worker(t: int) -> None:
        r = client_for(seawall.port)
        try:
            barrier.wait(timeout=60)
            key, counter, lst = f"c:{t}:s", f"c:{t}:n", f"c:{t}:l"
            for i in range(ops // 3):
                value = f"{t}-{i}-" + "x" * (i % 50)
                if not r.set(key, value):
                    errors.append(f"{t}/{i}: SET failed")
                got = r.get(key)
                if got != value.encode():
                    errors.append(f"{t}/{i}: GET {got!r} != {value!r}")
                n = r.incr(counter)
                if n != i + 1:
                    errors.append(f"{t}/{i}: INCR {n} != {i + 1}")
            r.rpush(lst, *range(20))
            if r.lrange(lst, 0, -1) != [str(i).encode() for i in range(20)]:
                errors.append(f"{t}: LRANGE mismatch")
        except Exception as e:  # noqa: BLE001 - report every thread's failure
            errors.append(f"{t}: {type(e).__name__}: {e}")
        finally:
            r.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=240)
    assert not any(th.is_alive() for th in threads), "worker threads hung"
    assert not errors, f"{len(errors)} errors, first: {errors[:10]}"


def test_10mb_values(proxy_client, direct_client):
    r = proxy_client
    rnd = random.Random(1)
    big = rnd.randbytes(10 * 1024 * 1024)
    assert r.set("big", big) is True
    assert r.get("big") == big
    assert direct_client.strlen("big") == len(big)
    assert r.append("big", b"tail") == len(big) + 4
    assert r.getrange("big", len(big), -1) == b"tail"
    # Several in flight at once on one connection.
    pipe = r.pipeline(transaction=False)
    for i in range(4):
        pipe.set(f"big:{i}", big[i:] + bytes([i]))
    for i in range(4):
        pipe.get(f"big:{i}")
    out = pipe.execute()
    assert out[:4] == [True] * 4
    for i in range(4):
        assert hashlib.sha256(out[4 + i]).digest() == hashlib.sha256(big[i:] + bytes([i])).digest()


def test_binary_keys_and_values(proxy_client, direct_client):
    r = proxy_client
    every_byte = bytes(range(256))
    assert r.set(every_byte, every_byte * 4) is True
    assert r.get(every_byte) == every_byte * 4
    assert direct_client.get(every_byte) == every_byte * 4
    for b in range(256):
        key = b"bin:" + bytes([b])
        value = bytes([b]) + b"\r\n" + bytes([b]) + b"\r\n$3\r\n*1\r\n"
        assert r.set(key, value) is True
    pipe = r.pipeline(transaction=False)
    for b in range(256):
        pipe.get(b"bin:" + bytes([b]))
    got = pipe.execute()
    for b in range(256):
        assert got[b] == bytes([b]) + b"\r\n" + bytes([b]) + b"\r\n$3\r\n*1\r\n", b
    crlf_key = b"\r\n*2\r\n$3\r\nGET\r\n"
    assert r.hset(crlf_key, b"\r\n", b"\x00\r\n\xff") == 1
    assert r.hgetall(crlf_key) == {b"\r\n": b"\x00\r\n\xff"}
    assert r.set(b"empty", b"") is True
    assert r.get(b"empty") == b""
    assert r.rpush(b"bl", b"", b"\r\n", every_byte) == 3
    assert r.lrange(b"bl", 0, -1) == [b"", b"\r\n", every_byte]


STATEFUL_SEQUENCES = {
    "transaction": [("MULTI",), ("SET", "t:k", "1"), ("INCR", "t:k"), ("GET", "t:k"), ("EXEC",),
                    ("GET", "t:k")],
    "discard": [("MULTI",), ("SET", "t:d", "1"), ("DISCARD",), ("EXISTS", "t:d")],
    "watch": [("WATCH", "t:w"), ("UNWATCH",), ("WATCH", "t:w"), ("MULTI",), ("SET", "t:w", "x"),
              ("EXEC",), ("GET", "t:w")],
    "exec_without_multi": [("EXEC",), ("DISCARD",)],
    "blocking_timeout": [("BLPOP", "t:empty", "0.1"), ("BRPOP", "t:empty", "0.1"),
                         ("BZPOPMIN", "t:z", "0.1"), ("XREAD", "BLOCK", "100", "STREAMS", "t:s", "$")],
    "blocking_ready": [("RPUSH", "t:l", "a"), ("BLPOP", "t:l", "1"), ("LLEN", "t:l")],
    "select": [("SELECT", "1"), ("SET", "t:db", "one"), ("GET", "t:db"), ("SELECT", "0"),
               ("GET", "t:db")],
    "resp3": [("HSET", "t:h", "f", "v"), ("HELLO", "3", "SETNAME", "x"), ("HGETALL", "t:h"),
              ("SMEMBERS", "t:nosuch"), ("HELLO", "2", "SETNAME", "y"), ("HGETALL", "t:h")],
    "subscribe": [("SUBSCRIBE", "t:ch"), ("PSUBSCRIBE", "t:c*"), ("PING",), ("UNSUBSCRIBE",),
                  ("PUNSUBSCRIBE",), ("PING",)],
    "reset": [("MULTI",), ("SELECT", "2"), ("RESET",), ("GET", "t:db"), ("SET", "t:r", "1")],
}


@pytest.mark.parametrize("name", sorted(STATEFUL_SEQUENCES))
def test_stateful_commands_behave_as_on_redis(seawall, redis_server, name):
    """Commands that start connection state pin the session to a dedicated connection: the
    replies are byte-identical to a direct connection's, and the session keeps working after."""
    def run(port):
        with RawConnection(port) as c:
            c.request("FLUSHALL")
            c.request("SELECT", "1")
            c.request("FLUSHDB")
            c.request("SELECT", "0")
            # HELLO's reply carries the connection id, which differs: compare its type only.
            replies = [c.request(*cmd)[:1] if cmd[0] == "HELLO" else c.request(*cmd)
                       for cmd in STATEFUL_SEQUENCES[name]]
            # The session is usable afterwards, on the shared path again where state ended.
            replies.append(c.request("SET", "t:after", "1"))
            replies.append(c.request("GET", "t:after"))
            return replies
    direct = run(redis_server.port)
    through = run(seawall.port)
    assert through == direct


def test_quit_closes_only_that_client(seawall, direct_client):
    """QUIT answers +OK and closes this client only; commands after it are not run."""
    with seawall.raw() as other:
        for i in range(20):
            with seawall.raw() as c:
                c.send(encode_command("INCR", "quit:n") + encode_command("QUIT")
                       + encode_command("INCR", "quit:after"))
                assert c.read_reply() == b":%d\r\n" % (i + 1)
                assert c.read_reply() == b"+OK\r\n"
                data, closed = c.read_until_closed(5)
                assert closed and data == b"", data
            assert other.request("GET", "quit:n") == b"$%d\r\n%d\r\n" % (len(str(i + 1)), i + 1)
    assert direct_client.get("quit:after") is None


# --------------------------------------------------------------------------------------------
# Byte-identical replies

BIG = b"0123456789abcdef" * 1000
EVERY_BYTE = bytes(range(256))
LUA_NESTED = (b"return {1, 'two', {3, {'four', false, -5}}, redis.call('GET', KEYS[1]), "
              b"redis.call('GET', KEYS[2]), {}, 3.99}")

RAW_COMMANDS: list[tuple] = [
    # status, bulk, nil, integer
    (b"PING",), (b"PING", b"hello"), (b"ECHO", EVERY_BYTE), (b"ECHO", b""),
    (b"SELECT", b"0"),
    (b"SET", b"s:1", b"hello"), (b"GET", b"s:1"), (b"GET", b"s:missing"),
    (b"SET", b"s:1", b"v", b"NX"), (b"SET", b"s:2", b"v", b"XX"), (b"SET", b"s:1", b"world", b"GET"),
    (b"APPEND", b"s:1", b"!!"), (b"STRLEN", b"s:1"), (b"GETRANGE", b"s:1", b"0", b"2"),
    (b"SETRANGE", b"s:1", b"1", b"XY"), (b"GET", b"s:1"),
    (b"MSET", b"s:a", b"1", b"s:b", b"2", b"s:c", b"3"), (b"MGET", b"s:a", b"s:b", b"s:no", b"s:c"),
    (b"INCR", b"s:a"), (b"INCRBY", b"s:a", b"10"), (b"DECRBY", b"s:a", b"100"),
    (b"INCRBYFLOAT", b"s:f", b"1.5"), (b"INCRBYFLOAT", b"s:f", b"0.1"),
    (b"SETNX", b"s:1", b"x"), (b"GETDEL", b"s:c"), (b"EXISTS", b"s:a", b"s:b", b"s:c"),
    (b"DEL", b"s:b", b"s:missing"), (b"EXPIRE", b"s:a", b"100000"), (b"TTL", b"s:a"),
    (b"PERSIST", b"s:a"), (b"TTL", b"s:a"), (b"TTL", b"s:missing"),
    (b"EXPIREAT", b"s:a", b"4000000000"), (b"EXPIRETIME", b"s:a"),
    (b"SET", b"s:e", b""), (b"GET", b"s:e"), (b"SET", b"s:big", BIG), (b"GET", b"s:big"),
    (b"SET", EVERY_BYTE, EVERY_BYTE), (b"GET", EVERY_BYTE), (b"DUMP", b"s:1"),
    (b"COPY", b"s:1", b"s:copy"), (b"RENAME", b"s:copy", b"s:renamed"),
    (b"RENAMENX", b"s:renamed", b"s:1"),
    (b"SETBIT", b"s:bits", b"7", b"1"), (b"GETBIT", b"s:bits", b"7"), (b"BITCOUNT", b"s:bits"),
    (b"BITPOS", b"s:bits", b"1"), (b"PFADD", b"s:hll", b"a", b"b", b"c"), (b"PFCOUNT", b"s:hll"),
    # types and encodings
    (b"TYPE", b"s:1"), (b"TYPE", b"s:missing"), (b"OBJECT", b"ENCODING", b"s:a"),
    (b"OBJECT", b"ENCODING", b"s:1"), (b"OBJECT", b"ENCODING", b"s:big"),
    (b"OBJECT", b"ENCODING", b"s:missing"),
    # hashes
    (b"HSET", b"h:1", b"f1", b"v1", b"f2", b"v2", b"n", b"3"), (b"HGET", b"h:1", b"f1"),
    (b"HGET", b"h:1", b"nope"), (b"HGETALL", b"h:1"), (b"HMGET", b"h:1", b"f1", b"nope", b"f2"),
    (b"HINCRBY", b"h:1", b"n", b"5"), (b"HINCRBYFLOAT", b"h:1", b"n", b"0.25"), (b"HKEYS", b"h:1"),
    (b"HVALS", b"h:1"), (b"HLEN", b"h:1"), (b"HEXISTS", b"h:1", b"f1"), (b"HDEL", b"h:1", b"f1"),
    (b"HSETNX", b"h:1", b"f2", b"x"), (b"HGETALL", b"h:missing"), (b"TYPE", b"h:1"),
    (b"OBJECT", b"ENCODING", b"h:1"),
    # lists
    (b"RPUSH", b"l:1", b"a", b"b", b"c", b"d", b"e"), (b"LRANGE", b"l:1", b"0", b"-1"),
    (b"LPOP", b"l:1"), (b"RPOP", b"l:1", b"2"), (b"LLEN", b"l:1"), (b"LINDEX", b"l:1", b"0"),
    (b"LINDEX", b"l:1", b"99"), (b"LINSERT", b"l:1", b"BEFORE", b"c", b"bb"),
    (b"LPOS", b"l:1", b"c"), (b"LSET", b"l:1", b"0", b"B"), (b"LRANGE", b"l:1", b"0", b"-1"),
    (b"LPOP", b"l:missing"), (b"LPOP", b"l:missing", b"2"), (b"LRANGE", b"l:missing", b"0", b"-1"),
    (b"LMPOP", b"2", b"l:missing", b"l:1", b"LEFT", b"COUNT", b"2"),
    (b"RPUSH", b"l:2", b"3", b"1", b"2"), (b"SORT", b"l:2"), (b"SORT", b"l:2", b"DESC", b"LIMIT", b"0", b"2"),
    (b"TYPE", b"l:1"), (b"OBJECT", b"ENCODING", b"l:1"),
    # sets (integer sets iterate in sorted order, so the replies are deterministic)
    (b"SADD", b"i:1", b"3", b"1", b"2"), (b"SADD", b"i:2", b"2", b"3", b"4"), (b"SMEMBERS", b"i:1"),
    (b"SISMEMBER", b"i:1", b"2"), (b"SMISMEMBER", b"i:1", b"1", b"9"), (b"SCARD", b"i:1"),
    (b"SINTER", b"i:1", b"i:2"), (b"SINTERCARD", b"2", b"i:1", b"i:2"), (b"SDIFF", b"i:1", b"i:2"),
    (b"SREM", b"i:1", b"1"), (b"OBJECT", b"ENCODING", b"i:1"), (b"TYPE", b"i:1"),
    # sorted sets
    (b"ZADD", b"z:1", b"1", b"a", b"2", b"b", b"3", b"c", b"2.5", b"d"),
    (b"ZRANGE", b"z:1", b"0", b"-1", b"WITHSCORES"), (b"ZSCORE", b"z:1", b"d"),
    (b"ZSCORE", b"z:1", b"nope"), (b"ZMSCORE", b"z:1", b"a", b"nope"), (b"ZRANK", b"z:1", b"d"),
    (b"ZREVRANGE", b"z:1", b"0", b"1"), (b"ZRANGEBYSCORE", b"z:1", b"(1", b"+inf", b"LIMIT", b"0", b"2"),
    (b"ZINCRBY", b"z:1", b"0.1", b"a"), (b"ZCOUNT", b"z:1", b"-inf", b"+inf"), (b"ZPOPMIN", b"z:1"),
    (b"ZMPOP", b"1", b"z:1", b"MAX", b"COUNT", b"2"), (b"ZCARD", b"z:1"), (b"TYPE", b"z:1"),
    (b"OBJECT", b"ENCODING", b"z:1"),
    # streams
    (b"XADD", b"x:1", b"1-1", b"f", b"v"), (b"XADD", b"x:1", b"2-1", b"f2", b"v2", b"g", b"1"),
    (b"XADD", b"x:1", b"1-0", b"f", b"v"), (b"XLEN", b"x:1"), (b"XRANGE", b"x:1", b"-", b"+"),
    (b"XREVRANGE", b"x:1", b"+", b"-", b"COUNT", b"1"), (b"XRANGE", b"x:missing", b"-", b"+"),
    (b"XDEL", b"x:1", b"1-1"), (b"TYPE", b"x:1"),
    # geo (float formatting, nested arrays with nil)
    (b"GEOADD", b"g:1", b"13.361389", b"38.115556", b"Palermo", b"15.087269", b"37.502669", b"Catania"),
    (b"GEODIST", b"g:1", b"Palermo", b"Catania", b"km"), (b"GEOPOS", b"g:1", b"Palermo", b"Nowhere"),
    # scripting
    (b"EVAL", LUA_NESTED, b"2", b"s:1", b"s:missing"),
    (b"EVAL", b"return redis.status_reply('FINE')", b"0"),
    (b"EVAL", b"return redis.error_reply('MYERR custom failure')", b"0"),
    (b"EVAL", b"return redis.call('INCRBY', KEYS[1], ARGV[1])", b"1", b"s:ev", b"7"),
    (b"SCRIPT", b"LOAD", b"return KEYS[1]"),
    (b"EVALSHA", hashlib.sha1(b"return KEYS[1]").hexdigest().encode(), b"1", b"s:key"),
    (b"EVALSHA", b"0" * 40, b"0"),
    (b"EVAL", b"return {", b"0"),
    # command introspection (deep nested arrays)
    (b"COMMAND", b"INFO", b"GET", b"nosuchcommand"),
    # errors
    (b"GET",), (b"GETRANGE", b"s:1"), (b"NOSUCHCMD", b"a", b"b"), (b"LPUSH", b"s:1", b"x"),
    (b"HGET", b"s:1", b"f"), (b"SET", b"k", b"v", b"EX", b"notanumber"), (b"SET", b"k", b"v", b"EX", b"-1"),
    (b"INCRBY", b"s:a", b"1.5"), (b"ZADD", b"z:1", b"notafloat", b"x"), (b"INCR", b"s:1"),
    (b"DBSIZE",),
]


def run_sequential(port: int) -> list[bytes]:
    with RawConnection(port, timeout=30) as c:
        return [c.request(*cmd) for cmd in RAW_COMMANDS]


def run_pipelined(port: int) -> list[bytes]:
    with RawConnection(port, timeout=30) as c:
        c.send(b"".join(encode_command(*cmd) for cmd in RAW_COMMANDS))
        return c.read_replies(len(RAW_COMMANDS))


@pytest.mark.parametrize("runner", [run_sequential, run_pipelined], ids=["sequential", "pipelined"])
def test_replies_are_byte_identical_to_redis(seawall, redis_server, direct_client, runner):
    assert len(RAW_COMMANDS) >= 100
    reset(direct_client)
    via_proxy = runner(seawall.port)
    reset(direct_client)
    direct = runner(redis_server.port)
    # Sanity: the list really covers every reply type.
    firsts = {r[:1] for r in direct}
    assert firsts >= {b"+", b"-", b":", b"$", b"*"}, firsts
    assert b"$-1\r\n" in direct and b"*-1\r\n" in direct and b"*0\r\n" in direct
    mismatches = [(cmd[:3], p[:300], d[:300]) for cmd, p, d in zip(RAW_COMMANDS, via_proxy, direct)
                  if p != d]
    assert not mismatches, "\n".join(f"{c!r}:\n  seawall {p!r}\n  redis   {d!r}"
                                     for c, p, d in mismatches)


def test_replies_byte_identical_when_split_into_single_bytes(seawall, redis_server, direct_client):
    """The same commands written one byte at a time: framing must not depend on read sizes."""
    commands = RAW_COMMANDS[:40]
    outputs = []
    for port in (seawall.port, redis_server.port):
        reset(direct_client)
        with RawConnection(port, timeout=30) as c:
            data = b"".join(encode_command(*cmd) for cmd in commands)
            for i in range(len(data)):
                c.send(data[i:i + 1])
            outputs.append(c.read_replies(len(commands)))
    assert outputs[0] == outputs[1]


def test_inline_commands(seawall, redis_server, direct_client):
    lines = [b"PING", b"SET inl:k hello", b"GET inl:k", b"GET inl:missing", b"INCR inl:n",
             b"  EXISTS   inl:k  inl:n ", b"RPUSH inl:l a b c", b"LRANGE inl:l 0 -1"]
    outputs = []
    for port in (seawall.port, redis_server.port):
        reset(direct_client)
        with RawConnection(port) as c:
            c.send(b"".join(line + b"\r\n" for line in lines))
            outputs.append(c.read_replies(len(lines)))
    assert outputs[0] == outputs[1]


def test_random_pipelines_match_direct(seawall, redis_server, direct_client):
    """Randomised mixes of commands and reply types, same seed on both sides."""
    def commands(seed: int):
        rnd = random.Random(seed)
        out = []
        for _ in range(5000):
            k = b"r:%d" % rnd.randrange(20)
            op = rnd.randrange(8)
            if op == 0:
                out.append((b"SET", k, rnd.randbytes(rnd.randrange(0, 3000))))
            elif op == 1:
                out.append((b"GET", k))
            elif op == 2:
                out.append((b"INCR", k))
            elif op == 3:
                out.append((b"RPUSH", k, b"%d" % rnd.randrange(1000)))
            elif op == 4:
                out.append((b"LRANGE", k, b"0", b"5"))
            elif op == 5:
                out.append((b"DEL", k))
            elif op == 6:
                out.append((b"HSET", k, b"f", rnd.randbytes(5)))
            else:
                out.append((b"TYPE", k))
        return out

    cmds = commands(7)
    outputs = []
    for port in (seawall.port, redis_server.port):
        reset(direct_client)
        with RawConnection(port, timeout=30) as c:
            c.send(b"".join(encode_command(*cmd) for cmd in cmds))
            outputs.append(c.read_replies(len(cmds)))
    for i, (p, d) in enumerate(zip(*outputs)):
        assert p == d, (i, cmds[i][:2], p[:200], d[:200])
