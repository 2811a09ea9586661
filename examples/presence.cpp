// presence: who is online in a room, compatible with the JS `Presence`
// helper of the official client. Each join tracks the user (connect param
// ?user=NAME) and pushes a fresh presence_state; joins and leaves reach
// everyone as presence_diff. Nobody calls untrack: when a channel exits
// (leave, crash, closed tab) the tracker sees it and sends the leave.
// "away" updates the user's meta ({"away": true}).
//
//   build/bin/example-presence --port 4000
//   # client: new Presence(channel).onSync(() => render(presence.list()))

#include <caf/all.hpp>
#include <chrono>

#include "fenix/fenix.hpp"

caf::behavior lobby(fenix::channel* self) {
  auto user = std::make_shared<std::string>();
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload&) {
      *user = boost::json::value_to<std::string>(self->assigns()["user"]);
      self->track(*user, {{"online_at", std::time(nullptr)}});
      self->push_presence_state();  // goes out right after the join reply
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      if (event != "away")
        return fenix::reply::error(fenix::json_object{{"reason", "unknown"}});
      auto away = p.object().at("away").as_bool();
      self->update(*user, {{"online_at", std::time(nullptr)}, {"away", away}});
      return fenix::reply::ok();
    },
  };
}

int main(int argc, char** argv) {
  fenix::endpoint_options opts;
  if (argc == 3 && std::string{argv[1]} == "--port")
    opts.port = static_cast<std::uint16_t>(std::stoi(argv[2]));
  caf::actor_system_config cfg;
  fenix::configure_scheduler(cfg);
  caf::actor_system sys{cfg};
  fenix::endpoint ep{sys, opts};
  ep.on_connect([](const fenix::connect_info& info) {
    auto user = info.param("user");
    if (user.empty())
      return fenix::connect_result::refuse();  // 403
    return fenix::connect_result::accept(fenix::json_object{{"user", user}});
  });
  ep.channel("room:*", lobby);
  return ep.run();
}
