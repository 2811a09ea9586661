// fenix-timer against its contract (docs/apps.md "Common to both apps" and
// "Timer"), driven by the official phoenix client and raw `ws` clients.

import {test} from "node:test"
import assert from "node:assert/strict"
import {
  joinChannel, pushAndWait, recordMessages, closeAll, expectNone, RawClient,
} from "./helpers.mjs"
import {
  useApp, startApp, tempDb, tokenFor, connectUser, defineCommonTests,
} from "./app_helpers.mjs"

let app
useApp("timer", started => { app = started })

defineCommonTests("timer", () => app, user => `timers:${user}`)

// ---------------------------------------------------------------------------
// helpers

// Each timer test gets its own server (":memory:" db), so that a server
// that breaks in one test does not fail the others; the test also fails
// if that server does not exit 0 on SIGTERM.
let current = null

function ttest(name, fn) {
  test(name, async () => {
    const srv = current = await startApp("timer")
    let failure = null
    try {
      await fn(srv)
    } catch (e) {
      failure = e
    }
    await closeAll()
    const exit = await srv.stop(3000)
    current = null
    if (failure) {
      if (exit.code !== 0)
        failure.message += `\n(and the server's exit status on SIGTERM was ` +
          `${JSON.stringify(exit)}; stderr: ${srv.stderr.slice(-500)})`
      throw failure
    }
    assert.deepEqual(exit, {code: 0, signal: null},
      `exit status on SIGTERM; stderr: ${srv.stderr.slice(-500)}`)
  })
}

/// A socket of `user` joined to timers:USER; {socket, rec, chan, reply}.
async function device(user, srv = current ?? app) {
  const {socket} = await connectUser(srv, user)
  const rec = recordMessages(socket)
  const chan = socket.channel(`timers:${user}`)
  const reply = await joinChannel(chan)
  assert.equal(reply.status, "ok", `${user} joins: ${JSON.stringify(reply)}`)
  return {user, socket, rec, chan, reply: reply.response}
}

const push = (d, event, payload) => pushAndWait(d.chan.push(event, payload))

/// Starts a timer, asserts ok, resolves its id.
async function startTimer(d, payload) {
  const r = await push(d, "timers:start", payload)
  assert.equal(r.status, "ok", `start ${JSON.stringify(payload)}: ` +
    JSON.stringify(r))
  assert.deepEqual(Object.keys(r.response), ["id"])
  assert.equal(typeof r.response.id, "string")
  assert.ok(r.response.id.length > 0)
  return r.response.id
}

/// The next broadcast `event` about timer `id` (already received or not).
function event(d, name, id, ms = 2000, since = 0) {
  return d.rec.wait(m => m.topic === d.chan.topic && m.event === name &&
    m.payload && m.payload.id === id, ms, `${name} for ${id}`, since)
    .then(m => {
      assert.equal(m.ref, null, `${name} is a broadcast`)
      return m.payload
    })
}

function assertTimer(t, expected) {
  assert.deepEqual(Object.keys(t).sort(),
    ["duration", "id", "label", "remaining_time", "status"],
    `timer fields: ${JSON.stringify(t)}`)
  assert.ok(Number.isInteger(t.remaining_time), "whole seconds")
  assert.ok(Number.isInteger(t.duration), "whole seconds")
  for (const [k, v] of Object.entries(expected))
    if (typeof v === "function") assert.ok(v(t[k]), `${k}: ${t[k]}`)
    else assert.equal(t[k], v, `${k} of ${JSON.stringify(t)}`)
}

const OK_EMPTY = {status: "ok", response: {}}
const err = reason => ({status: "error", response: {reason}})

// ---------------------------------------------------------------------------
// joining

ttest("timer: only the user may join timers:USERNAME", async () => {
  const raw = await RawClient.connect(current,
    {token: await tokenFor(current, "alice")})
  let ref = 1
  for (const topic of ["timers:bob", "timers:Alice", "timers:", "timers:alice2",
    "timers:alice:x"]) {
    const reply = await raw.join(topic, String(ref++))
    assert.deepEqual(reply[4], {status: "error",
      response: {reason: "unauthorized"}}, topic)
  }
  const ok = await raw.join("timers:alice", String(ref++))
  assert.equal(ok[4].status, "ok", JSON.stringify(ok))
})

ttest("timer: a new user's join reply is {timers: []}", async () => {
  const d = await device("fresh_user")
  assert.deepEqual(d.reply, {timers: []})
})

// ---------------------------------------------------------------------------
// start

ttest("timer: start replies {id} and broadcasts timers:started", async () => {
  const d = await device("starter")
  const id = await startTimer(d, {duration: 60, label: "tea"})
  const t = await event(d, "timers:started", id)
  assert.deepEqual(t, {id, label: "tea", duration: 60, remaining_time: 60,
    status: "running"})
  // Without a label, with the extreme durations.
  const id1 = await startTimer(d, {duration: 1})
  assertTimer(await event(d, "timers:started", id1), {id: id1, duration: 1,
    remaining_time: 1, status: "running", label: l => typeof l === "string"})
  const idMax = await startTimer(d, {duration: 86400, label: ""})
  assertTimer(await event(d, "timers:started", idMax), {duration: 86400,
    remaining_time: 86400, status: "running", label: ""})
  const idL = await startTimer(d, {duration: 5, label: "é".repeat(100)})
  assertTimer(await event(d, "timers:started", idL), {label: "é".repeat(100)})
  assert.equal(new Set([id, id1, idMax, idL]).size, 4, "unique ids")
  // A second device's join reply lists the running ones, oldest first.
  const d2 = await device("starter")
  const ids = d2.reply.timers.map(x => x.id)
  assert.deepEqual(ids.filter(x => x !== id1), [id, idMax, idL])
  const listed = d2.reply.timers.find(x => x.id === id)
  assertTimer(listed, {label: "tea", duration: 60, status: "running",
    remaining_time: r => r >= 58 && r <= 60})
})

ttest("timer: invalid durations are refused", async () => {
  const d = await device("baddur")
  const cases = [0, 86401, 1.5, "10", undefined, true, null, -5, [10],
    {n: 10}, 1e30]
  const watch = expectNone(d.rec, m => m.event === "timers:started", 500)
  for (const duration of cases) {
    const payload = duration === undefined ? {label: "x"} :
      {duration, label: "x"}
    assert.deepEqual(await push(d, "timers:start", payload),
      err("invalid duration"), `duration ${JSON.stringify(duration)}`)
  }
  await watch
  assert.deepEqual((await device("baddur")).reply, {timers: []},
    "nothing was started")
})

ttest("timer: invalid labels are refused", async () => {
  const d = await device("badlabel")
  const watch = expectNone(d.rec, m => m.event === "timers:started", 500)
  for (const label of ["x".repeat(101), 123, true, ["a"], {a: 1}]) {
    assert.deepEqual(await push(d, "timers:start", {duration: 10, label}),
      err("invalid label"), `label ${JSON.stringify(label).slice(0, 40)}`)
  }
  await watch
  const id = await startTimer(d, {duration: 10, label: "y".repeat(100)})
  assertTimer(await event(d, "timers:started", id), {label: "y".repeat(100)})
})

ttest("timer: the 101st active timer is refused with too many timers",
  async () => {
    const d = await device("many")
    const ids = await Promise.all(Array.from({length: 100}, (_, i) =>
      startTimer(d, {duration: 86400, label: `t${i}`})))
    assert.equal(new Set(ids).size, 100)
    assert.deepEqual(await push(d, "timers:start", {duration: 10}),
      err("too many timers"))
    // Paused timers are still active.
    assert.deepEqual(await push(d, "timers:pause", {id: ids[0]}), OK_EMPTY)
    assert.deepEqual(await push(d, "timers:start", {duration: 10}),
      err("too many timers"), "a paused timer still counts")
    // A stopped one frees a slot.
    assert.deepEqual(await push(d, "timers:stop", {id: ids[1]}), OK_EMPTY)
    const extra = await startTimer(d, {duration: 86400})
    assert.deepEqual(await push(d, "timers:start", {duration: 10}),
      err("too many timers"))
    const d2 = await device("many")
    assert.equal(d2.reply.timers.length, 100)
    await Promise.all([...ids.filter(x => x !== ids[1]), extra].map(async id =>
      assert.deepEqual(await push(d, "timers:stop", {id}), OK_EMPTY)))
  })

// ---------------------------------------------------------------------------
// ticks and completion

ttest("timer: a 2 s timer ticks once a second, then completes", async () => {
  const d = await device("ticker")
  const t0 = Date.now()
  const id = await startTimer(d, {duration: 2, label: "short"})
  const tick = await event(d, "timers:tick", id, 2500)
  const tTick = Date.now()
  assert.deepEqual(tick, {id, remaining_time: 1})
  const done = await event(d, "timers:completed", id, 2500)
  const tDone = Date.now()
  assert.deepEqual(done, {id, label: "short", duration: 2, remaining_time: 0,
    status: "completed"})
  assert.ok(tTick - t0 >= 800 && tTick - t0 <= 1600,
    `the tick came ${tTick - t0} ms after the start`)
  assert.ok(tDone - t0 >= 1800 && tDone - t0 <= 2600,
    `completed ${tDone - t0} ms after the start (due at 2000)`)
  const ticks = d.rec.log.filter(m => m.event === "timers:tick" &&
    m.payload.id === id)
  assert.equal(ticks.length, 1, `one tick: ${JSON.stringify(ticks)}`)
  // It left the active list.
  const d2 = await device("ticker")
  assert.deepEqual(d2.reply, {timers: []})
  assert.deepEqual(await push(d, "timers:pause", {id}), err("not found"))
})

ttest("timer: a timer started between another timer's ticks still " +
  "completes at its own zero", async () => {
  const d = await device("offset")
  const long = await startTimer(d, {duration: 30, label: "long"})
  await event(d, "timers:tick", long, 2000)
  // Not a synchronisation: a deliberate offset, so that this timer starts
  // a quarter second after the other one's tick (out of phase with it).
  await new Promise(r => setTimeout(r, 250))
  const t0 = Date.now()
  const id = await startTimer(d, {duration: 2, label: "short"})
  const tick = await event(d, "timers:tick", id, 3500)
  const tTick = Date.now()
  await event(d, "timers:completed", id, 3500)
  const tDone = Date.now()
  const ticks = d.rec.log.filter(m => m.event === "timers:tick" &&
    m.payload.id === id).map(m => m.payload.remaining_time)
  assert.ok(tDone - t0 >= 1800 && tDone - t0 <= 2400,
    `a 2 s timer completed ${tDone - t0} ms after its start ` +
    `(first tick after ${tTick - t0} ms with ${JSON.stringify(tick)}; ` +
    `ticks ${JSON.stringify(ticks)})`)
  assert.deepEqual(ticks, [1], "one tick, with 1 s remaining")
  assert.deepEqual(await push(d, "timers:stop", {id: long}), OK_EMPTY)
})

// ---------------------------------------------------------------------------
// pause, resume, stop

ttest("timer: pause, resume and stop broadcast and reply {}", async () => {
  const d = await device("flow")
  const other = await device("flow")
  const id = await startTimer(d, {duration: 60, label: "flow"})
  await event(d, "timers:started", id)

  assert.deepEqual(await push(d, "timers:pause", {id}), OK_EMPTY)
  const paused = await event(other, "timers:paused", id)
  assertTimer(paused, {id, label: "flow", duration: 60, status: "paused",
    remaining_time: r => r >= 58 && r <= 60})
  assert.deepEqual(await event(d, "timers:paused", id), paused)
  // Paused: no ticks; a join reply shows it paused with the same time.
  await expectNone(d.rec, m => m.event === "timers:tick" &&
    m.payload.id === id, 1200)
  const d3 = await device("flow")
  assert.deepEqual(d3.reply.timers, [paused])

  assert.deepEqual(await push(d, "timers:resume", {id}), OK_EMPTY)
  const resumed = await event(other, "timers:resumed", id)
  assert.deepEqual(resumed, {...paused, status: "running"},
    "resumed with the paused remaining time")
  const tick = await event(d, "timers:tick", id, 1600)
  assert.ok(tick.remaining_time <= paused.remaining_time &&
    tick.remaining_time >= paused.remaining_time - 2, JSON.stringify(tick))

  assert.deepEqual(await push(d, "timers:stop", {id}), OK_EMPTY)
  const stopped = await event(other, "timers:stopped", id)
  assertTimer(stopped, {id, label: "flow", duration: 60, status: "stopped"})
  // It is gone.
  assert.deepEqual((await device("flow")).reply, {timers: []})
  for (const ev of ["timers:pause", "timers:resume", "timers:stop"])
    assert.deepEqual(await push(d, ev, {id}), err("not found"), ev)
  // A paused timer can be stopped too.
  const id2 = await startTimer(d, {duration: 60})
  assert.deepEqual(await push(d, "timers:pause", {id: id2}), OK_EMPTY)
  assert.deepEqual(await push(d, "timers:stop", {id: id2}), OK_EMPTY)
  assertTimer(await event(other, "timers:stopped", id2), {status: "stopped"})
})

ttest("timer: unknown ids and another user's ids are not found",
  async () => {
    const alice = await device("nf_alice")
    const bob = await device("nf_bob")
    const id = await startTimer(alice, {duration: 60, label: "mine"})
    for (const ev of ["timers:pause", "timers:resume", "timers:stop"]) {
      for (const payload of [{id: "no-such-timer"}, {id: "0".repeat(24)},
        {}, {id: 42}, {id: null}])
        assert.deepEqual(await push(alice, ev, payload), err("not found"),
          `${ev} ${JSON.stringify(payload)}`)
      assert.deepEqual(await push(bob, ev, {id}), err("not found"),
        `bob ${ev}s alice's timer`)
    }
    // alice's timer is untouched.
    assert.ok(!alice.rec.log.some(m => ["timers:paused", "timers:stopped",
      "timers:resumed"].includes(m.event)))
    const again = await device("nf_alice")
    assertTimer(again.reply.timers[0], {id, status: "running"})
    assert.equal(again.reply.timers.length, 1)
  })

ttest("timer: pausing a paused timer or resuming a running one is " +
  "invalid state", async () => {
  const d = await device("states")
  const id = await startTimer(d, {duration: 60})
  assert.deepEqual(await push(d, "timers:resume", {id}), err("invalid state"))
  assert.deepEqual(await push(d, "timers:pause", {id}), OK_EMPTY)
  assert.deepEqual(await push(d, "timers:pause", {id}), err("invalid state"))
  assert.deepEqual(await push(d, "timers:resume", {id}), OK_EMPTY)
  assert.deepEqual(await push(d, "timers:resume", {id}), err("invalid state"))
  // Marker: a reply may overtake the broadcasts (they take the PubSub
  // path), but broadcasts about one timer keep their order, so once
  // "stopped" is here every earlier broadcast is too.
  assert.deepEqual(await push(d, "timers:stop", {id}), OK_EMPTY)
  await event(d, "timers:stopped", id)
  const evs = d.rec.log.filter(m => m.payload && m.payload.id === id &&
    ["timers:paused", "timers:resumed"].includes(m.event)).map(m => m.event)
  assert.deepEqual(evs, ["timers:paused", "timers:resumed"],
    "the refused commands broadcast nothing")
})

// ---------------------------------------------------------------------------
// devices

ttest("timer: two sockets of one user see the same events", async () => {
  const a = await device("dual")
  const b = await device("dual")
  const stranger = await device("dual_stranger")
  const id = await startTimer(a, {duration: 30, label: "both"})
  const started = [await event(a, "timers:started", id),
    await event(b, "timers:started", id)]
  assert.deepEqual(started[0], started[1])
  const ticks = await Promise.all([event(a, "timers:tick", id, 1600),
    event(b, "timers:tick", id, 1600)])
  assert.deepEqual(ticks[0], ticks[1])
  assert.deepEqual(await push(b, "timers:pause", {id}), OK_EMPTY)
  assert.deepEqual(await event(a, "timers:paused", id),
    await event(b, "timers:paused", id))
  assert.deepEqual(await push(a, "timers:resume", {id}), OK_EMPTY)
  assert.deepEqual(await event(a, "timers:resumed", id),
    await event(b, "timers:resumed", id))
  assert.deepEqual(await push(b, "timers:stop", {id}), OK_EMPTY)
  assert.deepEqual(await event(a, "timers:stopped", id),
    await event(b, "timers:stopped", id))
  // Other users see nothing of it.
  assert.deepEqual(stranger.rec.log.filter(m => m.event.startsWith("timers:")),
    [], "another user's channel got none of these events")
})

ttest("timer: timers outlive the user's sockets", async () => {
  const a = await device("outlive")
  const id = await startTimer(a, {duration: 40, label: "keep"})
  await closeAll()
  const b = await device("outlive")
  assert.equal(b.reply.timers.length, 1)
  assertTimer(b.reply.timers[0], {id, label: "keep", status: "running",
    remaining_time: r => r >= 38 && r <= 40})
  const tick = await event(b, "timers:tick", id, 1600)
  assert.ok(tick.remaining_time >= 37 && tick.remaining_time <= 40)
  assert.deepEqual(await push(b, "timers:stop", {id}), OK_EMPTY)
})

// ---------------------------------------------------------------------------
// storage

test("timer: a restart keeps running timers running (time counted) and " +
  "paused ones paused", async () => {
  const db = tempDb("timer-restart")
  let srv = await startApp("timer", {db})
  let failure = null
  try {
    const d = await device("persist", srv)
    const tRun = Date.now()
    const run = await startTimer(d, {duration: 30, label: "run"})
    const pau = await startTimer(d, {duration: 60, label: "pause"})
    assert.deepEqual(await push(d, "timers:pause", {id: pau}), OK_EMPTY)
    const paused = await event(d, "timers:paused", pau)
    const exp = await startTimer(d, {duration: 1, label: "expires"})
    await closeAll()
    assert.deepEqual(await srv.stop(), {code: 0, signal: null},
      `first run exit; stderr: ${srv.stderr}`)
    // Not a synchronisation: time has to pass while the server is down.
    await new Promise(r => setTimeout(r, 2200))
    srv = await startApp("timer", {db})
    const d2 = await device("persist", srv)
    const tJoin = Date.now()
    const listed = JSON.stringify(d2.reply.timers)
    const byId = Object.fromEntries(d2.reply.timers.map(t => [t.id, t]))
    assert.deepEqual(d2.reply.timers.map(t => t.id).filter(id => id !== exp),
      [run, pau], `running and paused timers listed in order: ${listed}`)
    assert.deepEqual(byId[pau], paused, "paused with the same remaining time")
    const r = byId[run]
    assertTimer(r, {label: "run", duration: 30, status: "running"})
    // At least 2.2 s passed (the downtime), at most tJoin - tRun.
    const lo = Math.floor(30 - (tJoin - tRun) / 1000) - 1
    assert.ok(r.remaining_time >= lo && r.remaining_time <= 28,
      `remaining ${r.remaining_time} should count the ${tJoin - tRun} ms ` +
      `since the start (expected ${lo}..28)`)
    // Still running: it ticks; the paused one does not.
    const watch = expectNone(d2.rec, m => m.event === "timers:tick" &&
      m.payload.id === pau, 1300)
    const tick = await event(d2, "timers:tick", run, 1600)
    assert.ok(tick.remaining_time <= r.remaining_time &&
      tick.remaining_time >= r.remaining_time - 2, JSON.stringify(tick))
    await watch
    // The 1 s timer ran out while the server was down: it is not active
    // any more, so the join reply must not list it (as running with 0 s).
    assert.ok(!byId[exp], `a timer that ran out while the server was down ` +
      `is listed as active after the restart: ${JSON.stringify(byId[exp])}`)
  } catch (e) {
    failure = e
  }
  await closeAll()
  const exit = await srv.stop()
  if (failure) throw failure
  assert.deepEqual(exit, {code: 0, signal: null},
    `second run exit; stderr: ${srv.stderr}`)
})
