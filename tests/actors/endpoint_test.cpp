// The endpoint end to end on 127.0.0.1 port 0, driven by our C++ client:
// upgrade checks, routing, broadcasts, bad input, limits, slow readers,
// ordering, and no actor outliving its connection.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <caf/all.hpp>

#include "fenix/fenix.hpp"
#include "fenix/client.hpp"

using namespace std::chrono_literals;
using fenix::json_object;
using fenix::message;
namespace json = boost::json;
namespace tr = fenix::transport;
namespace cl = fenix::client;

namespace {

caf::behavior room(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload&) {
      return fenix::join_result::ok(json_object{{"joined", true}});
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      if (event == "shout") {
        self->broadcast("shout", p);
        return fenix::reply::none();
      }
      if (event == "crash")
        throw std::runtime_error("boom");
      return fenix::reply::ok(p);
    },
  };
}

struct server {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<fenix::endpoint> ep;
  cl::client_context ctx;

  explicit server(fenix::endpoint_options opts = {}) {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    opts.port = 0;
    opts.check_origin = fenix::origin_check::list;
    opts.allowed_origins = {"//example.com"};
    ep = std::make_unique<fenix::endpoint>(*sys, opts);
    ep->on_connect([](const fenix::connect_info& info) {
      if (info.param("reject") == "429")
        return fenix::connect_result::refuse(429);
      if (info.param("reject") == "1")
        return fenix::connect_result::refuse();
      return fenix::connect_result::accept(
        {{"user", info.param("user")}},
        info.param("id").empty() ? "" : "users_socket:" + info.param("id"));
    });
    ep->channel("room:*", room);
    ep->start();
  }

  ~server() {
    ep->stop();
    ep.reset();
  }

  cl::client_options opts(std::string query = "vsn=2.0.0") {
    cl::client_options o;
    o.port = ep->port();
    o.query = std::move(query);
    return o;
  }

  std::unique_ptr<cl::ws_client> connect(std::string query = "vsn=2.0.0") {
    auto r = cl::connect(ctx, opts(std::move(query)));
    REQUIRE(r.client);
    return std::move(r.client);
  }

  // Waits (bounded) until `pred` holds.
  template <class Pred>
  bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred())
        return true;
      std::this_thread::yield();
      std::this_thread::sleep_for(5ms);  // polling interval, not a sync point
    }
    return pred();
  }
};

std::string status(const std::optional<message>& m) {
  return m ? cl::status_of(*m) : std::string{"<none>"};
}

// A raw TCP client that upgrades, joins, then never reads again.
int stalled_client(std::uint16_t port, const std::string& topic) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  std::string req = "GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\n"
                    "Host: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n";
  REQUIRE(::write(fd, req.data(), req.size()) == (ssize_t)req.size());
  std::string resp;
  char buf[512];
  while (resp.find("\r\n\r\n") == std::string::npos) {
    auto n = ::read(fd, buf, sizeof(buf));
    REQUIRE(n > 0);
    resp.append(buf, static_cast<std::size_t>(n));
  }
  REQUIRE(resp.find(" 101 ") != std::string::npos);
  std::string text = R"(["1","1",")" + topic + R"(","phx_join",{}])";
  std::string frame;
  frame.push_back(static_cast<char>(0x81));
  frame.push_back(static_cast<char>(0x80 | text.size()));
  frame.append(4, '\0');  // zero mask: payload goes as is
  frame += text;
  REQUIRE(::write(fd, frame.data(), frame.size()) == (ssize_t)frame.size());
  return fd;
}

}  // namespace

TEST_CASE("join, push, reply and heartbeat over the network",
          "[actors][endpoint]") {
  server s;
  auto c = s.connect();
  auto j = c->wait_reply(c->join("room:lobby"), 2s);
  REQUIRE(status(j) == "ok");
  CHECK(j->payload.json()
        == json::value(json_object{
          {"status", "ok"}, {"response", json_object{{"joined", true}}}}));
  auto r = c->wait_reply(c->push("room:lobby", "ping", json_object{{"n", 1}}));
  CHECK(status(r) == "ok");
  auto h = c->wait_reply(c->heartbeat());
  CHECK(status(h) == "ok");
  CHECK(h->topic == "phoenix");
}

TEST_CASE("upgrade refusals: origin, vsn, connect callback, not an upgrade",
          "[actors][endpoint]") {
  server s;
  auto o = s.opts();
  o.headers = {{"Origin", "http://notallowed.com"}};
  CHECK(cl::connect(s.ctx, o).http_status == 403);
  o.headers = {{"Origin", "https://example.com"}};
  CHECK(cl::connect(s.ctx, o).http_status == 101);
  for (auto vsn : {"vsn=3.0.0", "vsn=123.1.1", "vsn=garbage", "vsn=2.1.0"})
    CHECK(cl::connect(s.ctx, s.opts(vsn)).http_status == 403);
  CHECK(cl::connect(s.ctx, s.opts("vsn=2.0.0&reject=1")).http_status == 403);
  CHECK(cl::connect(s.ctx, s.opts("vsn=2.0.0&reject=429")).http_status == 429);
  CHECK(cl::connect(s.ctx, s.opts("")).http_status == 101);  // V1
}

TEST_CASE("V1 clients get object frames without join_ref",
          "[actors][endpoint]") {
  server s;
  auto c = s.connect("vsn=1.0.0");
  c->send_text(
    R"({"topic":"room:a","event":"phx_join","payload":{},"ref":"1"})");
  auto f = c->next_frame(2s);
  REQUIRE(f);
  auto v = json::parse(f->data).as_object();
  CHECK(v.at("event") == "phx_reply");
  CHECK(v.at("ref") == "1");
  CHECK(!v.contains("join_ref"));
  CHECK(v.at("payload").at("status") == "ok");
}

TEST_CASE("broadcast reaches every subscriber in publish order",
          "[actors][endpoint][pubsub]") {
  server s;
  auto a = s.connect();
  auto b = s.connect();
  REQUIRE(status(a->wait_reply(a->join("room:o"))) == "ok");
  REQUIRE(status(b->wait_reply(b->join("room:o"))) == "ok");
  constexpr int n = 10'000;
  for (int i = 0; i < n; ++i)
    s.ep->broadcast("room:o", "seq", json_object{{"i", i}});
  for (auto* c : {a.get(), b.get()}) {
    for (int i = 0; i < n; ++i) {
      auto m =
        c->wait_for([](const message& m) { return m.event == "seq"; }, 5s);
      REQUIRE(m);
      REQUIRE(m->payload.object().at("i").as_int64() == i);
      REQUIRE(!m->join_ref);
    }
  }
  // Encoded once per broadcast, not once per subscriber.
  CHECK(s.ep->pubsub().stats().encodes.load() <= n + 10);
}

TEST_CASE("bad frames close only that connection", "[actors][endpoint]") {
  server s;
  auto good = s.connect();
  REQUIRE(status(good->wait_reply(good->join("room:g"))) == "ok");
  SECTION("not JSON") {
    auto c = s.connect();
    c->send_text("not json");
    CHECK(c->closed_code(2s) == 1007);
  }
  SECTION("invalid UTF-8") {
    auto c = s.connect();
    c->send_text(std::string("[\"\xff\xfe\"]"));
    CHECK(c->closed_code(2s) == 1007);
  }
  SECTION("unknown binary kind") {
    auto c = s.connect();
    c->send_binary(std::string("\x07\x00\x00\x00\x00", 5));
    CHECK(c->closed_code(2s) == 1007);
  }
  SECTION("frame over max_frame_size") {
    auto c = s.connect();
    c->send_text(std::string(10'000'001, 'x'));
    CHECK(c->closed_code(5s) == 1009);
  }
  CHECK(status(good->wait_reply(good->push("room:g", "ping"))) == "ok");
}

TEST_CASE("idle connections are closed with 1001", "[actors][endpoint]") {
  fenix::endpoint_options o;
  o.idle_timeout = 200ms;
  server s{o};
  auto c = s.connect();
  CHECK(c->closed_code(2s) == 1001);
}

TEST_CASE("socket id disconnect closes every socket of that id",
          "[actors][endpoint]") {
  server s;
  auto a = s.connect("vsn=2.0.0&id=7");
  auto b = s.connect("vsn=2.0.0&id=7");
  auto other = s.connect("vsn=2.0.0&id=8");
  REQUIRE(status(a->wait_reply(a->heartbeat())) == "ok");
  REQUIRE(status(b->wait_reply(b->heartbeat())) == "ok");
  s.ep->broadcast("users_socket:7", "disconnect", json_object{});
  CHECK(a->closed_code(2s) == 1001);
  CHECK(b->closed_code(2s) == 1001);
  CHECK(status(other->wait_reply(other->heartbeat())) == "ok");
}

TEST_CASE("no actor outlives its connection", "[actors][endpoint]") {
  server s;
  auto baseline = s.sys->registry().running();
  for (int i = 0; i < 100; ++i) {
    auto c = s.connect();
    REQUIRE(status(c->wait_reply(c->join("room:x"))) == "ok");
    c->push("room:y", "phx_join", json_object{});
    if (i % 3 == 0)
      c->push("room:x", "crash", json_object{});
    c->abort();
  }
  CHECK(s.eventually([&] { return s.sys->registry().running() == baseline; }));
  CHECK(s.eventually([&] { return s.ep->stats().channels == 0; }));
}

TEST_CASE("a reader that stops reading is cut off, others get everything",
          "[actors][endpoint][backpressure]") {
  fenix::endpoint_options o;
  o.max_backpressure = 256 * 1024;
  server s{o};
  int fd = stalled_client(s.ep->port(), "room:flood");
  std::vector<std::unique_ptr<cl::ws_client>> readers;
  for (int i = 0; i < 5; ++i) {
    readers.push_back(s.connect());
    auto& c = readers.back();
    REQUIRE(status(c->wait_reply(c->join("room:flood"))) == "ok");
  }
  // 8 MB in batches of 100 KB: healthy readers keep up with each batch
  // (their queues stay under the bound), the stalled one falls behind
  // (the kernel buffers fill, then its queue passes the bound).
  std::string body(1000, 'x');
  constexpr int n = 8000;
  constexpr int batch = 100;
  for (int i = 0; i < n; i += batch) {
    for (int k = i; k < i + batch; ++k)
      s.ep->broadcast("room:flood", "m", json_object{{"i", k}, {"b", body}});
    for (auto& c : readers)
      for (int k = i; k < i + batch; ++k) {
        auto m =
          c->wait_for([](const message& m) { return m.event == "m"; }, 5s);
        REQUIRE(m);
        REQUIRE(m->payload.object().at("i").as_int64() == k);
      }
  }
  CHECK(s.eventually([&] { return s.ep->stats().slow_closes == 1; }));
  ::close(fd);
}
