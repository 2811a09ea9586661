// Presence lists (Phoenix Presence.list/1) from a channel, from the
// endpoint and from an actor, and the fetch hook (Phoenix fetch/2) in
// presence_state, presence_diff and lists. Channel test kit, no network.

#include <catch2/catch.hpp>

#include <future>
#include <stdexcept>

#include <caf/all.hpp>

#include "fenix/testing/channel_test_kit.hpp"
#include "fenix/atoms.hpp"
#include "fenix/detail/endpoint_context.hpp"
#include "fenix/fenix.hpp"

using namespace std::chrono_literals;
using fenix::json_object;
using fenix::message;
namespace json = boost::json;

namespace {

// Tracks its user on join (with "track"); "who" {"topic"} replies with
// that topic's presence list, later.
caf::behavior room(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload& p) {
      if (p.json().is_object() && p.object().contains("track")) {
        self->track(json::value_to<std::string>(self->assigns()["user"]),
                    {{"online_at", 1}});
        self->push_presence_state();
      }
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string&, const fenix::payload& p) {
      auto ref = self->socket_ref();
      auto topic = json::value_to<std::string>(p.object().at("topic"));
      self->presence_list(topic, [=](json::object list) {
        self->reply(ref, fenix::reply::ok(std::move(list)));
      });
      return fenix::reply::none();
    },
  };
}

// Adds {"name": upper-cased key} next to each entry's metas.
void add_names(const std::string&, json::object& presences) {
  for (auto& kv : presences) {
    std::string name{kv.key()};
    for (auto& c : name)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    kv.value().as_object()["name"] = name;
  }
}

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<fenix::testing::channel_case> tc;

  fixture() {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    tc = std::make_unique<fenix::testing::channel_case>(*sys);
    tc->channel("room:*", room);
  }
};

auto diff_with(const char* half, const char* key) {
  return [=](const message& m) {
    return m.event == "presence_diff"
           && m.payload.object().at(half).as_object().contains(key);
  };
}

}  // namespace

TEST_CASE("a channel lists any topic's presences asynchronously",
          "[actors][presence][list]") {
  fixture f;
  auto a = f.tc->connect({{"user", "alice"}});
  REQUIRE(a->join("room:1", json_object{{"track", true}}).status == "ok");
  a->expect_push("room:1", "presence_state");
  auto b = f.tc->connect({{"user", "bob"}});
  REQUIRE(b->join("room:2").status == "ok");  // not tracked on room:2
  auto r =
    b->expect_reply(b->push("room:2", "who", json_object{{"topic", "room:1"}}));
  CHECK(r.status == "ok");
  auto& list = r.response.as_object();
  REQUIRE(list.size() == 1);
  auto& metas = list.at("alice").at("metas").as_array();
  REQUIRE(metas.size() == 1);
  CHECK(metas[0].at("online_at") == 1);
  CHECK(metas[0].as_object().contains("phx_ref"));
  // An empty topic lists as {}.
  r = b->expect_reply(
    b->push("room:2", "who", json_object{{"topic", "room:none"}}));
  CHECK(r.response == json::value(json_object{}));
}

TEST_CASE("the fetch hook enriches presence_state, diffs and lists",
          "[actors][presence][fetch]") {
  fixture f;
  f.tc->context()->presence->fetch("room:*", add_names);
  auto a = f.tc->connect({{"user", "alice"}});
  REQUIRE(a->join("room:1", json_object{{"track", true}}).status == "ok");
  auto st = a->expect_push("room:1", "presence_state");
  CHECK(st.payload.object().at("alice").at("name") == "ALICE");
  CHECK(st.payload.object().at("alice").at("metas").as_array().size() == 1);

  auto b = f.tc->connect({{"user", "bob"}});
  REQUIRE(b->join("room:1", json_object{{"track", true}}).status == "ok");
  auto d = a->expect(diff_with("joins", "bob"));
  CHECK(d.payload.object().at("joins").at("bob").at("name") == "BOB");

  auto r =
    a->expect_reply(a->push("room:1", "who", json_object{{"topic", "room:1"}}));
  CHECK(r.response.at("alice").at("name") == "ALICE");
  CHECK(r.response.at("bob").at("name") == "BOB");

  b->disconnect();
  auto l = a->expect(diff_with("leaves", "bob"));
  CHECK(l.payload.object().at("leaves").at("bob").at("name") == "BOB");
}

TEST_CASE("the fetch hook applies only to its pattern; a throw sends the map "
          "as it was",
          "[actors][presence][fetch]") {
  fixture f;
  f.tc->context()->presence->fetch(
    "room:bad", [](const std::string&, json::object& presences) {
      presences["intruder"] = json_object{{"metas", json::array{}}};
      throw std::runtime_error("lookup failed");
    });
  f.tc->context()->presence->fetch("room:named", add_names);
  auto a = f.tc->connect({{"user", "alice"}});
  REQUIRE(a->join("room:bad", json_object{{"track", true}}).status == "ok");
  auto st = a->expect_push("room:bad", "presence_state");
  CHECK(st.payload.object().size() == 1);
  CHECK(st.payload.object().at("alice").as_object().size() == 1);  // metas
  REQUIRE(a->join("room:plain", json_object{{"track", true}}).status == "ok");
  st = a->expect_push("room:plain", "presence_state");
  CHECK(!st.payload.object().at("alice").as_object().contains("name"));
}

TEST_CASE("the endpoint lists presences with a callback and for actors",
          "[actors][presence][list]") {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  fenix::endpoint_options opts;
  opts.port = 0;
  fenix::endpoint ep{sys, opts};
  ep.presence_fetch("lobby", add_names);
  // An owner actor tracked directly on the shard (channels do the same).
  caf::scoped_actor owner{sys};
  caf::anon_send(ep.presence_shard("lobby"), fenix::track_atom::value,
                 std::string{"lobby"}, std::string{"carol"},
                 fenix::payload{json_object{{"online_at", 7}}},
                 caf::actor{owner});

  std::promise<json::object> got;
  ep.presence_list("lobby",
                   [&](json::object list) { got.set_value(std::move(list)); });
  auto fut = got.get_future();
  REQUIRE(fut.wait_for(5s) == std::future_status::ready);
  auto list = fut.get();
  CHECK(list.at("carol").at("name") == "CAROL");
  CHECK(list.at("carol").at("metas").at(0).at("online_at") == 7);

  // From an actor: a request to the topic's shard.
  caf::scoped_actor self{sys};
  bool answered = false;
  self
    ->request(ep.presence_shard("lobby"), 5s, fenix::list_atom::value,
              std::string{"lobby"})
    .receive(
      [&](const fenix::payload& p) {
        answered = true;
        CHECK(p.object().at("carol").at("name") == "CAROL");
      },
      [&](caf::error& err) { FAIL(caf::to_string(err)); });
  CHECK(answered);
}
