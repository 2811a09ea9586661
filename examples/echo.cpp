// echo: the smallest fenix server. Every event pushed on "echo:*" is
// answered with its own payload.
//
//   build/bin/example-echo            # listening on http://127.0.0.1:4000
//   # then, from a page or node with the official client:
//   #   socket.channel("echo:1").join()
//   #   channel.push("hello", {n: 1}).receive("ok", r => console.log(r))

#include <caf/all.hpp>

#include "fenix/fenix.hpp"

caf::behavior echo(fenix::channel*) {
  return {
    [](fenix::join_atom, const std::string&, const fenix::payload&) {
      return fenix::join_result::ok();
    },
    [](fenix::in_atom, const std::string&, const fenix::payload& p) {
      return fenix::reply::ok(p);
    },
  };
}

int main() {
  caf::actor_system_config cfg;
  fenix::configure_scheduler(cfg);
  caf::actor_system sys{cfg};
  fenix::endpoint ep{sys, {}};
  ep.channel("echo:*", echo);
  return ep.run();
}
