/// Presence causal-context primitives: replica ids, dots, counter sets and
/// version vectors. Plain data, no CAF and no Asio; used by
/// `presence::state` (actors/presence_state.hpp) and its deltas.
///
///   using namespace fenix::presence;
///   replica_id a{"node-a", 1700000000000001};
///   counter_set cs;
///   cs.insert(1); cs.insert(3);          // prefix 1, cloud {3}
///   cs.insert(2);                        // compacts to [1,3], prefix 3
///   version_vector vv;
///   vv.set(a, cs.prefix());              // vv[a] == 3
///   auto back = version_vector::from_json(vv.to_json());  // == vv
///
/// A replica is one incarnation of a node: a restarted node picks a new,
/// larger `incarnation` and is a different replica. Each replica numbers its
/// own events 1, 2, 3, ...; a `dot` names one event globally.
///
/// `counter_set` holds the event counters of one replica that are known, as
/// disjoint intervals. Its contiguous prefix [1, n] is that replica's entry in
/// the version vector; the other intervals are the "cloud" of events received
/// out of order. Adjacent intervals merge on insertion, so the cloud is
/// compacted as soon as a gap is filled.
///
/// JSON: a replica is `["node", incarnation]`; a version vector is
/// `[["node", incarnation, counter], ...]`. `from_json` returns nullopt on
/// malformed input instead of throwing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <boost/json.hpp>

namespace fenix::presence {

/// One incarnation of a node.
struct replica_id {
  std::string node;
  std::uint64_t incarnation = 0;
};

bool operator==(const replica_id& x, const replica_id& y);
bool operator!=(const replica_id& x, const replica_id& y);
bool operator<(const replica_id& x, const replica_id& y);

/// One event of one replica: the tag of a presence entry or of a removal.
struct dot {
  replica_id replica;
  std::uint64_t counter = 0;
};

bool operator==(const dot& x, const dot& y);
bool operator!=(const dot& x, const dot& y);
bool operator<(const dot& x, const dot& y);

/// A set of counters (>= 1) of one replica, stored as disjoint intervals.
class counter_set {
public:
  /// Interval start -> interval end (both inclusive).
  using interval_map = std::map<std::uint64_t, std::uint64_t>;

  bool empty() const { return ranges_.empty(); }

  bool contains(std::uint64_t n) const;

  /// Inserts `n` (must be >= 1).
  void insert(std::uint64_t n) { insert(n, n); }

  /// Inserts [lo, hi]; requires 1 <= lo <= hi.
  void insert(std::uint64_t lo, std::uint64_t hi);

  /// Inserts every counter of `other`.
  void insert(const counter_set& other);

  /// The largest n such that 1..n are all present (0 if 1 is absent).
  std::uint64_t prefix() const;

  /// The counters greater than `n`.
  counter_set above(std::uint64_t n) const;

  /// Number of intervals not starting at 1 (the out-of-order cloud).
  std::size_t cloud_intervals() const;

  const interval_map& intervals() const { return ranges_; }

  friend bool operator==(const counter_set& x, const counter_set& y) {
    return x.ranges_ == y.ranges_;
  }

private:
  interval_map ranges_;
};

/// Replica -> highest counter n such that events 1..n are all known.
class version_vector {
public:
  using map_type = std::map<replica_id, std::uint64_t>;

  /// The counter for `r` (0 if unknown).
  std::uint64_t get(const replica_id& r) const;

  /// Sets the counter for `r`; 0 erases it.
  void set(const replica_id& r, std::uint64_t n);

  /// Whether this is pointwise >= `other` (knows everything it knows).
  bool covers(const version_vector& other) const;

  /// Pointwise maximum.
  void join(const version_vector& other);

  /// Pointwise minimum (a replica missing on either side counts as 0).
  static version_vector meet(const version_vector& x, const version_vector& y);

  bool empty() const { return counters_.empty(); }

  const map_type& counters() const { return counters_; }

  boost::json::value to_json() const;

  static std::optional<version_vector> from_json(const boost::json::value& v);

  friend bool operator==(const version_vector& x, const version_vector& y) {
    return x.counters_ == y.counters_;
  }

  friend bool operator!=(const version_vector& x, const version_vector& y) {
    return !(x == y);
  }

private:
  map_type counters_;
};

// -- JSON helpers shared by the presence sources -----------------------------

boost::json::value replica_to_json(const replica_id& r);

std::optional<replica_id> replica_from_json(const boost::json::value& v);

/// Reads a non-negative integer (int64 >= 0 or uint64).
std::optional<std::uint64_t> u64_from_json(const boost::json::value& v);

}  // namespace fenix::presence

namespace std {

template <>
struct hash<fenix::presence::replica_id> {
  std::size_t operator()(const fenix::presence::replica_id& r) const noexcept {
    auto h = std::hash<std::string>{}(r.node);
    auto i = std::hash<std::uint64_t>{}(r.incarnation);
    return h ^ (i + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

}  // namespace std
