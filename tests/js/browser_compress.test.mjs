// permessage-deflate with a real browser: fenix-chat --compress and headless
// chromium, which offers the extension on every WebSocket. The handshake
// (seen through the DevTools protocol) must carry the extension fenix
// accepted, and the chat must work over it; without --compress, none.

import {test, before, after} from "node:test"
import assert from "node:assert/strict"
import {startApp} from "./app_helpers.mjs"
import {skip, launchBrowser, openPage, closePages, login, waitMessage}
  from "./browser_helpers.mjs"

let browser

before(async () => {
  if (!skip) browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
})

/// Opens the chat page and records the Sec-WebSocket-Extensions header of
/// every WebSocket handshake response it gets.
async function openRecording(url) {
  const page = await openPage(browser, "about:blank")
  page.extensions = []
  const cdp = await page.context().newCDPSession(page)
  await cdp.send("Network.enable")
  cdp.on("Network.webSocketHandshakeResponseReceived", e => {
    const h = e.response.headers
    const key = Object.keys(h).find(k =>
      k.toLowerCase() === "sec-websocket-extensions")
    page.extensions.push(key ? h[key] : "")
  })
  await page.goto(url)
  return page
}

for (const compress of [true, false]) {
  test(`browser: chat with --compress ${compress}`, {skip, timeout: 60_000},
    async () => {
      const app = await startApp("chat",
        {args: compress ? ["--compress"] : []})
      let a, b
      try {
        a = await openRecording(app.httpUrl)
        b = await openRecording(app.httpUrl)
        await login(a, "ann")
        await login(b, "ben")
        for (const p of [a, b])
          await p.waitForFunction(() =>
            document.querySelector("#status").textContent === "connected")
        const long = "compressible ".repeat(100).trim()
        await a.fill("#message", long)
        await a.click("#send")
        await waitMessage(b, "ann", long)
        await b.fill("#message", "short one")
        await b.click("#send")
        await waitMessage(a, "ben", "short one")
        for (const p of [a, b]) {
          assert.ok(p.extensions.length > 0, "a WebSocket handshake was seen")
          for (const ext of p.extensions) {
            if (compress) assert.match(ext, /^permessage-deflate/)
            else assert.equal(ext, "")
          }
        }
        assert.deepEqual(a.errors, [])
        assert.deepEqual(b.errors, [])
      } finally {
        await closePages([a, b])
        const exit = await app.stop()
        assert.deepEqual(exit, {code: 0, signal: null},
          `fenix-chat exit; stderr: ${app.stderr}`)
      }
    })
}
