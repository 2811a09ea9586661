// subscribe: a channel that listens to other topics (Phoenix "subscribing
// to external topics"), presence lists of another topic, and a fetch hook.
//
// room:NAME tracks its user and broadcasts "new_msg". A dashboard channel
// "watch:NAME" never joins the room: it subscribes to room:NAME and gets
// its broadcasts as (broadcast_atom, topic, event, payload) (handle_info),
// pushes a short "activity" line for each new_msg, and answers "who" with
// room:NAME's presence list (Presence.list/1). The fetch hook adds a
// display name next to each user's metas, in presence_state, presence_diff
// and lists alike (Presence fetch/2).
//
//   build/bin/example-subscribe --port 4000
//   // client: socket.channel("watch:lobby").on("activity", ...)

#include <caf/all.hpp>
#include <cctype>
#include <ctime>

#include "fenix/fenix.hpp"
#include "fenix/log.hpp"

namespace json = boost::json;

caf::behavior room(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload&) {
      self->track(json::value_to<std::string>(self->assigns()["user"]),
                  {{"online_at", std::time(nullptr)}});
      self->push_presence_state();
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string& event, const fenix::payload& p) {
      self->broadcast(event, p);  // e.g. new_msg {"body": "..."}
      return fenix::reply::ok();
    },
  };
}

caf::behavior watch(fenix::channel* self) {
  auto room_topic = std::make_shared<std::string>();
  return {
    [=](fenix::join_atom, const std::string& topic, const fenix::payload&) {
      *room_topic = "room:" + topic.substr(6);  // "watch:lobby" -> room:lobby
      self->subscribe(*room_topic);             // ends with this channel
      return fenix::join_result::ok();
    },
    // handle_info for the subscribed topic: nothing reaches the client
    // unless pushed here.
    [=](fenix::broadcast_atom, const std::string& topic,
        const std::string& event, const fenix::payload& p) {
      if (event == "new_msg")
        self->push("activity", fenix::json_object{
                                 {"room", topic},
                                 {"size", json::serialize(p.json()).size()}});
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload&) -> fenix::reply {
      if (event == "stop_watching") {
        self->unsubscribe(*room_topic);
        return fenix::reply::ok();
      }
      // "who": reply later with the room's presence list, fetch applied.
      auto ref = self->socket_ref();
      self->presence_list(*room_topic, [=](json::object list) {
        self->reply(ref, fenix::reply::ok(std::move(list)));
      });
      return fenix::reply::none();
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
      return fenix::connect_result::refuse();
    return fenix::connect_result::accept(fenix::json_object{{"user", user}});
  });
  ep.channel("room:*", room);
  ep.channel("watch:*", watch);
  // Presence fetch/2: runs in the tracker, so it must be quick (a lookup
  // in memory, not a query per call).
  ep.presence_fetch("room:*", [](const std::string&, json::object& users) {
    for (auto& kv : users) {
      std::string name{kv.key()};
      if (!name.empty())
        name[0] = static_cast<char>(std::toupper(name[0]));
      kv.value().as_object()["name"] = name;
    }
  });
  // From outside any channel (any thread): GET /lobby logs how many users
  // the lobby has, without blocking the HTTP thread.
  ep.route("GET", "/lobby", [&](const fenix::transport::http_request&) {
    ep.presence_list("room:lobby", [](json::object list) {
      fenix::log::info("lobby: ", list.size(), " users");
    });
    return fenix::transport::http_response::json(202, "{}");
  });
  return ep.run();
}
