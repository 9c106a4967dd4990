"""Near-cache mode (policies[].l1.mode: near) against a real redis-server.

While Redis is healthy, seawall answers single-key reads of near keys from its L1, kept coherent
by one RESP3 connection per worker thread (`name=seawall-tracking`, CLIENT TRACKING ON BCAST
PREFIX ...) and a read barrier: a near hit waits for a PING sent on that connection after the
read arrived, so a write acknowledged to anyone (clients writing straight to Redis included)
before a read is sent is never hidden. Judged here:

  - histories (history.py) of the lin_workload register workload in near mode with clients that
    write straight to Redis, while the tracking connections are killed, Redis is killed -9 and
    Redis is frozen; near hits must really have happened (else the run proves nothing);
  - how soon a direct write is seen through a cached copy, and that a read sent after its
    acknowledgement sees it at once;
  - MGET of near keys: answered from the keys' verified copies (Redis runs no MGET), a direct
    write acknowledged before it is seen, and one key under another policy sends it to Redis;
  - single-flight: 50 concurrent reads of one key missing the L1 cost Redis one GET per worker;
  - config errors: `mode: near` needs a `*` or `prefix*` pattern, and `mode` is near or fallback;
  - a dropped tracking link: no near hits until it is subscribed again, and no copy from before
    the drop is served after it.

SEAWALL_NEAR_MODE= (empty) leaves `mode` out of the configs: every near test must then fail.
"""

from __future__ import annotations

import bisect
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import lin_workload  # noqa: E402
from faults import client, kill_tracking, tracking_ids  # noqa: E402
from harness import (RawConnection, encode_command, sample, scrape,  # noqa: E402
                     seawall_binary, wait_until)
from history import OK, READ, percentile  # noqa: E402
from lin_workload import NEAR_MODE, Scenario  # noqa: E402

OUTAGE_S = float(os.environ.get("SEAWALL_LIN_SECONDS", "3"))
CLIENTS = int(os.environ.get("SEAWALL_LIN_CLIENTS", "6"))
KEYS = int(os.environ.get("SEAWALL_LIN_KEYS", "200"))
THREADS = 2
# Share of single-key GETs answered from the near L1 while healthy, at least. The workload
# writes a key about once per 2.6 single-key reads of it (and the first read after a write
# misses), so about half is expected; below this the near path was not exercised.
MIN_NEAR_SHARE = float(os.environ.get("SEAWALL_NEAR_MIN_SHARE", "0.3"))
VISIBILITY_BOUND_S = 0.100


def near_l1(**extra) -> dict:
    l1 = {"ttl": "30s", "max_stale": "10m", **extra}
    if NEAR_MODE:
        l1["mode"] = NEAR_MODE
    return l1


def metric(sw, name: str, default=None, **labels) -> float:
    try:
        return sample(scrape(sw.admin_port), name, **labels)
    except KeyError:
        if default is None:
            raise
        return default


def near_hits(sw) -> float:
    return metric(sw, "seawall_answers_total", default=0.0, source="l1_near")


def links(sw) -> float:
    return metric(sw, "seawall_near_tracking_links", default=-1.0)


def get_calls(direct) -> int:
    """How many GETs Redis ran (INFO commandstats)."""
    return int(direct.info("commandstats").get("cmdstat_get", {}).get("calls", 0))


def start_near(make_seawall, threads: int = THREADS, upstream: dict = None, policies=None,
               **overrides):
    """seawall with `n:*` in near mode, once every worker's tracking link is subscribed."""
    policies = policies or [{"match": "n:*", "l1": near_l1()}]
    sw = make_seawall(threads=threads, policies=policies,
                      **({"upstreams": [upstream]} if upstream else {}), **overrides)
    wait_until(lambda: links(sw) == threads, 5,
               f"seawall_near_tracking_links == {threads} (got {links(sw)})")
    return sw


def warm(sw, c, key: str, want: bytes, read=None) -> None:
    """Reads `key` (or calls `read`) until a read is a near hit: its copy is cached and served."""
    read = read or (lambda: c.get(key))
    deadline = time.monotonic() + 3
    while True:
        before = near_hits(sw)
        assert read() == want
        if near_hits(sw) > before:
            return
        assert time.monotonic() < deadline, f"no near hit on {key}: near mode not answering"


# --------------------------------------------------------------------------------------------
# histories


def near_shares(result) -> dict:
    """{interval label: (near hits, single-key GETs answered, share)} between the answer
    snapshots of the run. GETs: the redis-py clients' (p*) and the direct writers' read-backs
    (d*), answered with a value; the MULTI client's and the RESP3 client's sessions may be
    pinned (relayed, never near), so they are left out."""
    gets = sorted(e.invoke for e in result.history.events
                  if e.type == READ and e.outcome == OK and e.cmd == "GET"
                  and e.client[:1] in ("p", "d"))
    out = {}
    snaps = result.answers
    for (label, t0, a), (_, t1, b) in zip(snaps, snaps[1:]):
        hits = b.get("l1_near", 0) - a.get("l1_near", 0)
        n = bisect.bisect_left(gets, t1) - bisect.bisect_left(gets, t0)
        out[label] = (hits, n, hits / n if n else float("nan"))
    return out


@pytest.mark.parametrize("fault", ["tracking_kill", "kill9", "sigstop"])
def test_near_history_stays_linearizable_with_direct_writers(tmp_path, fault):
    # kill9: the direct writers only read from the kill until seawall has recovered. Between
    # Redis restarting and the tracking link subscribing again (~50 ms) nothing tells seawall
    # that Redis takes writes, and its outage copies still answer (README, Near mode, the window
    # not covered); once the link is back only verified copies do. The soak
    # (linearizability_soak.py --near --direct-writers 2, no hold) measures that window.
    # SIGSTOP keeps the link, whose invalidations arrive once Redis runs again: no hold.
    result = lin_workload.run(Scenario(fault=fault, threads=THREADS, clients=CLIENTS, keys=KEYS,
                                       outage_s=OUTAGE_S, near=True, direct_writers=2,
                                       direct_hold=fault == "kill9", seed=300 + len(fault)),
                              workdir=tmp_path)
    rep = result.report
    shares = near_shares(result)
    figures = "near hits / single-key GETs answered, per interval: " + ", ".join(
        f"{label} {hits:.0f}/{n} = {share:.0%}" for label, (hits, n, share) in shares.items())
    summary = result.summary(limit=10) + "\n  " + figures

    problems = []
    for note in result.notes:
        if "died" in note or "exit" in note or "journal not empty" in note:
            problems.append(note)
    opened = any(t == ("closed", "open") for t in result.transitions)
    if fault == "tracking_kill":
        # Redis stayed up: killing the tracking links must cost no client an error.
        if opened:
            problems.append(f"the breaker opened with Redis up: {result.transitions}")
        killed = result.tracking_killed
        if not killed or killed[0] != THREADS or sum(killed) < 2 * THREADS:
            problems.append(f"tracking connections killed per round {killed}: expected "
                            f"{THREADS} at first, and the links back (and killed) again later")
        healthy = ("before", "after")  # during: links down ~0.2 s per kill, copies refilled
    else:
        if not opened:
            problems.append(f"the breaker never opened (transitions {result.transitions}): "
                            "the fault did not reach seawall, the run proves nothing")
        healthy = ("before", "closed")
    if result.near_links != THREADS:
        problems.append(f"seawall_near_tracking_links is {result.near_links} at the end, "
                        f"not {THREADS}")
    if rep.violations:
        problems.append(f"{len(rep.violations)} violations: {dict(rep.by_kind())}")
    for label in healthy:
        hits, n, share = shares.get(label, (0, 0, float("nan")))
        if not share >= MIN_NEAR_SHARE:
            problems.append(f"near hits {label}: {hits:.0f} of {n} GETs ({share:.0%}) < "
                            f"{MIN_NEAR_SHARE:.0%}: the near path was hardly exercised")
    read_failures = {p: rep.read_failures(p, "seen") for p in ("before", "during", "after")}
    if fault == "tracking_kill" and any(read_failures.values()):
        problems.append(f"reads without a value with Redis up: {read_failures} "
                        f"{rep.errors}")
    if problems:
        pytest.fail("\n".join([*problems, "", summary]), pytrace=False)
    print(summary)


# --------------------------------------------------------------------------------------------
# a direct write through a cached copy


def test_a_direct_write_is_seen_through_a_near_copy(redis_server, make_seawall):
    sw = start_near(make_seawall)
    direct, reader, poller = client(redis_server.port), client(sw.port), client(sw.port)
    key = "n:vis"
    assert direct.set(key, "v0") is True
    warm(sw, reader, key, b"v0")

    # The poller reads through seawall without pause; first_seen[value] is when a read of it
    # first completed.
    first_seen: dict = {}
    polls = [0]
    stop = threading.Event()
    crash: list = []

    def poll() -> None:
        try:
            while not stop.is_set():
                v = poller.get(key)
                t = time.monotonic()
                polls[0] += 1
                first_seen.setdefault(v, t)
        except BaseException as e:  # noqa: BLE001 - reported below
            crash.append(e)

    t = threading.Thread(target=poll, daemon=True)
    hits0, inval0 = near_hits(sw), metric(sw, "seawall_near_invalidations_total")
    t.start()
    acked, wrong = [], []
    trials = 200
    try:
        for i in range(1, trials + 1):
            time.sleep(0.015)  # the poller refills the copy and is served from it again
            value = f"v{i}".encode()
            assert direct.set(key, value) is True
            acked.append((value, time.monotonic()))
            # Sent after the acknowledgement: the barrier must make it see the write.
            got = reader.get(key)
            if got != value:
                wrong.append((i, got))
    finally:
        stop.set()
        t.join(10)
    assert not crash, crash
    hits = near_hits(sw) - hits0
    invalidations = metric(sw, "seawall_near_invalidations_total") - inval0
    lat = [max(0.0, first_seen.get(v, float("inf")) - ack) for v, ack in acked]
    never = [v for v, _ in acked if v not in first_seen]
    print(f"{trials} direct writes; visibility to a poller through seawall after the write's "
          f"ack: p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} "
          f"ms, max {max(lat) * 1000:.1f} ms; {polls[0]} polls, {hits:.0f} near hits (incl. the "
          f"read-backs), {invalidations:.0f} tracking invalidations; read-backs stale: "
          f"{len(wrong)}")
    assert not wrong, f"reads sent after a direct write's ack missed it: {wrong[:10]}"
    assert not never, f"the poller never saw {never[:10]}"
    assert max(lat) <= VISIBILITY_BOUND_S, sorted(lat)[-10:]
    # The copies were really served in between: otherwise this measured Redis, not near mode.
    assert hits >= polls[0] * MIN_NEAR_SHARE, (hits, polls[0])
    assert invalidations >= trials / 2, invalidations


def mget_calls(direct) -> int:
    return int(direct.info("commandstats").get("cmdstat_mget", {}).get("calls", 0))


def test_mget_of_near_keys_answers_from_verified_copies(redis_server, make_seawall):
    sw = start_near(make_seawall, policies=[{"match": "n:*", "l1": near_l1()},
                                            {"match": "*", "l1": {"ttl": "30s"}}])
    direct, reader = client(redis_server.port), client(sw.port)
    keys = ["n:m1", "n:m2", "n:m3", "n:absent"]
    for i, k in enumerate(keys[:3]):
        assert direct.set(k, f"v{i}") is True
    want = [b"v0", b"v1", b"v2", None]

    # The first MGET goes to Redis, and the PTTLs behind it verify its keys' copies; then the
    # copies answer (per worker: each has its own tracking link, but the L1 is shared).
    warm(sw, reader, f"MGET {keys}", want, read=lambda: reader.mget(keys))
    calls0, hits0 = mget_calls(direct), near_hits(sw)
    for _ in range(50):
        assert reader.mget(keys) == want
    assert near_hits(sw) - hits0 == 50
    assert mget_calls(direct) == calls0, "near MGETs reached Redis"
    # GETs of the same keys answer from the copies the MGETs verified, and the other way round.
    assert reader.get("n:m2") == b"v1"

    # A direct write acknowledged before the MGET is sent is seen by it (the read barrier), and
    # the MGET that missed refills and verifies the copy again.
    for i in range(20):
        value = f"w{i}".encode()
        assert direct.set("n:m2", value) is True
        assert reader.mget(keys) == [b"v0", value, b"v2", None]
    assert direct.delete("n:m1") == 1
    assert reader.mget(keys) == [None, b"w19", b"v2", None]

    # One key under a fallback policy: the MGET goes to Redis whole.
    calls0 = mget_calls(direct)
    assert reader.mget(["n:m3", "other"]) == [b"v2", None]
    assert mget_calls(direct) == calls0 + 1


# --------------------------------------------------------------------------------------------
# single-flight


READERS = 50


@pytest.mark.parametrize("redis_sleep", [0.04, 0.5], ids=["redis-40ms", "redis-500ms"])
def test_fifty_concurrent_misses_cost_redis_one_get_per_worker(redis_server, make_seawall,
                                                               redis_sleep):
    # Redis sleeps (DEBUG SLEEP) while the readers arrive, so the reads are in flight while the
    # first GET is outstanding; otherwise a late reader would find the filled copy and the test
    # could not tell single-flight from a plain fill. 40 ms: within the tracking link's stall
    # bound (a barrier PING unanswered for 50 ms); 500 ms: a slow Redis, when a stampede hurts
    # most. Deadlines above the sleep: no failure, no slow call, no open breaker.
    upstream = {"name": "main", "address": redis_server.address, "connections": 2,
                "connect_timeout": "250ms", "request_timeout": "3s",
                "breaker": {"slow_call_duration": "3s"},
                "health_check": {"enabled": True, "interval": "1s", "timeout": "3s"}}
    sw = start_near(make_seawall, upstream=upstream)
    direct = client(redis_server.port)
    clients = [client(sw.port) for _ in range(READERS)]
    for c in clients:
        c.ping()  # connected before the barrier
    sleep_cmd = encode_command("DEBUG", "SLEEP", str(redis_sleep))
    figures = []
    rounds = 0
    for attempt in range(8):
        key, value = f"n:sf{attempt}", f"value-{attempt}".encode()
        assert direct.set(key, value) is True
        calls0 = get_calls(direct)
        barrier = threading.Barrier(READERS + 1)
        results: list = [None] * READERS

        def run(i: int) -> None:
            barrier.wait()
            t0 = time.monotonic()
            results[i] = (clients[i].get(key), t0, time.monotonic() - t0)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(READERS)]
        for t in threads:
            t.start()
        with RawConnection(redis_server.port, timeout=10) as sleeper:
            sleeper.send(sleep_cmd)  # before the readers' GETs, which go through seawall
            barrier.wait()
            assert sleeper.read_reply() == b"+OK\r\n"
            woke = time.monotonic()
        for t in threads:
            t.join(30)
            assert not t.is_alive()
        gets = get_calls(direct) - calls0
        values = Counter(v for v, _, _ in results)
        waits = sorted(w for _, _, w in results)
        # Sent while Redis slept (a few ms of margin for the trip through seawall).
        overlapped = sum(1 for _, t0, _ in results if t0 < woke - 0.005)
        figures.append(f"Redis asleep {redis_sleep * 1000:.0f} ms: Redis ran {gets} GET(s) for "
                       f"{READERS} reads ({overlapped} sent while it slept); waits min "
                       f"{waits[0] * 1000:.0f} ms, median {waits[READERS // 2] * 1000:.0f} ms, "
                       f"max {waits[-1] * 1000:.0f} ms")
        assert values == {value: READERS}, values
        if overlapped < READERS * 0.6:
            continue  # the readers came too late to overlap the first GET: proves nothing
        rounds += 1
        # Exactly one expected. At most one per worker thread is allowed: the 50 connections
        # are spread over THREADS workers and the flight table is shared, but a read that
        # arrives between the leader's reply and its fill (verified by a PTTL) may lead a
        # second flight. Without single-flight: about `overlapped`.
        assert 1 <= gets <= THREADS, "\n".join(figures)
        if rounds == 3:
            break
    print("\n".join(figures))
    assert rounds == 3, "too few rounds in which the readers overlapped the first GET:\n" + \
        "\n".join(figures)
    assert "closed -> open" not in sw.log_text()


# --------------------------------------------------------------------------------------------
# config errors


BASE = "upstreams:\n  - name: main\n    address: 127.0.0.1:6379\npolicies:\n"


def check_config(tmp_path, policies: str, start: bool = False) -> subprocess.CompletedProcess:
    """seawall --check-config (or, with start, a real start with --config) on BASE + policies."""
    path = tmp_path / "near.yaml"
    path.write_text(BASE + policies)
    flag = "--config" if start else "--check-config"
    return subprocess.run([seawall_binary(), flag, str(path)], capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("pattern", ["user:*", "*"])
def test_near_mode_is_accepted_for_a_prefix_pattern(tmp_path, pattern):
    proc = check_config(tmp_path, f'  - match: "{pattern}"\n'
                                  "    l1: {mode: near, ttl: 30s, max_stale: 10m}\n"
                                  '  - match: "other:*"\n    l1: {mode: fallback}\n')
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("start", [False, True], ids=["check-config", "start"])
@pytest.mark.parametrize("policy, key", [
    ('  - match: "user:*:name"\n    l1: {mode: near, ttl: 30s}\n', r"policies\[0\]\.(l1\.mode|match)"),
    ('  - match: "user:*"\n    l1: {mode: bogus, ttl: 30s}\n', r"policies\[0\]\.l1\.mode"),
    ('  - match: "user:?"\n    l1:\n      mode: near\n', r"policies\[0\]\.(l1\.mode|match)"),
], ids=["pattern-not-a-prefix", "unknown-mode", "pattern-with-?"])
def test_bad_near_config_is_an_error(tmp_path, policy, key, start):
    proc = check_config(tmp_path, policy, start=start)
    path = re.escape(str(tmp_path / "near.yaml"))
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    # file:line: key: why (as the other config errors, test_auth_and_deny.py)
    assert re.search(rf"{path}:[5-7]: {key}: ", proc.stderr), proc.stderr
    # Refused for the reason under test, not because `mode` is unknown (a binary without it).
    assert "unknown key" not in proc.stderr, proc.stderr
    if "bogus" in policy:
        assert "bogus" in proc.stderr, proc.stderr


# --------------------------------------------------------------------------------------------
# a dropped tracking link


def test_a_dropped_tracking_link_stops_near_hits_until_resubscribed(redis_server, make_seawall):
    sw = start_near(make_seawall)
    direct, c = client(redis_server.port), client(sw.port)
    for k in ("n:a", "n:c", "n:d"):
        assert direct.set(k, f"{k}-1") is True
        warm(sw, c, k, f"{k}-1".encode())

    # A plain kill: the links come back by themselves. A direct write right after the kill
    # (before, during or after the reconnect) is seen.
    t_kill = time.monotonic()
    assert kill_tracking(redis_server.port) == THREADS
    assert direct.set("n:a", "n:a-2") is True
    assert c.get("n:a") == b"n:a-2"
    wait_until(lambda: links(sw) == THREADS and len(tracking_ids(redis_server.port)) == THREADS,
               2.5, "the tracking links to be subscribed again")
    reconnect_s = time.monotonic() - t_kill

    # Held down: Redis refuses CLIENT TRACKING, so the killed links cannot subscribe again.
    direct.execute_command("ACL", "SETUSER", "default", "-client|tracking")
    try:
        assert kill_tracking(redis_server.port) == THREADS
        wait_until(lambda: links(sw) == 0, 2, f"the links gauge to drop to 0 (got {links(sw)})")
        # n:d is written while no invalidation can reach seawall, and not read until the
        # links are back: its copy from before the drop must never be served again.
        assert direct.set("n:d", "n:d-2") is True
        hits0, gets0 = near_hits(sw), get_calls(direct)
        for i in range(50):
            assert c.get("n:c") == b"n:c-1"
        assert direct.set("n:c", "n:c-2") is True
        assert c.get("n:c") == b"n:c-2"
        down_hits, down_gets = near_hits(sw) - hits0, get_calls(direct) - gets0
        time.sleep(0.5)
        assert links(sw) == 0, "a link counted as subscribed although Redis refused it"
    finally:
        direct.execute_command("ACL", "SETUSER", "default", "+client|tracking")
    t_allowed = time.monotonic()
    wait_until(lambda: links(sw) == THREADS, 3, "the tracking links after Redis allowed them")
    resubscribe_s = time.monotonic() - t_allowed
    assert c.get("n:d") == b"n:d-2"  # not the copy from before the drop
    hits1 = near_hits(sw)
    for i in range(20):
        assert c.get("n:c") == b"n:c-2"
    resumed = near_hits(sw) - hits1
    print(f"plain kill: links back after {reconnect_s * 1000:.0f} ms; held down: {down_hits:.0f} "
          f"near hits and {down_gets} GETs in Redis for 51 reads; links back "
          f"{resubscribe_s * 1000:.0f} ms after Redis allowed them; then {resumed:.0f} near hits "
          f"in 20 reads")
    assert down_hits == 0, "near hits while no tracking link was subscribed"
    assert down_gets >= 51
    assert resumed >= 15, resumed
