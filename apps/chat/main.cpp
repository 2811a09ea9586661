// fenix-chat: rooms with history, presence and typing indicators.
// The contract is docs/apps.md; run it with `make run`.

#include <iostream>

#include <caf/all.hpp>

#include "actors/fenix.hpp"
#include "apps/chat/room_channel.hpp"
#include "apps/chat/room_store.hpp"
#include "apps/common/app.hpp"

int main(int argc, char** argv) {
  using namespace fenix::apps;
  auto flags = parse_flags(argc, argv, "chat", 4000);
  if (!flags.run)
    return flags.exit_code;
  caf::actor_system sys{system_config()};
  caf::actor store;
  try {
    store = chat::spawn_room_store(sys, flags.db);
  } catch (const std::exception& e) {
    std::cerr << "fenix-chat: cannot open database " << flags.db << ": "
              << e.what() << '\n';
    return 1;
  }
  int rc = 0;
  {
    fenix::endpoint ep{sys, endpoint_options_for(flags)};
    mount(ep, flags);
    ep.channel("room:*", [store](fenix::channel* self) {
      return chat::room_channel(self, store);
    });
    try {
      rc = ep.run();
    } catch (const std::exception& e) {
      std::cerr << "fenix-chat: " << e.what() << '\n';
      rc = 1;
    }
  }
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  return rc;
}
