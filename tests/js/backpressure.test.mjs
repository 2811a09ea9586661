// A slow consumer (a client that stops reading) is closed once its
// outbound queue passes --max-backpressure, while the other subscribers of
// the same topic, which read, receive every broadcast in order.
//
// Volume: on loopback the kernel socket buffers of a paused reader absorb
// about 4 MB (measured: a paused client was closed after ~1,000 frames of
// 4 KB, and was never closed with 2,000 frames of 1 KB), so each test
// sends 2,000 broadcasts of ~4 KB (8 MB per subscriber).

import {test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {startServer, RawClient, closeAll, waitFor, pollUntil} from
  "./helpers.mjs"

const COUNT = 2000
const PAD = "x".repeat(4000)
const T = "bench:x"

afterEach(async () => { await closeAll() })

/// A server, a slow (paused) subscriber and 10 reading subscribers that
/// check every "broadcast" frame they get against the expected sequence.
async function setup(args = ["--max-backpressure", "65536"]) {
  const server = await startServer(args)
  const slow = await RawClient.connect(server)
  await slow.join(T, "1")
  const fast = []
  for (let i = 0; i < 10; i++) {
    const c = await RawClient.connect(server)
    await c.join(T, "1")
    fast.push(c)
  }
  const seen = fast.map(() => ({next: 0, bad: null}))
  fast.forEach((c, k) => c.ws.on("message", (data, isBinary) => {
    if (isBinary) return
    const f = JSON.parse(data.toString())
    if (f[3] !== "broadcast") return
    const s = seen[k]
    if (s.bad) return
    const want = [null, null, T, "broadcast", {i: s.next, pad: PAD}]
    if (JSON.stringify(f) !== JSON.stringify(want))
      s.bad = `client ${k} expected i=${s.next}, got ` +
        JSON.stringify(f).slice(0, 200)
    s.next++
  }))
  // Nothing is read from the slow client's socket from now on.
  slow.ws._socket.pause()
  // The sender is one of the reading subscribers.
  const send = i => fast[0].send(["1", null, T, "broadcast", {i, pad: PAD}])
  const status = () => `counts ${seen.map(s => s.next)}, closed ` +
    JSON.stringify(fast.map(c => c.closeInfo?.code ?? null))
  return {server, slow, fast, seen, send, status}
}

async function check({server, slow, fast, seen, status}) {
  for (const s of seen) assert.equal(s.bad, null)
  for (const s of seen) assert.equal(s.next, COUNT, status())
  for (const c of fast) assert.equal(c.closeInfo, null, status())
  const stats = await pollUntil(() => server.stats(),
    s => s.slow_closes >= 1, 5000, "slow_closes >= 1")
  assert.equal(stats.slow_closes, 1, "only the paused client is slow")
  // Once it reads again, the slow client finds its connection closed
  // before it got everything.
  slow.ws._socket.resume()
  const {code} = await slow.waitClose(10_000)
  assert.notEqual(code, 1000)
  const got = slow.frames.filter(f => Array.isArray(f) &&
    f[3] === "broadcast").length
  assert.ok(got < COUNT, `the slow client got all ${got} broadcasts`)
  // The reading clients still work.
  for (const [k, c] of fast.entries()) await c.heartbeat(`hb${k}`)
}

test("slow consumer, paced sender: only the slow one is closed",
  async () => {
    const ctx = await setup()
    try {
      // Windows of 10 broadcasts (40 KB, under the limit): the next window
      // goes once every reading client got the previous one.
      for (let i = 0; i < COUNT; i += 10) {
        for (let k = i; k < i + 10; k++) ctx.send(k)
        await waitFor(() => ctx.seen.every(s => s.next >= i + 10) ||
          ctx.fast.some(c => c.closeInfo), 5000,
        `window ${i} at every reading client`).catch(e => {
          throw new Error(`${e.message}; ${ctx.status()}`)
        })
        if (ctx.fast.some(c => c.closeInfo)) break
      }
      await check(ctx)
    } finally {
      await closeAll()
      await ctx.server.stop()
    }
  })

// A burst bigger than the bound reaches healthy readers faster than they can
// drain it: the policy (README, endpoint_options::backpressure_stall) cuts
// off only connections that stop draining, or pass 16x the bound. With the
// default bound (1 MiB, hard 16 MiB) an 8 MB burst must reach every reader.
test("slow consumer, burst of broadcasts: only the slow one is closed",
  async () => {
    // A 3 s stall window keeps a reader that is merely starved of CPU on a
    // loaded machine from counting as stopped.
    const ctx = await setup(["--backpressure-stall-ms", "3000"])
    try {
      for (let i = 0; i < COUNT; i++) ctx.send(i)
      await waitFor(() => ctx.seen.every(s => s.next >= COUNT) ||
        ctx.fast.some(c => c.closeInfo), 30_000,
      `${COUNT} broadcasts at every reading client`).catch(e => {
        throw new Error(`${e.message}; ${ctx.status()}`)
      })
      await check(ctx)
    } finally {
      await closeAll()
      await ctx.server.stop()
    }
  })
