// The only translation unit of the server that includes Beast. It follows
// the shape of Beast's chat-multi example: a listener, an http_session per
// TCP connection, and a ws_session per upgraded WebSocket, each kept alive
// only by its pending handlers (shared_from_this).

#include "transport/server.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace fenix::transport {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

// Ignores the errors that only mean "the other side went away".
void fail(beast::error_code ec, const char* what) {
  if (ec == net::error::operation_aborted || ec == websocket::error::closed
      || ec == beast::error::timeout || ec == http::error::end_of_stream
      || ec == net::error::eof || ec == net::error::connection_reset
      || ec == net::error::broken_pipe || ec == net::error::not_connected)
    return;
  std::cerr << "fenix: transport " << what << ": " << ec.message() << '\n';
}

struct atomic_stats {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<std::uint64_t> frames_out{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> frames_dropped{0};
  std::atomic<std::uint64_t> slow_closes{0};
};

struct shared_state;

class ws_session;

// Inbound flow control shared by a session and its handle: frames handed
// to the socket actor but not yet consumed.
struct flow_state {
  std::atomic<std::size_t> pending{0};
  std::atomic<bool> paused{false};
  std::size_t max = 256;
};

// The handle actors keep: a weak reference, so that a connection that is
// gone turns every call into a no-op.
class ws_connection final : public connection {
public:
  ws_connection(std::weak_ptr<ws_session> s, std::shared_ptr<flow_state> fl,
                http_request req)
    : session_(std::move(s)), flow_(std::move(fl)),
      request_(std::move(req)) {}
  void send(frame f) override;
  void close(close_code code, std::string reason) override;
  void consumed(std::size_t n) override;
  const http_request& request() const override { return request_; }

private:
  std::weak_ptr<ws_session> session_;
  std::shared_ptr<flow_state> flow_;
  http_request request_;
};

// -- shared state of the listener and its sessions ---------------------------

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
  std::string ws_path;
  upgrade_handler on_upgrade;
};

// -- WebSocket session ----------------------------------------------------------

class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  ws_session(tcp::socket&& sock, std::shared_ptr<shared_state> st,
             std::shared_ptr<socket_handler> handler)
    : ws_(std::move(sock)),
      idle_timer_(ws_.get_executor()),
      state_(std::move(st)),
      handler_(std::move(handler)) {}

  ~ws_session() {
    {
      std::lock_guard<std::mutex> guard{state_->mtx};
      state_->sessions.erase(this);
    }
    state_->sessions_cv.notify_all();
    if (opened_) {
      state_->stats.connections.fetch_sub(1);
      handler_->on_close();
    }
  }

  void run(http::request<http::string_body> req, std::string subprotocol,
           http_request info) {
    auto& o = state_->opts;
    // The frame limit is enforced in on_read: Beast's own limit tears the
    // connection down before the client has read the 1009 close frame.
    ws_.read_message_max(0);
    ws_.auto_fragment(false);
    websocket::stream_base::timeout t{o.handshake_timeout,
                                      websocket::stream_base::none(), false};
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
      [proto = std::move(subprotocol)](websocket::response_type& res) {
        res.set(http::field::server, "fenix");
        if (!proto.empty())
          res.set(http::field::sec_websocket_protocol, proto);
      }));
    ws_.control_callback([this](websocket::frame_type, beast::string_view) {
      last_read_ = clock_type::now();
    });
    info_ = std::move(info);
    peer_ = info_.peer_address + ":" + std::to_string(info_.peer_port);
    ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept,
                                                    shared_from_this()));
  }

  // -- called on the strand ---------------------------------------------------

  void do_send(frame f) {
    if (closing_ || !opened_)
      return;
    auto& o = state_->opts;
    auto now = clock_type::now();
    if (queue_.empty())
      last_drain_ = now;  // a fresh burst is not a stall
    if (queued_bytes_ + f.size() > o.max_backpressure) {
      if (stalled(now)) {
        if (o.on_backpressure == backpressure_policy::drop) {
          state_->stats.frames_dropped.fetch_add(1);
          return;
        }
        return cut_off();
      }
      // Over the bound but draining: look again when a stall would show.
      if (idle_timer_.expiry() > now + o.backpressure_stall)
        arm_idle_timer(o.backpressure_stall);
    }
    queued_bytes_ += f.size();
    queue_.push_back(std::move(f));
    if (queue_.size() == 1)
      do_write();
  }

  // The close policy for a slow reader: discard what is queued (but the
  // frame being written) and close with 1013 so that the client reconnects.
  void cut_off() {
    state_->stats.slow_closes.fetch_add(1);
    std::cerr << "fenix: closing slow reader " << peer_ << " ("
              << queued_bytes_ << " bytes queued)\n";
    while (queue_.size() > 1) {
      queued_bytes_ -= queue_.back().size();
      queue_.pop_back();
    }
    do_close(close_code::try_again_later, "backpressure");
  }

  // Over the bound, a connection is cut off (or its frames dropped) when it
  // has not drained a frame for `backpressure_stall`, or when its queue is
  // past `backpressure_hard_factor` times the bound: a burst to a healthy
  // reader passes, a reader that stopped reading does not.
  bool stalled(clock_type::time_point now) const {
    auto& o = state_->opts;
    if (queue_.empty())
      return false;
    return now - last_drain_ >= o.backpressure_stall
           || queued_bytes_ > o.max_backpressure * o.backpressure_hard_factor;
  }

  void do_close(close_code code, std::string reason) {
    if (closing_)
      return;
    closing_ = true;
    close_reason_ = websocket::close_reason{static_cast<websocket::close_code>(code),
                                            reason};
    // Bound the close handshake: a peer that reads nothing is cut off.
    idle_timer_.expires_after(state_->opts.handshake_timeout);
    if (queue_.empty())
      start_close();
  }

  void do_resume() {
    if (paused_ && !closing_ && flow_->pending.load() < flow_->max) {
      paused_ = false;
      do_read();
    }
  }


  net::any_io_executor executor() { return ws_.get_executor(); }


private:
  void on_accept(beast::error_code ec) {
    if (ec)
      return fail(ec, "accept");
    {
      std::lock_guard<std::mutex> guard{state_->mtx};
      state_->sessions.insert(this);
    }
    opened_ = true;
    state_->stats.connections.fetch_add(1);
    state_->stats.connections_total.fetch_add(1);
    last_read_ = clock_type::now();
    // The connect callback has seen the headers: keep only what logging
    // and the socket need (this is per-connection memory).
    info_.headers.clear();
    info_.body = std::string{};
    flow_->max = state_->opts.max_inbound_pending;
    handler_->on_open(std::make_shared<ws_connection>(weak_from_this(), flow_,
                                                      std::move(info_)));
    info_ = http_request{};
    arm_idle_timer(state_->opts.idle_timeout);
    if (state_->stopping.load())
      do_close(state_->stop_code, "server shutting down");
    else
      do_read();
  }

  static constexpr std::size_t read_chunk = 64 * 1024;

  void do_read() {
    ws_.async_read_some(buffer_, read_chunk,
                        beast::bind_front_handler(&ws_session::on_read,
                                                  shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      if (ec == websocket::error::message_too_big)
        std::cerr << "fenix: frame over max_frame_size from " << peer_
                  << ", closed with 1009\n";
      done_ = true;
      idle_timer_.cancel();
      return fail(ec, "read");
    }
    last_read_ = clock_type::now();
    if (closing_) {
      buffer_.consume(buffer_.size());
      return;  // async_close reads (and discards) until the close frame
    }
    // What is buffered plus what the current frame still announces.
    auto announced = buffer_.size()
                     + (ws_.is_message_done() ? 0 : ws_.read_size_hint(1));
    if (announced > state_->opts.max_frame_size) {
      std::cerr << "fenix: frame over max_frame_size from " << peer_
                << ", closing with 1009\n";
      buffer_ = beast::flat_buffer{};
      // async_close reads and discards the rest of the frame, so the
      // client sees the close frame before the connection goes away.
      do_close(close_code::too_big, "");
      return;
    }
    if (!ws_.is_message_done())
      return do_read();
    state_->stats.frames_in.fetch_add(1);
    bool binary = ws_.got_binary();
    auto data = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > 64 * 1024)
      buffer_ = beast::flat_buffer{};  // do not keep a huge buffer around
    flow_->pending.fetch_add(1);
    handler_->on_frame(std::move(data), binary);
    if (flow_->pending.load() >= flow_->max) {
      paused_ = true;
      flow_->paused.store(true);
      // Re-check: the consumer may have caught up in between.
      if (flow_->pending.load() < flow_->max) {
        flow_->paused.store(false);
        do_resume();
      }
      return;
    }
    do_read();
  }

  void do_write() {
    auto& f = queue_.front();
    ws_.binary(f.binary);
    ws_.async_write(net::buffer(*f.data),
                    beast::bind_front_handler(&ws_session::on_write,
                                              shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t n) {
    if (ec) {
      queue_.clear();
      queued_bytes_ = 0;
      return fail(ec, "write");
    }
    state_->stats.frames_out.fetch_add(1);
    state_->stats.bytes_out.fetch_add(n);
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
    last_drain_ = clock_type::now();
    if (!queue_.empty())
      do_write();
    else if (closing_)
      start_close();
  }

  void start_close() {
    if (close_started_)
      return;
    close_started_ = true;
    ws_.async_close(close_reason_,
                    [self = shared_from_this()](beast::error_code ec) {
                      if (ec)
                        fail(ec, "close");
                    });
  }

  void arm_idle_timer(clock_type::duration d) {
    idle_timer_.expires_after(d);
    idle_timer_.async_wait(
      [self = shared_from_this()](beast::error_code ec) {
        if (ec == net::error::operation_aborted
            && (!self->closing_ || self->done_))
          return;
        self->on_idle_timer();
      });
  }

  void on_idle_timer() {
    if (done_)
      return;
    if (closing_) {
      // The close handshake did not finish in time: drop the TCP stream.
      if (idle_timer_.expiry() <= clock_type::now()) {
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
      } else {
        arm_idle_timer(idle_timer_.expiry() - clock_type::now());
      }
      return;
    }
    auto& o = state_->opts;
    auto now = clock_type::now();
    if (queued_bytes_ > o.max_backpressure && stalled(now)) {
      if (o.on_backpressure == backpressure_policy::close) {
        cut_off();
        arm_idle_timer(o.handshake_timeout);  // bounds the close handshake
        return;
      }
      // drop policy: later frames are dropped while it stays stalled
    }
    auto idle = o.idle_timeout;
    auto since = now - last_read_;
    if (since >= idle) {
      do_close(close_code::going_away, "idle timeout");
      arm_idle_timer(state_->opts.handshake_timeout);
      return;
    }
    arm_idle_timer(idle - since);
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  net::steady_timer idle_timer_;
  std::shared_ptr<shared_state> state_;
  std::shared_ptr<socket_handler> handler_;
  std::shared_ptr<flow_state> flow_ = std::make_shared<flow_state>();
  http_request info_;
  std::string peer_;  // "address:port", for log lines
  std::deque<frame> queue_;
  std::size_t queued_bytes_ = 0;
  clock_type::time_point last_read_;
  clock_type::time_point last_drain_;  // last write completion
  websocket::close_reason close_reason_;
  bool opened_ = false;
  bool closing_ = false;
  bool close_started_ = false;
  bool paused_ = false;
  bool done_ = false;
};

// A session must be destroyed on its io thread: a strong reference taken
// here is always moved into the posted handler, never dropped on the
// caller's (actor) thread.
void ws_connection::send(frame f) {
  if (auto s = session_.lock()) {
    auto ex = s->executor();
    net::post(ex, [s = std::move(s), f = std::move(f)]() mutable {
      s->do_send(std::move(f));
    });
  }
}

void ws_connection::close(close_code code, std::string reason) {
  if (auto s = session_.lock()) {
    auto ex = s->executor();
    net::post(ex, [s = std::move(s), code, r = std::move(reason)]() mutable {
      s->do_close(code, std::move(r));
    });
  }
}

void ws_connection::consumed(std::size_t n) {
  auto& fl = *flow_;
  auto before = fl.pending.fetch_sub(n);
  if (before >= fl.max && before - n < fl.max && fl.paused.exchange(false)) {
    if (auto s = session_.lock()) {
      auto ex = s->executor();
      net::post(ex, [s = std::move(s)] { s->do_resume(); });
    }
  }
}

// -- HTTP session ---------------------------------------------------------------

http_request to_request(const http::request<http::string_body>& req,
                        const tcp::socket& sock) {
  http_request r;
  r.method = std::string{req.method_string()};
  r.target = std::string{req.target()};
  auto q = r.target.find('?');
  r.path = url_decode(r.target.substr(0, q), false);
  if (q != std::string::npos)
    r.query = r.target.substr(q + 1);
  for (auto& f : req) {
    std::string name{f.name_string()};
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace(std::move(name), std::string{f.value()});
  }
  r.body = req.body();
  beast::error_code ec;
  auto ep = sock.remote_endpoint(ec);
  if (!ec) {
    r.peer_address = ep.address().to_string();
    r.peer_port = ep.port();
  }
  return r;
}

class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket&& sock, std::shared_ptr<shared_state> st)
    : stream_(std::move(sock)), state_(std::move(st)) {}

  void run() { do_read(); }

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(state_->opts.max_http_body);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read,
                                               shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit)
      return send(http_response::empty(413), false);
    if (ec)
      return fail(ec, "http read");
    auto req = parser_->release();
    auto info = to_request(req, stream_.socket());
    if (!state_->ws_path.empty() && info.path == state_->ws_path)
      return on_websocket(std::move(req), std::move(info));
    for (auto& [path, h] : state_->async_routes)
      if (path == info.path)
        return dispatch_async(h, info, req.keep_alive());
    send(dispatch(info), req.keep_alive());
  }

  http_response dispatch(const http_request& info) {
    bool path_known = false;
    for (auto& [path, route] : state_->routes) {
      if (path != info.path)
        continue;
      path_known = true;
      if (route.first == info.method
          || (route.first == "GET" && info.method == "HEAD"))
        return safe_call(route.second, info);
    }
    if (path_known)
      return http_response::text(405, "method not allowed\n");
    for (auto& [prefix, h] : state_->prefix_routes)
      if (info.path.compare(0, prefix.size(), prefix) == 0)
        return safe_call(h, info);
    return http_response::text(404, "not found\n");
  }

  void dispatch_async(const async_http_handler& h, const http_request& info,
                      bool keep_alive) {
    // The responder may be called and destroyed on any thread; the session
    // it keeps alive is always released on its own executor.
    struct keeper {
      std::shared_ptr<http_session> self;
      std::atomic<bool> used{false};
      ~keeper() {
        auto ex = self->stream_.get_executor();
        net::post(ex, [s = std::move(self)] {});
      }
    };
    auto k = std::make_shared<keeper>();
    k->self = shared_from_this();
    http_responder respond = [k, keep_alive](http_response r) {
      if (k->used.exchange(true))
        return;
      auto self = k->self;
      auto ex = self->stream_.get_executor();
      net::post(ex, [s = std::move(self), keep_alive,
                     r = std::move(r)]() mutable {
        s->send(std::move(r), keep_alive);
      });
    };
    try {
      h(info, respond);
    } catch (const std::exception& e) {
      std::cerr << "fenix: HTTP handler for " << info.path
                << " threw: " << e.what() << '\n';
      respond(http_response::text(500, "internal server error\n"));
    }
  }

  static http_response safe_call(const http_handler& h,
                                 const http_request& info) {
    try {
      return h(info);
    } catch (const std::exception& e) {
      std::cerr << "fenix: HTTP handler for " << info.path
                << " threw: " << e.what() << '\n';
      return http_response::text(500, "internal server error\n");
    }
  }

  void on_websocket(http::request<http::string_body> req, http_request info) {
    if (req.method() != http::verb::get)
      return send(http_response::empty(400), false);
    upgrade_result res;
    try {
      res = state_->on_upgrade(info);
    } catch (const std::exception& e) {
      std::cerr << "fenix: upgrade handler threw: " << e.what() << '\n';
      res = upgrade_result::refuse(500);
    }
    if (res.status != 101 || !res.handler)
      return send(http_response::empty(res.status == 101 ? 500 : res.status),
                  false);
    if (!websocket::is_upgrade(req))
      return send(http_response::text(
                    400, "'connection' header must contain 'upgrade'"),
                  false);
    stream_.expires_never();
    std::make_shared<ws_session>(stream_.release_socket(), state_,
                                 std::move(res.handler))
      ->run(std::move(req), std::move(res.subprotocol), std::move(info));
  }

  void send(http_response r, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->result(static_cast<unsigned>(r.status));
    res->version(11);
    res->set(http::field::server, "fenix");
    if (!r.content_type.empty())
      res->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers)
      res->insert(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec,
                                                       std::size_t) {
                        if (ec)
                          return fail(ec, "http write");
                        if (!res->keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(
                            tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->do_read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<shared_state> state_;
};

} // namespace

// -- server -----------------------------------------------------------------------

struct server::impl {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::shared_ptr<shared_state> state = std::make_shared<shared_state>();
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  bool started = false;
  bool stopped = false;

  void do_accept() {
    acceptor.async_accept(net::make_strand(ioc),
                          [this](beast::error_code ec, tcp::socket sock) {
                            if (ec) {
                              if (ec != net::error::operation_aborted)
                                fail(ec, "accept");
                              if (!acceptor.is_open())
                                return;
                            } else {
                              sock.set_option(tcp::no_delay{true});
                              std::make_shared<http_session>(std::move(sock),
                                                             state)
                                ->run();
                            }
                            do_accept();
                          });
  }
};

server::server(server_options opts) : impl_(std::make_unique<impl>()) {
  impl_->state->opts = std::move(opts);
}

server::~server() {
  stop();
}

void server::route(std::string method, std::string path, http_handler h) {
  impl_->state->routes.emplace_back(std::move(path),
                                    std::make_pair(std::move(method),
                                                   std::move(h)));
}

void server::route_prefix(std::string prefix, http_handler h) {
  impl_->state->prefix_routes.emplace_back(std::move(prefix), std::move(h));
}

void server::route_async(std::string path, async_http_handler h) {
  impl_->state->async_routes.emplace_back(std::move(path), std::move(h));
}

void server::websocket(std::string path, upgrade_handler h) {
  impl_->state->ws_path = std::move(path);
  impl_->state->on_upgrade = std::move(h);
}

void server::start() {
  auto& o = impl_->state->opts;
  auto addr = net::ip::make_address(o.host);
  tcp::endpoint ep{addr, o.port};
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol());
  acc.set_option(net::socket_base::reuse_address(true));
  acc.bind(ep);
  acc.listen(net::socket_base::max_listen_connections);
  impl_->port = acc.local_endpoint().port();
  impl_->started = true;
  impl_->do_accept();
  for (int i = 0; i < std::max(1, o.io_threads); ++i)
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

std::uint16_t server::port() const {
  return impl_->port;
}

void server::stop(close_code code) {
  if (!impl_->started || impl_->stopped)
    return;
  impl_->stopped = true;
  auto& st = *impl_->state;
  st.stop_code = code;
  st.stopping.store(true);
  net::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  // Close every WebSocket with `code` and give the closes a moment to go out.
  {
    std::unique_lock<std::mutex> guard{st.mtx};
    for (auto* s : st.sessions)
      net::post(s->executor(), [w = s->weak_from_this(), code] {
        if (auto p = w.lock())
          p->do_close(code, "server shutting down");
      });
    st.sessions_cv.wait_for(guard, std::chrono::seconds(2),
                            [&] { return st.sessions.empty(); });
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    t.join();
  impl_->threads.clear();
}

server_stats server::stats() const {
  auto& s = impl_->state->stats;
  return {s.connections.load(),    s.connections_total.load(),
          s.frames_in.load(),      s.frames_out.load(),
          s.bytes_out.load(),      s.frames_dropped.load(),
          s.slow_closes.load()};
}

} // namespace fenix::transport
