// Unit tests for the presence causal-context primitives and delta JSON
// (actors/presence_clock.hpp, actors/presence_delta.hpp).
#include <catch2/catch.hpp>

#include <limits>
#include <string>

#include <boost/json.hpp>

#include "fenix/presence/clock.hpp"
#include "fenix/presence/delta.hpp"
#include "fenix/presence/state.hpp"

using namespace fenix::presence;
namespace json = boost::json;

namespace {

const replica_id ra{"a", 1};
const replica_id rb{"b", 7};

std::string text(const json::value& v) {
  return json::serialize(v);
}

}  // namespace

TEST_CASE("counter_set keeps disjoint compacted intervals",
          "[actors][presence]") {
  counter_set cs;
  CHECK(cs.empty());
  CHECK(cs.prefix() == 0);
  cs.insert(3);
  cs.insert(5, 6);
  CHECK(cs.prefix() == 0);
  CHECK(cs.cloud_intervals() == 2);
  CHECK(cs.contains(3));
  CHECK_FALSE(cs.contains(4));
  CHECK(cs.contains(6));
  CHECK_FALSE(cs.contains(7));
  cs.insert(1, 2);
  CHECK(cs.prefix() == 3);
  CHECK(cs.cloud_intervals() == 1);
  cs.insert(4);
  CHECK(cs.prefix() == 6);
  CHECK(cs.cloud_intervals() == 0);
  CHECK(cs.intervals().size() == 1);
  cs.insert(10, 20);
  cs.insert(8, 12);   // overlaps the start
  cs.insert(15, 25);  // overlaps the end
  CHECK(cs.intervals() == counter_set::interval_map{{1, 6}, {8, 25}});
  cs.insert(2, 30);  // swallows everything
  CHECK(cs.intervals() == counter_set::interval_map{{1, 30}});
  auto top = std::numeric_limits<std::uint64_t>::max();
  cs.insert(top - 1, top);  // no overflow at the edge
  CHECK(cs.contains(top));
  CHECK(cs.cloud_intervals() == 1);
}

TEST_CASE("counter_set::above clips intervals", "[actors][presence]") {
  counter_set cs;
  cs.insert(1, 5);
  cs.insert(8, 9);
  CHECK(cs.above(0) == cs);
  CHECK(cs.above(3).intervals() == counter_set::interval_map{{4, 5}, {8, 9}});
  CHECK(cs.above(5).intervals() == counter_set::interval_map{{8, 9}});
  CHECK(cs.above(6).intervals() == counter_set::interval_map{{8, 9}});
  CHECK(cs.above(8).intervals() == counter_set::interval_map{{9, 9}});
  CHECK(cs.above(9).empty());
  counter_set b;
  b.insert(cs.above(2));
  b.insert(1, 2);
  CHECK(b == cs);
}

TEST_CASE("version_vector compares, joins and meets", "[actors][presence]") {
  version_vector x;
  version_vector y;
  x.set(ra, 3);
  x.set(rb, 1);
  y.set(ra, 5);
  CHECK(x.get(ra) == 3);
  CHECK(x.get(replica_id{"a", 2}) == 0);
  CHECK_FALSE(x.covers(y));
  CHECK_FALSE(y.covers(x));
  CHECK(x.covers(version_vector{}));
  auto j = x;
  j.join(y);
  CHECK(j.get(ra) == 5);
  CHECK(j.get(rb) == 1);
  CHECK(j.covers(x));
  CHECK(j.covers(y));
  auto m = version_vector::meet(x, y);
  CHECK(m.get(ra) == 3);
  CHECK(m.get(rb) == 0);
  CHECK(m.counters().size() == 1);
  x.set(rb, 0);
  CHECK(x.counters().size() == 1);
}

TEST_CASE("replica_id orders by node then incarnation and hashes",
          "[actors][presence]") {
  CHECK(replica_id{"a", 9} < replica_id{"b", 1});
  CHECK(replica_id{"a", 1} < replica_id{"a", 2});
  CHECK(replica_id{"a", 1} == replica_id{"a", 1});
  CHECK(replica_id{"a", 1} != replica_id{"a", 2});
  std::hash<replica_id> h;
  CHECK(h(replica_id{"a", 1}) == h(replica_id{"a", 1}));
  CHECK(h(replica_id{"a", 1}) != h(replica_id{"a", 2}));
  CHECK(dot{ra, 1} < dot{ra, 2});
  CHECK(dot{ra, 9} < dot{rb, 1});
}

TEST_CASE("version_vector JSON round-trips", "[actors][presence]") {
  version_vector vv;
  CHECK(text(vv.to_json()) == "[]");
  vv.set(ra, 3);
  vv.set(replica_id{"n\"ode", std::numeric_limits<std::uint64_t>::max()}, 9);
  auto back =
    version_vector::from_json(json::parse(json::serialize(vv.to_json())));
  REQUIRE(back);
  CHECK(*back == vv);
  CHECK(text(vv.to_json())
        == R"([["a",1,3],["n\"ode",18446744073709551615,9]])");
  for (auto bad : {R"({})", R"([["a",1]])", R"([["a",-1,3]])", R"([[1,1,3]])",
                   R"([["a",1,"3"]])", R"([["a",1,1.5]])"})
    CHECK_FALSE(version_vector::from_json(json::parse(bad)));
}

TEST_CASE("delta JSON round-trips", "[actors][presence]") {
  state a{ra};
  state b{rb};
  json::object m{{"phx_ref", "F1"}, {"nested", json::object{{"x", 1}}}};
  REQUIRE(a.track("room:1", "alice", 42, m));
  REQUIRE(a.track("room:1", "bob", 43, {{"phx_ref", "F2"}}));
  REQUIRE(b.track("room:2", "carol", 1, {{"phx_ref", "F3"}}));
  a.merge(b.take_pending_delta());
  a.untrack("room:1", "bob", 43);
  auto d = a.extract_delta({});
  auto wire = json::serialize(d.to_json());
  auto back = delta::from_json(json::parse(wire));
  REQUIRE(back);
  CHECK(json::serialize(back->to_json()) == wire);
  CHECK(back->value_count() == 2);
  REQUIRE(back->slices.count(ra) == 1);
  auto& s = back->slices.at(ra);
  CHECK(s.context.prefix() == 3);
  REQUIRE(s.removals.size() == 1);
  CHECK(s.removals[0].event == 3);
  CHECK(s.removals[0].target == 2);
  REQUIRE(s.values.size() == 1);
  CHECK(s.values[0].owner == 42);
  CHECK(s.values[0].meta == m);
  // The decoded delta works like the original.
  state c{replica_id{"c", 1}};
  CHECK(c.merge(*back).size() == 2);
  CHECK(c.clock() == a.clock());
  CHECK(text(delta{}.to_json()) == R"({"slices":[]})");
}

TEST_CASE("delta::from_json rejects malformed input", "[actors][presence]") {
  auto slice = [](const std::string& body) {
    return R"({"slices":[{"replica":["a",1],)" + body + "}]}";
  };
  std::string ok_fields =
    R"("context":[[1,2]],"floor":0,"values":[[1,"t","k",5,{}]],)"
    R"("removals":[[2,1]])";
  REQUIRE(delta::from_json(json::parse(slice(ok_fields))));
  for (auto& bad : std::vector<std::string>{
         R"([])", R"({})", R"({"slices":{}})", R"({"slices":[1]})",
         slice(R"("context":[[1,2]],"floor":0,"values":[])"),  // no removals
         slice(R"("context":[[0,2]],"floor":0,"values":[],"removals":[])"),
         slice(R"("context":[[3,2]],"floor":0,"values":[],"removals":[])"),
         slice(R"("context":[[1]],"floor":0,"values":[],"removals":[])"),
         slice(R"("context":[],"floor":-1,"values":[],"removals":[])"),
         slice(R"("context":[],"floor":0,"values":[[0,"t","k",5,{}]],)"
               R"("removals":[])"),
         slice(R"("context":[],"floor":0,"values":[[1,"t","k",5,[]]],)"
               R"("removals":[])"),
         slice(R"("context":[],"floor":0,"values":[[1,"t",2,5,{}]],)"
               R"("removals":[])"),
         slice(R"("context":[],"floor":0,"values":[],"removals":[[2,2]])"),
         R"({"slices":[{"replica":["a"],"context":[],"floor":0,)"
         R"("values":[],"removals":[]}]})",
         // the same replica twice
         R"({"slices":[{"replica":["a",1],"context":[],"floor":0,)"
         R"("values":[],"removals":[]},{"replica":["a",1],"context":[],)"
         R"("floor":0,"values":[],"removals":[]}]})"})
    CHECK_FALSE(delta::from_json(json::parse(bad)));
}
