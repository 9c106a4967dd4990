"""Commands that describe the whole keyspace, through seawall in front of a real 6-node Redis
Cluster (conftest's `cluster` fixture, cluster_nodes.py), with plain clients (redis-py's Redis,
redis-cli):

  - DBSIZE is the sum of the masters' DBSIZE; KEYS is every master's keys; SCAN walks every
    shard with one cursor (redis-py's scan_iter sees each key once, MATCH and COUNT pass
    through); RANDOMKEY names an existing key, nil on an empty cluster; FLUSHALL and FLUSHDB
    empty every master and the L1; INFO's Keyspace section counts the cluster's keys;
  - CLUSTER, READONLY, READWRITE get the error of a Redis without cluster support: the client
    sees one plain Redis;
  - SSUBSCRIBE goes to its channel's shard and SPUBLISH reaches it; a channel of another shard
    on the same connection gets a clear -CROSSSLOT error (Redis Cluster would say MOVED), and
    another connection subscribes to it;
  - a connection pinned to one shard by WATCH serves keys of every shard outside MULTI, in
    order, following ASK and MOVED for them;
  - /metrics shows the slots per shard and the map refreshes;
  - with one master killed, these commands answer at once with seawall's unavailable error
    instead of partial counts (SCAN only when its cursor reaches the dead shard).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from harness import (  # noqa: E402
    LOOPBACK,
    RawConnection,
    Seawall,
    encode_command,
    sample,
    scrape,
    wait_until,
)
from cluster_nodes import Cluster, cluster_upstream, node_ids  # noqa: E402

N_KEYS = 300


@pytest.fixture
def seawall(tmp_path, cluster):
    sw = Seawall(tmp_path / "seawall", 0, {"upstreams": [cluster_upstream(cluster)]})
    sw.start()
    try:
        sw.wait_ready()
        yield sw
    finally:
        sw.stop()


def masters(cluster: Cluster) -> list[redis.Redis]:
    return [redis.Redis(host=LOOPBACK, port=p, socket_timeout=5) for p in cluster.masters()]


def fill(client: redis.Redis, n: int = N_KEYS) -> list[str]:
    keys = [f"fan:{i}" for i in range(n)]
    client.mset({k: f"v{i}" for i, k in enumerate(keys)})
    return keys


def test_dbsize_keys_and_info_count_every_shard(cluster, seawall):
    c = redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=5)
    keys = fill(c)
    per_master = [m.dbsize() for m in masters(cluster)]
    assert all(n > 0 for n in per_master), per_master  # the keys really are spread
    assert c.dbsize() == N_KEYS == sum(per_master)
    assert sorted(k.decode() for k in c.keys("*")) == sorted(keys)
    assert sorted(k.decode() for k in c.keys("fan:1?")) == sorted(f"fan:{i}" for i in range(10, 20))
    assert c.keys("nothing:*") == []
    info = c.info("keyspace")
    assert info["db0"]["keys"] == N_KEYS, info
    # The whole INFO is one Redis's text with the cluster's keyspace.
    full = c.info()
    assert full["db0"]["keys"] == N_KEYS and "redis_version" in full
    out = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(seawall.port), "DBSIZE"],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == str(N_KEYS), out


def test_scan_walks_every_shard_with_one_cursor(cluster, seawall):
    c = redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=5)
    keys = fill(c)
    seen = list(k.decode() for k in c.scan_iter(count=25))
    assert sorted(seen) == sorted(keys)  # every key, each once (no rehash while scanning)
    matched = sorted(k.decode() for k in c.scan_iter(match="fan:2?", count=50))
    assert matched == sorted(f"fan:{i}" for i in range(20, 30))
    # The walk by hand: the cursor leaves shard 0 and comes back to 0 after the last shard.
    cursor, steps, walked = 0, 0, []
    while True:
        cursor, batch = c.scan(cursor, count=1000)
        walked += batch
        steps += 1
        if cursor == 0:
            break
    assert steps >= len(cluster.masters()) and len(walked) == N_KEYS
    with pytest.raises(redis.ResponseError, match="invalid cursor"):
        c.execute_command("SCAN", "notanumber")
    # redis-cli's own SCAN loop.
    out = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(seawall.port), "--scan",
                          "--pattern", "fan:*"], capture_output=True, text=True, timeout=30)
    assert sorted(out.stdout.split()) == sorted(keys), out.stderr


def test_randomkey_and_flushes_reach_every_master(cluster, seawall):
    c = redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=5)
    assert c.randomkey() is None  # an empty cluster
    keys = fill(c)
    for k in keys[:20]:
        assert c.get(k) is not None  # copies in the L1
    named = {c.randomkey().decode() for _ in range(30)}
    assert named <= set(keys) and len(named) > 1
    assert c.flushall() is True
    assert [m.dbsize() for m in masters(cluster)] == [0, 0, 0]
    assert c.dbsize() == 0 and c.keys("*") == []
    for k in keys[:20]:
        assert c.get(k) is None  # the L1 forgot them too
    fill(c, 30)
    assert c.flushdb() is True
    assert [m.dbsize() for m in masters(cluster)] == [0, 0, 0]


def test_cluster_commands_see_one_plain_redis(cluster, seawall):
    c = redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=5)
    direct_plain = "ERR This instance has cluster support disabled"
    for command in (["CLUSTER", "INFO"], ["CLUSTER", "SLOTS"], ["CLUSTER", "KEYSLOT", "x"],
                    ["READONLY"], ["READWRITE"]):
        with pytest.raises(redis.ResponseError) as err:
            c.execute_command(*command)
        assert str(err.value) == direct_plain.removeprefix("ERR "), command
    assert c.ping() is True


def test_a_dead_master_gets_a_clear_error_not_a_partial_count(cluster, tmp_path):
    sw = Seawall(tmp_path / "seawall-dead", 0, {"upstreams": [cluster_upstream(cluster)]})
    sw.start()
    try:
        sw.wait_ready()
        c = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=5)
        fill(c)
        victim = cluster.masters()[1]
        cluster.node(victim).kill9()

        def refused() -> bool:
            try:
                c.dbsize()
            except redis.ResponseError as e:
                return "seawall" in str(e)
            return False
        wait_until(refused, 10, "DBSIZE to be refused while a master is dead", interval=0.05)
        t0 = time.monotonic()
        # SCAN's cursor 1 starts shard 1 (shards in the order of their lowest slot, as
        # masters() lists them): the dead one.
        for command in (["DBSIZE"], ["KEYS", "*"], ["SCAN", "1"]):
            with pytest.raises(redis.ResponseError, match="seawall"):
                c.execute_command(*command)
        assert time.monotonic() - t0 < 1.0  # answered, not waited out
        # The live shards still scan.
        cursor, batch = c.scan(0, count=1000)
        assert batch and cursor == 1
    finally:
        sw.stop()


def test_multi_key_commands_over_thousands_of_slots(cluster, seawall):
    """A split is one request per slot: an MGET, MSET, EXISTS and DEL of 3,000 keys (over ~2,800
    slots) answer as one Redis would."""
    c = redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=10)
    keys = [f"many:{i}" for i in range(3000)]
    assert c.mset({k: f"v{i}" for i, k in enumerate(keys)}) is True
    values = c.mget(keys + ["many:absent"])
    assert values == [f"v{i}".encode() for i in range(len(keys))] + [None]
    assert c.exists(*keys) == len(keys)
    assert c.dbsize() == len(keys)
    assert c.delete(*keys[:2000]) == 2000
    assert c.dbsize() == 1000


def test_metrics_show_slots_per_shard_and_refreshes(cluster, seawall):
    families = scrape(seawall.admin_port)
    slots = [sample(families, "seawall_cluster_slots", upstream=f"main.{k}") for k in range(3)]
    assert sum(slots) == 16384 and all(n > 5000 for n in slots), slots
    wait_until(lambda: sample(scrape(seawall.admin_port), "seawall_cluster_map_refreshes_total",
                              upstream="main", outcome="ok") >= 1, 5, "a map refresh")
    assert sample(families, "seawall_cluster_redirects_total", upstream="main", kind="moved") == 0


def test_shard_channels_are_subscribed_on_their_slots_shard(cluster, seawall):
    aware = cluster.aware()
    by_shard: dict[int, list[str]] = {}
    for i in range(200):
        by_shard.setdefault(aware.get_node_from_key(f"ch:{i}").port, []).append(f"ch:{i}")
    ports = cluster.masters()
    here, elsewhere = by_shard[ports[0]][:2], by_shard[ports[1]][0]
    publisher = redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=5)
    with RawConnection(seawall.port, timeout=5) as sub, \
            RawConnection(seawall.port, timeout=5) as other:
        for n, ch in enumerate(here, 1):
            assert sub.request("SSUBSCRIBE", ch) == (
                f"*3\r\n$10\r\nssubscribe\r\n${len(ch)}\r\n{ch}\r\n:{n}\r\n".encode())
        refused = sub.request("SSUBSCRIBE", elsewhere)
        assert refused.startswith(b"-CROSSSLOT seawall:"), refused
        assert other.request("SSUBSCRIBE", elsewhere).endswith(b":1\r\n")
        for ch in here + [elsewhere]:
            assert publisher.execute_command("SPUBLISH", ch, f"to-{ch}") == 1, ch
        for ch in here:
            assert sub.read_reply() == (
                f"*3\r\n$8\r\nsmessage\r\n${len(ch)}\r\n{ch}\r\n${len(ch) + 3}\r\nto-{ch}\r\n"
                .encode())
        assert other.read_reply().endswith(f"to-{elsewhere}\r\n".encode())


def test_script_load_and_flush_reach_every_master(cluster, seawall):
    """EVALSHA runs on the shard of its keys, so SCRIPT LOAD must have loaded the script there:
    it goes to every master (SCRIPT FLUSH too)."""
    c = redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=5)
    sha = c.script_load("return redis.call('GET', KEYS[1])")
    for m in masters(cluster):
        assert m.script_exists(sha) == [True]
    keys = fill(c, 60)
    for i, k in enumerate(keys):
        assert c.evalsha(sha, 1, k) == f"v{i}".encode(), k
    assert c.script_flush() is True
    for m in masters(cluster):
        assert m.script_exists(sha) == [False]
    with pytest.raises(redis.exceptions.NoScriptError):
        c.evalsha(sha, 1, keys[0])


def test_a_pinned_connection_serves_keys_of_every_shard_outside_multi(cluster, seawall):
    """WATCH pins the connection to its key's shard. A plain Redis still serves every key there,
    and so does seawall: a command of another shard goes to that shard (MOVED and ASK followed,
    so the client sees neither), in its place among the pinned replies, pipelined or not; the
    transaction on the watched shard still runs. What would start state on another shard (WATCH
    of its key) or a key of another shard inside MULTI gets a clear -CROSSSLOT error."""
    aware = cluster.aware()
    ports = cluster.masters()
    on = {p: [k for k in (f"w:{i}" for i in range(300)) if aware.get_node_from_key(k).port == p]
          for p in ports}
    here, other, third = on[ports[0]], on[ports[1]], on[ports[2]]
    direct = {p: cluster.client(cluster.node(p)) for p in ports}
    direct[ports[1]].set(other[0], "o0")
    with RawConnection(seawall.port, timeout=5) as conn:
        assert conn.request("SET", here[0], "v0") == b"+OK\r\n"
        assert conn.request("WATCH", here[0]) == b"+OK\r\n"
        assert conn.request("GET", other[0]) == b"$2\r\no0\r\n"
        assert conn.request("SET", other[1], "o1") == b"+OK\r\n"
        assert direct[ports[1]].get(other[1]) == b"o1"
        # Pipelined: the replies keep the requests' order across the link and the detours.
        conn.send(encode_command("GET", here[0]) + encode_command("GET", other[1]) +
                  encode_command("INCR", third[0]) + encode_command("GET", here[1]) +
                  encode_command("MGET", other[0], other[0]))
        assert [conn.read_reply() for _ in range(5)] == [
            b"$2\r\nv0\r\n", b"$2\r\no1\r\n", b":1\r\n", b"$-1\r\n",
            b"*2\r\n$2\r\no0\r\n$2\r\no0\r\n"]
        refused = conn.request("WATCH", other[0])  # state on a second shard: refused
        assert refused.startswith(b"-CROSSSLOT seawall:") and b"MOVED" not in refused, refused
        assert conn.request("MULTI") == b"+OK\r\n"
        assert conn.request("GET", other[0]).startswith(b"-CROSSSLOT")  # inside MULTI
        assert conn.request("DISCARD") == b"+OK\r\n"
        assert conn.request("WATCH", here[0]) == b"+OK\r\n"
        assert conn.request("MULTI") == b"+OK\r\n"
        assert conn.request("SET", here[0], "v1") == b"+QUEUED\r\n"
        assert conn.request("EXEC") == b"*1\r\n+OK\r\n"
    assert redis.Redis(host=LOOPBACK, port=seawall.port).get(here[0]) == b"v1"
    assert direct[ports[2]].get(third[0]) == b"1"
    # RESP3: the detour's reply is in the client's protocol.
    direct[ports[1]].hset(other[2], "f", "v")
    with RawConnection(seawall.port, timeout=5) as conn:
        assert conn.request("HELLO", "3").startswith(b"%")
        assert conn.request("WATCH", here[0]) == b"+OK\r\n"
        assert conn.request("HGETALL", other[2]) == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    # The other shard's master dies: its keys are answered by the fallback chain (the L1 copy a
    # shared read left), not by an error.
    shared = redis.Redis(host=LOOPBACK, port=seawall.port, socket_timeout=5)
    assert shared.get(other[0]) == b"o0"
    cluster.node(ports[1]).kill9()
    with RawConnection(seawall.port, timeout=5) as conn:
        assert conn.request("WATCH", here[0]) == b"+OK\r\n"
        assert conn.request("GET", other[0]) == b"$2\r\no0\r\n"


def test_a_pinned_connection_follows_ask_and_moved_to_another_shard(cluster, seawall):
    """A slot of another shard in migration: its source answers ASK for a key it does not hold,
    which seawall follows with ASKING on the target; once the slot moved, MOVED is followed
    and the map updated. The pinned client sees plain replies throughout."""
    aware = cluster.aware()
    ports = cluster.masters()
    ids = node_ids(cluster)
    key = next(k for k in (f"mig:{i}" for i in range(300))
               if aware.get_node_from_key(k).port == ports[1])
    here = next(k for k in (f"h:{i}" for i in range(300))
                if aware.get_node_from_key(k).port == ports[0])
    slot = aware.keyslot(key)
    source, target = cluster.start_migrating(slot, ports[1], ports[2])
    with RawConnection(seawall.port, timeout=5) as conn:
        assert conn.request("WATCH", here) == b"+OK\r\n"
        assert conn.request("SET", key, "moving") == b"+OK\r\n"  # ASK: on the target
        assert conn.request("GET", key) == b"$6\r\nmoving\r\n"
        for node in (target, source):
            node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[ports[2]])
        # MOVED (or the map refreshed first): either way the target answers.
        assert conn.request("GET", key) == b"$6\r\nmoving\r\n"
        assert conn.request("SET", key, "moved") == b"+OK\r\n"
    assert target.get(key) == b"moved"
    families = scrape(seawall.admin_port)
    assert sample(families, "seawall_cluster_redirects_total", upstream="main", kind="ask") >= 2


def test_a_redirect_on_the_pinned_connection_itself_is_a_retryable_error(cluster, seawall):
    """The pinned shard's own slot in migration: a key it no longer holds gets ASK from it, and
    once the slot moved, MOVED. Neither can be followed on another connection (the WATCH or the
    transaction lives on this one), so the client gets -TRYAGAIN (retryable, Redis's own word
    for a slot in migration), never MOVED or ASK; a transaction with such a key is discarded at
    EXEC. Once the state ends, the retry reaches the slot's new shard."""
    aware = cluster.aware()
    ports = cluster.masters()
    ids = node_ids(cluster)
    here = [k for k in (f"p:{i}" for i in range(300))
            if aware.get_node_from_key(k).port == ports[0]]
    watched = here[0]
    key = next(k for k in here if aware.keyslot(k) != aware.keyslot(watched))
    slot = aware.keyslot(key)
    source, target = cluster.start_migrating(slot, ports[0], ports[1])
    with RawConnection(seawall.port, timeout=5) as conn:
        assert conn.request("WATCH", watched) == b"+OK\r\n"
        asked = conn.request("GET", key)  # not on the source: ASK
        assert asked.startswith(f"-TRYAGAIN seawall: slot {slot} ".encode()), asked
        assert conn.request("MULTI") == b"+OK\r\n"
        assert conn.request("SET", key, "v").startswith(b"-TRYAGAIN seawall:")
        assert conn.request("EXEC").startswith(b"-EXECABORT")
        for node in (target, source):
            node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[ports[1]])
        assert conn.request("WATCH", watched) == b"+OK\r\n"
        assert conn.request("SET", watched, "w") == b"+OK\r\n"
        # MOVED, or the map already refreshed (then the key goes to its new shard at once).
        moved = conn.request("SET", key, "after")
        assert moved == b"+OK\r\n" or moved.startswith(b"-TRYAGAIN seawall:"), moved
        assert conn.request("SET", key, "after") == b"+OK\r\n"
    assert target.get(key) == b"after"
