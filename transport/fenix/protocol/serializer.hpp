/// One serializer interface, one implementation per protocol version:
/// V1 JSON objects (vsn 1.0.x), V2 JSON arrays plus V2 binary frames
/// (vsn 2.0.x). Serializers are stateless and shared by all connections.
///
///   const serializer* s = negotiate("2.0.0");   // nullptr: refuse (403)
///   auto m = s->decode(text, false);            // error: close with 1007
///   frame f = s->encode_reply("3", "7", topic, reply_status::ok, resp);
///
/// Decoding never throws: a malformed frame yields a `decode_error`
/// naming what was wrong. JSON is read by parse_json (json.hpp): numbers
/// precisely, a non-finite number (`1e999999`, `0e400`) is an error, and
/// so is a payload deeper than `max_payload_depth` (27), so that anything
/// accepted can be relayed, even as a presence meta to cluster peers.
///
/// Encoding a V2 binary field longer than 255 bytes throws
/// `std::length_error` (the client could not decode it either). Encoding a
/// JSON payload with a non-finite number, or one that would make the frame
/// deeper than `json_max_depth`, throws `std::domain_error`: `Infinity` and
/// `NaN` are not JSON (phoenix.js throws on them and misses every later
/// message). Where frames are built the throw is handled like the others:
/// a channel handler that pushes or replies with one crashes, PubSub skips
/// the broadcast for that subscriber.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "fenix/protocol/json.hpp"
#include "fenix/protocol/message.hpp"
#include "fenix/transport/utf8.hpp"

namespace fenix::protocol {

using transport::valid_utf8;

/// Why a client frame could not be decoded.
struct decode_error {
  std::string what;
};

/// Result of decoding a frame.
using decode_result = std::variant<message, decode_error>;

/// Protocol versions the server speaks.
enum class protocol_version { v1 = 0, v2 = 1 };

constexpr std::size_t protocol_version_count = 2;

class serializer {
public:
  virtual ~serializer() = default;

  virtual protocol_version version() const = 0;

  /// Decodes one client frame (text or binary); its JSON payload may be at
  /// most `max_payload_depth` deep.
  decode_result decode(std::string_view data, bool binary) const {
    return decode(data, binary, max_payload_depth);
  }

  /// Decodes a frame whose JSON payload may be `payload_depth` deep (at
  /// most json_max_depth - 1, the frame's own level). fenix::client reads
  /// server frames with json_max_depth - 1.
  virtual decode_result decode(std::string_view data, bool binary,
                               std::size_t payload_depth) const = 0;

  /// Encodes a message with the given refs. A binary payload becomes a V2
  /// binary push (join_ref set, ref null) or broadcast (both refs null).
  virtual frame encode(const opt_string& join_ref, const opt_string& ref,
                       std::string_view topic, std::string_view event,
                       const payload& p) const = 0;

  /// Like encode, with a payload that is JSON text already (rendered once
  /// and shared, e.g. a presence_state): it is copied in, not re-parsed.
  virtual frame encode_json_text(const opt_string& join_ref,
                                 const opt_string& ref, std::string_view topic,
                                 std::string_view event,
                                 std::string_view payload_json) const = 0;

  /// A reply: `[join_ref, ref, topic, "phx_reply", {status, response}]`.
  virtual frame encode_reply(const opt_string& join_ref, const opt_string& ref,
                             std::string_view topic, reply_status status,
                             const payload& response) const = 0;

  /// A push from a channel: `[join_ref, null, topic, event, payload]`.
  frame encode_push(const opt_string& join_ref, std::string_view topic,
                    std::string_view event, const payload& p) const {
    return encode(join_ref, std::nullopt, topic, event, p);
  }

  /// A broadcast (fastlane): `[null, null, topic, event, payload]`.
  frame encode_broadcast(std::string_view topic, std::string_view event,
                         const payload& p) const {
    return encode(std::nullopt, std::nullopt, topic, event, p);
  }

  /// A control message with `ref == join_ref` (phx_close, phx_error).
  frame encode_control(const std::string& join_ref, std::string_view topic,
                       std::string_view event, const payload& p) const {
    return encode(join_ref, join_ref, topic, event, p);
  }
};

/// The serializer for a `vsn` query value, or nullptr if it is refused.
/// Pass "" for a missing vsn (it means "1.0.0"); only versions matching
/// "~> 1.0.0" or "~> 2.0.0" under Elixir's Version rules are accepted.
const serializer* negotiate(std::string_view vsn);

/// The shared instance of each version.
const serializer& serializer_for(protocol_version v);

}  // namespace fenix::protocol
