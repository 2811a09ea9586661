// Paced drain on shutdown, as Phoenix's socket drainer does it: SIGTERM
// closes the WebSockets with 1012 in batches of drain_batch_size, one batch
// per drain_interval, so that clients do not all reconnect at once.

import {test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {startServer, RawClient, closeAll, waitFor} from "./helpers.mjs"

afterEach(async () => { await closeAll() })

/// Splits sorted times into groups wherever two neighbours are more than
/// `gap` ms apart.
function groups(times, gap) {
  const out = [[times[0]]]
  for (let i = 1; i < times.length; i++) {
    if (times[i] - times[i - 1] > gap) out.push([])
    out[out.length - 1].push(times[i])
  }
  return out
}

test("SIGTERM closes 25 sockets with 1012 in batches of 10, one batch " +
  "per drain interval", {timeout: 30_000}, async () => {
  const interval = 600
  const server = await startServer(["--drain-batch", "10",
    "--drain-interval-ms", String(interval)])
  const clients = []
  for (let i = 0; i < 25; i++) {
    const c = await RawClient.connect(server, {user: `u${i}`})
    await c.join("room:drain", "1")
    clients.push(c)
  }
  const t0 = performance.now()
  const exited = server.stop(15_000)
  const closes = await waitFor(Promise.all(clients.map(async c => {
    const info = await c.closed.promise
    return {code: info.code, at: performance.now() - t0}
  })), 10_000, "every socket to be closed")
  assert.deepEqual(new Set(closes.map(c => c.code)), new Set([1012]))
  const times = closes.map(c => c.at).sort((a, b) => a - b)
  const g = groups(times, interval / 2)
  assert.deepEqual(g.map(x => x.length), [10, 10, 5],
    `batches: ${JSON.stringify(times.map(Math.round))}`)
  // Batch k starts about k intervals after the first one.
  for (let k = 1; k < g.length; k++)
    assert.ok(g[k][0] - g[0][0] >= k * interval * 0.5,
      `batch ${k} at ${Math.round(g[k][0])} ms: ` +
      JSON.stringify(times.map(Math.round)))
  assert.deepEqual(await exited, {code: 0, signal: null})
})

test("with the defaults (10,000 per batch) every socket closes at once and " +
  "the server exits promptly", {timeout: 30_000}, async () => {
  const server = await startServer()
  const clients = []
  for (let i = 0; i < 20; i++)
    clients.push(await RawClient.connect(server, {user: `d${i}`}))
  const t0 = performance.now()
  const exited = server.stop(10_000)
  const infos = await waitFor(Promise.all(clients.map(c => c.closed.promise)),
    5000, "every socket to be closed")
  assert.ok(infos.every(i => i.code === 1012))
  assert.deepEqual(await exited, {code: 0, signal: null})
  assert.ok(performance.now() - t0 < 3000, "exit within 3 s")
})
