// A restart under load, as a deploy does it: N clients joined to
// fenix-test-server (idle timeout raised: the clients send no heartbeats); SIGTERM to the old process (which closes its listener,
// then drains its sockets with 1012 in batches) and, at once, a new process
// on the same port. Each client reconnects as phoenix.js does (its default
// reconnectAfterMs: 10, 50, 100, 150, 200, 250, 500, 1000, 2000, then
// 5000 ms) and rejoins. Reported: the old process's drain (first to last
// close), the rejoins the new process sees per second (overall and the
// busiest 100 ms), refused connection attempts, and the time from SIGTERM
// until every client is back.
//
//   node bench/drain_restart.mjs [--clients 10000] [--batch 10000]
//        [--interval-ms 2000]
//     (FENIX_BUILD_DIR defaults to ./build; needs tests/js/node_modules)

import {spawn} from "node:child_process"
import {createRequire} from "node:module"
import path from "node:path"

const require = createRequire(path.resolve("tests/js/package.json"))
const WebSocket = require("ws")
const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : d
}
const CLIENTS = arg("clients", 10000)
const BATCH = arg("batch", 10000)
const INTERVAL = arg("interval-ms", 2000)
const CONCURRENCY = 100
const BIN = path.resolve(process.env.FENIX_BUILD_DIR ?? "build", "bin",
  "fenix-test-server")
const BACKOFF = [10, 50, 100, 150, 200, 250, 500, 1000, 2000]

const now = () => performance.now()
let stopping = false  // at the end: no more reconnects

/// Starts the server; resolves {proc, port} at its ready line, rejects if
/// it exits first (e.g. the port is still taken).
function startServer(port) {
  const proc = spawn(BIN, ["--port", String(port), "--idle-timeout-ms",
    "600000", "--drain-batch",
    String(BATCH), "--drain-interval-ms", String(INTERVAL)],
  {stdio: ["ignore", "pipe", "ignore"]})
  return new Promise((resolve, reject) => {
    let out = ""
    proc.stdout.on("data", d => {
      out += d
      const m = out.match(/listening on https?:\/\/127\.0\.0\.1:(\d+)/)
      if (m) resolve({proc, port: Number(m[1])})
    })
    proc.once("exit", code => reject(new Error(`exited ${code}`)))
  })
}

class Client {
  constructor(port, i) {
    this.url = `ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0&user=u${i}`
    this.topic = `room:r${i % 100}`
    this.tries = 0
    this.refused = 0
    this.closedAt = null
    this.backAt = null
    this.onBack = null
  }

  /// Connects and joins; resolves when the join is acknowledged.
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, {perMessageDeflate: false})
      let joined = false
      ws.on("open", () => ws.send(JSON.stringify(
        ["1", "1", this.topic, "phx_join", {}])))
      ws.on("message", d => {
        const m = JSON.parse(d)
        if (m[3] === "phx_reply" && m[1] === "1" && !joined) {
          joined = true
          this.tries = 0
          resolve()
        }
      })
      ws.on("error", () => {})
      ws.on("close", code => {
        if (!joined) {
          this.refused++
          reject(new Error(`closed ${code} before the join`))
          return
        }
        if (stopping) return
        if (this.closedAt === null) this.closedAt = now()
        this.reconnect()
      })
      this.ws = ws
    })
  }

  reconnect() {
    const delay = BACKOFF[this.tries++] ?? 5000
    setTimeout(() => this.connect().then(() => {
      this.backAt = now()
      this.onBack?.()
    }, () => this.reconnect()), delay)
  }
}

const first = await startServer(0)
const port = first.port
const clients = Array.from({length: CLIENTS}, (_, i) => new Client(port, i))
let next = 0
const tc = now()
await Promise.all(Array.from({length: CONCURRENCY}, async () => {
  while (next < CLIENTS) await clients[next++].connect()
}))
console.log(`${CLIENTS} clients joined in ${((now() - tc) / 1000).toFixed(1)}` +
  ` s; drain batch ${BATCH}, interval ${INTERVAL} ms`)

let back = 0
let allBack
const everyone = new Promise(r => { allBack = r })
for (const c of clients)
  c.onBack = () => { if (++back === CLIENTS) allBack() }

const t0 = now()
first.proc.kill("SIGTERM")
const oldExit = new Promise(r => first.proc.once("exit", r))
// The old process closes its listener first: start the new one at once,
// retrying while the port is still bound.
let second = null
let attempt = 0
for (; !second && attempt < 200; attempt++) {
  try {
    second = await startServer(port)
  } catch {
    await new Promise(r => setTimeout(r, 10))
  }
}
if (!second) throw new Error("the new process could not bind")
const tUp = now() - t0
await Promise.race([everyone, new Promise((_, reject) => setTimeout(
  () => reject(new Error(`only ${back} of ${CLIENTS} came back`)),
  120000).unref())])
const tAll = now() - t0
await oldExit

const closes = clients.map(c => c.closedAt - t0).sort((a, b) => a - b)
const backs = clients.map(c => c.backAt - t0).sort((a, b) => a - b)
let peak = 0
for (let i = 0, j = 0; i < backs.length; i++) {
  while (backs[i] - backs[j] > 100) j++
  peak = Math.max(peak, i - j + 1)
}
const refused = clients.reduce((n, c) => n + c.refused, 0)
const span = (backs.at(-1) - backs[0]) / 1000
console.log(`new process listening ${tUp.toFixed(0)} ms after SIGTERM ` +
  `(${attempt} starts)`)
console.log(`old process drain: first close ${closes[0].toFixed(0)} ms, ` +
  `last ${closes.at(-1).toFixed(0)} ms after SIGTERM`)
console.log(`rejoins seen by the new process: first ${backs[0].toFixed(0)}` +
  ` ms, last ${backs.at(-1).toFixed(0)} ms; ` +
  `${(CLIENTS / Math.max(span, 0.001)).toFixed(0)}/s overall, busiest 100 ms ` +
  `${peak} (${peak * 10}/s); ${refused} attempts failed before joining`)
console.log(`every client back ${(tAll / 1000).toFixed(2)} s after SIGTERM`)
stopping = true
for (const c of clients) c.ws?.terminate()
second.proc.kill("SIGTERM")
await new Promise(r => second.proc.once("exit", r))
