"""The admin HTTP server of the real seawall binary, in front of a real redis-server.

Checks every route over real HTTP, parses /metrics with the Prometheus client library's own
parser (Debian package python3-prometheus-client), and checks the two promises /readyz makes:
it stays 200 while Redis is dead (seawall fails open, so Redis is not a readiness dependency),
and it turns 503 at SIGTERM while clients are still draining.

Self-contained: the fixtures below start redis-server on a free loopback port and the binary
named by $SEAWALL_BIN (ctest sets it) with a generated config that includes the admin section.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

LOOPBACK = "127.0.0.1"
DRAIN_TIMEOUT_S = 5


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG = 1: a killed pytest leaves no server behind.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def http(port: int, path: str, method: str = "GET", timeout: float = 5.0):
    """(status, headers, body text) of one request; 4xx and 5xx are answers, not exceptions."""
    request = urllib.request.Request(f"http://{LOOPBACK}:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def answers(port: int) -> bool:
    try:
        return http(port, "/healthz", timeout=0.5)[0] == 200
    except OSError:
        return False


class RedisServer:
    def __init__(self, workdir):
        self.port = free_port()
        self.log = open(workdir / "redis.log", "wb")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
             "--appendonly", "no", "--enable-debug-command", "yes", "--dir", str(workdir)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        client = redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=1)

        def up():
            try:
                return client.ping()
            except redis.RedisError:
                return False

        wait_until(up, 10, "redis-server to answer PING")
        client.close()

    def kill9(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.log.close()


class Seawall:
    def __init__(self, workdir, redis_port: int, admin: str | None = None,
                 request_timeout: str = "2s"):
        self.port = free_port()
        self.admin_port = free_port()
        while self.admin_port == self.port:  # two binds to port 0 may get the same port
            self.admin_port = free_port()
        admin = admin if admin is not None else (
            f"admin:\n  enabled: true\n  address: {LOOPBACK}\n  port: {self.admin_port}\n")
        config = workdir / "seawall.yaml"
        config.write_text(
            f"listen:\n  address: {LOOPBACK}\n  port: {self.port}\n"
            "upstreams:\n"
            f"  - name: main\n    address: {LOOPBACK}:{redis_port}\n"
            f"    request_timeout: {request_timeout}\n"
            f"shutdown:\n  drain_timeout: {DRAIN_TIMEOUT_S}s\n" + admin)
        self.log_path = workdir / "seawall.log"
        self.log = open(self.log_path, "wb")
        binary = os.environ.get("SEAWALL_BIN")
        if not binary:
            pytest.fail("SEAWALL_BIN is not set: run through ctest, or point it at build/seawall",
                        pytrace=False)
        self.proc = subprocess.Popen([binary, "--config", str(config)], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)

    def wait_ready(self) -> None:
        """Until /readyz is 200 and a PING through seawall reaches Redis (ready does not wait
        for the upstream connections, by design)."""
        client = redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=5)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"seawall exited with {self.proc.returncode}:\n{self.log_text()}")
            if not answers(self.admin_port) or http(self.admin_port, "/readyz")[0] != 200:
                return False
            try:
                return client.ping()
            except redis.RedisError:
                return False

        wait_until(up, 10, "seawall's /readyz to answer 200 and PING to reach Redis")
        client.connection_pool.disconnect()

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)

    def stop(self) -> int:
        """SIGTERM; returns the exit code (kill -9 by PID if it hangs past the drain)."""
        self.terminate()
        try:
            code = self.proc.wait(timeout=DRAIN_TIMEOUT_S + 5)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            code = None
        self.log.close()
        return code


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def make_seawall(tmp_path, redis_server):
    started = []

    def make(**kwargs) -> Seawall:
        workdir = tmp_path / f"seawall{len(started)}"
        workdir.mkdir()
        proxy = Seawall(workdir, redis_server.port, **kwargs)
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        code = proxy.stop()
        assert code == 0, f"seawall exited with {code}:\n{proxy.log_text()}"


@pytest.fixture
def seawall(make_seawall):
    proxy = make_seawall()
    proxy.wait_ready()
    return proxy


def scrape(port: int) -> dict:
    status, headers, body = http(port, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {family.name: family for family in text_string_to_metric_families(body)}


def sample(families: dict, name: str, **labels) -> float:
    family_name = name[: -len("_total")] if name.endswith("_total") else name
    for s in families[family_name].samples:
        if s.name == name and s.labels == labels:
            return s.value
    raise KeyError(f"no sample {name}{labels}")


def test_healthz_and_readyz(seawall):
    status, headers, body = http(seawall.admin_port, "/healthz")
    assert (status, body) == (200, "ok\n")
    assert headers["Content-Type"].startswith("text/plain")
    assert http(seawall.admin_port, "/readyz")[:3:2] == (200, "ready\n")


def test_metrics_parse_as_prometheus_text(seawall):
    families = scrape(seawall.admin_port)
    assert families["seawall_build_info"].type == "gauge"
    (build,) = families["seawall_build_info"].samples
    assert build.value == 1 and build.labels["version"]
    assert families["seawall_clients"].type == "gauge"
    assert families["process_cpu_seconds"].type == "counter"
    assert sample(families, "process_cpu_seconds_total") >= 0
    assert sample(families, "process_resident_memory_bytes") > 0
    assert sample(families, "process_open_fds") > 0
    assert abs(sample(families, "process_start_time_seconds") - time.time()) < 600
    for family in families.values():
        assert family.documentation, family.name

    clients = [redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=10) for _ in range(3)]
    try:
        for c in clients:
            assert c.ping()
        assert sample(scrape(seawall.admin_port), "seawall_clients") == 3
    finally:
        for c in clients:
            # redis-py 4.3's close() returns the connection to its pool, still open.
            c.connection_pool.disconnect()
    wait_until(lambda: sample(scrape(seawall.admin_port), "seawall_clients") == 0, 10,
               "seawall_clients to return to 0")


def test_status_is_json(seawall):
    status, headers, body = http(seawall.admin_port, "/status")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["readiness"] == "ready"
    assert doc["version"]
    assert doc["upstreams"][0]["name"] == "main"
    assert doc["listen"] == f"{LOOPBACK}:{seawall.port}"


def test_breaker_routes_and_errors(seawall):
    status, headers, body = http(seawall.admin_port, "/breakers/nope/open", method="POST")
    assert status == 404
    assert json.loads(body) == {"error": "unknown breaker", "breaker": "nope"}
    status, headers, _ = http(seawall.admin_port, "/breakers/main/open")
    assert status == 405 and headers["Allow"] == "POST"
    status, headers, _ = http(seawall.admin_port, "/metrics", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert http(seawall.admin_port, "/nope")[0] == 404


def test_forced_open_breaker_serves_fallbacks(seawall):
    client = redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=10)
    assert client.set("cached", "v1")
    assert client.get("cached") == b"v1"  # fills the L1 (default policy: 5s fresh, 60s stale)
    status, _, body = http(seawall.admin_port, "/breakers/main/open", method="POST")
    assert status == 200 and json.loads(body) == {"upstream": "main", "state": "open"}
    assert sample(scrape(seawall.admin_port), "seawall_breaker_state", upstream="main") == 1
    # Nothing reaches Redis: the cached copy answers, and a write is rejected.
    assert client.get("cached") == b"v1"
    with pytest.raises(redis.exceptions.ResponseError, match="UNAVAILABLE"):
        client.set("cached", "v2")
    families = scrape(seawall.admin_port)
    assert sample(families, "seawall_answers_total", source="l1_fresh") >= 1
    assert sample(families, "seawall_writes_while_unavailable_total", result="rejected") >= 1
    status, _, body = http(seawall.admin_port, "/breakers/main/reset", method="POST")
    assert status == 200 and json.loads(body)["state"] == "closed"
    assert client.set("cached", "v2") and client.get("cached") == b"v2"


def test_readyz_stays_200_while_redis_is_dead(seawall, redis_server):
    client = redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=10)
    assert client.set("k", "v")
    redis_server.kill9()
    # Fail open: with Redis gone seawall still answers its clients, so it stays ready.
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert http(seawall.admin_port, "/readyz")[:3:2] == (200, "ready\n")
        assert http(seawall.admin_port, "/healthz")[0] == 200
        try:
            client.get("k")
        except redis.RedisError:
            pass  # what a client gets while Redis is down is not this test's business
        time.sleep(0.05)
    assert "seawall_clients" in scrape(seawall.admin_port)
    client.close()


def test_readyz_turns_503_at_sigterm_while_clients_drain(make_seawall):
    proxy = make_seawall(request_timeout="5s")
    proxy.wait_ready()
    client = redis.Redis(host=LOOPBACK, port=proxy.port, socket_timeout=10)
    assert client.ping()
    # A request in flight for 1.5 s keeps the drain going after SIGTERM.
    in_flight = threading.Thread(target=lambda: client.execute_command("DEBUG", "SLEEP", "1.5"))
    in_flight.start()
    time.sleep(0.2)
    proxy.terminate()
    wait_until(lambda: http(proxy.admin_port, "/readyz")[0] == 503, 1.0, "/readyz to turn 503")
    assert proxy.proc.poll() is None, "seawall exited before the drain finished"
    assert http(proxy.admin_port, "/readyz")[2] == "draining\n"
    assert http(proxy.admin_port, "/healthz")[0] == 200
    in_flight.join(timeout=10)
    client.close()
    assert proxy.proc.wait(timeout=DRAIN_TIMEOUT_S + 5) == 0


def test_admin_disabled_opens_no_port(make_seawall):
    proxy = make_seawall(admin="admin:\n  enabled: false\n")
    client = redis.Redis(host=LOOPBACK, port=proxy.port, socket_timeout=10)

    def proxy_up():
        if proxy.proc.poll() is not None:
            raise RuntimeError(proxy.log_text())
        try:
            return client.ping()
        except redis.RedisError:
            return False

    wait_until(proxy_up, 10, "seawall to answer PING")
    client.close()
    assert not answers(proxy.admin_port)


def test_describe_metrics_lists_the_table():
    out = subprocess.run([os.environ["SEAWALL_BIN"], "--describe-metrics"], check=True,
                         capture_output=True, text=True).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "LABELS", "HELP"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert rows["seawall_clients"] == "gauge"
    assert rows["seawall_build_info"] == "gauge"
    assert rows["process_cpu_seconds_total"] == "counter"
