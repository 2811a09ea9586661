// TLS against plain for fenix-chat: connect + join rate and RSS per idle
// connection, ws:// vs wss:// (raw `ws` clients, V2 JSON, one room each),
// then fan-out: --subscribers of them join one room and one client sends
// --messages chat messages (each acknowledged before the next); the
// server's CPU time per delivery is taken once every subscriber has every
// message. The client runs on the same machine and pays its own
// handshakes and decryption, so the rates are lower bounds of what the
// server does; the server's CPU time is the figure to compare.
//
//   node bench/tls_compare.mjs [--clients 2000] [--concurrency 50]
//        [--subscribers 500] [--messages 200]
//     (FENIX_BUILD_DIR defaults to ./build; needs tests/js/node_modules)

import {execFileSync, spawn} from "node:child_process"
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from "node:fs"
import {createRequire} from "node:module"
import os from "node:os"
import path from "node:path"

const require = createRequire(path.resolve("tests/js/package.json"))
const WebSocket = require("ws")
const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : d
}
const CLIENTS = arg("clients", 2000)
const CONCURRENCY = arg("concurrency", 50)
const SUBSCRIBERS = arg("subscribers", 500)
const MESSAGES = arg("messages", 200)
const BIN = path.resolve(process.env.FENIX_BUILD_DIR ?? "build",
  "bin", "fenix-chat")

function makeCert(dir) {
  const run = (...a) => execFileSync("openssl", a, {cwd: dir, stdio: "ignore"})
  writeFileSync(path.join(dir, "ext"), "subjectAltName=IP:127.0.0.1\n")
  run("req", "-x509", "-newkey", "ec", "-pkeyopt",
    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
    "-out", "ca.pem", "-days", "1", "-subj", "/CN=bench CA")
  run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-keyout", "s.key", "-out", "s.csr", "-subj", "/CN=127.0.0.1")
  run("x509", "-req", "-in", "s.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
    "-CAcreateserial", "-days", "1", "-out", "s.pem", "-extfile", "ext")
}

function startChat(args) {
  const proc = spawn(BIN, ["--port", "0", "--db", ":memory:", "--secret",
    "bench", "--log-level", "warning", ...args], {stdio: ["ignore", "pipe",
    "inherit"]})
  return new Promise((resolve, reject) => {
    let out = ""
    const timer = setTimeout(() => reject(new Error("no ready line")), 10000)
    proc.stdout.on("data", d => {
      out += d
      const m = out.match(/listening on (https?):\/\/127\.0\.0\.1:(\d+)/)
      if (m) {
        clearTimeout(timer)
        resolve({proc, scheme: m[1], port: Number(m[2])})
      }
    })
  })
}

// The process's user + system CPU time in ms (/proc/PID/stat, clock ticks
// of 10 ms).
const cpuMs = pid => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
  return (Number(f[11]) + Number(f[12])) * 10
}

const rssKiB = pid => Number(readFileSync(`/proc/${pid}/status`, "utf8")
  .match(/VmRSS:\s+(\d+)/)[1])

async function token(srv, ca, username) {
  const {default: https} = await import("node:https")
  const {default: http} = await import("node:http")
  const lib = srv.scheme === "https" ? https : http
  return new Promise((resolve, reject) => {
    const req = lib.request({host: "127.0.0.1", port: srv.port,
      path: "/api/session", method: "POST", ca,
      headers: {"content-type": "application/json"}}, res => {
      let b = ""
      res.on("data", d => { b += d })
      res.on("end", () => resolve(JSON.parse(b).token))
    })
    req.on("error", reject)
    req.end(JSON.stringify({username}))
  })
}

// One client: connect, join its own room (no presence fan-out between the
// clients), wait for the ok reply.
function connectJoin(url, ca, i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {ca, perMessageDeflate: false})
    const timer = setTimeout(() => reject(new Error("join timeout")), 20000)
    ws.on("open", () => ws.send(JSON.stringify(
      ["1", "1", `room:bench-${i}`, "phx_join", {}])))
    ws.on("message", d => {
      const m = JSON.parse(d)
      if (m[3] === "phx_reply" && m[1] === "1") {
        clearTimeout(timer)
        if (m[4].status === "ok") resolve(ws)
        else reject(new Error(JSON.stringify(m)))
      }
    })
    ws.on("error", e => { clearTimeout(timer); reject(e) })
  })
}

// Fan-out: SUBSCRIBERS sockets in one room, MESSAGES messages from one of
// them; server CPU per delivery (the chat app stores each message once).
async function fanout(srv, ca, url) {
  const room = "room:fanout"
  const subs = []
  let expected = 0
  let done
  const all = new Promise(r => { done = r })
  const join = ws => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("join timeout")), 20000)
    ws.on("message", d => {
      const m = JSON.parse(d)
      if (m[3] === "phx_reply" && m[1] === "j") {
        clearTimeout(timer)
        resolve()
      } else if (m[3] === "new_msg" && ++ws.got === MESSAGES &&
                 ++expected === SUBSCRIBERS) {
        done()
      }
    })
    ws.send(JSON.stringify(["j", "j", room, "phx_join", {}]))
  })
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const ws = new WebSocket(url, {ca, perMessageDeflate: false})
    ws.got = 0
    await new Promise((resolve, reject) => {
      ws.once("open", resolve)
      ws.once("error", reject)
    })
    await join(ws)
    subs.push(ws)
  }
  const sender = subs[0]
  const cpu0 = cpuMs(srv.proc.pid)
  const t0 = process.hrtime.bigint()
  const body = "x".repeat(100)
  for (let k = 0; k < MESSAGES; k++) {
    const ref = `m${k}`
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no reply")), 20000)
      const on = d => {
        const m = JSON.parse(d)
        if (m[3] === "phx_reply" && m[1] === ref) {
          clearTimeout(timer)
          sender.off("message", on)
          resolve()
        }
      }
      sender.on("message", on)
      sender.send(JSON.stringify(["j", ref, room, "new_msg", {body}]))
    })
  }
  await Promise.race([all, new Promise((_, reject) => setTimeout(
    () => reject(new Error("fan-out timeout")), 120000).unref())])
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  const deliveries = SUBSCRIBERS * MESSAGES
  const us = (cpuMs(srv.proc.pid) - cpu0) * 1000 / deliveries
  for (const ws of subs) ws.terminate()
  return {cpuPerDelivery: us, deliveriesPerSec: deliveries / secs}
}

async function measure(srv, ca) {
  const t = await token(srv, ca, "bench")
  const url = `${srv.scheme === "https" ? "wss" : "ws"}://127.0.0.1:` +
    `${srv.port}/socket/websocket?vsn=2.0.0&token=${t}`
  const rss0 = rssKiB(srv.proc.pid)
  const cpu0 = cpuMs(srv.proc.pid)
  const sockets = []
  let next = 0
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({length: CONCURRENCY}, async () => {
    while (next < CLIENTS) {
      sockets.push(await connectJoin(url, ca, next++))
    }
  }))
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = (cpuMs(srv.proc.pid) - cpu0) / CLIENTS
  await new Promise(r => setTimeout(r, 1000))  // let the server settle
  const rss1 = rssKiB(srv.proc.pid)
  for (const ws of sockets) ws.terminate()
  const fan = await fanout(srv, ca, url)
  return {rate: CLIENTS / secs, cpu, rssPerConn: (rss1 - rss0) / CLIENTS,
    ...fan}
}

const dir = mkdtempSync(path.join(os.tmpdir(), "fenix-tls-bench-"))
try {
  makeCert(dir)
  const ca = readFileSync(path.join(dir, "ca.pem"))
  const results = {}
  for (const [name, args] of [["plain", []], ["tls", ["--tls-cert",
    path.join(dir, "s.pem"), "--tls-key", path.join(dir, "s.key")]]]) {
    const srv = await startChat(args)
    results[name] = await measure(srv, ca)
    srv.proc.kill("SIGTERM")
    await new Promise(r => srv.proc.once("exit", r))
  }
  console.log(`clients ${CLIENTS}, concurrency ${CONCURRENCY}`)
  for (const [name, r] of Object.entries(results))
    console.log(`${name}: connect+join ${r.rate.toFixed(0)} /s, server CPU ` +
      `${r.cpu.toFixed(2)} ms per connect+join, ` +
      `RSS ${r.rssPerConn.toFixed(2)} KiB per idle joined connection; ` +
      `fan-out ${SUBSCRIBERS} x ${MESSAGES}: ${r.cpuPerDelivery.toFixed(2)} ` +
      `µs server CPU per delivery, ${r.deliveriesPerSec.toFixed(0)} ` +
      `deliveries/s`)
  console.log(`tls/plain rate ${(results.tls.rate / results.plain.rate)
    .toFixed(2)}x, CPU per delivery ${(results.tls.cpuPerDelivery /
    results.plain.cpuPerDelivery).toFixed(2)}x`)
} finally {
  rmSync(dir, {recursive: true, force: true})
}
