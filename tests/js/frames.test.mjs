// Exact V2 frames and their order, checked with raw `ws` clients:
// heartbeat, join/leave/close order, duplicate joins, stale join_refs,
// unmatched topics, crash and stop frames, the channel limit, V1 frames.
// Protocol doc sections 2, 3, 4.1 and the appendix.

import {test, before, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import {startServer, RawClient, closeAll} from "./helpers.mjs"

let server

before(async () => { server = await startServer() })
afterEach(async () => { await closeAll() })
after(async () => {
  await closeAll()
  await server?.stop()
})

const ok = (response = {}) => ({status: "ok", response})
const error = response => ({status: "error", response})
const unmatched = error({reason: "unmatched topic"})

/// Resolves once the server answered a heartbeat sent after everything
/// before; frames the server produced for earlier input on the socket
/// process itself arrive before it.
async function barrier(client, ref) {
  return client.heartbeat(ref)
}

test("heartbeat is answered on topic phoenix", async () => {
  const c = await RawClient.connect(server)
  c.send([null, "10", "phoenix", "heartbeat", {}])
  assert.deepEqual(await c.reply("10"),
    [null, "10", "phoenix", "phx_reply", ok()])
})

test("join reply is the first frame and echoes join_ref", async () => {
  const c = await RawClient.connect(server, {user: "alice"})
  c.send(["3", "3", "room:frames_join", "phx_join", {}])
  const reply = await c.reply("3")
  assert.deepEqual(reply,
    ["3", "3", "room:frames_join", "phx_reply", ok({joined: true})])
  assert.equal(c.indexOf(reply), 0,
    `the join reply must precede pushes for that join: ${c.dump()}`)
})

test("replies carry the channel's join_ref and the client's ref",
  async () => {
    const c = await RawClient.connect(server, {user: "alice"})
    await c.join("room:frames_reply", "1")
    c.send(["1", "5", "room:frames_reply", "ping", {n: 1}])
    assert.deepEqual(await c.reply("5"),
      ["1", "5", "room:frames_reply", "phx_reply", ok({n: 1})])
    c.send(["1", "6", "room:frames_reply", "error_reply", {why: "x"}])
    assert.deepEqual(await c.reply("6"),
      ["1", "6", "room:frames_reply", "phx_reply", error({why: "x"})])
    c.send(["1", "7", "room:frames_reply", "push_me", {v: 1}])
    assert.deepEqual(await c.take(f => f[3] === "pushed"),
      ["1", null, "room:frames_reply", "pushed", {v: 1}])
  })

test("a join with a null join_ref uses its ref as the channel's join_ref",
  async () => {
    const c = await RawClient.connect(server, {user: "alice"})
    c.send([null, "3", "room:frames_nulljr", "phx_join", {}])
    assert.deepEqual(await c.reply("3"),
      [null, "3", "room:frames_nulljr", "phx_reply", ok({joined: true})])
    c.send(["3", "4", "room:frames_nulljr", "push_me", {v: 2}])
    assert.deepEqual(await c.take(f => f[3] === "pushed"),
      ["3", null, "room:frames_nulljr", "pushed", {v: 2}])
    c.send([null, "5", "room:frames_nulljr", "ping", {v: 3}])
    assert.deepEqual(await c.reply("5"),
      ["3", "5", "room:frames_nulljr", "phx_reply", ok({v: 3})])
  })

test("broadcast: sender gets the fastlane frame and its reply", async () => {
  const a = await RawClient.connect(server, {user: "alice"})
  const b = await RawClient.connect(server, {user: "bob"})
  await a.join("room:frames_bcast", "1")
  await b.join("room:frames_bcast", "1")
  a.send(["1", "4", "room:frames_bcast", "new_msg", {body: "hello"}])
  const isMsg = f => f[3] === "new_msg"
  const frame = [null, null, "room:frames_bcast", "new_msg", {body: "hello"}]
  assert.deepEqual(await a.take(isMsg), frame)
  assert.deepEqual(await b.take(isMsg), frame)
  assert.deepEqual(await a.reply("4"),
    ["1", "4", "room:frames_bcast", "phx_reply", ok()])
})

test("later: two replies with the same ref", async () => {
  const c = await RawClient.connect(server, {user: "alice"})
  await c.join("room:frames_later", "2")
  c.send(["2", "9", "room:frames_later", "later", {}])
  const r1 = await c.reply("9")
  const r2 = await c.reply("9")
  assert.deepEqual(r1,
    ["2", "9", "room:frames_later", "phx_reply", ok({later: 1})])
  assert.deepEqual(r2,
    ["2", "9", "room:frames_later", "phx_reply", ok({later: 2})])
  assert.ok(c.indexOf(r1) < c.indexOf(r2))
})

test("leave: reply, then phx_close, then the terminate push; the topic " +
  "is then unmatched", async () => {
  const c = await RawClient.connect(server, {user: "alice"})
  const T = "room:frames_leave"
  await c.join(T, "1")
  c.send(["1", "5", T, "phx_leave", {}])
  const reply = await c.reply("5")
  assert.deepEqual(reply, ["1", "5", T, "phx_reply", ok()])
  const close = await c.take(f => f[3] === "phx_close", 2000, "phx_close")
  assert.deepEqual(close, ["1", "1", T, "phx_close", {}])
  const bye = await c.take(f => f[3] === "you_left", 2000, "you_left")
  assert.deepEqual(bye, ["1", null, T, "you_left", {message: "bye!"}])
  assert.ok(c.indexOf(reply) < c.indexOf(close), c.dump())
  assert.ok(c.indexOf(close) < c.indexOf(bye), c.dump())
  // The channel is gone: events on the topic are unmatched.
  c.send(["1", "6", T, "ping", {}])
  assert.deepEqual(await c.reply("6"), [null, "6", T, "phx_reply", unmatched])
})

test("phx_leave for a topic not joined: ok reply, no phx_close",
  async () => {
    const c = await RawClient.connect(server, {user: "alice"})
    c.send(["8", "9", "room:frames_never", "phx_leave", {}])
    assert.deepEqual(await c.reply("9"),
      ["8", "9", "room:frames_never", "phx_reply", ok()])
    await barrier(c, "10")
    assert.equal(c.frames.filter(f => f[3] === "phx_close").length, 0,
      c.dump())
  })

test("duplicate join: new reply, then phx_close for the old join_ref",
  async () => {
    const c = await RawClient.connect(server, {user: "alice"})
    const T = "room:frames_dup"
    await c.join(T, "1")
    c.send(["5", "5", T, "phx_join", {}])
    const reply = await c.reply("5")
    assert.deepEqual(reply, ["5", "5", T, "phx_reply", ok({joined: true})])
    const close = await c.take(f => f[3] === "phx_close", 2000, "phx_close")
    assert.deepEqual(close, ["1", "1", T, "phx_close", {}])
    assert.ok(c.indexOf(reply) < c.indexOf(close),
      `wire order must be reply then phx_close: ${c.dump()}`)
    // The new channel answers with its join_ref.
    c.send(["5", "6", T, "ping", {}])
    assert.deepEqual(await c.reply("6"), ["5", "6", T, "phx_reply", ok({})])
  })

test("stale join_ref: events dropped silently, phx_leave ignored, " +
  "phx_leave with null join_ref works", async () => {
  const c = await RawClient.connect(server, {user: "alice"})
  const T = "room:frames_stale"
  await c.join(T, "1")
  const start = c.frames.length
  c.send(["7", "8", T, "ping", {stale: true}])
  c.send(["7", "9", T, "new_msg", {stale: true}])
  c.send(["7", "10", T, "phx_leave", {}])
  // Nothing may come for refs 8, 9, 10: a heartbeat and then a valid
  // ping on the same channel are answered after anything they caused.
  await c.heartbeat("11")
  c.send(["1", "12", T, "ping", {valid: true}])
  assert.deepEqual(await c.reply("12"), ["1", "12", T, "phx_reply",
    ok({valid: true})])
  const after = c.frames.slice(start).filter(f =>
    !(f[3] === "presence_diff" || f[3] === "presence_state"))
  assert.deepEqual(after, [
    [null, "11", "phoenix", "phx_reply", ok()],
    ["1", "12", T, "phx_reply", ok({valid: true})],
  ], `frames after the stale messages: ${c.dump()}`)
  // The channel is still joined (the stale leave was ignored); a leave
  // with a null join_ref closes it.
  c.send([null, "13", T, "phx_leave", {}])
  const reply = await c.reply("13")
  assert.deepEqual(reply, ["1", "13", T, "phx_reply", ok()])
  const close = await c.take(f => f[3] === "phx_close", 2000, "phx_close")
  assert.deepEqual(close, ["1", "1", T, "phx_close", {}])
  assert.ok(c.indexOf(reply) < c.indexOf(close))
})

test("unmatched topic: join and push get error with join_ref null",
  async () => {
    const c = await RawClient.connect(server)
    c.send(["6", "6", "nope:x", "phx_join", {}])
    assert.deepEqual(await c.reply("6"),
      [null, "6", "nope:x", "phx_reply", unmatched])
    c.send([null, "7", "room:other", "ping", {}])
    assert.deepEqual(await c.reply("7"),
      [null, "7", "room:other", "phx_reply", unmatched])
    c.send(["3", "8", "room:other", "ping", {}])
    assert.deepEqual(await c.reply("8"),
      [null, "8", "room:other", "phx_reply", unmatched])
    // Other events on topic "phoenix" are ordinary (unmatched) events.
    c.send([null, "9", "phoenix", "ping", {}])
    assert.deepEqual(await c.reply("9"),
      [null, "9", "phoenix", "phx_reply", unmatched])
    await barrier(c, "10")
    assert.equal(c.frames.filter(f => f[3] === "phx_close").length, 0)
  })

test("join that throws: error join crashed, the socket keeps working",
  async () => {
    const c = await RawClient.connect(server, {user: "alice"})
    c.send(["1", "1", "room:join_crash", "phx_join", {}])
    assert.deepEqual(await c.reply("1"), ["1", "1", "room:join_crash",
      "phx_reply", error({reason: "join crashed"})])
    await c.heartbeat("2")
    assert.deepEqual(await c.join("room:frames_after_jc", "3"),
      ["3", "3", "room:frames_after_jc", "phx_reply", ok({joined: true})])
    assert.equal(c.frames.filter(f => f[2] === "room:join_crash").length, 1,
      `only the error reply for the crashed join: ${c.dump()}`)
  })

test("crash: phx_error with ref == join_ref, no reply, socket open",
  async () => {
    const c = await RawClient.connect(server, {user: "alice"})
    const T = "room:frames_crash"
    await c.join(T, "3")
    await c.join("room:frames_crash_other", "4")
    c.send(["3", "12", T, "crash", {}])
    const err = await c.take(f => f[3] === "phx_error", 2000, "phx_error")
    assert.deepEqual(err, ["3", "3", T, "phx_error", {reason: "channel_crash"}])
    await c.heartbeat("13")
    c.send(["4", "14", "room:frames_crash_other", "ping", {}])
    assert.deepEqual(await c.reply("14"),
      ["4", "14", "room:frames_crash_other", "phx_reply", ok({})])
    assert.equal(c.frames.filter(f => f[1] === "12").length, 0,
      `no reply for the crashing push: ${c.dump()}`)
    // The crashed channel is gone; the topic can be joined again.
    c.send(["15", "15", T, "phx_join", {}])
    assert.deepEqual(await c.reply("15"),
      ["15", "15", T, "phx_reply", ok({joined: true})])
  })

test("stop: reply with the payload, then phx_close", async () => {
  const c = await RawClient.connect(server, {user: "alice"})
  const T = "room:frames_stop"
  await c.join(T, "9")
  c.send(["9", "10", T, "stop", {bye: true}])
  const reply = await c.reply("10")
  assert.deepEqual(reply, ["9", "10", T, "phx_reply", ok({bye: true})])
  const close = await c.take(f => f[3] === "phx_close", 2000, "phx_close")
  assert.deepEqual(close, ["9", "9", T, "phx_close", {}])
  assert.ok(c.indexOf(reply) < c.indexOf(close))
  c.send(["9", "11", T, "ping", {}])
  assert.deepEqual(await c.reply("11"), [null, "11", T, "phx_reply", unmatched])
})

test("the 101st join on one socket is refused", async () => {
  const c = await RawClient.connect(server)
  for (let i = 1; i <= 101; i++)
    c.send([String(i), String(i), `bench:limit${i}`, "phx_join", {}])
  for (let i = 1; i <= 100; i++)
    assert.deepEqual(await c.reply(String(i)),
      [String(i), String(i), `bench:limit${i}`, "phx_reply", ok()])
  assert.deepEqual(await c.reply("101"),
    ["101", "101", "bench:limit101", "phx_reply",
      error({reason: "too many channels joined"})])
  // A channel joined before still works, and leaving one makes room.
  c.send(["1", "200", "bench:limit1", "echo", {a: 1}])
  assert.deepEqual(await c.reply("200"),
    ["1", "200", "bench:limit1", "phx_reply", ok({a: 1})])
  c.send(["2", "201", "bench:limit2", "phx_leave", {}])
  assert.deepEqual((await c.reply("201"))[4], ok())
  c.send(["202", "202", "bench:limit102", "phx_join", {}])
  assert.deepEqual(await c.reply("202"),
    ["202", "202", "bench:limit102", "phx_reply", ok()])
})

test("--max-channels 1: the second join is refused", async () => {
  const small = await startServer(["--max-channels", "1"])
  try {
    const c = await RawClient.connect(small)
    assert.deepEqual(await c.join("bench:a", "1"),
      ["1", "1", "bench:a", "phx_reply", ok()])
    assert.deepEqual(await c.join("bench:b", "2"),
      ["2", "2", "bench:b", "phx_reply",
        error({reason: "too many channels joined"})])
    // A channel that crashed or stopped frees its slot.
    c.send(["1", "3", "bench:a", "phx_leave", {}])
    await c.take(f => f[3] === "phx_close")
    assert.deepEqual(await c.join("room:small", "4"),
      ["4", "4", "room:small", "phx_reply", ok({joined: true})])
    c.send(["4", "5", "room:small", "crash", {}])
    await c.take(f => f[3] === "phx_error")
    assert.deepEqual(await c.join("bench:c", "6"),
      ["6", "6", "bench:c", "phx_reply", ok()])
    c.close()
    // A refused join does not hold a slot.
    const d = await RawClient.connect(small)
    assert.deepEqual((await d.join("room:secret", "1"))[4],
      error({reason: "unauthorized"}))
    assert.deepEqual(await d.join("bench:d", "2"),
      ["2", "2", "bench:d", "phx_reply", ok()])
    d.close()
  } finally {
    await small.stop()
  }
})

test("V1 (vsn=1.0.0): object frames without join_ref", async () => {
  const c = await RawClient.connect(server, {vsn: "1.0.0", user: "v1"})
  c.send({topic: "room:frames_v1", event: "phx_join", payload: {}, ref: "1"})
  const reply = await c.take(f => f.event === "phx_reply" && f.ref === "1")
  assert.deepEqual(reply, {topic: "room:frames_v1", event: "phx_reply",
    payload: ok({joined: true}), ref: "1"})
  assert.deepEqual(Object.keys(reply).sort(),
    ["event", "payload", "ref", "topic"])
  c.send({topic: "room:frames_v1", event: "push_me", payload: {v: 1},
    ref: "2", join_ref: null})
  const push = await c.take(f => f.event === "pushed")
  assert.deepEqual(push, {topic: "room:frames_v1", event: "pushed",
    payload: {v: 1}, ref: null})
  c.send({topic: "phoenix", event: "heartbeat", payload: {}, ref: "3"})
  assert.deepEqual(await c.take(f => f.ref === "3"), {topic: "phoenix",
    event: "phx_reply", payload: ok(), ref: "3"})
  for (const f of c.frames)
    assert.ok(!Array.isArray(f) && !("join_ref" in f), JSON.stringify(f))
})

test("vsn missing: V1 is used", async () => {
  const c = await RawClient.connect(server, {vsn: null})
  c.send({topic: "phoenix", event: "heartbeat", payload: {}, ref: "1"})
  assert.deepEqual(await c.take(f => f.ref === "1"), {topic: "phoenix",
    event: "phx_reply", payload: ok(), ref: "1"})
  c.send({topic: "room:frames_v1b", event: "phx_join", payload: {},
    ref: "2"})
  assert.deepEqual(await c.take(f => f.ref === "2"), {topic:
    "room:frames_v1b", event: "phx_reply", payload: ok({joined: true}),
  ref: "2"})
})
