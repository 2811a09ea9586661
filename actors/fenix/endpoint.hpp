/// The endpoint: an HTTP + WebSocket server whose sockets speak the Phoenix
/// channels protocol, with channels routed by topic pattern.
///
///   caf::actor_system_config cfg;
///   fenix::configure_scheduler(cfg);       // optional: see below
///   caf::actor_system sys{cfg};
///   fenix::endpoint ep{sys, {.port = 4000}};
///   ep.on_connect([](const fenix::connect_info& info) {
///     auto user = info.param("user");
///     if (user.empty())
///       return fenix::connect_result::refuse();          // HTTP 403
///     return fenix::connect_result::accept({{"user", user}},
///                                          "users_socket:" + user);
///   });
///   ep.channel("room:*", room);            // see channel.hpp
///   return ep.run();   // prints "listening on http://HOST:PORT", waits
///                      // for SIGINT/SIGTERM, closes clients with 1012
///
/// Upgrades are checked in Phoenix's order: method, origin, vsn (missing is
/// 1.0.0; only 1.0.x and 2.0.x), then the connect callback; refusals are
/// HTTP 403 unless the callback picks another status. The auth token that
/// phoenix.js sends in Sec-WebSocket-Protocol is decoded into
/// connect_info::auth_token and `phoenix` is echoed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "fenix/channel.hpp"
#include "fenix/fault_injection.hpp"
#include "fenix/presence_fetch.hpp"
#include "fenix/pubsub.hpp"
#include "fenix/supervisor.hpp"
#include "fenix/types.hpp"
#include "fenix/transport/server.hpp"

namespace fenix {

namespace detail {
struct endpoint_context;
}  // namespace detail
namespace transport::longpoll {
class handler;
}  // namespace transport::longpoll

/// How the Origin header of an upgrade is checked (Phoenix check_origin).
enum class origin_check {
  off,   // any origin (check_origin: false)
  conn,  // origin host and port must equal the request's Host header
  list,  // origin must match one of endpoint_options::allowed_origins
};

struct endpoint_options {
  std::string host = "127.0.0.1";  // address to bind
  std::uint16_t port = 4000;       // 0 picks a free port
  // TLS (https, wss) when tls.enabled() (a certificate chain and key, PEM
  // files or text; client certificates optional): with tls_port unset,
  // `port` speaks TLS only; with tls_port set (0 picks one), `port` stays
  // plain and TLS listens on tls_port. See fenix/transport/tls.hpp.
  transport::tls_options tls;
  std::optional<std::uint16_t> tls_port;
  std::string socket_path = "/socket";      // WebSocket at /socket/websocket
                                            // (empty: no Phoenix socket)
  std::size_t max_frame_size = 10'000'000;  // larger frames close with 1009
  std::chrono::milliseconds idle_timeout{60'000};  // no data: close 1001
  std::size_t max_backpressure = 1 << 20;  // outbound bytes per connection
  transport::backpressure_policy on_backpressure =
    transport::backpressure_policy::close;  // close with 1013, or drop
  // The policy applies when a connection over max_backpressure has not
  // drained for this long, or is over 16x the bound (bursts to healthy
  // readers pass; a reader that stopped is cut off).
  std::chrono::milliseconds backpressure_stall{1000};
  std::size_t max_channels_per_socket = 100;  // Phoenix's default
  origin_check check_origin = origin_check::conn;
  std::vector<std::string> allowed_origins;  // "https://a.com", "//*.b.com"
  std::size_t pubsub_shards = 0;             // 0: one per core
  std::chrono::milliseconds presence_window{20};  // diff batching window
  std::string node_name;  // presence replica name (cluster: unique, stable
                          // across restarts); empty: "hostname:pid#n"
  int io_threads = 1;     // asio threads (1 measured fastest)
  transport::close_code decode_error_close =
    transport::close_code::invalid_payload;  // 1007 (Phoenix/Cowboy: 1011)
  bool log_connects = false;  // one line per accepted/refused connect
  // -- shutdown (stop/run) closes sockets with 1012 in batches, as
  // Phoenix's drainer does (same defaults): at most drain_batch_size per
  // drain_interval, and no longer than drain_timeout in all --
  std::size_t drain_batch_size = 10'000;
  std::chrono::milliseconds drain_interval{2'000};
  std::chrono::milliseconds drain_timeout{30'000};
  // permessage-deflate when the client offers it (Phoenix: compress: true);
  // messages under compress_min_size bytes go uncompressed.
  bool compress = false;
  std::size_t compress_min_size = 128;
  // -- long poll --
  bool longpoll = false;  // serve <socket_path>/longpoll (Phoenix: off)
  std::chrono::milliseconds longpoll_window{10'000};  // GET hold time
  std::size_t longpoll_max_body = 1 << 20;  // POST body bytes; above: 413

  // -- inbound bounds and rate limits (a rate <= 0 disables the limit) --
  std::size_t max_inbound_bytes = 16 << 20;  // received, not yet processed,
                                             // per connection: reading pauses
                                             // (long poll: {"status":408})
  std::size_t max_http_body = 64 * 1024;     // other HTTP routes; above: 413
  // Generous on purpose: they stop floods, not programs that send fast.
  double event_rate = 1000;   // events a connection may send per second
  double event_burst = 2000;  // ... and in one burst; over: "rate limited"
  double join_rate = 100;     // joins per connection per second
  double join_burst = 200;    // (a reconnect rejoins up to 100 channels)
  // More than this many refused events or joins within 10 s: close 1008.
  std::size_t rate_limit_close_after = 50;
  double connect_rate = 1000;    // new connections per peer address and
  double connect_burst = 10000;  // second; over: HTTP 429
  // -- supervision (supervisor.hpp): the PubSub and presence shards, the
  // cluster node and the application's children are restarted when they
  // exit; more than max_restarts within restart_period and the endpoint
  // gives up: it stops, and run() returns 1 --
  std::size_t max_restarts = 10;
  std::chrono::milliseconds restart_period{10'000};
  // endpoint::faults(): crash, drop, delay (fault_injection.hpp); tests only
  bool fault_injection = false;
};

/// What the connect callback sees (Phoenix connect/3 params + connect_info).
struct connect_info {
  json::object params;  // query parameters, vsn included
  std::string peer_address;
  std::uint16_t peer_port = 0;
  std::string uri;   // path and query as requested
  std::string host;  // Host header
  std::string user_agent;
  std::vector<std::pair<std::string, std::string>> x_headers;  // x-*
  std::optional<std::string> auth_token;  // from Sec-WebSocket-Protocol

  /// A query parameter as a string ("" when missing).
  std::string param(const std::string& name) const;
};

/// The connect callback's answer.
class connect_result {
public:
  static connect_result accept(json::object assigns = {}, std::string id = {}) {
    return {0, std::move(assigns), std::move(id)};
  }
  static connect_result refuse(int http_status = 403) {
    return {http_status, {}, {}};
  }

  /// The socket is closed at `t` (code 4001, token_expired) unless the
  /// client sends a fresh token before: an `access_token` event
  /// `{"access_token": "..."}` on any joined topic runs the connect
  /// callback again with the new token (as the `token` param and
  /// auth_token); accepted with the same socket id, the reply is ok and the
  /// expiry moves to the new result's (none: no expiry); otherwise the
  /// reply is error `{"reason":"invalid token"}` and the socket is closed
  /// with 4001.
  connect_result& expires_at(std::chrono::system_clock::time_point t) {
    expiry_ = t;
    return *this;
  }

  bool accepted() const { return status_ == 0; }
  int status() const { return status_; }
  const json::object& assigns() const { return assigns_; }
  const std::string& id() const { return id_; }
  const std::optional<std::chrono::system_clock::time_point>& expiry() const {
    return expiry_;
  }

private:
  connect_result(int s, json::object a, std::string id)
    : status_(s),
      assigns_(std::move(a)),
      id_(std::move(id)) {}
  int status_;
  json::object assigns_;
  std::string id_;
  std::optional<std::chrono::system_clock::time_point> expiry_;
};

using connect_fn = std::function<connect_result(const connect_info&)>;

/// A raw WebSocket handler next to the Phoenix sockets, like Phoenix's
/// Socket.Transport: whole text or binary messages in, frames out, with
/// the endpoint's limits (max_frame_size: 1009, max_backpressure and its
/// policy: 1013 or drops, idle_timeout: 1001), the origin check and the
/// connect rate limit. Every callback is optional and runs on the
/// connection's io thread, in order (open, messages, close), and must not
/// block: hand longer work to an actor, which may keep the connection and
/// call send/close from any thread. A message counts as consumed (inbound
/// flow control) when on_message returns; a close or bad frame from the
/// peer is answered after the frames on_message sent.
///
///   fenix::websocket_handler echo;
///   echo.on_message = [](const fenix::transport::connection_ptr& c,
///                        std::string data, bool binary) {
///     c->send(fenix::transport::make_frame(std::move(data), binary));
///   };
///   ep.websocket("/echo", echo);        // ws://host:port/echo
///   ep.websocket_prefix("/", echo);     // upgrades on any other path
struct websocket_handler {
  /// Decides the upgrade: 0 accepts, anything else refuses with that HTTP
  /// status (default: accept).
  std::function<int(const transport::http_request&)> on_upgrade;
  std::function<void(const transport::connection_ptr&)> on_open;
  std::function<void(const transport::connection_ptr&, std::string data,
                     bool binary)>
    on_message;
  /// The connection is gone (after the close handshake, or cut off).
  std::function<void(const transport::connection_ptr&)> on_close;
};

/// Scheduler settings for a server, applied to `cfg` before the
/// actor_system is made from it: `threads` workers (0: one per core), and
/// idle workers sleep at once instead of CAF's default busy polling (up to
/// 100 spins and 500 sleeps of 50 µs), which cost more CPU than the work at
/// moderate load (measured: 362 -> 250 µs of CPU per echoed message).
///
///   caf::actor_system_config cfg;
///   fenix::configure_scheduler(cfg);
///   caf::actor_system sys{cfg};
void configure_scheduler(caf::actor_system_config& cfg,
                         std::size_t threads = 0);

/// Live counters (for /metrics).
struct endpoint_stats {
  std::uint64_t connections = 0;
  std::uint64_t channels = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t broadcasts = 0;
  std::uint64_t frames_dropped = 0;
  std::uint64_t slow_closes = 0;
  std::uint64_t presence_entries = 0;
  std::uint64_t rate_limited_events = 0;    // pushes answered "rate limited"
  std::uint64_t rate_limited_joins = 0;     // joins answered "rate limited"
  std::uint64_t rate_limited_connects = 0;  // upgrades answered 429
  std::uint64_t rate_limit_closes = 0;      // connections closed with 1008
  std::uint64_t http_refused = 0;           // 400/413/431 to bad requests
  std::uint64_t accept_backoffs = 0;        // accept paused at the fd limit
  std::uint64_t deflates = 0;               // compressions (a broadcast: one)
  std::uint64_t frames_deflated = 0;        // frames sent compressed
};

class endpoint {
public:
  endpoint(caf::actor_system& sys, endpoint_options opts = {});
  ~endpoint();

  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  /// Routes topics matching `pattern` ("room:*" or exact) to `fn`.
  void channel(std::string pattern, channel_fn fn);

  /// The same, and the topics keep a history (pubsub.hpp): broadcasts get
  /// stream offsets, and joins can recover what a client missed
  /// (join_result::recover). Register before start().
  void channel(std::string pattern, channel_fn fn, history_options history);

  /// Sets the connect callback (default: accept everyone, no id).
  void on_connect(connect_fn fn);

  /// Adds an HTTP route (exact path) or a prefix route.
  void route(std::string method, std::string path, transport::http_handler h);
  void route_prefix(std::string prefix, transport::http_handler h);

  /// Mounts a raw WebSocket handler at `path` (exact), or for upgrade
  /// requests to every path under `prefix` ("/": any path) that no exact
  /// WebSocket path has. Call before start().
  void websocket(std::string path, websocket_handler h);
  void websocket_prefix(std::string prefix, websocket_handler h);

  /// Broadcasts from anywhere (any thread): to every subscriber of topic.
  void broadcast(const std::string& topic, const std::string& event, payload p);

  /// Same, but never leaves this node.
  void local_broadcast(const std::string& topic, const std::string& event,
                       payload p);

  /// Binds the listener and starts serving. Throws on bind failure.
  void start();

  /// The bound port (after start()).
  std::uint16_t port() const;

  /// The bound TLS port (after start()): port() when it speaks TLS, the
  /// tls_port listener's when side by side, 0 without TLS.
  std::uint16_t tls_port() const;

  /// start(), print the listening line, wait for SIGINT/SIGTERM, stop().
  /// Returns the process exit code: 0, or 1 when the supervisor gave up
  /// (restart intensity exceeded: see supervisor.hpp), which also ends the
  /// wait. `before_stop` runs once the signal
  /// came, while every client is still connected (e.g. to freeze state
  /// that departures would change); `after_stop` once they are closed.
  int run(const std::function<void()>& before_stop = {},
          const std::function<void()>& after_stop = {});

  /// Closes every client with 1012 and stops the listener. Idempotent.
  void stop();

  endpoint_stats stats() const;

  /// The supervisor of the system actors (children "fenix.pubsub/N",
  /// "fenix.presence/N", "fenix.cluster"); put long-lived application
  /// actors under it with start_child.
  fenix::supervisor& supervisor();

  /// The fault injector, or null unless endpoint_options::fault_injection.
  fault_injector* faults() const;

  /// True once the supervisor gave up (run() then returns 1).
  bool failed() const;

  // -- presence (presence_list.cpp) ------------------------------------------

  /// Phoenix Presence `fetch/2` for topics matching `pattern`: see
  /// presence_fetch.hpp. Register before start().
  void presence_fetch(std::string pattern, presence_fetch_fn fn);

  /// Phoenix `Presence.list(topic)` from outside a channel, from any
  /// thread, never blocking: `cb` runs later on a CAF worker with the
  /// topic's map `{key: {"metas": [...]}}`, the fetch hook applied; an
  /// empty map (logged) if the tracker does not answer within `timeout`.
  /// From an actor, request it instead (the reply is a JSON object
  /// payload):
  ///
  ///   self->request(ep.presence_shard(topic), 5s, fenix::list_atom::value,
  ///                 topic).then([](const fenix::payload& list) { ... });
  void presence_list(
    const std::string& topic, std::function<void(json::object)> cb,
    std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

  /// The presence tracker shard of `topic` (see presence_tracker.hpp).
  caf::actor presence_shard(const std::string& topic) const;

  caf::actor_system& system();
  const fenix::pubsub& pubsub() const;
  const endpoint_options& options() const;

  /// Internal: state shared with sockets and channels.
  const std::shared_ptr<detail::endpoint_context>& context() const {
    return ctx_;
  }

private:
  std::shared_ptr<detail::endpoint_context> ctx_;
  std::unique_ptr<transport::server> server_;
  std::unique_ptr<transport::longpoll::handler> longpoll_;
};

}  // namespace fenix
