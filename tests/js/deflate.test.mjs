// permessage-deflate (RFC 7692): off by default, negotiated with `ws`'s
// perMessageDeflate when the endpoint has compress on, chat through it
// with the official client, one deflate per broadcast, RSV1 rules, a
// deflate bomb (1009, bounded RSS) and the memory of idle compressing
// connections.

import {test, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import zlib from "node:zlib"
import {
  startServer, connectSocket, newSocket, joinChannel, pushAndWait, closeAll,
  waitFor, pollUntil, RawClient, WebSocket,
} from "./helpers.mjs"
import {
  RawHttp, requestHead, wsFrame, parseServerFrames, rssBytes, destroyAllRaw,
} from "./hostile_helpers.mjs"
import {startApp, tokenFor} from "./app_helpers.mjs"

const MEASURED = process.env.FENIX_SANITIZE === "1"
  ? "measurement test: skipped under ASan" : false
const servers = []

async function server(flags = []) {
  const s = await startServer(flags)
  servers.push(s)
  return s
}

afterEach(async () => {
  destroyAllRaw()
  await closeAll()
})
after(async () => {
  for (const s of servers) await s.stop()
})

/// A `ws` transport for the official client that compresses every
/// message it sends (ws's default threshold is 1 KiB).
class DeflatingWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, {perMessageDeflate: {threshold: 0}})
  }
}

/// A raw upgrade offering `offer` (null: no extension header): the
/// response headers and the server's frames (with RSV1).
async function rawUpgrade(port, offer, query = "vsn=2.0.0&user=raw") {
  const c = await RawHttp.connect(port)
  const headers = ["Upgrade: websocket", "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13"]
  if (offer !== null) headers.push(`Sec-WebSocket-Extensions: ${offer}`)
  await c.send(requestHead("GET", `/socket/websocket?${query}`, headers))
  await waitFor(() => c.response() || c.isEnded, 3000, "the 101 response")
  const r = c.response()
  assert.equal(r?.status, 101, `upgrade answered: ${r?.head}`)
  const start = c.buf.indexOf("\r\n\r\n") + 4
  const frames = () => {
    const body = c.buf.subarray(start)
    const out = parseServerFrames(body)
    // parseServerFrames reports fin/op/payload; add RSV1 from the headers.
    let p = 0
    for (const f of out) {
      f.rsv1 = (body[p] & 0x40) !== 0
      const len7 = body[p + 1] & 0x7f
      p += (len7 === 126 ? 4 : len7 === 127 ? 10 : 2) + f.payload.length
    }
    return out
  }
  return {
    conn: c,
    headers: r.headers,
    frames,
    closeCode() {
      const f = frames().find(f => f.op === 8)
      if (!f) return null
      return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005
    },
    send(buf) { return c.send(buf) },
  }
}

function deflateRaw(text) {
  const z = zlib.deflateRawSync(Buffer.from(text),
    {finishFlush: zlib.constants.Z_SYNC_FLUSH})
  return z.subarray(0, z.length - 4)  // RFC 7692 7.2.1: drop 00 00 ff ff
}

/// A compressed message inflating to `mb` MiB of zeros, built from one
/// 16 MiB sync-flushed block repeated (each repetition only refers back to
/// zeros, so the stream stays valid).
function deflateBomb(mb) {
  const block = zlib.deflateRawSync(Buffer.alloc(16 << 20),
    {finishFlush: zlib.constants.Z_SYNC_FLUSH})
  const parts = Array(Math.ceil(mb / 16)).fill(block)
  const z = Buffer.concat(parts)
  return z.subarray(0, z.length - 4)
}

function chatBody(n) {
  let s = ""
  while (s.length < n) s += "the quick brown fox jumps over the lazy dog; "
  return s.slice(0, n)
}

test("compression is off by default: no extension in the 101",
  async () => {
    const s = await server()
    const raw = await rawUpgrade(s.port,
      "permessage-deflate; client_max_window_bits")
    assert.equal(raw.headers["sec-websocket-extensions"], undefined)
    // ws offers permessage-deflate by default and gets none.
    const c = await RawClient.connect(s, {user: "a"})
    assert.equal(c.ws.extensions, "")
  })

test("RSV1 without negotiation closes with 1002", async () => {
  const s = await server()
  const raw = await rawUpgrade(s.port, null)
  await raw.send(wsFrame(0x41, deflateRaw("[null,null,\"x\",\"y\",{}]")))
  await waitFor(() => raw.closeCode(), 3000, "a close frame")
  assert.equal(raw.closeCode(), 1002)
})

test("the 101 answers the accepted parameters, and skips bad offers",
  async () => {
    const s = await server(["--compress", "true"])
    const raw = await rawUpgrade(s.port,
      "permessage-deflate; foo, permessage-deflate; " +
      "server_max_window_bits=10; client_max_window_bits")
    assert.equal(raw.headers["sec-websocket-extensions"],
      "permessage-deflate; server_no_context_takeover; " +
      "client_no_context_takeover; server_max_window_bits=10")
    const none = await rawUpgrade(s.port,
      "permessage-deflate; server_max_window_bits=16")
    assert.equal(none.headers["sec-websocket-extensions"], undefined)
  })

test("chat through a compressing endpoint with the official client",
  async () => {
    const s = await server(["--compress", "true"])
    const alice = await connectSocket(s, {user: "alice"},
      {transport: DeflatingWebSocket})
    const bob = await connectSocket(s, {user: "bob"})  // ws's defaults
    for (const sock of [alice, bob])
      assert.match(sock.conn.extensions, /^permessage-deflate/)
    const ca = alice.channel("room:deflate")
    const cb = bob.channel("room:deflate")
    assert.equal((await joinChannel(ca)).status, "ok")
    assert.equal((await joinChannel(cb)).status, "ok")
    const got = new Promise(resolve => cb.on("new_msg", resolve))
    const body = chatBody(1000)
    // alice's push is compressed (threshold 0), so is the broadcast.
    assert.equal((await pushAndWait(ca.push("new_msg", {body}))).status, "ok")
    assert.deepEqual(await waitFor(got, 3000, "bob's new_msg"), {body})
    // A small one too (sent uncompressed by the server), and unicode.
    const got2 = new Promise(resolve => cb.on("new_msg", resolve))
    ca.push("new_msg", {body: "hé ☃"})
    assert.deepEqual(await waitFor(got2, 3000, "the small one"),
      {body: "hé ☃"})
    const st = await s.stats()
    assert.ok(st.frames_deflated >= 2, JSON.stringify(st))
  })

test("server frames carry RSV1 only when compressed; small ones are plain",
  async () => {
    const s = await server(["--compress", "true"])
    const raw = await rawUpgrade(s.port, "permessage-deflate")
    const join = JSON.stringify(["1", "1", "room:rsv", "phx_join", {}])
    await raw.send(wsFrame(0x41, deflateRaw(join)))  // compressed join
    const big = JSON.stringify(["1", "2", "room:rsv", "ping",
      {body: chatBody(2000)}])
    await raw.send(wsFrame(0x41, deflateRaw(big)))
    await raw.send(wsFrame(0x1, JSON.stringify(["1", "3", "room:rsv", "ping",
      {}])))  // uncompressed: RSV1 is per message
    const text = f => f.rsv1
      ? zlib.inflateRawSync(Buffer.concat([f.payload,
        Buffer.from([0, 0, 0xff, 0xff])]),
      {finishFlush: zlib.constants.Z_SYNC_FLUSH}).toString()
      : f.payload.toString()
    const replies = () => raw.frames().filter(f => f.op === 1)
      .map(f => ({rsv1: f.rsv1, msg: JSON.parse(text(f))}))
      .filter(r => r.msg[3] === "phx_reply")
    await waitFor(() => replies().length >= 3, 3000, "three replies")
    const [j, p2, p3] = replies()
    assert.equal(j.msg[4].status, "ok")
    assert.equal(j.rsv1, false)           // under compress_min_size
    assert.equal(p2.rsv1, true)
    assert.equal(p2.msg[4].response.body, chatBody(2000))
    assert.equal(p3.rsv1, false)
  })

test("RSV1 on a continuation or a control frame closes with 1002",
  async () => {
    const s = await server(["--compress", "true"])
    const z = deflateRaw(JSON.stringify(["1", "1", "room:x", "phx_join", {}]))
    const cont = await rawUpgrade(s.port, "permessage-deflate")
    await cont.send(Buffer.concat([
      wsFrame(0x41, z.subarray(0, 4), {fin: false}),
      wsFrame(0x40, z.subarray(4))]))
    const ping = await rawUpgrade(s.port, "permessage-deflate")
    await ping.send(wsFrame(0x49, "hi"))
    for (const c of [cont, ping]) {
      await waitFor(() => c.closeCode(), 3000, "a close frame")
      assert.equal(c.closeCode(), 1002)
    }
  })

test("a broadcast to 20 compressing subscribers costs one deflate",
  async () => {
    const s = await server(["--compress", "true"])
    const clients = []
    for (let i = 0; i < 20; i++) {
      const c = await RawClient.connect(s, {user: `u${i}`})
      assert.match(c.ws.extensions, /^permessage-deflate/)
      await c.join("bench:fanout", "1")
      clients.push(c)
    }
    const before = await s.stats()
    const body = chatBody(1000)
    assert.equal(await s.broadcast("bench:fanout", "msg", {body}), 200)
    for (const c of clients) {
      const m = await c.take(f => f[3] === "msg", 3000, "the broadcast")
      assert.equal(m[4].body, body)
    }
    const st = await s.stats()
    assert.equal(st.deflates - before.deflates, 1, JSON.stringify(st))
    assert.equal(st.frames_deflated - before.frames_deflated, 20)
  })

test("a deflate bomb closes with 1009 and the server's RSS stays bounded",
  {skip: MEASURED, timeout: 60_000}, async () => {
    const limit = 1 << 20
    const s = await server(["--compress", "true", "--max-frame-size",
      String(limit)])
    const bomb = deflateBomb(1024)  // 1 GiB inflated, 1 MiB on the wire
    assert.ok(bomb.length < limit, `bomb of ${bomb.length} bytes`)
    const rss0 = rssBytes(s.proc.pid)
    let peak = rss0
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(s.proc.pid) ?? 0)
    }, 5)
    try {
      for (let round = 0; round < 4; round++) {
        const conns = await Promise.all(Array.from({length: 5},
          () => rawUpgrade(s.port, "permessage-deflate")))
        const t0 = Date.now()
        await Promise.all(conns.map(c => c.send(wsFrame(0x41, bomb))))
        for (const c of conns) {
          await waitFor(() => c.closeCode(), 10_000, "a close frame")
          assert.equal(c.closeCode(), 1009)
        }
        assert.ok(Date.now() - t0 < 10_000)
        destroyAllRaw()
      }
    } finally {
      clearInterval(sampler)
    }
    const grown = peak - rss0
    // Each bomb holds at most the 1 MiB frame and 1 MiB inflated.
    assert.ok(grown < 24 << 20,
      `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB`)
    // The server still chats with compression.
    const c = await RawClient.connect(s, {user: "after"})
    assert.equal((await c.join("room:after", "1"))[4].status, "ok")
  })

test("a compressed message over max_frame_size when inflated gets 1009 " +
  "through ws", async () => {
  const s = await server(["--compress", "true", "--max-frame-size", "10000"])
  const c = await RawClient.connect(s, {user: "big"},
    {perMessageDeflate: {threshold: 0}})
  // 50 KB that compress to far under 10,000 bytes.
  c.send(JSON.stringify(["1", "1", "room:x", "phx_join",
    {pad: "a".repeat(50_000)}]))
  const info = await waitFor(c.closed.promise, 3000, "the close")
  assert.equal(info.code, 1009)
})

test("idle compressing connections cost no deflate state (2,000 joined)",
  {skip: MEASURED, timeout: 120_000}, async () => {
    const s = await server(["--compress", "true"])
    const N = 2000
    const warm = await RawClient.connect(s, {user: "warm"},
      {perMessageDeflate: {threshold: 0}})
    await warm.join("bench:idle", "1")
    // The io thread's shared compressor and inflater exist before the
    // baseline: they are per thread, not per connection.
    await s.broadcast("bench:idle", "msg", {body: chatBody(1000)})
    await warm.take(f => f[3] === "msg", 3000, "the warm-up broadcast")
    const rss0 = rssBytes(s.proc.pid)
    const clients = []
    for (let i = 0; i < N; i += 100) {
      const batch = await Promise.all(Array.from({length: 100}, (_, k) =>
        RawClient.connect(s, {user: `idle${i + k}`},
          {perMessageDeflate: {threshold: 0}})))
      await Promise.all(batch.map(c => c.join("bench:idle", "1")))
      clients.push(...batch)
    }
    // Every connection receives one compressed broadcast, then idles.
    await s.broadcast("bench:idle", "msg", {body: chatBody(1000)})
    for (const c of clients)
      await c.take(f => f[3] === "msg", 10_000, "the broadcast")
    const st = await pollUntil(() => s.stats(),
      x => x.connections === N + 1, 5000, "all connections")
    assert.ok(st.frames_deflated >= N)
    const rss1 = rssBytes(s.proc.pid)
    const perConn = (rss1 - rss0) / N
    console.log(`# RSS per idle compressing connection (joined, one ` +
      `compressed broadcast received): ${(perConn / 1024).toFixed(2)} KiB ` +
      `(${N} connections, ${((rss1 - rss0) / 2 ** 20).toFixed(1)} MiB)`)
    assert.ok(perConn <= 16 * 1024,
      `${(perConn / 1024).toFixed(2)} KiB per connection`)
  })

test("fenix-chat --compress negotiates permessage-deflate; without it, not",
  async () => {
    for (const [args, want] of [[["--compress"], /^permessage-deflate/],
      [[], /^$/]]) {
      const app = await startApp("chat", {args})
      servers.push(app)
      const token = await tokenFor(app, "zed")
      const c = await RawClient.connect(app, {token})
      assert.match(c.ws.extensions, want)
      const r = await c.join("room:lobby", "1")
      assert.equal(r[4].status, "ok")
      // A 1 KB message comes back compressed (counted in /metrics) or not.
      c.send(["1", "2", "room:lobby", "new_msg", {body: "z".repeat(1000)}])
      await c.take(f => f[3] === "new_msg" && f[1] === null, 3000)
      const metrics = await (await fetch(`${app.httpUrl}/metrics`)).text()
      const deflated = Number(metrics.match(
        /^fenix_frames_deflated_total (\d+)$/m)?.[1])
      if (args.length) assert.ok(deflated >= 1, metrics)
      else assert.equal(deflated, 0)
      c.close()
      await c.waitClose()
    }
  })
