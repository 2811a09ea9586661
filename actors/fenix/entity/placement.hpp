/// Internal: the pure parts of entity placement (no CAF): rendezvous
/// hashing, quorum and lease arithmetic, and the bounded buffer of
/// messages waiting for a key. Used by the entity router; tested alone.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace fenix::entity_placement {

using clock_type = std::chrono::steady_clock;

/// The score of `node` for `key`: FNV-1a over both, then a 64-bit mixer
/// (the same on every node and build, unlike std::hash).
inline std::uint64_t score(std::string_view node, std::string_view key) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto feed = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  };
  feed(node);
  h ^= 0xff;  // separator: ("ab","c") and ("a","bc") differ
  h *= 0x100000001b3ull;
  feed(key);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

/// The member with the highest score for `key` (ties: the smaller
/// address); "" when there are no members.
inline std::string owner(const std::vector<std::string>& members,
                         std::string_view key) {
  const std::string* best = nullptr;
  std::uint64_t best_score = 0;
  for (auto& m : members) {
    auto s = score(m, key);
    if (!best || s > best_score || (s == best_score && m < *best)) {
      best = &m;
      best_score = s;
    }
  }
  return best ? *best : std::string{};
}

/// Members needed for a majority of `known` (this node included).
inline std::size_t quorum(std::size_t known) {
  return known / 2 + 1;
}

/// Until when this node holds its lease: `acks` are the send times of the
/// latest ping each peer answered; a majority of `known` (this node counts
/// itself) must have answered a ping sent within `lease`. time_point::max()
/// when this node alone is a majority, min() when it has no majority.
inline clock_type::time_point
lease_until(std::vector<clock_type::time_point> acks, std::size_t known,
            clock_type::duration lease) {
  auto need = quorum(known) - 1;
  if (need == 0)
    return clock_type::time_point::max();
  if (acks.size() < need)
    return clock_type::time_point::min();
  std::sort(acks.begin(), acks.end(), std::greater<>{});
  return acks[need - 1] + lease;
}

/// Items waiting per key, bounded per key and in total, each with a
/// deadline.
template <class T>
class buffer {
public:
  struct entry {
    T item;
    clock_type::time_point deadline;
  };

  buffer(std::size_t per_key, std::size_t total)
    : per_key_(per_key),
      total_(total) {}

  /// False (and `item` untouched) when the key's or the total bound is hit.
  bool push(const std::string& key, T& item, clock_type::time_point deadline) {
    if (size_ >= total_)
      return false;
    auto& q = queues_[key];
    if (q.size() >= per_key_) {
      if (q.empty())
        queues_.erase(key);
      return false;
    }
    q.push_back(entry{std::move(item), deadline});
    ++size_;
    return true;
  }

  /// Removes and returns everything waiting for `key`, oldest first.
  std::deque<entry> take(const std::string& key) {
    auto i = queues_.find(key);
    if (i == queues_.end())
      return {};
    auto out = std::move(i->second);
    queues_.erase(i);
    size_ -= out.size();
    return out;
  }

  /// Removes and returns the items whose deadline is before `now`.
  std::vector<T> expire(clock_type::time_point now) {
    std::vector<T> out;
    for (auto i = queues_.begin(); i != queues_.end();) {
      auto& q = i->second;
      while (!q.empty() && q.front().deadline <= now) {
        out.push_back(std::move(q.front().item));
        q.pop_front();
        --size_;
      }
      i = q.empty() ? queues_.erase(i) : std::next(i);
    }
    return out;
  }

  /// The keys with something waiting.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (auto& kv : queues_)
      out.push_back(kv.first);
    return out;
  }

  std::size_t size() const { return size_; }
  std::size_t size(const std::string& key) const {
    auto i = queues_.find(key);
    return i == queues_.end() ? 0 : i->second.size();
  }

private:
  std::size_t per_key_;
  std::size_t total_;
  std::size_t size_ = 0;
  std::map<std::string, std::deque<entry>> queues_;
};

}  // namespace fenix::entity_placement
