// fenix-timer: server-side timers shared by all of a user's devices.
// The contract is docs/apps.md; run it with `make run APP=timer`.

#include <iostream>
#include <memory>

#include <caf/all.hpp>

#include "fenix/fenix.hpp"
#include "apps/common/app.hpp"
#include "apps/timer/timer_channel.hpp"
#include "apps/timer/user_timers.hpp"

int main(int argc, char** argv) {
  using namespace fenix::apps;
  auto flags = parse_flags(argc, argv, "timer", 4001);
  if (!flags.run)
    return flags.exit_code;
  caf::actor_system sys{system_config(flags)};
  int rc = 0;
  {
    fenix::endpoint ep{sys, endpoint_options_for(flags)};
    caf::actor registry;
    try {
      registry = timer::spawn_timer_registry(sys, ep.pubsub(), flags.db);
    } catch (const std::exception& e) {
      std::cerr << "fenix-timer: cannot open database " << flags.db << ": "
                << e.what() << '\n';
      return 1;
    }
    std::unique_ptr<fenix::cluster> node;
    try {
      node = start_cluster(ep, flags);
    } catch (const std::exception& e) {
      std::cerr << "fenix-timer: " << e.what() << '\n';
      caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
      return 1;
    }
    mount(ep, flags, node.get());
    ep.channel("timers:*", [registry](timer::timer_channel_actor* self) {
      return timer::timer_channel(self, registry);
    });
    try {
      rc = ep.run();
    } catch (const std::exception& e) {
      std::cerr << "fenix-timer: " << e.what() << '\n';
      rc = 1;
    }
    if (node)
      node->leave();
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  }
  return rc;
}
