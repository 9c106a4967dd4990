"""pytest fixtures: a real redis-server and the real seawall binary in front of it.

    redis_server   a fresh redis-server per test (kill9/sigstop/sigcont/restart for fault tests)
    make_seawall   factory: make_seawall(limits={"max_bulk": "1mb"}) starts one with overrides;
                   env={"NAME": "value"} adds to its environment
    seawall        seawall with the default test config, in front of redis_server
    proxy_client   redis-py client through seawall (default settings + a socket timeout)
    direct_client  redis-py client straight to redis_server
    cluster        a Redis Cluster of six nodes, three masters (cluster_nodes.Cluster)

Every seawall started here is stopped at teardown with SIGTERM and must exit 0 within
drain_timeout + 5 s; otherwise the test errors (after kill -9 by PID as a last resort).
A watchdog dumps all thread stacks and exits if one test runs longer than SEAWALL_TEST_TIMEOUT
seconds (default 300), so a hang shows where it hangs instead of waiting for ctest's timeout.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import subprocess
import sys

from pathlib import Path

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from harness import RedisServer, Seawall, seawall_binary  # noqa: E402

TEST_TIMEOUT_S = float(os.environ.get("SEAWALL_TEST_TIMEOUT", "300"))


def pytest_collection_modifyitems(config, items):
    # Fail the whole run at once, loudly, when a collected test needs the binary and it is missing
    # (not one error per test; tests that do not start seawall are not affected).
    if any("make_seawall" in getattr(item, "fixturenames", ()) for item in items):
        try:
            seawall_binary()
        except RuntimeError as e:
            pytest.exit(str(e), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(autouse=True)
def _watchdog():
    faulthandler.dump_traceback_later(TEST_TIMEOUT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_seawall(tmp_path, redis_server):
    started: list[Seawall] = []

    def make(upstream: RedisServer = None, env: dict = None, **overrides) -> Seawall:
        upstream = upstream or redis_server
        proxy = Seawall(tmp_path / f"seawall{len(started)}", upstream.port, overrides,
                        name="seawall", env=env)
        started.append(proxy)
        proxy.start()
        return proxy

    yield make
    errors = []
    for proxy in started:
        try:
            proxy.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def seawall(make_seawall):
    return make_seawall()


def client_for(port: int, **kwargs) -> redis.Redis:
    # Default settings, plus a socket timeout so that a hang fails the test instead of blocking.
    kwargs.setdefault("socket_timeout", 30)
    return redis.Redis(host="127.0.0.1", port=port, **kwargs)


@pytest.fixture
def proxy_client(seawall):
    client = client_for(seawall.port)
    yield client
    client.close()


@pytest.fixture
def direct_client(redis_server):
    client = client_for(redis_server.port)
    yield client
    client.close()


@pytest.fixture
def direct_server(tmp_path):
    """A redis-server no seawall talks to: its clients are the test's alone."""
    server = RedisServer(tmp_path / "direct")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cluster(tmp_path):
    from cluster_nodes import Cluster

    c = Cluster(tmp_path / "cluster")
    try:
        c.start()
        yield c
    finally:
        c.stop()


NODE_DIR = Path(__file__).parent / "node"


# The Node.js clients (node-redis v4, ioredis v5) of tests/integration/node, installed on first use.
@pytest.fixture(scope="session")
def node_modules():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are required for the Node.js client tests", pytrace=False)
    if not (NODE_DIR / "node_modules" / "ioredis").is_dir() or \
            not (NODE_DIR / "node_modules" / "redis").is_dir():
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.fail(f"npm ci failed:\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    return node
