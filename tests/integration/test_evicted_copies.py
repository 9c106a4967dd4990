"""Eviction-aware stale copies, with a real redis-server under maxmemory allkeys-lru.

An eviction storm (filler traffic pushing the hot keys out of a full Redis) turns every read of
an evicted key into a miss, and every miss into a database read. seawall listens to Redis's
`evicted` keyspace events and answers a miss Redis gives for a key it evicted lately with the
L1 copy (answer source l1_evicted). Measured side by side in one run: seawall A (eviction events
configured by seawall itself) and seawall B (eviction_events: off, today's behaviour) read the
same keys of the same Redis after the same storm.
"""

from __future__ import annotations

import os
import sys
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from faults import client, upstream  # noqa: E402
from harness import RedisServer, sample, scrape, wait_until  # noqa: E402

HOT = 2000
VALUE = "v" * 200
POLICIES = [{"match": "hot:*", "l1": {"ttl": "60s", "max_stale": "10m"}},
            {"match": "*", "on_unavailable": "error"}]


@pytest.fixture
def small_redis(tmp_path):
    server = RedisServer(tmp_path / "lru", extra_args=["--maxmemory", "6mb",
                                                       "--maxmemory-policy", "allkeys-lru"])
    server.start()
    yield server
    server.stop()


def nil_share(port: int) -> float:
    c = client(port)
    nil = 0
    for start in range(0, HOT, 200):
        p = c.pipeline(transaction=False)
        for i in range(start, start + 200):
            p.get(f"hot:{i}")
        for i, value in zip(range(start, start + 200), p.execute()):
            if value is None:
                nil += 1
            else:
                assert value == f"{VALUE}{i}".encode(), (i, value)
    return nil / HOT


def test_an_eviction_storm_is_answered_from_the_l1(small_redis, make_seawall):
    direct = client(small_redis.port)
    direct.config_set("notify-keyspace-events", "")  # seawall A must set what it needs
    a = make_seawall(upstream=small_redis, policies=POLICIES,
                     upstreams=[upstream("main", small_redis.port, eviction_events="configure")])
    b = make_seawall(upstream=small_redis, policies=POLICIES,
                     upstreams=[upstream("main", small_redis.port, eviction_events="off")])
    wait_until(lambda: "E" in direct.config_get("notify-keyspace-events")
               ["notify-keyspace-events"], 5, "seawall A to configure the eviction events")
    assert "subscribed to __keyevent@0__:evicted" in a.log_text()

    # The hot keys, written directly (no write copies), then read once through both seawalls.
    for start in range(0, HOT, 500):
        p = direct.pipeline(transaction=False)
        for i in range(start, start + 500):
            p.set(f"hot:{i}", f"{VALUE}{i}")
        p.execute()
    assert nil_share(a.port) == 0 and nil_share(b.port) == 0

    # The storm: filler traffic straight to Redis until most hot keys are gone.
    filler = "f" * 1024
    n = 0
    while sum(direct.exists(f"hot:{i}") for i in range(0, HOT, 20)) > HOT // 20 // 5:
        p = direct.pipeline(transaction=False)
        for _ in range(500):
            p.set(f"filler:{n}", filler)
            n += 1
        try:
            p.execute()
        except redis.ResponseError as e:  # OOM on a write Redis could not make room for
            assert "OOM" in str(e), e
        assert n < 200_000, "Redis never evicted the hot keys"
    evicted = direct.info("stats")["evicted_keys"]
    assert evicted > HOT // 2
    wait_until(lambda: sample(scrape(a.admin_port), "seawall_evicted_keys_total") >= evicted,
               5, "seawall A to hear of every eviction")

    share_a, share_b = nil_share(a.port), nil_share(b.port)
    print(f"evicted {evicted} keys; nil answers: {share_a:.1%} with eviction events, "
          f"{share_b:.1%} without")
    assert share_b >= 0.5, share_b  # the storm did evict most hot keys
    assert share_a <= 0.05, share_a
    served = sample(scrape(a.admin_port), "seawall_answers_total", source="l1_evicted")
    assert served >= (share_b - share_a) * HOT * 0.9, served

    # A write through seawall ends the key's evicted state: its DEL is a miss, not an eviction.
    gone = next(i for i in range(HOT) if direct.get(f"hot:{i}") is None)
    ca = client(a.port)
    assert ca.get(f"hot:{gone}") == f"{VALUE}{gone}".encode()  # the copy
    assert ca.delete(f"hot:{gone}") == 0  # Redis had nothing to delete
    assert ca.get(f"hot:{gone}") is None


def test_serve_evicted_false_keeps_redis_s_miss(small_redis, make_seawall):
    direct = client(small_redis.port)
    direct.config_set("notify-keyspace-events", "Ee")  # set by the operator, as documented
    sw = make_seawall(upstream=small_redis, upstreams=[upstream("main", small_redis.port)],
                      policies=[{"match": "hot:*", "l1": {"ttl": "60s", "max_stale": "10m",
                                                          "serve_evicted": False}},
                                {"match": "keep:*", "l1": {"ttl": "60s", "max_stale": "10m"}}])
    wait_until(lambda: "subscribed to __keyevent@0__:evicted" in sw.log_text(), 5,
               "the subscription")
    c = client(sw.port)
    direct.set("hot:1", "a")
    direct.set("keep:1", "b")
    assert c.get("hot:1") == b"a" and c.get("keep:1") == b"b"
    # An eviction as Redis publishes it (maxmemory lowered until both go).
    direct.config_set("maxmemory-policy", "allkeys-random")
    direct.config_set("maxmemory", "1")
    with pytest.raises(redis.ResponseError):
        direct.set("x", "y")  # OOM: everything evictable is gone
    direct.config_set("maxmemory", "0")
    assert direct.exists("hot:1", "keep:1") == 0
    wait_until(lambda: sample(scrape(sw.admin_port), "seawall_evicted_keys_total") >= 2, 5,
               "the eviction events")
    assert c.get("hot:1") is None  # serve_evicted: false
    assert c.get("keep:1") == b"b"
    # Rewritten directly (with a TTL) and read through seawall: back in Redis, so its expiry is
    # a miss of its own, not the eviction's: the old copy does not come back.
    direct.set("keep:1", "c", px=300)
    assert c.get("keep:1") == b"c"
    time.sleep(0.5)
    assert direct.exists("keep:1") == 0
    assert c.get("keep:1") is None
