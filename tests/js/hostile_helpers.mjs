// Helpers for the hostile-client tests (hardening.test.mjs): raw HTTP over
// node:net (requests the fetch API would refuse to send), raw WebSocket
// frames over an upgraded TCP socket, and the spawned server's own
// resources (/proc/PID: RSS, CPU time) and stderr lines.
//
//   const c = await RawHttp.connect(app.port)
//   await c.send("GET /health HTTP/1.1\r\nHost: x\r\n" + pad + "\r\n")
//   const r = await c.outcome()   // {status, head, closed}
//   const ws = await rawWebSocket(server.port, "vsn=2.0.0&user=a")
//   ws.sendText(JSON.stringify([...]))
//   const lines = stderrLines(app); ...; lines.count()

import net from "node:net"
import {readFileSync} from "node:fs"
import {execFileSync} from "node:child_process"
import assert from "node:assert/strict"
import {
  waitFor, deferred, closeAll, startServer, joinChannel,
} from "./helpers.mjs"
import {startApp, connectUser} from "./app_helpers.mjs"

// ---------------------------------------------------------------------------
// raw HTTP

const openConns = new Set()

/// A TCP connection to 127.0.0.1:PORT that records every byte the server
/// sends and when the connection ended (FIN, RST or error).
export class RawHttp {
  constructor(sock) {
    this.sock = sock
    this.buf = Buffer.alloc(0)
    this.ended = deferred()
    this.isEnded = false
    this.error = null
    this.written = 0
    sock.on("data", d => { this.buf = Buffer.concat([this.buf, d]) })
    const end = () => {
      this.isEnded = true
      this.ended.resolve()
    }
    sock.on("end", end)
    sock.on("close", () => { end(); openConns.delete(this) })
    sock.on("error", e => { this.error = e; end() })
    openConns.add(this)
  }

  static async connect(port, ms = 3000) {
    const sock = net.connect(port, "127.0.0.1")
    const c = new RawHttp(sock)
    await waitFor(new Promise((resolve, reject) => {
      sock.once("connect", resolve)
      sock.once("error", reject)
    }), ms, `a TCP connection to port ${port}`)
    return c
  }

  /// Writes `data` (string: latin1; Buffer as is) in slices of `slice`
  /// bytes, waiting for 'drain' between them; stops early, without
  /// failing, once the server ended the connection. Resolves the number of
  /// bytes handed to the socket.
  async send(data, {slice = 64 * 1024, ms = 20_000} = {}) {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data, "latin1")
    const deadline = Date.now() + ms
    for (let p = 0; p < bytes.length && !this.isEnded; p += slice) {
      const part = bytes.subarray(p, p + slice)
      let ok
      try {
        ok = this.sock.write(part)
      } catch {
        break
      }
      this.written += part.length
      if (!ok) {
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`sending stalled for ${ms} ms`)
        let onDrain
        const drained = new Promise(resolve => {
          onDrain = resolve
          this.sock.once("drain", onDrain)
          this.ended.promise.then(resolve)
        })
        await waitFor(drained, left, "the socket to drain").catch(() => {
          throw new Error("the server stopped reading after " +
            `${this.written} bytes and kept the connection open`)
        }).finally(() => this.sock.off("drain", onDrain))
      }
    }
    return this.written
  }

  /// Writes generated slices (`next()` returns a Buffer/string, or null at
  /// the end) until the generator ends or the server ended the
  /// connection.
  async stream(next, {ms = 20_000} = {}) {
    const deadline = Date.now() + ms
    for (let part = next(); part !== null && !this.isEnded; part = next()) {
      if (Date.now() > deadline) throw new Error(`streaming took over ${ms} ms`)
      await this.send(part, {ms: Math.max(1, deadline - Date.now())})
    }
    return this.written
  }

  /// The response head received so far: {status, head, headers, body}
  /// (body: the bytes after the head), or null before "\r\n\r\n".
  response() {
    const end = this.buf.indexOf("\r\n\r\n")
    if (end < 0) return null
    const head = this.buf.toString("latin1", 0, end)
    const m = head.match(/^HTTP\/1\.[01] (\d{3})/)
    const headers = {}
    for (const line of head.split("\r\n").slice(1)) {
      const i = line.indexOf(":")
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] =
        line.slice(i + 1).trim()
    }
    return {status: m ? Number(m[1]) : null, head, headers,
      body: this.buf.subarray(end + 4)}
  }

  /// Waits (bounded) for a response head or the end of the connection,
  /// then (bounded) for the end; resolves {status (null: none), head,
  /// closed}.
  async outcome(ms = 5000) {
    await waitFor(() => this.response() || this.isEnded, ms,
      "a response or the end of the connection").catch(() => {})
    const r = this.response()
    let closed = this.isEnded
    if (!closed) {
      await waitFor(this.ended.promise, ms, "the connection to end")
        .catch(() => {})
      closed = this.isEnded
    }
    return {status: r?.status ?? null, head: r?.head ?? null, closed,
      bytes: this.buf.length}
  }

  destroy() {
    try { this.sock.destroy() } catch {}
  }
}

/// Closes every RawHttp connection made here.
export function destroyAllRaw() {
  for (const c of [...openConns]) c.destroy()
  openConns.clear()
}

/// A request head: `METHOD path HTTP/1.1`, Host, the given header lines
/// (strings "Name: value"), and the blank line.
export function requestHead(method, path, headers = []) {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    headers.map(h => h + "\r\n").join("") + "\r\n"
}

/// One complete request with a Content-Length body (raw bytes, so a body
/// the server refuses part way cannot break the client as fetch would).
export function requestWithBody(method, path, body,
  contentType = "application/json") {
  const b = Buffer.from(body)
  return Buffer.concat([Buffer.from(requestHead(method, path, [
    `Content-Type: ${contentType}`, `Content-Length: ${b.length}`,
    "Connection: close"]), "latin1"), b])
}

/// Sends `request` on a new connection; resolves its outcome()
/// ({status, head, closed, bytes}).
export async function rawExchange(port, request, ms = 5000) {
  const c = await RawHttp.connect(port)
  try {
    await c.send(request)
    return await c.outcome(ms)
  } finally {
    c.destroy()
  }
}

// ---------------------------------------------------------------------------
// raw WebSocket (RFC 6455 frames over an upgraded RawHttp)

/// A masked client frame (opcode `op`).
export function wsFrame(op, payload, {fin = true, masked = true} = {}) {
  const data = Buffer.from(payload)
  const len = data.length
  const ext = len < 126 ? 0 : len <= 0xffff ? 2 : 8
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0))
  head[0] = (fin ? 0x80 : 0) | op
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127)
  if (ext === 2) head.writeUInt16BE(len, 2)
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2)
  if (!masked) return Buffer.concat([head, data])
  const mask = [0x37, 0xfa, 0x21, 0x3d]
  head.set(mask, 2 + ext)
  return Buffer.concat([head, Buffer.from(data.map((b, i) => b ^ mask[i & 3]))])
}

/// The server's (unmasked) frames in `buf`: [{fin, op, payload}].
export function parseServerFrames(buf) {
  const out = []
  let p = 0
  while (p + 2 <= buf.length) {
    let len = buf[p + 1] & 0x7f
    let h = 2
    if (len === 126) {
      if (p + 4 > buf.length) break
      len = buf.readUInt16BE(p + 2); h = 4
    } else if (len === 127) {
      if (p + 10 > buf.length) break
      len = Number(buf.readBigUInt64BE(p + 2)); h = 10
    }
    if (p + h + len > buf.length) break
    out.push({fin: (buf[p] & 0x80) !== 0, op: buf[p] & 0x0f,
      payload: buf.subarray(p + h, p + h + len)})
    p += h + len
  }
  return out
}

/// A WebSocket over raw TCP: upgrades /socket/websocket?QUERY and exposes
/// frames() (server frames after the 101), texts(), closeCode() (null
/// until a close frame came) and sendText(s).
export async function rawWebSocket(port, query = "vsn=2.0.0", ms = 3000) {
  const c = await RawHttp.connect(port)
  await c.send(requestHead("GET", `/socket/websocket?${query}`, [
    "Upgrade: websocket", "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13"]))
  await waitFor(() => c.response() || c.isEnded, ms, "the 101 response")
  const r = c.response()
  if (r?.status !== 101)
    throw new Error(`upgrade answered ${r?.status ?? "nothing"}: ${r?.head}`)
  const start = c.buf.indexOf("\r\n\r\n") + 4
  const frames = () => parseServerFrames(c.buf.subarray(start))
  return {
    conn: c,
    frames,
    texts: () => frames().filter(f => f.op === 1).map(f => String(f.payload)),
    closeCode() {
      const f = frames().find(f => f.op === 8)
      if (!f) return null
      return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005
    },
    sendText(s) { return c.send(wsFrame(1, s)) },
    destroy() { c.destroy() },
  }
}

// ---------------------------------------------------------------------------
// the spawned server's resources

/// VmRSS of process `pid` in bytes; null once the process is gone (or a
/// zombie).
export function rssBytes(pid) {
  let status
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8")
  } catch {
    return null
  }
  const m = status.match(/^VmRSS:\s+(\d+) kB/m)
  return m ? Number(m[1]) * 1024 : null
}

let clkTck = null
/// utime + stime of process `pid` in seconds.
export function cpuSeconds(pid) {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim())
    } catch {}
    if (!(clkTck > 0)) clkTck = 100
  }
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(f[11]) + Number(f[12])) / clkTck
}

/// True while the spawned server's process runs.
export function alive(server) {
  return server.proc.exitCode === null && server.proc.signalCode === null
}

/// Counts the lines the server writes to stderr from now on: count() is
/// the number of complete lines, sample(n) the first n of them.
export function stderrLines(server) {
  let count = 0
  let head = ""
  const on = d => {
    const s = String(d)
    for (const ch of s) if (ch === "\n") count++
    if (head.length < 4096) head += s.slice(0, 4096 - head.length)
  }
  server.proc.stderr.on("data", on)
  return {
    count: () => count,
    sample: (n = 5) => head.split("\n").filter(l => l).slice(0, n).join("\n"),
    stop: () => server.proc.stderr.off("data", on),
  }
}

/// Resolves after `ms` (a fixed measurement window, not a synchronisation).
export function measureFor(ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

// -- fixtures shared by the hostile-client test files ------------------------

/// Runs `fn(app)` against a fresh fenix-chat (extra `args`), stopping it
/// after.
export async function withChat(args, fn) {
  const app = await startApp("chat", {args})
  try {
    return await fn(app)
  } finally {
    await closeAll()
    destroyAllRaw()
    await app.stop()
  }
}

export async function withTestServer(args, fn) {
  const server = await startServer(args)
  try {
    return await fn(server)
  } finally {
    await closeAll()
    destroyAllRaw()
    await server.stop()
  }
}

/// Fails with the exit status and stderr tail if the server died.
export function assertAlive(server) {
  assert.ok(alive(server), `the server died (code ${server.proc.exitCode}, ` +
    `signal ${server.proc.signalCode}); stderr tail:\n` +
    server.stderr.slice(-1000))
}

/// An official phoenix client of `user` joined to room:lobby.
export async function lobbyMember(app, user) {
  const {socket} = await connectUser(app, user)
  const chan = socket.channel("room:lobby")
  const reply = await joinChannel(chan)
  assert.equal(reply.status, "ok", JSON.stringify(reply))
  return {user, socket, chan}
}
