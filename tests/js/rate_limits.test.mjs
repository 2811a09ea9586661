// Rate limits with named reasons (issue #11 item 8), against fenix-chat
// with small limits from its flags: --event-rate/--event-burst,
// --join-rate/--join-burst, --connect-rate/--connect-burst (defaults
// 1000/s and 2000, 100/s and 200, 1000/s and 10,000). Over a limit: an
// error reply {"reason":"rate limited"} for pushes and joins, HTTP 429 for
// upgrades, close 1008 for a client with more than 50 refusals within
// 10 s; /metrics counts them in fenix_rate_limited_total{limit=...}.

import {test, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  RawClient, closeAll, pushAndWait, waitFor, pollUntil, tryUpgrade,
} from "./helpers.mjs"
import {tokenFor, parsePrometheus} from "./app_helpers.mjs"
import {
  destroyAllRaw, measureFor, withChat, assertAlive, lobbyMember,
} from "./hostile_helpers.mjs"

afterEach(async () => {
  await closeAll()
  destroyAllRaw()
})

/// GET /metrics (retried while the connect limit refuses it); the sum of
/// fenix_rate_limited_total samples with limit="<limit>".
async function rateLimited(app, limit) {
  const text = await pollUntil(async () => {
    try {
      const res = await fetch(`${app.httpUrl}/metrics`,
        {signal: AbortSignal.timeout(2000)})
      return res.status === 200 ? await res.text() : null
    } catch {
      return null
    }
  }, t => t !== null, 5000, "GET /metrics to answer 200")
  const fam = parsePrometheus(text).fenix_rate_limited_total
  assert.ok(fam, "/metrics has fenix_rate_limited_total")
  assert.equal(fam.type, "counter")
  const samples = fam.samples.filter(([l]) => l.includes(`limit="${limit}"`))
  assert.ok(samples.length >= 1,
    `fenix_rate_limited_total{limit="${limit}"} present: ` +
    JSON.stringify(fam.samples))
  return samples.reduce((a, [, v]) => a + v, 0)
}

const RATE_LIMITED = {status: "error", response: {reason: "rate limited"}}

/// The phx_replies on `raw` to `refs`, waiting (bounded) until all came
/// or the connection closed.
async function repliesFor(raw, refs, ms = 5000) {
  const want = new Set(refs)
  await waitFor(() => raw.closeInfo || raw.frames.filter(f =>
    Array.isArray(f) && f[3] === "phx_reply" && want.has(f[1])).length ===
    want.size, ms, `replies to ${refs.length} frames`).catch(e => {
    throw new Error(`${e.message}; frames: ${raw.dump()}`)
  })
  return raw.frames.filter(f => Array.isArray(f) && f[3] === "phx_reply" &&
    want.has(f[1]))
}

const range = (a, b) => Array.from({length: b - a + 1}, (_, i) => String(a + i))

// ---------------------------------------------------------------------------
// 7. rate limits

test("rate limit, events: pushes over --event-rate/--event-burst get " +
  "error rate limited, counted in /metrics", {timeout: 30_000}, async () => {
  await withChat(["--event-rate", "5", "--event-burst", "10"], async app => {
    const raw = await RawClient.connect(app,
      {token: await tokenFor(app, "alice")})
    assert.equal((await raw.join("room:lobby", "1"))[4].status, "ok")
    const t0 = Date.now()
    const refs = range(2, 31)
    for (const r of refs)
      raw.send(["1", r, "room:lobby", "new_msg", {body: `m${r}`}])
    const replies = await repliesFor(raw, refs)
    const elapsed = (Date.now() - t0) / 1000
    assert.equal(raw.closeInfo, null, "20 rejections do not close")
    const ok = replies.filter(f => f[4].status === "ok").length
    const limited = replies.filter(f =>
      JSON.stringify(f[4]) === JSON.stringify(RATE_LIMITED)).length
    assert.equal(ok + limited, refs.length,
      `every reply is ok or rate limited: ${raw.dump()}`)
    assert.ok(ok >= 1 && ok <= 10 + Math.ceil(5 * elapsed) + 1,
      `${ok} of 30 ok within ${elapsed} s (burst 10, rate 5/s)`)
    assert.ok(limited >= 10, `${limited} rate limited`)
    // Tokens come back: a push is accepted again (polled, bounded).
    let n = 100
    await pollUntil(async () => {
      const r = String(n++)
      raw.send(["1", r, "room:lobby", "new_msg", {body: "again"}])
      return (await raw.reply(r))[4].status
    }, s => s === "ok", 3000, "a push accepted after a pause", 250)
    assert.ok(await rateLimited(app, "events") >= limited)
  })
})

test("rate limit, events: more than 50 rejected events within 10 s close " +
  "the connection with 1008", {timeout: 30_000}, async () => {
  await withChat(["--event-rate", "5", "--event-burst", "10"], async app => {
    const raw = await RawClient.connect(app,
      {token: await tokenFor(app, "alice")})
    assert.equal((await raw.join("room:lobby", "1"))[4].status, "ok")
    for (const r of range(2, 101))
      raw.send(["1", r, "room:lobby", "new_msg", {body: `m${r}`}])
    const {code} = await raw.waitClose(5000).catch(e => {
      throw new Error(`${e.message}; ${raw.frames.filter(f =>
        Array.isArray(f) && f[3] === "phx_reply" &&
        f[4].status === "error").length} error replies`)
    })
    assert.equal(code, 1008)
    assertAlive(app)
  })
})

test("rate limit, joins: joins over --join-rate/--join-burst get error " +
  "rate limited, counted in /metrics", {timeout: 30_000}, async () => {
  await withChat(["--join-rate", "2", "--join-burst", "5"], async app => {
    const raw = await RawClient.connect(app,
      {token: await tokenFor(app, "alice")})
    const t0 = Date.now()
    const refs = range(1, 20)
    for (const r of refs) raw.send([r, r, `room:j${r}`, "phx_join", {}])
    const replies = await repliesFor(raw, refs)
    const elapsed = (Date.now() - t0) / 1000
    const ok = replies.filter(f => f[4].status === "ok").length
    const limited = replies.filter(f =>
      JSON.stringify(f[4]) === JSON.stringify(RATE_LIMITED)).length
    assert.equal(ok + limited, refs.length,
      `every join reply is ok or rate limited: ${raw.dump()}`)
    assert.ok(ok >= 1 && ok <= 5 + Math.ceil(2 * elapsed) + 1,
      `${ok} of 20 joins ok within ${elapsed} s (burst 5, rate 2/s)`)
    assert.ok(limited >= 10, `${limited} joins rate limited`)
    assert.ok(await rateLimited(app, "joins") >= limited)
  })
})

test("rate limit, connects: upgrades over --connect-rate/--connect-burst " +
  "get HTTP 429, counted in /metrics", {timeout: 30_000}, async () => {
  await withChat(["--connect-rate", "2", "--connect-burst", "5"],
    async app => {
      const token = await tokenFor(app, "alice")
      const t0 = Date.now()
      const results = []
      for (let i = 0; i < 20; i++)
        results.push(await tryUpgrade(app.wsUrl({token})))
      const elapsed = (Date.now() - t0) / 1000
      const opened = results.filter(r => r.open).length
      const refused = results.filter(r => r.status === 429).length
      assert.equal(opened + refused, results.length,
        `every upgrade opens or gets 429: ${JSON.stringify(results)}`)
      assert.ok(opened >= 1 && opened <= 5 + Math.ceil(2 * elapsed) + 1,
        `${opened} of 20 upgrades opened within ${elapsed} s ` +
        "(burst 5, rate 2/s)")
      assert.ok(refused >= 10, `${refused} upgrades refused with 429`)
      assert.ok(await rateLimited(app, "connects") >= refused)
    })
})

test("rate limit defaults do not bother a human: 10 pushes a second for " +
  "3 s all get ok", {timeout: 30_000}, async () => {
  await withChat([], async app => {
    const m = await lobbyMember(app, "human")
    const pending = []
    const start = Date.now()
    for (let i = 0; i < 30; i++) {
      // Paced sending (the load pattern under test), not synchronisation.
      const due = start + i * 100
      if (due > Date.now()) await measureFor(due - Date.now())
      pending.push(pushAndWait(m.chan.push("new_msg", {body: `hi ${i}`})))
    }
    const replies = await Promise.all(pending)
    const bad = replies.filter(r => r.status !== "ok")
    assert.deepEqual(bad, [], `${bad.length} of 30 pushes not ok`)
  })
})
