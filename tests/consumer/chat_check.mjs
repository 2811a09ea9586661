// fenix-chat (or fenix-pointing) started from an empty directory serves its
// embedded page, the official client and a working socket (joined with that
// very client).
//   node chat_check.mjs http://127.0.0.1:PORT path/to/tests/js/node_modules [chat|pointing]
import assert from "node:assert/strict"
import path from "node:path"
import {pathToFileURL} from "node:url"

const [base, modules, app = "chat"] = process.argv.slice(2)
const mod = p => import(pathToFileURL(path.join(modules, p)).href)

const page = await fetch(`${base}/`)
assert.equal(page.status, 200)
assert.match(page.headers.get("content-type"), /^text\/html/)
assert.match(await page.text(), /<html/i)

const js = await fetch(`${base}/assets/phoenix.mjs`)
assert.equal(js.status, 200)
assert.match(js.headers.get("content-type"), /^text\/javascript/)
const source = await js.text()
assert.match(source, /export/)

const session = await fetch(`${base}/api/session`, {
  method: "POST", headers: {"content-type": "application/json"},
  body: JSON.stringify({username: "alice"}),
})
assert.equal(session.status, 200)
const {token} = await session.json()

// The client the page loads, served by the app itself (data: URL import).
const {Socket} = await import(
  "data:text/javascript;base64," + Buffer.from(source).toString("base64"))
const {default: WebSocket} = await mod("ws/wrapper.mjs")
const socket = new Socket(`${base.replace("http", "ws")}/socket`,
  {transport: WebSocket, params: {token}})
socket.connect()
const chan = socket.channel("room:lobby")
const joined = await new Promise((resolve, reject) => {
  chan.join().receive("ok", resolve).receive("error", reject)
    .receive("timeout", () => reject(new Error("join timeout")))
})
assert.ok(joined)
const reply = await new Promise((resolve, reject) => {
  const [event, payload] = app === "pointing"
    ? ["set_ticket", {title: "hello"}] : ["new_msg", {body: "hello"}]
  chan.push(event, payload).receive("ok", resolve)
    .receive("error", reject).receive("timeout", () => reject(new Error("push timeout")))
})
assert.ok(reply)
socket.disconnect()
console.log(`fenix-${app}: page, phoenix.mjs and socket ok`)
process.exit(0)
