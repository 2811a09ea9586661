// Tests of the C++ client's wire helpers (fenix/client/client.hpp):
// decoding what the server sends, text and binary, and the binary push it
// writes. No network (client_test.cpp drives a scripted peer).

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <variant>

#include "fenix/client.hpp"
#include "tests/support/bytes.hpp"

using namespace fenix;
using namespace fenix::client;
using namespace fenix::protocol;
using fenix::test::bytes;

namespace {

const serializer& v2() {
  return serializer_for(protocol_version::v2);
}

message decode_ok(std::string_view data, bool binary) {
  auto r = decode_server_frame(data, binary);
  if (auto* err = std::get_if<decode_error>(&r))
    FAIL("unexpected decode_error: " << err->what);
  return std::get<message>(std::move(r));
}

}  // namespace

TEST_CASE("client decodes V2 JSON server frames", "[transport][client]") {
  auto m = decode_ok(R"(["3","3","room:lobby","phx_reply",)"
                     R"({"response":{"joined":true},"status":"ok"}])",
                     false);
  CHECK(m.join_ref == opt_string{"3"});
  CHECK(m.ref == opt_string{"3"});
  CHECK(m.event == "phx_reply");
  CHECK(status_of(m) == "ok");
  CHECK(m.payload.json().at("response").at("joined").as_bool());
  auto b =
    decode_ok(R"([null,null,"room:lobby","new_msg",{"body":"hi"}])", false);
  CHECK_FALSE(b.join_ref);
  CHECK_FALSE(b.ref);
  CHECK(status_of(b).empty());
}

TEST_CASE("client decodes the three server binary kinds",
          "[transport][client]") {
  auto data = bytes({0, 1, 255});
  SECTION("push, kind 0: no ref") {
    auto m = decode_ok(bytes({0, 2, 6, 3}, "11room:xevt") + data, true);
    CHECK(m.join_ref == opt_string{"11"});
    CHECK_FALSE(m.ref);
    CHECK(m.topic == "room:x");
    CHECK(m.event == "evt");
    REQUIRE(m.payload.is_binary());
    CHECK(m.payload.bytes() == data);
  }
  SECTION("reply, kind 1: status in json(), response in bytes()") {
    auto m = decode_ok(bytes({1, 2, 2, 6, 5}, "1113room:xerror") + data, true);
    CHECK(m.join_ref == opt_string{"11"});
    CHECK(m.ref == opt_string{"13"});
    CHECK(m.topic == "room:x");
    CHECK(m.event == "phx_reply");
    REQUIRE(m.payload.is_binary());
    CHECK(m.payload.bytes() == data);
    CHECK(status_of(m) == "error");
  }
  SECTION("broadcast, kind 2: no refs") {
    auto m = decode_ok(bytes({2, 6, 3}, "room:xevt") + data, true);
    CHECK_FALSE(m.join_ref);
    CHECK_FALSE(m.ref);
    CHECK(m.topic == "room:x");
    CHECK(m.event == "evt");
    CHECK(m.payload.bytes() == data);
  }
  SECTION("empty refs are null, empty data is fine") {
    auto m = decode_ok(bytes({1, 0, 0, 1, 2}, "tok"), true);
    CHECK_FALSE(m.join_ref);
    CHECK_FALSE(m.ref);
    CHECK(m.payload.bytes().empty());
  }
  SECTION("round trip with the server's encoders") {
    auto push = decode_ok(
      *v2().encode_push(opt_string{"4"}, "t", "e", payload::binary(data)).data,
      true);
    CHECK(push.join_ref == opt_string{"4"});
    CHECK(push.payload.bytes() == data);
    auto reply =
      decode_ok(*v2()
                   .encode_reply(opt_string{"4"}, opt_string{"9"}, "t",
                                 reply_status::ok, payload::binary(data))
                   .data,
                true);
    CHECK(reply.ref == opt_string{"9"});
    CHECK(status_of(reply) == "ok");
    auto bc = decode_ok(
      *v2().encode_broadcast("t", "e", payload::binary(data)).data, true);
    CHECK(bc.event == "e");
    CHECK(bc.payload.bytes() == data);
  }
}

TEST_CASE("client decode errors", "[transport][client]") {
  auto refused = [](std::string_view data, bool binary) {
    return std::holds_alternative<decode_error>(
      decode_server_frame(data, binary));
  };
  for (auto text : {"", "not json", R"({"a":1})", R"(["1","2","t"])"})
    CHECK(refused(text, false));
  for (auto bin : {std::string{}, bytes({3, 0, 0}), bytes({7}), bytes({255}),
                   bytes({0, 1, 1}), bytes({1, 1, 1, 1}), bytes({2, 1}),
                   bytes({0, 2, 1, 1}, "1te"), bytes({1, 0, 0, 1, 9}, "tok"),
                   bytes({2, 5, 0}, "room")})
    CHECK(refused(bin, true));
}

TEST_CASE("client binary push layout", "[transport][client]") {
  auto f =
    encode_client_binary("1", "12", "room:lobby", "new_msg", bytes({0, 255}));
  CHECK(f == bytes({0, 1, 2, 10, 7}, "112room:lobbynew_msg") + bytes({0, 255}));
  auto m = std::get<message>(v2().decode(f, true));
  CHECK(m.join_ref == opt_string{"1"});
  CHECK(m.ref == opt_string{"12"});
  CHECK(m.payload.bytes() == bytes({0, 255}));
  std::string big(256, 'x');
  CHECK_NOTHROW(encode_client_binary("", "", std::string(255, 'x'), "e", big));
  CHECK_THROWS_AS(encode_client_binary(big, "1", "t", "e", ""),
                  std::length_error);
  CHECK_THROWS_AS(encode_client_binary("1", "1", big, "e", ""),
                  std::length_error);
}

// -- connecting ---------------------------------------------------------------
