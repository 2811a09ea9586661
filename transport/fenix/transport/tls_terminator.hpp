// Internal to the transport (server.cpp, tls.cpp); not part of the API.
// The TLS terminator: a TCP connection accepted on a TLS listener does its
// handshake here; then one end of a socketpair goes to the ordinary
// connection path (adopt_connection, server.cpp) and the bytes are pumped
// between the TLS stream and the other end, one bounded buffer per
// direction, reading a side again only once the write to the other side
// completed (the session's backpressure sees the TLS client's pace).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "fenix/transport/tls.hpp"

namespace fenix::transport::ws {
struct io_worker;
struct shared_state;
}  // namespace fenix::transport::ws

namespace fenix::transport {

/// Who is behind an adopted connection.
struct peer_origin {
  std::string address;
  std::uint16_t port = 0;
  bool secure = false;
  std::string client_subject;  // a verified client certificate's subject
};

/// server.cpp: serves `sock` (TCP, or one end of a socketpair) as an
/// accepted connection from `origin`. On `w`'s thread.
void adopt_connection(boost::asio::ip::tcp::socket sock, ws::io_worker& w,
                      std::shared_ptr<ws::shared_state> st, peer_origin origin);

struct tls_stats {
  std::atomic<std::uint64_t> handshakes{0};          // completed
  std::atomic<std::uint64_t> handshake_failures{0};  // bad, or timed out
};

/// The TLS context of a listener (certificate, key, verification).
class tls_terminator {
public:
  /// Throws std::runtime_error (one line) when the options do not load.
  explicit tls_terminator(const tls_options& opts);

  /// Takes a connection accepted on the TLS listener (on `w`'s thread).
  void serve(boost::asio::ip::tcp::socket sock, ws::io_worker& w,
             std::shared_ptr<ws::shared_state> st);

  tls_stats& stats() { return stats_; }

private:
  tls_options opts_;
  boost::asio::ssl::context ctx_;
  tls_stats stats_;
};

}  // namespace fenix::transport
