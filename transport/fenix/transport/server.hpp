/// The HTTP and WebSocket listener (Beast). It knows nothing of topics or
/// channels: it routes HTTP requests to handlers, and hands WebSocket
/// upgrades to an upgrade function that accepts them with a socket_handler.
///
///   transport::server srv{opts};
///   srv.route("GET", "/health", health);
///   srv.websocket("/socket/websocket", upgrade);
///   srv.start();                 // binds; srv.port() is the real port
///   ...
///   srv.stop(close_code::service_restart);
///
/// Threads: `io_threads` io threads (default 1), each with its own event loop
/// and its share of the connections. Handlers and the upgrade function run
/// on them and must not block; actors reach a connection only through
/// connection::send/close, which hand the work to the connection's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "fenix/transport/connection.hpp"
#include "fenix/transport/http.hpp"
#include "fenix/transport/tls.hpp"

namespace fenix::transport {

/// What happens when a connection's outbound queue exceeds max_backpressure.
enum class backpressure_policy {
  close,  // close with 1013 (the client reconnects); the default
  drop,   // drop the new frame and count it
};

struct server_options {
  std::string host = "127.0.0.1";           // address to bind
  std::uint16_t port = 4000;                // 0 picks a free port
  int io_threads = 1;                       // 1 measured fastest on 2 cores
  std::size_t max_frame_size = 10'000'000;  // larger frames close with 1009
  std::chrono::milliseconds idle_timeout{60'000};  // no data received: 1001
  std::size_t max_backpressure = 1 << 20;  // outbound bytes queued per conn
  backpressure_policy on_backpressure = backpressure_policy::close;
  // Past max_backpressure the policy applies once the connection has not
  // drained a frame for this long (a reader that stopped), or at once past
  // hard_factor times the bound (memory stays bounded either way).
  std::chrono::milliseconds backpressure_stall{1000};
  std::size_t backpressure_hard_factor = 16;
  std::size_t max_inbound_pending = 256;     // frames not yet consumed: pause
  std::size_t max_inbound_bytes = 16 << 20;  // their bytes: pause reading
  std::size_t max_http_body = 64 * 1024;     // larger bodies get 413 (per
                                             // route: server::body_limit)
  // Request line + headers must fit in this many bytes, else 431 and
  // close; a chunk line or the trailers of a chunked body in twice that.
  std::size_t max_http_header = 8 * 1024;
  std::chrono::milliseconds handshake_timeout{10'000};
  // Shutdown (stop) closes WebSockets in batches, like Phoenix's socket
  // drainer (same defaults), so that clients do not all come back at the
  // same instant: drain_batch_size per drain_interval, and stop() waits at
  // most drain_timeout in all before it drops what is left.
  std::size_t drain_batch_size = 10'000;
  std::chrono::milliseconds drain_interval{2'000};
  std::chrono::milliseconds drain_timeout{30'000};
  // An inbound close frame or bad frame is answered after the replies to
  // the messages received before it; this long at most, if the handler
  // does not consume those messages (connection::consumed).
  std::chrono::milliseconds close_flush_timeout{1000};
  // permessage-deflate (RFC 7692) when the client offers it; off by
  // default, as in Phoenix. No context takeover either way: idle
  // connections hold no compression state.
  bool compress = false;
  std::size_t compress_min_size = 128;  // smaller messages go uncompressed
  // TLS (https, wss), when tls.enabled(): with tls_port unset the listener
  // on `port` speaks TLS only; with tls_port set, `port` stays plain and a
  // second listener on tls_port (0 picks a free one) speaks TLS. Requests
  // that came over TLS have http_request::secure set.
  tls_options tls;
  std::optional<std::uint16_t> tls_port;
};

/// Live counters of the transport (all connections).
struct server_stats {
  std::uint64_t connections = 0;        // open WebSockets now
  std::uint64_t connections_total = 0;  // accepted since start
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t frames_dropped = 0;   // backpressure drops
  std::uint64_t slow_closes = 0;      // backpressure closes
  std::uint64_t writes = 0;           // socket writes (frames_out / writes:
                                      // frames per write)
  std::uint64_t http_refused = 0;     // 400/413/431 answers to bad requests
  std::uint64_t accept_backoffs = 0;  // accept paused at the fd limit
  std::uint64_t deflates = 0;         // compressions run (a broadcast: one)
  std::uint64_t frames_deflated = 0;  // frames sent compressed
  std::uint64_t tls_handshakes = 0;   // TLS handshakes completed
  std::uint64_t tls_handshake_failures = 0;  // bad or timed-out handshakes
};

using http_handler = std::function<http_response(const http_request&)>;

/// Answers an HTTP request later, from any thread, exactly once.
using http_responder = std::function<void(http_response)>;

/// A handler that answers through the responder (e.g. a long poll).
using async_http_handler =
  std::function<void(const http_request&, http_responder)>;
using upgrade_handler = std::function<upgrade_result(const http_request&)>;

class server {
public:
  explicit server(server_options opts);
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Registers a handler for an exact method and path.
  void route(std::string method, std::string path, http_handler h);

  /// Registers a handler for every path under `prefix` (any method).
  void route_prefix(std::string prefix, http_handler h);

  /// Registers an asynchronous handler for every method on `path`. The
  /// connection reads no further request until the responder was called.
  void route_async(std::string path, async_http_handler h);

  /// The body limit of requests to `path` (default: max_http_body).
  void body_limit(std::string path, std::uint64_t bytes);

  /// Registers a WebSocket endpoint at `path` (exact; several may be).
  void websocket(std::string path, upgrade_handler h);

  /// Registers a WebSocket endpoint for upgrade requests to every path
  /// under `prefix` ("/": any path) that no exact endpoint has. Plain HTTP
  /// requests there still go to the HTTP routes.
  void websocket_prefix(std::string prefix, upgrade_handler h);

  /// Binds and starts the io threads. Throws std::system_error on failure,
  /// std::runtime_error when the TLS options do not load.
  void start();

  /// The bound port (after start).
  std::uint16_t port() const;

  /// The bound TLS port (after start): port() when `port` speaks TLS, 0
  /// without TLS.
  std::uint16_t tls_port() const;

  /// Closes the listener, closes every WebSocket with `code` (in batches:
  /// server_options::drain_*), and joins the io threads. Idempotent.
  void stop(close_code code = close_code::service_restart);

  server_stats stats() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace fenix::transport
