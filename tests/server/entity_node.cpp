// fenix-entity-node: a cluster node hosting counter entities, for the
// multi-process entity tests (tests/cluster/cluster_entity_nodes_test.cpp).
//
//   build/bin/fenix-entity-node --port 0 --node-port N [--join HOST:PORT]...
//       [--node-heartbeat MS --node-timeout MS] [--db X --secret X]
//       (--db and --secret are accepted and ignored: the test helpers
//       start every node program with them)
//
// Channel "probe:*": event "call" {"key": K} sends "incr" to entity K and
// replies {"n": count, "node": "HOST:PORT"} (or an error {"reason": ...});
// event "nodes" replies {"nodes": N}. Each activation logs
// "entity activated KEY" on stderr, so a test can count them.

#include <caf/all.hpp>
#include <iostream>
#include <memory>

#include "fenix/cluster.hpp"
#include "fenix/entity.hpp"
#include "fenix/fenix.hpp"

namespace {

using namespace std::chrono_literals;
using fenix::json_object;

fenix::entity_fn counter_on(std::string node) {
  return [node](fenix::entity* self) -> caf::behavior {
    std::cerr << "entity activated " << self->key() << std::endl;
    auto n = std::make_shared<std::int64_t>(0);
    return {
      [=](const std::string&) { return caf::make_message(++*n, node); },
    };
  };
}

caf::behavior probe(fenix::channel* self, fenix::entities* ents,
                    fenix::cluster* cl) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload&) {
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      if (event == "nodes")
        return fenix::reply::ok(
          json_object{{"nodes", static_cast<std::int64_t>(cl->nodes())}});
      auto key = std::string{p.object().at("key").as_string()};
      auto ref = self->socket_ref();
      ents->request(self, key, 3s, std::string{"incr"})
        .then(
          [=](std::int64_t n, const std::string& node) {
            self->reply(
              ref, fenix::reply::ok(json_object{{"n", n}, {"node", node}}));
          },
          [=](caf::error& e) {
            self->reply(ref, fenix::reply::error(json_object{
                               {"reason", self->system().render(e)}}));
          });
      return fenix::reply::none();
    },
  };
}

}  // namespace

int main(int argc, char** argv) {
  fenix::endpoint_options eo;
  fenix::cluster_options co;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--port")
      eo.port = static_cast<std::uint16_t>(std::stoi(value));
    else if (flag == "--node-port")
      co.port = static_cast<std::uint16_t>(std::stoi(value));
    else if (flag == "--join")
      co.seeds.push_back(value);
    else if (flag == "--node-heartbeat")
      co.heartbeat_interval = std::chrono::milliseconds{std::stoi(value)};
    else if (flag == "--node-timeout")
      co.connection_timeout = std::chrono::milliseconds{std::stoi(value)};
  }
  caf::actor_system_config cfg;
  fenix::configure_scheduler(cfg);
  fenix::cluster::configure(cfg, co);
  caf::actor_system sys{cfg};
  eo.node_name = fenix::cluster::address_of(co);
  fenix::endpoint ep{sys, eo};
  fenix::entity_options opts;
  opts.lease = co.connection_timeout / 2;
  fenix::entities ents{sys, opts};
  fenix::cluster node{ep, co};
  ents.kind("counter:*", counter_on(node.address()));
  node.attach(ents);
  ep.channel("probe:*", [&ents, &node](fenix::channel* self) {
    return probe(self, &ents, &node);
  });
  auto rc = ep.run();
  node.leave();
  return rc;
}
