"""The shipped Prometheus alerting rules, docker/prometheus/seawall-alerts.yml, checked and unit-
tested with Debian's promtool: `promtool check rules` (syntax, templates) and `promtool test
rules docker/prometheus/seawall-alerts.test.yml` (each alert firing and not firing on synthetic
series), and every expression selecting only metric names a live seawall exports. That a real
Prometheus evaluates them against a real seawall is test_prometheus.py's job.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))

import yaml  # noqa: E402

from harness import http  # noqa: E402
from prometheus_server import (  # noqa: E402
    ALERT_RULES,
    ALERT_RULES_TEST,
    exported_names,
    prometheus_tool,
    promql_metric_names,
)

ALERTS = ["SeawallServingStale", "SeawallBreakerOpen", "SeawallFallthroughDenied",
          "SeawallJournalWaiting", "SeawallReloadFailed", "SeawallFaultsInjected"]


def promtool(*args: str) -> str:
    proc = subprocess.run([prometheus_tool("promtool"), *args], capture_output=True, text=True,
                          timeout=120, cwd=ALERT_RULES.parent)
    assert proc.returncode == 0, f"promtool {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def test_rules_pass_promtool_check():
    assert f"SUCCESS: {len(ALERTS)} rules found" in promtool("check", "rules", str(ALERT_RULES))


def test_rules_pass_their_promtool_unit_tests():
    assert "SUCCESS" in promtool("test", "rules", str(ALERT_RULES_TEST))


def test_every_alert_is_tested_firing_and_not_firing():
    text = ALERT_RULES_TEST.read_text()
    for alert in ALERTS:
        # Each `alertname: X` check up to the next check or test case.
        blocks = re.findall(
            rf"alertname: {alert}\n\s+exp_alerts:(.*?)(?=\n\s+- eval_time|\n\s+- interval|\Z)",
            text, re.S)
        assert any(b.strip() == "[]" for b in blocks), f"{alert} is never tested not firing"
        assert any("exp_labels" in b for b in blocks), f"{alert} is never tested firing"
    assert sorted(re.findall(r"- alert: (\w+)", ALERT_RULES.read_text())) == sorted(ALERTS)


def test_rules_use_only_exported_metrics(make_seawall):
    sw = make_seawall()
    status, _, text = http(sw.admin_port, "/metrics")
    assert status == 200
    exported = exported_names(text)
    rules = [r for g in yaml.safe_load(ALERT_RULES.read_text())["groups"] for r in g["rules"]]
    assert len(rules) == len(ALERTS)
    for rule in rules:
        names = promql_metric_names(rule["expr"])
        assert names and names <= exported, (rule["alert"], sorted(names - exported))
