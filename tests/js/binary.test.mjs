// V2 binary frames (protocol doc 2.3): a binary push gets a binary reply
// and a binary push back, seen with the official client and as raw bytes.

import {test, before, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  startServer, RawClient, connectSocket, joinChannel, pushAndWait,
  nextEvent, recordMessages, closeAll,
} from "./helpers.mjs"

let server

before(async () => { server = await startServer() })
afterEach(async () => { await closeAll() })
after(async () => {
  await closeAll()
  await server?.stop()
})

const bytes = ab => [...new Uint8Array(ab)]

test("official client: ArrayBuffer push, binary reply and push", async () => {
  const socket = await connectSocket(server, {user: "bin"})
  const chan = socket.channel("room:binary")
  await joinChannel(chan)
  const rec = recordMessages(socket)
  const pushed = nextEvent(chan, "binary")
  const reply = await pushAndWait(
    chan.push("binary", new Uint8Array([1, 2]).buffer))
  assert.equal(reply.status, "ok")
  assert.ok(reply.response instanceof ArrayBuffer,
    `response is ${Object.prototype.toString.call(reply.response)}`)
  assert.deepEqual(bytes(reply.response), [1, 2, 3, 4])
  const push = await pushed
  assert.ok(push.payload instanceof ArrayBuffer)
  assert.deepEqual(bytes(push.payload), [0, 1])
  const m = await rec.wait(m => m.event === "binary")
  assert.equal(m.join_ref, chan.joinRef())
  assert.equal(m.ref, null)
})

/// A client-to-server binary push (kind 0).
function encodePush(joinRef, ref, topic, event, data) {
  const f = [joinRef, ref, topic, event].map(s => Buffer.from(s, "utf8"))
  return Buffer.concat([
    Buffer.from([0, f[0].length, f[1].length, f[2].length, f[3].length]),
    ...f, Buffer.from(data)])
}

test("raw: reply (kind 1) and push (kind 0) layouts", async () => {
  const c = await RawClient.connect(server, {user: "bin"})
  const T = "room:binary_raw"
  await c.join(T, "11")
  c.send(encodePush("11", "12", T, "binary", [1, 2]))
  const isBin = f => Buffer.isBuffer(f)
  const first = await c.take(isBin, 2000, "a binary frame")
  const second = await c.take(isBin, 2000, "a second binary frame")
  const frames = [first, second]
  const reply = frames.find(f => f[0] === 1)
  const push = frames.find(f => f[0] === 0)
  assert.ok(reply, `no kind 1 frame: ${c.dump()}`)
  assert.ok(push, `no kind 0 frame: ${c.dump()}`)
  // kind, join_ref_len, ref_len, topic_len, status_len, join_ref, ref,
  // topic, status, data
  assert.deepEqual([...reply], [...Buffer.concat([
    Buffer.from([1, 2, 2, T.length, 2]),
    Buffer.from("11"), Buffer.from("12"), Buffer.from(T), Buffer.from("ok"),
    Buffer.from([1, 2, 3, 4])])])
  // kind, join_ref_len, topic_len, event_len, join_ref, topic, event, data
  assert.deepEqual([...push], [...Buffer.concat([
    Buffer.from([0, 2, T.length, 6]),
    Buffer.from("11"), Buffer.from(T), Buffer.from("binary"),
    Buffer.from([0, 1])])])
  // Text frames keep working after binary ones.
  c.send(["11", "13", T, "ping", {t: 1}])
  assert.deepEqual(await c.reply("13"),
    ["11", "13", T, "phx_reply", {status: "ok", response: {t: 1}}])
})

test("raw: a binary push with an empty payload",
  async () => {
    const c = await RawClient.connect(server, {user: "bin"})
    const T = "room:binary_empty"
    await c.join(T, "3")
    c.send(encodePush("3", "4", T, "binary", []))
    const reply = await c.take(f => Buffer.isBuffer(f) && f[0] === 1)
    assert.deepEqual([...reply], [...Buffer.concat([
      Buffer.from([1, 1, 1, T.length, 2]),
      Buffer.from("3"), Buffer.from("4"), Buffer.from(T), Buffer.from("ok"),
      Buffer.from([3, 4])])])
  })

test("raw: a binary push to a topic not joined is unmatched", async () => {
  const c = await RawClient.connect(server)
  c.send(encodePush("", "5", "room:binary_none", "binary", [1]))
  assert.deepEqual(await c.reply("5"), [null, "5", "room:binary_none",
    "phx_reply", {status: "error", response: {reason: "unmatched topic"}}])
})
