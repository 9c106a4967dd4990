"""TLS and AUTH between seawall and Redis, against real redis-servers.

Each test makes its own PKI with the `openssl` CLI (a test CA, a server certificate for
IP:127.0.0.1 and DNS:localhost, a client certificate, and an unrelated CA), starts a redis-server
that listens only on a TLS port (`--port 0 --tls-port P`) and/or requires a password, and puts
seawall in front of it. Clients talk plain RESP to seawall and never know the password.

Refusals (wrong CA, wrong server name, missing client certificate, wrong password) must show up as
connect failures in seawall's log and metrics, with reads answered by the fallback chain; the
password must never appear in the log.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from harness import (  # noqa: E402
    LOOPBACK,
    RawConnection,
    RedisServer,
    Seawall,
    _die_with_parent,
    encode_command,
    listens_on,
    tail,
    wait_until,
)
from tls_pki import make_ca, make_leaf  # noqa: E402

UNAVAILABLE = b"-UNAVAILABLE seawall: upstream 'main' is unavailable and nothing can answer\r\n"


# --------------------------------------------------------------------------------------------
# PKI


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca, _ = make_ca(d, "ca")
    other_ca, _ = make_ca(d, "other-ca")
    server_cert, server_key = make_leaf(
        d, "server", "ca",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    client_cert, client_key = make_leaf(d, "client", "ca", "extendedKeyUsage=clientAuth\n")
    return Pki(ca, server_cert, server_key, client_cert, client_key, other_ca)


# --------------------------------------------------------------------------------------------
# redis-server with TLS and/or a password


def _client_ssl_context(pki: Pki, client_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    if client_cert:
        ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return ctx


def _answers_ping(port: int, ctx: Optional[ssl.SSLContext]) -> bool:
    """True when the server answers PING at all (+PONG, or -NOAUTH when it wants a password)."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as raw:
            sock = ctx.wrap_socket(raw, server_hostname=LOOPBACK) if ctx else raw
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64)[:1] in (b"+", b"-")
    except (OSError, ssl.SSLError):
        return False


class Redis(RedisServer):
    """A redis-server that may listen on TLS only and may require a password; `client_auth`
    makes it require a client certificate signed by the test CA."""

    def __init__(self, workdir: Path, pki: Optional[Pki] = None, client_auth: bool = False,
                 extra_args=()):
        super().__init__(workdir, extra_args=extra_args)
        self.pki = pki
        self.client_auth = client_auth

    def start(self, timeout: float = 10.0) -> None:
        if self.pki is None:
            ports = ["--port", str(self.port)]
        else:
            ports = ["--port", "0", "--tls-port", str(self.port),
                     "--tls-cert-file", str(self.pki.server_cert),
                     "--tls-key-file", str(self.pki.server_key),
                     "--tls-ca-cert-file", str(self.pki.ca),
                     "--tls-auth-clients", "yes" if self.client_auth else "no"]
        args = [self.binary, *ports, "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
                "--dir", str(self.workdir), "--daemonize", "no", "--protected-mode", "no",
                *self.extra_args]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        ctx = _client_ssl_context(self.pki, self.client_auth) if self.pki else None
        try:
            wait_until(lambda: self.proc.poll() is None and _answers_ping(self.port, ctx)
                       and listens_on(self.proc.pid, self.port), timeout, f"redis-server on port {self.port} to answer PING")
        except TimeoutError as e:
            self.kill9()
            raise RuntimeError(f"{e}\nredis log:\n{tail(self.log_path)}") from None

    def direct(self, **kwargs) -> redis.Redis:
        """redis-py straight to this server (TLS with the test CA when it listens on TLS)."""
        if self.pki is not None:
            kwargs.update(ssl=True, ssl_ca_certs=str(self.pki.ca), ssl_check_hostname=True)
            if self.client_auth:
                kwargs.update(ssl_certfile=str(self.pki.client_cert),
                              ssl_keyfile=str(self.pki.client_key))
        return redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=10, **kwargs)


@pytest.fixture
def servers(tmp_path):
    started: list[Redis] = []

    def start(pki: Optional[Pki] = None, client_auth: bool = False, args=()) -> Redis:
        server = Redis(tmp_path / f"redis{len(started)}", pki, client_auth, args)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


# --------------------------------------------------------------------------------------------
# seawall


def upstream_entry(port: int, **extra) -> dict:
    entry = {
        "name": "main",
        "address": f"{LOOPBACK}:{port}",
        "connections": 2,
        # A TLS handshake on a loaded CI machine can take longer than a bare connect.
        "connect_timeout": "1s",
        "request_timeout": "2s",
        "reconnect_backoff_min": "10ms",
        "reconnect_backoff_max": "200ms",
        "breaker": {"slow_call_duration": "2s"},
        "health_check": {"interval": "200ms", "timeout": "1s"},
    }
    entry.update(extra)
    return entry


@pytest.fixture
def seawalls(tmp_path):
    """start(port, policies=None, **upstream_keys) -> a running Seawall; stopped (exit 0 required)
    at teardown."""
    started: list[Seawall] = []

    def start(port: int, policies: Optional[list] = None, threads: int = 1,
              **upstream_keys) -> Seawall:
        overrides = {"threads": threads, "upstreams": [upstream_entry(port, **upstream_keys)]}
        if policies:
            overrides["policies"] = policies
        sw = Seawall(tmp_path / f"seawall{len(started)}", port, overrides)
        started.append(sw)
        sw.start()
        return sw

    yield start
    errors = []
    for sw in started:
        try:
            sw.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


def client(sw: Seawall) -> redis.Redis:
    return redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=10)


def log_text(sw: Seawall) -> str:
    return sw.log_path.read_text(errors="replace")


def wait_log(sw: Seawall, pattern: str, timeout: float = 10.0) -> str:
    """Waits for a log line matching `pattern`; returns it."""
    found: list[str] = []

    def matched() -> bool:
        found[:] = [line for line in log_text(sw).splitlines() if re.search(pattern, line)]
        return bool(found)

    try:
        wait_until(matched, timeout, f"a log line matching {pattern!r}")
    except TimeoutError as e:
        raise AssertionError(f"{e}\nlog:\n{sw.log_tail()}") from None
    return found[0]


def wait_connected(sw: Seawall, tls: bool, auth: bool) -> None:
    """Waits until the shared connections (2 per thread) and the health check's are up: seawall
    answers PING itself, so it is ready before its upstream connections are."""
    marker = f"connected tls={str(tls).lower()} auth={str(auth).lower()}"
    n = 2 * sw.config["threads"] + 1
    try:
        wait_until(lambda: log_text(sw).count(marker) >= n, 10, f"{n} lines with {marker!r}")
    except TimeoutError as e:
        raise AssertionError(f"{e}\nlog:\n{sw.log_tail()}") from None


def failed_connects(sw: Seawall) -> float:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{sw.admin_port}/metrics", timeout=5) as r:
        body = r.read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith("seawall_upstream_connects_total{") and 'result="failed"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def redis_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=timeout)


def assert_round_trips(sw: Seawall, direct: redis.Redis, tag: str) -> None:
    """Reads, writes, pipelines through seawall with redis-py and redis-cli; the data is in
    Redis (read back directly)."""
    c = client(sw)
    try:
        assert c.set(f"{tag}:k", "v1") is True
        assert c.get(f"{tag}:k") == b"v1"
        pipe = c.pipeline(transaction=False)
        for i in range(50):
            pipe.set(f"{tag}:p{i}", i)
        for i in range(50):
            pipe.get(f"{tag}:p{i}")
        results = pipe.execute()
        assert results[:50] == [True] * 50
        assert results[50:] == [str(i).encode() for i in range(50)]
        assert c.mget(f"{tag}:k", f"{tag}:p7") == [b"v1", b"7"]
    finally:
        c.close()
    assert redis_cli("-p", str(sw.port), "SET", f"{tag}:cli", "from-cli").stdout.strip() == "OK"
    assert redis_cli("-p", str(sw.port), "GET", f"{tag}:cli").stdout.strip() == "from-cli"
    assert redis_cli("-p", str(sw.port), "INCR", f"{tag}:n").stdout.strip() == "1"
    assert direct.get(f"{tag}:k") == b"v1"
    assert direct.get(f"{tag}:cli") == b"from-cli"
    assert direct.get(f"{tag}:p49") == b"49"


def assert_pinned_commands_work(sw: Seawall, tag: str) -> None:
    """MULTI/EXEC, WATCH, SUBSCRIBE and BLPOP run on seawall's dedicated connections."""
    c = client(sw)
    other = client(sw)
    try:
        pipe = c.pipeline(transaction=True)
        pipe.set(f"{tag}:tx", "a").incr(f"{tag}:txn").get(f"{tag}:tx")
        assert pipe.execute() == [True, 1, b"a"]

        with c.pipeline(transaction=True) as watched:
            watched.watch(f"{tag}:w")
            watched.multi()
            watched.set(f"{tag}:w", "1")
            assert watched.execute() == [True]

        with RawConnection(sw.port) as raw:
            raw.send(b"*3\r\n$5\r\nBLPOP\r\n$%d\r\n%s:q\r\n$1\r\n5\r\n"
                     % (len(tag) + 2, tag.encode()))
            threading.Timer(0.2, lambda: other.rpush(f"{tag}:q", "item")).start()
            assert raw.read_reply() == b"*2\r\n$%d\r\n%s:q\r\n$4\r\nitem\r\n" % (
                len(tag) + 2, tag.encode())

        pubsub = c.pubsub()
        pubsub.subscribe(f"{tag}:ch")
        confirm = pubsub.get_message(timeout=5)
        assert confirm is not None and confirm["type"] == "subscribe"
        wait_until(lambda: other.publish(f"{tag}:ch", "hello") == 1, 5, "a subscriber")
        message = pubsub.get_message(timeout=5)
        assert message is not None and message["data"] == b"hello", message
        pubsub.close()
    finally:
        c.close()
        other.close()


# --------------------------------------------------------------------------------------------
# TLS


def test_redis_cli_tls_direct_baseline(pki, servers):
    """The TLS redis-server itself, with redis-cli --tls and the test CA: what seawall replaces."""
    server = servers(pki=pki)
    common = ["--tls", "-h", LOOPBACK, "-p", str(server.port)]
    ok = redis_cli(*common, "--cacert", str(pki.ca), "PING")
    assert ok.stdout.strip() == "PONG", ok
    refused = redis_cli(*common, "--cacert", str(pki.other_ca), "PING")
    assert "PONG" not in refused.stdout
    assert "certificate verify failed" in (refused.stdout + refused.stderr)
    plain = redis_cli("-h", LOOPBACK, "-p", str(server.port), "PING", timeout=20)
    assert "PONG" not in plain.stdout


@pytest.mark.parametrize("threads", [1, 2])
def test_tls_upstream_serves_plain_clients(pki, servers, seawalls, threads):
    """With 2 threads, both threads' connections start TLS sessions from the one shared
    context."""
    server = servers(pki=pki)
    sw = seawalls(server.port, threads=threads, tls={"enabled": True, "ca_file": str(pki.ca)})
    wait_connected(sw, tls=True, auth=False)
    direct = server.direct()
    try:
        for i in range(4):  # several clients: spread over both threads when there are two
            assert_round_trips(sw, direct, f"tls{i}")
    finally:
        direct.close()
    assert failed_connects(sw) == 0, sw.log_tail()


def test_tls_pinned_commands(pki, servers, seawalls):
    server = servers(pki=pki)
    sw = seawalls(server.port, tls={"enabled": True, "ca_file": str(pki.ca)})
    wait_connected(sw, tls=True, auth=False)
    assert_pinned_commands_work(sw, "pin")


def test_tls_pinned_client_that_half_closes_gets_its_replies(pki, servers, seawalls):
    """A session pinned for good whose client ends its input: the dedicated TLS connection is
    half-closed in turn, and Redis answers everything before it closes."""
    server = servers(pki=pki, args=["--enable-debug-command", "yes"])
    sw = seawalls(server.port, tls={"enabled": True, "ca_file": str(pki.ca)})
    wait_connected(sw, tls=True, auth=False)
    with RawConnection(sw.port) as c:
        c.send(encode_command("CLIENT", "TRACKING", "ON") + encode_command("DEBUG", "SLEEP", "0.2")
               + encode_command("GET", "k"))
        c.sock.shutdown(socket.SHUT_WR)
        assert c.read_until_closed(5) == (b"+OK\r\n+OK\r\n$-1\r\n", True)


def test_tls_server_name_localhost_checked_against_dns_name(pki, servers, seawalls):
    server = servers(pki=pki)
    sw = seawalls(server.port,
                  tls={"enabled": True, "ca_file": str(pki.ca), "server_name": "localhost"})
    wait_connected(sw, tls=True, auth=False)
    c = client(sw)
    try:
        assert c.set("sni", "yes") is True
        assert c.get("sni") == b"yes"
    finally:
        c.close()


def assert_refused(sw: Seawall, reason: str) -> None:
    """Connects fail (log, metrics) and reads get the fallback answers."""
    line = wait_log(sw, r"upstream=main .*connect failed: .*" + reason)
    assert "connected tls=true" not in log_text(sw), line
    wait_until(lambda: failed_connects(sw) >= 2, 10, "failed connects in /metrics")
    c = client(sw)
    try:
        assert c.get("k") is None  # miss: the application falls through to its database
    finally:
        c.close()
    with sw.raw() as raw:
        assert raw.request("GET", "e:1") == UNAVAILABLE
        # A pinned command needs a dedicated connection, which fails the same way.
        # MULTI pins at its first command, which gets the error; EXEC then aborts.
        assert raw.request("MULTI") == b"+OK\r\n"
        assert raw.request("SET", "tx", "1").startswith(b"-UNAVAILABLE seawall: upstream 'main'")
        assert raw.request("EXEC").startswith(b"-EXECABORT")


ERROR_POLICIES = [{"match": "e:*", "on_unavailable": "error"}]


def test_tls_wrong_ca_refused(pki, servers, seawalls):
    server = servers(pki=pki)
    sw = seawalls(server.port, policies=ERROR_POLICIES,
                  tls={"enabled": True, "ca_file": str(pki.other_ca)})
    assert_refused(sw, r"TLS handshake .*certificate verify failed")


def test_tls_server_name_mismatch_refused_when_verifying(pki, servers, seawalls):
    server = servers(pki=pki)
    sw = seawalls(server.port, policies=ERROR_POLICIES,
                  tls={"enabled": True, "ca_file": str(pki.ca), "server_name": "redis.example"})
    assert_refused(sw, r"server_name=redis\.example.*hostname mismatch")


def test_tls_verify_false_accepts_any_certificate(pki, servers, seawalls):
    server = servers(pki=pki)
    sw = seawalls(server.port, tls={"enabled": True, "ca_file": str(pki.other_ca),
                                    "server_name": "redis.example", "verify": False})
    wait_connected(sw, tls=True, auth=False)
    c = client(sw)
    try:
        assert c.set("unverified", "1") is True
        assert c.get("unverified") == b"1"
    finally:
        c.close()


def test_tls_client_certificate(pki, servers, seawalls):
    server = servers(pki=pki, client_auth=True)
    without = seawalls(server.port, policies=ERROR_POLICIES,
                       tls={"enabled": True, "ca_file": str(pki.ca)})
    # TLS 1.3: the server refuses the missing certificate after the client's handshake is done,
    # so the refusal comes as a failed PING (an alert, or a reset when it wins the race).
    assert_refused(without, r"(no reply to PING from|cannot send PING to) 127\.0\.0\.1")
    sw = seawalls(server.port, tls={"enabled": True, "ca_file": str(pki.ca),
                                    "cert_file": str(pki.client_cert),
                                    "key_file": str(pki.client_key)})
    wait_connected(sw, tls=True, auth=False)
    direct = server.direct()
    try:
        assert_round_trips(sw, direct, "mtls")
    finally:
        direct.close()
    assert_pinned_commands_work(sw, "mtls")


def test_tls_handshake_has_the_connect_deadline(seawalls, pki):
    """A server that accepts TCP but never speaks TLS: each attempt ends at connect_timeout."""
    with socket.socket() as silent:
        silent.bind((LOOPBACK, 0))
        silent.listen(64)  # never accepted: the kernel completes the TCP handshakes
        port = silent.getsockname()[1]
        sw = seawalls(port, connect_timeout="200ms",
                      tls={"enabled": True, "ca_file": str(pki.ca)})
        wait_log(sw, r"connect failed: timed out in the TLS handshake")
        c = client(sw)
        try:
            assert c.get("k") is None
        finally:
            c.close()


# --------------------------------------------------------------------------------------------
# AUTH


def assert_needs_password(server: Redis) -> None:
    direct = server.direct()
    try:
        with pytest.raises(redis.exceptions.AuthenticationError):
            direct.get("k")
    finally:
        direct.close()


def test_requirepass_with_password_env(servers, seawalls, monkeypatch):
    server = servers(args=["--requirepass", "env-secret-1"])
    assert_needs_password(server)
    monkeypatch.setenv("SEAWALL_TEST_REDIS_PASSWORD", "env-secret-1")
    sw = seawalls(server.port, auth={"password_env": "SEAWALL_TEST_REDIS_PASSWORD"})
    wait_connected(sw, tls=False, auth=True)
    direct = server.direct(password="env-secret-1")
    try:
        assert_round_trips(sw, direct, "env")
    finally:
        direct.close()
    assert_pinned_commands_work(sw, "env")
    assert "env-secret-1" not in sw.config_path.read_text()
    assert "env-secret-1" not in log_text(sw)


def test_acl_user_with_password_file(servers, seawalls, tmp_path):
    server = servers(args=["--user", "alice", "on", ">file-secret-2", "~*", "&*", "+@all",
                           "--user", "default", "off"])
    password_file = tmp_path / "redis-password"
    password_file.write_text("file-secret-2\n")  # as `echo` writes it: the newline is dropped
    sw = seawalls(server.port, auth={"username": "alice", "password_file": str(password_file)})
    wait_connected(sw, tls=False, auth=True)
    direct = server.direct(username="alice", password="file-secret-2")
    try:
        assert_round_trips(sw, direct, "acl")
        assert direct.acl_whoami() == "alice"
    finally:
        direct.close()
    assert_pinned_commands_work(sw, "acl")
    # A client's own AUTH on a pinned session still reaches Redis.
    with sw.raw() as raw:
        assert raw.request("AUTH", "alice", "file-secret-2") == b"+OK\r\n"
        assert raw.request("AUTH", "alice", "not-it").startswith(b"-WRONGPASS")
    assert "file-secret-2" not in log_text(sw)


def test_tls_and_acl_user_together(pki, servers, seawalls, monkeypatch):
    server = servers(pki=pki, args=["--user", "bob", "on", ">both-secret-3", "~*", "&*",
                                    "+@all", "--user", "default", "off"])
    monkeypatch.setenv("SEAWALL_TEST_REDIS_PASSWORD", "both-secret-3")
    sw = seawalls(server.port, tls={"enabled": True, "ca_file": str(pki.ca)},
                  auth={"username": "bob", "password_env": "SEAWALL_TEST_REDIS_PASSWORD"})
    wait_connected(sw, tls=True, auth=True)
    direct = server.direct(username="bob", password="both-secret-3")
    try:
        assert_round_trips(sw, direct, "both")
    finally:
        direct.close()
    assert_pinned_commands_work(sw, "both")
    assert "both-secret-3" not in log_text(sw)


@pytest.mark.parametrize("username", [None, "alice"])
def test_wrong_password_refused_and_never_logged(servers, seawalls, monkeypatch, username):
    server = servers(args=["--requirepass", "right-secret", "--user", "alice", "on",
                           ">right-secret", "~*", "+@all"])
    wrong = "wrong-secret-4f7a"
    monkeypatch.setenv("SEAWALL_TEST_REDIS_PASSWORD", wrong)
    auth = {"password_env": "SEAWALL_TEST_REDIS_PASSWORD"}
    if username:
        auth["username"] = username
    sw = seawalls(server.port, policies=ERROR_POLICIES, auth=auth)
    user = username or "default"
    line = wait_log(sw, rf"connect failed: AUTH as user {user} rejected by .*WRONGPASS")
    assert_refused(sw, r"AUTH as user .* rejected")
    wait_until(lambda: failed_connects(sw) >= 4, 10, "connects retried with backoff")
    log = log_text(sw)
    assert wrong not in log, line
    assert "right-secret" not in log
    assert wrong not in sw.config_path.read_text()
    # Nothing the clients got carries it either.
    with sw.raw() as raw:
        assert wrong.encode() not in raw.request("GET", "e:2")


def test_silent_server_auth_has_the_connect_deadline(seawalls, monkeypatch):
    with socket.socket() as silent:
        silent.bind((LOOPBACK, 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        monkeypatch.setenv("SEAWALL_TEST_REDIS_PASSWORD", "pw")
        sw = seawalls(port, connect_timeout="200ms",
                      auth={"password_env": "SEAWALL_TEST_REDIS_PASSWORD"})
        wait_log(sw, r"connect failed: timed out waiting for the reply to AUTH")


# --------------------------------------------------------------------------------------------
# config errors, from the binary


def check_config(tmp_path: Path, upstream_yaml: str, env: Optional[dict] = None):
    path = tmp_path / "check.yaml"
    path.write_text("upstreams:\n  - name: main\n    address: 127.0.0.1:6379\n" + upstream_yaml)
    from harness import seawall_binary
    full_env = dict(os.environ)
    full_env.pop("SEAWALL_TEST_UNSET_PASSWORD", None)
    full_env.update(env or {})
    result = subprocess.run([seawall_binary(), "--check-config", str(path)], capture_output=True,
                            text=True, timeout=30, env=full_env)
    return path, result


def test_check_config_reports_unusable_secrets_and_tls_files(tmp_path, pki):
    path, result = check_config(tmp_path, "    auth: {password_env: SEAWALL_TEST_UNSET_PASSWORD}\n")
    assert result.returncode != 0
    assert (f"{path}:4: upstreams[0].auth.password_env: environment variable "
            "SEAWALL_TEST_UNSET_PASSWORD is not set") in result.stderr

    missing = tmp_path / "nope"
    path, result = check_config(tmp_path, f"    auth: {{password_file: {missing}}}\n")
    assert result.returncode != 0
    assert (f"{path}:4: upstreams[0].auth.password_file: cannot read {missing}: "
            "No such file or directory") in result.stderr

    path, result = check_config(tmp_path, f"    tls:\n      enabled: true\n"
                                          f"      ca_file: {missing}\n")
    assert result.returncode != 0
    assert f"{path}:6: upstreams[0].tls.ca_file: cannot read {missing}" in result.stderr

    path, result = check_config(tmp_path, f"    tls: {{enabled: true, ca_file: {pki.ca}, "
                                          f"cert_file: {pki.client_cert}, "
                                          f"key_file: {pki.server_key}}}\n")
    assert result.returncode != 0
    assert f"{path}:4: upstreams[0].tls.key_file: " in result.stderr

    path, result = check_config(tmp_path, "    auth: {password_env: SEAWALL_TEST_SET_PASSWORD}\n",
                                env={"SEAWALL_TEST_SET_PASSWORD": "set-secret-5"})
    assert result.returncode == 0, result.stderr
    assert "set-secret-5" not in result.stdout + result.stderr


def test_requests_at_startup_wait_for_the_first_connect(servers, tmp_path, monkeypatch):
    # seawall starts while Redis cannot finish the AUTH handshake yet (frozen for a second): a
    # client that comes at once waits for the connection instead of getting a fallback answer
    # (a nil here) and a failure counted against the breaker.
    server = servers(args=["--requirepass", "start-secret"])
    direct = server.direct(password="start-secret")
    assert direct.set("boot", "value") is True
    monkeypatch.setenv("SEAWALL_TEST_REDIS_PASSWORD", "start-secret")
    sw = Seawall(tmp_path / "seawall", server.port, {"upstreams": [upstream_entry(
        server.port, connect_timeout="5s",
        auth={"password_env": "SEAWALL_TEST_REDIS_PASSWORD"})]})
    got = {}

    def first_client() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                got["v"] = client(sw).get("boot")
                return
            except redis.ConnectionError:
                time.sleep(0.005)  # not listening yet

    os.kill(server.proc.pid, signal.SIGSTOP)
    thaw = threading.Timer(1.0, os.kill, (server.proc.pid, signal.SIGCONT))
    thaw.start()
    reader = threading.Thread(target=first_client)
    reader.start()
    try:
        sw.start()
        reader.join(timeout=10)
        assert got.get("v") == b"value"
    finally:
        thaw.join()
        sw.stop()
        direct.close()
