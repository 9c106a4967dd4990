"""Miss leases (policies[].miss_lease) against a stampede, with a real redis-server killed -9.

While Redis is down, 50 clients (on two worker threads) read one key nothing can answer at the
same instant. Exactly one of them gets the miss; it reads "the database" and writes the value
back (journaled); the 49 others are answered with that value, not with 49 more misses. Without
a write-back, the waiters are answered by the chain again when the lease ends.
"""

from __future__ import annotations

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))

from faults import BreakerLog, client, open_breaker_by_reading, upstream  # noqa: E402
from harness import sample, scrape  # noqa: E402

READERS = 50


def metric(sw, name: str, **labels) -> float:
    return sample(scrape(sw.admin_port), name, **labels)


def start_down(redis_server, make_seawall, lease: str, **policy):
    sw = make_seawall(threads=2, upstreams=[upstream("main", redis_server.port)],
                      policies=[{"match": "u:*", "miss_lease": lease,
                                 "writes_when_open": "journal", **policy},
                                {"match": "*", "on_unavailable": "error"}])
    probe = client(sw.port)
    redis_server.kill9()
    open_breaker_by_reading(lambda: probe.get("other:probe"), BreakerLog(sw.log_path), timeout=3)
    return sw


def read_together(port: int, key: str, on_miss=None, readers: int = READERS):
    """Every reader sends GET `key` at once; the one answered with nil runs `on_miss(client)`.
    Returns (value, seconds) per reader."""
    clients = [client(port) for _ in range(readers)]
    for c in clients:
        c.ping()  # connected before the barrier
    barrier = threading.Barrier(readers)
    results: list = [None] * readers

    def run(i: int) -> None:
        barrier.wait()
        t0 = time.monotonic()
        value = clients[i].get(key)
        results[i] = (value, time.monotonic() - t0)
        if value is None and on_miss is not None:
            on_miss(clients[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    return results


def test_fifty_readers_of_a_missing_key_cost_one_miss(redis_server, make_seawall):
    sw = start_down(redis_server, make_seawall, "2s")
    misses_before = metric(sw, "seawall_answers_total", source="miss")

    def cache_aside(c) -> None:
        time.sleep(0.05)  # the database read
        assert c.set("u:1", "from-db") is True  # journaled: Redis is down

    results = read_together(sw.port, "u:1", cache_aside)
    values = [v for v, _ in results]
    assert values.count(None) == 1, values
    assert values.count(b"from-db") == READERS - 1, values
    assert metric(sw, "seawall_answers_total", source="miss") - misses_before == 1
    assert metric(sw, "seawall_miss_leases_total", outcome="granted") == 1
    assert metric(sw, "seawall_miss_leases_total", outcome="waited") == READERS - 1
    # They waited for the write-back, not for the lease's end.
    waits = sorted(t for v, t in results if v is not None)
    assert waits[len(waits) // 2] < 1.5, waits


def test_without_a_write_back_the_waiters_get_the_miss_when_the_lease_ends(redis_server,
                                                                          make_seawall):
    sw = start_down(redis_server, make_seawall, "400ms")
    results = read_together(sw.port, "u:2", readers=10)
    assert [v for v, _ in results] == [None] * 10
    waits = sorted(t for _, t in results)
    # One got its miss at once; the others after the lease (a loaded machine may add some).
    assert waits[0] < 0.3, waits
    assert all(t >= 0.35 for t in waits[1:]), waits
    assert metric(sw, "seawall_miss_leases_total", outcome="granted") == 1
    assert metric(sw, "seawall_miss_leases_total", outcome="waited") == 9


def test_a_write_by_another_client_ends_the_lease_too(redis_server, make_seawall):
    sw = start_down(redis_server, make_seawall, "5s")
    holder, waiter, writer = client(sw.port), client(sw.port), client(sw.port)
    assert holder.get("u:3") is None  # the lease is the holder's now
    got: list = []
    t = threading.Thread(target=lambda: got.append((waiter.get("u:3"), time.monotonic())))
    t.start()
    time.sleep(0.2)
    assert t.is_alive(), "the second reader did not wait for the lease"
    written = time.monotonic()
    assert writer.set("u:3", "v") is True
    t.join(5)
    assert got and got[0][0] == b"v", got
    assert got[0][1] - written < 1.0


def test_keys_without_the_option_are_not_held(redis_server, make_seawall):
    sw = start_down(redis_server, make_seawall, "0s")
    results = read_together(sw.port, "u:4", readers=10)
    assert [v for v, _ in results] == [None] * 10
    assert max(t for _, t in results) < 1.0
    assert metric(sw, "seawall_miss_leases_total", outcome="granted") == 0
