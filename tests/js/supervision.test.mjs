// Supervision with the official phoenix client (actors/supervisor.hpp,
// fault_injection.hpp): a PubSub shard crashed while 200 clients receive a
// stream of numbered messages (50 per topic, 4 topics over 4 shards): every
// client either gets every message, or gets phx_error, rejoins, and then
// gets every message broadcast after its rejoin; before the error its
// messages have no gap either. And the restart intensity exceeded ends the
// process with exit code 1.

import {test, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  startServer, connectSocket, closeAll, waitFor, pollUntil,
} from "./helpers.mjs"

const CLIENTS_PER_TOPIC = 50
const TOPICS = ["room:sv0", "room:sv1", "room:sv2", "room:sv3"]
const flags = ["--fault-injection", "true", "--pubsub-shards", "4"]

let server
afterEach(async () => { await closeAll() })
after(async () => {
  await closeAll()
  await server?.stop()
})

async function shardOf(topic) {
  const res = await fetch(
    `${server.httpUrl}/shard?kind=pubsub&topic=${encodeURIComponent(topic)}`)
  assert.equal(res.status, 200)
  return (await res.json()).name
}

async function crash(srv, name) {
  const res = await fetch(
    `${srv.httpUrl}/crash?name=${encodeURIComponent(name)}`, {method: "POST"})
  return res.status
}

// One client: its channel's events in arrival order.
async function client(topic, i, sent) {
  const socket = await connectSocket(server, {user: `u${i}`},
    {rejoinAfterMs: () => 100})
  const chan = socket.channel(topic)
  const c = {topic, chan, log: [], errors: 0, rejoins: 0, live: false,
    last: 0, since: 0}
  chan.on("new_msg", p => {
    c.log.push({n: p.n})
    c.last = p.n
  })
  chan.onError(() => {
    c.live = false
    c.errors++
    c.log.push({error: true})
  })
  let first = true
  // The join push's hooks stay registered: "ok" fires again on a rejoin.
  chan.join().receive("ok", () => {
    c.since = sent.started
    if (!first) {
      c.rejoins++
      // Broadcasts whose request starts from now on must reach it.
      c.log.push({rejoined: true, startedBefore: sent.started})
    }
    first = false
    c.live = true
  })
  await waitFor(() => c.live, 5000, `client ${i} to join`)
  return c
}

// Checks one client's log: no gap before an error, and after each rejoin
// every message whose broadcast started after the rejoin, up to `last`.
function check(c, last) {
  let expect = 1  // the next number it must get while subscribed
  let subscribed = true
  for (const e of c.log) {
    if (e.error) {
      subscribed = false
    } else if (e.rejoined) {
      subscribed = true
      expect = e.startedBefore + 1
    } else if (subscribed) {
      // A message it was owed may come before the rejoin's lower bound
      // (already dispatched to the new subscription): skip those.
      if (e.n < expect) continue
      assert.equal(e.n, expect, `${c.topic}: silent gap before ${e.n}`)
      expect = e.n + 1
    }
  }
  assert.ok(subscribed, `${c.topic}: errored and never rejoined`)
  assert.equal(expect, last + 1, `${c.topic}: missing messages up to ${last}`)
}

test(`a PubSub shard crashed while ${CLIENTS_PER_TOPIC * TOPICS.length} ` +
  "clients receive: phx_error and every later message, or every message",
async () => {
  server = await startServer(flags)
  const sent = {started: 0}
  const clients = []
  for (const [t, topic] of TOPICS.entries())
    for (let i = 0; i < CLIENTS_PER_TOPIC; i++)
      clients.push(await client(topic, t * CLIENTS_PER_TOPIC + i, sent))
  const shards = Object.fromEntries(
    await Promise.all(TOPICS.map(async t => [t, await shardOf(t)])))
  const victim = shards[TOPICS[0]]
  // One round: message n on every topic; waits until every client that
  // was joined when n started has it (the pace of the stream, not a sleep).
  const round = async () => {
    const n = ++sent.started
    await Promise.all(TOPICS.map(t => server.broadcast(t, "new_msg", {n})))
    await waitFor(() => clients.every(c => !c.live || c.since >= n ||
      c.last >= n), 5000,
      `round ${n} to reach every live client`)
  }
  for (let k = 0; k < 20; k++) await round()
  assert.equal(await crash(server, victim), 200)
  // Rounds go on while the victims error and rejoin, then 20 more.
  const deadline = Date.now() + 20_000
  const victims = clients.filter(c => shards[c.topic] === victim)
  while (!victims.every(c => c.rejoins > 0 && c.live)) {
    assert.ok(Date.now() < deadline, "victims did not all rejoin in 20 s")
    await round()
  }
  for (let k = 0; k < 20; k++) await round()
  const last = sent.started
  for (const c of clients) {
    const errored = shards[c.topic] === victim
    assert.equal(c.errors > 0, errored,
      `${c.topic} (${shards[c.topic]}): phx_error only on ${victim}`)
    check(c, last)
  }
  const stats = await server.stats()
  assert.equal(stats.restarts, 1)
  assert.match(server.stderr,
    new RegExp(`restarting ${victim.replace("/", "\\/")} after`))
  await server.stop()
  server = null
})

test("restart intensity exceeded: the server stops with exit code 1",
async () => {
  const srv = await startServer([...flags, "--max-restarts", "1",
    "--restart-period-ms", "60000"])
  try {
    assert.equal(await crash(srv, "fenix.pubsub/0"), 200)
    // The restarted shard under the same name, then the second crash.
    await pollUntil(() => crash(srv, "fenix.pubsub/0"), s => s === 200, 5000,
      "a second crash", 5)
    const {code, signal} = await waitFor(srv.exited, 10_000,
      "the server to exit")
    assert.equal(signal, null)
    assert.equal(code, 1)
    assert.match(srv.stderr, /exceeded the restart intensity/)
  } finally {
    await srv.stop()
  }
})
