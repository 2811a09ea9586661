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

/// The behavior of one room channel; `registry` is the rooms' registry.
caf::behavior pointing_channel(fenix::channel* self, caf::actor registry);

/// True for room names of 1-32 characters of [a-z0-9_-].
bool valid_room(const std::string& name);

/// The title of a set_ticket if valid: a string of 1-200 characters.
std::optional<std::string> valid_title(const fenix::payload& p);

/// The points of a vote if valid: an integer among 0 1 2 3 5 8 13 21.
std::optional<int> valid_points(const fenix::payload& p);

}  // namespace fenix::apps::pointing
