/// Many benchmark clients on one client_context: opens them at a target
/// rate with a bound on connects in flight, joins each to a topic, and
/// hands every later frame (scanned, see wire.hpp) to one callback.
///
///   client::client_context ctx{1};
///   client_pool pool{ctx, base_options};
///   client_pool::spec s;
///   s.count = 1000;
///   s.topic = "bench:1";
///   auto rep = pool.open(s, [&](std::size_t i, std::string_view data,
///                               const frame_head& h) {
///     // io thread: client i received a frame after its join reply
///   });
///   pool.client(7)->send_text(...);   // joined clients, after open()
///   pool.close_all(5s);               // close handshakes, then destroy
///
/// Threads: callbacks run on the context's io thread (one, so they never
/// run concurrently); open() and close_all() block the calling thread.
/// A join counts as failed when its connect fails, its reply is not "ok",
/// the connection ends first, or open() times out waiting. Heartbeat
/// replies (topic "phoenix") are not passed on. The pool must be destroyed
/// before its client_context.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bench/histogram.hpp"
#include "bench/wire.hpp"
#include "fenix/client.hpp"

namespace fenix::bench {

class client_pool {
public:
  using frame_fn = std::function<void(std::size_t index, std::string_view data,
                                      const frame_head& head)>;

  struct spec {
    std::size_t count = 0;
    double rate = 0;             // connects per second; 0: inflight-bound
    std::size_t inflight = 200;  // connects + joins in flight
    std::string topic = "bench:1";
    std::function<std::string(std::size_t)> query;   // default "vsn=2.0.0"
    std::chrono::milliseconds timeout{120'000};      // for the whole open
    std::function<void(std::size_t done)> progress;  // every ~1,000
  };

  /// What open() achieved.
  struct open_report {
    std::size_t joined = 0;
    std::size_t failed = 0;  // connect or join failed (timeouts included)
    std::int64_t first_start_ns = 0;
    std::int64_t last_join_ns = 0;
    histogram latency;        // connect start to join reply, ns
    std::string first_error;  // of the failures, for the report
  };

  client_pool(client::client_context& ctx, client::client_options base);
  ~client_pool();

  client_pool(const client_pool&) = delete;
  client_pool& operator=(const client_pool&) = delete;

  /// Connects and joins `s.count` clients; blocks until all are joined or
  /// failed, or `s.timeout`.
  open_report open(const spec& s, frame_fn on_frame);

  std::size_t size() const { return slots_.size(); }

  /// The client at `i` if it joined (valid after open()), else nullptr.
  client::ws_client* client(std::size_t i) const;

  /// The join_ref of client `i`'s topic.
  const std::string& join_ref(std::size_t i) const;

  /// When client `i`'s join reply arrived (steady ns), 0 if it did not.
  std::int64_t joined_at(std::size_t i) const;

  /// Connections that ended while the pool was not closing them.
  std::size_t disconnects() const;

  /// Sends a heartbeat on every joined client (servers time out idle ones).
  void heartbeat_all();

  /// Starts the close handshake on every client, waits for them to end
  /// (at most `timeout`), then destroys them.
  void close_all(std::chrono::milliseconds timeout);

private:
  enum class state : unsigned char { connecting, joining, joined, failed };

  struct slot {
    std::unique_ptr<client::ws_client> client;
    std::string join_ref;
    std::int64_t started_ns = 0;
    std::int64_t joined_ns = 0;
    state st = state::connecting;
    bool ended = false;
  };

  void on_connected(std::size_t i, client::connect_result r);
  void on_frame(std::size_t i, std::string_view data, bool binary);
  void on_closed(std::size_t i);
  void settle(std::size_t i, bool ok, const std::string& error);  // mtx_ held

  client::client_context& ctx_;
  client::client_options base_;
  std::string topic_;
  frame_fn on_frame_;
  std::vector<slot> slots_;
  std::vector<client::ws_client*> ready_;  // set at the end of open()

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::size_t inflight_ = 0;
  std::size_t joined_ = 0;
  std::size_t failed_ = 0;
  std::size_t ended_ = 0;
  std::size_t disconnects_ = 0;
  bool closing_ = false;
  std::string first_error_;
};

}  // namespace fenix::bench
