// Unit tests of permessage-deflate (transport/ws/deflate.hpp): the
// negotiation of Sec-WebSocket-Extensions offers, the codec, compressed
// messages in the frame reader (RSV1 rules, limits, UTF-8) and the
// broadcast memo.

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

#include "fenix/transport/ws/deflate.hpp"
#include "fenix/transport/ws/frame.hpp"

using namespace fenix::transport;
using namespace fenix::transport::ws;

namespace {

const std::string both = "permessage-deflate; server_no_context_takeover; "
                         "client_no_context_takeover";

std::string answer(const std::string& offers) {
  auto p = negotiate_deflate(offers);
  return p ? deflate_response(*p) : std::string{"declined"};
}

// A masked client frame; rsv1 marks a compressed message.
std::string client_frame(unsigned op, const std::string& payload, bool fin,
                         bool rsv1) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | op));
  auto n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i)
      out.push_back(
        static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF));
  }
  const unsigned char mask[4] = {0x9a, 0x12, 0xe7, 0x41};
  out.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return out;
}

std::string compressed_text(const std::string& payload, bool fin = true) {
  deflater d{15};
  return client_frame(0x1, d.compress(payload), fin, true);
}

// RFC 7692 7.2.3.1: "Hello", compressed.
const std::string hello_z("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);

std::string inflate_all(const std::string& z, std::size_t limit = 1 << 24) {
  inflater inf;
  std::string out;
  REQUIRE(inf.feed(z, out, limit) == inflate_status::ok);
  REQUIRE(inf.finish(out, limit) == inflate_status::ok);
  return out;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng{seed};
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng());
  return s;
}

std::string chat_json(std::size_t n) {
  std::string s = R"([null,null,"room:lobby","new_msg",{"body":")";
  while (s.size() + 3 < n)
    s += "hello there, ";
  s.resize(n - 3);
  return s + "\"}]";
}

}  // namespace

// -- negotiation ---------------------------------------------------------------

TEST_CASE("an offer is answered with no context takeover both ways",
          "[transport][deflate]") {
  CHECK(answer("permessage-deflate") == both);
  // Chrome's and ws's default offer.
  CHECK(answer("permessage-deflate; client_max_window_bits") == both);
  CHECK(answer("permessage-deflate; client_max_window_bits=10") == both);
  CHECK(answer("permessage-deflate; client_no_context_takeover; "
               "server_no_context_takeover")
        == both);
  CHECK(answer("permessage-deflate; server_max_window_bits=10")
        == both + "; server_max_window_bits=10");
  CHECK(answer("permessage-deflate; server_max_window_bits=\"12\"")
        == both + "; server_max_window_bits=12");
  CHECK(answer("permessage-deflate; server_max_window_bits=15")
        == both + "; server_max_window_bits=15");
  CHECK(negotiate_deflate("permessage-deflate; server_max_window_bits=9")
          ->server_max_window_bits
        == 9);
}

TEST_CASE("offers with unknown, repeated or bad parameters are skipped",
          "[transport][deflate]") {
  for (const char* bad : {
         "permessage-deflate; foo", "permessage-deflate; foo=1",
         "permessage-deflate; server_no_context_takeover; "
         "server_no_context_takeover",
         "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
         "permessage-deflate; server_no_context_takeover=1",
         "permessage-deflate; client_no_context_takeover=\"\"",
         "permessage-deflate; server_max_window_bits",
         "permessage-deflate; server_max_window_bits=",
         "permessage-deflate; server_max_window_bits=7",
         "permessage-deflate; server_max_window_bits=16",
         "permessage-deflate; server_max_window_bits=08",
         "permessage-deflate; server_max_window_bits=+9",
         "permessage-deflate; server_max_window_bits=abc",
         "permessage-deflate; server_max_window_bits=\" 10\"",
         "permessage-deflate; server_max_window_bits=99999999999999999999",
         "permessage-deflate; client_max_window_bits=16",
         "permessage-deflate; client_max_window_bits=0",
         "permessage-deflate; server_max_window_bits=8",  // zlib cannot
       }) {
    INFO(bad);
    CHECK_FALSE(negotiate_deflate(bad));
    // The next acceptable offer is taken instead.
    CHECK(answer(std::string{bad}
                 + ", permessage-deflate; client_max_"
                   "window_bits")
          == both);
  }
}

TEST_CASE("broken syntax declines, and never reads into the next offer",
          "[transport][deflate]") {
  for (const char* bad : {
         "",
         " ",
         ",",
         ", ,",
         "permessage-deflate;",
         "permessage-deflate; ;",
         "permessage-deflate x",
         "\"permessage-deflate\"",
         "permessage-deflate; client_max_window_bits=\"10",
         "permessage-deflate; =10",
         "permessage-deflate;; server_max_window_bits=10",
         "x-webkit-deflate-frame",
         "deflate-frame; no_context_takeover",
         "permessage-deflate2",
         "permessage-deflat",
         // A quoted comma does not start a new offer.
         "foo; a=\"x, permessage-deflate; server_max_window_bits=9\"",
         "foo; a=\"\\\", permessage-deflate\"",
       }) {
    INFO(bad);
    CHECK_FALSE(negotiate_deflate(bad));
  }
}

TEST_CASE("several offers: the first acceptable one wins",
          "[transport][deflate]") {
  CHECK(answer("x-webkit-deflate-frame, permessage-deflate; foo=1, "
               "permessage-deflate; server_max_window_bits=11, "
               "permessage-deflate")
        == both + "; server_max_window_bits=11");
  CHECK(answer(", , permessage-deflate ,") == both);
  CHECK(answer("foo; a=\"x,y\", permessage-deflate") == both);
  CHECK(answer("permessage-deflate ;\tclient_max_window_bits = 15") == both);
  CHECK(answer("PerMessage-Deflate; Server_No_Context_Takeover") == both);
  CHECK(answer("permessage-deflate; server_max_window_bits=8, "
               "permessage-deflate; server_max_window_bits=9")
        == both + "; server_max_window_bits=9");
}

TEST_CASE("random header values never crash the parser",
          "[transport][deflate]") {
  std::mt19937 rng{7};
  const std::string alphabet = "permessage-deflate;,=\" \t\\server_max_window_"
                               "bits15client_no_context_takeover89\x01\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 80, ' ');
    for (auto& c : s)
      c = alphabet[rng() % alphabet.size()];
    auto p = negotiate_deflate(s);
    if (p) {
      CHECK(p->server_max_window_bits >= 9);
      CHECK(p->server_max_window_bits <= 15);
    }
  }
}

// -- codec ---------------------------------------------------------------------

TEST_CASE("deflate and inflate round-trip without the 00 00 ff ff tail",
          "[transport][deflate]") {
  deflater d{15};
  for (auto& msg : {std::string{}, std::string{"a"}, chat_json(1000),
                    std::string(200'000, 'x'), random_bytes(70'000, 1)}) {
    auto z = d.compress(msg);
    if (z.size() >= 4)
      CHECK(z.substr(z.size() - 4) != std::string("\0\0\xff\xff", 4));
    CHECK(inflate_all(z) == msg);
  }
  CHECK(d.compress(chat_json(1000)).size() < 200);
  CHECK(inflate_all(hello_z) == "Hello");
  // The same message twice gives the same bytes: no context is kept.
  CHECK(d.compress("Hello") == d.compress("Hello"));
  CHECK(d.compress("Hello") == hello_z);
}

TEST_CASE("a smaller window keeps every distance inside it",
          "[transport][deflate]") {
  for (int bits : {9, 10, 12}) {
    deflater d{bits};
    std::string msg;
    for (int i = 0; msg.size() < 20'000; ++i)
      msg += random_bytes(300, static_cast<unsigned>(i % 7));
    auto z = d.compress(msg);
    z += std::string("\0\0\xff\xff", 4);
    z_stream s{};
    REQUIRE(inflateInit2(&s, -bits) == Z_OK);
    std::string out(msg.size() + 16, '\0');
    s.next_in = reinterpret_cast<Bytef*>(z.data());
    s.avail_in = static_cast<uInt>(z.size());
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    auto rc = inflate(&s, Z_SYNC_FLUSH);
    out.resize(out.size() - s.avail_out);
    inflateEnd(&s);
    INFO(bits);
    CHECK(rc == Z_OK);
    CHECK(out == msg);
  }
}

TEST_CASE("inflating stops at the limit and reserves no more than it",
          "[transport][deflate]") {
  deflater d{15};
  auto bomb = d.compress(std::string(64 << 20, '\0'));
  CHECK(bomb.size() < 100'000);
  inflater inf;
  std::string out;
  CHECK(inf.feed(bomb, out, 1 << 20) == inflate_status::too_big);
  CHECK(out.size() <= (1 << 20));
  CHECK(out.capacity() <= (1 << 20) + 32);
  // Exactly at the limit is fine.
  inf.reset();
  auto exact = d.compress(std::string(1000, 'q'));
  std::string o2;
  CHECK(inf.feed(exact, o2, 1000) == inflate_status::ok);
  CHECK(inf.finish(o2, 1000) == inflate_status::ok);
  CHECK(o2 == std::string(1000, 'q'));
  inf.reset();
  std::string o3;
  auto st = inf.feed(exact, o3, 999);
  if (st == inflate_status::ok)
    st = inf.finish(o3, 999);
  CHECK(st == inflate_status::too_big);
}

TEST_CASE("data that is not deflate is refused", "[transport][deflate]") {
  inflater inf;
  std::string out;
  CHECK(inf.feed("\xff\xff\xff\xff", out, 1000) == inflate_status::bad_data);
  inf.reset();
  // Stored block whose length check (NLEN) is wrong.
  CHECK(inf.feed(std::string("\x00\x05\x00\x00\x00Hello", 10), out, 1000)
        == inflate_status::bad_data);
  inf.reset();
  out.clear();
  // After a reset the same inflater works again.
  CHECK(inf.feed(hello_z, out, 1000) == inflate_status::ok);
  CHECK(out == "Hello");
}

// -- the frame reader ------------------------------------------------------------

TEST_CASE("RSV1 is a protocol error unless deflate was negotiated",
          "[transport][deflate]") {
  frame_reader rd{1000};
  std::vector<ws_event> ev;
  rd.feed(client_frame(0x1, hello_z, true, true), ev);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].kind == ws_event::error);
  CHECK(ev[0].code == 1002);
}

TEST_CASE("compressed messages are inflated, split at any byte",
          "[transport][deflate]") {
  // RFC 7692 7.2.3.1: one frame, then the same message in two fragments;
  // then an uncompressed message (RSV1 is per message).
  std::string stream = client_frame(0x1, hello_z, true, true)
                       + client_frame(0x1, hello_z.substr(0, 3), false, true)
                       + client_frame(0x0, hello_z.substr(3), true, false)
                       + client_frame(0x1, "plain", true, false)
                       + compressed_text(chat_json(5000));
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    deflate_workspace ws;
    frame_reader rd{10'000};
    rd.enable_deflate(ws);
    std::vector<ws_event> ev;
    rd.feed(stream.substr(0, cut), ev);
    rd.feed(stream.substr(cut), ev);
    INFO(cut);
    REQUIRE(ev.size() == 4);
    CHECK(ev[0].data == "Hello");
    CHECK(ev[1].data == "Hello");
    CHECK(ev[2].data == "plain");
    CHECK(ev[3].data == chat_json(5000));
    for (auto& e : ev)
      CHECK(e.kind == ws_event::message);
  }
}

TEST_CASE("RSV1 on a continuation or control frame closes with 1002",
          "[transport][deflate]") {
  for (auto& bad : {
         client_frame(0x1, hello_z.substr(0, 3), false, true)
           + client_frame(0x0, hello_z.substr(3), true, true),
         client_frame(0x1, "He", false, false)
           + client_frame(0x0, "llo", true, true),
         client_frame(0x9, "ping", true, true),
         client_frame(0x8, "\x03\xe8", true, true),
         client_frame(0xA, "", true, true),
       }) {
    deflate_workspace ws;
    frame_reader rd{1000};
    rd.enable_deflate(ws);
    std::vector<ws_event> ev;
    rd.feed(bad, ev);
    REQUIRE_FALSE(ev.empty());
    CHECK(ev.back().kind == ws_event::error);
    CHECK(ev.back().code == 1002);
  }
  // RSV2 and RSV3 stay errors.
  deflate_workspace ws;
  frame_reader rd{1000};
  rd.enable_deflate(ws);
  std::vector<ws_event> ev;
  auto f = client_frame(0x1, hello_z, true, true);
  f[0] = static_cast<char>(f[0] | 0x20);
  rd.feed(f, ev);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].code == 1002);
}

TEST_CASE("a deflate bomb closes with 1009 and the close frame is still read",
          "[transport][deflate]") {
  deflater d{15};
  auto bomb = d.compress(std::string(32 << 20, '\0'));
  std::string close = client_frame(0x8, "\x03\xe8", true, false);
  for (bool fragmented : {false, true}) {
    deflate_workspace ws;
    frame_reader rd{1 << 20};
    rd.enable_deflate(ws);
    std::vector<ws_event> ev;
    if (fragmented) {
      auto half = bomb.size() / 2;
      rd.feed(client_frame(0x1, bomb.substr(0, half), false, true), ev);
      rd.feed(client_frame(0x0, bomb.substr(half), true, false), ev);
    } else {
      rd.feed(client_frame(0x1, bomb, true, true), ev);
    }
    CHECK(rd.buffered() <= (1 << 20));
    rd.feed(close, ev);
    INFO(fragmented);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].kind == ws_event::error);
    CHECK(ev[0].code == 1009);
    CHECK(ev[1].kind == ws_event::close);
    CHECK(rd.buffered() == 0);
  }
}

TEST_CASE("UTF-8 is checked on the inflated text", "[transport][deflate]") {
  deflater d{15};
  deflate_workspace ws;
  {
    frame_reader rd{1000};
    rd.enable_deflate(ws);
    std::vector<ws_event> ev;
    rd.feed(client_frame(0x1, d.compress("bad \xc3\x28 text"), true, true), ev);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].code == 1007);
  }
  {
    // A character split across two compressed fragments is fine; a binary
    // message is not checked.
    std::string z = d.compress("caf\xc3\xa9 ok");
    frame_reader rd{1000};
    rd.enable_deflate(ws);
    std::vector<ws_event> ev;
    rd.feed(client_frame(0x1, z.substr(0, 4), false, true)
              + client_frame(0x0, z.substr(4), true, false)
              + client_frame(0x2, d.compress("\xff\xfe"), true, true),
            ev);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].data == "caf\xc3\xa9 ok");
    CHECK(ev[1].binary);
    CHECK(ev[1].data == "\xff\xfe");
  }
}

TEST_CASE("a broken deflate stream closes with 1007", "[transport][deflate]") {
  deflate_workspace ws;
  frame_reader rd{1000};
  rd.enable_deflate(ws);
  std::vector<ws_event> ev;
  rd.feed(client_frame(0x1, "\xff\xff\xff", true, true), ev);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].code == 1007);
  // The shared inflater is clean for the next connection.
  frame_reader other{1000};
  other.enable_deflate(ws);
  std::vector<ws_event> ev2;
  other.feed(client_frame(0x1, hello_z, true, true), ev2);
  REQUIRE(ev2.size() == 1);
  CHECK(ev2[0].data == "Hello");
}

TEST_CASE("connections of one thread share an inflater without mixing",
          "[transport][deflate]") {
  deflater d{15};
  deflate_workspace ws;
  frame_reader a{100'000}, b{100'000};
  a.enable_deflate(ws);
  b.enable_deflate(ws);
  auto za = d.compress(chat_json(3000));
  std::vector<ws_event> ea, eb;
  // a's message is fragmented (its own inflater); b's come in between.
  a.feed(client_frame(0x1, za.substr(0, 10), false, true), ea);
  b.feed(compressed_text("first"), eb);
  a.feed(client_frame(0x0, za.substr(10, 20), false, false), ea);
  b.feed(compressed_text(chat_json(2000)), eb);
  a.feed(client_frame(0x0, za.substr(30), true, false), ea);
  REQUIRE(ea.size() == 1);
  CHECK(ea[0].data == chat_json(3000));
  REQUIRE(eb.size() == 2);
  CHECK(eb[0].data == "first");
  CHECK(eb[1].data == chat_json(2000));
}

// -- outbound: the broadcast memo ---------------------------------------------------

TEST_CASE("a frame is compressed once for all its connections",
          "[transport][deflate]") {
  deflate_workspace ws;
  deflate_params p;
  auto f = make_frame(chat_json(1000));
  auto original = f.data;
  auto c1 = f, c2 = f, c3 = f;
  CHECK(deflate_frame(c1, p, 128, ws) == deflate_result::deflated);
  CHECK(deflate_frame(c2, p, 128, ws) == deflate_result::memoized);
  CHECK(deflate_frame(c3, p, 128, ws) == deflate_result::memoized);
  CHECK(c1.data == c2.data);  // the same bytes, shared
  CHECK(c2.data == c3.data);
  CHECK(*f.data == *original);  // the original is untouched
  CHECK(inflate_all(*c1.data) == *original);
  CHECK(c1.size() < original->size() / 4);
  // A frame without a memo is compressed each time.
  frame bare{original, false, nullptr};
  auto b1 = bare, b2 = bare;
  CHECK(deflate_frame(b1, p, 128, ws) == deflate_result::deflated);
  CHECK(deflate_frame(b2, p, 128, ws) == deflate_result::deflated);
  CHECK(*b1.data == *b2.data);
}

TEST_CASE("small or incompressible messages go uncompressed",
          "[transport][deflate]") {
  deflate_workspace ws;
  deflate_params p;
  auto small = make_frame(std::string(127, 'a'));
  CHECK(deflate_frame(small, p, 128, ws) == deflate_result::plain);
  CHECK(small.size() == 127);
  auto noise = make_frame(random_bytes(1000, 3), true);
  auto copy = noise;
  CHECK(deflate_frame(noise, p, 128, ws) == deflate_result::not_smaller);
  CHECK(noise.data == copy.data);
  CHECK(deflate_frame(copy, p, 128, ws) == deflate_result::plain);
}

TEST_CASE("a smaller server window uses the memo only when it fits",
          "[transport][deflate]") {
  deflate_workspace ws;
  deflate_params full, small;
  small.server_max_window_bits = 10;
  auto f = make_frame(chat_json(900));
  auto a = f, b = f;
  CHECK(deflate_frame(a, full, 128, ws) == deflate_result::deflated);
  CHECK(deflate_frame(b, small, 128, ws) == deflate_result::memoized);
  auto big = make_frame(chat_json(5000));
  auto c = big, d = big;
  CHECK(deflate_frame(c, small, 128, ws) == deflate_result::deflated);
  CHECK_FALSE(big.memo->deflated());  // a 10-bit form is not memoized
  CHECK(deflate_frame(d, full, 128, ws) == deflate_result::deflated);
  CHECK(inflate_all(*c.data) == chat_json(5000));
  CHECK(inflate_all(*d.data) == chat_json(5000));
}
