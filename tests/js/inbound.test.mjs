// Inbound flow control of the WebSocket transport (transport/ws/session.*):
//
// 1. The bytes a connection received but its socket actor has not processed
//    yet are bounded by server_options::max_inbound_bytes (16 MiB): past it
//    the server stops reading the connection (TCP pushes back on the
//    client) and nothing is lost.
// 2. Pongs count in the outbound bound (max_backpressure): a client that
//    floods pings and never reads the pongs is closed (1013) or no longer
//    read, and the server's memory stays bounded.
//
// Both run against fenix-test-server; the flooding client is raw TCP (its
// frames are built here) with a streaming frame parser (the hostile
// helpers' RawHttp keeps every byte, which 400 MB of traffic would make
// quadratic). While a flood runs, the server's VmRSS is sampled every 10 ms
// and a second (ws) client measures heartbeat round trips.

import {test, afterEach} from "node:test"
import assert from "node:assert/strict"
import net from "node:net"
import {startServer, RawClient, closeAll, waitFor, deferred} from
  "./helpers.mjs"
import {wsFrame, rssBytes, alive, requestHead} from "./hostile_helpers.mjs"

const MB = 1e6

afterEach(async () => { await closeAll() })

// ---------------------------------------------------------------------------
// a raw WebSocket client with a streaming parser

const MASK = [0x37, 0xfa, 0x21, 0x3d]

/// A WebSocket over raw TCP that parses the server's frames as they come
/// (keeping only the unparsed tail) and hands each to onFrame(op, payload).
class StreamWs {
  constructor(sock) {
    this.sock = sock
    this.buf = Buffer.alloc(0)
    this.upgraded = deferred()
    this.head = null
    this.onFrame = () => {}
    this.closeCode = null   // from a close frame
    this.ended = deferred()
    this.isEnded = false
    this.error = null
    this.written = 0
    sock.on("data", d => this.#data(d))
    const end = () => { this.isEnded = true; this.ended.resolve() }
    sock.on("end", end)
    sock.on("close", end)
    sock.on("error", e => { this.error = e; end() })
  }

  static async connect(port, query = "vsn=2.0.0", ms = 3000) {
    const sock = net.connect(port, "127.0.0.1")
    const c = new StreamWs(sock)
    await waitFor(new Promise((resolve, reject) => {
      sock.once("connect", resolve)
      sock.once("error", reject)
    }), ms, "a TCP connection")
    sock.write(requestHead("GET", `/socket/websocket?${query}`, [
      "Upgrade: websocket", "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13"]))
    await waitFor(Promise.race([c.upgraded.promise, c.ended.promise]), ms,
      "the 101 response")
    if (!/^HTTP\/1\.1 101/.test(c.head ?? ""))
      throw new Error(`upgrade answered: ${c.head}`)
    return c
  }

  #data(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d
    if (this.head === null) {
      const e = this.buf.indexOf("\r\n\r\n")
      if (e < 0) return
      this.head = this.buf.toString("latin1", 0, e)
      this.buf = this.buf.subarray(e + 4)
      this.upgraded.resolve()
    }
    let p = 0
    const b = this.buf
    while (p + 2 <= b.length) {
      let len = b[p + 1] & 0x7f
      let h = 2
      if (len === 126) {
        if (p + 4 > b.length) break
        len = b.readUInt16BE(p + 2); h = 4
      } else if (len === 127) {
        if (p + 10 > b.length) break
        len = Number(b.readBigUInt64BE(p + 2)); h = 10
      }
      if (p + h + len > b.length) break
      const op = b[p] & 0x0f
      const payload = b.subarray(p + h, p + h + len)
      if (op === 8 && this.closeCode === null)
        this.closeCode = len >= 2 ? payload.readUInt16BE(0) : 1005
      this.onFrame(op, payload)
      p += h + len
    }
    this.buf = p === b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(p))
  }

  /// Writes `buf`; when the socket buffers it, waits for 'drain' up to
  /// `stallMs`. Resolves "ok", "ended" (the connection ended or failed) or
  /// "stalled" (no drain within stallMs: the server stopped reading).
  async write(buf, stallMs) {
    if (this.isEnded) return "ended"
    let ok
    try {
      ok = this.sock.write(buf)
    } catch {
      return "ended"
    }
    this.written += buf.length
    if (ok) return "ok"
    let onDrain, timer
    const r = await new Promise(resolve => {
      onDrain = () => resolve("ok")
      this.sock.once("drain", onDrain)
      this.ended.promise.then(() => resolve("ended"))
      timer = setTimeout(() => resolve("stalled"), stallMs)
    })
    clearTimeout(timer)
    this.sock.off("drain", onDrain)
    return r
  }

  destroy() {
    try { this.sock.destroy() } catch {}
  }
}

/// Samples VmRSS of `pid` every 10 ms: {start, peak(), stop()}.
function rssSampler(pid) {
  const start = rssBytes(pid)
  let peak = start
  const timer = setInterval(() => {
    const r = rssBytes(pid)
    if (r !== null && r > peak) peak = r
  }, 10)
  return {
    start,
    peak: () => peak,
    stop() {
      clearInterval(timer)
      const r = rssBytes(pid)
      if (r !== null && r > peak) peak = r
      return peak
    },
  }
}

/// Heartbeats from `client` every 100 ms (one at a time) until stop():
/// resolves {count, max (ms), failures}.
function heartbeatProbe(client, prefix) {
  let running = true
  let count = 0
  let max = 0
  const failures = []
  const done = (async () => {
    for (let i = 0; running; i++) {
      const t0 = performance.now()
      try {
        await client.heartbeat(`${prefix}${i}`, 5000)
        const dt = performance.now() - t0
        if (dt > max) max = dt
        count++
      } catch (e) {
        failures.push(e.message.slice(0, 200))
        if (client.closeInfo) break
      }
      await new Promise(r => setTimeout(r, 100))
    }
  })()
  return {
    async stop() {
      running = false
      await waitFor(done, 7000, "the heartbeat probe to stop")
      return {count, max: Math.round(max), failures}
    },
  }
}

// ---------------------------------------------------------------------------
// 1. the inbound byte budget

const BIG_COUNT = 40
const BIG_SIZE = 9_900_000  // frame payload bytes; max_frame_size is 10e6

/// A masked text frame (one 8-byte length) carrying
/// [null,"REF","phoenix","heartbeat",{"pad":"xxx..."}] of `size` bytes,
/// REF a 6-digit number written over the placeholder by frameFor().
function bigHeartbeatTemplate(size) {
  const pre = '[null,"000000","phoenix","heartbeat",{"pad":"'
  const post = '"}]'
  const payload = Buffer.alloc(size, "x".charCodeAt(0))
  payload.write(pre, 0, "latin1")
  payload.write(post, size - post.length, "latin1")
  const frame = wsFrame(1, payload)  // masks with MASK
  return {frame, refAt: frame.length - size + 7}
}

function frameFor(tpl, n) {
  const out = Buffer.from(tpl.frame)  // a copy: pending writes keep theirs
  const ref = String(n).padStart(6, "0")
  for (let i = 0; i < 6; i++)
    out[tpl.refAt + i] = ref.charCodeAt(i) ^ MASK[(7 + i) & 3]
  return out
}

// RSS, CPU and fd-limit measurements mean nothing under ASan (its
// quarantine holds freed memory, its runtime uses descriptors): skipped
// there, run in the release build.
const MEASURED = process.env.FENIX_SANITIZE === "1"
  ? "measurement test: skipped under ASan" : false

test(`inbound budget: ${BIG_COUNT} text frames of 9.9 MB written as fast ` +
  "as the socket takes them are all answered, in order, while the " +
  "server's RSS grows < 200 MB and another client's heartbeat round trip " +
  "stays < 1 s", {timeout: 45_000, skip: MEASURED}, async () => {
  const server = await startServer([])
  const flood = []
  try {
    const other = await RawClient.connect(server, {user: "other"})
    await other.heartbeat("warm")
    const tpl = bigHeartbeatTemplate(BIG_SIZE)
    const c = await StreamWs.connect(server.port, "vsn=2.0.0&user=flood")
    flood.push(c)
    const replies = []
    let firstBad = null
    c.onFrame = (op, payload) => {
      if (op !== 1) return
      const s = String(payload)
      const n = replies.length
      const want = JSON.stringify([null, String(n).padStart(6, "0"),
        "phoenix", "phx_reply", {status: "ok", response: {}}])
      if (s !== want && firstBad === null)
        firstBad = `reply #${n}: ${s.slice(0, 200)} (wanted ${want})`
      replies.push(s.length)
    }
    const rss = rssSampler(server.proc.pid)
    const probe = heartbeatProbe(other, "hb")
    const t0 = performance.now()
    let maxAhead = 0  // bytes written but not answered yet (at most)
    let stalls = 0    // writes that had to wait for 'drain'
    for (let n = 0; n < BIG_COUNT; n++) {
      const before = performance.now()
      const r = await c.write(frameFor(tpl, n), 20_000)
      if (performance.now() - before > 50) stalls++
      const ahead = c.written - replies.length * tpl.frame.length
      if (ahead > maxAhead) maxAhead = ahead
      assert.equal(r, "ok", `frame ${n}: the write ${r} ` +
        `(close code ${c.closeCode}, error ${c.error?.code}); ` +
        `${replies.length} replies so far`)
    }
    const tWritten = performance.now() - t0
    await waitFor(() => replies.length >= BIG_COUNT || c.isEnded, 20_000,
      `${BIG_COUNT} replies`).catch(() => {})
    const tAnswered = performance.now() - t0
    const peak = rss.stop()
    const hb = await probe.stop()
    const grown = peak - rss.start
    console.log(`# inbound budget: wrote ${BIG_COUNT} x ${BIG_SIZE} B in ` +
      `${Math.round(tWritten)} ms (${stalls} writes waited for drain), ` +
      `${replies.length} replies after ${Math.round(tAnswered)} ms; RSS ` +
      `${(rss.start / MB).toFixed(1)} MB -> peak ${(peak / MB).toFixed(1)} ` +
      `MB (+${(grown / MB).toFixed(1)} MB); max bytes written and not yet ` +
      `answered ${(maxAhead / MB).toFixed(1)} MB; other client: ${hb.count} ` +
      `heartbeats, max round trip ${hb.max} ms, failures ` +
      JSON.stringify(hb.failures))
    assert.ok(alive(server), "the server died")
    assert.equal(firstBad, null)
    assert.equal(replies.length, BIG_COUNT,
      `replies: ${replies.length} (connection ended: ${c.isEnded}, close ` +
      `code ${c.closeCode})`)
    assert.equal(c.isEnded, false, "the flooding connection was closed")
    assert.ok(grown < 200 * MB,
      `server RSS grew ${(grown / MB).toFixed(1)} MB (limit 200 MB)`)
    assert.deepEqual(hb.failures, [])
    assert.ok(hb.count >= 3, `only ${hb.count} heartbeats completed`)
    assert.ok(hb.max < 1000, `heartbeat round trip up to ${hb.max} ms`)
    // The flooding connection still works after the flood.
    const tail = frameFor(bigHeartbeatTemplate(200), BIG_COUNT)
    assert.equal(await c.write(tail, 5000), "ok")
    await waitFor(() => replies.length > BIG_COUNT, 3000,
      "the reply to a small heartbeat after the flood")
    assert.equal(firstBad, null)
  } finally {
    for (const c of flood) c.destroy()
    await server.stop()
  }
})

// ---------------------------------------------------------------------------
// 2. pongs count in the outbound bound

const PINGS = 2_000_000
const PING_BATCH = 50_000
const PING = wsFrame(9, "ping1234")  // 14 bytes; its pong is 10

/// The ping flood: PINGS pings written as fast as the server takes them by
/// a client that never reads; then, past the 1 s backpressure stall window
/// (still not reading), `late` more pings if given; then the client reads
/// again to see what the server did. Logs and returns the observations.
async function pingFlood(server, late = 0) {
  const c = await StreamWs.connect(server.port, "vsn=2.0.0&user=pinger")
  let pongs = 0
  c.onFrame = op => { if (op === 10) pongs++ }
  c.sock.pause()  // never reads from now on
  const batch = Buffer.concat(Array(PING_BATCH).fill(PING))
  const rss = rssSampler(server.proc.pid)
  const t0 = performance.now()
  let outcome = "all written"
  for (let sent = 0; sent < PINGS; sent += PING_BATCH) {
    const r = await c.write(batch, 3000)
    if (r !== "ok") { outcome = r; break }
  }
  const tFlood = performance.now() - t0
  const writtenFlood = c.written
  let lateOutcome = null
  let closeSeen = null
  if (outcome === "all written" || outcome === "stalled") {
    // Past the backpressure stall window (1 s), still not reading.
    await new Promise(r => setTimeout(r, 1500))
    if (late > 0)
      lateOutcome = await c.write(Buffer.concat(Array(late).fill(PING)), 3000)
    await new Promise(r => setTimeout(r, 300))
    // Reads again: a close frame the server queued, or the end of the
    // stream, shows up now.
    c.sock.resume()
    await waitFor(() => c.isEnded || c.closeCode !== null, 5000,
      "the end of the ping flood connection").catch(() => {})
    closeSeen = {ended: c.isEnded, closeCode: c.closeCode}
  }
  const peak = rss.stop()
  const stats = await server.stats()
  const o = {outcome, tFlood: Math.round(tFlood), writtenFlood, lateOutcome,
    closeSeen, pongs, error: c.error?.code ?? null, rss0: rss.start, peak,
    grown: peak - rss.start, slowCloses: stats.slow_closes,
    framesDropped: stats.frames_dropped, connections: stats.connections}
  console.log(`# ping flood${late ? ` + ${late} late pings` : ""}: ` +
    `${outcome} after ${(writtenFlood / PING.length).toLocaleString("en")} ` +
    `pings (${(writtenFlood / MB).toFixed(1)} MB) in ${o.tFlood} ms` +
    (late ? `; late pings: ${lateOutcome}` : "") +
    (closeSeen ? `; after reading again: ended ${closeSeen.ended}, close ` +
      `code ${closeSeen.closeCode}, ${pongs} pongs` : "") +
    `; error ${o.error}; RSS ${(rss.start / MB).toFixed(1)} MB -> peak ` +
    `${(peak / MB).toFixed(1)} MB (+${(o.grown / MB).toFixed(1)} MB); ` +
    `stats: slow_closes ${o.slowCloses}, frames_dropped ${o.framesDropped}, ` +
    `connections ${o.connections}`)
  return {c, o}
}

/// A server, a second client that must stay served, and `flood()` that
/// runs pingFlood (with `late` more pings past the stall window); after
/// `fn`, the second client must still get a heartbeat answered.
async function withPingFlood(late, fn) {
  const server = await startServer([])
  let c = null
  try {
    const other = await RawClient.connect(server, {user: "other"})
    await other.heartbeat("warm")
    const flood = async () => {
      const r = await pingFlood(server, late)
      c = r.c
      return r
    }
    await fn(server, other, flood)
    await other.heartbeat("after")
  } finally {
    c?.destroy()
    await server.stop()
  }
}

test(`pong flood: ${PINGS.toLocaleString("en")} pings from a client that ` +
  "never reads get it closed or no longer read, the server's RSS grows " +
  "< 50 MB, and another client is served meanwhile",
{timeout: 30_000, skip: MEASURED}, () => withPingFlood(0,
  async (server, other, flood) => {
    const probe = heartbeatProbe(other, "hb")
    const {c, o} = await flood()
    const hb = await probe.stop()
    console.log(`# other client: ${hb.count} heartbeats, max round trip ` +
      `${hb.max} ms, failures ${JSON.stringify(hb.failures)}`)
    assert.ok(alive(server), "the server died")
    // Closed (an error or the end of the stream while writing, or a close
    // frame / end once it reads again), or no longer read (writes stalled).
    assert.ok(o.outcome !== "all written" ||
      o.closeSeen.ended || o.closeSeen.closeCode !== null,
    "all pings were read and the connection stayed open " +
      JSON.stringify(o))
    if (c.closeCode !== null)
      assert.equal(c.closeCode, 1013, "close code")
    assert.ok(o.grown < 50 * MB,
      `server RSS grew ${(o.grown / MB).toFixed(1)} MB (limit 50 MB)`)
    assert.deepEqual(hb.failures, [])
    assert.ok(hb.count >= 3, `only ${hb.count} heartbeats completed`)
    assert.ok(hb.max < 1000, `heartbeat round trip up to ${hb.max} ms`)
  }))

test("pong flood, pings still coming past the stall window: the client " +
  "that never reads is closed with 1013, RSS grows < 50 MB",
{timeout: 30_000, skip: MEASURED}, () => withPingFlood(1000,
  async (server, other, flood) => {
    const {o} = await flood()
    assert.ok(alive(server), "the server died")
    // Cut off while writing (an error or the end of the stream), or a
    // close frame (1013) / the end of the stream once it reads again.
    assert.ok(o.outcome === "ended" || o.lateOutcome === "ended" ||
      o.closeSeen?.closeCode === 1013 ||
      (o.closeSeen?.ended && o.closeSeen.closeCode === null),
    `not closed with 1013: ${JSON.stringify(o)}`)
    assert.ok(o.slowCloses >= 1, `slow_closes ${o.slowCloses}`)
    assert.ok(o.grown < 50 * MB,
      `server RSS grew ${(o.grown / MB).toFixed(1)} MB (limit 50 MB)`)
  }))
