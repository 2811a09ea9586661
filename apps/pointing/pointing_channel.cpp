#include "apps/pointing/pointing_channel.hpp"

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "apps/common/app.hpp"
#include "apps/pointing/rooms.hpp"

namespace fenix::apps::pointing {

namespace {

namespace json = boost::json;

json::object error(const char* reason) {
  return json::object{{"reason", reason}};
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80)
      ++n;
  return n;
}

const json::value* field(const fenix::payload& p, const char* name) {
  if (p.is_binary() || !p.json().is_object())
    return nullptr;
  return p.object().if_contains(name);
}

struct member {
  std::string user;
  std::int64_t online_at = 0;
  std::string state = "voting";
  caf::actor room;

  json::object meta() const {
    return json::object{{"online_at", online_at}, {"state", state}};
  }
};

// The room's answer to our enter: finish the join, then presence.
void joined(fenix::channel* self, const std::shared_ptr<member>& me,
            json::object& r) {
  me->state = json::value_to<std::string>(r.at("state"));
  self->finish_join(fenix::join_result::ok(std::move(r.at("reply"))));
  self->track(me->user, me->meta());
  self->push_presence_state();
  if (auto& rev = r.at("revealed"); rev.is_object())
    self->push("votes_revealed", payload{std::move(rev)});
}

// The registry hands the enter to the room, which answers with itself.
void enter(fenix::channel* self, const caf::actor& registry,
           const std::shared_ptr<member>& me, const std::string& room) {
  self->request(registry, caf::infinite, enter_atom::value, room, me->user)
    .then(
      [=](caf::actor& a, fenix::payload& r) {
        me->room = std::move(a);
        joined(self, me, r.json().as_object());
      },
      [=](caf::error&) {
        self->finish_join(fenix::join_result::error(error("room unavailable")));
      });
}

// A valid event in the room's terms, or the error to reply.
std::variant<payload, fenix::reply> checked(const std::string& event,
                                            const fenix::payload& p) {
  if (event == "set_ticket") {
    auto title = valid_title(p);
    if (!title)
      return fenix::reply::error(error("invalid title"));
    return payload{json::object{{"title", std::move(*title)}}};
  }
  if (event == "vote") {
    auto points = valid_points(p);
    if (!points)
      return fenix::reply::error(error("invalid points"));
    return payload{json::object{{"points", *points}}};
  }
  if (event == "reveal")
    return payload{json::object{}};
  return fenix::reply::error(error("unknown event"));
}

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

std::optional<std::string> valid_title(const fenix::payload& p) {
  auto* t = field(p, "title");
  if (!t || !t->is_string())
    return std::nullopt;
  auto n = code_points(t->get_string());
  if (n < 1 || n > 200)
    return std::nullopt;
  return std::string{t->get_string()};
}

std::optional<int> valid_points(const fenix::payload& p) {
  auto* v = field(p, "points");
  if (!v || !(v->is_int64() || v->is_uint64()))
    return std::nullopt;
  auto n = v->is_int64() ? v->get_int64() : -1;
  for (int ok : {0, 1, 2, 3, 5, 8, 13, 21})
    if (n == ok)
      return ok;
  return std::nullopt;
}

caf::behavior pointing_channel(fenix::channel* self, caf::actor registry) {
  auto me = std::make_shared<member>();
  return {
    [=](fenix::join_atom, const std::string& topic, const fenix::payload&) {
      auto room = topic.substr(5);  // "room:"
      if (!valid_room(room))
        return fenix::join_result::error(error("invalid room"));
      me->user = json::value_to<std::string>(self->assigns()["user"]);
      me->online_at = now_ms();
      enter(self, registry, me, room);
      return fenix::join_result::deferred();
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      auto c = checked(event, p);
      if (auto* r = std::get_if<fenix::reply>(&c))
        return *r;
      auto ref = self->socket_ref();
      self
        ->request(me->room, caf::infinite, command_atom::value, event,
                  std::get<payload>(c))
        .then([=](const fenix::reply& r) { self->reply(ref, r); },
              [=](caf::error&) {
                self->reply(ref,
                            fenix::reply::error(error("room unavailable")));
              });
      return fenix::reply::none();
    },
    [=](state_atom, const std::string& state) {
      if (me->state == state)
        return;
      me->state = state;
      self->update(me->user, me->meta());
    },
    [=](push_atom, const std::string& event, const fenix::payload& p) {
      self->push(event, p);
    },
  };
}

}  // namespace fenix::apps::pointing
