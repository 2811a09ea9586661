// Channel lifecycle through a real socket actor, with the channel test kit
// (no network): join, replies, pushes, broadcasts, leave, crash, stop,
// duplicate join, stale refs, limits and presence.

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "fenix/testing/channel_test_kit.hpp"
#include "fenix/fenix.hpp"

using namespace std::chrono_literals;
using fenix::json_object;
using fenix::message;
namespace json = boost::json;

namespace {

using later_atom = caf::atom_constant<caf::atom("later")>;

caf::behavior room(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string& topic, const fenix::payload& p) {
      if (topic == "room:secret")
        return fenix::join_result::error(
          json_object{{"reason", "unauthorized"}});
      if (topic == "room:boom")
        throw std::runtime_error("join crashed on purpose");
      if (p.json().is_object() && p.object().contains("track")) {
        self->track(json::value_to<std::string>(self->assigns()["user"]),
                    {{"online_at", 1}});
        self->push_presence_state();
      }
      self->intercept({"filtered"});
      self->push("welcome", json_object{{"topic", topic}});
      return fenix::join_result::ok(json_object{{"joined", true}});
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      if (event == "ping")
        return fenix::reply::ok(p);
      if (event == "nope")
        return fenix::reply::error(json_object{{"reason", "nope"}});
      if (event == "shout") {
        self->broadcast("shout", p);
        return fenix::reply::ok();
      }
      if (event == "whisper") {
        self->broadcast_from("whisper", p);
        return fenix::reply::ok();
      }
      if (event == "filtered") {
        self->broadcast("filtered", p);
        return fenix::reply::ok();
      }
      if (event == "later") {
        self->send(self, later_atom::value, self->socket_ref());
        return fenix::reply::none();
      }
      if (event == "stop") {
        self->reply(self->socket_ref(), fenix::reply::ok(p));
        self->stop();
        return fenix::reply::none();
      }
      if (event == "typing") {
        self->update(json::value_to<std::string>(self->assigns()["user"]),
                     p.object());
        return fenix::reply::ok();
      }
      if (p.is_binary())
        return fenix::reply::ok(fenix::payload::binary(p.bytes() + "!"));
      throw std::runtime_error("boom");
    },
    [=](fenix::out_atom, const std::string& event, const fenix::payload& p) {
      auto o = p.object();
      if (o["skip"] == self->assigns()["user"])
        return;
      o["seen_by"] = self->assigns()["user"];
      self->push(event, o);
    },
    [=](later_atom, const fenix::reply_ref& ref) {
      self->reply(ref, fenix::reply::ok(json_object{{"n", 1}}));
      self->reply(ref, fenix::reply::ok(json_object{{"n", 2}}));
    },
    [=](fenix::terminate_atom, fenix::close_reason why) {
      if (why == fenix::close_reason::left)
        self->push("you_left", json_object{});
    },
  };
}

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<fenix::testing::channel_case> tc;

  fixture(fenix::endpoint_options opts = {}) {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    tc = std::make_unique<fenix::testing::channel_case>(*sys, opts);
    tc->channel("room:*", room);
  }
};

auto event_is(const std::string& topic, const std::string& event) {
  return [=](const message& m) { return m.topic == topic && m.event == event; };
}

}  // namespace

TEST_CASE("join replies ok, then pushes made during join",
          "[actors][channel]") {
  fixture f;
  auto s = f.tc->connect({{"user", "alice"}});
  auto r = s->join("room:lobby");
  CHECK(r.status == "ok");
  CHECK(r.response == json::value(json_object{{"joined", true}}));
  CHECK(r.raw.join_ref == r.raw.ref);
  auto w = s->expect_push("room:lobby", "welcome");
  CHECK(w.join_ref == r.raw.join_ref);
}

TEST_CASE("refused and crashed joins", "[actors][channel]") {
  fixture f;
  auto s = f.tc->connect();
  auto r = s->join("room:secret");
  CHECK(r.status == "error");
  CHECK(r.response == json::value(json_object{{"reason", "unauthorized"}}));
  auto c = s->join("room:boom");
  CHECK(c.status == "error");
  CHECK(c.response == json::value(json_object{{"reason", "join crashed"}}));
  CHECK(s->refute(event_is("room:secret", "phx_close")));
  // The socket lives on.
  CHECK(s->join("room:lobby").status == "ok");
}

TEST_CASE("unmatched topic and events on topics not joined",
          "[actors][socket]") {
  fixture f;
  auto s = f.tc->connect();
  auto r = s->join("nope:x");
  CHECK(r.status == "error");
  CHECK(!r.raw.join_ref);
  CHECK(r.response == json::value(json_object{{"reason", "unmatched topic"}}));
  auto ref = s->push("room:other", "ping", json_object{});
  auto e = s->expect_reply(ref);
  CHECK(e.response == json::value(json_object{{"reason", "unmatched topic"}}));
  CHECK(!e.raw.join_ref);
}

TEST_CASE("heartbeat is answered on topic phoenix", "[actors][socket]") {
  fixture f;
  auto s = f.tc->connect();
  s->send_raw(R"([null,"10","phoenix","heartbeat",{}])");
  auto r = s->expect_reply("10");
  CHECK(r.status == "ok");
  CHECK(r.raw.topic == "phoenix");
  CHECK(!r.raw.join_ref);
}

TEST_CASE("replies: ok, error, later and several", "[actors][channel]") {
  fixture f;
  auto s = f.tc->connect();
  s->join("room:a");
  auto p = s->expect_reply(s->push("room:a", "ping", json_object{{"x", 1}}));
  CHECK(p.status == "ok");
  CHECK(p.response == json::value(json_object{{"x", 1}}));
  auto n = s->expect_reply(s->push("room:a", "nope"));
  CHECK(n.status == "error");
  auto ref = s->push("room:a", "later");
  CHECK(s->expect_reply(ref).response == json::value(json_object{{"n", 1}}));
  CHECK(s->expect_reply(ref).response == json::value(json_object{{"n", 2}}));
}

TEST_CASE("binary push gets a binary reply", "[actors][channel]") {
  fixture f;
  auto s = f.tc->connect();
  s->join("room:a");
  auto r = s->expect_reply(
    s->push("room:a", "bin", fenix::payload::binary(std::string("\1\2", 2))));
  CHECK(r.status == "ok");
  CHECK(r.raw.event == "phx_reply");  // as fenix::client reads it
  CHECK(r.raw.payload.bytes() == std::string("\1\2!", 3));
}

TEST_CASE("broadcast reaches every subscriber, broadcast_from all but one",
          "[actors][pubsub]") {
  fixture f;
  auto a = f.tc->connect({{"user", "a"}});
  auto b = f.tc->connect({{"user", "b"}});
  auto c = f.tc->connect({{"user", "c"}});
  a->join("room:x");
  b->join("room:x");
  c->join("room:y");
  a->expect_reply(a->push("room:x", "shout", json_object{{"m", 1}}));
  CHECK(a->expect_broadcast("room:x", "shout").payload.json()
        == json::value(json_object{{"m", 1}}));
  b->expect_broadcast("room:x", "shout");
  CHECK(c->refute(event_is("room:x", "shout")));
  a->expect_reply(a->push("room:x", "whisper", json_object{}));
  b->expect_broadcast("room:x", "whisper");
  CHECK(a->refute(event_is("room:x", "whisper")));
  f.tc->broadcast("room:x", "news", json_object{{"n", 1}});
  a->expect_broadcast("room:x", "news");
  b->expect_broadcast("room:x", "news");
}

TEST_CASE("intercepted events go through handle_out per client",
          "[actors][channel]") {
  fixture f;
  auto a = f.tc->connect({{"user", "a"}});
  auto b = f.tc->connect({{"user", "b"}});
  a->join("room:x");
  b->join("room:x");
  a->push("room:x", "filtered", json_object{{"skip", "a"}});
  auto m = b->expect_push("room:x", "filtered");
  CHECK(m.payload.object().at("seen_by") == "b");
  CHECK(a->refute(event_is("room:x", "filtered")));
}

TEST_CASE("leave: reply, phx_close, then pushes from terminate",
          "[actors][channel]") {
  fixture f;
  auto s = f.tc->connect();
  auto j = s->join("room:a");
  s->expect_push("room:a", "welcome");
  auto ref = s->leave("room:a");
  auto r = s->expect([](const message&) { return true; });
  CHECK(r.event == "phx_reply");
  CHECK(r.ref == ref);
  auto c = s->expect([](const message&) { return true; });
  CHECK(c.event == "phx_close");
  CHECK(c.ref == j.raw.join_ref);
  CHECK(c.join_ref == j.raw.join_ref);
  auto y = s->expect([](const message&) { return true; });
  CHECK(y.event == "you_left");
  // The topic is gone: events are unmatched now.
  auto u = s->expect_reply(s->push("room:a", "ping"));
  CHECK(u.response == json::value(json_object{{"reason", "unmatched topic"}}));
  // Leaving a topic not joined: ok, no phx_close.
  CHECK(s->expect_reply(s->leave("room:zzz")).status == "ok");
  CHECK(s->refute(event_is("room:zzz", "phx_close")));
}

TEST_CASE("a crash sends phx_error and leaves the socket alive",
          "[actors][channel]") {
  fixture f;
  auto s = f.tc->connect();
  auto j = s->join("room:a");
  s->join("room:b");
  s->push("room:a", "crash");
  auto e = s->expect(event_is("room:a", "phx_error"));
  CHECK(e.ref == j.raw.join_ref);
  CHECK(e.payload.json()
        == json::value(json_object{{"reason", "channel_crash"}}));
  CHECK(s->expect_reply(s->push("room:b", "ping")).status == "ok");
  CHECK(s->join("room:a").status == "ok");  // rejoin works
}

TEST_CASE("stop sends the reply then phx_close", "[actors][channel]") {
  fixture f;
  auto s = f.tc->connect();
  auto j = s->join("room:a");
  auto ref = s->push("room:a", "stop", json_object{{"bye", true}});
  auto r = s->expect_reply(ref);
  CHECK(r.response == json::value(json_object{{"bye", true}}));
  auto c = s->expect(event_is("room:a", "phx_close"));
  CHECK(c.ref == j.raw.join_ref);
  CHECK(s->refute(event_is("room:a", "phx_error")));
}

TEST_CASE("duplicate join closes the old channel after the new reply",
          "[actors][socket]") {
  fixture f;
  auto s = f.tc->connect();
  auto first = s->join("room:a");
  s->expect_push("room:a", "welcome");
  auto second = s->join("room:a");
  CHECK(second.status == "ok");
  auto c = s->expect(event_is("room:a", "phx_close"));
  CHECK(c.join_ref == first.raw.join_ref);
  // Events with the new join_ref work; the old one is stale and dropped.
  CHECK(s->expect_reply(s->push("room:a", "ping")).status == "ok");
}

TEST_CASE("stale join_refs are dropped silently", "[actors][socket]") {
  fixture f;
  auto s = f.tc->connect();
  s->join("room:a");
  s->send_raw(R"(["999","50","room:a","ping",{}])");
  s->send_raw(R"(["999","51","room:a","phx_leave",{}])");
  s->send_raw(R"([null,"52","phoenix","heartbeat",{}])");
  s->expect_reply("52");
  CHECK(
    s->refute([](const message& m) { return m.ref == "50" || m.ref == "51"; }));
  // A null join_ref still reaches the channel.
  s->send_raw(R"([null,"53","room:a","ping",{}])");
  CHECK(s->expect_reply("53").status == "ok");
}

TEST_CASE("the 101st channel is refused", "[actors][socket]") {
  fixture f;
  auto s = f.tc->connect();
  for (int i = 0; i < 100; ++i)
    REQUIRE(s->join("room:" + std::to_string(i)).status == "ok");
  auto r = s->join("room:100");
  CHECK(r.status == "error");
  CHECK(r.response
        == json::value(json_object{{"reason", "too many channels joined"}}));
}

TEST_CASE("undecodable frames close the connection with 1007",
          "[actors][socket]") {
  fixture f;
  for (auto bad : {"not json", R"({"topic":"x"})", R"([1,2,3,4])",
                   R"([null,"1",7,"ev",{}])"}) {
    auto s = f.tc->connect();
    s->send_raw(bad);
    CHECK(s->close_code() == 1007);
  }
  auto b = f.tc->connect();
  b->send_raw(std::string("\7abc", 4), true);
  CHECK(b->close_code() == 1007);
}

TEST_CASE("socket id disconnect closes with 1001", "[actors][socket]") {
  fixture f;
  auto a = f.tc->connect({}, "users_socket:1");
  auto b = f.tc->connect({}, "users_socket:1");
  a->join("room:a");  // makes sure the subscriptions are in place
  b->join("room:a");
  f.tc->broadcast("users_socket:1", "disconnect", json_object{});
  CHECK(a->close_code() == 1001);
  CHECK(b->close_code() == 1001);
}

TEST_CASE("presence: state after join, diffs on join, update and exit",
          "[actors][presence]") {
  fixture f;
  auto a = f.tc->connect({{"user", "alice"}});
  a->join("room:p", json_object{{"track", true}});
  auto st = a->expect_push("room:p", "presence_state");
  REQUIRE(st.payload.object().contains("alice"));
  auto b = f.tc->connect({{"user", "bob"}});
  b->join("room:p", json_object{{"track", true}});
  auto d = a->expect([](const message& m) {
    return m.event == "presence_diff"
           && m.payload.object().at("joins").as_object().contains("bob");
  });
  CHECK(!d.join_ref);
  auto bob_meta = d.payload.object().at("joins").at("bob").at("metas").at(0);
  b->expect_reply(b->push("room:p", "typing", json_object{{"typing", true}}));
  auto u = a->expect([](const message& m) {
    return m.event == "presence_diff"
           && m.payload.object().at("leaves").as_object().contains("bob");
  });
  auto joined = u.payload.object().at("joins").at("bob").at("metas").at(0);
  CHECK(joined.at("phx_ref_prev") == bob_meta.at("phx_ref"));
  CHECK(joined.at("typing") == true);
  b->disconnect();
  auto l = a->expect([](const message& m) {
    return m.event == "presence_diff"
           && m.payload.object().at("leaves").as_object().contains("bob")
           && m.payload.object().at("joins").as_object().empty();
  });
  CHECK(l.payload.object().at("leaves").at("bob").at("metas").at(0).at("typing")
        == true);
}
