// fenix chat page: sign in, join room:NAME, talk, see who is online and
// who is typing. Uses the official phoenix client, served by the app.
import {Socket, Presence} from "/assets/phoenix.mjs"
import {bindLogin, keepFresh} from "/assets/session.js"

const TYPING_IDLE_MS = 2000

const $ = (id) => document.getElementById(id)

const state = {
  username: null,
  socket: null,
  channel: null,     // the current room's channel
  presence: null,
  typing: false,     // what we last told the server
  typingTimer: null,
  token: null,       // the current session token (refreshed before exp)
  position: null,    // {epoch, offset} of the last message seen in the room
}

function start(token, username){
  state.username = username
  state.token = token
  $("me").textContent = username
  $("login-view").hidden = true
  $("chat-view").hidden = false

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
  $("message").focus()
}

function setStatus(text){ $("status").textContent = text }

// -- rooms --------------------------------------------------------------------

function joinRoom(name){
  if(state.channel){
    stopTyping()
    state.channel.leave()
  }
  $("room-error").textContent = ""
  $("send-error").textContent = ""
  $("messages").replaceChildren()
  $("online").replaceChildren()
  $("typing").textContent = ""
  $("current-room").textContent = `joining ${name}…`

  state.position = null
  // Every rejoin passes the last position seen: the server replays what
  // was missed (recovered: true) or sends the last 50 again.
  let channel = state.socket.channel(`room:${name}`,
    () => state.position ? {recover: state.position} : {})
  let presence = new Presence(channel)
  state.channel = channel
  state.presence = presence
  const current = () => state.channel === channel

  presence.onSync(() => { if(current()) renderPresence(presence) })

  channel.on("new_msg", (msg) => {
    if(!current()) return
    if(state.position && typeof msg.offset === "number")
      state.position = {epoch: state.position.epoch, offset: msg.offset}
    addMessage(msg)
  })

  // Runs after every (re)join: the reply carries a fresh history.
  channel.join()
    .receive("ok", ({messages, recovered, epoch, offset}) => {
      if(!current()) return
      $("current-room").textContent = `in ${name}`
      // A (re)join starts with typing false on the server.
      clearTimeout(state.typingTimer)
      state.typing = false
      // Recovered: the missed messages follow as new_msg pushes.
      if(recovered) return
      state.position = typeof offset === "number" ? {epoch, offset} : null
      $("messages").replaceChildren()
      ;(messages || []).forEach(addMessage)
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

// -- messages -----------------------------------------------------------------

function addMessage({id, user, body, at}){
  let list = $("messages")
  if(id && list.querySelector(`li[data-id="${CSS.escape(id)}"]`)) return

  let li = document.createElement("li")
  if(id) li.dataset.id = id
  li.dataset.user = user
  if(user === state.username) li.classList.add("mine")

  let time = document.createElement("time")
  time.className = "at"
  let date = new Date(at)
  if(!isNaN(date)){
    time.dateTime = date.toISOString()
    time.textContent = date.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"})
  }
  let who = document.createElement("span")
  who.className = "user"
  who.textContent = user
  let text = document.createElement("span")
  text.className = "body"
  text.textContent = body

  li.append(time, " ", who, " ", text)
  list.append(li)
  // Scroll the list only (scrollIntoView would scroll the whole page too).
  list.scrollTop = list.scrollHeight
}

function onSend(event){
  event.preventDefault()
  let input = $("message")
  let body = input.value
  let channel = state.channel
  $("send-error").textContent = ""
  if(!channel) {
    $("send-error").textContent = "join a room first"
    return
  }
  stopTyping()
  channel.push("new_msg", {body})
    .receive("ok", () => {
      if(input.value === body) input.value = ""
    })
    .receive("error", ({reason} = {}) => {
      $("send-error").textContent = reason || "not sent"
    })
    .receive("timeout", () => {
      $("send-error").textContent = "not sent: timeout"
    })
}

// -- typing indicator ---------------------------------------------------------

function sendTyping(typing){
  if(!state.channel || state.typing === typing) return
  state.typing = typing
  state.channel.push("typing", {typing})
}

function stopTyping(){
  clearTimeout(state.typingTimer)
  state.typingTimer = null
  sendTyping(false)
}

function onInput(){
  if($("message").value === ""){
    stopTyping()
    return
  }
  sendTyping(true)
  clearTimeout(state.typingTimer)
  state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS)
}

// -- presence -----------------------------------------------------------------

function renderPresence(presence){
  let users = presence.list((user, {metas}) => ({
    user,
    tabs: metas.length,
    typing: metas.some((meta) => meta.typing === true),
  }))
  users.sort((a, b) => a.user.localeCompare(b.user))

  let items = users.map(({user, tabs, typing}) => {
    let li = document.createElement("li")
    li.dataset.user = user
    li.textContent = user
    if(tabs > 1) li.title = `${tabs} tabs`
    if(user === state.username) li.classList.add("me")
    if(typing) li.classList.add("typing")
    return li
  })
  $("online").replaceChildren(...items)

  let typers = users
    .filter(({user, typing}) => typing && user !== state.username)
    .map(({user}) => user)
  $("typing").textContent = typingText(typers)
}

function typingText(names){
  if(names.length === 0) return ""
  if(names.length === 1) return `${names[0]} is typing…`
  let last = names[names.length - 1]
  return `${names.slice(0, -1).join(", ")} and ${last} are typing…`
}

// -- wiring -------------------------------------------------------------------

bindLogin(start)
$("room-form").addEventListener("submit", onRoomSubmit)
$("send-form").addEventListener("submit", onSend)
$("message").addEventListener("input", onInput)
$("username").focus()
