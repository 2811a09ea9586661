// cluster: one room served by several nodes. Each node is this program;
// clients connect to any of them (?user=NAME). Messages broadcast on one
// node reach every node, and the presence list is the same everywhere.
// Walkthrough: examples/cluster/README.md.
//
//   build/bin/example-cluster --port 4000 --node-port 9000
//   build/bin/example-cluster --port 4001 --node-port 9001 --join
//   127.0.0.1:9000

#include <caf/all.hpp>
#include <ctime>
#include <iostream>

#include "fenix/cluster.hpp"
#include "fenix/fenix.hpp"

// The channel knows nothing of the cluster: broadcast and track are the
// same calls as on a single node.
caf::behavior room(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload&) {
      auto user = self->assign<std::string>("user");
      self->track(user, {{"online_at", std::time(nullptr)}});
      self->push_presence_state();
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string& event, const fenix::payload& p) {
      self->broadcast(event, p);  // every subscriber, on every node
      return fenix::reply::ok();
    },
  };
}

int main(int argc, char** argv) {
  fenix::endpoint_options eo;
  fenix::cluster_options co;  // defaults: 127.0.0.1, heartbeat 200 ms, ...
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--port")
      eo.port = static_cast<std::uint16_t>(std::stoi(value));
    else if (flag == "--node-port")
      co.port = static_cast<std::uint16_t>(std::stoi(value));
    else if (flag == "--join")
      co.seeds.push_back(value);
  }
  // 1. The actor system gets the middleman, the heartbeat and the message
  //    types nodes exchange (before it is constructed).
  caf::actor_system_config cfg;
  fenix::configure_scheduler(cfg);
  fenix::cluster::configure(cfg, co);
  caf::actor_system sys{cfg};
  // 2. The endpoint's presence replica is named after the node, so that a
  //    restarted node replaces its old incarnation everywhere.
  eo.node_name = fenix::cluster::address_of(co);
  fenix::endpoint ep{sys, eo};
  ep.on_connect([](const fenix::connect_info& info) {
    auto user = info.param("user");
    if (user.empty())
      return fenix::connect_result::refuse();
    return fenix::connect_result::accept(fenix::json_object{{"user", user}});
  });
  ep.channel("room:*", room);
  // 3. Publish this node and join the seeds (in the background).
  fenix::cluster node{ep, co};
  std::cerr << "cluster node " << node.address() << '\n';
  auto rc = ep.run();
  // 4. Tell the other nodes to drop our presences now.
  node.leave();
  return rc;
}
