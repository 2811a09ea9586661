// Shared by the browser tests: headless Debian chromium (driven by
// playwright-core), pages in fresh contexts that record their errors, and
// the chat page's sign-in and lists.
//
// chromium.launch() runs the browser with a fresh temporary user-data dir
// of its own (playwright refuses a --user-data-dir argument to launch()),
// and each page gets a fresh browser context (no shared storage).

import assert from "node:assert/strict"
import {existsSync, mkdirSync} from "node:fs"
import path from "node:path"
import {fileURLToPath} from "node:url"

export const CHROMIUM = "/usr/bin/chromium"
const here = path.dirname(fileURLToPath(import.meta.url))
export const SHOTS = path.resolve(here, "../../docs/screenshots")
const VIEWPORT = {width: 860, height: 680}

/// A `skip` value for node:test: false, or why the browser tests cannot run.
export const skip = existsSync(CHROMIUM) ? false
  : `${CHROMIUM} is absent (apt-get install chromium): browser tests skipped`

export async function launchBrowser() {
  const {chromium} = await import("playwright-core")
  mkdirSync(SHOTS, {recursive: true})
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
      "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
    timeout: 30_000,
  })
}

/// A page in a fresh context; page errors, console errors and HTTP errors
/// are kept in page.errors. `initScript` runs before the page's own
/// scripts (e.g. to take WebSocket away).
export async function openPage(browser, url, {initScript} = {}) {
  const context = await browser.newContext({viewport: VIEWPORT})
  context.setDefaultTimeout(10_000)
  if (initScript) await context.addInitScript(initScript)
  const page = await context.newPage()
  page.errors = []
  page.on("pageerror", e => page.errors.push(`pageerror: ${e.message}`))
  page.on("console", m => {
    if (m.type() === "error") page.errors.push(`console: ${m.text()}`)
  })
  page.on("response", r => {
    if (r.status() >= 400) page.errors.push(`HTTP ${r.status()} ${r.url()}`)
  })
  await page.goto(url)
  return page
}

export async function closePages(pages) {
  for (const p of pages.filter(Boolean)) {
    await p.close()
    await p.context().close()
  }
}

export async function login(page, username) {
  await page.fill("#username", username)
  await page.click("#login")
  await page.waitForSelector("#login-view", {state: "hidden"})
  assert.equal(await page.textContent("#me"), username)
}

/// Users listed in the chat page's "Who is online" list.
export const online = page => page.$$eval("#online li", lis =>
  lis.map(li => li.dataset.user))

/// Waits until the page's online list is exactly `users`.
export async function waitOnline(page, users, ms = 5000) {
  try {
    await page.waitForFunction(want => JSON.stringify(
      [...document.querySelectorAll("#online li")]
        .map(li => li.dataset.user)) === want,
    JSON.stringify(users), {timeout: ms})
  } catch (e) {
    throw new Error(`online list: want ${JSON.stringify(users)}, got ` +
      JSON.stringify(await online(page)))
  }
}

/// Waits until a message with `body` from `user` is listed.
export function waitMessage(page, user, body, ms = 5000) {
  return page.waitForFunction(([u, b]) =>
    [...document.querySelectorAll("#messages li")].some(li =>
      li.dataset.user === u && li.querySelector(".body")?.textContent === b),
  [user, body], {timeout: ms})
}
