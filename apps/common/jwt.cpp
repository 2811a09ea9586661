#include "apps/common/jwt.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "fenix/protocol/json.hpp"

namespace fenix::apps {

namespace {

namespace json = boost::json;

constexpr std::size_t sha256_size = 32;

using digest = std::array<unsigned char, sha256_size>;

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/// HMAC-SHA256 of `data` keyed with a non-empty `key`.
digest hmac_sha256(std::string_view key, std::string_view data) {
  digest out{};
  unsigned int len = 0;
  auto* res = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                   reinterpret_cast<const unsigned char*>(data.data()),
                   data.size(), out.data(), &len);
  if (res == nullptr || len != sha256_size)
    throw std::runtime_error("HMAC-SHA256 failed");
  return out;
}

/// Decodes one base64url segment and parses it as a JSON object.
std::optional<json::object> decode_object(std::string_view segment) {
  auto bytes = base64url_decode(segment);
  if (!bytes)
    return std::nullopt;
  boost::system::error_code ec;
  auto val = fenix::protocol::parse_json(*bytes, ec);
  if (ec || !val.is_object())
    return std::nullopt;
  return std::move(val.as_object());
}

/// Seconds since the epoch held by a JSON number, as a double; nullopt for
/// anything else (strings, bools, null, NaN cannot come from JSON).
std::optional<double> numeric(const json::value* v) {
  if (v == nullptr)
    return std::nullopt;
  if (v->is_int64())
    return static_cast<double>(v->get_int64());
  if (v->is_uint64())
    return static_cast<double>(v->get_uint64());
  if (v->is_double() && std::isfinite(v->get_double()))
    return v->get_double();
  return std::nullopt;
}

bool header_ok(std::string_view segment) {
  auto header = decode_object(segment);
  if (!header)
    return false;
  auto* alg = header->if_contains("alg");
  return alg != nullptr && alg->is_string() && alg->get_string() == "HS256";
}

bool signature_ok(std::string_view signing_input, std::string_view segment,
                  std::string_view secret) {
  auto sig = base64url_decode(segment);
  if (!sig || sig->size() != sha256_size)
    return false;
  auto expected = hmac_sha256(secret, signing_input);
  return CRYPTO_memcmp(expected.data(), sig->data(), sha256_size) == 0;
}

std::optional<std::string> claims_subject(std::string_view segment,
                                          double now_s, double* exp_out) {
  auto claims = decode_object(segment);
  if (!claims)
    return std::nullopt;
  auto exp = numeric(claims->if_contains("exp"));
  if (!exp || !(now_s < *exp))
    return std::nullopt;
  if (exp_out)
    *exp_out = *exp;
  if (auto* nbf_val = claims->if_contains("nbf")) {
    auto nbf = numeric(nbf_val);
    if (!nbf || *nbf > now_s)
      return std::nullopt;
  }
  auto* sub = claims->if_contains("sub");
  if (sub == nullptr || !sub->is_string())
    return std::nullopt;
  std::string user(sub->get_string());
  if (!valid_username(user))
    return std::nullopt;
  return user;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    auto v = b64_value(c);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // Leftover bits (2 or 4) must be zero in a canonical encoding.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return std::nullopt;
  return out;
}

std::string sign_token(std::string_view username, std::string_view secret,
                       std::chrono::system_clock::time_point now,
                       std::chrono::seconds ttl) {
  if (secret.empty())
    throw std::invalid_argument("sign_token: empty secret");
  using std::chrono::duration_cast;
  auto iat = duration_cast<std::chrono::seconds>(now.time_since_epoch());
  json::object header{{"alg", "HS256"}, {"typ", "JWT"}};
  json::object claims{
    {"sub", json::string_view(username.data(), username.size())},
    {"iat", iat.count()},
    {"exp", (iat + ttl).count()}};
  auto input = base64url_encode(json::serialize(header)) + '.'
               + base64url_encode(json::serialize(claims));
  auto sig = hmac_sha256(secret, input);
  auto sig_text = base64url_encode(
    std::string_view(reinterpret_cast<const char*>(sig.data()), sig.size()));
  return input + '.' + sig_text;
}

std::optional<std::string>
verify_token(std::string_view token, std::string_view secret,
             std::chrono::system_clock::time_point now,
             std::chrono::system_clock::time_point* expires) {
  if (secret.empty() || token.empty() || token.size() > max_token_size)
    return std::nullopt;
  auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos)
    return std::nullopt;
  auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos
      || token.find('.', dot2 + 1) != std::string_view::npos)
    return std::nullopt;
  auto header = token.substr(0, dot1);
  auto claims = token.substr(dot1 + 1, dot2 - dot1 - 1);
  auto sig = token.substr(dot2 + 1);
  try {
    // The header is checked first so that "alg":"none" never reaches a
    // code path that could treat an empty signature as acceptable.
    if (!header_ok(header) || !signature_ok(token.substr(0, dot2), sig, secret))
      return std::nullopt;
    using std::chrono::duration;
    auto now_s = duration<double>(now.time_since_epoch()).count();
    double exp = 0;
    auto user = claims_subject(claims, now_s, &exp);
    if (user && expires)
      *expires = std::chrono::system_clock::time_point{
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
          duration<double>(exp))};
    return user;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string random_hex(std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string bytes(n, '\0');
  if (n > 0
      && RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()),
                    static_cast<int>(n))
           != 1)
    throw std::runtime_error("RAND_bytes failed");
  std::string out;
  out.reserve(2 * n);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0F];
  }
  return out;
}

std::string random_secret() {
  return random_hex(32);
}

bool valid_username(std::string_view name) {
  if (name.empty() || name.size() > 32)
    return false;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

}  // namespace fenix::apps
