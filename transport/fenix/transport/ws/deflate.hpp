// Internal to the transport: permessage-deflate (RFC 7692), with no I/O.
// Not part of the API: server_options::compress turns it on.
//
// How memory stays bounded: the server always answers
// `server_no_context_takeover; client_no_context_takeover`, so that no
// LZ77 window outlives a message in either direction (RFC 7692 7.1.1.1
// and 7.1.1.2 let a server add both to any offer it accepts, and every
// client must honour them). Then one compressor and one decompressor per
// io thread (deflate_workspace) serve all of its connections, reset after
// each message; an idle connection holds no zlib state at all. Only a
// compressed message fragmented across frames needs an inflater of its
// own (about 40 KiB) while its fragments arrive; frame_reader frees it at
// the message's end. The price is the compression across messages that
// context takeover would give (small similar messages compress less).
//
//   auto accepted = negotiate_deflate(extensions_header_value);
//   if (accepted) response += "Sec-WebSocket-Extensions: "
//                             + deflate_response(*accepted) + "\r\n";
//   ...
//   deflate_workspace ws;              // one per io thread
//   auto how = deflate_frame(f, *accepted, 128, ws);   // before queueing
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fenix/transport/frame.hpp"

namespace fenix::transport::ws {

// -- negotiation ---------------------------------------------------------------

/// What the server accepted: both directions without context takeover;
/// the server compresses with at most 2^server_max_window_bits bytes of
/// window (15 unless the client asked for less).
struct deflate_params {
  int server_max_window_bits = 15;
  bool server_window_requested = false;  // the offer named the parameter
};

/// Chooses the first acceptable permessage-deflate offer in the value of
/// the Sec-WebSocket-Extensions header(s) (several headers joined by ",").
/// An offer with an unknown or repeated parameter, a value where none is
/// allowed, a missing or bad value (window bits must be 8..15, written as
/// a token or a quoted string) or broken syntax is skipped, as is one
/// asking for server_max_window_bits=8 (zlib's raw deflate cannot make
/// a 256-byte window). Other extensions are ignored.
std::optional<deflate_params> negotiate_deflate(std::string_view header);

/// The response's Sec-WebSocket-Extensions value for `p`.
std::string deflate_response(const deflate_params& p);

// -- codec ---------------------------------------------------------------------

/// A raw-deflate compressor with a window of 2^window_bits bytes (9..15),
/// reset before every message (no context takeover).
class deflater {
public:
  explicit deflater(int window_bits);
  ~deflater();
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;

  /// The deflated form of `in` as RFC 7692 7.2.1 sends it (a sync flush
  /// with its final 00 00 ff ff removed). Throws std::bad_alloc when
  /// zlib has no memory.
  std::string compress(std::string_view in);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

enum class inflate_status {
  ok,
  too_big,   // the output would pass the limit: close with 1009
  bad_data,  // not a deflate stream: close with 1007
};

/// A raw-deflate decompressor (any window up to 32 KiB) for one message
/// at a time: feed() the payload of each frame, finish() after the last
/// frame, then reset() (no context takeover).
class inflater {
public:
  inflater();
  ~inflater();
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;

  /// Appends what `in` inflates to to `out`; never lets `out` pass
  /// `limit` bytes (nor reserves more than that).
  inflate_status feed(std::string_view in, std::string& out, std::size_t limit);

  /// Feeds the 00 00 ff ff that the sender removed (RFC 7692 7.2.2).
  inflate_status finish(std::string& out, std::size_t limit);

  void reset();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The compressors one io thread's connections share, made on first use.
class deflate_workspace {
public:
  deflate_workspace();
  ~deflate_workspace();

  deflater& compressor(int window_bits);
  inflater& shared_inflater();

private:
  std::array<std::unique_ptr<deflater>, 16> deflaters_;
  std::unique_ptr<inflater> inflater_;
};

/// What deflate_frame did.
enum class deflate_result {
  plain,        // sent as it is (small, or compression did not help)
  memoized,     // compressed form taken from the frame's memo
  deflated,     // compressed now (and memoized when the window allows)
  not_smaller,  // compressed now, but it did not shrink: sent as it is
};

/// Replaces the payload of `f` with its compressed form (send it with
/// RSV1 set) unless it is under `min_size` bytes or would not shrink. The
/// 15-bit form is kept in the frame's memo, so that a broadcast to N
/// connections costs one deflate; it also serves a connection with a
/// smaller window when the message is no longer than that window (no
/// back-reference can reach further).
deflate_result deflate_frame(frame& f, const deflate_params& p,
                             std::size_t min_size, deflate_workspace& ws);

}  // namespace fenix::transport::ws
