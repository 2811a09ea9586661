// Token expiry on live sockets (docs/apps.md "Common", docs/protocol.md):
// a socket is closed with 4001 within 1 s after its JWT's exp; pushing
// access_token with a fresh token keeps it; a bad token closes it.

import {test} from "node:test"
import assert from "node:assert/strict"
import {joinChannel, pushAndWait, waitFor, closeAll} from "./helpers.mjs"
import {startApp, connectUser, mintToken, decodeToken} from "./app_helpers.mjs"
import {after, afterEach} from "node:test"

let app
afterEach(async () => { await closeAll() })
after(async () => { if (app) assert.equal((await app.stop()).code, 0) })

async function user(name) {
  app ??= await startApp("chat", {args: ["--token-ttl", "2"]})
  const {socket, token} = await connectUser(app, name, {socketOpts: {reconnectAfterMs: () => 60_000}})
  const closes = []
  socket.onClose(e => closes.push({code: e.code, at: Date.now()}))
  const chan = socket.channel("room:tokens")
  assert.equal((await joinChannel(chan)).status, "ok")
  return {socket, token, chan, closes, exp: decodeToken(token).claims.exp * 1000}
}

test("a socket whose token expires is closed with 4001 within 1 s after exp", async () => {
  const u = await user("alice")
  await waitFor(() => u.closes.length > 0, 4000, "the close")
  assert.equal(u.closes[0].code, 4001)
  assert.ok(u.closes[0].at >= u.exp - 50, "not before exp")
  assert.ok(u.closes[0].at <= u.exp + 1000, "within 1 s after exp")
})

test("access_token with a fresh token keeps the socket past the old exp", async () => {
  const u = await user("bob")
  const fresh = mintToken({sub: "bob", exp: Math.floor(Date.now() / 1000) + 60})
  const r = await pushAndWait(u.chan.push("access_token", {access_token: fresh}))
  assert.equal(r.status, "ok")
  await waitFor(() => Date.now() > u.exp + 1200, 5000, "the old exp to pass")
  assert.deepEqual(u.closes, [])
  const sent = await pushAndWait(u.chan.push("new_msg", {body: "still here"}))
  assert.equal(sent.status, "ok")
})

test("access_token with a bad token: error reply, then the socket closes", async () => {
  for (const bad of ["garbage", mintToken({sub: "mallory", exp: Math.floor(Date.now() / 1000) + 60}),
                     mintToken({sub: "carol", exp: 1})]) {
    const u = await user("carol")
    const r = await pushAndWait(u.chan.push("access_token", {access_token: bad}))
    assert.equal(r.status, "error")
    assert.deepEqual(r.response, {reason: "invalid token"})
    await waitFor(() => u.closes.length > 0, 2000, "the close")
    assert.equal(u.closes[0].code, 4001)
    await closeAll()
  }
})
