// Renders bench/sections/cluster.md from one bench/run-cluster.sh results
// directory: the machine, the commands and the figures of the three cluster
// measurements (issue #6). The "Reading" part is written by hand: it is
// taken from the current OUT file (between the <!-- reading --> markers)
// so that a re-run keeps it; check it against the new figures.
//
//   node bench/cluster-render.mjs RESULTS_DIR [OUT] > OUT.tmp

import fs from 'node:fs';
import path from 'node:path';

const [dir, outFile] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node bench/cluster-render.mjs RESULTS_DIR [OUT]');
  process.exit(2);
}
const file = (f) => path.join(dir, f);
const exists = (f) => fs.existsSync(file(f));
const read = (f) => fs.readFileSync(file(f), 'utf8');
const json = (f) => (exists(f) ? JSON.parse(read(f)) : undefined);

const machine = {};
for (const line of read('machine.txt').split('\n')) {
  const i = line.indexOf(':');
  if (i > 0) machine[line.slice(0, i)] = line.slice(i + 1).trim();
}

function num(v, digits) {
  if (v === undefined || v === null || Number.isNaN(v)) return 'n/a';
  if (digits !== undefined)
    return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const a = Math.abs(v);
  const d = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { maximumFractionDigits: d });
}

const lines = [];
const w = (s = '') => lines.push(s);

// Replaces the ports of one run by the node names.
function command(r, subs, pub) {
  let c = r?.command ?? '';
  c = c.replace(/--port \d+/, `--port $${subs}`)
    .replace(/--publish-port \d+/, `--publish-port $${pub}`)
    .replace(/--server-pid \d+/, `--server-pid $PID_${subs}`)
    .replace(/--json (\S*\/)?(\S+)/, '--json $2');
  return c;
}

w('## Cluster: three nodes on one machine (issue #6)');
w();
w(`Measured ${machine.date} by \`bench/run-cluster.sh\` on ${machine.nproc} cores ` +
  `(${machine.cpu}), ${machine.memory}, ${machine.kernel}; commit ${machine.commit}. ` +
  `Load average before ${machine.loadavg_before}, after ${machine.loadavg_after ?? 'n/a'}. ` +
  `Sizes: ${machine.sizes}. Binaries: ${machine.build ?? 'built from this tree'}.`);
w();
if (machine.capacity_from)
  lines.push(`The capacity part comes from a second invocation: ${machine.capacity_from}.`, '');
const busy = Object.keys(machine).filter((k) => k.startsWith('busy_before_'));
if (busy.length) {
  w('Machine before each part (other work on this shared machine included): ' +
    busy.map((k) => `${k.slice(12)}: ${machine[k]}`).join('; ') + '.');
  w();
}
w('Every node is `fenix-test-server --port 0 --node-port FREE` (B and C add ' +
  '`--join 127.0.0.1:$NODE_PORT_A`): the test server with the cluster of ' +
  '`actors/cluster.hpp` (4 PubSub/presence shards, heartbeat 200 ms, ' +
  'timeout 2 s, gossip 200 ms, loopback). The script waits until `/stats` ' +
  'shows `cluster_nodes` 3 on every node. `$A`, `$B`, `$C` below are the ' +
  "nodes' HTTP ports. The nodes, the load generators and the JS clients " +
  `all share the ${machine.nproc} cores.`);
w();

// -- 1. latency -----------------------------------------------------------------
const lat = [
  ['lat-single', 'one node, no cluster', 'S', null],
  ['lat-same', 'cluster, all on node A', 'A', null],
  ['lat-cross', 'cluster, subscribers on B, publisher on A', 'B', 'A'],
  ['lat-cross-b', 'cluster, B + C at once: the half on B (publisher on A)', 'B', 'A'],
  ['lat-cross-c', 'cluster, B + C at once: the half on C (publisher on A)', 'C', 'A'],
].filter(([id]) => exists(`${id}.json`));
if (lat.length) {
  w('### Broadcast latency: cross-node vs. same-node');
  w();
  w('`fenix-bench fanout`: each publisher pushes a 100-byte "broadcast" event ' +
    'at a fixed rate, the bench:* channel broadcasts it, every subscriber ' +
    'measures publish-to-receipt latency (one clock: the same bench process ' +
    'sends and receives). `--publish-port` puts the publisher on another node ' +
    'than its subscribers, so every message crosses the cluster once (A to B) ' +
    'and is fanned out on B. In the B + C case two bench processes run at ' +
    'once, each with its own topic and publisher on A and half the ' +
    'subscribers (so A publishes twice the messages, the deliveries per ' +
    'second are the same).');
  w();
  w('| case | subscribers | published | delivered | lost | p50 ms | p90 ms | p99 ms | max ms | deliveries/s | server CPU µs/delivery (subscribers\' node) | machine busy (cores) |');
  w('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [id, what] of lat) {
    const r = json(`${id}.json`);
    const v = r.values;
    const h = r.histograms?.latency?.summary ?? {};
    w(`| ${what} | ${num(v.receivers)} | ${num(v.published)} | ${num(v.delivered)} | ${num(v.lost)} | ` +
      `${num(h.p50_ms, 2)} | ${num(h.p90_ms, 2)} | ${num(h.p99_ms, 2)} | ${num(h.max_ms, 2)} | ` +
      `${num(v.deliveries_per_s)} | ${num(v.server_cpu_per_delivery_us)} | ` +
      `${num(r.params?.machine_busy_cores, 2)} |`);
  }
  w();
  w('Commands (`$S` is a fenix-test-server without `--node-port`):');
  w();
  w('```sh');
  for (const [id, , subs, pub] of lat) w(command(json(`${id}.json`), subs, pub));
  w('```');
  w();
}

// -- 2. presence ----------------------------------------------------------------
if (exists('presence.jsonl')) {
  const runs = read('presence.jsonl').split('\n').filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  if (runs.length) {
    w('### Presence convergence after a node loss');
    w();
    w(`\`bench/cluster-presence.mjs\` (official \`phoenix\` ${'client'} with \`ws\`, ` +
      'one Node process): N clients on each node join ' +
      '`room:conv` (fenix-test-server tracks each under its user name) and ' +
      'keep the list with the JS `Presence` helper. When all 3N lists are ' +
      'complete, node C gets the signal; the clock starts just before ' +
      '`kill`. A surviving client is done when its list holds exactly the ' +
      '2N users of A and B ' +
      '(count and names checked); "wrong lists" counts survivors whose final ' +
      'list differs from that set. Each run uses a fresh cluster. With ' +
      'SIGSTOP nothing closes, so the nodes notice through the middleman ' +
      'heartbeat (timeout 2 s); after SIGCONT the time until every list ' +
      'holds the C users again is given too.');
    w();
    w('| signal to C | clients (survivors) | first leave seen ms | first list correct ms | p50 ms | p99 ms | last list correct ms (on A / on B) | wrong lists | presence_diff frames per survivor | back after SIGCONT ms |');
    w('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of runs)
      w(`| ${r.signal} | ${num(r.clients)} (${num(r.survivors)}) | ${num(r.first_leave_ms)} | ` +
        `${num(r.converged_first_ms)} | ${num(r.converged_p50_ms)} | ${num(r.converged_p99_ms)} | ` +
        `${num(r.converged_last_ms)} (${num(r.converged_last_ms_by_node?.node0)} / ${num(r.converged_last_ms_by_node?.node1)}) | ${num(r.wrong_lists)} | ${num(r.diffs_per_survivor)} | ${r.back_last_ms === undefined ? '' : r.back_error ? `not back: ${r.back_error}` : num(r.back_last_ms)} |`);
    w();
    w('```sh');
    w(`node bench/cluster-presence.mjs --ports $A,$B,$C --pids $PID_A,$PID_B,$PID_C \\`);
    const sizes = [...new Set(runs.map((r) => r.per_node))].join(' | ');
    w(`  --per-node N --victim 2 --signal SIGKILL   # N: ${sizes}; or SIGSTOP`);
    w('```');
    w();
  }
}

// -- 3. capacity ----------------------------------------------------------------
if (exists('cap-held.txt')) {
  const held = {};
  const benchRss = {};
  for (const line of read('cap-held.txt').split('\n')) {
    let m = line.match(/^node (\d) pid \d+ rss_kib (\d+) connections (\d+) channels (\d+) fds (\d+)/);
    if (m) held[m[1]] = { rss: +m[2], conns: +m[3], chans: +m[4], fds: +m[5] };
    m = line.match(/^bench (\d) pid \d+ rss_kib (\d+)/);
    if (m) benchRss[m[1]] = +m[2];
  }
  const before = read('cap-rss-before.txt').trim().split('\n').map((l) => +l.split(' ')[1]);
  const caps = [0, 1, 2].map((i) => json(`cap-${i}.json`));
  w('### Connections held by three nodes');
  w();
  w('Three `fenix-bench connect` processes at once, one per node (one ' +
    'process may hold at most 20,000 descriptors here, and so may each ' +
    'node: 15,000 each stays under it), each opening its connections and ' +
    'joining `bench:1` on every one, 200 connects in flight, then holding ' +
    'them. While all are held the script reads `/stats` (connections, ' +
    'channels) and `VmRSS` from `/proc` of each node. RSS per connection = ' +
    '(RSS held − RSS of the idle clustered node) / connections; the bench\'s ' +
    'own figure takes the baseline just before its connects. The clients ' +
    'come from 127.0.0.1 to three server ports, so the ephemeral range ' +
    `(${machine.port_range}) is used per destination port.`);
  w();
  w('| node | connections | joined channels | RSS idle MiB | RSS held MiB | KiB per connection (/proc) | KiB per connection (bench) | connect + join /s | failed | server fds |');
  w('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  let tc = 0, tch = 0, tb = 0, th = 0;
  for (const i of [0, 1, 2]) {
    const h = held[i] ?? {};
    const v = caps[i]?.values ?? {};
    tc += h.conns ?? 0; tch += h.chans ?? 0; tb += before[i] ?? 0; th += h.rss ?? 0;
    w(`| ${'ABC'[i]} | ${num(h.conns)} | ${num(h.chans)} | ${num(before[i] / 1024, 1)} | ` +
      `${num(h.rss / 1024, 1)} | ${num((h.rss - before[i]) / h.conns, 2)} | ` +
      `${num(v.server_rss_per_connection, 2)} | ${num(v.connect_join_rate)} | ${num(v.failed)} | ${num(h.fds)} |`);
  }
  w(`| **all** | **${num(tc)}** | **${num(tch)}** | ${num(tb / 1024, 1)} | ${num(th / 1024, 1)} | ` +
    `**${num((th - tb) / tc, 2)}** | | | | |`);
  w();
  const bt = Object.values(benchRss).reduce((a, b) => a + b, 0);
  w(`The three bench processes held ${num(bt / 1024)} MiB RSS together ` +
    `(${num(bt / tc, 1)} KiB per client connection). ` +
    `${(read('cap-held.txt').match(/^loadavg (.*)$/m) ?? [])[1] ? 'Load average while held: ' + read('cap-held.txt').match(/^loadavg (.*)$/m)[1] + '.' : ''}`);
  w();
  w('```sh');
  for (const i of [0, 1, 2]) w(command(caps[i], 'ABC'[i], null) + ' &');
  w('```');
  w();
}

// -- reading (by hand, kept across runs) ----------------------------------------
let reading = '<!-- reading -->\n### Reading\n\n(to be written)\n<!-- /reading -->';
if (outFile && fs.existsSync(outFile)) {
  const old = fs.readFileSync(outFile, 'utf8');
  const m = old.match(/<!-- reading -->[\s\S]*<!-- \/reading -->/);
  if (m) reading = m[0];
}
w(reading);
process.stdout.write(lines.join('\n') + '\n');
