// Sign-in and session for every app's page (embedded in each app and served
// as /assets/session.js): POST /api/session, the sign-in form, and a token
// kept fresh before its exp, since the server closes a socket at its
// token's exp (docs/apps.md).

const USERNAME_RE = /^[A-Za-z0-9_.-]{1,32}$/
const $ = (id) => document.getElementById(id)

export async function createSession(username){
  let resp = await fetch("/api/session", {
    method: "POST",
    headers: {"content-type": "application/json"},
    body: JSON.stringify({username}),
  })
  let body = await resp.json().catch(() => ({}))
  if(!resp.ok || !body.token){
    throw new Error(body.error || `sign in failed (HTTP ${resp.status})`)
  }
  return body
}

/// Wires the sign-in form (#login-form, #username, #login, #login-error):
/// a good name gets a session and `signedIn(token, username)`.
export function bindLogin(signedIn){
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault()
    let name = $("username").value.trim()
    $("login-error").textContent = ""
    if(!USERNAME_RE.test(name)){
      $("login-error").textContent = "invalid username"
      return
    }
    $("login").disabled = true
    try {
      let {token, username} = await createSession(name)
      signedIn(token, username || name)
    } catch(err){
      $("login-error").textContent = err.message
    } finally {
      $("login").disabled = false
    }
  })
}

function tokenExpiry(token){
  try {
    let claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")))
    return claims.exp * 1000
  } catch { return null }
}

/// Keeps `session.token` (of `session.username`) fresh: a new token is
/// fetched a third of its life (at most a minute) before it expires, stored
/// in session.token (the socket's params read it on reconnect) and given to
/// `fresh(token)`, which pushes it as access_token. A failed refresh calls
/// `failed(err)` and is retried, no sooner than a second later.
export function keepFresh(session, fresh, failed = () => {}){
  let timer = null
  const schedule = () => {
    clearTimeout(timer)
    let exp = tokenExpiry(session.token)
    if(!exp) return
    let left = exp - Date.now()
    timer = setTimeout(refresh, Math.max(1000, left - Math.min(60_000, left / 3)))
  }
  const refresh = async () => {
    try {
      let {token} = await createSession(session.username)
      session.token = token
      fresh(token)
    } catch(err){
      failed(err)
    }
    schedule()
  }
  schedule()
}
