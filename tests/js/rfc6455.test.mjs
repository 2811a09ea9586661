// RFC 6455 framing, checked against example-ws_echo (a raw WebSocket
// handler echoing on any path) with the `ws` client and raw frames over
// TCP: fragmentation, control frames between fragments, ping/pong limits,
// close codes and reasons, UTF-8 fail-fast, reserved bits and opcodes,
// 16 MiB messages; and the close ordering on a Phoenix socket.

import {test, before, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import path from "node:path"
import {
  WebSocket, BUILD_DIR, startProcess, startServer, waitFor, closeAll,
} from "./helpers.mjs"
import {
  RawHttp, requestHead, wsFrame, parseServerFrames, destroyAllRaw,
} from "./hostile_helpers.mjs"

const ECHO_BIN = path.join(BUILD_DIR, "bin", "example-ws_echo")
const MiB = 1 << 20
let echo

before(async () => {
  echo = await startProcess(ECHO_BIN, ["--port", "0"], "example-ws_echo")
})
afterEach(async () => {
  destroyAllRaw()
  await closeAll()
})
after(async () => { await echo?.stop() })

// -- raw frames --------------------------------------------------------------

/// Upgrades `target` on `port` over raw TCP. frames(): the server's frames
/// after the 101; close(): the close frame {code, reason} or null.
async function rawWs(port, target = "/", ms = 3000) {
  const c = await RawHttp.connect(port)
  await c.send(requestHead("GET", target, [
    "Upgrade: websocket", "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13"]))
  await waitFor(() => c.response() || c.isEnded, ms, "the 101 response")
  assert.equal(c.response()?.status, 101, c.response()?.head)
  const start = c.buf.indexOf("\r\n\r\n") + 4
  const frames = () => parseServerFrames(c.buf.subarray(start))
  const close = () => {
    const f = frames().find(f => f.op === 8)
    if (!f) return null
    return {code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005,
      reason: f.payload.subarray(2)}
  }
  return {
    conn: c,
    frames,
    close,
    send: bytes => c.send(Buffer.concat([].concat(bytes))),
    /// Waits for the server's close frame; resolves its code.
    async closeCode(what = "the server's close frame", wait = 3000) {
      await waitFor(() => close() || c.isEnded, wait, what)
      return close()?.code ?? null
    },
    /// Waits until the server ended the TCP stream; resolves the ms taken.
    async ended(wait = 3000) {
      const t0 = Date.now()
      await waitFor(c.ended.promise, wait, "the server to end the TCP stream")
      return Date.now() - t0
    },
  }
}

const text = (s, o) => wsFrame(1, Buffer.from(s), o)
const cont = (s, o) => wsFrame(0, Buffer.from(s), o)
const closeFrame = (code, reason = Buffer.alloc(0)) => {
  const p = Buffer.alloc(2)
  p.writeUInt16BE(code)
  return wsFrame(8, Buffer.concat([p, Buffer.from(reason)]))
}
/// A frame with raw first-byte bits (reserved bits, any opcode).
const rawFrame = (b0, payload = "") => {
  const f = wsFrame(0, Buffer.from(payload))
  f[0] = b0
  return f
}
const texts = ws => ws.frames().filter(f => f.op === 1).map(f => String(f.payload))

/// Expects the server to close with `code` and then end the TCP stream
/// promptly (well before the 10 s close-handshake timeout).
async function expectFailure(ws, code, what) {
  assert.equal(await ws.closeCode(what), code, what)
  const ms = await ws.ended(2000)
  assert.ok(ms < 2000, `${what}: TCP ended after ${ms} ms`)
}

// -- the `ws` client ---------------------------------------------------------

function connect(target = "/") {
  const ws = new WebSocket(`ws://127.0.0.1:${echo.port}${target}`,
    {maxPayload: 64 * MiB})
  return waitFor(new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws))
    ws.once("error", reject)
  }), 3000, "the WebSocket to open")
}

function nextMessage(ws, ms = 5000) {
  return waitFor(new Promise(resolve =>
    ws.once("message", (data, isBinary) => resolve({data, isBinary}))),
  ms, "an echo")
}

test("text and binary messages are echoed on any path", async () => {
  for (const target of ["/", "/echo", "/a/b/c?x=1", "/socket/websocket"]) {
    const ws = await connect(target)
    ws.send("héllo €")
    const t = await nextMessage(ws)
    assert.equal(t.isBinary, false)
    assert.equal(String(t.data), "héllo €")
    const bin = Buffer.from([0, 1, 2, 255, 254])
    ws.send(bin)
    const b = await nextMessage(ws)
    assert.equal(b.isBinary, true)
    assert.deepEqual(Buffer.from(b.data), bin)
    ws.close(1000)
  }
})

test("16 MiB text and binary messages are echoed whole", async () => {
  const ws = await connect("/big")
  const big = Buffer.alloc(16 * MiB, "a")
  ws.send(big.toString("latin1"))
  const t = await nextMessage(ws, 30_000)
  assert.equal(t.isBinary, false)
  assert.equal(t.data.length, 16 * MiB)
  assert.ok(Buffer.from(t.data).equals(big))
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff
  ws.send(big)
  const b = await nextMessage(ws, 30_000)
  assert.equal(b.isBinary, true)
  assert.ok(Buffer.from(b.data).equals(big))
  ws.close(1000)
})

test("a message over 16 MiB closes with 1009", async () => {
  const ws = await connect("/too-big")
  const closed = waitFor(new Promise(resolve =>
    ws.once("close", code => resolve(code))), 30_000, "the close")
  ws.send(Buffer.alloc(16 * MiB + 1))
  assert.equal(await closed, 1009)
})

// -- fragmentation and control frames ----------------------------------------

test("fragments are joined, with pings between them answered", async () => {
  const ws = await rawWs(echo.port, "/frag")
  await ws.send([text("Hel", {fin: false}), wsFrame(9, "p1"),
    cont("lo, ", {fin: false}), wsFrame(10, "unsolicited pong"),
    wsFrame(9, "p2"), cont("world")])
  await waitFor(() => texts(ws).length === 1, 3000, "the echo")
  assert.deepEqual(texts(ws), ["Hello, world"])
  const pongs = ws.frames().filter(f => f.op === 10).map(f => String(f.payload))
  assert.deepEqual(pongs, ["p1", "p2"])
})

test("a message in 1000 small fragments is echoed", async () => {
  const ws = await rawWs(echo.port, "/many")
  const parts = []
  for (let i = 0; i < 1000; i++)
    parts.push(wsFrame(i === 0 ? 1 : 0, Buffer.from(`${i % 10}`.repeat(16)),
      {fin: i === 999}))
  await ws.send(parts)
  await waitFor(() => texts(ws).length === 1, 5000, "the echo")
  assert.equal(texts(ws)[0].length, 16_000)
  // ... and many small messages, each echoed in order.
  const msgs = []
  for (let i = 0; i < 1000; i++) msgs.push(text(`m${i}`))
  await ws.send(msgs)
  await waitFor(() => texts(ws).length === 1001, 5000, "1000 echoes")
  assert.deepEqual(texts(ws).slice(1), msgs.map((_, i) => `m${i}`))
})

test("pings carry up to 125 bytes; longer or fragmented ones are 1002",
  async () => {
    const ws = await rawWs(echo.port)
    await ws.send(wsFrame(9, Buffer.alloc(125, "x")))
    await waitFor(() => ws.frames().some(f => f.op === 10), 3000, "a pong")
    assert.equal(ws.frames()[0].payload.length, 125)
    await ws.send(wsFrame(9, Buffer.alloc(126, "x")))
    await expectFailure(ws, 1002, "a 126-byte ping")
    const frag = await rawWs(echo.port)
    await frag.send(wsFrame(9, "half", {fin: false}))
    await expectFailure(frag, 1002, "a fragmented ping")
  })

test("fragmentation errors close with 1002", async () => {
  const cases = {
    "a continuation with no message": [cont("x")],
    "a text frame inside a fragmented message":
      [text("a", {fin: false}), text("b")],
    "a binary frame inside a fragmented message":
      [text("a", {fin: false}), wsFrame(2, "b")],
    "a fragmented close": [rawFrame(0x08, "\x03\xe8")],
    "an unmasked frame": [wsFrame(1, "x", {masked: false})],
  }
  for (const [what, frames] of Object.entries(cases)) {
    const ws = await rawWs(echo.port)
    await ws.send(frames)
    await expectFailure(ws, 1002, what)
  }
})

test("reserved bits and opcodes close with 1002", async () => {
  const firstBytes = [0x80 | 0x40 | 1, 0x80 | 0x20 | 1, 0x80 | 0x10 | 1,
    0x80 | 0x70 | 2, 0x80 | 0x40 | 9]
  for (let op = 3; op <= 7; op++) firstBytes.push(0x80 | op)
  for (let op = 0xb; op <= 0xf; op++) firstBytes.push(0x80 | op)
  for (const b0 of firstBytes) {
    const ws = await rawWs(echo.port)
    // A valid message first: it is echoed before the close.
    await ws.send([text("before"), rawFrame(b0, "payload"), wsFrame(9, "after")])
    await expectFailure(ws, 1002, `first byte 0x${b0.toString(16)}`)
    assert.deepEqual(texts(ws), ["before"], `0x${b0.toString(16)}`)
    assert.equal(ws.frames().filter(f => f.op === 10).length, 0)
  }
})

// -- close codes and reasons ---------------------------------------------------

test("valid close codes are echoed and the server ends TCP", async () => {
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
    3000, 3999, 4000, 4999]) {
    const ws = await rawWs(echo.port)
    await ws.send(closeFrame(code, "bye"))
    assert.equal(await ws.closeCode(`the echo of ${code}`), code)
    assert.ok(await ws.ended(2000) < 2000)
  }
  const empty = await rawWs(echo.port)
  await empty.send(wsFrame(8, ""))
  assert.equal(await empty.closeCode(), 1005)  // an empty close back
  assert.equal(empty.close().reason.length, 0)
})

test("invalid close codes and payloads close with 1002", async () => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
    5000, 65535]) {
    const ws = await rawWs(echo.port)
    await ws.send(closeFrame(code))
    await expectFailure(ws, 1002, `close code ${code}`)
  }
  const one = await rawWs(echo.port)
  await one.send(wsFrame(8, "\x03"))
  await expectFailure(one, 1002, "a 1-byte close payload")
  const long = await rawWs(echo.port)
  await long.send(wsFrame(8, Buffer.concat([Buffer.from([3, 0xe8]),
    Buffer.alloc(124, "*")])))
  await expectFailure(long, 1002, "a 126-byte close payload")
})

test("a close reason that is not UTF-8 gets 1007, then TCP ends at once",
  async () => {
    const ws = await rawWs(echo.port)
    await ws.send(closeFrame(1000, Buffer.from([0xce, 0xba, 0xed, 0xa0, 0x80])))
    await expectFailure(ws, 1007, "an invalid close reason")
  })

// -- UTF-8 ----------------------------------------------------------------------

const kosme = Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce,
  0xbc, 0xce, 0xb5])

test("invalid UTF-8 fails fast: at its fragment, before the final one",
  async () => {
    // Autobahn 6.4.1 / 6.4.2: F4 90 is past U+10FFFF from its second byte.
    for (const bad of [[0xf4, 0x90, 0x80, 0x80], [0xf4, 0x90]]) {
      const ws = await rawWs(echo.port)
      await ws.send([wsFrame(1, kosme, {fin: false}),
        wsFrame(0, Buffer.from(bad), {fin: false})])
      await expectFailure(ws, 1007, `fragment ${Buffer.from(bad).toString("hex")}`)
    }
  })

test("invalid UTF-8 fails fast inside a frame still arriving", async () => {
  // Autobahn 6.4.3/6.4.4: the frame is sent in pieces; the close comes once
  // the invalid byte did, before the rest of the frame.
  const payload = Buffer.concat([kosme, Buffer.from([0xf4, 0x90, 0x80, 0x80]),
    Buffer.from("-edited")])
  const frame = wsFrame(1, payload)
  const cut = 6 + kosme.length + 2  // header, mask, kosme, F4 90
  const ws = await rawWs(echo.port)
  await ws.send(frame.subarray(0, cut))
  await expectFailure(ws, 1007, "the partial frame")
})

test("UTF-8 split across fragments is valid; broken anywhere is 1007",
  async () => {
    const euro = Buffer.from("€")
    const ws = await rawWs(echo.port)
    await ws.send([wsFrame(1, euro.subarray(0, 1), {fin: false}),
      wsFrame(0, euro.subarray(1, 2), {fin: false}), wsFrame(9, "x"),
      wsFrame(0, euro.subarray(2))])
    await waitFor(() => texts(ws).length === 1, 3000, "the echo")
    assert.equal(texts(ws)[0], "€")
    const bad = {
      "a lone continuation byte": Buffer.from([0x61, 0x80]),
      "an overlong": Buffer.from([0xc0, 0xaf]),
      "a surrogate": Buffer.from([0xed, 0xa0, 0x80]),
      "a truncated sequence at the end": Buffer.from([0x61, 0xe2, 0x82]),
      "byte FF": Buffer.from([0xff]),
    }
    for (const [what, bytes] of Object.entries(bad)) {
      const c = await rawWs(echo.port)
      await c.send(wsFrame(1, bytes))
      await expectFailure(c, 1007, what)
    }
  })

// -- what came before a close is answered before it ------------------------------

test("a message and the peer's close in one write: echo, then close",
  async () => {
    const ws = await rawWs(echo.port)
    await ws.send([text("one"), wsFrame(2, "two"), closeFrame(1000)])
    assert.equal(await ws.closeCode(), 1000)
    const ops = ws.frames().map(f => f.op)
    assert.deepEqual(ops, [1, 2, 8], "the echoes precede the close")
    assert.equal(texts(ws)[0], "one")
  })

test("a message and a bad frame in one write: echo, then 1002/1007",
  async () => {
    const ws = await rawWs(echo.port)
    await ws.send([text("kept"), cont("no message")])
    await expectFailure(ws, 1002, "a stray continuation")
    assert.deepEqual(ws.frames().map(f => f.op), [1, 8])
    const u = await rawWs(echo.port)
    await u.send([text("kept"), wsFrame(1, Buffer.from([0xff]))])
    await expectFailure(u, 1007, "invalid UTF-8")
    assert.deepEqual(texts(u), ["kept"])
  })

test("Phoenix socket: a heartbeat and a close in one write get the reply first",
  async () => {
    const server = await startServer()
    try {
      const ws = await rawWs(server.port, "/socket/websocket?vsn=2.0.0")
      const hb = JSON.stringify([null, "1", "phoenix", "heartbeat", {}])
      await ws.send([text(hb), closeFrame(1000)])
      assert.equal(await ws.closeCode(), 1000)
      assert.deepEqual(ws.frames().map(f => f.op), [1, 8])
      assert.deepEqual(JSON.parse(texts(ws)[0]),
        [null, "1", "phoenix", "phx_reply", {status: "ok", response: {}}])
      const bad = await rawWs(server.port, "/socket/websocket?vsn=2.0.0")
      await bad.send([text(hb), rawFrame(0x83)])
      await expectFailure(bad, 1002, "a reserved opcode after a heartbeat")
      assert.equal(texts(bad).length, 1)
    } finally {
      await server.stop()
    }
  })

// -- permessage-deflate (example-ws_echo --compress) --------------------------

test("ws_echo --compress: negotiates permessage-deflate and echoes text " +
  "and binary, small and 4 MiB, compressed both ways", async () => {
  const z = await startProcess(ECHO_BIN, ["--port", "0", "--compress"],
    "example-ws_echo --compress")
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${z.port}/any/path`,
      {perMessageDeflate: {threshold: 0}})
    await waitFor(new Promise((res, rej) => {
      ws.once("open", res)
      ws.once("error", rej)
    }), 3000, "the compressed echo to open")
    assert.match(ws.extensions, /permessage-deflate/)
    const echoOf = data => new Promise(resolve =>
      ws.once("message", (d, binary) => resolve({d: Buffer.from(d), binary})))
    const big = Buffer.alloc(4 * MiB, "fenix compresses well ")
    for (const [data, binary] of [["héllo", false], [big.toString(), false],
      [Buffer.from([0, 1, 2, 255]), true], [big, true]]) {
      const got = echoOf(data)
      ws.send(data, {binary})
      const {d, binary: isBinary} = await waitFor(got, 5000, "the echo")
      assert.equal(isBinary, binary)
      assert.ok(d.equals(Buffer.from(data)), "echoed unchanged")
    }
    ws.close(1000)
  } finally {
    await z.stop()
  }
})
