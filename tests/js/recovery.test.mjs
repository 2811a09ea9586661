// Recovery through the Phoenix protocol (docs/apps.md "Chat", Recovery),
// with the official client: a client that lost its connection rejoins with
// {"recover": {"epoch", "offset"}} and gets what it missed, once, in order.

import {test} from "node:test"
import assert from "node:assert/strict"
import {joinChannel, pushAndWait, waitFor, deferred} from "./helpers.mjs"
import {useApp, startApp, tempDb, connectUser} from "./app_helpers.mjs"

let app
useApp("chat", started => { app = started })

/// A user whose channel passes its last seen position on every rejoin and
/// records every new_msg offset and every join reply.
async function follower(srv, user, topic, socketOpts = {}) {
  const {socket} = await connectUser(srv, user, {socketOpts})
  const me = {socket, pos: null, offsets: [], replies: [], waiters: []}
  const chan = socket.channel(topic, () => me.pos ? {recover: me.pos} : {})
  me.chan = chan
  chan.on("new_msg", msg => {
    me.offsets.push(msg.offset)
    me.pos = {epoch: me.pos.epoch, offset: msg.offset}
    me.waiters = me.waiters.filter(w => !w())
  })
  const first = deferred()
  chan.join().receive("ok", reply => {
    me.replies.push(reply)
    if (!me.pos || !reply.recovered) me.pos = {epoch: reply.epoch, offset: reply.offset}
    me.waiters = me.waiters.filter(w => !w())
    first.resolve(reply)
  })
  await waitFor(first.promise, 3000, `${user} joins ${topic}`)
  me.until = (pred, ms = 5000, what = "condition") => {
    if (pred()) return Promise.resolve()
    const d = deferred()
    me.waiters.push(() => { if (pred()) { d.resolve(); return true } return false })
    return waitFor(d.promise, ms, `${user}: ${what}`)
  }
  return me
}

/// Kills the client's TCP connection (the server sees it drop).
function killTcp(socket) {
  socket.conn._socket.destroy()
}

async function send(chan, n, prefix = "m") {
  const replies = []
  for (let i = 0; i < n; i++) replies.push(pushAndWait(chan.push("new_msg", {body: `${prefix}${i}`})))
  for (const r of await Promise.all(replies)) assert.equal(r.status, "ok")
}

const range = (from, to) => Array.from({length: to - from + 1}, (_, i) => from + i)

test("a subscriber cut off while 200 messages are sent recovers exactly those, then live", async () => {
  const topic = "room:rec200"
  const bob = await follower(app, "bob", topic)
  await send(bob.chan, 3, "before")
  const alice = await follower(app, "alice", topic)
  assert.equal(alice.replies[0].offset, 3)
  assert.equal(alice.replies[0].messages.length, 3)
  assert.deepEqual(alice.replies[0].messages.map(m => m.offset), [1, 2, 3])
  const closed = new Promise(resolve => alice.socket.onClose(resolve))
  killTcp(alice.socket)
  await waitFor(closed, 3000, "alice's socket to close")
  alice.socket.disconnect()          // hold the reconnect until bob is done
  await send(bob.chan, 200)
  alice.socket.connect()
  await alice.until(() => alice.replies.length === 2, 5000, "the rejoin")
  assert.equal(alice.replies[1].recovered, true)
  assert.deepEqual(alice.replies[1].messages, [])
  assert.equal(alice.replies[1].epoch, alice.replies[0].epoch)
  assert.equal(alice.replies[1].offset, 203)
  await alice.until(() => alice.offsets.length >= 200, 5000, "200 replayed")
  await send(bob.chan, 1, "live")
  await alice.until(() => alice.offsets.at(-1) === 204, 5000, "the live message")
  assert.deepEqual(alice.offsets, range(4, 204))
})

test("a position older than the history: recovered false, the last 50, no replay", async () => {
  const topic = "room:recold"
  const bob = await follower(app, "bob", topic)
  await send(bob.chan, 510)
  const {socket} = await connectUser(app, "carol")
  const chan = socket.channel(topic, {recover: {epoch: bob.replies[0].epoch, offset: 2}})
  const got = []
  chan.on("new_msg", m => got.push(m.offset))
  const reply = await joinChannel(chan)
  assert.equal(reply.status, "ok")
  assert.equal(reply.response.recovered, false)
  assert.equal(reply.response.offset, 510)
  assert.deepEqual(reply.response.messages.map(m => m.offset), range(461, 510))
  await send(bob.chan, 1, "live")
  await waitFor(() => got.length > 0, 3000, "carol's live message")
  assert.deepEqual(got, [511])
})

test("another epoch: recovered false, no replay", async () => {
  const topic = "room:recepoch"
  const bob = await follower(app, "bob", topic)
  await send(bob.chan, 5)
  const {socket} = await connectUser(app, "dave")
  const chan = socket.channel(topic, {recover: {epoch: "not-the-epoch", offset: 2}})
  const got = []
  chan.on("new_msg", m => got.push(m.offset))
  const reply = await joinChannel(chan)
  assert.equal(reply.response.recovered, false)
  assert.equal(reply.response.epoch, bob.replies[0].epoch)
  assert.deepEqual(reply.response.messages.map(m => m.offset), range(1, 5))
  await send(bob.chan, 1, "live")
  await waitFor(() => got.length > 0, 3000, "dave's live message")
  assert.deepEqual(got, [6])
})

test("a malformed recover param is not recovered", async () => {
  const {socket} = await connectUser(app, "erin")
  for (const recover of [{epoch: 1, offset: 0}, {epoch: "x", offset: -1}, "x", {epoch: "x", offset: 1.5}]) {
    const chan = socket.channel("room:recbad", {recover})
    const reply = await joinChannel(chan)
    assert.equal(reply.status, "ok")
    assert.equal(reply.response.recovered, false)
    chan.leave()
  }
})

test("race: 50 clients rejoin with recovery while messages are sent at full speed", async () => {
  const topic = "room:recrace"
  const bob = await follower(app, "bob", topic)
  const clients = []
  for (let i = 0; i < 50; i++) clients.push(await follower(app, `u${i}`, topic))
  const flood = send(bob.chan, 400, "flood")
  // Every client loses its connection once during the flood and rejoins.
  await Promise.all(clients.map(async (c, i) => {
    await bob.until(() => bob.offsets.length >= i * 6, 10_000, "flood progress")
    const closed = new Promise(resolve => c.socket.onClose(resolve))
    killTcp(c.socket)
    await waitFor(closed, 3000, "a client's socket to close")
    await c.until(() => c.replies.length === 2, 10_000, "the rejoin")
  }))
  await flood
  await send(bob.chan, 1, "end")
  for (const c of clients) {
    await c.until(() => c.offsets.at(-1) === 401, 10_000, "the last message")
    assert.equal(c.replies[1].recovered, true)
    assert.deepEqual(c.offsets, range(1, 401), "no gap, no duplicate")
  }
})

test("recovery across a restart with the same --db", async () => {
  const db = tempDb("chat-restart")
  let srv = await startApp("chat", {db})
  const port = srv.port
  try {
    const bob = await follower(srv, "bob", "room:restart")
    await send(bob.chan, 3)
    const alice = await follower(srv, "alice", "room:restart")
    assert.equal((await srv.stop()).code, 0)
    alice.socket.disconnect()
    bob.socket.disconnect()
    srv = await startApp("chat", {db, args: ["--port", String(port)]})
    const carol = await follower(srv, "carol", "room:restart")
    assert.equal(carol.replies[0].epoch, alice.replies[0].epoch, "epoch kept in SQLite")
    assert.equal(carol.replies[0].offset, 3)
    await send(carol.chan, 5, "while-away")
    alice.socket.connect()
    await alice.until(() => alice.offsets.length === 5, 5000, "the 5 messages")
    assert.equal(alice.replies[1].recovered, true)
    assert.deepEqual(alice.offsets, range(4, 8))
  } finally {
    assert.equal((await srv.stop()).code, 0)
  }
})
