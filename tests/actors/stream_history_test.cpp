// The stream a PubSub shard keeps for a topic with history (offsets,
// retention by size and age, what recovery can serve, seeds).

#include <catch2/catch.hpp>

#include "fenix/detail/stream.hpp"

using namespace std::chrono_literals;
using fenix::detail::stream;

namespace {

std::shared_ptr<const fenix::history_options>
opts(std::size_t n, std::chrono::milliseconds age, std::string key = {}) {
  fenix::history_options o;
  o.max_messages = n;
  o.max_age = age;
  o.offset_key = std::move(key);
  return std::make_shared<const fenix::history_options>(std::move(o));
}

fenix::broadcast_ptr msg(int i) {
  return std::make_shared<const fenix::broadcast>(fenix::broadcast{
    "room:a", "new_msg", fenix::payload{fenix::json::object{{"i", i}}}});
}

}  // namespace

TEST_CASE("stream offsets, payload key and epochs", "[pubsub][history]") {
  auto now = fenix::detail::stream_clock::now();
  stream s{opts(10, 60s, "offset"), now};
  stream other{opts(10, 60s), now};
  CHECK(s.position().epoch.size() == 32);
  CHECK(s.position().epoch != other.position().epoch);
  CHECK(s.position().offset == 0);
  for (int i = 1; i <= 3; ++i) {
    auto b = s.record(msg(i), now);
    CHECK(b->offset == static_cast<std::uint64_t>(i));
    CHECK(b->payload.object().at("offset").as_int64() == i);
  }
  auto b = other.record(msg(1), now);
  CHECK_FALSE(b->payload.object().contains("offset"));
  CHECK(s.position().offset == 3);
}

TEST_CASE("stream serves what it retains, nothing else", "[pubsub][history]") {
  auto now = fenix::detail::stream_clock::now();
  stream s{opts(5, 60s), now};
  for (int i = 1; i <= 8; ++i)
    s.record(msg(i), now);
  auto e = s.position().epoch;
  CHECK(s.can_serve({e, 8}));        // nothing missed
  CHECK(s.can_serve({e, 3}));        // 4..8 retained
  CHECK_FALSE(s.can_serve({e, 2}));  // 3 was dropped
  CHECK_FALSE(s.can_serve({e, 9}));  // from the future
  CHECK_FALSE(s.can_serve({"other", 8}));
  auto after = s.after(5);
  REQUIRE(after.size() == 3);
  CHECK(after[0]->offset == 6);
  CHECK(after[2]->offset == 8);
}

TEST_CASE("stream drops what is older than max_age", "[pubsub][history]") {
  auto t0 = fenix::detail::stream_clock::now();
  stream s{opts(100, 10s), t0};
  s.record(msg(1), t0);
  s.record(msg(2), t0 + 6s);
  s.trim(t0 + 11s);
  auto e = s.position().epoch;
  CHECK_FALSE(s.can_serve({e, 0}));
  CHECK(s.can_serve({e, 1}));
  s.trim(t0 + 17s);
  CHECK(s.empty());
  CHECK_FALSE(s.can_serve({e, 1}));
  CHECK(s.can_serve({e, 2}));
}

TEST_CASE("a seeded stream continues from storage", "[pubsub][history]") {
  auto now = fenix::detail::stream_clock::now();
  fenix::stream_seed seed;
  seed.position = {"kept-epoch", 10};
  for (int i = 8; i <= 10; ++i) {
    auto b = std::make_shared<fenix::broadcast>(*msg(i));
    b->offset = i;
    seed.entries.push_back({b, now});
  }
  stream s{opts(100, 60s), seed, now};
  CHECK(s.position().epoch == "kept-epoch");
  CHECK(s.can_serve({"kept-epoch", 7}));
  CHECK_FALSE(s.can_serve({"kept-epoch", 6}));
  CHECK(s.record(msg(11), now)->offset == 11);
  CHECK(s.after(9).size() == 2);
}
