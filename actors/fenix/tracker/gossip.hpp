/// Internal: a presence tracker shard's state, and how a shard replicates
/// its CRDT with the same shard on the other nodes of a cluster. Used by
/// presence_tracker.cpp; not part of the public API.
///
/// How it works (Phoenix.Tracker's design, section 7.3 of the protocol
/// notes, with CAF monitoring instead of a down_period):
/// - The cluster actor tells each shard which peers are up
///   (cl_peer_up/down/gone). A shard only shows entries of itself and of
///   peers that are up; a replica heard of only second-hand (in a transfer)
///   stays hidden (mark_down) until its own node is up here.
/// - Every gossip period a shard ships `take_pending_delta` with its clock
///   to every peer up; with nothing to ship it still sends its clock every
///   `silent_periods` periods. A peer whose clock shows events this shard
///   lacks gets a transfer request; it answers with `extract_delta` of the
///   asker's clock (the full state for a new peer).
/// - A new peer, or one back after a failure, is asked for a transfer at
///   once. If its replica was marked down (same incarnation back), the
///   transfer is merged while hidden and `mark_up` then shows the current
///   entries as joins. A new incarnation makes the old replica go for good
///   (`remove_replica`), as does a clean leave or `permdown_period`.
/// - A replica hidden for `permdown_period` (its node never came back, or
///   was only heard of in a transfer) is dropped for good.
/// - Every change a merge, mark_down, mark_up or removal causes goes through
///   `record`, so remote joins and leaves reach local clients as batched
///   presence_diff broadcasts, exactly like local ones.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

#include "fenix/mesh/protocol.hpp"
#include "fenix/presence/state.hpp"
#include "fenix/presence_tracker.hpp"

namespace fenix {

class pubsub;

namespace tracker {

struct pending_topic {
  presence::changes changes;
  bool scheduled = false;
};

/// A peer node as one shard sees it.
struct peer {
  presence::replica_id replica;
  caf::actor node;  // the peer's cluster actor
  bool up = false;
  bool awaiting_transfer = false;
  std::chrono::steady_clock::time_point requested{};  // last transfer_req
  presence::version_vector clock;                     // last clock heard
};

struct state {
  std::unique_ptr<presence::state> crdt;
  const pubsub* ps = nullptr;
  std::chrono::milliseconds window{20};
  std::shared_ptr<presence_tracker::counters> counters;
  std::map<std::string, pending_topic> pending;
  std::map<std::string, std::int64_t> sizes;  // entries per topic
  std::set<std::uint64_t> monitored;          // owner actor ids
  std::mt19937_64 rng{std::random_device{}()};
  std::uint16_t ref_counter = 0;
  // -- cluster --
  std::uint32_t index = 0;  // this shard's number
  bool clustered = false;
  std::chrono::milliseconds gossip_period{200};
  std::chrono::milliseconds permdown_period{20 * 60 * 1000};
  // Hidden replicas (down here) and since when: dropped after
  // permdown_period, also those only heard of second-hand.
  std::map<presence::replica_id, std::chrono::steady_clock::time_point>
    hidden_since;
  int silent_ticks = 0;
  int ticks = 0;
  std::map<std::string, peer> peers;  // by replica node name
  // Messages from a node whose cl_peer_up has not reached this shard yet
  // (its node may learn of us first): replayed on cl_peer_up, bounded.
  std::map<std::string, std::vector<mesh::presence_message>> early;
  static inline const char* name = "fenix.presence";
};

using actor = caf::stateful_actor<state>;

/// Counts the changes and queues them for the topic's next presence_diff
/// (defined in presence_tracker.cpp).
void record(actor* self, presence::changes cs);

// -- replication (cluster_presence.cpp) ---------------------------------------

/// (cl_attach_atom, gossip ms, permdown ms): start gossiping.
void attach(actor* self, std::uint64_t gossip_ms, std::uint64_t permdown_ms);

void peer_up(actor* self, const std::string& node, std::uint64_t incarnation,
             const caf::actor& handle);

void peer_down(actor* self, const std::string& node, std::uint64_t incarnation);

void peer_gone(actor* self, const std::string& node, std::uint64_t incarnation);

/// A gossip, transfer request or transfer answer from the same shard of a
/// peer (routed by the local cluster actor).
void receive(actor* self, const mesh::presence_message& m);

/// The gossip timer.
void tick(actor* self);

}  // namespace tracker

}  // namespace fenix
