#include "apps/pointing/pointing_channel.hpp"

#include <boost/describe/class.hpp>
#include <boost/json.hpp>
#include <caf/all.hpp>

#include "fenix/fenix.hpp"
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

// The payloads of the room's events.
struct set_ticket_in {
  std::string title;
};
BOOST_DESCRIBE_STRUCT(set_ticket_in, (), (title))

struct vote_in {
  int points = 0;
};
BOOST_DESCRIBE_STRUCT(vote_in, (), (points))

bool valid_title_text(const std::string& t) {
  auto n = code_points(t);
  return n >= 1 && n <= 200;
}

bool valid_points_value(int n) {
  for (int ok : {0, 1, 2, 3, 5, 8, 13, 21})
    if (n == ok)
      return true;
  return false;
}

// The room's answer to our enter: finish the join, then presence.
void joined(pointing_channel_actor* self, json::object& r) {
  auto& me = self->state;
  me.state = json::value_to<std::string>(r.at("state"));
  self->finish_join(fenix::join_result::ok(std::move(r.at("reply"))));
  self->track(me.user, me.meta());
  self->push_presence_state();
  if (auto& rev = r.at("revealed"); rev.is_object())
    self->push("votes_revealed", payload{std::move(rev)});
}

// The registry hands the enter to the room, which answers with itself.
void enter(pointing_channel_actor* self, const caf::actor& registry,
           const std::string& room) {
  self
    ->request(registry, caf::infinite, enter_atom::value, room,
              self->state.user)
    .then(
      [=](caf::actor& a, fenix::payload& r) {
        self->state.room = std::move(a);
        joined(self, r.json().as_object());
      },
      [=](caf::error&) {
        self->finish_join(fenix::join_result::error(error("room unavailable")));
      });
}

// Hands a valid event to the room; its answer is the event's reply.
fenix::reply forward(pointing_channel_actor* self, const std::string& event,
                     json::object p) {
  auto ref = self->socket_ref();
  self
    ->request(self->state.room, caf::infinite, command_atom::value, event,
              payload{std::move(p)})
    .then([=](const fenix::reply& r) { self->reply(ref, r); },
          [=](caf::error&) {
            self->reply(ref, fenix::reply::error(error("room unavailable")));
          });
  return fenix::reply::none();
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
  auto t = fenix::decode<set_ticket_in>(p);
  if (!t || !valid_title_text(t->title))
    return std::nullopt;
  return std::move(t->title);
}

std::optional<int> valid_points(const fenix::payload& p) {
  auto v = fenix::decode<vote_in>(p);
  if (!v || !valid_points_value(v->points))
    return std::nullopt;
  return v->points;
}

json::object pointing_member::meta() const {
  return json::object{{"online_at", online_at}, {"state", state}};
}

caf::behavior pointing_channel(pointing_channel_actor* self,
                               caf::actor registry) {
  auto invalid_title = fenix::reply::error(error("invalid title"));
  auto invalid_points = fenix::reply::error(error("invalid points"));
  return {
    [=](fenix::join_atom, const std::string& topic, const fenix::payload&) {
      auto room = topic.substr(5);  // "room:"
      if (!valid_room(room))
        return fenix::join_result::error(error("invalid room"));
      self->state.user = self->assign<std::string>("user");
      self->state.online_at = now_ms();
      enter(self, registry, room);
      return fenix::join_result::deferred();
    },
    fenix::events{
      fenix::on<set_ticket_in>(
        "set_ticket",
        [=](const set_ticket_in& t) {
          if (!valid_title_text(t.title))
            return invalid_title;
          return forward(self, "set_ticket", {{"title", t.title}});
        },
        invalid_title),
      fenix::on<vote_in>(
        "vote",
        [=](const vote_in& v) {
          if (!valid_points_value(v.points))
            return invalid_points;
          return forward(self, "vote", {{"points", v.points}});
        },
        invalid_points),
      fenix::on("reveal", [=] { return forward(self, "reveal", {}); }),
    }
      .on_unknown([](const std::string&, const fenix::payload&) {
        return fenix::reply::error(error("unknown event"));
      }),
    // From the room: this member's presence state, pushes to this client.
    [=](state_atom, const std::string& state) {
      auto& me = self->state;
      if (me.state == state)
        return;
      me.state = state;
      self->update(me.user, me.meta());
    },
    [=](push_atom, const std::string& event, const fenix::payload& p) {
      self->push(event, p);
    },
  };
}

}  // namespace fenix::apps::pointing
