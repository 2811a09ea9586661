/// Internal: what the entities object, its router and its entity actors
/// share (registered kinds, the ownership lease, counters). Not part of the
/// public API.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "fenix/entity.hpp"

namespace fenix::detail {

struct entity_shared {
  using clock_type = std::chrono::steady_clock;

  std::mutex mtx;  // guards `kinds` only; never held while sending
  std::vector<std::pair<std::string, entity_fn>> kinds;  // pattern, fn

  // steady_clock ticks until which this node holds its lease (max: no
  // cluster, or this node alone is a majority).
  std::atomic<clock_type::rep> lease_until{
    std::numeric_limits<clock_type::rep>::max()};

  std::atomic<std::uint64_t> activations{0};
  std::atomic<std::uint64_t> active{0};
  std::atomic<std::uint64_t> dropped{0};  // one-way messages not delivered

  /// The function for `key`, or an empty one.
  entity_fn find(const std::string& key) {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& [pattern, fn] : kinds)
      if (matches(pattern, key))
        return fn;
    return {};
  }

  /// "prefix*" matches every key with that prefix, anything else itself
  /// (as channel topic patterns).
  static bool matches(const std::string& pattern, const std::string& key) {
    if (!pattern.empty() && pattern.back() == '*')
      return key.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1)
             == 0;
    return key == pattern;
  }

  bool leased(clock_type::time_point now) const {
    return now.time_since_epoch().count() < lease_until.load();
  }
};

}  // namespace fenix::detail
