// fenix-pointing against its contract (docs/apps.md "Common to all apps" and
// "Pointing party"), driven by the official phoenix client.

import {test} from "node:test"
import assert from "node:assert/strict"
import {
  joinChannel, pushAndWait, recordMessages, closeAll, waitFor, expectNone,
  Presence, RawClient,
} from "./helpers.mjs"
import {
  useApp, startApp, tempDb, tokenFor, connectUser, defineCommonTests,
} from "./app_helpers.mjs"

let app
useApp("pointing", started => { app = started })

defineCommonTests("pointing", () => app, () => "room:common")

// ---------------------------------------------------------------------------
// helpers

let roomSeq = 0
const freshRoom = () => `room:r${process.pid}_${roomSeq++}`

/// A user's socket joined to `topic` with a Presence helper attached.
async function member(user, topic, srv = app, socket = null) {
  if (!socket) socket = (await connectUser(srv, user)).socket
  const rec = recordMessages(socket)
  const chan = socket.channel(topic)
  const presence = new Presence(chan)
  const reply = await joinChannel(chan)
  assert.equal(reply.status, "ok", `${user} joins ${topic}: ` +
    JSON.stringify(reply))
  return {user, socket, rec, chan, presence, reply: reply.response}
}

/// {user: [state of each meta]} sorted by user.
function states(presence) {
  const out = {}
  for (const [key, p] of presence.list((k, p) => [k, p]).sort())
    out[key] = p.metas.map(m => m.state).sort()
  return out
}

function waitStates(presence, expected, ms = 2000, what = "presence") {
  const want = JSON.stringify(expected)
  return waitFor(() => JSON.stringify(states(presence)) === want, ms,
    `${what} = ${want}`).catch(e => {
    throw new Error(`${e.message}; got ${JSON.stringify(states(presence))}`)
  })
}

async function ok(m, event, payload) {
  const r = await pushAndWait(m.chan.push(event, payload))
  assert.deepEqual(r.status, "ok", `${m.user} ${event} ` +
    `${JSON.stringify(payload)}: ${JSON.stringify(r)}`)
  return r.response
}

async function refused(m, event, payload, reason) {
  const r = await pushAndWait(m.chan.push(event, payload))
  assert.deepEqual(r, {status: "error", response: {reason}},
    `${m.user} ${event} ${JSON.stringify(payload)}`)
}

const isDiff = m => x => x.topic === m.chan.topic &&
  x.event === "presence_diff"
const revealedOn = m => x => x.topic === m.chan.topic &&
  x.event === "votes_revealed"

/// The next votes_revealed `m` receives after position `since`.
function nextReveal(m, since, ms = 2000) {
  return m.rec.wait(revealedOn(m), ms, `${m.user}'s votes_revealed`, since)
    .then(x => x.payload)
}

/// Everything in `log` mentions no points: votes are private.
function assertNoPoints(log, what) {
  for (const x of log) {
    if (x.event === "votes_revealed") continue
    assert.doesNotMatch(JSON.stringify(x.payload), /points/, what)
  }
}

// ---------------------------------------------------------------------------
// join

test("pointing: invalid room names are refused with invalid room",
  async () => {
    const raw = await RawClient.connect(app,
      {token: await tokenFor(app, "alice")})
    let ref = 1
    for (const topic of ["room:Lobby", "room:", `room:${"a".repeat(33)}`,
      "room:a b", "room:a.b", "room:é"]) {
      const reply = await raw.join(topic, String(ref++))
      assert.deepEqual(reply[4],
        {status: "error", response: {reason: "invalid room"}}, topic)
    }
    const reply = await raw.join(`room:${"a".repeat(32)}`, String(ref++))
    assert.equal(reply[4].status, "ok", JSON.stringify(reply))
  })

test("pointing: an empty room's join reply, then presence_state with " +
  "phx_ref, online_at and state voting", async () => {
  const T = freshRoom()
  const t0 = Date.now()
  const a = await member("alice", T)
  assert.deepEqual(a.reply, {ticket: null, voted: []})
  const state = await a.rec.wait(x => x.topic === T &&
    x.event === "presence_state", 2000, "presence_state")
  const i = a.rec.log.findIndex(x => x.topic === T && x.event === "phx_reply")
  const j = a.rec.log.indexOf(state)
  assert.ok(i >= 0 && j > i, "presence_state after the join reply")
  assert.deepEqual(a.rec.log.slice(i + 1, j).filter(x => x.topic === T &&
    x.event !== "presence_diff"), [],
  "presence_state follows the join reply (diffs may come first)")
  const metas = state.payload.alice.metas
  assert.equal(metas.length, 1)
  assert.deepEqual(Object.keys(metas[0]).sort(),
    ["online_at", "phx_ref", "state"])
  assert.equal(metas[0].state, "voting")
  assert.ok(Number.isInteger(metas[0].online_at) &&
    metas[0].online_at >= t0 - 1000 && metas[0].online_at <= Date.now() + 1000,
  `online_at is ms: ${metas[0].online_at}`)
  assert.equal(typeof metas[0].phx_ref, "string")
})

// ---------------------------------------------------------------------------
// tickets

test("pointing: set_ticket validates the title (1-200 chars)", async () => {
  const a = await member("alice", freshRoom())
  for (const p of [{}, {title: ""}, {title: 5}, {title: null},
    {title: ["x"]}, {title: "x".repeat(201)}, {title: "é".repeat(201)}])
    await refused(a, "set_ticket", p, "invalid title")
  await ok(a, "set_ticket", {title: "x".repeat(200)})
  await ok(a, "set_ticket", {title: "é".repeat(200)})
  await ok(a, "set_ticket", {title: "a"})
})

test("pointing: set_ticket broadcasts ticket {title, by}, clears votes and " +
  "sets every state back to voting", async () => {
  const T = freshRoom()
  const a = await member("alice", T)
  const b = await member("bob", T)
  const c = await member("carol", T)
  const since = b.rec.log.length
  await ok(a, "set_ticket", {title: "Login page"})
  for (const m of [a, b, c]) {
    const t = await m.rec.wait(x => x.topic === T && x.event === "ticket",
      2000, `${m.user}'s ticket`)
    assert.deepEqual(t.payload, {title: "Login page", by: "alice"})
  }
  await ok(a, "vote", {points: 3})
  await ok(b, "vote", {points: 5})
  await waitStates(c.presence,
    {alice: ["voted"], bob: ["voted"], carol: ["voting"]})
  await ok(b, "set_ticket", {title: "Search"})
  const t = await c.rec.wait(x => x.topic === T && x.event === "ticket" &&
    x.payload.title === "Search", 2000, "the second ticket")
  assert.deepEqual(t.payload, {title: "Search", by: "bob"})
  await waitStates(c.presence,
    {alice: ["voting"], bob: ["voting"], carol: ["voting"]})
  // The old votes are gone: a late joiner sees none, and carol's vote
  // alone does not reveal (alice and bob have not voted this round).
  const d = await member("dave", T)
  assert.deepEqual(d.reply, {ticket: {title: "Search", by: "bob"}, voted: []})
  assert.ok(b.rec.log.length > since)
})

// ---------------------------------------------------------------------------
// votes

test("pointing: vote validates points and needs a ticket", async () => {
  const a = await member("alice", freshRoom())
  await refused(a, "vote", {points: 5}, "no ticket")
  await ok(a, "set_ticket", {title: "T"})
  for (const p of [{}, {points: 4}, {points: "5"}, {points: 5.5},
    {points: -1}, {points: null}, {points: true}, {points: 34},
    {points: [5]}])
    await refused(a, "vote", p, "invalid points")
  for (const points of [0, 1, 2, 3, 5, 8, 13, 21])
    await ok(a, "vote", {points})
})

test("pointing: a vote changes the voter's meta once (one presence_diff), " +
  "never shows the points; voting again replaces it", async () => {
  const T = freshRoom()
  const a = await member("alice", T)
  const b = await member("bob", T)
  await waitStates(a.presence, {alice: ["voting"], bob: ["voting"]})
  await ok(a, "set_ticket", {title: "T"})
  // Let bob's join diff pass before counting.
  await a.rec.wait(x => isDiff(a)(x) && x.payload.joins.bob, 2000,
    "bob's join diff")
  const since = b.rec.log.length
  await ok(b, "vote", {points: 8})
  await waitStates(a.presence, {alice: ["voting"], bob: ["voted"]})
  await waitStates(b.presence, {alice: ["voting"], bob: ["voted"]})
  await ok(b, "vote", {points: 13})  // replaces: no state change
  await expectNone(b.rec, isDiff(b), 300)
  const diffs = b.rec.log.slice(since).filter(isDiff(b))
  assert.equal(diffs.length, 1, `one presence_diff: ${JSON.stringify(diffs)}`)
  assert.equal(diffs[0].payload.joins.bob.metas[0].state, "voted")
  assert.equal(diffs[0].payload.leaves.bob.metas[0].state, "voting")
  assertNoPoints(a.rec.log, "alice sees no points")
  assertNoPoints(b.rec.log, "bob sees no points")
  // alice's vote makes everyone voted: bob's second vote is the one shown.
  const at = a.rec.log.length
  await ok(a, "vote", {points: 13})
  const r = await nextReveal(a, at)
  assert.deepEqual(r.votes, {alice: 13, bob: 13})
})

test("pointing: two tabs are one key; a vote from either turns every meta " +
  "voted", async () => {
  const T = freshRoom()
  const {socket: s1} = await connectUser(app, "alice")
  const {socket: s2} = await connectUser(app, "alice")
  const a1 = await member("alice", T, app, s1)
  const a2 = await member("alice", T, app, s2)
  const b = await member("bob", T)
  await waitStates(b.presence,
    {alice: ["voting", "voting"], bob: ["voting"]})
  await ok(a1, "set_ticket", {title: "T"})
  await ok(a2, "vote", {points: 2})
  await waitStates(b.presence, {alice: ["voted", "voted"], bob: ["voting"]})
  await waitStates(a1.presence, {alice: ["voted", "voted"], bob: ["voting"]})
  // alice counts once: bob's vote reveals, with one vote for alice.
  const at = a1.rec.log.length
  await ok(b, "vote", {points: 3})
  const r = await nextReveal(a1, at)
  assert.deepEqual(r.votes, {alice: 2, bob: 3})
  // Closing one tab keeps alice (and her vote) in the room.
  a2.socket.disconnect()
  await waitStates(b.presence, {alice: ["voted"], bob: ["voted"]})
  const c = await member("carol", T)
  assert.deepEqual(c.reply.voted, ["alice", "bob"])
})

// ---------------------------------------------------------------------------
// reveal

test("pointing: votes reveal when every member present has voted, with " +
  "min, max, 2-decimal average and consensus", async () => {
  const T = freshRoom()
  const a = await member("alice", T)
  const b = await member("bob", T)
  const c = await member("carol", T)
  await ok(a, "set_ticket", {title: "T"})
  const at = [a, b, c].map(m => m.rec.log.length)
  await ok(a, "vote", {points: 3})
  await ok(b, "vote", {points: 5})
  await expectNone(a.rec, revealedOn(a), 200)
  await ok(c, "vote", {points: 8})
  const want = {votes: {alice: 3, bob: 5, carol: 8},
    summary: {min: 3, max: 8, average: 5.33, consensus: false}}
  for (const [i, m] of [a, b, c].entries())
    assert.deepEqual(await nextReveal(m, at[i]), want, `${m.user}'s reveal`)
  // Consensus on the next ticket.
  await ok(b, "set_ticket", {title: "U"})
  const at2 = a.rec.log.length
  for (const m of [a, b, c]) await ok(m, "vote", {points: 5})
  assert.deepEqual(await nextReveal(a, at2), {
    votes: {alice: 5, bob: 5, carol: 5},
    summary: {min: 5, max: 5, average: 5, consensus: true}})
})

test("pointing: reveal {} shows the votes so far; with none: no votes; " +
  "again: votes_revealed again", async () => {
  const T = freshRoom()
  const a = await member("alice", T)
  const b = await member("bob", T)
  await refused(a, "reveal", {}, "no votes")
  await ok(a, "set_ticket", {title: "T"})
  await refused(b, "reveal", {}, "no votes")
  await ok(a, "vote", {points: 1})
  await ok(a, "vote", {points: 2})
  let at = b.rec.log.length
  await ok(b, "reveal", {})
  const want = {votes: {alice: 2},
    summary: {min: 2, max: 2, average: 2, consensus: true}}
  assert.deepEqual(await nextReveal(b, at), want)
  at = b.rec.log.length
  await ok(a, "reveal", {})
  assert.deepEqual(await nextReveal(b, at), want, "revealed again")
  await ok(a, "set_ticket", {title: "U"})
  await refused(a, "reveal", {}, "no votes")
})

test("pointing: unknown events are refused; the channel stays joined",
  async () => {
    const a = await member("alice", freshRoom())
    await refused(a, "shout", {}, "unknown event")
    await refused(a, "new_msg", {body: "hi"}, "unknown event")
    await ok(a, "set_ticket", {title: "still here"})
  })

// ---------------------------------------------------------------------------
// leaving

test("pointing: a member leaving when everyone else voted triggers the " +
  "reveal; a member whose socket dies too", async () => {
  const T = freshRoom()
  const a = await member("alice", T)
  const b = await member("bob", T)
  const c = await member("carol", T)
  await ok(a, "set_ticket", {title: "T"})
  await ok(a, "vote", {points: 8})
  await ok(b, "vote", {points: 3})
  let at = a.rec.log.length
  await pushAndWait(c.chan.leave())
  assert.deepEqual(await nextReveal(a, at), {votes: {alice: 8, bob: 3},
    summary: {min: 3, max: 8, average: 5.5, consensus: false}})
  // Socket death: dave joins, alice re-votes on a new ticket, dave dies.
  await ok(a, "set_ticket", {title: "U"})
  const d = await member("dave", T)
  await ok(a, "vote", {points: 1})
  await ok(b, "vote", {points: 1})
  at = a.rec.log.length
  d.socket.disconnect()
  const r = await nextReveal(a, at)
  assert.deepEqual(r.votes, {alice: 1, bob: 1})
})

test("pointing: a leaver's vote is discarded", async () => {
  const T = freshRoom()
  const a = await member("alice", T)
  const b = await member("bob", T)
  const c = await member("carol", T)
  await ok(a, "set_ticket", {title: "T"})
  await ok(a, "vote", {points: 21})
  await ok(b, "vote", {points: 2})
  await pushAndWait(a.chan.leave())
  await waitStates(c.presence, {bob: ["voted"], carol: ["voting"]})
  const at = c.rec.log.length
  await ok(c, "vote", {points: 3})
  assert.deepEqual(await nextReveal(c, at), {votes: {bob: 2, carol: 3},
    summary: {min: 2, max: 3, average: 2.5, consensus: false}})
})

test("pointing: a room that empties keeps its ticket", async () => {
  const T = freshRoom()
  const a = await member("alice", T)
  await ok(a, "set_ticket", {title: "Keep me"})
  await ok(a, "vote", {points: 5})
  await pushAndWait(a.chan.leave())
  const b = await member("bob", T)
  assert.deepEqual(b.reply, {ticket: {title: "Keep me", by: "alice"},
    voted: []})
})

test("pointing: a member joining mid-round sees the ticket and who voted, " +
  "not the votes", async () => {
  const T = freshRoom()
  const a = await member("alice", T)
  const b = await member("bob", T)
  await ok(a, "set_ticket", {title: "Mid"})
  await ok(b, "vote", {points: 13})
  const c = await member("carol", T)
  assert.deepEqual(c.reply, {ticket: {title: "Mid", by: "alice"},
    voted: ["bob"]})
  await waitStates(c.presence,
    {alice: ["voting"], bob: ["voted"], carol: ["voting"]})
  assertNoPoints(c.rec.log, "carol sees no points")
  await expectNone(c.rec, revealedOn(c), 200)
})

// ---------------------------------------------------------------------------
// storage

test("pointing: a restarted server with the same db keeps ticket, votes " +
  "and the reveal", async () => {
  const db = tempDb("pointing-restart")
  const T = "room:persist"
  const R = "room:persist_revealed"
  let srv = await startApp("pointing", {db})
  try {
    const a = await member("alice", T, srv)
    const b = await member("bob", T, srv)
    await ok(a, "set_ticket", {title: "Before restart"})
    await ok(a, "vote", {points: 8})
    const x = await member("xavier", R, srv)
    await ok(x, "set_ticket", {title: "Done"})
    await ok(x, "vote", {points: 3})
    assert.ok(b)
    // Stopped with everyone still connected: their leaving is the
    // server's doing and discards nothing.
    assert.deepEqual(await srv.stop(), {code: 0, signal: null},
      `first run exit; stderr: ${srv.stderr}`)
    await closeAll()
    srv = await startApp("pointing", {db})
    const b2 = await member("bob", T, srv)
    assert.deepEqual(b2.reply, {ticket: {title: "Before restart",
      by: "alice"}, voted: ["alice"]})
    const a2 = await member("alice", T, srv)
    await waitStates(b2.presence, {alice: ["voted"], bob: ["voting"]})
    const at = a2.rec.log.length
    await ok(b2, "vote", {points: 5})
    assert.deepEqual((await nextReveal(a2, at)).votes, {alice: 8, bob: 5})
    // A revealed room is still revealed: a joiner is shown the result.
    const y = await member("yvonne", R, srv)
    assert.deepEqual(y.reply, {ticket: {title: "Done", by: "xavier"},
      voted: ["xavier"]})
    assert.deepEqual((await nextReveal(y, 0)).votes, {xavier: 3})
  } finally {
    await closeAll()
    const exit = await srv.stop()
    assert.deepEqual(exit, {code: 0, signal: null},
      `second run exit; stderr: ${srv.stderr}`)
  }
})

test("pointing: a room emptied and re-entered at once keeps one state " +
  "(the idle room goes only when no join is on its way)", async () => {
  const T = freshRoom()
  const a = await member("alice", T)
  await ok(a, "set_ticket", {title: "Churn"})
  await ok(a, "vote", {points: 1})
  const {socket: s} = await connectUser(app, "bob")
  for (let i = 0; i < 15; i++) {
    // bob joins while alice's previous channel is still leaving.
    const leaving = pushAndWait(a.chan.leave())
    a.chan = s.channel(T)
    const r = await joinChannel(a.chan)
    assert.equal(r.status, "ok", JSON.stringify(r))
    assert.equal(r.response.ticket?.title, "Churn", JSON.stringify(r))
    await leaving
    a.user = "bob"
  }
  await ok(a, "vote", {points: 2})
  const c = await member("carol", T)
  assert.deepEqual(c.reply, {ticket: {title: "Churn", by: "alice"},
    voted: ["bob"]})
})
