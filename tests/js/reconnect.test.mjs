// Endpoint broadcasts, socket-id disconnects (close 1001), and the
// official client reconnecting and rejoining after the server closed its
// socket or restarted. Protocol doc sections 4.3, 4.4, 5.4 and 5.5.

import {test, before, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  startServer, RawClient, connectSocket, joinChannel, pushAndWait,
  recordMessages, closeAll, waitFor, deferred,
} from "./helpers.mjs"

let server

before(async () => { server = await startServer() })
afterEach(async () => { await closeAll() })
after(async () => {
  await closeAll()
  await server?.stop()
})

test("POST /broadcast reaches joined clients as a fastlane frame",
  async () => {
    const a = await RawClient.connect(server, {user: "a"})
    const b = await RawClient.connect(server, {user: "b"})
    const v1 = await RawClient.connect(server, {user: "c", vsn: "1.0.0"})
    await a.join("room:news", "1")
    await b.join("room:news", "7")
    v1.send({topic: "room:news", event: "phx_join", payload: {}, ref: "1"})
    await v1.take(f => f.ref === "1" && f.event === "phx_reply")
    const outsider = await RawClient.connect(server, {user: "d"})
    await outsider.join("room:elsewhere", "1")
    assert.equal(await server.broadcast("room:news", "news",
      {headline: "fenix", n: [1, 2]}), 200)
    const frame = [null, null, "room:news", "news",
      {headline: "fenix", n: [1, 2]}]
    assert.deepEqual(await a.take(f => f[3] === "news"), frame)
    assert.deepEqual(await b.take(f => f[3] === "news"), frame)
    assert.deepEqual(await v1.take(f => f.event === "news"),
      {topic: "room:news", event: "news",
        payload: {headline: "fenix", n: [1, 2]}, ref: null})
    await outsider.heartbeat("2")
    assert.equal(outsider.frames.filter(f => f[3] === "news").length, 0)
  })

test("POST /broadcast reaches the official client's channel", async () => {
  const socket = await connectSocket(server, {user: "off"})
  const chan = socket.channel("room:news2")
  await joinChannel(chan)
  const got = deferred()
  chan.on("news", (payload, ref, joinRef) => got.resolve({payload, ref}))
  assert.equal(await server.broadcast("room:news2", "news", {x: 1}), 200)
  assert.deepEqual(await waitFor(got.promise, 2000, "news"),
    {payload: {x: 1}, ref: null})
})

test("disconnect broadcast on the socket id closes both sockets with 1001",
  async () => {
    const s1 = await RawClient.connect(server, {id: "42", user: "u42"})
    const s2 = await RawClient.connect(server, {id: "42", user: "u42"})
    const other = await RawClient.connect(server, {id: "43", user: "u43"})
    await s1.join("room:idtest", "1")
    await s2.join("room:idtest", "1")
    // Other events on the id topic are ignored.
    assert.equal(await server.broadcast("users_socket:42", "hello", {}), 200)
    await s1.heartbeat("2")
    assert.equal(s1.closeInfo, null)
    assert.equal(await server.broadcast("users_socket:42", "disconnect", {}),
      200)
    assert.equal((await s1.waitClose(2000)).code, 1001)
    assert.equal((await s2.waitClose(2000)).code, 1001)
    await other.heartbeat("1")
    assert.equal(other.closeInfo, null)
  })

test("official client reconnects and rejoins after a disconnect broadcast",
  async () => {
    const socket = await connectSocket(server, {id: "77", user: "re"})
    const rec = recordMessages(socket)
    const chan = socket.channel("room:rejoin")
    await joinChannel(chan)
    const firstJoinRef = chan.joinRef()
    const closed = deferred()
    socket.onClose(e => closed.resolve(e.code))
    const reopened = deferred()
    socket.onOpen(() => reopened.resolve())
    assert.equal(await server.broadcast("users_socket:77", "disconnect", {}),
      200)
    assert.equal(await waitFor(closed.promise, 2000, "socket close"), 1001)
    await waitFor(reopened.promise, 3000, "the socket to reopen")
    const rejoin = await rec.wait(m => m.event === "phx_reply" &&
      m.topic === "room:rejoin" && m.ref === m.join_ref &&
      m.join_ref !== firstJoinRef, 3000, "the rejoin reply")
    assert.deepEqual(rejoin.payload, {status: "ok", response: {joined: true}})
    await waitFor(() => chan.state === "joined", 2000, "joined again")
    assert.deepEqual(await pushAndWait(chan.push("ping", {after: "rejoin"})),
      {status: "ok", response: {after: "rejoin"}})
  })

test("official client reconnects and rejoins after a server restart",
  async () => {
    const first = await startServer()
    const port = first.port
    let second
    try {
      const socket = await connectSocket(first, {user: "phoenix"})
      const rec = recordMessages(socket)
      const chan = socket.channel("room:restart")
      await joinChannel(chan)
      const firstJoinRef = chan.joinRef()
      const closed = deferred()
      socket.onClose(e => closed.resolve(e.code))
      await first.stop()
      const code = await waitFor(closed.promise, 3000, "socket close")
      // Shutdown closes clients with 1012 (Service Restart), never 1000.
      assert.equal(code, 1012)
      const reopened = deferred()
      socket.onOpen(() => reopened.resolve())
      second = await startServer([], {port})
      await waitFor(reopened.promise, 5000, "the socket to reopen")
      const rejoin = await rec.wait(m => m.event === "phx_reply" &&
        m.topic === "room:restart" && m.join_ref !== firstJoinRef &&
        m.ref === m.join_ref, 3000, "the rejoin reply")
      assert.deepEqual(rejoin.payload, {status: "ok", response: {joined: true}})
      await waitFor(() => chan.state === "joined", 2000, "joined again")
      assert.deepEqual(await pushAndWait(chan.push("ping", {n: 1})),
        {status: "ok", response: {n: 1}})
    } finally {
      await closeAll()
      await first.stop()
      await second?.stop()
    }
  })
