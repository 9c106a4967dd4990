"""Recovery after an outage, and breaker state across reloads, with a real redis-server.

1. Heal within a second: after a ~10 s kill -9 outage with a production-like breaker (open 1 s,
   backoff x2, max 30 s, so the open period has grown past 8 s when Redis returns), writes through
   seawall reach the restarted Redis within about a second of it answering, the journal of writes
   acknowledged during the outage arrives complete, and no client sees an error once Redis is
   back. The health checker's probes while open show in /metrics.
2. A reload that changes breaker thresholds keeps a breaker forced open through the admin API
   forced open: writes still do not reach Redis, /metrics and /status follow the new breaker, and
   /status shows the new configuration version.

SEAWALL_FAULT_SLACK_MS (default 250) is added to every latency bound; the heal bound below has
its own extra allowance for a loaded machine.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from faults import SLACK_S, client, upstream  # noqa: E402
from harness import RedisServer, http, sample, scrape, wait_until  # noqa: E402

# Redis answering again -> a write through seawall in Redis: the design's "about a second", plus
# half a second for a loaded CI machine and the scheduler slack.
HEAL_BOUND_S = 1.0 + 0.5 + SLACK_S
OUTAGE_S = 10.0
WRITE_REJECTED = "UNAVAILABLE seawall: upstream 'main' is unavailable: write rejected"

# The defaults a production config has, not the fast ones of faults.upstream(): health check
# every second, reconnect backoff up to a second, jittered open periods growing to 30 s.
PRODUCTION_BREAKER = {
    "open_duration": "1s",
    "backoff_multiplier": 2,
    "max_open_duration": "30s",
    "jitter": 0,  # exact periods: 1 + 2 + 4 s, then 8 s from 7 s, so 5 s are left at 10 s
}


def production_upstream(port: int) -> dict:
    return upstream("main", port, breaker=PRODUCTION_BREAKER, request_timeout=0.1,
                    reconnect_backoff_min="10ms", reconnect_backoff_max="1s",
                    health_check={"enabled": True, "interval": "1s", "timeout": "250ms"})


def status(sw) -> dict:
    code, _, body = http(sw.admin_port, "/status")
    assert code == 200, (code, body)
    return json.loads(body)


def upstream_status(sw, name: str = "main") -> dict:
    (entry,) = [u for u in status(sw)["upstreams"] if u["name"] == name]
    return entry


def post(sw, path: str) -> dict:
    code, _, body = http(sw.admin_port, path, method="POST")
    assert code == 200, (path, code, body)
    return json.loads(body)


class Writer:
    """SET rec:<i> <i> through seawall every `pause` seconds; remembers every outcome."""

    def __init__(self, port: int, pause: float = 0.005):
        self.client = client(port)
        self.pause = pause
        self.stop = threading.Event()
        self.acked: dict[str, bytes] = {}
        self.errors: list[tuple[float, str]] = []  # (monotonic time sent, error)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            key, value = f"rec:{i}", str(i)
            sent = time.monotonic()
            try:
                if self.client.set(key, value) is True:
                    self.acked[key] = value.encode()
            except redis.RedisError as e:
                self.errors.append((sent, str(e)))
            i += 1
            time.sleep(self.pause)

    def start(self) -> "Writer":
        self.thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def missing(direct: redis.Redis, acked: dict[str, bytes]) -> list[str]:
    keys = list(acked)
    out = []
    for i in range(0, len(keys), 1000):
        chunk = keys[i:i + 1000]
        out += [k for k, v in zip(chunk, direct.mget(chunk)) if v != acked[k]]
    return out


@pytest.fixture
def aof_redis(tmp_path):
    # Every write Redis acknowledged before the kill survives it, so every acknowledged write can
    # be looked for afterwards.
    server = RedisServer(tmp_path / "aof", extra_args=["--appendonly", "yes",
                                                       "--appendfsync", "always"])
    server.start()
    yield server
    server.stop()


def test_writes_reach_redis_within_a_second_after_a_long_outage(aof_redis, make_seawall):
    redis_server = aof_redis
    sw = make_seawall(upstream=redis_server, upstreams=[production_upstream(redis_server.port)],
                      policies=[{"match": "*", "writes_when_open": "journal"}])
    sw.wait_ready()
    writer = Writer(sw.port).start()
    sentinel_client = client(sw.port)
    try:
        time.sleep(0.5)
        assert not writer.errors, writer.errors[:5]
        redis_server.kill9()
        t_kill = time.monotonic()
        wait_until(lambda: upstream_status(sw)["breaker"]["state"] == "open", 3,
                   "the breaker to open after kill -9")
        time.sleep(max(0.0, t_kill + OUTAGE_S - time.monotonic()))
        before = upstream_status(sw)
        families = scrape(sw.admin_port)
        assert sample(families, "seawall_health_probes_while_open_total", upstream="main",
                      result="failed") > 0
        # What seawall would have waited without probing while open.
        remaining = before["breaker"]["open_until_remaining_ms"]
        assert before["breaker"]["state"] == "open" and remaining is not None
        assert remaining >= 2000, f"the open period did not grow as expected: {before}"
        assert before["journal_entries"] > 0

        redis_server.start()  # returns once it answers PING
        t_up = time.monotonic()
        direct = client(redis_server.port)
        assert sentinel_client.set("rec:sentinel", "after-restart") is True
        wait_until(lambda: direct.get("rec:sentinel") == b"after-restart", 10,
                   "the sentinel write in the restarted Redis", interval=0.005)
        healed = time.monotonic() - t_up
        print(f"open period left at restart: {remaining} ms; write in Redis {healed:.3f}s after "
              f"it answered; journal had {before['journal_entries']} entries")
        assert healed <= HEAL_BOUND_S, (
            f"the first write after the restart reached Redis {healed:.2f}s after Redis "
            f"answered (bound {HEAL_BOUND_S:.2f}s); the open period had {remaining} ms left"
            f"\n{sw.log_tail()}")
        wait_until(lambda: upstream_status(sw)["journal_entries"] == 0, 5, "an empty journal")
        time.sleep(1.0)  # traffic keeps flowing to the recovered Redis
    finally:
        writer.finish()

    after_restart = [e for e in writer.errors if e[0] >= t_up]
    assert not after_restart, f"{len(after_restart)} client errors after Redis was back: " \
                              f"{after_restart[:5]}"
    gone = missing(direct, writer.acked)
    assert not gone, f"{len(gone)} acknowledged writes are not in Redis: {gone[:10]}"
    assert upstream_status(sw)["breaker"]["state"] == "closed"
    families = scrape(sw.admin_port)
    assert sample(families, "seawall_health_probes_while_open_total", upstream="main",
                  result="ok") >= 1
    assert sample(families, "seawall_health_check_duration_seconds_count", upstream="main") >= 1
    # One line for the replay (a few thousand entries, several batches), none per batch.
    log = sw.log_text()
    # (A second line when writes were journaled while the breaker was half-open, after the
    # first replay emptied the journal: a slow build gets some.)
    assert 1 <= log.count("journaled writes in") <= 2, log[-3000:]


@pytest.mark.parametrize("breaker_opens", [True, False], ids=["breaker-open", "breaker-closed"])
def test_a_long_reconnect_backoff_does_not_delay_recovery(redis_server, make_seawall,
                                                          breaker_opens):
    """The worker threads' connections back off up to 8 s between connects; once Redis answers
    again (the health connection reconnects within a second whatever the backoff), they try at
    once: reads through seawall get Redis's values within the heal bound, not the fallback's
    answer for the rest of their backoff. With the breaker left closed (too few failures to trip
    it) a read that finds its connection in backoff waits for that connect instead of failing."""
    breaker = {} if breaker_opens else {"consecutive_failures": 0, "window_size": 1000,
                                           "minimum_calls": 1000}
    up = upstream("main", redis_server.port, breaker=breaker, request_timeout=0.1,
                  reconnect_backoff_min="8s", reconnect_backoff_max="8s",
                  health_check={"enabled": True, "interval": "200ms", "timeout": "100ms"})
    sw = make_seawall(upstream=redis_server, upstreams=[up],
                      policies=[{"match": "*", "on_unavailable": "error"}])
    sw.wait_ready()
    c = client(sw.port)
    assert c.set("back", "before") is True
    redis_server.kill9()
    # The shared connections drop and fail their first reconnect: 8 s of backoff from here.
    wait_until(lambda: sample(scrape(sw.admin_port), "seawall_upstream_connects_total",
                              upstream="main", result="failed") >= 2, 5,
               "the shared connections' failed reconnects")
    for _ in range(3):
        with pytest.raises(redis.RedisError):
            c.get("back")
    state = upstream_status(sw)["breaker"]["state"]
    assert (state == "open") == breaker_opens, state

    redis_server.start()  # empty; returns once it answers PING
    t_up = time.monotonic()
    direct = client(redis_server.port)
    assert direct.set("back", "after") is True

    def served() -> bool:
        try:
            return c.get("back") == b"after"
        except redis.RedisError:
            return False

    wait_until(served, 10, "a read through seawall answered by the restarted Redis",
               interval=0.01)
    healed = time.monotonic() - t_up
    print(f"read answered by Redis {healed:.3f}s after it answered PING")
    assert healed <= HEAL_BOUND_S, (
        f"reads reached the restarted Redis {healed:.2f}s after it answered (bound "
        f"{HEAL_BOUND_S:.2f}s): the connections waited out their backoff\n{sw.log_tail()}")
    # Every read from here on is Redis's: no connection is left in its backoff.
    for i in range(50):
        assert c.get("back") == b"after", i


def redis_calls(direct: redis.Redis, command: str) -> int:
    return direct.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


def test_reload_keeps_a_forced_open_breaker_forced_open(redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)])
    sw.wait_ready()
    c, direct = client(sw.port), client(redis_server.port)
    assert c.set("k", "v1") is True
    wait_until(lambda: upstream_status(sw)["last_health_check_ms"] is not None, 3,
               "a health check latency in /status")
    first = status(sw)
    assert first["config_version"] == 1
    main = upstream_status(sw)
    assert main["breaker"] == {**main["breaker"], "state": "closed", "override": "none",
                               "open_until_remaining_ms": None}
    assert main["breaker"]["counters"]["successes"] >= 1
    assert main["journal_entries"] == 0 and main["last_health_check_ms"] > 0

    assert post(sw, "/breakers/main/open") == {"upstream": "main", "state": "open"}
    sets = redis_calls(direct, "set")
    opened = sample(scrape(sw.admin_port), "seawall_breaker_opened_total", upstream="main")
    assert opened == 1

    # New thresholds: the reload installs a new breaker.
    config = copy.deepcopy(sw.config)
    config["upstreams"][0]["breaker"]["consecutive_failures"] = 7
    config["upstreams"][0]["breaker"]["open_duration"] = "200ms"
    sw.config = config
    sw.write_config()
    os.kill(sw.pid, signal.SIGHUP)
    wait_until(lambda: status(sw)["config_version"] >= 2, 5, "configuration version 2")
    assert "upstream=main new breaker thresholds, breaker kept open (forced_open)" in sw.log_text()

    # Still forced open, for longer than the new open duration, health checks notwithstanding.
    for _ in range(3):
        main = upstream_status(sw)
        assert main["breaker"]["state"] == "open", main
        assert main["breaker"]["override"] == "forced_open", main
        assert main["breaker"]["open_until_remaining_ms"] is None  # forced: no end in sight
        with pytest.raises(redis.ResponseError, match="^" + WRITE_REJECTED + "$"):
            c.set("k", "v2")
        time.sleep(0.3)
    assert redis_calls(direct, "set") == sets, "a write reached Redis while forced open"
    assert direct.get("k") == b"v1"
    families = scrape(sw.admin_port)
    assert sample(families, "seawall_breaker_state", upstream="main") == 1
    # Counters carry on across the reload: the retired breaker's are still counted.
    assert sample(families, "seawall_breaker_opened_total", upstream="main") == opened
    assert sample(families, "seawall_breaker_calls_total", upstream="main",
                  outcome="rejected") >= 3
    assert upstream_status(sw)["breaker"]["counters"]["rejected"] >= 3

    # Reset acts on the live breaker: writes reach Redis again.
    assert post(sw, "/breakers/main/reset") == {"upstream": "main", "state": "closed"}
    assert c.set("k", "v3") is True
    assert direct.get("k") == b"v3"
    assert upstream_status(sw)["breaker"]["override"] == "none"


def test_reload_keeps_an_automatically_open_breaker_open(redis_server, make_seawall):
    # A long open period (no probing: health checks off) survives a threshold change.
    slow_to_heal = {"open_duration": "30s", "max_open_duration": "30s"}
    sw = make_seawall(upstreams=[upstream("main", redis_server.port, breaker=slow_to_heal,
                                          health_check={"enabled": False})])
    sw.wait_ready()
    c = client(sw.port)
    redis_server.kill9()
    for _ in range(20):
        if upstream_status(sw)["breaker"]["state"] == "open":
            break
        try:
            c.get("x")  # a failure for the breaker, whatever the client gets
        except redis.RedisError:
            pass
    before = upstream_status(sw)["breaker"]
    assert before["state"] == "open" and before["override"] == "none", before
    config = copy.deepcopy(sw.config)
    config["upstreams"][0]["breaker"]["consecutive_failures"] = 9
    sw.config = config
    sw.write_config()
    os.kill(sw.pid, signal.SIGHUP)
    wait_until(lambda: status(sw)["config_version"] >= 2, 5, "configuration version 2")
    after = upstream_status(sw)["breaker"]
    assert after["state"] == "open" and after["override"] == "none", after
    # The remaining period was carried over, not restarted and not dropped.
    assert 0 < after["open_until_remaining_ms"] <= before["open_until_remaining_ms"]
    assert "new breaker thresholds, breaker kept open" in sw.log_text()
