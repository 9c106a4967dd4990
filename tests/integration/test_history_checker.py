"""The history checker (history.py) on hand-made histories, and against a brute-force
linearizability search on many small random ones. No Redis, no seawall.

Times are small integers (the checker only compares them); W/R build writes and reads.
"""

from __future__ import annotations

import functools
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from history import FAIL, INF, INFO, OK, READ, WRITE, History, check  # noqa: E402


class H:
    """A history builder: h.w("k", "a", 0, 1) writes, h.r("k", "a", 2, 3) reads."""

    def __init__(self):
        self.h = History()
        self.h.t0 = 0

    def w(self, key, value, invoke, complete, outcome=OK, client="c1", cmd="SET"):
        return self.h.write(client, cmd, [(key, value)], invoke, complete, outcome)

    def mset(self, pairs, invoke, complete, outcome=OK, client="c1"):
        return self.h.write(client, "MSET", list(pairs.items()), invoke, complete, outcome)

    def r(self, key, value, invoke, complete, outcome=OK, client="c2", cmd="GET"):
        values = [value] if outcome == OK else None
        return self.h.read(client, cmd, [key], values, invoke, complete, outcome)

    def mget(self, values: dict, invoke, complete, client="c2"):
        return self.h.read(client, "MGET", list(values), list(values.values()), invoke, complete,
                           OK)

    def check(self, final=None, **kw):
        return check(self.h, final=final, **kw)  # the final read after every op


def kinds(report) -> set:
    return set(report.by_kind())


def assert_clean(report):
    assert not report.violations, report.summary()


# --------------------------------------------------------------------------------------------
# histories it must reject


def test_stale_read_after_acknowledged_write():
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 2, 3)
    h.r("k", "a", 4, 5)
    rep = h.check()
    assert "stale" in kinds(rep), rep.summary()
    (v,) = rep.of("stale")
    assert [e.value for e in v.ops] == ["a", "b", "a"]
    assert "'a'" in v.message and "acknowledged" in v.message


def test_nil_after_acknowledged_write():
    h = H()
    h.w("k", "a", 0, 1)
    h.r("k", None, 2, 3)
    rep = h.check()
    assert "stale" in kinds(rep), rep.summary()
    assert "initial" in rep.of("stale")[0].message


def test_read_of_failed_write_is_impossible():
    h = H()
    h.w("k", "a", 0, 1, FAIL)
    h.r("k", "a", 2, 3)
    rep = h.check()
    assert kinds(rep) == {"impossible"}, rep.summary()
    assert "failed" in rep.violations[0].message


def test_read_from_the_future_is_impossible():
    h = H()
    h.r("k", "a", 0, 5)
    h.w("k", "a", 10, 11)
    rep = h.check()
    assert "impossible" in kinds(rep), rep.summary()
    assert "invoked after the read completed" in rep.of("impossible")[0].message


def test_value_never_written_is_impossible():
    h = H()
    h.w("k", "a", 0, 1)
    h.r("k", "zzz", 2, 3)
    assert kinds(h.check()) == {"impossible"}


def test_value_of_another_key_is_impossible():
    h = H()
    h.w("k1", "a", 0, 1)
    h.r("k2", "a", 2, 3)
    assert kinds(h.check()) == {"impossible"}


def test_lost_acknowledged_write_in_final_state():
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 2, 3)
    rep = h.check(final={"k": "a"})
    assert "lost" in kinds(rep), rep.summary()
    assert rep.of("lost")[0].phase == "final"


def test_final_nil_after_acknowledged_write_is_lost():
    h = H()
    h.w("k", "a", 0, 1)
    assert "lost" in kinds(h.check(final={"k": None}))


def test_final_state_of_failed_write_is_lost():
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 2, 3, FAIL)
    rep = h.check(final={"k": "b"})
    assert "lost" in kinds(rep) and "failed" in rep.of("lost")[0].message


def test_final_value_never_written_is_lost():
    h = H()
    rep = h.check(final={"k": "x"})
    assert kinds(rep) == {"lost"}


def test_final_state_older_than_a_write_that_was_read():
    # b's write timed out (info) but a read saw it: it happened, and a is older.
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 2, 3, INFO)
    h.r("k", "b", 4, 5)
    assert "lost" in kinds(h.check(final={"k": "a"}))


def test_stale_read_after_a_write_another_read_saw():
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 2, 3, INFO)  # unknown outcome, but read below: applied
    h.r("k", "b", 4, 5)
    h.r("k", "a", 6, 7)
    rep = h.check()
    assert "stale-observed" in kinds(rep) and "stale" not in kinds(rep), rep.summary()


def test_stale_read_inside_mget_event():
    h = H()
    h.w("a", "a1", 0, 1)
    h.w("b", "b1", 0, 1)
    h.w("b", "b2", 2, 3)
    h.mget({"a": "a1", "b": "b1"}, 4, 5)
    rep = h.check()
    assert "stale" in kinds(rep)
    assert {v.key for v in rep.of("stale")} == {"b"}


def test_mset_seen_on_one_key_only_is_torn():
    # Per key both answers are allowed (the MGET overlaps the MSET), but not together.
    h = H()
    h.mset({"a": "a0", "b": "b0"}, 0, 1)
    h.mset({"a": "a1", "b": "b1"}, 2, 3)
    h.mget({"a": "a1", "b": "b0"}, 2, 6)
    rep = h.check()
    assert kinds(rep) == {"torn"}, rep.summary()
    h2 = H()
    h2.mset({"a": "a0", "b": "b0"}, 0, 1)
    h2.mset({"a": "a1", "b": "b1"}, 2, 3)
    h2.mget({"a": "a0", "b": "b1"}, 2, 6)  # the other half
    assert kinds(h2.check()) == {"torn"}


def test_mset_seen_with_nil_on_its_other_key_is_torn():
    h = H()
    h.mset({"a": "x", "b": "y"}, 2, 3)
    h.mget({"a": "x", "b": None}, 2, 6)
    assert kinds(h.check()) == {"torn"}


def test_multi_exec_transaction_seen_halfway_is_torn():
    h = H()
    h.h.write("c3", "MULTI/SET/SET/EXEC", [("a", "t1"), ("b", "t2")], 2, 3, OK)
    h.w("b", "old", 0, 1)
    h.mget({"b": "old", "a": "t1"}, 2, 9)
    assert kinds(h.check()) == {"torn"}


def test_two_values_read_in_an_order_no_write_order_explains():
    # Concurrent writes: either order is fine, but reads a, b, a in sequence are not. The rules
    # on one read at a time allow each read; only the zone check sees it.
    h = H()
    h.w("k", "a", 0, 10)
    h.w("k", "b", 0, 10, client="c3")
    h.r("k", "a", 11, 12)
    h.r("k", "b", 13, 14)
    h.r("k", "a", 15, 16)
    rep = h.check()
    assert kinds(rep) == {"nonlinearizable"}, rep.summary()
    assert not h.check(zones=False).violations


def test_write_strictly_between_is_a_zone_violation_too():
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 2, 3)
    h.r("k", "a", 4, 5)
    assert kinds(h.check()) == {"stale", "nonlinearizable"}


def test_duplicate_written_value_is_a_workload_bug():
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "a", 2, 3)
    with pytest.raises(ValueError, match="written twice"):
        h.check()


def test_older_write_applied_after_a_newer_one_is_overwritten():
    # Redis's own order (its AOF): the journaled 'a' replayed after 'b', sent after a's ack.
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 2, 3, client="resp3")
    h.w("k", "c", 4, 5)  # hides it from the final state
    rep = h.check(final={"k": "c"}, applied={"k": ["b", "a", "c"]})
    assert kinds(rep) == {"overwritten"}, rep.summary()
    assert [e.value for e in rep.violations[0].ops] == ["a", "b"]
    # A write with an unknown outcome that was applied counts too: it was sent after a's ack.
    h2 = H()
    h2.w("k", "a", 0, 1)
    h2.w("k", "b", 2, 3, INFO)
    assert kinds(h2.check(applied={"k": ["b", "a"]})) == {"overwritten"}
    # Both applied twice, each time in order: Redis held the older value for a while.
    rep = h2.check(applied={"k": ["a", "b", "a", "b"]})
    assert kinds(rep) == {"regressed"}, rep.summary()
    assert "applied 2 times" in rep.violations[0].message


def test_acknowledged_write_never_applied_is_missing():
    h = H()
    h.w("k", "a", 0, 1)
    h.w("other", "x", 0, 1)
    rep = h.check(applied={"other": ["x"]})
    assert kinds(rep) == {"missing"}, rep.summary()
    # A later write does not excuse it when something applied before that later write came
    # strictly after the missing one.
    h2 = H()
    h2.w("k", "a", 0, 1)
    h2.w("k", "b", 2, 3)
    h2.w("k", "c", 4, 5)
    assert kinds(h2.check(applied={"k": ["b", "c"]})) == set()  # b overwrote a at once
    assert kinds(h2.check(applied={"k": ["c"]})) == set()  # c overwrote a and b at once
    rep = h2.check(applied={"k": ["b"]})
    assert kinds(rep) == {"missing"} and rep.violations[0].ops[0].value == "c"
    h3 = H()
    h3.w("k", "old", 0, 1)
    h3.w("k", "a", 2, 3)
    h3.w("k", "b", 4, 5)
    # 'a' would have to go between 'old' and 'b': fine. Before 'old' it cannot go.
    assert kinds(h3.check(applied={"k": ["old", "b"]})) == set()
    # The last acknowledged write lost: nothing applied after it could have overwritten it.
    h4 = H()
    h4.w("k", "old", 0, 1)
    h4.w("k", "a", 2, 3)
    h4.w("k", "late", 2, 9, INFO)  # applied, but it may have come before 'a'
    rep = h4.check(applied={"k": ["old", "late"]})
    assert kinds(rep) == set(), rep.summary()  # 'late' may have overwritten 'a' at once
    rep = h4.check(applied={"k": ["late", "old"]})
    assert "missing" in kinds(rep), rep.summary()


def test_refused_write_applied():
    h = H()
    h.w("k", "a", 0, 1, FAIL)
    assert kinds(h.check(applied={"k": ["a"]})) == {"applied-failed"}


# --------------------------------------------------------------------------------------------
# histories it must accept


def test_concurrent_writes_either_order():
    for seen in ("a", "b"):
        h = H()
        h.w("k", "a", 0, 10)
        h.w("k", "b", 5, 15, client="c3")
        h.r("k", seen, 20, 21)
        h.r("k", seen, 22, 23)
        assert_clean(h.check(final={"k": seen}))


def test_read_concurrent_with_write_sees_old_or_new():
    for seen in ("a", "b"):
        h = H()
        h.w("k", "a", 0, 1)
        h.w("k", "b", 5, 10)
        h.r("k", seen, 6, 7)
        assert_clean(h.check())
    # The new value before the write's acknowledgement, then still the new value.
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 5, 10)
    h.r("k", "b", 6, 7)
    h.r("k", "b", 8, 9)
    assert_clean(h.check())


def test_info_write_applied_late():
    # b timed out; it may land after c (acknowledged later): reading b after c is allowed.
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 2, 3, INFO)
    h.w("k", "c", 10, 11)
    h.r("k", "c", 12, 13)
    h.r("k", "b", 14, 15)
    h.r("k", "b", 16, 17)
    assert_clean(h.check(final={"k": "b"}))


def test_info_write_never_applied():
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 2, 3, INFO)
    h.r("k", "a", 4, 5)
    assert_clean(h.check(final={"k": "a"}))


def test_failed_write_is_not_applied():
    h = H()
    h.w("k", "a", 0, 1)
    h.w("k", "b", 2, 3, FAIL)
    h.r("k", "a", 4, 5)
    assert_clean(h.check(final={"k": "a"}))


def test_nil_before_and_during_the_first_write():
    h = H()
    h.r("k", None, 0, 2)
    h.w("k", "a", 5, 10)
    h.r("k", None, 6, 7)
    h.r("k", "a", 8, 9)
    assert_clean(h.check(final={"k": "a"}))


def test_final_nil_when_no_write_was_acknowledged():
    h = H()
    h.w("k", "a", 0, 1, INFO)
    h.w("k", "b", 2, 3, FAIL)
    assert_clean(h.check(final={"k": None, "untouched": None}))


def test_final_state_may_be_an_info_write_after_an_acknowledged_one():
    h = H()
    h.w("k", "a", 0, 1, INFO)
    h.w("k", "b", 5, 6)
    assert_clean(h.check(final={"k": "a"}))


def test_applied_orders_that_are_fine():
    h = H()
    h.w("k", "a", 0, 10)
    h.w("k", "b", 5, 15, client="c3")  # concurrent: either order
    h.w("k", "c", 20, 21, INFO)  # never applied
    h.w("k", "d", 22, 23, FAIL)  # refused, not applied
    assert_clean(h.check(applied={"k": ["b", "a"]}))
    assert_clean(h.check(applied={"k": ["a", "b"]}))
    # A journal may coalesce: 'a' never applied, but 'b' followed it.
    h2 = H()
    h2.w("k", "a", 0, 1)
    h2.w("k", "b", 2, 3)
    assert_clean(h2.check(applied={"k": ["b"]}))
    # Replayed twice (at least once), in order.
    assert_clean(h2.check(applied={"k": ["a", "a", "b"]}))


def test_old_value_served_while_nobody_wrote_the_key():
    # An L1 copy during an outage: right as long as no write followed it.
    h = H()
    h.w("k", "a", 0, 1)
    for t in range(2, 40, 2):
        h.r("k", "a", t, t + 1)
    h.w("other", "x", 5, 6)
    assert_clean(h.check(final={"k": "a", "other": "x"}))


def test_mget_seeing_all_none_or_newer_of_an_mset():
    h = H()
    h.mset({"a": "a0", "b": "b0"}, 0, 1)
    h.mset({"a": "a1", "b": "b1"}, 2, 3)
    h.mget({"a": "a0", "b": "b0"}, 2, 6)  # before the MSET took effect
    h.mget({"a": "a1", "b": "b1"}, 2, 6)  # after
    h.w("b", "b2", 2, 9, client="c4")  # concurrent with everything
    h.mget({"a": "a1", "b": "b2"}, 2, 6)  # newer than the MSET on b: fine
    assert_clean(h.check())


def test_mset_read_as_separate_gets_is_not_judged_as_torn():
    # Two GETs are not one atomic read: a1 then b0 is fine when the MSET is still in flight.
    h = H()
    h.mset({"a": "a0", "b": "b0"}, 0, 1)
    h.mset({"a": "a1", "b": "b1"}, 2, 10)
    h.r("a", "a1", 3, 4)
    h.r("b", "b0", 5, 6)
    assert_clean(h.check())


def test_sequential_linearizable_history_from_a_simulated_register():
    # Many clients, operations at random linearization points inside random intervals, values
    # taken from a real register at those points: linearizable by construction.
    rnd = random.Random(7)
    h = H()
    pending = []
    for client in range(6):
        t = rnd.randint(0, 5)
        for seq in range(150):
            start = t
            point = start + rnd.randint(0, 20)
            end = point + rnd.randint(0, 20)
            t = end + rnd.randint(1, 5)
            key = f"k{rnd.randint(0, 4)}"
            if rnd.random() < 0.4:
                outcome = OK if rnd.random() < 0.9 else INFO
                pending.append((point, WRITE, key, f"c{client}-{seq}", start, end, outcome,
                                f"c{client}"))
            else:
                pending.append((point, READ, key, None, start, end, OK, f"c{client}"))
    state = {}
    for point, type_, key, value, start, end, outcome, client in sorted(pending):
        if type_ == WRITE:
            state[key] = value
            h.h.write(client, "SET", [(key, value)], start, end, outcome)
        else:
            h.h.read(client, "GET", [key], [state.get(key)], start, end, OK)
    rep = h.check(final={f"k{i}": state.get(f"k{i}") for i in range(5)})
    assert_clean(rep)
    assert rep.events == len(pending)


# --------------------------------------------------------------------------------------------
# the statistics


def test_counts_latencies_and_seen_keys_by_phase():
    h = H()
    h.h.mark("before", 0)
    h.w("seen", "a", 1, 2)
    h.r("seen", "a", 3, 4_000_003)  # 4 ms
    h.h.mark("during", 10_000_000)
    h.r("seen", None, 10_000_001, 10_000_002, FAIL)
    h.w("seen", "b", 11_000_000, 11_000_001)
    h.r("seen", None, 12_000_000, 12_000_001, INFO)
    h.w("new", "x", 13_000_000, 13_000_001, FAIL)
    h.h.mark("after", 20_000_000)
    h.r("new", None, 21_000_000, 23_000_000)
    rep = h.check()
    assert rep.count("before", "seen", READ, OK) == 1
    assert rep.read_failures("during") == 2
    assert rep.count("during", "unseen", WRITE, FAIL) == 1
    assert rep.read_errors_seen == {"during": {"l1_copy_expected": 1, "written_since_fault": 1}}
    assert rep.latency["before"]["p99"] == pytest.approx(4.0)
    assert rep.latency_seen["after"]["unseen"]["p50"] == pytest.approx(2.0)
    assert rep.phases() == ["before", "during", "after"]
    assert "during   seen" in rep.summary()


def test_summary_shows_violations_of_every_kind_first():
    h = H()
    for i in range(20):
        h.w(f"k{i}", "a", 0, 1)
        h.w(f"k{i}", "b", 2, 3)
        h.r(f"k{i}", "a", 4, 5)
    h.r("x", "never", 0, 1)
    text = h.check().summary(limit=10)
    assert "[impossible]" in text and "[stale]" in text and "[nonlinearizable]" in text
    assert "first 10 of 41 violations" in text


# --------------------------------------------------------------------------------------------
# against a brute-force search


def brute_force_linearizable(ops) -> bool:
    """Is there an order of `ops` (one key; (type, value, invoke, complete, outcome)) that keeps
    real-time order (a before b when a.complete < b.invoke; info completes at +inf) and makes
    every read return the register's value? Failed writes never apply; an info write applies or
    not."""
    writes = [o for o in ops if o[0] == WRITE and o[4] != FAIL]
    reads = [o for o in ops if o[0] == READ]
    infos = [w for w in writes if w[4] == INFO]
    oks = [w for w in writes if w[4] == OK]
    for mask in range(1 << len(infos)):
        chosen = oks + [w for i, w in enumerate(infos) if mask >> i & 1]
        items = tuple(chosen + reads)

        def end(o):
            return INF if o[4] == INFO else o[3]

        @functools.lru_cache(maxsize=None)
        def search(remaining: frozenset, value) -> bool:
            if not remaining:
                return True
            for i in remaining:
                o = items[i]
                if any(end(items[j]) < o[2] for j in remaining if j != i):
                    continue  # something still unplaced must come first
                if o[0] == WRITE:
                    if search(remaining - {i}, o[1]):
                        return True
                elif o[1] == value and search(remaining - {i}, value):
                    return True
            return False

        if search(frozenset(range(len(items))), None):
            return True
    return False


def random_history(rnd: random.Random):
    ops = []
    values = []
    for i in range(rnd.randint(1, 3)):
        a = rnd.randint(0, 10)
        outcome = rnd.choices([OK, INFO, FAIL], [6, 2, 1])[0]
        ops.append((WRITE, f"v{i}", a, a + rnd.randint(0, 6), outcome))
        values.append(f"v{i}")
    for _ in range(rnd.randint(1, 4)):
        a = rnd.randint(0, 14)
        ops.append((READ, rnd.choice(values + [None]), a, a + rnd.randint(0, 5), OK))
    return ops


def test_agrees_with_brute_force_on_random_histories():
    rnd = random.Random(12345)
    results = {True: 0, False: 0}
    for n in range(4000):
        ops = random_history(rnd)
        h = History()
        h.t0 = 0
        for type_, value, a, b, outcome in ops:
            if type_ == WRITE:
                h.write("c", "SET", [("k", value)], a, b, outcome)
            else:
                h.read("c", "GET", [("k")], [value], a, b, OK)
        want = brute_force_linearizable(ops)
        rep = check(h)
        got = not rep.violations
        assert got == want, (f"history {n}: brute force says linearizable={want}, checker "
                             f"{rep.by_kind()}\n{ops}\n{rep.summary()}")
        results[want] += 1
    # Both kinds of history were exercised.
    assert min(results.values()) > 500, results


def test_final_state_agrees_with_brute_force():
    # The final state is a read after everything: judged as one.
    rnd = random.Random(99)
    for n in range(2000):
        ops = random_history(rnd)
        final = rnd.choice([o[1] for o in ops if o[0] == WRITE] + [None])
        h = History()
        h.t0 = 0
        for type_, value, a, b, outcome in ops:
            if type_ == WRITE:
                h.write("c", "SET", [("k", value)], a, b, outcome)
            else:
                h.read("c", "GET", ["k"], [value], a, b, OK)
        want = brute_force_linearizable(ops + [(READ, final, 100, 100, OK)])
        rep = check(h, final={"k": final}, final_time=100)
        assert (not rep.violations) == want, (f"history {n}: final={final!r} brute={want}\n"
                                              f"{ops}\n{rep.summary()}")


def test_a_read_of_a_seen_and_an_unseen_key_counts_as_unseen():
    # Copies cannot answer an MGET whose other key seawall never saw: its failure is not one of
    # "a seen key got no value", whichever key's event it is.
    h = History()
    h.mark("before", 0)
    h.write("p0", "SET", [("a", "1")], 1, 2, OK)
    h.read("p0", "GET", ["a"], ["1"], 3, 4, OK)
    h.mark("during", 10)
    h.read("p0", "MGET", ["a", "u"], None, 11, 12, FAIL, "UNAVAILABLE")
    h.read("p0", "GET", ["a"], None, 13, 14, FAIL, "UNAVAILABLE")
    rep = check(h)
    assert rep.read_failures("during", "seen") == 1
    assert rep.read_failures("during", "unseen") == 2
    assert rep.read_errors_seen == {"during": {"l1_copy_expected": 1}}
