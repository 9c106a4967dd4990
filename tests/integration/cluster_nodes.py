"""A real Redis Cluster for the cluster tests (test_cluster*.py): six `redis-server
--cluster-enabled yes` (three masters, one replica each, made by `redis-cli --cluster create ...
--cluster-replicas 1`) on free loopback ports, and seawall in front of it with a cluster upstream
(`upstreams[].cluster.seeds`).

    Cluster          the six nodes (conftest.py's `cluster` fixture starts one per test)
    start_seawall()  seawall with one cluster upstream named "main" (shards main.0, main.1, ...)
    shards()         seawall's /status upstream entries (one per shard)
    owners()         the master of each key's slot; tag_per_shard(): a hash tag per master

A cluster node also listens on port + 10000 (its bus), so the ports are picked in 20000-22000
with both the port and the bus port free (the kernel's ephemeral range starts at 32768 here).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

sys.path.insert(0, os.path.dirname(__file__))

import faults  # noqa: E402
from harness import LOOPBACK, RedisServer, Seawall, http, port_free, wait_until  # noqa: E402

NODE_TIMEOUT_MS = 1000


def cluster_ports(n: int) -> list[int]:
    """n ports in 20000-22000 whose bus port (+10000) is free too."""
    ports: list[int] = []
    rng = random.Random()
    while len(ports) < n:
        p = rng.randrange(20000, 22000)
        if p in ports or not port_free(p) or not port_free(p + 10000):
            continue
        ports.append(p)
    return ports


def info_field(client: redis.Redis, section: str, field: str) -> str:
    text = client.execute_command("CLUSTER", section)
    text = text.decode() if isinstance(text, bytes) else text
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


class Cluster:
    """Six nodes: three masters with one replica each."""

    def __init__(self, workdir: Path, extra_args: Sequence[str] = ()):
        self.workdir = workdir
        self.extra_args = list(extra_args)
        self.nodes: list[RedisServer] = [self._node(port) for port in cluster_ports(6)]

    def _node(self, port: int) -> RedisServer:
        node = RedisServer(self.workdir / f"node{port}", extra_args=[
            "--cluster-enabled", "yes",
            "--cluster-config-file", f"nodes-{port}.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            # A replica always stands for election, however long ago it last heard from its
            # master (with the default factor a loaded machine can keep it out).
            "--cluster-replica-validity-factor", "0",
            *self.extra_args,
        ])
        node.port = port
        node.pick_port = lambda: cluster_ports(1)[0]
        return node

    def add_master(self) -> RedisServer:
        """A seventh node, started and joined as a master without slots (`redis-cli --cluster
        add-node`), known to every node before this returns."""
        port = next(p for p in cluster_ports(8) if all(n.port != p for n in self.nodes))
        node = self._node(port)
        node.start()
        self.nodes.append(node)
        out = subprocess.run(
            ["redis-cli", "--cluster", "add-node", node.address, self.running()[0].address],
            capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr

        def knows(n: RedisServer) -> bool:
            text = self.client(n).execute_command("CLUSTER", "NODES")
            return f":{port}@" in (text.decode() if isinstance(text, bytes) else text)

        def known() -> bool:
            try:
                return all(knows(n) for n in self.running())
            except redis.RedisError:
                return False
        wait_until(known, 30, f"every node to know the new master {port}", interval=0.2)
        # It takes slots (a MIGRATE to it) only once it has learned the whole map.
        wait_until(lambda: info_field(self.client(node), "INFO", "cluster_state") == "ok", 30,
                   f"the new master {port} to say cluster_state:ok", interval=0.2)
        return node

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        out = subprocess.run(
            ["redis-cli", "--cluster", "create", *[n.address for n in self.nodes],
             "--cluster-replicas", "1", "--cluster-yes"],
            capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        self.wait_consistent()

    def client(self, node: RedisServer) -> redis.Redis:
        return redis.Redis(host=LOOPBACK, port=node.port, socket_timeout=5)

    def running(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.running()]

    def slots_view(self, node: RedisServer):
        slots = self.client(node).execute_command("CLUSTER", "SLOTS")
        return sorted((r[0], r[1], r[2][1]) for r in slots)

    def wait_consistent(self, timeout: float = 30.0) -> None:
        """Until every running node says cluster_state:ok and all report the same masters."""
        def ok() -> bool:
            try:
                nodes = self.running()
                if any(info_field(self.client(n), "INFO", "cluster_state") != "ok"
                       for n in nodes):
                    return False
                views = {tuple(self.slots_view(n)) for n in nodes}
                return len(views) == 1 and sum(b - a + 1 for a, b, _ in next(iter(views))) == 16384
            except redis.RedisError:
                return False
        wait_until(ok, timeout, "the cluster to be ok and agree on its slot map", interval=0.2)

    def masters(self) -> list[int]:
        """The master ports, in the order of their lowest slot."""
        view = self.slots_view(self.running()[0])
        out: list[int] = []
        for _, _, port in view:
            if port not in out:
                out.append(port)
        return out

    def reshard(self, source: int, target: int, slots: int) -> None:
        """`redis-cli --cluster reshard` of `slots` slots from master `source` to master
        `target` (ports), then until every node agrees on the new map."""
        ids = node_ids(self)
        out = subprocess.run(
            ["redis-cli", "--cluster", "reshard", f"{LOOPBACK}:{source}",
             "--cluster-from", ids[source], "--cluster-to", ids[target],
             "--cluster-slots", str(slots), "--cluster-yes", "--cluster-pipeline", "10"],
            capture_output=True, text=True, timeout=240)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        self.wait_consistent()

    def start_migrating(self, slot: int, source: int, target: int) -> tuple:
        """Slot `slot` half-way from master `source` to master `target` (ports), as a reshard
        leaves it while its keys move: MIGRATING on the source, IMPORTING on the target. Returns
        both nodes' clients."""
        ids = node_ids(self)
        src, dst = self.client(self.node(source)), self.client(self.node(target))
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
        return src, dst

    def node(self, port: int) -> RedisServer:
        return next(n for n in self.nodes if n.port == port)

    def aware(self) -> RedisCluster:
        """A cluster-aware client straight to the nodes: the reference."""
        n = self.running()[0]
        return RedisCluster(host=LOOPBACK, port=n.port, socket_timeout=5)

    def wait_promoted(self, victim: int, timeout: float = 30.0) -> int:
        """Waits until the cluster no longer names `victim` a master and agrees on its map;
        returns the port of the master that took its slots."""
        old = self.masters()

        def promoted() -> bool:
            try:
                return victim not in self.masters()
            except redis.RedisError:
                return False
        wait_until(promoted, timeout, f"the cluster to promote the replica of {victim}",
                   interval=0.05)
        self.wait_consistent(timeout=timeout)
        return next(port for port in self.masters() if port not in old)

    def flushall(self) -> None:
        """FLUSHALL on every master, straight (seawall does not fan it out)."""
        for port in self.masters():
            redis.Redis(host=LOOPBACK, port=port, socket_timeout=10).flushall()

    def stop(self) -> None:
        # Nothing is read from a node once the test ends, so kill -9: a master stopped with
        # SIGTERM waits for its replica's acknowledgement first (4 s on a fresh cluster).
        for node in self.nodes:
            node.kill9()
            node.stop()


def cluster_upstream(c: Cluster, **extra) -> dict:
    up = faults.upstream("main", 0, **extra)
    del up["address"]
    up["cluster"] = {"seeds": [n.address for n in c.nodes[:3]]}
    return up


def start_seawall(tmp_path: Path, c: Cluster, upstream: dict = None, **overrides) -> Seawall:
    """seawall in front of `c` (`upstream`: cluster_upstream(c) unless given)."""
    config = {"upstreams": [upstream or cluster_upstream(c)]}
    config.update(overrides)
    sw = Seawall(tmp_path / "seawall", 0, config)
    sw.start()
    sw.wait_ready()
    return sw


def shards(sw: Seawall) -> list[dict]:
    """seawall's /status upstream entries: one per shard (main.0, main.1, ...)."""
    code, _, body = http(sw.admin_port, "/status")
    assert code == 200, body
    return json.loads(body)["upstreams"]


def shard_of(sw: Seawall, port: int) -> dict:
    """The /status entry of the shard whose master is 127.0.0.1:`port`."""
    return next(s for s in shards(sw) if s["address"] == f"{LOOPBACK}:{port}")


def keys_on_every_shard(c: Cluster, n: int = 60) -> list[str]:
    keys = [f"key:{i}" for i in range(n)]
    aware = c.aware()
    owners = {aware.get_node_from_key(k).port for k in keys}
    assert owners == set(c.masters()), owners
    return keys


def owners(c: Cluster, keys: list[str]) -> dict[str, int]:
    """{key: the port of the master serving its slot}, from one CLUSTER SLOTS."""
    view = c.slots_view(c.running()[0])
    out = {}
    for k in keys:
        slot = key_slot(k.encode())
        out[k] = next(port for a, b, port in view if a <= slot <= b)
    return out


def tag_per_shard(c: Cluster) -> dict[int, str]:
    """{master port: a hash tag ("t3") whose slot that master serves}, one per master."""
    out: dict[int, str] = {}
    view = c.slots_view(c.running()[0])
    for i in range(1000):
        slot = key_slot(f"{{t{i}}}".encode())
        port = next(p for a, b, p in view if a <= slot <= b)
        out.setdefault(port, f"t{i}")
        if len(out) == len(c.masters()):
            return out
    raise AssertionError(f"no hash tag found for every master: {out}")


def node_ids(c: Cluster) -> dict[int, str]:
    text = c.client(c.running()[0]).execute_command("CLUSTER", "NODES")
    text = text.decode() if isinstance(text, bytes) else text
    out = {}
    for line in text.splitlines():
        fields = line.split()
        out[int(fields[1].split("@")[0].rsplit(":", 1)[1])] = fields[0]
    return out
