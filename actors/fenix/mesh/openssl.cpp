// Internal: a workaround for CAF 0.17.6's libcaf_openssl, linked into every
// program that uses fenix::cluster.
//
// The bug: OpenSSL keeps a per-thread error queue, and SSL_get_error()
// only reports correctly if that queue was empty before the I/O call (see
// SSL_get_error(3)). libcaf_openssl drains the queue only inside its log
// statements, which Debian's build compiles out (CAF_LOG_LEVEL_QUIET). So
// after one failed handshake (a node with a certificate from another CA, a
// plaintext client, a port scanner) the next SSL_read/SSL_write of a
// healthy connection on the same multiplexer thread sees the stale error
// and CAF closes that connection: any stranger could keep tearing down the
// links between nodes. CAF fixed this in 0.19 (libcaf_net, commit 2815cf255
// "Fix error handling in OpenSSL wrapper": ERR_clear_error() before every
// call).
//
// The workaround does the same from the outside: this executable defines
// SSL_read, SSL_write, SSL_connect and SSL_accept, so the dynamic linker
// binds libcaf_openssl's calls to them; each clears the calling thread's
// error queue and calls libssl's function (dlsym RTLD_NEXT). Clearing the
// queue before an SSL I/O call is what OpenSSL asks every caller to do, so
// other users of libssl in the process (e.g. Asio) are unaffected.

#include <dlfcn.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace fenix::mesh {

/// Referenced by cluster.cpp so that this file is linked in.
void openssl_error_queue_fix() {
  // nop: the definitions below do the work
}

}  // namespace fenix::mesh

namespace {

template <class F>
F next_symbol(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  using fn = int (*)(SSL*, void*, int);
  static const fn real = next_symbol<fn>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  using fn = int (*)(SSL*, const void*, int);
  static const fn real = next_symbol<fn>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_connect(SSL* ssl) {
  using fn = int (*)(SSL*);
  static const fn real = next_symbol<fn>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

int SSL_accept(SSL* ssl) {
  using fn = int (*)(SSL*);
  static const fn real = next_symbol<fn>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

}  // extern "C"
