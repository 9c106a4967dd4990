"""Checks the generated command table against a live redis-server.

Every command and subcommand that COMMAND reports must be in our table with the same arity,
first/last/step and Redis flags, and the table must hold nothing else; key_indexes() must agree
with COMMAND GETKEYS. The table comes from the command_table_dump executable named by the
COMMAND_TABLE_DUMP environment variable (ctest sets it).
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from harness import free_port, listens_on

# Flags that we derive ourselves; every other flag must be exactly what Redis reports.
DERIVED_FLAGS = {"transaction", "connection_state", "no_key", "scripting",
                 "nondeterministic_output"}
# Documented additions to Redis's own flags (see command_table.hpp).
EXTRA_REDIS_FLAGS = {"wait": {"blocking"}}
# Shard channels: COMMAND's legacy key range covers them, GETKEYS does not (key spec "not_key").
SHARD_CHANNEL_COMMANDS = {"spublish", "ssubscribe", "sunsubscribe"}


@pytest.fixture(scope="module")
def dump_path():
    path = os.environ.get("COMMAND_TABLE_DUMP")
    if not path:
        pytest.fail("COMMAND_TABLE_DUMP is not set: run this test through ctest, or point it at "
                    "the built command_table_dump executable", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"COMMAND_TABLE_DUMP={path} is not an executable (build the "
                    "command_table_dump target)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def server():
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    workdir = tempfile.mkdtemp(prefix="seawall-cmdtable-")
    proc = None
    try:
        for _ in range(5):
            port = free_port()
            proc = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--dir", workdir, "--logfile", ""],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    client.ping()
                    if not listens_on(proc.pid, port):  # another test's server on that port
                        time.sleep(0.05)
                        continue
                    yield client
                    return
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc = None
        pytest.fail("redis-server did not start", pytrace=False)
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def decode(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def raw_command(client, *args):
    """The raw reply, bypassing redis-py's per-command parsers (they drop COMMAND's fields)."""
    conn = client.connection_pool.get_connection(args[0])
    try:
        conn.send_command(*args)
        return decode(conn.read_response())
    finally:
        client.connection_pool.release(conn)


def flatten(entries):
    out = {}
    for e in entries:
        out[e["name"]] = e
        for s in e["subcommands"]:
            out[s["name"]] = s
    return out


@pytest.fixture(scope="module")
def redis_table(server):
    table = []
    for raw in raw_command(server, "COMMAND"):
        name, arity, flags, first, last, step, _acl, tips, _specs, subs = raw[:10]
        table.append({
            "name": name, "arity": arity, "flags": set(flags), "first": first, "last": last,
            "step": step, "tips": set(tips),
            "subcommands": [{"name": s[0], "arity": s[1], "flags": set(s[2]), "first": s[3],
                             "last": s[4], "step": s[5], "tips": set(s[7]), "subcommands": []}
                            for s in subs],
        })
    return flatten(table)


@pytest.fixture(scope="module")
def our_entries(dump_path):
    result = subprocess.run([dump_path], check=True, capture_output=True, text=True, timeout=60)
    entries = [json.loads(line) for line in result.stdout.splitlines() if line]
    assert entries, "command_table_dump printed nothing"
    for e in entries:
        e["flags"] = set(e["flags"])
        for s in e["subcommands"]:
            s["flags"] = set(s["flags"])
    return entries


@pytest.fixture(scope="module")
def our_table(our_entries):
    return flatten(our_entries)


def test_same_commands_and_subcommands(redis_table, our_table):
    missing = sorted(set(redis_table) - set(our_table))
    extra = sorted(set(our_table) - set(redis_table))
    assert not missing, f"reported by redis, not in our table: {missing}"
    assert not extra, f"in our table, not reported by redis: {extra}"


def test_same_arity_and_key_range(redis_table, our_table):
    wrong = []
    for name, theirs in sorted(redis_table.items()):
        ours = our_table.get(name)
        if ours is None:
            continue
        for field in ("arity", "first", "last", "step"):
            if ours[field] != theirs[field]:
                wrong.append(f"{name}.{field}: ours {ours[field]}, redis {theirs[field]}")
    assert not wrong, "\n".join(wrong)


def test_same_redis_flags(redis_table, our_table):
    wrong = []
    for name, theirs in sorted(redis_table.items()):
        ours = our_table.get(name)
        if ours is None:
            continue
        expected = theirs["flags"] | EXTRA_REDIS_FLAGS.get(name, set())
        got = ours["flags"] - DERIVED_FLAGS
        if got != expected:
            wrong.append(f"{name}: ours {sorted(got)}, redis {sorted(expected)}")
    assert not wrong, "\n".join(wrong)


def test_same_subcommand_structure(redis_table, our_entries):
    for e in our_entries:
        theirs = redis_table[e["name"]]
        assert sorted(s["name"] for s in e["subcommands"]) == \
            sorted(s["name"] for s in theirs["subcommands"]), e["name"]


def test_derived_flags_follow_redis(redis_table, our_entries):
    wrong = []
    for e in our_entries:
        for c in [e] + e["subcommands"]:
            theirs = redis_table[c["name"]]
            nondet = "nondeterministic_output" in theirs["tips"]
            if nondet != ("nondeterministic_output" in c["flags"]):
                wrong.append(f"{c['name']}: nondeterministic_output tip {nondet}")
            keyed_subs = any(s["first"] != 0 or "movablekeys" in s["flags"]
                             for s in theirs["subcommands"])
            no_key = theirs["first"] == 0 and "movablekeys" not in theirs["flags"] and \
                not keyed_subs
            if no_key != ("no_key" in c["flags"]):
                wrong.append(f"{c['name']}: no_key should be {no_key}")
            movable = "movablekeys" in theirs["flags"]
            if movable != (c["special"] != "none") and c["name"] != "sort_ro":
                wrong.append(f"{c['name']}: special {c['special']} but movablekeys {movable}")
    assert not wrong, "\n".join(wrong)


def our_keys(dump_path, args):
    result = subprocess.run([dump_path, "--keys", *args], check=True, capture_output=True,
                            text=True, timeout=10)
    indexes = json.loads(result.stdout)
    assert indexes is not None, f"unknown command {args[0]}"
    return [args[i] for i in indexes]


def redis_keys(server, args):
    try:
        return raw_command(server, "COMMAND", "GETKEYS", *args)
    except redis.exceptions.ResponseError:
        return []  # "no key arguments" / "invalid arguments": no keys


def test_legacy_key_ranges_match_getkeys(server, dump_path, redis_table):
    """Every fixed-position command, called with distinct arguments, gives GETKEYS' keys."""
    wrong = []
    checked = 0
    for name, c in sorted(redis_table.items()):
        if "movablekeys" in c["flags"] or c["subcommands"] or c["first"] == 0 or \
                name in SHARD_CHANNEL_COMMANDS:
            continue
        argc = c["arity"] if c["arity"] > 0 else -c["arity"] + 3
        words = name.split("|")
        args = words + [f"a{i}" for i in range(len(words), argc)]
        ours, theirs = our_keys(dump_path, args), redis_keys(server, args)
        checked += 1
        if ours != theirs:
            wrong.append(f"{' '.join(args)}: ours {ours}, redis {theirs}")
    assert checked > 100
    assert not wrong, "\n".join(wrong)


MOVABLE_LINES = [
    ["EVAL", "return 1", "2", "k1", "k2", "arg"],
    ["EVALSHA_RO", "abc", "1", "k1"],
    ["FCALL", "f", "0", "arg"],
    ["ZUNIONSTORE", "dst", "2", "k1", "k2", "WEIGHTS", "1", "2"],
    ["ZINTERSTORE", "dst", "1", "k1"],
    ["ZDIFFSTORE", "dst", "2", "k1", "k2"],
    ["ZUNION", "2", "k1", "k2", "WITHSCORES"],
    ["SINTERCARD", "2", "k1", "k2", "LIMIT", "3"],
    ["LMPOP", "2", "k1", "k2", "LEFT", "COUNT", "2"],
    ["ZMPOP", "1", "k1", "MIN"],
    ["BLMPOP", "0", "2", "k1", "k2", "RIGHT"],
    ["BZMPOP", "1.5", "1", "k1", "MAX"],
    ["XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "k1", "k2", "0", "$"],
    ["XREADGROUP", "GROUP", "streams", "c", "NOACK", "STREAMS", "k1", ">"],
    ["SORT", "k1", "BY", "w_*", "LIMIT", "0", "5", "GET", "store", "STORE", "d1"],
    ["SORT", "k1", "STORE", "d1", "STORE", "d2"],
    ["SORT_RO", "k1", "GET", "#"],
    ["MIGRATE", "h", "6379", "k1", "0", "5000", "REPLACE"],
    ["MIGRATE", "h", "6379", "", "0", "5000", "COPY", "AUTH2", "u", "keys", "KEYS", "k1", "k2"],
    ["GEORADIUS", "k1", "1", "2", "3", "km", "WITHDIST", "STORE", "d1"],
    ["GEORADIUSBYMEMBER", "k1", "m", "3", "km", "STORE", "d1", "STOREDIST", "d2"],
    ["OBJECT", "FREQ", "k1"],
    ["XINFO", "STREAM", "k1", "FULL"],
    ["MEMORY", "USAGE", "k1", "SAMPLES", "5"],
]


@pytest.mark.parametrize("args", MOVABLE_LINES, ids=lambda a: " ".join(a)[:40])
def test_key_indexes_match_getkeys(server, dump_path, args):
    assert our_keys(dump_path, args) == redis_keys(server, args)
