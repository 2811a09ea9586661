#include "fenix/transport/longpoll/session_token.hpp"

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "fenix/transport/http.hpp"

namespace fenix::transport::longpoll {

namespace {

std::string base64url(const unsigned char* p, std::size_t n) {
  return base64url_encode({reinterpret_cast<const char*>(p), n});
}

void random_fill(unsigned char* p, std::size_t n) {
  if (RAND_bytes(p, static_cast<int>(n)) != 1)
    throw std::runtime_error("fenix: RAND_bytes failed");
}

}  // namespace

session_signer::session_signer() {
  random_fill(key_.data(), key_.size());
}

std::array<unsigned char, session_signer::mac_bytes>
session_signer::mac(const unsigned char* r) const {
  unsigned char full[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), r,
           random_bytes, full, &len)
        == nullptr
      || len < mac_bytes)
    throw std::runtime_error("fenix: HMAC-SHA256 failed");
  std::array<unsigned char, mac_bytes> out;
  std::copy(full, full + mac_bytes, out.begin());
  OPENSSL_cleanse(full, sizeof(full));
  return out;
}

std::string session_signer::issue() const {
  unsigned char raw[random_bytes + mac_bytes];
  random_fill(raw, random_bytes);
  auto m = mac(raw);
  std::copy(m.begin(), m.end(), raw + random_bytes);
  return base64url(raw, sizeof(raw));
}

bool session_signer::verify(std::string_view token) const {
  if (token.size() != token_chars)
    return false;
  for (char c : token)
    if (c == '=' || c == '+' || c == '/')
      return false;  // only the canonical (unpadded base64url) spelling
  auto raw = transport::base64_decode(token);
  if (!raw || raw->size() != random_bytes + mac_bytes)
    return false;
  auto* p = reinterpret_cast<const unsigned char*>(raw->data());
  // 43 characters carry 258 bits: the last one must leave its low 2 bits 0,
  // so that every token has exactly one accepted spelling.
  if (base64url(p, raw->size()) != token)
    return false;
  auto m = mac(p);
  return CRYPTO_memcmp(m.data(), p + random_bytes, mac_bytes) == 0;
}

}  // namespace fenix::transport::longpoll
