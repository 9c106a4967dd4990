"""The status page (GET / on the admin port) in a real browser: Debian's headless Chromium loads
it from a real seawall in front of a real redis-server, runs its script, and the numbers it shows
(from the DOM after the script ran, `--dump-dom`) must be those of /metrics: clients, pinned
sessions, journal depth, answers by source, breaker state and trips; then again after a breaker
is forced open through the admin API. A screenshot is taken and must be a non-blank PNG.

Skipped only when chromium is absent or cannot start here, and not even then with
SEAWALL_REQUIRE_CHROMIUM=1 (as .ci/test sets), so CI cannot skip it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
import redis

sys.path.insert(0, os.path.dirname(__file__))

from harness import LOOPBACK, http, sample, scrape  # noqa: E402

CHROMIUM_TIMEOUT_S = 90
# Virtual time: the page refreshes every 2 s, so about three refreshes happen, at once.
VIRTUAL_TIME_MS = 6000
SOURCES = ["upstream", "journal", "l1_fresh", "l1_stale", "l1_evicted", "l1_near",
           "default", "miss", "error"]


def require_or_skip(reason: str):
    if os.environ.get("SEAWALL_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"{reason}; SEAWALL_REQUIRE_CHROMIUM=1 requires it", pytrace=False)
    pytest.skip(reason)


def chromium_args(binary: str, profile: Path, *extra: str) -> list[str]:
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
            f"--user-data-dir={profile}", *extra]


def run_chromium(binary: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(chromium_args(binary, profile, *extra), capture_output=True, text=True,
                          timeout=CHROMIUM_TIMEOUT_S, stdin=subprocess.DEVNULL)


@pytest.fixture
def chromium(tmp_path) -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        require_or_skip("chromium not found: install Debian's package chromium "
                        "(bash .ci/install-deps)")
    # Can it run at all here (a container without the kernel features it wants, say)?
    try:
        probe = run_chromium(binary, tmp_path / "probe-profile", "--dump-dom",
                             "data:text/html,<p id=x>ok</p>")
    except subprocess.TimeoutExpired:
        require_or_skip("chromium did not finish a trivial page")
    if probe.returncode != 0 or 'id="x">ok<' not in probe.stdout:
        require_or_skip(f"chromium cannot run here (exit {probe.returncode}): "
                        f"{probe.stderr[-2000:]}")
    return binary


class PageDom(HTMLParser):
    """The numbers the page shows: text by element id, each upstream row's fields by
    data-field, and each answers row's fields; attributes of the elements with an id."""

    VOID = {"meta", "link", "br", "img", "input", "hr", "area", "base", "col", "embed", "source",
            "track", "wbr"}

    def __init__(self, html: str):
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.attrs_by_id: dict[str, dict] = {}
        self.upstreams: dict[str, dict[str, str]] = {}
        self.answers: dict[str, dict[str, str]] = {}
        self._stack: list[dict] = []
        self._row: tuple[str, str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        a = dict(attrs)
        if tag == "tr" and "data-upstream" in a:
            self._row = ("upstream", a["data-upstream"])
            self.upstreams[a["data-upstream"]] = {}
        elif tag == "tr" and "data-source" in a:
            self._row = ("source", a["data-source"])
            self.answers[a["data-source"]] = {}
        if "id" in a:
            self.by_id.setdefault(a["id"], "")
            self.attrs_by_id[a["id"]] = a
        self._stack.append({"tag": tag, **a})
        if "data-field" in a and self._row is not None:
            table = self.upstreams if self._row[0] == "upstream" else self.answers
            table[self._row[1]][a["data-field"]] = ""
            if a["data-field"] == "state":
                table[self._row[1]]["data-state"] = a.get("data-state", "")

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self._stack:
            top = self._stack.pop()
            if top["tag"] == "tr":
                self._row = None
            if top["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self._stack:
            if "id" in element:
                self.by_id[element["id"]] += data
            if "data-field" in element and self._row is not None:
                table = self.upstreams if self._row[0] == "upstream" else self.answers
                table[self._row[1]][element["data-field"]] += data


def load_page(chromium: str, tmp_path: Path, admin_port: int, name: str) -> PageDom:
    url = f"http://{LOOPBACK}:{admin_port}/"
    proc = run_chromium(chromium, tmp_path / f"profile-{name}",
                        f"--virtual-time-budget={VIRTUAL_TIME_MS}", "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (tmp_path / f"{name}.html").write_text(proc.stdout)
    return PageDom(proc.stdout)


def png_pixels(path: Path) -> tuple[int, int, set]:
    """(width, height, set of distinct pixel colours) of an 8-bit RGB or RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    previous = bytearray(stride)
    colours = set()
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + a) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + b) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                row[i] = (row[i] + pred) & 0xFF
        if y % 4 == 0:  # every fourth line is plenty to see what is drawn
            for x in range(0, stride, bpp):
                colours.add(bytes(row[x:x + 3]))
        previous = row
    return width, height, colours


def check_against_metrics(page: PageDom, sw) -> dict:
    m = scrape(sw.admin_port)
    assert int(page.by_id["refreshes"]) >= 2, page.by_id  # the script ran and kept refreshing
    assert page.by_id["error"] == ""
    assert int(page.by_id["clients"]) == sample(m, "seawall_clients")
    assert int(page.by_id["pinned"]) == sample(m, "seawall_pinned_sessions")
    assert int(page.by_id["journal-entries"]) == sample(m, "seawall_journal_entries",
                                                        upstream="main")
    for source in SOURCES:
        assert int(page.answers[source]["total"]) == sample(m, "seawall_answers_total",
                                                            source=source), source
    row = page.upstreams["main"]
    state = {0: "closed", 1: "open", 2: "half_open"}[
        int(sample(m, "seawall_breaker_state", upstream="main"))]
    assert row["data-state"] == state
    assert int(row["opened"]) == sample(m, "seawall_breaker_opened_total", upstream="main")
    assert int(row["journal-entries"]) == sample(m, "seawall_journal_entries", upstream="main")
    assert int(row["rejected"]) == sample(m, "seawall_breaker_calls_total", upstream="main",
                                          outcome="rejected")
    # The chart drew a line per source once two samples were taken.
    assert int(page.attrs_by_id["chart"]["data-series"]) == len(SOURCES)
    return m


def test_status_page_shows_what_metrics_say(redis_server, make_seawall, chromium, tmp_path):
    sw = make_seawall(policies=[{"match": "c:*", "l1": {"ttl": "60s", "max_stale": "60s"}},
                                {"match": "j:*", "writes_when_open": "journal"},
                                {"match": "*", "on_unavailable": "miss"}])
    status, headers, body = http(sw.admin_port, "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]

    c = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=30)
    idle = [redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=30) for _ in range(3)]
    pinned = redis.Redis(host=LOOPBACK, port=sw.port, socket_timeout=30, db=1)  # SELECT 1 pins
    try:
        for i in range(10):
            assert c.set(f"c:{i}", f"v{i}") is True
            assert c.get(f"c:{i}") == f"v{i}".encode()
        for r in idle:
            assert r.ping() is True
        assert pinned.set("p", "1") is True

        page = load_page(chromium, tmp_path, sw.admin_port, "healthy")
        m = check_against_metrics(page, sw)
        assert sample(m, "seawall_clients") == 5
        assert sample(m, "seawall_pinned_sessions") == 1
        assert page.upstreams["main"]["data-state"] == "closed"
        assert page.upstreams["main"]["override"] == "none"
        assert page.by_id["readiness"] == "ready"

        # Force the breaker open: reads come from the L1, a write goes to the journal.
        assert http(sw.admin_port, "/breakers/main/open", method="POST")[0] == 200
        for i in range(10):
            assert c.get(f"c:{i}") == f"v{i}".encode()
        assert c.set("j:1", "journaled") is True
        page = load_page(chromium, tmp_path, sw.admin_port, "forced-open")
        m = check_against_metrics(page, sw)
        row = page.upstreams["main"]
        assert row["data-state"] == "open"
        assert row["override"] == "forced_open"
        assert row["last-transition"].startswith("closed \u2192 open")
        assert int(page.by_id["journal-entries"]) == 1 == sample(m, "seawall_journal_entries",
                                                                 upstream="main")
        assert int(page.answers["l1_fresh"]["total"]) >= 10
        assert "mainclosedopen" in page.by_id["transitions"].replace(" ", "").replace("\n", "")

        shot = tmp_path / "status-page.png"
        proc = run_chromium(chromium, tmp_path / "profile-shot",
                            f"--virtual-time-budget={VIRTUAL_TIME_MS}", "--window-size=1280,900",
                            f"--screenshot={shot}", f"http://{LOOPBACK}:{sw.admin_port}/")
        assert proc.returncode == 0, proc.stderr[-3000:]
        width, height, colours = png_pixels(shot)
        assert (width, height) == (1280, 900)
        # White background, text, the red "open" badge, table borders, chart lines: a blank or
        # failed page has one or two colours.
        assert len(colours) >= 8, len(colours)
        assert any(r > 150 and g < 90 and b < 90 for r, g, b in colours), "no red badge"
    finally:
        http(sw.admin_port, "/breakers/main/reset", method="POST")
        for r in [c, pinned, *idle]:
            r.close()
