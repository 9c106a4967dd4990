"""Sessions with connection state fail open too, and never run ahead of the journal.

RESP3 clients (HELLO 3 without AUTH) stay on the shared path, in RESP3: HELLO is answered by
seawall, so it works while Redis is down, and every fallback answer comes in RESP3. Pinned
sessions (WATCH, MULTI, SELECT n, a client's own AUTH) obey the breaker and the journal: while a
journal waits, their writes are journaled, not sent ahead of it (the lost update of issue 9:
a pinned SET reached Redis while the breaker was open, then the replay overwrote it with an
older journaled value). MULTI runs on the upstream of its keys and invalidates the L1 copies
of what EXEC wrote.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from faults import upstream, client  # noqa: E402
from harness import RedisServer, encode_command, http, wait_until  # noqa: E402

POLICIES = [{"match": "*", "l1": {"ttl": "60s", "max_stale": "60s"}, "writes_when_open": "journal",
             "on_unavailable": "miss"}]


def force(sw, name: str, action: str) -> None:
    status, _, body = http(sw.admin_port, f"/breakers/{name}/{action}", method="POST")
    assert status == 200, body


def journal_entries(sw) -> int:
    status, _, body = http(sw.admin_port, "/metrics")
    assert status == 200
    for line in (body if isinstance(body, str) else body.decode()).splitlines():
        if line.startswith("seawall_journal_entries") and 'upstream="main"' in line:
            return int(float(line.split()[-1]))
    raise AssertionError("no seawall_journal_entries metric")


def test_resp3_hello_and_fallback_answers_while_redis_is_down(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    with sw.raw(timeout=5) as c:
        hello = c.request("HELLO", "3")
        assert hello.startswith(b"%7\r\n") and b"proto\r\n:3\r\n" in hello
        assert c.request("SET", "k", "v1") == b"+OK\r\n"
        assert c.request("GET", "k") == b"$2\r\nv1\r\n"  # a RESP3 copy in the L1
        assert c.request("HSET", "h", "f", "v") == b":1\r\n"
        assert c.request("HGETALL", "h") == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
        assert c.request("GET", "nope") == b"_\r\n"
    redis_server.kill9()
    force(sw, "main", "open")
    with sw.raw(timeout=5) as c:
        # A new RESP3 client while Redis is dead: HELLO still works (it never pinned).
        hello = c.request("HELLO", "3", "SETNAME", "app")
        assert hello.startswith(b"%7\r\n"), hello
        assert c.request("GET", "k") == b"$2\r\nv1\r\n"
        assert c.request("HGETALL", "h") == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
        assert c.request("MGET", "k", "nope") == b"*2\r\n$2\r\nv1\r\n_\r\n"
        assert c.request("GET", "never-seen") == b"_\r\n"  # a RESP3 miss
        assert c.request("SET", "k2", "v2") == b"+OK\r\n"  # journaled
        assert c.request("CLIENT", "GETNAME") == b"$3\r\napp\r\n"
        # HELLO 2 goes back to RESP2 answers.
        assert c.request("HELLO", "2").startswith(b"*14\r\n")
        assert c.request("GET", "never-seen-2") == b"$-1\r\n"
    redis_server.restart()
    force(sw, "main", "reset")
    direct = client(redis_server.port)
    wait_until(lambda: direct.get("k2") == b"v2", 5.0, "the RESP3 client's journaled SET in Redis")


def test_pinned_write_is_journaled_behind_earlier_journaled_writes(redis_server, make_seawall):
    """The lost update: journal j=v1 (shared), then j=v2 from a pinned session; Redis must end
    with v2."""
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    shared = client(sw.port)
    direct = client(redis_server.port)
    with sw.raw(timeout=5) as pinned:
        assert pinned.request("WATCH", "x") == b"+OK\r\n"  # pins this session
        assert pinned.request("SET", "j", "v0") == b"+OK\r\n"
        force(sw, "main", "open")
        assert shared.set("j", "v1") is True  # journaled
        assert pinned.request("SET", "j", "v2") == b"+OK\r\n"  # journaled too, after v1
        assert pinned.request("GET", "unseen") == b"$-1\r\n"  # the fallback chain's miss
        assert direct.get("j") == b"v0", "a pinned write reached Redis ahead of the journal"
        force(sw, "main", "reset")
        wait_until(lambda: journal_entries(sw) == 0, 5.0, "journal replayed")
        assert direct.get("j") == b"v2"
        assert pinned.request("GET", "j") == b"$2\r\nv2\r\n"


def test_exec_while_journal_waits_is_aborted_not_run_ahead(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    shared = client(sw.port)
    direct = client(redis_server.port)
    with sw.raw(timeout=5) as tx:
        assert tx.request("MULTI") == b"+OK\r\n"
        assert tx.request("SET", "t", "from-tx") == b"+QUEUED\r\n"
        force(sw, "main", "open")
        assert shared.set("t", "journaled") is True
        assert tx.request("EXEC").startswith(b"-EXECABORT")
    assert direct.get("t") is None
    force(sw, "main", "reset")
    wait_until(lambda: direct.get("t") == b"journaled", 5.0, "journal replayed")


def test_transaction_of_sets_while_unavailable_is_journaled_whole(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    shared = client(sw.port)
    direct = client(redis_server.port)
    force(sw, "main", "open")
    with sw.raw(timeout=5) as tx:
        assert tx.request("MULTI") == b"+OK\r\n"
        assert tx.request("SET", "x", "1") == b"+QUEUED\r\n"
        assert tx.request("SET", "y", "2") == b"+QUEUED\r\n"
        assert tx.request("EXEC") == b"*2\r\n+OK\r\n+OK\r\n"
        assert shared.mget("x", "y") == [b"1", b"2"]  # read your writes, from the journal
        # Anything seawall cannot run later itself is a queueing error: nothing is journaled.
        assert tx.request("MULTI") == b"+OK\r\n"
        assert tx.request("SET", "x", "3") == b"+QUEUED\r\n"
        assert tx.request("INCR", "n").startswith(b"-UNAVAILABLE")
        assert tx.request("EXEC").startswith(b"-EXECABORT")
        assert tx.request("MULTI") == b"+OK\r\n"
        assert tx.request("SET", "x", "4") == b"+QUEUED\r\n"
        assert tx.request("DISCARD") == b"+OK\r\n"
    assert journal_entries(sw) == 2
    assert shared.get("x") == b"1"
    force(sw, "main", "reset")
    wait_until(lambda: direct.mget("x", "y") == [b"1", b"2"], 5.0, "journal replayed")
    assert direct.get("n") is None


def test_multi_routes_by_its_keys_and_refuses_cross_upstream(tmp_path, redis_server,
                                                              make_seawall):
    second = RedisServer(tmp_path / "second")
    second.start()
    try:
        sw = make_seawall(
            upstreams=[upstream("main", redis_server.port), upstream("second", second.port)],
            routes=[{"prefix": "b/", "upstream": "second"}], policies=POLICIES)
        one, two = client(redis_server.port), client(second.port)
        with sw.raw(timeout=5) as c:
            assert c.request("MULTI") == b"+OK\r\n"
            assert c.request("SET", "b/tx", "1") == b"+QUEUED\r\n"
            assert c.request("INCR", "b/n") == b"+QUEUED\r\n"
            assert c.request("EXEC") == b"*2\r\n+OK\r\n:1\r\n"
            assert two.get("b/tx") == b"1" and one.get("b/tx") is None
            # Keys of two upstreams in one transaction: refused as Redis Cluster refuses
            # cross-slot ones, and nothing runs.
            assert c.request("MULTI") == b"+OK\r\n"
            assert c.request("SET", "a/tx", "1") == b"+QUEUED\r\n"
            assert c.request("SET", "b/tx", "2").startswith(b"-CROSSSLOT")
            assert c.request("EXEC").startswith(b"-EXECABORT")
            assert one.get("a/tx") is None and two.get("b/tx") == b"1"
            # Empty and discarded transactions answer as Redis does.
            assert c.request("MULTI") == b"+OK\r\n"
            assert c.request("EXEC") == b"*0\r\n"
            assert c.request("MULTI") == b"+OK\r\n"
            assert c.request("DISCARD") == b"+OK\r\n"
            assert c.request("EXEC") == b"-ERR EXEC without MULTI\r\n"
    finally:
        second.stop()


def test_exec_invalidates_the_l1_copies_it_wrote(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    c = client(sw.port)
    assert c.set("m", "old") is True
    assert c.get("m") == b"old"  # the L1 copy
    with sw.raw(timeout=5) as tx:
        assert tx.request("MULTI") == b"+OK\r\n"
        assert tx.request("SET", "m", "new") == b"+QUEUED\r\n"
        assert tx.request("EXEC") == b"*1\r\n+OK\r\n"
    force(sw, "main", "open")
    # Redis cannot answer: the old copy must not come back (nil: a miss, the app reads its DB).
    assert c.get("m") != b"old"
    force(sw, "main", "reset")
    assert c.get("m") == b"new"


def test_every_transaction_of_a_session_leaves_the_values_it_wrote(redis_server, make_seawall):
    # Pipelined like redis-py's transaction pipeline, several on one connection: each EXEC's SETs
    # become the L1 copies (the positions of queued commands restart at every MULTI).
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    c = client(sw.port)
    with sw.raw(timeout=5) as tx:
        for i in range(0, 8, 2):
            tx.send(encode_command("MULTI") + encode_command("SET", f"t{i}", f"x{i}") +
                    encode_command("SET", f"t{i + 1}", f"y{i}") + encode_command("EXEC"))
            assert [tx.read_reply() for _ in range(4)] == [
                b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n", b"*2\r\n+OK\r\n+OK\r\n"]
    force(sw, "main", "open")
    assert [c.get(f"t{i}") for i in range(8)] == [
        f"{'xy'[i % 2]}{i - i % 2}".encode() for i in range(8)]


def test_aborted_exec_keeps_the_copies_of_its_keys(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    c = client(sw.port)
    assert c.set("a", "1") is True and c.set("b", "2") is True
    with sw.raw(timeout=5) as tx:
        assert tx.request("MULTI") == b"+OK\r\n"
        assert tx.request("SET", "a", "new") == b"+QUEUED\r\n"
        force(sw, "main", "open")
        assert tx.request("SET", "b", "new") == b"+QUEUED\r\n"
        assert tx.request("EXEC").startswith(b"-EXECABORT")
    # Nothing ran: the copies of both keys still answer.
    assert c.get("a") == b"1" and c.get("b") == b"2"
    force(sw, "main", "reset")
    assert c.get("a") == b"1" and c.get("b") == b"2"


def test_select_session_writes_while_unavailable_are_refused(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    direct = client(redis_server.port)
    with sw.raw(timeout=5) as c:
        assert c.request("SELECT", "3") == b"+OK\r\n"
        force(sw, "main", "open")
        # The journal and the L1 are about database 0: refused, never sent ahead.
        assert c.request("SET", "d3", "v").startswith(b"-UNAVAILABLE")
        assert c.request("GET", "d3").startswith(b"-UNAVAILABLE")
        force(sw, "main", "reset")
        assert c.request("SET", "d3", "v") == b"+OK\r\n"
    assert direct.get("d3") is None  # database 0 untouched
    with redis_server.raw() as r:
        assert r.request("SELECT", "3") == b"+OK\r\n"
        assert r.request("GET", "d3") == b"$1\r\nv\r\n"


def test_a_transaction_whose_pin_fails_is_journaled(redis_server, make_seawall):
    # Redis dies just before a MULTI pins: the breaker does not know it yet (closed), and the
    # pin's connection is refused. A transaction of plain SETs of journal-mode keys fails open
    # all the same: queued by seawall and journaled whole at EXEC, as while the breaker is open.
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES)
    c = client(sw.port)
    assert c.set("pf", "0") is True
    with sw.raw(timeout=5) as tx:
        redis_server.kill9()
        tx.send(encode_command("MULTI") + encode_command("SET", "pf", "1") +
                encode_command("SET", "pg", "2") + encode_command("EXEC"))
        assert [tx.read_reply() for _ in range(4)] == [
            b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n", b"*2\r\n+OK\r\n+OK\r\n"]
    assert c.mget("pf", "pg") == [b"1", b"2"]  # from the journal
    redis_server.restart()
    direct = client(redis_server.port)
    wait_until(lambda: direct.mget("pf", "pg") == [b"1", b"2"], timeout=10,
               what="the journaled transaction in Redis")
