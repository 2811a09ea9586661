#include "apps/chat/room_channel.hpp"

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "apps/chat/room_store.hpp"
#include "apps/common/app.hpp"

namespace fenix::apps::chat {

namespace {

namespace json = boost::json;

id_generator& ids() {
  static id_generator gen;  // thread-safe
  return gen;
}

json::object error(const char* reason) {
  return json::object{{"reason", reason}};
}

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80)
      ++n;
  return n;
}

struct member {
  std::string user;
  std::int64_t online_at = 0;
  bool typing = false;

  json::object meta() const {
    return json::object{{"online_at", online_at}, {"typing", typing}};
  }
};

}  // namespace

bool valid_room(const std::string& name) {
  if (name.empty() || name.size() > 32)
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
          || c == '-'))
      return false;
  return true;
}

std::optional<std::string> valid_body(const fenix::payload& p) {
  if (p.is_binary() || !p.json().is_object())
    return std::nullopt;
  auto* body = p.object().if_contains("body");
  if (!body || !body->is_string())
    return std::nullopt;
  std::string s{body->get_string()};
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return std::nullopt;
  if (code_points(s) > 2000)
    return std::nullopt;
  return s;
}

caf::behavior room_channel(fenix::channel* self, caf::actor store) {
  auto me = std::make_shared<member>();
  return {
    [=](fenix::join_atom, const std::string& topic,
        const fenix::payload& params) {
      auto room = topic.substr(5);  // "room:"
      if (!valid_room(room))
        return fenix::join_result::error(error("invalid room"));
      me->user = json::value_to<std::string>(self->assigns()["user"]);
      me->online_at = now_ms();
      auto since = fenix::recover_param(params);
      self->request(store, caf::infinite, history_atom::value, room)
        .then(
          [=](room_history& h) {
            auto r = fenix::join_result::ok(
                       json::object{{"messages", std::move(h.last)}})
                       .with_position()
                       .seed(std::move(h.seed));
            if (since)
              r.recover(*since, json::object{{"messages", json::array{}}});
            self->finish_join(r);
            self->track(me->user, me->meta());
            self->push_presence_state();
          },
          [=](caf::error&) {
            self->finish_join(
              fenix::join_result::error(error("history unavailable")));
          });
      return fenix::join_result::deferred();
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      if (event == "new_msg") {
        auto body = valid_body(p);
        if (!body)
          return fenix::reply::error(error("invalid body"));
        chat_message m;
        m.at_ms = now_ms();
        m.id = ids().next(m.at_ms);
        m.room = self->topic().substr(5);
        m.user = me->user;
        m.body = std::move(*body);
        // The room's stream gives it its offset; the store gets it from
        // there (record_message in main.cpp).
        self->broadcast("new_msg", to_json(m));
        return fenix::reply::ok(json::object{{"id", m.id}});
      }
      if (event == "typing") {
        auto* t =
          p.json().is_object() ? p.object().if_contains("typing") : nullptr;
        if (!t || !t->is_bool())
          return fenix::reply::error(error("invalid typing"));
        if (me->typing != t->get_bool()) {
          me->typing = t->get_bool();
          self->update(me->user, me->meta());
        }
        return fenix::reply::ok();
      }
      return fenix::reply::error(error("unknown event"));
    },
  };
}

}  // namespace fenix::apps::chat
