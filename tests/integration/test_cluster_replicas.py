"""Reads from cluster replicas (`upstreams[].cluster.read_from: prefer_replica`) against the real
six-node cluster of cluster_nodes.py (three masters, one replica each). Which node served what is
read from each node's own `INFO commandstats` (reset with CONFIG RESETSTAT):

  - prefer_replica: GET and MGET (split by slot) are served by the replicas, with the values
    written; the masters serve no read, except inside MULTI (a pinned session stays on the
    master); writes reach the masters; /status lists a replica upstream per shard;
  - primary (the default): no read reaches a replica, and there are no replica upstreams; a
    reload that changes read_from is refused;
  - kill -9 of a replica under read traffic: no client error and no wrong value (reads the dead
    replica fails, or would have got, go to its master); once the replica is back and in sync,
    its reads return to it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(__file__))

from harness import LOOPBACK, Seawall, http, tail, wait_until  # noqa: E402
from cluster_nodes import Cluster, cluster_upstream, keys_on_every_shard  # noqa: E402,F401

def start(tmp_path, c: Cluster, read_from: str | None) -> Seawall:
    up = cluster_upstream(c)
    if read_from is not None:
        up["cluster"]["read_from"] = read_from
    sw = Seawall(tmp_path / "seawall", 0, {"upstreams": [up]})
    sw.start()
    sw.wait_ready()
    return sw


def replica_of(c: Cluster) -> dict[int, int]:
    """Master port -> its replica's port, from each replica's ROLE."""
    out = {}
    for node in c.running():
        role = c.client(node).execute_command("ROLE")
        if role[0] == b"slave":
            out[int(role[2])] = node.port
    return out


def calls(c: Cluster, port: int, command: str) -> int:
    stats = c.client(c.node(port)).info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def reset_stats(c: Cluster) -> None:
    for node in c.running():
        c.client(node).config_resetstat()


def status(sw: Seawall) -> dict[str, dict]:
    code, _, body = http(sw.admin_port, "/status")
    assert code == 200, body
    return {u["name"]: u for u in json.loads(body)["upstreams"]}


def replicas_usable(sw: Seawall, shards: int = 3) -> bool:
    """Every replica upstream's breaker closed and every connection of it up."""
    ups = status(sw)
    body = http(sw.admin_port, "/metrics")[2]
    for k in range(shards):
        name = f"main.{k}.replica"
        if name not in ups or ups[name]["breaker"]["state"] != "closed":
            return False
        line = f'seawall_upstream_connections{{upstream="{name}"}} '
        got = [float(x.split()[-1]) for x in body.splitlines() if x.startswith(line)]
        if not got or got[0] < 2 * sw.config["threads"]:
            return False
    return True


def replicated(c: Cluster, keys: list[str], want: dict[str, bytes]) -> None:
    """Until each key's replica (read directly, READONLY) has the value written."""
    aware = c.aware()
    replicas = replica_of(c)
    direct = {}
    for port in set(replicas.values()):
        r = redis.Redis(host=LOOPBACK, port=port, socket_timeout=5, single_connection_client=True)
        r.execute_command("READONLY")
        direct[port] = r

    def done() -> bool:
        return all(direct[replicas[aware.get_node_from_key(k).port]].get(k) == want[k]
                   for k in keys)
    wait_until(done, 10, "the replicas to have the values written", interval=0.05)


def test_prefer_replica_reads_from_replicas_and_writes_to_masters(tmp_path, cluster):
    sw = start(tmp_path, cluster, "prefer_replica")
    try:
        masters = cluster.masters()
        replicas = replica_of(cluster)
        assert sorted(replicas) == sorted(masters), replicas
        wait_until(lambda: replicas_usable(sw), 15, "every replica upstream to connect",
                   interval=0.1)
        # /status: one replica upstream per shard, on that shard's replica.
        ups = status(sw)
        # Three shards and the two spares (cluster.spare_shards), each with a replica upstream.
        assert list(ups) == [f"main.{k}" for k in range(5)] + \
            [f"main.{k}.replica" for k in range(5)], list(ups)
        for k, master in enumerate(masters):
            assert ups[f"main.{k}"]["address"] == f"{LOOPBACK}:{master}", ups
            assert ups[f"main.{k}"]["cluster"]["role"] == "master", ups
            replica = ups[f"main.{k}.replica"]
            assert replica["address"] == f"{LOOPBACK}:{replicas[master]}", ups
            assert replica["cluster"]["role"] == "replica", ups
            assert replica["cluster"]["shard"] == k, ups

        p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
        keys = keys_on_every_shard(cluster, 60)
        want = {k: f"v{i}".encode() for i, k in enumerate(keys)}
        reset_stats(cluster)
        for k in keys:
            assert p.set(k, want[k]) is True
        # Writes went to the masters.
        assert sum(calls(cluster, m, "set") for m in masters) == len(keys)
        replicated(cluster, keys, want)

        reset_stats(cluster)
        rounds = 3
        for _ in range(rounds):
            for k in keys:
                assert p.get(k) == want[k], k
        # Split by slot; each part to its shard's replica.
        assert p.mget(keys) == [want[k] for k in keys]
        masters_get = {m: calls(cluster, m, "get") for m in masters}
        replicas_get = {r: calls(cluster, r, "get") for r in replicas.values()}
        assert masters_get == {m: 0 for m in masters}, (masters_get, replicas_get)
        assert sum(replicas_get.values()) == rounds * len(keys), replicas_get
        assert all(n > 0 for n in replicas_get.values()), replicas_get
        assert sum(calls(cluster, m, "mget") for m in masters) == 0
        assert sum(calls(cluster, r, "mget") for r in replicas.values()) == len(keys)

        # A transaction pins the session to its shard's master: its GET is the master's.
        reset_stats(cluster)
        pipe = p.pipeline(transaction=True)
        pipe.get(keys[0])
        assert pipe.execute() == [want[keys[0]]]
        owner = cluster.aware().get_node_from_key(keys[0]).port
        assert calls(cluster, owner, "get") == 1
        assert calls(cluster, replicas[owner], "get") == 0

        # A new value: the master has it at once; reads see it once the replica does.
        assert p.set(keys[1], "new") is True
        wait_until(lambda: p.get(keys[1]) == b"new", 10, "the new value to reach the replica",
                   interval=0.02)
        assert all(u["breaker"]["state"] == "closed" for u in status(sw).values())
    finally:
        sw.stop()


def test_primary_sends_no_read_to_replicas(tmp_path, cluster):
    sw = start(tmp_path, cluster, None)  # read_from: primary is the default
    try:
        masters = cluster.masters()
        replicas = replica_of(cluster)
        assert list(status(sw)) == [f"main.{k}" for k in range(5)]
        p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
        keys = keys_on_every_shard(cluster, 30)
        for k in keys:
            assert p.set(k, k) is True
        reset_stats(cluster)
        for k in keys:
            assert p.get(k) == k.encode()
        assert p.mget(keys) == [k.encode() for k in keys]
        assert sum(calls(cluster, r, "get") + calls(cluster, r, "mget")
                   for r in replicas.values()) == 0
        assert sum(calls(cluster, m, "get") for m in masters) == len(keys)
        # read_from, like the seeds, needs a restart: a reload that changes it is refused.
        sw.config["upstreams"][0]["cluster"]["read_from"] = "prefer_replica"
        sw.write_config()
        wait_until(lambda: "upstreams[0].cluster: seeds and read_from cannot be changed by a "
                   "reload (restart seawall)" in sw.log_text(), 10, "the reload to be refused",
                   interval=0.1)
        assert list(status(sw)) == [f"main.{k}" for k in range(5)]
        assert p.get(keys[0]) == keys[0].encode()
    finally:
        sw.stop()


class Readers:
    """Threads reading every key through seawall (GET, and MGET across shards) and checking the
    values; any error or other value is recorded."""

    def __init__(self, port: int, want: dict[str, bytes], threads: int = 3):
        self.port = port
        self.want = want
        self.keys = list(want)
        self.stop_flag = threading.Event()
        self.errors: list[str] = []
        self.reads = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(threads)]

    def run(self, index: int) -> None:
        c = redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=10)
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            try:
                if n % 10 == 0:
                    got = c.mget(self.keys)
                    bad = [k for k, v in zip(self.keys, got) if v != self.want[k]]
                else:
                    k = self.keys[(n + index * 7) % len(self.keys)]
                    bad = [] if c.get(k) == self.want[k] else [k]
                with self.lock:
                    self.reads += 1
                    self.errors += [f"{k}: wrong value" for k in bad]
            except redis.RedisError as e:
                with self.lock:
                    self.errors.append(repr(e))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)


def test_kill9_of_a_replica_moves_its_reads_to_the_master_without_errors(tmp_path, cluster):
    sw = start(tmp_path, cluster, "prefer_replica")
    try:
        masters = cluster.masters()
        replicas = replica_of(cluster)
        wait_until(lambda: replicas_usable(sw), 15, "every replica upstream to connect",
                   interval=0.1)
        p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
        keys = keys_on_every_shard(cluster, 60)
        want = {k: f"w{i}".encode() for i, k in enumerate(keys)}
        for k in keys:
            assert p.set(k, want[k]) is True
        replicated(cluster, keys, want)
        victim_master = masters[0]
        victim = replicas[victim_master]
        victim_name = "main.0.replica"
        with Readers(sw.port, want) as readers:
            time.sleep(0.5)
            reset_stats(cluster)
            cluster.node(victim).kill9()
            # Its reads move to its master: the dead replica's upstream stops being used.
            wait_until(lambda: status(sw)[victim_name]["breaker"]["state"] != "closed", 10,
                       "the dead replica's breaker to open", interval=0.05)
            wait_until(lambda: calls(cluster, victim_master, "get") > 20, 10,
                       "the master of the dead replica's shard to serve its reads",
                       interval=0.05)
            # The other shards keep reading from their replicas.
            others = [replicas[m] for m in masters[1:]]
            before = {r: calls(cluster, r, "get") for r in others}
            time.sleep(1.0)
            assert all(calls(cluster, r, "get") > before[r] for r in others), before
            assert {m: calls(cluster, m, "get") for m in masters[1:]} == \
                {m: 0 for m in masters[1:]}
            # Once the cluster marks it failed, the slot map lists no replica for the shard.
            wait_until(lambda: status(sw)[victim_name]["address"] is None, 15,
                       "the map to drop the dead replica", interval=0.1)
            # The replica comes back (empty: it resyncs from its master) and serves reads again
            # once it is in sync.
            cluster.node(victim).start()
            reset_stats(cluster)
            wait_until(lambda: calls(cluster, victim, "get") > 20, 30,
                       "the restarted replica to serve its shard's reads again", interval=0.1)
            time.sleep(0.5)
        assert readers.errors == [], readers.errors[:20]
        assert readers.reads > 500, readers.reads
        assert status(sw)[victim_name]["breaker"]["state"] == "closed"
        assert "cluster: shard 0 replicas" in sw.log_text(), tail(sw.log_path)
    finally:
        sw.stop()
