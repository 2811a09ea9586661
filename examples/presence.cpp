// presence: who is online in a room, compatible with the JS `Presence`
// helper of the official client. Each join tracks the user (connect param
// ?user=NAME) and pushes a fresh presence_state; joins and leaves reach
// everyone as presence_diff. Nobody calls untrack: when a channel exits
// (leave, crash, closed tab) the tracker sees it and sends the leave.
// "away" updates the user's meta ({"away": true}).
//
//   build/bin/example-presence --port 4000
//   # client: new Presence(channel).onSync(() => render(presence.list()))

#include <boost/describe/class.hpp>
#include <caf/all.hpp>
#include <chrono>

#include "fenix/fenix.hpp"

// "away"'s payload: {"away": true|false}.
struct away {
  bool away = false;
};
BOOST_DESCRIBE_STRUCT(away, (), (away))

// The channel's state (self->state): who this channel tracks.
struct lobby_state {
  std::string user;
};

caf::behavior lobby(fenix::stateful_channel<lobby_state>* self) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload&) {
      self->state.user = self->assign<std::string>("user");
      self->track(self->state.user, {{"online_at", std::time(nullptr)}});
      self->push_presence_state();  // goes out right after the join reply
      return fenix::join_result::ok();
    },
    fenix::events{
      fenix::on<away>("away",
                      [=](const away& a) {
                        self->update(self->state.user,
                                     {{"online_at", std::time(nullptr)},
                                      {"away", a.away}});
                        return fenix::reply::ok();
                      }),
    }
      .on_unknown([](const std::string&, const fenix::payload&) {
        return fenix::reply::error(fenix::json_object{{"reason", "unknown"}});
      }),
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
