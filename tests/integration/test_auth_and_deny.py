"""Client authentication to seawall (auth:) and the command deny list (deny_commands), with real
clients: redis-cli, redis-py, node-redis v4 and ioredis v5, and raw RESP where bytes matter.

Where Redis has an answer of its own (NOAUTH, WRONGPASS, HELLO's errors), seawall's bytes are
compared with those of a redis-server started with the same password (--requirepass).
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from conftest import client_for
from harness import LOOPBACK, RawConnection, RedisServer, encode_command, seawall_binary, wait_until

NODE_DIR = Path(__file__).parent / "node"
PASSWORD = "s3cret-Pa55 word"  # a space too: it must survive every client's handshake
PASSWORD_ENV = "SEAWALL_TEST_CLIENT_PASSWORD"
ALICE_PW = "alice-Pw-1"
BOB_PW = "bob-Pw-2"
DENY = ["keys", "FLUSHALL", "debug", "shutdown", "config|set"]


def denied(name: str) -> bytes:
    return f"-ERR seawall: command '{name}' is denied by configuration\r\n".encode()


NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
EXECABORT = b"-EXECABORT Transaction discarded because of previous errors.\r\n"


@pytest.fixture
def password_seawall(make_seawall):
    """auth: {password_env} (one password, user "default") and the deny list."""
    return make_seawall(env={PASSWORD_ENV: PASSWORD}, auth={"password_env": PASSWORD_ENV},
                        deny_commands=DENY)


@pytest.fixture
def acl_seawall(make_seawall, tmp_path):
    """auth: {users}: alice from the environment, bob from a file (with a trailing newline)."""
    bob_file = tmp_path / "bob.password"
    bob_file.write_text(BOB_PW + "\n")
    return make_seawall(env={"SEAWALL_TEST_ALICE_PW": ALICE_PW},
                        auth={"users": [
                            {"name": "alice", "password_env": "SEAWALL_TEST_ALICE_PW"},
                            {"name": "bob", "password_file": str(bob_file)},
                        ]},
                        deny_commands=DENY)


@pytest.fixture
def deny_seawall(make_seawall):
    """The deny list alone, no authentication."""
    return make_seawall(deny_commands=DENY)


def command_calls(direct: redis.Redis, name: str) -> int:
    """How many times Redis ran `name` (INFO commandstats)."""
    stats = direct.info("commandstats")
    return int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))


def pinned_sessions(admin_port: int) -> float:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{admin_port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("seawall_pinned_sessions "):
                return float(line.split()[1])
    raise AssertionError("seawall_pinned_sessions missing from /metrics")


def exchange(port: int, commands: list[list[str]], pipelined: bool = False) -> list[bytes]:
    """The reply to each command, sent one at a time or all at once."""
    with RawConnection(port) as c:
        if pipelined:
            c.send(b"".join(encode_command(*cmd) for cmd in commands))
            return c.read_replies(len(commands))
        return [c.request(*cmd) for cmd in commands]


class Monitor:
    """MONITOR on the real Redis, collecting everything it ran (to prove what never got there)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=10)
        self.sock.sendall(encode_command("MONITOR"))
        self.data = b""
        while b"+OK\r\n" not in self.data:
            self.data += self.sock.recv(65536)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            self.data += chunk

    def seen_after(self, marker: bytes, timeout: float = 5) -> bytes:
        """Everything until `marker` shows up (send a command containing it last)."""
        wait_until(lambda: marker in self.data, timeout, "MONITOR to show the marker")
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()
        return self.data


# --------------------------------------------------------------------------------------------
# authentication: the same bytes as Redis with the same password


# Each sequence runs on one fresh connection. HELLO's successful reply carries the connection id,
# which differs between the two servers, so success is compared separately below.
AUTH_SEQUENCES = {
    "noauth": [["GET", "k"], ["SET", "k", "v"], ["PING"], ["CLIENT", "SETNAME", "x"],
               ["MULTI"], ["SELECT", "1"], ["SUBSCRIBE", "ch"]],
    "wrongpass": [["AUTH", "wrong"], ["AUTH", "default", "wrong"], ["AUTH", "nobody", PASSWORD],
                  ["GET", "k"]],
    "auth arity": [["AUTH"], ["AUTH", "a", "b", "c"]],
    "auth": [["AUTH", PASSWORD], ["PING"], ["SET", "k", "v"], ["GET", "k"]],
    "auth as default": [["AUTH", "default", PASSWORD], ["GET", "k"]],
    "failed auth keeps auth": [["AUTH", PASSWORD], ["AUTH", "wrong"], ["PING"]],
    "reset logs out": [["AUTH", PASSWORD], ["RESET"], ["GET", "k"], ["AUTH", PASSWORD],
                       ["ECHO", "again"]],
    "hello before auth": [["HELLO"], ["HELLO", "3"], ["HELLO", "2", "SETNAME", "x"]],
    "hello errors": [["HELLO", "4", "AUTH", "default", PASSWORD], ["HELLO", "x"],
                     ["HELLO", "3", "FOO"], ["HELLO", "3", "AUTH", "default"],
                     ["HELLO", "3", "AUTH", "default", "wrong"], ["GET", "k"]],
}


@pytest.mark.parametrize("sequence", AUTH_SEQUENCES.keys())
def test_auth_replies_are_redis_bytes(password_seawall, tmp_path, sequence):
    reference = RedisServer(tmp_path / "requirepass", extra_args=["--requirepass", PASSWORD])
    reference.start()
    try:
        # PING answers -NOAUTH there: check it is up by authenticating.
        expected = exchange(reference.port, AUTH_SEQUENCES[sequence])
    finally:
        reference.stop()
    assert exchange(password_seawall.port, AUTH_SEQUENCES[sequence]) == expected


def test_every_command_gets_noauth_before_auth(password_seawall):
    # Redis answers an unknown command or a wrong arity before checking authentication; seawall
    # sends nothing of an unauthenticated client anywhere, so it answers NOAUTH to those too.
    assert exchange(password_seawall.port, [["NOSUCHCOMMAND"], ["GET"], ["CLIENT", "NOSUCH"],
                                            ["BLPOP", "k", "0"], ["MONITOR"]]) == [NOAUTH] * 5


def test_quit_before_auth(password_seawall):
    with password_seawall.raw() as c:
        assert c.request("QUIT") == b"+OK\r\n"
        assert c.read_until_closed(5) == (b"", True)


def test_nothing_reaches_redis_before_auth(password_seawall, direct_client):
    before = command_calls(direct_client, "set")
    replies = exchange(password_seawall.port, [["SET", "noauth:k", "v"]] * 50, pipelined=True)
    assert replies == [NOAUTH] * 50
    assert direct_client.get("noauth:k") is None
    assert command_calls(direct_client, "set") == before


def test_pipelined_auth_then_commands(password_seawall):
    replies = exchange(password_seawall.port,
                       [["GET", "p:k"], ["AUTH", "wrong"], ["SET", "p:k", "1"], ["AUTH", PASSWORD],
                        ["SET", "p:k", "2"], ["INCR", "p:k"], ["RESET"], ["GET", "p:k"]],
                       pipelined=True)
    assert replies == [NOAUTH, WRONGPASS, NOAUTH, b"+OK\r\n", b"+OK\r\n", b":3\r\n",
                       b"+RESET\r\n", NOAUTH]


def test_acl_users(acl_seawall, direct_client):
    replies = exchange(acl_seawall.port,
                       [["AUTH", ALICE_PW], ["AUTH", "alice", BOB_PW], ["AUTH", "bob", ALICE_PW],
                        ["AUTH", "alice", ALICE_PW], ["SET", "acl:a", "1"],
                        ["AUTH", "bob", BOB_PW], ["GET", "acl:a"]])
    # AUTH <password> is the user "default", which this config does not have.
    assert replies == [WRONGPASS, WRONGPASS, WRONGPASS, b"+OK\r\n", b"+OK\r\n", b"+OK\r\n",
                       b"$1\r\n1\r\n"]


def test_hello_auth_in_both_protocols(acl_seawall):
    with acl_seawall.raw() as c:
        reply = c.request("HELLO", "3", "AUTH", "alice", ALICE_PW, "SETNAME", "h3")
        assert reply.startswith(b"%7\r\n")  # a RESP3 map
        assert b"$5\r\nproto\r\n:3\r\n" in reply
        assert c.request("CLIENT", "GETNAME") == b"$2\r\nh3\r\n"
        assert c.request("SET", "hello:k", "v") == b"+OK\r\n"
    with acl_seawall.raw() as c:
        reply = c.request("HELLO", "2", "AUTH", "bob", BOB_PW)
        assert reply.startswith(b"*14\r\n")
        assert b"$5\r\nproto\r\n:2\r\n" in reply
        assert c.request("GET", "hello:k") == b"$1\r\nv\r\n"
    with acl_seawall.raw() as c:
        assert c.request("HELLO", "3", "AUTH", "bob", ALICE_PW) == WRONGPASS
        assert c.request("GET", "hello:k") == NOAUTH


def test_credentials_never_reach_redis_nor_the_log(password_seawall, acl_seawall, redis_server):
    monitor = Monitor(redis_server.port)
    with password_seawall.raw() as c:
        assert c.request("AUTH", PASSWORD) == b"+OK\r\n"
        assert c.request("AUTH", "wrong-guess") == WRONGPASS
        assert c.request("HELLO", "3", "AUTH", "default", PASSWORD).startswith(b"%")
    with acl_seawall.raw() as c:
        assert c.request("AUTH", "alice", ALICE_PW) == b"+OK\r\n"
        assert c.request("HELLO", "2", "AUTH", "bob", BOB_PW, "SETNAME", "n").startswith(b"*")
        assert c.request("SET", "end-marker", "x") == b"+OK\r\n"
    seen = monitor.seen_after(b"end-marker")
    # HELLO without the AUTH seawall checked is answered by seawall: only seawall's own RESP3
    # connections say HELLO to Redis (and never the client's name).
    assert b'"SETNAME"' not in seen
    for secret in (PASSWORD, ALICE_PW, BOB_PW, "wrong-guess"):
        assert secret.encode() not in seen
    assert b'"AUTH"' not in seen.upper()
    for proxy in (password_seawall, acl_seawall):
        log = proxy.log_path.read_bytes()
        for secret in (PASSWORD, ALICE_PW, BOB_PW, "wrong-guess"):
            assert secret.encode() not in log
    assert b"authentication failed" in password_seawall.log_path.read_bytes()


def test_auth_does_not_pin_when_seawall_checks_it(password_seawall, direct_client):
    clients = [RawConnection(password_seawall.port) for _ in range(10)]
    try:
        for c in clients:
            assert c.request("AUTH", PASSWORD) == b"+OK\r\n"
            assert c.request("AUTH", "default", PASSWORD) == b"+OK\r\n"
            assert c.request("SET", "nopin", "1") == b"+OK\r\n"
        assert pinned_sessions(password_seawall.admin_port) == 0
    finally:
        for c in clients:
            c.close()


def test_auth_still_pins_and_goes_to_redis_without_seawall_auth(make_seawall, tmp_path):
    protected = RedisServer(tmp_path / "protected", extra_args=["--requirepass", PASSWORD])
    protected.start()
    try:
        proxy = make_seawall(upstream=protected, upstreams=[{
            "name": "main", "address": protected.address,
            "health_check": {"enabled": False}}])
        with proxy.raw() as c:
            # Redis itself answers: the shared connections are not authenticated to it.
            assert c.request("GET", "k") == NOAUTH
            assert c.request("AUTH", "wrong") == WRONGPASS
            assert c.request("AUTH", PASSWORD) == b"+OK\r\n"
            assert c.request("SET", "k", "v") == b"+OK\r\n"
            assert pinned_sessions(proxy.admin_port) == 1
    finally:
        protected.stop()


def test_auth_inside_multi_aborts_the_transaction(password_seawall, direct_client):
    replies = exchange(password_seawall.port,
                       [["AUTH", PASSWORD], ["MULTI"], ["SET", "m:auth", "1"], ["AUTH", PASSWORD],
                        ["EXEC"], ["GET", "m:auth"]], pipelined=True)
    assert replies == [b"+OK\r\n", b"+OK\r\n", b"+QUEUED\r\n",
                       b"-ERR seawall: AUTH inside MULTI is not supported\r\n", EXECABORT,
                       b"$-1\r\n"]


def test_reset_on_a_pinned_session_logs_out_in_order(password_seawall):
    replies = exchange(password_seawall.port,
                       [["AUTH", PASSWORD], ["SELECT", "1"], ["SET", "r:k", "1"], ["RESET"],
                        ["GET", "r:k"], ["AUTH", PASSWORD], ["GET", "r:k"]], pipelined=True)
    # RESET also went back to database 0, where r:k does not exist.
    assert replies == [b"+OK\r\n", b"+OK\r\n", b"+OK\r\n", b"+RESET\r\n", NOAUTH, b"+OK\r\n",
                       b"$-1\r\n"]


# --------------------------------------------------------------------------------------------
# real clients with the password in their handshake


def redis_cli(port: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(port), *args],
                          capture_output=True, timeout=60)


# redis-cli invocations whose output (stdout and stderr) must be what Redis's own gives.
CLI_RUNS = [
    ["-a", PASSWORD, "--no-auth-warning", "SET", "cli:k", "v"],
    ["-a", PASSWORD, "--no-auth-warning", "GET", "cli:k"],
    ["--user", "default", "--pass", PASSWORD, "--no-auth-warning", "GET", "cli:k"],
    # RESP3: redis-cli sends HELLO 3 AUTH ...; seawall pins the session for RESP3.
    ["-3", "-a", PASSWORD, "--no-auth-warning", "HGETALL", "cli:k"],
    ["-3", "--user", "default", "--pass", PASSWORD, "--no-auth-warning", "GET", "cli:k"],
    ["GET", "cli:k"],
    ["-a", "wrong", "--no-auth-warning", "GET", "cli:k"],
    ["-3", "-a", "wrong", "--no-auth-warning", "GET", "cli:k"],
    ["--user", "nobody", "--pass", PASSWORD, "--no-auth-warning", "GET", "cli:k"],
]


def test_redis_cli_password_as_with_redis(password_seawall, tmp_path):
    reference = RedisServer(tmp_path / "requirepass", extra_args=["--requirepass", PASSWORD])
    reference.start()
    try:
        expected = [redis_cli(reference.port, *run) for run in CLI_RUNS]
    finally:
        reference.stop()
    for run, want in zip(CLI_RUNS, expected):
        got = redis_cli(password_seawall.port, *run)
        assert (got.returncode, got.stdout, got.stderr) == \
            (want.returncode, want.stdout, want.stderr), run
    assert expected[1].stdout == b"v\n"  # the reference really authenticated
    assert redis_cli(password_seawall.port, "-a", PASSWORD, "--no-auth-warning", "KEYS",
                     "*").stdout == b"ERR seawall: command 'KEYS' is denied by configuration\n\n"


def test_redis_cli_user_and_pass(acl_seawall):
    for user, pw in (("alice", ALICE_PW), ("bob", BOB_PW)):
        assert redis_cli(acl_seawall.port, "--user", user, "--pass", pw, "--no-auth-warning",
                         "SET", f"cli:{user}", user).stdout == b"OK\n"
        assert redis_cli(acl_seawall.port, "--user", user, "--pass", pw, "--no-auth-warning",
                         "-3", "GET", f"cli:{user}").stdout == f"{user}\n".encode()
    out = redis_cli(acl_seawall.port, "--user", "alice", "--pass", BOB_PW, "--no-auth-warning",
                    "GET", "cli:alice")
    assert b"WRONGPASS" in out.stdout + out.stderr


def test_redis_py_password(password_seawall):
    client = client_for(password_seawall.port, password=PASSWORD)
    assert client.set("py:k", "v")
    assert client.get("py:k") == b"v"
    with pytest.raises(redis.ResponseError, match="denied by configuration"):
        client.keys("*")
    with client.pipeline(transaction=True) as pipe:
        pipe.set("py:m", "1").incr("py:m")
        assert pipe.execute() == [True, 2]
    client.close()
    # Database 1: AUTH, then SELECT 1 in the handshake.
    db1 = client_for(password_seawall.port, password=PASSWORD, db=1)
    assert db1.set("py:db1", "one")
    assert db1.get("py:db1") == b"one"
    db1.close()
    with pytest.raises(redis.AuthenticationError, match="Authentication required"):
        client_for(password_seawall.port).get("py:k")
    with pytest.raises((redis.AuthenticationError, redis.ResponseError), match="WRONGPASS"):
        client_for(password_seawall.port, password="wrong").get("py:k")


def test_redis_py_username(acl_seawall):
    alice = client_for(acl_seawall.port, username="alice", password=ALICE_PW)
    assert alice.set("py:alice", "a")
    bob = client_for(acl_seawall.port, username="bob", password=BOB_PW, client_name="bobby")
    assert bob.get("py:alice") == b"a"
    assert bob.client_getname() == "bobby" or bob.client_getname() == b"bobby"
    alice.close()
    bob.close()
    with pytest.raises((redis.AuthenticationError, redis.ResponseError), match="WRONGPASS"):
        client_for(acl_seawall.port, username="alice", password=BOB_PW).get("py:alice")


@pytest.mark.parametrize("script", ["auth_node_redis_v4.mjs", "auth_ioredis_v5.mjs"])
@pytest.mark.parametrize("mode", ["password", "user"])
def test_node_client(node_modules, password_seawall, acl_seawall, direct_client, script, mode):
    proxy, env = ((password_seawall, {"SEAWALL_AUTH_PASSWORD": PASSWORD}) if mode == "password"
                  else (acl_seawall, {"SEAWALL_AUTH_USER": "bob", "SEAWALL_AUTH_PASSWORD": BOB_PW}))
    proc = subprocess.run([node_modules, script, str(proxy.port)], cwd=NODE_DIR,
                          capture_output=True, text=True, timeout=180,
                          env={"PATH": "/usr/bin:/bin", **env})
    assert proc.returncode == 0, f"{script} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip().endswith(": ok"), proc.stdout
    assert command_calls(direct_client, "keys") == 0
    assert command_calls(direct_client, "flushall") == 0


# --------------------------------------------------------------------------------------------
# deny list


def test_denied_commands_plain(deny_seawall, direct_client):
    direct_client.set("d:k", "v")
    replies = exchange(deny_seawall.port,
                       [["KEYS", "*"], ["keys", "*"], ["KeYs"], ["FLUSHALL"], ["flushall", "ASYNC"],
                        ["DEBUG", "SLEEP", "0"], ["SHUTDOWN", "NOSAVE"],
                        ["CONFIG", "SET", "maxmemory", "1"], ["config", "set"],
                        ["CONFIG", "GET", "maxmemory"], ["GET", "d:k"]])
    assert replies[:9] == [denied("KEYS")] * 3 + [denied("FLUSHALL")] * 2 + [
        denied("DEBUG"), denied("SHUTDOWN")] + [denied("CONFIG|SET")] * 2
    assert replies[9] == b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"  # CONFIG GET is allowed
    assert replies[10] == b"$1\r\nv\r\n"
    for name in ("keys", "flushall", "debug", "shutdown", "config|set"):
        assert command_calls(direct_client, name) == 0, name
    assert direct_client.config_get("maxmemory") == {"maxmemory": "0"}
    assert direct_client.ping()  # SHUTDOWN never got there


def test_denied_commands_pipelined(deny_seawall, direct_client):
    commands = []
    expected = []
    for i in range(200):
        commands += [["SET", f"dp:{i}", str(i)], ["KEYS", "*"], ["GET", f"dp:{i}"],
                     ["FLUSHALL"]]
        expected += [b"+OK\r\n", denied("KEYS"), f"${len(str(i))}\r\n{i}\r\n".encode(),
                     denied("FLUSHALL")]
    assert exchange(deny_seawall.port, commands, pipelined=True) == expected
    assert direct_client.dbsize() == 200


def test_denied_command_inside_multi_aborts_exec(deny_seawall, direct_client):
    replies = exchange(deny_seawall.port,
                       [["MULTI"], ["SET", "dm:a", "1"], ["KEYS", "*"], ["SET", "dm:b", "2"],
                        ["EXEC"], ["GET", "dm:a"]], pipelined=True)
    # As Redis treats a command it refuses while queueing: an error now, EXECABORT at EXEC.
    assert replies == [b"+OK\r\n", b"+QUEUED\r\n", denied("KEYS"), b"+QUEUED\r\n", EXECABORT,
                       b"$-1\r\n"]
    assert direct_client.get("dm:b") is None
    # The same, one command at a time, and a clean transaction afterwards on the same client.
    with deny_seawall.raw() as c:
        assert c.request("MULTI") == b"+OK\r\n"
        assert c.request("FLUSHALL") == denied("FLUSHALL")
        assert c.request("EXEC") == EXECABORT
        assert c.request("MULTI") == b"+OK\r\n"
        assert c.request("SET", "dm:c", "3") == b"+QUEUED\r\n"
        assert c.request("EXEC") == b"*1\r\n+OK\r\n"
    assert command_calls(direct_client, "keys") == 0
    assert command_calls(direct_client, "flushall") == 0


def test_denied_commands_on_a_pinned_session(deny_seawall, direct_client):
    # SELECT 1 pins the session to a dedicated connection; replies then stream from Redis, and
    # the refusals must still come back in order with them.
    commands = [["SELECT", "1"]]
    expected = [b"+OK\r\n"]
    for i in range(100):
        commands += [["SET", f"pin:{i}", "v"], ["KEYS", "*"], ["CONFIG", "SET", "x", "y"],
                     ["DBSIZE"]]
        expected += [b"+OK\r\n", denied("KEYS"), denied("CONFIG|SET"), f":{i + 1}\r\n".encode()]
    assert exchange(deny_seawall.port, commands, pipelined=True) == expected
    wait_until(lambda: pinned_sessions(deny_seawall.admin_port) == 0, 5,
               "the dedicated connection to be released after the client left")
    assert command_calls(direct_client, "keys") == 0
    assert command_calls(direct_client, "config|set") == 0


def test_denied_after_a_blocking_command(deny_seawall, direct_client):
    # BLPOP holds its reply for 300 ms; the refusal behind it must wait for it, as in Redis.
    with deny_seawall.raw() as c:
        c.send(encode_command("BLPOP", "nothing", "0.3") + encode_command("KEYS", "*") +
               encode_command("PING"))
        start = time.monotonic()
        assert c.read_replies(3) == [b"*-1\r\n", denied("KEYS"), b"+PONG\r\n"]
        assert time.monotonic() - start >= 0.25


def test_denied_with_client_reply_skip_and_off(deny_seawall):
    # Redis sends no reply for a skipped command; a denied one gets none either, and the next
    # refusal is still matched to the right command.
    with deny_seawall.raw() as c:
        c.send(b"".join(encode_command(*cmd) for cmd in [
            ["SELECT", "1"], ["CLIENT", "REPLY", "SKIP"], ["KEYS", "*"], ["PING"],
            ["CLIENT", "REPLY", "OFF"], ["FLUSHALL"], ["SET", "x", "1"], ["CLIENT", "REPLY", "ON"],
            ["KEYS", "*"], ["GET", "x"]]))
        assert c.read_replies(5) == [b"+OK\r\n", b"+PONG\r\n", b"+OK\r\n", denied("KEYS"),
                                     b"$1\r\n1\r\n"]
        c.settimeout(0.3)
        with pytest.raises(socket.timeout):
            c.read_reply()


def test_denied_while_subscribed(deny_seawall):
    with deny_seawall.raw() as c:
        assert c.request("SUBSCRIBE", "ch") == b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
        assert c.request("KEYS", "*") == denied("KEYS")
        assert c.request("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


def test_deny_list_and_auth_together(password_seawall, direct_client):
    replies = exchange(password_seawall.port,
                       [["KEYS", "*"], ["AUTH", PASSWORD], ["KEYS", "*"], ["SELECT", "2"],
                        ["FLUSHALL"], ["DBSIZE"]], pipelined=True)
    # Before authenticating even a denied command gets NOAUTH: nothing is revealed.
    assert replies == [NOAUTH, b"+OK\r\n", denied("KEYS"), b"+OK\r\n", denied("FLUSHALL"),
                       b":0\r\n"]


def test_quit_on_a_pinned_session_gets_every_reply(deny_seawall):
    # Redis answers the relayed QUIT after everything before it, then closes the connection.
    for pipelined in (False, True):
        with deny_seawall.raw() as c:
            commands = [["SELECT", "1"], ["SET", "q:k", "v"], ["KEYS", "*"], ["GET", "q:k"],
                        ["QUIT"]]
            if pipelined:
                c.send(b"".join(encode_command(*cmd) for cmd in commands))
                replies = c.read_replies(len(commands))
            else:
                replies = [c.request(*cmd) for cmd in commands]
            assert replies == [b"+OK\r\n", b"+OK\r\n", denied("KEYS"), b"$1\r\nv\r\n",
                               b"+OK\r\n"], pipelined
            assert c.read_until_closed(5) == (b"", True)


# --------------------------------------------------------------------------------------------
# config errors at startup


def check_config(tmp_path: Path, text: str, env: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "check.yaml"
    path.write_text(text + "upstreams:\n  - name: main\n    address: 127.0.0.1:6379\n")
    return subprocess.run([seawall_binary(), "--check-config", str(path)], capture_output=True,
                          text=True, timeout=30, env={"PATH": "/usr/bin:/bin", **env})


def test_missing_password_variable_is_a_config_error(tmp_path):
    proc = check_config(tmp_path, "auth:\n  password_env: SEAWALL_TEST_NOT_SET\n", {})
    assert proc.returncode != 0
    assert f"{tmp_path}/check.yaml:2: auth.password_env: environment variable " \
           "SEAWALL_TEST_NOT_SET is not set" in proc.stderr
    ok = check_config(tmp_path, "auth:\n  password_env: SEAWALL_TEST_SET\n",
                      {"SEAWALL_TEST_SET": "hunter2"})
    assert ok.returncode == 0, ok.stderr
    assert "hunter2" not in ok.stdout + ok.stderr


def test_unknown_denied_command_is_a_config_error(tmp_path):
    proc = check_config(tmp_path, "deny_commands: [keys, nosuchcommand]\n", {})
    assert proc.returncode != 0
    assert f"{tmp_path}/check.yaml:1: deny_commands[1]: unknown command \"nosuchcommand\"" \
        in proc.stderr
