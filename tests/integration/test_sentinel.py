"""A sentinel-managed upstream (`upstreams[].sentinel`) against real Redis Sentinel: one primary,
one replica and three `redis-server sentinel.conf --sentinel` processes, all on free loopback
ports, started by each test.

  - seawall finds the primary through the sentinels (redis-cli and redis-py read and write
    through it; /status and /metrics name the master);
  - SENTINEL FAILOVER under concurrent reads and writes: seawall follows the switch, reads during
    it come from the L1 (no errors), writes after it land on the new primary, and the whole
    history (history.py, the linearizability checker) has no stale read and no acknowledged
    write lost;
  - kill -9 of the primary: the same, and the writes journaled while the breaker was open
    (writes_when_open: journal) are replayed to the promoted replica;
  - a config with both `address:` and `sentinel:` is refused, naming the key.

Sentinels learn of the replica from INFO and of each other from hello messages every 2 s, so
each test first waits until every sentinel lists the other two and the replica; then a failover
takes 2-3 s (down-after-milliseconds 1000).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

import faults  # noqa: E402
import lin_workload  # noqa: E402
from harness import (  # noqa: E402
    LOOPBACK,
    listens_on,
    RawConnection,
    RedisServer,
    Seawall,
    _die_with_parent,
    free_port,
    http,
    sample,
    scrape,
    seawall_binary,
    tail,
    wait_until,
)
from history import History, check, now  # noqa: E402

MASTER = "mymaster"
# Reads of keys seen before the fault that got no value, at most (as test_linearizable_faults).
MAX_READ_FAILURE_SHARE = float(os.environ.get("SEAWALL_LIN_MAX_READ_FAILURES", "0.005"))


class Sentinel:
    """`redis-server sentinel.conf --sentinel` on a free loopback port, in its own directory (a
    sentinel rewrites its config file)."""

    def __init__(self, workdir: Path, master_port: int):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = self.workdir / "sentinel.conf"
        self.conf.write_text("\n".join([
            f"port {self.port}",
            f"bind {LOOPBACK}",
            "protected-mode no",
            f"dir {self.workdir}",
            # Announce loopback only, whatever the host's interfaces are.
            f"sentinel announce-ip {LOOPBACK}",
            f"sentinel monitor {MASTER} {LOOPBACK} {master_port} 2",
            f"sentinel down-after-milliseconds {MASTER} 1000",
            f"sentinel failover-timeout {MASTER} 5000",
            f"sentinel parallel-syncs {MASTER} 1",
            "",
        ]))
        self.log_path = self.workdir / "sentinel.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["redis-server", str(self.conf), "--sentinel"],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        wait_until(lambda: self._pings(), 10, f"sentinel on port {self.port}")

    def _pings(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"sentinel exited: {tail(self.log_path)}")
        try:
            return self.client().ping() and listens_on(self.proc.pid, self.port)
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=2, decode_responses=True)

    def master_address(self) -> tuple:
        host, port = self.client().execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
        return host, int(port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # our own child, by PID
            self.proc.wait(timeout=10)
        self._log.close()


class SentinelSetup:
    """A primary (append-only, fsync always), a replica of it, and three sentinels."""

    def __init__(self, workdir: Path):
        args = ["--appendonly", "yes", "--appendfsync", "always",
                "--auto-aof-rewrite-percentage", "0", "--replica-announce-ip", LOOPBACK]
        self.primary = RedisServer(workdir / "primary", extra_args=args)
        self.primary.start()
        self.replica = RedisServer(workdir / "replica",
                                   extra_args=[*args, "--replicaof", LOOPBACK,
                                               str(self.primary.port)])
        self.replica.start()
        self.sentinels: list[Sentinel] = []
        try:
            wait_until(lambda: self._replica_synced(), 15, "the replica to sync")
            for i in range(3):
                self.sentinels.append(Sentinel(workdir / f"sentinel{i}", self.primary.port))
            wait_until(self._sentinels_know_everyone, 30,
                       "every sentinel to list the other two and the replica")
        except BaseException:
            self.stop()
            raise

    def _replica_synced(self) -> bool:
        info = redis.Redis(host=LOOPBACK, port=self.replica.port, socket_timeout=2).info(
            "replication")
        return info.get("master_link_status") == "up"

    def _sentinels_know_everyone(self) -> bool:
        for s in self.sentinels:
            c = s.client()
            if len(c.execute_command("SENTINEL", "sentinels", MASTER)) < 2:
                return False
            replicas = c.execute_command("SENTINEL", "replicas", MASTER)
            if not replicas:
                return False
        return True

    def server_at(self, port: int) -> RedisServer:
        return self.primary if port == self.primary.port else self.replica

    def role(self, port: int) -> str:
        try:
            return redis.Redis(host=LOOPBACK, port=port, socket_timeout=1).execute_command(
                "ROLE")[0].decode()
        except redis.RedisError:
            return "down"

    def wait_all_sentinels_name(self, port: int, timeout: float) -> None:
        def named() -> bool:
            for s in self.sentinels:
                try:
                    if s.master_address() != (LOOPBACK, port):
                        return False
                except redis.RedisError:
                    return False
            return True
        wait_until(named, timeout, f"every sentinel to name {port} as the master", interval=0.1)

    def sentinel_config(self) -> dict:
        return {"sentinels": [f"{LOOPBACK}:{s.port}" for s in self.sentinels], "master": MASTER}

    def stop(self) -> None:
        for s in self.sentinels:
            s.stop()
        self.replica.stop()
        self.primary.stop()


@pytest.fixture
def setup(tmp_path):
    s = SentinelSetup(tmp_path / "redis")
    yield s
    s.stop()


def sentinel_upstream(setup: SentinelSetup, **extra) -> dict:
    up = faults.upstream("main", 0, **extra)
    del up["address"]
    up["sentinel"] = setup.sentinel_config()
    return up


def status_upstream(sw: Seawall) -> dict:
    code, _, body = http(sw.admin_port, "/status")
    assert code == 200, body
    return json.loads(body)["upstreams"][0]


def test_finds_the_primary_and_serves_through_it(tmp_path, setup):
    sw = Seawall(tmp_path / "seawall", 0, {"upstreams": [sentinel_upstream(setup)]})
    sw.start()
    try:
        sw.wait_ready()
        primary = f"{LOOPBACK}:{setup.primary.port}"
        # redis-cli and redis-py through seawall.
        out = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(sw.port), "SET", "k1", "v1"],
                             capture_output=True, text=True, timeout=10)
        assert out.stdout.strip() == "OK", out
        out = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(sw.port), "GET", "k1"],
                             capture_output=True, text=True, timeout=10)
        assert out.stdout.strip() == "v1", out
        c = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=5)
        assert c.set("k2", "v2") is True
        assert c.get("k2") == b"v2"
        assert c.mget("k1", "k2") == [b"v1", b"v2"]
        # The writes are on the primary (and replicated), none went elsewhere.
        direct = redis.Redis(host=LOOPBACK, port=setup.primary.port, socket_timeout=5)
        assert direct.get("k2") == b"v2"
        # /status and /metrics name the master.
        st = status_upstream(sw)
        assert st["address"] == primary, st
        assert st["sentinel"] == {"master_name": MASTER, "master": primary,
                                  "failover_in_progress": False, "switches": 0,
                                  "resolve_failures": 0}, st
        families = scrape(sw.admin_port)
        assert sample(families, "seawall_sentinel_master", upstream="main", address=primary) == 1
        assert sample(families, "seawall_sentinel_master_switches_total", upstream="main") == 0
        # A pinned session (MULTI) reaches the primary too.
        with RawConnection(sw.port) as raw:
            assert raw.request("MULTI") == b"+OK\r\n"
            assert raw.request("SET", "k3", "v3") == b"+QUEUED\r\n"
            assert raw.request("EXEC") == b"*1\r\n+OK\r\n"
        assert direct.get("k3") == b"v3"
    finally:
        sw.stop()


def run_failover(tmp_path: Path, setup: SentinelSetup, fault: str) -> None:
    """The linearizability workload (lin_workload's clients) through seawall while `fault`
    moves the master, then the history check."""
    scenario = lin_workload.Scenario(fault=fault, clients=4, keys=100, unseen_keys=10)
    config = lin_workload.seawall_config(0, scenario)
    config["upstreams"] = [sentinel_upstream(setup)]
    sw = Seawall(tmp_path / "seawall", 0, config)
    sw.start()
    clients: list = []
    stop = threading.Event()
    try:
        sw.wait_ready()
        log = faults.BreakerLog(sw.log_path)
        history = History()
        keys = lin_workload.Keys(scenario.keys, scenario.unseen_keys)
        history.mark("before")
        c = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=lin_workload.CLIENT_TIMEOUT_S)
        lin_workload.write_seen_keys(c, keys, history, read_back=True)
        c.connection_pool.disconnect()

        rnd = random.Random(7 + len(fault))
        for i in range(scenario.clients):
            clients.append(lin_workload.PlainClient(f"p{i}", sw.port, history, keys, rnd.random(),
                                                    scenario.pause_s, stop))
        clients.append(lin_workload.MultiClient("multi", sw.port, history, keys, rnd.random(),
                                                scenario.pause_s, stop))
        clients.append(lin_workload.Resp3Client("resp3", sw.port, history, keys, rnd.random(),
                                                scenario.pause_s, stop))
        for client in clients:
            client.start()
        time.sleep(1.0)

        old, new = setup.primary, setup.replica
        history.mark("during")
        keys.open_unseen()
        t_fault = time.monotonic()
        if fault == "failover":
            assert setup.sentinels[0].client().execute_command(
                "SENTINEL", "FAILOVER", MASTER) == "OK"
        else:
            old.kill9()
        wait_until(lambda: setup.role(new.port) == "master", 15, "the replica's promotion",
                   interval=0.05)
        # seawall follows: its status names the new master and its breaker closes again.
        wait_until(lambda: status_upstream(sw)["address"] == f"{LOOPBACK}:{new.port}", 15,
                   "seawall to name the new master", interval=0.05)
        switched_after = time.monotonic() - t_fault
        log.wait_settled_closed(faults.recovery_bound() + 5)
        history.mark("after")
        time.sleep(1.5)
        stop.set()
        for client in clients:
            client.join(lin_workload.CLIENT_TIMEOUT_S * 3 + 5)
        stuck = [client.cname for client in clients if client.is_alive()]
        crashed = [(client.cname, client.crash) for client in clients if client.crash is not None]
        assert not stuck and not crashed, (stuck, crashed)

        # Recovery is complete once the journal is empty; then the new primary has it all.
        wait_until(lambda: lin_workload.journal_state(sw)["entries"] == 0, 20,
                   "the journal to be replayed")
        journal = lin_workload.journal_state(sw)
        direct = redis.Redis(host=LOOPBACK, port=new.port, socket_timeout=10)
        all_keys = keys.all()
        t_final = now()
        final = dict(zip(all_keys, (lin_workload._text(v) for v in direct.mget(all_keys))))
        report = check(history, final=final, final_time=t_final,
                       fills_cache=lambda e: not e.cmd.startswith(
                           lin_workload.Resp3Client.tag))
        summary = (f"fault={fault} switched after {switched_after:.2f}s; journal {journal}; "
                   f"transitions {log.transitions()}\n" + report.summary(10))
        print(summary)

        problems = []
        if report.violations:
            problems.append(f"{len(report.violations)} violations: {dict(report.by_kind())}")
        for phase in ("during", "after"):
            n = report.read_failures(phase, "seen")
            total = n + report.count(phase, "seen", "read", "ok")
            if total and n / total > MAX_READ_FAILURE_SHARE:
                problems.append(f"{n} of {total} reads of seen keys got no value {phase} the "
                                f"switch: {report.read_errors_seen.get(phase)}")
        if not report.count("during", "seen", "read", "ok"):
            problems.append("no reads answered during the switch")
        if fault == "kill9" and journal.get("replayed", 0) == 0:
            problems.append(f"no journaled write was replayed to the new master: {journal}")
        assert not problems, "\n".join(problems + ["", summary, "seawall log:", sw.log_tail()])

        # After the switch: a write through seawall is on the new primary, read directly.
        c = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=5)
        assert c.set("after-switch", fault) is True
        assert direct.get("after-switch") == fault.encode()
        out = subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(new.port), "GET",
                              "after-switch"], capture_output=True, text=True, timeout=10)
        assert out.stdout.strip() == fault, out
        st = status_upstream(sw)
        assert st["sentinel"]["switches"] >= 1 and not st["sentinel"]["failover_in_progress"], st
        families = scrape(sw.admin_port)
        assert sample(families, "seawall_sentinel_master", upstream="main",
                      address=f"{LOOPBACK}:{new.port}") == 1
        assert sample(families, "seawall_sentinel_master", upstream="main",
                      address=f"{LOOPBACK}:{old.port}") == 0
    finally:
        stop.set()
        for client in clients:
            if client.is_alive():
                client.join(lin_workload.CLIENT_TIMEOUT_S * 3 + 5)
        sw.stop()


def test_sentinel_failover_under_traffic(tmp_path, setup):
    run_failover(tmp_path, setup, "failover")


def test_kill9_of_the_primary_replays_the_journal_to_the_promoted_replica(tmp_path, setup):
    run_failover(tmp_path, setup, "kill9")


def test_address_and_sentinel_together_are_refused(tmp_path):
    config = tmp_path / "both.yaml"
    config.write_text("\n".join([
        "upstreams:",
        "  - name: main",
        "    address: 127.0.0.1:6379",
        "    sentinel:",
        "      sentinels: [\"127.0.0.1:26379\"]",
        "      master: mymaster",
        "",
    ]))
    out = subprocess.run([seawall_binary(), "--config", str(config)], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert f"{config}:4: upstreams[0].sentinel: set either address or sentinel, not both" in text, \
        text
