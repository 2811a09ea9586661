// Unit tests for fenix::presence::state (actors/presence_state.hpp).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "fenix/presence/state.hpp"

using namespace fenix::presence;
namespace json = boost::json;

namespace {

const replica_id ra{"a", 1};
const replica_id rb{"b", 1};
const replica_id rc{"c", 1};

json::object meta(const std::string& ref) {
  return json::object{{"phx_ref", ref}};
}

std::string ref_of(const json::object& m) {
  return std::string{m.at("phx_ref").as_string().c_str()};
}

std::vector<std::string> refs(const std::vector<entry>& es) {
  std::vector<std::string> out;
  for (auto& e : es)
    out.push_back(ref_of(e.meta));
  return out;
}

std::vector<std::string> refs(const changes& cs, change_kind kind) {
  std::vector<std::string> out;
  for (auto& c : cs)
    if (c.kind == kind)
      out.push_back(ref_of(c.meta));
  return out;
}

using strings = std::vector<std::string>;

}  // namespace

TEST_CASE("track adds an entry and reports a join", "[actors][presence]") {
  state a{ra};
  auto cs = a.track("room:1", "alice", 7, meta("r1"));
  REQUIRE(cs);
  REQUIRE(cs->size() == 1);
  CHECK((*cs)[0].kind == change_kind::join);
  CHECK((*cs)[0].topic == "room:1");
  CHECK((*cs)[0].key == "alice");
  CHECK((*cs)[0].tag == dot{ra, 1});
  auto es = a.list("room:1");
  REQUIRE(es.size() == 1);
  CHECK(es[0].owner == 7);
  CHECK(ref_of(es[0].meta) == "r1");
  CHECK(a.size() == 1);
  CHECK(a.topics() == strings{"room:1"});
  CHECK(refs(a.get_by_key("room:1", "alice")) == strings{"r1"});
  CHECK(a.get_by_key("room:1", "bob").empty());
  CHECK(a.list("room:2").empty());
  REQUIRE(a.find_local("room:1", "alice", 7) != nullptr);
  CHECK(ref_of(*a.find_local("room:1", "alice", 7)) == "r1");
  CHECK(a.find_local("room:1", "alice", 8) == nullptr);
  CHECK(a.clock().get(ra) == 1);
}

TEST_CASE("tracking the same (topic, key, owner) twice is an error",
          "[actors][presence]") {
  state a{ra};
  REQUIRE(a.track("t", "k", 1, meta("r1")));
  auto clock = a.clock();
  CHECK_FALSE(a.track("t", "k", 1, meta("r2")));
  CHECK(a.clock() == clock);  // no event was generated
  CHECK(refs(a.list("t")) == strings{"r1"});
  // Any other owner, key or topic is a different entry.
  CHECK(a.track("t", "k", 2, meta("r3")));
  CHECK(a.track("t", "k2", 1, meta("r4")));
  CHECK(a.track("t2", "k", 1, meta("r5")));
  CHECK(a.size() == 4);
  CHECK(refs(a.get_by_key("t", "k")) == strings{"r1", "r3"});
}

TEST_CASE("update produces a leave of the old meta and a join of the new",
          "[actors][presence]") {
  state a{ra};
  CHECK_FALSE(a.update("t", "k", 1, meta("r0")));  // nothing to update
  CHECK(a.clock().empty());
  REQUIRE(a.track("t", "k", 1, meta("r1")));
  auto upd = meta("r2");
  upd["phx_ref_prev"] = "r1";
  auto cs = a.update("t", "k", 1, upd);
  REQUIRE(cs);
  REQUIRE(cs->size() == 2);
  CHECK((*cs)[0].kind == change_kind::leave);
  CHECK(ref_of((*cs)[0].meta) == "r1");
  CHECK((*cs)[1].kind == change_kind::join);
  CHECK((*cs)[1].meta == upd);
  CHECK(refs(a.list("t")) == strings{"r2"});
  CHECK(a.size() == 1);
  CHECK(a.clock().get(ra) == 3);  // track, removal, add
  auto diffs = render_diffs(*cs);
  REQUIRE(diffs.size() == 1);
  CHECK(diffs["t"] == json::parse(R"({
    "joins": {"k": {"metas": [{"phx_ref": "r2", "phx_ref_prev": "r1"}]}},
    "leaves": {"k": {"metas": [{"phx_ref": "r1"}]}}})"));
}

TEST_CASE("untrack removes one entry", "[actors][presence]") {
  state a{ra};
  REQUIRE(a.track("t", "k", 1, meta("r1")));
  REQUIRE(a.track("t", "k", 2, meta("r2")));
  auto cs = a.untrack("t", "k", 1);
  CHECK(refs(cs, change_kind::leave) == strings{"r1"});
  CHECK(cs.size() == 1);
  CHECK(refs(a.list("t")) == strings{"r2"});
  auto clock = a.clock();
  CHECK(a.untrack("t", "k", 1).empty());  // already gone: no change
  CHECK(a.untrack("nope", "k", 2).empty());
  CHECK(a.clock() == clock);
  CHECK(a.find_local("t", "k", 1) == nullptr);
  // It can be tracked again.
  CHECK(a.track("t", "k", 1, meta("r3")));
}

TEST_CASE("untrack_all removes every entry of an owner across topics",
          "[actors][presence]") {
  state a{ra};
  REQUIRE(a.track("t1", "k", 1, meta("r1")));
  REQUIRE(a.track("t2", "k", 1, meta("r2")));
  REQUIRE(a.track("t2", "j", 1, meta("r3")));
  REQUIRE(a.track("t2", "k", 2, meta("r4")));
  REQUIRE(a.track("t3", "k", 2, meta("r5")));
  auto cs = a.untrack_all(1);
  CHECK(cs.size() == 3);
  auto left = refs(cs, change_kind::leave);
  std::sort(left.begin(), left.end());
  CHECK(left == strings{"r1", "r2", "r3"});
  CHECK(a.size() == 2);
  CHECK(a.topics() == strings{"t2", "t3"});
  CHECK(a.untrack_all(1).empty());
  CHECK(a.untrack_all(99).empty());
}

TEST_CASE("list renders a presence map in tracking order",
          "[actors][presence]") {
  state a{ra};
  REQUIRE(a.track("t", "bob", 1, meta("r1")));
  REQUIRE(a.track("t", "alice", 2, meta("r2")));
  REQUIRE(a.track("t", "bob", 3, meta("r3")));
  REQUIRE(a.update("t", "bob", 1, meta("r4")));  // moves to the end
  CHECK(refs(a.list("t")) == strings{"r2", "r3", "r4"});
  CHECK(render_presences(a.list("t")) == json::parse(R"({
    "alice": {"metas": [{"phx_ref": "r2"}]},
    "bob": {"metas": [{"phx_ref": "r3"}, {"phx_ref": "r4"}]}})"));
  CHECK(render_presences({}).empty());
}

TEST_CASE("render_presences_text is render_presences serialized",
          "[actors][presence]") {
  state a{ra};
  auto odd =
    json::object{{"phx_ref", "r\"1"},
                 {"n", 1.5},
                 {"t", "\n\u00e9\x01"},
                 {"nested", json::array{json::object{{"x", nullptr}}}}};
  REQUIRE(a.track("t", "bob", 1, meta("r1")));
  REQUIRE(a.track("t", "__proto__", 2, odd));
  REQUIRE(a.track("t", "a\"b\\c\n\u00fc", 3, meta("r3")));
  REQUIRE(a.track("t", "bob", 4, meta("r4")));
  auto es = a.list("t");
  CHECK(render_presences_text(es) == json::serialize(render_presences(es)));
  // Keys that are not next to each other still group, in first-seen order.
  std::vector<entry> mixed{es[3], es[0], es[2], es[1]};
  REQUIRE(mixed[0].key == mixed[2].key);
  CHECK(render_presences_text(mixed)
        == json::serialize(render_presences(mixed)));
  CHECK(render_presences_text({}) == "{}");
}

TEST_CASE("render_diffs groups changes by topic", "[actors][presence]") {
  state a{ra};
  changes cs;
  auto add = [&cs](changes more) {
    cs.insert(cs.end(), more.begin(), more.end());
  };
  add(*a.track("t1", "k", 1, meta("r1")));
  add(*a.track("t2", "k", 1, meta("r2")));
  add(*a.track("t1", "k", 2, meta("r3")));
  add(a.untrack("t2", "k", 1));
  auto diffs = render_diffs(cs);
  REQUIRE(diffs.size() == 2);
  CHECK(diffs["t1"] == json::parse(R"({"joins": {"k": {"metas":
    [{"phx_ref": "r1"}, {"phx_ref": "r3"}]}}, "leaves": {}})"));
  CHECK(diffs["t2"] == json::parse(R"({
    "joins": {"k": {"metas": [{"phx_ref": "r2"}]}},
    "leaves": {"k": {"metas": [{"phx_ref": "r2"}]}}})"));
  CHECK(render_diffs({}).empty());
}

TEST_CASE("pending deltas replicate track, update and untrack",
          "[actors][presence]") {
  state a{ra};
  state b{rb};
  CHECK(a.take_pending_delta().empty());
  REQUIRE(a.track("t", "k", 1, meta("r1")));
  REQUIRE(a.track("t", "j", 2, meta("r2")));
  auto cs = b.merge(a.take_pending_delta());
  CHECK(refs(cs, change_kind::join) == strings{"r1", "r2"});
  CHECK(refs(b.list("t")) == strings{"r2", "r1"});  // by key: j, k
  CHECK(a.take_pending_delta().empty());
  REQUIRE(a.update("t", "k", 1, meta("r3")));
  cs = b.merge(a.take_pending_delta());
  CHECK(refs(cs, change_kind::leave) == strings{"r1"});
  CHECK(refs(cs, change_kind::join) == strings{"r3"});
  CHECK(cs.front().kind == change_kind::leave);
  a.untrack("t", "j", 2);
  cs = b.merge(a.take_pending_delta());
  CHECK(refs(cs, change_kind::leave) == strings{"r2"});
  CHECK(cs.size() == 1);
  CHECK(refs(b.list("t")) == strings{"r3"});
  CHECK(b.clock() == a.clock());
  // Remote entries are not local ones: b cannot untrack them.
  CHECK(b.find_local("t", "k", 1) == nullptr);
  CHECK(b.untrack("t", "k", 1).empty());
  CHECK(b.untrack_all(1).empty());
  CHECK(b.size() == 1);
}

TEST_CASE("a delta carrying only the added entry is applied once",
          "[actors][presence]") {
  state a{ra};
  state b{rb};
  REQUIRE(a.track("t", "k", 1, meta("r1")));
  auto d = a.take_pending_delta();
  CHECK(b.merge(d).size() == 1);
  CHECK(b.merge(d).empty());  // idempotent
  CHECK(b.size() == 1);
}

TEST_CASE("extract_delta carries removals of entries the receiver had",
          "[actors][presence]") {
  state a{ra};
  state b{rb};
  REQUIRE(a.track("t", "x", 1, meta("x1")));
  REQUIRE(a.track("t", "y", 1, meta("y1")));
  b.merge(a.extract_delta(b.clock()));
  CHECK(b.size() == 2);
  a.take_pending_delta();  // gossip lost
  a.untrack("t", "x", 1);
  auto d = a.extract_delta(b.clock());
  CHECK(d.value_count() == 0);
  REQUIRE(d.slices.count(ra) == 1);
  CHECK(d.slices.at(ra).context.contains(1));  // the removed entry's dot
  CHECK_FALSE(d.slices.at(ra).context.contains(2));
  auto cs = b.merge(d);
  CHECK(refs(cs, change_kind::leave) == strings{"x1"});
  CHECK(refs(b.list("t")) == strings{"y1"});
  CHECK(b.clock() == a.clock());
  CHECK(a.extract_delta(b.clock()).empty());  // nothing missing any more
}

TEST_CASE("extract_delta with an empty clock is the full state",
          "[actors][presence]") {
  state a{ra};
  state b{rb};
  state c{rc};
  REQUIRE(a.track("t", "k", 1, meta("a1")));
  REQUIRE(b.track("t", "k", 1, meta("b1")));
  REQUIRE(b.track("u", "k", 1, meta("b2")));
  a.merge(b.take_pending_delta());
  b.untrack("u", "k", 1);
  a.merge(b.take_pending_delta());
  auto cs = c.merge(a.extract_delta({}));
  CHECK(cs.size() == 2);
  CHECK(refs(c.list("t")) == refs(a.list("t")));
  CHECK(c.list("u").empty());
  CHECK(c.clock() == a.clock());
  CHECK(c.clock().get(rb) == 3);
}

TEST_CASE("out-of-order deltas fill the cloud and compact",
          "[actors][presence]") {
  state a{ra};
  state b{rb};
  REQUIRE(a.track("t", "k", 1, meta("r1")));
  auto d1 = a.take_pending_delta();
  REQUIRE(a.track("t", "k", 2, meta("r2")));
  auto d2 = a.take_pending_delta();
  a.untrack("t", "k", 1);
  auto d3 = a.take_pending_delta();
  CHECK(b.merge(d3).empty());  // removes dot 1, which b never saw
  CHECK(b.cloud_intervals(ra) == 1);
  CHECK(b.clock().get(ra) == 1);  // the removal carries dot 1 itself
  CHECK(refs(b.merge(d2), change_kind::join) == strings{"r2"});
  CHECK(b.cloud_intervals(ra) == 0);
  CHECK(b.clock().get(ra) == 3);
  CHECK(b.merge(d1).empty());  // late add of a removed entry: ignored
  CHECK(refs(b.list("t")) == strings{"r2"});
}

TEST_CASE("a late or duplicate delta never resurrects a removed entry",
          "[actors][presence]") {
  state a{ra};
  state b{rb};
  REQUIRE(a.track("t", "k", 1, meta("r1")));
  auto d1 = a.take_pending_delta();
  auto full1 = a.extract_delta({});
  a.untrack("t", "k", 1);
  auto d2 = a.take_pending_delta();
  b.merge(d1);
  CHECK(refs(b.merge(d2), change_kind::leave) == strings{"r1"});
  CHECK(b.merge(d1).empty());
  CHECK(b.merge(full1).empty());
  CHECK(b.merge(d2).empty());
  CHECK(b.size() == 0);
}

TEST_CASE("mark_down hides a replica's entries and mark_up restores them",
          "[actors][presence]") {
  state a{ra};
  state b{rb};
  REQUIRE(a.track("t", "k", 1, meta("r1")));
  REQUIRE(a.track("u", "k", 1, meta("r2")));
  REQUIRE(b.track("t", "k", 1, meta("b1")));
  b.merge(a.take_pending_delta());
  CHECK(b.size() == 3);
  auto cs = b.mark_down(ra);
  CHECK(refs(cs, change_kind::leave) == strings{"r1", "r2"});
  CHECK(b.is_down(ra));
  CHECK(refs(b.list("t")) == strings{"b1"});
  CHECK(b.list("u").empty());
  CHECK(b.topics() == strings{"t"});
  CHECK(b.size() == 1);
  CHECK(b.mark_down(ra).empty());  // already down
  CHECK(b.mark_down(rb).empty());  // self is never down
  // Changes of a down replica still merge, silently.
  a.untrack("u", "k", 1);
  REQUIRE(a.track("v", "k", 1, meta("r3")));
  CHECK(b.merge(a.take_pending_delta()).empty());
  cs = b.mark_up(ra);
  CHECK(refs(cs, change_kind::join) == strings{"r1", "r3"});
  CHECK(b.mark_up(ra).empty());
  CHECK(b.size() == 3);
  CHECK(b.topics() == strings{"t", "v"});
}

TEST_CASE("remove_replica drops a replica for good", "[actors][presence]") {
  state a{ra};
  state b{rb};
  state c{rc};
  REQUIRE(a.track("t", "k", 1, meta("r1")));
  auto d1 = a.take_pending_delta();
  b.merge(d1);
  c.merge(d1);
  auto cs = b.remove_replica(ra);
  CHECK(refs(cs, change_kind::leave) == strings{"r1"});
  CHECK(b.is_removed(ra));
  CHECK(b.clock().get(ra) == 0);
  CHECK(b.remove_replica(ra).empty());
  REQUIRE(a.track("t", "j", 1, meta("r2")));
  CHECK(b.merge(a.take_pending_delta()).empty());
  CHECK(b.merge(d1).empty());
  CHECK(b.merge(c.extract_delta({})).empty());  // relayed by a third replica
  CHECK(b.size() == 0);
  CHECK(c.extract_delta(b.clock()).slices.count(ra) == 1);
  CHECK(b.remove_replica(rb).empty());  // never self
  // A down replica that is removed reports no second leave.
  c.mark_down(ra);
  CHECK(c.remove_replica(ra).empty());
  CHECK_FALSE(c.is_down(ra));
}

TEST_CASE("a restarted node is a new replica; the old one is superseded",
          "[actors][presence]") {
  replica_id a1{"a", 1};
  replica_id a2{"a", 2};
  state old_a{a1};
  state b{rb};
  REQUIRE(old_a.track("t", "k", 1, meta("old")));
  auto old_delta = old_a.take_pending_delta();
  b.merge(old_delta);
  state new_a{a2};  // restart
  REQUIRE(new_a.track("t", "k", 1, meta("new")));
  b.merge(new_a.take_pending_delta());
  CHECK(refs(b.list("t")) == strings{"old", "new"});
  CHECK(b.superseded_replicas() == std::vector<replica_id>{a1});
  auto cs = b.remove_replica(a1);
  CHECK(refs(cs, change_kind::leave) == strings{"old"});
  CHECK(b.merge(old_delta).empty());
  CHECK(refs(b.list("t")) == strings{"new"});
  CHECK(b.superseded_replicas().empty());
  CHECK(b.replicas() == std::vector<replica_id>{a2, rb});
}

TEST_CASE("prune_removals keeps catch-up correct through full slices",
          "[actors][presence]") {
  state a{ra};
  state b{rb};
  state c{rc};
  for (std::uint64_t i = 1; i <= 5; ++i)
    REQUIRE(a.track("t", "k", i, meta("r" + std::to_string(i))));
  c.merge(a.extract_delta(c.clock()));  // c is now behind by what follows
  for (std::uint64_t i = 1; i <= 3; ++i)
    a.untrack("t", "k", i);
  b.merge(a.take_pending_delta());
  CHECK(a.removal_records() == 3);
  CHECK(b.removal_records() == 3);
  // Everyone but c acknowledged: pruning past c's clock is a caller error,
  // but must stay safe (c gets the full slice).
  auto ack = version_vector::meet(a.clock(), b.clock());
  a.prune_removals(ack);
  b.prune_removals(ack);
  CHECK(a.removal_records() == 0);
  CHECK(b.removal_records() == 0);
  auto d = b.extract_delta(c.clock());
  REQUIRE(d.slices.count(ra) == 1);
  CHECK(d.slices.at(ra).floor == 8);
  auto cs = c.merge(d);
  CHECK(refs(cs, change_kind::leave) == strings{"r1", "r2", "r3"});
  CHECK(refs(c.list("t")) == refs(a.list("t")));
  // c knows it lacks those records and forwards the full slice in turn.
  state e{replica_id{"e", 1}};
  e.merge(a.extract_delta({}));
  CHECK(c.extract_delta(version_vector{}).slices.at(ra).floor == 8);
  CHECK(c.removal_records() == 0);
  CHECK(refs(e.list("t")) == refs(a.list("t")));
  // New events after the prune still ship as small deltas.
  a.untrack("t", "k", 4);
  auto small = a.extract_delta(c.clock());
  CHECK(small.slices.at(ra).floor == 0);
  CHECK(small.value_count() == 0);
  CHECK(refs(c.merge(small), change_kind::leave) == strings{"r4"});
}

TEST_CASE("pending deltas survive pruning", "[actors][presence]") {
  state a{ra};
  state b{rb};
  REQUIRE(a.track("t", "k", 1, meta("r1")));
  b.merge(a.take_pending_delta());
  a.untrack("t", "k", 1);
  b.merge(a.extract_delta(b.clock()));  // b got it through a transfer
  a.prune_removals(b.clock());          // ...and acknowledged it
  CHECK(a.removal_records() == 1);      // still to be gossiped
  auto d = a.take_pending_delta();
  REQUIRE(d.slices.count(ra) == 1);
  CHECK(d.slices.at(ra).removals.size() == 1);
  a.prune_removals(b.clock());
  CHECK(a.removal_records() == 0);
}
