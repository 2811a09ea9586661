/// Internal: the V2 binary frame layout (protocol doc section 2.3). Every
/// field length is one byte, so each field is at most 255 bytes.
#pragma once

#include <string>
#include <string_view>

#include "fenix/protocol/serializer.hpp"

namespace fenix::protocol::v2_binary {

enum kind : unsigned char { push = 0, reply = 1, broadcast = 2 };

/// Decodes a client push (kind 0); any other kind is an error.
decode_result decode(std::string_view data);

/// Decodes a server frame (what a client reads): a push (kind 0), a reply
/// (kind 1: event "phx_reply", the bytes as payload and its status in
/// `payload.json()` as `{"status": ...}`) or a broadcast (kind 2).
decode_result decode_server(std::string_view data);

/// Encodes a client push (kind 0 with a ref; empty refs stand for null).
std::string encode_client_push(std::string_view join_ref, std::string_view ref,
                               std::string_view topic, std::string_view event,
                               std::string_view data);

/// Encodes a server push (kind 0, no ref).
std::string encode_push(std::string_view join_ref, std::string_view topic,
                        std::string_view event, std::string_view data);

/// Encodes a reply (kind 1).
std::string encode_reply(std::string_view join_ref, std::string_view ref,
                         std::string_view topic, std::string_view status,
                         std::string_view data);

/// Encodes a broadcast (kind 2).
std::string encode_broadcast(std::string_view topic, std::string_view event,
                             std::string_view data);

}  // namespace fenix::protocol::v2_binary
