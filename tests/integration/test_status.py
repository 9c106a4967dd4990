"""GET /status of the real seawall binary: the JSON schema (every field and its type), and that
it follows what happens: forcing the breaker open changes its state, `forced` and the last
transition; a reload bumps the config version and records its result, a broken file records the
error and keeps the version. The numbers agree with /metrics (both read the same counters).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(__file__))

from harness import LOOPBACK, http, sample, scrape, wait_until  # noqa: E402

SOURCES = {"upstream", "journal", "l1_fresh", "l1_stale", "l1_evicted", "l1_near",
           "default", "miss", "error"}
BREAKER_COUNTERS = {"successes", "failures", "timeouts", "slow_calls", "ignored", "rejected",
                    "transitions", "opened"}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def status(sw) -> dict:
    code, headers, body = http(sw.admin_port, "/status")
    assert code == 200 and headers["Content-Type"] == "application/json", (code, body)
    return json.loads(body)


def parse_time(text: str) -> float:
    assert ISO.fullmatch(text), text
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_schema(doc: dict) -> None:
    assert isinstance(doc["version"], str) and doc["version"]
    assert doc["readiness"] in ("starting", "ready", "draining")
    assert abs(parse_time(doc["started_at"]) - time.time()) < 600
    for key in ("uptime_seconds", "threads", "clients", "max_clients", "config_version",
                "fallthrough_denied"):
        assert is_count(doc[key]), key
    assert isinstance(doc["listen"], str)
    config = doc["config"]
    assert isinstance(config["path"], str) and is_count(config["version"])
    assert config["version"] == doc["config_version"]
    assert re.fullmatch(r"[0-9a-f]{16}", config["hash"]), config
    parse_time(config["loaded_at"])
    reload = config["last_reload"]
    if reload is not None:
        assert reload["result"] in ("ok", "failed")
        parse_time(reload["at"])
        assert isinstance(reload["seconds_ago"], float) and reload["seconds_ago"] >= 0
        assert reload["reason"] in ("SIGHUP", "file changed")
        assert (reload["error"] is None) == (reload["result"] == "ok")
    assert set(doc["answers"]) == SOURCES and all(map(is_count, doc["answers"].values()))
    assert doc["upstreams"]
    for u in doc["upstreams"]:
        assert isinstance(u["name"], str) and re.fullmatch(r".+:\d+", u["address"])
        b = u["breaker"]
        assert b["state"] in ("closed", "open", "half_open")
        assert b["override"] in ("none", "forced_open", "forced_closed")
        assert b["forced"] is (b["override"] != "none")
        assert b["open_until_remaining_ms"] is None or is_count(b["open_until_remaining_ms"])
        assert set(b["counters"]) == BREAKER_COUNTERS
        assert all(map(is_count, b["counters"].values()))
        t = b["last_transition"]
        if t is not None:
            assert {t["from"], t["to"]} <= {"closed", "open", "half_open"} and t["from"] != t["to"]
            parse_time(t["at"])
            assert isinstance(t["seconds_ago"], float) and t["seconds_ago"] >= 0
        for key in ("journal_entries", "journal_bytes", "requests_in_doubt"):
            assert is_count(u[key]), key
        assert u["last_health_check_ms"] is None or isinstance(u["last_health_check_ms"], float)


def test_status_schema_and_breaker_transition(make_seawall, redis_server):
    sw = make_seawall()
    sw.wait_ready()
    doc = status(sw)
    check_schema(doc)
    assert doc["readiness"] == "ready" and doc["listen"] == f"{LOOPBACK}:{sw.port}"
    assert doc["config"]["path"] == str(sw.config_path)
    assert doc["config"]["version"] == 1 and doc["config"]["last_reload"] is None
    (main,) = doc["upstreams"]
    assert main["name"] == "main" and main["address"] == redis_server.address
    assert main["breaker"]["state"] == "closed" and main["breaker"]["forced"] is False
    assert main["breaker"]["last_transition"] is None

    c = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
    assert c.set("k", "v") and c.get("k") == b"v"
    c.close()
    doc = status(sw)
    assert doc["answers"]["upstream"] >= 2
    assert doc["upstreams"][0]["breaker"]["counters"]["successes"] >= 2

    before = time.time()
    code, _, _ = http(sw.admin_port, "/breakers/main/open", method="POST")
    assert code == 200
    doc = status(sw)
    check_schema(doc)
    (main,) = doc["upstreams"]
    assert main["breaker"]["state"] == "open"
    assert main["breaker"]["override"] == "forced_open" and main["breaker"]["forced"] is True
    assert main["breaker"]["open_until_remaining_ms"] is None  # forced: no end of its own
    t = main["breaker"]["last_transition"]
    assert (t["from"], t["to"]) == ("closed", "open")
    assert before - 1 <= parse_time(t["at"]) <= time.time() + 1
    assert t["seconds_ago"] < 5
    families = scrape(sw.admin_port)
    assert sample(families, "seawall_breaker_state", upstream="main") == 1
    assert main["breaker"]["counters"]["transitions"] == sample(
        families, "seawall_breaker_transitions_total", upstream="main")
    assert main["breaker"]["counters"]["opened"] == 1

    code, _, _ = http(sw.admin_port, "/breakers/main/reset", method="POST")
    assert code == 200
    (main,) = status(sw)["upstreams"]
    assert main["breaker"]["state"] == "closed" and main["breaker"]["forced"] is False
    assert (main["breaker"]["last_transition"]["from"],
            main["breaker"]["last_transition"]["to"]) == ("open", "closed")


def test_status_shows_config_version_and_reload_results(make_seawall):
    sw = make_seawall()
    first = status(sw)["config"]

    os.kill(sw.pid, signal.SIGHUP)  # the same file again: a new version, the same hash
    wait_until(lambda: status(sw)["config"]["version"] == 2, 5, "configuration version 2")
    config = status(sw)["config"]
    assert config["hash"] == first["hash"]
    assert config["last_reload"]["result"] == "ok" and config["last_reload"]["reason"] == "SIGHUP"
    assert config["last_reload"]["error"] is None
    assert parse_time(config["loaded_at"]) >= parse_time(first["loaded_at"])

    sw.write_config("upstreams: [\n")  # broken: seen within a second, refused
    wait_until(lambda: status(sw)["config"]["last_reload"]["result"] == "failed", 5,
               "a failed reload in /status")
    doc = status(sw)
    check_schema(doc)
    assert doc["config"]["version"] == 2 and doc["config"]["hash"] == first["hash"]
    assert doc["config"]["last_reload"]["reason"] == "file changed"
    assert doc["config"]["last_reload"]["error"]
    assert sample(scrape(sw.admin_port), "seawall_config_last_reload_successful") == 0

    sw.config["log"]["level"] = "warn"  # fixed, and different: a new hash
    sw.write_config()
    wait_until(lambda: status(sw)["config"]["version"] == 3, 5, "configuration version 3")
    config = status(sw)["config"]
    assert config["last_reload"]["result"] == "ok" and config["hash"] != first["hash"]
    assert sample(scrape(sw.admin_port), "seawall_config_last_reload_successful") == 1
