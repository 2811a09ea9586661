// Entities across three fenix-entity-node processes, driven by the C++
// client on every node: a key reached from every node is activated once
// (counted in the nodes' logs), and after kill -9 of its owner the key is
// activated once more, on a survivor, and answers every node again.

#include <catch2/catch.hpp>

#include "cluster_helpers.hpp"

using namespace cluster_test;

namespace {

const std::vector<std::string> fast{"--node-heartbeat", "100", "--node-timeout",
                                    "1000"};

std::vector<std::string> with(std::vector<std::string> xs,
                              const std::vector<std::string>& more) {
  xs.insert(xs.end(), more.begin(), more.end());
  return xs;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto i = text.find(what); i != std::string::npos;
       i = text.find(what, i + what.size()))
    ++n;
  return n;
}

// A client joined to probe:x on one node.
struct prober {
  std::unique_ptr<tr::ws_client> c;

  prober(tr::client_context& ctx, const node& n) {
    tr::client_options o;
    o.port = n.http_port();
    o.query = "vsn=2.0.0";
    c = tr::connect(ctx, o).client;
    if (!c)
      return;
    auto r = c->wait_reply(c->join("probe:x"), 5s);
    if (!r || tr::status_of(*r) != "ok")
      c.reset();
  }

  struct answer {
    std::int64_t n = -1;
    std::string node;
    std::string error;
  };

  json::object ask(const std::string& event, json::object p) {
    auto r = c->wait_reply(c->push("probe:x", event, std::move(p)), 5s);
    if (!r)
      return json::object{{"status", "timeout"}};
    return r->payload.object();
  }

  answer call(const std::string& key) {
    answer a;
    auto reply = ask("call", json::object{{"key", key}});
    auto& resp = reply["response"];
    if (reply["status"] != "ok") {
      a.error = json::serialize(reply);
      return a;
    }
    a.n = resp.as_object().at("n").as_int64();
    a.node = std::string{resp.as_object().at("node").as_string()};
    return a;
  }

  std::int64_t nodes() {
    auto reply = ask("nodes", {});
    if (reply["status"] != "ok")
      return 0;
    return reply["response"].as_object().at("nodes").as_int64();
  }
};

std::string key(int i) {
  return "counter:" + std::to_string(i);
}

}  // namespace

TEST_CASE("entities across processes: one activation per key, and one more "
          "after kill -9 of its owner",
          "[cluster][entity]") {
  temp_dir dir;
  node a{"a", dir.path, free_port()};
  node b{"b", dir.path, free_port()};
  node c{"c", dir.path, free_port()};
  std::vector<node*> all{&a, &b, &c};
  for (auto* n : all)
    n->program("fenix-entity-node");
  REQUIRE(a.start(fast));
  REQUIRE(b.start(with({"--join", a.node_address()}, fast)));
  REQUIRE(c.start(with({"--join", a.node_address()}, fast)));
  auto logs = [&] { return a.log() + b.log() + c.log(); };
  tr::client_context ctx;
  prober pa{ctx, a}, pb{ctx, b}, pc{ctx, c};
  REQUIRE(pa.c);
  REQUIRE(pb.c);
  REQUIRE(pc.c);
  std::vector<prober*> probes{&pa, &pb, &pc};
  {
    INFO(logs());
    REQUIRE(poll_until(
      [&] { return pa.nodes() == 3 && pb.nodes() == 3 && pc.nodes() == 3; },
      15s));
  }
  constexpr int keys = 12;
  std::map<std::string, std::string> owner;
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < keys; ++i)
      for (std::size_t j = 0; j < probes.size(); ++j) {
        auto r = probes[j]->call(key(i));
        INFO(key(i) << " from node " << j << ": " << r.error << "\n" << logs());
        REQUIRE(r.n == static_cast<std::int64_t>(round * 3 + j + 1));
        auto& o = owner[key(i)];
        if (o.empty())
          o = r.node;
        REQUIRE(r.node == o);
      }
  auto text = logs();
  for (int i = 0; i < keys; ++i)
    CHECK(count(text, "entity activated " + key(i) + "\n") == 1);

  // kill -9 the owner of counter:0; the survivors reach it again, and it is
  // activated once more, on one of them.
  auto victim_addr = owner[key(0)];
  node* victim = nullptr;
  for (auto* n : all)
    if (n->node_address() == victim_addr)
      victim = n;
  REQUIRE(victim);
  std::vector<prober*> alive;
  std::vector<node*> alive_nodes;
  for (std::size_t j = 0; j < all.size(); ++j)
    if (all[j] != victim) {
      alive.push_back(probes[j]);
      alive_nodes.push_back(all[j]);
    }
  victim->kill(SIGKILL);
  prober::answer first;
  auto t0 = clock_type::now();
  REQUIRE(poll_until(
    [&] {
      first = alive[0]->call(key(0));
      return first.n > 0;
    },
    10s));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    clock_type::now() - t0);
  INFO("back after " << took.count() << " ms");
  CHECK(first.node != victim_addr);
  auto second = alive[1]->call(key(0));
  CHECK(second.n == first.n + 1);  // the same activation
  CHECK(second.node == first.node);
  auto after = alive_nodes[0]->log() + alive_nodes[1]->log();
  CHECK(count(after, "entity activated " + key(0) + "\n") == 1);
}
