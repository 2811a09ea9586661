// The long-poll transport (transport/fenix/transport/longpoll/) bridged to
// socket actors as the endpoint does (detail::make_longpoll), driven through
// its HTTP handler, in process, without sockets: session tokens (random,
// signed, bound to their endpoint), repeated query params, the origin check
// on every request, refusal statuses and the bounds on inbound memory.

#include <catch2/catch.hpp>

#include <malloc.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <set>
#include <thread>

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "fenix/detail/endpoint_context.hpp"
#include "fenix/transport/longpoll/longpoll.hpp"
#include "fenix/transport/longpoll/session_token.hpp"
#include "fenix/fenix.hpp"

using namespace std::chrono_literals;
using fenix::json_object;
namespace json = boost::json;
namespace tr = fenix::transport;
using fenix::transport::longpoll::session_signer;

namespace {

// A channel whose "block" event holds its (only) scheduler thread until
// released, so that the socket actor cannot consume what is posted.
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  bool blocked = false;
  bool released = false;

  void block() {
    std::unique_lock<std::mutex> guard{mtx};
    blocked = true;
    cv.notify_all();
    cv.wait_for(guard, 10s, [&] { return released; });
  }
  bool wait_blocked() {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, 5s, [&] { return blocked; });
  }
  void release() {
    std::lock_guard<std::mutex> guard{mtx};
    released = true;
    cv.notify_all();
  }
};

struct reply_t {
  int http_status = 0;
  json::value body;  // null when the body is not JSON
};

struct lp_server {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<fenix::detail::endpoint_context> ctx;
  std::unique_ptr<tr::longpoll::handler> lp;
  std::shared_ptr<gate> g = std::make_shared<gate>();

  explicit lp_server(fenix::endpoint_options opts = {},
                     std::size_t threads = 2) {
    cfg.set("scheduler.max-threads", threads);
    sys = std::make_unique<caf::actor_system>(cfg);
    opts.longpoll = true;
    opts.longpoll_window = 300ms;
    opts.pubsub_shards = 1;
    opts.check_origin = fenix::origin_check::list;
    opts.allowed_origins = {"//example.com"};
    ctx = fenix::detail::make_endpoint_context(*sys, opts);
    ctx->connect = [](const fenix::connect_info& info) {
      if (info.param("reject") == "429")
        return fenix::connect_result::refuse(429);
      return fenix::connect_result::accept({{"user", info.param("user")}});
    };
    auto gt = g;
    ctx->routes.emplace_back(
      fenix::socket::topic_pattern{"room:*"},
      [gt](fenix::channel*) -> caf::behavior {
        return {
          [](fenix::join_atom, const std::string&, const fenix::payload&) {
            return fenix::join_result::ok(json_object{{"joined", true}});
          },
          [gt](fenix::in_atom, const std::string& event,
               const fenix::payload& p) -> fenix::reply {
            if (event == "block")
              gt->block();
            return fenix::reply::ok(p);
          },
        };
      });
    lp = fenix::detail::make_longpoll(ctx);
  }

  ~lp_server() {
    g->release();
    lp->stop();
    lp.reset();
    ctx->shutdown();
  }

  reply_t call(std::string method, std::string query, std::string body = {},
               tr::header_map headers = {}) {
    tr::http_request req;
    req.method = std::move(method);
    req.path = "/socket/longpoll";
    req.query = std::move(query);
    req.target = req.path + "?" + req.query;
    req.headers = std::move(headers);
    req.headers.emplace("host", "127.0.0.1");
    if (req.method == "POST" && !req.headers.count("content-type"))
      req.headers.emplace("content-type", "application/x-ndjson");
    req.body = std::move(body);
    req.peer_address = "127.0.0.1";
    return call(req);
  }

  reply_t call(const tr::http_request& req) {
    auto done = std::make_shared<std::promise<tr::http_response>>();
    lp->handle(req, [done](tr::http_response r) { done->set_value(r); });
    auto fut = done->get_future();
    REQUIRE(fut.wait_for(5s) == std::future_status::ready);
    auto r = fut.get();
    reply_t out;
    out.http_status = r.status;
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    if (!ec)
      out.body = std::move(v);
    return out;
  }

  std::string open(std::string query = "vsn=2.0.0") {
    auto r = call("GET", std::move(query));
    REQUIRE(r.http_status == 200);
    REQUIRE(r.body.as_object().at("status").as_int64() == 410);
    return std::string{r.body.as_object().at("token").as_string()};
  }

  // Polls until a message matches `pred` (bounded); returns every message.
  std::vector<json::array>
  poll_until(const std::string& token,
             const std::function<bool(const std::vector<json::array>&)>& pred) {
    std::vector<json::array> seen;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = call("GET", "vsn=2.0.0&token=" + token);
      auto st = r.body.as_object().at("status").as_int64();
      REQUIRE((st == 200 || st == 204));
      for (auto& m : r.body.as_object().at("messages").as_array())
        seen.push_back(json::parse(m.as_string()).as_array());
      if (pred(seen))
        return seen;
    }
    FAIL("poll: condition not met");
    return seen;
  }
};

std::int64_t status_of(const reply_t& r) {
  REQUIRE(r.body.is_object());
  return r.body.as_object().at("status").as_int64();
}

bool is_base64url(const std::string& s) {
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
      return false;
  return true;
}

bool has_reply(const std::vector<json::array>& seen, const std::string& ref) {
  for (auto& m : seen)
    if (m.size() == 5 && m[1].is_string() && m[1].as_string() == ref
        && m[3].as_string() == "phx_reply")
      return true;
  return false;
}

}  // namespace

TEST_CASE("session tokens: 128 random bits, signed, one spelling",
          "[transport][longpoll][token]") {
  session_signer a;
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto t = a.issue();
    CHECK(t.size() == session_signer::token_chars);
    CHECK(t.size() >= 22);  // at least 128 bits of base64url
    CHECK(is_base64url(t));
    CHECK(a.verify(t));
    seen.insert(t);
  }
  CHECK(seen.size() == 1000);
  auto t = a.issue();
  // Tampering with any character, or the length, is refused.
  for (std::size_t i = 0; i < t.size(); ++i) {
    auto bad = t;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    CHECK_FALSE(a.verify(bad));
  }
  CHECK_FALSE(a.verify(t.substr(1)));
  CHECK_FALSE(a.verify(t + "A"));
  CHECK_FALSE(a.verify(t + "="));
  CHECK_FALSE(a.verify(""));
  CHECK_FALSE(a.verify(std::string(43, 'A')));
}

TEST_CASE("session tokens: another signer's tokens are refused, and two "
          "signers made alike share nothing",
          "[transport][longpoll][token]") {
  // The "hijack" of the mt19937 days: tokens seen on one endpoint predicted
  // the next. Two signers made back to back, under the same conditions, must
  // produce unrelated tokens that neither accepts from the other.
  session_signer a, b;
  std::set<std::string> from_a;
  for (int i = 0; i < 100; ++i)
    from_a.insert(a.issue());
  for (int i = 0; i < 100; ++i) {
    auto t = b.issue();
    CHECK(from_a.count(t) == 0);
    CHECK_FALSE(a.verify(t));
    CHECK(b.verify(t));
  }
  for (auto& t : from_a)
    CHECK_FALSE(b.verify(t));
  // Same random half, other key: the MAC half differs.
  auto ta = a.issue();
  auto tb = b.issue();
  CHECK(ta.substr(22) != tb.substr(22));
}

TEST_CASE("long poll: a token from another endpoint or tampered is an "
          "unknown session",
          "[transport][longpoll][token]") {
  lp_server s1, s2;
  auto t1 = s1.open();
  auto t2 = s2.open();
  CHECK(t1 != t2);
  CHECK(t1.size() == session_signer::token_chars);
  CHECK(is_base64url(t1));
  auto join = R"(["1","1","room:a","phx_join",{}])";
  CHECK(status_of(s1.call("POST", "vsn=2.0.0&token=" + t1, join)) == 200);
  // s1's token on s2: POST 410; GET opens a brand-new session on s2.
  CHECK(status_of(s2.call("POST", "vsn=2.0.0&token=" + t1, join)) == 410);
  auto g = s2.call("GET", "vsn=2.0.0&token=" + t1);
  CHECK(status_of(g) == 410);
  CHECK(std::string{g.body.as_object().at("token").as_string()} != t1);
  // A tampered token of s1 on s1.
  auto bad = t1;
  bad[5] = bad[5] == 'x' ? 'y' : 'x';
  CHECK(status_of(s1.call("POST", "vsn=2.0.0&token=" + bad, join)) == 410);
  auto g2 = s1.call("GET", "vsn=2.0.0&token=" + bad);
  CHECK(status_of(g2) == 410);
  CHECK(std::string{g2.body.as_object().at("token").as_string()} != t1);
}

TEST_CASE("long poll: the last token in the query is the session",
          "[transport][longpoll][query]") {
  lp_server s;
  // phoenix.js with params {token: JWT}: the JWT first, the session last.
  auto t = s.open("token=JWT&vsn=2.0.0");
  auto q = "token=JWT&vsn=2.0.0&token=" + t;
  CHECK(status_of(s.call("POST", q, R"(["1","1","room:a","phx_join",{}])"))
        == 200);
  auto r = s.call("GET", q);
  CHECK(status_of(r) == 200);  // the join reply, not a new session (410)
}

TEST_CASE("long poll: the origin is checked on every request",
          "[transport][longpoll][origin]") {
  lp_server s;
  auto t = s.open();
  tr::header_map bad{{"origin", "http://evil.com"}};
  tr::header_map good{{"origin", "http://example.com"}};
  auto q = "vsn=2.0.0&token=" + t;
  auto join = R"(["1","1","room:a","phx_join",{}])";
  CHECK(status_of(s.call("POST", q, join, bad)) == 403);
  CHECK(status_of(s.call("GET", q, {}, bad)) == 403);
  CHECK(status_of(s.call("OPTIONS", q, {}, bad)) == 403);
  CHECK(status_of(s.call("GET", "vsn=2.0.0", {}, bad)) == 403);
  CHECK(status_of(s.call("POST", q, join, good)) == 200);
  CHECK(
    has_reply(s.poll_until(t, [](auto& v) { return has_reply(v, "1"); }), "1"));
}

TEST_CASE("long poll: every connect refusal is {\"status\":403}",
          "[transport][longpoll][refusal]") {
  lp_server s;
  auto r = s.call("GET", "vsn=2.0.0&reject=429");
  CHECK(r.http_status == 200);
  CHECK(status_of(r) == 403);  // phoenix.js throws on a poll status of 429
  CHECK(status_of(s.call("GET", "vsn=3.0.0")) == 403);
}

TEST_CASE("long poll: a POST body over longpoll_max_body gets HTTP 413",
          "[transport][longpoll][limits]") {
  fenix::endpoint_options opts;
  CHECK(opts.longpoll_max_body == 1u << 20);  // the documented default
  CHECK(opts.max_inbound_bytes == 16u << 20);
  opts.longpoll_max_body = 1000;
  lp_server s{opts};
  auto t = s.open();
  auto q = "vsn=2.0.0&token=" + t;
  std::string big =
    R"(["1","1","room:a","ping",{"p":")" + std::string(1000, 'x') + R"("}])";
  CHECK(s.call("POST", q, big).http_status == 413);
  CHECK(status_of(s.call("POST", q, R"(["1","1","room:a","phx_join",{}])"))
        == 200);
}

TEST_CASE("long poll: a session does not keep its opening request",
          "[transport][longpoll][limits]") {
#if !defined(__SANITIZE_ADDRESS__)  // ASan keeps its own heap accounts
  lp_server s;
  tr::http_request req;
  req.method = "GET";
  req.path = "/socket/longpoll";
  req.query = "vsn=2.0.0";
  req.headers.emplace("host", "127.0.0.1");
  req.body.assign(2'000'000, 'x');  // a GET with a body, as an attacker sends
  auto in_use = [] {
    auto mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
  };
  auto before = in_use();
  for (int i = 0; i < 20; ++i)
    REQUIRE(status_of(s.call(req)) == 410);
  auto after = in_use();
  // 20 sessions keeping the body would hold 40 MB.
  CHECK(after < before + 4'000'000);
#endif
}

TEST_CASE("long poll: frames posted but not consumed are bounded per "
          "session; over the budget the POST is refused whole with 408",
          "[transport][longpoll][limits]") {
  fenix::endpoint_options opts;
  opts.max_inbound_bytes = 10'000;
  lp_server s{opts, 1};  // one scheduler thread: the gate stops the socket
  auto t = s.open();
  auto q = "vsn=2.0.0&token=" + t;
  auto frame = [](int ref) {
    return R"(["1",")" + std::to_string(ref) + R"(","room:a","ping",{"p":")"
           + std::string(4000, 'x') + R"("}])";
  };
  CHECK(status_of(s.call("POST", q,
                         std::string{R"(["1","1","room:a","phx_join",{}])"}
                           + "\n" + R"(["1","2","room:a","block",{}])"))
        == 200);
  REQUIRE(s.g->wait_blocked());
  CHECK(status_of(s.call("POST", q, frame(3))) == 200);  // 4 KB pending
  CHECK(status_of(s.call("POST", q, frame(4))) == 200);  // 8 KB pending
  CHECK(status_of(s.call("POST", q, frame(5) + "\n" + frame(6))) == 408);
  CHECK(status_of(s.call("POST", q, frame(7))) == 408);  // 12 KB > 10 KB
  s.g->release();
  // Once the socket has caught up, POSTs are taken again.
  int ref = 8;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (status_of(s.call("POST", q, frame(ref))) != 200) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(10ms);  // polling interval, not a sync point
  }
  auto seen =
    s.poll_until(t, [&](auto& v) { return has_reply(v, std::to_string(ref)); });
  // Every accepted frame was handled; none of the refused ones.
  for (auto r : {"1", "2", "3", "4"})
    CHECK(has_reply(seen, r));
  for (auto r : {"5", "6", "7"})
    CHECK_FALSE(has_reply(seen, r));
}
