// The apps' web pages in headless Debian chromium (driven by
// playwright-core): the chat page with two users, and the timer page with
// two devices of one user. Screenshots go to docs/screenshots/.

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
