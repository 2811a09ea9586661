// Presence deltas (actors/presence_delta.hpp) merged into a presence::state
// (actors/presence_state.hpp). The input is parsed as JSON and decoded with
// delta::from_json; nothing may crash. A decoded delta must survive
// to_json/from_json unchanged. It is merged into a replica that has tracked
// and untracked entries of its own; merging it a second time must change
// nothing (merge is idempotent), render_presences_text must equal
// serialize(render_presences) for every topic, and a fresh replica that
// merges the full-state delta (extract_delta of an empty clock) must list
// exactly the same presences. After pruning, catch-up extraction, and down,
// up and permdown of every replica in the delta, only "alice" is left.
#include <cstdint>

#include <boost/json.hpp>

#include "fenix/presence/state.hpp"
#include "fuzz_util.hpp"

using namespace fenix::presence;
namespace json = boost::json;

namespace {

std::string rendered(const state& s, const std::string& topic) {
  auto list = s.list(topic);
  auto text = render_presences_text(list);
  FUZZ_CHECK(text == json::serialize(render_presences(list)));
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  json::error_code ec;
  auto v = json::parse({reinterpret_cast<const char*>(data), size}, ec);
  if (ec)
    return 0;
  auto d = delta::from_json(v);
  if (!d)
    return 0;
  auto j = json::serialize(d->to_json());
  auto back = delta::from_json(d->to_json());
  FUZZ_CHECK(back && json::serialize(back->to_json()) == j);

  state a{replica_id{"fuzz-a", 1}};
  a.track("room:lobby", "alice", 1, {{"phx_ref", "A1"}});
  a.track("room:lobby", "bob", 2, {{"phx_ref", "B1"}});
  a.untrack("room:lobby", "bob", 2);
  render_diffs(a.merge(*d));
  FUZZ_CHECK(a.merge(*d).empty());

  replica_id b_id{"fuzz-b", 1};
  if (d->slices.count(b_id) == 0) {  // b ignores news about itself
    state b{b_id};
    b.merge(a.extract_delta({}));
    FUZZ_CHECK(b.topics() == a.topics());
    for (auto& topic : a.topics())
      FUZZ_CHECK(rendered(a, topic) == rendered(b, topic));
    b.merge(a.extract_delta(b.clock()));
  }
  a.prune_removals(a.clock());
  a.extract_delta(version_vector{});
  for (auto& [r, slice] : d->slices) {
    a.mark_down(r);
    a.mark_up(r);
    a.remove_replica(r);
  }
  FUZZ_CHECK(a.size() == 1 && a.find_local("room:lobby", "alice", 1));
  return 0;
}
