#!/usr/bin/python3
"""Generates src/command/command_table_data.inc from a live redis-server.

Usage (from the repository root):
    /usr/bin/python3 tests/support/gen_command_table.py [--redis-server PATH] [--output FILE]
                                                         [--allow-any-version]

Starts its own redis-server (Debian's 7.0.15 is the reference) on a free loopback port with
persistence off, runs COMMAND, and writes every command and subcommand with its arity, flags,
legacy key range and, for movablekeys commands, the KeySpecial that tells key_indexes() how to
find the keys. Needs redis-py (python3-redis). The output is sorted and deterministic, so running
the script twice against the same server version gives the same file.

Flags taken from Redis map one-to-one onto the Flag enum. Derived flags (see DERIVED below):
  kTransaction            MULTI EXEC DISCARD WATCH UNWATCH
  kConnectionState        commands that change per-connection state (session must be pinned)
  kNoKey                  first_key == 0, not movablekeys, and no subcommand takes a key
  kScripting              EVAL*, EVALSHA*, FCALL*, SCRIPT *, FUNCTION *
  kNonDeterministicOutput the COMMAND INFO tip "nondeterministic_output" (not "..._order": the
                          same data gives the same reply, so those replies stay cacheable)
  kBlocking               Redis's "blocking" flag, plus WAIT (blocks the connection, unflagged)
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUTPUT = os.path.join(REPO_ROOT, "src", "command", "command_table_data.inc")
SCRIPT_PATH = "tests/support/gen_command_table.py"

# Redis flag name -> Flag enumerator, in the order they are written out.
REDIS_FLAGS = {
    "write": "kWrite",
    "readonly": "kReadonly",
    "admin": "kAdmin",
    "blocking": "kBlocking",
    "pubsub": "kPubsub",
    "movablekeys": "kMovableKeys",
    "fast": "kFast",
    "denyoom": "kDenyOom",
    "noscript": "kNoScript",
    "loading": "kLoading",
    "stale": "kStale",
    "no_auth": "kNoAuth",
    "may_replicate": "kMayReplicate",
    "skip_monitor": "kSkipMonitor",
    "skip_slowlog": "kSkipSlowlog",
    "asking": "kAsking",
    "no_mandatory_keys": "kNoMandatoryKeys",
    "no_async_loading": "kNoAsyncLoading",
    "no_multi": "kNoMulti",
    "allow_busy": "kAllowBusy",
}

FLAG_ORDER = [
    "kWrite", "kReadonly", "kAdmin", "kBlocking", "kPubsub", "kTransaction", "kConnectionState",
    "kNoKey", "kMovableKeys", "kFast", "kDenyOom", "kNoScript", "kLoading", "kStale", "kNoAuth",
    "kMayReplicate", "kScripting", "kNonDeterministicOutput", "kSkipMonitor", "kSkipSlowlog",
    "kAsking", "kNoMandatoryKeys", "kNoAsyncLoading", "kNoMulti", "kAllowBusy"
]

TRANSACTION = {"multi", "exec", "discard", "watch", "unwatch"}

# Commands after which the upstream connection is no longer interchangeable with another one.
# CLIENT NO-TOUCH and CLIENT SETINFO arrive in Redis 7.2; add them when the reference moves.
CONNECTION_STATE = {
    "select", "hello", "auth", "reset", "quit", "readonly", "readwrite", "asking", "monitor",
    "sync", "psync",  # turn the connection into a replication stream
    "client|setname", "client|reply", "client|tracking", "client|caching", "client|no-evict",
}

SCRIPTING_PREFIXES = ("eval", "evalsha", "fcall", "script", "function")

# Blocks the connection until replicas acknowledge, though Redis does not flag it "blocking".
EXTRA_BLOCKING = {"wait"}

# Must come out flagged kNonDeterministicOutput; a sanity check on the tips, not a source.
MUST_BE_NONDETERMINISTIC = {
    "randomkey", "spop", "srandmember", "hrandfield", "zrandmember", "scan", "sscan", "hscan",
    "zscan", "time", "ttl", "pttl", "object|freq", "object|idletime",
}


def is_scripting(name):
    top = name.split("|", 1)[0]
    return top in SCRIPTING_PREFIXES or top in ("eval_ro", "evalsha_ro", "fcall_ro")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on loopback; stopped (by its own PID) on exit."""

    def __init__(self, binary):
        self.binary = binary
        self.proc = None
        self.dir = None
        self.port = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="seawall-gen-")
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--dir", self.dir, "--logfile", ""],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping()
                    return self
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
            self._stop()
        raise RuntimeError("redis-server did not start")

    def _stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc):
        self._stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def decode(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def fetch_commands(port):
    """Raw COMMAND reply, decoded: one list per command, subcommands at element 9 (0-based)."""
    client = redis.Redis(host="127.0.0.1", port=port)
    conn = client.connection_pool.get_connection("COMMAND")
    try:
        # Raw reply: redis-py's COMMAND parser drops key specs and subcommands.
        conn.send_command("COMMAND")
        reply = decode(conn.read_response())
        version = client.info("server")["redis_version"]
    finally:
        client.connection_pool.release(conn)
    return reply, version


def spec_dict(spec):
    """A key spec (flat key/value list, nested the same way) as a dict."""
    out = {}
    for i in range(0, len(spec) - 1, 2):
        value = spec[i + 1]
        if isinstance(value, list) and spec[i] in ("begin_search", "find_keys", "spec"):
            value = spec_dict(value)
        out[spec[i]] = value
    return out


def keynum_start(spec):
    """begin_search index of a keynum spec of the usual shape (numkeys then the keys), or None."""
    begin, find = spec["begin_search"], spec["find_keys"]
    if begin.get("type") != "index" or find.get("type") != "keynum":
        return None
    s = find["spec"]
    if (s.get("keynumidx"), s.get("firstkey"), s.get("keystep")) != (0, 1, 1):
        raise SystemExit(f"unexpected keynum spec shape: {spec}")
    return begin["spec"]["index"]


def key_special(name, entry):
    """The KeySpecial for a movablekeys command, derived from its key specs."""
    if "movablekeys" not in entry["redis_flags"]:
        return "None"
    specs = [spec_dict(s) for s in entry["key_specs"]]
    keywords = {s["begin_search"]["spec"].get("keyword") for s in specs
                if s["begin_search"].get("type") == "keyword"}
    keynum = [k for k in (keynum_start(s) for s in specs) if k is not None]
    unknown_write = [s for s in specs if s["begin_search"].get("type") == "unknown"
                     and "OW" in s.get("flags", [])]
    if keynum:
        if keynum == [1]:
            return "NumkeysAt1"
        if keynum == [2] and entry["first"] == 1:
            return "NumkeysAt2Dest"
        if keynum == [2] and "blocking" in entry["redis_flags"]:
            return "NumkeysAt3Block"
        if keynum == [2]:
            return "NumkeysAt2"
    if keywords == {"STREAMS"}:
        return "Streams"
    if keywords == {"KEYS"}:
        return "Migrate"
    if keywords == {"STORE", "STOREDIST"}:
        return "GeoradiusStore"
    if unknown_write:
        return "Sort"  # SORT ... STORE dst: the keyword may appear anywhere
    if name == "sort_ro":
        return "None"  # movable only for BY/GET patterns, which name no key of the command
    raise SystemExit(f"{name}: movablekeys with key specs no KeySpecial covers: {specs}")


def parse_entry(raw):
    name, arity, flags, first, last, step, _acl, tips, key_specs, subs = raw[:10]
    return {
        "name": name, "arity": arity, "redis_flags": list(flags), "first": first, "last": last,
        "step": step, "tips": list(tips), "key_specs": key_specs,
        "subcommands": [parse_entry(s) for s in subs],
    }


def flags_of(entry):
    name = entry["name"]
    out = set()
    for f in entry["redis_flags"]:
        if f not in REDIS_FLAGS:
            raise SystemExit(f"{name}: Redis flag {f!r} has no Flag enumerator; add one")
        out.add(REDIS_FLAGS[f])
    if name in TRANSACTION:
        out.add("kTransaction")
    if name in CONNECTION_STATE:
        out.add("kConnectionState")
    if name in EXTRA_BLOCKING:
        out.add("kBlocking")
    if is_scripting(name):
        out.add("kScripting")
    if "nondeterministic_output" in entry["tips"]:
        out.add("kNonDeterministicOutput")
    subs_have_keys = any(s["first"] != 0 or "movablekeys" in s["redis_flags"]
                         for s in entry["subcommands"])
    if entry["first"] == 0 and "movablekeys" not in entry["redis_flags"] and not subs_have_keys:
        out.add("kNoKey")
    return out


def flags_expr(flags):
    ordered = [f for f in FLAG_ORDER if f in flags]
    assert len(ordered) == len(flags), flags
    return " | ".join(ordered) if ordered else "0"


def array_name(parent):
    return "k" + "".join(p.capitalize() for p in parent.replace("-", "_").split("_")) + \
        "Subcommands"


def row(entry, subs_array):
    fields = [
        f'"{entry["name"]}"', str(entry["arity"]), flags_expr(entry["flags"]),
        str(entry["first"]), str(entry["last"]), str(entry["step"]),
        f'KeySpecial::{entry["special"]}', subs_array or "{}",
    ]
    return "    {" + ", ".join(fields) + "},"


def check(entries):
    names = {e["name"] for e in entries}
    for e in entries:
        names.update(s["name"] for s in e["subcommands"])
    for group in (TRANSACTION, CONNECTION_STATE, EXTRA_BLOCKING, MUST_BE_NONDETERMINISTIC):
        missing = group - names
        if missing:
            raise SystemExit(f"derived-flag lists name unknown commands: {sorted(missing)}")
    by_name = {e["name"]: e for e in entries}
    for e in entries:
        for s in e["subcommands"]:
            by_name[s["name"]] = s
    for n in MUST_BE_NONDETERMINISTIC:
        if "kNonDeterministicOutput" not in by_name[n]["flags"]:
            raise SystemExit(f"{n}: expected the nondeterministic_output tip")


def render(entries, version):
    lines = [
        "// Generated by tests/support/gen_command_table.py from redis-server "
        f"{version} (COMMAND). Do not edit.",
        "// Regenerate from the repository root (starts its own redis-server on loopback):",
        f"//   /usr/bin/python3 {SCRIPT_PATH}",
        "// Included by command_table.cpp inside namespace seawall::command. Rows are sorted by "
        "name;",
        "// fields: name, arity, flags, first_key, last_key, step, special, subcommands.",
        "// clang-format off",
        "",
    ]
    for e in entries:
        if not e["subcommands"]:
            continue
        lines.append(f"constexpr CommandInfo {array_name(e['name'])}[] = {{")
        lines.extend(row(s, None) for s in e["subcommands"])
        lines.append("};")
        lines.append("")
    lines.append("constexpr CommandInfo kCommands[] = {")
    for e in entries:
        lines.append(row(e, array_name(e["name"]) if e["subcommands"] else None))
    lines.append("};")
    lines.append("")
    top_len = max(len(e["name"]) for e in entries)
    sub_len = max((len(s["name"].split("|", 1)[1]) for e in entries for s in e["subcommands"]),
                  default=0)
    lines.append(f"constexpr std::size_t kMaxCommandNameLength = {top_len};")
    lines.append(f"constexpr std::size_t kMaxSubcommandNameLength = {sub_len};")
    lines.append("")
    lines.append("// clang-format on")
    return "\n".join(lines) + "\n"


def finish(entry):
    entry["special"] = key_special(entry["name"], entry)
    entry["flags"] = flags_of(entry)
    for s in entry["subcommands"]:
        finish(s)
    entry["subcommands"].sort(key=lambda s: s["name"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or
                        "/usr/bin/redis-server")
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    parser.add_argument("--allow-any-version", action="store_true",
                        help="accept a redis-server other than 7.0.x")
    args = parser.parse_args()

    with RedisServer(args.redis_server) as server:
        reply, version = fetch_commands(server.port)
    if not version.startswith("7.0.") and not args.allow_any_version:
        raise SystemExit(f"redis-server {version}: the table is for Redis 7.0.x "
                         "(use --allow-any-version to generate anyway)")
    entries = [parse_entry(r) for r in reply]
    for e in entries:
        finish(e)
    entries.sort(key=lambda e: e["name"])
    check(entries)
    text = render(entries, version)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    count = len(entries) + sum(len(e["subcommands"]) for e in entries)
    print(f"wrote {args.output}: {len(entries)} commands, {count} with subcommands "
          f"(redis {version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
