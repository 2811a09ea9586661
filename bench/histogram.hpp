/// A log-bucketed histogram in the manner of HdrHistogram: a value falls
/// into a bucket whose width grows with the value, so any percentile is
/// reported within 1/128 (0.8%) of the truth from 1 to 2^64, in at most
/// 7,424 counters (kept sparse on the wire).
///
///   fenix::bench::histogram h;
///   h.record(1'500'000);                 // e.g. 1.5 ms in nanoseconds
///   total.merge(h);                      // adds counts: exact, no averaging
///   auto p99 = total.percentile(99.0);   // highest value equivalent to p99
///   auto j = total.to_json();            // reversible: from_json(j)
///
/// Histograms merge by adding bucket counts, which is how the coordinator
/// combines the latencies of its workers: percentiles of the merged
/// histogram are those of all the values recorded by every worker.
///
/// Layout: values below 256 have a bucket each; above, every power of two
/// [2^e, 2^(e+1)) is split into 128 equal buckets.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace fenix::bench {

class histogram {
public:
  /// Values below 2^sub_bucket_bits are exact.
  static constexpr int sub_bucket_bits = 8;

  /// Adds `n` occurrences of `value`.
  void record(std::uint64_t value, std::uint64_t n = 1);

  /// Adds every count of `other` to this one.
  void merge(const histogram& other);

  std::uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }

  /// Exact smallest and largest values recorded (0 when empty).
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }

  /// Exact mean (0 when empty).
  double mean() const;

  /// The value at percentile `p` (0-100): the highest value of the bucket
  /// holding the rank, clamped to [min, max]. 0 when empty.
  std::uint64_t percentile(double p) const;

  /// `{"count","min","max","sum","buckets":[[index,count],...]}`.
  boost::json::object to_json() const;

  /// The inverse of to_json; throws std::invalid_argument on bad input.
  static histogram from_json(const boost::json::value& v);

  // -- layout (public for tests) ----------------------------------------------

  static std::size_t index_of(std::uint64_t value);
  static std::uint64_t lowest_of(std::size_t index);
  static std::uint64_t highest_of(std::size_t index);

private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace fenix::bench
