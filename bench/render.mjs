// Renders BENCHMARKS.md from one bench/run.sh results directory: the
// machine, the commands, every figure, and each target from the issues
// with a verdict (met, or missed and by how much). bench/notes.md (the
// profiles and causes, written by hand) is appended as it is.
//
//   node bench/render.mjs build-bench/bench-results/DATE > BENCHMARKS.md

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/render.mjs RESULTS_DIR');
  process.exit(2);
}

// -- inputs -------------------------------------------------------------------

const machine = { rerun: [] };
for (const line of fs.readFileSync(path.join(dir, 'machine.txt'), 'utf8').split('\n')) {
  const i = line.indexOf(':');
  if (i <= 0) continue;
  const key = line.slice(0, i);
  const val = line.slice(i + 1).trim();
  if (key === 'rerun') machine.rerun.push(val);
  else machine[key] = val;
}

const runs = {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort())
  runs[f.slice(0, -5)] = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));

const value = (id, name) => runs[id]?.values?.[name];
const pct = (id, hist, p) => runs[id]?.histograms?.[hist]?.summary?.[p];

// -- formatting ---------------------------------------------------------------

function num(v, digits) {
  if (v === undefined || v === null || Number.isNaN(v)) return 'n/a';
  if (digits !== undefined) return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const a = Math.abs(v);
  const d = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : a >= 1 ? 2 : 3;
  return v.toLocaleString('en-US', { maximumFractionDigits: d });
}

function command(id) {
  const c = runs[id]?.command ?? '';
  return c
    .replace(/--port \d+/, '--port $PORT')
    .replace(/--server-pid \d+/, '--server-pid $PID')
    .replace(/--json \S+/, `--json ${id}.json`);
}

function noise(id) {
  const p = runs[id]?.params ?? {};
  if (p.machine_busy_cores === undefined) return '';
  return `machine busy ${num(p.machine_busy_cores, 2)} of ${machine.nproc} cores during the run, load average ${num(p.loadavg_1min, 2)}`;
}

// -- targets ------------------------------------------------------------------

const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);

const targets = [
  { what: 'RSS per idle connection with one joined channel, 15,000 connections', issue: '#7', id: 'connect-15000',
    get: () => value('connect-15000', 'server_rss_per_connection'), op: '<=', limit: 12, unit: 'KiB' },
  { what: 'RSS per idle connection with one joined channel, 10,000 connections', issue: '#2', id: 'connect-10000',
    get: () => value('connect-10000', 'server_rss_per_connection'), op: '<=', limit: 12, unit: 'KiB' },
  { what: 'connect + join rate (10,000 connections)', issue: '#2 #7', id: 'connect-10000',
    get: () => value('connect-10000', 'connect_join_rate'), op: '>=', limit: 5000, unit: '/s' },
  { what: 'connect + join rate (15,000 connections, 2 worker processes)', issue: '#7', id: 'connect-15000',
    get: () => value('connect-15000', 'connect_join_rate'), op: '>=', limit: 5000, unit: '/s' },
  { what: 'fan-out, 10,000 subscribers, 100 B every 500 ms: publish-to-receipt p99', issue: '#3 #7', id: 'fanout-10000',
    get: () => pct('fanout-10000', 'latency', 'p99_ms'), op: '<=', limit: 120, unit: 'ms' },
  { what: 'fan-out, 10,000 subscribers: server CPU per delivery', issue: '#3 #7', id: 'fanout-10000',
    get: () => value('fanout-10000', 'server_cpu_per_delivery_us'), op: '<=', limit: 12, unit: 'µs' },
  { what: 'saturation, one message to 1,000 subscribers: deliveries/s', issue: '#3 #7', id: 'saturation-fanout',
    get: () => value('saturation-fanout', 'deliveries_per_s'), op: '>=', limit: 150000, unit: '/s' },
  { what: 'saturation, N² chat with 100 clients: deliveries/s', issue: '#3 #7', id: 'saturation-chat',
    get: () => value('saturation-chat', 'deliveries_per_s'), op: '>=', limit: 250000, unit: '/s' },
  { what: 'one-to-many saturation vs the Node ws peer (same run)', issue: '#7', id: 'saturation-fanout-peer',
    get: () => ratio(value('saturation-fanout', 'deliveries_per_s'), value('saturation-fanout-peer', 'deliveries_per_s')),
    op: '>=', limit: 3, unit: 'x' },
  { what: 'N² chat saturation vs the Node ws peer (same run)', issue: '#7', id: 'saturation-chat-peer',
    get: () => ratio(value('saturation-chat', 'deliveries_per_s'), value('saturation-chat-peer', 'deliveries_per_s')),
    op: '>=', limit: 3, unit: 'x' },
  { what: 'echo, 100 clients, 1,000 pushes/s in all: round-trip p99', issue: '#7', id: 'echo',
    get: () => pct('echo', 'round_trip', 'p99_ms'), op: '<', limit: 2, unit: 'ms' },
  { what: 'churn: RSS growth from 10% to 100% of the cycles', issue: '#7', id: 'churn',
    get: () => value('churn', 'server_rss_growth_after_10pct'), op: '<=', limit: 10, unit: '%' },
];
for (const n of [1000, 5000]) {
  const id = `presence-${n}`;
  targets.push(
    { what: `presence, ${num(n)} clients: every list complete after the last join`, issue: '#4', id,
      get: () => value(id, 'all_complete_after_last_join_s'), op: '<=', limit: 10, unit: 's' },
    { what: `presence, ${num(n)} clients: presence frames (limit 10 x clients)`, issue: '#4', id,
      get: () => value(id, 'presence_frames'), op: '<=', limit: 10 * n, unit: 'frames' });
}

function verdict(t) {
  const v = t.get();
  if (v === undefined) return { text: runs[t.id] ? 'no figure' : 'not run', v };
  const ok = t.op === '>=' ? v >= t.limit : t.op === '<' ? v < t.limit : v <= t.limit;
  if (ok) return { text: 'met', v };
  if (t.op === '>=')
    return { text: `**missed**: ${num((100 * v) / t.limit, 0)}% of the target (${num(t.limit / v, 1)}x short)`, v };
  return { text: `**missed** by ${num((100 * (v - t.limit)) / t.limit, 0)}% (${num(v / t.limit, 1)}x the limit)`, v };
}

// -- sections -----------------------------------------------------------------

const out = [];
const w = (s = '') => out.push(s);

function figuresTable(id) {
  const r = runs[id];
  w('| figure | value |');
  w('|---|---|');
  for (const f of r.figures) w(`| ${f.name} | ${num(f.value)}${f.unit ? ' ' + f.unit.replace('us', 'µs') : ''} |`);
  const hists = Object.entries(r.histograms ?? {}).filter(([, h]) => h.summary.count > 0);
  if (hists.length) {
    w();
    w('| latency (ms) | count | p50 | p90 | p99 | p99.9 | max |');
    w('|---|---|---|---|---|---|---|');
    for (const [name, h] of hists) {
      const s = h.summary;
      w(`| ${name} | ${num(s.count)} | ${num(s.p50_ms, 2)} | ${num(s.p90_ms, 2)} | ${num(s.p99_ms, 2)} | ${num(s.p999_ms, 2)} | ${num(s.max_ms, 2)} |`);
    }
  }
}

function section(id, title) {
  if (!runs[id]) return;
  w(`### ${title}`);
  w();
  w('```');
  w(command(id));
  w('```');
  const n = noise(id);
  if (n) w(`_${n}._`);
  w();
  figuresTable(id);
  w();
}

w('# fenix benchmarks');
w();
w('Generated by `bench/run.sh` (rendered by `bench/render.mjs`); do not edit by hand: the');
w('hand-written analysis lives in `bench/notes.md` and is appended at the end. Every figure comes');
w('from `fenix-bench` (sources in bench/) driving the server over real WebSockets (Phoenix V2 JSON) on');
w('127.0.0.1, with the server and the load generator sharing the machine.');
w();
w('## Machine');
w();
w('| | |');
w('|---|---|');
for (const k of ['date', 'nproc', 'cpu', 'kernel', 'memory', 'ulimit_n', 'compiler', 'node', 'commit', 'suite', 'servers', 'uws_peer', 'loadavg_before', 'loadavg_after'])
  if (machine[k]) w(`| ${k} | ${machine[k]} |`);
for (const r of machine.rerun) w(`| re-run | ${r} |`);
w();
w('The machine is shared with other work (builds of other engineers run at the same time): each');
w('run below states how many of the cores were busy in all while it ran. Figures from a run');
w('where the machine was busier than the server and the load generator explain are low by that');
w('much. Server CPU per delivery (read from /proc, whatever the load generator manages) and its');
w('fenix / peer ratio hold better than rates and tail latencies. `pacer_lag` (how late the load');
w('generator sent against its schedule) shows when the load generator itself was starved.');
w();
w('## How to run');
w();
w('```');
w('bench/run.sh                 # builds build-bench/, runs the suite, writes BENCHMARKS.md');
w('make bench                   # the same against build/');
w('SUITE=quick bench/run.sh     # smaller sizes');
w('SERVERS=fenix,uws,ws bench/run.sh   # also the uWebSockets peer (../shared/peers/build-uws.sh)');
w('build-bench/bin/fenix-bench --help');
w('```');
w();
w('Each case starts a fresh server on port 0 (`fenix-test-server`, channel `bench:*`; or the');
w('peer `node bench/peers/ws_peer.mjs`), passes its pid as `--server-pid` so RSS (VmRSS) and');
w('CPU (utime + stime) are read from /proc between phases, and stops it afterwards.');
w('Latency is publish-to-receipt: every payload carries its publisher, a sequence number and');
w('its send time on CLOCK_MONOTONIC (one clock for every process of the machine); the');
w('histograms are log-bucketed (HDR-style, 0.8% resolution) and merged across worker');
w('processes by adding counts. Server CPU per delivery = server CPU between the "go" and');
w('"done" phases / frames received by all clients.');
w();
w('## Targets');
w();
w('| target (issue) | measured | limit | verdict |');
w('|---|---|---|---|');
for (const t of targets) {
  const { text, v } = verdict(t);
  w(`| ${t.what} (${t.issue}) | ${v === undefined ? '-' : num(v) + ' ' + t.unit} | ${t.op} ${num(t.limit)} ${t.unit} | ${text} |`);
}
const lossy = Object.entries(runs).filter(([, r]) => (r.values.lost ?? 0) > 0 || (r.values.duplicates ?? 0) > 0
  || (r.values.join_failures ?? 0) > 0 || (r.values.failed ?? 0) > 0 || (r.values.failures ?? 0) > 0);
w(`| no loss, duplicate or failed join in any run | ${lossy.length ? lossy.map(([id]) => id).join(', ') : 'none'} | none | ${lossy.length ? '**missed**' : 'met'} |`);
w();

// -- fenix vs the peers ---------------------------------------------------------
// Case ids: ID (fenix), ID-peer (Node ws), ID-uws (uWebSockets), from one
// run (bench/run.sh SERVERS=fenix,uws,ws).
const pairs = [
  ['fan-out 10k subscribers, server CPU per delivery (µs)', 'fanout-10000', (id) => value(id, 'server_cpu_per_delivery_us'), 'lower'],
  ['fan-out 10k subscribers, p99 (ms)', 'fanout-10000', (id) => pct(id, 'latency', 'p99_ms'), 'lower'],
  ['one-to-many saturation, deliveries/s', 'saturation-fanout', (id) => value(id, 'deliveries_per_s'), 'higher'],
  ['one-to-many saturation, server CPU per delivery (µs)', 'saturation-fanout', (id) => value(id, 'server_cpu_per_delivery_us'), 'lower'],
  ['N² chat saturation, deliveries/s', 'saturation-chat', (id) => value(id, 'deliveries_per_s'), 'higher'],
  ['N² chat saturation, server CPU per delivery (µs)', 'saturation-chat', (id) => value(id, 'server_cpu_per_delivery_us'), 'lower'],
  ['echo at saturation, replies/s', 'echo-saturation', (id) => value(id, 'replies_per_s'), 'higher'],
  ['echo at saturation, server CPU per message (µs)', 'echo-saturation', (id) => value(id, 'server_cpu_per_message_us'), 'lower'],
  ['echo at saturation, server context switches per message', 'echo-saturation', (id) => value(id, 'server_ctx_switches_per_message'), 'lower'],
  ['echo 1,000/s round trip p50 (ms)', 'echo', (id) => pct(id, 'round_trip', 'p50_ms'), 'lower'],
  ['echo 1,000/s round trip p99 (ms)', 'echo', (id) => pct(id, 'round_trip', 'p99_ms'), 'lower'],
  ['echo 1,000/s server CPU per message (µs)', 'echo', (id) => value(id, 'server_cpu_per_message_us'), 'lower'],
  ['echo 1,000/s server context switches per message', 'echo', (id) => value(id, 'server_ctx_switches_per_message'), 'lower'],
];
const big = Object.keys(runs).find((id) => /^connect-\d+-(peer|uws)$/.test(id));
if (big) {
  const fid = big.replace(/-(peer|uws)$/, '');
  pairs.push([`RSS per idle connection at ${fid.slice(8)} (KiB)`, fid, (id) => value(id, 'server_rss_per_connection'), 'lower']);
  pairs.push([`connect + join rate at ${fid.slice(8)} (/s)`, fid, (id) => value(id, 'connect_join_rate'), 'higher']);
  pairs.push([`server CPU per connect at ${fid.slice(8)} (µs)`, fid, (id) => value(id, 'server_cpu_per_connect_us'), 'lower']);
  pairs.push([`server CPU per close at ${fid.slice(8)} (µs)`, fid, (id) => value(id, 'server_cpu_per_close_us'), 'lower']);
}
const peers = [['-uws', 'uWS'], ['-peer', 'ws']].filter(([sfx]) => pairs.some(([, id]) => runs[id + sfx]));
if (peers.length) {
  w(`## fenix and the peers (${peers.map(([, n]) => n).join(', ')}), same run`);
  w();
  w('The peers are the least a Phoenix V2 server can do: no channel processes, no presence, a');
  w('broadcast encoded once. ws is `bench/peers/ws_peer.mjs` on Node\'s `ws`; uWS is');
  w('`../shared/peers/uws_peer.cpp` on uWebSockets (one thread, its own pub/sub), built outside');
  w('the repository by `../shared/peers/build-uws.sh`. "fenix vs X" is X/fenix for costs and');
  w('fenix/X for rates: above 1 fenix is better.');
  w();
  w(`| figure | fenix | ${peers.map(([, n]) => n).join(' | ')} | ${peers.map(([, n]) => `fenix vs ${n}`).join(' | ')} |`);
  w(`|---|---|${peers.map(() => '---|').join('')}${peers.map(() => '---|').join('')}`);
  for (const [name, id, get, better] of pairs) {
    const a = get(id);
    const bs = peers.map(([sfx]) => get(id + sfx));
    if (a === undefined && bs.every((b) => b === undefined)) continue;
    const advs = bs.map((b) => (a === undefined || b === undefined || !a || !b ? 'n/a'
      : num(better === 'higher' ? a / b : b / a, 2) + 'x'));
    w(`| ${name} | ${num(a)} | ${bs.map((b) => num(b)).join(' | ')} | ${advs.join(' | ')} |`);
  }
  w();
}

// -- fan-out growth -------------------------------------------------------------
const fans = Object.keys(runs).filter((id) => /^fanout-\d+$/.test(id))
  .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)));
if (fans.length) {
  w('## Fan-out latency from 1k to 10k subscribers');
  w();
  w('One publisher, a 100-byte broadcast every 500 ms (`--rate 2`). "last receiver" is, per');
  w('message, the time until its slowest subscriber had it. Encodes and broadcasts are the');
  w('server\'s own counters (GET /stats) over the run: one encode per broadcast means the frame');
  w('was encoded once and the same bytes went to every subscriber.');
  w();
  w('| subscribers | p50 ms | p99 ms | max ms | last receiver p50 ms | last receiver max ms | deliveries/s | server CPU/delivery | broadcasts | encodes | lost |');
  w('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const id of fans) {
    const r = runs[id];
    const go = r.server.find((s) => s.phase === 'go')?.stats ?? {};
    const done = r.server.find((s) => s.phase === 'done')?.stats ?? {};
    const d = (k) => (done[k] !== undefined && go[k] !== undefined ? done[k] - go[k] : undefined);
    w(`| ${num(value(id, 'receivers'))} | ${num(pct(id, 'latency', 'p50_ms'), 1)} | ${num(pct(id, 'latency', 'p99_ms'), 1)} | ${num(pct(id, 'latency', 'max_ms'), 1)} | ${num(pct(id, 'time_to_last_receiver', 'p50_ms'), 1)} | ${num(pct(id, 'time_to_last_receiver', 'max_ms'), 1)} | ${num(value(id, 'deliveries_per_s'))} | ${num(value(id, 'server_cpu_per_delivery_us'))} µs | ${num(d('broadcasts'))} | ${num(d('encodes'))} | ${num(value(id, 'lost'))} |`);
  }
  w();
}

// -- presence -------------------------------------------------------------------
const pres = Object.keys(runs).filter((id) => /^presence-\d+$/.test(id))
  .sort((a, b) => Number(a.slice(9)) - Number(b.slice(9)));
if (pres.length) {
  w('## Presence: N clients joining one tracked topic');
  w();
  w('Each client joins `room:bench` with `user=uN` as fast as the in-flight bound (200) allows and');
  w('keeps the set of users it knows from `presence_state` and `presence_diff`. Batching window:');
  w('fenix\'s default `presence_window` of 20 ms, grown with the topic to');
  w('`window * (1 + entries/100)`, at most 1 s (actors/presence_tracker.hpp). "unbatched" is what');
  w('one diff per join to every member would send: n(n+1)/2 frames (Phoenix 1.8.12 took 81 s for');
  w('5,000 clients, about 12.5 million diff frames).');
  w();
  w('| clients | join phase s | complete after last join s | presence frames | per client | unbatched diff frames | bytes | broadcast after joins p99 ms | broadcast when quiet p99 ms | server CPU s |');
  w('|---|---|---|---|---|---|---|---|---|---|');
  for (const id of pres)
    w(`| ${num(value(id, 'joined'))} | ${num(value(id, 'join_phase_s'), 2)} | ${num(value(id, 'all_complete_after_last_join_s'), 2)} | ${num(value(id, 'presence_frames'))} | ${num(value(id, 'frames_per_client'), 2)} | ${num(value(id, 'unbatched_diff_frames'))} | ${num(value(id, 'presence_bytes') / 1e6, 1)} MB | ${num(pct(id, 'broadcast_after_joins', 'p99_ms'), 1)} | ${num(pct(id, 'broadcast_when_quiet', 'p99_ms'), 1)} | ${num(value(id, 'server_cpu_s'), 2)} |`);
  w();
}

// -- every run ------------------------------------------------------------------
w('## Every run');
w();
const titles = {
  connect: 'connect', fanout: 'fan-out', chat: 'N² chat', echo: 'echo', presence: 'presence', churn: 'churn',
};
const order = ['connect', 'fanout', 'saturation-fanout', 'saturation-chat', 'echo', 'presence', 'churn'];
const rank = (id) => {
  const i = order.findLastIndex((p) => id.startsWith(p));
  return i < 0 ? order.length : i;
};
const ids = Object.keys(runs).sort((a, b) => rank(a) - rank(b)
  || (Number(a.match(/\d+/)?.[0] ?? 0) - Number(b.match(/\d+/)?.[0] ?? 0)) || a.localeCompare(b));
for (const id of ids) {
  const r = runs[id];
  section(id, `${id} (${titles[r.scenario] ?? r.scenario}, ${r.label})`);
}

// Sections measured by their own scripts (apps, cluster), kept as written.
const sections = path.join(here, 'sections');
if (fs.existsSync(sections)) {
  for (const f of fs.readdirSync(sections).filter((n) => n.endsWith('.md')).sort()) {
    w(fs.readFileSync(path.join(sections, f), 'utf8').trimEnd());
    w();
  }
}

const notes = path.join(here, 'notes.md');
if (fs.existsSync(notes)) {
  w(fs.readFileSync(notes, 'utf8').trimEnd());
  w();
}
process.stdout.write(out.join('\n'));
