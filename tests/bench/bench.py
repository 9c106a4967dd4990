#!/usr/bin/python3
"""redis-benchmark against a direct redis-server, twemproxy (nutcracker) and seawall, on loopback.

All three targets front the same redis-server, started here on a free port; twemproxy and seawall
get generated configs in a temporary directory. Runs are interleaved (direct, twemproxy, seawall,
direct, ...) so that drift in machine load hits every target alike, and the table shows medians.

    tests/bench/bench.py [--seawall build/seawall] [--runs 3] [--quick]
    tests/bench/bench.py --memory-only [--memory-clients 10000]   # the memory row alone

The memory row opens N idle clients (one PING each, then open and silent) to seawall and to
redis-server directly, and reports each process's VmRSS (/proc/PID/status) before, with the
clients open, and a few seconds after they closed, with KB per client.

The binary comes from --seawall or $SEAWALL_BIN. Without nutcracker on PATH, twemproxy is left out.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from harness import (LOOPBACK, RawConnection, RedisServer, Seawall, free_port, merge,  # noqa
                     open_idle_clients, ping_ok, raise_nofile_limit, rss_kib, wait_until)

VALUE_SIZE = 64


@dataclass
class Row:
    label: str
    test: str  # redis-benchmark -t
    clients: int
    pipeline: int
    requests: int
    latency: bool = False  # report avg/p99 instead of throughput
    command: tuple = ()  # a command to run instead of -t (e.g. GET views:1)
    flags: tuple = ()  # more redis-benchmark options (e.g. -3 for RESP3)


@dataclass
class Result:
    rps: float
    avg_ms: float
    p99_ms: float


class Nutcracker:
    """twemproxy with one redis server, `redis: true`, on a free loopback port."""

    def __init__(self, workdir: Path, upstream_port: int):
        self.workdir = workdir
        self.port = free_port()
        self.conf = workdir / "nutcracker.yml"
        self.conf.write_text(
            "bench:\n"
            f"  listen: {LOOPBACK}:{self.port}\n"
            "  hash: fnv1a_64\n"
            "  distribution: ketama\n"
            "  redis: true\n"
            "  timeout: 2000\n"
            "  auto_eject_hosts: false\n"
            "  servers:\n"
            f"    - {LOOPBACK}:{upstream_port}:1\n")
        self.log = workdir / "nutcracker.log"
        self.proc = None

    def start(self) -> None:
        stats_port = free_port()
        self.proc = subprocess.Popen(
            ["nutcracker", "-c", str(self.conf), "-s", str(stats_port), "-a", LOOPBACK,
             "-o", str(self.log)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT)
        wait_until(lambda: self.proc.poll() is None and ping_ok(self.port), 10,
                   f"nutcracker on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_benchmark(port: int, row: Row) -> Result:
    args = ["redis-benchmark", "-h", LOOPBACK, "-p", str(port),
            "-n", str(row.requests), "-c", str(row.clients), "-P", str(row.pipeline),
            "-d", str(VALUE_SIZE), "--csv", "--precision", "3", *row.flags]
    args += list(row.command) if row.command else ["-t", row.test]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(args)} did not finish in 120 s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    rows = [r for r in csv.DictReader(io.StringIO(proc.stdout)) if r.get("test")]
    if len(rows) != 1:
        raise RuntimeError(f"unexpected redis-benchmark output:\n{proc.stdout}\n{proc.stderr}")
    r = rows[0]
    return Result(float(r["rps"]), float(r["avg_latency_ms"]), float(r["p99_latency_ms"]))


def check_target(name: str, port: int) -> None:
    """A SET and GET of a 64-byte value must round-trip, or the numbers would mean nothing."""
    value = b"v" * VALUE_SIZE
    with RawConnection(port, timeout=5) as c:
        for cmd, want in ((("SET", "bench:check", value), b"+OK\r\n"),
                          (("GET", "bench:check"), b"$64\r\n" + value + b"\r\n")):
            got = c.request(*cmd)
            if got != want:
                raise RuntimeError(f"{name}: {cmd[0]} answered {got[:100]!r}")


def comparison_table(header: str, rows, results, columns, ratios, p99=True) -> list[str]:
    """Markdown lines of the side tables: per row (and, for latency rows, per avg/p99) the median
    of each column's runs in results[(row label, column)], then each (numerator, denominator)
    ratio of those medians."""
    lines = [header, "|" + "---|" * (1 + len(columns) + len(ratios))]
    for row in rows:
        if row.latency:
            fields = [("avg ms", "avg_ms")] + ([("p99 ms", "p99_ms")] if p99 else [])
        else:
            fields = [("k req/s", "rps")]
        for unit, field in fields:
            v = {c: statistics.median(getattr(x, field) for x in results[(row.label, c)])
                 for c in columns}
            scale, digits = (1000.0, 1) if field == "rps" else (1.0, 3)
            cells = [f"{v[c] / scale:.{digits}f}" for c in columns]
            cells += [f"{v[a] / v[b]:.2f}" for a, b in ratios]
            lines.append(f"| {row.label} {unit} | " + " | ".join(cells) + " |")
    return lines


def degraded_table(args, redis: RedisServer, workdir: Path) -> None:
    """GETs answered while the breaker is open: from the L1 and from a configured default.

    No network to Redis is involved, so these must beat a direct GET. A second seawall is forced
    open through its admin API after one GET has put the value in its L1."""
    import urllib.request
    sw = Seawall(workdir / "seawall-open", redis.port, {
        "threads": args.threads,
        "upstreams": [{"name": "main", "address": redis.address,
                       "connections": args.connections}],
        "policies": [{"match": "views:*", "default": {"type": "integer", "value": 0}},
                     {"match": "*", "l1": {"ttl": "1h", "max_stale": "1h"}}],
        "log": {"level": "warn"},
    }, binary=args.seawall, name="seawall-open")
    sw.start()
    try:
        value = b"v" * VALUE_SIZE
        key = "key:__rand_int__"  # redis-benchmark's GET key without -r
        with RawConnection(sw.port, timeout=5) as c:
            assert c.request("SET", key, value) == b"+OK\r\n"
            assert c.request("GET", key) == b"$64\r\n" + value + b"\r\n"
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{sw.admin_port}/breakers/main/open", method="POST", data=b"")
        urllib.request.urlopen(request, timeout=5).read()
        with RawConnection(sw.port, timeout=5) as c:
            if c.request("GET", key) != b"$64\r\n" + value + b"\r\n" or \
                    c.request("GET", "views:1") != b":0\r\n":
                raise RuntimeError("seawall-open does not answer from L1 and default")
        rows = [Row("GET c=50 P=1", "get", 50, 1, args.requests_p1),
                Row("GET c=50 P=16", "get", 50, 16, args.requests_p16),
                Row("GET c=1 P=1", "get", 1, 1, args.requests_latency, latency=True)]
        targets = {"direct": (redis.port, ()), "open: L1": (sw.port, ()),
                   "open: default": (sw.port, ("GET", "views:1"))}
        results: dict = {}
        for run in range(args.runs):
            for row in rows:
                for name, (port, command) in targets.items():
                    r = Row(row.label, row.test, row.clients, row.pipeline, row.requests,
                            row.latency, command)
                    res = run_benchmark(port, r)
                    results.setdefault((row.label, name), []).append(res)
                    print(f"degraded run {run + 1} {row.label:<14} {name:<14} {res.rps:>12,.0f} "
                          f"req/s avg {res.avg_ms:.3f} ms", file=sys.stderr)
        lines = comparison_table(
            "| benchmark | direct GET | open: L1 | open: default | L1/direct | default/direct |",
            rows, results, list(targets),
            [("open: L1", "direct"), ("open: default", "direct")])
        print("\nWhile the breaker is open (forced through the admin API): GETs answered from the L1 "
              "and from a default, against a direct GET.\n")
        print("\n".join(lines))
    finally:
        sw.stop()


def pinned_table(args, seawall_port: int) -> None:
    """The shared path with and without 200 pinned sessions (SUBSCRIBE, each on its own
    dedicated upstream connection): pinning must not slow the clients that do not pin."""
    rows = [Row("GET c=50 P=16", "get", 50, 16, args.requests_p16),
            Row("GET c=1 P=1", "get", 1, 1, args.requests_latency, latency=True)]
    results: dict = {}
    for run in range(args.runs):
        for pinned in (0, 200):
            subscribers = []
            try:
                for i in range(pinned):
                    c = RawConnection(seawall_port, timeout=5)
                    if not c.request("SUBSCRIBE", f"bench:ch:{i}").startswith(b"*3"):
                        raise RuntimeError("SUBSCRIBE through seawall failed")
                    subscribers.append(c)
                for row in rows:
                    res = run_benchmark(seawall_port, row)
                    results.setdefault((row.label, pinned), []).append(res)
                    print(f"pinned run {run + 1} {row.label:<14} pinned={pinned:<4} "
                          f"{res.rps:>12,.0f} req/s avg {res.avg_ms:.3f} ms", file=sys.stderr)
            finally:
                for c in subscribers:
                    c.close()
    lines = comparison_table("| benchmark | no pinned sessions | 200 pinned (SUBSCRIBE) | ratio |",
                             rows, results, [0, 200], [(200, 0)], p99=False)
    print("\nseawall's shared path while 200 other clients hold dedicated (pinned) connections.\n")
    print("\n".join(lines))


def resp3_table(args, direct_port: int, seawall_port: int) -> None:
    """Clients that speak RESP3 (HELLO 3, redis-benchmark -3): seawall pins each such session to
    a dedicated connection that speaks RESP3 and relays it, rather than keeping a second shared
    pool per protocol version. twemproxy refuses HELLO, so it has no column."""
    rows = [Row("GET c=50 P=1", "get", 50, 1, args.requests_p1, flags=("-3",)),
            Row("GET c=50 P=16", "get", 50, 16, args.requests_p16, flags=("-3",)),
            Row("GET c=1 P=1", "get", 1, 1, args.requests_latency, latency=True, flags=("-3",))]
    targets = {"direct": direct_port, "seawall": seawall_port}
    results: dict = {}
    for run in range(args.runs):
        for row in rows:
            for name, port in targets.items():
                res = run_benchmark(port, row)
                results.setdefault((row.label, name), []).append(res)
                print(f"resp3 run {run + 1} {row.label:<14} {name:<8} {res.rps:>12,.0f} req/s "
                      f"avg {res.avg_ms:.3f} ms", file=sys.stderr)
    lines = comparison_table("| benchmark (RESP3) | direct | seawall (pinned) | seawall/direct |",
                             rows, results, list(targets), [("seawall", "direct")])
    print("\nRESP3 clients (redis-benchmark -3): each session pinned to a dedicated RESP3 "
          "connection.\n")
    print("\n".join(lines))


def memory_row(pid: int, port: int, clients: int, settle_s: float) -> dict:
    """VmRSS (KiB) of `pid` before, with `clients` idle clients open, and after they closed."""
    time.sleep(settle_s)
    before = rss_kib(pid)
    conns = open_idle_clients(port, clients)
    time.sleep(settle_s)
    with_clients = rss_kib(pid)
    for c in conns:
        c.close()
    # The server notices the closes, frees the sessions and (seawall) trims the heap.
    time.sleep(max(settle_s, 3.0))
    after = rss_kib(pid)
    return {"before": before, "open": with_clients, "after": after,
            "per_client": (with_clients - before) / clients}


def memory_table(args, workdir: Path) -> bool:
    """The memory row: seawall (and redis-server directly) with N idle clients."""
    limit = raise_nofile_limit(args.memory_clients + 1024)
    if limit < args.memory_clients + 64:
        print(f"RLIMIT_NOFILE is {limit}: too low for {args.memory_clients} clients "
              "(raise the hard limit, ulimit -Hn)", file=sys.stderr)
        return False
    redis = RedisServer(workdir / "redis-mem",
                        extra_args=["--maxclients", str(args.memory_clients + 100)])
    seawall = None
    try:
        redis.start()
        seawall = Seawall(workdir / "seawall-mem", redis.port, {
            "threads": args.threads,
            "upstreams": [{"name": "main", "address": redis.address,
                           "connections": args.connections, "connect_timeout": "250ms",
                           "request_timeout": "1s"}],
            "limits": {"max_clients": args.memory_clients + 100},
            "log": {"level": "info"},
        }, binary=args.seawall)
        seawall.start()
        check_target("seawall", seawall.port)
        results = {
            "seawall": memory_row(seawall.pid, seawall.port, args.memory_clients, 1.0),
            "direct": memory_row(redis.pid, redis.port, args.memory_clients, 1.0),
        }
        if not seawall.alive():
            raise RuntimeError(f"seawall died during the memory row\n{seawall.log_tail()}")
    finally:
        if seawall is not None:
            seawall.stop()
        redis.stop()
    print(f"\nMemory: {args.memory_clients} idle clients (one PING each), VmRSS in MB; "
          f"seawall threads={args.threads}.\n")
    print("| process | before | clients open | after close | KB per client |")
    print("|---|---|---|---|---|")
    for name in ("seawall", "direct"):
        r = results[name]
        label = "seawall" if name == "seawall" else "redis-server (direct)"
        print(f"| {label} | {r['before'] / 1024:.1f} | {r['open'] / 1024:.1f} | "
              f"{r['after'] / 1024:.1f} | {r['per_client']:.1f} |")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seawall", default=os.environ.get("SEAWALL_BIN"),
                        help="seawall binary (default: $SEAWALL_BIN)")
    parser.add_argument("--runs", type=int, default=3, help="runs per target and row")
    parser.add_argument("--requests-p1", type=int, default=300_000,
                        help="-n for the 50-client -P 1 rows (~2-3 s each)")
    parser.add_argument("--requests-p16", type=int, default=2_000_000,
                        help="-n for the 50-client -P 16 rows")
    parser.add_argument("--requests-latency", type=int, default=80_000,
                        help="-n for the 1-client latency row")
    parser.add_argument("--threads", type=int, default=1, help="seawall threads")
    parser.add_argument("--connections", type=int, default=2,
                        help="seawall upstream connections per thread")
    parser.add_argument("--upstream-extra", type=json.loads, default={}, metavar="JSON",
                        help='merged into seawall\'s upstream entry, e.g. '
                             '\'{"breaker": {"slow_call_duration": "200ms"}}\'')
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke: 1 run, small -n (numbers are only indicative)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--memory-clients", type=int, default=10_000,
                        help="idle clients for the memory row")
    parser.add_argument("--memory-only", action="store_true",
                        help="run only the memory row (VmRSS with N idle clients)")
    parser.add_argument("--no-memory", action="store_true",
                        help="leave the memory row out of a full run")
    args = parser.parse_args()
    if not args.seawall:
        parser.error("no seawall binary: pass --seawall or set SEAWALL_BIN")
    if args.memory_only:
        workdir = Path(tempfile.mkdtemp(prefix="seawall-bench-"))
        ok = False
        try:
            ok = memory_table(args, workdir)
        except Exception as e:  # noqa: BLE001 - report and clean up
            print(f"memory row failed: {e}", file=sys.stderr)
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs and configs kept in {workdir}", file=sys.stderr)
        return 0 if ok else 1
    if args.quick:
        args.runs, args.requests_p1, args.requests_p16, args.requests_latency = 1, 20_000, 100_000, 5_000

    rows = [
        Row("SET c=50 P=1", "set", 50, 1, args.requests_p1),
        Row("GET c=50 P=1", "get", 50, 1, args.requests_p1),
        Row("SET c=50 P=16", "set", 50, 16, args.requests_p16),
        Row("GET c=50 P=16", "get", 50, 16, args.requests_p16),
        Row("GET c=1 P=1", "get", 1, 1, args.requests_latency, latency=True),
    ]

    workdir = Path(tempfile.mkdtemp(prefix="seawall-bench-"))
    redis = RedisServer(workdir / "redis")
    targets: dict[str, int] = {}
    twemproxy = None
    seawall = None
    failed = False
    try:
        redis.start()
        targets["direct"] = redis.port
        if shutil.which("nutcracker"):
            twemproxy = Nutcracker(workdir, redis.port)
            twemproxy.start()
            targets["twemproxy"] = twemproxy.port
        else:
            print("nutcracker not found: twemproxy left out", file=sys.stderr)
        seawall = Seawall(workdir / "seawall", redis.port, {
            "threads": args.threads,
            "upstreams": [merge({"name": "main", "address": redis.address,
                                 "connections": args.connections, "connect_timeout": "250ms",
                                 "request_timeout": "1s"}, args.upstream_extra)],
            "log": {"level": "info"},
        }, binary=args.seawall)
        seawall.start()
        targets["seawall"] = seawall.port
        for name, port in targets.items():
            check_target(name, port)

        results: dict[tuple[str, str], list[Result]] = {}
        total = args.runs * len(rows) * len(targets)
        done = 0
        for run in range(args.runs):
            for row in rows:
                for name, port in targets.items():
                    started = time.monotonic()
                    done += 1
                    prefix = f"[{done}/{total}] run {run + 1} {row.label:<14} {name:<9}"
                    try:
                        res = run_benchmark(port, row)
                    except RuntimeError as e:
                        # An error reply stops redis-benchmark; the cell shows "failed".
                        print(f"{prefix} FAILED: {e}", file=sys.stderr)
                        results.setdefault((row.label, name), []).append(None)
                        failed = True
                        continue
                    results.setdefault((row.label, name), []).append(res)
                    print(f"{prefix} {res.rps:>12,.0f} req/s  avg {res.avg_ms:.3f} ms  "
                          f"p99 {res.p99_ms:.3f} ms  ({time.monotonic() - started:.1f} s)",
                          file=sys.stderr)
        if not seawall.alive():
            raise RuntimeError(f"seawall died during the benchmark\n{seawall.log_tail()}")
        print_table(rows, list(targets), results, args)
        degraded_table(args, redis, workdir)
        pinned_table(args, seawall.port)
        resp3_table(args, redis.port, seawall.port)
        if not args.no_memory and not args.quick:
            if not memory_table(args, workdir):
                failed = True
        # redis-benchmark stops at an error reply, but not at a degraded answer served from L1.
        log = seawall.log_path.read_text(errors="replace")
        opened, degraded = log.count("closed -> open"), log.count("degraded answer")
        if opened or degraded:
            print(f"\nWARNING: seawall's breaker opened {opened} time(s) and it logged {degraded} "
                  "degraded-answer line(s): its numbers include answers that did not come from "
                  "Redis.")
    except Exception as e:  # noqa: BLE001 - report and clean up
        print(f"benchmark failed: {e}", file=sys.stderr)
        failed = True
    finally:
        if seawall is not None:
            try:
                seawall.stop()
            except AssertionError as e:
                print(f"seawall did not stop cleanly: {e}", file=sys.stderr)
                failed = True
        if twemproxy is not None:
            twemproxy.stop()
        redis.stop()
        if args.keep or failed:
            print(f"logs and configs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


def print_table(rows, names, results, args) -> None:
    def median(label, name, field):
        runs = results[(label, name)]
        if any(r is None for r in runs):
            return None
        return statistics.median(getattr(r, field) for r in runs)

    def ratio(a, b) -> str:
        return f"{a / b:.2f}" if a is not None and b else "n/a"

    ratio_cols = [f"{n}/direct" for n in names if n != "direct"]
    if "twemproxy" in names and "seawall" in names:
        ratio_cols.append("seawall/twemproxy")
    header = ["benchmark"] + names + ratio_cols
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        metrics = ([("avg ms", "avg_ms", 3), ("p99 ms", "p99_ms", 3)] if row.latency
                   else [("k req/s", "rps", 0)])
        for unit, field, digits in metrics:
            values = {n: median(row.label, n, field) for n in names}
            scale = 1000.0 if field == "rps" else 1.0
            cells = [f"{values[n] / scale:.{1 if field == 'rps' else digits}f}"
                     if values[n] is not None else "failed" for n in names]
            ratios = [ratio(values[n], values["direct"]) for n in names if n != "direct"]
            if "twemproxy" in names and "seawall" in names:
                ratios.append(ratio(values["seawall"], values["twemproxy"]))
            lines.append(f"| {row.label} {unit} | " + " | ".join(cells + ratios) + " |")
    print(f"\nredis-benchmark, {VALUE_SIZE}-byte values, loopback, median of {args.runs} "
          f"interleaved run(s); seawall threads={args.threads} connections={args.connections}.")
    print("Throughput ratios above 1 are faster; latency ratios above 1 are slower.\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
