// The WebSocket layer itself (RFC 6455), spoken byte by byte over raw TCP:
// the upgrade's own checks, masking and fragmentation rules, control
// frames, and both ways of closing.
import {test, before, after} from "node:test"
import assert from "node:assert/strict"
import net from "node:net"
import {startServer, closeAll, waitFor, deferred, RawClient} from "./helpers.mjs"

let server
before(async () => { server = await startServer() })
after(async () => { await closeAll(); await server.stop() })

const UPGRADE = (extra = "", version = "13") =>
  "GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\n" +
  "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  (version === null ? "" : `Sec-WebSocket-Version: ${version}\r\n`) +
  extra + "\r\n"

/// A TCP connection that records every byte and when it ended.
async function rawTcp() {
  const sock = net.connect(server.port, "127.0.0.1")
  const c = {sock, buf: Buffer.alloc(0), ended: deferred()}
  sock.on("data", d => { c.buf = Buffer.concat([c.buf, d]) })
  for (const ev of ["end", "close", "error"])
    sock.on(ev, () => c.ended.resolve())
  await waitFor(new Promise(r => sock.once("connect", r)), 2000, "connect")
  return c
}

async function upgraded() {
  const c = await rawTcp()
  c.sock.write(UPGRADE())
  await waitFor(() => c.buf.includes("\r\n\r\n"), 2000, "the 101 response")
  const head = c.buf.toString("latin1", 0, c.buf.indexOf("\r\n\r\n"))
  assert.match(head, /^HTTP\/1\.1 101/)
  // RFC 6455 4.2.2's example key and its accept value.
  assert.match(head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=(\r\n|$)/i)
  c.buf = c.buf.subarray(c.buf.indexOf("\r\n\r\n") + 4)
  return c
}

/// A masked client frame.
function frame(op, payload, {fin = true, rsv = 0, masked = true} = {}) {
  const data = Buffer.from(payload)
  const len = data.length
  const ext = len < 126 ? 0 : len <= 0xffff ? 2 : 8
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0))
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | op
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127)
  if (ext === 2) head.writeUInt16BE(len, 2)
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2)
  if (!masked) return Buffer.concat([head, data])
  const mask = [0x37, 0xfa, 0x21, 0x3d]
  head.set(mask, 2 + ext)
  const body = Buffer.from(data.map((b, i) => b ^ mask[i & 3]))
  return Buffer.concat([head, body])
}

/// Parses the server's (unmasked) frames out of `buf`.
function serverFrames(buf) {
  const out = []
  let p = 0
  while (p + 2 <= buf.length) {
    let len = buf[p + 1] & 0x7f
    let h = 2
    if (len === 126) { len = buf.readUInt16BE(p + 2); h = 4 }
    else if (len === 127) { len = Number(buf.readBigUInt64BE(p + 2)); h = 10 }
    if (p + h + len > buf.length) break
    out.push({fin: (buf[p] & 0x80) !== 0, op: buf[p] & 0x0f,
              payload: buf.subarray(p + h, p + h + len)})
    p += h + len
  }
  return out
}

async function closeFrameOf(c, ms = 3000) {
  await waitFor(() => serverFrames(c.buf).some(f => f.op === 8), ms,
    "a close frame")
  const f = serverFrames(c.buf).find(f => f.op === 8)
  return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 0
}

const heartbeat = ref => JSON.stringify([null, ref, "phoenix", "heartbeat", {}])

test("the upgrade needs version 13 and a key", async () => {
  for (const [req, status] of [
    [UPGRADE("", "8"), 426],
    [UPGRADE("", null), 400],
    [UPGRADE().replace(/Sec-WebSocket-Key: [^\r]*\r\n/, ""), 400],
    [UPGRADE().replace("dGhlIHNhbXBsZSBub25jZQ==", "short"), 400],
  ]) {
    const c = await rawTcp()
    c.sock.write(req)
    await waitFor(() => c.buf.includes("\r\n\r\n"), 2000, "a response")
    const head = c.buf.toString("latin1")
    assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `), head)
    if (status === 426) assert.match(head, /Sec-WebSocket-Version: 13/i)
    c.sock.destroy()
  }
})

test("a fragmented message is joined; pings between fragments are answered",
  async () => {
    const c = await upgraded()
    const text = heartbeat("7")
    c.sock.write(Buffer.concat([
      frame(1, text.slice(0, 10), {fin: false}),
      frame(9, "mid"),
      frame(0, text.slice(10, 20), {fin: false}),
      frame(0, text.slice(20)),
    ]))
    await waitFor(() => serverFrames(c.buf).length >= 2, 2000, "pong and reply")
    const [pong, reply] = serverFrames(c.buf)
    assert.equal(pong.op, 0xa)
    assert.equal(String(pong.payload), "mid")
    assert.equal(reply.op, 1)
    assert.deepEqual(JSON.parse(reply.payload),
      [null, "7", "phoenix", "phx_reply", {status: "ok", response: {}}])
    c.sock.destroy()
  })

for (const [name, bytes] of [
  ["an unmasked frame", frame(1, heartbeat("1"), {masked: false})],
  ["reserved bits", frame(1, heartbeat("1"), {rsv: 4})],
  ["an unknown opcode", frame(3, "x")],
  ["a continuation with nothing to continue", frame(0, "x")],
  ["a fragmented ping", frame(9, "x", {fin: false})],
]) {
  test(`${name} closes with 1002 and ends the connection`, async () => {
    const c = await upgraded()
    c.sock.write(bytes)
    assert.equal(await closeFrameOf(c), 1002)
    await waitFor(c.ended.promise, 3000, "the server to end the connection")
  })
}

test("invalid UTF-8 in a text frame closes with 1007", async () => {
  const c = await upgraded()
  c.sock.write(frame(1, Buffer.from([0x5b, 0xc3, 0x28, 0x5d])))
  assert.equal(await closeFrameOf(c), 1007)
  c.sock.write(frame(8, Buffer.from([0x03, 0xef])))  // the client's 1007
  await waitFor(c.ended.promise, 3000, "the server to end the connection")
})

test("a client's close is echoed with its code, then the server ends TCP",
  async () => {
    const c = await upgraded()
    const payload = Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from("bye")])
    c.sock.write(frame(8, payload))  // 4000 "bye"
    assert.equal(await closeFrameOf(c), 4000)
    await waitFor(c.ended.promise, 3000, "the server to end the connection")
  })

test("the ws library sees a clean close both ways", async () => {
  const a = await RawClient.connect(server)
  await a.heartbeat("1")
  a.ws.close(4001, "done")
  const info = await waitFor(a.closed.promise, 3000, "close")
  assert.equal(info.code, 4001)
})

test("frames the server queues together arrive intact and in order",
  async () => {
    const c = await RawClient.connect(server)
    const n = 300
    for (let i = 0; i < n; i++) c.ws.send(heartbeat(String(i)))
    await waitFor(() => c.frames.length >= n, 5000, `${n} replies`)
    assert.deepEqual(c.frames.map(f => f[1]),
      Array.from({length: n}, (_, i) => String(i)))
  })
