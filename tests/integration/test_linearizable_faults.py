"""Judged by histories: many clients read and write through seawall while Redis is killed,
frozen, put to sleep, made to flap, or seawall reloads its config during an outage; the whole
history is checked (history.py) for reads that go back in time, impossible reads, torn multi-key
reads, non-linearizable orders, and acknowledged writes missing from Redis after recovery.

The workload and the fault drivers are in lin_workload.py (shared with linearizability_soak.py,
which runs the same thing for as long as you like). Each run here takes about 10-15 s.

Environment (CI defaults):
  SEAWALL_LIN_SECONDS   outage length in seconds (3)
  SEAWALL_LIN_CLIENTS   redis-py client threads, besides the MULTI and RESP3 ones (6)
  SEAWALL_LIN_KEYS      keys seen by seawall before the fault (200)
  SEAWALL_LIN_SLACK_MS  scheduler slack on the outage read p99 bound of 250 ms
                        (default: SEAWALL_FAULT_SLACK_MS, else 100)
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import lin_workload  # noqa: E402
from lin_workload import Scenario  # noqa: E402

OUTAGE_S = float(os.environ.get("SEAWALL_LIN_SECONDS", "3"))
CLIENTS = int(os.environ.get("SEAWALL_LIN_CLIENTS", "6"))
KEYS = int(os.environ.get("SEAWALL_LIN_KEYS", "200"))
SLACK_S = float(os.environ.get("SEAWALL_LIN_SLACK_MS",
                               os.environ.get("SEAWALL_FAULT_SLACK_MS", "100"))) / 1000.0
OUTAGE_P99_BOUND_S = 0.250 + SLACK_S
# The goal is no read of a seen key without a value; runs by hand see 0-1 in ~15,000 (issue 9's
# closing note). The bound leaves room for sanitizer builds on a loaded machine.
MAX_READ_FAILURE_SHARE = float(os.environ.get("SEAWALL_LIN_MAX_READ_FAILURES", "0.005"))
# Faults whose failures are reported but do not fail the run (for a bug being worked on). Empty:
# since session 4 no fault is excused (flap's rare violation was not seen again in 1M ops).
KNOWN_OPEN = set(filter(None, os.environ.get("SEAWALL_LIN_KNOWN_OPEN", "").split(",")))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("fault", list(lin_workload.FAULTS))
def test_history_stays_linearizable_through_fault(tmp_path, fault, threads):
    result = lin_workload.run(Scenario(fault=fault, threads=threads, clients=CLIENTS, keys=KEYS,
                                       outage_s=OUTAGE_S, seed=threads * 100 + len(fault)),
                              workdir=tmp_path)
    rep = result.report
    summary = result.summary(limit=10)

    problems = []
    # The fault was real, and seawall survived it.
    if not any(t == ("closed", "open") for t in result.transitions):
        problems.append(f"the breaker never opened (transitions {result.transitions}): the "
                        "fault did not reach seawall, the run proves nothing")
    if fault == "reload" and result.reloads < 1:
        problems.append("no successful config reload was counted")
    for note in result.notes:
        if "died" in note or "exit" in note or "journal not empty" in note:
            problems.append(note)
    # The history.
    if rep.violations:
        problems.append(f"{len(rep.violations)} violations: {dict(rep.by_kind())}")
    for phase in ("during", "after"):
        n = rep.read_failures(phase, "seen")
        total = n + rep.count(phase, "seen", "read", "ok")
        if total and n / total > MAX_READ_FAILURE_SHARE:
            problems.append(f"{n} of {total} reads of keys seen before the fault got no value "
                            f"{phase} the outage (errors or timeouts), above "
                            f"{MAX_READ_FAILURE_SHARE:.0%}: {rep.read_errors_seen.get(phase)}")
    during = rep.latency.get("during", {"n": 0})
    if not during["n"]:
        problems.append("no reads during the outage")
    elif during["p99"] > OUTAGE_P99_BOUND_S * 1000:
        problems.append(f"read p99 during the outage {during['p99']:.1f}ms > "
                        f"{OUTAGE_P99_BOUND_S * 1000:.0f}ms")
    if problems and fault in KNOWN_OPEN:
        pytest.xfail("known open (SEAWALL_LIN_KNOWN_OPEN): " + "\n".join([*problems, "", summary]))
    if problems:
        pytest.fail("\n".join([*problems, "", summary]), pytrace=False)
    print(summary)
