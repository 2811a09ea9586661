// TLS on the listener (transport/tls.hpp): plain and TLS listeners side by
// side, http_request::secure and the real peer behind the socketpair, the
// handshake timeout, in-memory PEM, and the option check. The key pair is
// made at test time with the openssl CLI in a temp dir.

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include "fenix/transport/server.hpp"

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace fenix::transport;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in{p};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A self-signed certificate for 127.0.0.1 (PEM text), made once.
struct key_pair {
  fs::path dir;
  std::string cert, key;
  key_pair() {
    dir = fs::temp_directory_path()
          / ("fenix-tls-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto cmd = "cd '" + dir.string()
               + "' && openssl req -x509 -newkey ec -pkeyopt "
                 "ec_paramgen_curve:prime256v1 -nodes -keyout k.pem -out "
                 "c.pem -days 1 -subj /CN=127.0.0.1 2>/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    cert = slurp(dir / "c.pem");
    key = slurp(dir / "k.pem");
  }
  ~key_pair() { fs::remove_all(dir); }
};

const key_pair& keys() {
  static key_pair kp;
  return kp;
}

server_options tls_opts() {
  server_options o;
  o.port = 0;
  o.tls.cert_chain_pem = keys().cert;
  o.tls.key_pem = keys().key;
  return o;
}

// Who the /who route saw.
http_response who(const http_request& r) {
  return http_response::text(200, (r.secure ? "secure " : "plain ")
                                    + r.peer_address + " "
                                    + std::to_string(r.peer_port));
}

const std::string get_who = "GET /who HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n";

std::string body_of(const std::string& response) {
  auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

std::string plain_get(std::uint16_t port) {
  net::io_context ioc;
  tcp::socket s{ioc};
  s.connect({net::ip::make_address("127.0.0.1"), port});
  net::write(s, net::buffer(get_who));
  std::string out;
  boost::system::error_code ec;
  net::read(s, net::dynamic_buffer(out), ec);
  return out;
}

// A TLS GET; `local_port` gets the client's own port.
std::string tls_get(std::uint16_t port, std::uint16_t& local_port) {
  net::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  ctx.add_certificate_authority(net::buffer(keys().cert));
  ctx.set_verify_mode(ssl::verify_peer);
  ssl::stream<tcp::socket> s{ioc, ctx};
  s.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
  local_port = s.next_layer().local_endpoint().port();
  s.handshake(ssl::stream_base::client);
  net::write(s, net::buffer(get_who));
  std::string out;
  boost::system::error_code ec;
  net::read(s, net::dynamic_buffer(out), ec);
  return out;
}

}  // namespace

TEST_CASE("plain and TLS listeners side by side, and the request knows which",
          "[transport][tls]") {
  auto o = tls_opts();
  o.tls_port = 0;
  server srv{o};
  srv.route("GET", "/who", who);
  srv.start();
  REQUIRE(srv.tls_port() != 0);
  REQUIRE(srv.tls_port() != srv.port());
  CHECK(body_of(plain_get(srv.port())).rfind("plain 127.0.0.1 ", 0) == 0);
  std::uint16_t local = 0;
  auto body = body_of(tls_get(srv.tls_port(), local));
  CHECK(body == "secure 127.0.0.1 " + std::to_string(local));
  CHECK(srv.stats().tls_handshakes == 1);
  srv.stop();
}

TEST_CASE("without tls_port the one listener speaks TLS only",
          "[transport][tls]") {
  server srv{tls_opts()};
  srv.route("GET", "/who", who);
  srv.start();
  CHECK(srv.tls_port() == srv.port());
  auto clear = plain_get(srv.port());  // no HTTP answer in clear
  CHECK(clear.find("HTTP/1.1") == std::string::npos);
  std::uint16_t local = 0;
  CHECK(body_of(tls_get(srv.port(), local)).rfind("secure ", 0) == 0);
  srv.stop();
}

TEST_CASE("a large answer crosses the pump whole, before the TLS close",
          "[transport][tls]") {
  server srv{tls_opts()};
  std::string big(3 << 20, 'x');  // many TLS records, many pump rounds
  for (std::size_t i = 0; i < big.size(); i += 4096)
    big[i] = static_cast<char>('a' + (i / 4096) % 26);
  srv.route("GET", "/who",
            [&](const http_request&) { return http_response::text(200, big); });
  srv.start();
  std::uint16_t local = 0;
  CHECK(body_of(tls_get(srv.port(), local)) == big);
  srv.stop();
}

TEST_CASE("a stalled TLS handshake is closed after handshake_timeout",
          "[transport][tls]") {
  auto o = tls_opts();
  o.tls.handshake_timeout = std::chrono::milliseconds{200};
  server srv{o};
  srv.start();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(srv.port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{5, 0};  // the bound of this test's wait
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto t0 = std::chrono::steady_clock::now();
  char c;
  auto n = ::recv(fd, &c, 1, 0);  // sends nothing: the server closes
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(n <= 0);
  if (n < 0)
    CHECK(errno != EAGAIN);  // not our own timeout
  CHECK(waited < std::chrono::seconds{3});
  CHECK(waited >= std::chrono::milliseconds{150});
  ::close(fd);
  CHECK(srv.stats().tls_handshake_failures == 1);
  srv.stop();
}

TEST_CASE("TLS options that do not load throw one line naming the problem",
          "[transport][tls]") {
  tls_options t;
  t.cert_chain_file = "/nonexistent/cert.pem";
  t.key_file = "/nonexistent/key.pem";
  CHECK_THROWS_WITH(check_tls_options(t),
                    Catch::Contains("/nonexistent/cert.pem"));
  t = {};
  t.cert_chain_pem = keys().cert;
  t.key_pem = keys().cert;  // a certificate is not a key
  CHECK_THROWS_WITH(check_tls_options(t), Catch::Contains("private key"));
  t.key_pem = keys().key;
  CHECK_NOTHROW(check_tls_options(t));
  t.client_certs = client_cert_mode::require;  // without a CA
  CHECK_THROWS_WITH(check_tls_options(t), Catch::Contains("CA"));
  auto o = tls_opts();
  o.tls.key_pem = "garbage";
  server srv{o};
  CHECK_THROWS(srv.start());
}
