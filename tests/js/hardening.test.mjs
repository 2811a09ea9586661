// Hostile clients against fenix-chat and fenix-test-server: oversized and
// endless HTTP input, long-poll bodies and session tokens, JSON numbers out
// of double range, log floods, rate limits, and running out of file
// descriptors. Each test starts its own server, so one that crashes or
// wedges a server does not take the others with it.
//
// The contract checked here:
//   HTTP: a chunked trailer or chunk-extension section past the header
//     limit, or an endless trailer, gets 431 (or 400) and the connection
//     closes, with bounded memory; a header block over 8 KiB gets 431;
//     POST /api/session over its body limit (200 KiB here) gets 413; a
//     long-poll POST of 2 MiB gets 413.
//   Long poll: session tokens are distinct, carry >= 22 base64url chars
//     that vary, and a tampered token or one from another process (same
//     --secret) is refused (status 410 or 403 in the JSON).
//   JSON: a number out of double range (1e999999) never comes back as
//     Infinity/NaN: the server closes with 1007 or answers with an error
//     reply; numbers in range are relayed exactly.
//   Logs: repeated per-peer warnings are rate-limited.
//   Rate limits: rate_limits.test.mjs.
//   fd limit: at EMFILE the server neither spins nor floods its log, and
//     serves again once descriptors are free.

import {test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  RawClient, closeAll, joinChannel, pushAndWait, nextEvent, waitFor,
  pollUntil, tryUpgrade, startServer, startProcess,
} from "./helpers.mjs"
import {
  startApp, tokenFor, connectUser, parsePrometheus, appBin, SECRET,
} from "./app_helpers.mjs"
import {
  RawHttp, destroyAllRaw, requestHead, requestWithBody, rawExchange,
  rawWebSocket, rssBytes, cpuSeconds, alive, stderrLines, measureFor,
  withChat, withTestServer, assertAlive, lobbyMember,
} from "./hostile_helpers.mjs"

afterEach(async () => {
  await closeAll()
  destroyAllRaw()
})

const MB = 1024 * 1024

// ---------------------------------------------------------------------------
// helpers

let bodySeq = 0
/// `m` (a lobbyMember of `app`) pushes new_msg and gets both its ok reply
/// and the broadcast; if not, the server's death is the reported cause.
async function assertStillChats(app, m) {
  try {
    const body = `still here ${++bodySeq}`
    const got = nextEvent(m.chan, "new_msg", 3000, p => p.body === body)
    const reply = await pushAndWait(m.chan.push("new_msg", {body}))
    assert.equal(reply.status, "ok",
      `the client connected before pushes new_msg: ${JSON.stringify(reply)}`)
    assert.equal((await got).payload.user, m.user)
  } catch (e) {
    await waitFor(app.exited, 1000, "an exit").catch(() => {})
    assertAlive(app)
    throw e
  }
}

const CHUNKED_HEAD = requestHead("POST", "/api/session",
  ["Content-Type: application/json", "Transfer-Encoding: chunked"])
// A body the route would accept (200 with a token): only the framing is
// hostile.
const GOOD_BODY = '{"username":"alice"}'
const GOOD_CHUNK = `${GOOD_BODY.length.toString(16)}\r\n${GOOD_BODY}\r\n`

/// Sends a hostile chunked request (`send(conn)`) to a fresh fenix-chat
/// with a lobby member connected before; checks 431/400, the close, the
/// RSS growth, and that the member still chats.
async function hostileChunked(send) {
  await withChat([], async app => {
    const m = await lobbyMember(app, "before")
    const rss0 = rssBytes(app.proc.pid)
    const c = await RawHttp.connect(app.port)
    await send(c)
    const r = await c.outcome(5000)
    // A 300 ms window in which a crash the request caused shows up.
    await waitFor(app.exited, 300, "an exit").catch(() => {})
    const rss1 = rssBytes(app.proc.pid)
    if (rss1 === null)  // gone: let the exit status arrive for the message
      await waitFor(app.exited, 2000, "the exit status").catch(() => {})
    assertAlive(app)
    const grown = rss1 - rss0
    assert.ok(r.status === 431 || r.status === 400,
      `answer 431 or 400, got ${r.status === null ? "no response" :
        JSON.stringify(r.head)} (connection ${r.closed ? "closed" : "open"}, ` +
      `${c.written} bytes sent)`)
    assert.ok(r.closed, "the connection closes after the refusal")
    assert.ok(grown < 20 * MB,
      `server RSS grew by ${(grown / MB).toFixed(1)} MB (limit 20 MB)`)
    await assertStillChats(app, m)
  })
}


// ---------------------------------------------------------------------------
// 1. chunked framing past the limits

// RSS, CPU and fd-limit measurements mean nothing under ASan (its
// quarantine holds freed memory, its runtime uses descriptors): skipped
// there, run in the release build.
const MEASURED = process.env.FENIX_SANITIZE === "1"
  ? "measurement test: skipped under ASan" : false

test("a chunked trailer field of 70,000 bytes gets 431/400 and a close; " +
  "the server keeps serving", {timeout: 30_000}, async () => {
  await hostileChunked(c => c.send(CHUNKED_HEAD + GOOD_CHUNK +
    "0\r\nX-Big: " + "a".repeat(70_000) + "\r\n\r\n"))
})

test("a chunk line with 1 MB of chunk extensions gets 431/400 and a close; " +
  "RSS stays bounded", {timeout: 30_000}, async () => {
  const ext = ";a=b".repeat(MB / 4)
  await hostileChunked(c => c.send(CHUNKED_HEAD +
    GOOD_BODY.length.toString(16) + ext + "\r\n" + GOOD_BODY + "\r\n" +
    "0\r\n\r\n"))
})

test("an endless chunked trailer (2 MB of fields) gets 431/400 and a " +
  "close; RSS stays bounded", {timeout: 40_000}, async () => {
  const slice = "x-a: b\r\n".repeat(8192)  // 64 KiB
  await hostileChunked(async c => {
    await c.send(CHUNKED_HEAD + GOOD_CHUNK + "0\r\n")
    let left = 2 * MB
    await c.stream(() => {
      if (left <= 0) return null
      left -= slice.length
      return slice
    })
  })
})

// ---------------------------------------------------------------------------
// 2., 3. header and body limits

test("a header block over 8 KiB gets 431 (one under 8 KiB is served)",
  {timeout: 20_000}, async () => {
    await withChat([], async app => {
      const small = await rawExchange(app.port, requestHead("GET", "/health",
        ["X-Pad: " + "a".repeat(7000), "Connection: close"]))
      assert.equal(small.status, 200, "a 7 KB header block is served")
      const big = await rawExchange(app.port, requestHead("GET", "/health",
        ["X-Pad: " + "a".repeat(9000), "Connection: close"]))
      assert.equal(big.status, 431, `over 8 KiB: ${big.status === null ?
        `no response (connection ${big.closed ? "closed" : "open"})` :
        big.head}`)
      assertAlive(app)
      assert.equal((await fetch(`${app.httpUrl}/health`,
        {signal: AbortSignal.timeout(3000)})).status, 200)
    })
  })

test("POST /api/session with a 200 KiB JSON body gets 413; the server " +
  "keeps working", {timeout: 20_000}, async () => {
  await withChat([], async app => {
    const body = JSON.stringify({username: "alice",
      pad: "x".repeat(200 * 1024)})
    const r = await rawExchange(app.port,
      requestWithBody("POST", "/api/session", body))
    assert.equal(r.status, 413, `200 KiB body: ${r.head ?? "no response"}`)
    assertAlive(app)
    assert.ok(await tokenFor(app, "alice"), "a normal POST still works")
  })
})

// ---------------------------------------------------------------------------
// 4. long poll

const lpUrl = (app, query) =>
  `http://127.0.0.1:${app.port}/socket/longpoll?${query}`

/// GET/POST on the long-poll path; resolves the JSON body, or
/// {held: true} if the server holds the request (a poll accepted) past
/// `ms`.
async function lp(app, method, query, body, ms = 3000) {
  try {
    const res = await fetch(lpUrl(app, query), {method, body,
      headers: body ? {"content-type": "application/x-ndjson"} : {},
      signal: AbortSignal.timeout(ms)})
    return {http: res.status, ...(await res.json())}
  } catch (e) {
    if (e.name === "TimeoutError") return {held: true}
    throw e
  }
}

/// Opens a long-poll session on `app`; resolves its session token.
async function lpOpen(app, jwt) {
  const r = await lp(app, "GET", `vsn=2.0.0&token=${encodeURIComponent(jwt)}`)
  assert.equal(r.status, 410, `opening a session: ${JSON.stringify(r)}`)
  assert.equal(typeof r.token, "string")
  return r.token
}

const HEARTBEAT = JSON.stringify([null, "1", "phoenix", "heartbeat", {}])

/// Asserts that `token` is refused by `app` both as a poll and as a POST.
async function assertRefused(app, token, what) {
  const q = `vsn=2.0.0&token=${encodeURIComponent(token)}`
  const g = await lp(app, "GET", q)
  assert.ok(!g.held, `${what}: a GET with it was held as a poll (accepted)`)
  assert.ok(g.status === 410 || g.status === 403,
    `${what}: GET status ${JSON.stringify(g)}`)
  if (g.status === 410) assert.notEqual(g.token, token, what)
  const p = await lp(app, "POST", q, HEARTBEAT)
  assert.ok(p.status === 410 || p.status === 403,
    `${what}: POST status ${JSON.stringify(p)}`)
}

test("a long-poll POST of 2 MiB gets HTTP 413", {timeout: 20_000},
  async () => {
    await withChat([], async app => {
      const session = await lpOpen(app, await tokenFor(app, "lp"))
      const line = JSON.stringify([null, "1", "phoenix", "heartbeat",
        {pad: "x".repeat(1000)}])
      const body = Array(Math.ceil(2 * MB / (line.length + 1))).fill(line)
        .join("\n")
      assert.ok(body.length >= 2 * MB)
      const r = await rawExchange(app.port, requestWithBody("POST",
        `/socket/longpoll?vsn=2.0.0&token=${session}`, body,
        "application/x-ndjson"))
      assert.equal(r.status, 413, `2 MiB long-poll body: ${r.head ??
        "no response"}`)
      assertAlive(app)
      const ok = await lp(app, "POST", `vsn=2.0.0&token=${session}`, HEARTBEAT)
      assert.equal(ok.status, 200, `a small POST works: ${JSON.stringify(ok)}`)
    })
  })

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/// `token` with its last character replaced by its neighbour in the
/// base64url alphabet (for base64url text that changes only the last
/// sextet's low bit: a decoder that ignores padding bits would accept it).
function tamperLast(token) {
  const last = token.at(-1)
  const i = B64URL.indexOf(last)
  const repl = i < 0 ? (last === "A" ? "B" : "A") : B64URL[i ^ 1]
  return token.slice(0, -1) + repl
}

test("long-poll session tokens are distinct, random enough, and a " +
  "tampered one is refused", {timeout: 60_000}, async () => {
  await withChat([], async app => {
    const jwt = await tokenFor(app, "lp")
    const tokens = []
    for (let i = 0; i < 20; i++) tokens.push(await lpOpen(app, jwt))
    assert.equal(new Set(tokens).size, 20, "20 distinct tokens")
    for (const t of tokens)
      assert.match(t, /^[A-Za-z0-9._~-]+$/, "URL-safe token")
    // Strip what every token shares at the start; what varies must hold at
    // least 22 base64url characters (128 bits).
    let common = 0
    while (tokens.every(t => t[common] === tokens[0][common]) &&
      common < tokens[0].length) common++
    for (const t of tokens) {
      const varying = t.slice(common).replace(/[^A-Za-z0-9_-]/g, "")
      assert.ok(varying.length >= 22,
        `token ${t}: ${varying.length} varying base64url chars (need 22)`)
    }
    // A good token works; the same token with its last character changed
    // does not.
    const ok = await lp(app, "POST", `vsn=2.0.0&token=${tokens[0]}`,
      HEARTBEAT)
    assert.equal(ok.status, 200, JSON.stringify(ok))
    for (const t of tokens) await assertRefused(app, tamperLast(t),
      `${t} with its last character changed`)
  })
})

test("a long-poll token from another fenix-chat process (same secret) is " +
  "refused", {timeout: 30_000}, async () => {
  await withChat([], async app => {
    const other = await startApp("chat")
    try {
      const foreign = await lpOpen(other, await tokenFor(other, "lp"))
      const ok = await lp(other, "POST", `vsn=2.0.0&token=${foreign}`,
        HEARTBEAT)
      assert.equal(ok.status, 200, `valid where it was made: ${
        JSON.stringify(ok)}`)
      await assertRefused(app, foreign, "a token of another process")
    } finally {
      await other.stop()
    }
  })
})

// ---------------------------------------------------------------------------
// 5. JSON numbers

const NON_JSON = /Infinity|NaN/

/// After sending a push with an out-of-range number as `ref`: the server
/// closed with 1007 or answered with an error reply, and no frame holds
/// Infinity or NaN.
async function assertOutOfRangeRefused(raw, ref) {
  await waitFor(() => raw.closeInfo || raw.frames.some(f =>
    Array.isArray(f) && f[3] === "phx_reply" && f[1] === ref) ||
    raw.texts.some(t => NON_JSON.test(t)), 3000,
  `a reply to ${ref} or a close`).catch(e => {
    throw new Error(`${e.message}; frames: ${raw.dump()}`)
  })
  if (!raw.closeInfo) {
    // Whatever came right after (a heartbeat is answered after it).
    await raw.heartbeat(`${ref}-hb`).catch(() => {})
  }
  for (const t of raw.texts)
    assert.doesNotMatch(t, NON_JSON, `a frame that is not JSON: ${t}`)
  if (raw.closeInfo && !raw.frames.some(f => Array.isArray(f) &&
    f[1] === ref)) {
    assert.equal(raw.closeInfo.code, 1007, "the close code")
    return
  }
  const reply = raw.frames.find(f => Array.isArray(f) &&
    f[3] === "phx_reply" && f[1] === ref)
  assert.equal(reply[4].status, "error",
    `the push with 1e999999 must not succeed: ${JSON.stringify(reply)}`)
}

test("1e999999 in a chat push never comes back as Infinity: 1007 or an " +
  "error reply", {timeout: 20_000}, async () => {
  await withChat([], async app => {
    const raw = await RawClient.connect(app,
      {token: await tokenFor(app, "alice")})
    assert.equal((await raw.join("room:lobby", "1"))[4].status, "ok")
    raw.send('["1","2","room:lobby","new_msg",{"body":"x","n":1e999999}]')
    await assertOutOfRangeRefused(raw, "2")
    assertAlive(app)
  })
})

test("1e999999 through the echo channel never comes back as Infinity: " +
  "1007 or an error reply", {timeout: 20_000}, async () => {
  await withTestServer([], async server => {
    for (const n of ["1e999999", "-1e999999"]) {
      const raw = await RawClient.connect(server)
      await raw.join("bench:numbers", "1")
      raw.send(`["1","2","bench:numbers","echo",{"body":"x","n":${n}}]`)
      await assertOutOfRangeRefused(raw, "2")
      raw.close()
    }
    // The same over a raw TCP WebSocket, looking at the bytes.
    const ws = await rawWebSocket(server.port, "vsn=2.0.0")
    await ws.sendText('["1","1","bench:numbers","phx_join",{}]')
    await ws.sendText('["1","2","bench:numbers","echo",{"n":1e999999}]')
    await ws.sendText(JSON.stringify([null, "3", "phoenix", "heartbeat", {}]))
    await waitFor(() => ws.closeCode() !== null || ws.texts().some(t =>
      t.startsWith('[null,"3",')), 3000, "the heartbeat reply or a close")
    for (const t of ws.texts())
      assert.doesNotMatch(t, NON_JSON, `a frame that is not JSON: ${t}`)
  })
})

test("numbers relayed by the echo channel keep their exact value",
  {timeout: 20_000}, async () => {
    await withTestServer([], async server => {
      const raw = await RawClient.connect(server)
      await raw.join("bench:numbers", "1")
      const texts = ["0.30000000000000004", "1.7976931348623157e308",
        "5e-324", "123456789012345678", "-0.1", "2.2250738585072014e-308",
        "9007199254740993"]
      let ref = 10
      for (const n of texts) {
        const r = String(ref++)
        raw.send(`["1","${r}","bench:numbers","echo",{"n":${n}}]`)
        const reply = await raw.reply(r)
        assert.equal(reply[4].status, "ok")
        assert.equal(reply[4].response.n, Number(n),
          `${n} came back as ${raw.texts.find(t => t.includes(`"${r}"`))}`)
      }
    })
  })

// ---------------------------------------------------------------------------
// 6. log flood

test("repeated per-peer warnings are rate-limited: 5,000 unmatched joins " +
  "give fewer than 100 stderr lines", {timeout: 30_000}, async () => {
  await withTestServer([], async server => {
    const lines = stderrLines(server)
    const raw = await RawClient.connect(server)
    const N = 5000
    for (let i = 1; i <= N; i++)
      raw.send([String(i), String(i), `nope:${i}`, "phx_join", {}])
    await waitFor(() => raw.closeInfo || raw.frames.some(f =>
      Array.isArray(f) && f[1] === String(N)), 15_000,
    "the last join's reply (or a close)")
    await measureFor(300)  // lets stderr written with the replies arrive
    assertAlive(server)
    assert.ok(lines.count() < 100, `${lines.count()} stderr lines for ${N} ` +
      `unmatched joins; first ones:\n${lines.sample(3)}`)
  })
})

// ---------------------------------------------------------------------------
// 8. file descriptor limit

test("at the fd limit the server neither spins nor floods its log, keeps " +
  "its clients, and recovers", {timeout: 40_000, skip: MEASURED},
async () => {
  const app = await startProcess("/usr/bin/prlimit", ["--nofile=64:64",
    appBin("chat"), "--port", "0", "--db", ":memory:", "--secret", SECRET],
  "fenix-chat (64 fds)")
  try {
    const pid = app.proc.pid
    const m = await lobbyMember(app, "joined")
    const token = await tokenFor(app, "later")
    const lines = stderrLines(app)
    const conns = []
    for (let i = 0; i < 100; i++) conns.push(await RawHttp.connect(app.port))
    const cpu0 = cpuSeconds(pid)
    await measureFor(2000)
    const cpu = cpuSeconds(pid) - cpu0
    const logged = lines.count()
    assertAlive(app)
    assert.ok(cpu < 0.5, `${cpu.toFixed(2)} s of CPU in 2 s at the fd limit`)
    assert.ok(logged < 20, `${logged} stderr lines in 2 s at the fd ` +
      `limit; first ones:\n${lines.sample(3)}`)
    await assertStillChats(app, m)
    for (const c of conns) c.destroy()
    const up = await pollUntil(() => tryUpgrade(app.wsUrl({token})),
      r => r.open, 5000, "a new client to connect after the sockets closed",
      100)
    assert.ok(up.open)
  } finally {
    await closeAll()
    destroyAllRaw()
    await app.stop()
  }
})
