// Two cluster nodes in one process (two actor systems, each with its
// middleman, endpoint and cluster actor), driven by the C++ client:
// broadcasts cross nodes, local_broadcast does not, broadcast_from skips
// only its sender, a socket-id "disconnect" closes sockets on every node,
// and presence replicates through the library API alone.

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "fenix/cluster.hpp"
#include "fenix/fenix.hpp"
#include "cluster_helpers.hpp"

using namespace cluster_test;
using fenix::json_object;

namespace {

caf::behavior room(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload& p) {
      if (p.json().is_object())
        if (auto* user = p.object().if_contains("track"))
          self->track(std::string{user->as_string()}, json_object{});
      self->push_presence_state();
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      if (event == "shout_from")
        self->broadcast_from("shout", p);
      else
        self->broadcast(event, p);
      return fenix::reply::ok();
    },
  };
}

// One node: actor system, endpoint on port 0, cluster on a free port.
struct in_process_node {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<fenix::endpoint> ep;
  std::unique_ptr<fenix::cluster> cl;

  in_process_node(const std::string& name, std::vector<std::string> seeds) {
    fenix::cluster_options co;
    co.port = 0;
    co.seeds = std::move(seeds);
    fenix::cluster::configure(cfg, co);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    fenix::endpoint_options eo;
    eo.port = 0;
    eo.node_name = name;
    eo.pubsub_shards = 2;
    ep = std::make_unique<fenix::endpoint>(*sys, eo);
    ep->on_connect([](const fenix::connect_info& info) {
      auto id = info.param("id");
      return fenix::connect_result::accept(
        {}, id.empty() ? "" : "users_socket:" + id);
    });
    ep->channel("room:*", room);
    cl = std::make_unique<fenix::cluster>(*ep, co);
    ep->start();
  }

  ~in_process_node() {
    cl->leave();
    cl.reset();
    ep->stop();
    ep.reset();
  }

  std::unique_ptr<tr::ws_client> connect(tr::client_context& ctx,
                                         const std::string& query = {}) {
    tr::client_options o;
    o.port = ep->port();
    o.query = "vsn=2.0.0" + query;
    return tr::connect(ctx, o).client;
  }
};

std::unique_ptr<tr::ws_client>
joined(in_process_node& n, tr::client_context& ctx, const std::string& topic,
       json::object params = {}, const std::string& query = {}) {
  auto c = n.connect(ctx, query);
  REQUIRE(c);
  auto ref = c->join(topic, params);
  auto r = c->wait_reply(ref, 5s);
  REQUIRE(r);
  REQUIRE(tr::status_of(*r) == "ok");
  return c;
}

auto event_is(const std::string& e) {
  return [e](const fenix::message& m) { return m.event == e; };
}

}  // namespace

TEST_CASE("broadcasts reach every node once and local ones stay local",
          "[cluster][pubsub]") {
  in_process_node a{"node-a", {}};
  in_process_node b{"node-b", {a.cl->address()}};
  REQUIRE(
    poll_until([&] { return a.cl->nodes() == 2 && b.cl->nodes() == 2; }, 10s));
  CHECK(a.cl->peers() == std::vector<std::string>{b.cl->address()});
  tr::client_context ctx;
  auto on_a = joined(a, ctx, "room:x");
  auto on_b = joined(b, ctx, "room:x");
  SECTION("local_broadcast stays on its node but broadcast does not") {
    // Same publisher: had the local one crossed, it would arrive first.
    a.ep->local_broadcast("room:x", "local", json_object{{"n", 1}});
    a.ep->broadcast("room:x", "global", json_object{{"n", 2}});
    auto first = on_b->wait_for(
      [](const fenix::message& m) { return m.event != "presence_state"; }, 5s);
    REQUIRE(first);
    CHECK(first->event == "global");
    CHECK(first->payload.object().at("n") == 2);
    CHECK(on_a->wait_for(event_is("local"), 5s));
    CHECK(on_a->wait_for(event_is("global"), 5s));
  }
  SECTION("a channel's broadcast, in order, on both nodes") {
    for (int i = 0; i < 100; ++i)
      on_a->push("room:x", "tick", json_object{{"i", i}});
    for (auto* c : {on_a.get(), on_b.get()}) {
      for (int i = 0; i < 100; ++i) {
        auto m = c->wait_for(event_is("tick"), 5s);
        REQUIRE(m);
        REQUIRE(m->payload.object().at("i") == i);
      }
    }
  }
  SECTION("broadcast_from skips only the sender") {
    auto other_a = joined(a, ctx, "room:x");
    auto ref = on_a->push("room:x", "shout_from", json_object{{"hi", 1}});
    REQUIRE(on_a->wait_reply(ref, 5s));
    CHECK(other_a->wait_for(event_is("shout"), 5s));
    CHECK(on_b->wait_for(event_is("shout"), 5s));
    // The sender's own copy would have come before this marker.
    a.ep->broadcast("room:x", "marker", json_object{});
    REQUIRE(on_a->wait_for(event_is("marker"), 5s));
    CHECK_FALSE(on_a->wait_for(event_is("shout"), 0ms));
  }
  SECTION("binary payloads cross nodes") {
    a.ep->broadcast("room:x", "blob", fenix::payload::binary("\x01\x02\x03"));
    auto m = on_b->wait_for(event_is("blob"), 5s);
    REQUIRE(m);
    CHECK(m->payload.is_binary());
    CHECK(m->payload.bytes() == "\x01\x02\x03");
  }
}

TEST_CASE("a socket-id disconnect closes that user's sockets on every node",
          "[cluster][pubsub]") {
  in_process_node a{"node-a", {}};
  in_process_node b{"node-b", {a.cl->address()}};
  REQUIRE(
    poll_until([&] { return a.cl->nodes() == 2 && b.cl->nodes() == 2; }, 10s));
  tr::client_context ctx;
  auto dave_a = joined(a, ctx, "room:x", {}, "&id=dave");
  auto dave_b = joined(b, ctx, "room:x", {}, "&id=dave");
  auto erin_b = joined(b, ctx, "room:x", {}, "&id=erin");
  a.ep->broadcast("users_socket:dave", "disconnect", json_object{});
  CHECK(dave_a->closed_code(5s) == 1001);
  CHECK(dave_b->closed_code(5s) == 1001);
  CHECK(erin_b->is_open());
}

TEST_CASE("presence replicates between in-process nodes and leaves on "
          "a clean leave",
          "[cluster][presence]") {
  tr::client_context ctx;
  in_process_node a{"node-a", {}};
  auto b = std::make_unique<in_process_node>(
    "node-b", std::vector<std::string>{a.cl->address()});
  REQUIRE(
    poll_until([&] { return a.cl->nodes() == 2 && b->cl->nodes() == 2; }, 10s));
  auto ann = joined(a, ctx, "room:p", json::object{{"track", "ann"}});
  auto ben = joined(*b, ctx, "room:p", json::object{{"track", "ben"}});
  // ann learns of ben through a presence_diff from node b's replica.
  auto joins_ben = [](const fenix::message& m) {
    return m.event == "presence_diff"
           && m.payload.object().at("joins").as_object().contains("ben");
  };
  CHECK(ann->wait_for(joins_ben, 5s));
  // Node b leaves cleanly: its entries leave at once on a.
  ben.reset();
  b->cl->leave();
  auto leaves_ben = [](const fenix::message& m) {
    return m.event == "presence_diff"
           && m.payload.object().at("leaves").as_object().contains("ben");
  };
  CHECK(ann->wait_for(leaves_ben, 5s));
  CHECK(poll_until([&] { return a.cl->nodes() == 1; }, 5s));
  b.reset();
}
