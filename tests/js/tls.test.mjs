// TLS on the listener (https, wss): fenix-chat with --tls-cert/--tls-key,
// a test CA and certificates generated here with the openssl CLI (in a temp
// dir; no key is committed). The official phoenix client over wss and over
// long poll on https, hostile TLS clients, client-certificate verification,
// and headless Chromium loading the chat page over https.

import {test, before, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import {execFileSync} from "node:child_process"
import {createHash, X509Certificate} from "node:crypto"
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync}
  from "node:fs"
import https from "node:https"
import net from "node:net"
import os from "node:os"
import path from "node:path"
import tls from "node:tls"
import {LongPoll} from "phoenix"
import {startApp, runApp, tempDb} from "./app_helpers.mjs"
import {
  WebSocket, newSocket, joinChannel, pushAndWait, recordMessages, waitFor,
  closeAll,
} from "./helpers.mjs"

const CHROMIUM = "/usr/bin/chromium"
let dir, ca, files, app

// -- the test CA ------------------------------------------------------------

function openssl(...args) {
  execFileSync("openssl", args, {cwd: dir, stdio: ["ignore", "ignore", "pipe"]})
}

/// A key and a certificate for `cn`, signed by the test CA.
function issue(name, cn, ext) {
  writeFileSync(path.join(dir, `${name}.ext`), ext)
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`,
    "-subj", `/CN=${cn}`)
  openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem",
    "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
    "-out", `${name}.pem`, "-extfile", `${name}.ext`)
}

function makeCa() {
  dir = mkdtempSync(path.join(os.tmpdir(), "fenix-tls-"))
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
    "-out", "ca.pem", "-days", "2", "-subj", "/CN=fenix test CA")
  issue("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\n" +
    "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
  issue("client", "alice-device", "extendedKeyUsage=clientAuth\n" +
    "basicConstraints=CA:FALSE\n")
  const f = name => path.join(dir, name)
  files = {ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key"),
    clientCert: f("client.pem"), clientKey: f("client.key")}
  ca = readFileSync(files.ca)
}

const tlsArgs = () => ["--tls-cert", files.cert, "--tls-key", files.key]

// -- clients that trust the test CA -----------------------------------------

/// A `ws` WebSocket trusting the test CA, as the phoenix transport.
class CaWebSocket extends WebSocket {
  constructor(url, protocols) { super(url, protocols, {ca}) }
}

/// An HTTPS request trusting the test CA: {status, body, headers}.
function request(url, {method = "GET", headers = {}, body, signal,
  tlsOpts = {}} = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {method, headers, ca, signal, ...tlsOpts},
      res => {
        let data = ""
        res.setEncoding("utf8")
        res.on("data", d => { data += d })
        res.on("end", () => resolve({status: res.statusCode, body: data,
          headers: res.headers}))
        res.on("error", reject)
      })
    req.setTimeout(5000, () => req.destroy(new Error("request timed out")))
    req.on("error", reject)
    req.end(body)
  })
}

/// Enough of fetch for phoenix's LongPoll (Ajax.fetchRequest), over https
/// with the test CA.
async function caFetch(url, opts = {}) {
  const r = await request(url, {method: opts.method, headers: opts.headers,
    body: opts.body, signal: opts.signal})
  return {status: r.status, text: async () => r.body}
}

async function session(srv, username) {
  const r = await request(`${srv.httpUrl}/api/session`, {method: "POST",
    headers: {"content-type": "application/json"},
    body: JSON.stringify({username})})
  assert.equal(r.status, 200, r.body)
  return JSON.parse(r.body).token
}

/// Signs in, connects the official client, joins room:lobby.
async function member(srv, user, opts = {}) {
  const token = await session(srv, user)
  const socket = newSocket(srv, {token}, {transport: CaWebSocket, ...opts})
  const rec = recordMessages(socket)
  const opened = new Promise(resolve => socket.onOpen(resolve))
  socket.connect()
  await waitFor(opened, 5000, `${user}'s socket to open`)
  const chan = socket.channel("room:lobby")
  const reply = await joinChannel(chan, 5000)
  assert.equal(reply.status, "ok", JSON.stringify(reply))
  return {socket, rec, chan}
}

/// Resolves how a raw TCP connection that sent `bytes` ended: "closed" once
/// the server closed it (bounded by ms).
function rawExchange(port, bytes, ms = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => { if (bytes) s.write(bytes) })
    let got = ""
    const timer = setTimeout(() => {
      s.destroy(); reject(new Error("the server did not close"))
    }, ms)
    s.on("data", d => { got += d.toString("latin1") })
    s.on("error", () => {})
    s.on("close", () => { clearTimeout(timer); resolve(got) })
  })
}

before(async () => {
  makeCa()
  app = await startApp("chat", {db: tempDb("tls"), args: tlsArgs()})
})
afterEach(async () => { await closeAll() })
after(async () => {
  await closeAll()
  if (app) {
    const exit = await app.stop()
    assert.deepEqual(exit, {code: 0, signal: null}, app.stderr)
  }
  if (dir) rmSync(dir, {recursive: true, force: true})
})

// -- tests --------------------------------------------------------------------

test("with --tls-cert/--tls-key the ready line says https, /health over TLS",
  async () => {
    assert.ok(app.secure, app.stdout)
    assert.match(app.stdout, /^listening on https:\/\/127\.0\.0\.1:\d+\n$/)
    const r = await request(`${app.httpUrl}/health`)
    assert.equal(r.status, 200)
    assert.deepEqual(JSON.parse(r.body), {status: "ok"})
  })

test("chat over https and wss: sign in, join, message both ways",
  async () => {
    const a = await member(app, "alice")
    const b = await member(app, "bob")
    const got = b.rec.wait(m => m.event === "new_msg", 3000, "bob's new_msg")
    const r = await pushAndWait(a.chan.push("new_msg", {body: "over tls"}))
    assert.equal(r.status, "ok", JSON.stringify(r))
    const m = await got
    assert.equal(m.payload.user, "alice")
    assert.equal(m.payload.body, "over tls")
  })

test("an https Origin passes the origin check; another origin is refused",
  async () => {
    const token = await session(app, "carol")
    const url = `wss://127.0.0.1:${app.port}/socket/websocket?vsn=2.0.0&` +
      `token=${token}`
    const open = origin => new Promise(resolve => {
      const ws = new WebSocket(url, {ca, origin})
      ws.on("open", () => { ws.close(); resolve("open") })
      ws.on("unexpected-response", (_, res) => resolve(res.statusCode))
      ws.on("error", e => resolve(e.message))
    })
    assert.equal(await open(`https://127.0.0.1:${app.port}`), "open")
    assert.equal(await open(`https://evil.example`), 403)
  })

test("long poll over https with the official client", async () => {
  const saved = globalThis.fetch
  globalThis.fetch = caFetch
  try {
    const a = await member(app, "lp", {transport: LongPoll})
    const b = await member(app, "ws-peer")
    const got = a.rec.wait(m => m.event === "new_msg", 5000, "lp's new_msg")
    const r = await pushAndWait(b.chan.push("new_msg", {body: "to lp"}))
    assert.equal(r.status, "ok")
    assert.equal((await got).payload.body, "to lp")
    assert.equal(a.socket.transport, LongPoll, "stayed on long poll")
  } finally {
    globalThis.fetch = saved
  }
})

test("plain HTTP, garbage and a stalled handshake on the TLS port are " +
  "closed without hurting others", async () => {
    const stalled = net.connect(app.port, "127.0.0.1")  // sends nothing
    stalled.on("error", () => {})
    const answer = await rawExchange(app.port,
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert.ok(!answer.includes("200"), `no HTTP answer in clear: ${answer}`)
    await rawExchange(app.port, Buffer.alloc(4096, 0x16))
    await rawExchange(app.port, "\x16\x03\x01\xff\xff" + "x".repeat(100))
    // A TLS 1.1-only client is refused (TLS 1.2+).
    const old = await new Promise(resolve => {
      const s = tls.connect({port: app.port, host: "127.0.0.1", ca,
        minVersion: "TLSv1", maxVersion: "TLSv1.1"}, () => resolve("ok"))
      s.on("error", e => resolve(e.code ?? e.message))
    })
    assert.notEqual(old, "ok")
    const m = await member(app, "after-garbage")
    assert.ok(m.socket.isConnected())
    const r = await request(`${app.httpUrl}/health`)
    assert.equal(r.status, 200)
    stalled.destroy()
  })

test("a missing or unreadable --tls-cert exits non-zero with one line",
  async () => {
    for (const args of [
      ["--tls-cert", path.join(dir, "absent.pem"), "--tls-key", files.key],
      ["--tls-cert", files.cert, "--tls-key", files.ca],  // not a key
      ["--tls-cert", files.cert],
    ]) {
      const r = await runApp("chat", ["--port", "0", "--db", ":memory:",
        ...args])
      assert.notEqual(r.code, 0, r.stderr)
      const lines = r.stderr.trim().split("\n")
      assert.equal(lines.length, 1, r.stderr)
      assert.match(lines[0], /^fenix-chat: .*(tls|TLS)/, r.stderr)
      assert.equal(r.stdout, "")
    }
  })

test("--tls-client-ca requires a client certificate from the CA",
  async () => {
    const srv = await startApp("chat", {db: ":memory:", args: [...tlsArgs(),
      "--tls-client-ca", files.ca]})
    try {
      const url = `${srv.httpUrl}/health`
      await assert.rejects(request(url), "a client without a certificate")
      const ok = await request(url, {tlsOpts: {
        cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey)}})
      assert.equal(ok.status, 200)
      // A certificate from another CA (the server's own key pair is signed
      // by the CA; a self-signed one is not).
      openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "rogue.key",
        "-out", "rogue.pem", "-days", "1", "-subj", "/CN=rogue")
      await assert.rejects(request(url, {tlsOpts: {
        cert: readFileSync(path.join(dir, "rogue.pem")),
        key: readFileSync(path.join(dir, "rogue.key"))}}))
    } finally {
      assert.deepEqual(await srv.stop(), {code: 0, signal: null}, srv.stderr)
    }
  })

// -- headless Chromium --------------------------------------------------------

// Chromium trusts the server's key through --ignore-certificate-errors-spki-
// list (a pin on the exact public key, honoured with a user-data dir, which
// playwright always passes): headless Chromium has no NSS database here to
// add the test CA to, and certutil is not installed. Every other
// certificate error stays fatal.
function spkiPin(pem) {
  const der = new X509Certificate(readFileSync(pem)).publicKey
    .export({type: "spki", format: "der"})
  return createHash("sha256").update(der).digest("base64")
}

test("headless Chromium loads the chat page over https and chats over wss",
  {skip: existsSync(CHROMIUM) ? false : "no chromium", timeout: 60_000},
  async () => {
    const {chromium} = await import("playwright-core")
    const browser = await chromium.launch({executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking",
        `--ignore-certificate-errors-spki-list=${spkiPin(files.cert)}`],
      timeout: 30_000})
    try {
      const context = await browser.newContext()
      context.setDefaultTimeout(10_000)
      const page = await context.newPage()
      const errors = []
      page.on("pageerror", e => errors.push(e.message))
      const wsUrls = []
      page.on("websocket", ws => wsUrls.push(ws.url()))
      await page.goto(app.httpUrl)
      assert.equal(await page.evaluate(() => location.protocol), "https:")
      await page.fill("#username", "browser")
      await page.click("#login")
      await page.waitForFunction(() =>
        document.querySelector("#status").textContent === "connected")
      await page.fill("#message", "from chromium")
      await page.click("#send")
      await page.waitForFunction(() =>
        [...document.querySelectorAll("#messages li .body")]
          .some(e => e.textContent === "from chromium"))
      assert.ok(wsUrls.some(u => u.startsWith("wss://")), wsUrls.join())
      assert.deepEqual(errors, [])
    } finally {
      await browser.close()
    }
  })
