// Supervision of the system actors (actors/supervisor.hpp) and fault
// injection (actors/fault_injection.hpp): the supervisor's restarts,
// intensity and stop order; a PubSub shard and a presence tracker shard
// crashed under channels (channel test kit, no network): the channels end
// with phx_error, rejoin on the restarted shard, and nothing is delivered
// through the dead one; drops and delays of routed messages.

#include <catch2/catch.hpp>

#include <algorithm>
#include <future>
#include <thread>
#include <mutex>
#include <vector>

#include <caf/all.hpp>

#include "fenix/detail/endpoint_context.hpp"
#include "fenix/fenix.hpp"
#include "fenix/presence_tracker.hpp"
#include "fenix/testing/channel_test_kit.hpp"

using namespace std::chrono_literals;
using fenix::json_object;
using fenix::message;
namespace json = boost::json;

namespace {

constexpr auto wait_limit = 5s;  // every wait in this file

struct system_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  system_fixture() {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

// A child that records its exit in `log` (shared, read after stop()).
struct exit_log {
  std::mutex mtx;
  std::vector<std::string> names;
};

fenix::child_spec logged_child(const std::string& name,
                               std::shared_ptr<exit_log> log) {
  fenix::child_spec spec;
  spec.name = name;
  spec.start = [name, log](caf::actor_system& sys) {
    return sys.spawn([name, log](caf::event_based_actor* self) {
      self->attach_functor([name, log] {
        std::lock_guard<std::mutex> guard{log->mtx};
        log->names.push_back(name);
      });
      return caf::behavior{[](int x) { return x; }};
    });
  };
  return spec;
}

// The handle the supervisor has for `name` once it differs from `old`
// (polls which(): the supervisor swaps the handle in its own thread).
caf::actor await_restart(const fenix::supervisor& sup, const std::string& name,
                         const caf::actor& old) {
  auto deadline = std::chrono::steady_clock::now() + wait_limit;
  for (;;) {
    auto h = sup.which(name);
    if (h && h != old)
      return h;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("no restart of " + name);
    std::this_thread::yield();
  }
}

// Waits until the supervisor has no running `name` (it decided on its exit).
void await_gone(const fenix::supervisor& sup, const std::string& name) {
  auto deadline = std::chrono::steady_clock::now() + wait_limit;
  while (sup.which(name)) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(name + " still running");
    std::this_thread::yield();
  }
}

std::string shard_name(const std::string& prefix,
                       const std::vector<caf::actor>& shards,
                       const caf::actor& shard) {
  for (std::size_t i = 0; i < shards.size(); ++i)
    if (shards[i] == shard)
      return prefix + "/" + std::to_string(i);
  throw std::runtime_error("no such shard");
}

caf::behavior room(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload& p) {
      if (p.json().is_object() && p.object().contains("track"))
        self->track(json::value_to<std::string>(self->assigns()["user"]),
                    {{"online_at", 1}});
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string& event,
        const fenix::payload& p) -> fenix::reply {
      if (event == "shout")
        self->broadcast("shout", p);
      return fenix::reply::ok();
    },
  };
}

// "feed:X" joins and subscribes to the topic named in its params.
caf::behavior feed(fenix::channel* self) {
  return {
    [=](fenix::join_atom, const std::string&, const fenix::payload& p) {
      self->subscribe(json::value_to<std::string>(p.object().at("follow")));
      return fenix::join_result::ok();
    },
    [=](fenix::in_atom, const std::string&, const fenix::payload&) {
      return fenix::reply::ok();
    },
    [=](fenix::broadcast_atom, const std::string&, const std::string& event,
        const fenix::payload& p) { self->push(event, p); },
  };
}

struct kit_fixture : system_fixture {
  std::unique_ptr<fenix::testing::channel_case> tc;

  kit_fixture() {
    fenix::endpoint_options opts;
    opts.fault_injection = true;
    opts.pubsub_shards = 2;
    tc = std::make_unique<fenix::testing::channel_case>(*sys, opts);
    tc->channel("room:*", room);
    tc->channel("feed:*", feed);
  }

  fenix::detail::endpoint_context& ctx() { return *tc->context(); }
  fenix::fault_injector& faults() { return *ctx().faults; }
};

auto event_is(const std::string& topic, const std::string& event) {
  return [=](const message& m) { return m.topic == topic && m.event == event; };
}

auto shout_is(int n) {
  return [=](const message& m) {
    return m.event == "shout" && m.payload.json().is_object()
           && m.payload.object().contains("n")
           && m.payload.object().at("n") == n;
  };
}

}  // namespace

// -- the supervisor -----------------------------------------------------------

TEST_CASE("one_for_one: only the child that exited restarts, with a new "
          "handle handed to on_start",
          "[actors][supervisor]") {
  system_fixture f;
  auto log = std::make_shared<exit_log>();
  fenix::supervisor sup{*f.sys};
  auto a = sup.start_child(logged_child("a", log));
  std::vector<caf::actor> seen;
  std::mutex mtx;
  auto spec = logged_child("b", log);
  spec.on_start = [&](const caf::actor& h) {
    std::lock_guard<std::mutex> guard{mtx};
    seen.push_back(h);
  };
  auto b = sup.start_child(spec);
  REQUIRE(sup.children() == std::vector<std::string>{"a", "b"});
  caf::anon_send_exit(b, caf::exit_reason::kill);
  auto b2 = await_restart(sup, "b", b);
  CHECK(sup.which("a") == a);
  CHECK(sup.restarts("b") == 1);
  CHECK(sup.restarts("a") == 0);
  {
    std::lock_guard<std::mutex> guard{mtx};
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == b);
    CHECK(seen[1] == b2);
  }
  CHECK_THROWS_AS(sup.start_child(logged_child("a", log)),
                  std::invalid_argument);
}

TEST_CASE("stop: children stop in the reverse order of their start",
          "[actors][supervisor]") {
  system_fixture f;
  auto log = std::make_shared<exit_log>();
  fenix::supervisor sup{*f.sys};
  for (auto name : {"first", "second", "third"})
    sup.start_child(logged_child(name, log));
  sup.stop();
  std::lock_guard<std::mutex> guard{log->mtx};
  CHECK(log->names == std::vector<std::string>{"third", "second", "first"});
  CHECK_FALSE(sup.escalated());
}

TEST_CASE("restart policies: transient restarts only after a crash, "
          "temporary never",
          "[actors][supervisor]") {
  system_fixture f;
  auto log = std::make_shared<exit_log>();
  fenix::supervisor sup{*f.sys};
  auto t = logged_child("transient", log);
  t.restart = fenix::restart_policy::transient;
  auto tmp = logged_child("temporary", log);
  tmp.restart = fenix::restart_policy::temporary;
  auto th = sup.start_child(t);
  auto tmph = sup.start_child(tmp);
  caf::anon_send_exit(th, caf::exit_reason::kill);
  auto th2 = await_restart(sup, "transient", th);
  caf::scoped_actor self{*f.sys};
  caf::anon_send_exit(tmph, caf::exit_reason::kill);
  self->wait_for(tmph);
  caf::anon_send_exit(th2, caf::exit_reason::user_shutdown);  // clean exit
  self->wait_for(th2);
  await_gone(sup, "temporary");
  await_gone(sup, "transient");
  CHECK(sup.restarts("transient") == 1);
  CHECK(sup.restarts("temporary") == 0);
}

TEST_CASE("restart intensity: past max_restarts in the period the "
          "supervisor gives up, stops every child and escalates",
          "[actors][supervisor]") {
  system_fixture f;
  auto log = std::make_shared<exit_log>();
  std::promise<std::string> escalated;
  fenix::supervisor_options o;
  o.max_restarts = 2;
  o.period = 60s;
  o.on_escalate = [&](const std::string& child, const std::string&) {
    escalated.set_value(child);
  };
  fenix::supervisor sup{*f.sys, o};
  sup.start_child(logged_child("calm", log));
  auto h = sup.start_child(logged_child("flaky", log));
  for (int i = 0; i < 2; ++i) {
    caf::anon_send_exit(h, caf::exit_reason::kill);
    h = await_restart(sup, "flaky", h);
  }
  CHECK_FALSE(sup.escalated());
  caf::anon_send_exit(h, caf::exit_reason::kill);  // the third in 60 s
  auto done = escalated.get_future();
  REQUIRE(done.wait_for(wait_limit) == std::future_status::ready);
  CHECK(done.get() == "flaky");
  CHECK(sup.escalated());
  CHECK(sup.restarts("flaky") == 2);
  sup.stop();
  std::lock_guard<std::mutex> guard{log->mtx};
  CHECK(std::count(log->names.begin(), log->names.end(), "calm") == 1);
}

// -- PubSub shards ------------------------------------------------------------

TEST_CASE("a PubSub shard crash ends its channels with phx_error; rejoined "
          "channels get every later broadcast from the restarted shard",
          "[actors][supervisor][pubsub]") {
  kit_fixture f;
  auto s = f.tc->connect({{"user", "alice"}});
  auto other = f.tc->connect({{"user", "bob"}});
  REQUIRE(s->join("room:a").status == "ok");
  REQUIRE(other->join("room:a").status == "ok");
  f.tc->broadcast("room:a", "shout", json_object{{"n", 1}});
  s->expect(shout_is(1));
  other->expect(shout_is(1));
  auto old = f.ctx().ps->shard("room:a");
  auto name = shard_name("fenix.pubsub", f.ctx().ps->shards(), old);
  REQUIRE(f.faults().crash(name));
  s->expect(event_is("room:a", "phx_error"));
  other->expect(event_is("room:a", "phx_error"));
  auto fresh = await_restart(*f.ctx().sup, name, old);
  CHECK(f.ctx().ps->shard("room:a") == fresh);
  CHECK(f.ctx().sup->restarts(name) == 1);
  REQUIRE(s->join("room:a").status == "ok");
  REQUIRE(other->join("room:a").status == "ok");
  f.tc->broadcast("room:a", "shout", json_object{{"n", 2}});
  s->expect(shout_is(2));
  other->expect(shout_is(2));
  CHECK(f.ctx().ps->stats().subscriptions == 2);  // the dead shard's gone
}

TEST_CASE("a channel also dies with the shard of a topic it subscribed "
          "to, not only with its own topic's",
          "[actors][supervisor][pubsub]") {
  kit_fixture f;
  // A followed topic on the other shard than the channel's own.
  auto& ps = *f.ctx().ps;
  std::string follow;
  for (int k = 0; follow.empty(); ++k)
    if (ps.shard("news:" + std::to_string(k)) != ps.shard("feed:a"))
      follow = "news:" + std::to_string(k);
  auto s = f.tc->connect({{"user", "alice"}});
  REQUIRE(s->join("feed:a", json_object{{"follow", follow}}).status == "ok");
  // The join sent the subscription before its reply: it is in the shard's
  // mailbox before this broadcast.
  f.tc->broadcast(follow, "shout", json_object{{"n", 1}});
  s->expect(shout_is(1));
  auto old = ps.shard(follow);
  auto name = shard_name("fenix.pubsub", ps.shards(), old);
  REQUIRE(f.faults().crash(name));
  s->expect(event_is("feed:a", "phx_error"));
}

TEST_CASE("a shard crash leaves the channels of other shards alone",
          "[actors][supervisor][pubsub]") {
  kit_fixture f;
  auto s = f.tc->connect({{"user", "alice"}});
  // Two topics on different shards.
  std::string a = "room:a", b;
  for (int i = 0; b.empty(); ++i) {
    auto t = "room:" + std::to_string(i);
    if (f.ctx().ps->shard(t) != f.ctx().ps->shard(a))
      b = t;
  }
  REQUIRE(s->join(a).status == "ok");
  REQUIRE(s->join(b).status == "ok");
  auto old = f.ctx().ps->shard(a);
  REQUIRE(
    f.faults().crash(shard_name("fenix.pubsub", f.ctx().ps->shards(), old)));
  s->expect(event_is(a, "phx_error"));
  f.tc->broadcast(b, "shout", json_object{{"n", 3}});
  s->expect(shout_is(3));
  CHECK(s->refute(event_is(b, "phx_error")));
}

TEST_CASE("fault injection drops and delays what PubSub routes to a shard",
          "[actors][supervisor][pubsub]") {
  kit_fixture f;
  auto s = f.tc->connect({{"user", "alice"}});
  REQUIRE(s->join("room:a").status == "ok");
  auto name = shard_name("fenix.pubsub", f.ctx().ps->shards(),
                         f.ctx().ps->shard("room:a"));
  f.faults().drop(name, 1);
  f.tc->broadcast("room:a", "shout", json_object{{"n", 1}});
  f.tc->broadcast("room:a", "shout", json_object{{"n", 2}});
  s->expect(shout_is(2));
  CHECK(s->refute(shout_is(1)));
  f.faults().delay(name, 300ms);
  auto sent = std::chrono::steady_clock::now();
  f.tc->broadcast("room:a", "shout", json_object{{"n", 3}});
  s->expect(shout_is(3));
  CHECK(std::chrono::steady_clock::now() - sent >= 300ms);
  f.faults().clear(name);
  f.tc->broadcast("room:a", "shout", json_object{{"n", 4}});
  s->expect(shout_is(4));
}

// -- presence tracker shards --------------------------------------------------

TEST_CASE("a tracker shard crash ends its tracked channels; rejoins track "
          "again on the restarted shard, once",
          "[actors][supervisor][presence]") {
  kit_fixture f;
  auto s = f.tc->connect({{"user", "alice"}});
  auto watcher = f.tc->connect({{"user", "bob"}});
  REQUIRE(watcher->join("room:p").status == "ok");
  REQUIRE(s->join("room:p", json_object{{"track", true}}).status == "ok");
  watcher->expect(event_is("room:p", "presence_diff"));
  auto& presence = *f.ctx().presence;
  CHECK(presence.entries() == 1);
  auto old = presence.shard("room:p");
  auto name = shard_name("fenix.presence", presence.shards(), old);
  REQUIRE(f.faults().crash(name));
  s->expect(event_is("room:p", "phx_error"));
  auto fresh = await_restart(*f.ctx().sup, name, old);
  CHECK(presence.shard("room:p") == fresh);
  CHECK(presence.entries() == 0);  // the dead shard's entries are gone
  REQUIRE(s->join("room:p", json_object{{"track", true}}).status == "ok");
  caf::scoped_actor self{*f.sys};
  json::value listed;
  self
    ->request(presence.shard("room:p"), wait_limit, fenix::list_atom::value,
              std::string{"room:p"})
    .receive([&](const fenix::payload& p) { listed = p.json(); },
             [&](caf::error& err) { FAIL(caf::to_string(err)); });
  REQUIRE(listed.is_object());
  CHECK(listed.as_object().size() == 1);
  CHECK(listed.as_object().at("alice").at("metas").as_array().size() == 1);
  CHECK(presence.entries() == 1);
}
