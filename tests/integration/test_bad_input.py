"""Hostile and broken clients: each gets what Redis would give it (or a protocol error and a
closed connection), while a client connected before it keeps getting correct answers, the proxy
stays up, and its memory and file descriptors stay bounded.

The expectations for malformed input were taken from redis-server 7.0 itself:
  *1\\r\\n$abc\\r\\n        -> -ERR Protocol error: invalid bulk length, close
  *-1 / *0 / *-5, blank   -> ignored, the next command is answered
  *1\\r\\n:5\\r\\n          -> -ERR Protocol error: expected '$', got ':', close
"""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
import time

import pytest

from harness import ConnectionClosed, RawConnection, encode_command, wait_until

# Small limits so each one can be crossed cheaply.
LIMITS = {
    "max_bulk": "1mb",
    "max_array": 1000,
    "max_inline": "1kb",
    "client_output_buffer": "1mb",
}
# Growth of seawall's RSS over its idle RSS at the test's start: a sanitizer build starts near
# 200 MB on its own (shadow memory, allocator metadata), a plain one at about 15 MB.
RSS_GROWTH_LIMIT_KIB = 200 * 1024


class Bystander:
    """A well-behaved client connected before the bad one; a thread keeps issuing SET/GET/INCR
    and checks every reply, so a stall or a crossed reply anywhere shows up as an error."""

    def __init__(self, port: int):
        self.conn = RawConnection(port, timeout=5)
        self.errors: list[str] = []
        self.count = 0
        self.max_latency = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        i = 0
        try:
            while not self._stop.is_set():
                i += 1
                value = b"by-%d-" % i + b"v" * (i % 300)
                start = time.monotonic()
                replies = []
                self.conn.send(encode_command("SET", "bystander", value)
                               + encode_command("GET", "bystander")
                               + encode_command("INCR", "bystander:n"))
                replies = self.conn.read_replies(3)
                self.max_latency = max(self.max_latency, time.monotonic() - start)
                expected = [b"+OK\r\n", b"$%d\r\n%s\r\n" % (len(value), value), b":%d\r\n" % i]
                if replies != expected:
                    self.errors.append(f"round {i}: {replies!r} != {expected!r}")
                    return
                self.count += 1
                time.sleep(0.002)
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            self.errors.append(f"round {i}: {type(e).__name__}: {e}")

    def check(self) -> None:
        """Stops the thread; asserts it never failed and made progress."""
        self._stop.set()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "bystander hung"
        assert not self.errors, [e[:400] for e in self.errors]
        assert self.count > 0, "bystander made no progress"
        # One more exchange after the bad client is gone.
        assert self.conn.request("PING") == b"+PONG\r\n"
        self.conn.close()


@pytest.fixture
def proxy(make_seawall):
    return make_seawall(limits=LIMITS)


@pytest.fixture
def bystander(proxy):
    b = Bystander(proxy.port)
    yield b
    b.check()
    assert proxy.alive(), f"seawall died\n{proxy.log_tail()}"


def expect_protocol_error_and_close(conn: RawConnection, timeout: float = 5.0) -> bytes:
    data, closed = conn.read_until_closed(timeout)
    assert closed, f"connection still open after {timeout}s; got {data[:200]!r}"
    assert data.startswith(b"-ERR Protocol error"), data[:200]
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == 1, data[:200]
    return data


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


PROTOCOL_ERRORS = {
    "bulk_length_not_a_number": b"*1\r\n$abc\r\n",
    "multibulk_length_not_a_number": b"*abc\r\n",
    "negative_bulk_length": b"*2\r\n$3\r\nGET\r\n$-5\r\n",
    "null_bulk_in_request": b"*2\r\n$3\r\nGET\r\n$-1\r\n",
    "integer_instead_of_bulk": b"*1\r\n:5\r\n",
    "simple_string_instead_of_bulk": b"*2\r\n$3\r\nGET\r\n+foo\r\n",
    "array_instead_of_bulk": b"*2\r\n$3\r\nGET\r\n*1\r\n",
    "multibulk_length_overflow": b"*3000000000\r\n",
    "multibulk_length_huge": b"*99999999999999999999999999\r\n",
    "bulk_length_huge": b"*2\r\n$3\r\nGET\r\n$99999999999999999999999\r\n",
    "array_over_max_array": b"*1001\r\n",
    # The proxy must refuse on the header alone, without waiting for 2 MB of body.
    "bulk_over_max_bulk": b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n",
    "bulk_over_max_bulk_with_body": b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n" + b"x" * 4096,
    # Redis waits for a CR here, so a complete line follows to make the header invalid.
    "newline_without_cr": b"*1\n$4\nPING\n" + b"PING\r\n",
    "inline_over_max_inline_unterminated": b"GET " + b"a" * 4096,
    "inline_over_max_inline_terminated": b"GET " + b"a" * 2000 + b"\r\n",
    # Redis bounds a header line at 64 KiB whatever the inline limit; so may the proxy.
    "multibulk_header_over_64kb": b"*" + b"1" * 70000,
}


@pytest.mark.parametrize("payload", PROTOCOL_ERRORS.values(), ids=PROTOCOL_ERRORS.keys())
def test_protocol_error_closes_only_that_client(proxy, bystander, payload):
    with proxy.raw() as bad:
        # A good command first: the error must not eat replies already owed.
        bad.send(encode_command("SET", "before", "1") + payload)
        assert bad.read_reply() == b"+OK\r\n"
        expect_protocol_error_and_close(bad)


def test_protocol_error_after_pipelined_commands_keeps_their_replies(proxy, bystander):
    with proxy.raw() as bad:
        good = b"".join(encode_command("INCR", "pipelined") for _ in range(50))
        bad.send(good + b"*1\r\n$abc\r\n" + encode_command("INCR", "pipelined"))
        assert bad.read_replies(50) == [b":%d\r\n" % i for i in range(1, 51)]
        expect_protocol_error_and_close(bad)
    with proxy.raw() as check:
        # Nothing after the bad frame was executed.
        assert check.request("GET", "pipelined") == b"$2\r\n50\r\n"


def test_protocol_error_split_across_reads(proxy, bystander):
    with proxy.raw() as bad:
        for b in b"*2\r\n$3\r\nGET\r\n$-7\r\n":
            bad.send(bytes([b]))
            time.sleep(0.001)
        expect_protocol_error_and_close(bad)


IGNORED_LIKE_REDIS = {
    "empty_multibulk": b"*0\r\n",
    "null_multibulk": b"*-1\r\n",
    "blank_inline_line": b"\r\n",
}


@pytest.mark.parametrize("payload", IGNORED_LIKE_REDIS.values(), ids=IGNORED_LIKE_REDIS.keys())
def test_input_redis_ignores_is_ignored(proxy, redis_server, bystander, payload):
    for port in (redis_server.port, proxy.port):
        with RawConnection(port, timeout=5) as c:
            c.send(payload + b"*1\r\n$4\r\nPING\r\n")
            assert c.read_reply() == b"+PONG\r\n", f"port {port}"
            assert c.request("ECHO", "still") == b"$5\r\nstill\r\n"


def test_negative_multibulk_length_ignored_or_refused(proxy, bystander):
    """Redis ignores *-5 like *-1; a protocol error and close is also acceptable."""
    with proxy.raw() as c:
        c.send(b"*-5\r\n" + encode_command("PING"))
        try:
            first = c.read_reply()
        except ConnectionClosed as e:
            pytest.fail(f"closed without a reply: {e}")
        if first.startswith(b"-ERR Protocol error"):
            _, closed = c.read_until_closed(5)
            assert closed
        else:
            assert first == b"+PONG\r\n"


@pytest.mark.parametrize("seed", range(6))
def test_garbage_bytes(proxy, bystander, seed):
    """Random bytes: any answer or a close is fine; a crash, a hang of others or a leak is not."""
    rnd = random.Random(seed)
    prefix = [b"", b"*", b"*3\r\n", b"$", b"*2\r\n$3\r\nGET\r\n$"][seed % 5]
    payload = prefix + rnd.randbytes(rnd.randrange(1, 8192))
    with proxy.raw(timeout=5) as bad:
        try:
            bad.send(payload)
            bad.send(encode_command("PING"))
        except (ConnectionResetError, BrokenPipeError):
            pass
        bad.read_until_closed(1.0)
    assert proxy.alive()


def test_garbage_never_reaches_the_upstream_as_a_write(proxy, redis_server, bystander):
    """A frame broken in its middle must not be forwarded in part: SET must not run."""
    with proxy.raw() as bad:
        bad.send(b"*3\r\n$3\r\nSET\r\n$4\r\nwrit\r\n$-9\r\nvalue\r\n")
        expect_protocol_error_and_close(bad)
    with redis_server.raw() as direct:
        assert direct.request("EXISTS", "writ") == b":0\r\n"


def _abort(sock: socket.socket) -> None:
    """Closes with RST instead of FIN (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


VANISHING = {
    "half_header": b"*3\r\n$3\r\nSE",
    "half_bulk_length": b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10",
    "half_payload": b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + b"p" * 50000,
    "half_inline": b"SET k partial-inline-with-no-end",
    # Short: 20 of these run back to back in Redis while the bystander waits behind them.
    "full_command_then_gone": encode_command("DEBUG", "SLEEP", "0.01"),
    "many_commands_then_gone": b"".join(encode_command("INCR", "gone") for _ in range(5000)),
}


@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize("payload", VANISHING.values(), ids=VANISHING.keys())
def test_client_vanishing_mid_command(proxy, redis_server, bystander, payload, how):
    baseline = open_fds(proxy.pid)
    for _ in range(20):
        c = proxy.raw()
        c.send(payload)
        if how == "rst":
            _abort(c.sock)
        else:
            c.close()
    # The half-sent SET never happened.
    with redis_server.raw() as direct:
        assert direct.request("GET", "k") == b"$-1\r\n"
    # Every session was cleaned up (DEBUG SLEEP replies come back to closed clients meanwhile).
    wait_until(lambda: open_fds(proxy.pid) <= baseline + 2, 10,
               f"seawall fds back to ~{baseline} (now {open_fds(proxy.pid)})")
    assert proxy.alive()


def test_client_vanishing_while_large_reply_is_written(proxy, redis_server, bystander):
    with redis_server.raw() as direct:
        assert direct.request("SET", "large", b"L" * (900 * 1024)) == b"+OK\r\n"
    baseline = open_fds(proxy.pid)
    for i in range(30):
        c = proxy.raw(rcvbuf=4096)
        c.send(encode_command("GET", "large") * 3)
        c.sock.recv(100)
        if i % 2:
            _abort(c.sock)
        else:
            c.close()
    wait_until(lambda: open_fds(proxy.pid) <= baseline + 2, 10, "seawall fds back to baseline")
    assert proxy.alive()


def test_client_that_never_reads_is_closed_and_memory_stays_bounded(proxy, redis_server,
                                                                     bystander):
    value_size = 256 * 1024
    with redis_server.raw() as direct:
        assert direct.request("SET", "big", b"B" * value_size) == b"+OK\r\n"
    request = encode_command("GET", "big") * 64
    idle_rss = proxy.rss_kib()
    peak_rss = idle_rss
    readers = []
    for _ in range(3):
        c = proxy.raw(rcvbuf=16 * 1024)
        c.settimeout(2.0)
        readers.append(c)
    closed_while_sending: set[int] = set()
    blocked: set[int] = set()  # the proxy stopped reading it (a send timed out mid-frame)
    # Up to 8000 GETs each, 2 GB of replies; none are read.
    deadline = time.monotonic() + 60
    for _ in range(125):
        for idx, c in enumerate(readers):
            if idx in closed_while_sending or idx in blocked:
                continue
            try:
                c.send(request)
            except (ConnectionResetError, BrokenPipeError):
                closed_while_sending.add(idx)
            except socket.timeout:
                blocked.add(idx)
        peak_rss = max(peak_rss, proxy.rss_kib())
        assert peak_rss - idle_rss < RSS_GROWTH_LIMIT_KIB, (
            f"seawall RSS {peak_rss} KiB (idle {idle_rss} KiB) while clients do not read")
        if len(closed_while_sending) + len(blocked) == len(readers):
            break
        if time.monotonic() > deadline:
            break
    # Reading now could save a client that seawall has not got round to closing yet (its kernel
    # socket buffers take the first few MB), so first wait, still without reading, until seawall
    # has closed every one that it did not stop reading from.
    expected_closes = len(readers) - len(closed_while_sending) - len(blocked)
    wait_until(lambda: proxy.log_text().count("closed: output buffer over") >= expected_closes,
               30, f"{expected_closes} client(s) closed past client_output_buffer")
    # Now read: a closed client yields the few replies that were buffered, then EOF or reset.
    for idx, c in enumerate(readers):
        nbytes, closed = c.drain(timeout=10, limit=64 * 1024 * 1024)
        assert idx in closed_while_sending or closed, (
            f"client {idx}: not closed past client_output_buffer; read {nbytes} bytes")
        assert nbytes < 64 * 1024 * 1024, f"client {idx} was sent {nbytes} bytes"
        c.close()
    assert proxy.alive()
    wait_until(lambda: proxy.rss_kib() - idle_rss < RSS_GROWTH_LIMIT_KIB, 10,
               "seawall RSS back under the limit")
    with proxy.raw() as after:
        assert after.request("STRLEN", "big") == b":%d\r\n" % value_size
