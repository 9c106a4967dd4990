"""The write journal across a seawall crash: with `journal: {fsync: always}`, every write seawall
acknowledged while Redis was down survives kill -9 of seawall itself, is replayed by the restarted
seawall once Redis is back, and reaches Redis compacted (one command per key, not one per write).
"""

from __future__ import annotations

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))

from faults import (  # noqa: E402
    BreakerLog,
    client,
    open_breaker_by_reading,
    recovery_bound,
    upstream,
    wait_value,
)
from harness import sample, scrape  # noqa: E402

POLICIES = [
    {"match": "j:*", "l1": {"ttl": "60s", "max_stale": "60s"}, "writes_when_open": "journal"},
    {"match": "*", "on_unavailable": "error"},
]
KEYS = 100
SETS = 2000
PIPELINE = 200


def journal_metric(sw, name: str, **labels) -> float:
    return sample(scrape(sw.admin_port), name, upstream="main", **labels)


def test_journal_survives_seawall_kill9_and_replays_compacted(tmp_path, redis_server, make_seawall):
    overrides = {
        "upstreams": [upstream("main", redis_server.port)],
        "policies": POLICIES,
        "journal": {"path": str(tmp_path / "journal"), "fsync": "always"},
    }
    first = make_seawall(**overrides)
    log = BreakerLog(first.log_path)
    c = client(first.port)
    redis_server.kill9()
    open_breaker_by_reading(lambda: c.get("j:probe"), log, timeout=3)

    # Every write below is acknowledged by seawall alone: it is what Redis must hold at the end.
    values = {}
    assert c.set("j:0", "first") is True
    for start in range(0, SETS, PIPELINE):
        p = c.pipeline(transaction=False)
        for i in range(start, start + PIPELINE):
            key, value = f"j:{i % KEYS}", f"v{i}"
            p.set(key, value)
            values[key] = value.encode()
        assert all(r is True for r in p.execute())
    assert c.hset("j:h", mapping={"f1": "a", "f2": "b"}) == 2
    assert c.hdel("j:h", "f2") == 1
    assert c.mset({"j:m1": "x", "j:m2": "y"}) is True
    assert c.delete("j:m2") == 1
    assert c.setex("j:ttl", 1000, "t") is True
    assert c.expire("j:0", 5000) is True
    values["j:m1"] = b"x"
    values["j:ttl"] = b"t"
    # Per key: 100 SETs, PEXPIREAT j:0, HSET + HDEL j:h, SET j:m1, DEL j:m2, SET j:ttl PXAT.
    live = KEYS + 1 + 2 + 1 + 1 + 1
    assert journal_metric(first, "seawall_journal_entries") == live
    assert journal_metric(first, "seawall_journal_operations_total", operation="superseded") >= \
        SETS - KEYS

    # kill -9 mid-outage: with fsync always, everything acknowledged is on disk already.
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait_exit(10) == -signal.SIGKILL
    c.close()
    journal_file = tmp_path / "journal.main"
    assert journal_file.stat().st_size > 0

    second = make_seawall(**overrides)
    wait_value(lambda: f"upstream=main {live} journaled writes from a previous run" in
               second.log_text(), True, 5.0, "the restarted seawall loading the compacted journal")
    c2 = client(second.port)
    # Still down: a write through the restarted seawall joins the loaded journal.
    assert c2.set("j:1", "after-restart") is True
    values["j:1"] = b"after-restart"
    assert journal_metric(second, "seawall_journal_entries") == live

    redis_server.start()  # empty: only the replay can put the values there
    direct = client(redis_server.port)
    keys = sorted(values)
    wait_value(lambda: direct.mget(keys), [values[k] for k in keys], recovery_bound() + 5.0,
               "every acknowledged journaled write in Redis")
    assert direct.hgetall("j:h") == {b"f1": b"a"}
    assert direct.exists("j:m2") == 0
    # Absolute expiries: neither lost nor grown by the outage.
    assert 0 < direct.ttl("j:ttl") <= 1000
    assert 0 < direct.ttl("j:0") <= 5000
    wait_value(lambda: journal_metric(second, "seawall_journal_entries"), 0, recovery_bound(),
               "the journal drained")
    # 2,000 SETs over 100 keys (and the rest) replayed as one command per live entry.
    assert journal_metric(second, "seawall_journal_operations_total", operation="replayed") == live
    wait_value(lambda: journal_file.stat().st_size, 0, 2.0, "journal file truncated after replay")
    log2 = BreakerLog(second.log_path)
    # Whether the breaker opened depends on when the connects failed; if it did, it closed.
    if log2.transitions("main"):
        log2.wait_settled_closed(recovery_bound())
    assert c2.mget(keys) == [values[k] for k in keys]
