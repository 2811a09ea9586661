/// A presence delta: the part of a `presence::state` one replica ships to
/// another (gossip, catch-up transfer or full state). Plain data, no CAF and
/// no Asio; see actors/presence_state.hpp for how deltas are made and merged.
///
///   fenix::presence::delta d = a.take_pending_delta();   // on replica a
///   auto bytes = boost::json::serialize(d.to_json());    // ship it
///   auto back = fenix::presence::delta::from_json(boost::json::parse(bytes));
///   if (back)
///     b.merge(*back);                                    // on replica b
///
/// How it works: a delta is split into one `delta_slice` per replica. A slice
/// carries a causal context (the event counters of that replica it speaks
/// for), the entries among those counters that are still alive, and the
/// removal records (removal event -> removed entry counter) it knows of. A
/// counter in `context` but absent from `values` is dead: the receiver drops
/// its entry with that dot. Every removal event in `context` comes with its
/// record and its target is in `context` too, unless the slice's `floor` says
/// that records up to that counter were pruned (the receiver then knows it
/// cannot forward them).
///
/// JSON:
///   {"slices":[{"replica":["node",inc],
///               "context":[[lo,hi],...], "floor":n,
///               "values":[[counter,"topic","key",owner,{meta}],...],
///               "removals":[[event,target],...]}, ...]}
/// `from_json` returns nullopt on malformed input instead of throwing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "fenix/presence/clock.hpp"

namespace fenix::presence {

/// An entry inside a slice (its replica is the slice's).
struct delta_value {
  std::uint64_t counter = 0;
  std::string topic;
  std::string key;
  std::uint64_t owner = 0;
  boost::json::object meta;
};

/// Removal event `event` removed the entry tagged `target` (same replica).
struct removal {
  std::uint64_t event = 0;
  std::uint64_t target = 0;
};

/// What a delta says about one replica.
struct delta_slice {
  counter_set context;              // counters this slice speaks for
  std::uint64_t floor = 0;          // records for events <= floor may be absent
  std::vector<delta_value> values;  // live entries, ascending counter
  std::vector<removal> removals;    // ascending event
};

struct delta {
  std::map<replica_id, delta_slice> slices;

  bool empty() const { return slices.empty(); }

  /// Number of entries carried (all slices).
  std::size_t value_count() const;

  boost::json::value to_json() const;

  static std::optional<delta> from_json(const boost::json::value& v);
};

}  // namespace fenix::presence
