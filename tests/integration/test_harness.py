"""The fault helpers that the fault tests rely on do what they claim, against a real redis-server."""

from __future__ import annotations

import socket

import pytest

from harness import (LOOPBACK, ConnectionClosed, RawConnection, RedisServer, Seawall,
                     encode_command, free_port, listens_on, ping_ok, pid_alive)


def test_kill9_and_restart_on_the_same_port(redis_server):
    with redis_server.raw() as c:
        assert c.request("SET", "k", "v") == b"+OK\r\n"
        old_pid, port = redis_server.pid, redis_server.port
        redis_server.kill9()
        assert not pid_alive(old_pid)
        with pytest.raises((ConnectionClosed, ConnectionResetError)):
            c.request("GET", "k")
    assert not ping_ok(port)
    redis_server.restart()
    assert redis_server.port == port and redis_server.pid != old_pid
    with redis_server.raw() as c:
        assert c.request("GET", "k") == b"$-1\r\n"  # nothing persisted


def test_sigstop_freezes_and_sigcont_resumes(redis_server):
    with redis_server.raw(timeout=0.5) as c:
        redis_server.sigstop()
        try:
            c.send(encode_command("PING"))
            with pytest.raises(socket.timeout):
                c.read_reply()
        finally:
            redis_server.sigcont()
        c.settimeout(5)
        assert c.read_reply() == b"+PONG\r\n"


def test_raw_reader_returns_whole_nested_replies(redis_server):
    with RawConnection(redis_server.port) as c:
        c.send(encode_command("RPUSH", "l", "a", "") + encode_command("EVAL", "return {1,{2,{}},'x'}", 0)
               + encode_command("LRANGE", "l", 0, -1) + encode_command("GET", "missing"))
        assert c.read_replies(4) == [b":2\r\n", b"*3\r\n:1\r\n*2\r\n:2\r\n*0\r\n$1\r\nx\r\n",
                                     b"*2\r\n$1\r\na\r\n$0\r\n\r\n", b"$-1\r\n"]


def test_free_port_never_hands_out_a_port_twice():
    # A server picks its port before binding it: a second pick in between must not get it too.
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


def test_servers_whose_port_another_process_took_move_to_another(tmp_path):
    # As when a test running in parallel picked the same free port and bound it first.
    taken = socket.socket()
    taken.bind((LOOPBACK, 0))
    taken.listen(1)
    redis = RedisServer(tmp_path / "redis")
    redis.port = taken.getsockname()[1]
    squatter = RedisServer(tmp_path / "squatter")
    proxy = None
    try:
        redis.start()
        assert redis.port != taken.getsockname()[1] and listens_on(redis.pid, redis.port)
        proxy = Seawall(tmp_path / "seawall", redis.port)
        # A Redis on the seawall's port answers its PING: start() must not take that as seawall.
        squatter.port = proxy.port
        squatter.start()
        squatted = proxy.port
        proxy.start()
        assert proxy.port != squatted and listens_on(proxy.pid, proxy.port)
        with RawConnection(proxy.port) as c:
            assert c.request("SET", "k", "through seawall") == b"+OK\r\n"
        with redis.raw() as c:
            assert c.request("GET", "k") == b"$15\r\nthrough seawall\r\n"
        with squatter.raw() as c:
            assert c.request("GET", "k") == b"$-1\r\n"
    finally:
        taken.close()
        if proxy is not None:
            proxy.stop()
        squatter.stop()
        redis.stop()
