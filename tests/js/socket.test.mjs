// The socket: upgrade checks (origin, connect refusals, vsn), plain HTTP,
// the auth token subprotocol, the idle timeout, and bad input closing only
// the offending connection with a defined code.
// Protocol doc sections 1, 2, 5.1 and 9.

import {test, before, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import net from "node:net"
import {
  startServer, RawClient, tryUpgrade, connectSocket, joinChannel,
  closeAll, waitFor, deferred,
} from "./helpers.mjs"

let server

before(async () => { server = await startServer() })
afterEach(async () => { await closeAll() })
after(async () => {
  await closeAll()
  await server?.stop()
})

test("origin: not allowed gets 403, allowed and missing are accepted",
  async () => {
    assert.equal((await tryUpgrade(server.wsUrl(),
      {origin: "http://notallowed.com"})).status, 403)
    assert.deepEqual(await tryUpgrade(server.wsUrl(),
      {origin: "https://example.com"}), {open: true, protocol: ""})
    assert.deepEqual(await tryUpgrade(server.wsUrl()),
      {open: true, protocol: ""})
  })

test("refused connect: 403 by default, custom status 429", async () => {
  assert.equal((await tryUpgrade(server.wsUrl({reject: "1"}))).status, 403)
  assert.equal((await tryUpgrade(server.wsUrl({reject: "429"}))).status, 429)
})

test("bad vsn is refused with 403", async () => {
  for (const vsn of ["3.0.0", "123.1.1", "garbage", "2.1.0", "2"]) {
    const r = await tryUpgrade(server.wsUrl({vsn}))
    assert.equal(r.status, 403, `vsn=${vsn}: ${JSON.stringify(r)}`)
  }
  for (const vsn of ["1.0.0", "2.0.0", "2.0.1", "1.0.3"]) {
    const r = await tryUpgrade(server.wsUrl({vsn}))
    assert.equal(r.open, true, `vsn=${vsn}: ${JSON.stringify(r)}`)
  }
  assert.equal((await tryUpgrade(server.wsUrl({vsn: null}))).open, true)
})

test("checks run in order: origin, vsn, then connect", async () => {
  // A bad origin is refused before connect could answer 429.
  assert.equal((await tryUpgrade(server.wsUrl({reject: "429"}),
    {origin: "http://notallowed.com"})).status, 403)
  // A bad vsn is refused before connect could answer 429.
  assert.equal((await tryUpgrade(server.wsUrl({reject: "429",
    vsn: "3.0.0"}))).status, 403)
})

test("a non-GET request to the socket path is 400", async () => {
  const res = await fetch(`${server.httpUrl}/socket/websocket?vsn=2.0.0`,
    {method: "POST", body: "x"})
  assert.equal(res.status, 400)
  await res.arrayBuffer()
})

test("WebSocket ping control frames are answered with pong", async () => {
  const c = await RawClient.connect(server)
  const pong = new Promise(resolve => c.ws.once("pong", d => resolve(d)))
  c.ws.ping(Buffer.from("abc"))
  assert.equal(String(await waitFor(pong, 2000, "pong")), "abc")
  await c.heartbeat("1")
})

test("plain GET /socket/websocket without upgrade headers is 400",
  async () => {
    const res = await fetch(`${server.httpUrl}/socket/websocket?vsn=2.0.0`)
    assert.equal(res.status, 400)
    await res.arrayBuffer()
  })

test("GET /health answers 200 {status: ok}", async () => {
  const res = await fetch(`${server.httpUrl}/health`)
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), {status: "ok"})
})

test("auth token: the official client connects, phoenix is echoed",
  async () => {
    const socket = await connectSocket(server, {user: "tok"},
      {authToken: "secret-token"})
    assert.equal(socket.conn.protocol, "phoenix")
    const chan = socket.channel("room:auth")
    assert.deepEqual(await joinChannel(chan),
      {status: "ok", response: {joined: true}})
    // The same handshake with a raw client.
    const token = Buffer.from("secret-token").toString("base64")
      .replace(/=/g, "")
    const r = await tryUpgrade(server.wsUrl(), {},
      ["phoenix", `base64url.bearer.phx.${token}`])
    assert.deepEqual(r, {open: true, protocol: "phoenix"})
  })

test("idle timeout closes a silent client with a code other than 1000",
  async () => {
    const idle = await startServer(["--idle-timeout-ms", "200"])
    try {
      const started = Date.now()
      const c = await RawClient.connect(idle)
      const {code} = await c.waitClose(1500)
      const elapsed = Date.now() - started
      assert.notEqual(code, 1000)
      assert.ok(elapsed < 1000, `closed after ${elapsed} ms`)
      assert.ok(elapsed >= 150, `closed too early: ${elapsed} ms`)
      // A client that keeps sending heartbeats stays open past the
      // timeout.
      const busy = await RawClient.connect(idle)
      const t0 = Date.now()
      for (let i = 1; Date.now() - t0 < 600; i++)
        await busy.heartbeat(String(i))
      assert.equal(busy.closeInfo, null)
      busy.close()
    } finally {
      await idle.stop()
    }
  })

// Each bad input closes only its own connection, with a defined code; a
// bystander on the same server keeps working.
const badInputs = [
  ["text that is not JSON", c => c.send("not json"), 1007],
  ["a JSON object on V2", c => c.send({topic: "phoenix", event:
    "heartbeat", payload: {}, ref: "1"}), 1007],
  ["an array of 4 elements", c => c.send([null, "1", "phoenix",
    "heartbeat"]), 1007],
  ["a topic that is a number", c => c.send([null, "1", 42, "heartbeat",
    {}]), 1007],
  ["a binary frame of unknown kind 7", c => c.send(Buffer.from(
    [7, 0, 0, 0, 0])), 1007],
  ["invalid UTF-8 in a text frame", c => c.send(Buffer.from(
    [0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]), {binary: false}), 1007],
  ["a frame over 10,000,000 bytes", c => c.send(Buffer.alloc(
    10_000_001, 0x20), {binary: false}), 1009],
]

for (const [what, send, expected] of badInputs) {
  test(`bad input: ${what} closes with ${expected}`, async () => {
    const bystander = await RawClient.connect(server, {user: "by"})
    await bystander.join("room:bystander", "1")
    const c = await RawClient.connect(server)
    await c.heartbeat("0")
    send(c)
    const {code} = await c.waitClose(5000)
    assert.equal(code, expected)
    await bystander.heartbeat("2")
    bystander.send(["1", "3", "room:bystander", "ping", {ok: 1}])
    assert.deepEqual(await bystander.reply("3"),
      ["1", "3", "room:bystander", "phx_reply",
        {status: "ok", response: {ok: 1}}])
    // New connections are still accepted.
    const again = await RawClient.connect(server)
    await again.heartbeat("1")
  })
}

test("an oversized frame header alone gets a 1009 close frame", async () => {
  // Raw TCP: upgrade, then announce a 10,000,001-byte masked text frame
  // and send only its first 1,000 bytes; the server must answer with a
  // close frame carrying 1009 (0x03F1).
  const sock = net.connect(server.port, "127.0.0.1")
  let buf = Buffer.alloc(0)
  const ended = deferred()
  sock.on("data", d => { buf = Buffer.concat([buf, d]) })
  sock.on("end", () => ended.resolve())
  sock.on("close", () => ended.resolve())
  sock.on("error", () => ended.resolve())
  await waitFor(new Promise(r => sock.once("connect", r)), 2000, "connect")
  sock.write("GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\n" +
    "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n")
  await waitFor(() => buf.includes("\r\n\r\n"), 2000, "the 101 response")
  const head = buf.toString("latin1", 0, buf.indexOf("\r\n\r\n"))
  assert.match(head, /^HTTP\/1\.1 101/)
  buf = buf.subarray(buf.indexOf("\r\n\r\n") + 4)
  const hdr = Buffer.alloc(14)
  hdr[0] = 0x81
  hdr[1] = 0x80 | 127
  hdr.writeBigUInt64BE(10_000_001n, 2)
  hdr.writeUInt32BE(0, 10)  // mask key 0
  sock.write(Buffer.concat([hdr, Buffer.alloc(1000, 0x20)]))
  await waitFor(() => buf.length >= 4, 3000, "a close frame")
  assert.deepEqual([...buf.subarray(0, 4)], [0x88, 0x02, 0x03, 0xf1],
    `got ${[...buf.subarray(0, 16)]}`)
  sock.destroy()
})

test("a frame of exactly 10,000,000 bytes is accepted", async () => {
  const c = await RawClient.connect(server)
  // A valid V2 frame padded with spaces to the limit.
  const head = JSON.stringify([null, "1", "phoenix", "heartbeat", {}])
  c.send(head + " ".repeat(10_000_000 - head.length))
  assert.deepEqual(await c.reply("1", 5000),
    [null, "1", "phoenix", "phx_reply", {status: "ok", response: {}}])
})

test("extra elements after the fifth are ignored", async () => {
  const c = await RawClient.connect(server)
  c.send([null, "1", "phoenix", "heartbeat", {}, "extra", 7])
  assert.deepEqual(await c.reply("1"),
    [null, "1", "phoenix", "phx_reply", {status: "ok", response: {}}])
})

test("the official client keeps a V2 socket open and pings", async () => {
  const socket = await connectSocket(server)
  const rtt = await waitFor(new Promise(resolve => socket.ping(resolve)),
    2000, "ping")
  assert.ok(rtt >= 0)
})
