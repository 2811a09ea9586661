// Actor leak check: after 200 connect/join/disconnect cycles the number
// of running actors (GET /stats) returns to its baseline.

import {test, before, after} from "node:test"
import assert from "node:assert/strict"
import {startServer, RawClient, closeAll, pollUntil} from "./helpers.mjs"

let server

before(async () => { server = await startServer() })
after(async () => {
  await closeAll()
  await server?.stop()
})

const CYCLES = 200
const PARALLEL = 10

async function cycle(i) {
  const c = await RawClient.connect(server, {user: `leak${i % 7}`})
  // A presence-tracking room channel (distinct topic per cycle), a shared
  // one, and an echo channel.
  await c.join(`room:leak_${i}`, "1")
  await c.join("room:leak_shared", "2")
  await c.join(`bench:leak_${i % 5}`, "3")
  c.send(["3", "4", `bench:leak_${i % 5}`, "echo", {i}])
  await c.reply("4")
  if (i % 3 === 0) {
    // a channel that crashes and one that leaves before the disconnect
    c.send(["2", "5", "room:leak_shared", "crash", {}])
    await c.take(f => f[3] === "phx_error")
    c.send(["1", "6", `room:leak_${i}`, "phx_leave", {}])
    await c.reply("6")
  }
  if (i % 2 === 0) {
    c.close()
  } else {
    c.terminate()  // abrupt: no close frame
  }
  await c.waitClose()
}

test(`actors return to baseline after ${CYCLES} cycles`, async () => {
  // Warm up once so lazily created actors are in the baseline.
  await cycle(-1)
  const idle = s => s.connections === 0 && s.channels === 0
  const base = await pollUntil(() => server.stats(), idle, 5000,
    "an idle server")
  // Sanity: a connected, joined client shows up in the counter.
  const probe = await RawClient.connect(server, {user: "probe"})
  await probe.join("room:leak_probe", "1")
  const busy = await server.stats()
  assert.ok(busy.actors > base.actors,
    `actors ${busy.actors} with a client vs ${base.actors} idle`)
  probe.close()
  await probe.waitClose()
  for (let i = 0; i < CYCLES; i += PARALLEL) {
    const batch = []
    for (let k = i; k < Math.min(i + PARALLEL, CYCLES); k++)
      batch.push(cycle(k))
    await Promise.all(batch)
  }
  const stats = await pollUntil(() => server.stats(),
    s => s.actors <= base.actors && idle(s) &&
      s.presence_entries === base.presence_entries, 10_000,
    `actors back to the baseline ${base.actors}`)
  assert.equal(stats.actors, base.actors)
  assert.equal(stats.presence_entries, base.presence_entries)
})
