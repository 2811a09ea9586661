#include "bench/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace fenix::bench {

namespace json = boost::json;

namespace {

constexpr std::uint64_t linear = std::uint64_t{1} << histogram::sub_bucket_bits;
constexpr std::uint64_t half = linear / 2;

int log2_floor(std::uint64_t v) {
  return 63 - __builtin_clzll(v);
}

}  // namespace

std::size_t histogram::index_of(std::uint64_t value) {
  if (value < linear)
    return static_cast<std::size_t>(value);
  int e = log2_floor(value);              // >= sub_bucket_bits
  int shift = e - (sub_bucket_bits - 1);  // mantissa in [half, linear)
  auto mantissa = value >> shift;
  return static_cast<std::size_t>(
    linear + static_cast<std::uint64_t>(e - sub_bucket_bits) * half
    + (mantissa - half));
}

std::uint64_t histogram::lowest_of(std::size_t index) {
  if (index < linear)
    return index;
  auto k = index - linear;
  int e = sub_bucket_bits + static_cast<int>(k / half);
  auto mantissa = half + k % half;
  return mantissa << (e - (sub_bucket_bits - 1));
}

std::uint64_t histogram::highest_of(std::size_t index) {
  if (index < linear)
    return index;
  auto k = index - linear;
  int e = sub_bucket_bits + static_cast<int>(k / half);
  auto width = std::uint64_t{1} << (e - (sub_bucket_bits - 1));
  return lowest_of(index) + (width - 1);
}

void histogram::record(std::uint64_t value, std::uint64_t n) {
  if (n == 0)
    return;
  auto i = index_of(value);
  if (i >= counts_.size())
    counts_.resize(i + 1, 0);
  counts_[i] += n;
  count_ += n;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value) * static_cast<double>(n);
}

void histogram::merge(const histogram& other) {
  if (other.count_ == 0)
    return;
  if (other.counts_.size() > counts_.size())
    counts_.resize(other.counts_.size(), 0);
  for (std::size_t i = 0; i < other.counts_.size(); ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double histogram::mean() const {
  return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_);
}

std::uint64_t histogram::percentile(double p) const {
  if (count_ == 0)
    return 0;
  p = std::clamp(p, 0.0, 100.0);
  auto rank = static_cast<std::uint64_t>(
    std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank)
      return std::clamp(highest_of(i), min_, max_);
  }
  return max_;
}

json::object histogram::to_json() const {
  json::array buckets;
  for (std::size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i] != 0)
      buckets.push_back(json::array{i, counts_[i]});
  return json::object{{"count", count_},
                      {"min", min()},
                      {"max", max_},
                      {"sum", sum_},
                      {"buckets", std::move(buckets)}};
}

histogram histogram::from_json(const json::value& v) try {
  auto fail = [] { throw std::invalid_argument("histogram: malformed JSON"); };
  auto* o = v.if_object();
  if (!o)
    fail();
  auto* buckets = o->if_contains("buckets");
  if (!buckets || !buckets->is_array())
    fail();
  histogram h;
  for (auto& b : buckets->get_array()) {
    auto* pair = b.if_array();
    if (!pair || pair->size() != 2)
      fail();
    auto i = (*pair)[0].to_number<std::uint64_t>();
    auto n = (*pair)[1].to_number<std::uint64_t>();
    if (i > index_of(std::numeric_limits<std::uint64_t>::max()))
      fail();
    if (i >= h.counts_.size())
      h.counts_.resize(i + 1, 0);
    h.counts_[i] += n;
    h.count_ += n;
  }
  if (h.count_ != 0) {
    h.min_ = o->at("min").to_number<std::uint64_t>();
    h.max_ = o->at("max").to_number<std::uint64_t>();
    h.sum_ = o->at("sum").to_number<double>();
  }
  return h;
} catch (const std::invalid_argument&) {
  throw;
} catch (const std::exception& e) {  // wrong types, missing fields
  throw std::invalid_argument(std::string{"histogram: malformed JSON: "}
                              + e.what());
}

}  // namespace fenix::bench
