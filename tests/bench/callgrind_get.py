#!/usr/bin/python3
"""seawall's instructions per request under callgrind: deterministic on a loaded machine.

A redis-server gets KEYS prefilled keys (key:%012d, 64-byte values: what redis-benchmark -r reads);
for each variant, seawall runs under `valgrind --tool=callgrind` three times: idle (start, PING,
stop), warm (WARM GETs) and warm+measured (WARM + N GETs), all driven by redis-benchmark
(-c 50 -P P -r KEYS). Printed per variant:

  fill (cold L1)  (warm - idle) / WARM     instructions per GET while the keys first enter the L1
  steady          (measured - warm) / N    instructions per GET with the L1 already holding them

    tests/bench/callgrind_get.py --seawall build/rel/seawall [--pipeline 16] [--keys 100000]
    tests/bench/callgrind_get.py --seawall build/rel/seawall --variant off \\
        '{"policies": [{"match": "*", "l1": {"enabled": false}}]}'

Variants (each a label and a JSON object merged into seawall's config) default to the default L1
policy and the L1 disabled. The callgrind.out files are kept in --out (callgrind_annotate them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import LOOPBACK, RedisServer, Seawall, merge  # noqa: E402
from keyspace import prefill  # noqa: E402


def total_ir(path: Path) -> int:
    """Instructions of the worker threads (inclusive): the process total minus startup and the
    teardown of the main thread, whose freeing of a full L1 would otherwise count as requests."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)],
                         capture_output=True, text=True, check=True).stdout
    total = 0
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(.*std_thread\.h:.*Worker::start\(\)", line)
        if m:
            total += int(m.group(1).replace(",", ""))
    if total == 0:
        raise RuntimeError(f"no worker thread in {path} (built without -g?)")
    return total


def run_once(args, redis: RedisServer, label: str, overrides: dict, requests: int,
             out_dir: Path) -> int:
    out = out_dir / f"callgrind.out.{label}.{requests}"
    wrapper = out_dir / f"valgrind-{label}.sh"
    wrapper.write_text("#!/bin/sh\nexec valgrind --tool=callgrind --quiet "
                       f"--callgrind-out-file={out} {Path(args.seawall).resolve()} \"$@\"\n")
    wrapper.chmod(0o755)
    sw = Seawall(out_dir / f"sw-{label}-{requests}", redis.port,
                 merge({"threads": 1, "log": {"level": "warn"},
                        "upstreams": [{"name": "main", "address": redis.address,
                                       "connections": 2, "request_timeout": "20s",
                                       "connect_timeout": "5s",
                                       "breaker": {"slow_call_duration": "20s"}}]}, overrides),
                 binary=str(wrapper))
    sw.start(timeout=60)
    try:
        if requests:
            subprocess.run(["redis-benchmark", "-h", LOOPBACK, "-p", str(sw.port), "-q",
                            "-n", str(requests), "-c", "50", "-P", str(args.pipeline),
                            "-r", str(args.keys), "-d", "64", "-t", args.test], check=True,
                           capture_output=True, timeout=1800)
    finally:
        sw.stop(timeout=120)
    return total_ir(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seawall", default=os.environ.get("SEAWALL_BIN"), required=False)
    p.add_argument("--keys", type=int, default=100_000)
    p.add_argument("--pipeline", type=int, default=16)
    p.add_argument("--test", default="get", help="redis-benchmark -t (get or set)")
    p.add_argument("--warm", type=int, default=200_000, help="GETs before the measured ones")
    p.add_argument("--requests", type=int, default=200_000, help="measured GETs")
    p.add_argument("--variant", nargs=2, action="append", metavar=("LABEL", "JSON"))
    p.add_argument("--out", type=Path, default=None, help="keep callgrind.out files here")
    args = p.parse_args()
    if not args.seawall:
        p.error("--seawall or $SEAWALL_BIN")
    variants = [(label, json.loads(text)) for label, text in args.variant] if args.variant else [
        ("l1-default", {}),
        ("l1-off", {"policies": [{"match": "*", "l1": {"enabled": False}}]}),
    ]
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="seawall-callgrind-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(out_dir / "redis")
    redis.start()
    try:
        prefill(redis.port, args.keys)
        print(f"{args.test.upper()} -c 50 -P {args.pipeline} -r {args.keys} over {args.keys} "
              f"prefilled keys; instructions per request (callgrind, seawall only)")
        print("| variant | fill (cold L1) | steady |")
        print("|---|---|---|")
        for label, overrides in variants:
            idle = run_once(args, redis, label, overrides, 0, out_dir)
            warm = run_once(args, redis, label, overrides, args.warm, out_dir)
            both = run_once(args, redis, label, overrides, args.warm + args.requests, out_dir)
            print(f"| {label} | {(warm - idle) / args.warm:,.0f} | "
                  f"{(both - warm) / args.requests:,.0f} |", flush=True)
    finally:
        redis.stop()
    print(f"callgrind.out files in {out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
