"""The shipped Grafana dashboard, docker/grafana/seawall-dashboard.json: valid JSON with the
panels operators need, and every PromQL expression in it (panel targets and template variables)
selecting only metric names a live seawall exports on its admin /metrics. The alert rules get the
same name check in test_alert_rules.py; test_prometheus.py evaluates the dashboard's expressions
in a real Prometheus.
"""

from __future__ import annotations

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))

from harness import http  # noqa: E402
from prometheus_server import DASHBOARD, exported_names, promql_metric_names  # noqa: E402


def dashboard_panels() -> list[dict]:
    panels = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # a collapsed row holds its panels
    return panels


def dashboard_exprs() -> list[str]:
    """Every PromQL expression of the dashboard: panel targets, and label_values()' metric."""
    doc = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard_panels() for t in p.get("targets", [])]
    for var in doc["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            m = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
            assert m, f"unexpected template query {query!r}"
            exprs.append(m.group(1))
    return exprs


def test_dashboard_is_valid_json_with_the_operator_panels():
    doc = json.loads(DASHBOARD.read_text())
    assert doc["title"] == "seawall" and doc["uid"]
    panels = dashboard_panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels:
        if p["type"] == "row":
            continue
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["expr"].strip() and t["refId"], p["title"]
            assert t["datasource"]["uid"] == "${datasource}", p["title"]
    titles = " | ".join(p["title"] for p in panels)
    for needed in ("Answers by source", "Breaker state", "Fall-through denied",
                   "Journal entries waiting", "Config reloads", "latency"):
        assert needed in titles, f"no panel for {needed}: {titles}"


def test_promql_metric_names_helper():
    assert promql_metric_names(
        'histogram_quantile(0.99, sum by (upstream, le) (rate(a_bucket{x=~"$i",y="b c"}'
        '[$__rate_interval]))) / on(job) group_left b_total > 0 and c') == {"a_bucket",
                                                                              "b_total", "c"}


def test_every_dashboard_expression_uses_exported_metrics(make_seawall):
    sw = make_seawall()
    status, _, text = http(sw.admin_port, "/metrics")
    assert status == 200
    exported = exported_names(text)
    used = set()
    for expr in dashboard_exprs():
        names = promql_metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} uses {sorted(names - exported)}, not exported"
        used |= names
    # The panels the issue asks for are backed by these metrics.
    for name in ("seawall_answers_total", "seawall_breaker_state",
                 "seawall_fallthrough_denied_total", "seawall_journal_entries",
                 "seawall_config_reloads_total",
                 "seawall_upstream_request_duration_seconds_bucket"):
        assert name in used, name
