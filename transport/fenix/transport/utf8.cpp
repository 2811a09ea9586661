#include "fenix/transport/utf8.hpp"

namespace fenix::transport {

bool utf8_validator::feed(std::string_view s) {
  if (failed_)
    return false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (need_ > 0) {
      if (c < lo_ || c > hi_)
        return !(failed_ = true);
      --need_;
      lo_ = 0x80;
      hi_ = 0xBF;
      continue;
    }
    if (c < 0x80)
      continue;
    // The lead byte fixes the length and the range of the first
    // continuation byte (no overlongs, no surrogates, nothing past
    // U+10FFFF).
    if (c >= 0xC2 && c <= 0xDF) {
      need_ = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need_ = 2;
      if (c == 0xE0)
        lo_ = 0xA0;
      else if (c == 0xED)
        hi_ = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need_ = 3;
      if (c == 0xF0)
        lo_ = 0x90;
      else if (c == 0xF4)
        hi_ = 0x8F;
    } else {
      return !(failed_ = true);  // 80-C1 (continuation, overlong), F5-FF
    }
  }
  return true;
}

bool valid_utf8(std::string_view s) {
  utf8_validator v;
  return v.feed(s) && v.complete();
}

}  // namespace fenix::transport
