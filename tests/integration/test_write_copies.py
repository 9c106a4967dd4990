"""A write leaves the value it wrote where an outage's reads will look for it.

- A SET that Redis acknowledged leaves its value as the L1 copy. Writes of one key keep the
  order seawall sent them in: a second client's write of a key whose write is in flight goes on
  the first one's connection (Redis runs them in that order) or waits for its outcome, so the
  last one's value is the copy. When two writes of one key were in flight at once anyway (one
  waited past its deadline), seawall cannot tell which Redis ran last, so it re-reads the key after
  them (the cache repair): the copy is what Redis holds.
- A journal-mode SET that timed out (Redis frozen) or lost its connection (Redis killed) is
  journaled and acknowledged: reads answer its value, and once Redis is back it holds that value,
  or a newer one written after it, never an older one (the replay waits for the late reply of the
  original).
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from faults import client, upstream  # noqa: E402
from harness import encode_command, http, sample, scrape, wait_until  # noqa: E402

POLICIES = [{"match": "*", "l1": {"ttl": "60s", "max_stale": "60s"}, "writes_when_open": "journal",
             "on_unavailable": "error"}]


def force(sw, action: str) -> None:
    status, _, body = http(sw.admin_port, f"/breakers/main/{action}", method="POST")
    assert status == 200, body


def test_two_writes_in_flight_leave_what_redis_holds(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    c = client(sw.port)
    with sw.raw(timeout=5) as raw:
        for i in range(20):
            # Both in flight at once: each one's fill is raced by the other.
            raw.send(encode_command("SET", f"k{i}", "first") +
                     encode_command("SET", f"k{i}", f"second{i}"))
            assert raw.read_reply() == b"+OK\r\n" and raw.read_reply() == b"+OK\r\n"
    direct = client(redis_server.port)
    time.sleep(0.2)  # the re-reads answer within a round trip
    force(sw, "open")
    for i in range(20):
        assert c.get(f"k{i}") == direct.get(f"k{i}") == f"second{i}".encode()


def test_concurrent_writers_of_one_key_leave_a_copy(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    stop = threading.Event()

    def writer(name: str) -> None:
        w = client(sw.port)
        n = 0
        while not stop.is_set():
            w.set("hot", f"{name}-{n}")
            n += 1

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    held = client(redis_server.port).get("hot")
    time.sleep(0.2)
    force(sw, "open")
    assert client(sw.port).get("hot") == held


def test_a_write_that_timed_out_is_journaled_and_acknowledged(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    c = client(sw.port)
    assert c.set("j", "before") is True
    redis_server.sigstop()
    try:
        # Sent to the frozen Redis: it times out, is journaled, and acknowledged.
        assert c.set("j", "v1") is True
        assert c.get("j") == b"v1"
        assert c.set("j", "v2") is True  # journaled after it
        assert c.get("j") == b"v2"
    finally:
        redis_server.sigcont()
    direct = client(redis_server.port)
    # The frozen Redis runs the original SET j v1 as soon as it thaws; the replay must come after.
    wait_until(lambda: direct.get("j") == b"v2", timeout=10, what="the journaled value in Redis")
    wait_until(lambda: c.get("j") == b"v2", timeout=10, what="the journaled value in Redis")
    force(sw, "open")
    assert c.get("j") == b"v2"


def test_a_write_whose_connection_dropped_is_journaled(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    c = client(sw.port)
    assert c.set("d", "before") is True
    redis_server.sigstop()
    done = {}

    def write() -> None:
        done["reply"] = client(sw.port).set("d", "after")

    t = threading.Thread(target=write)
    t.start()
    redis_server.kill9()  # killed while the SET waits: the connection drops, or it times out
    t.join(timeout=10)
    assert done.get("reply") is True
    assert c.get("d") == b"after"
    redis_server.restart()
    direct = client(redis_server.port)
    wait_until(lambda: direct.get("d") == b"after", timeout=10, what="the journaled value in Redis")


def test_a_transaction_whose_exec_timed_out_is_journaled(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    c = client(sw.port)
    assert c.set("ta", "0") is True and c.set("tb", "0") is True
    tx_bytes = (encode_command("MULTI") + encode_command("SET", "ta", "1") +
                encode_command("SET", "tb", "2") + encode_command("EXEC"))
    with sw.raw(timeout=5) as tx:
        redis_server.sigstop()
        try:
            tx.send(tx_bytes)
            # Answered by seawall once the EXEC missed its deadline, as Redis would have.
            assert [tx.read_reply() for _ in range(4)] == [
                b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n", b"*2\r\n+OK\r\n+OK\r\n"]
            assert tx.request("GET", "ta") == b"$1\r\n1\r\n"  # the session goes on, unpinned
            assert c.get("tb") == b"2"
            assert c.set("ta", "3") is True  # journaled after the transaction
        finally:
            redis_server.sigcont()
    direct = client(redis_server.port)
    # The late EXEC runs first, then the replay: ta ends as 3, not 1.
    wait_until(lambda: direct.get("ta") == b"3" and direct.get("tb") == b"2", timeout=10,
               what="the journaled values in Redis")
    wait_until(lambda: c.get("ta") == b"3", timeout=10, what="reads through seawall again")


def test_a_transaction_whose_connection_dropped_is_journaled(redis_server, make_seawall):
    # A long request_timeout: the connection drops (Redis killed) before the EXEC's deadline.
    sw = make_seawall(upstreams=[upstream("main", redis_server.port, request_timeout=5.0)],
                      policies=POLICIES)
    c = client(sw.port)
    assert c.set("tc", "0") is True
    with sw.raw(timeout=5) as tx:
        assert tx.request("MULTI") == b"+OK\r\n"
        assert tx.request("SET", "tc", "1") == b"+QUEUED\r\n"  # pinned now
        redis_server.sigstop()
        tx.send(encode_command("SET", "td", "2") + encode_command("EXEC"))
        time.sleep(0.2)
        redis_server.kill9()
        assert [tx.read_reply() for _ in range(2)] == [b"+QUEUED\r\n", b"*2\r\n+OK\r\n+OK\r\n"]
        assert tx.request("GET", "tc") == b"$1\r\n1\r\n"  # the client was not disconnected
    assert c.mget("tc", "td") == [b"1", b"2"]
    redis_server.restart()
    direct = client(redis_server.port)
    wait_until(lambda: direct.mget("tc", "td") == [b"1", b"2"], timeout=10,
               what="the journaled transaction in Redis")


def test_a_read_racing_a_write_in_flight_answers_the_written_value(redis_server, make_seawall):
    # The write's send dropped the key's copy; the read, answered without Redis while the write
    # still waits for it, waits for the write's outcome (journaled at its deadline) and answers
    # its value instead of failing.
    sw = make_seawall(upstreams=[upstream("main", redis_server.port, request_timeout=0.4)],
                      policies=POLICIES)
    c = client(sw.port)
    assert c.set("r", "before") is True and c.get("r") == b"before"
    with sw.raw(timeout=5) as writer:
        redis_server.sigstop()
        try:
            writer.send(encode_command("SET", "r", "after"))
            time.sleep(0.05)
            force(sw, "open")  # the read is answered by the fallback chain at once
            started = time.monotonic()
            assert client(sw.port).get("r") == b"after"
            assert time.monotonic() - started < 1.0
            assert writer.read_reply() == b"+OK\r\n"
        finally:
            redis_server.sigcont()
    force(sw, "reset")
    direct = client(redis_server.port)
    wait_until(lambda: direct.get("r") == b"after", timeout=10, what="the journaled value in Redis")


def test_a_pinned_set_leaves_its_value_as_the_copy(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    with sw.raw(timeout=5) as pinned:
        assert pinned.request("WATCH", "other") == b"+OK\r\n"  # pins the session
        assert pinned.request("SET", "pk", "written") == b"+OK\r\n"
        force(sw, "open")
        assert client(sw.port).get("pk") == b"written"


def test_writes_redis_refused_unrun_leave_the_copies(redis_server, make_seawall):
    # A write Redis refuses before running it (-NOREPLICAS, -OOM; in a cluster -CLUSTERDOWN while
    # another shard fails over) changed nothing: the copies its sending dropped go back, so the
    # keys can still be read from the L1 when Redis stops answering their reads too.
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    c = client(sw.port)
    direct = client(redis_server.port)
    assert c.set("refused:set", "v0") is True
    assert c.set("refused:del", "d0") is True
    direct.rpush("refused:list", "a", "b")
    assert c.lrange("refused:list", 0, -1) == [b"a", b"b"]
    assert c.set("refused:oom", "o0") is True
    assert c.set("ran", "r0") is True
    direct.config_set("min-replicas-to-write", "1")
    try:
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            c.set("refused:set", "v1")
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            c.delete("refused:del")
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            c.rpush("refused:list", "c")
    finally:
        direct.config_set("min-replicas-to-write", "0")
    direct.config_set("maxmemory-policy", "noeviction")
    direct.config_set("maxmemory", "1")
    try:
        with pytest.raises(redis.ResponseError, match="OOM"):
            c.set("refused:oom", "o1")
    finally:
        direct.config_set("maxmemory", "0")
    # A write that ran drops its copy as before (no value of its own: INCR's reply is not GET's).
    with pytest.raises(redis.ResponseError, match="not an integer"):
        c.incr("ran")  # refused too, but with a command error: not trusted as unrun
    assert direct.get("refused:set") == b"v0" and direct.exists("refused:del") == 1
    force(sw, "open")
    assert c.get("refused:set") == b"v0"
    assert c.get("refused:del") == b"d0"
    assert c.lrange("refused:list", 0, -1) == [b"a", b"b"]
    assert c.get("refused:oom") == b"o0"
    with pytest.raises(redis.RedisError):
        c.get("ran")  # its copy went with the write: on_unavailable is error


def ordered_writes(sw) -> float:
    families = scrape(sw.admin_port)
    return (sample(families, "seawall_writes_ordered_total", how="moved") +
            sample(families, "seawall_writes_ordered_total", how="waited"))


def test_writes_of_one_key_from_two_clients_keep_their_order(redis_server, make_seawall):
    # Redis holds both SETs back (CLIENT PAUSE WRITE) until after the breaker is forced open, so
    # no re-read of the key can follow their replies: the copy must come from knowing their order.
    sw = make_seawall(upstreams=[upstream("main", redis_server.port, request_timeout=3.0)],
                      policies=POLICIES)
    direct = client(redis_server.port)
    with sw.raw(timeout=5) as first, sw.raw(timeout=5) as second:
        assert first.request("PING") == second.request("PING") == b"+PONG\r\n"
        assert direct.execute_command("CLIENT", "PAUSE", "700", "WRITE")
        first.send(encode_command("SET", "o", "first"))
        time.sleep(0.15)
        second.send(encode_command("SET", "o", "second"))
        time.sleep(0.15)
        force(sw, "open")
        assert first.read_reply() == b"+OK\r\n" and second.read_reply() == b"+OK\r\n"
    assert client(sw.port).get("o") == b"second"  # the L1 copy: nothing reaches Redis
    force(sw, "reset")
    wait_until(lambda: direct.get("o") == b"second", timeout=10, what="the last value in Redis")
    assert client(sw.port).get("o") == b"second"


def test_a_write_waits_for_a_transaction_of_its_key_in_flight(redis_server, make_seawall):
    # The transaction runs on its own pinned connection: the plain SET cannot share it, so it
    # waits for the EXEC's reply, and is then sent (here: journaled, the breaker being open).
    sw = make_seawall(upstreams=[upstream("main", redis_server.port, request_timeout=3.0)],
                      policies=POLICIES)
    direct = client(redis_server.port)
    before = ordered_writes(sw)
    with sw.raw(timeout=5) as tx, sw.raw(timeout=5) as plain:
        assert plain.request("PING") == b"+PONG\r\n"
        assert direct.execute_command("CLIENT", "PAUSE", "700", "WRITE")
        tx.send(encode_command("MULTI") + encode_command("SET", "t", "tx") +
                encode_command("EXEC"))
        time.sleep(0.15)
        plain.send(encode_command("SET", "t", "plain"))
        time.sleep(0.15)
        force(sw, "open")
        assert [tx.read_reply() for _ in range(3)] == [b"+OK\r\n", b"+QUEUED\r\n",
                                                       b"*1\r\n+OK\r\n"]
        assert plain.read_reply() == b"+OK\r\n"
    assert ordered_writes(sw) == before + 1  # it waited
    assert client(sw.port).get("t") == b"plain"
    force(sw, "reset")
    wait_until(lambda: direct.get("t") == b"plain", timeout=10, what="the last value in Redis")
