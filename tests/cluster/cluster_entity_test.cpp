// Entities across three cluster nodes in one process (three actor systems,
// each with its middleman, endpoint, cluster actor and entities, talking
// over loopback TCP): every key is reached from every node, activated once,
// on the node rendezvous hashing names, and a node that leaves hands its
// keys to the others (without state: replication is not there yet).

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "fenix/cluster.hpp"
#include "fenix/entity.hpp"
#include "fenix/entity/placement.hpp"
#include "fenix/fenix.hpp"
#include "cluster_helpers.hpp"

using namespace cluster_test;

namespace {

constexpr int key_count = 30;

// Answers every message with (count so far, the node it runs on).
fenix::entity_fn counter_on(std::string node) {
  return [node](fenix::entity*) -> caf::behavior {
    auto n = std::make_shared<std::int64_t>(0);
    return {
      [=](const std::string&) { return caf::make_message(++*n, node); },
    };
  };
}

struct entity_node {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<fenix::endpoint> ep;
  std::unique_ptr<fenix::entities> ents;
  std::unique_ptr<fenix::cluster> cl;

  explicit entity_node(std::vector<std::string> seeds) {
    fenix::cluster_options co;
    co.port = 0;
    co.seeds = std::move(seeds);
    fenix::cluster::configure(cfg, co);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    fenix::endpoint_options eo;
    eo.port = 0;
    eo.pubsub_shards = 1;
    ep = std::make_unique<fenix::endpoint>(*sys, eo);
    ents = std::make_unique<fenix::entities>(*sys);
    cl = std::make_unique<fenix::cluster>(*ep, co);
    ents->kind("counter:*", counter_on(cl->address()));
    cl->attach(*ents);
    ep->start();
  }

  ~entity_node() {
    cl->leave();
    cl.reset();
    ents.reset();
    ep->stop();
    ep.reset();
  }

  struct answer {
    std::int64_t n = -1;
    std::string node;
    caf::error err;
  };

  answer call(const std::string& key) {
    caf::scoped_actor self{*sys};
    answer a;
    ents->request(self.ptr(), key, 5s, std::string{"incr"})
      .receive(
        [&](std::int64_t n, std::string& node) {
          a.n = n;
          a.node = std::move(node);
        },
        [&](caf::error& e) { a.err = e; });
    return a;
  }
};

std::string key(int i) {
  return "counter:" + std::to_string(i);
}

}  // namespace

TEST_CASE("a key reached from every node is activated once, on its owner",
          "[cluster][entity]") {
  entity_node a{{}};
  entity_node b{{a.cl->address()}};
  entity_node c{{a.cl->address()}};
  std::vector<entity_node*> all{&a, &b, &c};
  REQUIRE(poll_until(
    [&] {
      return a.cl->nodes() == 3 && b.cl->nodes() == 3 && c.cl->nodes() == 3;
    },
    10s));
  std::vector<std::string> members{a.cl->address(), b.cl->address(),
                                   c.cl->address()};
  std::map<std::string, std::string> where;  // key -> node that answered
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < key_count; ++i) {
      for (std::size_t j = 0; j < all.size(); ++j) {
        auto r = all[j]->call(key(i));
        INFO("key " << key(i) << " from node " << j << ": "
                    << a.sys->render(r.err));
        REQUIRE(r.n == static_cast<std::int64_t>(round * 3 + j + 1));
        auto& w = where[key(i)];
        if (w.empty())
          w = r.node;
        CHECK(r.node == w);  // one activation answers from every node
      }
    }
  }
  std::uint64_t activations = 0;
  std::map<std::string, int> per_node;
  for (auto* n : all)
    activations += n->ents->activations();
  for (auto& [k, node] : where) {
    CHECK(node == fenix::entity_placement::owner(members, k));
    ++per_node[node];
  }
  CHECK(activations == key_count);
  CHECK(per_node.size() == 3);  // every node owns some keys

  SECTION("a node that leaves stops its entities, the others take them") {
    c.cl->leave();
    REQUIRE(poll_until([&] { return a.cl->nodes() == 2 && b.cl->nodes() == 2; },
                       10s));
    REQUIRE(poll_until([&] { return c.ents->active() == 0; }, 5s));
    for (int i = 0; i < key_count; ++i) {
      auto ra = a.call(key(i));
      auto rb = b.call(key(i));
      INFO("key " << key(i) << ": " << a.sys->render(ra.err) << " / "
                  << a.sys->render(rb.err));
      REQUIRE(ra.n > 0);
      REQUIRE(rb.n == ra.n + 1);  // the same activation
      CHECK(ra.node == rb.node);
      CHECK(ra.node != c.cl->address());
    }
    CHECK(a.ents->active() + b.ents->active() == key_count);
  }
}
