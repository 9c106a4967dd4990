"""Fail-open under real faults: a real redis-server is killed, frozen, put to sleep, made to flap
and to evict, while real clients (redis-py and raw sockets) read and write through seawall.

Every read of a key that seawall may answer without Redis (an L1 copy or a degraded default) must
get its exact value, never an error, within the request deadline plus scheduler slack; the
breaker must open (seen in seawall's log and in answers that stop waiting for the deadline) and
close again once Redis is back, after which reads reach Redis again. Writes follow the policy's
writes_when_open mode, and journaled writes reach Redis, in order, once it returns.

Timing constants are in faults.py; SEAWALL_FAULT_SLACK_MS widens every latency bound.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from faults import (  # noqa: E402
    CONSECUTIVE_FAILURES,
    REQUEST_TIMEOUT_S,
    SLACK_S,
    BreakerLog,
    OneOf,
    Op,
    Reader,
    check_samples,
    client,
    describe,
    during,
    open_breaker_by_reading,
    recovery_bound,
    run_ops,
    slow_before_first_fast,
    upstream,
    wait_value,
)
from harness import RedisServer, Seawall  # noqa: E402

# Reads answered from L1 or a default must come within the request deadline (+ noise).
READ_BOUND_S = REQUEST_TIMEOUT_S + SLACK_S
# A read "waited for Redis" when it took at least half the deadline; fallback answers without
# Redis take a few milliseconds.
WAITED_S = REQUEST_TIMEOUT_S / 2

UNAVAILABLE = "UNAVAILABLE seawall: upstream '{}' is unavailable and nothing can answer"
WRITE_REJECTED = "UNAVAILABLE seawall: upstream '{}' is unavailable: write rejected"
CANNOT_ACK = ("UNAVAILABLE seawall: upstream '{}' is unavailable: this write cannot be "
              "acknowledged without Redis")
JOURNAL_FULL = "UNAVAILABLE seawall: upstream '{}' is unavailable: journal full, write rejected"


def raw_error(template: str, name: str = "main") -> bytes:
    return b"-" + template.format(name).encode() + b"\r\n"


def bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


# c:* cached in L1 (fresh 500ms, then stale for a minute while Redis is unavailable);
# d:* not cached but with a degraded default; everything else: nothing can answer -> error.
READ_POLICIES = [
    {"match": "c:*", "l1": {"ttl": "500ms", "max_stale": "60s"}},
    {"match": "d:*", "default": {"type": "string", "value": "degraded"}},
    {"match": "*", "on_unavailable": "error"},
]

CACHED = {f"c:{i}": f"value-{i}".encode() for i in range(1, 4)}
HASH = {b"f1": b"one", b"f2": b"two"}


def seed_cache(c: redis.Redis, direct: redis.Redis) -> None:
    """Writes the c:* keys through seawall and reads them once, which fills L1."""
    for k, v in CACHED.items():
        assert c.set(k, v) is True
    assert c.hset("c:h", mapping=HASH) == 2
    for k, v in CACHED.items():
        assert c.get(k) == v
        assert direct.get(k) == v
    assert c.hgetall("c:h") == HASH
    assert c.mget("c:1", "c:2") == [CACHED["c:1"], CACHED["c:2"]]
    # d:1 does not exist: while Redis answers, the default is not used.
    assert c.get("d:1") is None


def fallback_ops(c: redis.Redis, raw, tag: str = "") -> list[Op]:
    """Reads that must keep their exact answers during any outage of upstream 'main'."""
    ops = [
        Op(f"GET c:1{tag}", lambda: c.get("c:1"), CACHED["c:1"]),
        Op(f"GET c:2{tag}", lambda: c.get("c:2"), CACHED["c:2"]),
        Op(f"HGETALL c:h{tag}", lambda: c.hgetall("c:h"), HASH),
        Op(f"MGET c:1 c:3{tag}", lambda: c.mget("c:1", "c:3"), [CACHED["c:1"], CACHED["c:3"]]),
    ]
    if raw is not None:
        ops.append(Op(f"raw GET c:3{tag}", lambda: raw.request("GET", "c:3"), bulk(CACHED["c:3"])))
    return ops


def default_op(c: redis.Redis) -> Op:
    return Op("GET d:1 (default)", lambda: c.get("d:1"), b"degraded")


def check_outage_reads(samples, t_fault: float, t_end: float, label: str,
                       expect_waits: bool) -> None:
    """Reads during an outage: the breaker opened after at most CONSECUTIVE_FAILURES reads
    waited for Redis, and from then on most answers come without waiting for the deadline."""
    inside = during(samples, t_fault, t_end)
    assert len(inside) >= 10, f"{label}: only {len(inside)} reads during the fault"
    waited = slow_before_first_fast(samples, t_fault, WAITED_S)
    assert waited <= CONSECUTIVE_FAILURES, (
        f"{label}: {waited} reads in a row waited for Redis after the fault began; the breaker "
        f"should have opened after {CONSECUTIVE_FAILURES}:\n{describe(inside, 12)}")
    fast = [s for s in inside if s.latency < WAITED_S]
    assert len(fast) >= 0.6 * len(inside), (
        f"{label}: only {len(fast)} of {len(inside)} reads during the fault were answered "
        f"without waiting for Redis (open breaker):\n{describe(inside, 12)}")
    print(f"{label}: {len(inside)} reads, {len(fast)} fast, {waited} waited before the first "
          f"fast one, max {max(s.latency for s in inside) * 1000:.0f}ms")
    if expect_waits:
        # A frozen Redis makes the first calls wait for the deadline (check_samples bounds how
        # long): if none waited, the fault was not real.
        assert any(s.latency >= WAITED_S for s in inside), (
            f"{label}: no read ever waited for the frozen Redis; was it frozen?")


# --------------------------------------------------------------------------------------------
# 1. kill -9, then restart


def test_kill9_reads_answered_from_l1_and_defaults_then_recover(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=READ_POLICIES)
    log = BreakerLog(sw.log_path)
    c, direct = client(sw.port), client(redis_server.port)
    raw = sw.raw(timeout=5)
    seed_cache(c, direct)
    assert log.transitions() == []

    ops = fallback_ops(c, raw) + [default_op(c)]
    # A second client in its own thread reads across the moment of the crash.
    c2 = client(sw.port)
    background = Reader(fallback_ops(c2, None, " (thread)"), max_seconds=10).start()
    time.sleep(0.1)
    t_kill = time.monotonic()
    redis_server.kill9()
    samples = run_ops(ops, threading.Event(), max_seconds=1.5, max_count=3000, pause=0.002)
    t_end = time.monotonic()
    bg = background.join()

    check_samples(samples, ops, READ_BOUND_S, "reads during kill -9")
    check_samples(bg, background.ops, READ_BOUND_S, "thread reads across kill -9")
    check_outage_reads(samples, t_kill, t_end, "kill -9", expect_waits=False)
    log.wait_for("closed", "open", timeout=0.5)
    # Nothing answers a key with no L1 copy and no default: the policy's error, fast.
    assert raw.request("GET", "u:1") == raw_error(UNAVAILABLE)
    with pytest.raises(redis.ResponseError, match="^" + UNAVAILABLE.format("main") + "$"):
        c.get("u:2")
    # The L1 copies are past their 500ms fresh TTL now and still served (stale).
    assert c.get("c:1") == CACHED["c:1"]

    opened = log.count("closed", "open")
    closed_before = log.count(None, "closed")
    redis_server.start()  # same port, empty dataset
    t_up = time.monotonic()
    direct = client(redis_server.port)
    direct.set("c:1", "from-new-redis")
    waited = log.wait_for(None, "closed", timeout=recovery_bound(), after=closed_before)
    # Closed means reads reach Redis again: the new value, Redis's nil for d:1 and u:1.
    wait_value(lambda: c.get("c:1"), b"from-new-redis", 1.0, "GET c:1 after recovery")
    assert c.get("d:1") is None
    assert c.get("u:1") is None
    assert raw.request("GET", "c:2") == b"$-1\r\n"
    assert log.count("closed", "open") == opened, f"breaker reopened: {log.transitions()}"
    print(f"closed {time.monotonic() - t_up:.3f}s after redis was up (waited {waited:.3f}s)")
    raw.close()


# --------------------------------------------------------------------------------------------
# 2. SIGSTOP, then SIGCONT


def test_sigstop_reads_answered_within_deadline_then_recover(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=READ_POLICIES)
    log = BreakerLog(sw.log_path)
    c, direct = client(sw.port), client(redis_server.port)
    raw = sw.raw(timeout=5)
    seed_cache(c, direct)

    ops = fallback_ops(c, raw) + [default_op(c)]
    c2 = client(sw.port)
    background = Reader(fallback_ops(c2, None, " (thread)"), max_seconds=10).start()
    time.sleep(0.1)
    t_stop = time.monotonic()
    redis_server.sigstop()
    try:
        samples = run_ops(ops, threading.Event(), max_seconds=1.5, max_count=3000, pause=0.002)
        t_end = time.monotonic()
        assert raw.request("GET", "u:1") == raw_error(UNAVAILABLE)
    finally:
        redis_server.sigcont()
    t_cont = time.monotonic()
    bg = background.join()

    check_samples(samples, ops, READ_BOUND_S, "reads while Redis is stopped")
    check_samples(bg, background.ops, READ_BOUND_S, "thread reads across SIGSTOP/SIGCONT")
    check_outage_reads(samples, t_stop, t_end, "SIGSTOP", expect_waits=True)
    assert log.count("closed", "open") >= 1, log.transitions()

    direct.set("c:1", "after-cont")
    log.wait_settled_closed(recovery_bound())
    wait_value(lambda: c.get("c:1"), b"after-cont", 1.0, "GET c:1 after SIGCONT")
    assert c.get("d:1") is None
    print(f"recovered {time.monotonic() - t_cont:.3f}s after SIGCONT; {log.transitions()}")
    raw.close()


# --------------------------------------------------------------------------------------------
# 3. latency spikes: DEBUG SLEEP sent straight to Redis


def debug_sleep_in_thread(port: int, seconds: float, times: int = 1,
                          gap: float = 0.0) -> threading.Thread:
    def body():
        r = client(port, timeout=seconds + 10)
        for _ in range(times):
            r.execute_command("DEBUG", "SLEEP", str(seconds))
            if gap:
                time.sleep(gap)
        r.close()

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t


def test_debug_sleep_timeouts_answered_by_fallback_and_trip_breaker(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=READ_POLICIES)
    log = BreakerLog(sw.log_path)
    c, direct = client(sw.port), client(redis_server.port)
    raw = sw.raw(timeout=5)
    seed_cache(c, direct)

    ops = fallback_ops(c, raw) + [default_op(c)]
    t_sleep = time.monotonic()
    sleeper = debug_sleep_in_thread(redis_server.port, 1.5)
    time.sleep(0.05)  # the DEBUG SLEEP is on its way before the first read
    samples = run_ops(ops, threading.Event(), max_seconds=1.2, max_count=3000, pause=0.002)
    t_end = time.monotonic()
    sleeper.join(10)
    assert not sleeper.is_alive()

    check_samples(samples, ops, READ_BOUND_S, "reads during DEBUG SLEEP 1.5")
    check_outage_reads(samples, t_sleep, t_end, "DEBUG SLEEP", expect_waits=True)
    assert log.count("closed", "open") >= 1, log.transitions()

    direct.set("c:1", "after-sleep")
    log.wait_settled_closed(recovery_bound())
    wait_value(lambda: c.get("c:1"), b"after-sleep", 1.0, "GET c:1 after the sleep")
    raw.close()


def test_slow_calls_alone_trip_breaker(redis_server, make_seawall):
    # Failures cannot trip this breaker (both failure triggers off) and the deadline is longer
    # than each sleep, so every call succeeds: only the slow-call rate can open it.
    slow_breaker = {
        "consecutive_failures": 0,
        "failure_rate_threshold": 0,
        "slow_call_duration": "40ms",
        "slow_call_rate_threshold": 50,
        "window_size": 6,
        "minimum_calls": 4,
    }
    timeout = 1.0
    sw = make_seawall(
        upstreams=[upstream("main", redis_server.port, request_timeout=timeout,
                            breaker=slow_breaker)],
        policies=READ_POLICIES)
    log = BreakerLog(sw.log_path)
    c, direct = client(sw.port), client(redis_server.port)
    seed_cache(c, direct)

    readers = [Reader(fallback_ops(client(sw.port), None, f" (thread {i})"), max_seconds=10)
               for i in range(3)]
    for r in readers:
        r.start()
    sleeper = debug_sleep_in_thread(redis_server.port, 0.3, times=4, gap=0.05)
    sleeper.join(10)
    assert not sleeper.is_alive()
    time.sleep(0.1)
    for r in readers:
        check_samples(r.join(), r.ops, timeout + SLACK_S, "reads during repeated DEBUG SLEEP 0.3")
    assert log.count("closed", "open") >= 1, (
        f"slow calls did not open the breaker: {log.transitions()}\n{log.text()[-2000:]}")
    log.wait_settled_closed(recovery_bound())
    direct.set("c:1", "after-slow")
    wait_value(lambda: c.get("c:1"), b"after-slow", 1.0, "GET c:1 after the slow period")


# --------------------------------------------------------------------------------------------
# 4. flapping


def test_flapping_never_errors_and_ends_closed(redis_server, make_seawall):
    flappy = {"backoff_multiplier": 2, "jitter": 0.2, "max_open_duration": "1200ms"}
    sw = make_seawall(upstreams=[upstream("main", redis_server.port, breaker=flappy)],
                      policies=READ_POLICIES)
    log = BreakerLog(sw.log_path)
    c, direct = client(sw.port), client(redis_server.port)
    seed_cache(c, direct)

    raw = sw.raw(timeout=5)
    # d:1 is nil from Redis and "degraded" while it is unavailable: both are right answers.
    d1 = Op("GET d:1", lambda: c.get("d:1"), OneOf(None, b"degraded"))
    readers = [Reader(fallback_ops(c, raw) + [d1], max_seconds=20),
               Reader(fallback_ops(client(sw.port), None, " (thread)"), max_seconds=20)]
    for r in readers:
        r.start()
    try:
        for _ in range(5):
            redis_server.sigstop()
            time.sleep(0.3)
            redis_server.sigcont()
            time.sleep(0.3)
    finally:
        redis_server.sigcont()
    t_last = time.monotonic()
    samples = [r.join() for r in readers]
    assert sw.alive(), sw.log_tail()

    check_samples(samples[0], readers[0].ops, READ_BOUND_S, "reads while flapping")
    check_samples(samples[1], readers[1].ops, READ_BOUND_S, "thread reads while flapping")
    assert log.count("closed", "open") >= 1, log.transitions()

    # Ends closed, and reads reach Redis again.
    log.wait_settled_closed(recovery_bound(1.2))
    direct.set("c:1", "after-flapping")
    wait_value(lambda: c.get("c:1"), b"after-flapping", 1.0, "GET c:1 after flapping")
    assert c.get("d:1") is None
    print(f"{len(log.transitions())} transitions; settled "
          f"{time.monotonic() - t_last:.2f}s after the last SIGCONT")
    raw.close()


# --------------------------------------------------------------------------------------------
# 5. eviction storm

# Requests in flight per client in the eviction test: more than a session's initial 16 reply
# slots, so that the slot ring grows while L1 fills (the bug the deep-pipeline test pins down).
SHALLOW_PIPELINE = 200


def test_maxmemory_eviction_passes_misses_through(tmp_path, make_seawall):
    server = RedisServer(tmp_path / "lru",
                         extra_args=["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"])
    server.start()
    try:
        sw = make_seawall(
            upstream=server, upstreams=[upstream("main", server.port)],
            # Everything is cached, fresh for a minute: a key Redis evicted must still be nil.
            policies=[{"match": "*", "l1": {"ttl": "60s", "max_stale": "60s"}}])
        log = BreakerLog(sw.log_path)
        c, direct = client(sw.port), client(server.port)
        value = {}

        def chunks(keys):
            return (keys[i:i + SHALLOW_PIPELINE] for i in range(0, len(keys), SHALLOW_PIPELINE))

        def write(keys):
            for part in chunks(keys):
                p = c.pipeline(transaction=False)
                for k in part:
                    value[k] = (k * 100).encode()[:1000]
                    p.set(k, value[k])
                assert p.execute() == [True] * len(part)

        def read_through(keys):
            out = []
            for part in chunks(keys):
                p = c.pipeline(transaction=False)
                for k in part:
                    p.get(k)
                out += p.execute(raise_on_error=False)
            return out

        first = [f"k:{i:05d}" for i in range(1500)]
        second = [f"k:{i:05d}" for i in range(1500, 3000)]
        write(first)
        # Fills L1 with every key still present.
        for k, got in zip(first, read_through(first)):
            assert got is None or got == value[k], f"{k}: got {got!r}"
        write(second)

        keys = first + second
        before = dict(zip(keys, direct.mget(keys)))
        evicted = [k for k in keys if before[k] is None]
        assert int(direct.info("stats")["evicted_keys"]) > 0
        print(f"{len(evicted)} of {len(keys)} keys evicted")
        assert len(evicted) > 300 and len(keys) - len(evicted) > 300, len(evicted)

        through = dict(zip(keys, read_through(keys)))
        wrong = {k: v for k, v in through.items() if v is not None and v != value[k]}
        assert not wrong, f"wrong values through seawall: {list(wrong.items())[:5]}"
        errors = {k: v for k, v in through.items() if isinstance(v, Exception)}
        assert not errors, f"errors through seawall: {list(errors.items())[:5]}"
        # Evicted before we read: Redis's nil, never the L1 copy from the first read.
        served_stale = [k for k in evicted if through[k] is not None]
        assert not served_stale, f"evicted keys answered from L1: {served_stale[:5]}"
        # A nil for a key Redis still holds would be an invented miss.
        nil_now = [k for k in keys if through[k] is None and before[k] is not None]
        if nil_now:
            still = [k for k, v in zip(nil_now, direct.mget(nil_now)) if v is not None]
            assert not still, f"seawall answered nil for keys Redis has: {still[:5]}"
        assert log.transitions() == [], "eviction is not an outage"
        assert sw.alive()
    finally:
        server.stop()


def test_deep_pipeline_reads_then_writes_never_serve_older_value(tmp_path, redis_server):
    sw = Seawall(tmp_path / "deep", redis_server.port, {
        "upstreams": [upstream("main", redis_server.port)],
        "policies": [{"match": "*", "l1": {"ttl": "60s", "max_stale": "60s"},
                      "on_unavailable": "error"}]})
    sw.start()
    try:
        log = BreakerLog(sw.log_path)
        c = client(sw.port)
        keys = [f"p:{i:03d}" for i in range(100)]
        for k in keys:
            assert c.set(k, "old") is True
        p = c.pipeline(transaction=False)
        for k in keys:
            p.get(k)
        assert p.execute() == [b"old"] * len(keys)  # 100 in flight: fills L1
        for k in keys:
            assert c.set(k, "new") is True  # acknowledged by Redis: L1 copies must go
        redis_server.kill9()
        open_breaker_by_reading(lambda: c.get("zz"), log, timeout=3)
        stale = []
        for k in keys:
            try:
                if c.get(k) == b"old":
                    stale.append(k)
            except redis.ResponseError:
                pass  # nothing cached: the policy's error is right
        assert sw.alive(), sw.log_tail()
        assert not stale, (f"{len(stale)} keys answered with the value from before an "
                           f"acknowledged write: {stale[:10]}")
    finally:
        if sw.alive():
            sw.stop()
        else:
            sw._kill9()


# --------------------------------------------------------------------------------------------
# 6. writes while the breaker is open

WRITE_POLICIES = [
    {"match": "j:*", "l1": {"ttl": "60s", "max_stale": "60s"}, "writes_when_open": "journal"},
    {"match": "i:*", "l1": {"ttl": "60s", "max_stale": "60s"}, "writes_when_open": "invalidate"},
    {"match": "r:*", "l1": {"ttl": "60s", "max_stale": "60s"}, "writes_when_open": "reject"},
]


def test_write_modes_with_frozen_redis(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=WRITE_POLICIES)
    log = BreakerLog(sw.log_path)
    c, direct = client(sw.port), client(redis_server.port)
    raw = sw.raw(timeout=5)
    for k in ("j:k", "i:k", "r:k"):
        assert c.set(k, "old") is True
        assert c.get(k) == b"old"  # now in L1
    assert c.set("j:d", "to-delete") is True
    assert c.get("j:d") == b"to-delete"

    redis_server.sigstop()
    try:
        open_breaker_by_reading(lambda: c.get("j:k"), log, timeout=3)
        # Still the old value: nothing was written yet.
        assert c.get("j:k") == b"old"

        # journal: acknowledged as Redis would, and the old L1 copy is gone at once.
        assert c.set("j:k", "new") is True
        watcher = Reader([Op("GET j:k", lambda: c.get("j:k"), None)],
                         max_seconds=20, pause=0.005).start()
        assert c.hset("j:h", mapping={"f": "v", "g": "w"}) == 2
        assert c.delete("j:d") == 1
        assert raw.request("SET", "j:k2", "v2") == b"+OK\r\n"
        assert raw.request("INCR", "j:n") == raw_error(CANNOT_ACK)
        assert raw.request("SET", "j:nx", "v", "NX") == raw_error(CANNOT_ACK)
        with pytest.raises(redis.ResponseError, match="^" + CANNOT_ACK.format("main") + "$"):
            c.incr("j:n")
        assert c.get("j:d") != b"to-delete"
        # invalidate: acknowledged, L1 copy dropped, a DEL is replayed later.
        assert c.set("i:k", "new") is True
        # Watched only from its own acknowledgement on: before it, "old" was right.
        invalidated = Reader([Op("GET i:k", lambda: c.get("i:k"), None)],
                             max_seconds=20, pause=0.005).start()
        assert c.get("i:k") != b"old"
        # reject: the write fails; the L1 copy is still right.
        assert raw.request("SET", "r:k", "new") == raw_error(WRITE_REJECTED)
        with pytest.raises(redis.ResponseError, match="^" + WRITE_REJECTED.format("main") + "$"):
            c.delete("r:k")
        assert c.get("r:k") == b"old"
        time.sleep(0.5)  # several half-open periods with the journal waiting
    finally:
        redis_server.sigcont()

    # Replayed in order before anything else reaches Redis.
    wait_value(lambda: direct.get("j:k"), b"new", 3.0, "journaled SET j:k reaching Redis")
    log.wait_settled_closed(recovery_bound())
    reads = watcher.join() + invalidated.join()
    assert reads, "no reads while the journal was pending"
    regressions = [s for s in reads if s.value == b"old" or s.error is not None]
    assert not regressions, ("a read after an acknowledged write got the older value or an "
                             f"error:\n{describe(regressions)}")

    assert direct.get("j:k") == b"new"
    assert direct.hgetall("j:h") == {b"f": b"v", b"g": b"w"}
    assert direct.exists("j:d") == 0
    assert direct.get("j:k2") == b"v2"
    assert direct.exists("j:n", "j:nx") == 0
    assert direct.exists("i:k") == 0
    assert direct.get("r:k") == b"old"
    assert c.get("j:k") == b"new"
    assert c.get("j:k2") == b"v2"
    assert c.get("i:k") is None
    assert c.get("r:k") == b"old"
    assert "replayed" in log.text()
    raw.close()


def test_journal_replayed_to_restarted_redis(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=WRITE_POLICIES)
    log = BreakerLog(sw.log_path)
    c = client(sw.port)
    redis_server.kill9()
    open_breaker_by_reading(lambda: c.get("j:x"), log, timeout=3)
    acked = {}
    for i in range(20):
        key, val = f"j:{i}", f"v{i}"
        assert c.set(key, val) is True
        acked[key] = val.encode()
    assert c.set("j:0", "last") is True  # the later write wins
    acked["j:0"] = b"last"
    assert c.hset("j:h", "f", "v") == 1
    assert c.set("i:gone", "x") is True

    redis_server.start()
    direct = client(redis_server.port)
    wait_value(lambda: direct.mget(list(acked)), list(acked.values()), recovery_bound(),
               "every acknowledged write in the restarted Redis")
    assert direct.hget("j:h", "f") == b"v"
    assert direct.exists("i:gone") == 0
    log.wait_settled_closed(recovery_bound())
    assert c.mget(list(acked)) == list(acked.values())


def test_journal_replayed_before_any_read_after_crash_with_aof(tmp_path, make_seawall):
    # Redis comes back from its append-only file with the values from before the outage: the
    # journal must reach it before any read does, or a client would read the older value.
    server = RedisServer(tmp_path / "aof",
                         extra_args=["--appendonly", "yes", "--appendfsync", "always"])
    server.start()
    try:
        sw = make_seawall(upstream=server, upstreams=[upstream("main", server.port)],
                          policies=WRITE_POLICIES)
        log = BreakerLog(sw.log_path)
        c = client(sw.port)
        keys = [f"j:{i}" for i in range(10)]
        for k in keys:
            assert c.set(k, "old") is True
        assert c.mget(keys) == [b"old"] * len(keys)
        server.kill9()
        open_breaker_by_reading(lambda: c.get("j:x"), log, timeout=3)
        # Filler first, so that replaying the journal takes a while before it reaches j:0..9.
        filler = [f"j:filler:{i}" for i in range(2000)]
        for i in range(0, len(filler), SHALLOW_PIPELINE):
            p = c.pipeline(transaction=False)
            for k in filler[i:i + SHALLOW_PIPELINE]:
                p.set(k, "f")
            assert all(r is True for r in p.execute())
        for k in keys:
            assert c.set(k, "new") is True

        reader = Reader([Op(f"GET {k}", lambda k=k: c.get(k), None) for k in keys],
                        max_seconds=20).start()
        server.start()  # reloads "old" from the AOF
        direct = client(server.port)
        wait_value(lambda: direct.mget(keys), [b"new"] * len(keys), recovery_bound(),
                   "journal replayed over the reloaded values")
        log.wait_settled_closed(recovery_bound())
        wait_value(lambda: c.mget(keys), [b"new"] * len(keys), 1.0, "MGET through seawall")
        samples = reader.join()
        # While Redis is down these keys have no L1 copy (the writes dropped it): a miss, or the
        # error once the fall-through budget is spent, are right; the older value never is.
        unavailable = UNAVAILABLE.format("main")
        older = [s for s in samples if s.value == b"old" or (
            s.error is not None and str(s.error) != unavailable)]
        assert not older, (f"{len(older)} of {len(samples)} reads got the value from before an "
                           f"acknowledged write, or an unexpected error:\n{describe(older)}")
        assert any(s.value == b"new" for s in samples), "no read reached the recovered Redis"
    finally:
        server.stop()


def test_journal_file_survives_seawall_restart(tmp_path, redis_server, make_seawall):
    path = tmp_path / "journal"
    overrides = {"policies": WRITE_POLICIES, "journal": {"path": str(path)}}
    first = make_seawall(upstreams=[upstream("main", redis_server.port)], **overrides)
    log = BreakerLog(first.log_path)
    c = client(first.port)
    redis_server.kill9()
    open_breaker_by_reading(lambda: c.get("j:x"), log, timeout=3)
    assert c.set("j:persisted", "yes") is True
    assert c.hset("j:ph", "f", "v") == 1
    c.close()
    journal_file = tmp_path / "journal.main"  # one file per upstream
    assert journal_file.stat().st_size > 0
    first.stop()  # SIGTERM with Redis still down: must exit 0 and keep the file

    assert journal_file.stat().st_size > 0
    second = make_seawall(upstreams=[upstream("main", redis_server.port)], **overrides)
    wait_value(lambda: "2 journaled writes from a previous run" in second.log_tail(), True, 2.0,
               "the restarted seawall reporting the journal it loaded")
    redis_server.start()
    direct = client(redis_server.port)
    wait_value(lambda: direct.get("j:persisted"), b"yes", recovery_bound(),
               "journaled write from the previous seawall reaching Redis")
    assert direct.hget("j:ph", "f") == b"v"
    wait_value(lambda: journal_file.stat().st_size, 0, 2.0, "journal file truncated after replay")
    c2 = client(second.port)
    wait_value(lambda: c2.get("j:persisted"), b"yes", recovery_bound(), "GET through seawall")


def test_journal_full_rejects_writes(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=WRITE_POLICIES,
                      journal={"max_entries": 3})
    log = BreakerLog(sw.log_path)
    c = client(sw.port)
    raw = sw.raw(timeout=5)
    redis_server.kill9()
    open_breaker_by_reading(lambda: c.get("j:x"), log, timeout=3)
    assert c.set("j:1", "a") is True
    assert c.set("i:2", "b") is True  # invalidate entries count too
    assert c.set("j:3", "c") is True
    assert raw.request("SET", "j:4", "d") == raw_error(JOURNAL_FULL)
    with pytest.raises(redis.ResponseError, match="^" + JOURNAL_FULL.format("main") + "$"):
        c.delete("j:4", "j:5")
    # Rewriting a journaled key replaces its entry: the journal does not grow.
    assert c.set("j:3", "c2") is True

    redis_server.start()
    direct = client(redis_server.port)
    wait_value(lambda: direct.mget("j:1", "j:3"), [b"a", b"c2"], recovery_bound(), "replay")
    assert direct.exists("j:4") == 0
    log.wait_settled_closed(recovery_bound())
    assert c.set("j:4", "d") is True  # room again, and Redis is back anyway
    assert direct.get("j:4") == b"d"
    raw.close()


# --------------------------------------------------------------------------------------------
# 7. fall-through budget


def test_fallthrough_budget_limits_misses(redis_server, make_seawall):
    rate, burst = 50, 10
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)],
                      policies=[{"match": "*", "on_unavailable": "miss"}],
                      protect_database={"fallthrough_per_second": rate, "burst": burst})
    log = BreakerLog(sw.log_path)
    raw = sw.raw(timeout=5)
    redis_server.kill9()
    open_breaker_by_reading(lambda: raw.request("GET", "warmup"), log, timeout=3)
    time.sleep(burst / rate + 0.1)  # the bucket refills to its burst

    nil, err = b"$-1\r\n", raw_error(UNAVAILABLE)
    counts = {nil: 0, err: 0}
    other = []
    batch, n = 50, 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.0 and n < 200000:
        raw.send(b"".join(
            b"*2\r\n$3\r\nGET\r\n$%d\r\nu:%d\r\n" % (len(b"u:%d" % (n + i)), n + i)
            for i in range(batch)))
        for reply in raw.read_replies(batch):
            if reply in counts:
                counts[reply] += 1
            else:
                other.append(reply)
        n += batch
    elapsed = time.monotonic() - t0
    assert not other, other[:5]
    allowed = burst + rate * elapsed
    print(f"{n} reads in {elapsed:.2f}s: {counts[nil]} misses, {counts[err]} errors "
          f"(budget {allowed:.0f})")
    assert n >= 1000, f"only {n} reads in {elapsed:.2f}s: too slow to exhaust the budget"
    assert counts[nil] <= allowed + 5, counts
    assert counts[nil] >= 0.7 * rate * elapsed, counts
    assert counts[err] == n - counts[nil]
    raw.close()


# --------------------------------------------------------------------------------------------
# 8. two upstreams and routes


def test_routes_split_merge_and_isolate_upstreams(tmp_path, redis_server, make_seawall):
    second = RedisServer(tmp_path / "second")
    second.start()
    try:
        sw = make_seawall(
            upstreams=[upstream("main", redis_server.port), upstream("second", second.port)],
            routes=[{"prefix": "b/", "upstream": "second"}],
            policies=[{"match": "*", "l1": {"ttl": "500ms", "max_stale": "60s"},
                       "on_unavailable": "error"}])
        log = BreakerLog(sw.log_path)
        c = client(sw.port)
        raw = sw.raw(timeout=5)
        one, two = client(redis_server.port), client(second.port)

        assert c.set("a/1", "A1") and c.set("b/1", "B1")
        assert one.get("a/1") == b"A1" and two.get("a/1") is None
        assert two.get("b/1") == b"B1" and one.get("b/1") is None

        assert c.mset({"a/2": "A2", "b/2": "B2", "a/3": "A3", "b/3": "B3"}) is True
        assert one.mget("a/2", "a/3", "b/2") == [b"A2", b"A3", None]
        assert two.mget("b/2", "b/3", "a/2") == [b"B2", b"B3", None]
        assert c.mget("b/3", "a/2", "b/nope", "a/3", "b/2") == [b"B3", b"A2", None, b"A3", b"B2"]
        assert c.exists("a/2", "b/2", "a/nope", "b/3", "a/2") == 4
        assert c.delete("a/3", "b/3", "b/nope") == 2
        assert one.exists("a/3") == 0 and two.exists("b/3") == 0
        assert raw.request("SUNION", "a/x", "b/y") == (
            b"-CROSSSLOT Keys in request don't route to the same upstream\r\n")
        assert raw.request("SUNION", "b/x", "b/y") == b"*0\r\n"
        # L1 for b/1 and b/2, then the second upstream dies.
        assert c.get("b/1") == b"B1" and c.get("b/2") == b"B2"

        a_ops = [Op("SET+GET a/w", lambda: (c.set("a/w", "W"), c.get("a/w")), (True, b"W")),
                 Op("GET a/1", lambda: c.get("a/1"), b"A1")]
        second.kill9()
        t_kill = time.monotonic()
        samples = run_ops(a_ops + [Op("GET b/1", lambda: c.get("b/1"), b"B1")],
                          threading.Event(), max_seconds=1.0, max_count=2000, pause=0.002)
        check_samples(samples, a_ops + [Op("GET b/1", None, b"B1")], READ_BOUND_S,
                      "reads with upstream 'second' down")
        # main's keys never wait on second's failures; one scheduler hiccup is tolerated.
        a_samples = [s for s in samples if s.op != "GET b/1"]
        a_slow = [s for s in a_samples if s.latency >= WAITED_S]
        assert len(a_slow) <= max(1, len(a_samples) // 50), (
            f"upstream main's keys slowed down:\n{describe(a_slow)}")
        log.wait_for("closed", "open", timeout=0.5, name="second")
        assert log.transitions("main") == [], "upstream main must not be affected"
        # main's keys really reach main: a value written behind seawall's back is seen.
        one.set("a/1", "A1-direct")
        assert c.get("a/1") == b"A1-direct"
        # MGET across both: main's part from Redis, second's from L1.
        assert c.mget("a/1", "b/2") == [b"A1-direct", b"B2"]
        assert raw.request("GET", "b/never") == raw_error(UNAVAILABLE, "second")
        print(f"second down for {time.monotonic() - t_kill:.2f}s, {len(samples)} reads")
    finally:
        second.stop()


# --------------------------------------------------------------------------------------------
# 9. connection commands without any upstream


def test_ping_and_echo_with_every_upstream_down(tmp_path, redis_server, make_seawall):
    second = RedisServer(tmp_path / "second")
    second.start()
    try:
        sw = make_seawall(
            upstreams=[upstream("main", redis_server.port), upstream("second", second.port)],
            routes=[{"prefix": "b/", "upstream": "second"}])
        c = client(sw.port)
        raw = sw.raw(timeout=5)
        redis_server.kill9()
        second.sigstop()
        deadline = time.monotonic() + 1.0
        n = 0
        while time.monotonic() < deadline and n < 10000:
            t0 = time.monotonic()
            assert c.ping() is True
            assert c.echo("hello") == b"hello"
            assert raw.request("PING") == b"+PONG\r\n"
            assert raw.request("PING", "x") == b"$1\r\nx\r\n"
            assert raw.request("ECHO", "") == b"$0\r\n\r\n"
            # Answered by seawall itself: no upstream deadline involved.
            assert time.monotonic() - t0 < WAITED_S + SLACK_S
            n += 1
            if n % 10 == 0:
                # Traffic that keeps the breakers busy; its answer does not matter here.
                for key in ("a/1", "b/1"):
                    try:
                        c.get(key)
                    except redis.ResponseError:
                        pass
        assert n >= 10
    finally:
        second.stop()
