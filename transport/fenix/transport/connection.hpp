/// The transport's handle to one WebSocket connection, as the rest of fenix
/// sees it: thread-safe, Beast-free, and safe to keep after the connection
/// is gone (calls then do nothing).
///
///   conn->send(frame);                        // any thread; queued, bounded
///   conn->close(close_code::going_away, "");  // any thread
///
/// Outbound frames are queued per connection up to `max_backpressure` bytes;
/// past that the connection's `backpressure_policy` decides (see server.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fenix/transport/http.hpp"
#include "fenix/transport/frame.hpp"

namespace fenix::transport {

/// WebSocket close codes fenix uses (RFC 6455 section 7.4).
enum class close_code : std::uint16_t {
  normal = 1000,      // only when the client should not come back
  going_away = 1001,  // kicked (socket-id disconnect), idle timeout
  protocol_error = 1002,
  invalid_payload = 1007,  // undecodable frame
  policy_violation = 1008,
  too_big = 1009,  // frame over max_frame_size
  internal_error = 1011,
  service_restart = 1012,  // server shutting down (drain)
  try_again_later = 1013,  // outbound queue overflow (slow reader)
  token_expired = 4001,    // the socket's token expired or its refresh
                           // failed (clients reconnect, fenix's own code)
};

class connection {
public:
  virtual ~connection() = default;

  /// Queues a frame for writing. Never blocks.
  virtual void send(frame f) = 0;

  /// Starts the close handshake with `code`; later sends are dropped.
  virtual void close(close_code code, std::string reason = {}) = 0;

  /// Tells the transport that one received frame of `bytes` bytes was
  /// processed, so that reading resumes if it was paused for inbound flow
  /// control (server_options::max_inbound_pending / max_inbound_bytes).
  /// Call it after sending the replies to that frame: a close frame or bad
  /// frame the peer sent after it is answered behind them.
  virtual void consumed(std::size_t bytes) = 0;

  /// The upgrade request (path, query, headers, peer).
  virtual const http_request& request() const = 0;
};

using connection_ptr = std::shared_ptr<connection>;

/// Batches the sends this thread makes while it lives: they reach each io
/// thread as one hand-off when the batch ends, and frames for the same
/// connection leave in one write. Use it around a loop that sends to many
/// connections (a broadcast). Batches nest; order per connection is kept.
///
///   { transport::send_batch batch;
///     for (auto& c : subscribers) c->send(f); }   // handed over here
class send_batch {
public:
  send_batch();
  ~send_batch();
  send_batch(const send_batch&) = delete;
  send_batch& operator=(const send_batch&) = delete;
};

/// What the transport calls for each accepted WebSocket. Calls come from the
/// io thread, in order: on_open once, on_frame per frame, on_close once.
class socket_handler {
public:
  virtual ~socket_handler() = default;
  virtual void on_open(connection_ptr conn) = 0;
  virtual void on_frame(std::string data, bool binary) = 0;
  virtual void on_close() = 0;
};

/// The answer to an upgrade request: refuse with an HTTP status, or accept
/// with a handler and (optionally) a subprotocol to echo.
struct upgrade_result {
  int status = 101;  // anything else refuses with that status, empty body
  std::string subprotocol;
  std::shared_ptr<socket_handler> handler;

  static upgrade_result refuse(int status) { return {status, {}, nullptr}; }
};

}  // namespace fenix::transport
