/// Internal: the socket actor, one per WebSocket connection. It decodes
/// frames with the negotiated serializer, answers heartbeats, routes by
/// topic (protocol doc section 3), and owns its channel actors: they are
/// linked to it, so the connection closing ends every channel.
///
/// Who writes what: the socket writes heartbeat replies, "unmatched topic",
/// "too many channels joined", "join crashed", phx_error after a crash and
/// the phx_close of a duplicate join; a channel writes its own join reply,
/// replies, pushes and the phx_close of a leave or stop.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <caf/actor.hpp>

#include "fenix/endpoint.hpp"
#include "fenix/types.hpp"
#include "fenix/protocol/serializer.hpp"

namespace fenix::detail {
struct endpoint_context;
}  // namespace fenix::detail

namespace fenix::socket {

/// What the connect callback decided, carried into the socket actor.
struct socket_init {
  std::shared_ptr<detail::endpoint_context> ctx;
  const serializer* ser = nullptr;
  json::object assigns;
  std::string id;  // socket id ("users_socket:42"), or empty
  std::optional<std::chrono::system_clock::time_point> expiry;  // token's
  std::shared_ptr<const connect_info> info;  // for access_token refreshes
};

/// Spawns a socket actor; send it (open_atom, connection_ptr), then
/// (frame_atom, std::string, bool binary) per frame and (closed_atom).
caf::actor spawn_socket(caf::actor_system& sys, socket_init init);

}  // namespace fenix::socket

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<fenix::socket::socket_init>)
