#include "fenix/presence/clock.hpp"

#include <algorithm>
#include <iterator>
#include <tuple>

namespace fenix::presence {

// -- replica_id and dot ------------------------------------------------------

bool operator==(const replica_id& x, const replica_id& y) {
  return x.incarnation == y.incarnation && x.node == y.node;
}

bool operator!=(const replica_id& x, const replica_id& y) {
  return !(x == y);
}

bool operator<(const replica_id& x, const replica_id& y) {
  return std::tie(x.node, x.incarnation) < std::tie(y.node, y.incarnation);
}

bool operator==(const dot& x, const dot& y) {
  return x.counter == y.counter && x.replica == y.replica;
}

bool operator!=(const dot& x, const dot& y) {
  return !(x == y);
}

bool operator<(const dot& x, const dot& y) {
  return std::tie(x.replica, x.counter) < std::tie(y.replica, y.counter);
}

// -- counter_set -------------------------------------------------------------

bool counter_set::contains(std::uint64_t n) const {
  auto i = ranges_.upper_bound(n);
  if (i == ranges_.begin())
    return false;
  return std::prev(i)->second >= n;
}

void counter_set::insert(std::uint64_t lo, std::uint64_t hi) {
  // Start at the last interval beginning at or before `lo` if it touches
  // [lo, hi], then swallow every interval that overlaps or is adjacent.
  // Comparisons are written as `a - 1 <= b` (a >= 1) to avoid overflow.
  auto i = ranges_.upper_bound(lo);
  if (i != ranges_.begin()) {
    auto p = std::prev(i);
    if (p->second >= lo - 1)
      i = p;
  }
  auto new_lo = lo;
  auto new_hi = hi;
  while (i != ranges_.end() && i->first - 1 <= hi) {
    new_lo = std::min(new_lo, i->first);
    new_hi = std::max(new_hi, i->second);
    i = ranges_.erase(i);
  }
  ranges_.emplace(new_lo, new_hi);
}

void counter_set::insert(const counter_set& other) {
  for (auto& [lo, hi] : other.ranges_)
    insert(lo, hi);
}

std::uint64_t counter_set::prefix() const {
  if (ranges_.empty() || ranges_.begin()->first != 1)
    return 0;
  return ranges_.begin()->second;
}

counter_set counter_set::above(std::uint64_t n) const {
  counter_set result;
  auto i = ranges_.upper_bound(n);  // first interval starting after n
  if (i != ranges_.begin()) {
    auto p = std::prev(i);  // starts at or before n, may straddle it
    if (p->second > n)
      result.ranges_.emplace(n + 1, p->second);
  }
  for (; i != ranges_.end(); ++i)
    result.ranges_.emplace(i->first, i->second);
  return result;
}

std::size_t counter_set::cloud_intervals() const {
  return ranges_.size() - (prefix() > 0 ? 1 : 0);
}

// -- version_vector ----------------------------------------------------------

std::uint64_t version_vector::get(const replica_id& r) const {
  auto i = counters_.find(r);
  return i == counters_.end() ? 0 : i->second;
}

void version_vector::set(const replica_id& r, std::uint64_t n) {
  if (n == 0)
    counters_.erase(r);
  else
    counters_[r] = n;
}

bool version_vector::covers(const version_vector& other) const {
  return std::all_of(other.counters_.begin(), other.counters_.end(),
                     [this](auto& kv) { return get(kv.first) >= kv.second; });
}

void version_vector::join(const version_vector& other) {
  for (auto& [r, n] : other.counters_)
    if (n > get(r))
      counters_[r] = n;
}

version_vector version_vector::meet(const version_vector& x,
                                    const version_vector& y) {
  version_vector result;
  for (auto& [r, n] : x.counters_)
    result.set(r, std::min(n, y.get(r)));
  return result;
}

boost::json::value version_vector::to_json() const {
  boost::json::array result;
  result.reserve(counters_.size());
  for (auto& [r, n] : counters_)
    result.emplace_back(boost::json::array{r.node, r.incarnation, n});
  return result;
}

std::optional<version_vector>
version_vector::from_json(const boost::json::value& v) {
  auto arr = v.if_array();
  if (arr == nullptr)
    return std::nullopt;
  version_vector result;
  for (auto& item : *arr) {
    auto triple = item.if_array();
    if (triple == nullptr || triple->size() != 3)
      return std::nullopt;
    auto node = (*triple)[0].if_string();
    auto inc = u64_from_json((*triple)[1]);
    auto n = u64_from_json((*triple)[2]);
    if (node == nullptr || !inc || !n)
      return std::nullopt;
    replica_id r{std::string{node->data(), node->size()}, *inc};
    result.set(r, std::max(*n, result.get(r)));
  }
  return result;
}

// -- JSON helpers ------------------------------------------------------------

boost::json::value replica_to_json(const replica_id& r) {
  return boost::json::array{r.node, r.incarnation};
}

std::optional<replica_id> replica_from_json(const boost::json::value& v) {
  auto arr = v.if_array();
  if (arr == nullptr || arr->size() != 2)
    return std::nullopt;
  auto node = (*arr)[0].if_string();
  auto inc = u64_from_json((*arr)[1]);
  if (node == nullptr || !inc)
    return std::nullopt;
  return replica_id{std::string{node->data(), node->size()}, *inc};
}

std::optional<std::uint64_t> u64_from_json(const boost::json::value& v) {
  if (auto u = v.if_uint64())
    return *u;
  if (auto i = v.if_int64(); i != nullptr && *i >= 0)
    return static_cast<std::uint64_t>(*i);
  return std::nullopt;
}

}  // namespace fenix::presence
