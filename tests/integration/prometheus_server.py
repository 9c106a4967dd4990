"""A real Prometheus (Debian package `prometheus`) for the integration tests, and the shipped
alerting rules and Grafana dashboard.

    prometheus_tool(name)   path of `prometheus` or `promtool`; skips the test when absent,
                            fails it instead when SEAWALL_REQUIRE_PROMETHEUS=1 (.ci/test sets it:
                            CI installs the package, so the tests must run there)
    PrometheusServer        started on a free loopback port, storage and config in the test's
                            tmp dir, scraping and evaluating rules every second; query() and
                            alerts() read its HTTP API
    promql_metric_names     the metric names a PromQL expression selects
    exported_names          the names a /metrics text exports
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional

import pytest

from harness import LOOPBACK, _die_with_parent, free_port, listens_on, tail, wait_until

SOURCE_DIR = Path(os.environ.get("SEAWALL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
ALERT_RULES = SOURCE_DIR / "docker" / "prometheus" / "seawall-alerts.yml"
ALERT_RULES_TEST = SOURCE_DIR / "docker" / "prometheus" / "seawall-alerts.test.yml"
DASHBOARD = SOURCE_DIR / "docker" / "grafana" / "seawall-dashboard.json"


def prometheus_tool(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} not found: install Debian's package prometheus (bash .ci/install-deps)"
    if os.environ.get("SEAWALL_REQUIRE_PROMETHEUS") == "1":
        pytest.fail(f"{reason}; SEAWALL_REQUIRE_PROMETHEUS=1 requires it", pytrace=False)
    pytest.skip(reason)


class PrometheusServer:
    """prometheus scraping `targets` (host:port of seawall admin endpoints) with `rule_files`."""

    def __init__(self, workdir: Path, targets: list[str], rule_files: list[Path]):
        self.binary = prometheus_tool("prometheus")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config_path = self.workdir / "prometheus.yml"
        self.log_path = self.workdir / "prometheus.log"
        # JSON is YAML: no YAML writer needed.
        self.config_path.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": "seawall",
                                "static_configs": [{"targets": targets}]}],
        }, indent=2))
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={self.config_path}",
             f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address={LOOPBACK}:{self.port}", "--log.level=warn"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent, cwd=self.workdir)

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}\n"
                                   f"{tail(self.log_path)}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    return r.status == 200 and listens_on(self.proc.pid, self.port)
            except OSError:
                return False

        wait_until(ready, timeout, f"prometheus on port {self.port} to be ready", interval=0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def api(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=5) as r:
            doc = json.loads(r.read())
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr: str) -> list[tuple[dict, float]]:
        """An instant vector query: [(labels, value)]."""
        data = self.api("/api/v1/query", query=expr)
        assert data["resultType"] == "vector", (expr, data)
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def alerts(self) -> list[dict]:
        """Pending and firing alerts: each has labels, state ("pending"/"firing"), value."""
        return self.api("/api/v1/alerts")["alerts"]

    def log_tail(self) -> str:
        return tail(self.log_path)


# --------------------------------------------------------------------------------------------
# metric names in PromQL, and the names a live seawall exports

_PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                    "unless", "bool", "offset", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (not functions, keywords, labels or strings).
    Enough for the expressions seawall ships; not a PromQL parser."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # range and subquery selectors
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    e = re.sub(r"\$\{?\w+\}?", "", e)  # Grafana variables
    names = set()
    for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", e):
        if m.group() in _PROMQL_KEYWORDS or e[m.end():].lstrip().startswith("("):
            continue  # a keyword or a function call
        names.add(m.group())
    return names


def exported_names(metrics_text: str) -> set[str]:
    """Every name a query may select in this /metrics text: each sample's name, plus each
    declared family's (a histogram's _bucket/_sum/_count too), with or without samples."""
    names = set()
    for line in metrics_text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group())
    return names
