"""Differences from Redis found by running Redis's own Tcl test suite through seawall
(tests/compat/run-redis-suite.sh, results in tests/compat/RESULTS.md), each checked here against
a real redis-server: the same bytes sent straight to Redis and through seawall must get the same
bytes back and end the connection the same way.
"""

from __future__ import annotations

import socket

import pytest

from harness import RawConnection


def exchange(port: int, payload: bytes, half_close: bool = False,
             timeout: float = 5.0) -> tuple[bytes, bool]:
    """Sends `payload` (then shuts down the sending side if `half_close`); returns everything
    received until the peer closes or `timeout` passes without data, and whether it closed."""
    with RawConnection(port) as c:
        c.send(payload)
        if half_close:
            c.sock.shutdown(socket.SHUT_WR)
        return c.read_until_closed(timeout)


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
