"""Helpers for the fault-injection tests: fast breaker settings, seawall's breaker log, and
clients that keep reading (and timing every call) while a fault is injected.

Timing constants are deliberately short so that a whole outage-and-recovery cycle takes about a
second; the slack on every latency bound comes from SEAWALL_FAULT_SLACK_MS (default 250) because
the test machines are small and shared.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import redis

LOOPBACK = "127.0.0.1"

REQUEST_TIMEOUT_S = 0.2
OPEN_DURATION_S = 0.3
HEALTH_INTERVAL_S = 0.1
RECONNECT_MAX_S = 0.1
CONSECUTIVE_FAILURES = 3
HALF_OPEN_SUCCESSES = 2
# Scheduler noise allowance added to every latency bound.
SLACK_S = float(os.environ.get("SEAWALL_FAULT_SLACK_MS", "250")) / 1000.0


def ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def upstream(name: str, port: int, request_timeout: float = REQUEST_TIMEOUT_S,
             breaker: Optional[dict] = None, **extra) -> dict:
    """An upstream entry with a breaker that trips after CONSECUTIVE_FAILURES failures, stays
    open OPEN_DURATION_S (no backoff, no jitter) and is probed by a health check every
    HEALTH_INTERVAL_S; no recovery ramp, so reads reach Redis as soon as it closes."""
    b = {
        "consecutive_failures": CONSECUTIVE_FAILURES,
        "open_duration": ms(OPEN_DURATION_S),
        "max_open_duration": ms(OPEN_DURATION_S),
        "backoff_multiplier": 1,
        "jitter": 0,
        "half_open_probes": 2,
        "half_open_successes_to_close": HALF_OPEN_SUCCESSES,
    }
    b.update(breaker or {})
    up = {
        "name": name,
        "address": f"{LOOPBACK}:{port}",
        "connections": 2,
        "connect_timeout": "100ms",
        "request_timeout": ms(request_timeout),
        "reconnect_backoff_min": "10ms",
        "reconnect_backoff_max": ms(RECONNECT_MAX_S),
        "breaker": b,
        "health_check": {"enabled": True, "interval": ms(HEALTH_INTERVAL_S), "timeout": "100ms"},
        "recovery_ramp": "0ms",
    }
    up.update(extra)
    return up


def recovery_bound(open_duration: float = OPEN_DURATION_S) -> float:
    """Longest time from Redis answering again to the breaker closing: the current open period
    may have just started, the first half-open probe may still find the health connection
    reconnecting (one more open period), then HALF_OPEN_SUCCESSES probes at the health interval."""
    return (2 * open_duration + RECONNECT_MAX_S + (HALF_OPEN_SUCCESSES + 2) * HEALTH_INTERVAL_S
            + 2 * SLACK_S)


def client(port: int, timeout: float = 5.0) -> redis.Redis:
    """redis-py with a socket timeout well above every seawall deadline, and no retries."""
    return redis.Redis(host=LOOPBACK, port=port, socket_timeout=timeout,
                       socket_connect_timeout=timeout)


# --------------------------------------------------------------------------------------------
# near-cache mode's tracking connections

TRACKING_NAME = "seawall-tracking"


def tracking_ids(redis_port: int) -> list[int]:
    """Ids of the connections Redis lists as name=seawall-tracking (one per worker thread and
    upstream while they are subscribed)."""
    r = client(redis_port)
    try:
        return [int(c["id"]) for c in r.client_list() if c.get("name") == TRACKING_NAME]
    finally:
        r.connection_pool.disconnect()


def kill_tracking(redis_port: int) -> int:
    """CLIENT KILL ID of every seawall-tracking connection; returns how many Redis killed."""
    r = client(redis_port)
    try:
        return sum(int(r.client_kill_filter(_id=i)) for i in tracking_ids(redis_port))
    except redis.ResponseError:  # gone between the list and the kill
        return 0
    finally:
        r.connection_pool.disconnect()


# --------------------------------------------------------------------------------------------
# seawall's log

_TRANSITION = re.compile(r"upstream=(\S+) breaker (\w+) -> (\w+)")


class BreakerLog:
    """Reads the breaker transitions seawall logs ("upstream=NAME breaker FROM -> TO")."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def text(self) -> str:
        try:
            return self.path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def transitions(self, name: str = "main") -> list[tuple[str, str]]:
        return [(m.group(2), m.group(3)) for m in _TRANSITION.finditer(self.text())
                if m.group(1) == name]

    def count(self, frm: Optional[str], to: str, name: str = "main") -> int:
        return sum(1 for f, t in self.transitions(name) if t == to and (frm is None or f == frm))

    def wait_for(self, frm: Optional[str], to: str, timeout: float, after: int = 0,
                 name: str = "main") -> float:
        """Waits until more than `after` transitions FROM -> TO (any FROM if None) are logged;
        returns the seconds waited. Raises AssertionError with the log tail on timeout."""
        start = time.monotonic()
        deadline = start + timeout
        while True:
            if self.count(frm, to, name) > after:
                return time.monotonic() - start
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no 'upstream={name} breaker {frm or '*'} -> {to}' logged within "
                    f"{timeout:.2f}s"
                    f" (transitions so far: {self.transitions(name)})\n"
                    f"log tail:\n{self.text()[-3000:]}")
            time.sleep(0.01)

    def wait_settled_closed(self, timeout: float, name: str = "main") -> float:
        """Waits until the last transition logged is `-> closed`."""
        start = time.monotonic()
        while True:
            t = self.transitions(name)
            if t and t[-1][1] == "closed":
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise AssertionError(f"breaker of {name} not closed within {timeout:.2f}s; "
                                     f"transitions: {t}\nlog tail:\n{self.text()[-3000:]}")
            time.sleep(0.01)


# --------------------------------------------------------------------------------------------
# timed reads during a fault


@dataclass
class Sample:
    start: float  # time.monotonic() when the call started
    latency: float
    op: str
    value: Any = None
    error: Optional[BaseException] = None


class OneOf:
    """An expected value that accepts any of several answers."""

    def __init__(self, *values):
        self.values = values

    def __eq__(self, other):
        return any(other == v for v in self.values)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return f"OneOf{self.values!r}"


@dataclass
class Op:
    """One read and the only answer it may get while the test runs."""
    name: str
    call: Callable[[], Any]
    expect: Any


def run_ops(ops: Sequence[Op], stop: threading.Event, max_seconds: float, max_count: int,
            pause: float = 0.0) -> list[Sample]:
    """Calls the ops round-robin until `stop` is set, `max_seconds` pass or `max_count` calls
    were made; records every call's latency and outcome (exceptions are recorded, not raised)."""
    samples: list[Sample] = []
    end = time.monotonic() + max_seconds
    i = 0
    while not stop.is_set() and time.monotonic() < end and len(samples) < max_count:
        op = ops[i % len(ops)]
        i += 1
        t0 = time.monotonic()
        try:
            value = op.call()
            samples.append(Sample(t0, time.monotonic() - t0, op.name, value))
        except Exception as e:  # noqa: BLE001 - every failure is a finding, recorded
            samples.append(Sample(t0, time.monotonic() - t0, op.name, None, e))
        if pause:
            time.sleep(pause)
    return samples


class Reader:
    """A background thread running run_ops(); join() returns its samples."""

    def __init__(self, ops: Sequence[Op], max_seconds: float, max_count: int = 100000,
                 pause: float = 0.0):
        self.ops = list(ops)
        self.stop_event = threading.Event()
        self.samples: list[Sample] = []
        self._crash: Optional[BaseException] = None

        def body():
            try:
                self.samples = run_ops(self.ops, self.stop_event, max_seconds, max_count, pause)
            except BaseException as e:  # noqa: BLE001
                self._crash = e

        self.thread = threading.Thread(target=body, daemon=True)

    def start(self) -> "Reader":
        self.thread.start()
        return self

    def join(self, timeout: float = 30.0) -> list[Sample]:
        self.stop_event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "reader thread did not stop"
        if self._crash is not None:
            raise self._crash
        return self.samples


def describe(samples: Sequence[Sample], limit: int = 8) -> str:
    out = []
    for s in samples[:limit]:
        what = f"error={s.error!r}" if s.error is not None else f"value={s.value!r}"
        out.append(f"  {s.op}: t={s.start:.3f} latency={s.latency * 1000:.1f}ms {what}")
    if len(samples) > limit:
        out.append(f"  ... and {len(samples) - limit} more")
    return "\n".join(out)


def check_samples(samples: Sequence[Sample], ops: Sequence[Op], max_latency: float,
                  label: str) -> None:
    """Every call answered without error, with its op's expected value, within max_latency."""
    assert samples, f"{label}: no reads were made"
    expect = {op.name: op.expect for op in ops}
    wrong = [s for s in samples if s.error is not None or s.value != expect[s.op]]
    assert not wrong, (f"{label}: {len(wrong)} of {len(samples)} reads failed or got a wrong "
                       f"value:\n{describe(wrong)}")
    slow = [s for s in samples if s.latency > max_latency]
    assert not slow, (f"{label}: {len(slow)} of {len(samples)} reads took longer than "
                      f"{max_latency * 1000:.0f}ms:\n{describe(slow)}")


def during(samples: Sequence[Sample], t_from: float, t_to: float) -> list[Sample]:
    return [s for s in samples if t_from <= s.start and s.start + s.latency <= t_to]


def slow_before_first_fast(samples: Sequence[Sample], t_from: float, fast: float) -> int:
    """Reads started after t_from that took >= `fast` seconds before the first that did not:
    the calls that waited for Redis before the breaker opened."""
    n = 0
    for s in samples:
        if s.start < t_from:
            continue
        if s.latency < fast:
            return n
        n += 1
    return n


def median(values: Sequence[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2] if v else float("nan")


def wait_value(call: Callable[[], Any], want: Any, timeout: float, what: str) -> float:
    """Polls call() until it returns `want` (errors count as not yet); returns seconds waited."""
    start = time.monotonic()
    last: Any = None
    while True:
        try:
            last = call()
            if last == want:
                return time.monotonic() - start
        except Exception as e:  # noqa: BLE001
            last = e
        if time.monotonic() - start > timeout:
            raise AssertionError(
                f"{what}: wanted {want!r} within {timeout:.2f}s, last got {last!r}")
        time.sleep(0.02)


def open_breaker_by_reading(call: Callable[[], Any], log: BreakerLog, timeout: float,
                            after: int = 0, name: str = "main") -> None:
    """Keeps calling a read (whose answers are ignored) until seawall logs `closed -> open`."""
    deadline = time.monotonic() + timeout
    while log.count("closed", "open", name) <= after:
        assert time.monotonic() < deadline, (
            f"breaker of {name} did not open within {timeout}s; transitions "
            f"{log.transitions(name)}\n{log.text()[-3000:]}")
        try:
            call()
        except Exception:  # noqa: BLE001 - only the breaker matters here
            pass
        time.sleep(0.01)
