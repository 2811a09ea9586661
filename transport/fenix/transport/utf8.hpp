/// UTF-8 validation (RFC 3629: no overlongs, no surrogates, at most
/// U+10FFFF), shared by the WebSocket reader (text frames, close reasons)
/// and the serializers (V2 binary topics and events).
///
///   utf8_validator v;              // incremental, across fragments
///   if (!v.feed(part)) ...         // false at the first invalid byte
///   if (!v.complete()) ...         // a sequence was left unfinished
#pragma once

#include <cstdint>
#include <string_view>

namespace fenix::transport {

/// Checks a byte stream given in any number of pieces: a sequence may be
/// split between pieces. feed() fails as soon as a byte makes the stream
/// invalid (e.g. F4 90: past U+10FFFF, known at the second byte).
class utf8_validator {
public:
  /// Consumes `s`; false once the stream is invalid (and from then on).
  bool feed(std::string_view s);

  /// True when the stream so far is valid and ends on a whole character.
  bool complete() const { return !failed_ && need_ == 0; }

  void reset() { *this = utf8_validator{}; }

private:
  std::uint8_t need_ = 0;               // continuation bytes still expected
  std::uint8_t lo_ = 0x80, hi_ = 0xBF;  // bounds of the next one
  bool failed_ = false;
};

/// True when `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s);

}  // namespace fenix::transport
