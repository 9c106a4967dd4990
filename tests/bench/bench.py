#!/usr/bin/python3
"""redis-benchmark against a direct redis-server, twemproxy (nutcracker) and seawall, on loopback.

All three targets front the same redis-server, started here on a free port and prefilled with
--keys keys (key:%012d, 64-byte values: the names redis-benchmark -r gives); twemproxy and seawall
get generated configs in a temporary directory. Every default row reads or writes random keys of
that keyspace (redis-benchmark -r KEYS). Runs are interleaved (direct, twemproxy, seawall,
direct, ...) so that drift in machine load hits every target alike, and the tables show medians.
Each run also reads the target process's CPU time (the sum of /proc/PID/task/*/schedstat, or
utime + stime of /proc/PID/stat) and reports CPU microseconds per request: the proxy's own cost,
steady on a machine where throughput is not.

    tests/bench/bench.py [--seawall build/seawall] [--runs 3] [--quick]
    tests/bench/bench.py --memory-only [--memory-clients 10000]   # the memory row alone
    tests/bench/bench.py --outage-zipf                 # L1 hit share during an outage, Zipf reads
    tests/bench/bench.py --near                        # near-cache mode against direct and fallback
    tests/bench/bench.py --cpu-budget                  # CPU per GET of every process, cores busy

Tables: the keyspace rows; a Zipf row (hot keys, driven by keyspace.drive, a pipelined Python
client, since redis-benchmark draws keys uniformly); the L1 fill (seawall with the default L1
policy against the L1 disabled); threads 1 against 2; RESP3 against RESP2 through seawall; the
breaker forced open; pinned sessions; memory. --single-key adds the old rows on one key.

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
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from harness import (LOOPBACK, RawConnection, RedisServer, Seawall, free_port, merge,  # noqa
                     open_idle_clients, ping_ok, raise_nofile_limit, rss_kib, scrape, wait_until)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from keyspace import drive, get_commands, prefill, zipf_sequence  # noqa: E402

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
    keyspace: int = 0  # redis-benchmark -r: random keys among this many (0: one key)


@dataclass
class Result:
    rps: float
    avg_ms: float
    p99_ms: float
    cpu_us: float = float("nan")  # the target process's CPU per request
    redis_cmds: float = float("nan")  # commands Redis processed per request (--near)


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of `pid`: schedstat (nanoseconds) where the kernel has it, else
    utime + stime from /proc/PID/stat (clock ticks)."""
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, requests: int, run) -> Result:
    """run() -> Result, with the CPU that `pid` spent during it per request."""
    before = cpu_seconds(pid)
    res = run()
    res.cpu_us = (cpu_seconds(pid) - before) / requests * 1e6
    return res


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
    if row.keyspace:
        args += ["-r", str(row.keyspace)]
    args += list(row.command) if row.command else ["-t", row.test]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(args)} did not finish in 120 s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    # --cluster prints the nodes it found before the CSV: start at its header.
    start = proc.stdout.find('"test",')
    csv_text = proc.stdout[start:] if start >= 0 else proc.stdout
    rows = [r for r in csv.DictReader(io.StringIO(csv_text)) if r.get("test")]
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


def interleave(args, rows, targets: dict, tag: str, runner=None) -> tuple[dict, bool]:
    """Runs every row on every target `args.runs` times, interleaved; targets maps a column
    name to (port, pid, extra redis-benchmark flags). Returns ({(row label, name): [Result or
    None]}, whether any run failed); a failed run (an error reply stops redis-benchmark) is None
    and its cell shows "failed"."""
    results: dict = {}
    failed = False
    total = args.runs * len(rows) * len(targets)
    done = 0
    for run in range(args.runs):
        for row in rows:
            for name, (port, pid, flags) in targets.items():
                done += 1
                prefix = f"{tag} [{done}/{total}] run {run + 1} {row.label:<22} {name:<14}"
                r = Row(row.label, row.test, row.clients, row.pipeline, row.requests,
                        row.latency, row.command, tuple(row.flags) + tuple(flags), row.keyspace)
                started = time.monotonic()
                try:
                    res = measured(pid, r.requests,
                                   lambda: (runner or run_benchmark)(port, r))
                except RuntimeError as e:
                    print(f"{prefix} FAILED: {e}", file=sys.stderr)
                    results.setdefault((row.label, name), []).append(None)
                    failed = True
                    continue
                results.setdefault((row.label, name), []).append(res)
                print(f"{prefix} {res.rps:>12,.0f} req/s  avg {res.avg_ms:.3f} ms  "
                      f"cpu {res.cpu_us:.2f} us/req  ({time.monotonic() - started:.1f} s)",
                      file=sys.stderr)
    return results, failed


def result_table(rows, results, names, ratios, cpu_names=None, cpu_ratios=()) -> list[str]:
    """Markdown lines: per row the median of each column (k req/s, or avg and p99 ms for latency
    rows), each (numerator, denominator) ratio, then the median CPU us per request of each of
    `cpu_names` and each CPU ratio."""
    cpu_names = names if cpu_names is None else cpu_names

    def median(label, name, field):
        runs = results.get((label, name), [])
        if not runs or any(r is None for r in runs):
            return None
        return statistics.median(getattr(r, field) for r in runs)

    def ratio(a, b) -> str:
        return f"{a / b:.2f}" if a is not None and b else "n/a"

    header = (["benchmark"] + list(names) + [f"{a}/{b}" for a, b in ratios]
              + [f"CPU us/req {n}" for n in cpu_names] + [f"CPU {a}/{b}" for a, b in cpu_ratios])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        metrics = ([("avg ms", "avg_ms"), ("p99 ms", "p99_ms")] if row.latency
                   else [("k req/s", "rps")])
        for n, (unit, field) in enumerate(metrics):
            values = {c: median(row.label, c, field) for c in names}
            scale, digits = (1000.0, 1) if field == "rps" else (1.0, 3)
            cells = [f"{values[c] / scale:.{digits}f}" if values[c] is not None else "failed"
                     for c in names]
            cells += [ratio(values[a], values[b]) for a, b in ratios]
            cpu = {c: median(row.label, c, "cpu_us") for c in cpu_names}
            if n == 0:
                cells += [f"{cpu[c]:.2f}" if cpu[c] is not None else "failed" for c in cpu_names]
                cells += [ratio(cpu[a], cpu[b]) for a, b in cpu_ratios]
            else:
                cells += [""] * (len(cpu_names) + len(cpu_ratios))
            lines.append(f"| {row.label} {unit} | " + " | ".join(cells) + " |")
    return lines


def zipf_runner(commands: list[bytes], clients: int = 8, pipeline: int = 16):
    """A runner for interleave(): the Zipf sequence through keyspace.drive."""
    def run(port: int, row: Row) -> Result:
        seconds, replies, hits = drive(port, commands, clients=clients, pipeline=pipeline)
        if replies != len(commands) or hits != len(commands):
            raise RuntimeError(f"zipf: {replies} replies, {hits} values for {len(commands)} GETs")
        return Result(replies / seconds, seconds / len(commands) * 1000 * clients * pipeline,
                      float("nan"))
    return run


def start_seawall(args, workdir: Path, name: str, redis: RedisServer, threads: int,
                  extra: dict, binary: str | None = None) -> Seawall:
    sw = Seawall(workdir / name, redis.port, merge({
        "threads": threads,
        "upstreams": [merge({"name": "main", "address": redis.address,
                             "connections": args.connections, "connect_timeout": "250ms",
                             "request_timeout": "1s"}, args.upstream_extra)],
        "log": {"level": "info"},
    }, extra), binary=binary or args.seawall, name=name)
    sw.start()
    return sw


L1_OFF = {"policies": [{"match": "*", "l1": {"enabled": False}}]}


def outage_zipf(args, workdir: Path) -> bool:
    """The share of reads answered with a value (from the L1) while Redis is frozen, after a
    Zipf-distributed warm-up through seawall: for each L1 size and admission mode (always is
    the behaviour before the admission filter), the same sequences."""
    keys = args.keys
    warm = zipf_sequence(keys, args.outage_warm, s=args.zipf_s, seed=1)
    during = zipf_sequence(keys, args.outage_reads, s=args.zipf_s, seed=2)
    warm_commands, outage_commands = get_commands(warm), get_commands(during)
    binaries = [("this build", args.seawall)]
    if args.baseline_seawall:
        binaries.append(("baseline", args.baseline_seawall))
    rows = []
    for l1_bytes in args.outage_l1_bytes.split(","):
        for label, binary in binaries:
            modes = ["always", "tinylfu"] if label == "this build" else [None]
            for mode in modes:
                redis = RedisServer(workdir / f"redis-outage-{len(rows)}")
                redis.start()
                sw = None
                try:
                    prefill(redis.port, keys)
                    l1 = {"ttl": "1h", "max_stale": "1h"}
                    if mode:
                        l1["admission"] = mode
                    sw = Seawall(workdir / f"seawall-outage-{len(rows)}", redis.port, {
                        "threads": args.threads,
                        "upstreams": [{"name": "main", "address": redis.address,
                                       "connections": args.connections,
                                       # Generous: a busy machine must not open the
                                       # breaker during the warm-up.
                                       "request_timeout": "1s",
                                       "breaker": {"slow_call_duration": "2s"}}],
                        "cache": {"max_bytes": l1_bytes},
                        "policies": [{"match": "*", "l1": l1}],
                        # No nil answers to count as values: misses beyond the bucket are errors.
                        "protect_database": {"fallthrough_per_second": 1000000},
                        "log": {"level": "warn"},
                    }, binary=binary, name="seawall-outage")
                    sw.start()
                    _, replies, hits = drive(sw.port, warm_commands)
                    if hits != replies:
                        raise RuntimeError(f"warm-up: {replies - hits} reads without a value "
                                           "(the breaker opened?)")
                    redis.sigstop()
                    seconds, replies, hits = drive(sw.port, outage_commands, timeout=300)
                    redis.sigcont()
                    rows.append((l1_bytes, label, mode or "(none)", hits / max(replies, 1),
                                 replies, seconds))
                    print(f"outage {l1_bytes} {label} {mode}: {hits}/{replies} values "
                          f"({seconds:.1f} s)", file=sys.stderr)
                finally:
                    if sw is not None:
                        sw.stop()
                    redis.stop()
    print(f"\nL1 hit share during an outage: {keys} prefilled keys, Zipf s={args.zipf_s} reads; "
          f"{args.outage_warm} through seawall, then Redis SIGSTOPped and {args.outage_reads} "
          "more (same distribution): the share answered with a value (L1 copies; misses are "
          "nil).\n")
    print("| L1 max_bytes | binary | admission | value share | reads |")
    print("|---|---|---|---|---|")
    for l1_bytes, label, mode, share, replies, _ in rows:
        print(f"| {l1_bytes} | {label} | {mode} | {share:.4f} | {replies} |")
    return True


NEAR_HOT_KEYS = 1000


def cpu_budget(args, workdir: Path) -> bool:
    """Where GET c=50 P=16 spends the machine: for direct Redis, twemproxy, seawall with the
    default L1 policy and with the L1 off, the CPU per GET of every process in the path
    (redis-benchmark from getrusage of this script's children, Redis and the proxy from /proc),
    their sum, the cores busy (sum of CPU over wall time) and, from the CPU per GET alone, what
    each path would give with a core per process: the rate of its busiest process."""
    k = args.keys
    row = Row("GET c=50 P=16 -r", "get", 50, 16, args.requests_p16, keyspace=k)
    redis = RedisServer(workdir / "redis")
    seawalls: dict[str, Seawall] = {}
    twemproxy = None
    samples: dict[str, list[dict]] = {}
    stopped = False
    try:
        redis.start()
        prefill(redis.port, k)
        paths = {"direct": (redis.port, [])}
        if shutil.which("nutcracker"):
            twemproxy = Nutcracker(workdir, redis.port)
            twemproxy.start()
            paths["twemproxy"] = (twemproxy.port, [twemproxy.proc.pid])
        for name, extra in (("seawall", {}), ("seawall L1 off", L1_OFF)):
            seawalls[name] = start_seawall(args, workdir, name.replace(" ", "-"), redis,
                                           args.threads, extra)
            paths[name] = (seawalls[name].port, [seawalls[name].pid])
        for name, (port, _) in paths.items():
            check_target(name, port)
            # Untimed: seawall's L1 then holds the keyspace, as after any warm-up in production.
            run_benchmark(port, replace(row, requests=max(row.requests // 4, 1000)))
        for run in range(args.runs):
            for name, (port, proxy) in paths.items():
                pids = [redis.pid] + proxy
                cpu_before = [cpu_seconds(pid) for pid in pids]
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.monotonic()
                res = run_benchmark(port, row)
                wall = time.monotonic() - started
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                bench_s = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
                cpu = [cpu_seconds(pid) - b for pid, b in zip(pids, cpu_before)]
                sample = {"rps": res.rps, "bench": bench_s, "redis": cpu[0],
                          "proxy": cpu[1] if proxy else float("nan"),
                          "busy": (bench_s + sum(cpu)) / wall}
                samples.setdefault(name, []).append(sample)
                print(f"cpu-budget run {run + 1} {name:<15} {res.rps:>12,.0f} GET/s  cores busy "
                      f"{sample['busy']:.2f}", file=sys.stderr)
    finally:
        stopped = stop_targets(seawalls, twemproxy, redis)

    def med(name, field, per_get=True):
        values = [s[field] / (row.requests if per_get else 1) * (1e6 if per_get else 1)
                  for s in samples[name]]
        return statistics.median(values)

    direct_rps = med("direct", "rps", per_get=False)
    print(f"\nGET c=50 P=16 over {k} prefilled keys (-r {k}), {row.requests} GETs per run, median "
          f"of {args.runs} interleaved run(s): the CPU per GET of each process on the path, the "
          f"cores busy, and the rate with a core per process (1 / the busiest process's CPU per "
          f"GET). This machine has {os.cpu_count()} cores.\n")
    print("| path | k GET/s | /direct | CPU us/GET redis-benchmark | Redis | proxy | sum | "
          "cores busy | k GET/s with a core per process | /direct |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    direct_bound = None
    for name in samples:
        rps = med(name, "rps", per_get=False)
        bench_us, redis_us, proxy_us = med(name, "bench"), med(name, "redis"), med(name, "proxy")
        parts = [bench_us, redis_us] + ([] if name == "direct" else [proxy_us])
        bound = 1e3 / max(parts)  # k GET/s
        direct_bound = bound if name == "direct" else direct_bound
        proxy_cell = "" if name == "direct" else f"{proxy_us:.2f}"
        print(f"| {name} | {rps / 1000:.1f} | {rps / direct_rps:.2f} | {bench_us:.2f} | "
              f"{redis_us:.2f} | {proxy_cell} | {sum(parts):.2f} | "
              f"{med(name, 'busy', per_get=False):.2f} | {bound:.0f} | {bound / direct_bound:.2f} |")
    return stopped


def commands_processed(redis_port: int) -> int:
    """Redis's INFO stats total_commands_processed (this INFO itself not yet counted)."""
    with RawConnection(redis_port, timeout=10) as c:
        reply = c.request("INFO", "stats").decode()
    for line in reply.split("\r\n"):
        if line.startswith("total_commands_processed:"):
            return int(line.split(":", 1)[1])
    raise RuntimeError("no total_commands_processed in INFO stats")


def counting(redis_port: int, runner):
    """A runner for interleave() that also sets Result.redis_cmds: what Redis processed during
    the run per request. The INFO before the run is counted by the one after it, hence the 1;
    everything else is real load, the other proxies' idle health checks included (a few a
    second)."""
    def run(port: int, row: Row) -> Result:
        before = commands_processed(redis_port)
        res = runner(port, row)
        res.redis_cmds = (commands_processed(redis_port) - before - 1) / row.requests
        return res
    return run


def near_tables(args, workdir: Path) -> bool:
    """Near-cache mode (l1 mode: near) against Redis directly, seawall in fallback mode (the
    same policy without `mode`) and twemproxy: GETs of 1,000 hot keys at P1 and P16, and Zipf
    GETs over the whole keyspace with what Redis itself processed."""
    keys = max(args.keys, NEAR_HOT_KEYS)
    l1 = {"ttl": "1h", "max_stale": "1h"}
    redis = RedisServer(workdir / "redis-near")
    seawalls: dict[str, Seawall] = {}
    twemproxy = None
    failed = False
    try:
        redis.start()
        prefill(redis.port, keys)
        targets = {"direct": (redis.port, redis.pid, ())}
        if shutil.which("nutcracker"):
            twemproxy = Nutcracker(workdir, redis.port)
            twemproxy.start()
            targets["twemproxy"] = (twemproxy.port, twemproxy.proc.pid, ())
        for name, mode in (("near", {"mode": "near"}), ("fallback", {})):
            seawalls[name] = start_seawall(args, workdir, f"seawall-{name}", redis, args.threads,
                                           {"policies": [{"match": "key:*",
                                                          "l1": {**l1, **mode}}]})
            targets[name] = (seawalls[name].port, seawalls[name].pid, ())
        for name, (port, _, _) in targets.items():
            check_target(name, port)
        # The hot keys in both L1s before the first row.
        hot = get_commands(list(range(NEAR_HOT_KEYS)))
        for name in ("near", "fallback"):
            drive(targets[name][0], hot)
        names = list(targets)
        ratios = [(n, "direct") for n in names if n != "direct"] + [("near", "fallback")]

        rows = [Row("GET 1k hot c=50 P=1 -r 1000", "get", 50, 1, args.requests_p1,
                    keyspace=NEAR_HOT_KEYS),
                Row("GET 1k hot c=50 P=16 -r 1000", "get", 50, 16, args.requests_p16,
                    keyspace=NEAR_HOT_KEYS)]
        near_before = answers(seawalls["near"])
        results, bad = interleave(args, rows, targets, "near", counting(redis.port,
                                                                         run_benchmark))
        failed |= bad
        near_after = answers(seawalls["near"])
        print(f"\nNear-cache mode: redis-benchmark GETs of {NEAR_HOT_KEYS} hot keys (-r "
              f"{NEAR_HOT_KEYS}, {VALUE_SIZE}-byte values, prefilled and read once through "
              f"both seawalls), loopback, median of {args.runs} interleaved run(s); seawall "
              f"threads={args.threads} connections={args.connections}, `l1: {{ttl: 1h, "
              "max_stale: 1h}` with `mode: near` (near) or without (fallback). Near hits during "
              f"these rows: {share(near_before, near_after)}.\n")
        print("\n".join(result_table(rows, results, names, ratios)))
        print("\nCommands Redis processed per client GET (INFO stats total_commands_processed):\n")
        print("| benchmark | " + " | ".join(names) + " |")
        print("|" + "---|" * (1 + len(names)))
        for row in rows:
            cells = []
            for name in names:
                runs = [r for r in results.get((row.label, name), []) if r is not None]
                cells.append(f"{statistics.median(r.redis_cmds for r in runs):.3f}"
                             if runs else "failed")
            print(f"| {row.label} | " + " | ".join(cells) + " |")

        # Zipf over the whole keyspace: what near mode saves Redis.
        commands = get_commands(zipf_sequence(keys, args.requests_zipf, s=args.zipf_s))
        zrow = Row(f"GET Zipf s={args.zipf_s} c=8 P=16", "zipf", 8, 16, len(commands))
        ztargets = {n: targets[n] for n in ("direct", "near", "fallback")}
        near_before = answers(seawalls["near"])
        results, bad = interleave(args, [zrow], ztargets, "near-zipf",
                                  counting(redis.port, zipf_runner(commands)))
        failed |= bad
        near_after = answers(seawalls["near"])
        print(f"\nZipf GETs (s={args.zipf_s}) over all {keys} prefilled keys, {len(commands)} "
              "per run from keyspace.drive (8 connections pipelining 16); the commands Redis "
              "processed per second and per client GET (barrier PINGs, health checks and every "
              "miss included). Near hits during these runs: "
              f"{share(near_before, near_after)}.\n")
        print("| target | client k GET/s | Redis k commands/s | Redis commands per GET | "
              "CPU us/req |")
        print("|---|---|---|---|---|")
        for name in ztargets:
            runs = [r for r in results.get((zrow.label, name), []) if r is not None]
            if not runs:
                print(f"| {name} | failed | | | |")
                continue
            rps = statistics.median(r.rps for r in runs)
            per = statistics.median(r.redis_cmds for r in runs)
            cpu = statistics.median(r.cpu_us for r in runs)
            print(f"| {name} | {rps / 1000:.1f} | {rps * per / 1000:.1f} | {per:.3f} | "
                  f"{cpu:.2f} |")
        for name, sw in seawalls.items():
            if not sw.alive():
                raise RuntimeError(f"seawall-{name} died\n{sw.log_tail()}")
            log = sw.log_path.read_text(errors="replace")
            if log.count("closed -> open"):
                print(f"\nWARNING: seawall-{name}'s breaker opened: its numbers include "
                      "answers that did not come from Redis.")
    except Exception as e:  # noqa: BLE001 - report and clean up
        print(f"near benchmark failed: {e}", file=sys.stderr)
        failed = True
    finally:
        failed = not stop_targets(seawalls, twemproxy, redis) or failed
    return not failed


def stop_targets(seawalls: dict, twemproxy, redis) -> bool:
    """Stops every target; False when a seawall did not stop cleanly."""
    ok = True
    for sw in seawalls.values():
        try:
            sw.stop()
        except AssertionError as e:
            print(f"seawall did not stop cleanly: {e}", file=sys.stderr)
            ok = False
    if twemproxy is not None:
        twemproxy.stop()
    redis.stop()
    return ok


def answers(sw: Seawall) -> dict:
    """seawall_answers_total by source, from /metrics."""
    fam = scrape(sw.admin_port).get("seawall_answers")
    return {s.labels["source"]: s.value for s in (fam.samples if fam else ())
            if s.name == "seawall_answers_total"}


def share(before: dict, after: dict) -> str:
    """"N of M answers (P%)" for the l1_near source between two answers() snapshots."""
    near = after.get("l1_near", 0) - before.get("l1_near", 0)
    total = sum(after.values()) - sum(before.values())
    return f"{near:,.0f} of {total:,.0f} answers ({near / total:.1%})" if total else "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seawall", default=os.environ.get("SEAWALL_BIN"),
                        help="seawall binary (default: $SEAWALL_BIN)")
    parser.add_argument("--runs", type=int, default=3, help="runs per target and row")
    parser.add_argument("--keys", type=int, default=100_000,
                        help="prefilled keys; the rows use redis-benchmark -r KEYS")
    parser.add_argument("--requests-p1", type=int, default=300_000,
                        help="-n for the 50-client -P 1 rows (~2-3 s each)")
    parser.add_argument("--requests-p16", type=int, default=2_000_000,
                        help="-n for the 50-client -P 16 rows")
    parser.add_argument("--requests-latency", type=int, default=80_000,
                        help="-n for the 1-client latency row")
    parser.add_argument("--requests-zipf", type=int, default=300_000,
                        help="GETs of the Zipf row (a Python client: keep it modest)")
    parser.add_argument("--zipf-s", type=float, default=0.99, help="Zipf exponent")
    parser.add_argument("--threads", type=int, default=1, help="seawall threads")
    parser.add_argument("--connections", type=int, default=2,
                        help="seawall upstream connections per thread")
    parser.add_argument("--upstream-extra", type=json.loads, default={}, metavar="JSON",
                        help='merged into seawall\'s upstream entry, e.g. '
                             '\'{"breaker": {"slow_call_duration": "200ms"}}\'')
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke: 1 run, small -n (numbers are only indicative)")
    parser.add_argument("--single-key", action="store_true",
                        help="add the rows on one key (redis-benchmark without -r), labelled")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--memory-clients", type=int, default=10_000,
                        help="idle clients for the memory row")
    parser.add_argument("--memory-only", action="store_true",
                        help="run only the memory row (VmRSS with N idle clients)")
    parser.add_argument("--no-memory", action="store_true",
                        help="leave the memory row out of a full run")
    parser.add_argument("--outage-zipf", action="store_true",
                        help="run only the outage hit-share measurement (Zipf reads)")
    parser.add_argument("--near", action="store_true",
                        help="run only the near-cache tables: 1,000 hot keys at P1 and P16, "
                             "direct vs seawall near vs fallback (vs twemproxy), and Zipf reads "
                             "with the commands Redis processed")
    parser.add_argument("--cpu-budget", action="store_true",
                        help="run only the CPU budget of GET c=50 P=16: the CPU per GET of "
                             "redis-benchmark, Redis and the proxy, and the cores busy")
    parser.add_argument("--outage-warm", type=int, default=300_000,
                        help="Zipf GETs through seawall before Redis is frozen")
    parser.add_argument("--outage-reads", type=int, default=50_000,
                        help="Zipf GETs while Redis is frozen")
    parser.add_argument("--outage-l1-bytes", default="64mb,4mb",
                        help="comma-separated cache.max_bytes values to measure")
    parser.add_argument("--baseline-seawall", default=None,
                        help="also measure this binary (e.g. a build of main before a change): a "
                             "'baseline' column in the keyspace and Zipf tables, and in "
                             "--outage-zipf")
    parser.add_argument("--keyspace-only", action="store_true",
                        help="stop after the keyspace and Zipf tables (before/after a change)")
    args = parser.parse_args()
    if not args.seawall:
        parser.error("no seawall binary: pass --seawall or set SEAWALL_BIN")
    if args.quick:
        args.runs, args.requests_p1, args.requests_p16, args.requests_latency = 1, 20_000, 100_000, 5_000
        args.requests_zipf = 20_000
    if args.memory_only or args.outage_zipf or args.near or args.cpu_budget:
        workdir = Path(tempfile.mkdtemp(prefix="seawall-bench-"))
        ok = False
        what = ("memory row" if args.memory_only else "outage" if args.outage_zipf
                else "near" if args.near else "cpu budget")
        try:
            ok = (memory_table(args, workdir) if args.memory_only
                  else outage_zipf(args, workdir) if args.outage_zipf
                  else near_tables(args, workdir) if args.near
                  else cpu_budget(args, workdir))
        except Exception as e:  # noqa: BLE001 - report and clean up
            print(f"{what} failed: {e}", file=sys.stderr)
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs and configs kept in {workdir}", file=sys.stderr)
        return 0 if ok else 1

    k = args.keys
    rows = [
        Row("SET c=50 P=1 -r", "set", 50, 1, args.requests_p1, keyspace=k),
        Row("GET c=50 P=1 -r", "get", 50, 1, args.requests_p1, keyspace=k),
        Row("SET c=50 P=16 -r", "set", 50, 16, args.requests_p16, keyspace=k),
        Row("GET c=50 P=16 -r", "get", 50, 16, args.requests_p16, keyspace=k),
        Row("GET c=1 P=1 -r", "get", 1, 1, args.requests_latency, latency=True, keyspace=k),
    ]

    workdir = Path(tempfile.mkdtemp(prefix="seawall-bench-"))
    redis = RedisServer(workdir / "redis")
    targets: dict[str, tuple] = {}
    twemproxy = None
    seawalls: dict[str, Seawall] = {}
    failed = False
    try:
        redis.start()
        prefill(redis.port, k)
        targets["direct"] = (redis.port, redis.pid, ())
        if shutil.which("nutcracker"):
            twemproxy = Nutcracker(workdir, redis.port)
            twemproxy.start()
            targets["twemproxy"] = (twemproxy.port, twemproxy.proc.pid, ())
        else:
            print("nutcracker not found: twemproxy left out", file=sys.stderr)
        seawalls["seawall"] = start_seawall(args, workdir, "seawall", redis, args.threads, {})
        seawall = seawalls["seawall"]
        targets["seawall"] = (seawall.port, seawall.pid, ())
        if args.baseline_seawall:
            seawalls["baseline"] = start_seawall(args, workdir, "baseline", redis, args.threads, {},
                                                 binary=args.baseline_seawall)
            targets["baseline"] = (seawalls["baseline"].port, seawalls["baseline"].pid, ())
        for name, (port, _, _) in targets.items():
            check_target(name, port)
        names = list(targets)
        ratios = [(n, "direct") for n in names if n != "direct"]
        if "twemproxy" in names:
            ratios.append(("seawall", "twemproxy"))
        if "baseline" in names:
            ratios.append(("seawall", "baseline"))

        results, bad = interleave(args, rows, targets, "keyspace")
        failed |= bad
        print(f"\nredis-benchmark, {VALUE_SIZE}-byte values, random keys among {k} prefilled "
              f"(-r {k}), loopback, median of {args.runs} interleaved run(s); seawall "
              f"threads={args.threads} connections={args.connections}, default L1 policy.")
        print("Throughput ratios above 1 are faster; latency ratios above 1 are slower. CPU: "
              "the target process alone (for the proxies, not the redis-server behind them).\n")
        print("\n".join(result_table(rows, results, names, ratios)))

        # Zipf: hot keys. Same sequence on every target.
        commands = get_commands(zipf_sequence(k, args.requests_zipf, s=args.zipf_s))
        zrows = [Row(f"GET Zipf s={args.zipf_s} c=8 P=16", "zipf", 8, 16, len(commands))]
        results, bad = interleave(args, zrows, targets, "zipf", zipf_runner(commands))
        failed |= bad
        print(f"\nZipf-distributed GETs over the same {k} keys (s={args.zipf_s}, hot keys "
              "spread over the keyspace), 8 connections pipelining 16, from keyspace.py's Python "
              "client (it may be the bottleneck: compare the CPU columns).\n")
        print("\n".join(result_table(zrows, results, names, ratios)))
        if args.keyspace_only:
            return 1 if failed else 0

        # The L1 fill: the same seawall build with the L1 disabled for every key.
        seawalls["seawall-l1-off"] = start_seawall(args, workdir, "seawall-l1-off", redis,
                                                   args.threads, L1_OFF)
        off = seawalls["seawall-l1-off"]
        frows = [r for r in rows if r.test == "get" and not r.latency]
        ftargets = {"L1 default": targets["seawall"], "L1 off": (off.port, off.pid, ())}
        results, bad = interleave(args, frows, ftargets, "l1")
        failed |= bad
        print("\nThe L1 fill's cost: seawall with the default L1 policy against "
              "`policies: [{match: \"*\", l1: {enabled: false}}]` (target: CPU ratio <= 1.5).\n")
        print("\n".join(result_table(frows, results, list(ftargets),
                                     [("L1 default", "L1 off")],
                                     cpu_ratios=[("L1 default", "L1 off")])))

        # Threads: 1 against 2 (the other seawall runs threads=2, or 1 if --threads is 2).
        other = 2 if args.threads != 2 else 1
        seawalls["seawall-threads"] = start_seawall(args, workdir, "seawall-threads", redis,
                                                    other, {})
        st = seawalls["seawall-threads"]
        trows = [r for r in rows if r.pipeline == 16]
        ttargets = {f"threads={args.threads}": targets["seawall"],
                    f"threads={other}": (st.port, st.pid, ())}
        tnames = list(ttargets)
        results, bad = interleave(args, trows, ttargets, "threads")
        failed |= bad
        print("\nseawall threads: each worker runs its own io_context; the L1 and breakers are "
              "shared.\n")
        print("\n".join(result_table(trows, results, tnames, [(tnames[1], tnames[0])],
                                     cpu_ratios=[(tnames[1], tnames[0])])))
        print("\nOn paper, per core (1 / CPU per request, seawall alone; Redis and the clients "
              "need cores of their own):\n")
        print("| benchmark | threads | CPU us/req | k req/s per core | 8 cores | 16 cores |")
        print("|---|---|---|---|---|---|")
        for row in trows:
            for name in tnames:
                runs = [r for r in results.get((row.label, name), []) if r is not None]
                if runs:
                    cpu = statistics.median(r.cpu_us for r in runs)
                    per_core = 1000.0 / cpu if cpu > 0 else float("nan")
                    print(f"| {row.label} | {name} | {cpu:.2f} | {per_core:.0f} | "
                          f"{8 * per_core:.0f} | {16 * per_core:.0f} |")

        # RESP3 against RESP2 through seawall (twemproxy refuses HELLO).
        rrows = [Row("GET c=50 P=1 -r", "get", 50, 1, args.requests_p1, keyspace=k),
                 Row("GET c=50 P=16 -r", "get", 50, 16, args.requests_p16, keyspace=k)]
        rtargets = {"direct RESP3": (redis.port, redis.pid, ("-3",)),
                    "seawall RESP3": (seawall.port, seawall.pid, ("-3",)),
                    "seawall RESP2": (seawall.port, seawall.pid, ())}
        results, bad = interleave(args, rrows, rtargets, "resp3")
        failed |= bad
        print("\nRESP3 clients (redis-benchmark -3) against RESP2 through seawall "
              "(target: seawall RESP3 / seawall RESP2 >= 0.9).\n")
        print("\n".join(result_table(
            rrows, results, list(rtargets),
            [("seawall RESP3", "direct RESP3"), ("seawall RESP3", "seawall RESP2")],
            cpu_ratios=[("seawall RESP3", "seawall RESP2")])))

        if args.single_key:
            srows = [Row(r.label.replace(" -r", " (one key)"), r.test, r.clients, r.pipeline,
                         r.requests, r.latency) for r in rows]
            results, bad = interleave(args, srows, targets, "single-key")
            failed |= bad
            print("\nExtra: the same rows on one key (redis-benchmark without -r; the L1 renews "
                  "one entry).\n")
            print("\n".join(result_table(srows, results, names, ratios)))

        degraded_table(args, redis, workdir)
        pinned_table(args, seawall.port)
        if not args.no_memory and not args.quick:
            if not memory_table(args, workdir):
                failed = True
        for sw in seawalls.values():
            if not sw.alive():
                raise RuntimeError(f"{sw.log_path.name} died during the benchmark\n"
                                   f"{sw.log_tail()}")
        # redis-benchmark stops at an error reply, but not at a degraded answer served from L1.
        for name, sw in seawalls.items():
            log = sw.log_path.read_text(errors="replace")
            opened, degraded = log.count("closed -> open"), log.count("degraded answer")
            if opened or degraded:
                print(f"\nWARNING: {name}'s breaker opened {opened} time(s) and it logged "
                      f"{degraded} degraded-answer line(s): its numbers include answers that did "
                      "not come from Redis.")
    except Exception as e:  # noqa: BLE001 - report and clean up
        print(f"benchmark failed: {e}", file=sys.stderr)
        failed = True
    finally:
        failed = not stop_targets(seawalls, twemproxy, redis) or failed
        if args.keep or failed:
            print(f"logs and configs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
