"""A history of register operations recorded by concurrent clients, and its checker.

The model (Jepsen's and Knossos's register workloads): every key is an independent register;
every write puts a value no other write uses ("c3-1207"), so a read names the one write it
observed. An operation has an invoke and a complete time (time.monotonic_ns(): one clock for
every thread) and an outcome:

    ok    acknowledged: a write took effect, a read returned a value
    fail  definitely not applied: a refusal that seawall documents as such (-UNAVAILABLE ...
          write rejected, journal full, cannot be acknowledged; -EXECABORT; a command that was
          never sent)
    info  unknown: a timeout, "outcome unknown", a dropped connection. Such a write may take
          effect at any time after its invoke, possibly long after its error came back, or
          never; for the checker its completion is +infinity.

A multi-key operation (MSET, MGET, MULTI/SET/SET/EXEC) is one event per key sharing the op id,
invoke and complete time. DEL may be modelled as a write of nil (value None); nil is then a value
several writes share, and the zone check (below) skips that key.

Checks (check() returns a Report; see Report.summary()):

  impossible  a read returned a value no write wrote, a failed write's value, or the value of a
              write invoked after the read completed (a read from the future).
  stale       a read R returned the value of write W (or nil, the initial value: a write at
              -infinity), while some write W2 of that key was acknowledged with
              W2.invoke > W.complete and W2.complete < R.invoke: W2 strictly followed W and was
              acknowledged before R was sent. (W info: W.complete = +infinity, never followed.)
  stale-observed  the same, with W2 not acknowledged in time but *seen*: some read returning
              W2's value completed before R was sent. Sound for the same reason: W2 took effect
              before that read ended.
  torn        a multi-key read (MGET) returned a multi-key write M's (MSET, MULTI/EXEC) value on
              one key and, on another key M wrote, a value whose write strictly preceded M (or
              nil): M is atomic in Redis, so that read saw half of it.
  lost        the final state (each key read straight from Redis after recovery, a read at a time
              after every operation) is not a value the history allows: never written, a failed
              write's, nil although a write was acknowledged, or a value some acknowledged (or
              seen) write strictly followed.
  overwritten / regressed / missing / applied-failed  (with the writes Redis applied, in its
              order, from its append-only file) an acknowledged write applied after a write that
              strictly followed it, for good (a lost update, even when a later write hides it from
              the final state) or until the newer one was applied again; an acknowledged write
              Redis never applied and nothing could have overwritten at once; a refused write
              applied.
  nonlinearizable  the per-key linearizability check for registers with unique values (Gibbons
              and Korach's zones, exact and O(n log n)): each value's write and its reads span a
              zone; two values whose zones force them to overlap in every order cannot both be
              right. Catches what the rules above do not (e.g. two reads of different values
              in an order no write order explains); includes the final read.

Besides violations, the report counts every op by phase (the test marks "before", "during",
"after" in the history) and by whether its key had been seen by seawall before the fault (an
ok op on it completed before the first "during" mark), with error messages, and gives read
latency percentiles per phase.
"""

from __future__ import annotations

import bisect
import itertools
import math
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

OK, FAIL, INFO = "ok", "fail", "info"
READ, WRITE = "read", "write"
INF = math.inf

now = time.monotonic_ns


class Event:
    """One key's part of one operation."""

    __slots__ = ("op", "client", "cmd", "type", "key", "value", "invoke", "complete", "outcome",
                 "error")

    def __init__(self, op: int, client: str, cmd: str, type_: str, key: str,
                 value: Optional[str], invoke: float, complete: float, outcome: str,
                 error: Optional[str] = None):
        assert type_ in (READ, WRITE), type_
        assert outcome in (OK, FAIL, INFO), outcome
        assert complete >= invoke, (invoke, complete)
        self.op = op
        self.client = client
        self.cmd = cmd
        self.type = type_
        self.key = key
        self.value = value
        self.invoke = invoke
        self.complete = complete
        self.outcome = outcome
        # Interned: a long run repeats the same few error texts many thousand times.
        self.error = sys.intern(error) if error else error

    def __repr__(self) -> str:
        return describe(self)


def _ms(t: float, t0: float) -> str:
    if t == INF:
        return "+inf"
    if t == -INF:
        return "-inf"
    return f"{(t - t0) / 1e6:.3f}"


def describe(e: Event, t0: float = 0) -> str:
    """One line: op id, client, command, key, value, [invoke, complete] in ms since t0, outcome."""
    if e.type == WRITE:
        what = f"write {e.key} := {e.value!r}"
    elif e.outcome == OK:
        what = f"read {e.key} -> {e.value!r}"
    else:
        what = f"read {e.key}"
    err = f" ({e.error})" if e.error else ""
    return (f"#{e.op} {e.client} {e.cmd}: {what} [{_ms(e.invoke, t0)} .. {_ms(e.complete, t0)}"
            f" ms] {e.outcome}{err}")


class History:
    """Events appended by many threads (list.append is atomic in CPython), and phase marks."""

    def __init__(self):
        self.events: list[Event] = []
        self.marks: list[tuple[float, str]] = []
        self._ops = itertools.count(1)
        self._lock = threading.Lock()
        self.t0 = now()

    def mark(self, phase: str, t: Optional[int] = None) -> int:
        t = now() if t is None else t
        with self._lock:
            self.marks.append((t, phase))
            self.marks.sort()
        return t

    def next_op(self) -> int:
        return next(self._ops)

    def write(self, client: str, cmd: str, pairs: Sequence[tuple[str, Optional[str]]],
              invoke: int, complete: int, outcome: str, error: Optional[str] = None) -> int:
        """A write of one or more keys (MSET, MULTI/EXEC: one event per key, one op id)."""
        op = self.next_op()
        for key, value in pairs:
            self.events.append(Event(op, client, cmd, WRITE, key, value, invoke, complete,
                                     outcome, error))
        return op

    def read(self, client: str, cmd: str, keys: Sequence[str],
             values: Optional[Sequence[Optional[str]]], invoke: int, complete: int,
             outcome: str, error: Optional[str] = None) -> int:
        """A read of one or more keys; values only when outcome is ok."""
        op = self.next_op()
        if outcome == OK:
            assert values is not None and len(values) == len(keys), (keys, values)
        for i, key in enumerate(keys):
            value = values[i] if outcome == OK else None
            self.events.append(Event(op, client, cmd, READ, key, value, invoke, complete,
                                     outcome, error))
        return op

    def add(self, event: Event) -> None:
        self.events.append(event)

    def phase_at(self, t: float) -> str:
        if not self.marks:
            return "all"
        i = bisect.bisect_right([m[0] for m in self.marks], t) - 1
        return self.marks[max(i, 0)][1]

    def first_mark(self, phase: str) -> Optional[float]:
        times = [t for t, p in self.marks if p == phase]
        return min(times) if times else None


# --------------------------------------------------------------------------------------------
# the report


@dataclass
class Violation:
    kind: str
    key: str
    message: str
    ops: list = field(default_factory=list)
    read: Optional[Event] = None  # the read judged (None for torn/zone violations)
    phase: str = ""  # phase of the judged read (or of the last op shown)

    def format(self, t0: float = 0) -> str:
        where = f" (phase {self.phase})" if self.phase else ""
        lines = [f"[{self.kind}] {self.key}{where}: {self.message}"]
        lines += ["      " + describe(e, t0) for e in self.ops]
        return "\n".join(lines)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of `values`; nan when empty."""
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(p / 100 * len(v)) - 1))
    return v[k]


@dataclass
class Report:
    violations: list = field(default_factory=list)
    # counts[phase][seen|unseen][read|write][ok|fail|info] -> n
    counts: dict = field(default_factory=dict)
    # errors[phase][seen|unseen][read|write] -> Counter(error message)
    errors: dict = field(default_factory=dict)
    # read latencies in ms: latency[phase] -> {"n", "p50", "p99", "max"}; latency_seen likewise
    latency: dict = field(default_factory=dict)
    latency_seen: dict = field(default_factory=dict)
    # read errors on seen keys per phase, split by whether the key was written (any outcome)
    # after the fault began and before the read: {"written": n, "not_written": n}
    read_errors_seen: dict = field(default_factory=dict)
    phase_order: list = field(default_factory=list)
    applied: Optional[int] = None  # writes Redis applied (from its AOF), when given
    ops: int = 0
    events: int = 0
    keys: int = 0
    t0: float = 0

    def phases(self) -> list:
        order = [p for p in self.phase_order if p in self.counts]
        return order + [p for p in self.counts if p not in order]

    def by_kind(self) -> Counter:
        return Counter(v.kind for v in self.violations)

    def of(self, *kinds: str) -> list:
        return [v for v in self.violations if v.kind in kinds]

    def count(self, phase: str, seen: str, type_: str, outcome: Optional[str] = None) -> int:
        c = self.counts.get(phase, {}).get(seen, {}).get(type_, {})
        return sum(c.values()) if outcome is None else c.get(outcome, 0)

    def read_failures(self, phase: str, seen: str = "seen") -> int:
        """Reads that got no value (an error reply, a timeout, a dropped connection)."""
        return self.count(phase, seen, READ, FAIL) + self.count(phase, seen, READ, INFO)

    def summary(self, limit: int = 10) -> str:
        applied = ("" if self.applied is None
                   else f"; {self.applied} writes applied by Redis (its AOF) checked")
        lines = [f"{self.ops} ops ({self.events} key events) on {self.keys} keys{applied}; "
                 f"violations: {dict(self.by_kind()) or 'none'}"]
        for phase in self.phases():
            for seen in ("seen", "unseen"):
                c = self.counts[phase].get(seen)
                if not c:
                    continue
                parts = []
                for t in (READ, WRITE):
                    o = c.get(t, {})
                    parts.append(f"{t}s ok={o.get(OK, 0)} fail={o.get(FAIL, 0)} "
                                 f"info={o.get(INFO, 0)}")
                lat = self.latency_seen.get(phase, {}).get(seen)
                lat_s = (f"; read p50={lat['p50']:.1f}ms p99={lat['p99']:.1f}ms "
                         f"max={lat['max']:.1f}ms") if lat and lat["n"] else ""
                lines.append(f"  {phase:>6} {seen:>6}: " + ", ".join(parts) + lat_s)
                errs = self.errors.get(phase, {}).get(seen, {})
                for t in (READ, WRITE):
                    for msg, n in errs.get(t, Counter()).most_common(3):
                        lines.append(f"           {t} error x{n}: {msg}")
        if self.violations:
            by = Counter((v.kind, v.phase) for v in self.violations)
            lines.append("  violations by kind and phase: " + ", ".join(
                f"{k}/{p or '?'}={n}" for (k, p), n in sorted(by.items())))
            cmds = Counter((v.kind, v.read.cmd) for v in self.violations if v.read is not None)
            if cmds:
                lines.append("  judged reads by command: " + ", ".join(
                    f"{k}/{c}={n}" for (k, c), n in sorted(cmds.items())))
        if self.read_errors_seen:
            lines.append(f"  read errors on seen keys: {self.read_errors_seen}")
        # Round-robin over kinds so that one kind does not hide the others.
        queues = defaultdict(list)
        for v in self.violations:
            queues[v.kind].append(v)
        shown = []
        while len(shown) < limit and any(queues.values()):
            for kind in list(queues):
                if queues[kind] and len(shown) < limit:
                    shown.append(queues[kind].pop(0))
        if shown:
            lines.append(f"first {len(shown)} of {len(self.violations)} violations "
                         "(times in ms since the history began):")
            lines += [v.format(self.t0) for v in shown]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# the checker


class _Write:
    """A candidate writer of a value: a recorded write, or the initial nil (at -infinity)."""

    __slots__ = ("event", "invoke", "ce", "vis", "vis_read")

    def __init__(self, event: Optional[Event]):
        self.event = event
        if event is None:
            self.invoke, self.ce, self.vis = -INF, -INF, -INF
        else:
            self.invoke = event.invoke
            # effective completion: an info write may take effect at any later time
            self.ce = event.complete if event.outcome == OK else INF
            self.vis = event.complete if event.outcome == OK else INF
        self.vis_read: Optional[Event] = None  # the read that made it visible earliest

    @property
    def failed(self) -> bool:
        return self.event is not None and self.event.outcome == FAIL


class _PrefixMax:
    """Writes sorted by a time t; query(b): the write with the largest invoke among those with
    t < b."""

    def __init__(self, writes: Iterable[_Write], time_of):
        ws = sorted((w for w in writes if time_of(w) < INF), key=time_of)
        self.times = [time_of(w) for w in ws]
        self.best: list[_Write] = []
        best = None
        for w in ws:
            if best is None or w.invoke > best.invoke:
                best = w
            self.best.append(best)

    def query(self, b: float) -> Optional[_Write]:
        i = bisect.bisect_left(self.times, b)  # times[:i] < b
        return self.best[i - 1] if i > 0 else None


class _KeyState:
    def __init__(self, key: str, events: list[Event]):
        self.key = key
        self.writes = [e for e in events if e.type == WRITE]
        self.reads = [e for e in events if e.type == READ and e.outcome == OK]
        self.initial = _Write(None)
        self.by_value: dict[Optional[str], list[_Write]] = defaultdict(list)
        self.by_value[None].append(self.initial)
        self.all: list[_Write] = []
        for e in self.writes:
            w = _Write(e)
            self.all.append(w)
            if e.value is not None and self.by_value.get(e.value):
                raise ValueError(f"key {key}: value {e.value!r} written twice; the workload must "
                                 f"write unique values\n  {describe(e)}\n  "
                                 f"{describe(self.by_value[e.value][0].event)}")
            self.by_value[e.value].append(w)
        self.nil_writes = len(self.by_value[None]) > 1

    def writer(self, read: Event, at_complete: float) -> tuple[Optional[_Write], Optional[str]]:
        """The candidate writer of the read's value (the latest-completing valid one when nil has
        several), or None and why the read is impossible."""
        cands = self.by_value.get(read.value)
        if not cands:
            return None, "returned a value no write of this key wrote"
        valid = [w for w in cands if not w.failed]
        if not valid:
            return None, "returned the value of a write that failed (definitely not applied)"
        valid = [w for w in valid if w.invoke <= at_complete]
        if not valid:
            return None, "returned the value of a write invoked after the read completed"
        return max(valid, key=lambda w: w.ce), None


def check(history: History, final: Optional[dict] = None, final_time: Optional[int] = None,
          zones: bool = True, torn: bool = True, fills_cache=None,
          applied: Optional[dict] = None, atomic=None) -> Report:
    """Checks `history`; `final` maps every key to its value read straight from Redis after
    recovery (None = nil) at `final_time` (default: after every operation). `applied` maps keys
    to the values Redis applied to them, in Redis's order (from its append-only file), for the
    applied-order checks. `fills_cache(read)` says whether a read could have left a copy in
    seawall's L1 (default: every read), for the read-error breakdown only. `atomic(events)` says
    whether a multi-key write (its events) is atomic, for the torn check (default: every one, as
    on one Redis; in front of a cluster an MSET across slots is split, one part per slot)."""
    events = history.events
    report = Report(t0=history.t0, events=len(events),
                    ops=len({e.op for e in events}))
    by_key: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_key[e.key].append(e)
    if final:
        for k in final:
            by_key.setdefault(k, [])
    report.keys = len(by_key)
    if final is not None and final_time is None:
        final_time = max((e.complete for e in events), default=0) + 1

    states = {k: _KeyState(k, evs) for k, evs in by_key.items()}
    writer_of: dict[int, tuple[_Write, Event]] = {}  # id(read event) -> its writer

    for key, st in states.items():
        _check_key(st, report, writer_of)
        if final is not None:
            _check_final(st, final.get(key), final_time, report, writer_of, zones)
        elif zones:
            _check_zones(st, report, writer_of, None)
    if torn:
        _check_torn(events, states, writer_of, report, atomic)
    if applied is not None:
        report.applied = sum(len(v) for v in applied.values())
        for key, st in states.items():
            _check_applied(st, applied.get(key, []), report)
    _stats(history, report, fills_cache or (lambda e: True))
    for v in report.violations:
        judged = v.read if v.read is not None else (
            max(v.ops, key=lambda e: e.invoke) if v.ops else None)
        if judged is not None:
            v.phase = "final" if judged.client == "final" else history.phase_at(judged.invoke)
    return report


def _check_key(st: _KeyState, report: Report, writer_of: dict) -> None:
    # Pass 1: each read's writer; impossible reads; when each write became visible.
    valid_reads = []
    for r in st.reads:
        w, why = st.writer(r, r.complete)
        if w is None:
            ops = [r] + [c.event for c in st.by_value.get(r.value, []) if c.event is not None]
            report.violations.append(Violation("impossible", st.key, why, ops, read=r))
            continue
        writer_of[id(r)] = (w, r)
        valid_reads.append((r, w))
        if w.event is not None and r.complete < w.vis:
            w.vis, w.vis_read = r.complete, r
    # Pass 2: stale reads, against acknowledged writes, then against writes seen by reads.
    acked = _PrefixMax((w for w in st.all if w.event.outcome == OK),
                       lambda w: w.event.complete)
    seen = _PrefixMax((w for w in st.all if not w.failed), lambda w: w.vis)
    for r, w in valid_reads:
        w2 = acked.query(r.invoke)
        if w2 is not None and w2.invoke > w.ce:
            report.violations.append(Violation(
                "stale", st.key,
                f"{r.cmd} by {r.client} returned {_what(w)}, but a later write was acknowledged "
                f"before the read was sent", _ops(w, w2, r), read=r))
            continue
        w2 = seen.query(r.invoke)
        if w2 is not None and w2.invoke > w.ce:
            report.violations.append(Violation(
                "stale-observed", st.key,
                f"{r.cmd} by {r.client} returned {_what(w)}, but a later write's value had "
                f"already been read before this read was sent",
                _ops(w, w2, r) + ([w2.vis_read] if w2.vis_read is not None else []), read=r))


def _what(w: _Write) -> str:
    if w.event is None:
        return "nil (the initial value)"
    return f"{w.event.value!r} ({w.event.outcome} write #{w.event.op})"


def _ops(w: _Write, w2: _Write, r: Optional[Event]) -> list:
    out = [x.event for x in (w, w2) if x.event is not None]
    return out + ([r] if r is not None else [])


def _check_final(st: _KeyState, value: Optional[str], t: float, report: Report,
                 writer_of: dict, zones: bool) -> None:
    r = Event(0, "final", "GET (direct from Redis after recovery)", READ, st.key, value, t, t, OK)
    w, why = st.writer(r, t)
    if w is None:
        ops = [c.event for c in st.by_value.get(value, []) if c.event is not None]
        report.violations.append(Violation("lost", st.key, f"final state {value!r}: {why}",
                                           ops + [r]))
        if zones:
            _check_zones(st, report, writer_of, None)
        return
    # Any acknowledged write that strictly followed the final value's write was lost.
    later = [x for x in st.all if x.event.outcome == OK and x.invoke > w.ce]
    if later:
        w2 = max(later, key=lambda x: x.invoke)
        report.violations.append(Violation(
            "lost", st.key,
            f"final state is {_what(w)}, but {len(later)} acknowledged write(s) strictly followed "
            f"it (latest shown)", _ops(w, w2, r)))
    else:
        seen_later = [x for x in st.all if not x.failed and x.vis < INF and x.invoke > w.ce]
        if seen_later:
            w2 = max(seen_later, key=lambda x: x.invoke)
            report.violations.append(Violation(
                "lost", st.key,
                f"final state is {_what(w)}, but a write that strictly followed it had been read",
                _ops(w, w2, r) + ([w2.vis_read] if w2.vis_read is not None else [])))
    writer_of[id(r)] = (w, r)
    if zones:
        _check_zones(st, report, writer_of, r)


def _check_applied(st: _KeyState, values: list, report: Report) -> None:
    """Redis's own order of the writes it applied to the key (its AOF):
      overwritten  Redis applied an acknowledged write W after a write W2 that strictly followed
                   W (sent after W's acknowledgement) and did not apply W2 again: the newer value
                   was overwritten by the older one (a lost update, even if a later write hides
                   it from the final state)
      regressed    the same, but W2 was applied again later (e.g. a batch of writes applied
                   twice, each time in order): Redis went back to the older value for a while
      missing      an acknowledged write Redis never applied, where no place in Redis's order
                   could have taken it (a write overwritten at once by the next one, as a journal
                   that coalesces would do, is fine)
      applied-failed  Redis applied a write whose refusal said it was not applied
    Values no recorded write wrote are ignored (nothing in the workload writes them)."""
    positions: dict = defaultdict(list)
    seq: list = []  # the recorded writes, in Redis's order
    for value in values:
        cands = [w for w in st.by_value.get(value, []) if w.event is not None]
        if cands:
            positions[value].append(len(seq))
            seq.append(cands[0])
    newest: Optional[_Write] = None  # the applied write with the latest invoke so far
    reported = set()
    for pos, w in enumerate(seq):
        if w.failed:
            if id(w) not in reported:
                reported.add(id(w))
                report.violations.append(Violation(
                    "applied-failed", st.key,
                    f"Redis applied {w.event.value!r} (its write #{pos} of the key), a write "
                    f"refused as not applied", [w.event], read=w.event))
            continue
        if (newest is not None and w.event.outcome == OK and newest.invoke > w.ce
                and (id(w), id(newest)) not in reported):
            reported.add((id(w), id(newest)))
            again = positions[newest.event.value][-1] > pos
            copies = len(positions[w.event.value])
            report.violations.append(Violation(
                "regressed" if again else "overwritten", st.key,
                f"Redis applied {_what(w)} as its write #{pos} of the key, after "
                f"{_what(newest)} (#{positions[newest.event.value][0]}), which was sent after "
                f"{w.event.value!r} was acknowledged"
                + (f"; {newest.event.value!r} was applied again later (#"
                   f"{positions[newest.event.value][-1]})" if again else
                   "; the newer value was overwritten")
                + (f"; {w.event.value!r} was applied {copies} times" if copies > 1 else ""),
                [w.event, newest.event], read=newest.event))
        if newest is None or w.invoke > newest.invoke:
            newest = w
    # Where a missing write could go: before position i when every write applied before i may
    # precede it (invoke <= its completion) and none applied from i on strictly precedes it.
    live = [w for w in seq if not w.failed]
    prefix_max, m = [], -INF
    for w in live:
        prefix_max.append(m)  # max invoke of live[:i]
        m = max(m, w.invoke)
    suffix_min, m = [0.0] * len(live), INF
    for i in range(len(live) - 1, -1, -1):
        m = min(m, live[i].ce)
        suffix_min[i] = m  # min effective completion of live[i:]
    for w in st.all:
        if w.event.outcome != OK or w.event.value in positions:
            continue
        last = bisect.bisect_right(prefix_max, w.ce) - 1  # prefix_max is nondecreasing
        first = bisect.bisect_left(suffix_min, w.invoke)  # so is suffix_min
        if not (first <= last and first < len(live)):
            report.violations.append(Violation(
                "missing", st.key,
                f"acknowledged write {w.event.value!r} was never applied by Redis, and no write "
                f"Redis applied could have overwritten it at once", [w.event], read=w.event))


class _Zone:
    __slots__ = ("writer", "f", "l", "f_op", "l_op")


def _check_zones(st: _KeyState, report: Report, writer_of: dict, final: Optional[Event]) -> None:
    """Gibbons-Korach: a cluster (a write and the reads of its value) has f = the earliest
    completion in it and l = the latest invocation. f < l: a forward zone (f, l) that the cluster
    must cover; else a backward zone [l, f] where the whole cluster fits at one point. The key's
    history is linearizable (given no impossible reads) iff no two forward zones overlap and no
    backward zone lies inside a forward zone."""
    if st.nil_writes:
        return  # nil is not a unique value there
    clusters: dict[int, list] = {}
    reads = list(st.reads) + ([final] if final is not None else [])
    for r in reads:
        wr = writer_of.get(id(r))
        if wr is None:
            continue  # impossible read, reported already
        clusters.setdefault(id(wr[0]), [wr[0]]).append(r)
    for w in st.all:
        if not w.failed and w.event.outcome == OK:
            clusters.setdefault(id(w), [w])
    # info writes nobody read impose nothing (they may never have been applied)
    forward, backward = [], []
    for members in clusters.values():
        w, rs = members[0], members[1:]
        z = _Zone()
        z.writer = w
        z.f, z.f_op = w.ce, w.event
        z.l, z.l_op = w.invoke, w.event
        for r in rs:
            if r.complete < z.f:
                z.f, z.f_op = r.complete, r
            if r.invoke > z.l:
                z.l, z.l_op = r.invoke, r
        (forward if z.f < z.l else backward).append(z)
    forward.sort(key=lambda z: z.f)
    # Two forward zones overlap iff f2 < l1 and f1 < l2.
    widest = None
    for z in forward:
        if widest is not None and z.f < widest.l:
            report.violations.append(Violation(
                "nonlinearizable", st.key,
                f"{_what(widest.writer)} and {_what(z.writer)} each have ops that must come "
                f"before and after ops of the other (overlapping forward zones)",
                _zone_ops(widest, z)))
        if widest is None or z.l > widest.l:
            widest = z
    # A backward zone [l, f] inside a forward zone (fD, lD): fD < l and f < lD.
    fs = [z.f for z in forward]
    best, cur = [], None
    for z in forward:
        if cur is None or z.l > cur.l:
            cur = z
        best.append(cur)
    for b in backward:
        i = bisect.bisect_left(fs, b.l)
        if i > 0 and b.f < best[i - 1].l:
            d = best[i - 1]
            report.violations.append(Violation(
                "nonlinearizable", st.key,
                f"every op of {_what(b.writer)} lies inside the span that {_what(d.writer)} and "
                f"its reads must cover (backward zone inside a forward zone)", _zone_ops(d, b)))


def _zone_ops(a: _Zone, b: _Zone) -> list:
    out = []
    for e in (a.f_op, a.l_op, b.f_op, b.l_op):
        if e is not None and all(e is not x for x in out):
            out.append(e)
    return out


def _check_torn(events: list[Event], states: dict, writer_of: dict, report: Report,
                atomic=None) -> None:
    ops: dict[int, list[Event]] = defaultdict(list)
    for e in events:
        ops[e.op].append(e)
    multi_writes = {op: evs for op, evs in ops.items() if len(evs) > 1 and evs[0].type == WRITE
                    and (atomic is None or atomic(evs))}
    for op, evs in ops.items():
        if len(evs) < 2 or evs[0].type != READ or evs[0].outcome != OK:
            continue
        found = None
        for e in evs:
            wr = writer_of.get(id(e))
            if wr is None or wr[0].event is None or wr[0].event.op not in multi_writes:
                continue
            m = multi_writes[wr[0].event.op]
            m_keys = {x.key: x for x in m}
            for e2 in evs:
                if e2 is e or e2.key not in m_keys:
                    continue
                wr2 = writer_of.get(id(e2))
                if wr2 is None:
                    continue
                w2 = wr2[0]
                if w2.event is not None and w2.event.op == m[0].op:
                    continue
                if w2.ce < m[0].invoke:
                    found = Violation(
                        "torn", e.key,
                        f"{e.cmd} saw multi-key write #{m[0].op} on {e.key} but on {e2.key} "
                        f"{_what(w2)}, which that write strictly followed",
                        [x for x in m] + ([w2.event] if w2.event is not None else []) + evs)
                    break
            if found:
                break
        if found:
            report.violations.append(found)


# --------------------------------------------------------------------------------------------
# statistics


def _stats(history: History, report: Report, fills_cache) -> None:
    fault = history.first_mark("during")
    seen_keys = set()
    for e in history.events:
        if e.outcome == OK and (fault is None or e.complete < fault):
            seen_keys.add(e.key)
    counts: dict = {}
    errors: dict = {}
    lat: dict = defaultdict(list)
    lat_seen: dict = defaultdict(lambda: defaultdict(list))
    read_ops_done = set()
    # An op is about seen keys only when all its keys were seen: an MGET of a seen and an unseen
    # key cannot be answered from copies, whichever key its event is for.
    op_unseen = {e.op for e in history.events if e.key not in seen_keys}
    read_errors_seen = _classify_read_errors(history, fault, seen_keys, fills_cache)
    marks = [m[0] for m in history.marks]
    for e in history.events:
        i = bisect.bisect_right(marks, e.invoke) - 1
        phase = history.marks[max(i, 0)][1] if marks else "all"
        seen = "unseen" if e.op in op_unseen else "seen"
        c = counts.setdefault(phase, {}).setdefault(seen, {}).setdefault(e.type, Counter())
        c[e.outcome] += 1
        if e.outcome != OK:
            errors.setdefault(phase, {}).setdefault(seen, {}).setdefault(
                e.type, Counter())[e.error or "?"] += 1
        if e.type == READ:
            ms = (e.complete - e.invoke) / 1e6
            if e.op not in read_ops_done:  # one latency per op, not per key
                read_ops_done.add(e.op)
                lat[phase].append(ms)
                lat_seen[phase][seen].append(ms)

    def pct(v):
        return {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99),
                "max": max(v) if v else float("nan")}

    report.phase_order = list(dict.fromkeys(p for _, p in history.marks))
    report.counts = counts
    report.errors = errors
    report.latency = {p: pct(v) for p, v in lat.items()}
    report.latency_seen = {p: {s: pct(v) for s, v in d.items()} for p, d in lat_seen.items()}
    report.read_errors_seen = read_errors_seen


def _classify_read_errors(history: History, fault: Optional[float], seen_keys: set,
                          fills_cache) -> dict:
    """Reads of seen keys that got no value after the fault began, per phase, by why seawall
    might have had nothing to answer with (for multi-key reads, the worst key of the op):
      written_since_fault  a write of the key (not a failed one) was invoked after the fault
                           began and before the read: journaled writes should answer it
      last_op_write        before the fault, no read was sent after the key's last write was
                           answered (writes drop L1 copies: no copy by design)
      l1_copy_expected     a read sent after the key's last pre-fault write was answered had
                           filled the L1 before the fault (only reads fills_cache() accepts)
    Ops that also read a key not seen before the fault are left out: they count as unseen.
    Counted per key event, like Report.read_failures()."""
    if fault is None:
        return {}
    last_write: dict = {}  # key -> latest completion of a non-failed write sent before the fault
    fault_writes: dict = defaultdict(list)
    for e in history.events:
        if e.type == WRITE and e.outcome != FAIL:
            if e.invoke < fault:
                last_write[e.key] = max(last_write.get(e.key, -INF), e.complete)
            else:
                fault_writes[e.key].append(e.invoke)
    for v in fault_writes.values():
        v.sort()
    filled: dict = {}  # key -> latest invoke of an ok read that completed before the fault
    for e in history.events:
        if e.type == READ and e.outcome == OK and e.complete < fault and fills_cache(e):
            filled[e.key] = max(filled.get(e.key, -INF), e.invoke)
    ops: dict = defaultdict(list)
    for e in history.events:
        if e.type == READ and e.outcome != OK and e.invoke >= fault:
            ops[e.op].append(e)
    rank = ("l1_copy_expected", "last_op_write", "written_since_fault")
    out: dict = defaultdict(Counter)
    for evs in ops.values():
        if any(e.key not in seen_keys for e in evs):
            continue
        worst = 0
        for e in evs:
            if bisect.bisect_left(fault_writes.get(e.key, []), e.invoke) > 0:
                why = "written_since_fault"
            elif filled.get(e.key, -INF) > last_write.get(e.key, -INF):
                why = "l1_copy_expected"
            else:
                why = "last_op_write"
            worst = max(worst, rank.index(why))
        out[history.phase_at(evs[0].invoke)][rank[worst]] += len(evs)
    return {p: dict(c) for p, c in out.items()}
