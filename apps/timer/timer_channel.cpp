#include "apps/timer/timer_channel.hpp"

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "fenix/fenix.hpp"
#include "apps/timer/user_timers.hpp"

namespace fenix::apps::timer {

namespace {

namespace json = boost::json;

json::object error(const char* reason) {
  return json::object{{"reason", reason}};
}

}  // namespace

caf::behavior timer_channel(timer_channel_actor* self, caf::actor registry) {
  return {
    [=](fenix::join_atom, const std::string& topic, const fenix::payload&) {
      auto user = self->assign<std::string>("user");
      if (topic != "timers:" + user)
        return fenix::join_result::error(error("unauthorized"));
      self->request(registry, caf::infinite, get_atom::value, user)
        .then([=](caf::actor& a) {
          self->state.owner = a;
          self->request(a, caf::infinite, list_atom_v)
            .then(
              [=](fenix::payload& timers) {
                self->finish_join(fenix::join_result::ok(std::move(timers)));
              },
              [=](caf::error&) {
                self->finish_join(
                  fenix::join_result::error(error("timers unavailable")));
              });
        });
      return fenix::join_result::deferred();
    },
    // Every command goes to the user's timer actor, which checks it.
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      auto ref = self->socket_ref();
      self
        ->request(self->state.owner, caf::infinite, command_atom::value, event,
                  p)
        .then([=](const fenix::reply& r) { self->reply(ref, r); });
      return fenix::reply::none();
    },
  };
}

}  // namespace fenix::apps::timer
