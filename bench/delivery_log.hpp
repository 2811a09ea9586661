/// What a set of receivers got from a set of publishers: every
/// (receiver, publisher, sequence number) seen once, so a second copy is a
/// duplicate and a number lower than one seen before is out of order;
/// what never arrived is a loss (published x receivers - delivered).
///
///   delivery_log log{/*receivers=*/1000, /*publishers=*/4};
///   log.record(receiver, pub, seq, sent_ns, now_ns);   // each receipt
///   log.delivered();  log.duplicates();  log.latency();
///   log.last_latency(pub)[seq];   // the message's slowest receipt here
///
/// Not thread-safe: the benchmark calls it from its io thread, under a
/// mutex that the reporting thread also takes.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/histogram.hpp"

namespace fenix::bench {

class delivery_log {
public:
  delivery_log(std::size_t receivers, std::size_t publishers);

  /// One receipt. Unknown receivers or publishers are counted as foreign.
  void record(std::size_t receiver, std::uint64_t pub, std::uint64_t seq,
              std::int64_t sent_ns, std::int64_t now_ns);

  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t duplicates() const { return duplicates_; }
  std::uint64_t reordered() const { return reordered_; }
  std::uint64_t foreign() const { return foreign_; }
  std::int64_t last_receipt_ns() const { return last_receipt_ns_; }

  /// Publish-to-receipt latency of every first receipt, ns.
  const histogram& latency() const { return latency_; }

  /// Per message of `pub`: the latency of its slowest receipt (0: none).
  const std::vector<std::uint64_t>& last_latency(std::uint64_t pub) const {
    return last_latency_[pub];
  }

  std::size_t publishers() const { return publishers_; }

private:
  struct seen {
    std::vector<std::uint64_t> bits;  // bit seq: received
    std::uint64_t highest = 0;        // highest seq + 1
  };

  std::size_t receivers_;
  std::size_t publishers_;
  std::vector<seen> seen_;  // receivers x publishers
  std::vector<std::vector<std::uint64_t>> last_latency_;
  histogram latency_;
  std::uint64_t delivered_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t reordered_ = 0;
  std::uint64_t foreign_ = 0;
  std::int64_t last_receipt_ns_ = 0;
};

}  // namespace fenix::bench
