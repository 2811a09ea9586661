// permessage-deflate on against off: server CPU and bytes on the wire per
// delivery of a ~1 KB JSON chat message to 200 subscribers (fenix-test-server,
// `ws` clients with perMessageDeflate, broadcasts through POST /broadcast).
//
//   cd tests/js && FENIX_BUILD_DIR=../../build node ../../bench/deflate_compare.mjs

import {startServer, RawClient, closeAll} from "../tests/js/helpers.mjs"
import {cpuSeconds} from "../tests/js/hostile_helpers.mjs"

const SUBSCRIBERS = 200
const MESSAGES = 200

// A deterministic chat-like payload of about 1 KB.
function chatPayload() {
  let seed = 7
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) /
    2147483648
  const words = ("alpha bravo charlie delta echo foxtrot golf hotel india " +
    "juliet kilo lima mike november oscar papa quebec romeo sierra tango " +
    "uniform victor whiskey xray yankee zulu meeting tomorrow deploy server " +
    "client phoenix channel presence").split(" ")
  const messages = []
  for (let i = 0; i < 7; i++) {
    let body = ""
    while (body.length < 70)
      body += words[Math.floor(rnd() * words.length)] + (rnd() < 0.1 ? ". " : " ")
    messages.push({id: Math.floor(rnd() * 1e9),
      user: "user" + Math.floor(rnd() * 1000), at: 1795424107000 + i, body})
  }
  return {room: "lobby", messages}
}

const payload = chatPayload()
for (const compress of [false, true]) {
  const s = await startServer(compress ? ["--compress", "true"] : [])
  const clients = []
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const c = await RawClient.connect(s, {user: `b${i}`},
      {perMessageDeflate: compress})
    await c.join("bench:cpu", "1")
    clients.push(c)
  }
  const bytesRead = () => clients.reduce((a, c) => a + c.ws._socket.bytesRead, 0)
  const b0 = bytesRead()
  const cpu0 = cpuSeconds(s.proc.pid)
  for (let m = 0; m < MESSAGES; m++)
    await s.broadcast("bench:cpu", "msg", payload)
  await Promise.all(clients.map(async c => {
    for (let m = 0; m < MESSAGES; m++)
      await c.take(f => f[3] === "msg", 20_000)
  }))
  const cpu = cpuSeconds(s.proc.pid) - cpu0
  const bytes = bytesRead() - b0
  const st = await s.stats()
  const n = SUBSCRIBERS * MESSAGES
  const size = JSON.stringify([null, null, "bench:cpu", "msg", payload]).length
  console.log(`compress=${compress} message=${size} B deliveries=${n} ` +
    `server_cpu=${(cpu * 1e6 / n).toFixed(2)} us/delivery (incl. ${MESSAGES} ` +
    `HTTP broadcasts) wire=${(bytes / n).toFixed(1)} B/delivery ` +
    `deflates=${st.deflates} frames_deflated=${st.frames_deflated}`)
  await closeAll()
  await s.stop()
}
