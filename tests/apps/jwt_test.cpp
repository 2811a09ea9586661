#include "apps/common/jwt.hpp"

#include <string>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

using namespace fenix::apps;
using namespace std::chrono_literals;
using clock_type = std::chrono::system_clock;

namespace {

const std::string secret = "test-secret-0123456789";

clock_type::time_point at(std::int64_t seconds) {
  return clock_type::time_point{std::chrono::seconds{seconds}};
}

const auto t0 = at(1'732'350'000);

struct parts {
  std::string header, claims, sig;
};

parts split(const std::string& token) {
  auto d1 = token.find('.');
  auto d2 = token.find('.', d1 + 1);
  return {token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1),
          token.substr(d2 + 1)};
}

std::string hs(const EVP_MD* md, const std::string& key,
               const std::string& input) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
       &len);
  return base64url_encode(std::string(reinterpret_cast<const char*>(out), len));
}

/// A token with arbitrary header and claims JSON, HMAC-signed with `md`.
std::string forge(const std::string& header, const std::string& claims,
                  const EVP_MD* md = EVP_sha256(),
                  const std::string& key = secret) {
  auto input = base64url_encode(header) + '.' + base64url_encode(claims);
  return input + '.' + hs(md, key, input);
}

std::string claims_json(const std::string& sub_json, const std::string& exp) {
  return R"({"sub":)" + sub_json + R"(,"iat":1732350000,"exp":)" + exp + "}";
}

const std::string hs256_header = R"({"alg":"HS256","typ":"JWT"})";

}  // namespace

TEST_CASE("a signed token verifies and yields the username", "[apps][jwt]") {
  auto token = sign_token("alice", secret, t0);
  auto p = split(token);
  CHECK(base64url_decode(p.header) == hs256_header);
  auto claims = boost::json::parse(*base64url_decode(p.claims)).as_object();
  CHECK(claims.at("sub") == "alice");
  CHECK(claims.at("iat").as_int64() == 1'732'350'000);
  CHECK(claims.at("exp").as_int64() == 1'732'350'000 + 24 * 3600);
  CHECK(token.find('=') == std::string::npos);
  CHECK(verify_token(token, secret, t0) == std::optional<std::string>{"alice"});
  CHECK(verify_token(token, secret, t0 + 24h - 1s) == "alice");
  // A token minted independently (as another backend would) is accepted.
  CHECK(verify_token(forge(hs256_header, claims_json(R"("bob")", "1732353600")),
                     secret, t0)
        == "bob");
}

TEST_CASE("expired tokens are refused", "[apps][jwt]") {
  auto token = sign_token("alice", secret, t0, 60s);
  CHECK(verify_token(token, secret, t0 + 59s));
  CHECK_FALSE(verify_token(token, secret, t0 + 60s));
  CHECK_FALSE(verify_token(token, secret, t0 + 48h));
  CHECK_FALSE(verify_token(sign_token("alice", secret, t0), secret, t0 + 24h));
}

TEST_CASE("exp and sub must be present and well typed", "[apps][jwt]") {
  auto ok = [](const std::string& claims) {
    return verify_token(forge(hs256_header, claims), secret, t0).has_value();
  };
  CHECK(ok(claims_json(R"("alice")", "1732353600")));
  CHECK(ok(claims_json(R"("alice")", "1732353600.5")));
  CHECK_FALSE(ok(R"({"sub":"alice"})"));
  CHECK_FALSE(ok(claims_json(R"("alice")", R"("1732353600")")));
  CHECK_FALSE(ok(claims_json(R"("alice")", "null")));
  CHECK_FALSE(ok(claims_json(R"("alice")", "true")));
  CHECK_FALSE(ok(R"({"exp":1732353600})"));
  CHECK_FALSE(ok(claims_json("42", "1732353600")));
  CHECK_FALSE(ok(claims_json("null", "1732353600")));
  CHECK_FALSE(ok(claims_json(R"(["alice"])", "1732353600")));
  CHECK_FALSE(ok(claims_json(R"("bad name")", "1732353600")));
  CHECK_FALSE(ok(R"(["alice"])"));
  CHECK_FALSE(ok("not json"));
  // nbf in the future is refused; in the past it is fine.
  CHECK(ok(R"({"sub":"a","exp":1732353600,"nbf":1732349000})"));
  CHECK_FALSE(ok(R"({"sub":"a","exp":1732353600,"nbf":1732351000})"));
  CHECK_FALSE(ok(R"({"sub":"a","exp":1732353600,"nbf":"x"})"));
}

TEST_CASE("alg none is refused", "[apps][jwt]") {
  auto claims = base64url_encode(claims_json(R"("alice")", "1732353600"));
  for (auto header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"none"})",
                      R"({"alg":"None"})", R"({"typ":"JWT"})"}) {
    auto h = base64url_encode(header);
    CHECK_FALSE(verify_token(h + '.' + claims + '.', secret, t0));
    CHECK_FALSE(verify_token(h + '.' + claims, secret, t0));
  }
  // Even with a signature that would be valid for HS256.
  CHECK_FALSE(verify_token(
    forge(R"({"alg":"none"})", claims_json(R"("alice")", "1732353600")), secret,
    t0));
}

TEST_CASE("other algorithms are refused", "[apps][jwt]") {
  auto claims = claims_json(R"("alice")", "1732353600");
  CHECK_FALSE(verify_token(
    forge(R"({"alg":"HS512","typ":"JWT"})", claims, EVP_sha512()), secret, t0));
  CHECK_FALSE(
    verify_token(forge(R"({"alg":"HS512","typ":"JWT"})", claims), secret, t0));
  CHECK_FALSE(
    verify_token(forge(R"({"alg":"RS256","typ":"JWT"})", claims), secret, t0));
  CHECK_FALSE(verify_token(forge(R"({"alg":"hs256"})", claims), secret, t0));
  CHECK_FALSE(verify_token(forge(R"({"alg":256})", claims), secret, t0));
  CHECK_FALSE(verify_token(forge(R"("HS256")", claims), secret, t0));
}

TEST_CASE("tampered tokens and wrong secrets are refused", "[apps][jwt]") {
  auto token = sign_token("alice", secret, t0);
  auto p = split(token);
  auto evil = base64url_encode(claims_json(R"("mallory")", "1732353600"));
  CHECK_FALSE(verify_token(p.header + '.' + evil + '.' + p.sig, secret, t0));
  auto longer = base64url_encode(claims_json(R"("alice")", "9999999999"));
  CHECK_FALSE(verify_token(p.header + '.' + longer + '.' + p.sig, secret, t0));
  // Flip one character of the signature.
  auto sig = p.sig;
  sig[3] = sig[3] == 'A' ? 'B' : 'A';
  CHECK_FALSE(verify_token(p.header + '.' + p.claims + '.' + sig, secret, t0));
  CHECK_FALSE(verify_token(p.header + '.' + p.claims + '.', secret, t0));
  CHECK_FALSE(
    verify_token(p.header + '.' + p.claims + '.' + p.sig + "AA", secret, t0));
  CHECK_FALSE(verify_token(token, "other-secret", t0));
  CHECK_FALSE(verify_token(token, "", t0));
  CHECK_THROWS_AS(sign_token("alice", "", t0), std::invalid_argument);
}

TEST_CASE("garbage is refused without throwing", "[apps][jwt]") {
  auto token = sign_token("alice", secret, t0);
  for (std::string s :
       {std::string{}, std::string{"."}, std::string{".."}, std::string{"..."},
        std::string{"abc"}, std::string{"a.b.c"}, std::string{"a.b.c.d"},
        std::string{"!!!.@@@.###"}, std::string{"eyJhbGciOiJIUzI1NiJ9"},
        token + ".", "." + token, token + "=", std::string{"\0\0\0", 3},
        std::string(10000, 'a'), std::string{"ZXlK.ZXlK.ZXlK"}}) {
    CHECK_NOTHROW(verify_token(s, secret, t0));
    CHECK_FALSE(verify_token(s, secret, t0));
  }
  // Padding, standard-base64 characters and whitespace are not base64url.
  auto p = split(token);
  CHECK_FALSE(
    verify_token(p.header + "=." + p.claims + '.' + p.sig, secret, t0));
  CHECK_FALSE(verify_token(" " + token, secret, t0));
}

TEST_CASE("base64url is strict and round-trips", "[apps][jwt]") {
  for (std::string s :
       {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\xfd"}) {
    CHECK(base64url_decode(base64url_encode(s)) == s);
  }
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK_FALSE(base64url_decode("Zm9v="));
  CHECK_FALSE(base64url_decode("Zm+v"));
  CHECK_FALSE(base64url_decode("Z"));
  CHECK_FALSE(base64url_decode("Zh"));  // non-zero trailing bits
  CHECK(base64url_decode("Zg") == "f");
}

TEST_CASE("usernames", "[apps][jwt]") {
  CHECK(valid_username("alice"));
  CHECK(valid_username("a"));
  CHECK(valid_username("A.b-c_9"));
  CHECK(valid_username(std::string(32, 'x')));
  CHECK_FALSE(valid_username(""));
  CHECK_FALSE(valid_username(std::string(33, 'x')));
  CHECK_FALSE(valid_username("al ice"));
  CHECK_FALSE(valid_username(" alice"));
  CHECK_FALSE(valid_username("al/ice"));
  CHECK_FALSE(valid_username("ali:ce"));
  CHECK_FALSE(valid_username("jos\xc3\xa9"));   // é
  CHECK_FALSE(valid_username("\xe2\x98\x83"));  // snowman
  CHECK_FALSE(valid_username(std::string{"a\0b", 3}));
  CHECK_FALSE(valid_username("tab\t"));
}

TEST_CASE("random secrets are 64 hex chars and differ", "[apps][jwt]") {
  auto a = random_secret();
  auto b = random_secret();
  CHECK(a.size() == 64);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
  CHECK(random_hex(0).empty());
  CHECK(random_hex(5).size() == 10);
}
