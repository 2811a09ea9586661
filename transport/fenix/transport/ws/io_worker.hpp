// Internal to the transport (server.cpp, ws_session.cpp); not part of the
// API. One io_worker per io thread: its own io_context (no strands: every
// connection lives on one thread), a read buffer its connections share, and
// an outbox through which other threads hand it frames in batches.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "fenix/transport/server.hpp"
#include "fenix/transport/ws/deflate.hpp"

namespace fenix::transport::ws {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct atomic_stats {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<std::uint64_t> frames_out{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> frames_dropped{0};
  std::atomic<std::uint64_t> slow_closes{0};
  std::atomic<std::uint64_t> writes{0};  // sendmsg calls that wrote frames
  std::atomic<std::uint64_t> http_refused{0};     // 400/413/431 answers
  std::atomic<std::uint64_t> accept_backoffs{0};  // EMFILE/ENFILE pauses
  std::atomic<std::uint64_t> deflates{0};         // compressions run
  std::atomic<std::uint64_t> frames_deflated{0};  // frames sent compressed
};

class ws_session;

/// What another thread asks of a session: send a frame, or close.
struct outbox_item {
  std::shared_ptr<ws_session> session;
  frame f;                      // the frame, or the close reason's bytes
  std::uint16_t close = 0;      // a close code: close instead of sending
  bool deferred_close = false;  // run the session's deferred close
};

struct io_worker {
  net::io_context ioc{1};
  std::vector<char> read_buffer = std::vector<char>(64 * 1024);
  deflate_workspace deflate;  // shared by its connections (deflate.hpp)

  /// Appends items (any thread). The first batch after a drain posts one
  /// drain; later ones ride along with it.
  void push(std::vector<outbox_item>& batch);
  void push(outbox_item item);

private:
  void schedule_locked();
  void drain();  // on the io thread: enqueue everything, then one write each

  std::mutex mtx_;
  std::vector<outbox_item> items_;  // guarded by mtx_
  bool scheduled_ = false;          // guarded by mtx_
};

/// State shared by the listener and every session.
struct shared_state {
  server_options opts;
  atomic_stats stats;
  std::mutex mtx;
  std::unordered_set<ws_session*> sessions;  // guarded by mtx
  std::condition_variable sessions_cv;
  std::atomic<bool> stopping{false};
  close_code stop_code = close_code::service_restart;
  std::vector<std::pair<std::string, std::pair<std::string, http_handler>>>
    routes;  // path -> (method, handler)
  std::vector<std::pair<std::string, http_handler>> prefix_routes;
  std::vector<std::pair<std::string, async_http_handler>> async_routes;
  std::vector<std::pair<std::string, std::uint64_t>> body_limits;
  std::vector<std::pair<std::string, upgrade_handler>> ws_routes;  // exact
  std::vector<std::pair<std::string, upgrade_handler>> ws_prefix_routes;
};

/// Logs an I/O error unless it only means "the other side went away".
void log_error(const boost::system::error_code& ec, const char* what);

/// Runs a WebSocket on `sock` (owned by `w`): writes `response` (the 101),
/// then parses `leftover` (bytes read past the upgrade request) and reads.
void start_ws_session(tcp::socket sock, io_worker& w,
                      std::shared_ptr<shared_state> st,
                      std::shared_ptr<socket_handler> handler,
                      std::string response, std::string leftover,
                      http_request info,
                      std::optional<deflate_params> deflate = std::nullopt);

/// Closes a session with `code` on its own thread. Call with st.mtx held
/// (the session is then still alive, or expiring and ignored).
void post_close(ws_session* s, close_code code);

/// Closes every session with `code` in batches (opts.drain_batch_size per
/// drain_interval) and waits for them, at most opts.drain_timeout.
void drain_sessions(shared_state& st, close_code code);

}  // namespace fenix::transport::ws
