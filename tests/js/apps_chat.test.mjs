// fenix-chat against its contract (docs/apps.md "Common to both apps" and
// "Chat"), driven by the official phoenix client and raw `ws` clients.

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
useApp("chat", started => { app = started })

defineCommonTests("chat", () => app, () => "room:common")

// ---------------------------------------------------------------------------
// helpers

/// A user's socket joined to `topic` with a Presence helper attached.
async function member(user, topic, srv = app) {
  const {socket} = await connectUser(srv, user)
  const rec = recordMessages(socket)
  const chan = socket.channel(topic)
  const presence = new Presence(chan)
  const t0 = Date.now()
  const reply = await joinChannel(chan)
  const t1 = Date.now()
  assert.equal(reply.status, "ok", `${user} joins ${topic}: ` +
    JSON.stringify(reply))
  return {user, socket, rec, chan, presence, reply: reply.response, t0, t1}
}

/// {key: [metas without phx_ref, phx_ref_prev, online_at]} sorted by key.
function view(presence) {
  const out = {}
  for (const [key, p] of presence.list((k, p) => [k, p]).sort())
    out[key] = p.metas.map(({phx_ref, phx_ref_prev, online_at, ...m}) => m)
  return out
}

function waitView(presence, expected, ms = 2000, what = "presence list") {
  const want = JSON.stringify(expected)
  return waitFor(() => JSON.stringify(view(presence)) === want, ms,
    `${what} = ${want}`).catch(e => {
    throw new Error(`${e.message}; got ${JSON.stringify(view(presence))}`)
  })
}

/// A raw client of `user` joined to `topic` (join_ref = ref = "1").
async function rawMember(user, topic) {
  const raw = await RawClient.connect(app, {token: await tokenFor(app, user)})
  const reply = await raw.join(topic, "1")
  assert.equal(reply[4].status, "ok", JSON.stringify(reply))
  return raw
}

/// Waits until `m` got the presence_diff announcing its own join: diffs
/// are batched over a short window, so this lets earlier joins settle.
function ownJoinSeen(m, ms = 2000) {
  return m.rec.wait(x => x.topic === m.chan.topic &&
    x.event === "presence_diff" && x.payload.joins[m.user], ms,
  `${m.user}'s own join diff`)
}

const ID_RE = /\S/

function assertMessage(m, {user, body}, t0, t1) {
  assert.deepEqual(Object.keys(m).sort(), ["at", "body", "id", "offset", "user"],
    `message fields: ${JSON.stringify(m)}`)
  assert.equal(typeof m.id, "string")
  assert.match(m.id, ID_RE)
  assert.equal(m.user, user)
  assert.equal(m.body, body)
  assert.ok(Number.isInteger(m.at), `at is integer ms: ${m.at}`)
  if (t0 !== undefined)
    assert.ok(m.at >= t0 - 1000 && m.at <= t1 + 1000,
      `at ${m.at} is ms since the epoch, now (${t0}..${t1})`)
}

// ---------------------------------------------------------------------------
// rooms

test("chat: invalid room names are refused with invalid room", async () => {
  const raw = await RawClient.connect(app,
    {token: await tokenFor(app, "alice")})
  const bad = ["room:Lobby", "room:", `room:${"a".repeat(33)}`, "room:a b",
    "room:a/b", "room:a.b", "room:lobby:x", "room:é"]
  let ref = 1
  for (const topic of bad) {
    const r = String(ref++)
    const reply = await raw.join(topic, r)
    assert.deepEqual(reply[4],
      {status: "error", response: {reason: "invalid room"}}, topic)
  }
  // The longest and the odd-but-valid names work.
  for (const topic of [`room:${"a".repeat(32)}`, "room:a", "room:a_b-9"]) {
    const reply = await raw.join(topic, String(ref++))
    assert.equal(reply[4].status, "ok", `${topic}: ${JSON.stringify(reply)}`)
  }
})

test("chat: an empty room's join reply is {messages: [], epoch, offset: 0}", async () => {
  const a = await member("alice", "room:empty_one")
  assert.equal(typeof a.reply.epoch, "string")
  assert.deepEqual(a.reply, {messages: [], epoch: a.reply.epoch, offset: 0})
})

test("chat: join reply holds the last 50 messages, oldest first",
  async () => {
    const T = "room:history55"
    const a = await member("alice", T)
    const sent = []
    for (let i = 0; i < 55; i++) {
      const r = await pushAndWait(a.chan.push("new_msg", {body: `m${i}`}))
      assert.equal(r.status, "ok", JSON.stringify(r))
      sent.push({id: r.response.id, body: `m${i}`})
    }
    const b = await member("bob", T)
    const msgs = b.reply.messages
    assert.ok(Array.isArray(msgs))
    assert.equal(msgs.length, 50)
    assert.deepEqual(msgs.map(m => m.body), sent.slice(5).map(s => s.body))
    assert.deepEqual(msgs.map(m => m.id), sent.slice(5).map(s => s.id))
    for (const m of msgs) assertMessage(m, {user: "alice", body: m.body})
    assert.equal(new Set(msgs.map(m => m.id)).size, 50, "ids are unique")
    for (let i = 1; i < msgs.length; i++)
      assert.ok(msgs[i].at >= msgs[i - 1].at, "oldest first")
    // The sender's own rejoin sees the same.
    const a2 = await member("alice", T)
    assert.deepEqual(a2.reply.messages, msgs)
  })

// ---------------------------------------------------------------------------
// presence

test("chat: presence_state is pushed right after the join reply",
  async () => {
    const T = "room:pstate"
    const a = await member("alice", T)
    const state = await a.rec.wait(m => m.topic === T &&
      m.event === "presence_state", 2000, "presence_state")
    const onTopic = a.rec.log.filter(m => m.topic === T &&
      m.event !== "presence_diff")
    const replyIdx = onTopic.findIndex(m => m.event === "phx_reply" &&
      m.ref === a.chan.joinRef())
    assert.ok(replyIdx >= 0, "join reply seen")
    assert.equal(onTopic[replyIdx + 1], state,
      "presence_state is the next message after the join reply")
    assert.equal(state.join_ref, a.chan.joinRef(), "a push (join_ref set)")
    assert.equal(state.ref, null)
    assert.deepEqual(Object.keys(state.payload), ["alice"])
    const {metas} = state.payload.alice
    assert.equal(metas.length, 1)
    const meta = metas[0]
    assert.equal(typeof meta.phx_ref, "string")
    assert.ok(meta.phx_ref.length > 0)
    assert.equal(meta.typing, false)
    assert.equal(typeof meta.online_at, "number", "online_at is a number")
    assert.ok(meta.online_at >= a.t0 - 1000 && meta.online_at <= a.t1 + 1000,
      `online_at ${meta.online_at} is ms since the epoch (${a.t0}..${a.t1})`)
  })

test("chat: two users see each other through the Presence helper",
  async () => {
    const T = "room:ptwo"
    const a = await member("alice", T)
    await waitView(a.presence, {alice: [{typing: false}]})
    const b = await member("bob", T)
    const both = {alice: [{typing: false}], bob: [{typing: false}]}
    await waitView(a.presence, both, 2000, "alice's view")
    await waitView(b.presence, both, 2000, "bob's view")
    // The join reached alice as a presence_diff broadcast.
    const diff = await a.rec.wait(m => m.topic === T &&
      m.event === "presence_diff" && m.payload.joins.bob)
    assert.equal(diff.join_ref, null)
    assert.equal(diff.ref, null)
    assert.deepEqual(diff.payload.leaves, {})
    // bob leaves: alice sees a leave diff.
    await pushAndWait(b.chan.leave())
    await waitView(a.presence, {alice: [{typing: false}]}, 2000,
      "alice's view after bob left")
  })

test("chat: two tabs of one user are one key with two metas", async () => {
  const T = "room:ptabs"
  const b = await member("bob", T)
  const a1 = await member("alice", T)
  const a2 = await member("alice", T)
  const want = {alice: [{typing: false}, {typing: false}],
    bob: [{typing: false}]}
  await waitView(b.presence, want, 2000, "bob's view")
  await waitView(a1.presence, want, 2000, "alice tab 1's view")
  await waitView(a2.presence, want, 2000, "alice tab 2's view")
  const [, alice] = b.presence.list((k, p) => [k, p])
    .find(([k]) => k === "alice")
  const refs = alice.metas.map(m => m.phx_ref)
  assert.notEqual(refs[0], refs[1], "distinct phx_refs")
  // One tab closing leaves the other.
  a2.socket.disconnect()
  await waitView(b.presence, {alice: [{typing: false}],
    bob: [{typing: false}]}, 2000, "bob's view after one tab closed")
})

test("chat: a killed socket leaves presence within a second", async () => {
  const T = "room:pkill"
  const a = await member("alice", T)
  const raw = await rawMember("carol", T)
  await waitView(a.presence, {alice: [{typing: false}],
    carol: [{typing: false}]})
  raw.terminate()
  await waitView(a.presence, {alice: [{typing: false}]}, 1000,
    "carol gone within 1 s of her socket dying")
})

// ---------------------------------------------------------------------------
// messages

test("chat: new_msg replies {id} and reaches every member, sender included",
  async () => {
    const T = "room:msgs"
    const a = await member("alice", T)
    const b = await member("bob", T)
    const gotA = a.rec.wait(m => m.topic === T && m.event === "new_msg",
      2000, "alice's new_msg")
    const gotB = b.rec.wait(m => m.topic === T && m.event === "new_msg",
      2000, "bob's new_msg")
    const t0 = Date.now()
    const r = await pushAndWait(a.chan.push("new_msg", {body: "hello bob"}))
    const t1 = Date.now()
    assert.equal(r.status, "ok", JSON.stringify(r))
    assert.deepEqual(Object.keys(r.response), ["id"])
    assert.equal(typeof r.response.id, "string")
    const [ma, mb] = await Promise.all([gotA, gotB])
    for (const m of [ma, mb]) {
      assert.equal(m.ref, null, "a broadcast has no ref")
      assertMessage(m.payload, {user: "alice", body: "hello bob"}, t0, t1)
      assert.equal(m.payload.id, r.response.id, "same id as the reply")
    }
    assert.deepEqual(ma.payload, mb.payload)
    // Distinct messages get distinct ids; bodies are kept as sent.
    const r2 = await pushAndWait(b.chan.push("new_msg",
      {body: "  héllo 👋 <b>x</b>  "}))
    assert.equal(r2.status, "ok")
    assert.notEqual(r2.response.id, r.response.id)
    const m2 = await a.rec.wait(m => m.event === "new_msg" &&
      m.payload.id === r2.response.id)
    assert.equal(m2.payload.user, "bob")
    assert.equal(m2.payload.body, "  héllo 👋 <b>x</b>  ")
  })

test("chat: a member gets every message sent after its join reply " +
  "(200 fresh joins)", async () => {
  // Each round: bob joins a fresh room; once bob has the join reply, alice
  // sends a message; bob must get it (the subscription must be in place
  // before the join reply goes out, as in Phoenix).
  const alice = await RawClient.connect(app,
    {token: await tokenFor(app, "alice")})
  const tb = await tokenFor(app, "bob")
  const misses = []
  for (let i = 0; i < 200; i++) {
    const T = `room:sub_race${i}`
    const ar = `j${i}`
    assert.equal((await alice.join(T, ar))[4].status, "ok")
    const bob = await RawClient.connect(app, {token: tb})
    assert.equal((await bob.join(T, "1"))[4].status, "ok")
    alice.send([ar, `m${i}`, T, "new_msg", {body: `n${i}`}])
    assert.equal((await alice.reply(`m${i}`))[4].status, "ok")
    await alice.take(f => f[2] === T && f[3] === "new_msg", 2000,
      "alice's own broadcast")
    try {
      await bob.take(f => f[2] === T && f[3] === "new_msg", 1000,
        "bob's broadcast")
    } catch {
      misses.push(`round ${i}: bob got ${bob.dump()}`)
    }
    bob.terminate()
    alice.send([ar, `l${i}`, T, "phx_leave", {}])
    await alice.reply(`l${i}`)
  }
  assert.deepEqual(misses, [], `${misses.length}/200 broadcasts lost`)
})

test("chat: invalid bodies are refused, not broadcast, not stored",
  async () => {
    const T = "room:badbody"
    const a = await member("alice", T)
    const b = await member("bob", T)
    const bad = [["missing", {}], ["a number", {body: 42}],
      ["null", {body: null}], ["an array", {body: ["hi"]}],
      ["an object", {body: {text: "hi"}}], ["empty", {body: ""}],
      ["spaces", {body: "   "}], ["whitespace", {body: " \t\n\r "}],
      ["2001 chars", {body: "x".repeat(2001)}],
      ["2001 accented chars", {body: "é".repeat(2001)}]]
    const watch = expectNone(b.rec, m => m.topic === T &&
      m.event === "new_msg", 600)
    for (const [what, payload] of bad) {
      const r = await pushAndWait(a.chan.push("new_msg", payload))
      assert.deepEqual(r, {status: "error", response: {reason: "invalid body"}},
        what)
    }
    await watch
    assert.equal(a.chan.state, "joined", "still joined after the errors")
    // 2000 characters is fine (also counted as characters, not bytes).
    for (const body of ["y".repeat(2000), "é".repeat(2000)]) {
      const ok = await pushAndWait(a.chan.push("new_msg", {body}))
      assert.equal(ok.status, "ok", JSON.stringify(ok).slice(0, 200))
      const got = await b.rec.wait(m => m.event === "new_msg" &&
        m.payload.id === ok.response.id)
      assert.equal(got.payload.body, body)
    }
    const c = await member("carol", T)
    assert.deepEqual(c.reply.messages.map(m => m.body),
      ["y".repeat(2000), "é".repeat(2000)], "only the valid ones stored")
  })

// ---------------------------------------------------------------------------
// typing

test("chat: typing updates this socket's meta with one presence_diff",
  async () => {
    const T = "room:typing"
    const a = await member("alice", T)
    const b = await member("bob", T)
    await waitView(b.presence, {alice: [{typing: false}],
      bob: [{typing: false}]})
    await ownJoinSeen(b)
    const state = await a.rec.wait(m => m.topic === T &&
      m.event === "presence_state")
    const old = state.payload.alice.metas[0]

    const since = b.rec.log.length
    const r = await pushAndWait(a.chan.push("typing", {typing: true}))
    assert.equal(r.status, "ok", JSON.stringify(r))
    assert.deepEqual(r.response, {})
    const diff = await b.rec.wait(m => m.topic === T &&
      m.event === "presence_diff" && m.payload.joins.alice, 2000,
    "the typing diff", since)
    // (Diffs may be batched with other keys' changes; alice's part is
    // exactly one leave of the old meta and one join of the new one.)
    assert.ok(diff.payload.leaves.alice,
      `the old meta leaves in the same diff: ${JSON.stringify(diff)}`)
    assert.deepEqual(diff.payload.leaves.alice.metas, [old])
    const [nu] = diff.payload.joins.alice.metas
    assert.equal(diff.payload.joins.alice.metas.length, 1)
    assert.equal(nu.typing, true)
    assert.equal(nu.phx_ref_prev, old.phx_ref)
    assert.notEqual(nu.phx_ref, old.phx_ref)
    assert.equal(nu.online_at, old.online_at)
    await waitView(b.presence, {alice: [{typing: true}],
      bob: [{typing: false}]}, 2000, "bob sees alice typing")
    await waitView(a.presence, {alice: [{typing: true}],
      bob: [{typing: false}]}, 2000, "alice sees herself typing")

    const since2 = b.rec.log.length
    const r2 = await pushAndWait(a.chan.push("typing", {typing: false}))
    assert.deepEqual(r2, {status: "ok", response: {}})
    const diff2 = await b.rec.wait(m => m.topic === T &&
      m.event === "presence_diff" && m.payload.joins.alice, 2000,
    "the stop-typing diff", since2)
    assert.deepEqual(diff2.payload.leaves.alice.metas, [nu])
    assert.equal(diff2.payload.joins.alice.metas[0].typing, false)
    assert.equal(diff2.payload.joins.alice.metas[0].phx_ref_prev, nu.phx_ref)
    await waitView(b.presence, {alice: [{typing: false}],
      bob: [{typing: false}]}, 2000, "bob sees alice stop typing")
  })

test("chat: typing touches only the meta of the socket that sent it",
  async () => {
    const T = "room:typing_tabs"
    const b = await member("bob", T)
    const a1 = await member("alice", T)
    const a2 = await member("alice", T)
    await waitView(b.presence, {alice: [{typing: false}, {typing: false}],
      bob: [{typing: false}]})
    const r = await pushAndWait(a2.chan.push("typing", {typing: true}))
    assert.equal(r.status, "ok")
    await waitFor(() => {
      const metas = b.presence.list((k, p) => k === "alice" ? p.metas : null)
        .find(Boolean)
      return metas && metas.length === 2 &&
        metas.filter(m => m.typing === true).length === 1 &&
        metas.filter(m => m.typing === false).length === 1
    }, 2000, "alice: one tab typing, one not").catch(e => {
      throw new Error(`${e.message}; got ${JSON.stringify(view(b.presence))}`)
    })
  })

test("chat: a typing value that is not a boolean is refused", async () => {
  const T = "room:typing_bad"
  const a = await member("alice", T)
  const b = await member("bob", T)
  await waitView(b.presence, {alice: [{typing: false}],
    bob: [{typing: false}]})
  await ownJoinSeen(b)
  const watch = expectNone(b.rec, m => m.topic === T &&
    m.event === "presence_diff", 600)
  for (const payload of [{typing: "yes"}, {typing: 1}, {typing: null},
    {typing: "true"}, {}]) {
    const r = await pushAndWait(a.chan.push("typing", payload))
    assert.deepEqual(r, {status: "error",
      response: {reason: "invalid typing"}}, JSON.stringify(payload))
  }
  await watch
  assert.deepEqual(view(b.presence), {alice: [{typing: false}],
    bob: [{typing: false}]})
})

test("chat: an unknown event is refused and the channel stays joined",
  async () => {
    const T = "room:unknown"
    const a = await member("alice", T)
    for (const event of ["shout", "presence_diff", "new_message"]) {
      const r = await pushAndWait(a.chan.push(event, {body: "x"}))
      assert.deepEqual(r, {status: "error",
        response: {reason: "unknown event"}}, event)
    }
    assert.equal(a.chan.state, "joined")
    const ok = await pushAndWait(a.chan.push("new_msg", {body: "still here"}))
    assert.equal(ok.status, "ok")
    await a.rec.wait(m => m.event === "new_msg" &&
      m.payload.id === ok.response.id, 2000, "the broadcast after the error")
  })

// ---------------------------------------------------------------------------
// storage

test("chat: a restarted server with the same db keeps the history",
  async () => {
    const db = tempDb("chat-restart")
    const T = "room:persist"
    let srv = await startApp("chat", {db})
    let sent
    try {
      const a = await member("alice", T, srv)
      sent = []
      for (const body of ["first", "second", "third"]) {
        const r = await pushAndWait(a.chan.push("new_msg", {body}))
        assert.equal(r.status, "ok")
        sent.push(r.response.id)
      }
      const live = (await member("bob", T, srv)).reply.messages
      await closeAll()
      assert.deepEqual(await srv.stop(), {code: 0, signal: null},
        `first run exit; stderr: ${srv.stderr}`)
      srv = await startApp("chat", {db})
      const b = await member("bob", T, srv)
      assert.deepEqual(b.reply.messages, live,
        "same messages (ids, users, bodies, times) after the restart")
      assert.deepEqual(b.reply.messages.map(m => m.id), sent)
    } finally {
      await closeAll()
      const exit = await srv.stop()
      assert.deepEqual(exit, {code: 0, signal: null},
        `second run exit; stderr: ${srv.stderr}`)
    }
  })
