#include "apps/timer/timer_channel.hpp"

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "apps/timer/user_timers.hpp"

namespace fenix::apps::timer {

namespace {

namespace json = boost::json;

json::object error(const char* reason) {
  return json::object{{"reason", reason}};
}

}  // namespace

caf::behavior timer_channel(fenix::channel* self, caf::actor registry) {
  auto owner = std::make_shared<caf::actor>();
  return {
    [=](fenix::join_atom, const std::string& topic, const fenix::payload&) {
      auto user = json::value_to<std::string>(self->assigns()["user"]);
      if (topic != "timers:" + user)
        return fenix::join_result::error(error("unauthorized"));
      self->request(registry, caf::infinite, get_atom::value, user)
        .then([=](caf::actor& a) {
          *owner = a;
          self->request(a, caf::infinite, list_atom::value)
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
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      auto ref = self->socket_ref();
      self->request(*owner, caf::infinite, command_atom::value, event, p)
        .then([=](const fenix::reply& r) { self->reply(ref, r); });
      return fenix::reply::none();
    },
  };
}

}  // namespace fenix::apps::timer
