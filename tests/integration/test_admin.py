"""The admin HTTP server of the real seawall binary, in front of a real redis-server.

Checks every route over real HTTP, parses /metrics with the Prometheus client library's own
parser (Debian package python3-prometheus-client), and checks the two promises /readyz makes:
it stays 200 while Redis is dead (seawall fails open, so Redis is not a readiness dependency),
and it turns 503 at SIGTERM while clients are still draining.

redis_server and make_seawall come from conftest.py; the harness's seawall config includes the
admin section on its own free port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from harness import (  # noqa: E402
    LOOPBACK,
    admin_answers,
    http,
    sample,
    scrape,
    seawall_binary,
    wait_until,
)

DRAIN_TIMEOUT_S = 5


@pytest.fixture
def seawall(make_seawall):
    # Overrides conftest's: these tests look at /readyz at once, so wait until it says ready.
    proxy = make_seawall()
    proxy.wait_ready()
    return proxy


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


def test_readyz_turns_503_at_sigterm_while_clients_drain(redis_server, make_seawall):
    proxy = make_seawall(
        upstreams=[{"name": "main", "address": redis_server.address, "request_timeout": "5s"}],
        shutdown={"drain_timeout": f"{DRAIN_TIMEOUT_S}s"})
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
    assert proxy.wait_exit(timeout=DRAIN_TIMEOUT_S + 5) == 0


def test_admin_disabled_opens_no_port(make_seawall):
    proxy = make_seawall(admin={"enabled": False})  # start() waits for a PING through it
    client = redis.Redis(host=LOOPBACK, port=proxy.port, socket_timeout=10)
    assert client.ping()
    client.close()
    assert not admin_answers(proxy.admin_port)


def run_on_a_taken_port(tmp_path, upstream_port: int, family: int, taken_address: str,
                        listen_address: str) -> tuple:
    """Runs seawall on a port that another socket listens on at `taken_address` (SO_REUSEADDR
    does not share a listening port); returns its exit status, its output and the port."""
    taken = socket.socket(family)
    taken.bind((taken_address, 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    config = tmp_path / "seawall.yaml"
    config.write_text(f"listen:\n  address: {listen_address}\n  port: {port}\n"
                      f"admin:\n  enabled: false\n"
                      f"upstreams:\n  - name: main\n    address: {LOOPBACK}:{upstream_port}\n")
    try:
        proc = subprocess.run([seawall_binary(), "--config", str(config)], capture_output=True,
                              text=True, timeout=30)
    finally:
        taken.close()
    return proc.returncode, proc.stdout + proc.stderr, port


def test_taken_listen_port_is_a_clear_startup_error(tmp_path, redis_server):
    status, out, _ = run_on_a_taken_port(tmp_path, redis_server.port, socket.AF_INET, LOOPBACK,
                                         LOOPBACK)
    # An exit with a message, not an abort (SIGABRT, -6) from a thread left running.
    assert status == 1, (status, out)
    assert "startup failed" in out and "Address already in use" in out, out


def test_listens_on_every_address_of_a_list(make_seawall):
    # A client whose resolver gives ::1 for "localhost" (Node 17 and later) finds seawall too.
    proxy = make_seawall(listen={"address": [LOOPBACK, "::1"]})
    via_v4 = redis.Redis(host=LOOPBACK, port=proxy.port, socket_timeout=5)
    via_v6 = redis.Redis(host="::1", port=proxy.port, socket_timeout=5)
    assert via_v6.set("k", "written over ::1")
    assert via_v4.get("k") == b"written over ::1"
    assert via_v4.set("k", "written over 127.0.0.1")
    assert via_v6.get("k") == b"written over 127.0.0.1"
    laddrs = {c["laddr"] for c in via_v4.client_list()}
    assert laddrs == {f"{LOOPBACK}:{proxy.port}", f"[::1]:{proxy.port}"}, laddrs
    doc = json.loads(http(proxy.admin_port, "/status")[2])
    assert doc["listen"] == f"{LOOPBACK}:{proxy.port}, [::1]:{proxy.port}"
    assert f"listening on {LOOPBACK}:{proxy.port}, [::1]:{proxy.port}" in proxy.log_text()


def test_a_taken_second_listen_address_is_a_clear_startup_error(tmp_path, redis_server):
    status, out, port = run_on_a_taken_port(tmp_path, redis_server.port, socket.AF_INET6, "::1",
                                            f"[{LOOPBACK}, '::1']")
    assert status == 1, (status, out)
    assert f"startup failed: cannot listen on [::1]:{port}: Address already in use" in out, out


def test_describe_metrics_lists_the_table():
    out = subprocess.run([seawall_binary(), "--describe-metrics"], check=True,
                         capture_output=True, text=True).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "LABELS", "HELP"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert rows["seawall_clients"] == "gauge"
    assert rows["seawall_build_info"] == "gauge"
    assert rows["process_cpu_seconds_total"] == "counter"
