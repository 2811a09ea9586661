// A minimal Phoenix V2 (JSON) server on Node's `ws` package: the reference
// peer that fenix-bench runs the same scenarios against (see BENCHMARKS.md).
//
//   node bench/peers/ws_peer.mjs [--port 0] [--host 127.0.0.1]
//   -> prints "listening on http://127.0.0.1:PORT"
//
// Protocol subset: "phoenix"/"heartbeat" replies ok; phx_join replies ok
// and subscribes the socket to the topic; phx_leave unsubscribes and
// replies ok; event "broadcast" sends [null,null,topic,"broadcast",payload]
// to every subscriber of the topic (encoded once, no reply); any other
// event is echoed back in an ok reply. No channels processes, no presence:
// the cheapest server that speaks the same wire protocol.
//
// `ws` comes from bench/peers/node_modules (npm install here) or, failing
// that, from tests/js/node_modules where the JS tests install it.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function loadWs() {
  try {
    return require('ws');
  } catch {
    return require(path.join(here, '../../tests/js/node_modules/ws'));
  }
}

const { WebSocketServer } = loadWs();

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = flag('host', '127.0.0.1');
const port = Number(flag('port', '0'));
const topics = new Map(); // topic -> Set of sockets

function subscribe(ws, topic) {
  if (!topics.has(topic)) topics.set(topic, new Set());
  topics.get(topic).add(ws);
  ws.topics.add(topic);
}

function unsubscribe(ws, topic) {
  const subs = topics.get(topic);
  if (subs) {
    subs.delete(ws);
    if (subs.size === 0) topics.delete(topic);
  }
  ws.topics.delete(topic);
}

function reply(ws, joinRef, ref, topic, status, response) {
  ws.send(JSON.stringify([joinRef, ref, topic, 'phx_reply', { status, response }]));
}

function onMessage(ws, data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return ws.close(1007);
  }
  if (!Array.isArray(msg) || msg.length !== 5) return ws.close(1007);
  const [joinRef, ref, topic, event, payload] = msg;
  if (topic === 'phoenix' && event === 'heartbeat')
    return reply(ws, null, ref, topic, 'ok', {});
  if (event === 'phx_join') {
    subscribe(ws, topic);
    return reply(ws, joinRef, ref, topic, 'ok', {});
  }
  if (event === 'phx_leave') {
    unsubscribe(ws, topic);
    return reply(ws, joinRef, ref, topic, 'ok', {});
  }
  if (event === 'broadcast') {
    // Encoded once; every subscriber gets the same bytes as a text frame.
    const frame = Buffer.from(JSON.stringify([null, null, topic, 'broadcast', payload]));
    for (const sub of topics.get(topic) ?? []) sub.send(frame, { binary: false });
    return;
  }
  reply(ws, joinRef, ref, topic, 'ok', payload);
}

const wss = new WebSocketServer({ host, port, path: '/socket/websocket' });
wss.on('connection', (ws) => {
  ws.topics = new Set();
  ws.on('message', (data) => onMessage(ws, data));
  ws.on('close', () => {
    for (const topic of [...ws.topics]) unsubscribe(ws, topic);
  });
  ws.on('error', () => {});
});
wss.on('listening', () => {
  console.log(`listening on http://${host}:${wss.address().port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
