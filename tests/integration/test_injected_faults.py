"""Fault injection (`faults:`) through the real seawall binary, a real redis-server and redis-py.

What an operator rehearsing an outage relies on, checked with real traffic:
- about `percent` of the matching commands are affected: N requests, and the count seawall
  applied (seawall_faults_injected_total) and the count the client saw must agree and lie within
  five standard deviations of the binomial mean (for N = 2000 at 10%: 200 +- 67);
- commands the fault does not name are never touched (0 affected);
- an injected error is a real failure to the breaker: it counts as one, a read gets the fallback
  chain (here a policy default, so the client can tell), and at 100% the breaker opens and reads
  come from the L1;
- an injected delay is real latency: clients wait it out, the breaker counts slow calls, and past
  request_timeout the request times out and the fallback answers;
- a reload that drops the fault stops it; a reload with a bad fault keeps the old configuration
  (and so the old fault).
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(__file__))

from harness import http, sample, scrape, wait_until  # noqa: E402

N = 2000
PERCENT = 10.0
SIGMAS = 5.0
FAULTED = b"FAULTED"  # the default of f:* keys: what a read the fallback chain answered gets

POLICIES = [
    # No L1 copies: a read whose Redis call failed is answered by this default, visibly.
    {"match": "f:*", "l1": {"enabled": False}, "default": {"type": "string", "value": "FAULTED"}},
    {"match": "c:*", "l1": {"ttl": "60s", "max_stale": "60s"}},
    {"match": "*", "on_unavailable": "miss"},
]


def binomial_bounds(n: int, percent: float, sigmas: float = SIGMAS) -> tuple[float, float]:
    p = percent / 100.0
    mean = n * p
    sd = math.sqrt(n * p * (1.0 - p))
    return mean - sigmas * sd, mean + sigmas * sd


def upstream(port: int, **settings) -> dict:
    breaker = {
        # Only the slow-call trigger, and far away: the percentage tests must not trip the
        # breaker (a run of failures or a failure rate would stop the faults being drawn).
        "consecutive_failures": 0,
        "failure_rate_threshold": 0,
        "slow_call_rate_threshold": 100,
        "slow_call_duration": "2s",
    }
    breaker.update(settings.pop("breaker", {}))
    config = {"name": "main", "address": f"127.0.0.1:{port}", "connections": 2,
              "connect_timeout": "250ms", "request_timeout": "2s", "breaker": breaker}
    config.update(settings)
    return config


class Metrics:
    def __init__(self, sw):
        self.families = scrape(sw.admin_port)

    def __call__(self, name: str, **labels) -> float:
        return sample(self.families, name, **labels)


def injected(m: Metrics, kind: str) -> float:
    return m("seawall_faults_injected_total", upstream="main", type=kind)


def reload(sw, faults) -> None:
    """Writes the config with `faults` and sends SIGHUP; waits until the reload has succeeded."""
    before = Metrics(sw)("seawall_config_reloads_total", result="success")
    sw.config["faults"] = faults
    sw.write_config()
    os.kill(sw.pid, signal.SIGHUP)
    wait_until(lambda: Metrics(sw)("seawall_config_reloads_total", result="success") > before,
               10, "the reload")


def client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)


def count_faulted_gets(c: redis.Redis, key: str, n: int, real: bytes) -> int:
    faulted = 0
    for _ in range(n):
        got = c.get(key)
        if got == FAULTED:
            faulted += 1
        else:
            assert got == real, got
    return faulted


def test_error_fault_hits_about_percent_of_matching_commands_and_reloads(redis_server,
                                                                       make_seawall, capsys):
    sw = make_seawall(upstreams=[upstream(redis_server.port)], policies=POLICIES,
                      faults=[{"type": "error", "percent": PERCENT, "commands": ["get"],
                               "upstream": "main"}])
    c, direct = client(sw.port), client(redis_server.port)
    direct.set("f:1", "real")

    m0 = Metrics(sw)
    faulted = count_faulted_gets(c, "f:1", N, b"real")
    m1 = Metrics(sw)
    low, high = binomial_bounds(N, PERCENT)
    with capsys.disabled():
        print(f"\n[faults] error {PERCENT}% of {N} GETs: {faulted} failed "
              f"(5-sigma interval {low:.0f}..{high:.0f})")
    assert low <= faulted <= high
    # What seawall says it injected is what the client saw, and each was a breaker failure
    # answered by the fallback chain (the policy's default).
    assert injected(m1, "error") - injected(m0, "error") == faulted
    assert injected(m1, "delay") == injected(m0, "delay") == 0
    assert (m1("seawall_breaker_calls_total", upstream="main", outcome="failure") -
            m0("seawall_breaker_calls_total", upstream="main", outcome="failure")) == faulted
    assert (m1("seawall_answers_total", source="default") -
            m0("seawall_answers_total", source="default")) == faulted

    # Commands the fault does not name are untouched: reads of the same key, and writes.
    for i in range(N // 4):
        assert c.strlen("f:1") == 4
        assert c.exists("f:1") == 1
        assert c.set(f"f:w{i}", "x") is True
    assert c.mget("f:1", "f:w0") == [b"real", b"x"]
    m2 = Metrics(sw)
    assert injected(m2, "error") == injected(m1, "error")
    assert m2("seawall_answers_total", source="default") == m1("seawall_answers_total",
                                                                  source="default")

    # A bad fault on reload: refused, the old configuration (and its fault) stays in force.
    version = m2("seawall_config_version")
    sw.config["faults"] = [{"type": "error", "percent": 150, "commands": ["get"]}]
    sw.write_config()
    os.kill(sw.pid, signal.SIGHUP)
    wait_until(lambda: Metrics(sw)("seawall_config_reloads_total", result="failure") >= 1, 10,
               "the bad reload to be refused")
    status = json.loads(http(sw.admin_port, "/status")[2])
    assert status["config"]["last_reload"]["result"] == "failed"
    assert "faults[0].percent: must be between 0.0 and 100.0" in \
        status["config"]["last_reload"]["error"]
    m3 = Metrics(sw)
    assert m3("seawall_config_version") == version
    n = N // 4
    faulted = count_faulted_gets(c, "f:1", n, b"real")
    low, high = binomial_bounds(n, PERCENT)
    assert low <= faulted <= high
    assert injected(Metrics(sw), "error") - injected(m3, "error") == faulted

    # A reload without the fault stops it.
    reload(sw, [])
    m4 = Metrics(sw)
    assert count_faulted_gets(c, "f:1", n, b"real") == 0
    assert injected(Metrics(sw), "error") == injected(m4, "error")


def test_delay_fault_slows_about_percent_of_matching_commands(redis_server, make_seawall,
                                                              capsys):
    delay_s = 0.02
    # A slow call from 15 ms: each delayed GET is one; the breaker never trips on them.
    sw = make_seawall(upstreams=[upstream(redis_server.port, breaker={"slow_call_duration":
                                                                      "15ms"})],
                      policies=POLICIES,
                      faults=[{"type": "delay", "delay": "20ms", "percent": PERCENT,
                               "commands": ["get"]}])
    c, direct = client(sw.port), client(redis_server.port)
    direct.set("f:1", "real")
    m0 = Metrics(sw)
    latencies = []
    for _ in range(N):
        start = time.monotonic()
        assert c.get("f:1") == b"real"  # a delay changes when, never what
        latencies.append(time.monotonic() - start)
    m1 = Metrics(sw)
    delayed = injected(m1, "delay") - injected(m0, "delay")
    low, high = binomial_bounds(N, PERCENT)
    slow = sum(1 for t in latencies if t >= delay_s)
    with capsys.disabled():
        print(f"\n[faults] delay {PERCENT}% of {N} GETs: {delayed:.0f} delayed, {slow} took "
              f">= 20ms (5-sigma interval {low:.0f}..{high:.0f})")
    assert low <= delayed <= high
    # Every delayed GET waited at least the delay (others may be slow too on a busy machine).
    assert slow >= delayed
    assert (m1("seawall_breaker_calls_total", upstream="main", outcome="slow") -
            m0("seawall_breaker_calls_total", upstream="main", outcome="slow")) >= delayed
    assert injected(m1, "error") == 0

    # Non-matching commands: none delayed.
    for i in range(N // 4):
        assert c.set(f"f:w{i}", "x") is True
        assert c.strlen("f:1") == 4
    assert injected(Metrics(sw), "delay") == injected(m1, "delay")


def test_delay_past_request_timeout_is_a_timeout_answered_by_the_fallback(redis_server,
                                                                          make_seawall):
    sw = make_seawall(upstreams=[upstream(redis_server.port, request_timeout="100ms",
                                          breaker={"slow_call_duration": "1s"})],
                      policies=POLICIES)
    c = client(sw.port)
    assert c.set("c:1", "kept") is True  # its value stays in the L1 (c:* keeps copies)
    assert c.get("c:1") == b"kept"
    reload(sw, [{"type": "delay", "delay": "1s", "percent": 100, "commands": ["get"]}])
    m0 = Metrics(sw)
    for _ in range(5):
        start = time.monotonic()
        assert c.get("c:1") == b"kept"
        took = time.monotonic() - start
        assert 0.09 <= took < 0.9, took  # the deadline answered, not the held reply
    m1 = Metrics(sw)
    assert injected(m1, "delay") - injected(m0, "delay") == 5
    assert (m1("seawall_upstream_timeouts_total", upstream="main") -
            m0("seawall_upstream_timeouts_total", upstream="main")) == 5
    assert (m1("seawall_breaker_calls_total", upstream="main", outcome="timeout") -
            m0("seawall_breaker_calls_total", upstream="main", outcome="timeout")) == 5
    assert (m1("seawall_answers_total", source="l1_fresh") -
            m0("seawall_answers_total", source="l1_fresh")) == 5
    # Redis did run them: nothing is left in doubt.
    assert m1("seawall_upstream_requests_in_doubt", upstream="main") == 0


def test_injected_errors_trip_the_breaker_and_reads_come_from_the_l1(redis_server,
                                                                    make_seawall):
    sw = make_seawall(upstreams=[upstream(redis_server.port, breaker={
        "consecutive_failures": 5, "open_duration": "300ms", "max_open_duration": "300ms"},
        health_check={"interval": "100ms", "timeout": "250ms"})], policies=POLICIES)
    c = client(sw.port)
    assert c.set("c:1", "kept") is True
    assert c.get("c:1") == b"kept"
    reload(sw, [{"type": "error", "percent": 100, "commands": ["get"]}])
    m0 = Metrics(sw)
    for _ in range(50):
        assert c.get("c:1") == b"kept"  # the L1's copy: never the injected error
    m1 = Metrics(sw)
    assert m1("seawall_breaker_opened_total", upstream="main") > m0(
        "seawall_breaker_opened_total", upstream="main")
    assert m1("seawall_answers_total", source="upstream") == m0("seawall_answers_total",
                                                                 source="upstream")
    assert (m1("seawall_answers_total", source="l1_fresh") -
            m0("seawall_answers_total", source="l1_fresh")) == 50
    assert injected(m1, "error") - injected(m0, "error") >= 5
    # While the fault lasts the breaker keeps reopening: health-check PINGs (never faulted)
    # half-open or close it, and the next GETs trip it again. Seen open in /metrics and /status.
    def open_in_metrics() -> bool:
        assert c.get("c:1") == b"kept"
        return Metrics(sw)("seawall_breaker_state", upstream="main") == 1

    def open_in_status() -> bool:
        assert c.get("c:1") == b"kept"
        breaker = json.loads(http(sw.admin_port, "/status")[2])["upstreams"][0]["breaker"]
        return breaker["state"] == "open" and breaker["counters"]["opened"] >= 1

    wait_until(open_in_metrics, 10, "the breaker open in /metrics", interval=0.01)
    wait_until(open_in_status, 10, "the breaker open in /status", interval=0.01)

    # Drop the fault: the next probes succeed and the breaker closes; GETs reach Redis again.
    reload(sw, [])

    def closed() -> bool:
        c.get("c:1")
        return Metrics(sw)("seawall_breaker_state", upstream="main") == 0

    wait_until(closed, 10, "the breaker to close", interval=0.05)
    m2 = Metrics(sw)
    for _ in range(20):
        assert c.get("c:1") == b"kept"
    m3 = Metrics(sw)
    assert (m3("seawall_answers_total", source="upstream") -
            m2("seawall_answers_total", source="upstream")) == 20
    assert injected(m3, "error") == injected(m2, "error")


def test_an_injected_error_on_a_write_is_labelled_and_the_write_does_not_run(redis_server,
                                                                           make_seawall):
    sw = make_seawall(upstreams=[upstream(redis_server.port)], policies=POLICIES,
                      faults=[{"type": "error", "percent": 100, "commands": ["set"]}])
    c, direct = client(sw.port), client(redis_server.port)
    try:
        c.set("w:1", "x")
        raise AssertionError("SET was not failed")
    except redis.ResponseError as e:
        assert str(e) == "seawall injected fault"
    assert direct.exists("w:1") == 0
    assert c.get("w:1") is None  # GET is not faulted
