// Unit tests of fenix's RFC 6455 framing (transport/ws_frame.hpp): headers
// the server writes, and what the reader makes of client streams, whole
// and split at every byte.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "fenix/transport/ws/frame.hpp"

using namespace fenix::transport;
using namespace fenix::transport::ws;

namespace {

// A masked client frame.
std::string client_frame(unsigned op, const std::string& payload,
                         bool fin = true, unsigned rsv = 0,
                         bool masked = true) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | op));
  auto n = payload.size();
  unsigned char mask_bit = masked ? 0x80 : 0;
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i)
      out.push_back(
        static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF));
  }
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked)
    out.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(masked ? static_cast<char>(payload[i] ^ mask[i & 3])
                         : payload[i]);
  return out;
}

std::string close_payload(std::uint16_t code, const std::string& reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  return p + reason;
}

std::vector<ws_event> read_all(const std::string& stream,
                               std::size_t max = 1000) {
  frame_reader rd{max};
  std::vector<ws_event> out;
  rd.feed(stream, out);
  return out;
}

// Feeds the stream one byte at a time.
std::vector<ws_event> read_bytewise(const std::string& stream,
                                    std::size_t max = 1000) {
  frame_reader rd{max};
  std::vector<ws_event> out;
  for (char c : stream)
    rd.feed(std::string_view{&c, 1}, out);
  return out;
}

std::uint16_t error_code_of(const std::vector<ws_event>& events) {
  for (auto& e : events)
    if (e.kind == ws_event::error)
      return e.code;
  return 0;
}

}  // namespace

TEST_CASE("server headers use the shortest length encoding") {
  std::uint8_t h[max_header_size];
  CHECK(write_header(h, ws_opcode::text, 5) == 2);
  CHECK(h[0] == 0x81);
  CHECK(h[1] == 5);
  CHECK(write_header(h, ws_opcode::binary, 126) == 4);
  CHECK(h[0] == 0x82);
  CHECK(h[1] == 126);
  CHECK(h[2] == 0);
  CHECK(h[3] == 126);
  CHECK(write_header(h, ws_opcode::text, 70000) == 10);
  CHECK(h[1] == 127);
  CHECK(h[7] == 0x01);  // 70000 = 0x011170
  CHECK(h[8] == 0x11);
  CHECK(h[9] == 0x70);
  CHECK(write_header(h, ws_opcode::close, 2) == 2);
  CHECK(h[0] == 0x88);
}

TEST_CASE("messages are read whole and at any split") {
  std::string stream = client_frame(1, "hello")
                       + client_frame(2, std::string(300, 'x'))
                       + client_frame(1, std::string(70000, 'y'));
  for (auto events :
       {read_all(stream, 100000), read_bytewise(stream, 100000)}) {
    REQUIRE(events.size() == 3);
    CHECK(events[0].kind == ws_event::message);
    CHECK_FALSE(events[0].binary);
    CHECK(events[0].data == "hello");
    CHECK(events[1].binary);
    CHECK(events[1].data == std::string(300, 'x'));
    CHECK(events[2].data == std::string(70000, 'y'));
  }
}

TEST_CASE("fragments are joined, with control frames between them") {
  std::string stream = client_frame(1, "hel", false) + client_frame(9, "p")
                       + client_frame(0, "lo", false)
                       + client_frame(0, "!", true);
  for (auto events : {read_all(stream), read_bytewise(stream)}) {
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == ws_event::ping);
    CHECK(events[0].data == "p");
    CHECK(events[1].kind == ws_event::message);
    CHECK(events[1].data == "hello!");
  }
}

TEST_CASE("pongs are ignored, pings are reported with their payload") {
  auto events = read_all(client_frame(10, "x") + client_frame(9, "abc"));
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == ws_event::ping);
  CHECK(events[0].data == "abc");
}

TEST_CASE("protocol errors close with 1002") {
  SECTION("unmasked frame") {
    CHECK(error_code_of(read_all(client_frame(1, "a", true, 0, false)))
          == 1002);
  }
  SECTION("reserved bits without an extension") {
    CHECK(error_code_of(read_all(client_frame(1, "a", true, 4))) == 1002);
  }
  SECTION("unknown opcodes") {
    CHECK(error_code_of(read_all(client_frame(3, "a"))) == 1002);
    CHECK(error_code_of(read_all(client_frame(0xB, "a"))) == 1002);
  }
  SECTION("continuation with no message started") {
    CHECK(error_code_of(read_all(client_frame(0, "a"))) == 1002);
  }
  SECTION("a new message inside a fragmented one") {
    CHECK(error_code_of(
            read_all(client_frame(1, "a", false) + client_frame(1, "b")))
          == 1002);
  }
  SECTION("fragmented or oversized control frames") {
    CHECK(error_code_of(read_all(client_frame(9, "a", false))) == 1002);
    CHECK(error_code_of(read_all(client_frame(9, std::string(126, 'a'))))
          == 1002);
  }
  SECTION("close with a one-byte payload or a reserved code") {
    CHECK(error_code_of(read_all(client_frame(8, "a"))) == 1002);
    CHECK(error_code_of(read_all(client_frame(8, close_payload(1005))))
          == 1002);
    CHECK(error_code_of(read_all(client_frame(8, close_payload(999)))) == 1002);
  }
  SECTION("nothing is read after a protocol error") {
    auto events =
      read_all(client_frame(1, "a", true, 0, false) + client_frame(1, "b"));
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == ws_event::error);
  }
}

TEST_CASE("invalid UTF-8 closes with 1007 and the peer's close is still seen") {
  std::string stream = client_frame(1, "\xC3\x28") + client_frame(1, "later")
                       + client_frame(8, close_payload(1000));
  auto events = read_bytewise(stream);
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == ws_event::error);
  CHECK(events[0].code == 1007);
  CHECK(events[1].kind == ws_event::close);
  CHECK(events[1].code == 1000);
  // Binary messages are not UTF-8 checked.
  auto bin = read_all(client_frame(2, "\xC3\x28"));
  REQUIRE(bin.size() == 1);
  CHECK(bin[0].kind == ws_event::message);
}

TEST_CASE("a message over the limit closes with 1009 from its header alone") {
  frame_reader rd{100};
  std::vector<ws_event> out;
  auto big = client_frame(1, std::string(5000, 'z'));
  rd.feed(big.substr(0, 8), out);  // the header and mask only
  REQUIRE(out.size() == 1);
  CHECK(out[0].code == 1009);
  // The rest is dropped without being buffered; the close frame is seen.
  rd.feed(big.substr(8), out);
  CHECK(rd.buffered() == 0);
  rd.feed(client_frame(8, close_payload(1000, "bye")), out);
  REQUIRE(out.size() == 2);
  CHECK(out[1].kind == ws_event::close);
  CHECK(out[1].data == "bye");
}

TEST_CASE("fragments count together against the limit") {
  auto events = read_all(client_frame(1, std::string(60, 'a'), false)
                           + client_frame(0, std::string(60, 'a')),
                         100);
  CHECK(error_code_of(events) == 1009);
}

TEST_CASE("a close frame ends the stream") {
  auto events = read_all(client_frame(8, close_payload(4000, "done"))
                         + client_frame(1, "ignored"));
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == ws_event::close);
  CHECK(events[0].code == 4000);
  CHECK(events[0].data == "done");
  auto empty = read_all(client_frame(8, ""));
  REQUIRE(empty.size() == 1);
  CHECK(empty[0].code == 0);
}

TEST_CASE("discarding drops data frames but still sees control frames") {
  frame_reader rd{1000};
  std::vector<ws_event> out;
  rd.discard_messages();
  rd.feed(client_frame(1, "dropped") + client_frame(8, close_payload(1001)),
          out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == ws_event::close);
}

TEST_CASE("no buffer is kept between complete frames") {
  frame_reader rd{100000};
  std::vector<ws_event> out;
  auto f = client_frame(1, std::string(5000, 'q'));
  rd.feed(f.substr(0, 3000), out);
  CHECK(rd.buffered() == 3000);
  rd.feed(f.substr(3000), out);
  CHECK(out.size() == 1);
  CHECK(rd.buffered() == 0);
}

TEST_CASE("close codes peers may send") {
  CHECK(valid_close_code(1000));
  CHECK(valid_close_code(1011));
  CHECK(valid_close_code(3000));
  CHECK(valid_close_code(4999));
  CHECK_FALSE(valid_close_code(1004));
  CHECK_FALSE(valid_close_code(1005));
  CHECK_FALSE(valid_close_code(1006));
  CHECK_FALSE(valid_close_code(1015));
  CHECK_FALSE(valid_close_code(5000));
}

TEST_CASE("invalid UTF-8 fails at its fragment, not at the final one") {
  // κόσμε, then F4 90 (past U+10FFFF) in the second fragment: the error
  // comes before the third fragment is read.
  frame_reader rd{1000};
  std::vector<ws_event> out;
  rd.feed(client_frame(1, "\xce\xba\xe1\xbd\xb9", false), out);
  CHECK(out.empty());
  rd.feed(client_frame(0, "\xf4\x90", false), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == ws_event::error);
  CHECK(out[0].code == 1007);
  // The rest of the message is dropped; the peer's close is still seen.
  rd.feed(client_frame(0, "\x80\x80-edited")
            + client_frame(8, close_payload(1000)),
          out);
  REQUIRE(out.size() == 2);
  CHECK(out[1].kind == ws_event::close);
}

TEST_CASE("invalid UTF-8 fails inside a frame still arriving") {
  auto stream = client_frame(1, "valid, then \xed\xa0\x80 and more bytes");
  frame_reader rd{1000};
  std::vector<ws_event> out;
  std::size_t bad = 6 + 13;  // header + mask, then the A0 after the ED
  rd.feed(std::string_view{stream}.substr(0, bad), out);  // through the ED
  CHECK(out.empty());
  rd.feed(std::string_view{stream}.substr(bad, 1), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].code == 1007);
  rd.feed(std::string_view{stream}.substr(bad + 1), out);
  CHECK(out.size() == 1);
  // The frame's rest was skipped: a frame after it is parsed.
  rd.feed(client_frame(8, close_payload(1000)), out);
  REQUIRE(out.size() == 2);
  CHECK(out[1].kind == ws_event::close);
}

TEST_CASE("a sequence split across fragments is valid") {
  std::string euro = "\xe2\x82\xac";
  std::string stream = client_frame(1, "a" + euro.substr(0, 1), false)
                       + client_frame(9, "ping")  // a control frame between
                       + client_frame(0, euro.substr(1, 1), false)
                       + client_frame(0, euro.substr(2) + "b");
  for (auto events : {read_all(stream), read_bytewise(stream)}) {
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == ws_event::ping);
    CHECK(events[1].kind == ws_event::message);
    CHECK(events[1].data == "a" + euro + "b");
  }
  // ... but one left unfinished by the final fragment is not.
  auto cut = client_frame(1, "a\xe2", false) + client_frame(0, "\x82");
  CHECK(error_code_of(read_bytewise(cut)) == 1007);
}

TEST_CASE("a close reason must be UTF-8") {
  CHECK(error_code_of(
          read_all(client_frame(8, close_payload(1000, "\xed\xa0\x80"))))
        == 1007);
  auto ok = read_all(client_frame(8, close_payload(1000, "bye \xe2\x82\xac")));
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].kind == ws_event::close);
  CHECK(ok[0].data == "bye \xe2\x82\xac");
}
