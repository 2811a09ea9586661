// The pointing app's pure parts: validation, the reveal summary, and the
// room store's round trip (docs/apps.md "Pointing party").
#include "apps/pointing/pointing_channel.hpp"
#include "apps/pointing/room_store.hpp"
#include "apps/pointing/rooms.hpp"

#include <cstdio>
#include <unistd.h>
#include <string>

#include <caf/all.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace fenix::apps::pointing;
namespace json = boost::json;

namespace {

fenix::payload parse(const char* text) {
  return fenix::payload{json::parse(text)};
}

}  // namespace

TEST_CASE("pointing: valid_points takes exactly 0 1 2 3 5 8 13 21",
          "[apps][pointing]") {
  for (int n : {0, 1, 2, 3, 5, 8, 13, 21})
    CHECK(
      valid_points(parse(("{\"points\":" + std::to_string(n) + "}").c_str()))
      == n);
  for (auto bad :
       {R"({"points":4})", R"({"points":-1})", R"({"points":5.0})",
        R"({"points":"5"})", R"({"points":true})", R"({"points":null})",
        R"({"points":18446744073709551615})", R"({})", R"([5])", "5"})
    CHECK_FALSE(valid_points(parse(bad)));
}

TEST_CASE("pointing: valid_title is a string of 1-200 code points",
          "[apps][pointing]") {
  CHECK(valid_title(parse(R"({"title":"a"})")) == "a");
  CHECK(valid_title(
    parse(("{\"title\":\"" + std::string(200, 'x') + "\"}").c_str())));
  CHECK_FALSE(valid_title(
    parse(("{\"title\":\"" + std::string(201, 'x') + "\"}").c_str())));
  std::string e200;
  for (int i = 0; i < 200; ++i)
    e200 += "\xC3\xA9";  // é: 400 bytes, 200 characters
  CHECK(valid_title(parse(("{\"title\":\"" + e200 + "\"}").c_str())));
  for (auto bad : {R"({"title":""})", R"({"title":5})", R"({"title":null})",
                   R"({})", R"("x")"})
    CHECK_FALSE(valid_title(parse(bad)));
}

TEST_CASE("pointing: summarize", "[apps][pointing]") {
  auto s = summarize({{"a", 3}, {"b", 5}, {"c", 8}});
  CHECK(s.at("min").as_int64() == 3);
  CHECK(s.at("max").as_int64() == 8);
  CHECK(s.at("average").as_double() == Approx(5.33).margin(1e-9));
  CHECK(s.at("consensus").as_bool() == false);
  auto same = summarize({{"a", 5}, {"b", 5}});
  CHECK(same.at("average").as_int64() == 5);
  CHECK(same.at("consensus").as_bool());
  CHECK(summarize({{"a", 1}, {"b", 2}}).at("average").as_double() == 1.5);
  CHECK(summarize({{"a", 0}, {"b", 1}, {"c", 1}}).at("average").as_double()
        == Approx(0.67).margin(1e-9));
}

TEST_CASE("pointing: room_store saves and loads whole rooms",
          "[apps][pointing][storage]") {
  std::string path =
    "/tmp/fenix-pointing-test-" + std::to_string(::getpid()) + ".db";
  {
    room_store db{path};
    auto empty = db.load("lobby");
    CHECK(empty.name == "lobby");
    CHECK_FALSE(empty.current);
    CHECK(empty.votes.empty());
    CHECK_FALSE(empty.revealed);
    room_record r;
    r.name = "lobby";
    r.current = ticket{"Login", "alice"};
    r.votes = {{"alice", 5}, {"bob", 8}};
    r.revealed = true;
    db.save(r);
    r.votes.erase("bob");  // a later save replaces the votes
    db.save(r);
  }
  room_store again{path};
  auto r = again.load("lobby");
  REQUIRE(r.current);
  CHECK(r.current->title == "Login");
  CHECK(r.current->by == "alice");
  CHECK(r.votes == std::map<std::string, int>{{"alice", 5}});
  CHECK(r.revealed);
  CHECK(again.load("other").votes.empty());
  for (auto suffix : {"", "-wal", "-shm"})
    std::remove((path + suffix).c_str());
}

TEST_CASE("pointing: a room goes when its last member does, and comes back "
          "with its state",
          "[apps][pointing]") {
  using namespace std::chrono_literals;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto reg = spawn_room_registry(sys, ":memory:");
  caf::scoped_actor self{sys};
  // A stand-in channel: enters the room, sets a ticket, tells us the room.
  caf::actor me = self;
  auto member = sys.spawn([=](caf::event_based_actor* m) -> caf::behavior {
    m->request(reg, 5s, enter_atom::value, "lobby", "alice")
      .then([=](caf::actor& a, fenix::payload&) {
        m->request(a, 5s, command_atom::value, "set_ticket",
                   fenix::payload{json::object{{"title", "T"}}})
          .then([=](const fenix::reply&) { m->send(me, a); });
      });
    return {[](push_atom, const std::string&, const fenix::payload&) {}};
  });
  caf::actor first;
  self->receive([&](caf::actor& a) { first = a; }, caf::after(5s) >> [] {});
  REQUIRE(first);
  self->monitor(first);
  self->send_exit(member, caf::exit_reason::kill);
  bool gone = false;
  self->receive([&](caf::down_msg& dm) { gone = dm.source == first; },
                caf::after(5s) >> [] {});
  CHECK(gone);
  // The next enter gets a new room with the stored ticket.
  self->request(reg, 5s, enter_atom::value, "lobby", "bob")
    .receive(
      [&](caf::actor& a, fenix::payload& r) {
        CHECK(a != first);
        CHECK(r.object().at("reply").at("ticket").at("title") == "T");
      },
      [](caf::error& e) { FAIL(caf::to_string(e)); });
  self->send_exit(reg, caf::exit_reason::user_shutdown);
}
