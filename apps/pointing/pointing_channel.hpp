/// The pointing app's channel, "room:NAME" (docs/apps.md "Pointing
/// party"): joins the room actor (rooms.hpp), tracks the user in presence
/// with a `state` meta the room sets, pushes what the room tells it, and
/// forwards set_ticket / vote / reveal to the room once they are valid.
#pragma once

#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>

#include "fenix/channel.hpp"

namespace fenix::apps::pointing {

/// A room channel's state: the member as presence shows them, and the
/// room actor once entered.
struct pointing_member {
  std::string user;
  std::int64_t online_at = 0;
  std::string state = "voting";  // the room sets it (state_atom)
  caf::actor room;

  /// The presence meta: {"online_at", "state"}.
  json::object meta() const;
};

/// A room channel actor.
using pointing_channel_actor = fenix::stateful_channel<pointing_member>;

/// The behavior of one room channel; `registry` is the rooms' registry.
caf::behavior pointing_channel(pointing_channel_actor* self,
                               caf::actor registry);

/// True for room names of 1-32 characters of [a-z0-9_-].
bool valid_room(const std::string& name);

/// The title of a set_ticket if valid: a string of 1-200 characters.
std::optional<std::string> valid_title(const fenix::payload& p);

/// The points of a vote if valid: an integer among 0 1 2 3 5 8 13 21.
std::optional<int> valid_points(const fenix::payload& p);

}  // namespace fenix::apps::pointing
