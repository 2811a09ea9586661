/// PubSub: topic subscriptions and broadcast delivery, sharded by topic
/// over `shards` actors. PubSub knows nothing of sockets or JSON beyond the
/// serializer interface: a subscriber is an actor handle, optionally with a
/// connection to write pre-encoded frames to directly (Phoenix "fastlane").
///
///   fenix::pubsub ps{sys, 2};
///   ps.subscribe(self, "room:1");                    // plain actor
///   ps.broadcast("room:1", "new_msg", payload{...});  // from any thread
///   // the actor receives (broadcast_atom, broadcast_ptr)
///
/// Delivery: a fastlane subscriber gets the frame encoded once per protocol
/// version per broadcast, shared by every connection; a subscriber that
/// intercepts the event (or has no connection) gets the broadcast as a
/// message instead. Shards monitor subscribers, so a dead one is removed
/// without an unsubscribe. Messages from one publisher to one subscriber
/// keep their order (one shard per topic, FIFO mailboxes and strands).
///
/// In a cluster (cluster.hpp), `broadcast` and `broadcast_from` are also
/// handed to this node's cluster actor, which forwards them once per remote
/// node as (topic, event, payload text); each node then dispatches locally
/// and encodes for its own connections. `local_broadcast` never leaves the
/// node. One publisher's broadcasts reach every node in order.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>

#include "fenix/types.hpp"
#include "fenix/protocol/serializer.hpp"

namespace fenix {

/// A subscription as a shard stores it.
struct subscriber {
  caf::actor handle;
  transport::connection_ptr conn;  // fastlane target; null for plain actors
  const serializer* ser = nullptr;
  std::shared_ptr<const std::vector<std::string>> intercepts;
};

/// Counters shared by the shards (read from any thread).
struct pubsub_stats {
  std::atomic<std::uint64_t> broadcasts{0};  // broadcasts dispatched
  std::atomic<std::uint64_t> encodes{0};     // frames encoded for fastlane
  std::atomic<std::uint64_t> deliveries{0};  // frames handed to connections
  std::atomic<std::uint64_t> subscriptions{0};
};

class pubsub {
public:
  pubsub(caf::actor_system& sys, std::size_t shards);
  ~pubsub();

  /// Subscribes a plain actor: it receives (broadcast_atom, broadcast_ptr).
  void subscribe(const caf::actor& who, const std::string& topic) const;

  /// Subscribes with full fastlane information (used by channels).
  void subscribe(const std::string& topic, subscriber s) const;

  void unsubscribe(const caf::actor& who, const std::string& topic) const;

  /// Delivers to every subscriber of `topic`.
  void broadcast(const std::string& topic, const std::string& event,
                 payload p) const;

  /// Delivers to every subscriber of `topic` except `from`.
  void broadcast_from(const caf::actor_addr& from, const std::string& topic,
                      const std::string& event, payload p) const;

  /// Like broadcast, but never leaves this node.
  void local_broadcast(const std::string& topic, const std::string& event,
                       payload p) const;

  /// The shard responsible for `topic`.
  const caf::actor& shard(const std::string& topic) const;

  const std::vector<caf::actor>& shards() const { return shards_; }

  const pubsub_stats& stats() const { return *stats_; }

  /// Stops every shard.
  void shutdown();

  // -- cluster (internal, used by cluster.cpp) --------------------------------

  /// From now on, broadcasts (not local ones) also go to `node` as
  /// (cl_forward_atom, mesh::remote_broadcast) while `cluster_peers` > 0. Call it
  /// before the node has peers.
  void attach_cluster(caf::actor node);

  /// The number of peers up (set by the cluster actor; 0 stops forwarding).
  void cluster_peers(std::size_t n) const;

  struct cluster_link;  // internal

private:
  void publish(const caf::actor_addr& from, const std::string& topic,
               const std::string& event, payload p) const;

  void forward(const std::string& topic, const std::string& event,
               const payload& p) const;

  std::vector<caf::actor> shards_;
  std::shared_ptr<pubsub_stats> stats_;
  std::shared_ptr<cluster_link> link_;
};

}  // namespace fenix

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::subscriber)
