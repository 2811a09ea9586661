// A PubSub shard's subscriber list under many removals (unsubscribe and
// subscribers that die): whoever is left still gets every broadcast once,
// whoever left gets none, a removed subscriber can subscribe again, and
// broadcast_from skips its sender. Removal is indexed (pubsub.cpp); its cost
// is measured by fenix-bench (connect: server_cpu_per_close_us), not here.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/pubsub.hpp"
#include "fenix/types.hpp"

using namespace std::chrono_literals;

namespace {

constexpr auto wait_limit = 10s;  // every wait in this file

// Forwards every broadcast it gets to `sink` as (index, event).
caf::behavior forwarder(caf::event_based_actor*, int index, caf::actor sink) {
  return {
    [=](fenix::broadcast_atom, const fenix::broadcast_ptr& b) {
      caf::anon_send(sink, index, b->event);
    },
  };
}

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<fenix::pubsub> ps;
  std::unique_ptr<caf::scoped_actor> sink;
  std::vector<caf::actor> subs;

  explicit fixture(int n) {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    ps = std::make_unique<fenix::pubsub>(*sys, 1);
    sink = std::make_unique<caf::scoped_actor>(*sys);
    for (int k = 0; k < n; ++k)
      subs.push_back(sys->spawn(forwarder, k, caf::actor{*sink}));
  }

  ~fixture() {
    for (auto& s : subs)
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    ps->shutdown();
  }

  // Waits until `n` (index, event) messages with `event` arrived; returns
  // how many each index got. Fails on a foreign event or on timeout.
  std::map<int, int> collect(const std::string& event, std::size_t n) {
    std::map<int, int> got;
    std::size_t total = 0;
    bool timed_out = false;
    while (total < n && !timed_out)
      (*sink)->receive(
        [&](int index, const std::string& e) {
          CHECK(e == event);
          ++got[index];
          ++total;
        },
        caf::after(wait_limit) >> [&] { timed_out = true; });
    CHECK_FALSE(timed_out);
    return got;
  }

  // True once no further message arrives within a short window: used after
  // collect() has seen every expected one, to catch extra deliveries.
  bool quiet() {
    bool extra = false;
    (*sink)->receive([&](int, const std::string&) { extra = true; },
                     caf::after(200ms) >> [] {});
    return !extra;
  }

  // Waits (bounded) until the shard counts `n` subscriptions.
  bool subscriptions_become(std::uint64_t n) {
    auto until = std::chrono::steady_clock::now() + wait_limit;
    while (ps->stats().subscriptions.load() != n)
      if (std::chrono::steady_clock::now() > until)
        return false;
      else
        std::this_thread::sleep_for(1ms);
    return true;
  }
};

fenix::payload empty() {
  return fenix::payload{fenix::json::object{}};
}

}  // namespace

TEST_CASE("subscribers left after many removals get every broadcast once",
          "[pubsub]") {
  constexpr int n = 3000;
  fixture f{n};
  for (auto& s : f.subs)
    f.ps->subscribe(s, "t");
  f.ps->broadcast("t", "first", empty());
  auto first = f.collect("first", n);
  CHECK(first.size() == static_cast<std::size_t>(n));

  // Two in three leave: every third stays. Unsubscribe the ones with
  // index % 3 == 1, kill those with index % 3 == 2 (the down path), in an
  // order that is not the subscription order.
  for (int k = n - 1; k >= 0; --k)
    if (k % 3 == 1)
      f.ps->unsubscribe(f.subs[k], "t");
  for (int k = 0; k < n; ++k)
    if (k % 3 == 2)
      caf::anon_send_exit(f.subs[k], caf::exit_reason::user_shutdown);
  REQUIRE(f.subscriptions_become(n / 3));

  f.ps->broadcast("t", "second", empty());
  auto second = f.collect("second", n / 3);
  CHECK(f.quiet());
  for (auto& [index, count] : second) {
    CHECK(index % 3 == 0);
    CHECK(count == 1);
  }
  CHECK(second.size() == static_cast<std::size_t>(n / 3));

  // More leave after the list was squeezed: half of those left (index % 6
  // == 0) unsubscribe; they must get nothing more.
  for (int k = 0; k < n; k += 6)
    f.ps->unsubscribe(f.subs[k], "t");
  f.ps->broadcast("t", "second_b", empty());
  auto second_b = f.collect("second_b", n / 6);
  CHECK(f.quiet());
  CHECK(second_b.size() == static_cast<std::size_t>(n / 6));
  for (auto& [index, count] : second_b) {
    CHECK(index % 6 == 3);
    CHECK(count == 1);
  }

  // Those who unsubscribed can subscribe again; a double subscribe counts
  // once.
  for (int k = 0; k < n; k += 6)
    f.ps->subscribe(f.subs[k], "t");
  for (int k = 1; k < n; k += 3) {
    f.ps->subscribe(f.subs[k], "t");
    f.ps->subscribe(f.subs[k], "t");
  }
  f.ps->broadcast("t", "third", empty());
  auto third = f.collect("third", 2 * n / 3);
  CHECK(f.quiet());
  CHECK(third.size() == static_cast<std::size_t>(2 * n / 3));
  for (auto& [index, count] : third) {
    CHECK(index % 3 != 2);
    CHECK(count == 1);
  }
  CHECK(f.ps->stats().subscriptions.load() == 2 * n / 3);
}

TEST_CASE("broadcast_from skips its sender after removals", "[pubsub]") {
  constexpr int n = 64;
  fixture f{n};
  for (auto& s : f.subs)
    f.ps->subscribe(s, "room");
  for (int k = 0; k < n / 2; ++k)
    f.ps->unsubscribe(f.subs[k], "room");
  f.ps->broadcast_from(f.subs[n - 1].address(), "room", "msg", empty());
  auto got = f.collect("msg", n / 2 - 1);
  CHECK(f.quiet());
  CHECK(got.size() == static_cast<std::size_t>(n / 2 - 1));
  CHECK(got.count(n - 1) == 0);
  for (auto& [index, count] : got) {
    CHECK(index >= n / 2);
    CHECK(count == 1);
  }
}

TEST_CASE("a topic whose last subscriber left takes new subscribers",
          "[pubsub]") {
  fixture f{2};
  f.ps->subscribe(f.subs[0], "t");
  f.ps->unsubscribe(f.subs[0], "t");
  f.ps->subscribe(f.subs[1], "t");
  f.ps->broadcast("t", "x", empty());
  auto got = f.collect("x", 1);
  CHECK(f.quiet());
  CHECK(got == std::map<int, int>{{1, 1}});
}
