// The incremental UTF-8 validator (transport/utf8.hpp): whole strings,
// every split of them, and failure at the first byte that makes a stream
// invalid.

#include <catch2/catch.hpp>

#include <string>

#include "fenix/transport/utf8.hpp"

using fenix::transport::utf8_validator;
using fenix::transport::valid_utf8;

namespace {

// The index of the byte at which feeding `s` one byte at a time fails, or
// -1 when it never fails.
long first_bad_byte(const std::string& s) {
  utf8_validator v;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!v.feed(std::string_view{s}.substr(i, 1)))
      return static_cast<long>(i);
  return -1;
}

}  // namespace

TEST_CASE("well-formed UTF-8 passes whole and at every split") {
  const std::string samples[] = {
    "",
    "hello",
    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",  // κόσμε
    "\xc2\x80\xdf\xbf",                              // U+0080, U+07FF
    "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf",
    "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",  // U+10000, U+10FFFF
  };
  for (auto& s : samples) {
    CHECK(valid_utf8(s));
    for (std::size_t cut = 0; cut <= s.size(); ++cut) {
      utf8_validator v;
      CHECK(v.feed(std::string_view{s}.substr(0, cut)));
      CHECK(v.feed(std::string_view{s}.substr(cut)));
      CHECK(v.complete());
    }
  }
}

TEST_CASE("a split sequence is incomplete until its last byte") {
  utf8_validator v;
  CHECK(v.feed("\xf0\x9f"));
  CHECK_FALSE(v.complete());
  CHECK(v.feed("\x98"));
  CHECK_FALSE(v.complete());
  CHECK(v.feed("\x80"));
  CHECK(v.complete());
  CHECK_FALSE(valid_utf8("a\xe2\x82"));  // truncated at the end
}

TEST_CASE("invalid streams fail at the first byte that decides it") {
  CHECK(first_bad_byte("ab\x80") == 2);            // lone continuation
  CHECK(first_bad_byte("\xc0\xaf") == 0);          // overlong lead C0
  CHECK(first_bad_byte("\xc1\xbf") == 0);          // overlong lead C1
  CHECK(first_bad_byte("\xe0\x80\xaf") == 1);      // overlong 3-byte
  CHECK(first_bad_byte("\xf0\x80\x80\xaf") == 1);  // overlong 4-byte
  CHECK(first_bad_byte("\xed\xa0\x80") == 1);      // surrogate U+D800
  CHECK(first_bad_byte("\xed\xbf\xbf") == 1);      // surrogate U+DFFF
  CHECK(first_bad_byte("\xf4\x90\x80\x80") == 1);  // past U+10FFFF
  CHECK(first_bad_byte("\xf5\x80\x80\x80") == 0);  // lead F5
  CHECK(first_bad_byte("\xff") == 0);
  CHECK(first_bad_byte("\xc3\x28") == 1);  // lead without continuation
  CHECK(first_bad_byte("\xe2\x82\x28") == 2);
  for (auto s : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3\x28"})
    CHECK_FALSE(valid_utf8(s));
}

TEST_CASE("a failed validator stays failed until reset") {
  utf8_validator v;
  CHECK_FALSE(v.feed("\xff"));
  CHECK_FALSE(v.feed("ok"));
  CHECK_FALSE(v.complete());
  v.reset();
  CHECK(v.feed("ok"));
  CHECK(v.complete());
}
