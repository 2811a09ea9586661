// Channels driven by the official phoenix client: joins (ok, refused,
// crashing), replies, broadcasts, broadcast_from, intercepts, later
// replies, pushes, leave, crash + automatic rejoin, stop.
// Protocol doc sections 3, 4, 5.5 and the appendix.

import {test, before, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  startServer, connectSocket, joinChannel, pushAndWait, nextEvent,
  recordMessages, closeAll, waitFor, expectNone,
} from "./helpers.mjs"

let server

before(async () => { server = await startServer() })
afterEach(async () => { await closeAll() })
after(async () => {
  await closeAll()
  await server?.stop()
})

test("join ok replies {joined: true}", async () => {
  const socket = await connectSocket(server, {user: "alice"})
  const chan = socket.channel("room:lobby")
  assert.deepEqual(await joinChannel(chan),
    {status: "ok", response: {joined: true}})
  assert.equal(chan.state, "joined")
})

test("refused join gets error unauthorized and no phx_close", async () => {
  const socket = await connectSocket(server, {user: "alice"})
  const rec = recordMessages(socket)
  const chan = socket.channel("room:secret")
  assert.deepEqual(await joinChannel(chan),
    {status: "error", response: {reason: "unauthorized"}})
  assert.equal(chan.state, "errored")
  // Prove that no phx_close came for the refused join: a heartbeat
  // reply arrives after anything the server sent for that join.
  const pong = new Promise(resolve => socket.ping(resolve))
  await waitFor(pong, 2000, "heartbeat reply")
  assert.equal(rec.log.filter(m => m.topic === "room:secret" &&
    (m.event === "phx_close" || m.event === "phx_error")).length, 0,
    JSON.stringify(rec.log))
})

test("join that throws gets error {reason: join crashed}", async () => {
  const socket = await connectSocket(server, {user: "alice"})
  const chan = socket.channel("room:join_crash")
  assert.deepEqual(await joinChannel(chan),
    {status: "error", response: {reason: "join crashed"}})
  // The socket survives the crash.
  const other = socket.channel("room:after_crash")
  assert.equal((await joinChannel(other)).status, "ok")
})

test("push gets its payload back (ping) and an error reply", async () => {
  const socket = await connectSocket(server, {user: "alice"})
  const chan = socket.channel("room:lobby")
  await joinChannel(chan)
  assert.deepEqual(await pushAndWait(chan.push("ping", {n: 1})),
    {status: "ok", response: {n: 1}})
  assert.deepEqual(await pushAndWait(chan.push("error_reply", {why: "x"})),
    {status: "error", response: {why: "x"}})
  // An unknown event is answered by the channel with an error.
  assert.deepEqual(await pushAndWait(chan.push("what", {})),
    {status: "error", response: {reason: "unknown event"}})
})

test("broadcast new_msg reaches both sockets, sender included", async () => {
  const a = await connectSocket(server, {user: "alice"})
  const b = await connectSocket(server, {user: "bob"})
  const ca = a.channel("room:bcast")
  const cb = b.channel("room:bcast")
  await joinChannel(ca)
  await joinChannel(cb)
  const recA = recordMessages(a)
  const recB = recordMessages(b)
  const gotA = nextEvent(ca, "new_msg")
  const gotB = nextEvent(cb, "new_msg")
  const reply = pushAndWait(ca.push("new_msg", {body: "hello"}))
  assert.deepEqual((await gotA).payload, {body: "hello"})
  assert.deepEqual((await gotB).payload, {body: "hello"})
  assert.deepEqual(await reply, {status: "ok", response: {}})
  // Broadcasts are fastlane frames: join_ref and ref null.
  for (const rec of [recA, recB]) {
    const m = await rec.wait(m => m.event === "new_msg")
    assert.equal(m.join_ref, null)
    assert.equal(m.ref, null)
    assert.equal(m.topic, "room:bcast")
  }
})

test("broadcast_from (shout_others) skips the sender", async () => {
  const a = await connectSocket(server, {user: "alice"})
  const b = await connectSocket(server, {user: "bob"})
  const ca = a.channel("room:shout")
  const cb = b.channel("room:shout")
  await joinChannel(ca)
  await joinChannel(cb)
  const recA = recordMessages(a)
  const gotB = nextEvent(cb, "shout")
  assert.deepEqual(await pushAndWait(ca.push("shout_others", {x: 1})),
    {status: "ok", response: {}})
  assert.deepEqual((await gotB).payload, {x: 1})
  // Marker: a later broadcast from the same channel reaches alice; any
  // "shout" for alice would have arrived before it.
  await pushAndWait(ca.push("new_msg", {marker: true}))
  await recA.wait(m => m.event === "new_msg" && m.payload.marker)
  assert.equal(recA.log.filter(m => m.event === "shout").length, 0,
    "the sender got its own broadcast_from")
})

test("intercepted broadcast is filtered per client and pushed", async () => {
  const sockets = {}
  const chans = {}
  const recs = {}
  for (const user of ["alice", "bob", "carol"]) {
    sockets[user] = await connectSocket(server, {user})
    chans[user] = sockets[user].channel("room:intercept")
    await joinChannel(chans[user])
    recs[user] = recordMessages(sockets[user])
  }
  assert.deepEqual(
    await pushAndWait(chans.alice.push("filtered", {skip: "bob", n: 1})),
    {status: "ok", response: {}})
  for (const user of ["alice", "carol"]) {
    const m = await recs[user].wait(m => m.event === "filtered",
      2000, `filtered for ${user}`)
    // A push from handle_out: join_ref is the channel's, ref null.
    assert.equal(m.join_ref, chans[user].joinRef(), JSON.stringify(m))
    assert.equal(m.ref, null)
    assert.deepEqual(m.payload, {skip: "bob", n: 1, seen_by: user})
  }
  // Marker: a second "filtered" that skips nobody; the first one bob
  // sees must be that one.
  await pushAndWait(chans.alice.push("filtered", {skip: "nobody", n: 2}))
  const m = await recs.bob.wait(m => m.event === "filtered")
  assert.deepEqual(m.payload, {skip: "nobody", n: 2, seen_by: "bob"})
  assert.equal(m.join_ref, chans.bob.joinRef())
})

test("later replies: the client resolves the first one", async () => {
  const socket = await connectSocket(server, {user: "alice"})
  const chan = socket.channel("room:later")
  await joinChannel(chan)
  const rec = recordMessages(socket)
  const push = chan.push("later", {})
  assert.deepEqual(await pushAndWait(push),
    {status: "ok", response: {later: 1}})
  // Both replies reach the socket with the push's ref.
  await rec.wait(m => m.event === "phx_reply" && m.ref === push.ref &&
    m.payload.response.later === 2, 2000, "the second later reply")
  const replies = rec.log.filter(m => m.event === "phx_reply" &&
    m.ref === push.ref)
  assert.deepEqual(replies.map(m => m.payload),
    [{status: "ok", response: {later: 1}}, {status: "ok", response: {later: 2}}])
  for (const r of replies) assert.equal(r.join_ref, chan.joinRef())
})

test("push_me: the channel pushes 'pushed' with join_ref set", async () => {
  const socket = await connectSocket(server, {user: "alice"})
  const chan = socket.channel("room:push")
  await joinChannel(chan)
  const rec = recordMessages(socket)
  const got = nextEvent(chan, "pushed")
  chan.push("push_me", {v: 7})
  assert.deepEqual((await got).payload, {v: 7})
  const m = await rec.wait(m => m.event === "pushed")
  assert.equal(m.join_ref, chan.joinRef())
  assert.equal(m.ref, null)
})

test("leave: the client closes the channel", async () => {
  const socket = await connectSocket(server, {user: "alice"})
  const chan = socket.channel("room:leave")
  await joinChannel(chan)
  const closed = new Promise(resolve => chan.onClose(resolve))
  assert.deepEqual(await pushAndWait(chan.leave()),
    {status: "ok", response: {}})
  await waitFor(closed, 2000, "channel close")
  assert.equal(chan.state, "closed")
  assert.ok(!socket.channels.includes(chan))
})

test("crash: phx_error, socket stays open, other channels work, " +
  "client rejoins", async () => {
  const socket = await connectSocket(server, {user: "alice"})
  const rec = recordMessages(socket)
  const crashy = socket.channel("room:crashy")
  const other = socket.channel("room:bystander")
  await joinChannel(crashy)
  await joinChannel(other)
  const firstJoinRef = crashy.joinRef()
  const errored = new Promise(resolve => crashy.onError(resolve))
  crashy.push("crash", {})
  const err = await rec.wait(m => m.event === "phx_error", 2000, "phx_error")
  assert.deepEqual(err, {join_ref: firstJoinRef, ref: firstJoinRef,
    topic: "room:crashy", event: "phx_error",
    payload: {reason: "channel_crash"}})
  await waitFor(errored, 2000, "channel onError")
  assert.ok(socket.isConnected())
  // The other channel on the same socket keeps working.
  assert.deepEqual(await pushAndWait(other.push("ping", {still: "here"})),
    {status: "ok", response: {still: "here"}})
  // The client rejoins by itself with a new join_ref.
  const rejoin = await rec.wait(m => m.event === "phx_reply" &&
    m.topic === "room:crashy" && m.join_ref !== firstJoinRef &&
    m.ref === m.join_ref, 3000, "the rejoin reply")
  assert.deepEqual(rejoin.payload, {status: "ok", response: {joined: true}})
  await waitFor(() => crashy.state === "joined", 2000, "joined again")
  assert.notEqual(crashy.joinRef(), firstJoinRef)
  assert.deepEqual(await pushAndWait(crashy.push("ping", {n: 2})),
    {status: "ok", response: {n: 2}})
})

test("stop: reply ok with payload, then the channel closes for good",
  async () => {
    const socket = await connectSocket(server, {user: "alice"})
    const rec = recordMessages(socket)
    const chan = socket.channel("room:stopper")
    await joinChannel(chan)
    const joinRef = chan.joinRef()
    const closed = new Promise(resolve => chan.onClose(resolve))
    const push = chan.push("stop", {bye: true})
    assert.deepEqual(await pushAndWait(push),
      {status: "ok", response: {bye: true}})
    await waitFor(closed, 2000, "channel close")
    const close = await rec.wait(m => m.event === "phx_close")
    assert.deepEqual(close, {join_ref: joinRef, ref: joinRef,
      topic: "room:stopper", event: "phx_close", payload: {}})
    assert.equal(chan.state, "closed")
    assert.ok(!socket.channels.includes(chan))
    // No rejoin (rejoinAfterMs is 100 ms here): nothing more for that
    // topic within 400 ms.
    await expectNone(rec, m => m.topic === "room:stopper", 400)
  })

test("joining an unmatched topic is refused", async () => {
  const socket = await connectSocket(server, {user: "alice"})
  const rec = recordMessages(socket)
  const chan = socket.channel("nope:x")
  assert.deepEqual(await joinChannel(chan),
    {status: "error", response: {reason: "unmatched topic"}})
  const m = await rec.wait(m => m.topic === "nope:x")
  assert.equal(m.join_ref, null)
})
