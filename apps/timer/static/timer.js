// fenix timer page: sign in, join timers:USERNAME, start timers and watch
// the server count them down. The server is the gold copy: this page only
// shows what it is told (join reply, broadcasts, ticks).
import {Socket} from "/assets/phoenix.mjs"
import {bindLogin, keepFresh} from "/assets/session.js"


const $ = (id) => document.getElementById(id)

const state = {
  username: null,
  socket: null,
  channel: null,
  timers: new Map(), // id -> {id, label, duration, remaining_time, status}
}

function start(token, username){
  state.username = username
  state.token = token
  $("me").textContent = username
  $("login-view").hidden = true
  $("timer-view").hidden = false

  let socket = new Socket("/socket", {params: () => ({token: state.token}), longPollFallbackMs: 2500})
  socket.onOpen(() => setStatus("connected"))
  socket.onError(() => setStatus("connection error, retrying…"))
  socket.onClose(() => setStatus("disconnected, reconnecting…"))
  socket.connect()
  state.socket = socket
  keepFresh(state,
    (token) => state.channel?.push("access_token", {access_token: token}),
    () => setStatus("could not refresh the session, retrying…"))
  joinTimers()
  $("duration").focus()
}

function setStatus(text){ $("status").textContent = text }

// -- the channel --------------------------------------------------------------

function joinTimers(){
  let channel = state.socket.channel(`timers:${state.username}`, {})
  state.channel = channel

  channel.on("timers:started", (t) => upsert(t))
  channel.on("timers:paused", (t) => upsert({...t, status: t.status || "paused"}))
  channel.on("timers:resumed", (t) => upsert({...t, status: t.status || "running"}))
  channel.on("timers:stopped", ({id}) => removeTimer(id))
  channel.on("timers:completed", (t) =>
    upsert({...t, status: "completed", remaining_time: 0}))
  channel.on("timers:tick", ({id, remaining_time}) => {
    if(state.timers.has(id)) upsert({id, remaining_time})
  })

  // Runs after every (re)join, e.g. after a reconnect: a fresh list.
  channel.join()
    .receive("ok", ({timers}) => {
      $("timer-error").textContent = ""
      state.timers.clear()
      $("timers").replaceChildren()
      ;(timers || []).forEach(upsert)
      updateEmpty()
    })
    .receive("error", ({reason} = {}) => {
      $("timer-error").textContent = reason || "could not join"
    })
}

function onStart(event){
  event.preventDefault()
  let raw = $("duration").value.trim()
  let payload = {duration: raw === "" ? null : Number(raw)}
  let label = $("label").value
  if(label !== "") payload.label = label
  $("start-error").textContent = ""
  state.channel.push("timers:start", payload)
    .receive("ok", () => { $("label").value = "" })
    .receive("error", ({reason} = {}) => {
      $("start-error").textContent = reason || "not started"
    })
    .receive("timeout", () => { $("start-error").textContent = "timeout" })
}

function act(action, id){
  $("timer-error").textContent = ""
  state.channel.push(`timers:${action}`, {id})
    .receive("error", ({reason} = {}) => {
      $("timer-error").textContent = reason || `${action} failed`
    })
    .receive("timeout", () => { $("timer-error").textContent = "timeout" })
}

function onListClick(event){
  let button = event.target.closest("button")
  let li = button && button.closest("li[data-timer-id]")
  if(!li) return
  let id = li.dataset.timerId
  if(button.classList.contains("pause")) act("pause", id)
  else if(button.classList.contains("resume")) act("resume", id)
  else if(button.classList.contains("stop")) act("stop", id)
  else if(button.classList.contains("dismiss")) removeTimer(id)
}

// -- rendering ----------------------------------------------------------------

function upsert(update){
  if(!update || update.id == null) return
  let timer = {...(state.timers.get(update.id) || {}), ...update}
  state.timers.set(timer.id, timer)
  render(timer)
  updateEmpty()
}

function removeTimer(id){
  state.timers.delete(id)
  let li = findItem(id)
  if(li) li.remove()
  updateEmpty()
}

function findItem(id){
  return $("timers").querySelector(`li[data-timer-id="${CSS.escape(String(id))}"]`)
}

function createItem(id){
  let li = document.createElement("li")
  li.dataset.timerId = id
  let label = document.createElement("span")
  label.className = "label"
  let remaining = document.createElement("span")
  remaining.className = "remaining"
  remaining.setAttribute("role", "timer")
  let status = document.createElement("span")
  status.className = "status"
  let buttons = document.createElement("span")
  buttons.className = "actions"
  for(let [cls, text] of [["pause", "Pause"], ["resume", "Resume"],
                          ["stop", "Stop"], ["dismiss", "Dismiss"]]){
    let b = document.createElement("button")
    b.type = "button"
    b.className = cls
    b.textContent = text
    buttons.append(b)
  }
  li.append(label, " ", remaining, " ", status, " ", buttons)
  $("timers").append(li)
  return li
}

function render(timer){
  let li = findItem(timer.id) || createItem(timer.id)
  let name = timer.label || `${timer.duration ?? "?"} s timer`
  let seconds = Number(timer.remaining_time ?? 0)
  li.dataset.status = timer.status || ""
  li.querySelector(".label").textContent = name
  let remaining = li.querySelector(".remaining")
  remaining.dataset.seconds = String(seconds)
  remaining.textContent = formatSeconds(seconds)
  li.querySelector(".status").textContent = timer.status || ""
  let active = timer.status === "running" || timer.status === "paused"
  li.querySelector(".pause").hidden = timer.status !== "running"
  li.querySelector(".resume").hidden = timer.status !== "paused"
  li.querySelector(".stop").hidden = !active
  li.querySelector(".dismiss").hidden = active
  for(let b of li.querySelectorAll("button")) b.setAttribute("aria-label", `${b.textContent} ${name}`)
}

function formatSeconds(total){
  total = Math.max(0, Math.floor(total))
  let h = Math.floor(total / 3600)
  let m = Math.floor((total % 3600) / 60)
  let s = String(total % 60).padStart(2, "0")
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`
}

function updateEmpty(){ $("empty").hidden = state.timers.size > 0 }

// -- wiring -------------------------------------------------------------------

bindLogin(start)
$("start-form").addEventListener("submit", onStart)
$("timers").addEventListener("click", onListClick)
$("username").focus()
