// tour: the constructs of docs/phoenix-to-fenix.md in one compiled program,
// a chat room written the way its Phoenix original reads. The user comes
// from the connect param ?user=NAME.
//
//   build/bin/example-tour --port 4000
//   # client: socket.channel("room:lobby").join(), push("new_msg", {body})

#include <chrono>
#include <ctime>

#include <boost/describe/class.hpp>
#include <caf/all.hpp>

#include "fenix/fenix.hpp"

// Atoms of this program's own messages (handle_info).
CAF_ADD_ATOM(tour, tour, tick_atom, "tick")
CAF_ADD_ATOM(tour, tour, later_atom, "later")

namespace tour {

// -- payloads (Phoenix: the maps handle_in pattern-matches) ------------------

struct new_msg {
  std::string body;
};
BOOST_DESCRIBE_STRUCT(new_msg, (), (body))

struct said {
  std::string user;
  std::string body;
};
BOOST_DESCRIBE_STRUCT(said, (), (user, body))

struct sent {
  int count = 0;
};
BOOST_DESCRIBE_STRUCT(sent, (), (count))

// -- channel state (Phoenix: socket.assigns set by the channel) ---------------

struct room_state {
  std::string user;
  int sent = 0;
};

using room_actor = fenix::stateful_channel<room_state>;

caf::behavior room(room_actor* self) {
  return {
    // def join("room:" <> _, params, socket)
    [=](fenix::join_atom, const std::string& topic, const fenix::payload&) {
      if (topic == "room:secret")
        return fenix::join_result::error(
          fenix::json_object{{"reason", "unauthorized"}});
      self->state.user = self->assign<std::string>("user");
      self->assign("joined_at", std::time(nullptr));  // assign(socket, ...)
      self->intercept({"new_msg"});                   // intercept [...]
      self->track(self->state.user, {{"online_at", std::time(nullptr)}});
      self->push_presence_state();  // push(socket, "presence_state", ...)
      self->push("welcome",
                 fenix::json_object{{"topic", topic}});  // after the join reply
      self->delayed_send(self, std::chrono::seconds(30), tick_atom_v);
      return fenix::join_result::ok(fenix::json_object{{"joined", true}});
    },
    // def handle_in("new_msg", %{"body" => body}, socket), ...
    fenix::events{
      fenix::on<new_msg>("new_msg",
                         [=](const new_msg& m) {
                           ++self->state.sent;
                           self->broadcast(
                             "new_msg",
                             fenix::encode(said{self->state.user, m.body}));
                           return sent{self->state.sent};  // {:reply, {:ok..
                         }),
      fenix::on("shout_others",
                [=](const fenix::payload& p) {
                  self->broadcast_from("shout", p);  // broadcast_from!
                  return fenix::reply::ok();
                }),
      fenix::on("slow",
                [=] {  // {:noreply, socket}, reply(socket_ref, ...) later
                  self->send(self, later_atom_v, self->socket_ref());
                }),
      fenix::on("bye",
                [=] {  // {:stop, :normal, {:ok, %{bye: true}}, socket}
                  self->stop();
                  return fenix::reply::ok(fenix::json_object{{"bye", true}});
                }),
    },
    // def handle_out("new_msg", msg, socket)
    [=](fenix::out_atom, const std::string& event, const fenix::payload& p) {
      auto m = fenix::decode<said>(p);
      if (m && m->body == "secret" && m->user != self->state.user)
        return;  // not pushed to this client
      self->push(event, p);
    },
    // def handle_info(:tick, socket)
    [=](tick_atom) {
      self->push("tick", fenix::json_object{{"sent", self->state.sent}});
      self->delayed_send(self, std::chrono::seconds(30), tick_atom_v);
    },
    [=](later_atom, const fenix::reply_ref& ref) {
      self->reply(ref, fenix::reply::ok(fenix::json_object{{"done", true}}));
    },
    // def terminate(reason, socket)
    [=](fenix::terminate_atom, fenix::close_reason why) {
      static_cast<void>(why);  // left, closed, stopped, crashed, ...
    },
  };
}

}  // namespace tour

int main(int argc, char** argv) {
  fenix::endpoint_options opts;
  if (argc == 3 && std::string{argv[1]} == "--port")
    opts.port = static_cast<std::uint16_t>(std::stoi(argv[2]));
  caf::actor_system_config cfg;
  fenix::configure_scheduler(cfg);
  caf::actor_system sys{cfg};
  fenix::endpoint ep{sys, opts};
  // def connect(params, socket, connect_info) + def id(socket)
  ep.on_connect([](const fenix::connect_info& info) {
    auto user = info.param("user");
    if (user.empty())
      return fenix::connect_result::refuse();  // :error -> 403
    return fenix::connect_result::accept({{"user", user}},
                                         "users_socket:" + user);
  });
  ep.channel("room:*", tour::room);  // channel "room:*", RoomChannel
  // MyAppWeb.Endpoint.broadcast("users_socket:" <> user, "disconnect", %{})
  // ends that user's sockets: ep.broadcast("users_socket:alice",
  // "disconnect", {}).
  return ep.run();
}
