"""Plain (non-cluster) clients through seawall in front of a Redis Cluster see one Redis.

  - node-redis v4 and ioredis v5 with default settings (node/cluster_*.mjs) run single-key
    commands of every type on keys of every shard, MGET/MSET/DEL/EXISTS across slots, a
    MULTI/EXEC on hash-tagged keys, SUNIONSTORE across slots (-CROSSSLOT), a transaction across
    shards (refused) and hundreds of concurrent commands over every shard; each script checks its
    replies, and what it left is read back here with a cluster-aware client;
  - the command list of test_clients.py's byte-identity test (strings, counters, expiry,
    bitmaps, HyperLogLog, hashes, lists, sets, sorted sets, streams, geo, scripts with keys,
    errors) gets the same reply bytes through seawall as straight from the master that owns the
    keys, on every shard (its keys get a hash tag of that shard), sent one at a time and as one
    pipeline mixing the shards; cross-slot MGET/MSET/EXISTS/TOUCH/DEL/UNLINK get the bytes of
    the per-slot replies merged, other cross-slot commands Redis's own -CROSSSLOT bytes.
    Commands that describe the server (DBSIZE, INFO, KEYS, SCAN, CLUSTER ...) are left out:
    they go to one shard until seawall fans them out.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from cluster_nodes import Cluster, start_seawall, tag_per_shard  # noqa: E402
from harness import RawConnection, encode_command  # noqa: E402
from lin_workload import decode  # noqa: E402
from redis.crc import key_slot  # noqa: E402
from test_clients import RAW_COMMANDS  # noqa: E402

NODE_DIR = Path(__file__).parent / "node"


# --------------------------------------------------------------------------------------------
# Node.js clients in plain mode


def check_state(c: Cluster, state: dict) -> int:
    """Reads what a script says it left with a cluster-aware client; returns the keys checked."""
    aware = c.aware()
    wrong = []
    for k, v in state["strings"].items():
        if aware.get(k) != v.encode():
            wrong.append((k, v, aware.get(k)))
    for k, v in state["hashes"].items():
        got = {f.decode(): x.decode() for f, x in aware.hgetall(k).items()}
        if got != v:
            wrong.append((k, v, got))
    for k, v in state["lists"].items():
        got = [x.decode() for x in aware.lrange(k, 0, -1)]
        if got != v:
            wrong.append((k, v, got))
    for k, v in state["sets"].items():
        got = sorted(x.decode() for x in aware.smembers(k))
        if got != sorted(v):
            wrong.append((k, v, got))
    for k, v in state["zsets"].items():
        got = {m.decode(): s for m, s in aware.zrange(k, 0, -1, withscores=True)}
        if got != v:
            wrong.append((k, v, got))
    for k in state["missing"]:
        if aware.exists(k):
            wrong.append((k, None, aware.type(k)))
    assert not wrong, wrong[:10]
    keys = [k for kind in ("strings", "hashes", "lists", "sets", "zsets") for k in state[kind]]
    owners = {aware.get_node_from_key(k).port for k in keys}
    assert owners == set(c.masters()), (owners, c.masters())
    return len(keys) + len(state["missing"])


@pytest.mark.parametrize("script", ["cluster_node_redis_v4.mjs", "cluster_ioredis_v5.mjs"])
def test_node_client_in_plain_mode_sees_one_redis(node_modules, tmp_path, cluster, script):
    """A Node application keeps its plain client: every command works on keys of every shard,
    multi-key commands across slots are split and merged, a transaction on one hash tag runs,
    cross-slot commands get Redis Cluster's own -CROSSSLOT, and what the client wrote is what a
    cluster-aware client reads straight from the nodes."""
    sw = start_seawall(tmp_path, cluster)
    try:
        tags = tag_per_shard(cluster)
        proc = subprocess.run([node_modules, script, str(sw.port), ",".join(tags.values())],
                              cwd=NODE_DIR, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, \
            f"{script} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        lines = proc.stdout.strip().splitlines()
        assert lines[-1].endswith(": ok"), proc.stdout[-3000:]
        state = json.loads(lines[-2])
        checked = check_state(cluster, state)
        assert checked > 50, checked
    finally:
        sw.stop()


# --------------------------------------------------------------------------------------------
# byte-identical replies


# Commands of test_clients.RAW_COMMANDS that describe or change the whole server: out of scope
# until seawall fans them out (SCRIPT LOAD: see test_script_load_reaches_every_shard).
SERVER_WIDE = {b"DBSIZE", b"SCRIPT"}
LOADED_SHA = hashlib.sha1(b"return KEYS[1]").hexdigest().encode()


def key_positions(node: RawConnection, cmd: tuple) -> list[int]:
    """The argument positions COMMAND GETKEYS names as keys (none when Redis refuses: arity,
    unknown command, no keys)."""
    keys = decode(node.request(b"COMMAND", b"GETKEYS", *cmd))[0]
    if not isinstance(keys, list):
        return []
    return [i for i, a in enumerate(cmd) if i > 0 and a in keys]


def shard_commands(node: RawConnection, tag: str) -> list[tuple]:
    """RAW_COMMANDS with every key prefixed by `{tag}` (one slot of one shard)."""
    out = []
    for cmd in RAW_COMMANDS:
        if cmd[0] in SERVER_WIDE or (cmd[0] == b"EVALSHA" and cmd[1] == LOADED_SHA):
            continue
        positions = key_positions(node, cmd)
        out.append(tuple(b"{%s}%s" % (tag.encode(), a) if i in positions else a
                         for i, a in enumerate(cmd)))
    return out


def cross_slot_commands(tags: list[str]) -> list[tuple[str, tuple]]:
    """(how the reference answers, command) across the shards' tags, after the shard lists."""
    t0, t1, t2 = (b"{%s}" % t.encode() for t in tags)
    return [
        ("split", (b"MSET", t0 + b"x", b"1", t1 + b"x", b"2", t2 + b"x", b"3")),
        ("split", (b"MGET", t0 + b"x", t1 + b"s:1", t2 + b"h:1", t0 + b"s:missing", t1 + b"x",
                   t2 + b"s:big")),
        ("split", (b"EXISTS", t0 + b"x", t1 + b"x", t2 + b"s:missing", t0 + b"x", t2 + b"l:1")),
        ("split", (b"TOUCH", t0 + b"s:1", t1 + b"s:missing", t2 + b"z:1")),
        ("split", (b"DEL", t0 + b"x", t1 + b"s:missing", t2 + b"x", t1 + b"h:1")),
        ("split", (b"UNLINK", t0 + b"s:big", t1 + b"s:big", t2 + b"s:missing")),
        ("split", (b"MGET", t0 + b"x", t1 + b"h:1", t2 + b"x", t0 + b"s:big")),
        ("first", (b"SINTER", t0 + b"i:1", t1 + b"i:1")),
        ("first", (b"SUNIONSTORE", t0 + b"dst", t1 + b"i:1", t2 + b"i:2")),
        ("first", (b"RENAME", t0 + b"s:1", t1 + b"s:1")),
        ("first", (b"LMOVE", t1 + b"l:1", t2 + b"l:1", b"LEFT", b"RIGHT")),
        ("first", (b"EVAL", b"return redis.call('GET', KEYS[1])", b"2", t0 + b"s:1",
                   t2 + b"s:1")),
    ]


class Direct:
    """Raw connections straight to the masters, by slot: the reference side."""

    def __init__(self, c: Cluster):
        self.c = c
        self.view = c.slots_view(c.running()[0])
        self.conns: dict[int, RawConnection] = {}

    def conn(self, key: bytes) -> RawConnection:
        slot = key_slot(key)
        port = next(p for a, b, p in self.view if a <= slot <= b)
        if port not in self.conns:
            self.conns[port] = RawConnection(port, timeout=30)
        return self.conns[port]

    def split(self, cmd: tuple) -> bytes:
        """What seawall must answer for a command it splits by slot: the per-key replies of the
        owning masters, merged (Redis itself refuses the command across slots)."""
        name, args = cmd[0], cmd[1:]
        if name == b"MSET":
            for k, v in zip(args[::2], args[1::2]):
                assert self.conn(k).request(b"MSET", k, v) == b"+OK\r\n"
            return b"+OK\r\n"
        if name == b"MGET":
            parts = [self.conn(k).request(b"MGET", k) for k in args]
            assert all(p.startswith(b"*1\r\n") for p in parts), parts
            return b"*%d\r\n" % len(args) + b"".join(p[4:] for p in parts)
        total = 0
        for k in args:
            reply = self.conn(k).request(name, k)
            assert reply.startswith(b":"), reply
            total += int(reply[1:-2])
        return b":%d\r\n" % total

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


def run_through_seawall(port: int, per_shard: list[list[tuple]], cross: list[tuple[str, tuple]],
                        pipelined: bool) -> list[list[bytes]]:
    """Replies through seawall: per shard, then the cross-slot ones. Pipelined: every shard's
    commands in one write, interleaved round-robin (each shard's in its order)."""
    with RawConnection(port, timeout=30) as conn:
        if not pipelined:
            out = [[conn.request(*cmd) for cmd in cmds] for cmds in per_shard]
        else:
            order = [(s, i) for i in range(max(map(len, per_shard)))
                     for s in range(len(per_shard)) if i < len(per_shard[s])]
            conn.send(b"".join(encode_command(*per_shard[s][i]) for s, i in order))
            replies = conn.read_replies(len(order))
            out = [[b""] * len(cmds) for cmds in per_shard]
            for (s, i), reply in zip(order, replies):
                out[s][i] = reply
        out.append([conn.request(*cmd) for _, cmd in cross])
    return out


def run_direct(c: Cluster, tags: dict[int, str], per_shard: list[list[tuple]],
               cross: list[tuple[str, tuple]]) -> list[list[bytes]]:
    """The same commands straight to the masters that own their keys."""
    direct = Direct(c)
    try:
        out = []
        for tag, cmds in zip(tags.values(), per_shard):
            conn = direct.conn(b"{%s}" % tag.encode())
            out.append([conn.request(*cmd) for cmd in cmds])
        out.append([direct.split(cmd) if how == "split" else direct.conn(cmd[1]).request(*cmd)
                    for how, cmd in cross])
        return out
    finally:
        direct.close()


def mismatches(commands: list[list[tuple]], got: list[list[bytes]],
               want: list[list[bytes]]) -> list[str]:
    out = []
    for cmds, g, w in zip(commands, got, want):
        for cmd, a, b in zip(cmds, g, w):
            if a != b:
                out.append(f"{cmd[:3]!r}:\n  seawall {a[:300]!r}\n  direct  {b[:300]!r}")
    return out


def test_replies_are_byte_identical_to_the_owning_node_on_every_shard(tmp_path, cluster):
    """Every reply type (status, error, integer, bulk, nil, arrays, nested arrays) of the core
    command set comes back through seawall as the same bytes as from the master that owns the
    keys, on each of the three shards, one command at a time and pipelined across the shards;
    commands seawall splits by slot merge into the bytes the per-slot replies make, and other
    cross-slot commands get Redis Cluster's own error bytes."""
    tags = tag_per_shard(cluster)
    with RawConnection(next(iter(tags))) as node:
        per_shard = [shard_commands(node, tag) for tag in tags.values()]
    assert len(per_shard[0]) >= 100 and all(len(cmds) == len(per_shard[0]) for cmds in per_shard)
    cross = cross_slot_commands(list(tags.values()))
    commands = per_shard + [[cmd for _, cmd in cross]]
    sw = start_seawall(tmp_path, cluster)
    try:
        cluster.flushall()
        want = run_direct(cluster, tags, per_shard, cross)
        firsts = {r[:1] for replies in want for r in replies}
        assert firsts >= {b"+", b"-", b":", b"$", b"*"}, firsts
        assert any(r.startswith(b"-CROSSSLOT") for r in want[-1]), want[-1]
        for pipelined in (False, True):
            cluster.flushall()
            got = run_through_seawall(sw.port, per_shard, cross, pipelined)
            bad = mismatches(commands, got, want)
            assert not bad, f"pipelined={pipelined}:\n" + "\n".join(bad[:20])
    finally:
        sw.stop()


def test_script_load_reaches_every_shard(tmp_path, cluster):
    """A plain client sees one Redis: after SCRIPT LOAD, EVALSHA of the script works on any key,
    as it does straight against one Redis (test_clients.py's byte-identity list does exactly
    that). Against a cluster the script must be on every shard the EVALSHA can reach."""
    tags = tag_per_shard(cluster)
    sw = start_seawall(tmp_path, cluster)
    try:
        with RawConnection(sw.port) as conn:
            assert conn.request("SCRIPT", "LOAD", "return KEYS[1]") == \
                b"$40\r\n%s\r\n" % LOADED_SHA
            replies = {tag: conn.request("EVALSHA", LOADED_SHA, "1", f"{{{tag}}}k")
                       for tag in tags.values()}
        assert replies == {tag: b"$%d\r\n{%s}k\r\n" % (len(tag) + 3, tag.encode())
                           for tag in tags.values()}, replies
    finally:
        sw.stop()
