// fenix-pointing: the pointing party (story estimation) of the ElixirConf
// 2019 Phoenix Channels + Presence workshop. The contract is docs/apps.md;
// run it with `make run APP=pointing`.
//
// Shutdown adds one step to ep.run(): before the sockets are closed, the
// rooms are frozen, so members leaving because the server stops do not
// discard the votes a restart should find again.

#include <iostream>
#include <memory>

#include <caf/all.hpp>

#include "fenix/fenix.hpp"
#include "fenix/log.hpp"
#include "apps/common/app.hpp"
#include "apps/pointing/pointing_channel.hpp"
#include "apps/pointing/rooms.hpp"

namespace {

using namespace std::chrono_literals;

// Asks `whom` and waits (bounded) for its answer.
template <class Atom>
void ask(caf::actor_system& sys, const caf::actor& whom, Atom what) {
  caf::scoped_actor self{sys};
  self->request(whom, 5s, what)
    .receive([](bool) {},
             [](caf::error& e) {
               std::cerr << "fenix-pointing: shutdown step failed: "
                         << caf::to_string(e) << '\n';
             });
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fenix::apps;
  auto flags = parse_flags(argc, argv, "pointing", 4002);
  if (!flags.run)
    return flags.exit_code;
  caf::actor_system sys{system_config(flags)};
  caf::actor registry;
  try {
    registry = pointing::spawn_room_registry(sys, flags.db);
  } catch (const std::exception& e) {
    std::cerr << "fenix-pointing: cannot open database " << flags.db << ": "
              << e.what() << '\n';
    return 1;
  }
  int rc = 0;
  {
    fenix::endpoint ep{sys, endpoint_options_for(flags)};
    std::unique_ptr<fenix::cluster> node;
    try {
      node = start_cluster(ep, flags);
    } catch (const std::exception& e) {
      std::cerr << "fenix-pointing: " << e.what() << '\n';
      caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
      return 1;
    }
    mount(ep, flags, node.get());
    ep.channel("room:*", [registry](pointing::pointing_channel_actor* self) {
      return pointing::pointing_channel(self, registry);
    });
    try {
      // The rooms are frozen before the sockets close (members leaving
      // because the server stops keep their votes), the store synced after.
      rc = ep.run([&] { ask(sys, registry, pointing::freeze_atom::value); },
                  [&] { ask(sys, registry, pointing::sync_atom::value); });
    } catch (const std::exception& e) {
      std::cerr << "fenix-pointing: " << e.what() << '\n';
      rc = 1;
    }
    if (node)
      node->leave();
  }
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  return rc;
}
