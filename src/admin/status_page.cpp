#include "admin/status_page.hpp"

namespace seawall::admin::detail {
namespace {

// The script keeps the samples it took in memory (the page is the history: nothing is stored
// in seawall for it), so the chart starts empty and fills as the page stays open. Elements the
// integration test reads carry ids or data- attributes; values are set with textContent only.
constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>seawall status</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 1em 2em; color: #1d2329; background: #f7f8fa; }
h1 { font-size: 20px; margin: 0 0 .2em; }
h2 { font-size: 16px; margin: 1.3em 0 .4em; }
h2 small { font-weight: normal; color: #5d6770; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #d0d5da; padding: 3px 8px; text-align: left; }
#upstreams td, #upstreams th { font-size: 13px; }
th { background: #eef1f4; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-weight: bold; padding: 1px 7px; border-radius: 3px; color: #fff; }
.closed { background: #2a7d2a; } .open { background: #c0392b; } .half_open { background: #d68910; }
#summary b { font-variant-numeric: tabular-nums; }
#error { color: #c0392b; font-weight: bold; }
#chart { background: #fff; border: 1px solid #d0d5da; }
.legend span { margin-right: 1.2em; white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
</style>
</head>
<body>
<h1>seawall <span id="version"></span></h1>
<div id="summary">
readiness <b id="readiness">loading</b> &middot; uptime <b id="uptime">-</b> s &middot;
config version <b id="config-version">-</b> &middot;
clients <b id="clients">-</b> / <b id="max-clients">-</b> &middot;
pinned sessions <b id="pinned">-</b> &middot;
journal <b id="journal-entries">-</b> entries &middot;
updated <span id="updated">never</span> (<span id="refreshes">0</span> refreshes)
<span id="error"></span>
</div>

<h2>Upstreams</h2>
<table id="upstreams">
<thead><tr><th>upstream</th><th>address</th><th>breaker</th><th>override</th>
<th>last transition</th><th>opened</th><th>successes</th><th>failures</th><th>timeouts</th>
<th>slow</th><th>rejected</th><th>journal entries</th><th>journal bytes</th><th>in doubt</th>
<th>health check</th></tr></thead>
<tbody></tbody>
</table>

<h2>Breaker transitions <small>the latest of each upstream at every refresh, newest
first</small></h2>
<table id="transitions">
<thead><tr><th>at (UTC)</th><th>upstream</th><th>from</th><th>to</th></tr></thead>
<tbody><tr><td colspan="4">none yet</td></tr></tbody>
</table>

<h2>Answers by source <small>per second over the last 5 minutes (since this page opened)</small></h2>
<svg id="chart" width="760" height="240" viewBox="0 0 760 240" role="img"
     aria-label="answers per second by source"></svg>
<div class="legend" id="legend"></div>
<table id="answers">
<thead><tr><th>source</th><th>total</th><th>per second</th></tr></thead>
<tbody></tbody>
</table>

<script>
"use strict";
const SOURCES = ["upstream", "journal", "l1_fresh", "l1_stale", "l1_evicted", "l1_near",
                 "default", "miss", "error"];
const COLORS = {upstream: "#2a7d2a", journal: "#7d3c98", l1_fresh: "#2e86c1",
                l1_stale: "#d68910", l1_evicted: "#b9770e", l1_near: "#1e8449",
                default: "#a04000", miss: "#7f8c8d", error: "#c0392b"};
const PERIOD_MS = 2000;
const WINDOW_MS = 5 * 60 * 1000;
const history = [];  // {t: ms, answers: {source: total}}
const transitions = [];  // {upstream, from, to, at}, newest first, as /status reported them
const MAX_TRANSITIONS = 20;
let refreshes = 0;

function $(id) { return document.getElementById(id); }

function setText(id, value) { $(id).textContent = String(value); }

// Prometheus text format 0.0.4: `name{label="value",...} number` per sample line.
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (line === "" || line[0] === "#") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    samples.push({name: m[1], labels: labels, value: Number(m[3])});
  }
  return samples;
}

function metric(samples, name, labels) {
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.keys(labels || {}).every((k) => s.labels[k] === labels[k])) return s.value;
  }
  return null;
}

function cell(row, text, cls, field) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (cls) td.className = cls;
  if (field) td.dataset.field = field;
  row.appendChild(td);
  return td;
}

function renderUpstreams(status, samples) {
  const body = document.querySelector("#upstreams tbody");
  body.replaceChildren();
  let journal = 0;
  for (const u of status.upstreams) {
    const row = document.createElement("tr");
    row.dataset.upstream = u.name;
    const b = u.breaker;
    cell(row, u.name, "", "name");
    cell(row, u.address, "", "address");
    const state = document.createElement("span");
    state.className = "state " + b.state;
    state.textContent = b.state.replace("_", "-");
    const st = cell(row, "", "", "state");
    st.dataset.state = b.state;
    st.appendChild(state);
    cell(row, b.override, "", "override");
    const t = b.last_transition;
    const tc = cell(row, t ? t.from + " \u2192 " + t.to + ", " + t.seconds_ago.toFixed(1) +
                             " s ago" : "none yet", "", "last-transition");
    if (t) tc.title = t.at;
    const c = b.counters;
    if (t && !transitions.some((x) => x.upstream === u.name && x.at === t.at)) {
      transitions.unshift({upstream: u.name, from: t.from, to: t.to, at: t.at});
      transitions.length = Math.min(transitions.length, MAX_TRANSITIONS);
    }
    cell(row, c.opened, "n", "opened");
    cell(row, c.successes, "n", "successes");
    cell(row, c.failures, "n", "failures");
    cell(row, c.timeouts, "n", "timeouts");
    cell(row, c.slow_calls, "n", "slow");
    cell(row, c.rejected, "n", "rejected");
    const entries = metric(samples, "seawall_journal_entries", {upstream: u.name});
    journal += entries || 0;
    cell(row, entries, "n", "journal-entries");
    cell(row, metric(samples, "seawall_journal_bytes", {upstream: u.name}), "n",
         "journal-bytes");
    cell(row, metric(samples, "seawall_upstream_requests_in_doubt", {upstream: u.name}), "n",
         "in-doubt");
    cell(row, u.last_health_check_ms === null ? null : u.last_health_check_ms.toFixed(2) + " ms",
         "n", "health-check");
    body.appendChild(row);
  }
  setText("journal-entries", journal);
  if (transitions.length > 0) {
    const tbody = document.querySelector("#transitions tbody");
    tbody.replaceChildren();
    for (const x of transitions) {
      const row = document.createElement("tr");
      cell(row, x.at);
      cell(row, x.upstream);
      cell(row, x.from.replace("_", "-"));
      cell(row, x.to.replace("_", "-"));
      tbody.appendChild(row);
    }
  }
}

function renderAnswers(totals) {
  const body = document.querySelector("#answers tbody");
  body.replaceChildren();
  const last = history.length >= 2 ? history[history.length - 2] : null;
  const now = history[history.length - 1];
  for (const s of SOURCES) {
    const row = document.createElement("tr");
    row.dataset.source = s;
    cell(row, s, "", "source");
    const total = cell(row, totals[s], "n", "total");
    total.id = "answers-" + s;
    const rate = last ? (now.answers[s] - last.answers[s]) * 1000 / (now.t - last.t) : null;
    cell(row, rate === null ? null : rate.toFixed(1), "n", "rate");
    body.appendChild(row);
  }
}

const SVG = "http://www.w3.org/2000/svg";

function svg(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

// One line per source: answers per second between consecutive samples, the last 5 minutes.
function renderChart() {
  const chart = $("chart");
  chart.replaceChildren();
  const W = 760, H = 240, left = 56, right = 10, top = 10, bottom = 24;
  const plotW = W - left - right, plotH = H - top - bottom;
  const end = history[history.length - 1].t, start = end - WINDOW_MS;
  const series = {};
  let max = 1;
  for (const s of SOURCES) {
    series[s] = [];
    for (let i = 1; i < history.length; ++i) {
      const a = history[i - 1], b = history[i];
      const rate = Math.max(0, (b.answers[s] - a.answers[s]) * 1000 / (b.t - a.t));
      series[s].push([b.t, rate]);
      max = Math.max(max, rate);
    }
  }
  const x = (t) => left + (t - start) / WINDOW_MS * plotW;
  const y = (v) => top + plotH - v / max * plotH;
  chart.appendChild(svg("rect", {x: left, y: top, width: plotW, height: plotH, fill: "#fbfcfd",
                                 stroke: "#d0d5da"}));
  for (const f of [0, 0.5, 1]) {
    const v = max * f;
    chart.appendChild(svg("line", {x1: left, x2: left + plotW, y1: y(v), y2: y(v),
                                   stroke: "#e3e7eb"}));
    chart.appendChild(svg("text", {x: left - 6, y: y(v) + 4, "text-anchor": "end",
                                   "font-size": 11, fill: "#5d6770"}, v.toFixed(v < 10 ? 1 : 0)));
  }
  chart.appendChild(svg("text", {x: left, y: H - 6, "font-size": 11, fill: "#5d6770"},
                        "-5 min"));
  chart.appendChild(svg("text", {x: left + plotW, y: H - 6, "text-anchor": "end",
                                 "font-size": 11, fill: "#5d6770"}, "now"));
  let drawn = 0;
  for (const s of SOURCES) {
    const points = series[s].filter((p) => p[0] >= start);
    if (points.length === 0) continue;
    const d = points.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" ");
    const line = svg("polyline", {points: d, fill: "none", stroke: COLORS[s],
                                  "stroke-width": 2});
    line.dataset.source = s;
    chart.appendChild(line);
    ++drawn;
  }
  chart.dataset.series = String(drawn);
  const legend = $("legend");
  legend.replaceChildren();
  for (const s of SOURCES) {
    const item = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = COLORS[s];
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(s));
    legend.appendChild(item);
  }
}

async function refresh() {
  try {
    const [statusResponse, metricsResponse] = await Promise.all(
        [fetch("/status", {cache: "no-store"}), fetch("/metrics", {cache: "no-store"})]);
    if (!statusResponse.ok || !metricsResponse.ok) {
      throw new Error("HTTP " + statusResponse.status + " / " + metricsResponse.status);
    }
    const status = await statusResponse.json();
    const samples = parseMetrics(await metricsResponse.text());
    const totals = {};
    for (const s of SOURCES) totals[s] = metric(samples, "seawall_answers_total", {source: s}) || 0;
    history.push({t: Date.now(), answers: totals});
    while (history.length > 2 && history[1].t < Date.now() - WINDOW_MS) history.shift();
    setText("version", status.version);
    setText("readiness", status.readiness);
    setText("uptime", status.uptime_seconds);
    setText("config-version", status.config.version);
    setText("clients", metric(samples, "seawall_clients", {}));
    setText("max-clients", status.max_clients);
    setText("pinned", metric(samples, "seawall_pinned_sessions", {}));
    renderUpstreams(status, samples);
    renderAnswers(totals);
    renderChart();
    setText("updated", new Date().toISOString());
    setText("error", "");
    setText("refreshes", ++refreshes);
  } catch (e) {
    setText("error", "refresh failed: " + e.message);
  }
  setTimeout(refresh, PERIOD_MS);
}

refresh();
</script>
</body>
</html>
)HTML";

}  // namespace

std::string_view status_page_html() { return kPage; }

}  // namespace seawall::admin::detail
