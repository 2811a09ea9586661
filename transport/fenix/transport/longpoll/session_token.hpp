/// Internal to the long-poll transport: session tokens, unguessable and signed by the
/// endpoint that issued them (protocol doc 6.2: Phoenix signs its tokens).
///
///   session_signer signer;            // 32-byte key from RAND_bytes
///   auto t = signer.issue();          // 43 base64url characters
///   signer.verify(t);                 // true; false for a token of another
///                                     // signer, a tampered or a made-up one
///
/// A token is base64url(r || HMAC-SHA256(key, r)[:16]) with r 16 bytes from
/// OpenSSL's CSPRNG: 128 bits nobody can predict from the tokens they saw,
/// and a MAC that only this signer (this endpoint, this process) can make.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace fenix::transport::longpoll {

class session_signer {
public:
  static constexpr std::size_t random_bytes = 16;
  static constexpr std::size_t mac_bytes = 16;
  static constexpr std::size_t token_chars = 43;  // 32 bytes, unpadded

  /// Draws a fresh key; throws std::runtime_error if the CSPRNG fails.
  session_signer();

  /// A new token (throws std::runtime_error if the CSPRNG fails).
  std::string issue() const;

  /// True if `token` was issued by this signer. Constant time in the MAC.
  bool verify(std::string_view token) const;

private:
  std::array<unsigned char, random_bytes> mac(const unsigned char* r) const;
  std::array<unsigned char, 32> key_;
};

}  // namespace fenix::transport::longpoll
