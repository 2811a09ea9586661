/// The chat app's channel, "room:NAME" (docs/apps.md "Chat"): join replies
/// with the last 50 messages and tracks the user in presence; `new_msg` is
/// stored and broadcast; `typing` updates the user's presence meta.
#pragma once

#include <caf/actor.hpp>
#include <caf/behavior.hpp>

#include "fenix/channel.hpp"

namespace fenix::apps::chat {

/// A room channel's state: the user as presence shows them.
struct room_member {
  std::string user;
  std::int64_t online_at = 0;
  bool typing = false;

  /// The presence meta: {"online_at", "typing"}.
  json::object meta() const;
};

/// A room channel actor.
using room_channel_actor = fenix::stateful_channel<room_member>;

/// The behavior of one room channel; `store` is the room store actor.
caf::behavior room_channel(room_channel_actor* self, caf::actor store);

/// True for room names of 1-32 characters of [a-z0-9_-].
bool valid_room(const std::string& name);

/// The body of a new_msg if it is valid: a string, non-empty after
/// trimming, at most 2000 characters (code points).
std::optional<std::string> valid_body(const fenix::payload& p);

}  // namespace fenix::apps::chat
