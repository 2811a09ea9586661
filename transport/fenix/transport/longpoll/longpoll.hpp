/// The long-poll transport (protocol doc section 6): the same socket actor
/// as a WebSocket, reached through GET (poll) and POST (publish) on
/// `<socket_path>/longpoll`. Every answer is HTTP 200 with the real status
/// in the JSON body: 410 + token opens a session, 200/204 answer a poll,
/// 403 refuses, 410 without a token means the session is gone.
///
///   endpoint_options opts;
///   opts.longpoll = true;       // off by default, as in Phoenix
///
/// A GET is held up to `longpoll_window` (10 s) waiting for messages; a
/// session nobody polls for 1.5x the window ends, and its channels with it.
/// POST bodies of type application/x-ndjson carry at most 100 frames (text
/// frames as JSON lines, binary frames as base64 lines); other types are
/// one text frame. Server-to-client binary frames cannot be carried and are
/// dropped (as in Phoenix: long poll supports only the text opcode).
///
/// Tokens are 128 random bits (OpenSSL RAND_bytes) signed with HMAC-SHA256
/// under a key each endpoint draws at start (session_token.hpp); a token
/// that does not verify is an unknown session: GET opens a new one, POST
/// gets 410. The Origin is checked on every request ({"status":403}).
/// Inbound memory is bounded: a POST body over `longpoll_max_body` (default
/// 1 MiB) gets HTTP 413; frames posted but not yet consumed by the socket
/// actor are bounded by `max_inbound_bytes` per session (default 16 MiB),
/// and a POST that would pass it is refused whole with {"status":408}, so
/// phoenix.js reconnects (nothing of it was taken). A session keeps only the
/// path and peer of its opening request. Connect refusals are always
/// {"status":403}, whatever status the callback picked for WebSockets.
#pragma once

#include <memory>

#include "fenix/transport/server.hpp"

namespace fenix::detail {

struct endpoint_context;

class longpoll {
public:
  explicit longpoll(std::shared_ptr<endpoint_context> ctx);
  ~longpoll();

  longpoll(const longpoll&) = delete;
  longpoll& operator=(const longpoll&) = delete;

  /// The async HTTP handler for `<socket_path>/longpoll`.
  void handle(const transport::http_request& req,
              transport::http_responder respond);

  /// Ends every session (server shutdown).
  void stop();

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace fenix::detail
