"""Real processes for the integration tests: a redis-server, the seawall binary, raw RESP sockets.

Nothing here is faked: RedisServer runs Debian's redis-server on a free loopback port in its own
directory, Seawall runs the binary named by $SEAWALL_BIN with a generated YAML config, and
RawConnection speaks RESP over a plain socket so tests can compare reply bytes exactly. http(),
scrape() and sample() talk to seawall's admin port (/metrics parsed by the Prometheus client
library's own parser, Debian package python3-prometheus-client).

Children get PR_SET_PDEATHSIG=SIGKILL so that a killed or crashed pytest leaves no redis-server or
seawall behind. Start them from the main thread (the signal fires when the forking thread exits).
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Optional

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# Listen ports come from below the kernel's ephemeral range: a port the kernel hands out for bind
# to port 0 can be taken by any outgoing connection's local end before the server binds it (one CI
# run lost a seawall start that way). 20000-21999 and 30000-31999 are left to the cluster fixtures
# (node ports and their bus ports).
_PORT_RANGE = (22000, 30000)
_port_rng = random.Random()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


# Ports this process has handed out: a server picks its port before it binds it, so a second
# pick before that bind would find the same port free (one CI run gave a seawall the port of the
# Redis it was in front of, and the test talked to Redis directly).
_handed_out: set = set()


def free_port() -> int:
    """A loopback TCP port, free a moment ago and not handed out before by this process, that
    no outgoing connection will take."""
    if _ephemeral_low() >= _PORT_RANGE[1]:
        for _ in range(1000):
            port = _port_rng.randrange(*_PORT_RANGE)
            if port not in _handed_out and port_free(port):
                _handed_out.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def listens_on(pid: int, port: int) -> bool:
    """True when process `pid` holds a socket listening on TCP `port`: the server a test started
    answers there, not another test's server that took the same port first."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return False
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:
            continue
    return False


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval=0.02) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def rss_kib(pid: int) -> int:
    """Resident set size of `pid` in KiB, from /proc/PID/status VmRSS."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def tail(path: Path, max_bytes: int = 4000) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "<no log>"
    return data[-max_bytes:].decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# RESP encoding and raw reply reading


def encode_command(*args) -> bytes:
    """One command as a RESP multibulk; str args are UTF-8, int args are decimal."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class ConnectionClosed(Exception):
    """The peer closed (EOF or reset) before a full reply arrived."""

    def __init__(self, partial: bytes):
        super().__init__(f"connection closed; partial reply {partial[:200]!r}")
        self.partial = partial


class RawConnection:
    """A blocking TCP socket with a RESP reply reader that returns each reply's exact bytes.

    Thread safety: none; one thread per connection.
    """

    def __init__(self, port: int, host: str = LOOPBACK, timeout: float = 10.0, rcvbuf: int = 0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Before connect, so the window is small from the start (non-reading client tests).
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._pos = 0  # start of the reply being read

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def settimeout(self, timeout: float) -> None:
        self.sock.settimeout(timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, *args) -> bytes:
        """Sends one command and returns its reply's raw bytes."""
        self.send(encode_command(*args))
        return self.read_reply()

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            partial = bytes(self._buf[self._pos :])
            raise ConnectionClosed(partial)
        self._buf += chunk

    def _line_end(self, start: int) -> int:
        """Index just past the CRLF that ends the line starting at `start`."""
        while True:
            i = self._buf.find(b"\r\n", start)
            if i >= 0:
                return i + 2
            self._fill()

    def _need(self, end: int) -> None:
        while len(self._buf) < end:
            self._fill()

    def _skip_value(self, start: int) -> int:
        """Returns the index just past the RESP value starting at `start` (RESP2 and RESP3)."""
        self._need(start + 1)
        end = self._line_end(start)
        kind = self._buf[start : start + 1]
        header = bytes(self._buf[start + 1 : end - 2])
        if kind in (b"+", b"-", b":", b",", b"#", b"_", b"("):
            return end
        if kind in (b"$", b"!", b"="):
            n = int(header)
            if n < 0:
                return end
            self._need(end + n + 2)
            if self._buf[end + n : end + n + 2] != b"\r\n":
                raise ValueError(f"bulk not followed by CRLF at {end + n}")
            return end + n + 2
        if kind in (b"*", b"~", b">", b"%", b"|"):
            n = int(header)
            if kind in (b"%", b"|"):
                n *= 2
            pos = end
            for _ in range(max(n, 0)):
                pos = self._skip_value(pos)
            if kind == b"|":  # attribute: the actual reply follows
                pos = self._skip_value(pos)
            return pos
        raise ValueError(f"unknown RESP type byte {kind!r} in {bytes(self._buf[start:end])!r}")

    def read_reply(self) -> bytes:
        """Blocks until one whole reply is buffered; returns its bytes exactly as received."""
        end = self._skip_value(self._pos)
        reply = bytes(self._buf[self._pos : end])
        self._pos = end
        if self._pos > (1 << 20) and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        return reply

    def read_replies(self, n: int) -> list[bytes]:
        return [self.read_reply() for _ in range(n)]

    def read_until_closed(self, timeout: float) -> tuple[bytes, bool]:
        """Reads until EOF/reset or `timeout` without data; returns (unparsed bytes, closed)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return bytes(self._buf[self._pos :]), True
                self._buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return bytes(self._buf[self._pos :]), True
        except socket.timeout:
            return bytes(self._buf[self._pos :]), False


    def drain(self, timeout: float, limit: int) -> tuple[int, bool]:
        """Reads and discards until EOF/reset, `timeout` without data, or more than `limit`
        bytes; returns (bytes read, closed)."""
        self.sock.settimeout(timeout)
        total = len(self._buf) - self._pos
        self._buf.clear()
        self._pos = 0
        try:
            while total <= limit:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return total, True
                total += len(chunk)
            return total, False
        except (ConnectionResetError, BrokenPipeError):
            return total, True
        except socket.timeout:
            return total, False


def ping_ok(port: int, timeout: float = 0.5, noauth_ok: bool = False) -> bool:
    """PING answers PONG (or, with noauth_ok, -NOAUTH: a server that requires a password)."""
    try:
        with RawConnection(port, timeout=timeout) as c:
            reply = c.request("PING")
            return reply == b"+PONG\r\n" or (noauth_ok and reply.startswith(b"-NOAUTH "))
    except (OSError, ConnectionClosed, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# redis-server


class RedisServer:
    """A real redis-server on a loopback port, restartable on the same port (fault tests)."""

    def __init__(self, workdir: Path, binary: str = "redis-server", extra_args: Iterable[str] = ()):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.workdir / "redis.log"
        self._log = None
        self._started = False
        # Where a first start whose port is taken goes next (cluster nodes need a bus port too).
        self.pick_port: Callable[[], int] = free_port

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    # Starts on another port when the first start finds its port taken (by a server of a test
    # running in parallel, which picked the same free port); a restart keeps its port.
    PORT_ATTEMPTS = 3

    def start(self, timeout: float = 10.0) -> None:
        for attempt in range(1, self.PORT_ATTEMPTS + 1):
            if self._start_once(timeout):
                break
            if attempt == self.PORT_ATTEMPTS:
                raise RuntimeError(f"redis-server found its port taken {attempt} times\n"
                                   f"redis log:\n{tail(self.log_path)}")
            self.port = self.pick_port()
        self._started = True

    def _start_once(self, timeout: float) -> bool:
        """False when redis-server exited because its port is taken."""
        args = [self.binary, "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
                "--appendonly", "no", "--enable-debug-command", "yes", "--dir", str(self.workdir),
                "--daemonize", "no", "--protected-mode", "no", *self.extra_args]
        if self._log is None:
            self._log = open(self.log_path, "ab")
        log_start = self.log_path.stat().st_size
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

        def up() -> bool:
            # -NOAUTH is up too: a server started with --requirepass.
            return self.proc.poll() is not None or (ping_ok(self.port, noauth_ok=True)
                                                    and listens_on(self.proc.pid, self.port))

        try:
            wait_until(up, timeout, f"redis-server on port {self.port} to answer PING")
        except TimeoutError as e:
            self.kill9()
            raise RuntimeError(f"{e}\nredis log:\n{tail(self.log_path)}") from None
        if self.proc.poll() is None:
            return True
        if not self._started and b"Address already in use" in \
                self.log_path.read_bytes()[log_start:]:
            return False
        raise RuntimeError(f"redis-server exited with {self.proc.returncode} at startup\n"
                           f"redis log:\n{tail(self.log_path)}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL by PID and reap: a hard crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def sigstop(self) -> None:
        """Freezes the server: connections stay open, nothing is answered."""
        os.kill(self.pid, signal.SIGSTOP)

    def sigcont(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def restart(self, timeout: float = 10.0) -> None:
        """kill -9 (if running) and start again on the same port with an empty dataset."""
        self.kill9()
        self.start(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and reap; SIGKILL if it does not exit (a stopped server is continued first)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        if self._log is not None:
            self._log.close()
            self._log = None

    def raw(self, timeout: float = 10.0) -> RawConnection:
        return RawConnection(self.port, timeout=timeout)


# --------------------------------------------------------------------------------------------
# seawall


def _yaml_scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    # A trailing ":" would make YAML read a mapping key ("prefix: spare:"); spaces are quoted.
    safe = (s and all(c.isalnum() or c in "._:-/" for c in s) and not s[0] in "-:"
            and not s.endswith(":"))
    return s if safe else '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_yaml(value, indent: int = 0) -> str:
    """Block-style YAML for nested dicts/lists of scalars (enough for seawall configs).

    Empty dicts are left out so that the binary's defaults apply.
    """
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict) and not v:
                continue
            if isinstance(v, (dict, list)):
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 2))
            else:
                lines.append(f"{pad}{k}: {_yaml_scalar(v)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                lines.append(f"{pad}- " + to_yaml(item, indent + 2).lstrip())
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    else:
        lines.append(pad + _yaml_scalar(value))
    return "\n".join(lines)


def merge(base: dict, overrides: dict) -> dict:
    """Recursive dict merge; lists and scalars in `overrides` replace."""
    out = dict(base)
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def seawall_binary() -> str:
    path = os.environ.get("SEAWALL_BIN")
    if not path:
        raise RuntimeError("SEAWALL_BIN is not set: point it at the seawall binary "
                           "(ctest sets it; by hand: SEAWALL_BIN=build/seawall)")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"SEAWALL_BIN={path} is not an executable file")
    return path


def default_threads() -> int:
    """`threads:` for every generated config that does not set it: $SEAWALL_TEST_THREADS
    (default 1), so that a whole test file can run on several worker threads (the TSan stage)."""
    value = os.environ.get("SEAWALL_TEST_THREADS", "1")
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise RuntimeError(f"SEAWALL_TEST_THREADS={value!r}: must be a whole number >= 1")
    return n


# First line of a sanitizer report; the report ends with its SUMMARY line.
_SANITIZER_START = re.compile(
    r"^(?:WARNING|ERROR): (?:ThreadSanitizer|AddressSanitizer|LeakSanitizer)\b.*$|"
    r"^\S+:\d+:\d+: runtime error: .*$", re.M)
_SANITIZER_END = re.compile(r"^SUMMARY: \w+Sanitizer: .*$", re.M)


def sanitizer_reports(text: str) -> list[str]:
    """Every sanitizer report (TSan, ASan, LSan, UBSan) in `text`, each whole: a report can be
    far longer than a log tail, and its first stack is the one that says where."""
    reports = []
    pos = 0
    while True:
        start = _SANITIZER_START.search(text, pos)
        if start is None:
            return reports
        end = _SANITIZER_END.search(text, start.end())
        stop = end.end() if end is not None else len(text)
        reports.append(text[start.start():stop])
        pos = stop


_UPSTREAM_CONNECTIONS = re.compile(
    r'^seawall_upstream_connections\{upstream="([^"]*)"\} (\S+)$', re.M)


class Seawall:
    """The seawall binary run with a generated config; stop() checks for a clean exit 0 and a
    log without sanitizer reports."""

    DRAIN_TIMEOUT_S = 2

    def __init__(self, workdir: Path, upstream_port: int, overrides: Optional[dict] = None,
                 binary: Optional[str] = None, name: str = "seawall",
                 env: Optional[dict] = None):
        self.workdir = Path(workdir)
        # Added to the process environment (auth.password_env names a variable set here).
        self.env = dict(env or {})
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.binary = binary or seawall_binary()
        self.port = free_port()
        self.admin_port = free_port()
        while self.admin_port == self.port:  # two binds to port 0 may get the same port
            self.admin_port = free_port()
        self.config = merge(
            {
                "listen": {"address": LOOPBACK, "port": self.port},
                # Its own admin port: several seawalls may run at once.
                "admin": {"address": LOOPBACK, "port": self.admin_port},
                "threads": default_threads(),
                "upstreams": [{
                    "name": "main",
                    "address": f"{LOOPBACK}:{upstream_port}",
                    "connections": 2,
                    "connect_timeout": "250ms",
                    # Generous: CI machines are slow and these tests are not about deadlines
                    # or breakers (a loaded sanitizer build must not look like a slow Redis).
                    "request_timeout": "2s",
                    "breaker": {"slow_call_duration": "2s"},
                }],
                "limits": {},
                "log": {"level": "info", "format": "text"},
                "shutdown": {"drain_timeout": f"{self.DRAIN_TIMEOUT_S}s"},
            },
            overrides or {},
        )
        self.config_path = self.workdir / f"{name}.yaml"
        self.log_path = self.workdir / f"{name}.log"
        self.proc: Optional[subprocess.Popen] = None
        self._log = None
        self.exit_code: Optional[int] = None
        self._started = False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def write_config(self, text: Optional[str] = None) -> None:
        """Writes self.config (or `text`) to config_path at once: a temporary file renamed over
        it, as a ConfigMap update does, so the running seawall never reads half a file."""
        tmp = self.config_path.with_name(self.config_path.name + ".tmp")
        tmp.write_text(text if text is not None else to_yaml(self.config) + "\n")
        os.replace(tmp, self.config_path)

    # As RedisServer.PORT_ATTEMPTS: the first start moves to other ports the harness picked when
    # another test's server took one of them first; a restart or a port a test chose does not.
    PORT_ATTEMPTS = 3

    def start(self, timeout: float = 10.0) -> None:
        for attempt in range(1, self.PORT_ATTEMPTS + 1):
            if self._start_once(timeout):
                break
            if attempt == self.PORT_ATTEMPTS:
                raise RuntimeError(f"seawall found its ports taken {attempt} times\n"
                                   f"log:\n{tail(self.log_path)}")
            self.port = free_port()
            self.admin_port = free_port()
            self.config["listen"]["port"] = self.port
            self.config["admin"]["port"] = self.admin_port
        self._started = True
        self._wait_workers_connected()

    def _ports_movable(self) -> bool:
        return (not self._started and self.config.get("listen", {}).get("port") == self.port
                and self.config.get("admin", {}).get("port") == self.admin_port)

    def _start_once(self, timeout: float) -> bool:
        """False when seawall exited because a port the harness picked is taken."""
        self.write_config()
        if self._log is None:
            self._log = open(self.log_path, "ab")
        log_start = self.log_path.stat().st_size
        self.proc = subprocess.Popen([self.binary, "--config", str(self.config_path)],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                                     env={**os.environ, **self.env} if self.env else None)
        # With auth configured, an unauthenticated PING gets -NOAUTH: that is up, too.
        noauth_ok = bool(self.config.get("auth"))

        def up() -> bool:
            return self.proc.poll() is not None or (ping_ok(self.port, noauth_ok=noauth_ok)
                                                    and listens_on(self.proc.pid, self.port))

        try:
            wait_until(up, timeout, f"seawall on port {self.port} to answer PING")
        except TimeoutError as e:
            self._kill9()
            raise RuntimeError(f"{e}\nlog:\n{tail(self.log_path)}") from None
        if self.proc.poll() is None:
            return True
        if self._ports_movable() and b"Address already in use" in \
                self.log_path.read_bytes()[log_start:]:
            return False
        raise RuntimeError(f"seawall exited with {self.proc.returncode} at startup\n"
                           f"config:\n{self.config_path.read_text()}\n"
                           f"log:\n{tail(self.log_path)}")

    # Longest wait for the other workers' upstream connections (a Redis that is down or refuses
    # seawall on purpose never gets there; that test then starts as it would with one thread).
    WORKERS_CONNECTED_WAIT_S = 2.0

    def _wait_workers_connected(self) -> None:
        """With threads > 1, waits (best effort) until every worker has its upstream connections.

        The PING that start() waits for is answered by one worker; another may still be
        connecting. A request it takes meanwhile waits for that first connect attempt, but one
        that comes after a failed attempt (a reconnect in its backoff) fails as unavailable, so
        tests start once every connection is up. With one thread the PING and the test's
        requests share a worker, so the test starts after its connections."""
        threads = self.config.get("threads", 1)
        if threads <= 1 or not self.config.get("admin", {}).get("enabled", True):
            return
        want = {u["name"]: threads * u["connections"]
                for u in self.config.get("upstreams", []) if "connections" in u}

        def connected() -> bool:
            try:
                body = http(self.admin_port, "/metrics", timeout=1.0)[2]
            except OSError:
                return False
            have = {m.group(1): float(m.group(2)) for m in _UPSTREAM_CONNECTIONS.finditer(body)}
            return all(have.get(name, 0) >= n for name, n in want.items())

        try:
            wait_until(connected, self.WORKERS_CONNECTED_WAIT_S, "every worker's connections")
        except TimeoutError:
            pass

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and pid_alive(self.proc.pid)

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Until /readyz answers 200 (start() waits for a PING only; readiness is set a moment
        after the listener opens)."""
        wait_until(lambda: admin_answers(self.admin_port)
                   and http(self.admin_port, "/readyz")[0] == 200, timeout,
                   f"seawall's /readyz on port {self.admin_port} to answer 200")

    def terminate(self) -> None:
        """SIGTERM without waiting: the test watches the drain, then calls wait_exit()."""
        assert self.proc is not None and self.proc.poll() is None, "seawall is not running"
        os.kill(self.proc.pid, signal.SIGTERM)

    def wait_exit(self, timeout: float) -> int:
        """Waits for the process to exit (kill -9 by PID and AssertionError after `timeout`);
        returns its exit status, which stop() then takes as already checked."""
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill9()
            raise AssertionError(f"seawall did not exit within {timeout}s; killed with SIGKILL"
                                 f"\nlog:\n{self.log_tail()}") from None
        self.exit_code = self.proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.exit_code

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def log_tail(self) -> str:
        return tail(self.log_path)

    def log_text(self) -> str:
        """The whole log so far."""
        return tail(self.log_path, max_bytes=1 << 30)

    def _kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def failure_log(self) -> str:
        """The log tail, and every sanitizer report in the log in full."""
        text = self.log_text()
        reports = sanitizer_reports(text)
        if not reports:
            return f"log:\n{self.log_tail()}"
        # The log up to the first report, then the reports (they end the log under
        # halt_on_error=1, so a plain tail would show only the end of the last stack).
        before = text[:text.find(reports[0])][-2000:]
        return (f"log before the first report:\n{before}\n{len(reports)} sanitizer report(s) "
                f"in {self.log_path}:\n" + "\n\n".join(reports))

    def _check_no_sanitizer_report(self) -> None:
        # A report with halt_on_error=0, or one printed before a clean exit, fails the test too.
        if sanitizer_reports(self.log_text()):
            raise AssertionError(f"seawall (exit status {self.exit_code}) reported a sanitizer "
                                 f"error\n{self.failure_log()}")

    def stop(self, timeout: Optional[float] = None) -> None:
        """SIGTERM, then requires exit code 0 within drain_timeout + 5 s.

        Raises AssertionError (after kill -9 by PID as a last resort) when it does not exit in
        time, when it had already died or exits non-zero, and when its log holds a sanitizer
        report (also after wait_exit(), whose status the test checked).
        """
        if self.proc is None:
            return
        if self.exit_code is not None:
            self._check_no_sanitizer_report()
            return
        timeout = timeout if timeout is not None else self.DRAIN_TIMEOUT_S + 5
        try:
            already_dead = self.proc.poll() is not None
            if not already_dead:
                os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._kill9()
                    raise AssertionError(f"seawall did not exit within {timeout}s of SIGTERM; "
                                         f"killed with SIGKILL\n{self.failure_log()}")
            self.exit_code = self.proc.returncode
            if already_dead:
                raise AssertionError(f"seawall died during the test with status {self.exit_code}"
                                     f"\n{self.failure_log()}")
            if self.exit_code != 0:
                raise AssertionError(f"seawall exited with status {self.exit_code} after SIGTERM"
                                     f"\n{self.failure_log()}")
            self._check_no_sanitizer_report()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def raw(self, timeout: float = 10.0, rcvbuf: int = 0) -> RawConnection:
        return RawConnection(self.port, timeout=timeout, rcvbuf=rcvbuf)


def raise_nofile_limit(want: int) -> int:
    """Raises this process's soft RLIMIT_NOFILE towards `want` (at most the hard limit); children
    started afterwards inherit it. Returns the soft limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_idle_clients(port: int, n: int, timeout: float = 30.0) -> list[socket.socket]:
    """`n` connections to `port`, each of which has sent one PING and read its +PONG: clients
    that then stay open and idle. Connects and pings in batches, so 10,000 take a second or two."""
    clients: list[socket.socket] = []
    batch = 500
    deadline = time.monotonic() + timeout
    try:
        while len(clients) < n:
            group = []
            for _ in range(min(batch, n - len(clients))):
                s = socket.create_connection((LOOPBACK, port), timeout=timeout)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                group.append(s)
                clients.append(s)
            for s in group:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
            for s in group:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                got = b""
                while not got.endswith(b"\r\n"):
                    chunk = s.recv(64)
                    if not chunk:
                        raise ConnectionClosed(got)
                    got += chunk
                if got != b"+PONG\r\n":
                    raise RuntimeError(f"PING answered {got[:100]!r}")
    except BaseException:
        for s in clients:
            s.close()
        raise
    return clients


# --------------------------------------------------------------------------------------------
# the admin port


def http(port: int, path: str, method: str = "GET", timeout: float = 5.0):
    """(status, headers, body text) of one request; 4xx and 5xx are answers, not exceptions."""
    request = urllib.request.Request(f"http://{LOOPBACK}:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def admin_answers(port: int) -> bool:
    """True when /healthz on `port` answers 200."""
    try:
        return http(port, "/healthz", timeout=0.5)[0] == 200
    except OSError:
        return False


def scrape(port: int) -> dict:
    """/metrics parsed by prometheus_client: {family name: family}. Counter families are named
    without their _total suffix, as the parser does."""
    # Imported here so that tests which never scrape do not need the package.
    from prometheus_client.parser import text_string_to_metric_families

    status, headers, body = http(port, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {family.name: family for family in text_string_to_metric_families(body)}


_SAMPLE_SUFFIXES = ("_total", "_count", "_sum", "_bucket")


def sample(families: dict, name: str, **labels) -> float:
    """The value of sample `name` as exposed (seawall_answers_total, ..._seconds_count) with
    exactly `labels`."""
    family_names = [name] + [name[: -len(s)] for s in _SAMPLE_SUFFIXES if name.endswith(s)]
    for family_name in family_names:
        for s in families[family_name].samples if family_name in families else ():
            if s.name == name and s.labels == labels:
                return s.value
    raise KeyError(f"no sample {name}{labels}")


def node_across_restart(node: str, port: int, server: "RedisServer", case: str,
                        tell_restarted: bool = False) -> dict:
    """Runs the ioredis case `case` of node/behaviour_ioredis.mjs against `port`; once it prints
    "blocked", kill -9s and restarts `server` (telling the case "restarted" on its stdin when
    `tell_restarted`), and returns the JSON the case prints last."""
    proc = subprocess.Popen([node, "behaviour_ioredis.mjs", str(port), case],
                            cwd=Path(__file__).parent / "node",
                            stdin=subprocess.PIPE if tell_restarted else None,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "blocked"
        server.restart()
        if tell_restarted:
            proc.stdin.write("restarted\n")
            proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])
