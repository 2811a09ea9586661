// Long-poll transport (protocol doc sections 6 and 10.2/10.4): the official
// client with transport LongPoll, and raw HTTP for the envelope details.

import {test} from "node:test"
import assert from "node:assert/strict"
import {LongPoll} from "phoenix"
import {
  startServer, newSocket, joinChannel, pushAndWait, nextEvent, waitFor,
  closeAll, connectSocket,
} from "./helpers.mjs"

const lpUrl = (server, query = "vsn=2.0.0") =>
  `http://127.0.0.1:${server.port}/socket/longpoll?${query}`

async function get(url, headers = {}) {
  const r = await fetch(url, {headers})
  assert.equal(r.status, 200, "every long-poll answer is HTTP 200")
  assert.equal(r.headers.get("cache-control"), "no-store")
  assert.equal(r.headers.get("access-control-allow-origin"), "*")
  return r.json()
}

async function post(url, body, contentType = "application/x-ndjson",
  headers = {}) {
  const r = await fetch(url, {method: "POST", body,
    headers: {"content-type": contentType, ...headers}})
  assert.equal(r.status, 200)
  return r.json()
}

async function open(server, query) {
  const first = await get(lpUrl(server, query))
  assert.equal(first.status, 410)
  assert.equal(typeof first.token, "string")
  assert.deepEqual(first.messages, [])
  return first.token
}

async function pollUntil(server, token, pred, ms = 3000) {
  const seen = []
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const r = await get(lpUrl(server, `vsn=2.0.0&token=${token}`))
    assert.ok(r.status === 200 || r.status === 204, `poll status ${r.status}`)
    for (const m of r.messages) seen.push(JSON.parse(m))
    if (pred(seen)) return seen
  }
  throw new Error(`poll: condition not met; seen ${JSON.stringify(seen)}`)
}

test("the official client joins, pushes and receives over long poll",
  async () => {
    const server = await startServer()
    try {
      const lp = newSocket(server, {user: "lp"}, {transport: LongPoll})
      const opened = new Promise(r => lp.onOpen(r))
      lp.connect()
      await waitFor(opened, 3000, "long-poll socket to open")
      const chan = lp.channel("room:lp")
      assert.deepEqual(await joinChannel(chan),
        {status: "ok", response: {joined: true}})
      assert.deepEqual(await pushAndWait(chan.push("ping", {n: 1})),
        {status: "ok", response: {n: 1}})
      // A WebSocket client's broadcast reaches the long-poll client.
      const ws = await connectSocket(server, {user: "ws"})
      const wchan = ws.channel("room:lp")
      await joinChannel(wchan)
      const got = nextEvent(chan, "new_msg", 5000)
      await pushAndWait(wchan.push("new_msg", {body: "hi"}))
      assert.deepEqual((await got).payload, {body: "hi"})
    } finally {
      await closeAll()
      await server.stop()
    }
  })

test("raw long poll: open, publish, poll, refusals and CORS", async () => {
  const server = await startServer()
  try {
    const token = await open(server)
    const join = JSON.stringify(["1", "1", "room:raw", "phx_join", {}])
    const ping = JSON.stringify(["1", "2", "room:raw", "ping", {x: 1}])
    assert.deepEqual(await post(lpUrl(server, `vsn=2.0.0&token=${token}`),
      `${join}\n${ping}`), {status: 200})
    const seen = await pollUntil(server, token,
      s => s.some(m => m[1] === "2"))
    assert.deepEqual(seen[0],
      ["1", "1", "room:raw", "phx_reply",
        {status: "ok", response: {joined: true}}])
    assert.deepEqual(seen.find(m => m[1] === "2")[4],
      {status: "ok", response: {x: 1}})
    // The header wins over a stale token in the query.
    const viaHeader = await post(lpUrl(server, "vsn=2.0.0&token=bogus"),
      JSON.stringify(["1", "3", "room:raw", "ping", {}]),
      "application/x-ndjson", {"x-phoenix-longpoll-token": token})
    assert.deepEqual(viaHeader, {status: 200})
    // No token, or an unknown one: POST gets 410.
    assert.deepEqual(await post(lpUrl(server, "vsn=2.0.0&token=nope"), ping),
      {status: 410})
    // Refusals are HTTP 200 with status 403.
    assert.deepEqual(await get(lpUrl(server, "vsn=3.0.0")), {status: 403})
    assert.deepEqual(await get(lpUrl(server, "vsn=2.0.0&reject=1")),
      {status: 403})
    assert.deepEqual(await get(lpUrl(server),
      {origin: "http://notallowed.com"}), {status: 403})
    const pre = await fetch(lpUrl(server), {method: "OPTIONS",
      headers: {"access-control-request-headers": "x-foo"}})
    assert.equal(pre.status, 200)
    assert.equal(pre.headers.get("access-control-allow-methods"),
      "get, post, options")
    assert.equal(pre.headers.get("access-control-allow-headers"), "x-foo")
    assert.equal(pre.headers.get("access-control-max-age"), "3600")
  } finally {
    await server.stop()
  }
})

test("ndjson batches: at most 100 lines, base64 lines are binary",
  async () => {
    const server = await startServer()
    try {
      const token = await open(server)
      const url = lpUrl(server, `vsn=2.0.0&token=${token}`)
      await post(url, JSON.stringify(["1", "1", "bench:x", "phx_join", {}]))
      await pollUntil(server, token, s => s.some(m => m[1] === "1"))
      const lines = []
      for (let i = 2; i <= 105; i++)
        lines.push(JSON.stringify(["1", String(i), "bench:x", "echo", {i}]))
      assert.deepEqual(await post(url, lines.join("\n")), {status: 200})
      const seen = await pollUntil(server, token,
        s => s.some(m => m[1] === "101"))
      // Lines past the first 100 are ignored.
      const more = await get(lpUrl(server, `vsn=2.0.0&token=${token}`))
      const all = seen.concat(more.messages.map(m => JSON.parse(m)))
      assert.equal(all.filter(m => m[3] === "phx_reply").length, 100)
      assert.ok(!all.some(m => m[1] === "102"))
      // A base64 line is a binary frame; the binary reply cannot travel
      // over long poll, so the channel is reached but nothing comes back.
      const bin = Buffer.concat([Buffer.from([0, 1, 3, 8, 6]),
        Buffer.from("1"), Buffer.from("200"), Buffer.from("bench:x"),
        Buffer.from("binary"), Buffer.from([1, 2])])
      assert.deepEqual(await post(url, bin.toString("base64")), {status: 200})
    } finally {
      await server.stop()
    }
  })

test("a session nobody polls ends; a later POST gets 410", async () => {
  const server = await startServer(["--longpoll-window-ms", "200"])
  try {
    const token = await open(server)
    const url = lpUrl(server, `vsn=2.0.0&token=${token}`)
    const ping = JSON.stringify(["1", "1", "room:t", "phx_join", {}])
    const deadline = Date.now() + 3000
    let status = 200
    while (status !== 410 && Date.now() < deadline)
      status = (await post(url, ping)).status
    assert.equal(status, 410)
  } finally {
    await server.stop()
  }
})

test("the official LongPoll client with a `token` connect param joins and " +
  "chats (the session token is the query's last `token`)", async () => {
  const server = await startServer()
  try {
    // The apps pass their JWT as params: {token}; phoenix.js LongPoll then
    // sends ?token=<JWT>&vsn=2.0.0&token=<session>.
    const lp = newSocket(server, {token: "app.jwt.value", user: "jwt"},
      {transport: LongPoll})
    let errors = 0
    lp.onError(() => errors++)
    const opened = new Promise(r => lp.onOpen(r))
    lp.connect()
    await waitFor(opened, 3000, "long-poll socket to open")
    const chan = lp.channel("room:jwt")
    assert.deepEqual(await joinChannel(chan),
      {status: "ok", response: {joined: true}})
    const got = nextEvent(chan, "new_msg", 5000)
    assert.deepEqual(await pushAndWait(chan.push("new_msg", {body: "yo"})),
      {status: "ok", response: {}})
    assert.deepEqual((await got).payload, {body: "yo"})
    assert.deepEqual(await pushAndWait(chan.push("ping", {n: 2})),
      {status: "ok", response: {n: 2}})
    assert.equal(errors, 0, "no session_gone reconnect loop")
  } finally {
    await closeAll()
    await server.stop()
  }
})

test("session tokens: distinct, base64url, signed by their server",
  async () => {
    const a = await startServer()
    const b = await startServer()
    try {
      const tokens = new Set()
      for (let i = 0; i < 20; i++) tokens.add(await open(a))
      assert.equal(tokens.size, 20)
      for (const t of tokens) {
        assert.match(t, /^[A-Za-z0-9_-]{22,}$/)
        // 16 random bytes and a 16-byte MAC.
        assert.equal(Buffer.from(t, "base64url").length, 32)
      }
      const t = [...tokens][0]
      const join = JSON.stringify(["1", "1", "room:t", "phx_join", {}])
      assert.deepEqual(await post(lpUrl(a, `vsn=2.0.0&token=${t}`), join),
        {status: 200})
      // Tampered: refused like an unknown session.
      const bad = t.slice(0, 3) + (t[3] === "A" ? "B" : "A") + t.slice(4)
      assert.deepEqual(await post(lpUrl(a, `vsn=2.0.0&token=${bad}`), join),
        {status: 410})
      // Another server's token: POST 410, GET opens a new session there.
      const tb = await open(b)
      assert.ok(!tokens.has(tb))
      assert.deepEqual(await post(lpUrl(b, `vsn=2.0.0&token=${t}`), join),
        {status: 410})
      const g = await get(lpUrl(b, `vsn=2.0.0&token=${t}`))
      assert.equal(g.status, 410)
      assert.notEqual(g.token, t)
    } finally {
      await a.stop()
      await b.stop()
    }
  })

test("long-poll limits and checks: origin on every request, 403 for any " +
  "refusal, HTTP 413 over the body limit", async () => {
  const server = await startServer()
  try {
    const token = await open(server)
    const url = lpUrl(server, `vsn=2.0.0&token=${token}`)
    const join = JSON.stringify(["1", "1", "room:o", "phx_join", {}])
    const evil = {origin: "http://notallowed.com"}
    assert.deepEqual(await post(url, join, "application/x-ndjson", evil),
      {status: 403})
    assert.deepEqual(await get(url, evil), {status: 403})
    assert.deepEqual(await post(url, join, "application/x-ndjson",
      {origin: "http://example.com"}), {status: 200})
    // A refusal with a custom status is still 403 over long poll.
    assert.deepEqual(await get(lpUrl(server, "vsn=2.0.0&reject=429")),
      {status: 403})
    // Over longpoll_max_body (1 MiB): HTTP 413.
    const big = JSON.stringify(["1", "2", "room:o", "ping",
      {p: "x".repeat((1 << 20) + 1)}])
    const r = await fetch(url, {method: "POST", body: big,
      headers: {"content-type": "application/x-ndjson"}})
    assert.equal(r.status, 413)
    assert.deepEqual(await post(url, JSON.stringify(
      ["1", "3", "room:o", "ping", {}])), {status: 200})
  } finally {
    await server.stop()
  }
})
