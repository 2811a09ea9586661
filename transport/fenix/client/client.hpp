/// A Phoenix V2 WebSocket client for integration tests and load generators.
/// Beast stays in client.cpp: this header only needs message.hpp.
///
///   client_context ctx;                  // one io thread for all clients
///   client_options opts;
///   opts.port = port;
///   auto r = connect(ctx, opts);         // blocking; r.http_status on 403
///   REQUIRE(r.client);
///   auto& c = *r.client;
///   auto ref = c.join("room:lobby", json::object{{"token", "x"}});
///   auto reply = c.wait_reply(ref, 2s);  // std::optional<message>
///   c.push("room:lobby", "new_msg", json::object{{"body", "hi"}});
///   auto m = c.wait_for([](const message& m) { return m.event == "x"; });
///   c.close(1000);
///   CHECK(c.closed_code(2s) == 1000);
///
/// Lifecycle: every `ws_client` must be destroyed before its `client_context`.
/// Destroying a client drops its TCP connection at once (no close handshake)
/// and silences its callbacks: no callback runs after a destructor called
/// from a user thread returns (from an io thread, one may still be running).
///
/// Receiving: without an `on_frame` callback, frames are queued and read with
/// `next`, `wait_for` or `wait_reply` (decoded by `decode_server_frame`; an
/// undecodable frame makes them throw `std::runtime_error`). With a callback
/// (benchmark mode), new frames go to it on the io thread instead; frames
/// queued before it was set stay queued.
///
/// Threads: all member functions are thread-safe. Callbacks run on the
/// context's io threads, one at a time per client. The blocking calls
/// (`connect`, `next`, `wait_*`, `closed_code`) must not be made from a
/// callback. Sends are queued without limit and written one frame at a time.
///
/// Closing: `close()` queues the close frame behind earlier sends; later
/// sends are dropped, and so are frames that arrive before the server's
/// close reply. Like any RFC 6455 client, it then waits for the server to
/// drop TCP (at most `connect_timeout`).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fenix/protocol/message.hpp"
#include "fenix/protocol/serializer.hpp"
#include "fenix/protocol/wire.hpp"

namespace fenix::client {

using protocol::decode_error;
using protocol::decode_result;
using protocol::message;
using protocol::opt_string;
using protocol::payload;
using protocol::reply_status;
using protocol::serializer;
namespace json = boost::json;

/// How long a blocking call waits, and its default.
using wait_time = std::chrono::milliseconds;
constexpr wait_time default_wait{2000};

/// Owns the io_context and the threads that run every client made with it.
class client_context {
public:
  explicit client_context(std::size_t threads = 1);
  ~client_context();  // stops the io_context and joins its threads

  client_context(const client_context&) = delete;
  client_context& operator=(const client_context&) = delete;

  struct impl;
  impl& get_impl() { return *impl_; }  // internal, for client.cpp

private:
  std::unique_ptr<impl> impl_;
};

/// Where and how to connect (defaults match phoenix.js).
struct client_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string path = "/socket/websocket";
  std::string query = "vsn=2.0.0";  // without '?'; "" sends no query
  std::vector<std::pair<std::string, std::string>> headers;  // Origin, ...
  std::vector<std::string> subprotocols;  // joined into Sec-WebSocket-Protocol
  wait_time connect_timeout{5000};        // TCP connect + upgrade
};

/// A raw WebSocket message as received.
struct raw_frame {
  std::string data;
  bool binary = false;
};

/// One WebSocket connection speaking Phoenix V2.
class ws_client {
public:
  struct impl;
  explicit ws_client(std::shared_ptr<impl> p);  // made by connect()
  ~ws_client();

  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  // -- callbacks (benchmark mode) ---------------------------------------------

  /// Receives each new frame; `data` is only valid during the call.
  void on_frame(std::function<void(std::string_view data, bool binary)> f);

  /// Called once when the connection ends, with the close code received
  /// (1005 if the close frame had none, 1006 if there was no close frame).
  /// Called at once if the connection already ended.
  void on_close(std::function<void(int code)> f);

  // -- sending (never blocks) -------------------------------------------------

  void send_text(std::string data);
  void send_binary(std::string data);
  void send_raw_text(std::string data) { send_text(std::move(data)); }
  void send_raw_binary(std::string data) { send_binary(std::move(data)); }

  /// A fresh ref from this client's counter ("1", "2", ...), as phoenix.js.
  std::string make_ref();

  /// Sends `[ref, ref, topic, "phx_join", params]` and remembers `ref` as the
  /// topic's join_ref. Returns the ref.
  std::string join(const std::string& topic,
                   json::value params = json::object{});

  /// Sends `[join_ref, ref, topic, event, payload]` with the topic's current
  /// join_ref (null if the topic was never joined). Returns the ref.
  std::string push(const std::string& topic, const std::string& event,
                   json::value payload = json::object{});

  /// The same as a V2 binary push (kind 0). Throws `std::length_error` if a
  /// ref, the topic or the event is longer than 255 bytes.
  std::string push_binary(const std::string& topic, const std::string& event,
                          std::string bytes);

  /// Sends phx_leave with the topic's join_ref, then forgets the topic.
  std::string leave(const std::string& topic);

  /// Sends `[null, ref, "phoenix", "heartbeat", {}]`.
  std::string heartbeat();

  /// The join_ref remembered for `topic`, if any.
  opt_string join_ref(const std::string& topic) const;

  // -- receiving (blocking, queue mode) ---------------------------------------
  // Each returns nullopt after `timeout`, or at once when the connection has
  // ended and nothing (matching) is queued.

  /// The next queued frame, decoded.
  std::optional<message> next(wait_time timeout = default_wait);

  /// The next queued frame as received.
  std::optional<raw_frame> next_frame(wait_time timeout = default_wait);

  /// Removes and returns the first queued message matching `pred`; the
  /// others stay queued in order. `pred` runs under the queue's lock.
  std::optional<message> wait_for(std::function<bool(const message&)> pred,
                                  wait_time timeout = default_wait);

  /// `wait_for` a phx_reply whose ref is `ref`.
  std::optional<message> wait_reply(const std::string& ref,
                                    wait_time timeout = default_wait);

  /// Number of frames queued and not yet taken.
  std::size_t queued() const;

  // -- closing ----------------------------------------------------------------

  /// Queues a close frame behind pending sends (the close handshake).
  void close(int code = 1000, std::string reason = {});

  /// Drops the TCP connection without a close frame.
  void abort();

  /// True until the connection has ended.
  bool is_open() const;

  /// Waits until the connection ends and returns the close code received
  /// (see on_close); nullopt if it is still open after `timeout`.
  std::optional<int> closed_code(wait_time timeout = default_wait);

  /// The subprotocol the server accepted ("" if none).
  const std::string& subprotocol() const;

private:
  std::string send_v2(const opt_string& join_ref, const std::string& ref,
                      std::string_view topic, std::string_view event,
                      const json::value& payload);

  std::shared_ptr<impl> impl_;  // the Beast side (client.cpp)

  // The Phoenix side (client_wire.cpp): refs and join_refs, any thread.
  std::atomic<std::uint64_t> ref_counter_{0};
  mutable std::mutex refs_mtx_;
  std::vector<std::pair<std::string, std::string>> join_refs_;  // few
};

/// The outcome of a connect: a client, or why there is none.
struct connect_result {
  std::unique_ptr<ws_client> client;  // null on failure
  int http_status = 0;  // 101 on success, the refusal status, 0 if no answer
  std::string error;    // empty on success
  std::string body;     // response body of a refused upgrade

  explicit operator bool() const { return client != nullptr; }
};

/// Connects and upgrades, blocking up to `opts.connect_timeout`.
connect_result connect(client_context& ctx, const client_options& opts);

/// Connects without blocking. `done` runs on an io thread; the client starts
/// reading only after `done` returns, so callbacks set inside it see every
/// frame.
void async_connect(client_context& ctx, client_options opts,
                   std::function<void(connect_result)> done);

// -- wire helpers (no network): the one V2 codec, fenix/protocol/wire.hpp --

using protocol::decode_server_frame;
using protocol::encode_client_binary;

/// The status of a reply ("ok", "error"), JSON or binary; "" otherwise.
inline std::string status_of(const message& m) {
  return protocol::reply_status_of(m);
}

}  // namespace fenix::client
