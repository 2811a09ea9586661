/// The long-poll transport (protocol doc section 6): the same socket actor
/// as a WebSocket, reached through GET (poll) and POST (publish) on
/// `<socket_path>/longpoll`. Every answer is HTTP 200 with the real status
/// in the JSON body: 410 + token opens a session, 200/204 answer a poll,
/// 403 refuses, 410 without a token means the session is gone.
///
///   longpoll::handler lp{opts, accept, origin_ok};
///   server.route_async("/socket/longpoll",
///                      [&](auto& req, auto respond) {
///                        lp.handle(req, std::move(respond)); });
///
/// Each session is a `connection` for the same `socket_handler` a WebSocket
/// gets: `accept` is the WebSocket upgrade function (any refusal becomes
/// {"status":403}), then on_open once, on_frame per posted frame, on_close
/// once when the session ends. Unlike a WebSocket's, these calls come from
/// several threads (the io threads of the polls, the sweeper), one at a time
/// per session. The endpoint turns it on with endpoint_options::longpoll
/// (off by default, as in Phoenix).
///
/// A GET is held up to `window` (10 s) waiting for messages; a
/// session nobody polls for 1.5x the window ends, and its channels with it.
/// POST bodies of type application/x-ndjson carry at most 100 frames (text
/// frames as JSON lines, binary frames as base64 lines); other types are
/// one text frame. Server-to-client binary frames cannot be carried and are
/// dropped (as in Phoenix: long poll supports only the text opcode).
///
/// Tokens are 128 random bits (OpenSSL RAND_bytes) signed with HMAC-SHA256
/// under a key each handler draws at start (session_token.hpp); a token
/// that does not verify is an unknown session: GET opens a new one, POST
/// gets 410. The Origin is checked on every request ({"status":403}).
/// Inbound memory is bounded: a POST body over `max_body` (default 1 MiB)
/// gets HTTP 413; frames posted but not yet consumed by the socket
/// actor are bounded by `max_inbound` per session (default 16 MiB),
/// and a POST that would pass it is refused whole with {"status":408}, so
/// phoenix.js reconnects (nothing of it was taken). A session keeps only the
/// path and peer of its opening request. Connect refusals are always
/// {"status":403}, whatever status the callback picked for WebSockets.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "fenix/transport/connection.hpp"
#include "fenix/transport/server.hpp"

namespace fenix::transport::longpoll {

struct options {
  std::chrono::milliseconds window{10'000};  // how long a GET is held
  std::size_t max_body = 1 << 20;            // POST body bytes; above: 413
  std::size_t max_buffer = 1 << 20;          // outbound bytes a session buffers
                                             // between polls; above: it closes
  std::size_t max_inbound = 16 << 20;        // posted, not yet consumed
};

/// Opens a session, as an upgrade function opens a WebSocket.
using accept_fn = std::function<upgrade_result(const http_request&)>;
/// True if the request's Origin may use long poll (checked on every one).
using origin_fn = std::function<bool(const http_request&)>;

class handler {
public:
  handler(options opts, accept_fn accept, origin_fn origin_ok);
  ~handler();

  handler(const handler&) = delete;
  handler& operator=(const handler&) = delete;

  /// The async HTTP handler for `<socket_path>/longpoll`.
  void handle(const http_request& req, http_responder respond);

  /// Ends every session (server shutdown). Idempotent.
  void stop();

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace fenix::transport::longpoll
