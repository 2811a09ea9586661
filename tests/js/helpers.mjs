// Helpers for the JS integration tests: start fenix-test-server, drive it
// with the official phoenix client or with raw `ws` clients, and wait for
// events with bounded timeouts (never sleep to synchronise).
//
//   const server = await startServer(["--max-channels", "1"])
//   const socket = await connectSocket(server, {user: "alice"})
//   const chan = socket.channel("room:lobby")
//   assert.deepEqual(await joinChannel(chan), {status: "ok", response: {joined: true}})
//   const raw = await RawClient.connect(server, {user: "bob"})
//   raw.send(["1", "1", "room:lobby", "phx_join", {}])
//   await raw.take(m => m[3] === "phx_reply" && m[1] === "1")
//   await closeAll(); await server.stop()

import {spawn} from "node:child_process"
import {existsSync} from "node:fs"
import path from "node:path"
import {fileURLToPath} from "node:url"
import WebSocket from "ws"
import {Socket, Presence} from "phoenix"

export {WebSocket, Socket, Presence}

const here = path.dirname(fileURLToPath(import.meta.url))

export const BUILD_DIR = process.env.FENIX_BUILD_DIR
  ? path.resolve(process.env.FENIX_BUILD_DIR)
  : path.resolve(here, "../../build")

export const SERVER_BIN = path.join(BUILD_DIR, "bin", "fenix-test-server")

// ---------------------------------------------------------------------------
// waiting

/// Waits for a promise, or polls a predicate (every 5 ms) until it returns a
/// truthy value; rejects after `ms` with a message naming `what`.
export function waitFor(promiseOrPredicate, ms = 2000, what = "condition") {
  if (typeof promiseOrPredicate === "function") {
    const pred = promiseOrPredicate
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + ms
      const tick = () => {
        let v
        try {
          v = pred()
        } catch (e) {
          reject(e)
          return
        }
        if (v) return resolve(v)
        if (Date.now() >= deadline)
          return reject(new Error(`timeout after ${ms} ms waiting for ${what}`))
        setTimeout(tick, 5)
      }
      tick()
    })
  }
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timeout after ${ms} ms waiting for ${what}`)),
      ms)
  })
  return Promise.race([Promise.resolve(promiseOrPredicate), timeout])
    .finally(() => clearTimeout(timer))
}

/// Polls an async function until `check(value)` holds; bounded by `ms`.
export async function pollUntil(fn, check, ms = 5000, what = "condition",
  interval = 20) {
  const deadline = Date.now() + ms
  let last
  for (;;) {
    last = await fn()
    if (check(last)) return last
    if (Date.now() >= deadline)
      throw new Error(
        `timeout after ${ms} ms waiting for ${what}; last value: ` +
        JSON.stringify(last))
    await new Promise(r => setTimeout(r, interval))
  }
}

/// A promise plus its resolve function.
export function deferred() {
  let resolve, reject
  const promise = new Promise((res, rej) => { resolve = res; reject = rej })
  return {promise, resolve, reject}
}

// ---------------------------------------------------------------------------
// the server

// Servers still running when the test process exits (a crashed or
// timed-out test file) are killed, so none outlives its test file.
const liveServers = new Set()
process.on("exit", () => {
  for (const proc of liveServers) {
    try { proc.kill("SIGKILL") } catch {}
  }
})

/// Spawns `bin args` and resolves, once it printed its
/// `listening on http://127.0.0.1:PORT` (or ws://) line, to a server object: proc,
/// port, exited, stdout, stderr, httpUrl, endPoint, wsUrl(params), stop(ms).
/// A process still running when the tests exit is killed.
export async function startProcess(bin, args, name = path.basename(bin)) {
  if (!existsSync(bin))
    throw new Error(`${bin} not found (set FENIX_BUILD_DIR)`)
  const proc = spawn(bin, args, {stdio: ["ignore", "pipe", "pipe"]})
  let stdout = ""
  let stderr = ""
  liveServers.add(proc)
  const exited = new Promise(resolve => {
    proc.once("exit", (code, signal) => {
      liveServers.delete(proc)
      resolve({code, signal})
    })
  })
  proc.stderr.setEncoding("utf8")
  proc.stderr.on("data", d => {
    stderr += d
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000)
  })
  proc.stdout.setEncoding("utf8")
  const listening = new Promise((resolve, reject) => {
    proc.stdout.on("data", d => {
      stdout += d
      if (stdout.length > 200_000) stdout = stdout.slice(-100_000)
      const m = stdout.match(/listening on (https?|wss?):\/\/127\.0\.0\.1:(\d+)/)
      if (m) resolve({secure: m[1] === "https" || m[1] === "wss",
        port: Number(m[2])})
    })
    proc.once("error", reject)
    exited.then(({code, signal}) => reject(new Error(
      `${name} exited (code ${code}, signal ${signal}) before ` +
      `listening; stderr:\n${stderr}`)))
  })
  let port, secure
  try {
    ;({port, secure} =
      await waitFor(listening, 10_000, `${name}'s listening line`))
  } catch (e) {
    proc.kill("SIGKILL")
    throw e
  }
  let stopped = null
  return {
    proc,
    port,
    exited,
    get stderr() { return stderr },
    get stdout() { return stdout },
    secure,  // the line said https (wss)
    httpUrl: `${secure ? "https" : "http"}://127.0.0.1:${port}`,
    /// ws://127.0.0.1:PORT/socket, the official client's endPoint.
    endPoint: `${secure ? "wss" : "ws"}://127.0.0.1:${port}/socket`,
    /// The WebSocket URL with query params (vsn=2.0.0 unless given; pass
    /// vsn: null to omit it).
    wsUrl(params = {}) {
      const p = {vsn: "2.0.0", ...params}
      const q = Object.entries(p)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) =>
          `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
        .join("&")
      return `${secure ? "wss" : "ws"}://127.0.0.1:${port}/socket/websocket` +
        (q ? "?" + q : "")
    },
    /// SIGTERM; resolves {code, signal}. SIGKILL if not gone within `ms`
    /// (then signal is "SIGKILL", which an exit-code check catches).
    stop(ms = 5000) {
      if (stopped) return stopped
      stopped = (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return exited
        proc.kill("SIGTERM")
        let timer
        const killed = new Promise(resolve => {
          timer = setTimeout(() => { proc.kill("SIGKILL"); resolve() }, ms)
        })
        await Promise.race([exited, killed])
        clearTimeout(timer)
        return exited
      })()
      return stopped
    },
  }
}

/// Starts fenix-test-server with `--port 0` (or `opts.port`) and `flags`,
/// resolves once it printed its listening line. Besides startProcess's
/// fields the server has stats() and broadcast(topic, event, payload).
export async function startServer(flags = [], opts = {}) {
  const args = ["--port", String(opts.port ?? 0), ...flags]
  const server = await startProcess(SERVER_BIN, args, "fenix-test-server")
  server.stats = async () => {
    const res = await fetch(`${server.httpUrl}/stats`)
    if (res.status !== 200) throw new Error(`/stats gave ${res.status}`)
    return res.json()
  }
  /// POST /broadcast?topic=T&event=E with a JSON body.
  server.broadcast = async (topic, event, payload) => {
    const q = `topic=${encodeURIComponent(topic)}` +
      `&event=${encodeURIComponent(event)}`
    const res = await fetch(`${server.httpUrl}/broadcast?${q}`, {
      method: "POST",
      headers: {"content-type": "application/json"},
      body: JSON.stringify(payload),
    })
    return res.status
  }
  return server
}

// ---------------------------------------------------------------------------
// official client

const openSockets = new Set()

/// A connected official phoenix Socket (WebSocket transport from `ws`).
/// Every socket made here is disconnected by closeAll().
export async function connectSocket(server, params = {}, opts = {}) {
  const socket = newSocket(server, params, opts)
  const opened = new Promise(resolve => socket.onOpen(resolve))
  socket.connect()
  await waitFor(opened, 3000, "the official socket to open")
  return socket
}

/// An official phoenix Socket that is not connected yet.
export function newSocket(server, params = {}, opts = {}) {
  const socket = new Socket(opts.endPoint ?? server.endPoint, {
    transport: WebSocket,
    params,
    rejoinAfterMs: () => 100,
    reconnectAfterMs: () => 50,
    ...opts,
  })
  openSockets.add(socket)
  return socket
}

/// Joins `chan`; resolves {status, response} on ok, error or timeout.
export function joinChannel(chan, ms = 3000) {
  return pushAndWait(chan.join(ms), ms)
}

/// Resolves {status, response} for a Push (the first reply only).
export function pushAndWait(push, ms = 3000) {
  const p = new Promise(resolve => {
    push.receive("ok", response => resolve({status: "ok", response}))
      .receive("error", response => resolve({status: "error", response}))
      .receive("timeout", () => resolve({status: "timeout"}))
  })
  return waitFor(p, ms + 1000, "a reply")
}

/// Resolves the next payload of `event` on `chan` (with ref and join_ref
/// as the client passes them).
export function nextEvent(chan, event, ms = 2000, pred = () => true) {
  const d = deferred()
  const ref = chan.on(event, (payload, r, joinRef) => {
    if (!pred(payload)) return
    chan.off(event, ref)
    d.resolve({payload, ref: r, joinRef})
  })
  return waitFor(d.promise, ms, `event "${event}" on ${chan.topic}`)
    .finally(() => chan.off(event, ref))
}

/// Records every decoded message the socket receives: {join_ref, ref,
/// topic, event, payload}.
export function recordMessages(socket) {
  const log = []
  const waiters = []
  socket.onMessage(msg => {
    log.push(msg)
    for (const w of [...waiters]) {
      if (w.pred(msg)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(msg)
      }
    }
  })
  return {
    log,
    /// The first message (already received or future) matching pred.
    wait(pred, ms = 2000, what = "a message", since = 0) {
      const found = log.slice(since).find(pred)
      if (found) return Promise.resolve(found)
      const d = deferred()
      const w = {pred, resolve: d.resolve}
      waiters.push(w)
      return waitFor(d.promise, ms, what).finally(() => {
        const i = waiters.indexOf(w)
        if (i >= 0) waiters.splice(i, 1)
      })
    },
  }
}

// ---------------------------------------------------------------------------
// raw clients

const openRaw = new Set()

/// A raw WebSocket client keeping every frame it receives.
/// Text frames are JSON-parsed (the raw text stays in `.texts`); binary
/// frames are Buffers.
export class RawClient {
  constructor(ws) {
    this.ws = ws
    this.frames = []     // every frame, in arrival order
    this.pending = []    // frames not taken yet
    this.texts = []      // raw text of every text frame
    this.waiters = []
    this.closed = deferred()
    this.closeInfo = null
    ws.on("message", (data, isBinary) => {
      let frame
      if (isBinary) {
        frame = Buffer.from(data)
      } else {
        const text = data.toString("utf8")
        this.texts.push(text)
        try {
          frame = JSON.parse(text)
        } catch {
          frame = {unparsable: text}
        }
      }
      this.frames.push(frame)
      this.pending.push(frame)
      this.wake()
    })
    ws.on("error", () => {})  // the close event reports the outcome
    ws.on("close", (code, reason) => {
      this.closeInfo = {code, reason: reason.toString()}
      this.closed.resolve(this.closeInfo)
      openRaw.delete(this)
      this.wake()
    })
    openRaw.add(this)
  }

  /// Connects to `server` with query `params` (vsn=2.0.0 unless given).
  /// `wsOpts` go to the ws constructor (headers, origin, ...).
  static async connect(server, params = {}, wsOpts = {}, protocols) {
    const ws = new WebSocket(server.wsUrl(params), protocols, wsOpts)
    const client = new RawClient(ws)
    const opened = new Promise((resolve, reject) => {
      ws.once("open", resolve)
      ws.once("unexpected-response", (req, res) =>
        reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)))
      ws.once("close", code => reject(new Error(`closed ${code} before open`)))
    })
    await waitFor(opened, 3000, "a raw WebSocket to open")
    return client
  }

  wake() {
    for (const w of [...this.waiters]) w()
  }

  /// Sends a frame: arrays/objects are JSON text, strings are text as is,
  /// Buffers are binary.
  send(frame, opts) {
    if (Buffer.isBuffer(frame) || frame instanceof Uint8Array)
      this.ws.send(frame, {binary: true, ...opts})
    else if (typeof frame === "string")
      this.ws.send(frame, opts)
    else
      this.ws.send(JSON.stringify(frame), opts)
  }

  /// Removes and returns the first pending frame matching pred (waiting for
  /// it up to `ms`).
  take(pred = () => true, ms = 2000, what = "a frame") {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.pending.findIndex(f => pred(f))
        if (i >= 0) {
          const [f] = this.pending.splice(i, 1)
          done()
          resolve(f)
          return true
        }
        if (this.closeInfo) {
          done()
          reject(new Error(`connection closed (${this.closeInfo.code}) ` +
            `while waiting for ${what}; frames: ${this.dump()}`))
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timeout after ${ms} ms waiting for ${what}; ` +
          `frames received: ${this.dump()}`))
      }, ms)
      const done = () => {
        clearTimeout(timer)
        const k = this.waiters.indexOf(check)
        if (k >= 0) this.waiters.splice(k, 1)
      }
      if (!check()) this.waiters.push(check)
    })
  }

  /// The reply (phx_reply) with this ref.
  reply(ref, ms = 2000) {
    return this.take(f => Array.isArray(f) && f[3] === "phx_reply" &&
      f[1] === ref, ms, `phx_reply with ref ${ref}`)
  }

  /// The arrival index of a frame taken earlier.
  indexOf(frame) {
    return this.frames.indexOf(frame)
  }

  /// Joins `topic` as join_ref = ref = `ref`, resolves the reply.
  async join(topic, ref, payload = {}) {
    this.send([ref, ref, topic, "phx_join", payload])
    return this.reply(ref)
  }

  /// Sends a heartbeat with `ref` and waits for its reply.
  async heartbeat(ref, ms = 2000) {
    this.send([null, ref, "phoenix", "heartbeat", {}])
    return this.reply(ref, ms)
  }

  waitClose(ms = 3000) {
    return waitFor(this.closed.promise, ms, "the WebSocket to close")
  }

  dump() {
    const s = this.frames.map(f => Buffer.isBuffer(f)
      ? `<binary ${[...f].join(",")}>` : JSON.stringify(f)).join(" | ")
    return s.length > 2000 ? s.slice(0, 2000) + "..." : s
  }

  close() {
    try { this.ws.close() } catch {}
  }

  terminate() {
    try { this.ws.terminate() } catch {}
  }
}

/// Tries a WebSocket upgrade; resolves {status} for an HTTP refusal or
/// {open: true, protocol} when it opened (the socket is closed again).
export function tryUpgrade(url, wsOpts = {}, protocols) {
  return waitFor(new Promise(resolve => {
    const ws = new WebSocket(url, protocols, wsOpts)
    ws.on("error", err => resolve({error: err.message}))
    ws.once("unexpected-response", (req, res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", d => { body += d })
      res.on("end", () => resolve({status: res.statusCode, body}))
      res.on("error", () => resolve({status: res.statusCode, body}))
      req.destroy()
    })
    ws.once("open", () => {
      resolve({open: true, protocol: ws.protocol})
      ws.close()
    })
  }), 3000, `an upgrade of ${url}`)
}

/// Disconnects every official socket and closes every raw client made
/// through these helpers.
export async function closeAll() {
  for (const s of openSockets) {
    try { s.disconnect() } catch {}
  }
  openSockets.clear()
  const raws = [...openRaw]
  for (const r of raws) r.terminate()
  openRaw.clear()
}

/// Asserts that nothing matching `pred` arrives in the next `ms`
/// (a bounded negative check, not a synchronisation).
export function expectNone(recorder, pred, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(), ms)
    recorder.wait(pred, ms + 1000, "", recorder.log.length).then(m => {
      clearTimeout(timer)
      reject(new Error(`unexpected message: ${JSON.stringify(m)}`))
    }, () => {})
  })
}
