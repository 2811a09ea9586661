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

#include "actors/presence_clock.hpp"

namespace fenix {

class pubsub;

class presence_tracker {
public:
  presence_tracker(caf::actor_system& sys, const pubsub& ps,
                   std::size_t shards, std::chrono::milliseconds window,
                   std::string node_name = {});
  ~presence_tracker();

  /// The shard responsible for `topic`. It handles:
  /// (track_atom, topic, key, payload meta, caf::actor owner),
  /// (update_atom, topic, key, payload meta, caf::actor owner),
  /// (untrack_atom, topic, key, caf::actor_addr owner),
  /// (untrack_atom, caf::actor_addr owner) (everything of that owner),
  /// (list_atom, topic) -> payload (a Phoenix presence map).
  const caf::actor& shard(const std::string& topic) const;

  /// Every shard, in order (the cluster addresses them by index).
  const std::vector<caf::actor>& shards() const { return shards_; }

  /// This node's presence replica.
  const presence::replica_id& replica() const { return replica_; }

  /// Number of tracked entries on this node (all topics).
  std::uint64_t entries() const;

  /// Counters for benchmarks: diffs broadcast so far.
  std::uint64_t diffs_sent() const;

  void shutdown();

  struct counters;  // internal

private:
  presence::replica_id replica_;
  std::vector<caf::actor> shards_;
  std::shared_ptr<counters> counters_;
};

} // namespace fenix
