// A channel that subscribes to another topic (channel::subscribe), with the
// official phoenix client: feed:NAME on the test server subscribes to
// room:NAME and pushes each of its broadcasts as "relay"; the client never
// joined room:NAME. Also across a cluster of two test servers, and the
// presence list of another topic from a channel.

import {test, after} from "node:test"
import assert from "node:assert/strict"
import net from "node:net"
import {startServer, connectSocket, joinChannel, pushAndWait, nextEvent,
  pollUntil, closeAll} from "./helpers.mjs"

const servers = []
after(async () => {
  await closeAll()
  for (const s of servers) await s.stop()
})

async function server(flags = []) {
  const s = await startServer(flags)
  servers.push(s)
  return s
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const {port} = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

test("subscribe: a feed channel relays another topic's broadcasts",
  async () => {
    const s = await server()
    const watcher = await connectSocket(s, {user: "watcher"})
    const feed = watcher.channel("feed:lobby")
    const unrelayed = []
    watcher.onMessage(m => { if (m.topic === "room:lobby") unrelayed.push(m) })
    assert.equal((await joinChannel(feed)).status, "ok")

    const talker = await connectSocket(s, {user: "alice"})
    const room = talker.channel("room:lobby")
    assert.equal((await joinChannel(room)).status, "ok")
    const relayed = nextEvent(feed, "relay", 3000,
      p => p.event === "new_msg")
    await pushAndWait(room.push("new_msg", {body: "hello"}))
    const {payload} = await relayed
    assert.deepEqual(payload,
      {topic: "room:lobby", event: "new_msg", payload: {body: "hello"}})
    // An endpoint broadcast is relayed too.
    const fromServer = nextEvent(feed, "relay", 3000,
      p => p.event === "notice")
    assert.equal(await s.broadcast("room:lobby", "notice", {n: 1}), 200)
    assert.deepEqual((await fromServer).payload.payload, {n: 1})
    // Nothing arrived on room:lobby itself for the watcher.
    assert.deepEqual(unrelayed, [])

    // After unsubscribe, new_msg is no longer relayed to this feed. A
    // second feed, still subscribed, shows the broadcast went out; then a
    // bounded negative check on the first.
    assert.equal((await pushAndWait(feed.push("unsubscribe", {}))).status,
      "ok")
    const relays = []
    feed.on("relay", p => relays.push(p))
    const other = await connectSocket(s, {user: "other"})
    const feed2 = other.channel("feed:lobby")
    assert.equal((await joinChannel(feed2)).status, "ok")
    const seen = nextEvent(feed2, "relay", 3000,
      p => p.event === "new_msg")
    await pushAndWait(room.push("new_msg", {body: "not relayed"}))
    await seen
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.deepEqual(relays.filter(p => p.event === "new_msg"), [])
  })

test("subscribe: a channel lists another topic's presences", async () => {
  const s = await server()
  const alice = await connectSocket(s, {user: "alice"})
  assert.equal((await joinChannel(alice.channel("room:p"))).status, "ok")
  const bob = await connectSocket(s, {user: "bob"})
  const feed = bob.channel("feed:p")
  assert.equal((await joinChannel(feed)).status, "ok")
  const r = await pushAndWait(feed.push("who", {}))
  assert.equal(r.status, "ok")
  assert.deepEqual(Object.keys(r.response), ["alice"])
  assert.equal(r.response.alice.metas.length, 1)
  assert.equal(r.response.alice.metas[0].online_at, "1795424107")
})

test("subscribe: broadcasts from another cluster node reach the channel",
  async () => {
    const [pa, pb] = [await freePort(), await freePort()]
    const a = await server(["--node-port", String(pa)])
    const b = await server(["--node-port", String(pb),
      "--join", `127.0.0.1:${pa}`])
    await pollUntil(
      async () => [(await a.stats()).cluster_nodes,
        (await b.stats()).cluster_nodes],
      ([x, y]) => x === 2 && y === 2, 10_000, "a cluster of two nodes")
    const watcher = await connectSocket(a, {user: "watcher"})
    const feed = watcher.channel("feed:far")
    assert.equal((await joinChannel(feed)).status, "ok")
    const talker = await connectSocket(b, {user: "bob"})
    const room = talker.channel("room:far")
    assert.equal((await joinChannel(room)).status, "ok")
    const relayed = nextEvent(feed, "relay", 5000,
      p => p.event === "new_msg")
    await pushAndWait(room.push("new_msg", {body: "from b"}))
    assert.deepEqual((await relayed).payload.payload, {body: "from b"})
  })
