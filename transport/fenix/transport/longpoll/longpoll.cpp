#include "fenix/transport/longpoll/longpoll.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/json.hpp>

#include "fenix/log.hpp"
#include "fenix/transport/longpoll/session_token.hpp"

namespace fenix::transport::longpoll {

namespace json = boost::json;

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t max_lines = 100;

http_response lp_json(json::object body) {
  auto r = http_response::json(200, json::serialize(body));
  r.headers.emplace("cache-control", "no-store");
  r.headers.emplace("access-control-allow-origin", "*");
  return r;
}

http_response lp_status(int status) {
  return lp_json(json::object{{"status", status}});
}

// What a session keeps of its opening request: the socket handler reads only
// the peer (for its log lines) and the path; headers, query (the app's
// tokens) and body are not kept for the session's whole life.
http_request trimmed(const http_request& req) {
  http_request r;
  r.method = req.method;
  r.path = req.path;
  r.peer_address = req.peer_address;
  r.peer_port = req.peer_port;
  return r;
}

// One long-poll session: the socket handler's connection.
class lp_session final : public connection,
                         public std::enable_shared_from_this<lp_session> {
public:
  lp_session(std::string token, http_request req, std::size_t max_bytes,
             std::size_t max_inbound)
    : token_(std::move(token)),
      request_(std::move(req)),
      max_bytes_(max_bytes),
      max_inbound_(max_inbound),
      last_poll_(clock_type::now()) {}

  void send(frame f) override {
    if (f.binary)
      return;  // long poll carries text frames only
    http_responder r;
    json::array msgs;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (closed_)
        return;
      bytes_ += f.size();
      buffer_.push_back(*f.data);
      if (bytes_ > max_bytes_) {
        log::limited(log_level::warning, "long-poll overflow",
                     "long-poll session over its buffer, closing");
        closed_ = true;
      }
      if (!held_)
        return;
      r = std::move(held_);
      held_ = nullptr;
      msgs = take_locked();
    }
    respond_messages(r, std::move(msgs));
  }

  void close(close_code, std::string) override {
    http_responder r;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      closed_ = true;
      r = std::move(held_);
      held_ = nullptr;
    }
    if (r)
      r(lp_status(410));
  }

  // The handler processed one frame of `bytes` bytes: they leave the
  // inbound budget.
  void consumed(std::size_t bytes) override {
    std::lock_guard<std::mutex> guard{in_mtx_};
    in_bytes_ -= std::min(in_bytes_, bytes);
  }

  /// Hands the frames of one POST to the handler, all or none: false
  /// (nothing sent) if they would take the frames posted but not yet
  /// consumed past the inbound budget. A session with nothing pending takes
  /// any POST, so a single large one is never refused forever.
  bool publish(std::vector<std::pair<std::string, bool>>& frames) {
    std::size_t total = 0;
    for (auto& f : frames)
      total += f.first.size();
    std::lock_guard<std::mutex> guard{in_mtx_};
    if (in_bytes_ > 0 && in_bytes_ + total > max_inbound_)
      return false;
    // Sent under the lock: the budget and the mailbox agree.
    for (auto& [data, binary] : frames) {
      in_bytes_ += data.size();
      handler->on_frame(std::move(data), binary);
    }
    return true;
  }

  bool closed() {
    std::lock_guard<std::mutex> guard{mtx_};
    return closed_;
  }

  const http_request& request() const override { return request_; }

  /// A poll: answers at once if messages wait, else holds the responder.
  void poll(http_responder r) {
    json::array msgs;
    http_responder previous;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      last_poll_ = clock_type::now();
      if (closed_) {
        msgs = take_locked();
        if (msgs.empty()) {
          r(lp_status(410));
          return;
        }
      } else if (buffer_.empty()) {
        previous = std::move(held_);  // a second poll replaces the first
        held_ = std::move(r);
        held_since_ = last_poll_;
        r = nullptr;
      } else {
        msgs = take_locked();
      }
    }
    if (previous)
      previous(lp_json(json::object{
        {"status", 204}, {"token", token_}, {"messages", json::array{}}}));
    if (r)
      respond_messages(r, std::move(msgs));
  }

  /// Answers a held poll past `window` with 204; true if the session is
  /// dead (closed, or not polled for `max_idle`).
  bool sweep(clock_type::time_point now, clock_type::duration window,
             clock_type::duration max_idle) {
    http_responder r;
    bool dead;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (held_ && now - held_since_ >= window) {
        r = std::move(held_);
        held_ = nullptr;
        last_poll_ = now;
      }
      dead = closed_ || (!held_ && now - last_poll_ >= max_idle);
    }
    if (r)
      r(lp_json(json::object{
        {"status", 204}, {"token", token_}, {"messages", json::array{}}}));
    return dead;
  }

  const std::string& token() const { return token_; }

  /// Closes the session and tells the handler, once whoever calls it.
  void end() {
    if (ended_.exchange(true))
      return;
    close(close_code::going_away, {});
    handler->on_close();
  }

  std::shared_ptr<socket_handler> handler;

private:
  json::array take_locked() {
    json::array out;
    for (auto& m : buffer_)
      out.emplace_back(m);
    buffer_.clear();
    bytes_ = 0;
    return out;
  }

  void respond_messages(const http_responder& r, json::array msgs) {
    int status = msgs.empty() ? 204 : 200;
    r(lp_json(json::object{
      {"status", status}, {"token", token_}, {"messages", std::move(msgs)}}));
  }

  std::string token_;
  http_request request_;
  std::size_t max_bytes_;
  std::size_t max_inbound_;
  std::mutex in_mtx_;  // guards the inbound budget
  std::size_t in_bytes_ = 0;
  std::mutex mtx_;
  std::deque<std::string> buffer_;
  std::size_t bytes_ = 0;
  http_responder held_;
  clock_type::time_point held_since_;
  clock_type::time_point last_poll_;
  bool closed_ = false;
  std::atomic<bool> ended_{false};
};

}  // namespace

struct handler::impl {
  options opts;
  accept_fn accept;
  origin_fn origin_ok;
  session_signer signer;  // this handler's key, drawn at start
  std::mutex mtx;
  std::unordered_map<std::string, std::shared_ptr<lp_session>> sessions;
  std::condition_variable cv;
  bool stopping = false;
  std::thread sweeper;

  /// The session of `token`, or nullptr: unknown, or not signed by this
  /// endpoint (another endpoint's, another process's, tampered, made up).
  std::shared_ptr<lp_session> find(const std::string& token) {
    if (token.empty() || !signer.verify(token))
      return nullptr;
    std::lock_guard<std::mutex> guard{mtx};
    auto i = sessions.find(token);
    return i == sessions.end() ? nullptr : i->second;
  }

  void sweep_loop() {
    auto window = opts.window;
    std::unique_lock<std::mutex> guard{mtx};
    while (!stopping) {
      cv.wait_for(guard, std::chrono::milliseconds(100));
      std::vector<std::shared_ptr<lp_session>> all;
      for (auto& [t, s] : sessions)
        all.push_back(s);
      guard.unlock();
      auto now = clock_type::now();
      std::vector<std::shared_ptr<lp_session>> dead;
      for (auto& s : all)
        if (s->sweep(now, window, window * 3 / 2))
          dead.push_back(s);
      guard.lock();
      for (auto& s : dead)
        sessions.erase(s->token());
      guard.unlock();
      for (auto& s : dead)
        s->end();
      guard.lock();
    }
  }
};

handler::handler(options opts, accept_fn accept, origin_fn origin_ok)
  : impl_(std::make_shared<impl>()) {
  impl_->opts = opts;
  impl_->accept = std::move(accept);
  impl_->origin_ok = std::move(origin_ok);
  impl_->sweeper = std::thread{[i = impl_.get()] { i->sweep_loop(); }};
}

handler::~handler() {
  stop();
}

void handler::stop() {
  std::vector<std::shared_ptr<lp_session>> all;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->stopping)
      return;
    impl_->stopping = true;
    for (auto& [t, s] : impl_->sessions)
      all.push_back(s);
    impl_->sessions.clear();
  }
  impl_->cv.notify_all();
  if (impl_->sweeper.joinable())
    impl_->sweeper.join();
  for (auto& s : all)
    s->end();
}

void handler::handle(const http_request& req, http_responder respond) {
  auto& opts = impl_->opts;
  // Phoenix checks the Origin on every long-poll request, not only when a
  // session is made: a token does not let another origin in.
  if (impl_->origin_ok && !impl_->origin_ok(req))
    return respond(lp_status(403));
  if (req.method == "OPTIONS") {
    auto r = http_response::empty(200);
    r.headers.emplace("access-control-allow-origin", "*");
    r.headers.emplace("access-control-allow-methods", "get, post, options");
    r.headers.emplace("access-control-allow-headers",
                      req.header("access-control-request-headers"));
    r.headers.emplace("access-control-max-age", "3600");
    return respond(std::move(r));
  }
  if (req.method != "GET" && req.method != "POST")
    return respond(http_response::empty(400));
  auto token = req.header("x-phoenix-longpoll-token");
  if (token.empty())
    token = req.query_param("token");
  if (req.method == "POST" && req.body.size() > opts.max_body) {
    auto r = http_response::empty(413);
    r.headers.emplace("access-control-allow-origin", "*");
    return respond(std::move(r));
  }
  auto session = impl_->find(token);
  if (req.method == "POST") {
    if (!session || session->closed())
      return respond(lp_status(410));
    std::vector<std::pair<std::string, bool>> frames;
    if (req.header("content-type") == "application/x-ndjson") {
      std::string_view body = req.body;
      while (!body.empty() && frames.size() < max_lines) {
        auto nl = body.find('\n');
        auto line = body.substr(0, nl);
        body = nl == std::string_view::npos ? std::string_view{}
                                            : body.substr(nl + 1);
        if (!line.empty() && line.back() == '\r')
          line.remove_suffix(1);
        if (line.empty())
          continue;
        if (line.front() == '[') {
          frames.emplace_back(std::string{line}, false);
        } else if (auto bin = base64_decode(line)) {  // binary
          frames.emplace_back(std::move(*bin), true);
        } else {
          return respond(lp_status(400));
        }
      }
    } else {
      frames.emplace_back(req.body, false);
    }
    // Over the inbound budget: 408, as Phoenix answers a socket that does
    // not keep up; phoenix.js then reconnects. Nothing of it was taken.
    if (!session->publish(frames))
      return respond(lp_status(408));
    return respond(lp_status(200));
  }
  if (session)
    return session->poll(std::move(respond));
  // No usable token: a new session (410 + token means "open"). Any
  // refusal is {"status":403} (as Phoenix sends): phoenix.js throws on a
  // poll status it does not know. The accept function's own status is for
  // the WebSocket upgrade only.
  auto res = impl_->accept(req);
  if (res.status != 101 || !res.handler)
    return respond(lp_status(403));
  auto s = std::make_shared<lp_session>(impl_->signer.issue(), trimmed(req),
                                        opts.max_buffer, opts.max_inbound);
  s->handler = std::move(res.handler);
  s->handler->on_open(connection_ptr{s});
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->sessions.emplace(s->token(), s);
  }
  respond(lp_json(json::object{
    {"status", 410}, {"token", s->token()}, {"messages", json::array{}}}));
}

}  // namespace fenix::transport::longpoll
