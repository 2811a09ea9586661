// Presence through the official `Presence` helper: the "room:*" channel
// tracks the connect param `user` with meta {online_at: "1795424107"} and
// pushes presence_state after each join; "update_meta" replaces the meta.
// Protocol doc section 7 and the appendix.

import {test, before, after, afterEach} from "node:test"
import assert from "node:assert/strict"
import {
  startServer, connectSocket, joinChannel, pushAndWait, recordMessages,
  closeAll, waitFor, Presence, RawClient,
} from "./helpers.mjs"

let server

before(async () => { server = await startServer() })
afterEach(async () => { await closeAll() })
after(async () => {
  await closeAll()
  await server?.stop()
})

const META = {online_at: "1795424107"}

/// Connects `user`, joins `topic` with a Presence helper attached.
async function member(user, topic, socketOpts = {}) {
  const socket = await connectSocket(server, {user}, socketOpts)
  const rec = recordMessages(socket)
  const chan = socket.channel(topic)
  const presence = new Presence(chan)
  const reply = await joinChannel(chan)
  assert.deepEqual(reply, {status: "ok", response: {joined: true}})
  return {socket, rec, chan, presence}
}

/// { key: [metas without phx_ref*] } sorted by key.
function view(presence) {
  const out = {}
  for (const [key, p] of presence.list((k, p) => [k, p]).sort())
    out[key] = p.metas.map(({phx_ref, phx_ref_prev, ...m}) => m)
  return out
}

function waitView(presence, expected, ms = 2000, what = "presence list") {
  const want = JSON.stringify(expected)
  return waitFor(() => JSON.stringify(view(presence)) === want, ms,
    `${what} = ${want}`).catch(e => {
    throw new Error(`${e.message}; got ${JSON.stringify(view(presence))}`)
  })
}

test("two users see each other; state is a push, diffs are broadcasts",
  async () => {
    const T = "room:pres_two"
    const alice = await member("alice", T)
    await waitView(alice.presence, {alice: [META]})
    const bob = await member("bob", T)
    await waitView(alice.presence, {alice: [META], bob: [META]})
    await waitView(bob.presence, {alice: [META], bob: [META]})
    const state = await bob.rec.wait(m => m.event === "presence_state")
    assert.equal(state.join_ref, bob.chan.joinRef())
    assert.equal(state.ref, null)
    for (const key of ["alice", "bob"]) {
      assert.equal(state.payload[key].metas.length, 1)
      assert.equal(typeof state.payload[key].metas[0].phx_ref, "string")
      assert.ok(state.payload[key].metas[0].phx_ref.length > 0)
    }
    assert.notEqual(state.payload.alice.metas[0].phx_ref,
      state.payload.bob.metas[0].phx_ref)
    // The joiner gets the diff of its own join too.
    await bob.rec.wait(m => m.event === "presence_diff" &&
      m.payload.joins.bob, 2000, "bob's own join diff")
    const diff = await alice.rec.wait(m => m.event === "presence_diff" &&
      m.payload.joins.bob, 2000, "a presence_diff for bob")
    assert.equal(diff.join_ref, null)
    assert.equal(diff.ref, null)
    assert.deepEqual(diff.payload.leaves, {})
    assert.deepEqual(diff.payload.joins.bob.metas,
      state.payload.bob.metas)
    // Leaving removes bob from alice's list.
    await pushAndWait(bob.chan.leave())
    await waitView(alice.presence, {alice: [META]})
  })

test("a killed socket leaves the other user's list within a second",
  async () => {
    const T = "room:pres_kill"
    const alice = await member("alice", T)
    // bob does not reconnect during the test.
    const bob = await member("bob", T, {reconnectAfterMs: () => 60_000})
    await waitView(alice.presence, {alice: [META], bob: [META]})
    const killed = Date.now()
    bob.socket.conn.terminate()
    await waitView(alice.presence, {alice: [META]}, 1000,
      "bob gone within 1 s")
    assert.ok(Date.now() - killed <= 1000)
  })

test("update_meta: one diff with the new meta (phx_ref_prev) and the old",
  async () => {
    const T = "room:pres_update"
    const alice = await member("alice", T)
    const bob = await member("bob", T)
    await waitView(bob.presence, {alice: [META], bob: [META]})
    // Let the diffs of both joins arrive first, so the update's diff is
    // not batched with them.
    for (const m of [alice, bob])
      await m.rec.wait(m => m.event === "presence_diff" &&
        m.payload.joins.bob, 2000, "the diff of bob's join")
    const since = bob.rec.log.length
    const oldRef = bob.presence.list((k, p) => k === "alice" ? p : null)
      .find(Boolean).metas[0].phx_ref
    assert.deepEqual(
      await pushAndWait(alice.chan.push("update_meta", {status: "away"})),
      {status: "ok", response: {}})
    for (const m of [alice, bob]) {
      await waitView(m.presence, {alice: [{status: "away"}], bob: [META]})
      const [pres] = m.presence.list((k, p) => k === "alice" ? p : null)
        .filter(Boolean)
      assert.equal(pres.metas.length, 1)
      assert.equal(pres.metas[0].phx_ref_prev, oldRef)
      assert.notEqual(pres.metas[0].phx_ref, oldRef)
    }
    const diff = await bob.rec.wait(m => m.event === "presence_diff" &&
      m.payload.joins.alice && m.payload.leaves.alice, 2000,
    "one diff with joins and leaves for alice", since)
    assert.deepEqual(diff.payload.leaves.alice.metas,
      [{...META, phx_ref: oldRef}])
    assert.equal(diff.payload.joins.alice.metas.length, 1)
    assert.equal(diff.payload.joins.alice.metas[0].phx_ref_prev, oldRef)
    assert.equal(diff.payload.joins.alice.metas[0].status, "away")
  })

test("two sockets of one user are one key with two metas", async () => {
  const T = "room:pres_multi"
  const watcher = await member("watcher", T)
  const a1 = await member("alice", T)
  const a2 = await member("alice", T)
  await waitView(watcher.presence,
    {alice: [META, META], watcher: [META]})
  const [pres] = watcher.presence.list((k, p) => k === "alice" ? p : null)
    .filter(Boolean)
  assert.notEqual(pres.metas[0].phx_ref, pres.metas[1].phx_ref)
  await waitView(a1.presence, {alice: [META, META], watcher: [META]})
  // One socket goes: one meta remains.
  a2.socket.disconnect()
  await waitView(watcher.presence, {alice: [META], watcher: [META]})
  await waitView(a1.presence, {alice: [META], watcher: [META]})
})

test("after a crash the client rejoins, gets a fresh state, keeps syncing",
  async () => {
    const T = "room:pres_crash"
    const alice = await member("alice", T)
    const bob = await member("bob", T)
    await waitView(alice.presence, {alice: [META], bob: [META]})
    const firstJoinRef = alice.chan.joinRef()
    const since = alice.rec.log.length
    alice.chan.push("crash", {})
    await alice.rec.wait(m => m.event === "phx_error", 2000, "phx_error")
    await waitFor(() => alice.chan.state === "joined" &&
      alice.chan.joinRef() !== firstJoinRef, 3000, "the rejoin")
    const state = await alice.rec.wait(m => m.event === "presence_state" &&
      m.join_ref === alice.chan.joinRef(), 2000,
    "presence_state for the new join", since)
    assert.deepEqual(Object.keys(state.payload).sort(), ["alice", "bob"])
    await waitView(alice.presence, {alice: [META], bob: [META]})
    await waitView(bob.presence, {alice: [META], bob: [META]})
    // Diffs after the rejoin are applied (not buffered forever).
    const carol = await member("carol", T)
    await waitView(alice.presence,
      {alice: [META], bob: [META], carol: [META]})
    carol.socket.disconnect()
    await waitView(alice.presence, {alice: [META], bob: [META]})
    await waitView(bob.presence, {alice: [META], bob: [META]})
  })

test("a duplicate join replaces the old presence (one meta remains)",
  async () => {
    const T = "room:pres_dup"
    const watcher = await member("watcher", T)
    const dup = await RawClient.connect(server, {user: "dup"})
    await dup.join(T, "1")
    await waitView(watcher.presence, {dup: [META], watcher: [META]})
    const dupMetas = () => (watcher.presence.list((k, p) => k === "dup"
      ? p : null).find(Boolean)?.metas ?? []).map(m => m.phx_ref)
    const [oldRef] = dupMetas()
    await dup.join(T, "5")
    await dup.take(f => f[3] === "phx_close" && f[0] === "1")
    // The old channel's meta leaves, the new one joins: one meta, and it
    // is the one in the new join's presence_state.
    const state = await dup.take(f => f[3] === "presence_state" &&
      f[0] === "5")
    const stateRefs = state[4].dup.metas.map(m => m.phx_ref)
    await waitFor(() => {
      const refs = dupMetas()
      return refs.length === 1 && refs[0] !== oldRef
    }, 2000, "the watcher to hold only the new meta").catch(e => {
      throw new Error(`${e.message}; old ${oldRef}, got ${dupMetas()}`)
    })
    // The dup client's own view (its presence_state plus the later
    // diffs, applied as the official helper does) converges to the new
    // meta only. (Phoenix's state would not list the old meta at all,
    // since the old channel is dead before the new join runs.)
    const ownView = () => {
      let st = Presence.syncState({}, structuredClone(state[4]))
      for (const f of dup.frames.slice(dup.indexOf(state) + 1))
        if (Array.isArray(f) && f[3] === "presence_diff")
          st = Presence.syncDiff(st, structuredClone(f[4]))
      return (st.dup?.metas ?? []).map(m => m.phx_ref)
    }
    await waitFor(() => JSON.stringify(ownView()) ===
      JSON.stringify(dupMetas()), 2000, "the dup client's own view").catch(
      e => { throw new Error(`${e.message}: ${ownView()} vs ${dupMetas()}; ` +
        `state ${stateRefs}`) })
  })

test("after a disconnect broadcast the user rejoins with a single meta",
  async () => {
    const T = "room:pres_disc"
    const watcher = await member("watcher", T)
    const dave = await member("dave", T)
    await waitView(watcher.presence, {dave: [META], watcher: [META]})
    const before = dave.chan.joinRef()
    // Reconnect the official client after the server closed it.
    const socket = await connectSocket(server, {user: "erin", id: "pd1"})
    const chan = socket.channel(T)
    const presence = new Presence(chan)
    await joinChannel(chan)
    await waitView(watcher.presence,
      {dave: [META], erin: [META], watcher: [META]})
    const firstJoinRef = chan.joinRef()
    assert.equal(await server.broadcast("users_socket:pd1", "disconnect",
      {}), 200)
    await waitFor(() => chan.state === "joined" &&
      chan.joinRef() !== firstJoinRef, 3000, "erin's rejoin")
    await waitView(watcher.presence,
      {dave: [META], erin: [META], watcher: [META]}, 2000,
      "erin once, with one meta")
    await waitView(presence, {dave: [META], erin: [META], watcher: [META]})
    assert.equal(dave.chan.joinRef(), before)
  })
