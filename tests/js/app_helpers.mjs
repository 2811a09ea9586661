// Helpers for the tests of the bundled apps (docs/apps.md): start
// build/bin/fenix-chat or fenix-timer, get session tokens, mint JWTs, and
// connect the official phoenix client with a token.
//
//   const app = await startApp("chat", {db: tempDb("chat")})
//   const {socket} = await connectUser(app, "alice")
//   const chan = socket.channel("room:lobby")
//   await joinChannel(chan)
//   ...
//   await closeAll(); assert.equal((await app.stop()).code, 0)
//
// The app object has the same shape as helpers.mjs's server object
// (endPoint, wsUrl, httpUrl), so RawClient.connect(app, {token}) works.

import {spawn} from "node:child_process"
import {createHmac} from "node:crypto"
import {existsSync, mkdtempSync, rmSync} from "node:fs"
import os from "node:os"
import path from "node:path"
import {test, before, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  BUILD_DIR, waitFor, newSocket, RawClient, tryUpgrade, pollUntil,
  startProcess, closeAll,
} from "./helpers.mjs"

export const SECRET = "test-secret"

export function appBin(app) {
  return path.join(BUILD_DIR, "bin", `fenix-${app}`)
}

// Apps still running when the test process exits are killed.
const liveApps = new Set()
process.on("exit", () => {
  for (const proc of liveApps) {
    try { proc.kill("SIGKILL") } catch {}
  }
})

// Temp dirs removed at exit.
const tempDirs = []
process.on("exit", () => {
  for (const d of tempDirs) {
    try { rmSync(d, {recursive: true, force: true}) } catch {}
  }
})

/// A fresh path for an SQLite file (in a temp dir removed at exit).
export function tempDb(name = "app") {
  const dir = mkdtempSync(path.join(os.tmpdir(), `fenix-${name}-`))
  tempDirs.push(dir)
  return path.join(dir, `${name}.db`)
}

/// Runs `fenix-APP args` to completion (for --help and bad flags);
/// resolves {code, signal, stdout, stderr}, bounded by `ms`.
export function runApp(app, args, ms = 5000) {
  const bin = appBin(app)
  if (!existsSync(bin)) throw new Error(`${bin} not found (set FENIX_BUILD_DIR)`)
  const proc = spawn(bin, args, {stdio: ["ignore", "pipe", "pipe"]})
  liveApps.add(proc)
  let stdout = ""
  let stderr = ""
  proc.stdout.setEncoding("utf8").on("data", d => { stdout += d })
  proc.stderr.setEncoding("utf8").on("data", d => { stderr += d })
  const done = new Promise(resolve => {
    proc.once("close", (code, signal) => {
      liveApps.delete(proc)
      resolve({code, signal, stdout, stderr})
    })
  })
  return waitFor(done, ms, `fenix-${app} ${args.join(" ")} to exit`)
    .catch(e => { proc.kill("SIGKILL"); throw e })
}

/// Starts fenix-APP with --port 0 --db DB --secret SECRET (plus `args`);
/// resolves once it printed `listening on http://127.0.0.1:PORT`.
/// opts: {db (default :memory:), secret, args}. The result is a
/// startProcess server object with `app` set.
export async function startApp(app, opts = {}) {
  const args = ["--port", "0", "--db", opts.db ?? ":memory:",
    "--secret", opts.secret ?? SECRET, ...(opts.args ?? [])]
  const server = await startProcess(appBin(app), args, `fenix-${app}`)
  server.app = app
  return server
}

/// Registers the hooks of an app's test file: fenix-APP starts before the
/// tests (on a fresh temp database), clients are closed after each test,
/// and the app must exit with code 0 when stopped. `started` gets the app.
///
///   let app
///   useApp("chat", started => { app = started })
export function useApp(name, started) {
  let app
  before(async () => {
    app = await startApp(name, {db: tempDb(name)})
    started(app)
  })
  afterEach(async () => { await closeAll() })
  after(async () => {
    await closeAll()
    if (app) {
      const exit = await app.stop()
      assert.deepEqual(exit, {code: 0, signal: null},
        `fenix-${name} exit status; stderr: ${app.stderr}`)
    }
  })
}

/// POST /api/session with `body` (an object is JSON-encoded, a string is
/// sent as is); resolves {status, body (parsed JSON or text), headers}.
export async function postSession(app, body) {
  const res = await fetch(`${app.httpUrl}/api/session`, {
    method: "POST",
    headers: {"content-type": "application/json"},
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(3000),
  })
  const text = await res.text()
  let parsed
  try { parsed = JSON.parse(text) } catch { parsed = text }
  return {status: res.status, body: parsed, headers: res.headers}
}

/// A session token for `username` from the app.
export async function tokenFor(app, username) {
  const r = await postSession(app, {username})
  if (r.status !== 200)
    throw new Error(`POST /api/session ${username}: ${r.status} ` +
      JSON.stringify(r.body))
  return r.body.token
}

const b64url = buf => Buffer.from(buf).toString("base64url")

/// Mints a JWT: header {alg, typ:"JWT"} (or `header`), the claims, signed
/// with HMAC-SHA256 over `secret` (alg "none" gives an empty signature).
export function mintToken(claims, {secret = SECRET, alg = "HS256",
  header} = {}) {
  const h = b64url(JSON.stringify(header ?? {alg, typ: "JWT"}))
  const c = b64url(JSON.stringify(claims))
  const input = `${h}.${c}`
  if (alg === "none") return `${input}.`
  const sig = createHmac("sha256", secret).update(input).digest()
  return `${input}.${b64url(sig)}`
}

/// Decodes a JWT's segments (no verification).
export function decodeToken(token) {
  const [h, c, s] = token.split(".")
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString("utf8")),
    claims: JSON.parse(Buffer.from(c, "base64url").toString("utf8")),
    signature: s,
  }
}

/// An official phoenix Socket for `user` (token from the app), connected.
/// Resolves {socket, token}. The socket is closed by helpers' closeAll().
export async function connectUser(app, user, opts = {}) {
  const token = opts.token ?? await tokenFor(app, user)
  const socket = newSocket(app, {token}, opts.socketOpts ?? {})
  const opened = new Promise(resolve => socket.onOpen(resolve))
  socket.connect()
  await waitFor(opened, 3000, `${user}'s socket to open`)
  return {socket, token}
}

/// Parses Prometheus text: {name: {type, help, samples: [[labels, value]]}}.
export function parsePrometheus(text) {
  const out = {}
  const family = name => (out[name] ??= {samples: []})
  for (const line of text.split("\n")) {
    if (line === "") continue
    let m
    if ((m = line.match(/^# HELP (\S+) (.*)$/))) family(m[1]).help = m[2]
    else if ((m = line.match(/^# TYPE (\S+) (\S+)$/))) family(m[1]).type = m[2]
    else if (line.startsWith("#")) continue
    else if ((m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+\d+)?$/)))
      family(m[1]).samples.push([m[2] ?? "", Number(m[3])])
    else throw new Error(`not Prometheus text: ${JSON.stringify(line)}`)
  }
  return out
}

// ---------------------------------------------------------------------------
// the contract's "Common to both apps" section, for either app

/// Defines the common tests (flags, /health, /metrics, /api/session,
/// tokens, vsn, SIGTERM) for `app` ("chat" or "timer"). `getApp()` returns
/// the file's running app; `topicFor(user)` a topic that user may join.
export function defineCommonTests(appName, getApp, topicFor) {
  const T = `${appName} common:`

  test(`${T} --help exits 0 and lists every flag`, async () => {
    const r = await runApp(appName, ["--help"])
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`)
    for (const flag of ["--host", "--port", "--secret", "--db",
      "--log-level", "--node-port", "--join", "--help"])
      assert.match(r.stdout, new RegExp(`(^|\\s)${flag}\\b`),
        `--help lists ${flag}:\n${r.stdout}`)
    assert.doesNotMatch(r.stdout, /listening on/)
  })

  for (const args of [["--port", "abc"], ["--port", "70000"],
    ["--log-level", "loud"], ["--bogus-flag", "1"]]) {
    test(`${T} bad flag ${args.join(" ")} exits non-zero with one line`,
      async () => {
        const r = await runApp(appName, [...args, "--db", ":memory:",
          "--secret", SECRET])
        assert.notEqual(r.code, 0, "exit code")
        assert.equal(r.signal, null)
        const lines = r.stderr.split("\n").filter(l => l !== "")
        assert.equal(lines.length, 1, `one line on stderr: ${r.stderr}`)
        assert.doesNotMatch(r.stdout, /listening on/)
      })
  }

  test(`${T} GET /health`, async () => {
    const res = await fetch(`${getApp().httpUrl}/health`,
      {signal: AbortSignal.timeout(3000)})
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), {status: "ok"})
  })

  test(`${T} GET / serves the page using the phoenix client`, async () => {
    const res = await fetch(`${getApp().httpUrl}/`,
      {signal: AbortSignal.timeout(3000)})
    assert.equal(res.status, 200)
    assert.match(res.headers.get("content-type"), /^text\/html/)
    const html = await res.text()
    const m = html.match(/<script[^>]*src="([^"]+)"/)
    assert.ok(m, "the page has a script")
    const js = await (await fetch(new URL(m[1], getApp().httpUrl),
      {signal: AbortSignal.timeout(3000)})).text()
    const imp = js.match(/from\s+"([^"]*phoenix[^"]*)"/)
    assert.ok(imp, "the page's script imports the phoenix client")
    const lib = await fetch(new URL(imp[1], getApp().httpUrl),
      {signal: AbortSignal.timeout(3000)})
    assert.equal(lib.status, 200)
    assert.match(await lib.text(), /export\s*\{[^}]*Socket/)
  })

  test(`${T} GET /metrics is Prometheus text with the listed families`,
    async () => {
      const app = getApp()
      const families = ["fenix_connections", "fenix_channels",
        "fenix_messages_in_total", "fenix_messages_out_total",
        "fenix_broadcasts_total", "fenix_dropped_frames_total",
        "fenix_presence_entries", "fenix_cluster_nodes",
        "fenix_actor_restarts_total"]
      const scrape = async () => {
        const res = await fetch(`${app.httpUrl}/metrics`,
          {signal: AbortSignal.timeout(3000)})
        assert.equal(res.status, 200)
        assert.match(res.headers.get("content-type"), /^text\/plain/)
        return parsePrometheus(await res.text())
      }
      const m = await scrape()
      for (const f of families) {
        assert.ok(m[f], `metric family ${f} present`)
        assert.ok(m[f].type === "gauge" || m[f].type === "counter",
          `${f} has a TYPE`)
        assert.ok(m[f].samples.length >= 1, `${f} has a sample`)
        for (const [, v] of m[f].samples) assert.ok(Number.isFinite(v))
      }
      for (const f of families.filter(f => f.endsWith("_total")))
        assert.equal(m[f].type, "counter", `${f} is a counter`)
      assert.equal(m.fenix_cluster_nodes.samples[0][1], 1)
      // A connected, joined client shows up in the gauges, and every
      // frame it sent and received is counted ("Frames received/sent").
      const user = "metrics_user"
      const before = await scrape()
      const val = (s, f) => s[f].samples.reduce((a, [, v]) => a + v, 0)
      const raw = await RawClient.connect(app,
        {token: await tokenFor(app, user)})
      const reply = await raw.join(topicFor(user), "1")
      assert.equal(reply[4].status, "ok")
      await raw.heartbeat("2")
      const sent = 2
      const received = raw.frames.length
      let last
      try {
        last = await pollUntil(scrape, s => val(s, "fenix_connections") >= 1 &&
          val(s, "fenix_channels") >= 1 &&
          val(s, "fenix_messages_in_total") -
            val(before, "fenix_messages_in_total") >= sent &&
          val(s, "fenix_messages_out_total") -
            val(before, "fenix_messages_out_total") >= received, 2000,
        "the gauges and counters")
      } catch (e) {
        const now = await scrape()
        assert.fail(`after a client sent ${sent} frames (join, heartbeat) ` +
          `and received ${received} (${raw.dump()}): connections ` +
          `${val(now, "fenix_connections")}, channels ` +
          `${val(now, "fenix_channels")}, messages_in +` +
          `${val(now, "fenix_messages_in_total") -
            val(before, "fenix_messages_in_total")}, messages_out +` +
          `${val(now, "fenix_messages_out_total") -
            val(before, "fenix_messages_out_total")}`)
      }
      assert.ok(last)
      raw.close()
    })

  test(`${T} POST /api/session gives an HS256 JWT (sub, exp = iat + 24 h)`,
    async () => {
      const app = getApp()
      for (const username of ["alice", "A.b-c_9", "x".repeat(32), "1"]) {
        const before = Math.floor(Date.now() / 1000)
        const r = await postSession(app, {username})
        const after = Math.ceil(Date.now() / 1000)
        assert.equal(r.status, 200, `${username}: ${JSON.stringify(r.body)}`)
        assert.match(r.headers.get("content-type"), /application\/json/)
        assert.deepEqual(Object.keys(r.body).sort(), ["token", "username"])
        assert.equal(r.body.username, username)
        const {header, claims, signature} = decodeToken(r.body.token)
        assert.equal(header.alg, "HS256")
        assert.equal(claims.sub, username)
        assert.ok(Number.isInteger(claims.exp), "exp is whole seconds")
        assert.ok(Number.isInteger(claims.iat), "iat is whole seconds")
        assert.ok(claims.iat >= before - 1 && claims.iat <= after + 1,
          `iat ${claims.iat} is now (${before}..${after})`)
        assert.equal(claims.exp - claims.iat, 24 * 3600)
        // Signed with the secret: our own HMAC gives the same signature.
        const [h, c] = r.body.token.split(".")
        assert.equal(signature, createHmac("sha256", SECRET)
          .update(`${h}.${c}`).digest("base64url"))
        // And it opens a socket.
        const up = await tryUpgrade(app.wsUrl({token: r.body.token}))
        assert.deepEqual(up, {open: true, protocol: ""})
      }
    })

  const badNames = [["empty", {username: ""}],
    ["33 chars", {username: "a".repeat(33)}],
    ["a space", {username: "ali ce"}], ["a slash", {username: "a/b"}],
    ["non-ASCII", {username: "é"}], ["missing", {}],
    ["null", {username: null}], ["a number", {username: 42}],
    ["an array", {username: ["alice"]}], ["a JSON array body", ["alice"]],
    ["a JSON string body", "\"alice\""]]
  test(`${T} POST /api/session refuses bad usernames with 400`,
    async () => {
      for (const [what, body] of badNames) {
        const r = await postSession(getApp(), body)
        assert.equal(r.status, 400, `${what}: status`)
        assert.deepEqual(r.body, {error: "invalid username"}, what)
      }
    })

  test(`${T} POST /api/session refuses non-JSON with 400 invalid json`,
    async () => {
      for (const body of ["nope", "{", "{\"username\":", "", "alice"]) {
        const r = await postSession(getApp(), body)
        assert.equal(r.status, 400, `${JSON.stringify(body)}: status`)
        assert.deepEqual(r.body, {error: "invalid json"},
          JSON.stringify(body))
      }
    })

  test(`${T} a token minted elsewhere with the secret is accepted`,
    async () => {
      const now = Math.floor(Date.now() / 1000)
      const token = mintToken({sub: "minted", iat: now, exp: now + 3600})
      const raw = await RawClient.connect(getApp(), {token})
      const reply = await raw.join(topicFor("minted"), "1")
      assert.equal(reply[4].status, "ok", JSON.stringify(reply))
      raw.close()
    })

  test(`${T} bad tokens are refused with HTTP 403 on the upgrade`,
    async () => {
      const app = getApp()
      const now = Math.floor(Date.now() / 1000)
      const good = await tokenFor(app, "alice")
      const [gh, gc, gs] = good.split(".")
      const otherClaims = Buffer.from(JSON.stringify(
        {sub: "mallory", iat: now, exp: now + 3600})).toString("base64url")
      const cases = [
        ["missing", undefined],
        ["empty", ""],
        ["garbage", "not-a-token"],
        ["three garbage parts", "a.b.c"],
        ["a truncated signature", `${gh}.${gc}.${gs.slice(0, -4)}`],
        ["claims swapped under the old signature", `${gh}.${otherClaims}.${gs}`],
        ["forged with another secret",
          mintToken({sub: "alice", iat: now, exp: now + 3600},
            {secret: "not-the-secret"})],
        ["expired",
          mintToken({sub: "alice", iat: now - 90000, exp: now - 3600})],
        ["alg none", mintToken({sub: "alice", iat: now, exp: now + 3600},
          {alg: "none"})],
        ["alg none with a signature",
          mintToken({sub: "alice", iat: now, exp: now + 3600},
            {header: {alg: "none", typ: "JWT"}})],
        ["alg HS512", (() => {
          const h = Buffer.from(JSON.stringify({alg: "HS512", typ: "JWT"}))
            .toString("base64url")
          const c = Buffer.from(JSON.stringify(
            {sub: "alice", iat: now, exp: now + 3600})).toString("base64url")
          const s = createHmac("sha512", SECRET).update(`${h}.${c}`)
            .digest("base64url")
          return `${h}.${c}.${s}`
        })()],
      ]
      for (const [what, token] of cases) {
        const r = await tryUpgrade(app.wsUrl({token}))
        assert.equal(r.status, 403, `${what}: ${JSON.stringify(r)}`)
      }
    })

  test(`${T} vsn other than 1.0.x / 2.0.x is refused with 403`, async () => {
    const app = getApp()
    const token = await tokenFor(app, "alice")
    for (const vsn of ["3.0.0", "2.1.0", "1.1.0", "0.9.0", "abc", "2"]) {
      const r = await tryUpgrade(app.wsUrl({token, vsn}))
      assert.equal(r.status, 403, `vsn ${vsn}: ${JSON.stringify(r)}`)
    }
    for (const vsn of ["2.0.0", "2.0.1", "1.0.0", "1.0.3"]) {
      const r = await tryUpgrade(app.wsUrl({token, vsn}))
      assert.equal(r.open, true, `vsn ${vsn}: ${JSON.stringify(r)}`)
    }
  })

  test(`${T} V1 (vsn=1.0.0) JSON-object frames work`, async () => {
    const app = getApp()
    const user = "v1user"
    const raw = await RawClient.connect(app,
      {token: await tokenFor(app, user), vsn: "1.0.0"})
    const topic = topicFor(user)
    raw.send({topic, event: "phx_join", payload: {}, ref: "1",
      join_ref: "1"})
    const reply = await raw.take(f => f && f.event === "phx_reply" &&
      f.ref === "1", 2000, "the V1 join reply")
    assert.equal(reply.topic, topic)
    assert.equal(reply.payload.status, "ok", JSON.stringify(reply))
    raw.send({topic: "phoenix", event: "heartbeat", payload: {}, ref: "2"})
    const hb = await raw.take(f => f && f.event === "phx_reply" &&
      f.ref === "2", 2000, "the V1 heartbeat reply")
    assert.deepEqual(hb.payload, {status: "ok", response: {}})
    raw.close()
  })

  test(`${T} prints one listening line; SIGTERM closes clients with 1012 ` +
    "and exits 0", async () => {
    const app = await startApp(appName)
    try {
      const lines = app.stdout.split("\n").filter(l => /listening on/.test(l))
      assert.deepEqual(lines, [`listening on http://127.0.0.1:${app.port}`])
      const user = "drained"
      const token = await tokenFor(app, user)
      const raw = await RawClient.connect(app, {token})
      assert.equal((await raw.join(topicFor(user), "1"))[4].status, "ok")
      const idle = await RawClient.connect(app, {token})
      const exit = await app.stop()
      const [c1, c2] = await Promise.all([raw.waitClose(3000),
        idle.waitClose(3000)])
      assert.equal(c1.code, 1012, "a joined client is closed with 1012")
      assert.equal(c2.code, 1012, "an idle client is closed with 1012")
      assert.deepEqual(exit, {code: 0, signal: null},
        `exit status; stderr: ${app.stderr}`)
    } finally {
      await app.stop()
    }
  })
}
