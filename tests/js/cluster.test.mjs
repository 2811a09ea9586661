// Two fenix-chat nodes in a cluster, driven by the official phoenix client:
// one presence list through the JS Presence helper, messages across nodes,
// and a user leaving the other node's list when its node is killed.

import {test, after} from "node:test"
import assert from "node:assert/strict"
import net from "node:net"
import {Presence, waitFor, pollUntil, joinChannel, closeAll}
  from "./helpers.mjs"
import {startApp, connectUser} from "./app_helpers.mjs"

// A port that was free a moment ago.
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

const apps = []
after(async () => {
  await closeAll()
  for (const app of apps) await app.stop()
})

async function startNode(nodePort, join) {
  const args = ["--node-port", String(nodePort)]
  if (join) args.push("--join", `127.0.0.1:${join}`)
  const app = await startApp("chat", {args})
  apps.push(app)
  return app
}

async function clusterNodes(app) {
  const res = await fetch(`${app.httpUrl}/metrics`,
    {signal: AbortSignal.timeout(3000)})
  const m = (await res.text()).match(/\nfenix_cluster_nodes (\d+)/)
  return m ? Number(m[1]) : 0
}

// Joins room:lobby as `user` on `app`; the Presence helper keeps the list.
async function joinRoom(app, user) {
  const {socket} = await connectUser(app, user)
  const chan = socket.channel("room:lobby")
  const presence = new Presence(chan)
  const msgs = []
  chan.on("new_msg", m => msgs.push(m))
  await joinChannel(chan)
  const users = () => presence.list(id => id).sort()
  return {socket, chan, users, msgs}
}

test("cluster: the official client sees one room across two nodes",
  async () => {
    const [pa, pb] = [await freePort(), await freePort()]
    const a = await startNode(pa)
    const b = await startNode(pb, pa)
    await pollUntil(async () => [await clusterNodes(a), await clusterNodes(b)],
      ([x, y]) => x === 2 && y === 2, 10_000, "a cluster of two nodes")
    const alice = await joinRoom(a, "alice")
    const bob = await joinRoom(b, "bob")
    const both = JSON.stringify(["alice", "bob"])
    await waitFor(() => JSON.stringify(alice.users()) === both, 5000,
      "alice to see bob")
    await waitFor(() => JSON.stringify(bob.users()) === both, 5000,
      "bob to see alice")
    bob.chan.push("new_msg", {body: "hi from b"})
    await waitFor(() => alice.msgs.some(m => m.body === "hi from b"), 5000,
      "alice to get bob's message")
    assert.equal(alice.msgs.find(m => m.body === "hi from b").user, "bob")
    // Node b dies: bob leaves alice's list within 3 s.
    b.proc.kill("SIGKILL")
    await waitFor(() => JSON.stringify(alice.users()) === '["alice"]', 3000,
      "bob to leave alice's list")
  })
