// A channel driven through the channel test kit: join, push with a reply,
// and a broadcast. Prints fenix's version; exits 0 on success.

#include <iostream>

#include <caf/all.hpp>

#include <fenix/fenix.hpp>
#include <fenix/testing.hpp>

namespace {

caf::behavior room(fenix::channel* self) {
  return {
    [](fenix::join_atom, const std::string&, const fenix::payload&) {
      return fenix::join_result::ok(fenix::json_object{{"hello", "consumer"}});
    },
    [self](fenix::in_atom, const std::string& event,
           const fenix::payload& p) -> fenix::reply {
      if (event == "ping")
        return fenix::reply::ok(p);
      self->broadcast("shout", p);
      return fenix::reply::ok();
    },
  };
}

}  // namespace

int main() {
  caf::actor_system_config cfg;
  fenix::configure_scheduler(cfg);
  caf::actor_system sys{cfg};
  try {
    fenix::testing::channel_case tc{sys};
    tc.channel("room:*", room);
    auto sock = tc.connect();
    auto joined = sock->join("room:lobby");
    if (joined.status != "ok")
      throw std::runtime_error("join: " + joined.status);
    auto ref = sock->push("room:lobby", "ping", fenix::json_object{{"n", 1}});
    auto r = sock->expect_reply(ref);
    if (r.status != "ok" || r.response != fenix::json_object{{"n", 1}})
      throw std::runtime_error("ping: unexpected reply");
    sock->push("room:lobby", "shout", fenix::json_object{{"m", "hi"}});
    sock->expect_broadcast("room:lobby", "shout");
  } catch (const std::exception& e) {
    std::cerr << "consumer: FAILED: " << e.what() << '\n';
    return 1;
  }
  std::cout << "consumer: ok, fenix " << fenix::version() << '\n';
  return 0;
}
