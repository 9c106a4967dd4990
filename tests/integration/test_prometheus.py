"""A real Prometheus (Debian's) scraping a real seawall in front of a real redis-server, with the
shipped alerting rules loaded unchanged (docker/prometheus/seawall-alerts.yml).

Healthy first: the README's example queries say "nothing wrong" and no seawall alert is pending.
Then a real outage (kill -9 of redis-server) with stale reads, refused misses and journaled writes,
plus a broken config file pushed: each README query returns what it promises, SeawallReloadFailed
(no `for:`) fires, and the alerts with a `for:` (1 to 5 minutes, too long for a test) go pending,
which shows their expressions hold; promtool's tests (test_alert_rules.py) cover them firing.
Then recovery: Redis back and the file fixed, the alerts clear. Every expression of the Grafana
dashboard is evaluated too. Skipped only when the prometheus binary is absent (and not even then
with SEAWALL_REQUIRE_PROMETHEUS=1, as in CI).
"""

from __future__ import annotations

import os
import sys
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from faults import recovery_bound, upstream  # noqa: E402
from harness import LOOPBACK, sample, scrape, wait_until  # noqa: E402
from prometheus_server import ALERT_RULES, PrometheusServer, prometheus_tool  # noqa: E402
from test_grafana_dashboard import dashboard_exprs  # noqa: E402

# The README's "Queries worth an alert", verbatim (test_readme_lists_these_queries keeps them so).
STALE_SHARE = ('sum(rate(seawall_answers_total{source="l1_stale"}[5m])) '
               '/ sum(rate(seawall_answers_total[5m]))')
BREAKER_OPEN = "max_over_time(seawall_breaker_state[1m]) > 0"
FALLTHROUGH_DENIED = "rate(seawall_fallthrough_denied_total[5m]) > 0"
JOURNAL_WAITING = "sum(seawall_journal_entries) > 0"
RELOAD_FAILED = 'increase(seawall_config_reloads_total{result="failure"}[10m]) > 0'
LAST_RELOAD_FAILED = "seawall_config_last_reload_successful == 0"
README_QUERIES = [STALE_SHARE, BREAKER_OPEN, FALLTHROUGH_DENIED, JOURNAL_WAITING, RELOAD_FAILED,
                  LAST_RELOAD_FAILED]

POLICIES = [
    {"match": "s:*", "l1": {"ttl": "100ms", "max_stale": "5m"}},  # stale 100ms after a read
    {"match": "t:*", "default": {"type": "string", "value": "d"}},  # never a miss
    {"match": "j:*", "writes_when_open": "journal"},
    {"match": "*", "on_unavailable": "miss"},
]

WAIT_S = 30  # scrapes and rule evaluations are 1 s apart; CI machines are slow


@pytest.fixture
def prometheus_bin():
    return prometheus_tool("prometheus")  # skips (or fails under CI) before anything starts


def seawall_alerts(prom: PrometheusServer) -> dict[str, str]:
    """{alertname: state} of the pending and firing alerts (each rule here has one series)."""
    return {a["labels"]["alertname"]: a["state"] for a in prom.alerts()}


def value(prom: PrometheusServer, expr: str, **labels) -> float | None:
    """The value of the one series of `expr` whose labels include `labels`; None if none."""
    found = [v for m, v in prom.query(expr) if labels.items() <= m.items()]
    assert len(found) <= 1, (expr, found)
    return found[0] if found else None


def eventually(what: str, check, prom: PrometheusServer, sw) -> None:
    try:
        wait_until(check, WAIT_S, what, interval=0.25)
    except TimeoutError as e:
        raise AssertionError(f"{e}\nalerts: {prom.alerts()}\nprometheus log:\n{prom.log_tail()}"
                             f"\nseawall log:\n{sw.log_tail()}") from None


def test_prometheus_scrapes_seawall_and_alerts_on_a_real_outage(
        prometheus_bin, tmp_path, redis_server, make_seawall):
    sw = make_seawall(upstreams=[upstream("main", redis_server.port)], policies=POLICIES,
                      protect_database={"fallthrough_per_second": 1, "burst": 1})
    sw.wait_ready()
    prom = PrometheusServer(tmp_path / "prometheus", [f"{LOOPBACK}:{sw.admin_port}"],
                            [ALERT_RULES])
    prom.start()
    c = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
    try:
        # Healthy: scraped, rules loaded, every README query says nothing is wrong.
        eventually("seawall scraped", lambda: value(prom, 'up{job="seawall"}') == 1, prom, sw)
        for i in range(20):
            assert c.set(f"s:{i}", "v") and c.get(f"s:{i}") == b"v"  # L1 copies, from Redis

        def healthy_traffic_seen() -> bool:
            assert c.get("s:0") == b"v"  # keeps the rate's denominator above zero
            return value(prom, STALE_SHARE) == 0  # None or NaN until two scrapes saw traffic

        eventually("answers counted, none stale", healthy_traffic_seen, prom, sw)
        for expr in README_QUERIES[1:]:
            assert prom.query(expr) == [], expr
        assert value(prom, "seawall_breaker_state", upstream="main") == 0
        rules = prom.api("/api/v1/rules", type="alert")["groups"]
        assert {r["name"] for g in rules for r in g["rules"]} == {
            "SeawallServingStale", "SeawallBreakerOpen", "SeawallFallthroughDenied",
            "SeawallJournalWaiting", "SeawallReloadFailed", "SeawallFaultsInjected"}
        assert all(r["health"] != "err" for g in rules for r in g["rules"]), rules
        assert seawall_alerts(prom) == {}

        # The outage: Redis killed; the L1 copies are stale by now.
        redis_server.kill9()
        deadline = time.monotonic() + 5
        while sample(scrape(sw.admin_port), "seawall_breaker_state", upstream="main") == 0:
            assert time.monotonic() < deadline, f"breaker still closed\n{sw.log_tail()}"
            c.get("t:trip")
        for i in range(20):
            assert c.get(f"s:{i}") == b"v"  # l1_stale
        assert c.get("m:0") is None  # the one miss the budget lets through
        with pytest.raises(redis.ResponseError, match="UNAVAILABLE"):
            c.get("m:1")  # budget spent: refused
        assert c.set("j:1", "written during the outage")  # journaled
        sw.write_config("upstreams: [\n")  # a broken file: the reload (within 1 s) fails

        eventually("the README queries to see the outage", lambda: (
            (value(prom, STALE_SHARE) or 0) > 0.1
            and value(prom, BREAKER_OPEN, upstream="main") in (1, 2)
            and (value(prom, FALLTHROUGH_DENIED) or 0) > 0
            and value(prom, JOURNAL_WAITING) == 1
            and (value(prom, RELOAD_FAILED, result="failure") or 0) > 0
            and value(prom, LAST_RELOAD_FAILED) == 0), prom, sw)
        # The shipped rules: no `for:` fires at once; the others are pending (their `for:` is
        # minutes long; promtool tests them firing).
        expected = {"SeawallReloadFailed": "firing", "SeawallBreakerOpen": "pending",
                    "SeawallServingStale": "pending", "SeawallFallthroughDenied": "pending",
                    "SeawallJournalWaiting": "pending"}
        eventually("SeawallReloadFailed firing and the rest pending",
                   lambda: seawall_alerts(prom) == expected, prom, sw)
        (breaker_alert,) = [a for a in prom.alerts()
                            if a["labels"]["alertname"] == "SeawallBreakerOpen"]
        assert breaker_alert["labels"]["upstream"] == "main"
        assert breaker_alert["labels"]["severity"] == "critical"
        assert breaker_alert["labels"]["instance"] == f"{LOOPBACK}:{sw.admin_port}"
        assert float(breaker_alert["value"]) in (1, 2)
        assert "upstream main" in breaker_alert["annotations"]["summary"]

        # Every dashboard expression evaluates, and the outage shows in its main panels.
        for expr in dashboard_exprs():
            prom.query(expr.replace("$instance", ".*").replace("$__rate_interval", "1m"))
        assert value(prom, 'max by (upstream) (seawall_breaker_state{instance=~".*"})',
                     upstream="main") in (1, 2)

        # Recovery: Redis back, the file fixed; the journal is replayed and the alerts clear.
        redis_server.start()
        sw.write_config()
        wait_until(lambda: sample(scrape(sw.admin_port), "seawall_breaker_state",
                                  upstream="main") == 0, recovery_bound() + 5, "breaker closed")
        eventually("the alerts on the breaker, the journal and the reload to clear", lambda: (
            value(prom, "seawall_breaker_state", upstream="main") == 0
            and prom.query(JOURNAL_WAITING) == []
            and prom.query(LAST_RELOAD_FAILED) == []
            and not {"SeawallBreakerOpen", "SeawallJournalWaiting",
                     "SeawallReloadFailed"} & seawall_alerts(prom).keys()), prom, sw)
        assert redis.Redis(host=LOOPBACK, port=redis_server.port).get("j:1") == \
            b"written during the outage"
    finally:
        c.close()
        prom.stop()


def test_readme_lists_these_queries():
    from prometheus_server import SOURCE_DIR
    readme = (SOURCE_DIR / "README.md").read_text()
    for expr in README_QUERIES:
        assert expr in readme, f"README does not show {expr!r}"
