// JWT verifier (apps/common/jwt.hpp) with the test secret at a fixed "now".
// verify_token must never crash or throw. A token it accepts must carry, as
// its third segment, the HMAC-SHA256 (computed here with OpenSSL) of its
// first two, a valid username equal to its "sub" claim and an "exp" after
// now, and must be refused under another secret. An input with exactly one
// '.' is also signed here as "header.claims" and verified, so that mutations
// reach the claim checks (exp, nbf, sub) past the signature. Strict
// base64url decoding is canonical: decode then encode is the identity.
#include <chrono>
#include <algorithm>
#include <cstdint>
#include <string>

#include <boost/json/parse.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "apps/common/jwt.hpp"
#include "fuzz_util.hpp"

using namespace fenix::apps;

namespace {

const std::string secret = "test-secret-0123456789";  // tests/apps/jwt_test
const std::chrono::system_clock::time_point now{
  std::chrono::seconds{1700000000}};

std::string sign(std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
       &len);
  return base64url_encode({reinterpret_cast<const char*>(mac), len});
}

void check(std::string_view token) {
  auto user = verify_token(token, secret, now);
  if (!user)
    return;
  auto dot1 = token.find('.'), dot2 = token.rfind('.');
  FUZZ_CHECK(token.substr(dot2 + 1) == sign(token.substr(0, dot2)));
  FUZZ_CHECK(valid_username(*user));
  auto claims = boost::json::parse(
    *base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1)));
  FUZZ_CHECK(claims.at("sub").as_string() == *user);
  FUZZ_CHECK(claims.at("exp").to_number<double>() > 1700000000.0);
  FUZZ_CHECK(!verify_token(token, secret + "x", now));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  if (auto bytes = base64url_decode(in))
    FUZZ_CHECK(base64url_encode(*bytes) == in);
  check(in);
  if (std::count(in.begin(), in.end(), '.') == 1)
    check(std::string{in} + '.' + sign(in));
  return 0;
}
