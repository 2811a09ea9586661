#include "apps/chat/room_channel.hpp"

#include <boost/describe/class.hpp>
#include <boost/json.hpp>
#include <caf/all.hpp>

#include "fenix/fenix.hpp"
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

// The payloads of the room's events.
struct new_msg_in {
  std::string body;
};
BOOST_DESCRIBE_STRUCT(new_msg_in, (), (body))

struct typing_in {
  bool typing = false;
};
BOOST_DESCRIBE_STRUCT(typing_in, (), (typing))

struct sent {
  std::string id;
};
BOOST_DESCRIBE_STRUCT(sent, (), (id))

// A body is non-blank and at most 2000 code points.
bool valid_text(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") != std::string::npos
         && code_points(s) <= 2000;
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

std::optional<std::string> valid_body(const fenix::payload& p) {
  auto m = fenix::decode<new_msg_in>(p);
  if (!m || !valid_text(m->body))
    return std::nullopt;
  return std::move(m->body);
}

json::object room_member::meta() const {
  return json::object{{"online_at", online_at}, {"typing", typing}};
}

caf::behavior room_channel(room_channel_actor* self, caf::actor store) {
  auto join = [=](fenix::join_atom, const std::string& topic,
                  const fenix::payload& params) {
    auto room = topic.substr(5);  // "room:"
    if (!valid_room(room))
      return fenix::join_result::error(error("invalid room"));
    auto& me = self->state;
    me.user = self->assign<std::string>("user");
    me.online_at = now_ms();
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
          self->track(self->state.user, self->state.meta());
          self->push_presence_state();
        },
        [=](caf::error&) {
          self->finish_join(
            fenix::join_result::error(error("history unavailable")));
        });
    return fenix::join_result::deferred();
  };
  auto new_msg = [=](const new_msg_in& in) -> fenix::reply {
    if (!valid_text(in.body))
      return fenix::reply::error(error("invalid body"));
    chat_message m;
    m.at_ms = now_ms();
    m.id = ids().next(m.at_ms);
    m.room = self->topic().substr(5);
    m.user = self->state.user;
    m.body = in.body;
    // The room's stream gives it its offset; the store gets it from
    // there (record_message in main.cpp).
    self->broadcast("new_msg", to_json(m));
    return fenix::reply::ok(fenix::encode(sent{m.id}));
  };
  auto typing = [=](const typing_in& in) {
    auto& me = self->state;
    if (me.typing != in.typing) {
      me.typing = in.typing;
      self->update(me.user, me.meta());
    }
    return fenix::reply::ok();
  };
  return {
    join,
    fenix::events{
      fenix::on<new_msg_in>("new_msg", new_msg,
                            fenix::reply::error(error("invalid body"))),
      fenix::on<typing_in>("typing", typing,
                           fenix::reply::error(error("invalid typing"))),
    }
      .on_unknown([](const std::string&, const fenix::payload&) {
        return fenix::reply::error(error("unknown event"));
      }),
  };
}

}  // namespace fenix::apps::chat
