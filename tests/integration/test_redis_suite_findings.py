"""Differences from Redis found by running Redis's own Tcl test suite through seawall
(tests/compat/run-redis-suite.sh, results in tests/compat/RESULTS.md), each checked here against
a real redis-server: the same bytes sent straight to Redis and through seawall must get the same
bytes back and end the connection the same way.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.request

import pytest

from harness import LOOPBACK, RawConnection, encode_command, wait_until


def exchange(port: int, payload: bytes, half_close: bool = False,
             timeout: float = 5.0) -> tuple[bytes, bool]:
    """Sends `payload` (then shuts down the sending side if `half_close`); returns everything
    received until the peer closes or `timeout` passes without data, and whether it closed."""
    with RawConnection(port) as c:
        c.send(payload)
        if half_close:
            c.sock.shutdown(socket.SHUT_WR)
        return c.read_until_closed(timeout)


def pinned_sessions(admin_port: int) -> float:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{admin_port}/metrics", timeout=5) as r:
        body = r.read().decode()
    match = re.search(r"^seawall_pinned_sessions (\S+)$", body, re.MULTILINE)
    assert match, body
    return float(match.group(1))


PINNED_QUIT = {
    # Pinned by SELECT 9: QUIT is relayed, Redis answers +OK and closes; PING is never run.
    "select": encode_command("SELECT", "9") + encode_command("QUIT") + encode_command("PING"),
    "subscribe": encode_command("SUBSCRIBE", "ch") + encode_command("QUIT"),
    "multi": encode_command("MULTI") + encode_command("INCR", "n") + encode_command("QUIT"),
}


@pytest.mark.parametrize("name", sorted(PINNED_QUIT))
def test_quit_on_a_pinned_session_answers_then_closes(seawall, redis_server, name):
    direct = exchange(redis_server.port, PINNED_QUIT[name])
    through = exchange(seawall.port, PINNED_QUIT[name])
    assert direct[1], direct
    assert through == direct
    wait_until(lambda: pinned_sessions(seawall.admin_port) == 0, 5, "the dedicated link to end")


HALF_CLOSED = {
    "select": encode_command("SELECT", "9") + encode_command("SET", "k", "v")
    + encode_command("GET", "k"),
    "watch": encode_command("WATCH", "k") + encode_command("PING") + encode_command("GET", "k"),
    # Under CLIENT REPLY OFF no reply ever comes: the session must still end.
    "reply-off": encode_command("CLIENT", "REPLY", "OFF") + encode_command("SET", "k", "v"),
    "subscribe": encode_command("SUBSCRIBE", "ch"),
    # Pinned for good (replies uncountable): the replies come late, yet before Redis closes.
    "tracking-slow": encode_command("CLIENT", "TRACKING", "ON")
    + encode_command("DEBUG", "SLEEP", "0.2") + encode_command("GET", "k"),
}


@pytest.mark.parametrize("name", sorted(HALF_CLOSED))
def test_pinned_client_that_half_closes_gets_its_replies(seawall, redis_server, name):
    direct = exchange(redis_server.port, HALF_CLOSED[name], half_close=True)
    through = exchange(seawall.port, HALF_CLOSED[name], half_close=True)
    assert direct[1], direct
    assert through == direct
    wait_until(lambda: pinned_sessions(seawall.admin_port) == 0, 5, "the dedicated link to end")


def test_sync_is_relayed_on_a_dedicated_connection(seawall, direct_client):
    """SYNC turns its connection into a replication stream: seawall gives it a connection of its
    own, so the client gets the RDB and then the commands, and the shared connections (and the
    clients pipelining on them meanwhile) are not disturbed."""
    direct_client.config_set("repl-diskless-sync-delay", 0)
    direct_client.config_set("repl-ping-replica-period", 3600)
    direct_client.set("before", "1")
    with RawConnection(seawall.port) as other, RawConnection(seawall.port) as replica:
        replica.send(b"SYNC\r\n")
        # Keep a client busy on the shared connections while the sync starts.
        other.send(b"".join(encode_command("INCR", "busy") for _ in range(200)))
        assert other.read_replies(200)[-1] == b":200\r\n"
        # Newlines (keep-alives) may precede "$<rdb length>\r\n<rdb>" (no CRLF after it).
        stream = b""
        deadline = time.monotonic() + 10
        while True:
            stream += replica.sock.recv(1 << 16)
            header = stream.lstrip(b"\n")
            if b"\r\n" in header:
                length = int(header[1 : header.index(b"\r\n")])
                rdb_end = header.index(b"\r\n") + 2 + length
                if len(header) >= rdb_end:
                    break
            assert time.monotonic() < deadline, stream[:200]
        assert header.startswith(b"$")
        assert header[header.index(b"\r\n") + 2 :].startswith(b"REDIS")
        rest = header[rdb_end:]
        # A write made after the sync reaches the replica as a command.
        assert other.request("SET", "after", "2") == b"+OK\r\n"
        want = encode_command("SET", "after", "2")
        while want not in rest:
            rest += replica.sock.recv(1 << 16)
            assert time.monotonic() < deadline, rest
        assert other.request("GET", "before") == b"$1\r\n1\r\n"


def test_script_kill_is_not_stuck_behind_the_busy_script(make_seawall, redis_server,
                                                         direct_client):
    """With one shared connection the busy script and SCRIPT KILL would share it: the kill gets
    a connection of its own and reaches Redis while the script runs."""
    seawall = make_seawall(upstreams=[{
        "name": "main", "address": redis_server.address, "connections": 1,
        "request_timeout": "10s", "breaker": {"slow_call_duration": "10s"},
    }])
    direct_client.config_set("lua-time-limit", 10)
    with RawConnection(seawall.port) as busy, RawConnection(seawall.port, timeout=5) as admin:
        busy.send(encode_command("EVAL", "while true do end", "0"))
        wait_until(lambda: _script_running(direct_client), 5, "the script to run")
        assert admin.request("SCRIPT", "KILL") == b"+OK\r\n"
        assert busy.read_reply().startswith(b"-ERR Script killed by user with SCRIPT KILL")
        # Both sessions are back on the shared connection.
        assert admin.request("PING", "x") == b"$1\r\nx\r\n"
        assert busy.request("SET", "k", "v") == b"+OK\r\n"


def _script_running(direct) -> bool:
    try:
        direct.ping()
        return False
    except Exception as e:  # -BUSY while the script runs
        return "BUSY" in str(e)


UNSUBSCRIBES = (encode_command("UNSUBSCRIBE", "a", "b", "c") + encode_command("UNSUBSCRIBE")
                + encode_command("PUNSUBSCRIBE", "p*", "q*") + encode_command("PUNSUBSCRIBE")
                + encode_command("SUNSUBSCRIBE", "s") + encode_command("SUNSUBSCRIBE")
                + encode_command("PING"))


def test_unsubscribe_without_subscriptions_answers_as_redis(seawall, redis_server):
    direct = exchange(redis_server.port, UNSUBSCRIBES, half_close=True)
    assert direct[0].count(b"unsubscribe\r\n") == 9, direct  # 4 + 3 p- + 2 s-
    assert exchange(seawall.port, UNSUBSCRIBES, half_close=True) == direct


def test_unsubscribe_replies_do_not_reach_other_clients(make_seawall, redis_server):
    """Redis answers UNSUBSCRIBE a b c with three replies: on a shared connection the two extra
    ones would be taken for the replies of the requests behind it, from other clients."""
    seawall = make_seawall(upstreams=[{"name": "main", "address": redis_server.address,
                                       "connections": 1}])
    with RawConnection(seawall.port) as other, RawConnection(seawall.port) as unsub:
        assert other.request("SET", "k", "v") == b"+OK\r\n"
        for _ in range(20):
            other.send(encode_command("GET", "k") * 50)
            unsub.send(encode_command("UNSUBSCRIBE", "a", "b", "c"))
            assert other.read_replies(50) == [b"$1\r\nv\r\n"] * 50
            assert [r.split(b"\r\n")[4] for r in unsub.read_replies(3)] == [b"a", b"b", b"c"]
        assert other.request("PING") == b"+PONG\r\n"


def test_ping_with_too_many_arguments_is_an_arity_error(seawall, redis_server):
    payload = encode_command("PING", "a", "b") + encode_command("PING", "a")
    assert exchange(seawall.port, payload, half_close=True) == exchange(
        redis_server.port, payload, half_close=True)


PROTOCOL_ERRORS = {
    "not-a-bulk": b"*1\r\n:5\r\n",
    "second-arg": b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
    "newline": b"*1\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(PROTOCOL_ERRORS))
def test_protocol_errors_are_worded_as_redis_words_them(seawall, redis_server, name):
    direct = exchange(redis_server.port, PROTOCOL_ERRORS[name])
    through = exchange(seawall.port, PROTOCOL_ERRORS[name])
    assert direct[0].startswith(b"-ERR Protocol error: expected '$', got "), direct
    assert through == direct
