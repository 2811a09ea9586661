// Tests of the C++ client (fenix/client.hpp) without a fenix server:
// connections to a scripted peer on 127.0.0.1 (plain POSIX
// sockets, so that this TU needs no Beast) that checks the exact bytes the
// client sends and feeds it exact frames.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>

#include <boost/uuid/detail/sha1.hpp>

#include "fenix/client.hpp"
#include "tests/support/bytes.hpp"

using namespace fenix;
using namespace fenix::client;
using namespace fenix::protocol;
using namespace std::chrono_literals;
using fenix::test::bytes;

namespace {

const serializer& v2() {
  return serializer_for(protocol_version::v2);
}

// -- a scripted WebSocket peer over POSIX sockets -----------------------------

std::string base64(const unsigned char* p, std::size_t n) {
  static constexpr char abc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < n; i += 3) {
    unsigned v =
      p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    for (std::size_t k = 0; k < 4; ++k)
      out.push_back(i + k <= n ? abc[(v >> (18 - 6 * k)) & 63] : '=');
  }
  return out;
}

std::string accept_key(const std::string& key) {
  boost::uuids::detail::sha1 h;
  auto s = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  h.process_bytes(s.data(), s.size());
  unsigned int words[5];
  h.get_digest(words);
  unsigned char digest[20];
  for (int i = 0; i < 20; ++i)
    digest[i] = static_cast<unsigned char>(words[i / 4] >> (24 - 8 * (i % 4)));
  return base64(digest, 20);
}

// Waits up to 2 s for `fd`; throws instead of hanging a test.
void await(int fd, short events) {
  pollfd p{fd, events, 0};
  if (::poll(&p, 1, 2000) != 1)
    throw std::runtime_error("peer: timed out");
}

struct socket_fd {
  int fd = -1;
  explicit socket_fd(int f = -1) : fd(f) {}
  socket_fd(socket_fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  socket_fd& operator=(socket_fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~socket_fd() {
    if (fd >= 0)
      ::close(fd);
  }
};

struct listener {
  socket_fd sock{::socket(AF_INET, SOCK_STREAM, 0)};
  std::uint16_t port = 0;

  listener() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto* sa = reinterpret_cast<sockaddr*>(&a);
    socklen_t len = sizeof a;
    REQUIRE(::bind(sock.fd, sa, len) == 0);
    REQUIRE(::listen(sock.fd, 16) == 0);
    REQUIRE(::getsockname(sock.fd, sa, &len) == 0);
    port = ntohs(a.sin_port);
  }
};

struct peer {
  socket_fd sock;
  std::string request;

  explicit peer(listener& l) {
    await(l.sock.fd, POLLIN);
    sock = socket_fd{::accept(l.sock.fd, nullptr, nullptr)};
    while (request.find("\r\n\r\n") == std::string::npos)
      request += read_some();
  }

  std::string read_some() {
    await(sock.fd, POLLIN);
    char buf[4096];
    auto n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n <= 0)
      throw std::runtime_error("peer: connection closed");
    return std::string(buf, static_cast<std::size_t>(n));
  }

  std::string read_n(std::size_t n) {
    std::string out;
    while (out.size() < n) {
      await(sock.fd, POLLIN);
      char buf[4096];
      auto got = ::recv(sock.fd, buf, std::min(n - out.size(), sizeof buf), 0);
      if (got <= 0)
        throw std::runtime_error("peer: connection closed");
      out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
  }

  void send(std::string_view data) {
    REQUIRE(::send(sock.fd, data.data(), data.size(), MSG_NOSIGNAL)
            == static_cast<ssize_t>(data.size()));
  }

  std::string header(const std::string& name) const {
    auto i = request.find("\r\n" + name + ": ");
    if (i == std::string::npos)
      return {};
    i += name.size() + 4;
    return request.substr(i, request.find("\r\n", i) - i);
  }

  void upgrade(const std::string& protocol = {}) {
    std::string res = "HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: "
                      + accept_key(header("Sec-WebSocket-Key")) + "\r\n";
    if (!protocol.empty())
      res += "Sec-WebSocket-Protocol: " + protocol + "\r\n";
    send(res + "\r\n");
  }

  // A server frame (unmasked).
  void send_frame(int opcode, std::string_view payload, bool fin = true) {
    std::string f(1, static_cast<char>((fin ? 0x80 : 0) | opcode));
    auto n = payload.size();
    if (n < 126) {
      f.push_back(static_cast<char>(n));
    } else {
      REQUIRE(n < 65536);
      f += bytes({126, static_cast<int>(n >> 8), static_cast<int>(n & 255)});
    }
    send(f.append(payload));
  }

  // Closes as a server does: close frame, the client's echo, then TCP.
  void close_with(std::string_view close_payload) {
    send_frame(8, close_payload);
    CHECK(read_frame().opcode == 8);
    sock = socket_fd{};
  }

  struct ws_frame {
    int opcode;
    bool masked;
    std::string payload;
  };

  // A client frame, unmasked.
  ws_frame read_frame() {
    auto h = read_n(2);
    ws_frame f{h[0] & 0x0f, (h[1] & 0x80) != 0, {}};
    std::uint64_t len = h[1] & 0x7f;
    if (len >= 126) {
      auto ext = read_n(len == 126 ? 2 : 8);
      len = 0;
      for (char c : ext)
        len = len << 8 | static_cast<unsigned char>(c);
    }
    auto mask = f.masked ? read_n(4) : std::string(4, '\0');
    f.payload = read_n(len);
    for (std::size_t i = 0; i < f.payload.size(); ++i)
      f.payload[i] ^= mask[i % 4];
    return f;
  }
};

client_options local(std::uint16_t port) {
  client_options o;
  o.port = port;
  return o;
}

// Connects a client to a peer that upgrades it.
struct session {
  client_context ctx;
  listener l;
  std::optional<peer> p;
  std::unique_ptr<ws_client> client;

  explicit session(const std::string& protocol = {},
                   client_options o = client_options{}) {
    o.port = l.port;
    std::thread t([&] {
      p.emplace(l);
      p->upgrade(protocol);
    });
    auto r = connect(ctx, o);
    t.join();
    REQUIRE(r.client);
    CHECK(r.http_status == 101);
    client = std::move(r.client);
  }
};

std::string close_payload(int code, std::string_view reason = {}) {
  return bytes({code >> 8, code & 255}, reason);
}

}  // namespace

// -- wire helpers -------------------------------------------------------------

TEST_CASE("client_context runs with one or more threads",
          "[transport][client]") {
  { client_context one; }
  { client_context two{2}; }
}

TEST_CASE("upgrade request and refusals", "[transport][client]") {
  client_context ctx;
  listener l;
  auto o = local(l.port);
  o.query = "vsn=2.0.0&token=abc";
  o.headers = {{"Origin", "http://example.com"},
               {"x-foo", "bar"},
               {"User-Agent", "fenix-test"}};
  o.subprotocols = {"phoenix", "base64url.bearer.phx.YWJj"};
  std::string request;
  std::thread t([&] {
    peer p{l};
    request = p.request;
    p.send("HTTP/1.1 429 Too Many Requests\r\nContent-Length: 9\r\n\r\n"
           "slow down");
  });
  auto r = connect(ctx, o);
  t.join();
  CHECK_FALSE(r.client);
  CHECK(r.http_status == 429);
  CHECK(r.body == "slow down");
  CHECK_FALSE(r.error.empty());
  CHECK(
    request.rfind("GET /socket/websocket?vsn=2.0.0&token=abc HTTP/1.1\r\n", 0)
    == 0);
  CHECK(request.find("\r\nHost: 127.0.0.1:" + std::to_string(l.port) + "\r\n")
        != std::string::npos);
  CHECK(request.find("\r\nOrigin: http://example.com\r\n")
        != std::string::npos);
  CHECK(request.find("\r\nx-foo: bar\r\n") != std::string::npos);
  CHECK(request.find("\r\nUser-Agent: fenix-test\r\n") != std::string::npos);
  CHECK(request.find("Boost.Beast") == std::string::npos);
  CHECK(request.find("\r\nSec-WebSocket-Protocol: phoenix, "
                     "base64url.bearer.phx.YWJj\r\n")
        != std::string::npos);

  std::thread t2([&] {
    peer p{l};
    p.send("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
  });
  r = connect(ctx, local(l.port));
  t2.join();
  CHECK(r.http_status == 403);
  CHECK(r.body.empty());
}

TEST_CASE("connect failures without an HTTP answer", "[transport][client]") {
  client_context ctx;
  SECTION("nothing listens") {
    std::uint16_t port = 0;
    {
      listener l;
      port = l.port;
    }
    auto r = connect(ctx, local(port));
    CHECK_FALSE(r.client);
    CHECK(r.http_status == 0);
    CHECK_FALSE(r.error.empty());
  }
  SECTION("the server never answers the upgrade") {
    listener l;  // the kernel completes the TCP handshake, nobody reads
    auto o = local(l.port);
    o.connect_timeout = 200ms;
    auto t0 = std::chrono::steady_clock::now();
    auto r = connect(ctx, o);
    auto dt = std::chrono::steady_clock::now() - t0;
    CHECK_FALSE(r.client);
    CHECK(r.http_status == 0);
    CHECK(dt >= 150ms);
    CHECK(dt < 2s);
  }
}

// -- a scripted session -------------------------------------------------------

TEST_CASE("client frames on the wire", "[transport][client]") {
  session s{"phoenix"};
  auto& c = *s.client;
  auto& p = *s.p;
  CHECK(c.subprotocol() == "phoenix");
  auto expect_text = [&](const std::string& text) {
    auto f = p.read_frame();
    CHECK(f.opcode == 1);
    CHECK(f.masked);
    CHECK(f.payload == text);
  };
  CHECK(c.join("room:lobby") == "1");
  expect_text(R"(["1","1","room:lobby","phx_join",{}])");
  CHECK(c.join_ref("room:lobby") == opt_string{"1"});
  c.push("room:lobby", "new_msg", json::object{{"body", "hi"}});
  expect_text(R"(["1","2","room:lobby","new_msg",{"body":"hi"}])");
  CHECK(c.push_binary("room:lobby", "bin", bytes({0, 1})) == "3");
  auto b = p.read_frame();
  CHECK(b.opcode == 2);
  CHECK(b.payload
        == encode_client_binary("1", "3", "room:lobby", "bin", bytes({0, 1})));
  c.heartbeat();
  expect_text(R"([null,"4","phoenix","heartbeat",{}])");
  c.leave("room:lobby");
  expect_text(R"(["1","5","room:lobby","phx_leave",{}])");
  c.push("room:lobby", "late");
  expect_text(R"([null,"6","room:lobby","late",{}])");
  CHECK(c.make_ref() == "7");
  c.send_raw_text("not json");
  expect_text("not json");
  c.send_raw_binary(bytes({7}));
  CHECK(p.read_frame().payload == bytes({7}));
  std::string big(70000, 'x');  // one frame, 64-bit length
  c.send_text(big);
  auto f = p.read_frame();
  CHECK(f.opcode == 1);
  CHECK(f.payload == big);
  c.close(4000, "bye");
  auto cl = p.read_frame();
  CHECK(cl.opcode == 8);
  CHECK(cl.payload == close_payload(4000, "bye"));
  p.send_frame(8, close_payload(4000));
  p.sock = socket_fd{};
  CHECK(c.closed_code(2s) == 4000);
  CHECK_FALSE(c.is_open());
}

TEST_CASE("client receives, queues and waits", "[transport][client]") {
  session s;
  auto& c = *s.client;
  auto& p = *s.p;
  CHECK_FALSE(c.next(10ms));
  p.send_frame(1, R"([null,null,"t","first",{}])");
  p.send_frame(
    2, *v2()
          .encode_push(opt_string{"1"}, "t", "bpush", payload::binary("b"))
          .data);
  p.send_frame(1, R"(["1","9","t","phx_reply",{"status":"ok","response":{}}])");
  p.send_frame(2, *v2()
                     .encode_reply(opt_string{"1"}, opt_string{"10"}, "t",
                                   reply_status::ok, payload::binary("r"))
                     .data);
  p.send_frame(1, R"([null,null,"t",)", false);  // fragmented message
  p.send_frame(0, R"("last",{}])");
  p.send_frame(9, "ping!");  // answered by a pong, not queued
  auto pong = p.read_frame();
  CHECK(pong.opcode == 10);
  CHECK(pong.payload == "ping!");

  auto binary_reply = c.wait_reply("10");
  REQUIRE(binary_reply);
  CHECK(binary_reply->payload.bytes() == "r");
  CHECK(status_of(*binary_reply) == "ok");
  auto reply = c.wait_reply("9");
  REQUIRE(reply);
  CHECK(reply->join_ref == opt_string{"1"});
  CHECK(c.queued() == 3);
  CHECK(c.next()->event == "first");
  auto bp = c.next();
  REQUIRE(bp);
  CHECK(bp->event == "bpush");
  CHECK(bp->payload.is_binary());
  CHECK(c.next()->event == "last");
  CHECK_FALSE(c.wait_reply("11", 20ms));

  p.send_frame(1, "garbage");
  p.send_frame(1, R"([null,null,"t","after",{}])");
  CHECK_THROWS_AS(c.next(), std::runtime_error);
  CHECK(c.next()->event == "after");
  p.send_frame(1, "raw");
  auto raw = c.next_frame();
  REQUIRE(raw);
  CHECK(raw->data == "raw");
  CHECK_FALSE(raw->binary);

  p.close_with(close_payload(1001));
  CHECK(c.closed_code(2s) == 1001);
  CHECK_FALSE(c.next(10ms));
}

TEST_CASE("client close codes", "[transport][client]") {
  SECTION("close frame without a code: 1005") {
    session s;
    s.p->close_with("");
    CHECK(s.client->closed_code(2s) == 1005);
  }
  SECTION("TCP drop: 1006, on_close set late still fires") {
    session s;
    CHECK_FALSE(s.client->closed_code(10ms));
    s.p->sock = socket_fd{};
    CHECK(s.client->closed_code(2s) == 1006);
    std::promise<int> code;
    s.client->on_close([&](int c) { code.set_value(c); });
    CHECK(code.get_future().get() == 1006);
  }
  SECTION("abort") {
    session s;
    s.client->abort();
    CHECK(s.client->closed_code(2s) == 1006);
    s.client->send_text("dropped after the end");
  }
}

TEST_CASE("client callbacks replace the queue", "[transport][client]") {
  session s;
  std::promise<std::string> first;
  std::promise<int> closed;
  s.client->on_frame([&, n = 0](std::string_view data, bool binary) mutable {
    if (n++ == 0)
      first.set_value(std::string{data} + (binary ? "/b" : "/t"));
  });
  s.client->on_close([&](int code) { closed.set_value(code); });
  s.p->send_frame(2, "xyz");
  s.p->close_with(close_payload(1012));
  CHECK(first.get_future().get() == "xyz/b");
  CHECK(closed.get_future().get() == 1012);
  CHECK(s.client->queued() == 0);
}

TEST_CASE("no callback runs after the destructor returns",
          "[transport][client]") {
  session s;
  std::atomic<bool> destroyed{false};
  std::atomic<bool> late_call{false};
  std::promise<void> flowing;
  s.client->on_frame([&, n = 0](std::string_view, bool) mutable {
    if (destroyed)
      late_call = true;
    if (++n == 10)
      flowing.set_value();
  });
  std::string frame = bytes({0x81, 2}, "hi");
  std::thread feeder([fd = s.p->sock.fd, frame] {
    while (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) > 0) {
    }
  });
  flowing.get_future().wait();
  s.client.reset();
  destroyed = true;
  ::shutdown(s.p->sock.fd, SHUT_RDWR);  // ends the feeder if still sending
  feeder.join();
  CHECK_FALSE(late_call);
}
