// The presence tracker's presence_state pushes (actors/presence_tracker.hpp):
// rendered once per topic and batching window, framed once per (serializer,
// join_ref), and correct for the official client's Presence helper, which
// a port of phoenix.js presence.js below stands in for.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/presence_tracker.hpp"
#include "fenix/pubsub.hpp"
#include "fenix/types.hpp"
#include "fenix/protocol/serializer.hpp"

using namespace std::chrono_literals;
namespace json = boost::json;
using fenix::frame;
using fenix::presence_push;

namespace {

const fenix::serializer& v1 =
  fenix::serializer_for(fenix::protocol_version::v1);
const fenix::serializer& v2 =
  fenix::serializer_for(fenix::protocol_version::v2);

constexpr auto wait_limit = 5s;  // every wait in this file

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<fenix::pubsub> ps;
  std::unique_ptr<fenix::presence_tracker> tracker;
  std::vector<caf::actor> owners;

  explicit fixture(std::chrono::milliseconds window) {
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    ps = std::make_unique<fenix::pubsub>(*sys, 1);
    tracker = std::make_unique<fenix::presence_tracker>(*sys, *ps, 1, window);
  }

  ~fixture() {
    for (auto& o : owners)
      caf::anon_send_exit(o, caf::exit_reason::user_shutdown);
    tracker->shutdown();
    ps->shutdown();
  }

  caf::actor shard(const std::string& topic) { return tracker->shard(topic); }

  // A stand-in for a channel actor: lives until the fixture ends.
  caf::actor owner() {
    owners.push_back(
      sys->spawn([]() -> caf::behavior { return {[](int) {}}; }));
    return owners.back();
  }

  void track(const std::string& topic, const std::string& key,
             const caf::actor& who, json::object meta = {{"online_at", 1}}) {
    caf::anon_send(shard(topic), fenix::track_atom::value, topic, key,
                   fenix::payload{std::move(meta)}, who);
  }

  void untrack(const std::string& topic, const std::string& key,
               const caf::actor& who) {
    caf::anon_send(shard(topic), fenix::untrack_atom::value, topic, key,
                   who.address());
  }

  void update(const std::string& topic, const std::string& key,
              const caf::actor& who, json::object meta) {
    caf::anon_send(shard(topic), fenix::update_atom::value, topic, key,
                   fenix::payload{std::move(meta)}, who);
  }

  // The topic's presence map as the tracker lists it now.
  json::object list(const std::string& topic) {
    caf::scoped_actor self{*sys};
    json::object out;
    self->request(shard(topic), wait_limit, fenix::list_atom::value, topic)
      .receive([&](fenix::payload& p) { out = p.object(); },
               [&](caf::error& e) { FAIL("list: " << caf::to_string(e)); });
    return out;
  }
};

// Asks for the presence_state push a channel with `how` would get, as a
// channel does: without waiting for it.
auto ask_state(caf::scoped_actor& self, const caf::actor& shard,
               const std::string& topic, const presence_push& how) {
  return self->request(shard, wait_limit, fenix::list_atom::value, topic, how);
}

template <class Handle>
frame answer(Handle& h) {
  frame out;
  h.receive([&](frame& f) { out = std::move(f); },
            [&](caf::error& e) { FAIL("state: " << caf::to_string(e)); });
  return out;
}

frame state_push(caf::scoped_actor& self, const caf::actor& shard,
                 const std::string& topic, const presence_push& how) {
  auto h = ask_state(self, shard, topic, how);
  return answer(h);
}

fenix::message decode(const frame& f) {
  REQUIRE(f.data);
  auto r = v2.decode(*f.data, f.binary);
  auto* m = std::get_if<fenix::message>(&r);
  REQUIRE(m != nullptr);
  return *m;
}

// presence_diff payloads `who` (subscribed to the topic) receives, until one
// satisfies `last`.
template <class Pred>
std::vector<json::object> diffs_until(caf::scoped_actor& who, Pred last) {
  std::vector<json::object> out;
  bool done = false;
  while (!done) {
    bool got = false;
    who->receive(
      [&](fenix::broadcast_atom, const fenix::broadcast_ptr& b) {
        REQUIRE(b->event == "presence_diff");
        out.push_back(b->payload.object());
        got = true;
        done = last(out.back());
      },
      caf::after(wait_limit) >> [] {});
    if (!got)
      FAIL("no presence_diff within 5 s");
  }
  return out;
}

auto joins(const std::string& key) {
  return [key](const json::object& d) {
    return d.at("joins").as_object().contains(key);
  };
}

// phoenix.js Presence (assets/js/phoenix/presence.js, npm phoenix 1.8) on a
// channel: diffs wait until the state of the current join has arrived, and
// the channel drops pushes whose join_ref is not its own.
struct js_presence {
  json::object state;  // key -> {"metas": [...]}
  std::vector<json::object> pending_diffs;
  std::string channel_join_ref;
  std::string join_ref;  // of the last state applied ("" = none)

  static std::vector<std::string> refs(const json::value& presence) {
    std::vector<std::string> out;
    for (auto& m : presence.as_object().at("metas").as_array())
      out.emplace_back(m.as_object().at("phx_ref").as_string());
    return out;
  }

  static bool has(const std::vector<std::string>& refs, const json::value& m) {
    auto r = m.as_object().at("phx_ref").as_string();
    return std::find(refs.begin(), refs.end(), r) != refs.end();
  }

  static json::array metas_where(const json::value& presence,
                                 const std::vector<std::string>& refs,
                                 bool in) {
    json::array out;
    for (auto& m : presence.as_object().at("metas").as_array())
      if (has(refs, m) == in)
        out.push_back(m);
    return out;
  }

  void sync_diff(const json::object& diff) {
    for (auto& [key, joined] : diff.at("joins").as_object()) {
      auto current = state.if_contains(key);
      json::value next = joined;
      if (current) {
        auto kept = metas_where(*current, refs(joined), false);
        auto& metas = next.as_object()["metas"].as_array();
        metas.insert(metas.begin(), kept.begin(), kept.end());
      }
      state[key] = std::move(next);
    }
    for (auto& [key, left] : diff.at("leaves").as_object()) {
      auto current = state.if_contains(key);
      if (!current)
        continue;
      auto kept = metas_where(*current, refs(left), false);
      current->as_object()["metas"] = kept;
      if (kept.empty())
        state.erase(key);
    }
  }

  void sync_state(const json::object& next) {
    json::object js, ls;
    for (auto& [key, presence] : state)
      if (!next.contains(key))
        ls[key] = presence;
    for (auto& [key, presence] : next) {
      auto current = state.if_contains(key);
      if (!current) {
        js[key] = presence;
        continue;
      }
      auto joined = metas_where(presence, refs(*current), false);
      auto left = metas_where(*current, refs(presence), false);
      if (!joined.empty())
        js[key] = json::object{{"metas", joined}};
      if (!left.empty())
        ls[key] = json::object{{"metas", left}};
    }
    sync_diff(json::object{{"joins", js}, {"leaves", ls}});
  }

  void on_state_frame(const frame& f) {
    auto m = decode(f);
    REQUIRE(m.event == "presence_state");
    if (!m.join_ref || *m.join_ref != channel_join_ref)
      return;  // channel.js isMember: not for this join
    join_ref = channel_join_ref;
    sync_state(m.payload.object());
    for (auto& d : pending_diffs)
      sync_diff(d);
    pending_diffs.clear();
  }

  void on_diff(const json::object& d) {
    if (join_ref.empty() || join_ref != channel_join_ref)
      pending_diffs.push_back(d);
    else
      sync_diff(d);
  }
};

// key -> phx_refs (sorted): what a list shows, metas compared by ref.
std::map<std::string, std::set<std::string>> view(const json::object& state) {
  std::map<std::string, std::set<std::string>> out;
  for (auto& [key, presence] : state)
    for (auto& r : js_presence::refs(presence))
      out[std::string{key}].insert(r);
  return out;
}

std::set<const std::string*> distinct_bytes(const std::vector<frame>& fs) {
  std::set<const std::string*> out;
  for (auto& f : fs)
    out.insert(f.data.get());
  return out;
}

}  // namespace

TEST_CASE(
  "presence: joiners of one window share one rendering and the same bytes",
  "[actors][presence]") {
  fixture f{300ms};
  const std::string topic = "room:burst";
  caf::scoped_actor observer{*f.sys};
  f.ps->subscribe(caf::actor_cast<caf::actor>(observer), topic);
  caf::scoped_actor self{*f.sys};
  // As channels do: track, then ask for the state; all before the window
  // closes, with two join_refs and both protocol versions.
  constexpr int n = 60;
  std::vector<decltype(ask_state(self, f.shard(topic), topic, {}))> asked;
  for (int i = 0; i < n; ++i) {
    auto key = "u" + std::to_string(i);
    f.track(topic, key, f.owner());
    presence_push how{i % 10 == 0 ? &v1 : &v2, i % 5 == 1 ? "7" : "3"};
    asked.push_back(ask_state(self, f.shard(topic), topic, how));
  }
  std::vector<frame> got;
  for (auto& h : asked)
    got.push_back(answer(h));
  diffs_until(observer, joins("u" + std::to_string(n - 1)));
  // One rendering per window (not one per joiner), and the joiners framed
  // alike share the bytes.
  auto renders = f.tracker->states_rendered();
  CHECK(renders >= 1);
  CHECK(renders <= f.tracker->diffs_sent());
  CHECK(renders < n / 10);
  std::vector<frame> v2_3, v2_7, v1_3;
  for (int i = 0; i < n; ++i) {
    auto& group = i % 10 == 0 ? v1_3 : i % 5 == 1 ? v2_7 : v2_3;
    group.push_back(got[i]);
  }
  CHECK(distinct_bytes(v2_3).size() <= renders);
  CHECK(distinct_bytes(v2_7).size() <= renders);
  CHECK(distinct_bytes(v1_3).size() <= renders);
  // Each joiner's state holds itself and everyone before it.
  for (int i = 0; i < n; ++i) {
    if (i % 10 == 0)
      continue;  // V1 (checked below)
    auto m = decode(got[i]);
    CHECK(m.join_ref == (i % 5 == 1 ? "7" : "3"));
    CHECK(!m.ref);
    CHECK(m.topic == topic);
    CHECK(m.event == "presence_state");
    for (int j = 0; j <= i; ++j)
      CHECK(m.payload.object().contains("u" + std::to_string(j)));
  }
  // Quiet now: a state is answered at once, byte for byte what the
  // serializer makes of the listed presence map.
  auto listed = fenix::payload{f.list(topic)};
  REQUIRE(listed.object().size() == n);
  auto now_v2 = state_push(self, f.shard(topic), topic, {&v2, "3"});
  auto now_v1 = state_push(self, f.shard(topic), topic, {&v1, "3"});
  CHECK(*now_v2.data
        == *v2.encode_push("3", topic, "presence_state", listed).data);
  CHECK(*now_v1.data
        == *v1.encode_push("3", topic, "presence_state", listed).data);
  CHECK(*now_v2.data == *got[n - 1].data);  // the last window's state
}

TEST_CASE(
  "presence: a leave and rejoin within one window ends right in phoenix.js "
  "Presence",
  "[actors][presence]") {
  fixture f{200ms};
  const std::string topic = "room:rejoin";
  auto shard = f.shard(topic);
  caf::scoped_actor alice_ws{*f.sys};  // alice's connection: every diff
  f.ps->subscribe(caf::actor_cast<caf::actor>(alice_ws), topic);
  caf::scoped_actor self{*f.sys};
  // Window 1: alice (join_ref "3") and bob join.
  auto alice1 = f.owner();
  auto bob = f.owner();
  f.track(topic, "alice", alice1);
  f.track(topic, "bob", bob);
  auto s1 = state_push(self, shard, topic, {&v2, "3"});
  auto d1 = diffs_until(alice_ws, joins("bob"));
  js_presence alice;
  alice.channel_join_ref = "3";
  alice.on_state_frame(s1);
  for (auto& d : d1)
    alice.on_diff(d);
  REQUIRE(view(alice.state) == view(f.list(topic)));
  REQUIRE(view(alice.state).size() == 2);
  // Window 2: alice's channel leaves and she joins again (join_ref "5"),
  // bob updates his meta, carol joins and leaves, gina (join_ref "4") and
  // dave (join_ref "3", like alice's first join) join.
  f.untrack(topic, "alice", alice1);
  auto alice2 = f.owner();
  f.track(topic, "alice", alice2);
  auto ask_alice = ask_state(self, shard, topic, {&v2, "5"});
  f.update(topic, "bob", bob, {{"online_at", 1}, {"typing", true}});
  auto carol = f.owner();
  f.track(topic, "carol", carol);
  // Gina joins while carol is there: carol's join and leave cancel out of
  // the window's diff, so a state rendered now would keep carol for good.
  auto gina = f.owner();
  f.track(topic, "gina", gina);
  auto ask_gina = ask_state(self, shard, topic, {&v2, "4"});
  f.untrack(topic, "carol", carol);
  auto dave = f.owner();
  f.track(topic, "dave", dave);
  auto ask_dave = ask_state(self, shard, topic, {&v2, "3"});
  auto s2_alice = answer(ask_alice);
  auto s2_gina = answer(ask_gina);
  auto s2_dave = answer(ask_dave);
  auto d2 = diffs_until(alice_ws, joins("dave"));
  auto truth = view(f.list(topic));
  REQUIRE(truth.size() == 4);  // alice (new ref), bob (new ref), dave, gina
  REQUIRE(truth.count("carol") == 0);
  REQUIRE(truth["alice"] != view(alice.state)["alice"]);
  REQUIRE(truth["bob"] != view(alice.state)["bob"]);
  CHECK(s2_alice.data != s2_dave.data);  // other join_ref, other bytes

  // Alice's client after her rejoin, with each order the frames can take:
  // the diffs before the state (buffered), after it, and a stale diff of
  // window 1 arriving late.
  auto rejoined = [&] {
    auto js = alice;
    js.channel_join_ref = "5";
    return js;
  };
  {
    auto js = rejoined();
    for (auto& d : d2)
      js.on_diff(d);
    CHECK(view(js.state) == view(alice.state));  // buffered, not applied
    js.on_state_frame(s2_dave);  // dave's push: not for this join
    CHECK(view(js.state) == view(alice.state));
    js.on_state_frame(s2_alice);
    CHECK(view(js.state) == truth);
  }
  {
    auto js = rejoined();
    js.on_state_frame(s2_alice);
    CHECK(view(js.state) == truth);
    for (auto& d : d2)
      js.on_diff(d);
    CHECK(view(js.state) == truth);
  }
  {
    auto js = rejoined();
    for (auto& d : d1)
      js.on_diff(d);
    js.on_state_frame(s2_alice);
    for (auto& d : d2)
      js.on_diff(d);
    CHECK(view(js.state) == truth);
  }
  // Dave's and gina's clients (new), with both orders.
  for (bool diffs_first : {true, false}) {
    for (auto* s2 : {&s2_dave, &s2_gina}) {
      js_presence js;
      js.channel_join_ref = s2 == &s2_dave ? "3" : "4";
      if (diffs_first)
        for (auto& d : d2)
          js.on_diff(d);
      js.on_state_frame(*s2);
      if (!diffs_first)
        for (auto& d : d2)
          js.on_diff(d);
      CHECK(view(js.state) == truth);
    }
  }
  // Eve joins once all is quiet and gets no diff after her state: the state
  // alone must hold window 2 (the rendering of window 1 is gone).
  js_presence eve;
  eve.channel_join_ref = "9";
  eve.on_state_frame(state_push(self, shard, topic, {&v2, "9"}));
  CHECK(view(eve.state) == truth);
  // ... and a quiet topic's rendering is reused.
  auto renders = f.tracker->states_rendered();
  js_presence frank;
  frank.channel_join_ref = "2";
  frank.on_state_frame(state_push(self, shard, topic, {&v2, "2"}));
  CHECK(view(frank.state) == truth);
  CHECK(f.tracker->states_rendered() == renders);
}
