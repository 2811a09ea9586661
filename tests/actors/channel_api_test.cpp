// The channel API, round two, with the channel test kit (no network):
// typed state (stateful_channel), typed payloads and replies (decode,
// encode, fenix::events), typed assigns, stop with a reply in Phoenix's
// order, and become() that keeps the framework's handlers.

#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>

#include <boost/describe/class.hpp>
#include <caf/all.hpp>

#include "fenix/fenix.hpp"
#include "fenix/testing.hpp"

using namespace std::chrono_literals;
using fenix::json_object;
using fenix::message;
namespace json = boost::json;

namespace {

struct author {
  std::string name;
  std::optional<int> age;
};
BOOST_DESCRIBE_STRUCT(author, (), (name, age))

struct new_msg {
  std::string body;
  std::vector<std::string> tags;
  std::optional<author> by;
};
BOOST_DESCRIBE_STRUCT(new_msg, (), (body, tags, by))

struct sent {
  std::string body;
  std::size_t tags = 0;
};
BOOST_DESCRIBE_STRUCT(sent, (), (body, tags))

// Counts live count_state objects (state destruction), with a wait.
struct live_count {
  std::mutex mx;
  std::condition_variable cv;
  int n = 0;

  void add(int d) {
    std::lock_guard<std::mutex> guard{mx};
    n += d;
    cv.notify_all();
  }
  bool wait_for(int want, std::chrono::milliseconds t) {
    std::unique_lock<std::mutex> guard{mx};
    return cv.wait_for(guard, t, [&] { return n == want; });
  }
};

live_count states_alive;

struct count_state {
  int n = 0;
  std::string user;
  bool counted = false;
  ~count_state() {
    if (counted)
      states_alive.add(-1);
  }
};

json::value j(json_object o) {
  return json::value(std::move(o));
}

caf::behavior typed(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload&) {
      return fenix::join_result::ok();
    },
    fenix::events{
      fenix::on<new_msg>("new_msg",
                         [](const new_msg& m) {
                           return sent{m.body, m.tags.size()};
                         }),
      fenix::on("ping",
                [](const fenix::payload& p) { return fenix::reply::ok(p); }),
      fenix::on("quiet", [] {}),
      fenix::on("stop",
                [=] {
                  self->stop();
                  return fenix::reply::ok(json_object{{"bye", true}});
                }),
      fenix::on("stop_later",
                [=] {
                  self->reply(self->socket_ref(), fenix::reply::ok());
                  self->stop();
                }),
    },
  };
}

caf::behavior lenient(fenix::channel*) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload&) {
      return fenix::join_result::ok();
    },
    fenix::events{
      fenix::on<new_msg>("new_msg", [](const new_msg&) {}),
    }
      .on_invalid([](const std::string&, const fenix::invalid_payload& e) {
        return fenix::reply::error(
          json_object{{"reason", "invalid " + e.field}});
      })
      .on_unknown([](const std::string& event, const fenix::payload&) {
        return fenix::reply::error(json_object{{"unknown", event}});
      }),
  };
}

caf::behavior counter(fenix::stateful_channel<count_state>* self) {
  return {
    [=](fenix::join_atom, const std::string& topic, const fenix::payload&) {
      auto& st = self->state;
      st.counted = true;
      states_alive.add(1);
      if (topic == "count:strict")
        st.user = self->assign<std::string>("user");  // throws if missing
      try {
        st.user = self->assign<std::string>("user");
      } catch (const fenix::assign_error& e) {
        return fenix::join_result::error(json_object{{"reason", e.what()}});
      }
      self->assign("joined_as", st.user);
      return fenix::join_result::ok(
        json_object{{"user", st.user},
                    {"age", fenix::encode(self->find_assign<int>("age"))}});
    },
    fenix::events{
      fenix::on("inc",
                [=] {
                  return json_object{{"n", ++self->state.n}};
                }),
      fenix::on("who",
                [=] {
                  return json_object{
                    {"joined_as", self->assign<std::string>("joined_as")}};
                }),
    },
  };
}

// Two modes: "switch" becomes mode two (keeping mode one for "back").
caf::behavior modes(fenix::channel* self) {
  auto two = caf::behavior{
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload&) -> fenix::reply {
      if (event == "back")
        self->unbecome();
      if (event == "shout")
        self->broadcast("shout", json_object{{"mode", 2}});
      return fenix::reply::ok(json_object{{"mode", 2}});
    },
  };
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload&) {
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload&) -> fenix::reply {
      if (event == "switch")
        self->become(caf::keep_behavior, two);
      if (event == "replace")
        self->become(
          [](fenix::in_atom, const std::string&, const fenix::payload&) {
            return fenix::reply::ok(json_object{{"mode", 3}});
          });
      return fenix::reply::ok(json_object{{"mode", 1}});
    },
  };
}

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<fenix::testing::channel_case> tc;

  fixture() {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    tc = std::make_unique<fenix::testing::channel_case>(*sys);
    tc->channel("typed:*", typed);
    tc->channel("lenient:*", lenient);
    tc->channel("count:*", counter);
    tc->channel("modes:*", modes);
  }
};

auto event_is(const std::string& topic, const std::string& event) {
  return [=](const message& m) { return m.topic == topic && m.event == event; };
}

}  // namespace

TEST_CASE("decode: described structs, optionals, vectors, field paths",
          "[actors][typed]") {
  auto ok = fenix::decode<new_msg>(
    json::parse(R"({"body":"hi","tags":["a","b"],"by":{"name":"al"},"x":1})"));
  REQUIRE(ok);
  CHECK(ok->body == "hi");
  CHECK(ok->tags == std::vector<std::string>{"a", "b"});
  REQUIRE(ok->by);
  CHECK(ok->by->name == "al");
  CHECK(!ok->by->age);

  auto check = [](const char* text, const char* field, const char* error) {
    auto d = fenix::decode<new_msg>(json::parse(text));
    REQUIRE(!d);
    CHECK(d.error().field == field);
    CHECK(d.error().error == error);
  };
  check(R"({"tags":[]})", "body", "missing");
  check(R"({"body":1,"tags":[]})", "body", "expected string");
  check(R"({"body":"x"})", "tags", "missing");
  check(R"({"body":"x","tags":["a",2]})", "tags[1]", "expected string");
  check(R"({"body":"x","tags":[],"by":{}})", "by.name", "missing");
  check(R"({"body":"x","tags":[],"by":{"name":"a","age":1.5}})", "by.age",
        "expected integer");
  check(R"([1])", "", "expected object");
  auto bin = fenix::decode<new_msg>(fenix::payload::binary("\1"));
  REQUIRE(!bin);
  CHECK(bin.error().error == "expected JSON");
  CHECK(!fenix::decode<std::uint8_t>(json::value(300)));
  CHECK(!fenix::decode<unsigned>(json::value(-1)));
  CHECK(*fenix::decode<double>(json::value(2)) == 2.0);

  // encode mirrors decode.
  new_msg m{"hi", {"t"}, author{"al", 3}};
  auto e = fenix::encode(m);
  CHECK(
    e
    == json::parse(R"({"body":"hi","tags":["t"],"by":{"name":"al","age":3}})"));
  CHECK(fenix::decode<new_msg>(e)->by->age == 3);
  CHECK(fenix::encode(author{"b", std::nullopt})
        == json::parse(R"({"name":"b","age":null})"));
}

TEST_CASE("events: typed payload, typed reply, invalid payload named",
          "[actors][typed]") {
  fixture f;
  auto s = f.tc->connect();
  REQUIRE(s->join("typed:a").status == "ok");
  auto r = s->expect_reply(s->push(
    "typed:a", "new_msg", json_object{{"body", "hi"}, {"tags", {"x", "y"}}}));
  CHECK(r.status == "ok");
  CHECK(r.response == j({{"body", "hi"}, {"tags", 2}}));

  auto bad = s->expect_reply(
    s->push("typed:a", "new_msg", json_object{{"tags", json::array{}}}));
  CHECK(bad.status == "error");
  CHECK(bad.response
        == j({{"reason", "invalid payload"},
              {"field", "body"},
              {"error", "missing"}}));
  auto wrong = s->expect_reply(s->push(
    "typed:a", "new_msg", json_object{{"body", 5}, {"tags", json::array{}}}));
  CHECK(wrong.response.at("field") == "body");
  CHECK(wrong.response.at("error") == "expected string");

  // Untyped row; a handler returning nothing sends no reply.
  auto p = s->expect_reply(s->push("typed:a", "ping", json_object{{"n", 1}}));
  CHECK(p.response == j({{"n", 1}}));
  auto q = s->push("typed:a", "quiet");
  CHECK(s->refute([&](const message& m) { return m.ref == q; }));
}

TEST_CASE("events: an unknown event crashes the channel, as in Phoenix",
          "[actors][typed]") {
  fixture f;
  auto s = f.tc->connect();
  REQUIRE(s->join("typed:a").status == "ok");
  s->push("typed:a", "nope");
  s->expect(event_is("typed:a", "phx_error"));
  CHECK(s->join("typed:a").status == "ok");  // the socket lives on
}

TEST_CASE("events: on_invalid and on_unknown replace the answers",
          "[actors][typed]") {
  fixture f;
  auto s = f.tc->connect();
  REQUIRE(s->join("lenient:a").status == "ok");
  auto bad = s->expect_reply(s->push("lenient:a", "new_msg", json_object{}));
  CHECK(bad.response == j({{"reason", "invalid body"}}));
  auto u = s->expect_reply(s->push("lenient:a", "other"));
  CHECK(u.status == "error");
  CHECK(u.response == j({{"unknown", "other"}}));
}

TEST_CASE("stop with a reply: phx_reply goes out before phx_close",
          "[actors][channel]") {
  fixture f;
  auto s = f.tc->connect();
  for (std::string event : {"stop", "stop_later"}) {
    auto topic = "typed:" + event;  // a new topic: no duplicate join
    REQUIRE(s->join(topic).status == "ok");
    auto ref = s->push(topic, event);
    // The first of the two on the wire must be the reply.
    auto first = s->expect([&](const message& m) {
      return m.topic == topic
             && ((m.event == "phx_reply" && m.ref == ref)
                 || m.event == "phx_close");
    });
    CHECK(first.event == "phx_reply");
    CHECK(s->expect(event_is(topic, "phx_close")).join_ref == first.join_ref);
  }
}

TEST_CASE("stateful_channel: self->state per channel, destroyed on exit",
          "[actors][state]") {
  fixture f;
  auto a = f.tc->connect({{"user", "alice"}, {"age", 7}});
  auto b = f.tc->connect({{"user", "bob"}});
  auto ja = a->join("count:x");
  CHECK(ja.response == j({{"user", "alice"}, {"age", 7}}));
  CHECK(b->join("count:x").response
        == j({{"user", "bob"}, {"age", json::value()}}));
  CHECK(a->expect_reply(a->push("count:x", "inc")).response == j({{"n", 1}}));
  CHECK(a->expect_reply(a->push("count:x", "inc")).response == j({{"n", 2}}));
  CHECK(b->expect_reply(b->push("count:x", "inc")).response == j({{"n", 1}}));
  // assign(key, value) sets the channel's copy.
  CHECK(a->expect_reply(a->push("count:x", "who")).response
        == j({{"joined_as", "alice"}}));
  CHECK(states_alive.wait_for(2, 0ms));
  a->leave("count:x");
  a->expect(event_is("count:x", "phx_close"));
  b->disconnect();
  CHECK(states_alive.wait_for(0, 5s));
}

TEST_CASE("assign<T>: missing or mistyped assigns are clear errors",
          "[actors][state]") {
  fixture f;
  auto none = f.tc->connect();
  auto r = none->join("count:x");
  CHECK(r.status == "error");
  CHECK(r.response == j({{"reason", "assign \"user\" is missing"}}));
  auto num = f.tc->connect({{"user", 42}});
  auto n = num->join("count:x");
  CHECK(n.response == j({{"reason", "assign \"user\": expected string"}}));
  // Uncaught in join: the standard "join crashed", the socket lives on.
  auto c = none->join("count:strict");
  CHECK(c.response == j({{"reason", "join crashed"}}));
  auto age = f.tc->connect({{"user", "a"}, {"age", "old"}});
  CHECK(age->join("count:x").response == j({{"reason", "join crashed"}}));
}

TEST_CASE("become swaps the user's behavior, the framework's handlers stay",
          "[actors][channel]") {
  fixture f;
  auto s = f.tc->connect();
  auto other = f.tc->connect();
  REQUIRE(s->join("modes:a").status == "ok");
  REQUIRE(other->join("modes:a").status == "ok");
  auto mode = [&](const char* event) {
    return s->expect_reply(s->push("modes:a", event)).response.at("mode");
  };
  CHECK(mode("x") == 1);
  CHECK(mode("switch") == 1);
  CHECK(mode("x") == 2);
  // Events, replies, broadcasts still run through the framework.
  CHECK(mode("shout") == 2);
  s->expect_broadcast("modes:a", "shout");
  other->expect_broadcast("modes:a", "shout");
  CHECK(mode("back") == 2);
  CHECK(mode("x") == 1);
  CHECK(mode("replace") == 1);
  CHECK(mode("x") == 3);
  // phx_leave still works: reply then phx_close.
  auto ref = s->leave("modes:a");
  CHECK(s->expect_reply(ref).status == "ok");
  s->expect(event_is("modes:a", "phx_close"));
  CHECK(s->join("modes:a").status == "ok");
}
