/// Internal: a topic's stream as a PubSub shard keeps it (history_options
/// in pubsub.hpp): the epoch, the last offset and the retained broadcasts.
///
///   stream s{opts, now};               // fresh: random epoch, offset 0
///   auto b2 = s.record(b, now);        // b with the next offset
///   s.trim(now);                       // drops what is too old
///   if (s.can_serve(since)) for (auto& e : s.after(since.offset)) ...
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "fenix/pubsub.hpp"

namespace fenix::detail {

using stream_clock = std::chrono::system_clock;

/// A fresh epoch: 16 bytes from OpenSSL's CSPRNG as 32 hex characters.
/// Throws std::runtime_error if the generator fails.
std::string random_epoch();

class stream {
public:
  stream(std::shared_ptr<const history_options> opts,
         stream_clock::time_point now);

  /// Starts from `seed` instead (epoch, offset, retained broadcasts).
  stream(std::shared_ptr<const history_options> opts, const stream_seed& seed,
         stream_clock::time_point now);

  /// Gives `b` the next offset (and writes it into the payload at
  /// opts.offset_key), retains it and returns the copy to deliver.
  broadcast_ptr record(const broadcast_ptr& b, stream_clock::time_point now);

  /// Drops retained broadcasts older than max_age.
  void trim(stream_clock::time_point now);

  /// True if every broadcast after `since` is retained (same epoch).
  bool can_serve(const stream_position& since) const;

  /// The retained broadcasts with an offset above `offset`, in order.
  std::vector<broadcast_ptr> after(std::uint64_t offset) const;

  stream_position position() const { return {epoch_, offset_}; }
  bool empty() const { return entries_.empty(); }
  stream_clock::time_point last_active() const { return last_active_; }
  const history_options& options() const { return *opts_; }

private:
  void keep(stream_entry e);

  std::shared_ptr<const history_options> opts_;
  std::string epoch_;
  std::uint64_t offset_ = 0;
  std::deque<stream_entry> entries_;
  stream_clock::time_point last_active_;
};

}  // namespace fenix::detail
