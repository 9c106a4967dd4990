"""Operating seawall (issue 5): what an operator sees and does while it runs in front of Redis.

1. Every metric family is exposed and moves with traffic and with faults (kill -9 and restart of
   a real redis-server, a request timeout, journaled writes replayed, reloads).
2. A breaker forced open through the admin API serves fallbacks, sends nothing to Redis, stays
   open until told otherwise, and /breakers/NAME/reset restores service.
3. Hot reload, from a changed file and from SIGHUP, while 50 clients run GET/SET continuously:
   the change takes effect, broken files keep the running configuration, an upstream can move to
   another redis-server, and the clients see no error and no dropped connection.
4. SIGTERM drains: requests in flight get their replies, /readyz says 503, new connections are
   refused, and the process exits 0 within shutdown.drain_timeout.

Everything is real: redis-server processes started per test, the seawall binary, raw RESP
sockets and redis-py. /metrics is parsed by prometheus_client's own parser. Tests marked xfail
show seawall bugs found here; each reason says what is wrong.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Optional

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from faults import client, recovery_bound, upstream  # noqa: E402
from harness import (  # noqa: E402
    LOOPBACK,
    ConnectionClosed,
    RawConnection,
    RedisServer,
    Seawall,
    encode_command,
    http,
    sample,
    scrape,
    seawall_binary,
    to_yaml,
    wait_until,
)

WRITE_REJECTED = "UNAVAILABLE seawall: upstream '{}' is unavailable: write rejected"
UNAVAILABLE = "UNAVAILABLE seawall: upstream '{}' is unavailable and nothing can answer"


class Metrics:
    """One scrape of /metrics; m("name", label=value) is a sample's value."""

    def __init__(self, sw: Seawall):
        self.families = scrape(sw.admin_port)

    def __call__(self, name: str, **labels) -> float:
        return sample(self.families, name, **labels)


def metric(sw: Seawall, name: str, **labels) -> float:
    return Metrics(sw)(name, **labels)


def wait_metric(sw: Seawall, name: str, want, timeout: float, **labels) -> float:
    """Polls /metrics until `name` equals `want` (or `want(value)` is true); returns the value."""
    check = want if callable(want) else (lambda v: v == want)
    last: list[Optional[float]] = [None]

    def ok() -> bool:
        last[0] = metric(sw, name, **labels)
        return check(last[0])

    try:
        wait_until(ok, timeout, f"{name}{labels}", interval=0.02)
    except TimeoutError:
        raise AssertionError(f"{name}{labels} is {last[0]}, not {want} after {timeout}s\n"
                             f"log tail:\n{sw.log_tail()}") from None
    return last[0]


def described_metrics() -> dict[str, str]:
    """NAME -> TYPE of every metric seawall declares (`seawall --describe-metrics`)."""
    out = subprocess.run([seawall_binary(), "--describe-metrics"], check=True,
                         capture_output=True, text=True, timeout=10).stdout
    return {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}


def delta(after: Metrics, before: Metrics, name: str, **labels) -> float:
    """How much sample `name` moved between two scrapes."""
    return after(name, **labels) - before(name, **labels)


def family_name(name: str) -> str:
    """The family name prometheus_client gives a counter (without _total)."""
    return name[: -len("_total")] if name.endswith("_total") else name


def post(sw: Seawall, path: str) -> dict:
    status, _, body = http(sw.admin_port, path, method="POST")
    assert status == 200, (path, status, body)
    return json.loads(body)


# --------------------------------------------------------------------------------------------
# 1. every metric moves


# Every answer source has a key pattern that makes it the answer while Redis is down.
SOURCE_POLICIES = [
    {"match": "f:*", "l1": {"ttl": "60s", "max_stale": "60s"}, "writes_when_open": "journal"},
    {"match": "s:*", "l1": {"ttl": "100ms", "max_stale": "60s"}},  # stale 100ms after a read
    {"match": "d:*", "default": {"type": "string", "value": "degraded"}},
    {"match": "i:*", "writes_when_open": "invalidate"},
    {"match": "m:*", "on_unavailable": "miss"},
    {"match": "*", "on_unavailable": "error"},
]

# Families that must have samples; all but the constant ones (build info, start time, fd limit)
# must also move below.
NAMED_FAMILIES = [
    "seawall_answers_total", "seawall_breaker_state", "seawall_breaker_transitions_total",
    "seawall_breaker_opened_total", "seawall_breaker_calls_total", "seawall_cache_bytes",
    "seawall_cache_entries", "seawall_cache_events_total", "seawall_journal_entries",
    "seawall_journal_bytes", "seawall_journal_operations_total", "seawall_upstream_connections",
    "seawall_upstream_connects_total", "seawall_upstream_request_duration_seconds",
    "seawall_upstream_timeouts_total", "seawall_commands_total", "seawall_config_reloads_total",
    "seawall_config_version", "seawall_config_last_reload_successful", "seawall_clients",
    "seawall_pinned_sessions",
    "seawall_writes_while_unavailable_total", "seawall_fallthrough_denied_total",
    "seawall_build_info", "process_cpu_seconds_total", "process_resident_memory_bytes",
    "process_open_fds", "process_max_fds", "process_start_time_seconds",
]


def test_every_metric_is_exposed_and_moves_with_traffic_and_faults(redis_server, make_seawall):
    # consecutive_failures 10: the health check failing during the DEBUG SLEEP below must not
    # trip the breaker before the kill -9 does.
    sw = make_seawall(
        upstreams=[upstream("main", redis_server.port, breaker={"consecutive_failures": 10})],
        policies=SOURCE_POLICIES, protect_database={"fallthrough_per_second": 1, "burst": 1})
    sw.wait_ready()
    main = {"upstream": "main"}

    # Presence: every declared metric has HELP and TYPE, with the declared type; the named
    # ones have samples.
    declared = described_metrics()
    assert set(NAMED_FAMILIES) <= set(declared), set(NAMED_FAMILIES) - set(declared)
    m0 = Metrics(sw)
    for name, kind in declared.items():
        family = m0.families.get(family_name(name))
        assert family is not None, f"{name} is declared but not in /metrics"
        assert family.type == kind, (name, family.type, kind)
        assert family.documentation, name
    for name in NAMED_FAMILIES:
        assert m0.families[family_name(name)].samples, f"{name} has no samples"
    assert m0("seawall_breaker_state", **main) == 0
    assert m0("seawall_config_version") == 1
    assert m0("seawall_config_last_reload_successful") == 1
    assert m0("seawall_config_reloads_total", result="success") == 0
    assert m0("seawall_config_reloads_total", result="failure") == 0
    assert m0("seawall_journal_entries", **main) == 0
    wait_metric(sw, "seawall_upstream_connections", 2, 5, **main)  # threads 1 x connections 2

    # Traffic: commands by name, answers from upstream, L1 fills, latency histogram counts.
    c = client(sw.port)
    assert c.set("f:1", "v1") is True and c.set("s:1", "v1") is True
    assert c.get("f:1") == b"v1" and c.get("s:1") == b"v1"  # both cached now
    assert c.get("d:1") is None
    pinned = sw.raw(timeout=5)
    assert pinned.request("SELECT", "1") == b"+OK\r\n"  # SELECT n pins the session
    m1 = Metrics(sw)
    assert delta(m1, m0, "seawall_commands_total", command="get") == 3
    assert delta(m1, m0, "seawall_commands_total", command="set") == 2
    assert delta(m1, m0, "seawall_commands_total", command="select") == 1
    assert delta(m1, m0, "seawall_answers_total", source="upstream") >= 5
    assert delta(m1, m0, "seawall_cache_entries") >= 2
    assert delta(m1, m0, "seawall_cache_bytes") > 0
    assert delta(m1, m0, "seawall_cache_events_total", event="insert") >= 2
    latency = "seawall_upstream_request_duration_seconds"
    assert delta(m1, m0, f"{latency}_count", **main) >= 5
    assert delta(m1, m0, f"{latency}_sum", **main) > 0
    assert m1(f"{latency}_bucket", le="+Inf", **main) == m1(f"{latency}_count", **main)
    assert delta(m1, m0, "seawall_breaker_calls_total", outcome="success", **main) > 0
    assert m1("seawall_pinned_sessions") == 1
    assert m1("seawall_clients") >= 2
    assert delta(m1, m0, "process_cpu_seconds_total") > 0
    assert m1("process_resident_memory_bytes") > 0 and m1("process_max_fds") > 0
    assert delta(m1, m0, "process_open_fds") >= 2  # clients c and pinned
    pinned.close()
    wait_metric(sw, "seawall_pinned_sessions", 0, 5)

    # A request timeout: Redis asleep longer than the 200ms deadline; L1 answers the read.
    sleeper = threading.Thread(
        target=lambda: client(redis_server.port).execute_command("DEBUG", "SLEEP", "0.4"))
    sleeper.start()
    time.sleep(0.05)
    assert c.get("f:1") == b"v1"
    sleeper.join(timeout=10)
    m2 = Metrics(sw)
    assert delta(m2, m1, "seawall_upstream_timeouts_total", **main) >= 1
    assert delta(m2, m1, "seawall_breaker_calls_total", outcome="timeout", **main) > 0
    assert delta(m2, m1, "seawall_answers_total", source="l1_fresh") > 0
    assert delta(m2, m1, "seawall_cache_events_total", event="hit_fresh") > 0
    wait_metric(sw, "seawall_breaker_state", 0, 5, **main)
    assert metric(sw, "seawall_breaker_opened_total", **main) == 0, "DEBUG SLEEP tripped it"

    # kill -9: the breaker opens, the connections go, every fallback source answers.
    time.sleep(0.15)  # s:1's L1 copy is past its 100ms fresh TTL
    m2 = Metrics(sw)  # taken again: the baseline for the outage
    redis_server.kill9()
    deadline = time.monotonic() + 3
    while metric(sw, "seawall_breaker_state", **main) != 1:
        assert time.monotonic() < deadline, f"breaker not open 3s after kill -9\n{sw.log_tail()}"
        with pytest.raises(redis.ResponseError):
            c.get("e:trip")  # pattern "*": on_unavailable error, whatever the breaker state
    wait_metric(sw, "seawall_upstream_connections", 0, 3, **main)
    wait_metric(sw, "seawall_upstream_connects_total",
                lambda v: v > m2("seawall_upstream_connects_total", result="failed", **main), 3,
                result="failed", **main)
    m3 = Metrics(sw)
    assert delta(m3, m2, "seawall_breaker_transitions_total", **main) > 0
    assert m3("seawall_breaker_opened_total", **main) >= 1
    assert delta(m3, m2, "seawall_breaker_calls_total", outcome="failure", **main) > 0

    assert c.get("f:1") == b"v1"  # l1_fresh
    assert c.get("s:1") == b"v1"  # l1_stale
    assert c.get("d:1") == b"degraded"  # default
    assert c.get("m:1") is None  # miss: the one fall-through the budget allows
    with pytest.raises(redis.ResponseError, match="^" + UNAVAILABLE.format("main") + "$"):
        c.get("m:2")  # budget spent: error
    with pytest.raises(redis.ResponseError, match="^" + UNAVAILABLE.format("main") + "$"):
        c.get("e:1")  # error
    assert c.set("f:1", "v2") is True  # journaled
    assert c.set("i:1", "x") is True  # invalidate: a DEL is journaled
    with pytest.raises(redis.ResponseError, match="^" + WRITE_REJECTED.format("main") + "$"):
        c.set("e:1", "x")
    m4 = Metrics(sw)

    def grew(name: str, by: int = 1, **labels) -> None:
        d = delta(m4, m3, name, **labels)
        assert d >= by, f"{name}{labels} grew by {d} during the outage, wanted >= {by}"

    for source in ("l1_fresh", "l1_stale", "default", "miss"):
        grew("seawall_answers_total", source=source)
    grew("seawall_answers_total", 2, source="error")
    grew("seawall_fallthrough_denied_total")
    grew("seawall_cache_events_total", event="hit_stale")
    grew("seawall_cache_events_total", event="invalidation")
    grew("seawall_breaker_calls_total", outcome="rejected", **main)
    grew("seawall_writes_while_unavailable_total", result="journaled")
    grew("seawall_writes_while_unavailable_total", result="invalidated")
    grew("seawall_writes_while_unavailable_total", result="rejected")
    grew("seawall_journal_operations_total", 2, operation="appended", **main)
    assert m4("seawall_journal_entries", **main) == 2
    assert m4("seawall_journal_bytes", **main) > 0
    assert delta(m4, m3, "seawall_answers_total", source="upstream") == 0

    # Restart: the journal is replayed and empties, connections and the breaker come back.
    redis_server.start()
    bound = recovery_bound() + 2
    wait_metric(sw, "seawall_breaker_state", 0, bound, **main)
    wait_metric(sw, "seawall_journal_entries", 0, bound, **main)
    wait_metric(sw, "seawall_upstream_connections", 2, bound, **main)
    m5 = Metrics(sw)
    assert m5("seawall_journal_bytes", **main) == 0
    assert delta(m5, m4, "seawall_journal_operations_total", operation="replayed", **main) == 2
    # open -> half_open -> closed at least
    assert delta(m5, m4, "seawall_breaker_transitions_total", **main) >= 2
    assert delta(m5, m4, "seawall_upstream_connects_total", result="ok", **main) > 0
    direct = client(redis_server.port)
    assert direct.get("f:1") == b"v2" and direct.exists("i:1") == 0
    assert c.get("f:1") == b"v2"
    assert delta(Metrics(sw), m5, "seawall_answers_total", source="upstream") > 0

    # Reloads: SIGHUP succeeds, a broken file fails, a fixed file succeeds again.
    os.kill(sw.pid, signal.SIGHUP)
    wait_metric(sw, "seawall_config_reloads_total", 1, 5, result="success")
    assert metric(sw, "seawall_config_version") == 2
    sw.write_config("upstreams: [\n")
    wait_metric(sw, "seawall_config_reloads_total", 1, 5, result="failure")
    assert metric(sw, "seawall_config_version") == 2
    assert metric(sw, "seawall_config_last_reload_successful") == 0
    sw.write_config()
    wait_metric(sw, "seawall_config_reloads_total", 2, 5, result="success")
    assert metric(sw, "seawall_config_version") == 3
    assert metric(sw, "seawall_config_last_reload_successful") == 1


def test_health_check_counter_moves(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)])  # a check every 100ms
    time.sleep(0.5)
    m = Metrics(sw)
    assert m("seawall_health_checks_total", upstream="main", result="ok") >= 2
    redis_server.kill9()
    wait_metric(sw, "seawall_health_checks_total", lambda v: v >= 2, 3, upstream="main",
                result="failed")


# --------------------------------------------------------------------------------------------
# 2. a breaker forced open from the admin API


def redis_calls(direct: redis.Redis, command: str) -> int:
    """How many times Redis ran `command` (INFO commandstats)."""
    return direct.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


def test_forced_open_breaker_serves_fallbacks_until_reset(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)],
                      policies=[{"match": "c:*", "l1": {"ttl": "60s", "max_stale": "60s"}},
                                {"match": "*", "on_unavailable": "miss"}])
    c, direct = client(sw.port), client(redis_server.port)
    assert c.set("c:1", "v1") is True
    assert c.get("c:1") == b"v1"  # now in L1
    before = Metrics(sw)
    gets, sets = redis_calls(direct, "get"), redis_calls(direct, "set")

    assert post(sw, "/breakers/main/open") == {"upstream": "main", "state": "open"}
    # Forced open is sticky: Redis is healthy and health checks pass (every 100ms), but it
    # stays open across several open_duration (300ms) periods.
    for _ in range(4):
        assert metric(sw, "seawall_breaker_state", upstream="main") == 1
        assert c.get("c:1") == b"v1"  # the L1 copy
        assert c.get("c:2") is None  # no copy: miss
        with pytest.raises(redis.ResponseError, match="^" + WRITE_REJECTED.format("main") + "$"):
            c.set("c:1", "v2")
        time.sleep(0.3)
    assert redis_calls(direct, "get") == gets and redis_calls(direct, "set") == sets, (
        "a request reached Redis while the breaker was forced open")
    assert direct.get("c:1") == b"v1"
    during = Metrics(sw)
    assert delta(during, before, "seawall_answers_total", source="l1_fresh") == 4
    assert delta(during, before, "seawall_answers_total", source="miss") == 4
    assert delta(during, before, "seawall_writes_while_unavailable_total", result="rejected") == 4
    assert delta(during, before, "seawall_breaker_opened_total", upstream="main") == 1
    assert "upstream=main breaker forced by the admin API" in sw.log_tail()

    assert post(sw, "/breakers/main/reset") == {"upstream": "main", "state": "closed"}
    assert metric(sw, "seawall_breaker_state", upstream="main") == 0
    assert c.set("c:1", "v2") is True
    assert direct.get("c:1") == b"v2"
    assert c.get("c:1") == b"v2"
    assert redis_calls(direct, "set") == sets + 1
    time.sleep(0.5)  # health checks keep it closed
    assert metric(sw, "seawall_breaker_state", upstream="main") == 0


# --------------------------------------------------------------------------------------------
# 3. hot reload under load


N_CLIENTS = 50


class LoadClient:
    """One raw connection in its own thread doing SET load:<i> then GET load:<i> until stopped.

    Records every error reply, exception and closed connection (all failures), and every GET
    that returned nil together with when its SET was sent (nil is right only for a SET that
    reached the old upstream just before an address switch)."""

    def __init__(self, port: int, index: int, max_seconds: float):
        self.index = index
        self.key = f"load:{index}"
        self.conn = RawConnection(port, timeout=5)
        self.max_seconds = max_seconds
        self.ops = 0
        self.last_value: Optional[bytes] = None
        self.errors: list[str] = []
        self.nil_sets: list[float] = []  # monotonic time the SET before a nil GET was sent
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + self.max_seconds
        n = 0
        while not self.stop.is_set() and time.monotonic() < end and not self.errors:
            value = b"%d-%d" % (self.index, n)
            try:
                t_set = time.monotonic()
                got = self.conn.request("SET", self.key, value)
                if got != b"+OK\r\n":
                    self.errors.append(f"SET {self.key}: {got!r}")
                    break
                self.last_value = value
                got = self.conn.request("GET", self.key)
                if got == b"$-1\r\n":
                    self.nil_sets.append(t_set)
                elif got != b"$%d\r\n%s\r\n" % (len(value), value):
                    self.errors.append(f"GET {self.key}: {got!r}, wanted {value!r}")
                    break
            except (OSError, ConnectionClosed, ValueError) as e:
                self.errors.append(f"{self.key}: {e!r}")
                break
            n += 1
            self.ops = n
            time.sleep(0.002)  # 50 clients; leave CPU for seawall and Redis on a small machine

    def start(self) -> "LoadClient":
        self.thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), f"{self.key}: load thread did not stop"
        try:
            if not self.errors and self.conn.request("PING") != b"+PONG\r\n":
                self.errors.append(f"{self.key}: PING after the load failed")
        except (OSError, ConnectionClosed) as e:
            self.errors.append(f"{self.key}: connection gone after the load: {e!r}")
        self.conn.close()


class PipelineClient(LoadClient):
    """Sends SETs 100 at a time and checks every reply: requests arrive at every moment."""

    BATCH = 100

    def _run(self) -> None:
        end = time.monotonic() + self.max_seconds
        n = 0
        while not self.stop.is_set() and time.monotonic() < end and not self.errors:
            batch = [b"%d-%d" % (self.index, n + i) for i in range(self.BATCH)]
            try:
                self.conn.send(b"".join(encode_command("SET", self.key, v) for v in batch))
                bad = [r for r in self.conn.read_replies(self.BATCH) if r != b"+OK\r\n"]
            except (OSError, ConnectionClosed, ValueError) as e:
                self.errors.append(f"{self.key}: {e!r}")
                break
            if bad:
                self.errors.append(f"pipelined SET {self.key}: {len(bad)} failed: {bad[0]!r}")
                break
            self.last_value = batch[-1]
            n += self.BATCH
            self.ops = n


class Load:
    def __init__(self, port: int, max_seconds: float, pipelined: int = 0):
        self.clients = [LoadClient(port, i, max_seconds) for i in range(N_CLIENTS)]
        self.clients += [PipelineClient(port, N_CLIENTS + i, max_seconds)
                         for i in range(pipelined)]
        self._ops = [0] * len(self.clients)
        for c in self.clients:
            c.start()

    def errors(self) -> list[str]:
        return [e for c in self.clients for e in c.errors]

    def check(self, what: str) -> None:
        """No client has failed, and every client made progress since the last check."""
        previous = self._ops
        wait_until(lambda: self.errors() or all(
            c.ops > p for c, p in zip(self.clients, previous)), 10,
            f"every load client to make progress ({what})")
        errors = self.errors()
        assert not errors, f"{what}: {len(errors)} client errors: {errors[:5]}"
        self._ops = [c.ops for c in self.clients]

    def finish(self) -> None:
        for c in self.clients:
            c.finish()


def reload_lines(sw: Seawall) -> str:
    return "\n".join(line for line in sw.log_text().splitlines() if " config: " in line)


def reload_upstream(name: str, server: RedisServer) -> dict:
    return {"name": name, "address": server.address, "connections": 2, "request_timeout": "2s",
            "recovery_ramp": "0s",
            "breaker": {"slow_call_duration": "2s", "consecutive_failures": 5}}


def reload_to(sw: Seawall, config: dict, version: int) -> None:
    """Writes `config` and waits until seawall runs it as configuration `version`."""
    sw.config = config
    sw.write_config()
    wait_metric(sw, "seawall_config_version", version, 5)


def test_hot_reload_under_load(redis_server, make_seawall):
    # "spare" has its own breaker: forcing it open shows the spare:* default without touching
    # the upstream the load runs on.
    sw = make_seawall(
        threads=2,
        upstreams=[reload_upstream("main", redis_server),
                   reload_upstream("spare", redis_server)],
        routes=[{"prefix": "spare:", "upstream": "spare"}],
        policies=[{"match": "spare:*", "default": {"type": "string", "value": "old-default"}}])
    sw.wait_ready()
    path = str(sw.config_path)
    probe = client(sw.port)

    def spare_default() -> bytes:
        assert post(sw, "/breakers/spare/open")["state"] == "open"
        try:
            return probe.get("spare:absent")
        finally:
            assert post(sw, "/breakers/spare/reset")["state"] == "closed"

    assert spare_default() == b"old-default"
    load = Load(sw.port, max_seconds=60, pipelined=1)
    try:
        load.check("before any reload")
        assert metric(sw, "seawall_clients") >= N_CLIENTS

        # A changed file: a new default for spare:*, a new breaker threshold for main.
        config = copy.deepcopy(sw.config)
        config["policies"][0]["default"]["value"] = "new-default"
        config["upstreams"][0]["breaker"]["consecutive_failures"] = 7
        reload_to(sw, config, 2)
        assert spare_default() == b"new-default"
        assert "upstream=main new breaker thresholds" in reload_lines(sw)
        assert f"reloaded {path} (file changed): configuration version 2" in reload_lines(sw)
        load.check("after a file change")

        # SIGHUP with the file as it is: a reload all the same.
        os.kill(sw.pid, signal.SIGHUP)
        wait_metric(sw, "seawall_config_version", 3, 5)
        assert f"reloaded {path} (SIGHUP): configuration version 3" in reload_lines(sw)
        # SIGHUP right after a change (the file poll may see it first: then SIGHUP reloads the
        # same file once more).
        config = copy.deepcopy(sw.config)
        config["policies"][0]["default"]["value"] = "sighup-default"
        sw.config = config
        sw.write_config()
        os.kill(sw.pid, signal.SIGHUP)
        wait_until(lambda: re.search(r"\(SIGHUP\): configuration version [45]\b",
                                     reload_lines(sw)), 5, "the SIGHUP reload")
        assert spare_default() == b"sighup-default"
        load.check("after SIGHUP")

        # log level warn: the info line of the next reload is not written, warnings still are.
        version = int(metric(sw, "seawall_config_version"))
        config = copy.deepcopy(sw.config)
        config["log"]["level"] = "warn"
        reload_to(sw, config, version + 1)
        version += 1
        forced = "upstream=spare breaker forced by the admin API"
        warnings = sw.log_text().count(forced)
        assert spare_default() == b"sighup-default"  # open and reset: two warnings
        wait_until(lambda: sw.log_text().count(forced) == warnings + 2, 2,
                   "the admin API's warnings at level warn")
        assert f"configuration version {version}" not in sw.log_text()
        load.check("after the log level change")

        # Broken files: each one fails, names the file (and line), and changes nothing.
        lines = sw.config_path.read_text().splitlines()
        threads_line = lines.index("threads: 2")  # 0-based: line threads_line + 1
        syntax = lines[:threads_line] + ["threads: 2: 3"] + lines[threads_line + 1:]
        unknown = lines[:threads_line + 1] + ["bogus_key: 1"] + lines[threads_line + 1:]
        removed = copy.deepcopy(sw.config)
        removed["upstreams"] = removed["upstreams"][:1]
        removed["routes"] = []
        removed["policies"] = []
        cases = [
            ("YAML syntax error", "\n".join(syntax) + "\n",
             rf"{re.escape(path)}:{threads_line + 1}: invalid YAML"),
            ("unknown key", "\n".join(unknown) + "\n",
             rf"{re.escape(path)}:{threads_line + 2}: bogus_key: unknown key"),
            # The line is missing from this message: see the xfail test below.
            ("upstream removed", to_yaml(removed) + "\n",
             rf"{re.escape(path)}\S*: upstreams: cannot be added, removed"),
        ]
        for i, (what, text, pattern) in enumerate(cases, start=1):
            sw.write_config(text)
            wait_metric(sw, "seawall_config_reloads_total", i, 5, result="failure")
            assert metric(sw, "seawall_config_version") == version, what
            assert re.search(pattern, reload_lines(sw)), (
                f"{what}: no log line matching {pattern!r}:\n{reload_lines(sw)[-2000:]}")
            assert spare_default() == b"sighup-default", what
            load.check(f"after a broken file ({what})")

        # A good file again is taken, at the next version.
        config = copy.deepcopy(sw.config)
        config["log"]["level"] = "info"
        reload_to(sw, config, version + 1)
        assert f"configuration version {version + 1}" in reload_lines(sw)
        load.check("after the good file")
    finally:
        load.finish()

    errors = load.errors()
    assert not errors, f"{len(errors)} client errors: {errors[:5]}"
    nils = [c.key for c in load.clients if c.nil_sets]
    assert not nils, f"GET right after SET returned nil for {nils[:5]}"
    assert sum(c.ops for c in load.clients) > N_CLIENTS * 20
    m = Metrics(sw)
    assert m("seawall_config_reloads_total", result="failure") == 3
    assert m("seawall_config_reloads_total", result="success") == m("seawall_config_version") - 1
    assert m("seawall_breaker_opened_total", upstream="main") == 0


def test_upstream_address_reload_under_load(tmp_path, redis_server, make_seawall):
    second = RedisServer(tmp_path / "second")
    second.start()
    try:
        sw = make_seawall(threads=2, upstreams=[reload_upstream("main", redis_server)])
        sw.wait_ready()
        # Plus one client pipelining SETs, so that requests arrive at every moment of the switch.
        load = Load(sw.port, max_seconds=30, pipelined=1)
        try:
            load.check("before the reload")
            connected_before = redis_clients(redis_server)
            config = copy.deepcopy(sw.config)
            # A host name, as in Kubernetes: resolved at each connect.
            config["upstreams"][0]["address"] = f"localhost:{second.port}"
            t_switch = time.monotonic()
            reload_to(sw, config, 2)
            assert (f"reloaded {sw.config_path} (file changed): configuration version 2, "
                    "1 upstream(s) reconnecting") in reload_lines(sw)
            # New requests go to the second server (each worker switches once a connection to
            # it is up, so probe until this one has).
            probe = client(sw.port)
            wait_until(lambda: probe.set("moved", "yes") and
                       direct_get(second, "moved") == b"$3\r\nyes\r\n", 5,
                       "a SET through seawall to reach the second server")
            # Both workers have switched within moments of each other.
            t_confirmed = time.monotonic() + 0.5
            # The old connections (2 threads x 2, the health check's and the eviction
            # listener's) finish what they carry and close.
            wait_until(lambda: redis_clients(redis_server) == connected_before - 6, 5,
                       f"main's 6 connections to the first server to close (had "
                       f"{connected_before}, now {redis_clients(redis_server)})")
            # Every client writes again once both workers switched (a slow build runs each
            # client's loop at a few ops a second), so its last write is the second server's.
            ops_switched = [c.ops for c in load.clients]
            wait_until(lambda: all(c.ops >= n + 2 for c, n in zip(load.clients, ops_switched)),
                       10, "every load client to write after the switch")
            load.check("after the address switch")
        finally:
            load.finish()
        errors = load.errors()
        assert not errors, f"{len(errors)} client errors: {errors[:5]}"
        # A GET may find nil only when its SET went to the first server just before the switch.
        late = [(c.key, t) for c in load.clients for t in c.nil_sets
                if not t_switch <= t <= t_confirmed]
        assert not late, f"GET after SET returned nil outside the switch: {late[:5]}"
        # Every client's last write is on the second server.
        for c in load.clients:
            assert direct_get(second, c.key) == b"$%d\r\n%s\r\n" % (
                len(c.last_value), c.last_value), c.key
        assert metric(sw, "seawall_breaker_opened_total", upstream="main") == 0
    finally:
        second.stop()


def redis_clients(server: RedisServer) -> int:
    """Connections to `server`, the asking one included."""
    with server.raw() as conn:
        reply = conn.request("CLIENT", "LIST")
    return reply.count(b"\n") - 2  # a line per client, inside "$N\r\n...\r\n"


def direct_get(server: RedisServer, key: str) -> bytes:
    """The raw reply to GET `key` straight from `server`."""
    with server.raw() as conn:
        return conn.request("GET", key)


def test_refused_upstream_change_names_file_and_line(redis_server, make_seawall):
    sw = make_seawall(upstreams=[{"name": "main", "address": redis_server.address},
                                 {"name": "spare", "address": redis_server.address}])
    config = copy.deepcopy(sw.config)
    config["upstreams"] = config["upstreams"][:1]
    sw.config = config
    sw.write_config()
    wait_metric(sw, "seawall_config_reloads_total", 1, 5, result="failure")
    assert re.search(rf"{re.escape(str(sw.config_path))}:\d+: .*upstream", reload_lines(sw)), (
        reload_lines(sw))


# --------------------------------------------------------------------------------------------
# 4. SIGTERM drain

# Busy for ARGV[1] milliseconds inside Redis (so the reply is late), then returns ARGV[2].
BUSY_SCRIPT = """
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
repeat
  t = redis.call('TIME')
until (t[1] * 1000000 + t[2]) - start >= tonumber(ARGV[1]) * 1000
return ARGV[2]
"""


def test_sigterm_drains_in_flight_commands_then_exits_0(redis_server, make_seawall):
    drain_s = 5
    sw = make_seawall(
        upstreams=[{"name": "main", "address": redis_server.address, "request_timeout": "5s",
                    "breaker": {"slow_call_duration": "5s"}}],
        shutdown={"drain_timeout": f"{drain_s}s"})
    sw.wait_ready()
    busy_ms = 400
    # In flight at SIGTERM: a slow script on each of three clients, and a slow script with a
    # SET and a GET pipelined behind it on a fourth; Redis runs the four scripts one after
    # another, so the last replies come about 1.6s later. A fifth client is idle.
    slow = [sw.raw(timeout=10) for _ in range(3)]
    piped = sw.raw(timeout=10)
    idle = sw.raw(timeout=10)
    assert idle.request("PING") == b"+PONG\r\n"
    for i, conn in enumerate(slow):
        conn.send(encode_command("EVAL", BUSY_SCRIPT, "1", f"drain:{i}", str(busy_ms), f"done-{i}"))
    piped.send(encode_command("EVAL", BUSY_SCRIPT, "1", "drain:p", str(busy_ms), "done-p")
               + encode_command("SET", "drain:after", "x") + encode_command("GET", "drain:after"))
    wait_metric(sw, "seawall_commands_total", 4, 2, command="eval")
    wait_metric(sw, "seawall_commands_total", 1, 2, command="get")

    t_term = time.monotonic()
    sw.terminate()
    wait_until(lambda: http(sw.admin_port, "/readyz")[0] == 503, 1.0, "/readyz to turn 503")
    assert http(sw.admin_port, "/readyz")[2] == "draining\n"
    wait_until(lambda: refused(sw.port), 1.0, "new connections to be refused")
    assert sw.proc.poll() is None, "seawall exited with requests in flight"

    for i, conn in enumerate(slow):
        assert conn.read_reply() == b"$6\r\ndone-%d\r\n" % i
    assert piped.read_replies(3) == [b"$6\r\ndone-p\r\n", b"+OK\r\n", b"$1\r\nx\r\n"]
    t_replies = time.monotonic() - t_term
    # Then seawall closes every drained connection, the idle one included.
    for conn in slow + [piped, idle]:
        rest, closed = conn.read_until_closed(timeout=drain_s)
        assert closed and rest == b"", (closed, rest)
        conn.close()
    assert refused(sw.port)
    code = sw.wait_exit(timeout=drain_s + 2)
    elapsed = time.monotonic() - t_term
    assert code == 0, sw.log_tail()
    assert elapsed < drain_s, f"exit {elapsed:.2f}s after SIGTERM; drain_timeout is {drain_s}s"
    # The drain really waited: the last script ended about 4 x busy_ms after the first began.
    assert t_replies >= 3 * busy_ms / 1000, f"replies came too soon: {t_replies:.2f}s"
    assert "drain timeout" not in sw.log_tail()
    direct = client(redis_server.port)
    assert direct.get("drain:after") == b"x"


def refused(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
