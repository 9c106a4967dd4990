"""A Redis Cluster upstream (`upstreams[].cluster`) against a real cluster: six
`redis-server --cluster-enabled yes` (three masters, one replica each, made by
`redis-cli --cluster create ... --cluster-replicas 1`) on free loopback ports, started by each
test. Clients talk to seawall in their plain (non-cluster) modes: redis-py's Redis and redis-cli.

  - single-key commands reach every shard; the values are those a cluster-aware client
    (redis.cluster.RedisCluster, straight to the nodes) reads;
  - MGET / MSET / DEL / EXISTS / TOUCH / UNLINK across slots are split by slot and merged (the
    same answers as the cluster-aware client's); other multi-key commands across slots get
    Redis's own -CROSSSLOT error; hash tags keep keys together;
  - a live `redis-cli --cluster reshard` of 300+ slots under concurrent reads and writes: no
    client error, every read sees the value written last (seawall follows ASK and MOVED);
  - kill -9 of one master: its keys are answered from the L1, the other shards keep serving,
    writes to its keys are journaled and replayed to the replica the cluster promotes.

The cluster fixture and its helpers are in cluster_nodes.py (shared with test_cluster_*.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(__file__))

from cluster_nodes import (  # noqa: E402
    keys_on_every_shard,
    start_seawall,
)
from harness import LOOPBACK, RawConnection, http, seawall_binary, tail, wait_until  # noqa: E402


def test_single_key_commands_reach_every_shard(tmp_path, cluster):
    sw = start_seawall(tmp_path, cluster)
    try:
        p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
        aware = cluster.aware()
        keys = keys_on_every_shard(cluster)
        for i, k in enumerate(keys):
            assert p.set(k, f"v{i}") is True
        for i, k in enumerate(keys):
            assert p.get(k) == f"v{i}".encode()
            assert aware.get(k) == f"v{i}".encode()
        for k in keys[:20]:
            assert p.incr(f"n:{k}") == 1
            assert p.incrby(f"n:{k}", 4) == 5
            assert p.hset(f"h:{k}", mapping={"a": "1", "b": "2"}) == 2
            assert p.hgetall(f"h:{k}") == {b"a": b"1", b"b": b"2"}
            assert p.rpush(f"l:{k}", "x", "y") == 2
            assert p.lrange(f"l:{k}", 0, -1) == [b"x", b"y"]
            assert p.expire(k, 100) is True
            assert 0 < p.ttl(k) <= 100
            assert p.type(f"h:{k}") == b"hash"
            assert aware.get(f"n:{k}") == b"5"
            assert aware.hgetall(f"h:{k}") == {b"a": b"1", b"b": b"2"}
        # redis-cli in its plain mode (no -c): it would print a MOVED if one reached it.
        for k in keys[:6]:
            out = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(sw.port), "SET", k, "cli"],
                                 capture_output=True, text=True, timeout=10)
            assert out.stdout.strip() == "OK", out
            out = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(sw.port), "GET", k],
                                 capture_output=True, text=True, timeout=10)
            assert out.stdout.strip() == "cli", out
            assert aware.get(k) == b"cli"
        # Each shard is an upstream of its own in /status, with its master and its slots.
        log = sw.log_text()
        assert "3 shard(s) from the slot map" in log, tail(sw.log_path)
        code, _, body = http(sw.admin_port, "/status")
        assert code == 200, body
        shards = json.loads(body)["upstreams"]
        # Three masters, and the two spare shards (cluster.spare_shards) for masters added later.
        assert [s["name"] for s in shards] == [f"main.{k}" for k in range(5)], shards
        assert [s["address"] for s in shards] == \
            [f"{LOOPBACK}:{port}" for port in cluster.masters()] + [None, None], shards
        assert [s["cluster"]["spare"] for s in shards] == [False] * 3 + [True] * 2, shards
        assert sum(s["cluster"]["slots"] for s in shards) == 16384, shards
        assert all(s["breaker"]["state"] == "closed" for s in shards), shards
    finally:
        sw.stop()


def test_multi_key_commands_split_by_slot(tmp_path, cluster):
    sw = start_seawall(tmp_path, cluster)
    try:
        p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
        aware = cluster.aware()
        keys = keys_on_every_shard(cluster, 40)
        pairs = {k: f"m{i}" for i, k in enumerate(keys)}
        assert p.mset(pairs) is True
        want = [pairs[k].encode() for k in keys]
        assert aware.mget_nonatomic(keys) == want
        assert p.mget(keys + ["missing:1"]) == want + [None]
        assert p.exists(*keys, "missing:1", keys[0]) == len(keys) + 1
        assert p.touch(*keys[:10]) == 10
        assert p.delete(*keys[:10]) == 10
        assert p.unlink(*keys[10:20], "missing:2") == 10
        assert p.mget(keys[:20]) == [None] * 20
        assert aware.mget_nonatomic(keys[20:]) == want[20:]
        assert p.mget(keys[20:]) == want[20:]
        # With a hash tag the keys share a slot: one request, no split needed.
        assert p.mset({"{user1000}.following": "a", "{user1000}.followers": "b"}) is True
        assert p.sadd("{s}.a", "1", "2") == 2 and p.sadd("{s}.b", "2", "3") == 2
        assert p.sinter("{s}.a", "{s}.b") == {b"2"}
        # A multi-key command seawall does not split: Redis's own words.
        p.sadd("set:a", "1")
        p.sadd("set:b", "1")
        with RawConnection(sw.port) as raw:
            assert raw.request("SINTER", "set:a", "set:b") == \
                b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
            assert raw.request("RENAME", "key:1", "key:2") == \
                b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
            assert raw.request("PING") == b"+PONG\r\n"
    finally:
        sw.stop()


class Traffic:
    """Writers and readers through seawall: each writer owns its keys, writes increasing values
    and reads each back; any error or older value is counted."""

    def __init__(self, port: int, keys: list[str], threads: int = 4):
        self.port = port
        self.keys = keys
        self.threads_n = threads
        self.stop_flag = threading.Event()
        self.errors: list[str] = []
        self.ops = 0
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def run(self, index: int) -> None:
        c = redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=10)
        mine = self.keys[index::self.threads_n]
        version = 0
        while not self.stop_flag.is_set():
            version += 1
            for k in mine:
                try:
                    c.set(k, str(version))
                    got = c.get(k)
                    if got != str(version).encode():
                        with self.lock:
                            self.errors.append(f"{k}: wrote {version}, read {got!r}")
                    with self.lock:
                        self.ops += 2
                except redis.RedisError as e:
                    with self.lock:
                        self.errors.append(f"{k}: {e!r}")

    def __enter__(self):
        for i in range(self.threads_n):
            t = threading.Thread(target=self.run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)


def test_live_reshard_under_traffic_has_no_client_errors(tmp_path, cluster):
    sw = start_seawall(tmp_path, cluster)
    try:
        masters = cluster.masters()
        aware = cluster.aware()
        # Keys on the shard the slots move from, and on the others.
        keys = [f"r:{i}" for i in range(300)]
        moving = [k for k in keys if aware.get_node_from_key(k).port == masters[0]]
        assert len(moving) > 50
        with Traffic(sw.port, keys) as traffic:
            time.sleep(1.0)
            cluster.reshard(masters[0], masters[1], 400)
            time.sleep(1.5)
        assert traffic.errors == [], traffic.errors[:20]
        assert traffic.ops > 1000, traffic.ops
        # seawall did follow redirects (ASK while slots migrated, MOVED after).
        code, _, body = http(sw.admin_port, "/status")
        shards = json.loads(body)["upstreams"]
        assert shards[0]["cluster"]["redirects"] > 0, shards
        assert shards[0]["cluster"]["slots"] <= 5461 - 400, shards
        # Slots did move: some of the keys now live on the other master, with the last values.
        moved = [k for k in moving if cluster.aware().get_node_from_key(k).port == masters[1]]
        assert moved, "the reshard moved none of the keys"
        p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
        fresh = cluster.aware()
        for k in keys:
            assert p.get(k) == fresh.get(k), k
    finally:
        sw.stop()


def test_a_master_added_under_traffic_takes_a_spare_shard(tmp_path, cluster):
    """Scale out without a restart: a master joined with `redis-cli --cluster add-node` and
    given 300 slots by a live reshard takes one of seawall's spare shards (cluster.spare_shards,
    2 by default), which waited idle until then (no connection attempts failing, breaker
    closed). Under concurrent reads and writes: no client error, and the moved keys are then
    served by the new master straight from seawall's map, not through MOVED."""
    sw = start_seawall(tmp_path, cluster)
    try:
        code, _, body = http(sw.admin_port, "/status")
        spares = [s for s in json.loads(body)["upstreams"] if s["cluster"]["spare"]]
        assert [s["name"] for s in spares] == ["main.3", "main.4"], spares
        assert all(s["address"] is None and s["breaker"]["state"] == "closed" for s in spares)
        masters = cluster.masters()
        keys = [f"grow:{i}" for i in range(300)]
        with Traffic(sw.port, keys) as traffic:
            time.sleep(0.5)
            new = cluster.add_master()
            cluster.reshard(masters[0], new.port, 300)
            time.sleep(1.5)
        assert traffic.errors == [], traffic.errors[:20]
        assert traffic.ops > 500, traffic.ops

        def taken() -> dict:
            code, _, body = http(sw.admin_port, "/status")
            return next((s for s in json.loads(body)["upstreams"]
                         if s["address"] == f"{LOOPBACK}:{new.port}"), {})
        wait_until(lambda: taken().get("cluster", {}).get("slots") == 300, 10,
                   "a spare shard to serve the new master's 300 slots")
        shard = taken()
        assert shard["name"] == "main.3" and not shard["cluster"]["spare"], shard
        assert shard["breaker"]["state"] == "closed", shard
        # The keys now on the new master: right values, straight from the map (no MOVED).
        fresh = cluster.aware()
        moved = [k for k in keys if fresh.get_node_from_key(k).port == new.port]
        assert moved, "the reshard moved none of the keys"
        p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
        before = shard["cluster"]["redirects"]
        for k in moved:
            assert p.get(k) == fresh.get(k), k
            assert p.set(k, "after") is True
        assert cluster.client(new).get(moved[0]) == b"after"
        assert taken()["cluster"]["redirects"] == before
        # The spare still waiting logged no failure: it never tried to connect anywhere.
        noisy = [line for line in sw.log_path.read_text().splitlines()
                 if "upstream=main.4" in line and ("fail" in line or "breaker" in line)]
        assert noisy == [], noisy[:5]
    finally:
        sw.stop()


def test_kill9_of_a_master_serves_its_keys_from_l1_and_follows_the_promotion(tmp_path, cluster):
    sw = start_seawall(
        tmp_path, cluster,
        policies=[{"match": "*", "l1": {"ttl": "1s", "max_stale": "10m"},
                   "writes_when_open": "journal"}])
    try:
        p = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
        masters = cluster.masters()
        aware = cluster.aware()
        keys = keys_on_every_shard(cluster, 60)
        for i, k in enumerate(keys):
            assert p.set(k, f"v{i}") is True
        for i, k in enumerate(keys):
            assert p.get(k) == f"v{i}".encode()  # the L1 has them now
        victim = masters[1]
        dead_keys = [k for k in keys if aware.get_node_from_key(k).port == victim]
        live_keys = [k for k in keys if k not in dead_keys]
        assert dead_keys and live_keys
        time.sleep(1.2)  # past the L1's fresh ttl: answers during the outage are stale copies
        cluster.node(victim).kill9()
        t0 = time.monotonic()
        # During the outage: every read answers (the dead shard's from the L1), the other
        # shards' writes reach Redis.
        for i, k in enumerate(keys):
            assert p.get(k) == f"v{keys.index(k)}".encode(), k
        for k in live_keys:
            assert p.set(k, "after") is True
            assert p.get(k) == b"after"
        # One dead node is one dead node: its shard's breaker is open, the others' closed.
        def breakers() -> dict[str, str]:
            body = http(sw.admin_port, "/status")[2]
            return {s["address"]: s["breaker"]["state"] for s in json.loads(body)["upstreams"]
                    if not s["cluster"]["spare"]}
        wait_until(lambda: breakers().get(f"{LOOPBACK}:{victim}") == "open", 10,
                   "the dead shard's breaker to open", interval=0.05)
        assert [state for address, state in breakers().items()
                if address != f"{LOOPBACK}:{victim}"] == ["closed", "closed"], breakers()
        # A write to the dead shard's key is journaled (acknowledged), read back by later reads.
        journaled = dead_keys[0]
        assert p.set(journaled, "journaled") is True
        assert p.get(journaled) == b"journaled"
        # The cluster promotes the replica (node timeout 1 s); seawall follows the new map.
        def promoted() -> bool:
            try:
                return victim not in cluster.masters()
            except redis.RedisError:
                return False
        wait_until(promoted, 30, "the cluster to promote the dead master's replica", interval=0.1)
        cluster.wait_consistent(timeout=30)
        new_master = next(port for port in cluster.masters() if port not in masters)
        direct = redis.Redis(host=LOOPBACK, port=new_master, socket_timeout=5)
        # The journal replays to the new master; then writes go through again.
        wait_until(lambda: direct.get(journaled) == b"journaled", 20,
                   "the journaled write to reach the promoted replica", interval=0.1)

        def writes_again() -> bool:
            try:
                return p.set(dead_keys[-1], "back") is True and direct.get(dead_keys[-1]) == b"back"
            except redis.RedisError:
                return False
        wait_until(writes_again, 20, "writes to the dead shard's keys to reach the new master",
                   interval=0.1)
        recovered = time.monotonic() - t0
        for k in live_keys:
            assert p.get(k) == b"after"
        assert p.get(journaled) == b"journaled"
        print(f"recovered {recovered:.1f}s after the kill")
    finally:
        sw.stop()


def test_cluster_and_address_together_is_refused(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("\n".join([
        "listen: {address: 127.0.0.1, port: 0}",
        "upstreams:",
        "  - name: main",
        "    address: 127.0.0.1:6379",
        "    cluster:",
        "      seeds: [\"127.0.0.1:7000\"]",
        "",
    ]))
    out = subprocess.run([seawall_binary(), "--check-config", str(config)], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 1
    assert f"{config}:5: upstreams[0].cluster: set either address or cluster, not both" in \
        out.stderr, out.stderr
