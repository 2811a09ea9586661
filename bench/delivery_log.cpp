#include "bench/delivery_log.hpp"

#include <algorithm>

namespace fenix::bench {

namespace {

// Sequence numbers beyond this are treated as garbage, not grown into.
constexpr std::uint64_t max_seq = std::uint64_t{1} << 32;

}  // namespace

delivery_log::delivery_log(std::size_t receivers, std::size_t publishers)
  : receivers_(receivers),
    publishers_(publishers),
    seen_(receivers * publishers),
    last_latency_(publishers) {}

void delivery_log::record(std::size_t receiver, std::uint64_t pub,
                          std::uint64_t seq, std::int64_t sent_ns,
                          std::int64_t now_ns) {
  if (receiver >= receivers_ || pub >= publishers_ || seq >= max_seq) {
    ++foreign_;
    return;
  }
  auto& s = seen_[receiver * publishers_ + pub];
  auto word = seq / 64;
  auto bit = std::uint64_t{1} << (seq % 64);
  if (word >= s.bits.size())
    s.bits.resize(std::max<std::size_t>(word + 1, s.bits.size() * 2), 0);
  if (s.bits[word] & bit) {
    ++duplicates_;
    return;
  }
  s.bits[word] |= bit;
  if (seq + 1 < s.highest)
    ++reordered_;
  s.highest = std::max(s.highest, seq + 1);
  ++delivered_;
  auto latency =
    static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_ns - sent_ns));
  latency_.record(latency);
  auto& last = last_latency_[pub];
  if (seq >= last.size())
    last.resize(std::max<std::size_t>(seq + 1, last.size() * 2), 0);
  last[seq] = std::max(last[seq], latency);
  last_receipt_ns_ = std::max(last_receipt_ns_, now_ns);
}

}  // namespace fenix::bench
