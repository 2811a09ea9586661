/// RFC 6455 framing for the server side, with no I/O: the transport reads
/// bytes from a socket and feeds them to a frame_reader, and prefixes each
/// outbound payload with a header from write_header. Kept apart from the
/// socket code so that every rule of the RFC can be unit-tested.
///
///   frame_reader rd{10'000'000};
///   std::vector<ws_event> events;
///   rd.feed(bytes, events);      // any split of the stream, any sizes
///   for (auto& e : events) ...   // message, ping, close, error
///
///   std::uint8_t hdr[max_header_size];
///   auto n = write_header(hdr, ws_opcode::text, payload.size());
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fenix/transport/utf8.hpp"
#include "fenix/transport/ws/deflate.hpp"

namespace fenix::transport::ws {

enum class ws_opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// The longest header a server writes (no mask): 2 + 8 bytes.
constexpr std::size_t max_header_size = 10;

/// Writes an unmasked, final frame header for `length` payload bytes to
/// `out` (at least max_header_size bytes) and returns its size.
std::size_t write_header(std::uint8_t* out, ws_opcode op, std::uint64_t length);

/// Whether a peer may send `code` in a close frame (RFC 6455 7.4).
bool valid_close_code(std::uint16_t code);

/// What the reader found in the stream.
struct ws_event {
  enum kind_t {
    message,  // a complete text or binary message in `data`
    ping,     // answer with a pong carrying `data`
    close,    // the peer's close frame: `code` (0 if none) and `data`
    error,    // the stream broke a rule: close with `code`
  };
  kind_t kind = message;
  bool binary = false;
  std::uint16_t code = 0;
  std::string data;
};

/// Parses the client-to-server byte stream into messages. Enforces masking,
/// fragmentation rules, control-frame limits, reserved bits and opcodes
/// (1002), UTF-8 of text messages and close reasons (1007: at the first
/// invalid byte, even inside a fragment or a frame still arriving) and the message
/// size limit (1009, checked from the header before the payload arrives).
/// With permessage-deflate enabled, RSV1 marks the first frame of a
/// compressed message (anywhere else: 1002); its payload is inflated as
/// it arrives, never past the size limit (1009), and a broken stream
/// closes with 1007. The limit and UTF-8 apply to the inflated message.
/// After a 1007 or 1009 error, or once discard_messages() was called, the
/// rest of the stream is still parsed, so that the peer's close frame is
/// seen, but data is dropped unbuffered. After a 1002 error or a close
/// frame the reader ignores all further input.
class frame_reader {
public:
  explicit frame_reader(std::size_t max_message) : max_message_(max_message) {}

  /// Consumes `in` and appends what it completed to `out`.
  void feed(std::string_view in, std::vector<ws_event>& out);

  /// From now on data frames are skipped (the server is closing).
  void discard_messages() {
    discarding_ = true;
    end_inflate();
  }

  /// Accepts compressed messages (permessage-deflate was negotiated). An
  /// unfragmented one is inflated by `ws`'s shared inflater (a frame is
  /// parsed whole, so no other connection can come between); a
  /// fragmented one by an inflater of its own, freed at its end.
  void enable_deflate(deflate_workspace& ws) { deflate_ = &ws; }

  /// Bytes held for an incomplete frame or message (memory per connection).
  std::size_t buffered() const { return pending_.size() + message_.size(); }

private:
  // Parses at most one frame from `data`; returns the bytes it consumed (0
  // when the frame is incomplete).
  std::size_t step(std::string_view data, std::vector<ws_event>& out);
  void fail(std::uint16_t code, std::vector<ws_event>& out);
  // Validates the unmasked bytes [checked_, payload.size()) of a text frame
  // still arriving; false when they are not UTF-8.
  bool check_partial(std::string_view payload, const unsigned char mask[4]);
  // Drops the rest of a message that broke a rule (1007, 1009).
  std::size_t abandon(std::uint16_t code, bool fin, std::uint64_t length,
                      std::size_t hsize, std::vector<ws_event>& out);
  void start_message(unsigned op, bool compressed, bool fin,
                     std::uint64_t length);
  // Appends a data frame's payload (inflating it when compressed); false
  // after reporting an error.
  bool append_payload(std::string_view payload, const unsigned char mask[4],
                      bool fin, std::vector<ws_event>& out);
  void end_inflate();

  std::size_t max_message_;
  std::string pending_;      // an incomplete frame, across feeds
  std::string message_;      // the fragments of an unfinished message
  std::uint64_t skip_ = 0;   // payload bytes still to drop
  utf8_validator utf8_;      // the text message so far, across fragments
  std::size_t checked_ = 0;  // bytes of the incomplete frame validated
  bool in_message_ = false;
  bool message_binary_ = false;
  bool discarding_ = false;
  bool done_ = false;
  deflate_workspace* deflate_ = nullptr;    // null: RSV1 is a protocol error
  std::unique_ptr<inflater> own_inflater_;  // a fragmented message's
  inflater* inflater_ = nullptr;  // the current message's, if compressed
};

}  // namespace fenix::transport::ws
