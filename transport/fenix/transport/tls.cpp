// TLS on the listener: the context (certificate, key, client verification)
// and the terminator, one tls_connection per TCP connection: handshake
// under a timer, then a socketpair to the plain connection path and a pump
// each way (see tls_terminator.hpp).

#include "fenix/transport/tls_terminator.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "fenix/log.hpp"

namespace fenix::transport {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

[[noreturn]] void refuse(const std::string& what, const error_code& ec) {
  throw std::runtime_error("TLS: " + what + ": " + ec.message());
}

void load_chain(ssl::context& ctx, const tls_options& o) {
  error_code ec;
  if (!o.cert_chain_file.empty())
    ctx.use_certificate_chain_file(o.cert_chain_file, ec);
  else
    ctx.use_certificate_chain(net::buffer(o.cert_chain_pem), ec);
  if (ec)
    refuse("cannot load certificate chain "
             + (o.cert_chain_file.empty() ? "(PEM text)" : o.cert_chain_file),
           ec);
  if (!o.key_file.empty())
    ctx.use_private_key_file(o.key_file, ssl::context::pem, ec);
  else if (!o.key_pem.empty())
    ctx.use_private_key(net::buffer(o.key_pem), ssl::context::pem, ec);
  else
    throw std::runtime_error("TLS: a certificate needs a private key");
  if (ec)
    refuse("cannot load private key "
             + (o.key_file.empty() ? "(PEM text)" : o.key_file),
           ec);
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    throw std::runtime_error(
      "TLS: the private key does not match the certificate");
}

// The CA list sent to clients (so they know which certificate to offer).
void set_client_ca_names(ssl::context& ctx, const tls_options& o) {
  if (o.client_ca_file.empty())
    return;
  if (auto* names = SSL_load_client_CA_file(o.client_ca_file.c_str()))
    SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
}

void load_client_verification(ssl::context& ctx, const tls_options& o) {
  if (o.client_certs == client_cert_mode::none)
    return;
  if (o.client_ca_file.empty() && o.client_ca_pem.empty())
    throw std::runtime_error("TLS: client certificates need a CA (client_ca)");
  error_code ec;
  if (!o.client_ca_file.empty())
    ctx.load_verify_file(o.client_ca_file, ec);
  else
    ctx.add_certificate_authority(net::buffer(o.client_ca_pem), ec);
  if (ec)
    refuse("cannot load client CA "
             + (o.client_ca_file.empty() ? "(PEM text)" : o.client_ca_file),
           ec);
  set_client_ca_names(ctx, o);
  auto mode = ssl::verify_peer;
  if (o.client_certs == client_cert_mode::require)
    mode |= ssl::verify_fail_if_no_peer_cert;
  ctx.set_verify_mode(mode);
  static const unsigned char sid[] = "fenix";
  SSL_CTX_set_session_id_context(ctx.native_handle(), sid, sizeof sid - 1);
}

ssl::context make_context(const tls_options& o) {
  ssl::context ctx{ssl::context::tls_server};
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2
                  | ssl::context::no_sslv3 | ssl::context::no_tlsv1
                  | ssl::context::no_tlsv1_1 | ssl::context::no_compression
                  | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  // Idle connections hold no OpenSSL record buffers.
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  load_chain(ctx, o);
  load_client_verification(ctx, o);
  return ctx;
}

std::string subject_of_peer(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert)
    return {};
  std::array<char, 512> buf{};
  X509_NAME_oneline(X509_get_subject_name(cert), buf.data(),
                    static_cast<int>(buf.size()));
  X509_free(cert);
  return buf.data();
}

// A non-blocking AF_UNIX stream pair whose kernel buffers are `buf` bytes.
bool open_socketpair(int fds[2], int buf) {
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds)
      != 0) {
    log::limited(log_level::error, "tls socketpair",
                 "TLS: socketpair failed: ", std::strerror(errno));
    return false;
  }
  for (int i = 0; i < 2; ++i) {
    ::setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    ::setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  }
  return true;
}

// -- one TLS connection ---------------------------------------------------------

class tls_connection : public std::enable_shared_from_this<tls_connection> {
public:
  tls_connection(tcp::socket sock, ssl::context& ctx, const tls_options& o,
                 tls_stats& stats, ws::io_worker& w,
                 std::shared_ptr<ws::shared_state> st)
    : tls_(std::move(sock), ctx),
      inner_(tls_.get_executor()),
      timer_(tls_.get_executor()),
      handshake_timeout_(o.handshake_timeout),
      shutdown_timeout_(o.shutdown_timeout),
      buffer_size_(o.buffer_size),
      stats_(&stats),
      worker_(&w),
      state_(std::move(st)),
      up_(o.buffer_size),
      down_(o.buffer_size) {}

  void start() {
    timer_.expires_after(handshake_timeout_);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && !self->adopted_ && !self->closed_) {
        ++self->stats_->handshake_failures;  // counted once, here
        self->close_all();  // the handshake ends with operation_aborted
      }
    });
    tls_.async_handshake(
      ssl::stream_base::server,
      [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
  }

private:
  void on_handshake(error_code ec) {
    if (closed_)
      return;  // timed out
    if (ec) {
      ++stats_->handshake_failures;
      log::limited(log_level::debug, "tls handshake", "TLS handshake from ",
                   peer_text(), " failed: ", ec.message());
      return close_all();
    }
    timer_.cancel();
    ++stats_->handshakes;
    if (!adopt())
      return close_all();
    pump_up();
    pump_down();
  }

  std::string peer_text() const {
    error_code ec;
    auto ep = tls_.next_layer().remote_endpoint(ec);
    return ec ? std::string{"?"} : ep.address().to_string();
  }

  // The socketpair: our end pumps, the other is served as a connection.
  bool adopt() {
    int fds[2];
    if (!open_socketpair(fds, static_cast<int>(4 * buffer_size_)))
      return false;
    error_code ec;
    auto ep = tls_.next_layer().remote_endpoint(ec);
    tcp::socket outer{tls_.get_executor()};
    if (!ec)
      inner_.assign(net::local::stream_protocol{}, fds[0], ec);
    if (!ec)
      outer.assign(ep.protocol(), fds[1], ec);
    if (ec) {
      if (!inner_.is_open())
        ::close(fds[0]);
      if (!outer.is_open())
        ::close(fds[1]);
      return false;
    }
    adopted_ = true;
    peer_origin origin{ep.address().to_string(), ep.port(), true,
                       subject_of_peer(tls_.native_handle())};
    adopt_connection(std::move(outer), *worker_, state_, std::move(origin));
    return true;
  }

  // TLS client -> connection.
  void pump_up() {
    if (draining_)
      return shutdown_tls();
    up_reading_ = true;
    tls_.async_read_some(
      net::buffer(up_), [self = shared_from_this()](error_code ec, size_t n) {
        self->up_reading_ = false;
        if (ec && self->draining_)
          return self->shutdown_tls();
        if (ec)
          return self->close_all();  // eof, truncation, or a bad record
        net::async_write(self->inner_, net::buffer(self->up_, n),
                         [self](error_code wec, size_t) {
                           if (wec)
                             return self->close_all();
                           self->pump_up();
                         });
      });
  }

  // Connection -> TLS client. The connection's end of file (it closed, or
  // shut down its sending side) comes after all it wrote: close_notify.
  void pump_down() {
    inner_.async_read_some(
      net::buffer(down_), [self = shared_from_this()](error_code ec, size_t n) {
        if (ec)
          return self->drain();
        net::async_write(self->tls_, net::buffer(self->down_, n),
                         [self](error_code wec, size_t) {
                           if (wec)
                             return self->close_all();
                           self->pump_down();
                         });
      });
  }

  // A TLS read may be pending: cancel it, and let pump_up shut down.
  void drain() {
    draining_ = true;
    if (up_reading_) {
      error_code ignored;
      tls_.next_layer().cancel(ignored);
    }
  }

  void shutdown_tls() {
    if (closed_ || shutting_down_)
      return;
    shutting_down_ = true;
    timer_.expires_after(shutdown_timeout_);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec)
        self->close_all();
    });
    tls_.async_shutdown(
      [self = shared_from_this()](error_code) { self->close_all(); });
  }

  void close_all() {
    if (closed_)
      return;
    closed_ = true;
    error_code ignored;
    timer_.cancel();
    inner_.close(ignored);
    tls_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    tls_.next_layer().close(ignored);
  }

  ssl::stream<tcp::socket> tls_;
  net::local::stream_protocol::socket inner_;
  net::steady_timer timer_;
  std::chrono::milliseconds handshake_timeout_;
  std::chrono::milliseconds shutdown_timeout_;
  std::size_t buffer_size_;
  tls_stats* stats_;
  ws::io_worker* worker_;
  std::shared_ptr<ws::shared_state> state_;
  std::vector<char> up_;
  std::vector<char> down_;
  bool adopted_ = false;
  bool up_reading_ = false;
  bool draining_ = false;
  bool shutting_down_ = false;
  bool closed_ = false;
};

}  // namespace

void check_tls_options(const tls_options& opts) {
  (void)make_context(opts);
}

tls_terminator::tls_terminator(const tls_options& opts)
  : opts_(opts),
    ctx_(make_context(opts_)) {}

void tls_terminator::serve(tcp::socket sock, ws::io_worker& w,
                           std::shared_ptr<ws::shared_state> st) {
  std::make_shared<tls_connection>(std::move(sock), ctx_, opts_, stats_, w,
                                   std::move(st))
    ->start();
}

}  // namespace fenix::transport
