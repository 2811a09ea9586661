// The pages fall back to long poll (longPollFallbackMs): in headless
// chromium with window.WebSocket removed, with WebSocket connections that
// fail at once, and with ones that hang, the chat and timer pages still
// work, over /socket/longpoll, next to a page on a WebSocket. And the pages
// refresh their session token before it expires.

import {test, before, after} from "node:test"
import assert from "node:assert/strict"
import net from "node:net"
import {startApp} from "./app_helpers.mjs"
import {waitFor} from "./helpers.mjs"
import {skip, launchBrowser, openPage, closePages, login, waitOnline,
  waitMessage} from "./browser_helpers.mjs"

let browser
let blackhole       // accepts TCP connections and never answers
const held = []

before(async () => {
  if (skip) return
  browser = await launchBrowser()
  blackhole = net.createServer(s => held.push(s))
  await new Promise(r => blackhole.listen(0, "127.0.0.1", r))
})

after(async () => {
  for (const s of held) s.destroy()
  blackhole?.close()
  await browser?.close()
})

// Init scripts (they run in the page, before its scripts).
const noWebSocket = () => { delete window.WebSocket }
const failingWebSocket = () => {
  const Real = window.WebSocket
  // Port 9 on loopback is closed: the connection fails at once.
  window.WebSocket = class extends Real {
    constructor(url, protocols) { super("ws://127.0.0.1:9/", protocols) }
  }
}
const hangingWebSocket = port => {
  const Real = window.WebSocket
  window.WebSocket = class extends Real {
    constructor(url, protocols) {
      super(`ws://127.0.0.1:${port}/`, protocols)
    }
  }
}

/// Opens `url` with `initScript`, recording which transports it uses.
async function openWith(url, initScript) {
  const page = await openPage(browser, url, {initScript})
  page.longpolls = 0
  page.on("request", r => {
    if (new URL(r.url()).pathname === "/socket/longpoll") page.longpolls++
  })
  return page
}

const connected = (page, ms = 10_000) => page.waitForFunction(() =>
  document.querySelector("#status").textContent === "connected", null,
{timeout: ms})

for (const [mode, script] of [
  ["WebSocket removed", () => noWebSocket],
  ["WebSocket failing", () => failingWebSocket],
  ["WebSocket hanging", () => ({
    content: `(${hangingWebSocket})(${blackhole.address().port})`})],
]) {
  test(`long-poll fallback (${mode}): chat between a long-poll page and a ` +
    "WebSocket page", {skip, timeout: 60_000}, async () => {
    const app = await startApp("chat")
    let lp, ws
    try {
      lp = await openWith(app.httpUrl, script())
      ws = await openPage(browser, app.httpUrl)
      await login(lp, "lp_user")
      await login(ws, "ws_user")
      await connected(lp)
      await connected(ws)
      await waitOnline(lp, ["lp_user", "ws_user"], 10_000)
      await waitOnline(ws, ["lp_user", "ws_user"], 10_000)

      await lp.fill("#message", "over long poll")
      await lp.click("#send")
      await waitMessage(ws, "lp_user", "over long poll")
      await waitMessage(lp, "lp_user", "over long poll")
      await ws.fill("#message", "over a websocket")
      await ws.click("#send")
      await waitMessage(lp, "ws_user", "over a websocket")
      assert.ok(lp.longpolls > 0, "the first page used long poll")
      assert.deepEqual(lp.errors.filter(e => !e.includes("WebSocket")), [],
        "no errors on the long-poll page but the WebSocket's own")
      assert.deepEqual(ws.errors, [], "no errors on the WebSocket page")
    } finally {
      await closePages([lp, ws])
      const exit = await app.stop()
      assert.deepEqual(exit, {code: 0, signal: null},
        `fenix-chat exit; stderr: ${app.stderr}`)
    }
  })
}

test("long-poll fallback: the timer page works with WebSocket failing",
  {skip, timeout: 60_000}, async () => {
    const app = await startApp("timer")
    let page
    try {
      page = await openWith(app.httpUrl, failingWebSocket)
      await login(page, "tim")
      await connected(page)
      await page.fill("#duration", "2")
      await page.fill("#label", "tea")
      await page.click("#start")
      await page.waitForSelector("#timers li[data-status=running]")
      await page.waitForSelector("#timers li[data-status=completed]",
        {timeout: 5000})
      assert.ok(page.longpolls > 0, "the page used long poll")
      assert.deepEqual(page.errors.filter(e => !e.includes("WebSocket")), [])
    } finally {
      await closePages([page])
      const exit = await app.stop()
      assert.deepEqual(exit, {code: 0, signal: null},
        `fenix-timer exit; stderr: ${app.stderr}`)
    }
  })

// -- token refresh (apps/common/static/session.js) -----------------------------

test("the chat page keeps its socket past its token's exp by pushing fresh " +
  "tokens (--token-ttl 3)", {skip, timeout: 60_000}, async () => {
  const app = await startApp("chat", {args: ["--token-ttl", "3"]})
  let page
  try {
    page = await openPage(browser, app.httpUrl)
    const sockets = []
    let refreshes = 0
    page.on("websocket", ws => {
      sockets.push(ws)
      ws.on("framesent", f => {
        if (String(f.payload).includes('"access_token"')) refreshes++
      })
    })
    await login(page, "fresh")
    await connected(page)
    // Two refreshes take the socket past the first token's exp (3 s) and
    // the 1 s grace: it must still be the first socket, open.
    await waitFor(() => refreshes >= 2, 15_000, "two access_token pushes")
    assert.equal(sockets.length, 1, "no reconnect")
    assert.equal(sockets[0].isClosed(), false)
    await page.fill("#message", "still here")
    await page.click("#send")
    await waitMessage(page, "fresh", "still here")
    assert.deepEqual(page.errors, [])
  } finally {
    await closePages([page])
    const exit = await app.stop()
    assert.deepEqual(exit, {code: 0, signal: null},
      `fenix-chat exit; stderr: ${app.stderr}`)
  }
})
