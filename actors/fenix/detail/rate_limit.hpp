/// Internal: token buckets for the rate limits of endpoint_options, and the
/// per-peer-address table for new connections.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace fenix::detail {

using rate_clock = std::chrono::steady_clock;

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
/// rate <= 0 means unlimited.
class token_bucket {
public:
  token_bucket() = default;
  token_bucket(double rate, double burst)
    : rate_(rate),
      burst_(burst),
      tokens_(burst) {}

  /// Takes one token if there is one.
  bool take(rate_clock::time_point now) {
    if (rate_ <= 0)
      return true;
    refill(now);
    if (tokens_ < 1.0)
      return false;
    tokens_ -= 1.0;
    return true;
  }

  /// Whether the bucket is full again (its entry can be forgotten).
  bool full(rate_clock::time_point now) {
    refill(now);
    return tokens_ >= burst_;
  }

private:
  void refill(rate_clock::time_point now) {
    if (last_ != rate_clock::time_point{}) {
      std::chrono::duration<double> dt = now - last_;
      tokens_ = std::min(burst_, tokens_ + dt.count() * rate_);
    }
    last_ = now;
  }

  double rate_ = 0;
  double burst_ = 0;
  double tokens_ = 0;
  rate_clock::time_point last_{};
};

/// New connections per peer address (any thread). The table is bounded:
/// when it is full, entries whose bucket refilled are dropped (one sweep
/// a second at most, so a full table costs no scan per connect); until
/// then a new address is admitted without an entry (a flood from more
/// addresses than the table holds is not a per-address flood).
class address_limiter {
public:
  address_limiter(double rate, double burst, std::size_t max_entries)
    : rate_(rate),
      burst_(burst),
      max_entries_(max_entries) {}

  bool admit(const std::string& address) {
    if (rate_ <= 0)
      return true;
    auto now = rate_clock::now();
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = table_.find(address);
    if (i == table_.end()) {
      if (table_.size() >= max_entries_ && !evict(now))
        return true;
      i = table_.emplace(address, token_bucket{rate_, burst_}).first;
    }
    return i->second.take(now);
  }

private:
  bool evict(rate_clock::time_point now) {
    if (now - last_sweep_ < std::chrono::seconds(1))
      return false;
    last_sweep_ = now;
    auto before = table_.size();
    for (auto i = table_.begin(); i != table_.end();)
      i = i->second.full(now) ? table_.erase(i) : std::next(i);
    return table_.size() < before;
  }

  double rate_;
  double burst_;
  std::size_t max_entries_;
  std::mutex mtx_;
  std::unordered_map<std::string, token_bucket> table_;
  rate_clock::time_point last_sweep_{};
};

}  // namespace fenix::detail
