#!/usr/bin/python3
"""GET/SET through seawall in front of a 3-master Redis Cluster, against `redis-benchmark
--cluster` straight to the cluster, in one run (issue 12's benchmark rows).

Starts three redis-server nodes (--cluster-enabled yes, no replicas) on free loopback ports whose
bus ports (port + 10000) lie below the ephemeral range, joins them with `redis-cli --cluster
create`, prefills the keyspace through seawall, then interleaves the rows (direct, seawall, ...)
and prints medians and ratios, and seawall's CPU per request.

    tests/bench/cluster.py --seawall build/rel/seawall [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import Row, interleave, result_table  # noqa: E402
from harness import LOOPBACK, Seawall, wait_until  # noqa: E402

NODES = 3


def port_pair_free(port: int) -> bool:
    for p in (port, port + 10000):
        with socket.socket() as s:
            try:
                s.bind((LOOPBACK, p))
            except OSError:
                return False
    return True


def cluster_ports(n: int) -> list[int]:
    """n ports in 20000-22000 whose bus port is free too (both below 32768)."""
    ports = []
    start = 20000 + (os.getpid() * 7) % 1500
    for port in range(start, 22000):
        if port_pair_free(port):
            ports.append(port)
            if len(ports) == n:
                return ports
    raise RuntimeError("no free cluster ports in 20000-22000")


class Cluster:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.ports = cluster_ports(NODES)
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        for port in self.ports:
            d = self.workdir / f"node-{port}"
            d.mkdir(parents=True)
            log = open(d / "redis.log", "ab")
            self.procs.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", LOOPBACK, "--cluster-enabled",
                 "yes", "--cluster-config-file", str(d / "nodes.conf"), "--cluster-node-timeout",
                 "2000", "--save", "", "--appendonly", "no", "--dir", str(d),
                 "--protected-mode", "no"], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL))
        for port in self.ports:
            wait_until(lambda p=port: self.cli(p, "PING") == "PONG", 10, f"node {port}")
        subprocess.run(["redis-cli", "--cluster", "create",
                        *[f"{LOOPBACK}:{p}" for p in self.ports], "--cluster-replicas", "0",
                        "--cluster-yes"], check=True, capture_output=True, timeout=60)
        for port in self.ports:
            wait_until(lambda p=port: "cluster_state:ok" in self.cli(p, "CLUSTER", "INFO"), 20,
                       f"cluster_state:ok on {port}")

    def cli(self, port: int, *args: str) -> str:
        proc = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(port), *args],
                              capture_output=True, text=True, timeout=10)
        return proc.stdout.strip()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seawall", default=os.environ.get("SEAWALL_BIN"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--requests-p1", type=int, default=300_000)
    parser.add_argument("--requests-p16", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small counts, 1 run")
    args = parser.parse_args()
    if not args.seawall:
        parser.error("--seawall or SEAWALL_BIN is required")
    if args.quick:
        args.runs, args.keys, args.requests_p1, args.requests_p16 = 1, 10_000, 20_000, 100_000

    workdir = Path(tempfile.mkdtemp(prefix="seawall-cluster-bench-"))
    cluster = Cluster(workdir)
    sw = None
    try:
        cluster.start()
        sw = Seawall(workdir / "seawall", cluster.ports[0], {
            "threads": 1,
            "upstreams": [{"name": "main",
                           "cluster": {"seeds": [f"{LOOPBACK}:{p}" for p in cluster.ports]},
                           "request_timeout": "1s"}],
            "log": {"level": "info"},
        }, binary=args.seawall, name="seawall")
        sw.start()
        # Prefill: every key of the keyspace, through seawall (so each shard holds its slots').
        k = args.keys
        subprocess.run(["redis-benchmark", "-h", LOOPBACK, "-p", str(sw.port), "-n",
                        str(k * 3), "-r", str(k), "-c", "50", "-P", "16", "-d", "64", "-t",
                        "set", "-q"], check=True, capture_output=True, timeout=300)
        sizes = [int(cluster.cli(p, "DBSIZE")) for p in cluster.ports]
        print(f"prefilled: {sum(sizes)} keys over {NODES} masters {sizes}", file=sys.stderr)
        rows = [Row("SET c=50 P=1 -r", "set", 50, 1, args.requests_p1, keyspace=k),
                Row("GET c=50 P=1 -r", "get", 50, 1, args.requests_p1, keyspace=k),
                Row("SET c=50 P=16 -r", "set", 50, 16, args.requests_p16, keyspace=k),
                Row("GET c=50 P=16 -r", "get", 50, 16, args.requests_p16, keyspace=k)]
        # CPU per request: seawall's; the direct column's is one node's, so it is not shown.
        targets = {"cluster direct": (cluster.ports[0], cluster.procs[0].pid, ("--cluster",)),
                   "seawall": (sw.port, sw.pid, ())}
        results, failed = interleave(args, rows, targets, "cluster")
        print(f"\nA {NODES}-master Redis Cluster (no replicas), {k} keys: redis-benchmark "
              f"--cluster straight to the nodes against plain redis-benchmark through seawall "
              f"(threads 1); medians of {args.runs} interleaved runs.\n")
        print("\n".join(result_table(rows, results, list(targets),
                                     [("seawall", "cluster direct")], cpu_names=["seawall"])))
        return 1 if failed else 0
    finally:
        if sw is not None:
            sw.stop()
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
