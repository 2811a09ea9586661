/// The chat app's channel, "room:NAME" (docs/apps.md "Chat"): join replies
/// with the last 50 messages and tracks the user in presence; `new_msg` is
/// stored and broadcast; `typing` updates the user's presence meta.
#pragma once

#include <caf/actor.hpp>
#include <caf/behavior.hpp>

#include "fenix/channel.hpp"

namespace fenix::apps::chat {

/// The behavior of one room channel; `store` is the room store actor.
caf::behavior room_channel(fenix::channel* self, caf::actor store);

/// True for room names of 1-32 characters of [a-z0-9_-].
bool valid_room(const std::string& name);

/// The body of a new_msg if it is valid: a string, non-empty after
/// trimming, at most 2000 characters (code points).
std::optional<std::string> valid_body(const fenix::payload& p);

}  // namespace fenix::apps::chat
