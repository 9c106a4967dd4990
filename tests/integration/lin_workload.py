"""The concurrent register workload of the linearizability fault tests, shared by
test_linearizable_faults.py (short, in CI) and linearizability_soak.py (long runs).

run(Scenario(...)) starts a real redis-server (appendonly yes, appendfsync always: a kill -9 loses
nothing Redis acknowledged) and seawall in front of it (writes_when_open: journal for the
workload's keys, L1 ttl 2s / max_stale 10m, the fast breaker of faults.py with a 1s recovery
ramp), writes and reads every key once through seawall, then runs client threads while the main
thread injects the fault (kill9, sigstop, debug_sleep, flap, reload) one or more times. Every
operation goes into a history.History; after recovery, once seawall's journal is empty, every
key is read straight from Redis, the order in which Redis applied the writes is read from its
append-only file, and history.check() judges the whole history.

Clients (one thread each; every written value is unique, "<client>-<seq>"):
  p0..pN-1  redis-py: GET 65%, SET 20%, MGET of 2-3 keys 10%, MSET of 2 keys 5%
  multi     a raw RESP2 connection (so every reply is seen): MULTI/SET/SET/EXEC 40%, GET 60%;
            the transaction pins the session to a dedicated upstream connection (with
            Scenario.hash_tags, for a Redis Cluster upstream, its two keys share a hash tag)
  resp3     a raw connection after HELLO 3 (pinned for its lifetime): GET 65%, SET 35%;
            reconnects (and says HELLO 3 again) after a dropped connection or a timeout

Near-cache mode (Scenario.near: the policy's l1 gets `mode: near`) adds, when asked:
  d0..dN-1  direct writers (Scenario.direct_writers): SET a key straight to Redis, bypassing
            seawall, then GET it through seawall (a read sent after the write's acknowledgement:
            a near hit may not hide it). They write only their own keys (lin:d*), which every
            client reads: a journal replay would overwrite a direct write made after Redis came
            back, which is seawall's documented design, not the coherence being judged
  tracking_kill  a fault that keeps Redis up and kills every `seawall-tracking` connection
            (CLIENT KILL ID) Scenario.tracking_kills times over the outage window

Outcomes: ok; fail only when the command is known not to have been applied (seawall's documented
refusals: "write rejected", "journal full", "cannot be acknowledged without Redis"; EXECABORT;
a command never sent because HELLO failed); info for everything else (timeouts, "outcome
unknown", dropped connections, unexpected errors). Reads that get no value are recorded with
their error (fail for an error reply, info for a timeout or a dropped connection).

Start run() from the main thread: redis-server children die with the thread that forked them.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import redis

sys.path.insert(0, os.path.dirname(__file__))

import faults  # noqa: E402
from harness import (  # noqa: E402
    ConnectionClosed,
    RawConnection,
    RedisServer,
    Seawall,
    encode_command,
    sample,
    scrape,
)
from history import FAIL, INFO, OK, History, Report, check, now  # noqa: E402

FAULTS = ("kill9", "sigstop", "debug_sleep", "flap", "reload")
# Faults that need near-cache mode (Redis stays up: no breaker transition is expected).
NEAR_FAULTS = ("tracking_kill",)
# The l1 `mode` of Scenario.near; SEAWALL_NEAR_MODE= (empty) leaves the key out, to show what the
# near tests make of a binary or a build without near mode (they must fail).
NEAR_MODE = os.environ.get("SEAWALL_NEAR_MODE", "near")
# A client-side deadline well above every seawall deadline: an answer slower than this is a
# timeout (info for a write, a failed read).
CLIENT_TIMEOUT_S = 2.0
FLAP_HALF_PERIOD_S = 0.7
KEY_PREFIX = "lin:"
DIRECT_PREFIX = f"{KEY_PREFIX}d"

# Errors seawall (or Redis) documents as "this command was not applied".
NOT_APPLIED = ("write rejected", "journal full", "cannot be acknowledged without Redis",
               "EXECABORT")


def write_outcome(error: str) -> str:
    return FAIL if any(s in error for s in NOT_APPLIED) else INFO


def write_seen_keys(client: redis.Redis, keys: "Keys", history: History,
                    read_back: bool = False) -> None:
    """Every seen key written (and, with `read_back`, read) once through seawall, recorded in
    `history`: the keys are then in Redis and in the L1 before the clients start."""
    for i, k in enumerate(keys.seen):
        v = f"setup-{i}"
        t0 = now()
        assert client.set(k, v) is True
        history.write("setup", "SET", [(k, v)], t0, now(), OK)
    for k in keys.seen if read_back else []:
        t0 = now()
        history.read("setup", "GET", [k], [_text(client.get(k))], t0, now(), OK)


def _text(v) -> Optional[str]:
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


# --------------------------------------------------------------------------------------------
# a small RESP2/RESP3 reply decoder for the raw clients


class RespError(Exception):
    """An error reply (- or !)."""


def decode(data: bytes, pos: int = 0):
    """(value, end) of the RESP2/RESP3 value at data[pos:] (one whole reply, as
    harness.RawConnection.read_reply returns it). Errors become RespError instances (returned,
    not raised, so that they can sit inside arrays)."""
    kind = data[pos:pos + 1]
    eol = data.index(b"\r\n", pos)
    line = data[pos + 1:eol]
    nxt = eol + 2
    if kind == b"+":
        return line.decode(), nxt
    if kind == b"-":
        return RespError(line.decode("utf-8", "replace")), nxt
    if kind == b":":
        return int(line), nxt
    if kind == b"_":
        return None, nxt
    if kind == b"#":
        return line == b"t", nxt
    if kind in (b",", b"("):
        return line.decode(), nxt
    if kind in (b"$", b"!", b"="):
        n = int(line)
        if n < 0:
            return None, nxt
        body = data[nxt:nxt + n]
        if kind == b"!":
            return RespError(body.decode("utf-8", "replace")), nxt + n + 2
        if kind == b"=":
            body = body[4:]  # "txt:"
        return body, nxt + n + 2
    if kind in (b"*", b"~", b">"):
        n = int(line)
        if n < 0:
            return None, nxt
        out = []
        for _ in range(n):
            v, nxt = decode(data, nxt)
            out.append(v)
        return out, nxt
    if kind == b"%":
        out = {}
        for _ in range(int(line)):
            k, nxt = decode(data, nxt)
            v, nxt = decode(data, nxt)
            out[k if not isinstance(k, list) else tuple(k)] = v
        return out, nxt
    if kind == b"|":
        for _ in range(int(line) * 2):
            _, nxt = decode(data, nxt)
        return decode(data, nxt)
    raise ValueError(f"unknown RESP type {kind!r} in {data[pos:pos + 80]!r}")


class RawClient:
    """One raw connection that reconnects after a failure; RESP3 sessions say HELLO 3 first.
    request() returns the decoded reply (RespError for an error reply) or raises OSError /
    ConnectionClosed / socket.timeout when no reply came (the connection is dropped then)."""

    def __init__(self, port: int, resp3: bool = False, timeout: float = CLIENT_TIMEOUT_S):
        self.port = port
        self.resp3 = resp3
        self.timeout = timeout
        self.conn: Optional[RawConnection] = None
        self.hello_errors = 0

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None

    def ensure(self) -> Optional[str]:
        """Connects (and says HELLO 3); returns None, or the error that prevented it (the
        caller's command was then not sent)."""
        if self.conn is not None:
            return None
        try:
            self.conn = RawConnection(self.port, timeout=self.timeout)
        except OSError as e:
            self.conn = None
            return f"connect: {e!r}"
        if self.resp3:
            try:
                reply = decode(self.conn.request("HELLO", "3"))[0]
            except (OSError, ConnectionClosed, ValueError) as e:
                self.close()
                return f"HELLO 3: {e!r}"
            if isinstance(reply, RespError) or not isinstance(reply, dict):
                self.close()
                self.hello_errors += 1
                return f"HELLO 3 refused: {reply}"
        return None

    def requests(self, *commands):
        """Sends the commands in one write and returns their decoded replies."""
        assert self.conn is not None
        try:
            self.conn.send(b"".join(encode_command(*c) for c in commands))
            return [decode(r)[0] for r in self.conn.read_replies(len(commands))]
        except BaseException:
            self.close()
            raise


# --------------------------------------------------------------------------------------------
# clients


class Keys:
    """The keys in play: the seen ones from the start, the unseen ones once the fault begins, and
    the direct writers' keys (seen; written only straight to Redis, read by every client).

    With `hash_tags` > 0 (a Redis Cluster upstream) the seen and unseen keys carry one of that
    many hash tags ("lin:{t3}15"), so that a transaction can pick keys of one slot
    (pick_together); without, pick_together is pick (the same draws)."""

    def __init__(self, n_seen: int, n_unseen: int, n_direct: int = 0, hash_tags: int = 0):
        def tag(i: int) -> str:
            return f"{{t{i % hash_tags}}}" if hash_tags else ""
        self.hash_tags = hash_tags
        self.seen = [f"{KEY_PREFIX}{tag(i)}{i}" for i in range(n_seen)]
        self.unseen = [f"{KEY_PREFIX}{tag(i)}u{i}" for i in range(n_unseen)]
        self.direct = [f"{DIRECT_PREFIX}{i}" for i in range(n_direct)]
        self.active = list(self.seen)
        self.readable = self.active + self.direct

    def open_unseen(self) -> None:
        # One reference swap each: atomic for the readers.
        self.readable = self.seen + self.unseen + self.direct
        self.active = self.seen + self.unseen

    def all(self) -> list:
        return self.seen + self.unseen + self.direct

    def pick(self, rnd: random.Random, n: int = 1) -> list:
        """Keys to write through seawall."""
        return rnd.sample(self.active, n)

    def pick_read(self, rnd: random.Random, n: int = 1) -> list:
        """Keys to read (the same draws as pick() when there are no direct keys)."""
        return rnd.sample(self.readable, n)

    def pick_together(self, rnd: random.Random, n: int) -> list:
        """Keys to write in one transaction: n keys of one hash tag (one cluster slot)."""
        if not self.hash_tags:
            return self.pick(rnd, n)
        active = self.active
        first = rnd.choice(active)
        tag = _hash_tag(first)
        return [first] + rnd.sample([k for k in active if k != first and _hash_tag(k) == tag],
                                    n - 1)


def _hash_tag(key: str) -> str:
    return key[key.index("{"):key.index("}") + 1]


class Client(threading.Thread):
    def __init__(self, name: str, port: int, history: History, keys: Keys, seed: int,
                 pause: float, stop: threading.Event):
        super().__init__(name=f"lin-{name}", daemon=True)
        self.cname = name
        self.port = port
        self.history = history
        self.keys = keys
        self.rnd = random.Random(seed)
        self.pause = pause
        self.stop_event = stop
        self.seq = 0
        self.crash: Optional[BaseException] = None
        self.ops = 0

    def value(self) -> str:
        self.seq += 1
        return f"{self.cname}-{self.seq}"

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                self.step()
                self.ops += 1
                if self.pause:
                    time.sleep(self.pause)
        except BaseException as e:  # noqa: BLE001 - a crashed client is a test bug, reported
            self.crash = e
        finally:
            self.close()

    def step(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class PlainClient(Client):
    """redis-py, default settings plus timeouts, no retries."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.r = redis.Redis(host=faults.LOOPBACK, port=self.port, socket_timeout=CLIENT_TIMEOUT_S,
                             socket_connect_timeout=CLIENT_TIMEOUT_S)

    def close(self) -> None:
        self.r.connection_pool.disconnect()

    def step(self) -> None:
        x = self.rnd.random()
        if x < 0.65:
            (key,) = self.keys.pick_read(self.rnd)
            self.read("GET", [key], lambda: [self.r.get(key)])
        elif x < 0.85:
            (key,) = self.keys.pick(self.rnd)
            value = self.value()
            self.write("SET", [(key, value)], lambda: self.r.set(key, value))
        elif x < 0.95:
            keys = self.keys.pick_read(self.rnd, self.rnd.choice((2, 3)))
            self.read("MGET", keys, lambda: self.r.mget(keys))
        else:
            pairs = [(k, self.value()) for k in self.keys.pick(self.rnd, 2)]
            self.write("MSET", pairs, lambda: self.r.mset(dict(pairs)))

    def read(self, cmd, keys, call) -> None:
        t0 = now()
        try:
            values = call()
            t1 = now()
            self.history.read(self.cname, cmd, keys, [_text(v) for v in values], t0, t1, OK)
        except redis.ResponseError as e:
            self.history.read(self.cname, cmd, keys, None, t0, now(), FAIL, str(e))
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            self.history.read(self.cname, cmd, keys, None, t0, now(), INFO,
                              f"{type(e).__name__}: {e}")

    def write(self, cmd, pairs, call) -> None:
        t0 = now()
        try:
            ok = call()
            t1 = now()
            if ok is True:
                self.history.write(self.cname, cmd, pairs, t0, t1, OK)
            else:
                self.history.write(self.cname, cmd, pairs, t0, t1, INFO, f"reply {ok!r}")
        except redis.ResponseError as e:
            self.history.write(self.cname, cmd, pairs, t0, now(), write_outcome(str(e)), str(e))
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            self.history.write(self.cname, cmd, pairs, t0, now(), INFO,
                               f"{type(e).__name__}: {e}")


class RawSessionClient(Client):
    """Base of the raw-socket clients: GET and SET over RawClient."""

    resp3 = False
    tag = ""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.raw = RawClient(self.port, resp3=self.resp3)

    def close(self) -> None:
        self.raw.close()

    def get(self, key: str) -> None:
        cmd = f"{self.tag}GET"
        t0 = now()
        not_sent = self.raw.ensure()
        if not_sent:
            self.history.read(self.cname, cmd, [key], None, t0, now(), FAIL, not_sent)
            time.sleep(0.01)
            return
        try:
            (reply,) = self.raw.requests(("GET", key))
        except (OSError, ConnectionClosed, ValueError) as e:
            self.history.read(self.cname, cmd, [key], None, t0, now(), INFO, repr(e))
            return
        t1 = now()
        if isinstance(reply, RespError):
            self.history.read(self.cname, cmd, [key], None, t0, t1, FAIL, str(reply))
        elif reply is None or isinstance(reply, bytes):
            self.history.read(self.cname, cmd, [key], [_text(reply)], t0, t1, OK)
        else:
            self.history.read(self.cname, cmd, [key], None, t0, t1, FAIL,
                              f"unexpected reply {reply!r}")

    def set(self, key: str, raw: Optional[RawClient] = None, cmd: Optional[str] = None) -> bool:
        """SET through seawall (or over `raw`, recorded as `cmd`); True when acknowledged."""
        raw = raw or self.raw
        cmd = cmd or f"{self.tag}SET"
        value = self.value()
        t0 = now()
        not_sent = raw.ensure()
        if not_sent:
            self.history.write(self.cname, cmd, [(key, value)], t0, now(), FAIL, not_sent)
            time.sleep(0.01)
            return False
        try:
            (reply,) = raw.requests(("SET", key, value))
        except (OSError, ConnectionClosed, ValueError) as e:
            self.history.write(self.cname, cmd, [(key, value)], t0, now(), INFO, repr(e))
            return False
        t1 = now()
        if reply == "OK":
            self.history.write(self.cname, cmd, [(key, value)], t0, t1, OK)
            return True
        if isinstance(reply, RespError):
            self.history.write(self.cname, cmd, [(key, value)], t0, t1,
                               write_outcome(str(reply)), str(reply))
        else:
            self.history.write(self.cname, cmd, [(key, value)], t0, t1, INFO,
                               f"unexpected reply {reply!r}")
        return False


class Resp3Client(RawSessionClient):
    resp3 = True
    tag = "RESP3 "

    def step(self) -> None:
        (key,) = self.keys.pick_read(self.rnd)
        if self.rnd.random() < 0.65:
            self.get(key)
        else:
            if key.startswith(DIRECT_PREFIX):  # (never without direct writers: same draws)
                (key,) = self.keys.pick(self.rnd)
            self.set(key)


class MultiClient(RawSessionClient):
    """MULTI/SET a/SET b/EXEC sent in one write, as redis-py's transaction pipeline does, and
    GETs on the same connection."""

    tag = "multi "

    def step(self) -> None:
        if self.rnd.random() < 0.6:
            (key,) = self.keys.pick_read(self.rnd)
            self.get(key)
            return
        pairs = [(k, self.value()) for k in self.keys.pick_together(self.rnd, 2)]
        cmd = "MULTI/SET/SET/EXEC"
        t0 = now()
        not_sent = self.raw.ensure()
        if not_sent:
            self.history.write(self.cname, cmd, pairs, t0, now(), FAIL, not_sent)
            time.sleep(0.01)
            return
        try:
            replies = self.raw.requests(("MULTI",), *(("SET", k, v) for k, v in pairs),
                                        ("EXEC",))
        except (OSError, ConnectionClosed, ValueError) as e:
            self.history.write(self.cname, cmd, pairs, t0, now(), INFO, repr(e))
            return
        t1 = now()
        multi, queued, exec_ = replies[0], replies[1:-1], replies[-1]
        if multi != "OK":
            # No transaction: each SET ran (or not) on its own; EXEC got "without MULTI".
            for (k, v), r in zip(pairs, queued):
                if r == "OK":
                    self.history.write(self.cname, f"SET (MULTI failed: {multi})", [(k, v)],
                                       t0, t1, OK)
                else:
                    err = str(r)
                    self.history.write(self.cname, f"SET (MULTI failed: {multi})", [(k, v)],
                                       t0, t1, write_outcome(err), err)
            return
        if isinstance(exec_, list) and exec_ == ["OK"] * len(pairs):
            self.history.write(self.cname, cmd, pairs, t0, t1, OK)
        elif isinstance(exec_, RespError):
            self.history.write(self.cname, cmd, pairs, t0, t1, write_outcome(str(exec_)),
                               f"EXEC: {exec_} (queued: {queued})")
        else:
            self.history.write(self.cname, cmd, pairs, t0, t1, INFO,
                               f"EXEC: {exec_!r} (queued: {queued})")


DIRECT_SET = "direct SET"


class DirectClient(RawSessionClient):
    """A direct writer: SET one of the direct keys straight to Redis (bypassing seawall), then
    GET it through seawall: that read is sent after the write's acknowledgement, so a near hit
    that hides the write is a stale read. Redis errors count as not applied only where
    write_outcome() says so (-LOADING after a restart stays info: harmless for the checker)."""

    tag = ""

    def __init__(self, name: str, port: int, redis_port: int, writes_allowed: threading.Event,
                 *args, **kw):
        super().__init__(name, port, *args, **kw)
        self.redis = RawClient(redis_port)
        self.writes_allowed = writes_allowed

    def close(self) -> None:
        super().close()
        self.redis.close()

    def step(self) -> None:
        key = self.rnd.choice(self.keys.direct)
        if self.writes_allowed.is_set():
            self.set(key, raw=self.redis, cmd=DIRECT_SET)
        self.get(key)


# --------------------------------------------------------------------------------------------
# the scenario


@dataclass
class Scenario:
    fault: str = "kill9"
    threads: int = 1  # seawall worker threads
    clients: int = 6  # redis-py clients, besides the multi and resp3 ones
    keys: int = 200  # seen by seawall before the fault
    unseen_keys: int = 20  # used only from the first fault on
    multi: bool = True
    resp3: bool = True
    before_s: float = 1.5
    outage_s: float = 3.0
    after_s: float = 2.0  # after the breaker closed (the recovery ramp is 1s)
    cycles: int = 1  # faults per run
    ops: int = 0  # soak: keep cycling faults until this many ops were made (0: `cycles`)
    pause_s: float = 0.002  # per client between operations
    seed: int = 1
    recovery_ramp: str = "1s"
    keep_dirs: bool = False
    near: bool = False  # the policy's l1 gets `mode: near`
    direct_writers: int = 0  # DirectClient threads (keys lin:d0.. lin:dN-1, seen)
    direct_keys: int = 20
    # The direct writers only read from the fault's start until seawall has recovered (breaker
    # closed, journal empty, tracking links back). Without it, a direct write acknowledged by a
    # restarted Redis while seawall still answers from its L1 (breaker open, journal replaying:
    # the fallback chain) and before its tracking link is back is hidden by the old copy: stale
    # by the fallback design, not near mode's doing.
    direct_hold: bool = False
    tracking_kills: int = 4  # tracking_kill: rounds of CLIENT KILL over the outage window
    hash_tags: int = 0  # Keys' hash_tags: a Redis Cluster upstream's transactions need them


@dataclass
class Result:
    scenario: Scenario
    report: Report
    history: History
    seconds: float
    ops: int
    fault_windows: list = field(default_factory=list)  # (start, end) monotonic ns
    transitions: list = field(default_factory=list)
    reloads: int = 0
    journal: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    workdir: str = ""
    log_tail: str = ""
    # near mode: (label, monotonic ns, answers_by_source()) at each phase mark, when the breaker
    # closed again ("closed"), and at the end ("end")
    answers: list = field(default_factory=list)
    tracking_killed: list = field(default_factory=list)  # connections killed per round
    near_links: Optional[float] = None  # seawall_near_tracking_links at the end
    near_invalidations: Optional[float] = None

    def header(self) -> str:
        s = self.scenario
        return (f"fault={s.fault} threads={s.threads} clients={s.clients}+"
                f"{int(s.multi) + int(s.resp3)} keys={s.keys}+{s.unseen_keys} "
                f"outage={s.outage_s}s cycles={len(self.fault_windows)} ops={self.ops} "
                + (f"near direct_writers={s.direct_writers} tracking links at the end "
                   f"{self.near_links} invalidations {self.near_invalidations} killed "
                   f"{self.tracking_killed} " if s.near else "") +
                f"in {self.seconds:.1f}s; breaker transitions: {len(self.transitions)}; "
                f"journal {self.journal}" + (f"; reloads {self.reloads}" if s.fault == "reload"
                                             else "") +
                ("".join("\n  note: " + n for n in self.notes)))

    def summary(self, limit: int = 10) -> str:
        return self.header() + "\n" + self.report.summary(limit)


POLICY_TTL = "2s"


def seawall_config(redis_port: int, scenario: Scenario, ttl: str = POLICY_TTL) -> dict:
    l1 = {"ttl": ttl, "max_stale": "10m"}
    if scenario.near and NEAR_MODE:
        l1["mode"] = NEAR_MODE
    return {
        "threads": scenario.threads,
        "upstreams": [faults.upstream("main", redis_port, recovery_ramp=scenario.recovery_ramp)],
        # error, not miss, when nothing can answer: a nil would be a claim about the value.
        "policies": [{"match": f"{KEY_PREFIX}*", "l1": l1,
                      "writes_when_open": "journal", "on_unavailable": "error"}],
    }


def answers_by_source(sw: Seawall) -> dict:
    """seawall_answers_total by source, and the near-mode gauges and counters, now."""
    families = scrape(sw.admin_port)
    out = {s.labels["source"]: s.value for s in families["seawall_answers"].samples
           if s.name == "seawall_answers_total"} if "seawall_answers" in families else {}
    for name in ("seawall_near_tracking_links", "seawall_near_invalidations_total"):
        try:
            out[name] = sample(families, name)
        except KeyError:
            pass
    return out


def applied_writes(redis_dir: Path, notes: list) -> Optional[dict]:
    """{key: [values in the order Redis applied them]} from Redis 7's append-only files
    (appendonlydir: the manifest's incremental files, in order), or None (with a note) when the
    files cannot tell the whole story (a rewrite folded history into a base file)."""
    d = Path(redis_dir) / "appendonlydir"
    try:
        manifest = next(d.glob("*.manifest")).read_text()
    except (StopIteration, OSError) as e:
        notes.append(f"no AOF manifest in {d}: {e!r}")
        return None
    files = []
    for line in manifest.splitlines():
        fields = line.split()
        spec = dict(zip(fields[::2], fields[1::2]))
        if spec.get("type") == "b" and (d / spec["file"]).stat().st_size > 4096:
            notes.append("the AOF was rewritten: applied-order check skipped")
            return None
        if spec.get("type") == "h":
            notes.append("the AOF has history files: applied-order check skipped")
            return None
        if spec.get("type") == "i":
            files.append(d / spec["file"])
    out: dict = {}
    for f in files:
        data = f.read_bytes()
        pos = 0
        while pos < len(data):
            try:
                cmd, pos = decode(data, pos)
            except (ValueError, IndexError):
                notes.append(f"{f.name}: truncated at byte {pos} of {len(data)}")  # kill -9
                break
            name = cmd[0].lower()
            if name == b"set":
                out.setdefault(cmd[1].decode(), []).append(cmd[2].decode())
            elif name == b"mset":
                for i in range(1, len(cmd) - 1, 2):
                    out.setdefault(cmd[i].decode(), []).append(cmd[i + 1].decode())
            elif name == b"del" or name == b"unlink":
                for k in cmd[1:]:
                    out.setdefault(k.decode(), []).append(None)
    return out


def journal_state(sw: Seawall, upstreams: Sequence[str] = ("main",)) -> dict:
    """The journal's entries and operation counters, summed over `upstreams` (a Redis Cluster
    upstream has one journal per shard: main.0, main.1, ...)."""
    families = scrape(sw.admin_port)
    out = {"entries": sum(sample(families, "seawall_journal_entries", upstream=u)
                          for u in upstreams)}
    for op in ("appended", "replayed", "rejected"):
        out[op] = 0
        for u in upstreams:
            try:
                out[op] += sample(families, "seawall_journal_operations_total", upstream=u,
                                  operation=op)
            except KeyError:
                pass
    return out


def reloads_ok(sw: Seawall) -> float:
    try:
        return sample(scrape(sw.admin_port), "seawall_config_reloads_total", result="success")
    except KeyError:
        return 0


class _DebugSleep(threading.Thread):
    def __init__(self, port: int, seconds: float):
        super().__init__(daemon=True)
        self.port, self.seconds = port, seconds
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            with RawConnection(self.port, timeout=self.seconds + 10) as c:
                reply = c.request("DEBUG", "SLEEP", str(self.seconds))
                assert reply == b"+OK\r\n", reply
        except BaseException as e:  # noqa: BLE001
            self.error = e


def inject(fault: str, server: RedisServer, sw: Seawall, scenario: Scenario,
           notes: list, killed: Optional[list] = None) -> None:
    """Runs one fault from its start to the moment Redis can answer again (tracking_kill:
    `killed` gets the number of connections killed in each round)."""
    outage = scenario.outage_s
    if fault == "tracking_kill":
        rounds = max(1, scenario.tracking_kills)
        for _ in range(rounds):
            n = faults.kill_tracking(server.port)
            if killed is not None:
                killed.append(n)
            time.sleep(outage / rounds)
    elif fault == "kill9":
        server.kill9()
        time.sleep(outage)
        server.start(timeout=30)  # same port, same directory: reloads the AOF
    elif fault == "sigstop":
        server.sigstop()
        try:
            time.sleep(outage)
        finally:
            server.sigcont()
    elif fault == "debug_sleep":
        t = _DebugSleep(server.port, outage)
        t.start()
        t.join(outage + 15)
        if t.error is not None or t.is_alive():
            raise RuntimeError(f"DEBUG SLEEP failed: {t.error!r}")
    elif fault == "flap":
        n = max(2, round(outage / (2 * FLAP_HALF_PERIOD_S)) + 1)
        try:
            for i in range(n):
                server.sigstop()
                time.sleep(FLAP_HALF_PERIOD_S)
                server.sigcont()
                if i + 1 < n:
                    time.sleep(FLAP_HALF_PERIOD_S)
        finally:
            server.sigcont()
    elif fault == "reload":
        before = reloads_ok(sw)
        server.sigstop()
        try:
            time.sleep(outage / 2)
            # A harmless change: the workload's policy ttl, 2s <-> 3s.
            ttl = "3s" if sw.config["policies"][0]["l1"]["ttl"] == POLICY_TTL else POLICY_TTL
            sw.config["policies"][0]["l1"]["ttl"] = ttl
            sw.write_config()
            os.kill(sw.pid, signal.SIGHUP)
            deadline = time.monotonic() + outage / 2
            while reloads_ok(sw) <= before and time.monotonic() < deadline:
                time.sleep(0.05)
            if reloads_ok(sw) <= before:
                notes.append("reload: no successful reload counted during the outage")
            time.sleep(max(0.0, deadline - time.monotonic()))
        finally:
            server.sigcont()
    else:
        raise ValueError(f"unknown fault {fault!r}; one of {FAULTS + NEAR_FAULTS}")


def run(scenario: Scenario, workdir: Optional[Path] = None, binary: Optional[str] = None,
        progress=None) -> Result:
    """Runs the scenario; `progress(text)` is told what happens (soak output)."""
    say = progress or (lambda text: None)
    own_dir = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="seawall-lin-"))
    t_start = time.monotonic()
    # Every acknowledged write on disk before its reply; no rewrites, so the AOF is the whole
    # order in which Redis applied the writes.
    server = RedisServer(workdir / "redis",
                         extra_args=["--appendonly", "yes", "--appendfsync", "always",
                                     "--auto-aof-rewrite-percentage", "0"])
    server.start()
    sw: Optional[Seawall] = None
    clients: list[Client] = []
    stop = threading.Event()
    notes: list = []
    try:
        sw = Seawall(workdir / "seawall", server.port, seawall_config(server.port, scenario),
                     binary=binary)
        sw.start()
        sw.wait_ready()
        log = faults.BreakerLog(sw.log_path)
        history = History()
        keys = Keys(scenario.keys, scenario.unseen_keys,
                    scenario.direct_keys if scenario.direct_writers else 0, scenario.hash_tags)
        answers: list = []

        def snapshot(label: str, t: int) -> None:
            if scenario.near:
                answers.append((label, t, answers_by_source(sw)))

        def mark(phase: str) -> int:
            t = history.mark(phase)
            snapshot(phase, t)
            return t

        mark("before")

        setup = redis.Redis(host=faults.LOOPBACK, port=sw.port, socket_timeout=CLIENT_TIMEOUT_S)
        write_seen_keys(setup, keys, history)
        if keys.direct:
            direct = redis.Redis(host=faults.LOOPBACK, port=server.port,
                                 socket_timeout=CLIENT_TIMEOUT_S)
            for i, k in enumerate(keys.direct):
                v = f"setup-d{i}"
                t0 = now()
                assert direct.set(k, v) is True
                history.write("setup", DIRECT_SET, [(k, v)], t0, now(), OK)
            direct.connection_pool.disconnect()
        for k in keys.seen + keys.direct:
            t0 = now()
            got = setup.get(k)
            history.read("setup", "GET", [k], [_text(got)], t0, now(), OK)
        setup.connection_pool.disconnect()

        rnd = random.Random(scenario.seed)
        for i in range(scenario.clients):
            clients.append(PlainClient(f"p{i}", sw.port, history, keys, rnd.random(),
                                       scenario.pause_s, stop))
        if scenario.multi:
            clients.append(MultiClient("multi", sw.port, history, keys, rnd.random(),
                                       scenario.pause_s, stop))
        if scenario.resp3:
            clients.append(Resp3Client("resp3", sw.port, history, keys, rnd.random(),
                                       scenario.pause_s, stop))
        direct_writes = threading.Event()
        direct_writes.set()
        for i in range(scenario.direct_writers):
            clients.append(DirectClient(f"d{i}", sw.port, server.port, direct_writes, history,
                                        keys, rnd.random(), scenario.pause_s, stop))
        for c in clients:
            c.start()
        time.sleep(scenario.before_s)

        windows = []
        killed: list = []
        redis_stays_up = scenario.fault in NEAR_FAULTS
        cycle = 0
        while True:
            cycle += 1
            if cycle > 1:
                time.sleep(scenario.before_s)  # healthy again for a while: L1 copies refill
            closed_before = log.count(None, "closed")
            if scenario.direct_hold:
                direct_writes.clear()
            t_fault = mark("during")
            keys.open_unseen()
            say(f"cycle {cycle}: {scenario.fault}")
            inject(scenario.fault, server, sw, scenario, notes, killed)
            t_back = mark("after")
            windows.append((t_fault, t_back))
            if redis_stays_up:
                pass  # no breaker transition to wait for
            else:
                try:
                    log.wait_settled_closed(faults.recovery_bound() + 5)
                    snapshot("closed", now())  # healthy again: near hits may resume
                except AssertionError as e:
                    notes.append(f"cycle {cycle}: breaker not closed: {str(e)[:300]}")
            if (log.count(None, "closed") == closed_before and scenario.fault != "flap"
                    and not redis_stays_up):
                notes.append(f"cycle {cycle}: no breaker transition to closed logged; did the "
                             f"breaker open? transitions {log.transitions()[-6:]}")
            if not direct_writes.is_set():
                def recovered() -> bool:
                    a = answers_by_source(sw)
                    return (journal_state(sw)["entries"] == 0 and
                            a.get("seawall_near_tracking_links") == scenario.threads)
                deadline = time.monotonic() + 5
                while not recovered() and time.monotonic() < deadline:
                    time.sleep(0.02)
                if not recovered():
                    notes.append(f"cycle {cycle}: not recovered 5s after the breaker closed "
                                 f"(journal, tracking links): direct writes resume anyway")
                direct_writes.set()
            time.sleep(scenario.after_s)
            total = sum(c.ops for c in clients)
            say(f"cycle {cycle}: {total} ops so far")
            if scenario.ops:
                if total >= scenario.ops:
                    break
            elif cycle >= scenario.cycles:
                break
            crashed = [c for c in clients if c.crash is not None]
            if crashed:
                break
        stop.set()
        for c in clients:
            c.join(CLIENT_TIMEOUT_S * 3 + 5)
        snapshot("end", now())
        stuck = [c.cname for c in clients if c.is_alive()]
        crashed = [(c.cname, c.crash) for c in clients if c.crash is not None]
        if stuck or crashed:
            raise RuntimeError(f"client threads stuck {stuck} or crashed {crashed!r}")

        # Recovery is complete when the journal is empty; then Redis holds the final state.
        deadline = time.monotonic() + 20
        while journal_state(sw)["entries"] != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        journal = journal_state(sw)
        if journal["entries"] != 0:
            notes.append(f"journal not empty 20s after the workload stopped: {journal}")
        direct = redis.Redis(host=faults.LOOPBACK, port=server.port, socket_timeout=10)
        all_keys = keys.all()
        t_final = now()
        final = dict(zip(all_keys, (_text(v) for v in direct.mget(all_keys))))
        direct.connection_pool.disconnect()
        applied = applied_writes(workdir / "redis", notes)
        # A RESP3 session is pinned: its replies are relayed, not cached.
        report = check(history, final=final, final_time=t_final, applied=applied,
                       fills_cache=lambda e: not e.cmd.startswith(Resp3Client.tag))
        if not sw.alive():
            notes.append("seawall died during the run")
        result = Result(scenario, report, history, time.monotonic() - t_start,
                        report.ops, windows, log.transitions(),
                        int(reloads_ok(sw)) if sw.alive() else 0, journal, notes, str(workdir),
                        sw.log_tail())
        if scenario.near:
            result.answers = answers
            result.tracking_killed = killed
            result.near_links = answers[-1][2].get("seawall_near_tracking_links")
            result.near_invalidations = answers[-1][2].get("seawall_near_invalidations_total")
        return result
    finally:
        stop.set()
        for c in clients:
            if c.is_alive():
                c.join(CLIENT_TIMEOUT_S * 3 + 5)
        if sw is not None:
            try:
                sw.stop()
            except AssertionError as e:
                notes.append(str(e)[:2000])
        server.stop()
        if own_dir and not scenario.keep_dirs:
            shutil.rmtree(workdir, ignore_errors=True)
