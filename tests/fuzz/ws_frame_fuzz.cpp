// WebSocket frame reader (transport/ws_frame.hpp). Input: byte 0 picks the
// message size limit (1 + 8 * b, so that 1009 is reachable), byte 1 seeds the
// split points and, when odd, turns permessage-deflate on (RSV1 frames are
// inflated), the rest is the client-to-server byte stream. The stream is
// fed once whole and once in pseudo-random chunks of 1..32 bytes; both must
// give the same events (the reader claims any split is equivalent). Checks:
// buffered() stays within the limit plus one frame header and control frame,
// messages respect the limit, text messages and close reasons are valid
// UTF-8, close codes are valid, error codes are 1002/1007/1009, nothing
// follows a close or a 1002, and no message follows an error.
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_util.hpp"
#include "fenix/transport/utf8.hpp"
#include "fenix/transport/ws/frame.hpp"

namespace fenix::transport::ws {  // found by ADL from vector's ==
static bool operator==(const ws_event& a, const ws_event& b) {
  return a.kind == b.kind && a.binary == b.binary && a.code == b.code
         && a.data == b.data;
}
}  // namespace fenix::transport::ws

using namespace fenix::transport;
using namespace fenix::transport::ws;

namespace {

std::vector<ws_event> run(std::string_view in, std::size_t limit,
                          std::uint32_t seed, bool deflate) {
  deflate_workspace ws;  // each run its own shared inflater
  frame_reader rd{limit};
  if (deflate)
    rd.enable_deflate(ws);
  std::vector<ws_event> out;
  while (!in.empty()) {
    std::size_t n = in.size();
    if (seed != 0) {  // xorshift32 chunk sizes
      seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
      n = std::min<std::size_t>(n, 1 + seed % 32);
    }
    rd.feed(in.substr(0, n), out);
    in.remove_prefix(n);
    FUZZ_CHECK(rd.buffered() <= std::max<std::size_t>(limit, 125) + 14 + 125);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size < 2)
    return 0;
  std::size_t limit = 1 + 8 * std::size_t{data[0]};
  std::string_view in{reinterpret_cast<const char*>(data) + 2, size - 2};
  bool deflate = (data[1] & 1) != 0;
  auto whole = run(in, limit, 0, deflate);
  FUZZ_CHECK(run(in, limit, 0x9E3779B9u * (data[1] + 1u), deflate) == whole);
  bool errored = false;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    auto& e = whole[i];
    bool last = i + 1 == whole.size();
    switch (e.kind) {
    case ws_event::message:
      FUZZ_CHECK(!errored && e.data.size() <= limit);
      FUZZ_CHECK(e.binary || fenix::transport::valid_utf8(e.data));
      break;
    case ws_event::ping:
      FUZZ_CHECK(e.data.size() <= 125);
      break;
    case ws_event::close:
      FUZZ_CHECK(last && e.data.size() <= 123
                 && fenix::transport::valid_utf8(e.data));
      FUZZ_CHECK(e.code == 0 ? e.data.empty() : valid_close_code(e.code));
      break;
    case ws_event::error:
      FUZZ_CHECK(e.code == 1002 || e.code == 1007 || e.code == 1009);
      FUZZ_CHECK(e.code != 1002 || last);
      errored = true;
      break;
    }
  }
  return 0;
}
