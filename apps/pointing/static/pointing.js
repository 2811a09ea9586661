// fenix pointing party page: sign in, join room:NAME, set the ticket, vote,
// see who voted (presence) and the revealed votes. Uses the official
// phoenix client, served by the app.
import {Socket, Presence} from "/assets/phoenix.mjs"
import {bindLogin, keepFresh} from "/assets/session.js"

const POINTS = [0, 1, 2, 3, 5, 8, 13, 21]

const $ = (id) => document.getElementById(id)

const state = {
  username: null,
  token: null,     // the current session token (refreshed before exp)
  socket: null,
  channel: null,   // the current room's channel
  presence: null,
  myVote: null,    // what we voted this round (the server keeps it private)
}

function start(token, username){
  state.username = username
  state.token = token
  $("me").textContent = username
  $("login-view").hidden = true
  $("room-view").hidden = false

  let socket = new Socket("/socket", {params: () => ({token: state.token}), longPollFallbackMs: 2500})
  socket.onOpen(() => setStatus("connected"))
  socket.onError(() => setStatus("connection error, retrying…"))
  socket.onClose(() => setStatus("disconnected, reconnecting…"))
  socket.connect()
  state.socket = socket
  keepFresh(state,
    (token) => state.channel?.push("access_token", {access_token: token}),
    () => setStatus("could not refresh the session, retrying…"))

  joinRoom($("room").value.trim() || "lobby")
}

function setStatus(text){ $("status").textContent = text }

// -- rooms --------------------------------------------------------------------

function joinRoom(name){
  if(state.channel) state.channel.leave()
  for(let id of ["room-error", "ticket-error", "vote-error"]) $(id).textContent = ""
  $("members").replaceChildren()
  showTicket(null)
  $("current-room").textContent = `joining ${name}…`

  let channel = state.socket.channel(`room:${name}`, {})
  let presence = new Presence(channel)
  state.channel = channel
  state.presence = presence
  const current = () => state.channel === channel

  presence.onSync(() => { if(current()) renderMembers(presence) })
  channel.on("ticket", (t) => { if(current()) showTicket(t) })
  channel.on("votes_revealed", (r) => { if(current()) showResults(r) })

  // Runs after every (re)join: the reply carries the room's round.
  channel.join()
    .receive("ok", ({ticket, voted}) => {
      if(!current()) return
      $("current-room").textContent = `in ${name}`
      showTicket(ticket)
      if(!(voted || []).includes(state.username)) selectCard(null)
    })
    .receive("error", ({reason} = {}) => {
      if(!current()) return
      $("current-room").textContent = ""
      $("room-error").textContent = reason || "could not join"
      // Stop the client from retrying a join the server refuses.
      channel.leave()
      state.channel = null
      state.presence = null
    })
    .receive("timeout", () => {
      if(current()) $("room-error").textContent = "join timed out, retrying…"
    })
}

function onRoomSubmit(event){
  event.preventDefault()
  joinRoom($("room").value.trim())
}

// -- ticket and votes ---------------------------------------------------------

function showTicket(ticket){
  $("results").hidden = true
  $("votes").replaceChildren()
  $("summary").textContent = ""
  selectCard(null)
  $("ticket").textContent = ticket
    ? `${ticket.title} (set by ${ticket.by})` : "No ticket yet."
  $("ticket").dataset.title = ticket ? ticket.title : ""
}

function push(event, payload, errorId, onOk = () => {}){
  $(errorId).textContent = ""
  if(!state.channel){
    $(errorId).textContent = "join a room first"
    return
  }
  state.channel.push(event, payload)
    .receive("ok", onOk)
    .receive("error", ({reason} = {}) => { $(errorId).textContent = reason || "refused" })
    .receive("timeout", () => { $(errorId).textContent = "timeout" })
}

function onSetTicket(event){
  event.preventDefault()
  let input = $("title")
  let title = input.value
  push("set_ticket", {title}, "ticket-error", () => {
    if(input.value === title) input.value = ""
  })
}

function vote(points){
  push("vote", {points}, "vote-error", () => selectCard(points))
}

function selectCard(points){
  state.myVote = points
  for(let b of $("cards").children){
    b.setAttribute("aria-pressed", String(Number(b.dataset.points) === points))
  }
}

function showResults({votes, summary}){
  let items = Object.keys(votes).sort().map((user) => {
    let li = document.createElement("li")
    li.dataset.user = user
    li.dataset.points = String(votes[user])
    li.textContent = `${user}: ${votes[user]}`
    return li
  })
  $("votes").replaceChildren(...items)
  let {min, max, average, consensus} = summary
  $("summary").textContent = consensus
    ? `Consensus: ${min}`
    : `min ${min}, max ${max}, average ${average}`
  $("summary").dataset.average = String(average)
  $("results").hidden = false
}

// -- presence -----------------------------------------------------------------

function renderMembers(presence){
  let users = presence.list((user, {metas}) => ({
    user,
    tabs: metas.length,
    voted: metas.some((meta) => meta.state === "voted"),
  }))
  users.sort((a, b) => a.user.localeCompare(b.user))
  let items = users.map(({user, tabs, voted}) => {
    let li = document.createElement("li")
    li.dataset.user = user
    li.dataset.state = voted ? "voted" : "voting"
    li.textContent = user
    if(tabs > 1) li.title = `${tabs} tabs`
    if(user === state.username) li.classList.add("me")
    li.classList.add(voted ? "voted" : "voting")
    return li
  })
  $("members").replaceChildren(...items)
}

// -- wiring -------------------------------------------------------------------

for(let points of POINTS){
  let b = document.createElement("button")
  b.type = "button"
  b.className = "card"
  b.dataset.points = String(points)
  b.dataset.testid = `vote-${points}`
  b.textContent = String(points)
  b.setAttribute("aria-pressed", "false")
  b.addEventListener("click", () => vote(points))
  $("cards").append(b)
}
bindLogin(start)
$("room-form").addEventListener("submit", onRoomSubmit)
$("ticket-form").addEventListener("submit", onSetTicket)
$("reveal").addEventListener("click", () => push("reveal", {}, "vote-error"))
$("username").focus()
