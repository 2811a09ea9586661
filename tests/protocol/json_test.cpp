// Unit tests of fenix's JSON rules (fenix/protocol/json.hpp) as the
// serializers apply them: finite, exactly relayed numbers, bounded depth
// and a bounded parse.

#include <catch2/catch.hpp>

#include <charconv>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "fenix/protocol/json.hpp"
#include "fenix/protocol/serializer.hpp"
#include "tests/support/serializers.hpp"

using namespace fenix;
using namespace fenix::protocol;
using namespace fenix::test;

// -- numbers and depth (issue "Hardening" item 5) -----------------------------

namespace {

// `[null,"1","t","e",PAYLOAD]` and its V1 twin.
std::string v2_frame(std::string_view payload) {
  return R"([null,"1","t","e",)" + std::string{payload} + "]";
}
std::string v1_frame(std::string_view payload) {
  return R"({"topic":"t","event":"e","ref":"1","payload":)"
         + std::string{payload} + "}";
}

// `depth` nested arrays around 1: depth 0 is `1`, depth 2 is `[[1]]`.
std::string nested(std::size_t depth) {
  return std::string(depth, '[') + "1" + std::string(depth, ']');
}

double exact(const char* text) {
  double d = 0;
  auto r = std::from_chars(text, text + std::strlen(text), d);
  REQUIRE(r.ec == std::errc{});
  return d;
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

TEST_CASE("non-finite numbers are refused at decode", "[serializer][json]") {
  // Boost 1.81 alone reads these as inf, -inf and, for the last, NaN.
  for (auto num : {"1e999999", "-1e999", "1.7976931348623159e308", "-1e309",
                   "[1e999]", R"({"a":[0,{"b":1e400}]})"}) {
    INFO(num);
    CHECK(decode_err(v2(), v2_frame(num)).find("invalid JSON") == 0);
    CHECK(decode_err(v1(), v1_frame(num)).find("invalid JSON") == 0);
    json::error_code ec;
    CHECK(parse_json(num, ec).is_null());
    CHECK(ec);
  }
  // A refusal anywhere in the frame, not only in the payload.
  decode_err(v2(), R"([null,"1","t","e",{}, 1e999])");
}

TEST_CASE("what Boost 1.81 turns into NaN or 0 is read as the number it is",
          "[serializer][json]") {
  // 0e400 is 0 (Boost: 0 * inf = NaN); 1e-400 underflows to 0: both are
  // finite JSON numbers, accepted and relayed as zeros, never as NaN.
  for (auto [num, neg] :
       {std::pair{"0e400", false}, std::pair{"-0e400", true},
        std::pair{"1e-400", false}, std::pair{"-2e-324", true}}) {
    INFO(num);
    for (auto* s : {&v1(), &v2()}) {
      auto m = decode_ok(*s, s == &v1() ? v1_frame(num) : v2_frame(num));
      REQUIRE(m.payload.json().is_double());
      auto d = m.payload.json().get_double();
      CHECK(d == 0.0);
      CHECK(std::signbit(d) == neg);
      auto f = s->encode_push(std::nullopt, "t", "e", m.payload);
      CHECK(f.data->find("NaN") == std::string::npos);
      CHECK(f.data->find("Infinity") == std::string::npos);
    }
  }
}

TEST_CASE("numbers relay precisely: decode -> encode gives the same double",
          "[serializer][json]") {
  // The first four from the issue; the rest are ones Boost 1.81's own
  // parser rounds wrong (mantissa * 10^e is a few ULPs off).
  for (auto num : {"0.30000000000000004", "5.4097607429647384e+124",
                   "1.7976931348623157e308", "5e-324", "-5e-324",
                   "1.1920928955078125e-07", "2.2250738585072011e-308",
                   "8.0863067236109623e+24", "1.3927926388013963e-143",
                   "-9.5144905053104299e+170", "18446744073709551616"}) {
    INFO(num);
    auto want = exact(num);
    for (auto* s : {&v1(), &v2()}) {
      auto pl = std::string{R"({"x":[)"} + num + "]}";
      auto m = decode_ok(*s, s == &v1() ? v1_frame(pl) : v2_frame(pl));
      auto got = m.payload.json().at("x").at(0).to_number<double>();
      CHECK(same_bits(got, want));
      // Out and back in (as a client or a peer would read it).
      auto f = s->encode_push(std::nullopt, "t", "e", m.payload);
      json::error_code ec;
      auto back = parse_json(*f.data, ec);
      REQUIRE_FALSE(ec);
      auto& p = s == &v1() ? back.at("payload") : back.at(4);
      CHECK(same_bits(p.at("x").at(0).to_number<double>(), want));
      // And again: the text is stable.
      auto again = decode_ok(*s, s == &v1() ? v1_frame(json::serialize(p))
                                            : v2_frame(json::serialize(p)));
      CHECK(json::serialize(again.payload.json()) == json::serialize(p));
    }
  }
}

TEST_CASE("integers stay integers", "[serializer][json]") {
  auto m = decode_ok(v2(), v2_frame("[9007199254740993,-9223372036854775808,"
                                    "18446744073709551615,-0]"));
  auto& a = m.payload.json().as_array();
  CHECK(a[0].as_int64() == 9007199254740993);
  CHECK(a[1].as_int64() == INT64_MIN);
  CHECK(a[2].as_uint64() == UINT64_MAX);
  CHECK(a[3].is_int64());
}

TEST_CASE("a payload deeper than max_payload_depth is refused at decode",
          "[serializer][json]") {
  REQUIRE(json_max_depth == 32);
  REQUIRE(max_payload_depth == 27);
  for (auto* s : {&v1(), &v2()}) {
    auto frame_of = [&](std::size_t d) {
      return s == &v1() ? v1_frame(nested(d)) : v2_frame(nested(d));
    };
    decode_ok(*s, frame_of(max_payload_depth));
    decode_err(*s, frame_of(max_payload_depth + 1));
    decode_err(*s, frame_of(100));
    decode_err(*s, frame_of(10000));  // no stack trouble either
  }
  // fenix::client reads server frames with the whole depth.
  CHECK(std::holds_alternative<message>(v2().decode(
    v2_frame(nested(json_max_depth - 1)), false, json_max_depth - 1)));
  CHECK(std::holds_alternative<decode_error>(
    v2().decode(v2_frame(nested(json_max_depth)), false, json_max_depth - 1)));
}

TEST_CASE("an accepted payload can be relayed everywhere fenix puts it",
          "[serializer][json]") {
  auto deepest = decode_ok(v2(), v2_frame("{\"m\":" + nested(26) + "}"));
  REQUIRE(json_depth(deepest.payload.json()) == max_payload_depth);
  for (auto* s : {&v1(), &v2()}) {
    // As a push and as a reply's response, read back by a fenix client.
    auto push = s->encode_push(std::nullopt, "t", "e", deepest.payload);
    auto reply = s->encode_reply(std::nullopt, opt_string{"1"}, "t",
                                 reply_status::ok, deepest.payload);
    for (auto& f : {push, reply}) {
      json::error_code ec;
      parse_json(*f.data, ec);
      CHECK_FALSE(ec);
    }
  }
  // As a presence meta in a gossip delta, the deepest wrapper.
  auto delta = R"({"slices":[{"values":[[1,"t","k",1,)"
               + json::serialize(deepest.payload.json()) + "]]}]}";
  json::error_code ec;
  parse_json(delta, ec);
  CHECK_FALSE(ec);
  auto too_deep =
    R"({"slices":[{"values":[[1,"t","k",1,{"m":)" + nested(27) + "}]]}]}";
  parse_json(too_deep, ec);
  CHECK(ec);
  // And the check a meta gets when it is tracked.
  CHECK_NOTHROW(check_json(deepest.payload.json(), max_payload_depth));
  CHECK_THROWS_AS(
    check_json(json::parse("{\"m\":" + nested(27) + "}"), max_payload_depth),
    std::domain_error);
}

TEST_CASE("no encode ever outputs Infinity or NaN", "[serializer][json]") {
  const double bad[] = {std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity(),
                        std::numeric_limits<double>::quiet_NaN()};
  for (double d : bad) {
    std::vector<payload> payloads{
      payload{json::value{d}},
      payload{json::object{{"a", d}}},
      payload{json::object{{"a", json::array{1, "x", json::object{{"b", d}}}}}},
    };
    for (auto* s : {&v1(), &v2()}) {
      for (auto& p : payloads) {
        INFO(json::serialize(p.json()));
        CHECK_THROWS_AS(s->encode_push(opt_string{"1"}, "t", "e", p),
                        std::domain_error);
        CHECK_THROWS_AS(s->encode_broadcast("t", "e", p), std::domain_error);
        CHECK_THROWS_AS(
          s->encode(opt_string{"1"}, opt_string{"2"}, "t", "e", p),
          std::domain_error);
        CHECK_THROWS_AS(s->encode_control("1", "t", "phx_error", p),
                        std::domain_error);
        CHECK_THROWS_AS(s->encode_reply(opt_string{"1"}, opt_string{"2"}, "t",
                                        reply_status::ok, p),
                        std::domain_error);
      }
    }
    CHECK_THROWS_AS(serialize_json(json::array{d}), std::domain_error);
  }
  // Frames deeper than any fenix parser takes are refused the same way.
  auto deep = payload{json::parse(nested(31))};
  CHECK_NOTHROW(v2().encode_push(std::nullopt, "t", "e", deep));
  CHECK_THROWS_AS(v2().encode_reply(std::nullopt, opt_string{"1"}, "t",
                                    reply_status::ok, deep),
                  std::domain_error);
  CHECK_THROWS_AS(
    v2().encode_push(std::nullopt, "t", "e", payload{json::parse(nested(32))}),
    std::domain_error);
  // Finite extremes go out as numbers.
  auto f = v2().encode_push(
    std::nullopt, "t", "e",
    payload{json::array{std::numeric_limits<double>::max(),
                        std::numeric_limits<double>::denorm_min(), -0.0}});
  CHECK(f.data->find("Infinity") == std::string::npos);
  CHECK(f.data->find("NaN") == std::string::npos);
}

TEST_CASE("a payload that would parse to more than max_parsed_bytes is "
          "refused at decode",
          "[serializer][json]") {
  // 9 MB of small numbers: ~4.5 M values, far past the parse budget (the
  // text is under max_frame_size; parsed, it would cost 25-40x).
  std::string array = "[";
  while (array.size() < 9'000'000)
    array += "1,";
  array += "1]";
  std::string numbers =
    R"(["1","1","room:lobby","new_msg",{"n":)" + array + "}]";
  CHECK(std::holds_alternative<decode_error>(v2().decode(numbers, false)));
  json::error_code ec;
  CHECK(protocol::parse_json(array, ec).is_null());
  CHECK(ec == json::error::array_too_large);
  // A smaller array of the same kind is fine.
  CHECK(protocol::parse_json(array.substr(0, 200'001) + "1]", ec).is_array());
  // The same size as one string is cheap to hold, and passes.
  std::string text = R"(["1","1","room:lobby","new_msg",{"body":")"
                     + std::string(9'000'000, 'x') + "\"}]";
  auto r = v2().decode(text, false);
  REQUIRE(std::holds_alternative<message>(r));
  CHECK(std::get<message>(r).payload.object().at("body").as_string().size()
        == 9'000'000);
}
