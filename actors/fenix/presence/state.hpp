/// Presence state: the replicated set of `(topic, key, owner) -> meta`
/// entries behind Phoenix-style presence, as a delta-state CRDT (an
/// observed-remove, add-wins set with a causal context, like
/// Phoenix.Tracker.State). Plain data: no CAF and no Asio. The tracker actor
/// owns one per shard and turns its messages into calls on it.
///
///   using namespace fenix::presence;
///   state a{replica_id{"node-a", 1}}, b{replica_id{"node-b", 1}};
///   auto joined = a.track("room:1", "alice", 7, {{"phx_ref", "F1"}});
///   b.merge(a.take_pending_delta());     // periodic gossip
///   render_presences(b.list("room:1"));  // {"alice":{"metas":[{...}]}}
///   auto left = a.untrack_all(7);        // the owner actor went away
///   for (auto& [topic, diff] : render_diffs(b.merge(a.extract_delta(
///          b.clock()))))                 // catch-up transfer
///     /* broadcast "presence_diff" diff on topic */;
///
/// Rules: only the replica that tracks an entry adds, updates or removes it
/// (`owner` is local to that replica, e.g. an actor id). Each local change is
/// an event with a new dot `(self, counter)`: track adds an entry tagged with
/// its dot, untrack is a removal event recording which entry it removed, and
/// update is a removal event followed by an add event, applied atomically.
///
/// Replication: `take_pending_delta` returns the local events since its last
/// call (gossip); `extract_delta(since)` returns everything a replica whose
/// clock is `since` is missing, or the full state for an empty clock. Any
/// delta can be merged in any order, any number of times (merge is a lattice
/// join: commutative, associative, idempotent). An entry whose dot is covered
/// by a delta's context but absent from its values is removed; an entry whose
/// dot is already covered by the local context is never re-added, so a late
/// or duplicate delta cannot resurrect it.
///
/// Liveness: `mark_down` hides a replica's entries from queries (they are
/// kept and still replicated), `mark_up` shows them again, `remove_replica`
/// drops a replica for good (permdown) and ignores it in every later delta.
/// A restarted node is a new replica; `superseded_replicas` lists the older
/// incarnations to remove.
///
/// Removal records are kept so that catch-up deltas can carry removals of
/// entries the receiver already had. `prune_removals(acknowledged)` drops
/// records every peer has seen; a peer behind the pruned point then gets the
/// full slice of that replica instead.
///
/// Errors: `track` returns nullopt if (topic, key, owner) is already tracked
/// here (Phoenix `{:error, {:already_tracked, ...}}`), `update` returns
/// nullopt if it is not (Phoenix `{:error, :nopresence}`). Everything else
/// reports the visible changes it caused, possibly none.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "fenix/presence/clock.hpp"
#include "fenix/presence/delta.hpp"

namespace fenix::presence {

/// A presence entry as queries return it.
struct entry {
  std::string topic;
  std::string key;
  std::uint64_t owner = 0;  // local to `tag.replica`
  boost::json::object meta;
  dot tag;
};

enum class change_kind { join, leave };

/// One visible join or leave (group by topic into a presence_diff).
struct change {
  std::string topic;
  std::string key;
  boost::json::object meta;
  change_kind kind = change_kind::join;
  dot tag;
};

using changes = std::vector<change>;

class state {
public:
  explicit state(replica_id self);

  const replica_id& self() const { return self_; }

  // -- local operations ------------------------------------------------------

  /// Adds an entry; nullopt if (topic, key, owner) is already tracked.
  std::optional<changes> track(const std::string& topic, const std::string& key,
                               std::uint64_t owner, boost::json::object meta);

  /// Replaces the meta of a tracked entry: {leave old, join new}; nullopt if
  /// not tracked.
  std::optional<changes> update(const std::string& topic,
                                const std::string& key, std::uint64_t owner,
                                boost::json::object meta);

  /// Removes one entry (no change if not tracked).
  changes untrack(const std::string& topic, const std::string& key,
                  std::uint64_t owner);

  /// Removes every entry of `owner`, across topics.
  changes untrack_all(std::uint64_t owner);

  /// The meta of a local entry, or null (e.g. to read its phx_ref).
  const boost::json::object* find_local(const std::string& topic,
                                        const std::string& key,
                                        std::uint64_t owner) const;

  // -- queries (entries of down replicas are hidden) -------------------------

  /// Visible entries of `topic`, by key, then by dot (tracking order).
  std::vector<entry> list(const std::string& topic) const;

  std::vector<entry> get_by_key(const std::string& topic,
                                const std::string& key) const;

  /// Number of visible entries.
  std::size_t size() const;

  /// Topics with at least one visible entry.
  std::vector<std::string> topics() const;

  // -- replication -----------------------------------------------------------

  /// Per replica, the counter up to which every event is known.
  version_vector clock() const;

  /// Everything a replica whose clock is `since` is missing.
  delta extract_delta(const version_vector& since) const;

  /// The local events since the previous call (empty if none).
  delta take_pending_delta();

  /// Joins `d` into this state; returns the visible joins and leaves.
  changes merge(const delta& d);

  /// Drops removal records covered by `acknowledged` (the pointwise minimum
  /// of the clocks of all live peers).
  void prune_removals(const version_vector& acknowledged);

  /// Total removal records kept (for tests and metrics).
  std::size_t removal_records() const;

  /// Out-of-order intervals of `r` not yet compacted into the clock.
  std::size_t cloud_intervals(const replica_id& r) const;

  // -- liveness --------------------------------------------------------------

  /// Hides `r`'s entries: returns their leaves. No effect on self.
  changes mark_down(const replica_id& r);

  /// Shows `r`'s entries again: returns their joins.
  changes mark_up(const replica_id& r);

  /// Drops `r` for good (permdown): returns leaves of its visible entries.
  /// Later deltas about `r` are ignored. No effect on self.
  changes remove_replica(const replica_id& r);

  bool is_down(const replica_id& r) const { return down_.count(r) > 0; }

  bool is_removed(const replica_id& r) const { return removed_.count(r) > 0; }

  /// Replicas this state knows of (not removed), self included.
  std::vector<replica_id> replicas() const;

  /// Known replicas for which a higher incarnation of the same node is known.
  std::vector<replica_id> superseded_replicas() const;

private:
  struct stored {
    std::string topic;
    std::string key;
    std::uint64_t owner = 0;
    boost::json::object meta;
  };

  using local_key = std::pair<std::string, std::string>;  // topic, key

  bool visible(const replica_id& r) const { return down_.count(r) == 0; }

  std::uint64_t next_event();

  void add(const dot& tag, stored value, changes& out);

  void remove(std::map<dot, stored>::iterator i, changes& out);

  changes remove_local(std::uint64_t owner, const local_key& k);

  changes replica_changes(const replica_id& r, change_kind kind) const;

  void collect(const std::set<dot>& dots, std::vector<entry>& out) const;

  void merge_slice(const replica_id& r, const delta_slice& s, changes& out);

  delta_slice extract_slice(const replica_id& r, std::uint64_t since) const;

  replica_id self_;
  std::uint64_t counter_ = 0;       // last local event
  std::uint64_t pending_from_ = 0;  // last event shipped by take_pending_delta
  std::map<dot, stored> entries_;   // every entry, visible or not
  // topic -> key -> dots, for queries
  std::map<std::string, std::map<std::string, std::set<dot>>> index_;
  // owner -> (topic, key) -> counter, for local entries only
  std::map<std::uint64_t, std::map<local_key, std::uint64_t>> local_;
  std::map<replica_id, std::size_t> counts_;   // entries per replica
  std::map<replica_id, counter_set> context_;  // known events per replica
  // per replica: removal event -> removed counter, only events > floor_
  std::map<replica_id, std::map<std::uint64_t, std::uint64_t>> removals_;
  std::map<replica_id, std::uint64_t> floor_;
  std::set<replica_id> down_;
  std::set<replica_id> removed_;
};

// -- Phoenix payloads --------------------------------------------------------

/// Renders entries (e.g. `list(topic)`) as a presence map
/// `{key: {"metas": [meta, ...]}}`, metas in the order given.
boost::json::object render_presences(const std::vector<entry>& entries);

/// The same presence map as JSON text, written directly (no json::object
/// tree): byte for byte `json::serialize(render_presences(entries))`. The
/// tracker renders a topic once per batching window this way and shares the
/// text between every joiner of that window.
std::string render_presences_text(const std::vector<entry>& entries);

/// Groups changes by topic into presence_diff payloads
/// `{"joins": {key: {"metas": [...]}}, "leaves": {...}}`, in change order.
std::map<std::string, boost::json::object> render_diffs(const changes& cs);

}  // namespace fenix::presence
