"""Memory per client: an idle session holds no read buffer, and what a large request or reply made
a session grow is given back once it is idle (seawall_session_buffer_bytes on /metrics, summed by
each worker's sweep once a second; a session idle for 2 s is trimmed). Large values still work,
whole and split across many reads.
"""

from __future__ import annotations

import time

from harness import (RawConnection, encode_command, open_idle_clients, raise_nofile_limit,
                     sample, scrape, seawall_binary, wait_until)

MB = 1024 * 1024
# What a few idle sessions may still hold: nothing but what the sweep cannot free (containers
# below their small-string size hold no heap at all).
IDLE_BYTES = 64 * 1024


def sanitized() -> bool:
    """Whether the binary under test is an ASan/TSan build: its allocator pads every block with
    red zones and keeps freed memory in quarantine, so RSS says little about seawall's own."""
    with open(seawall_binary(), "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data
# Sweep once a second + 2 s idle before a trim, with slack for a slow (sanitizer) build.
TRIM_WAIT_S = 15


def buffer_bytes(seawall) -> float:
    return sample(scrape(seawall.admin_port), "seawall_session_buffer_bytes")


def wait_buffers_above(seawall, limit: float) -> None:
    # Seen before the trim: the first sweep after the burst finds the session busy (idle < 2 s).
    wait_until(lambda: buffer_bytes(seawall) > limit, 5,
               f"seawall_session_buffer_bytes above {limit:.0f}", interval=0.1)


def wait_buffers_below(seawall, limit: float) -> None:
    wait_until(lambda: buffer_bytes(seawall) < limit, TRIM_WAIT_S,
               f"seawall_session_buffer_bytes below {limit:.0f} "
               f"(now {buffer_bytes(seawall):.0f})", interval=0.2)


def test_large_value_split_across_reads_then_memory_given_back(seawall):
    value = bytes(range(256)) * (4 * 1024)  # 1 MiB, every byte value
    command = encode_command("SET", "big", value)
    with RawConnection(seawall.port) as c:
        # The command arrives in pieces: the session keeps its incomplete command's buffer
        # (growing it once to the bulk's size) across the reads.
        for start in range(0, len(command), 64 * 1024):
            c.send(command[start:start + 64 * 1024])
            time.sleep(0.002)
        assert c.read_reply() == b"+OK\r\n"
        assert c.request("GET", "big") == b"$%d\r\n" % len(value) + value + b"\r\n"
        # Split inside the length line and inside the CRLFs too.
        small = encode_command("SET", "k", "v" * 1000)
        for i in range(len(small)):
            c.send(small[i:i + 1])
        assert c.read_reply() == b"+OK\r\n"
        # The SET's reply slot keeps a copy of its arguments (for the L1 and the journal) until
        # the idle session is trimmed.
        wait_buffers_above(seawall, MB)
        wait_buffers_below(seawall, IDLE_BYTES)
        # The trimmed session still works, large value and all.
        assert c.request("GET", "big") == b"$%d\r\n" % len(value) + value + b"\r\n"
        assert c.request("PING") == b"+PONG\r\n"


def test_pipelined_large_replies_then_memory_given_back(seawall, direct_client):
    value = b"x" * (100 * 1024)
    direct_client.set("v100k", value)
    n = 64
    with RawConnection(seawall.port) as c:
        c.send(b"".join(encode_command("GET", "v100k") for _ in range(n)))
        want = b"$%d\r\n" % len(value) + value + b"\r\n"
        for reply in c.read_replies(n):
            assert reply == want
        # A pipelined burst of large SETs in one send: a read buffer grown past its standard size.
        c.send(b"".join(encode_command("SET", f"p{i}", value) for i in range(n)))
        assert c.read_replies(n) == [b"+OK\r\n"] * n
        wait_buffers_above(seawall, n * len(value) / 2)
        wait_buffers_below(seawall, IDLE_BYTES)
        assert c.request("GET", "p7") == want


def test_idle_clients_hold_no_buffers(make_seawall):
    # 1,000 clients that sent one PING each: a few KB each (it was ~25 KB with a 16 KB read
    # buffer and a 16-slot reply ring per session); none of it in session buffers.
    clients = 1000
    raise_nofile_limit(clients + 512)
    seawall = make_seawall(limits={"max_clients": clients + 100})
    time.sleep(1.5)
    before = seawall.rss_kib()
    conns = open_idle_clients(seawall.port, clients)
    try:
        wait_buffers_below(seawall, IDLE_BYTES)
        per_client_kib = (seawall.rss_kib() - before) / clients
        bound = 40 if sanitized() else 12
        assert per_client_kib < bound, f"{per_client_kib:.1f} KiB per idle client"
        # Each still answers.
        for s in conns[:: clients // 10]:
            s.sendall(encode_command("PING"))
            assert s.recv(64) == b"+PONG\r\n"
    finally:
        for s in conns:
            s.close()
    wait_until(lambda: sample(scrape(seawall.admin_port), "seawall_clients") == 0, 10,
               "every client closed")
