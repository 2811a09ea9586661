// Presence convergence after a node loss, seen by the official phoenix
// client (tests/js/node_modules): N clients per node, each tracked in one
// topic of fenix-test-server's room:* channel (key = its user name) and
// each keeping the list with the JS Presence helper. Once every list holds
// all 3N users, one node gets a signal (default SIGKILL); the clock starts
// just before the kill, and each client on the surviving nodes is done
// when its list is exactly the 2N users of the surviving nodes.
//
//   node bench/cluster-presence.mjs --ports P1,P2,P3 --pids PID1,PID2,PID3 \
//     [--per-node 500] [--victim 2] [--signal SIGKILL] [--topic room:conv]
//
// Prints one JSON line with the figures (ms): time to the first and the
// last surviving list that is correct, p50/p99 over the surviving clients,
// and the time of the first leave seen. With --signal SIGSTOP the node is
// continued afterwards and the time until every list holds 3N again is
// given too. Timings are taken in this one Node process, which shares the
// machine's cores with the nodes: a list counts when this process has
// processed the diff, so the figures include its own event-loop delay.

import path from "node:path"
import {createRequire} from "node:module"
import {fileURLToPath} from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(path.join(here, "../tests/js/package.json"))
const {Socket, Presence} = require("phoenix")
const WebSocket = require("ws")

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : def
}
const ports = arg("ports", "").split(",").map(Number)
const pids = arg("pids", "").split(",").map(Number)
const perNode = Number(arg("per-node", "500"))
const victim = Number(arg("victim", "2"))
const signal = arg("signal", "SIGKILL")
const topic = arg("topic", "room:conv")
const timeoutMs = Number(arg("timeout", "60000"))
if (ports.length < 2 || ports.length !== pids.length) {
  console.error("usage: cluster-presence.mjs --ports A,B,C --pids A,B,C ...")
  process.exit(2)
}

const now = () => performance.now()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// One client: socket + channel + Presence; `count` and `dead` (keys of the
// victim node still listed) are refreshed on every sync.
class Client {
  constructor(node, i) {
    this.node = node
    this.user = `n${node}-u${i}`
    this.keys = 0
    this.deadKeys = 0
    this.onChange = null
    this.firstLeaveAt = null
  }

  join() {
    return new Promise((resolve, reject) => {
      this.socket = new Socket(`ws://127.0.0.1:${ports[this.node]}/socket`, {
        transport: WebSocket,
        params: {user: this.user},
        heartbeatIntervalMs: 30000,
        reconnectAfterMs: () => 600000,
        rejoinAfterMs: () => 600000,
      })
      this.socket.connect()
      this.chan = this.socket.channel(topic, {})
      this.diffs = 0 // bound first: counted before Presence applies it
      this.chan.on("presence_diff", () => { this.diffs++ })
      this.presence = new Presence(this.chan)
      this.presence.onLeave(() => {
        if (this.firstLeaveAt === null) this.firstLeaveAt = now()
      })
      this.presence.onSync(() => {
        const keys = Object.keys(this.presence.state)
        const prefix = `n${victim}-`
        let dead = 0
        for (const k of keys) if (k.startsWith(prefix)) dead++
        this.keys = keys.length
        this.deadKeys = dead
        if (this.onChange) this.onChange(this)
      })
      this.chan.join().receive("ok", resolve)
        .receive("error", (e) => reject(new Error(JSON.stringify(e))))
        .receive("timeout", () => reject(new Error("join timeout")))
    })
  }
}

async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size)
    await Promise.all(items.slice(i, i + size).map(fn))
}

// Resolves when pred(c) holds for every client in `cs` (checked on every
// sync), with the time at which each one first held; rejects on timeout.
function waitAll(cs, pred, label) {
  return new Promise((resolve, reject) => {
    const at = new Map()
    const check = (c) => {
      if (!at.has(c) && pred(c)) { at.set(c, now()); c.diffsAt = c.diffs }
      if (at.size === cs.length) {
        clearTimeout(timer)
        for (const x of cs) x.onChange = null
        resolve(at)
      }
    }
    const timer = setTimeout(() => {
      for (const x of cs) x.onChange = null
      reject(new Error(`${label}: ${at.size}/${cs.length} after ${timeoutMs} ms`))
    }, timeoutMs)
    for (const c of cs) c.onChange = check
    for (const c of cs) check(c)
  })
}

function pct(sorted, p) {
  if (!sorted.length) return null
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}
const r1 = (x) => (x === null ? null : Math.round(x * 10) / 10)

const clients = []
for (let n = 0; n < ports.length; n++)
  for (let i = 0; i < perNode; i++) clients.push(new Client(n, i))
const total = clients.length

const t0 = now()
await inBatches(clients, 100, (c) => c.join())
const tJoined = now()
await waitAll(clients, (c) => c.keys === total && c.deadKeys === perNode, "initial lists")
const tComplete = now()
await sleep(1000) // quiet: no gossip in flight

const survivors = clients.filter((c) => c.node !== victim)
const expected = total - perNode
for (const c of survivors) { c.firstLeaveAt = null; c.diffs = 0 }
const tKill = now()
process.kill(pids[victim], signal)
const at = await waitAll(survivors,
  (c) => c.keys === expected && c.deadKeys === 0, "lists after the loss")
const times = [...at.values()].map((t) => t - tKill).sort((a, b) => a - b)
const lastByNode = {}
for (const [c, t] of at) {
  const k = `node${c.node}`
  lastByNode[k] = Math.max(lastByNode[k] ?? 0, r1(t - tKill))
}
const leaves = survivors.map((c) => c.firstLeaveAt).filter((t) => t !== null)
  .map((t) => t - tKill).sort((a, b) => a - b)

// Exact check: every survivor lists precisely the surviving users.
const want = survivors.map((c) => c.user).sort().join(",")
let wrong = 0
for (const c of survivors)
  if (Object.keys(c.presence.state).sort().join(",") !== want) wrong++

const out = {
  nodes: ports.length, per_node: perNode, clients: total, signal,
  join_s: r1((tJoined - t0) / 1000),
  initial_lists_complete_s: r1((tComplete - t0) / 1000),
  survivors: survivors.length,
  first_leave_ms: r1(leaves[0] ?? null),
  converged_first_ms: r1(times[0]),
  converged_p50_ms: r1(pct(times, 50)),
  converged_p99_ms: r1(pct(times, 99)),
  converged_last_ms: r1(times[times.length - 1]),
  wrong_lists: wrong,
  // presence_diff frames per surviving client until its list was correct
  // (one would carry all the leaves; more: the leaves come in pieces)
  diffs_per_survivor: r1(survivors.reduce((a, c) => a + c.diffsAt, 0) / survivors.length),
  converged_last_ms_by_node: lastByNode,
}

if (signal === "SIGSTOP") {
  const tCont = now()
  process.kill(pids[victim], "SIGCONT")
  try {
    const back = await waitAll(survivors,
      (c) => c.keys === total && c.deadKeys === perNode, "lists after SIGCONT")
    out.back_last_ms = r1(Math.max(...[...back.values()].map((t) => t - tCont)))
  } catch (e) {
    out.back_last_ms = null
    out.back_error = e.message // e.g. the node never came back
  }
}

console.log(JSON.stringify(out))
for (const c of clients) c.socket.disconnect()
await sleep(200)
process.exit(wrong === 0 ? 0 : 1)
