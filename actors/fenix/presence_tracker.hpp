/// Presence tracking for channels: tracker actors (sharded by topic) that
/// own the presence CRDT (presence_state.hpp), monitor every tracked
/// channel actor, and broadcast `presence_diff` {joins, leaves} to the
/// topic through PubSub, batched over a short window.
///
///   // in a channel (see channel.hpp):
///   self->track(user, {{"online_at", now_ms}});
///   self->push_presence_state();
///
/// A channel that exits (leave, crash, closed connection) leaves presence
/// by itself: its tracker shard sees the down message and emits the leave.
///
/// Batching: changes on one topic are collected for a window and sent as
/// one diff. The window grows with the topic: `window * (1 + entries/100)`,
/// at most 1 s, so a small room sees a diff within `window` (default 20 ms)
/// while 5,000 users joining one topic produce a handful of diffs, not
/// 5,000 (each of which would go to every member: O(n^2) frames).
///
/// presence_state: a joiner's state is sent at the topic's next flush when
/// one is pending (else at once), rendered to JSON text once for all the
/// joiners of that window and framed once per (serializer, join_ref), so
/// 5,000 joiners of one topic cost a handful of O(n) renders, not 5,000.
/// The state is rendered after the window's changes and the window's diff is
/// broadcast just before it: a joiner's state holds everything in the diffs
/// it missed, and the diffs it receives after (or buffered before) the state
/// only repeat joins it already has (same phx_ref: no-ops in the JS helper)
/// or carry changes it lacks. It is never rendered mid-window: an entry that
/// joins and leaves within one window is in no diff at all (the two cancel),
/// so a state rendered between the two would keep it for good.
///
/// Supervision (supervisor.hpp): the shards are children "fenix.presence/N"
/// of the given supervisor (without one, of a private supervisor). A shard
/// links to every channel it tracks: when it dies, those channels die with
/// its reason (their clients get phx_error, rejoin and track again on the
/// restarted, empty shard). In a cluster the restarted shard keeps the
/// node's replica id, so its peers are not told of the restart (a known
/// limit: see docs/architecture.md, "Supervision").
///
/// Identity: the shards share one presence replica `{node, incarnation}`;
/// `node` is `node_name` (a cluster node uses its "HOST:PORT", so that a
/// restart is recognised as a new incarnation of the same node), or
/// "hostname:pid#n" when empty; the incarnation is the start time in us.
/// In a cluster (cluster.hpp) each shard replicates its CRDT with the same
/// shard of every other node (see cluster_presence.hpp), so shard counts
/// must match across nodes.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "fenix/presence/clock.hpp"
#include "fenix/presence_fetch.hpp"
#include "fenix/types.hpp"

namespace fenix {

class fault_injector;
class pubsub;
class supervisor;

namespace detail {
class sharded;
}  // namespace detail

/// How a channel's `presence_state` push is framed: its serializer and
/// join_ref (see presence_tracker::shard).
struct presence_push {
  const serializer* ser = nullptr;
  opt_string join_ref;
};

class presence_tracker {
public:
  presence_tracker(caf::actor_system& sys, const pubsub& ps, std::size_t shards,
                   std::chrono::milliseconds window, std::string node_name = {},
                   supervisor* sup = nullptr,
                   std::shared_ptr<fault_injector> faults = nullptr);
  ~presence_tracker();

  /// The shard responsible for `topic`. It handles:
  /// (track_atom, topic, key, payload meta, caf::actor owner),
  /// (update_atom, topic, key, payload meta, caf::actor owner),
  /// (untrack_atom, topic, key, caf::actor_addr owner),
  /// (untrack_atom, caf::actor_addr owner) (everything of that owner),
  /// (list_atom, topic) -> payload (a Phoenix presence map, at once),
  /// (list_atom, topic, presence_push) -> frame (the `presence_state` push,
  /// answered at the topic's next flush; see "presence_state" above).
  /// (A new handle after the shard restarted; null after shutdown.)
  caf::actor shard(const std::string& topic) const;

  /// Every shard's current handle, in order (the cluster addresses them by
  /// index).
  std::vector<caf::actor> shards() const;

  /// This node's presence replica.
  const presence::replica_id& replica() const { return replica_; }

  /// Number of tracked entries on this node (all topics).
  std::uint64_t entries() const;

  /// Counters for benchmarks: diffs broadcast so far.
  std::uint64_t diffs_sent() const;

  /// Counters for benchmarks: presence states rendered to JSON text so far
  /// (at most one per topic and batching window).
  std::uint64_t states_rendered() const;

  void shutdown();

  // -- fetch hooks (presence_fetch.hpp) ---------------------------------------

  /// Registers Phoenix's fetch/2 for topics matching `pattern` ("room:*"
  /// or exact; the first match wins). Call before anything is tracked
  /// (endpoint::presence_fetch, before start()).
  void fetch(std::string pattern, presence_fetch_fn fn);

  struct counters;  // internal

private:
  presence::replica_id replica_;
  std::shared_ptr<counters> counters_;
  std::unique_ptr<supervisor> own_sup_;  // before shards_: outlives them
  std::unique_ptr<detail::sharded> shards_;
  std::shared_ptr<presence_fetch_table> fetch_;
};

}  // namespace fenix

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::presence_push)
