/// Session tokens for the bundled apps: HS256 JSON Web Tokens (RFC 7519).
///
/// `POST /api/session` mints a token with `sign_token`; the socket's connect
/// callback checks it with `verify_token` and uses the returned username as
/// the socket's identity. Any backend with a JWT library can mint the same
/// tokens from the shared secret.
///
///   auto secret = fenix::apps::random_secret();      // or --secret
///   auto now = std::chrono::system_clock::now();
///   if (!fenix::apps::valid_username(name))
///     return bad_request("invalid username");
///   auto token = fenix::apps::sign_token(name, secret, now);
///   // later, on connect:
///   if (auto user = fenix::apps::verify_token(token, secret, now))
///     accept(*user);   // else: HTTP 403
///
/// Tokens are `base64url(header).base64url(claims).base64url(signature)`
/// without padding; header `{"alg":"HS256","typ":"JWT"}`, claims
/// `{"sub":USER,"iat":SECONDS,"exp":SECONDS}`.
///
/// `verify_token` never throws and refuses (returns nullopt): any algorithm
/// but HS256 (including "none"), a missing or wrong signature, malformed
/// base64url or JSON, a missing or non-string `sub` (or one that is not a
/// valid username), a missing or non-numeric `exp`, `exp <= now`, and a
/// present `nbf` that is non-numeric or in the future. The signature is
/// compared in constant time (CRYPTO_memcmp). An empty secret refuses
/// everything; `sign_token` throws std::invalid_argument for it.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "fenix/transport/http.hpp"

namespace fenix::apps {

/// Default lifetime of a session token.
inline constexpr std::chrono::seconds default_token_ttl{24 * 60 * 60};

/// Tokens longer than this are refused without being decoded.
inline constexpr std::size_t max_token_size = 8192;

/// Mints an HS256 token for `username`, valid from `now` for `ttl`.
/// Throws std::invalid_argument if `secret` is empty.
std::string sign_token(std::string_view username, std::string_view secret,
                       std::chrono::system_clock::time_point now,
                       std::chrono::seconds ttl = default_token_ttl);

/// Returns the token's username (`sub`) if the token is valid at `now`;
/// with `expires`, also its `exp` there.
std::optional<std::string>
verify_token(std::string_view token, std::string_view secret,
             std::chrono::system_clock::time_point now,
             std::chrono::system_clock::time_point* expires = nullptr);

/// `n` bytes from the OpenSSL CSPRNG (RAND_bytes), lowercase hex (2n chars).
/// Throws std::runtime_error if the generator fails.
std::string random_hex(std::size_t n);

/// A fresh signing key: 32 random bytes as 64 hex characters.
std::string random_secret();

/// True for 1-32 characters of `[A-Za-z0-9_.-]`.
bool valid_username(std::string_view name);

/// base64url (RFC 4648 section 5) without padding.
using transport::base64url_encode;  // fenix/transport/http.hpp

/// Strict base64url decoding: no padding, no other characters, no
/// impossible lengths, unused trailing bits must be zero.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace fenix::apps
