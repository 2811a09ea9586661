// The pure parts of entity placement (actors/fenix/entity/placement.hpp):
// rendezvous hashing, quorum and lease arithmetic, the bounded buffer.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "fenix/entity/placement.hpp"

namespace ep = fenix::entity_placement;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> keys(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back("timers:user" + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("the owner is the same whatever the order of the members",
          "[actors][entity][placement]") {
  std::vector<std::string> abc{"a:1", "b:2", "c:3"};
  std::vector<std::string> cab{"c:3", "a:1", "b:2"};
  for (auto& k : keys(200))
    CHECK(ep::owner(abc, k) == ep::owner(cab, k));
  CHECK(ep::owner({}, "timers:x").empty());
  CHECK(ep::owner({"a:1"}, "timers:x") == "a:1");
  CHECK(ep::score("ab", "c") != ep::score("a", "bc"));
}

TEST_CASE("keys spread evenly over the members",
          "[actors][entity][placement]") {
  std::vector<std::string> nodes{"127.0.0.1:9000", "127.0.0.1:9001",
                                 "127.0.0.1:9002"};
  std::map<std::string, int> count;
  for (auto& k : keys(3000))
    ++count[ep::owner(nodes, k)];
  REQUIRE(count.size() == 3);
  for (auto& [node, n] : count) {
    INFO(node << " owns " << n);
    CHECK(n > 850);
    CHECK(n < 1150);
  }
}

TEST_CASE("a join or a loss moves only the keys it must",
          "[actors][entity][placement]") {
  std::vector<std::string> three{"a:1", "b:2", "c:3"};
  auto four = three;
  four.push_back("d:4");
  std::vector<std::string> two{"a:1", "c:3"};
  int moved_to_d = 0;
  for (auto& k : keys(2000)) {
    auto before = ep::owner(three, k);
    auto joined = ep::owner(four, k);
    if (joined != before) {
      CHECK(joined == "d:4");  // only to the new node
      ++moved_to_d;
    }
    auto lost = ep::owner(two, k);
    if (before != "b:2")
      CHECK(lost == before);  // only b's keys move
  }
  CHECK(moved_to_d > 350);  // about a quarter
  CHECK(moved_to_d < 650);
}

TEST_CASE("a majority counts this node", "[actors][entity][placement]") {
  CHECK(ep::quorum(1) == 1);
  CHECK(ep::quorum(2) == 2);
  CHECK(ep::quorum(3) == 2);
  CHECK(ep::quorum(4) == 3);
  CHECK(ep::quorum(5) == 3);
}

TEST_CASE("the lease runs from the pings a majority answered",
          "[actors][entity][placement]") {
  using tp = ep::clock_type::time_point;
  tp t0{std::chrono::seconds{100}};
  auto lease = std::chrono::duration_cast<ep::clock_type::duration>(1s);
  // Alone: this node is the majority.
  CHECK(ep::lease_until({}, 1, lease) == tp::max());
  // Three known: one peer's answer is enough, none is not.
  CHECK(ep::lease_until({}, 3, lease) == tp::min());
  CHECK(ep::lease_until({t0}, 3, lease) == t0 + lease);
  CHECK(ep::lease_until({t0, t0 + 300ms}, 3, lease) == t0 + 300ms + lease);
  // Two known: the other one must answer (a lone half owns nothing).
  CHECK(ep::lease_until({}, 2, lease) == tp::min());
  // Five known: the second most recent answer bounds the lease.
  CHECK(ep::lease_until({t0, t0 + 500ms, t0 + 200ms}, 5, lease)
        == t0 + 200ms + lease);
  CHECK(ep::lease_until({t0}, 5, lease) == tp::min());
}

TEST_CASE("the buffer is bounded per key and in total, and expires",
          "[actors][entity][placement]") {
  ep::buffer<int> b{2, 3};
  ep::clock_type::time_point t0{std::chrono::seconds{10}};
  int x = 1;
  CHECK(b.push("k1", x, t0 + 1s));
  x = 2;
  CHECK(b.push("k1", x, t0 + 2s));
  x = 3;
  CHECK_FALSE(b.push("k1", x, t0 + 2s));  // per key
  CHECK(x == 3);                          // untouched when refused
  CHECK(b.push("k2", x, t0 + 3s));
  x = 4;
  CHECK_FALSE(b.push("k3", x, t0 + 3s));  // total
  CHECK(b.size() == 3);
  CHECK(b.size("k1") == 2);
  CHECK(b.keys() == std::vector<std::string>{"k1", "k2"});
  auto gone = b.expire(t0 + 1500ms);
  CHECK(gone == std::vector<int>{1});
  auto k1 = b.take("k1");
  REQUIRE(k1.size() == 1);
  CHECK(k1.front().item == 2);
  CHECK(b.size() == 1);
  CHECK(b.take("k1").empty());
  CHECK(b.expire(t0 + 10s) == std::vector<int>{3});
  CHECK(b.size() == 0);
  CHECK(b.keys().empty());
}
