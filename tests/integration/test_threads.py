"""Two worker threads answering from the fallback at once.

With `threads: 2` each worker has its own sessions and upstream connections, but both share one
policy::Fallback and one L1 (proxy::SharedState). While the breaker is open every MGET is
assembled key by key by that one Fallback on whichever thread the client landed on, so state in
it that is not per-thread lets two MGETs answer each other's keys (a wrong value, or garbage if a
buffer is reallocated under the other thread). Many clients on both threads pipeline MGETs of
their own keys, whose L1 copies differ from every other key's and from what Redis now holds, and
each must get exactly its own values. Under TSan a race is also reported by seawall itself; the
harness fails the test with the report when it stops seawall.
"""

from __future__ import annotations

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))

from faults import upstream  # noqa: E402
from harness import RawConnection, encode_command, http, sample, scrape  # noqa: E402

CLIENTS = 16
KEYS_PER_CLIENT = 4
# MGETs written at once by each client: a session then runs that many fallback MGETs back to
# back, so the two threads are inside the fallback at the same time as often as possible.
PIPELINE = 32
ROUNDS = 60

POLICIES = [{"match": "k:*", "l1": {"ttl": "1s", "max_stale": "5m"}}]


def key(client: int, j: int) -> str:
    # Lengths differ from key to key (up to ~170 bytes) so that a shared buffer also grows while
    # another thread reads it, not only gets overwritten.
    return f"k:{client}:{j}:" + "x" * ((client * 37 + j * 11) % 160)


def l1_value(client: int, j: int) -> bytes:
    return f"l1-{client}-{j}-".encode() + b"v" * ((client * 13 + j * 29) % 90)


def bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def clients_per_thread(port: int) -> list[int]:
    with RawConnection(port) as c:
        reply = c.request("INFO", "clients").decode()
    for line in reply.splitlines():
        if line.startswith("clients_per_thread:"):
            return [int(n) for n in line.split(":", 1)[1].split(",")]
    raise AssertionError(f"no clients_per_thread in INFO clients:\n{reply}")


def test_fallback_mgets_on_two_threads_get_their_own_keys(make_seawall, redis_server):
    sw = make_seawall(threads=2, upstreams=[upstream("main", redis_server.port)],
                      policies=POLICIES, introspection={"info": "seawall"})
    keys = {(i, j): key(i, j) for i in range(CLIENTS) for j in range(KEYS_PER_CLIENT)}

    # Fill the L1 through seawall, then change every key behind its back: an answer with a
    # Redis value did not come from the fallback, one with another key's value came from the
    # wrong key.
    with sw.raw() as c, redis_server.raw() as direct:
        for (i, j), k in keys.items():
            assert c.request("SET", k, l1_value(i, j)) == b"+OK\r\n"
            assert c.request("GET", k) == bulk(l1_value(i, j))
        for (i, j), k in keys.items():
            assert direct.request("SET", k, f"redis-{i}-{j}") == b"+OK\r\n"

    status, _, body = http(sw.admin_port, "/breakers/main/open", method="POST")
    assert status == 200, body
    before = scrape(sw.admin_port)
    fallback_before = sum(sample(before, "seawall_answers_total", source=s)
                          for s in ("l1_fresh", "l1_stale"))

    conns = [sw.raw(timeout=30) for _ in range(CLIENTS)]
    wrong: list[str] = []
    crashed: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)
    try:
        # A session answers its PING once its worker has accepted and registered it.
        for conn in conns:
            assert conn.request("PING") == b"+PONG\r\n"
        # The kernel spreads connections over both threads' listeners (SO_REUSEPORT); with one
        # thread idle the test would prove nothing.
        per_thread = clients_per_thread(sw.port)
        assert len(per_thread) == 2 and min(per_thread) > 0, per_thread

        def run(i: int, conn: RawConnection) -> None:
            try:
                # Each round rotates the client's keys, so one MGET's keys come in every order.
                batch, expected = [], []
                for r in range(PIPELINE):
                    order = [(r + n) % KEYS_PER_CLIENT for n in range(KEYS_PER_CLIENT)]
                    batch.append(encode_command("MGET", *(keys[i, j] for j in order)))
                    expected.append(b"*%d\r\n" % KEYS_PER_CLIENT
                                    + b"".join(bulk(l1_value(i, j)) for j in order))
                payload = b"".join(batch)
                start.wait(timeout=30)
                for rnd in range(ROUNDS):
                    conn.send(payload)
                    for r, want in enumerate(expected):
                        got = conn.read_reply()
                        if got != want:
                            with lock:
                                wrong.append(f"client {i} round {rnd} MGET {r}: "
                                             f"wanted {want[:120]!r}, got {got[:120]!r}")
            except BaseException as e:  # noqa: BLE001 - reported below with the others
                with lock:
                    crashed.append(e)

        threads = [threading.Thread(target=run, args=(i, conn), daemon=True)
                   for i, conn in enumerate(conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "client threads hung"
    finally:
        for conn in conns:
            conn.close()

    # Its log, with any sanitizer report in full, is shown when the fixture stops it.
    assert sw.alive(), "seawall died under concurrent fallback MGETs"
    assert not crashed, f"{len(crashed)} clients failed; first: {crashed[0]!r}"
    total = CLIENTS * ROUNDS * PIPELINE
    assert not wrong, (f"{len(wrong)} of {total} fallback MGETs got a wrong answer (another "
                       f"key's value, or a miss for a cached key):\n" + "\n".join(wrong[:10]))
    # Every MGET was answered by the fallback, from the L1 (not by Redis, not by an error).
    after = scrape(sw.admin_port)
    fallback_after = sum(sample(after, "seawall_answers_total", source=s)
                         for s in ("l1_fresh", "l1_stale"))
    assert fallback_after - fallback_before >= total
