// Property tests for fenix::presence::state: random operation sequences on
// several replicas with deltas lost, reordered, duplicated and re-delivered.
// Fixed seeds, so every run is the same.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <boost/json.hpp>

#include "fenix/presence/state.hpp"

using namespace fenix::presence;
namespace json = boost::json;

namespace {

using rng = std::mt19937_64;

std::size_t pick(rng& gen, std::size_t n) {
  return std::uniform_int_distribution<std::size_t>{0, n - 1}(gen);
}

bool chance(rng& gen, double p) {
  return std::uniform_real_distribution<double>{0.0, 1.0}(gen) < p;
}

// Entries by dot, as text: "topic/key/meta" (+ "/owner" where known).
using view = std::map<dot, std::string>;

std::string describe(const std::string& topic, const std::string& key,
                     const json::object& meta) {
  return topic + "/" + key + "/" + json::serialize(meta);
}

// Everything `st` shows, over all topics, as a client sees it.
view visible(const state& st) {
  view out;
  for (auto& topic : st.topics())
    for (auto& e : st.list(topic))
      out.emplace(e.tag, describe(topic, e.key, e.meta));
  return out;
}

// The same with owners, to compare replicas.
view visible_with_owners(const state& st) {
  view out;
  for (auto& topic : st.topics())
    for (auto& e : st.list(topic))
      out.emplace(e.tag, describe(topic, e.key, e.meta) + "/"
                           + std::to_string(e.owner));
  return out;
}

// Every entry `st` stores, hidden or not (through the full delta).
std::set<dot> stored(const state& st) {
  std::set<dot> out;
  for (auto& [r, s] : st.extract_delta({}).slices)
    for (auto& v : s.values)
      out.insert(dot{r, v.counter});
  return out;
}

// The entries a replica tracks itself: the ground truth for its own entries.
view own(const state& st) {
  view out;
  for (auto& [tag, text] : visible_with_owners(st))
    if (tag.replica == st.self())
      out.emplace(tag, text);
  return out;
}

std::string fingerprint(const state& st) {
  return json::serialize(st.extract_delta({}).to_json()) + "|"
         + json::serialize(st.clock().to_json());
}

delta wire_round_trip(const delta& d) {
  auto back = delta::from_json(json::parse(json::serialize(d.to_json())));
  REQUIRE(back);
  return std::move(*back);
}

struct replica {
  std::unique_ptr<state> st;
  view client;             // built only from the changes st reported
  std::set<dot> seen;      // dots ever stored here
  std::set<dot> gone;      // dots once stored here, then dropped
  std::uint64_t refs = 0;  // for unique phx_refs
  bool consistent = true;  // changes matched the visible state so far
  bool resurrected = false;
};

// A run of the simulation; see the test cases below for the checks.
class simulation {
public:
  simulation(std::uint64_t seed, std::size_t n) : gen_(seed) {
    for (std::size_t i = 0; i < n; ++i) {
      nodes_.emplace_back();
      nodes_.back().st =
        std::make_unique<state>(replica_id{"node" + std::to_string(i), 1});
    }
  }

  void run(std::size_t steps, bool restarts) {
    for (std::size_t i = 0; i < steps; ++i)
      step(restarts);
  }

  std::vector<replica>& nodes() { return nodes_; }
  std::vector<delta>& pool() { return pool_; }
  rng& gen() { return gen_; }
  const std::vector<replica_id>& retired() const { return retired_; }

  // Applies `cs` to the client view of `r`, checking it makes sense.
  static void apply(replica& r, const changes& cs) {
    for (auto& c : cs) {
      auto text = describe(c.topic, c.key, c.meta);
      if (c.kind == change_kind::join)
        r.consistent &= r.client.emplace(c.tag, text).second;
      else
        r.consistent &= r.client.erase(c.tag) == 1;
    }
  }

  // Merges `d` into node i and runs the checks a tracker would.
  void deliver(std::size_t i, const delta& d) {
    auto& r = nodes_[i];
    apply(r, r.st->merge(d));
    if (chance(gen_, 0.5))
      for (auto& old : r.st->superseded_replicas())
        apply(r, r.st->remove_replica(old));
    audit(r);
  }

  // Tracks stored dots: one that left must never come back.
  static void audit(replica& r) {
    auto now = stored(*r.st);
    for (auto& d : r.seen)
      if (now.count(d) == 0)
        r.gone.insert(d);
    for (auto& d : now)
      r.resurrected |= r.gone.count(d) > 0;
    r.seen = std::move(now);
    r.consistent &= r.client == visible(*r.st);
  }

  // Brings everyone up and delivers everything: pool flush or anti-entropy.
  void settle(bool anti_entropy_only) {
    for (auto& r : nodes_) {
      for (auto& id : r.st->replicas())
        if (r.st->is_down(id))
          apply(r, r.st->mark_up(id));
      for (auto& old : retired_)
        apply(r, r.st->remove_replica(old));
    }
    if (anti_entropy_only) {
      for (std::size_t round = 0; round < 2; ++round)
        for (std::size_t i = 0; i < nodes_.size(); ++i)
          for (std::size_t j = 0; j < nodes_.size(); ++j)
            if (i != j)
              deliver(i, nodes_[j].st->extract_delta(nodes_[i].st->clock()));
      return;
    }
    for (auto& r : nodes_)
      pool_.push_back(r.st->take_pending_delta());
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      std::vector<std::size_t> order(pool_.size());
      for (std::size_t k = 0; k < order.size(); ++k)
        order[k] = k;
      for (std::size_t k = 0; k < pool_.size() / 4; ++k)
        order.push_back(pick(gen_, pool_.size()));  // duplicates
      std::shuffle(order.begin(), order.end(), gen_);
      for (auto k : order)
        deliver(i, pool_[k]);
    }
  }

private:
  json::object meta(replica& r) {
    return json::object{
      {"phx_ref", r.st->self().node + "." + std::to_string(++r.refs)},
      {"v", r.refs}};
  }

  void local_op(replica& r) {
    auto topic = "t" + std::to_string(pick(gen_, 3));
    auto key = "k" + std::to_string(pick(gen_, 4));
    std::uint64_t owner = 1 + pick(gen_, 3);
    bool tracked = r.st->find_local(topic, key, owner) != nullptr;
    auto what = pick(gen_, 10);
    if (what < 5) {
      auto cs = r.st->track(topic, key, owner, meta(r));
      r.consistent &= cs.has_value() != tracked;
      if (cs) {
        r.consistent &= cs->size() == 1;
        apply(r, *cs);
      }
    } else if (what < 7) {
      auto cs = r.st->update(topic, key, owner, meta(r));
      r.consistent &= cs.has_value() == tracked;
      if (cs) {
        r.consistent &= cs->size() == 2;
        apply(r, *cs);
      }
    } else if (what < 9) {
      auto cs = r.st->untrack(topic, key, owner);
      r.consistent &= cs.size() == (tracked ? 1u : 0u);
      apply(r, cs);
    } else {
      apply(r, r.st->untrack_all(owner));
    }
    audit(r);
  }

  void gossip(std::size_t i) {
    auto d = nodes_[i].st->take_pending_delta();
    if (d.empty())
      return;
    if (chance(gen_, 0.3))
      d = wire_round_trip(d);
    pool_.push_back(d);
    for (std::size_t j = 0; j < nodes_.size(); ++j)
      if (j != i && chance(gen_, 0.6))  // the rest is lost for now
        deliver(j, d);
  }

  void toggle_down(std::size_t i) {
    auto& r = nodes_[i];
    auto ids = r.st->replicas();
    auto& other = ids[pick(gen_, ids.size())];
    if (r.st->is_down(other)) {
      apply(r, r.st->mark_up(other));
    } else {
      auto before = visible(*r.st);
      apply(r, r.st->mark_down(other));
      for (auto& kv : visible(*r.st))
        r.consistent &= kv.first.replica != other || other == r.st->self();
      if (chance(gen_, 0.3)) {  // a blip: up again at once
        apply(r, r.st->mark_up(other));
        r.consistent &= visible(*r.st) == before;
      }
    }
    audit(r);
  }

  void restart(std::size_t i) {
    auto& r = nodes_[i];
    auto old = r.st->self();
    retired_.push_back(old);
    r = replica{};
    r.st = std::make_unique<state>(replica_id{old.node, old.incarnation + 1});
    // Some peers learn about the restart at once (permdown of the old one).
    for (auto& other : nodes_)
      if (&other != &r && chance(gen_, 0.5)) {
        apply(other, other.st->remove_replica(old));
        audit(other);
      }
  }

  void prune() {
    version_vector ack = nodes_[0].st->clock();
    for (auto& r : nodes_)
      ack = version_vector::meet(ack, r.st->clock());
    for (auto& r : nodes_)
      r.st->prune_removals(ack);
  }

  void step(bool restarts) {
    auto i = pick(gen_, nodes_.size());
    auto what = pick(gen_, 100);
    if (what < 45) {
      local_op(nodes_[i]);
    } else if (what < 65) {
      gossip(i);
    } else if (what < 80 && !pool_.empty()) {
      auto& d = pool_[pick(gen_, pool_.size())];  // old, late or duplicate
      deliver(i, d);
    } else if (what < 88) {
      auto j = pick(gen_, nodes_.size());
      auto d = nodes_[j].st->extract_delta(nodes_[i].st->clock());
      deliver(i, chance(gen_, 0.3) ? wire_round_trip(d) : d);
    } else if (what < 94) {
      toggle_down(i);
    } else if (what < 97) {
      prune();
    } else if (restarts && what < 98) {
      restart(i);
    }
  }

  rng gen_;
  std::vector<replica> nodes_;
  std::vector<delta> pool_;
  std::vector<replica_id> retired_;
};

view union_of_own(std::vector<replica>& nodes) {
  view out;
  for (auto& r : nodes) {
    auto mine = own(*r.st);
    out.insert(mine.begin(), mine.end());
  }
  return out;
}

}  // namespace

TEST_CASE("random runs converge to the owners' entries", "[actors][presence]") {
  for (std::uint64_t seed = 1; seed <= 16; ++seed) {
    CAPTURE(seed);
    std::size_t n = 3 + seed % 2;
    simulation sim{seed, n};
    sim.run(300, true);
    for (auto& r : sim.nodes()) {
      REQUIRE(r.consistent);
      REQUIRE_FALSE(r.resurrected);
    }
    sim.settle(seed % 2 == 0);
    auto truth = union_of_own(sim.nodes());
    for (auto& r : sim.nodes()) {
      CAPTURE(r.st->self().node);
      CHECK(r.consistent);
      CHECK_FALSE(r.resurrected);
      CHECK(visible_with_owners(*r.st) == truth);
      CHECK(r.st->clock() == sim.nodes()[0].st->clock());
      for (auto& old : sim.retired())
        CHECK(r.st->clock().get(old) == 0);
      CHECK(r.st->superseded_replicas().empty());
      for (auto& topic : r.st->topics())
        CHECK(
          json::serialize(render_presences(r.st->list(topic)))
          == json::serialize(render_presences(sim.nodes()[0].st->list(topic))));
    }
    // Old deltas arriving after everything settled change nothing.
    auto& late = sim.nodes()[0];
    auto before = fingerprint(*late.st);
    for (auto& d : sim.pool())
      CHECK(late.st->merge(d).empty());
    CHECK(fingerprint(*late.st) == before);
  }
}

TEST_CASE("merge is commutative, associative and idempotent",
          "[actors][presence]") {
  for (std::uint64_t seed = 100; seed < 110; ++seed) {
    CAPTURE(seed);
    simulation sim{seed, 3};
    sim.run(200, false);
    auto deltas = sim.pool();
    // Catch-up deltas too: node 0's full state plus what others know more.
    auto& first = *sim.nodes()[0].st;
    deltas.push_back(first.extract_delta({}));
    for (auto& r : sim.nodes())
      deltas.push_back(r.st->extract_delta(first.clock()));
    auto& gen = sim.gen();
    replica_id observer{"observer", 1};
    auto merge_all = [&](state& st, const std::vector<delta>& ds) {
      for (auto& d : ds)
        st.merge(d);
    };
    // Commutativity: any order gives the same state.
    state x{observer};
    merge_all(x, deltas);
    auto shuffled = deltas;
    std::shuffle(shuffled.begin(), shuffled.end(), gen);
    state y{observer};
    merge_all(y, shuffled);
    CHECK(fingerprint(x) == fingerprint(y));
    CHECK(visible(x) == visible(y));
    // Associativity: (a + b) + c == a + (b + c), with (b + c) shipped as
    // the full state of a replica that merged only b and c.
    auto cut1 = pick(gen, deltas.size());
    auto cut2 = cut1 + pick(gen, deltas.size() - cut1);
    std::vector<delta> a(deltas.begin(), deltas.begin() + cut1);
    std::vector<delta> bc(deltas.begin() + cut1, deltas.end());
    state helper{replica_id{"helper", 1}};
    merge_all(helper, bc);
    state z{observer};
    merge_all(z, a);
    z.merge(helper.extract_delta({}));
    CHECK(fingerprint(z) == fingerprint(x));
    std::vector<delta> b(deltas.begin() + cut1, deltas.begin() + cut2);
    std::vector<delta> c(deltas.begin() + cut2, deltas.end());
    state ab{replica_id{"helper", 2}};
    merge_all(ab, a);
    merge_all(ab, b);
    state w{observer};
    w.merge(ab.extract_delta({}));
    merge_all(w, c);
    CHECK(fingerprint(w) == fingerprint(x));
    // Idempotence: merging any delta again changes nothing.
    auto fx = fingerprint(x);
    for (auto& d : deltas)
      CHECK(x.merge(d).empty());
    CHECK(x.merge(x.extract_delta({})).empty());
    CHECK(fingerprint(x) == fx);
    // Having merged everything, the observer shows what the owners track.
    CHECK(visible_with_owners(x) == union_of_own(sim.nodes()));
  }
}

TEST_CASE("remove_replica holds against old deltas in any order",
          "[actors][presence]") {
  for (std::uint64_t seed = 200; seed < 220; ++seed) {
    CAPTURE(seed);
    rng gen{seed};
    replica_id old_id{"a", 1};
    state old_a{old_id};
    state relay{replica_id{"r", 1}};
    std::vector<delta> old_deltas;
    for (std::uint64_t i = 0; i < 20; ++i) {
      auto key = "k" + std::to_string(pick(gen, 5));
      if (!old_a.track("t", key, i % 3, {{"phx_ref", std::to_string(i)}}))
        old_a.untrack("t", key, i % 3);
      old_deltas.push_back(old_a.take_pending_delta());
      relay.merge(old_deltas.back());
      old_deltas.push_back(relay.extract_delta({}));
    }
    state b{replica_id{"b", 1}};
    std::shuffle(old_deltas.begin(), old_deltas.end(), gen);
    auto half = old_deltas.size() / 2;
    for (std::size_t i = 0; i < half; ++i)
      b.merge(old_deltas[i]);
    state new_a{replica_id{"a", 2}};
    REQUIRE(new_a.track("t", "k0", 0, {{"phx_ref", "new"}}));
    b.merge(new_a.take_pending_delta());
    for (auto& old : b.superseded_replicas())
      b.remove_replica(old);
    CHECK(b.is_removed(old_id));
    for (std::size_t i = half; i < old_deltas.size(); ++i)
      CHECK(b.merge(old_deltas[i]).empty());
    for (auto& d : old_deltas)  // and again
      CHECK(b.merge(d).empty());
    auto es = b.list("t");
    REQUIRE(es.size() == 1);
    CHECK(es[0].tag.replica == replica_id{"a", 2});
    CHECK(b.clock().get(old_id) == 0);
  }
}
