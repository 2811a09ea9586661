/// The client's side of the V2 wire (vsn 2.0.0), the one codec that
/// fenix::client, the channel test kit and fenix-bench share with the
/// server's serializers:
///
///   auto r = protocol::decode_server_frame(data, binary);  // what a client reads
///   auto f = protocol::encode_client_binary("1", "3", topic, event, bytes);
///   protocol::reply_status_of(m);          // "ok", "error", "" (not a reply)
///
/// Text frames go out through serializer_for(protocol_version::v2).encode
/// (a client frame has the same layout as a server one).
#pragma once

#include <string>
#include <string_view>

#include "fenix/protocol/serializer.hpp"

namespace fenix::protocol {

/// Decodes a frame from the server: V2 JSON text (the payload may use the
/// whole nesting depth), or a binary push, reply or broadcast. A binary
/// reply has event "phx_reply", the bytes as payload and its status in
/// `payload.json()` as `{"status": "..."}`.
decode_result decode_server_frame(std::string_view data, bool binary);

/// A client binary push (kind 0): `join_ref` "" when not joined. Throws
/// std::length_error when a field is longer than 255 bytes.
std::string encode_client_binary(std::string_view join_ref,
                                 std::string_view ref, std::string_view topic,
                                 std::string_view event, std::string_view data);

/// The status of a phx_reply ("ok", "error", ...), "" for other messages.
std::string reply_status_of(const message& m);

}  // namespace fenix::protocol
