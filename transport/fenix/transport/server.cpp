// The HTTP side of the server: a listener, an http_session per TCP
// connection (Beast's HTTP parser and serializer), and the WebSocket
// upgrade, after which the connection belongs to a ws_session
// (ws_session.cpp, fenix's own framing). One io_context per io thread;
// the acceptor hands connections to the threads in turn.

#include "fenix/log.hpp"
#include "fenix/transport/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <iostream>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "fenix/log.hpp"
#include "fenix/transport/tls_terminator.hpp"
#include "fenix/transport/ws/io_worker.hpp"

namespace fenix::transport {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using ws::io_worker;
using ws::shared_state;

namespace {

void fail(beast::error_code ec, const char* what) {
  if (ec == beast::error::timeout || ec == http::error::end_of_stream
      || ec == net::error::connection_reset || ec == net::error::eof)
    return;
  ws::log_error(ec, what);
}

// The answer to a request Beast could not parse, or 0 to just close.
int status_for_parse_error(beast::error_code ec) {
  if (ec == http::error::body_limit)
    return 413;
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
    return 431;  // headers, a chunk line or trailers over the bound
  if (ec.category() == beast::error_code{http::error::bad_method}.category()
      && ec != http::error::end_of_stream && ec != http::error::partial_message)
    return 400;
  return 0;
}

// -- HTTP session ---------------------------------------------------------------

http_request to_request(const http::request<http::string_body>& req,
                        const tcp::socket& sock,
                        const std::optional<peer_origin>& origin) {
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
  if (origin) {  // a TLS connection, served through a socketpair
    r.peer_address = origin->address;
    r.peer_port = origin->port;
    r.secure = origin->secure;
    r.client_subject = origin->client_subject;
    return r;
  }
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
  http_session(tcp::socket&& sock, io_worker& w,
               std::shared_ptr<shared_state> st,
               std::optional<peer_origin> origin = std::nullopt)
    : stream_(std::move(sock)),
      worker_(&w),
      state_(std::move(st)),
      origin_(std::move(origin)) {}

  void run() { do_read(); }

private:
  // The header is read first, so that the body limit can follow the route
  // (small API bodies, long-poll POSTs); the read buffer itself is bounded
  // (max_http_header), which bounds chunk lines and trailers as well.
  void do_read() {
    parser_.emplace();
    parser_->header_limit(
      static_cast<std::uint32_t>(state_->opts.max_http_header));
    parser_->body_limit(boost::none);  // decided by on_header, per route
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read_header(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&http_session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec)
      return on_error(ec);
    std::string_view target{parser_->get().target()};
    auto path = target.substr(0, target.find('?'));
    auto limit = body_limit_for(path);
    if (auto n = parser_->content_length(); n && *n > limit)
      return on_error(http::error::body_limit);
    parser_->body_limit(limit);  // chunked bodies: checked per chunk
    http::async_read(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  std::uint64_t body_limit_for(std::string_view path) const {
    for (auto& [p, limit] : state_->body_limits)
      if (p == path)
        return limit;
    return state_->opts.max_http_body;
  }

  void on_error(beast::error_code ec) {
    if (auto status = status_for_parse_error(ec); status != 0) {
      ++state_->stats.http_refused;
      log::limited(log_level::info, "bad http request", "HTTP ", status, " to ",
                   peer(), ": ", ec.message());
      return send(http_response::empty(status), false);
    }
    fail(ec, "http read");
  }

  std::string peer() const {
    if (origin_)
      return origin_->address;
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    return ec ? std::string{"?"} : ep.address().to_string();
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec)
      return on_error(ec);
    auto req = parser_->release();
    auto info = to_request(req, stream_.socket(), origin_);
    if (auto* h = upgrade_route(info.path, req))
      return on_websocket(*h, std::move(req), std::move(info));
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
      net::post(ex,
                [s = std::move(self), keep_alive, r = std::move(r)]() mutable {
                  s->send(std::move(r), keep_alive);
                });
    };
    try {
      h(info, respond);
    } catch (const std::exception& e) {
      log::limited(log_level::error, "http handler", "HTTP handler for ",
                   info.path, " threw: ", e.what());
      respond(http_response::text(500, "internal server error\n"));
    }
  }

  static http_response safe_call(const http_handler& h,
                                 const http_request& info) {
    try {
      return h(info);
    } catch (const std::exception& e) {
      log::limited(log_level::error, "http handler", "HTTP handler for ",
                   info.path, " threw: ", e.what());
      return http_response::text(500, "internal server error\n");
    }
  }

  // The WebSocket route for `path`: an exact one takes any request (a
  // plain GET is refused), a prefix one only upgrade requests, so that
  // HTTP routes under the same prefix still answer.
  const upgrade_handler*
  upgrade_route(const std::string& path,
                const http::request<http::string_body>& req) {
    for (auto& [p, h] : state_->ws_routes)
      if (p == path)
        return &h;
    if (!websocket::is_upgrade(req))
      return nullptr;
    for (auto& [prefix, h] : state_->ws_prefix_routes)
      if (path.compare(0, prefix.size(), prefix) == 0)
        return &h;
    return nullptr;
  }

  void on_websocket(const upgrade_handler& on_upgrade,
                    http::request<http::string_body> req, http_request info) {
    if (req.method() != http::verb::get)
      return send(http_response::empty(400), false);
    upgrade_result res;
    try {
      res = on_upgrade(info);
    } catch (const std::exception& e) {
      log::limited(log_level::error, "http handler",
                   "upgrade handler threw: ", e.what());
      res = upgrade_result::refuse(500);
    }
    if (res.status != 101 || !res.handler)
      return send(http_response::empty(res.status == 101 ? 500 : res.status),
                  false);
    if (!websocket::is_upgrade(req))
      return send(
        http_response::text(400, "'connection' header must contain 'upgrade'"),
        false);
    // What Beast's accept checked (RFC 6455 4.2.1): version 13 and a key.
    auto version = req[http::field::sec_websocket_version];
    if (version != "13") {
      http_response r = http_response::text(
        version.empty() ? 400 : 426, "unsupported Sec-WebSocket-Version\n");
      r.headers.emplace("Sec-WebSocket-Version", "13");
      return send(std::move(r), false);
    }
    auto key = req[http::field::sec_websocket_key];
    if (key.size() != 24)  // base64 of a 16-byte nonce
      return send(http_response::text(400, "invalid Sec-WebSocket-Key\n"),
                  false);
    websocket::detail::sec_ws_accept_type accept;
    websocket::detail::make_sec_ws_accept(accept, key);
    std::string response = "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Server: fenix\r\n"
                           "Sec-WebSocket-Accept: ";
    response.append(accept.data(), accept.size());
    response += "\r\n";
    if (!res.subprotocol.empty())
      response += "Sec-WebSocket-Protocol: " + res.subprotocol + "\r\n";
    auto deflate = negotiate_deflate(req);
    if (deflate)
      response +=
        "Sec-WebSocket-Extensions: " + ws::deflate_response(*deflate) + "\r\n";
    response += "\r\n";
    auto leftover = beast::buffers_to_string(buffer_.data());
    stream_.expires_never();
    ws::start_ws_session(stream_.release_socket(), *worker_, state_,
                         std::move(res.handler), std::move(response),
                         std::move(leftover), std::move(info), deflate);
  }

  // permessage-deflate, when enabled and offered (every
  // Sec-WebSocket-Extensions header counts, in order).
  std::optional<ws::deflate_params>
  negotiate_deflate(const http::request<http::string_body>& req) const {
    if (!state_->opts.compress)
      return std::nullopt;
    std::string offers;
    auto [it, end] = req.equal_range(http::field::sec_websocket_extensions);
    for (; it != end; ++it) {
      if (!offers.empty())
        offers += ',';
      offers.append(it->value().data(), it->value().size());
    }
    return ws::negotiate_deflate(offers);
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
    http::async_write(
      stream_, *res,
      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
        if (ec)
          return fail(ec, "http write");
        if (!res->keep_alive()) {
          beast::error_code ignored;
          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
          return self->linger();
        }
        self->do_read();
      });
  }

  // After the answer to a request we refused, the peer may still be
  // sending: read and discard (bounded in bytes and time) so that closing
  // does not reset the connection before the peer has read the answer.
  void linger() {
    if (lingered_ == 0)
      stream_.expires_after(std::chrono::seconds(2));
    stream_.async_read_some(
      net::buffer(scratch_),
      [self = shared_from_this()](beast::error_code ec, std::size_t n) {
        self->lingered_ += n;
        if (!ec && self->lingered_ < max_linger_bytes)
          self->linger();
      });
  }

  static constexpr std::size_t max_linger_bytes = 4 << 20;
  std::array<char, 4096> scratch_;
  std::size_t lingered_ = 0;
  beast::tcp_stream stream_;
  io_worker* worker_;
  std::shared_ptr<shared_state> state_;
  beast::flat_buffer buffer_{2 * state_->opts.max_http_header};
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<peer_origin> origin_;  // set: not the socket's own peer
};

}  // namespace

void adopt_connection(tcp::socket sock, io_worker& w,
                      std::shared_ptr<shared_state> st, peer_origin origin) {
  std::make_shared<http_session>(std::move(sock), w, std::move(st),
                                 std::move(origin))
    ->run();
}

// -- server -----------------------------------------------------------------------

// One listening socket: plain, or TLS (its connections go through the
// terminator first).
struct listener {
  std::optional<tcp::acceptor> acceptor;  // on workers[0]
  tls_terminator* tls = nullptr;          // null: plain
  std::uint16_t port = 0;
  // At the fd limit (EMFILE/ENFILE) accepting fails at once, again and
  // again: back off (10 ms doubling to 1 s) instead of spinning, log once
  // per interval, and keep serving the connections that exist.
  std::optional<net::steady_timer> accept_timer;
  std::chrono::milliseconds accept_backoff{0};
};

struct server::impl {
  std::unique_ptr<tls_terminator> tls;  // outlives the workers' handlers
  std::vector<std::unique_ptr<io_worker>> workers;  // one per io thread
  std::vector<std::unique_ptr<listener>> listeners;
  std::shared_ptr<shared_state> state = std::make_shared<shared_state>();
  std::vector<std::thread> threads;
  std::size_t next_worker = 0;
  bool started = false;
  bool stopped = false;

  void on_accept_error(listener& l, beast::error_code ec) {
    if (ec != net::error::no_descriptors && ec != net::error::no_buffer_space
        && ec != net::error::no_memory && ec.value() != ENFILE) {
      if (ec != net::error::operation_aborted)
        fail(ec, "accept");
      return do_accept(l);
    }
    ++state->stats.accept_backoffs;
    l.accept_backoff =
      std::min(std::chrono::milliseconds{1000},
               std::max(std::chrono::milliseconds{10}, l.accept_backoff * 2));
    log::limited(log_level::error, "accept backoff",
                 "cannot accept connections (", ec.message(), "): retrying in ",
                 l.accept_backoff.count(), " ms");
    if (!l.accept_timer)
      l.accept_timer.emplace(workers[0]->ioc);
    l.accept_timer->expires_after(l.accept_backoff);
    l.accept_timer->async_wait([this, &l](beast::error_code tec) {
      if (!tec && l.acceptor->is_open())
        do_accept(l);
    });
  }

  void do_accept(listener& l) {
    auto& w = *workers[next_worker++ % workers.size()];
    l.acceptor->async_accept(
      w.ioc, [this, &l, &w](beast::error_code ec, tcp::socket sock) {
        if (ec) {
          if (!l.acceptor->is_open())
            return;
          return on_accept_error(l, ec);
        }
        l.accept_backoff = std::chrono::milliseconds{0};
        beast::error_code ignored;
        sock.set_option(tcp::no_delay{true}, ignored);
        // The session runs on its worker's thread from the first byte on.
        net::post(w.ioc, [this, &l, &w, sock = std::move(sock)]() mutable {
          if (l.tls)
            return l.tls->serve(std::move(sock), w, state);
          std::make_shared<http_session>(std::move(sock), w, state)->run();
        });
        do_accept(l);
      });
  }

  void listen(std::uint16_t port, tls_terminator* t) {
    auto& o = state->opts;
    tcp::endpoint ep{net::ip::make_address(o.host), port};
    auto l = std::make_unique<listener>();
    l->tls = t;
    l->acceptor.emplace(workers[0]->ioc);
    auto& acc = *l->acceptor;
    acc.open(ep.protocol());
    acc.set_option(net::socket_base::reuse_address(true));
    acc.bind(ep);
    acc.listen(net::socket_base::max_listen_connections);
    l->port = acc.local_endpoint().port();
    listeners.push_back(std::move(l));
  }

  // `port` plain or TLS, and a TLS listener on tls_port when set.
  void listen_all() {
    auto& o = state->opts;
    if (o.tls.enabled())
      tls = std::make_unique<tls_terminator>(o.tls);
    bool side_by_side = tls && o.tls_port.has_value();
    listen(o.port, side_by_side ? nullptr : tls.get());
    if (side_by_side)
      listen(*o.tls_port, tls.get());
  }
};

server::server(server_options opts) : impl_(std::make_unique<impl>()) {
  impl_->state->opts = std::move(opts);
}

server::~server() {
  stop();
}

void server::route(std::string method, std::string path, http_handler h) {
  impl_->state->routes.emplace_back(
    std::move(path), std::make_pair(std::move(method), std::move(h)));
}

void server::route_prefix(std::string prefix, http_handler h) {
  impl_->state->prefix_routes.emplace_back(std::move(prefix), std::move(h));
}

void server::route_async(std::string path, async_http_handler h) {
  impl_->state->async_routes.emplace_back(std::move(path), std::move(h));
}

void server::body_limit(std::string path, std::uint64_t bytes) {
  impl_->state->body_limits.emplace_back(std::move(path), bytes);
}

void server::websocket(std::string path, upgrade_handler h) {
  impl_->state->ws_routes.emplace_back(std::move(path), std::move(h));
}

void server::websocket_prefix(std::string prefix, upgrade_handler h) {
  impl_->state->ws_prefix_routes.emplace_back(std::move(prefix), std::move(h));
}

void server::start() {
  auto& o = impl_->state->opts;
  for (int i = 0; i < std::max(1, o.io_threads); ++i)
    impl_->workers.push_back(std::make_unique<io_worker>());
  impl_->listen_all();
  impl_->started = true;
  for (auto& l : impl_->listeners)
    impl_->do_accept(*l);
  for (auto& w : impl_->workers)
    impl_->threads.emplace_back([ioc = &w->ioc] {
      auto guard = net::make_work_guard(*ioc);  // idle threads keep waiting
      // No exception from one connection's input may end an io thread: the
      // handler that threw is gone (and its connection with it), the
      // others go on.
      for (;;) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          log::limited(log_level::error, "io thread exception",
                       "io thread caught: ", e.what());
        } catch (...) {
          log::limited(log_level::error, "io thread exception",
                       "io thread caught an unknown exception");
        }
      }
    });
}

std::uint16_t server::port() const {
  return impl_->listeners.empty() ? 0 : impl_->listeners.front()->port;
}

std::uint16_t server::tls_port() const {
  for (auto& l : impl_->listeners)
    if (l->tls)
      return l->port;
  return 0;
}

void server::stop(close_code code) {
  if (!impl_->started || impl_->stopped)
    return;
  impl_->stopped = true;
  auto& st = *impl_->state;
  st.stop_code = code;
  st.stopping.store(true);
  net::post(impl_->workers[0]->ioc, [this] {
    beast::error_code ignored;
    for (auto& l : impl_->listeners)
      l->acceptor->close(ignored);
  });
  ws::drain_sessions(st, code);
  for (auto& w : impl_->workers)
    w->ioc.stop();
  for (auto& t : impl_->threads)
    t.join();
  impl_->threads.clear();
}

server_stats server::stats() const {
  auto& s = impl_->state->stats;
  server_stats r{s.connections.load(),  s.connections_total.load(),
                 s.frames_in.load(),    s.frames_out.load(),
                 s.bytes_out.load(),    s.frames_dropped.load(),
                 s.slow_closes.load(),  s.writes.load(),
                 s.http_refused.load(), s.accept_backoffs.load(),
                 s.deflates.load(),     s.frames_deflated.load()};
  if (auto& t = impl_->tls) {
    r.tls_handshakes = t->stats().handshakes.load();
    r.tls_handshake_failures = t->stats().handshake_failures.load();
  }
  return r;
}

}  // namespace fenix::transport
