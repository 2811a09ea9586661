/// Phoenix Presence `fetch/2`: a user function, registered per topic
/// pattern, that enriches a topic's presence map before it leaves the
/// tracker: in `presence_state`, in both halves of `presence_diff` (joins
/// and leaves, each called separately) and in presence lists.
///
///   ep.presence_fetch("room:*", [names](const std::string& topic,
///                                       fenix::json::object& presences) {
///     for (auto& [key, entry] : presences)    // {"alice": {"metas": [...]}}
///       entry.as_object()["user"] = {{"name", names->lookup(key)}};
///   });
///
/// The map is Phoenix's shape, `{key: {"metas": [meta, ...]}}`; the hook
/// may add fields next to "metas" (Phoenix's convention) or change metas.
/// It runs in the topic's tracker shard, once per rendering (one per
/// batching window, shared by every joiner), so it must be quick and must
/// not block: look names up in memory, not in a database per call. A hook
/// that throws is logged (rate-limited) and the map goes out as it was.
/// Topics without a hook take the usual path (no tree is built for
/// presence_state), so the hook costs nothing where it is not set.
#pragma once

#include <functional>
#include <string>

#include "fenix/types.hpp"

namespace fenix {

/// Enriches `presences` (the topic's map) in place.
using presence_fetch_fn =
  std::function<void(const std::string& topic, json::object& presences)>;

/// Internal: the hooks of a tracker (presence_tracker.cpp).
struct presence_fetch_table;

}  // namespace fenix
