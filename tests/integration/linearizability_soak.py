#!/usr/bin/env python3
"""Long runs of the linearizability fault workload (lin_workload.py; the CI version is
test_linearizable_faults.py). Not collected by pytest.

    python3 tests/integration/linearizability_soak.py --seawall build/dev/seawall \\
        --fault kill9 --ops 1000000 --repeat 3 --threads 2

Each run cycles the fault (healthy --before seconds, --outage seconds of fault, recovery, --after
seconds) until --ops operations were made, then waits for seawall's journal to drain, reads the
final state from Redis and checks the whole history. Per run it prints: ops, violations (by kind),
lost writes (final state; and from Redis's AOF: overwritten + missing), reads of seen keys (known
before the first fault) without a value during / after the faults, reads of known keys (seen or
written through seawall before the read, the first fault's unseen keys included once written)
without a value, outage read p99; with --verbose the checker's whole summary, with --dump-failed
every failed read of a seen key with its key's history just before. Exits 1 when any run had a
violation or such a read error. Memory: about 700 bytes per operation while checking (a million
ops: ~700 MB); about 1500-3000 ops/s on 2 cores, so a million ops take 6-12 minutes per run. Use
/usr/bin/python3 (Debian's redis-py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lin_workload  # noqa: E402
from lin_workload import Scenario  # noqa: E402


def dump_failed(res, window_ms: float) -> None:
    """Each failed read of a known key, with the key's events just before it."""
    from history import FAIL, INFO, OK, READ, describe
    events = res.history.events
    t0 = min(e.invoke for e in events) if events else 0
    fault = res.history.first_mark("during")
    # Known keys, as known_key_read_errors counts them: some op on the key completed before.
    first_known: dict = {}
    for e in events:
        if e.outcome == OK:
            first_known[e.key] = min(first_known.get(e.key, e.complete), e.complete)
    by_key: dict = {}
    for e in events:
        by_key.setdefault(e.key, []).append(e)
    for e in events:
        if e.type != READ or e.outcome not in (FAIL, INFO):
            continue
        if first_known.get(e.key, float("inf")) >= e.invoke:
            continue
        if fault is not None and e.invoke < fault:
            continue
        print(f"--- failed read: {describe(e, t0)}")
        for w in res.fault_windows:
            if w[0] - window_ms * 1e6 <= e.invoke <= w[1] + 5e9:
                print(f"    fault window [{(w[0] - t0) / 1e6:.3f} .. {(w[1] - t0) / 1e6:.3f} ms]")
        for other in sorted(by_key[e.key], key=lambda x: x.invoke):
            if e.invoke - window_ms * 1e6 <= other.complete and other.invoke <= e.complete:
                print(f"    {describe(other, t0)}")


def known_key_read_errors(res) -> dict:
    """Reads that got no value although seawall had seen or written every key they read: some
    op on the key (a read that returned, a write that was acknowledged) completed through seawall
    before the read was sent. Per phase (during / after the faults), counted per op. This is
    wider than the checker's "seen" keys (known before the first fault): a key first written
    during an outage is known from then on."""
    import bisect

    from history import FAIL, INFO, OK, READ
    events = res.history.events
    first_known: dict = {}
    for e in events:
        if e.outcome == OK:
            first_known[e.key] = min(first_known.get(e.key, e.complete), e.complete)
    marks = [m[0] for m in res.history.marks]
    failed_ops: dict = {}
    for e in events:
        if e.type == READ and e.outcome in (FAIL, INFO):
            failed_ops.setdefault(e.op, []).append(e)
    out: dict = {}
    for evs in failed_ops.values():
        if all(first_known.get(e.key, float("inf")) < e.invoke for e in evs):
            i = bisect.bisect_right(marks, evs[0].invoke) - 1
            phase = res.history.marks[max(i, 0)][1] if marks else "all"
            out[phase] = out.get(phase, 0) + 1
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seawall", required=True, help="the seawall binary")
    p.add_argument("--fault", default="kill9", choices=list(lin_workload.FAULTS + lin_workload.NEAR_FAULTS)
                   + ["all"])
    p.add_argument("--ops", type=int, default=100000, help="operations per run (at least)")
    p.add_argument("--repeat", type=int, default=1, help="runs per fault")
    p.add_argument("--threads", type=int, default=1, help="seawall worker threads")
    p.add_argument("--clients", type=int, default=6)
    p.add_argument("--keys", type=int, default=200)
    p.add_argument("--unseen-keys", type=int, default=20)
    p.add_argument("--before", type=float, default=1.5, help="healthy seconds before a fault")
    p.add_argument("--outage", type=float, default=3.0)
    p.add_argument("--after", type=float, default=2.0, help="seconds after the breaker closed")
    p.add_argument("--pause", type=float, default=0.002, help="seconds between a client's ops")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-multi", action="store_true")
    p.add_argument("--no-resp3", action="store_true")
    p.add_argument("--near", action="store_true", help="the policy's l1 in near-cache mode")
    p.add_argument("--direct-writers", type=int, default=0,
                   help="clients that SET keys straight to Redis (see lin_workload.py)")
    p.add_argument("--direct-hold", action="store_true",
                   help="direct writers only read from a fault until seawall recovered")
    p.add_argument("--verbose", "-v", action="store_true")
    p.add_argument("--limit", type=int, default=10, help="violations shown with --verbose")
    p.add_argument("--dump-failed", type=float, default=0, metavar="MS",
                   help="for each failed read of a known key, print that key's events in the MS "
                        "milliseconds before it (and the fault windows)")
    args = p.parse_args(argv)

    binary = os.path.abspath(args.seawall)
    os.environ.setdefault("SEAWALL_BIN", binary)
    faults = lin_workload.FAULTS if args.fault == "all" else (args.fault,)
    bad = 0
    for fault in faults:
        for i in range(args.repeat):
            sc = Scenario(fault=fault, threads=args.threads, clients=args.clients, keys=args.keys,
                          unseen_keys=args.unseen_keys, before_s=args.before,
                          outage_s=args.outage, after_s=args.after, ops=args.ops,
                          pause_s=args.pause, seed=args.seed + i, multi=not args.no_multi,
                          resp3=not args.no_resp3, near=args.near,
                          direct_writers=args.direct_writers, direct_hold=args.direct_hold)
            t0 = time.monotonic()
            progress = (lambda text: print(f"  [{time.monotonic() - t0:7.1f}s] {text}",
                                           flush=True)) if args.verbose else None
            res = lin_workload.run(sc, binary=binary, progress=progress)
            rep = res.report
            kinds = dict(rep.by_kind())
            during = rep.read_failures("during")
            after = rep.read_failures("after")
            p99 = rep.latency.get("during", {}).get("p99", float("nan"))
            known = known_key_read_errors(res)
            print(f"{fault} run {i + 1}/{args.repeat}: ops={res.ops} cycles="
                  f"{len(res.fault_windows)} violations={len(rep.violations)} {kinds or ''} "
                  f"lost={kinds.get('lost', 0)} (final state) "
                  f"aof_lost={kinds.get('overwritten', 0) + kinds.get('missing', 0)} "
                  f"read_errors_seen during={during} after={after} "
                  f"read_errors_known during={known.get('during', 0)} "
                  f"after={known.get('after', 0)} "
                  f"outage_p99={p99:.1f}ms ({res.seconds:.0f}s)", flush=True)
            for note in res.notes:
                print(f"  note: {note}")
            if args.verbose:
                print(res.summary(args.limit))
            if args.dump_failed:
                dump_failed(res, args.dump_failed)
            if rep.violations or during or after or known.get("during") or known.get("after"):
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
