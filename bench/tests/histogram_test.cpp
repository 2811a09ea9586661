#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bench/histogram.hpp"

using fenix::bench::histogram;

namespace {

// The exact percentile of sorted values, by the same rank rule.
std::uint64_t exact(const std::vector<std::uint64_t>& sorted, double p) {
  auto rank = static_cast<std::size_t>(
    std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

}  // namespace

TEST_CASE("bucket layout covers every value with bounded width",
          "[bench][histogram]") {
  for (std::uint64_t v : {0ull, 1ull, 255ull, 256ull, 257ull, 1000ull,
                          123456789ull, (1ull << 40) + 12345, ~0ull}) {
    auto i = histogram::index_of(v);
    CHECK(histogram::lowest_of(i) <= v);
    CHECK(histogram::highest_of(i) >= v);
    auto width = histogram::highest_of(i) - histogram::lowest_of(i) + 1;
    CHECK(static_cast<double>(width)
          <= std::max(1.0, static_cast<double>(v) / 128.0));
  }
  // Consecutive buckets tile the number line.
  for (std::size_t i = 0; i + 1 < 3000; ++i)
    CHECK(histogram::highest_of(i) + 1 == histogram::lowest_of(i + 1));
}

TEST_CASE("percentiles stay within 1% of the exact values",
          "[bench][histogram]") {
  std::mt19937_64 rng{42};
  std::lognormal_distribution<double> dist{13.0, 1.5};  // ~0.4 ms median, ns
  std::vector<std::uint64_t> values;
  histogram h;
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<std::uint64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    auto want = static_cast<double>(exact(values, p));
    auto got = static_cast<double>(h.percentile(p));
    CHECK(got >= want);
    CHECK(got <= want * 1.01);
  }
  CHECK(h.percentile(100) == values.back());
  CHECK(h.percentile(0) == values.front());
  CHECK(h.min() == values.front());
  CHECK(h.max() == values.back());
  CHECK(h.count() == values.size());
}

TEST_CASE("small values are exact", "[bench][histogram]") {
  histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v)
    h.record(v);
  CHECK(h.percentile(50) == 50);
  CHECK(h.percentile(99) == 99);
  CHECK(h.mean() == Approx(50.5));
}

TEST_CASE("merging equals recording everything in one histogram",
          "[bench][histogram]") {
  std::mt19937_64 rng{7};
  std::uniform_int_distribution<std::uint64_t> dist{1, 50'000'000};
  histogram a, b, c, all;
  for (int i = 0; i < 30000; ++i) {
    auto v = dist(rng);
    (i % 3 == 0 ? a : i % 3 == 1 ? b : c).record(v);
    all.record(v);
  }
  histogram merged;
  merged.merge(a);
  merged.merge(b);
  merged.merge(c);
  CHECK(merged.count() == all.count());
  CHECK(merged.min() == all.min());
  CHECK(merged.max() == all.max());
  CHECK(merged.mean() == Approx(all.mean()));
  for (double p : {50.0, 90.0, 99.0, 99.9})
    CHECK(merged.percentile(p) == all.percentile(p));
  // Order does not matter, and an empty histogram changes nothing.
  histogram other;
  other.merge(c);
  other.merge(histogram{});
  other.merge(a);
  other.merge(b);
  CHECK(other.percentile(99) == merged.percentile(99));
}

TEST_CASE("an empty histogram reports zeros", "[bench][histogram]") {
  histogram h;
  CHECK(h.empty());
  CHECK(h.percentile(99) == 0);
  CHECK(h.min() == 0);
  CHECK(h.max() == 0);
  CHECK(h.mean() == 0);
}

TEST_CASE("JSON round trip keeps every count", "[bench][histogram]") {
  histogram h;
  for (std::uint64_t v : {3ull, 700ull, 700ull, 5'000'000ull, 9'999'999'999ull})
    h.record(v);
  auto text = boost::json::serialize(h.to_json());
  auto back = histogram::from_json(boost::json::parse(text));
  CHECK(back.count() == h.count());
  CHECK(back.min() == h.min());
  CHECK(back.max() == h.max());
  CHECK(back.mean() == Approx(h.mean()));
  for (double p : {10.0, 50.0, 80.0, 100.0})
    CHECK(back.percentile(p) == h.percentile(p));
  CHECK_THROWS_AS(histogram::from_json(boost::json::parse("[1,2]")),
                  std::invalid_argument);
  CHECK_THROWS_AS(
    histogram::from_json(boost::json::parse(R"({"buckets":[["x",1]]})")),
    std::invalid_argument);
}
