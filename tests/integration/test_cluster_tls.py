"""A Redis Cluster upstream over TLS (`upstreams[].cluster` with `upstreams[].tls`) against a real
TLS cluster: six `redis-server --cluster-enabled yes --port 0 --tls-port P --tls-cluster yes
--tls-replication yes` (three masters, one replica each, made by `redis-cli --tls --cluster
create`), all with one certificate whose only name is DNS:redis.test (no IP address), signed by
a CA the test makes with the `openssl` CLI. Such nodes report their TLS ports in CLUSTER SLOTS,
and seawall learns the nodes' addresses from the cluster, so the name it checks is
`tls.server_name` (required with `cluster` unless `verify: false`).

Every connection seawall makes to a node goes through TLS: the CLUSTER SLOTS of the bootstrap
and of the map refreshes, each shard's shared connections, its health check, its eviction
listener and the dedicated connections of pinned sessions. Clients talk plain RESP to seawall.

  - served: SET/GET on every shard equal to what a TLS cluster-aware client reads, a cross-slot
    MSET/MGET, DBSIZE equal to the sum of the masters', MULTI/EXEC on a dedicated connection,
    `/status` with every shard's breaker closed and its master's TLS address, map refreshes
    succeeding, no failed connect;
  - a `server_name` the certificate does not carry: no connection is ever made (each seed's
    connects fail with "hostname mismatch" in the log), and reads get seawall's unavailable
    error at once, not a hang;
  - `verify: false` with an unrelated CA and no `server_name`: served;
  - kill -9 of a master: the shard follows the promoted replica's TLS port and reconnects over
    TLS, and the write journaled meanwhile is replayed there.

The cluster is shared by the module (about 11 s to create and sync); the failover test runs
last.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

sys.path.insert(0, os.path.dirname(__file__))

from harness import (  # noqa: E402
    LOOPBACK,
    listens_on,
    RedisServer,
    Seawall,
    _die_with_parent,
    http,
    seawall_binary,
    tail,
    wait_until,
)
from cluster_nodes import (  # noqa: E402
    NODE_TIMEOUT_MS,
    Cluster,
    cluster_ports,
    cluster_upstream,
    keys_on_every_shard,
)
from tls_pki import make_ca, make_leaf  # noqa: E402

# The certificate's only name: seawall connects to 127.0.0.1:P and checks this name instead.
SERVER_NAME = "redis.test"


@dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path
    other_ca: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    d = tmp_path_factory.mktemp("cluster-pki")
    ca, _ = make_ca(d, "ca")
    other_ca, _ = make_ca(d, "other-ca")
    # The nodes also present it as clients, to each other's cluster bus and to their masters.
    cert, key = make_leaf(d, "node", "ca", f"subjectAltName=DNS:{SERVER_NAME}\n"
                                           "extendedKeyUsage=serverAuth,clientAuth\n")
    return Pki(ca, cert, key, other_ca)


def _tls_ping(port: int, ctx: ssl.SSLContext) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as raw:
            with ctx.wrap_socket(raw, server_hostname=SERVER_NAME) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(64) == b"+PONG\r\n"
    except (OSError, ssl.SSLError):
        return False


class TlsNode(RedisServer):
    """A cluster node listening on a TLS port only; its bus and its replication use TLS too."""

    def __init__(self, workdir: Path, port: int, pki: Pki, extra_args=()):
        super().__init__(workdir, extra_args=extra_args)
        self.port = port
        self.pki = pki

    def start(self, timeout: float = 10.0) -> None:
        args = [self.binary, "--port", "0", "--tls-port", str(self.port),
                "--tls-cluster", "yes", "--tls-replication", "yes",
                "--tls-cert-file", str(self.pki.cert), "--tls-key-file", str(self.pki.key),
                "--tls-ca-cert-file", str(self.pki.ca), "--tls-auth-clients", "no",
                "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
                "--dir", str(self.workdir), "--daemonize", "no", "--protected-mode", "no",
                *self.extra_args]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        ctx = ssl.create_default_context(cafile=str(self.pki.ca))
        try:
            wait_until(lambda: self.proc.poll() is None and _tls_ping(self.port, ctx)
                       and listens_on(self.proc.pid, self.port), timeout,
                       f"TLS redis-server on port {self.port} to answer PING")
        except TimeoutError as e:
            self.kill9()
            raise RuntimeError(f"{e}\nredis log:\n{tail(self.log_path)}") from None


def tls_kwargs(pki: Pki) -> dict:
    # The certificate names redis.test, not 127.0.0.1: redis-py (which would check the name
    # against the host it connects to) verifies the chain only.
    return {"ssl": True, "ssl_ca_certs": str(pki.ca), "ssl_cert_reqs": "required",
            "ssl_check_hostname": False}


class TlsCluster(Cluster):
    """cluster_nodes.Cluster's six nodes, over TLS: the same slot map and master helpers."""

    def __init__(self, workdir: Path, pki: Pki):
        # Not Cluster.__init__: its nodes listen on plain ports.
        self.pki = pki
        self.nodes = [
            TlsNode(workdir / f"node{port}", port, pki, extra_args=[
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                "--cluster-replica-validity-factor", "0",
            ])
            for port in cluster_ports(6)
        ]

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        out = subprocess.run(
            ["redis-cli", "--tls", "--cacert", str(self.pki.ca), "--sni", SERVER_NAME,
             "--cluster", "create", *[n.address for n in self.nodes],
             "--cluster-replicas", "1", "--cluster-yes"],
            capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        self.wait_consistent()
        self.wait_replicas()

    def wait_replicas(self, timeout: float = 30.0) -> None:
        """Until each replica synced from its master (over TLS: --tls-replication yes) and every
        node's CLUSTER SLOTS lists a master and a replica for each range."""
        def synced() -> bool:
            try:
                for node in self.nodes:
                    with self.client(node) as r:
                        info = r.info("replication")
                        if info["role"] == "slave" and info.get("master_link_status") != "up":
                            return False
                        if any(len(entry[2:]) != 2
                               for entry in r.execute_command("CLUSTER", "SLOTS")):
                            return False
                return True
            except redis.RedisError:
                return False
        wait_until(synced, timeout, "every replica to sync and be in the slot map", interval=0.2)

    def client(self, node: RedisServer) -> redis.Redis:
        return redis.Redis(host=LOOPBACK, port=node.port, socket_timeout=5,
                           **tls_kwargs(self.pki))

    def aware(self) -> RedisCluster:
        kwargs = tls_kwargs(self.pki)
        del kwargs["ssl_check_hostname"]  # not a RedisCluster key in redis-py 4.3 (off anyway)
        return RedisCluster(host=LOOPBACK, port=self.running()[0].port, socket_timeout=5,
                            **kwargs)


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory, pki):
    """One cluster for the module: the tests write keys of their own and change nothing else."""
    c = TlsCluster(tmp_path_factory.mktemp("tls-cluster"), pki)
    try:
        c.start()
        yield c
    finally:
        c.stop()


def tls_cluster_upstream(c: TlsCluster, **tls) -> dict:
    up = cluster_upstream(
        c,
        # A TLS handshake on a loaded machine can take longer than a bare connect; these tests
        # are not about deadlines.
        connect_timeout="1s",
        request_timeout=1.0,
        health_check={"enabled": True, "interval": "100ms", "timeout": "1s"},
    )
    up["tls"] = {"enabled": True, "ca_file": str(c.pki.ca), "server_name": SERVER_NAME, **tls}
    return up


@pytest.fixture
def seawalls(tmp_path):
    """start(upstream, policies=None) -> a running seawall; stopped (exit 0 required) at
    teardown."""
    started: list[Seawall] = []

    def start(upstream: dict, policies=None) -> Seawall:
        config = {"upstreams": [upstream]}
        if policies:
            config["policies"] = policies
        sw = Seawall(tmp_path / f"seawall{len(started)}", 0, config)
        started.append(sw)
        sw.start()
        sw.wait_ready()
        return sw

    yield start
    errors = []
    for sw in started:
        try:
            sw.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


def status_shards(sw: Seawall) -> list[dict]:
    """The shards that have a master (not the spares kept for masters added later)."""
    code, _, body = http(sw.admin_port, "/status")
    assert code == 200, body
    return [s for s in json.loads(body)["upstreams"] if not s["cluster"]["spare"]]


def connects(sw: Seawall, result: str) -> dict[str, float]:
    """seawall_upstream_connects_total{result=...} per upstream (shard)."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{sw.admin_port}/metrics", timeout=5) as r:
        body = r.read().decode()
    out: dict[str, float] = {}
    for line in body.splitlines():
        m = re.match(r'seawall_upstream_connects_total\{upstream="([^"]+)",result="([^"]+)"\} '
                     r'(\S+)', line)
        if m and m.group(2) == result:
            out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
    return out


def wait_log_lines(sw: Seawall, patterns: list[str], timeout: float = 15.0) -> None:
    """Until every pattern matches some line of the log."""
    def all_seen() -> bool:
        lines = sw.log_text().splitlines()
        return all(any(re.search(p, line) for line in lines) for p in patterns)
    try:
        wait_until(all_seen, timeout, f"log lines matching each of {patterns!r}")
    except TimeoutError as e:
        missing = [p for p in patterns if not re.search(p, sw.log_text())]
        raise AssertionError(f"{e}\nmissing: {missing}\nlog:\n{sw.log_tail()}") from None


def test_tls_cluster_nodes_report_their_tls_ports(tls_cluster):
    """The baseline seawall relies on: with --tls-cluster yes (and --port 0), CLUSTER SLOTS names
    every master and replica by its TLS port, and a TLS cluster-aware client works."""
    ports = {n.port for n in tls_cluster.nodes}
    for node in tls_cluster.nodes:
        for entry in tls_cluster.client(node).execute_command("CLUSTER", "SLOTS"):
            assert {int(n[1]) for n in entry[2:]} <= ports, entry
            assert len(entry[2:]) == 2, entry  # the master and its replica
    aware = tls_cluster.aware()
    try:
        assert aware.set("baseline", "1") is True
        assert aware.get("baseline") == b"1"
    finally:
        aware.close()
    # Without TLS the nodes are not reachable at all.
    plain = redis.Redis(host=LOOPBACK, port=tls_cluster.nodes[0].port, socket_timeout=2)
    with pytest.raises(redis.ConnectionError):
        plain.ping()


def test_tls_cluster_serves_plain_clients(seawalls, tls_cluster):
    c = tls_cluster
    masters = c.masters()
    addresses = [f"{LOOPBACK}:{port}" for port in masters]
    sw = seawalls(tls_cluster_upstream(c))
    log = sw.log_text()
    # The bootstrap's CLUSTER SLOTS went over TLS: the map, not one shard per seed.
    assert "3 shard(s) from the slot map" in log, sw.log_tail()
    # Each shard's connections, and its eviction listener, connected to its master over TLS.
    wait_log_lines(sw, [rf"upstream=main\.\d address={re.escape(a)} connected tls=true auth=false"
                        for a in addresses]
                   + [rf"upstream=main\.\d subscribed to \S+ at {re.escape(a)}$"
                      for a in addresses])

    p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
    aware = c.aware()
    try:
        keys = keys_on_every_shard(c, 60)
        for i, k in enumerate(keys):
            assert p.set(k, f"tls{i}") is True
        for i, k in enumerate(keys):
            assert p.get(k) == f"tls{i}".encode(), k
            assert aware.get(k) == f"tls{i}".encode(), k
        assert p.incr(f"n:{keys[0]}") == 1 and aware.get(f"n:{keys[0]}") == b"1"

        # Cross-slot (and cross-shard) MSET and MGET: split by slot, merged in order.
        pairs = {f"m:{k}": f"m{i}" for i, k in enumerate(keys[:30])}
        assert p.mset(pairs) is True
        want = [v.encode() for v in pairs.values()]
        assert p.mget(list(pairs) + ["m:missing"]) == want + [None]
        assert aware.mget_nonatomic(list(pairs)) == want
        assert p.delete(*list(pairs)[:10]) == 10
        assert aware.mget_nonatomic(list(pairs)[:10]) == [None] * 10

        # A transaction pins a dedicated connection to its key's shard: TLS as well.
        tx = p.pipeline(transaction=True)
        tx.set("{tx}a", "1").incr("{tx}b").get("{tx}a")
        assert tx.execute() == [True, 1, b"1"]
        assert aware.get("{tx}b") == b"1"

        # DBSIZE through seawall is the sum of the masters' own.
        direct = [c.client(c.node(port)) for port in masters]
        assert p.dbsize() == sum(d.dbsize() for d in direct) > 0
        for d in direct:
            d.close()
    finally:
        p.close()
        aware.close()

    # /status: every shard's breaker closed, its master's TLS address, the whole slot space.
    shards = status_shards(sw)
    assert [s["name"] for s in shards] == ["main.0", "main.1", "main.2"], shards
    assert [s["address"] for s in shards] == addresses, shards
    assert all(s["breaker"]["state"] == "closed" for s in shards), shards
    assert sum(s["cluster"]["slots"] for s in shards) == 16384, shards
    # The map refreshes (every second, their CLUSTER SLOTS over TLS) succeed.
    wait_until(lambda: status_shards(sw)[0]["cluster"]["refreshes"] >= 2, 10,
               "two map refreshes")
    shards = status_shards(sw)
    assert shards[0]["cluster"]["refresh_failures"] == 0, shards
    assert sum(connects(sw, "failed").values()) == 0, sw.log_tail()
    ok = connects(sw, "ok")
    assert all(ok.get(f"main.{i}", 0) >= 2 for i in range(3)), ok  # a pool and a health check
    assert "connect failed" not in sw.log_text(), sw.log_tail()


def test_tls_cluster_server_name_mismatch_never_serves(seawalls, tls_cluster):
    c = tls_cluster
    seeds = [n.address for n in c.nodes[:3]]
    t0 = time.monotonic()
    sw = seawalls(tls_cluster_upstream(c, server_name="wrong.test"),
                  policies=[{"match": "*", "on_unavailable": "error"}])
    assert time.monotonic() - t0 < 15, "seawall took long to start"
    # The bootstrap's CLUSTER SLOTS failed the handshake too: one shard per seed.
    assert "no seed answered CLUSTER SLOTS; starting with one shard per seed (3)" in \
        sw.log_text(), sw.log_tail()
    # The shards' connects fail with the certificate name in the reason. (Their log lines share
    # one process-wide limit of 3 per 10 s, so which shard's pool gets logged is luck; each
    # shard's eviction listener says it once per outage, and /metrics counts every failure.)
    wait_log_lines(sw, [
        r"upstream=main\.\d address=127\.0\.0\.1:\d+ connect failed: TLS handshake with "
        r"127\.0\.0\.1:\d+ \(server_name=wrong\.test\) failed: .*hostname mismatch"]
        + [rf"upstream=main\.{i} eviction events: connect failed: TLS handshake with "
           rf"{re.escape(seed)} \(server_name=wrong\.test\) failed: .*hostname mismatch"
           for i, seed in enumerate(seeds)])
    wait_until(lambda: all(connects(sw, "failed").get(f"main.{i}", 0) >= 3 for i in range(3)),
               10, "failed connects of every shard in /metrics")
    wait_until(lambda: status_shards(sw)[0]["cluster"]["refreshes"] >= 2, 10,
               "two map refreshes")

    # Reads get seawall's unavailable error at once (no L1 copy, on_unavailable: error), on
    # every shard's keys; writes are refused; nothing hangs.
    with sw.raw(timeout=10) as raw:
        for k in ["key:0", "key:1", "key:2", "key:3", "{tx}a"]:
            t = time.monotonic()
            reply = raw.request("GET", k)
            assert re.fullmatch(rb"-UNAVAILABLE seawall: upstream 'main\.\d' is unavailable "
                                rb"and nothing can answer\r\n", reply), reply
            assert time.monotonic() - t < 5, (k, time.monotonic() - t)
        reply = raw.request("SET", "key:0", "v")
        assert reply.startswith(b"-UNAVAILABLE seawall: upstream 'main."), reply
        assert raw.request("PING") == b"+PONG\r\n"

    # It never connected, and it says so everywhere.
    log = sw.log_text()
    assert "connected tls=true" not in log, log
    assert re.search(r"subscribed to \S+ at", log) is None, log
    shards = status_shards(sw)
    assert shards[0]["cluster"]["refresh_failures"] == shards[0]["cluster"]["refreshes"] >= 2, \
        shards
    assert sum(connects(sw, "ok").values()) == 0, sw.log_tail()
    # Every shard's breaker opens (its health check fails too; shards 1 and 2 own no slot yet).
    wait_until(lambda: all(s["breaker"]["state"] != "closed" for s in status_shards(sw)), 10,
               "every shard's breaker to open")


def test_tls_cluster_verify_false_needs_no_server_name(seawalls, tls_cluster):
    """verify: false (tests only): an unrelated CA and no server_name, and it still serves."""
    c = tls_cluster
    up = tls_cluster_upstream(c, ca_file=str(c.pki.other_ca), verify=False)
    del up["tls"]["server_name"]
    sw = seawalls(up)
    assert "3 shard(s) from the slot map" in sw.log_text(), sw.log_tail()
    p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
    aware = c.aware()
    try:
        keys = keys_on_every_shard(c, 30)
        assert p.mset({k: f"unverified:{k}" for k in keys}) is True
        assert aware.mget_nonatomic(keys) == [f"unverified:{k}".encode() for k in keys]
        assert p.mget(keys) == [f"unverified:{k}".encode() for k in keys]
    finally:
        p.close()
        aware.close()
    assert all(s["breaker"]["state"] == "closed" for s in status_shards(sw))


def test_tls_cluster_failover_reconnects_over_tls(seawalls, tls_cluster):
    """kill -9 of a master: the cluster promotes its replica (over its TLS bus), the refresh
    names the replica's TLS port, and the shard reconnects there over TLS; the write journaled
    meanwhile is replayed to it. Last of the module: it leaves the cluster with a dead node."""
    c = tls_cluster
    masters = c.masters()
    sw = seawalls(tls_cluster_upstream(c),
                  policies=[{"match": "*", "l1": {"ttl": "1s", "max_stale": "10m"},
                             "writes_when_open": "journal"}])
    p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
    aware = c.aware()
    try:
        keys = [f"fo:{i}" for i in range(60)]
        for k in keys:
            assert p.set(k, "before") is True
        victim = masters[1]
        dead_keys = [k for k in keys if aware.get_node_from_key(k).port == victim]
        live_keys = [k for k in keys if k not in dead_keys]
        assert dead_keys and live_keys
    finally:
        aware.close()
    c.node(victim).kill9()
    for k in live_keys[:5]:
        assert p.set(k, "during") is True
    assert p.set(dead_keys[0], "journaled") is True  # the dead shard's: journaled (or relayed)
    assert p.get(dead_keys[0]) == b"journaled"

    def promoted() -> bool:
        try:
            return victim not in c.masters()
        except redis.RedisError:
            return False
    wait_until(promoted, 30, "the cluster to promote the dead master's replica", interval=0.1)
    c.wait_consistent(timeout=30)
    new_master = next(port for port in c.masters() if port not in masters)
    assert new_master in {n.port for n in c.nodes}  # a TLS port
    wait_until(lambda: status_shards(sw)[1]["address"] == f"{LOOPBACK}:{new_master}", 15,
               "shard 1 to follow the promotion")
    wait_log_lines(sw, [rf"upstream=main\.1 address={LOOPBACK}:{new_master} connected tls=true"])
    with c.client(c.node(new_master)) as direct:
        wait_until(lambda: direct.get(dead_keys[0]) == b"journaled", 20,
                   "the journaled write to reach the promoted replica", interval=0.1)

        def writes_again() -> bool:
            try:
                return p.set(dead_keys[-1], "after") is True and \
                    direct.get(dead_keys[-1]) == b"after"
            except redis.RedisError:
                return False
        wait_until(writes_again, 20, "writes to the dead shard's keys to reach the new master",
                   interval=0.1)
    assert p.get(live_keys[0]) == b"during"
    wait_until(lambda: all(s["breaker"]["state"] == "closed" for s in status_shards(sw)), 15,
               "every shard's breaker to close")
    p.close()


def test_cluster_tls_without_server_name_is_refused(tmp_path, pki):
    config = tmp_path / "bad.yaml"
    config.write_text("\n".join([
        "listen: {address: 127.0.0.1, port: 0}",
        "upstreams:",
        "  - name: main",
        "    cluster:",
        "      seeds: [\"127.0.0.1:7000\"]",
        "    tls:",
        "      enabled: true",
        f"      ca_file: {pki.ca}",
        "",
    ]))
    out = subprocess.run([seawall_binary(), "--check-config", str(config)], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 1, out
    assert "upstreams[0].tls.server_name: required with cluster" in out.stderr, out.stderr
