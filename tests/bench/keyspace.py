"""The realistic keyspace of the benchmarks: prefilled keys as redis-benchmark -r names them, and a
Zipf-distributed sequence of them with a small pipelined client to drive it.

redis-benchmark -r N replaces __rand_int__ with a random number below N written as %012d, so
prefill(port, N) writes key:000000000000 .. key:%012d(N-1), each a 64-byte value, and every GET of
a redis-benchmark -r N run finds its key.
"""

from __future__ import annotations

import bisect
import random
import select
import socket
import time

VALUE_SIZE = 64


def key_name(i: int) -> str:
    return f"key:{i:012d}"


def _encode(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def prefill(port: int, keys: int, value_size: int = VALUE_SIZE, host: str = "127.0.0.1") -> None:
    """SETs key:%012d for 0 <= i < keys (pipelined, 1000 per batch); each answer must be +OK."""
    value = b"v" * value_size
    with socket.create_connection((host, port), timeout=30) as s:
        for start in range(0, keys, 1000):
            n = min(1000, keys - start)
            s.sendall(b"".join(_encode(b"SET", key_name(i).encode(), value)
                               for i in range(start, start + n)))
            want = b"+OK\r\n" * n
            got = b""
            while len(got) < len(want):
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed during prefill")
                got += chunk
            if got != want:
                raise RuntimeError(f"prefill: unexpected answer {got[:100]!r}")


def zipf_sequence(keys: int, length: int, s: float = 0.99, seed: int = 1) -> list[int]:
    """`length` key indexes drawn from Zipf(s) over `keys` ranks; rank r (0-based) has weight
    1/(r+1)^s. Ranks are shuffled onto key indexes with a fixed seed (the same for every `seed`,
    which only changes the draws: two sequences share their hot keys), so the hot keys are spread
    over the keyspace (and over the L1's shards) instead of being key:0, key:1, ..."""
    rng = random.Random(seed)
    cumulative = []
    total = 0.0
    for r in range(keys):
        total += 1.0 / (r + 1) ** s
        cumulative.append(total)
    rank_to_key = list(range(keys))
    random.Random(12345).shuffle(rank_to_key)
    return [rank_to_key[bisect.bisect_left(cumulative, rng.random() * total)]
            for _ in range(length)]


def get_commands(sequence: list[int]) -> list[bytes]:
    return [_encode(b"GET", key_name(i).encode()) for i in sequence]


def count_replies(buf: bytes, start: int) -> tuple[int, int, int]:
    """Counts the complete bulk/nil/error replies in buf[start:]: (replies, hits, next start).
    A hit is a bulk string ($n with n >= 0); the benchmark's GETs answer nothing else."""
    replies = hits = 0
    n = len(buf)
    while start < n:
        end = buf.find(b"\r\n", start)
        if end < 0:
            break
        kind = buf[start:start + 1]
        if kind == b"$":
            length = int(buf[start + 1:end])
            if length >= 0:
                if end + 2 + length + 2 > n:
                    break
                start = end + 2 + length + 2
                hits += 1
            else:
                start = end + 2
        else:
            start = end + 2  # -ERR, +OK, _ (RESP3 null), :n
        replies += 1
    return replies, hits, start


def drive(port: int, commands: list[bytes], clients: int = 8, pipeline: int = 16,
          timeout: float = 120.0, host: str = "127.0.0.1") -> tuple[float, int, int]:
    """Sends `commands` over `clients` connections, `pipeline` at a time per connection, in one
    thread with select(). Returns (seconds, replies, hits)."""
    conns = [socket.create_connection((host, port), timeout=timeout) for _ in range(clients)]
    for c in conns:
        c.setblocking(False)
    share = [commands[i::clients] for i in range(clients)]
    state = []  # per connection: next index, outstanding, buffer, read offset
    for i in range(clients):
        state.append([0, 0, b"", 0])
    replies = hits = 0
    started = time.monotonic()

    def send_batch(i: int) -> None:
        st = state[i]
        batch = share[i][st[0]:st[0] + pipeline]
        if batch:
            conns[i].setblocking(True)
            conns[i].sendall(b"".join(batch))
            conns[i].setblocking(False)
            st[0] += len(batch)
            st[1] = len(batch)

    for i in range(clients):
        send_batch(i)
    active = {conns[i].fileno(): i for i in range(clients) if state[i][1]}
    try:
        while active:
            if time.monotonic() - started > timeout:
                raise TimeoutError("zipf driver timed out")
            ready, _, _ = select.select(list(active), [], [], 1.0)
            for fd in ready:
                i = active[fd]
                st = state[i]
                chunk = conns[i].recv(1 << 20)
                if not chunk:
                    raise RuntimeError("connection closed by the server")
                st[2] = st[2][st[3]:] + chunk
                got, h, st[3] = count_replies(st[2], 0)
                replies += got
                hits += h
                st[1] -= got
                if st[1] == 0:
                    st[2], st[3] = b"", 0
                    send_batch(i)
                    if st[1] == 0:
                        del active[fd]
    finally:
        for c in conns:
            c.close()
    return time.monotonic() - started, replies, hits
