// fenix-pointing: the pointing party (story estimation) of the ElixirConf
// 2019 Phoenix Channels + Presence workshop. The contract is docs/apps.md;
// run it with `make run APP=pointing`.
//
// Shutdown differs from the other apps' ep.run() in one step: before the
// sockets are closed, the rooms are frozen, so members leaving because the
// server stops do not discard the votes a restart should find again.

#include <csignal>
#include <cerrno>
#include <iostream>
#include <memory>
#include <unistd.h>

#include <caf/all.hpp>

#include "fenix/fenix.hpp"
#include "fenix/log.hpp"
#include "apps/common/app.hpp"
#include "apps/pointing/pointing_channel.hpp"
#include "apps/pointing/rooms.hpp"

namespace {

using namespace std::chrono_literals;

int signal_pipe[2] = {-1, -1};

void on_signal(int) {
  char b = 1;
  auto n = ::write(signal_pipe[1], &b, 1);
  static_cast<void>(n);
}

// SIGINT/SIGTERM write to a pipe the main thread waits on.
void catch_signals() {
  if (::pipe(signal_pipe) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void wait_for_signal() {
  char b = 0;
  while (::read(signal_pipe[0], &b, 1) < 0 && errno == EINTR) {
  }
}

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

// ep.run(), with the rooms frozen before the sockets close and the store
// synced after.
int serve(fenix::endpoint& ep, const fenix::apps::app_flags& flags,
          const caf::actor& registry) {
  using namespace fenix::apps::pointing;
  catch_signals();
  ep.start();
  std::cout << "listening on http://" << flags.host << ':' << ep.port()
            << std::endl;
  wait_for_signal();
  fenix::log::info("shutting down");
  ask(ep.system(), registry, freeze_atom::value);
  ep.stop();
  ask(ep.system(), registry, sync_atom::value);
  return 0;
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
    ep.channel("room:*", [registry](fenix::channel* self) {
      return pointing::pointing_channel(self, registry);
    });
    try {
      rc = serve(ep, flags, registry);
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
