// Entities (actors/fenix/entity.hpp) without a network: activation on first
// use, request/response and one-way messages, errors, passivation; and the
// router's cluster side against a fake peer (a local actor standing in for
// another node's cluster actor): claims before activation, buffering and
// its bounds, forwarding to the owner, fencing by lease, standing down.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/entity.hpp"
#include "fenix/entity/placement.hpp"

using namespace std::chrono_literals;
namespace ep = fenix::entity_placement;

namespace {

constexpr auto wait_limit = 5s;  // every wait in this file

bool poll_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = wait_limit) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// "incr" adds one, anything else reads; "crash" throws; "owned" is 1 while
// this node holds its lease.
caf::behavior counter(fenix::entity* self) {
  auto n = std::make_shared<std::int64_t>(0);
  return {
    [=](const std::string& cmd) -> std::int64_t {
      if (cmd == "incr")
        return ++*n;
      if (cmd == "crash")
        throw std::runtime_error("crash");
      if (cmd == "owned")
        return self->owned() ? 1 : 0;
      return *n;
    },
  };
}

struct answer {
  std::int64_t n = -1;
  caf::error err;
};

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<fenix::entities> ents;

  explicit fixture(fenix::entity_options opts = {}) {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    ents = std::make_unique<fenix::entities>(*sys, opts);
    ents->kind("counter:*", counter);
  }

  ~fixture() {
    for (auto& a : peers)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    ents.reset();
  }

  // Fake peers, stopped with the fixture (even when a REQUIRE fails).
  std::vector<caf::actor> peers;
  template <class F, class... Ts>
  caf::actor spawn_peer(F fn, Ts&&... xs) {
    peers.push_back(sys->spawn(fn, std::forward<Ts>(xs)...));
    return peers.back();
  }

  answer call(const std::string& key, const std::string& cmd) {
    caf::scoped_actor self{*sys};
    answer a;
    ents->request(self.ptr(), key, wait_limit, cmd)
      .receive([&](std::int64_t n) { a.n = n; },
               [&](caf::error& e) { a.err = e; });
    return a;
  }
};

// A stand-in for a peer's cluster actor: answers pings and claims as told,
// records what is forwarded to it and answers those requests with 42.
struct script {
  enum mode : int { yes, no, hold };
  std::atomic<bool> pings{true};
  std::atomic<int> claim_mode{yes};
  std::atomic<int> claims{0};
  std::mutex mtx;
  std::vector<std::string> forwarded;  // keys
  std::vector<std::uint32_t> hops;
};

struct fake_peer_state {
  std::shared_ptr<script> sc;
  std::vector<caf::response_promise> held;
};

caf::behavior fake_peer(caf::stateful_actor<fake_peer_state>* self,
                        std::shared_ptr<script> sc) {
  self->state.sc = std::move(sc);
  return {
    [=](fenix::en_remote_atom, caf::message& m) {
      auto& sc = *self->state.sc;
      auto rp = self->make_response_promise();
      if (m.match_elements<fenix::en_ping_atom>()) {
        if (sc.pings)
          rp.deliver(fenix::en_ping_atom::value);
      } else if (m.match_elements<fenix::en_claim_atom, std::string,
                                  std::string>()) {
        ++sc.claims;
        auto mode = sc.claim_mode.load();
        if (mode == script::hold)
          self->state.held.push_back(rp);
        else
          rp.deliver(mode == script::yes);
      } else if (m.match_elements<fenix::en_fwd_atom, std::string,
                                  std::uint32_t, caf::message>()) {
        {
          std::lock_guard<std::mutex> guard{sc.mtx};
          sc.forwarded.push_back(m.get_as<std::string>(1));
          sc.hops.push_back(m.get_as<std::uint32_t>(2));
        }
        if (!rp.async())
          rp.deliver(std::int64_t{42});
      }
    },
    [=](fenix::reply_atom, bool yes) {
      for (auto& rp : self->state.held)
        rp.deliver(yes);
      self->state.held.clear();
    },
  };
}

// A key that `owner` owns among `members`.
std::string key_owned_by(const std::vector<std::string>& members,
                         const std::string& owner) {
  for (int i = 0;; ++i) {
    auto k = "counter:" + std::to_string(i);
    if (ep::owner(members, k) == owner)
      return k;
  }
}

// Makes the router believe it is node "a" with peer "b" (the fake peer).
void two_nodes(fixture& f, const caf::actor& peer, bool leaving = false) {
  caf::anon_send(f.ents->router(), fenix::en_members_atom::value,
                 std::string{"a"}, std::vector<std::string>{"b"},
                 std::vector<caf::actor>{peer}, std::uint64_t{2}, leaving);
}

}  // namespace

TEST_CASE("an entity is activated on first use, once per key",
          "[actors][entity]") {
  fixture f;
  CHECK(f.call("counter:a", "incr").n == 1);
  CHECK(f.call("counter:a", "incr").n == 2);
  CHECK(f.call("counter:b", "incr").n == 1);
  CHECK(f.call("counter:a", "get").n == 2);
  CHECK(f.ents->activations() == 2);
  CHECK(f.ents->active() == 2);
}

TEST_CASE("one-way messages reach the entity in order", "[actors][entity]") {
  fixture f;
  for (int i = 0; i < 100; ++i)
    f.ents->send("counter:x", std::string{"incr"});
  CHECK(f.call("counter:x", "get").n == 100);
  CHECK(f.ents->activations() == 1);
}

TEST_CASE("a key of no registered kind is an error", "[actors][entity]") {
  fixture f;
  auto a = f.call("nothing:here", "incr");
  CHECK(a.n == -1);
  CHECK(fenix::is_entity_error(a.err, fenix::entity_error::unknown_kind));
  CHECK(f.ents->activations() == 0);
  CHECK(fenix::to_string(fenix::entity_error::unknown_kind) == "unknown_kind");
}

TEST_CASE("a crashed entity is activated again by the next message",
          "[actors][entity]") {
  fixture f;
  CHECK(f.call("counter:c", "incr").n == 1);
  CHECK(f.call("counter:c", "crash").err);  // never silence
  REQUIRE(poll_until([&] { return f.ents->active() == 0; }));
  CHECK(f.call("counter:c", "incr").n == 1);  // starts over (no state yet)
  CHECK(f.ents->activations() == 2);
}

TEST_CASE("an idle entity is passivated after idle_timeout",
          "[actors][entity]") {
  fenix::entity_options o;
  o.idle_timeout = 100ms;
  o.tick = 20ms;
  fixture f{o};
  CHECK(f.call("counter:p", "incr").n == 1);
  REQUIRE(poll_until([&] { return f.ents->active() == 0; }));
  CHECK(f.call("counter:p", "incr").n == 1);
  CHECK(f.ents->activations() == 2);
}

TEST_CASE("without a cluster the entity owns its key", "[actors][entity]") {
  fixture f;
  CHECK(f.call("counter:o", "owned").n == 1);
}

TEST_CASE("the owner claims a key from its peers before activating it, "
          "buffering meanwhile within bounds",
          "[actors][entity][cluster]") {
  fenix::entity_options o;
  o.max_buffered_per_key = 2;
  o.tick = 20ms;
  fixture f{o};
  auto sc = std::make_shared<script>();
  sc->claim_mode = script::hold;
  auto peer = f.spawn_peer(fake_peer, sc);
  two_nodes(f, peer);
  auto key = key_owned_by({"a", "b"}, "a");
  caf::scoped_actor self{*f.sys};
  auto r1 = f.ents->request(self.ptr(), key, wait_limit, std::string{"incr"});
  auto r2 = f.ents->request(self.ptr(), key, wait_limit, std::string{"incr"});
  auto r3 = f.ents->request(self.ptr(), key, wait_limit, std::string{"incr"});
  caf::error e3;
  r3.receive([](std::int64_t) {}, [&](caf::error& e) { e3 = e; });
  CHECK(fenix::is_entity_error(e3, fenix::entity_error::overloaded));
  REQUIRE(poll_until([&] { return sc->claims.load() >= 1; }));
  CHECK(f.ents->activations() == 0);  // not before the peer agreed
  caf::anon_send(peer, fenix::reply_atom::value, true);
  std::int64_t n1 = -1, n2 = -1;
  r1.receive([&](std::int64_t n) { n1 = n; }, [](caf::error&) {});
  r2.receive([&](std::int64_t n) { n2 = n; }, [](caf::error&) {});
  CHECK(n1 == 1);
  CHECK(n2 == 2);
  CHECK(f.ents->activations() == 1);
}

TEST_CASE("a refused claim keeps the key inactive until buffer_timeout, "
          "then the caller gets unavailable",
          "[actors][entity][cluster]") {
  fenix::entity_options o;
  o.buffer_timeout = 300ms;
  o.tick = 20ms;
  fixture f{o};
  auto sc = std::make_shared<script>();
  sc->claim_mode = script::no;
  auto peer = f.spawn_peer(fake_peer, sc);
  two_nodes(f, peer);
  auto key = key_owned_by({"a", "b"}, "a");
  auto a = f.call(key, "incr");
  CHECK(fenix::is_entity_error(a.err, fenix::entity_error::unavailable));
  CHECK(sc->claims.load() >= 2);  // retried
  CHECK(f.ents->activations() == 0);
}

TEST_CASE("a message for a key owned by a peer goes to that peer, and its "
          "reply to the caller",
          "[actors][entity][cluster]") {
  fixture f;
  auto sc = std::make_shared<script>();
  auto peer = f.spawn_peer(fake_peer, sc);
  two_nodes(f, peer);
  auto key = key_owned_by({"a", "b"}, "b");
  CHECK(f.call(key, "incr").n == 42);  // answered by "b"
  std::lock_guard<std::mutex> guard{sc->mtx};
  CHECK(sc->forwarded == std::vector<std::string>{key});
  CHECK(sc->hops == std::vector<std::uint32_t>{1});
  CHECK(f.ents->activations() == 0);
}

TEST_CASE("a node whose lease runs out stands down and activates nothing",
          "[actors][entity][cluster]") {
  fenix::entity_options o;
  o.lease = 300ms;
  o.tick = 20ms;
  o.buffer_timeout = 500ms;
  fixture f{o};
  auto sc = std::make_shared<script>();
  auto peer = f.spawn_peer(fake_peer, sc);
  two_nodes(f, peer);
  auto key = key_owned_by({"a", "b"}, "a");
  CHECK(f.call(key, "incr").n == 1);
  CHECK(f.call(key, "owned").n == 1);
  sc->pings = false;  // "b" no longer answers: no majority of two
  REQUIRE(poll_until([&] { return f.ents->active() == 0; }));
  auto a = f.call(key, "incr");
  CHECK(fenix::is_entity_error(a.err, fenix::entity_error::unavailable));
  CHECK(f.ents->activations() == 1);
  sc->pings = true;  // back: the lease returns, and with it the key
  auto b = f.call(key, "incr");
  CHECK(b.n == 1);
  CHECK(f.ents->activations() == 2);
}

TEST_CASE("a claim is granted only to the owner in this node's view, and "
          "stops the local activation",
          "[actors][entity][cluster]") {
  fixture f;
  auto sc = std::make_shared<script>();
  auto peer = f.spawn_peer(fake_peer, sc);
  auto key_b = key_owned_by({"a", "b"}, "b");
  auto key_a = key_owned_by({"a", "b"}, "a");
  // Alone first ("a" only): key_b is active here.
  caf::anon_send(f.ents->router(), fenix::en_members_atom::value,
                 std::string{"a"}, std::vector<std::string>{},
                 std::vector<caf::actor>{}, std::uint64_t{1}, false);
  CHECK(f.call(key_b, "incr").n == 1);
  CHECK(f.ents->active() == 1);
  // "b" joins: key_b moves there, so this node stands down at once.
  two_nodes(f, peer);
  REQUIRE(poll_until([&] { return f.ents->active() == 0; }));
  caf::scoped_actor self{*f.sys};
  auto claim = [&](const std::string& key, const std::string& who) {
    bool yes = false;
    self
      ->request(f.ents->router(), wait_limit, fenix::en_claim_atom::value, key,
                who)
      .receive([&](bool y) { yes = y; }, [](caf::error&) {});
    return yes;
  };
  CHECK(claim(key_b, "b"));
  CHECK_FALSE(claim(key_a, "b"));
  CHECK_FALSE(claim(key_b, "c"));
}

TEST_CASE("a leaving node stands down and forwards to the new owners",
          "[actors][entity][cluster]") {
  fixture f;
  auto sc = std::make_shared<script>();
  auto peer = f.spawn_peer(fake_peer, sc);
  two_nodes(f, peer);
  auto key = key_owned_by({"a", "b"}, "a");
  CHECK(f.call(key, "incr").n == 1);
  two_nodes(f, peer, true);
  REQUIRE(poll_until([&] { return f.ents->active() == 0; }));
  CHECK(f.call(key, "incr").n == 42);  // now "b" serves it
}
