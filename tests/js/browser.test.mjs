// The apps' web pages in headless Debian chromium (driven by
// playwright-core): the chat page with two users, and the timer page with
// two devices of one user, the pointing page with three users. Screenshots
// go to docs/screenshots/.

import {test, before, after} from "node:test"
import assert from "node:assert/strict"
import path from "node:path"
import {startApp} from "./app_helpers.mjs"
import {SHOTS, skip, launchBrowser, openPage as open, login, waitOnline,
  waitMessage} from "./browser_helpers.mjs"

let browser

before(async () => {
  if (!skip) browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
})

const openPage = url => open(browser, url)

test("browser: two users chat, see each other, typing and leaving",
  {skip, timeout: 60_000}, async () => {
    const app = await startApp("chat")
    let alice, bob
    try {
      alice = await openPage(app.httpUrl)
      bob = await openPage(app.httpUrl)
      await login(alice, "alice")
      await alice.waitForFunction(() =>
        document.querySelector("#current-room").textContent === "in lobby")
      await login(bob, "bob")
      await bob.waitForFunction(() =>
        document.querySelector("#current-room").textContent === "in lobby")
      await waitOnline(alice, ["alice", "bob"])
      await waitOnline(bob, ["alice", "bob"])
      await alice.waitForFunction(() =>
        document.querySelector("#status").textContent === "connected")

      // Messages both ways; each page shows both.
      await alice.fill("#message", "hello bob")
      await alice.click("#send")
      await waitMessage(bob, "alice", "hello bob")
      await waitMessage(alice, "alice", "hello bob")
      assert.equal(await alice.inputValue("#message"), "", "input cleared")
      await bob.fill("#message", "hi alice!")
      await bob.press("#message", "Enter")
      await waitMessage(alice, "bob", "hi alice!")
      await waitMessage(bob, "bob", "hi alice!")
      assert.deepEqual(await alice.$$eval("#messages li .body",
        els => els.map(e => e.textContent)), ["hello bob", "hi alice!"])

      // Typing indicator: bob types, alice sees it; it clears on send.
      await bob.type("#message", "typing some", {delay: 10})
      await alice.waitForFunction(() =>
        document.querySelector("#typing").textContent === "bob is typing…")
      await alice.waitForSelector('#online li[data-user="bob"].typing')
      assert.equal(await bob.textContent("#typing"), "",
        "bob does not see himself typing")
      await alice.evaluate(() => window.scrollTo(0, 0))
      await alice.screenshot({path: path.join(SHOTS, "chat.png")})
      await bob.press("#message", "Enter")
      await waitMessage(alice, "bob", "typing some")
      await alice.waitForFunction(() =>
        document.querySelector("#typing").textContent === "")

      // Bob closes his page: alice's list drops him.
      const ctx = bob.context()
      await bob.close()
      bob = null
      await waitOnline(alice, ["alice"], 3000)
      await ctx.close()
      assert.deepEqual(alice.errors, [], "no errors on alice's page")
    } finally {
      for (const p of [alice, bob].filter(Boolean)) {
        await p.close()
        await p.context().close()
      }
      const exit = await app.stop()
      assert.deepEqual(exit, {code: 0, signal: null},
        `fenix-chat exit; stderr: ${app.stderr}`)
    }
  })

test("browser: a timer started on one page counts down and completes on " +
  "another page of the same user", {skip, timeout: 60_000}, async () => {
  const app = await startApp("timer")
  let one, two
  try {
    one = await openPage(app.httpUrl)
    two = await openPage(app.httpUrl)
    await login(one, "tim")
    await login(two, "tim")
    for (const p of [one, two])
      await p.waitForFunction(() =>
        document.querySelector("#status").textContent === "connected")
    // Record every value the second page shows.
    await two.evaluate(() => {
      window.seen = []
      const note = () => {
        for (const li of document.querySelectorAll("#timers li")) {
          const v = `${li.dataset.status}:${li.querySelector(".remaining")
            .dataset.seconds}`
          if (window.seen[window.seen.length - 1] !== v) window.seen.push(v)
        }
      }
      new MutationObserver(note).observe(document.querySelector("#timers"),
        {subtree: true, childList: true, attributes: true,
          characterData: true})
    })
    await one.fill("#duration", "3")
    await one.fill("#label", "tea")
    await one.click("#start")
    await two.waitForSelector("#timers li[data-status=running]")
    assert.equal(await two.textContent("#timers li .label"), "tea")
    // Counting down on the other page.
    await two.waitForFunction(() => {
      const s = document.querySelector("#timers li .remaining")
      return s && ["1", "2"].includes(s.dataset.seconds)
    }, null, {timeout: 3000})
    await two.screenshot({path: path.join(SHOTS, "timer.png")})
    await two.waitForSelector("#timers li[data-status=completed]",
      {timeout: 4000})
    assert.equal(await two.textContent("#timers li .remaining"), "0:00")
    assert.equal(await two.textContent("#timers li .status"), "completed")
    await one.waitForSelector("#timers li[data-status=completed]")
    const seen = await two.evaluate(() => window.seen)
    assert.equal(seen[0], "running:3", JSON.stringify(seen))
    assert.equal(seen[seen.length - 1], "completed:0", JSON.stringify(seen))
    const counts = seen.filter(s => s.startsWith("running:"))
      .map(s => Number(s.split(":")[1]))
    assert.ok(counts.some(n => n > 0 && n < 3),
      `the second page counted down: ${JSON.stringify(seen)}`)
    for (let i = 1; i < counts.length; i++)
      assert.ok(counts[i] < counts[i - 1], `decreasing: ${JSON.stringify(seen)}`)
    assert.deepEqual(one.errors, [], "no errors on page one")
    assert.deepEqual(two.errors, [], "no errors on page two")
  } finally {
    for (const p of [one, two].filter(Boolean)) {
      await p.close()
      await p.context().close()
    }
    const exit = await app.stop()
    assert.deepEqual(exit, {code: 0, signal: null},
      `fenix-timer exit; stderr: ${app.stderr}`)
  }
})

/// Members listed in the pointing page as {user: state}.
const members = page => page.$$eval("#members li", lis =>
  Object.fromEntries(lis.map(li => [li.dataset.user, li.dataset.state])))

async function waitMembers(page, want, ms = 5000) {
  try {
    await page.waitForFunction(w => JSON.stringify(Object.fromEntries(
      [...document.querySelectorAll("#members li")]
        .map(li => [li.dataset.user, li.dataset.state]))) === w,
    JSON.stringify(want), {timeout: ms})
  } catch (e) {
    throw new Error(`members: want ${JSON.stringify(want)}, got ` +
      JSON.stringify(await members(page)))
  }
}

/// The revealed votes the pointing page shows, {user: points}.
const shownVotes = page => page.$$eval("#votes li", lis =>
  Object.fromEntries(lis.map(li => [li.dataset.user, Number(li.dataset.points)])))

test("browser: three users point a ticket: pick a room, vote, auto-reveal, " +
  "a leaver's vote is dropped", {skip, timeout: 60_000}, async () => {
  const app = await startApp("pointing")
  const pages = {}
  try {
    for (const user of ["alice", "bob", "carol"]) {
      const p = await openPage(app.httpUrl)
      pages[user] = p
      await login(p, user)
      await p.fill("#room", "sprint-1")
      await p.click("#join")
      await p.waitForFunction(() =>
        document.querySelector("#current-room").textContent === "in sprint-1")
    }
    const {alice, bob, carol} = pages
    await waitMembers(alice, {alice: "voting", bob: "voting", carol: "voting"})

    await alice.fill("#title", "Login page")
    await alice.click("#set-ticket")
    for (const p of [alice, bob, carol])
      await p.waitForFunction(() =>
        document.querySelector("#ticket").dataset.title === "Login page")
    assert.equal(await bob.textContent("#ticket"),
      "Login page (set by alice)")

    await alice.click('#cards button[data-points="3"]')
    await bob.click('#cards button[data-points="8"]')
    await waitMembers(carol, {alice: "voted", bob: "voted", carol: "voting"})
    assert.equal(await carol.isHidden("#results"), true, "votes are private")
    await alice.waitForSelector('#cards button[data-points="3"]' +
      '[aria-pressed="true"]')
    await carol.evaluate(() => window.scrollTo(0, 0))
    await carol.screenshot({path: path.join(SHOTS, "pointing.png")})

    await carol.click('#cards button[data-points="5"]')
    for (const p of [alice, bob, carol]) {
      await p.waitForSelector("#results", {state: "visible"})
      assert.deepEqual(await shownVotes(p), {alice: 3, bob: 8, carol: 5})
      assert.equal(await p.textContent("#summary"),
        "min 3, max 8, average 5.33")
    }

    // A new ticket: everyone votes again; bob and carol vote, alice
    // leaves (closes her page): the reveal happens then, without her.
    await bob.fill("#title", "Search")
    await bob.click("#set-ticket")
    await waitMembers(carol, {alice: "voting", bob: "voting", carol: "voting"})
    await carol.waitForSelector("#results", {state: "hidden"})
    await bob.click('#cards button[data-points="2"]')
    await carol.click('#cards button[data-points="2"]')
    await waitMembers(bob, {alice: "voting", bob: "voted", carol: "voted"})
    assert.equal(await bob.isHidden("#results"), true)
    const ctx = alice.context()
    await alice.close()
    await ctx.close()
    delete pages.alice
    await waitMembers(bob, {bob: "voted", carol: "voted"})
    for (const p of [bob, carol]) {
      await p.waitForSelector("#results", {state: "visible"})
      assert.deepEqual(await shownVotes(p), {bob: 2, carol: 2})
      assert.equal(await p.textContent("#summary"), "Consensus: 2")
    }
    for (const p of [bob, carol])
      assert.deepEqual(p.errors, [], "no errors on the pages")
  } finally {
    for (const p of Object.values(pages)) {
      await p.close()
      await p.context().close()
    }
    const exit = await app.stop()
    assert.deepEqual(exit, {code: 0, signal: null},
      `fenix-pointing exit; stderr: ${app.stderr}`)
  }
})
