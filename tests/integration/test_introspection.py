"""Connection introspection: CLIENT INFO / SETNAME / SETINFO per client, and CLIENT LIST, CLIENT
KILL and INFO either passed to Redis (introspection: {client_list: upstream, info: upstream}) or
answered by seawall (client_list: seawall, the default; info: seawall), against a real
redis-server. INFO merged with Redis's (the default) is in test_client_behaviour.py."""

from __future__ import annotations

import pytest
import redis

from conftest import client_for
from harness import ConnectionClosed, RawConnection, wait_until

SEAWALL_MODE = {"introspection": {"client_list": "seawall", "info": "seawall"}}


def fields(line: str) -> dict:
    """`key=value ...` of one CLIENT INFO / CLIENT LIST line."""
    return dict(item.split("=", 1) for item in line.split(" "))


def lines(text) -> list[dict]:
    if isinstance(text, bytes):
        text = text.decode()
    return [fields(line) for line in text.split("\n") if line]


def bulk_text(reply: bytes) -> str:
    """The text of a raw RESP2 bulk reply."""
    header, _, rest = reply.partition(b"\r\n")
    assert header.startswith(b"$"), reply
    n = int(header[1:])
    assert rest[n:] == b"\r\n"
    return rest[:n].decode()


def single(port: int) -> redis.Redis:
    """A redis-py client on one fixed connection, so CLIENT ID and KILL name that connection."""
    return client_for(port, single_connection_client=True)


def sockname(conn) -> str:
    host, port = conn.sock.getsockname()[:2]
    return f"{host}:{port}"


# ---- always answered by seawall ----------------------------------------------------------------


def test_client_info_describes_the_calling_client(seawall):
    with seawall.raw() as c:
        assert c.request("CLIENT", "SETNAME", "app-1") == b"+OK\r\n"
        assert c.request("CLIENT", "SETINFO", "LIB-NAME", "mylib") == b"+OK\r\n"
        assert c.request("CLIENT", "SETINFO", "lib-ver", "1.2.3") == b"+OK\r\n"
        client_id = int(c.request("CLIENT", "ID")[1:-2])
        assert c.request("GET", "k") == b"$-1\r\n"
        (info,) = lines(bulk_text(c.request("CLIENT", "INFO")))
        assert info["id"] == str(client_id)
        assert info["addr"] == sockname(c)
        assert info["laddr"] == f"127.0.0.1:{seawall.port}"
        assert int(info["fd"]) > 0
        assert info["name"] == "app-1"
        assert info["lib-name"] == "mylib"
        assert info["lib-ver"] == "1.2.3"
        assert info["cmd"] == "client|info"
        assert (info["flags"], info["db"], info["multi"], info["resp"]) == ("N", "0", "-1", "2")
        assert int(info["age"]) >= 0 and int(info["idle"]) >= 0
        # As in Redis: the read buffer still holds "*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n".
        assert (info["qbuf"], info["argv-mem"]) == ("26", "10")
        # Redis 7.0's fields in Redis's order, then Redis 7.2's library fields.
        assert list(info) == [
            "id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub",
            "ssub", "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl",
            "oll", "omem", "tot-mem", "events", "cmd", "user", "redir", "resp", "lib-name",
            "lib-ver"]
        # Checked as Redis 7.2 checks them; an empty value clears.
        assert c.request("CLIENT", "SETINFO", "LIB-NAME", "my lib") == (
            b"-ERR LIB-NAME cannot contain spaces, newlines or special characters.\r\n")
        assert c.request("CLIENT", "SETINFO", "lib-colour", "x") == (
            b"-ERR Unrecognized option 'lib-colour'\r\n")
        assert c.request("CLIENT", "SETNAME", "a b") == (
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
        assert c.request("CLIENT", "SETINFO", "lib-ver", "") == b"+OK\r\n"
        (info,) = lines(bulk_text(c.request("CLIENT", "INFO")))
        assert (info["name"], info["lib-name"], info["lib-ver"]) == ("app-1", "mylib", "")


def test_client_info_with_redis_py(proxy_client):
    proxy_client.client_setname("py")
    proxy_client.execute_command("CLIENT", "SETINFO", "LIB-NAME", "redis-py")
    info = proxy_client.client_info()  # the same pooled connection: one client at a time
    assert info["name"] == "py"
    assert info["lib-name"] == "redis-py"
    assert int(info["id"]) == proxy_client.client_id()


def test_upstream_mode_passes_client_list_and_info_to_redis(make_seawall, redis_server):
    sw = make_seawall(introspection={"client_list": "upstream", "info": "upstream"})
    with sw.raw() as c:
        listed = lines(bulk_text(c.request("CLIENT", "LIST")))
        # Redis lists seawall's connections to it, not this client.
        assert listed and all(line["laddr"] == redis_server.address for line in listed)
        assert sockname(c) not in [line["addr"] for line in listed]
        assert "redis_version:" in bulk_text(c.request("INFO", "server"))


# ---- introspection: seawall ---------------------------------------------------------------------


def test_client_list_and_kill_span_worker_threads(make_seawall):
    sw = make_seawall(threads=2, **SEAWALL_MODE)
    clients = [single(sw.port) for _ in range(16)]
    try:
        ids = [c.client_id() for c in clients]
        me, others = clients[0], clients[1:]
        # The kernel spreads connections over both threads' listeners (SO_REUSEPORT).
        per_thread = [int(n) for n in
                      str(me.info("clients")["clients_per_thread"]).split(",")]
        assert len(per_thread) == 2 and min(per_thread) > 0, per_thread
        listed = lines(me.execute_command("CLIENT", "LIST"))
        by_id = {int(line["id"]): line for line in listed}
        assert set(ids) <= set(by_id)
        assert by_id[ids[0]]["cmd"] == "client|list"
        assert by_id[ids[1]]["cmd"] == "client|id"
        # TYPE and ID filters, as in Redis.
        assert {int(x["id"]) for x in lines(me.execute_command("CLIENT", "LIST", "TYPE",
                                                               "normal"))} >= set(ids)
        assert lines(me.execute_command("CLIENT", "LIST", "TYPE", "pubsub")) == []
        assert [int(x["id"]) for x in lines(
            me.execute_command("CLIENT", "LIST", "ID", ids[3], ids[2]))] == [ids[3], ids[2]]

        # Every other client, on either thread, is closed by ID; its next command fails.
        for client, client_id in zip(others, ids[1:]):
            assert me.execute_command("CLIENT", "KILL", "ID", client_id) == 1
            with pytest.raises(redis.ConnectionError):
                client.ping()
        assert me.ping()
        wait_until(lambda: sorted(int(x["id"]) for x in lines(
            me.execute_command("CLIENT", "LIST"))) == [ids[0]], 5, "only the caller left")
        wait_until(lambda: me.info("clients")["connected_clients"] == 1, 5, "one client")
        # SKIPME yes (the default) spares the caller; SKIPME no closes it after the reply.
        assert me.execute_command("CLIENT", "KILL", "ID", ids[0]) == 0
        assert me.ping()
        assert me.execute_command("CLIENT", "KILL", "ID", ids[0], "SKIPME", "no") == 1
        with pytest.raises(redis.ConnectionError):
            me.ping()
    finally:
        for c in clients:
            c.close()


def test_client_list_counts_subscriptions_as_redis_confirms_them(make_seawall):
    sw = make_seawall(**SEAWALL_MODE)
    watcher = single(sw.port)
    subscriber = client_for(sw.port)
    pubsub = subscriber.pubsub()
    try:
        def line_of_subscriber() -> dict:
            listed = [x for x in lines(watcher.execute_command("CLIENT", "LIST", "TYPE", "pubsub"))]
            assert len(listed) == 1, listed
            return listed[0]

        def counts() -> tuple:
            line = line_of_subscriber()
            return int(line["sub"]), int(line["psub"]), int(line["ssub"])

        pubsub.subscribe("news", "sport")
        pubsub.psubscribe("weather.*")
        # Read the confirmations, so Redis has sent (and seawall relayed) all of them.
        for _ in range(3):
            assert pubsub.get_message(timeout=5)["type"] in ("subscribe", "psubscribe")
        wait_until(lambda: counts() == (2, 1, 0), 5, "sub=2 psub=1")
        assert "P" in line_of_subscriber()["flags"]
        pubsub.unsubscribe("sport")
        assert pubsub.get_message(timeout=5)["type"] == "unsubscribe"
        wait_until(lambda: counts() == (1, 1, 0), 5, "sub=1 psub=1")
        pubsub.punsubscribe()
        assert pubsub.get_message(timeout=5)["type"] == "punsubscribe"
        wait_until(lambda: counts() == (1, 0, 0), 5, "sub=1 psub=0")
    finally:
        pubsub.close()
        subscriber.close()
        watcher.close()


def test_client_kill_old_form_and_errors(make_seawall):
    sw = make_seawall(**SEAWALL_MODE)
    with sw.raw() as a, sw.raw() as b:
        assert a.request("CLIENT", "KILL", "127.0.0.1:1") == b"-ERR No such client\r\n"
        assert a.request("CLIENT", "KILL", "TYPE", "boss") == (
            b"-ERR Unknown client type 'boss'\r\n")
        assert a.request("CLIENT", "KILL", "ID", "0") == (
            b"-ERR client-id should be greater than 0\r\n")
        assert a.request("CLIENT", "KILL", "USER", "nobody") == b"-ERR No such user 'nobody'\r\n"
        assert a.request("CLIENT", "KILL", "ID", "1", "SKIPME") == b"-ERR syntax error\r\n"
        assert a.request("CLIENT", "LIST", "ID", "x") == b"-ERR Invalid client ID\r\n"
        assert a.request("CLIENT", "KILL", "ADDR", sockname(b), "USER", "default") == b":1\r\n"
        with pytest.raises((ConnectionClosed, ConnectionResetError)):
            b.request("PING")
        # The old form may name the caller: it gets +OK, then the connection closes.
        assert a.request("CLIENT", "KILL", sockname(a)) == b"+OK\r\n"
        _, closed = a.read_until_closed(5)
        assert closed


def test_info_answered_by_seawall(make_seawall):
    sw = make_seawall(threads=2, **SEAWALL_MODE)
    c = single(sw.port)
    try:
        c.set("k", "v")
        info = c.info()
        assert info["seawall_version"]
        assert info["tcp_port"] == sw.port
        assert info["threads"] == 2
        assert info["config_file"] == str(sw.config_path)
        assert info["connected_clients"] >= 1
        assert info["total_commands_processed"] >= 2
        assert info["answers_upstream"] >= 1
        assert info["upstream0"]["name"] == "main"
        assert info["upstream0"]["breaker"] == "closed"
        assert "redis_version" not in info
        only = c.info("clients")
        assert "connected_clients" in only and "seawall_version" not in only
        with sw.raw() as r:
            text = bulk_text(r.request("INFO", "stats", "clients"))
            assert text.startswith("# Clients\r\n") and "\r\n\r\n# Stats\r\n" in text
            assert r.request("INFO", "keyspace") == b"$0\r\n\r\n"
    finally:
        c.close()


def test_pinned_sessions_get_seawall_answers_in_order(make_seawall, redis_server):
    sw = make_seawall(**SEAWALL_MODE)
    with sw.raw() as c:
        assert c.request("CLIENT", "SETNAME", "before") == b"+OK\r\n"
        client_id = c.request("CLIENT", "ID")
        assert c.request("SELECT", "1") == b"+OK\r\n"  # a dedicated connection from here on
        own = sockname(c)
        (mine,) = [x for x in lines(bulk_text(c.request("CLIENT", "LIST"))) if x["addr"] == own]
        assert mine["db"] == "1" and mine["cmd"] == "client|list" and mine["name"] == "before"
        # The per-client subcommands stay seawall's: the same id as CLIENT LIST shows.
        assert c.request("CLIENT", "ID") == client_id == b":%s\r\n" % mine["id"].encode()
        assert c.request("CLIENT", "GETNAME") == b"$6\r\nbefore\r\n"
        (info,) = lines(bulk_text(c.request("CLIENT", "INFO")))
        assert (info["id"], info["db"], info["laddr"]) == (mine["id"], "1", mine["laddr"])
        # Inside MULTI, Redis queues it and answers it at EXEC with its own view.
        assert c.request("MULTI") == b"+OK\r\n"
        assert c.request("CLIENT", "LIST") == b"+QUEUED\r\n"
        exec_reply = c.request("EXEC")
        assert exec_reply.startswith(b"*1\r\n$")
        assert f"laddr={redis_server.address}".encode() in exec_reply
        # RESP3: a verbatim string, as Redis sends it.
        assert c.request("SELECT", "0") == b"+OK\r\n"
    with sw.raw() as c:
        assert c.request("HELLO", "3").startswith(b"%")
        assert c.request("CLIENT", "LIST", "ID", "99998", "99999") == b"=4\r\ntxt:\r\n"
        info = c.request("INFO", "server")
        assert info.startswith(b"=") and b"txt:# Server\r\nseawall_version:" in info
        (mine,) = [x for x in lines(c.request("CLIENT", "LIST").split(b"\r\n", 1)[1][4:-2])
                   if x["addr"] == sockname(c)]
        assert mine["resp"] == "3"
        assert c.request("CLIENT", "GETNAME") == b"_\r\n"
        assert c.request("CLIENT", "ID") == b":%s\r\n" % mine["id"].encode()


def test_reload_switches_who_answers(make_seawall):
    sw = make_seawall(introspection={"client_list": "upstream", "info": "upstream"})
    c = single(sw.port)
    try:
        assert "redis_version" in c.info("server") and "seawall_version" not in c.info()
        sw.config["introspection"] = SEAWALL_MODE["introspection"]
        sw.write_config()
        wait_until(lambda: "seawall_version" in c.info("server"), 10, "INFO from seawall")
        assert [int(x["id"]) for x in lines(c.execute_command("CLIENT", "LIST"))] == [
            c.client_id()]
    finally:
        c.close()


# ---- CLIENT KILL USER of Redis's own ACL users (no seawall auth: AUTH relayed) ----------------


def kill_redis_acl_users(port: int, redis_port: int) -> dict:
    """Two clients authenticated as Redis's ACL user alice (AUTH, and HELLO 2 AUTH), killed by
    USER from a default client; carol exists in Redis with no client, bob does not exist."""
    with RawConnection(redis_port) as admin:
        for user in ("alice", "carol"):
            assert admin.request("ACL", "SETUSER", user, "on", ">pw", "~*", "+@all") == b"+OK\r\n"
    out = {}
    with RawConnection(port) as a1, RawConnection(port) as a2, RawConnection(port) as killer:
        out["auth"] = a1.request("AUTH", "alice", "pw")
        out["hello_auth"] = a2.request("HELLO", "2", "AUTH", "alice", "pw")[:1]
        out["wrong_password"] = killer.request("AUTH", "carol", "nope")[:10]
        out["info_user"] = [lines(bulk_text(c.request("CLIENT", "INFO")))[0]["user"]
                            for c in (a1, a2, killer)]
        out["kill_carol"] = killer.request("CLIENT", "KILL", "USER", "carol")
        out["kill_bob"] = killer.request("CLIENT", "KILL", "USER", "bob")
        out["kill_alice_then_bob"] = killer.request("CLIENT", "KILL", "USER", "alice",
                                                    "USER", "bob")
        out["kill_alice"] = killer.request("CLIENT", "KILL", "USER", "alice")
        out["alice_closed"] = []
        for c in (a1, a2):
            try:
                c.request("PING")
                out["alice_closed"].append(False)
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                out["alice_closed"].append(True)
        out["killer_alive"] = killer.request("PING")
    return out


def test_client_kill_user_knows_redis_acl_users(make_seawall, redis_server, direct_server):
    # The default config: client_list: seawall, no auth (AUTH goes to Redis on a dedicated
    # connection). Redis's users exist for CLIENT KILL USER as they do direct.
    sw = make_seawall()
    direct = kill_redis_acl_users(direct_server.port, direct_server.port)
    through = kill_redis_acl_users(sw.port, redis_server.port)
    assert direct == {
        "auth": b"+OK\r\n", "hello_auth": b"*", "wrong_password": b"-WRONGPASS",
        "info_user": ["alice", "alice", "default"],
        "kill_carol": b":0\r\n", "kill_bob": b"-ERR No such user 'bob'\r\n",
        "kill_alice_then_bob": b"-ERR No such user 'bob'\r\n",
        "kill_alice": b":2\r\n", "alice_closed": [True, True], "killer_alive": b"+PONG\r\n"}
    assert through == direct
