#!/usr/bin/python3
"""How fast seawall heals after a Redis outage: kill -9 for N seconds, restart, measure.

For each outage length a fresh redis-server (appendonly yes) and seawall start on free loopback
ports. seawall runs with production-like settings: `writes_when_open: journal` for every key, a
breaker with open_duration 1s, backoff_multiplier 2, max_open_duration 30s (default jitter), and
the defaults for everything else (health check every 1s with a 250ms deadline, reconnect backoff
10ms..1s, request_timeout 100ms). A client writes SET rec:<i> <i> through seawall at --rate writes
a second the whole time. Redis is killed with SIGKILL, left down for N seconds, and restarted on
the same port (it reloads its AOF). Measured, from the moment Redis answers PING again:

  (a) first write: a sentinel SET sent through seawall just then is in Redis (polled directly);
  (b) journal empty: seawall's journal is empty and every write seawall acknowledged since the
      breaker opened is in Redis with its value (checked directly);
  (c) errors: client errors for writes sent after Redis answered again.

Also shown: how much of the breaker's open period was left when Redis came back, which is how
long a breaker without probing-while-open would have kept failing.

    tests/bench/recovery.py --seawall build/dev/seawall [--outages 5 30 120] [--rate 500]

The binary comes from --seawall or $SEAWALL_BIN. Times are wall-clock on this machine; Redis
"answering" is seen by polling PING every 20 ms, so each time may be up to 20 ms late.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from harness import LOOPBACK, RedisServer, Seawall, http, wait_until  # noqa: E402


@dataclass
class Outcome:
    outage_s: float
    open_left_s: Optional[float] = None  # of the open period, when Redis answered again
    first_write_s: Optional[float] = None
    journal_empty_s: Optional[float] = None
    journaled: int = 0  # journal entries when Redis answered again
    errors_after: int = 0
    errors_during: int = 0
    missing: list = field(default_factory=list)


class Writer:
    """SET rec:<i> <i> through seawall at `rate` a second; remembers every outcome."""

    def __init__(self, port: int, rate: float):
        self.client = redis.Redis(host=LOOPBACK, port=port, socket_timeout=10)
        self.interval = 1.0 / rate
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: list[tuple[float, str, str]] = []  # (time sent, key, value)
        self.errors: list[tuple[float, str]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            key, value = f"rec:{i}", str(i)
            sent = time.monotonic()
            try:
                ok = self.client.set(key, value) is True
                with self.lock:
                    if ok:
                        self.acked.append((sent, key, value))
                    else:
                        self.errors.append((sent, "SET did not answer OK"))
            except redis.RedisError as e:
                with self.lock:
                    self.errors.append((sent, str(e)))
            i += 1
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()  # fell behind: do not burst to catch up

    def start(self) -> "Writer":
        self.thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(30)


def status(sw: Seawall) -> dict:
    code, _, body = http(sw.admin_port, "/status")
    assert code == 200, (code, body)
    (main,) = [u for u in json.loads(body)["upstreams"] if u["name"] == "main"]
    return main


def missing(direct: redis.Redis, acked: list[tuple[float, str, str]]) -> list[str]:
    out = []
    for i in range(0, len(acked), 1000):
        chunk = acked[i:i + 1000]
        values = direct.mget([k for _, k, _ in chunk])
        out += [k for (_, k, v), got in zip(chunk, values) if got != v.encode()]
    return out


def run_outage(binary: str, workdir: Path, outage_s: float, rate: float) -> Outcome:
    result = Outcome(outage_s)
    server = RedisServer(workdir / "redis", extra_args=["--appendonly", "yes"])
    server.start()
    sw = Seawall(workdir / "seawall", server.port, {
        "upstreams": [{
            "name": "main",
            "address": server.address,
            "breaker": {"open_duration": "1s", "backoff_multiplier": 2,
                        "max_open_duration": "30s"},
        }],
        "policies": [{"match": "*", "writes_when_open": "journal"}],
    }, binary=binary)
    writer: Optional[Writer] = None
    try:
        sw.start()
        sw.wait_ready()
        writer = Writer(sw.port, rate).start()
        time.sleep(2.0)
        server.kill9()
        t_kill = time.monotonic()
        wait_until(lambda: status(sw)["breaker"]["state"] == "open", 10, "the breaker to open",
                   interval=0.005)
        t_open = time.monotonic()
        time.sleep(max(0.0, t_kill + outage_s - time.monotonic()))
        before = status(sw)
        left = before["breaker"]["open_until_remaining_ms"]
        result.open_left_s = None if left is None else left / 1000.0

        server.start(timeout=60)  # returns once it answers PING
        t_up = time.monotonic()
        result.journaled = status(sw)["journal_entries"]
        direct = redis.Redis(host=LOOPBACK, port=server.port, socket_timeout=10)
        sentinel = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)
        sentinel.set("rec:sentinel", f"after-{outage_s:g}")
        wait_until(lambda: direct.get("rec:sentinel") == f"after-{outage_s:g}".encode(), 120,
                   "the sentinel write in Redis", interval=0.005)
        result.first_write_s = time.monotonic() - t_up

        wait_until(lambda: status(sw)["journal_entries"] == 0, 300, "an empty journal",
                   interval=0.005)
        # Every write acknowledged since the breaker opened: journaled, or sent after recovery.
        # (Earlier ones went to Redis before the kill; its AOF fsyncs every second, so Redis may
        # have lost the last second of those itself.)
        deadline = time.monotonic() + 30
        while True:
            with writer.lock:
                since_open = [a for a in writer.acked if a[0] >= t_open and a[0] < t_up]
            result.missing = missing(direct, since_open)
            if not result.missing or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        result.journal_empty_s = time.monotonic() - t_up
        time.sleep(2.0)  # writes keep flowing to the recovered Redis
        writer.finish()
        result.missing += missing(direct, [a for a in writer.acked if a[0] >= t_up])
        result.errors_after = sum(1 for t, _ in writer.errors if t >= t_up)
        result.errors_during = sum(1 for t, _ in writer.errors if t_kill <= t < t_up)
    finally:
        if writer is not None:
            writer.finish()
        try:
            sw.stop()
        finally:
            server.stop()
    return result


def fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seawall", default=os.environ.get("SEAWALL_BIN"),
                        help="the seawall binary (default: $SEAWALL_BIN)")
    parser.add_argument("--outages", type=float, nargs="+", default=[5, 30, 120],
                        help="outage lengths in seconds (default: 5 30 120)")
    parser.add_argument("--rate", type=float, default=500, help="writes a second (default 500)")
    parser.add_argument("--keep", action="store_true", help="keep configs and logs")
    args = parser.parse_args()
    if not args.seawall or not os.access(args.seawall, os.X_OK):
        parser.error("--seawall (or $SEAWALL_BIN) must name the seawall binary")

    workroot = Path(tempfile.mkdtemp(prefix="seawall-recovery-"))
    results = []
    try:
        for outage in args.outages:
            print(f"outage {outage:g}s ...", file=sys.stderr, flush=True)
            results.append(run_outage(args.seawall, workroot / f"outage-{outage:g}", outage,
                                      args.rate))
    finally:
        if args.keep:
            print(f"configs and logs kept in {workroot}", file=sys.stderr)
        else:
            shutil.rmtree(workroot, ignore_errors=True)

    print(f"writes through seawall at {args.rate:g}/s; times from Redis answering PING again\n")
    print("| outage | open period left | (a) first write in Redis | (b) journal empty, all in "
          "Redis | journaled writes | (c) errors after restart | errors during outage |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.outage_s:g} s | {fmt(r.open_left_s)} s | {fmt(r.first_write_s)} s | "
              f"{fmt(r.journal_empty_s)} s | {r.journaled} | {r.errors_after} | "
              f"{r.errors_during} |")
    lost = [(r.outage_s, len(r.missing)) for r in results if r.missing]
    for outage, n in lost:
        print(f"\noutage {outage:g} s: {n} acknowledged writes NOT in Redis")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
