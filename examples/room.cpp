// room: a minimal chat room. Joining "room:NAME" works for any name but
// "room:secret"; "new_msg" is broadcast to everyone in the room (the sender
// included) and "shout_others" to everyone but the sender. A user name can
// be given as a connect param (?user=alice) and ends up in assigns.
//
//   build/bin/example-room --port 4000

#include <boost/describe/class.hpp>
#include <caf/all.hpp>

#include "fenix/fenix.hpp"

// new_msg's payload: {"body": "..."}; anything else is answered
// {"reason": "invalid payload", "field": "body", "error": ...}.
struct new_msg {
  std::string body;
};
BOOST_DESCRIBE_STRUCT(new_msg, (), (body))

// What everyone in the room receives.
struct said {
  std::string user;
  std::string body;
};
BOOST_DESCRIBE_STRUCT(said, (), (user, body))

caf::behavior room(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string& topic, const fenix::payload&) {
      if (topic == "room:secret")
        return fenix::join_result::error(
          fenix::json_object{{"reason", "unauthorized"}});
      return fenix::join_result::ok(fenix::json_object{{"joined", true}});
    },
    fenix::events{
      fenix::on<new_msg>(
        "new_msg",
        [=](const new_msg& m) {
          auto user = self->assign<std::string>("user");
          // sender included
          self->broadcast("new_msg", fenix::encode(said{user, m.body}));
          return fenix::reply::ok();
        }),
      fenix::on("shout_others",
                [=](const fenix::payload& p) {
                  self->broadcast_from("shout", p);
                  return fenix::reply::ok();
                }),
    }
      .on_unknown([](const std::string&, const fenix::payload&) {
        return fenix::reply::error(fenix::json_object{{"reason", "unknown"}});
      }),
    [=](fenix::terminate_atom, fenix::close_reason why) {
      // left, closed, duplicate_join, stopped, crashed, disconnected
      static_cast<void>(why);
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
    return fenix::connect_result::accept(
      fenix::json_object{{"user", user.empty() ? "anonymous" : user}});
  });
  ep.channel("room:*", room);
  return ep.run();
}
