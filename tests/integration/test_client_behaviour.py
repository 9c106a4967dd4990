"""Client behaviour through seawall's default config, side by side with direct Redis (issue 14):
each test runs the same steps with redis-py and with ioredis (node/behaviour_ioredis.mjs), in
their default settings, once against a redis-server of their own and once through seawall in
front of another, and compares what the application observes."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import redis

from harness import node_across_restart, wait_until

NODE_DIR = Path(__file__).parent / "node"


def node_observe(node: str, port: int, case: str) -> dict:
    proc = subprocess.run([node, "behaviour_ioredis.mjs", str(port), case], cwd=NODE_DIR,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{case} on {port}: exit {proc.returncode}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, single_connection_client=True)


def close(*clients: redis.Redis) -> None:
    for c in clients:
        c.close()  # gives its connection back to the pool...
        c.connection_pool.disconnect()  # ...which closes it


def settled(port: int) -> None:
    """Waits until the clients of an observation have gone (Redis and seawall see a close late)."""
    c = client(port)
    try:
        try:
            wait_until(lambda: len(c.client_list()) == 1, 10, "earlier clients to be gone")
        except TimeoutError:
            raise AssertionError(c.client_list()) from None
    finally:
        close(c)


# ---- 1. introspection -----------------------------------------------------------------------


def py_introspection(port: int) -> dict:
    a, b = client(port), client(port)
    try:
        out = {"setname": a.client_setname("py-a")}
        my_id = a.client_id()
        listed = {c["id"]: c for c in b.client_list()}
        out["listed_name"] = listed[str(my_id)]["name"]
        out["info_name"] = a.client_info()["name"]
        out["getname"] = a.client_getname()
        info = a.info()
        out["has_redis_version"] = "redis_version" in info
        out["connected_clients"] = a.info("clients")["connected_clients"]
        out["kill_by_id"] = b.client_kill_filter(_id=my_id)
        try:
            a.ping()
            out["after_kill"] = "answered"
        except redis.ConnectionError:
            out["after_kill"] = "connection error"
        a.ping()  # reconnected
        out["kill_user"] = b.client_kill_filter(user="default", skipme=True)
        try:
            b.client_kill_filter(user="nobody")
        except redis.ResponseError as e:
            out["kill_unknown_user"] = str(e)
        try:
            b.client_kill("127.0.0.1:1")  # the old form, for no such client
        except redis.ResponseError as e:
            out["kill_addr_old_form"] = str(e)
    finally:
        close(a, b)
    return out


def test_introspection_describes_the_applications_own_connections(make_seawall, direct_server,
                                                                  node_modules):
    sw = make_seawall()
    through, direct = py_introspection(sw.port), py_introspection(direct_server.port)
    assert through == direct
    assert direct["listed_name"] == "py-a" and direct["kill_by_id"] == 1
    settled(sw.port)
    settled(direct_server.port)
    assert node_observe(node_modules, sw.port, "introspection") == node_observe(
        node_modules, direct_server.port, "introspection")


def test_info_merges_redis_sections_with_seawalls(make_seawall, redis_server):
    sw = make_seawall()
    c = client(sw.port)
    try:
        info = c.info()
        # Redis's fields, as client libraries read them...
        assert info["redis_version"] and info["role"] == "master" and "used_memory" in info
        # ...its client count replaced by seawall's (this one client)...
        assert info["connected_clients"] == 1
        # ...and seawall's own section.
        assert info["seawall_version"] and info["answers_upstream"] >= 0
        assert info["upstream0"]["breaker"] == "closed"
        assert set(c.info("server")) >= {"redis_version", "tcp_port"}
        assert "seawall_version" not in c.info("server")
        assert "redis_version" not in c.info("seawall")
        assert c.info("seawall")["connected_clients"] == 1
        assert c.info("keyspace") == {}
        # Redis down: INFO still answers, with seawall's sections.
        redis_server.kill9()
        wait_until(lambda: "open" in c.info("seawall")["upstream0"]["breaker"], 10,
                   "the breaker to open")
        down = c.info()
        assert "redis_version" not in down and down["connected_clients"] == 1
        assert c.info("clients")["connected_clients"] == 1
    finally:
        close(c)


def test_raw_redis_view_stays_available(make_seawall, redis_server):
    sw = make_seawall(introspection={"client_list": "upstream", "info": "upstream"})
    c = client(sw.port)
    try:
        assert "seawall_version" not in c.info()
        assert all(x["laddr"] == redis_server.address for x in c.client_list())
    finally:
        close(c)


# ---- 2. CLIENT PAUSE ------------------------------------------------------------------------

# seawall's own defaults for deadlines and slow calls (the harness makes them generous): a pause
# far longer than request_timeout must still be waited out, and not trip the breaker.
DEFAULT_DEADLINES = {"request_timeout": "100ms", "breaker": {"slow_call_duration": "50ms"}}


def seawall_with_default_deadlines(make_seawall, redis_server):
    return make_seawall(upstreams=[{"name": "main", "address": redis_server.address,
                                    "connections": 2, **DEFAULT_DEADLINES}])


def py_pause(port: int) -> dict:
    app, admin = client(port), client(port)
    out = {}
    try:
        app.set("p:k", "before")
        for mode in ("WRITE", "ALL"):
            out[f"pause {mode}"] = admin.execute_command("CLIENT", "PAUSE", 1000, mode)
            t0 = time.monotonic()
            out[f"write during {mode}"] = app.set("p:k", mode)
            waited = time.monotonic() - t0
            out[f"waited the pause {mode}"] = 0.8 < waited < 3
            out[f"read after {mode}"] = app.get("p:k")
        admin.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
        unpause = threading.Timer(0.3, lambda: admin.execute_command("CLIENT", "UNPAUSE"))
        unpause.start()
        t0 = time.monotonic()
        out["write until unpause"] = app.set("p:k", "unpaused")
        out["ended by unpause"] = time.monotonic() - t0 < 2
        unpause.join()
    finally:
        close(app, admin)
    return out


def breaker_state(port: int) -> str:
    c = client(port)
    try:
        return c.info("seawall")["upstream0"]["breaker"]
    finally:
        close(c)


def test_client_pause_waits_instead_of_failing(make_seawall, redis_server, direct_server,
                                               node_modules):
    sw = seawall_with_default_deadlines(make_seawall, redis_server)
    through, direct = py_pause(sw.port), py_pause(direct_server.port)
    assert through == direct
    assert direct["write during WRITE"] is True and direct["waited the pause WRITE"]
    assert breaker_state(sw.port) == "closed"
    assert node_observe(node_modules, sw.port, "pause") == node_observe(
        node_modules, direct_server.port, "pause")
    assert breaker_state(sw.port) == "closed"
    assert "outcome unknown" not in sw.log_text()


# ---- 3. MONITOR -----------------------------------------------------------------------------


def py_monitor(port: int) -> list:
    app, watcher = client(port), redis.Redis(host="127.0.0.1", port=port)
    try:
        app.ping()
        me = "%s:%s" % app.connection._sock.getsockname()[:2]
        seen = []
        with watcher.monitor() as m:
            time.sleep(0.3)  # a health check's period, were it shown
            app.set("m:k", 'v "1"\n')
            app.get("m:k")
            app.execute_command("SELECT", 3)
            app.set("m:k3", "x")
            app.execute_command("SELECT", 0)
            app.execute_command("CONFIG", "GET", "maxmemory")  # admin: Redis does not show it
            app.hget("m:h", "f")
            for _ in range(6):
                c = m.next_command()
                address = f"{c['client_address']}:{c['client_port']}"
                seen.append((c["db"], "app" if address == me else address, c["command"]))
        return seen
    finally:
        close(app, watcher)


def test_monitor_shows_the_applications_commands(make_seawall, redis_server, direct_server,
                                                 node_modules):
    # Health checks often: none may show.
    sw = make_seawall(upstreams=[{"name": "main", "address": redis_server.address,
                                  "connections": 2, "request_timeout": "2s",
                                  "breaker": {"slow_call_duration": "2s"},
                                  "health_check": {"interval": "50ms"}}])
    through, direct = py_monitor(sw.port), py_monitor(direct_server.port)
    assert through == direct
    assert all(who == "app" for _, who, _ in direct)
    assert [d for d, _, _ in direct] == [0, 0, 3, 3, 0, 0]  # SELECT shows the db it selected
    assert node_observe(node_modules, sw.port, "monitor") == node_observe(
        node_modules, direct_server.port, "monitor")


# ---- 4. CLIENT TRACKING ---------------------------------------------------------------------


def py_tracking(port: int) -> dict:
    sub, app, writer = client(port), client(port), client(port)
    out = {}
    try:
        sub_id = sub.client_id()
        sub.connection.send_command("SUBSCRIBE", "__redis__:invalidate")
        out["subscribed"] = sub.connection.read_response()
        # RESP2 tracking: invalidations go to the subscriber the id names.
        out["tracking"] = app.execute_command("CLIENT", "TRACKING", "on", "REDIRECT", sub_id)
        app.get("t:k")
        out["write"] = writer.set("t:k", "x")
        out["invalidation"] = sub.connection.read_response()
        app.get("t:k")
        writer.delete("t:k")
        out["second invalidation"] = sub.connection.read_response()
        try:
            app.execute_command("CLIENT", "TRACKING", "on", "REDIRECT", 987654)
        except redis.ResponseError as e:
            out["unknown id"] = str(e)
        # RESP3 on its own connection, as before.
        with redis_resp3(port) as c:
            out["resp3"] = [c.request("CLIENT", "TRACKING", "on"), c.request("GET", "t:k3")]
            writer.set("t:k3", "y")
            out["resp3 push"] = c.read_reply()
    finally:
        close(sub, app, writer)
    return out


class redis_resp3:
    """A raw RESP3 connection (redis-py 4.3 has no RESP3)."""

    def __init__(self, port: int):
        from harness import RawConnection
        self.conn = RawConnection(port)

    def __enter__(self):
        assert self.conn.request("HELLO", "3").startswith(b"%")
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


def test_client_tracking_redirect_with_seawalls_ids(make_seawall, direct_server, node_modules):
    sw = make_seawall()
    through, direct = py_tracking(sw.port), py_tracking(direct_server.port)
    assert through == direct
    assert direct["invalidation"] == [b"message", b"__redis__:invalidate", [b"t:k"]]
    assert node_observe(node_modules, sw.port, "tracking") == node_observe(
        node_modules, direct_server.port, "tracking")


# ---- 5. reconnects --------------------------------------------------------------------------



def test_db3_commands_resent_after_restart_stay_in_db3(make_seawall, redis_server, direct_server,
                                                       node_modules):
    sw = make_seawall()
    direct = node_across_restart(node_modules, direct_server.port, direct_server, "reconnect_db")
    through = node_across_restart(node_modules, sw.port, redis_server, "reconnect_db")
    # Direct, ioredis waits for Redis and resends both in database 3.
    assert direct["queued"] == "OK" and direct["blpop"] == ["n:q", "v"]
    assert direct["queued_ran_in"] == {"db3": "x", "db0": None}
    assert direct["later_write"] == "OK" and direct["later_in"] == {"db3": "y", "db0": None}
    # Through seawall the client's connection to seawall is closed with the dedicated one, and
    # closed again while its SELECT 3 finds Redis down, so ioredis retries with its backoff and
    # resends the same commands once Redis is back: they run in database 3, as direct.
    assert through == direct


def py_db3_across_outage(port: int, server) -> dict:
    """redis-py with db=3 (its default settings otherwise) while Redis is down, then back."""
    c = redis.Redis(host="127.0.0.1", port=port, db=3, socket_timeout=5)

    def outcome(fn) -> str:
        try:
            return repr(fn())
        except redis.ConnectionError:
            return "ConnectionError"
        except redis.RedisError as e:
            return f"{type(e).__name__} {str(e).split(' ')[0]}"

    try:
        out = {"before": outcome(lambda: c.set("p:before", "1"))}
        server.kill9()
        # The first command finds its connection gone; the next one a new connection, refused
        # direct, closed at its SELECT 3 through seawall.
        out["while_down"] = [outcome(lambda: c.set("p:down", "x")) for _ in range(3)]
        server.start()
        wait_until(lambda: outcome(lambda: c.set("p:after", "y")) == "True", 15,
                   "a SET in database 3 once Redis is back")
        with server.raw() as r:
            out["after_in"] = [r.request("SELECT", "3"), r.request("GET", "p:after"),
                               r.request("GET", "p:down"), r.request("SELECT", "0"),
                               r.request("GET", "p:after")]
        return out
    finally:
        close(c)


def test_py_db3_while_redis_down_sees_a_connection_error_as_direct(make_seawall, redis_server,
                                                                   direct_server):
    sw = make_seawall()
    direct = py_db3_across_outage(direct_server.port, direct_server)
    through = py_db3_across_outage(sw.port, redis_server)
    assert direct == {"before": "True", "while_down": ["ConnectionError"] * 3,
                      "after_in": [b"+OK\r\n", b"$1\r\ny\r\n", b"$-1\r\n", b"+OK\r\n",
                                   b"$-1\r\n"]}
    assert through == direct


def test_named_subscriber_resubscribes_after_restart(make_seawall, redis_server, direct_server,
                                                    node_modules):
    sw = make_seawall()
    direct = node_across_restart(node_modules, direct_server.port, direct_server, "resubscribe")
    through = node_across_restart(node_modules, sw.port, redis_server, "resubscribe")
    assert direct == {"got": [["n:ch", "m"]],
                      "listed": [{"name": "sub-1", "flags": "P", "sub": "1"}]}
    # seawall closes a subscriber whose SUBSCRIBE finds Redis down, so that it retries.
    assert through == direct
