/// TLS for the listener (https and wss), OpenSSL through Asio.
///
///   transport::server_options o;
///   o.tls.cert_chain_file = "server.pem";   // leaf first, then intermediates
///   o.tls.key_file = "server.key";
///   o.tls_port = 4443;  // TLS on 4443 next to plain on o.port; unset: the
///                       // listener on o.port speaks TLS only
///
/// TLS 1.2 and 1.3 only. A TLS connection is terminated inside the process:
/// after the handshake (bounded by handshake_timeout) its bytes are pumped
/// through a socketpair into the ordinary HTTP/WebSocket path, which sees
/// http_request::secure set and the real peer address. Cost per TLS
/// connection: 2 more fds (the socketpair), 2 pump buffers of buffer_size,
/// Asio's TLS engine buffers (~34 KiB) and OpenSSL's state, ~97 KiB RSS in
/// all (measured, bench/tls_compare.mjs); OpenSSL's own record buffers are
/// released while a connection is idle.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace fenix::transport {

/// Whether TLS clients are asked for a certificate.
enum class client_cert_mode {
  none,     // not asked (the default)
  request,  // asked; a client without one gets in, a bad one is refused
  require,  // a client without a valid certificate is refused
};

struct tls_options {
  // The certificate chain and private key, PEM: files, or (when a file
  // name is empty) the PEM text itself.
  std::string cert_chain_file;
  std::string key_file;
  std::string cert_chain_pem;
  std::string key_pem;
  // CAs that client certificates are verified against (PEM file or text);
  // needed unless client_certs is none.
  std::string client_ca_file;
  std::string client_ca_pem;
  client_cert_mode client_certs = client_cert_mode::none;
  // A client that has not completed the handshake by then is closed.
  std::chrono::milliseconds handshake_timeout{10'000};
  // close_notify exchange when a connection ends, then the TCP close.
  std::chrono::milliseconds shutdown_timeout{2'000};
  // Per direction, per connection: bytes in flight between the TLS stream
  // and the socketpair (the socketpair's kernel buffers are 4x this).
  std::size_t buffer_size = 16 * 1024;

  /// True when a certificate chain is set.
  bool enabled() const {
    return !cert_chain_file.empty() || !cert_chain_pem.empty();
  }
};

/// Loads the certificate, key and CA as the server would, and throws
/// std::runtime_error with a one-line message naming what is wrong
/// (missing or unreadable file, bad PEM, key not matching the certificate).
void check_tls_options(const tls_options& opts);

}  // namespace fenix::transport
