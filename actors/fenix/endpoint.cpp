#include "fenix/log.hpp"
#include "fenix/endpoint.hpp"

#include <algorithm>
#include <csignal>
#include <iostream>
#include <thread>
#include <unistd.h>

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/socket/authorize.hpp"
#include "fenix/detail/endpoint_context.hpp"
#include "fenix/detail/origin.hpp"
#include "fenix/presence_tracker.hpp"
#include "fenix/socket/socket.hpp"

namespace fenix {

namespace {

// Bridges one WebSocket (io thread) to its socket actor.
class socket_bridge final : public transport::socket_handler {
public:
  explicit socket_bridge(socket::socket_init init) : init_(std::move(init)) {}

  void on_open(transport::connection_ptr conn) override {
    auto& sys = init_.ctx->sys;
    actor_ = socket::spawn_socket(sys, std::move(init_));
    caf::anon_send(actor_, open_atom::value, std::move(conn));
  }

  void on_frame(std::string data, bool binary) override {
    caf::anon_send(actor_, frame_atom::value, std::move(data), binary);
  }

  void on_close() override {
    if (actor_)
      caf::anon_send(actor_, closed_atom::value);
  }

private:
  socket::socket_init init_;
  caf::actor actor_;
};

// Bridges one raw WebSocket (io thread) to its websocket_handler.
class raw_bridge final : public transport::socket_handler {
public:
  explicit raw_bridge(std::shared_ptr<const websocket_handler> h)
    : h_(std::move(h)) {}

  void on_open(transport::connection_ptr conn) override {
    conn_ = std::move(conn);
    if (h_->on_open)
      h_->on_open(conn_);
  }

  void on_frame(std::string data, bool binary) override {
    auto bytes = data.size();
    if (h_->on_message)
      h_->on_message(conn_, std::move(data), binary);
    conn_->consumed(bytes);  // after the sends it made (see consumed)
  }

  void on_close() override {
    if (h_->on_close && conn_)
      h_->on_close(conn_);
  }

private:
  std::shared_ptr<const websocket_handler> h_;
  transport::connection_ptr conn_;
};

// The upgrade of a raw WebSocket: the connect rate limit and origin check
// of Phoenix sockets, then the handler's own decision.
transport::upgrade_result
raw_upgrade(const std::shared_ptr<detail::endpoint_context>& ctx,
            const std::shared_ptr<const websocket_handler>& h,
            const transport::http_request& req) {
  if (!ctx->connects->admit(req.peer_address)) {
    ctx->rate_limited_connects.fetch_add(1, std::memory_order_relaxed);
    return transport::upgrade_result::refuse(429);
  }
  auto origin = req.header("origin");
  if (!origin.empty()
      && !detail::origin_allowed(ctx->opts, origin, req.header("host")))
    return transport::upgrade_result::refuse(403);
  if (h->on_upgrade)
    if (int status = h->on_upgrade(req); status != 0)
      return transport::upgrade_result::refuse(status);
  return {101, {}, std::make_shared<raw_bridge>(h)};
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return std::string{s};
}

connect_info make_info(const transport::http_request& req,
                       std::string& subprotocol) {
  connect_info info;
  for (auto& [k, v] : req.query_params())
    info.params[k] = v;
  info.peer_address = req.peer_address;
  info.peer_port = req.peer_port;
  info.uri = req.target;
  info.host = req.header("host");
  info.user_agent = req.header("user-agent");
  for (auto& [k, v] : req.headers)
    if (k.size() > 2 && k[0] == 'x' && k[1] == '-')
      info.x_headers.emplace_back(k, v);
  // Sec-WebSocket-Protocol: "phoenix, base64url.bearer.phx.<token>"
  static constexpr std::string_view prefix = "base64url.bearer.phx.";
  auto protocols = req.header("sec-websocket-protocol");
  std::string_view rest = protocols;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{}
                                           : rest.substr(comma + 1);
    if (item.rfind(prefix, 0) == 0)
      info.auth_token =
        transport::base64_decode(std::string_view{item}.substr(prefix.size()));
    else if (item == "phoenix")
      subprotocol = "phoenix";
  }
  if (info.auth_token)
    subprotocol = "phoenix";
  return info;
}

volatile std::sig_atomic_t signal_fd = -1;

extern "C" void on_signal(int) {
  if (signal_fd >= 0) {
    char b = 1;
    [[maybe_unused]] auto n = ::write(signal_fd, &b, 1);
  }
}

}  // namespace

std::string connect_info::param(const std::string& name) const {
  auto* v = params.if_contains(name);
  return v && v->is_string() ? std::string{v->get_string()} : std::string{};
}

std::shared_ptr<detail::endpoint_context>
detail::make_endpoint_context(caf::actor_system& sys, endpoint_options opts) {
  auto ctx = std::make_shared<endpoint_context>(sys);
  auto shards = opts.pubsub_shards;
  if (shards == 0)
    shards = std::max(1u, std::thread::hardware_concurrency());
  ctx->opts = std::move(opts);
  ctx->connects = std::make_unique<address_limiter>(
    ctx->opts.connect_rate, ctx->opts.connect_burst, 100'000);
  supervisor_options so;
  so.max_restarts = ctx->opts.max_restarts;
  so.period = ctx->opts.restart_period;
  auto* raw = ctx.get();  // the context outlives its supervisor
  so.on_escalate = [raw](const std::string&, const std::string&) {
    log::error("endpoint: the supervisor gave up: stopping");
    if (int fd = raw->escalate_fd.load(); fd >= 0) {
      char b = 2;
      [[maybe_unused]] auto n = ::write(fd, &b, 1);
    }
  };
  ctx->sup = std::make_unique<supervisor>(sys, std::move(so));
  if (ctx->opts.fault_injection)
    ctx->faults = std::make_shared<fault_injector>(*ctx->sup);
  ctx->ps =
    std::make_unique<fenix::pubsub>(sys, shards, ctx->sup.get(), ctx->faults);
  ctx->presence = std::make_unique<presence_tracker>(
    sys, *ctx->ps, shards, ctx->opts.presence_window, ctx->opts.node_name,
    ctx->sup.get(), ctx->faults);
  ctx->connect = [](const connect_info&) { return connect_result::accept(); };
  return ctx;
}

endpoint::endpoint(caf::actor_system& sys, endpoint_options opts)
  : ctx_(detail::make_endpoint_context(sys, std::move(opts))) {
  transport::server_options so;
  so.host = ctx_->opts.host;
  so.port = ctx_->opts.port;
  so.tls = ctx_->opts.tls;
  so.tls_port = ctx_->opts.tls_port;
  so.io_threads = ctx_->opts.io_threads;
  so.max_frame_size = ctx_->opts.max_frame_size;
  so.max_inbound_bytes = ctx_->opts.max_inbound_bytes;
  so.max_http_body = ctx_->opts.max_http_body;
  so.idle_timeout = ctx_->opts.idle_timeout;
  so.max_backpressure = ctx_->opts.max_backpressure;
  so.on_backpressure = ctx_->opts.on_backpressure;
  so.backpressure_stall = ctx_->opts.backpressure_stall;
  so.drain_batch_size = ctx_->opts.drain_batch_size;
  so.drain_interval = ctx_->opts.drain_interval;
  so.drain_timeout = ctx_->opts.drain_timeout;
  so.compress = ctx_->opts.compress;
  so.compress_min_size = ctx_->opts.compress_min_size;
  server_ = std::make_unique<transport::server>(so);
  if (!ctx_->opts.socket_path.empty())
    server_->websocket(ctx_->opts.socket_path + "/websocket",
                       [ctx = ctx_](const transport::http_request& req) {
                         return detail::socket_upgrade(ctx, req);
                       });
  if (ctx_->opts.longpoll && !ctx_->opts.socket_path.empty()) {
    longpoll_ = detail::make_longpoll(ctx_);
    server_->body_limit(ctx_->opts.socket_path + "/longpoll",
                        ctx_->opts.longpoll_max_body);
    server_->route_async(
      ctx_->opts.socket_path + "/longpoll",
      [lp = longpoll_.get()](const transport::http_request& req,
                             transport::http_responder respond) {
        lp->handle(req, std::move(respond));
      });
  }
  route("GET", "/health", [](const transport::http_request&) {
    return transport::http_response::json(200, R"({"status":"ok"})");
  });
}

endpoint::~endpoint() {
  stop();
  server_.reset();
  ctx_->shutdown();
}

std::variant<int, socket::socket_init>
socket::authorize(const std::shared_ptr<detail::endpoint_context>& ctx,
                  const transport::http_request& req,
                  std::string& subprotocol) {
  auto& opts = ctx->opts;
  auto refuse = [&](int status, const std::string& why) {
    if (opts.log_connects || status != 403)
      log::limited(log_level::info, "refused connect", "refused connect from ",
                   req.peer_address, ": ", why);
    return status;
  };
  if (!ctx->connects->admit(req.peer_address)) {
    ctx->rate_limited_connects.fetch_add(1, std::memory_order_relaxed);
    return refuse(429, "over the connect rate limit");
  }
  auto origin = req.header("origin");
  if (!origin.empty()
      && !detail::origin_allowed(opts, origin, req.header("host")))
    return refuse(403, "origin " + origin + " not allowed");
  auto info = make_info(req, subprotocol);
  if (!info.auth_token) {
    auto header = req.header("x-phoenix-authtoken");  // long poll
    if (!header.empty())
      info.auth_token = header;
  }
  auto vsn = info.param("vsn");
  // A missing vsn means 1.0.0; a vsn that is present must parse.
  const serializer* ser =
    info.params.contains("vsn") && vsn.empty() ? nullptr : negotiate(vsn);
  if (ser == nullptr) {
    log::limited(log_level::info, "refused connect",
                 "the client's requested transport version \"", vsn,
                 "\" does not match server's version requirements");
    return 403;
  }
  auto res = ctx->connect(info);
  if (!res.accepted())
    return refuse(res.status(), "connect callback");
  if (opts.log_connects)
    log::info("connected ", req.peer_address, " vsn ", vsn);
  return socket::socket_init{
    ctx,           ser,
    res.assigns(), res.id(),
    res.expiry(),  std::make_shared<const connect_info>(std::move(info))};
}

transport::upgrade_result
detail::socket_upgrade(const std::shared_ptr<endpoint_context>& ctx,
                       const transport::http_request& req) {
  std::string subprotocol;
  auto res = socket::authorize(ctx, req, subprotocol);
  if (auto* status = std::get_if<int>(&res))
    return transport::upgrade_result::refuse(*status);
  return {101, std::move(subprotocol),
          std::make_shared<socket_bridge>(
            std::move(std::get<socket::socket_init>(res)))};
}

std::unique_ptr<transport::longpoll::handler>
detail::make_longpoll(const std::shared_ptr<endpoint_context>& ctx) {
  transport::longpoll::options lo;
  lo.window = ctx->opts.longpoll_window;
  lo.max_body = ctx->opts.longpoll_max_body;
  lo.max_buffer = ctx->opts.max_backpressure;
  lo.max_inbound = ctx->opts.max_inbound_bytes;
  // The context is held weakly: sessions outlive no endpoint.
  std::weak_ptr<endpoint_context> weak = ctx;
  return std::make_unique<transport::longpoll::handler>(
    lo,
    [weak](const transport::http_request& req) {
      auto ctx = weak.lock();
      return ctx ? socket_upgrade(ctx, req)
                 : transport::upgrade_result::refuse(503);
    },
    [weak](const transport::http_request& req) {
      auto ctx = weak.lock();
      auto origin = req.header("origin");
      return ctx
             && (origin.empty()
                 || origin_allowed(ctx->opts, origin, req.header("host")));
    });
}

void endpoint::channel(std::string pattern, channel_fn fn) {
  ctx_->routes.emplace_back(socket::topic_pattern{std::move(pattern)},
                            std::move(fn));
}

void endpoint::channel(std::string pattern, channel_fn fn,
                       history_options history) {
  ctx_->ps->history(pattern, std::move(history));
  channel(std::move(pattern), std::move(fn));
}

void endpoint::on_connect(connect_fn fn) {
  ctx_->connect = std::move(fn);
}

void endpoint::websocket(std::string path, websocket_handler h) {
  auto shared = std::make_shared<const websocket_handler>(std::move(h));
  server_->websocket(std::move(path),
                     [ctx = ctx_, shared](const transport::http_request& req) {
                       return raw_upgrade(ctx, shared, req);
                     });
}

void endpoint::websocket_prefix(std::string prefix, websocket_handler h) {
  auto shared = std::make_shared<const websocket_handler>(std::move(h));
  server_->websocket_prefix(
    std::move(prefix),
    [ctx = ctx_, shared](const transport::http_request& req) {
      return raw_upgrade(ctx, shared, req);
    });
}

void endpoint::route(std::string method, std::string path,
                     transport::http_handler h) {
  server_->route(std::move(method), std::move(path), std::move(h));
}

void endpoint::route_prefix(std::string prefix, transport::http_handler h) {
  server_->route_prefix(std::move(prefix), std::move(h));
}

void endpoint::broadcast(const std::string& topic, const std::string& event,
                         payload p) {
  ctx_->ps->broadcast(topic, event, std::move(p));
}

void endpoint::local_broadcast(const std::string& topic,
                               const std::string& event, payload p) {
  ctx_->ps->local_broadcast(topic, event, std::move(p));
}

void endpoint::start() {
  server_->start();
}

std::uint16_t endpoint::port() const {
  return server_->port();
}

std::uint16_t endpoint::tls_port() const {
  return server_->tls_port();
}

int endpoint::run(const std::function<void()>& before_stop,
                  const std::function<void()>& after_stop) {
  int fds[2];
  if (::pipe(fds) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe");
  signal_fd = fds[1];
  // The supervisor giving up ends the wait as a signal would.
  ctx_->escalate_fd.store(fds[1]);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  start();
  bool tls_only = ctx_->opts.tls.enabled() && !ctx_->opts.tls_port;
  std::cout << "listening on " << (tls_only ? "https" : "http") << "://"
            << ctx_->opts.host << ':' << port() << std::endl;
  char b = 0;
  while (!failed() && ::read(fds[0], &b, 1) < 0 && errno == EINTR) {
  }
  bool gave_up = failed();
  log::info(gave_up ? "shutting down: the supervisor gave up"
                    : "shutting down");
  if (before_stop)
    before_stop();
  stop();
  if (after_stop)
    after_stop();
  signal_fd = -1;
  ctx_->escalate_fd.store(-1);
  ::close(fds[0]);
  ::close(fds[1]);
  return gave_up || failed() ? 1 : 0;
}

void endpoint::stop() {
  server_->stop(transport::close_code::service_restart);
  if (longpoll_)
    longpoll_->stop();
}

endpoint_stats endpoint::stats() const {
  auto t = server_->stats();
  endpoint_stats s;
  s.connections = t.connections;
  s.channels = ctx_->channels.load();
  s.messages_in = ctx_->messages_in.load();
  s.messages_out =
    t.frames_out;  // every frame written: replies, pushes, broadcasts
  s.broadcasts = ctx_->ps->stats().broadcasts;
  s.frames_dropped = t.frames_dropped;
  s.slow_closes = t.slow_closes;
  s.presence_entries = ctx_->presence->entries();
  s.rate_limited_events = ctx_->rate_limited_events.load();
  s.rate_limited_joins = ctx_->rate_limited_joins.load();
  s.rate_limited_connects = ctx_->rate_limited_connects.load();
  s.rate_limit_closes = ctx_->rate_limit_closes.load();
  s.http_refused = t.http_refused;
  s.accept_backoffs = t.accept_backoffs;
  s.deflates = t.deflates;
  s.frames_deflated = t.frames_deflated;
  return s;
}

supervisor& endpoint::supervisor() {
  return *ctx_->sup;
}

fault_injector* endpoint::faults() const {
  return ctx_->faults.get();
}

bool endpoint::failed() const {
  return ctx_->sup->escalated();
}

caf::actor_system& endpoint::system() {
  return ctx_->sys;
}

const fenix::pubsub& endpoint::pubsub() const {
  return *ctx_->ps;
}

const endpoint_options& endpoint::options() const {
  return ctx_->opts;
}

void configure_scheduler(caf::actor_system_config& cfg, std::size_t threads) {
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", threads);
  cfg.set("work-stealing.aggressive-poll-attempts", std::size_t{0});
  cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
}

}  // namespace fenix
