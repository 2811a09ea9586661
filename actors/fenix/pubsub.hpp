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
/// Supervision (supervisor.hpp): the shards are children "fenix.pubsub/N"
/// of the given supervisor (the endpoint's; without one, of a private
/// supervisor). A shard links to every channel subscribed through it
/// (`subscriber::linked`: its own topic and the topics it subscribe()d to):
/// when a shard dies, those channels die
/// with its reason (their clients get phx_error and rejoin), the shard
/// restarts empty and every route (shard(), subscribe, broadcast) reaches
/// the new one. Plain actors are only monitored.
///
/// Delivery: a fastlane subscriber gets the frame encoded once per protocol
/// version per broadcast, shared by every connection; a subscriber that
/// intercepts the event (or has no connection) gets the broadcast as a
/// message instead. Shards monitor subscribers, so a dead one is removed
/// without an unsubscribe. Messages from one publisher to one subscriber
/// keep their order (one shard per topic, FIFO mailboxes and strands).
///
/// History (opt-in per topic pattern, history()): every broadcast on a
/// topic with history gets the next offset of the topic's stream (1, 2, ...),
/// assigned by the topic's shard, and the shard retains the last
/// `max_messages` for `max_age`. The stream's epoch is a random string
/// (CSPRNG) drawn when the stream starts, so it changes when the history is
/// lost: a restart without a seed, or the eviction of an idle stream (no
/// subscriber, nothing retained, no broadcast for `max_age`, or the
/// `max_topics` bound). A channel's join can recover (join_result::recover):
/// the shard writes the join reply, then every retained broadcast after the
/// client's position, then subscribes, in one step, so no broadcast is
/// missed or doubled at the boundary between replay and live.
///
/// In a cluster (cluster.hpp), `broadcast` and `broadcast_from` are also
/// handed to this node's cluster actor, which forwards them once per remote
/// node as (topic, event, payload text); each node then dispatches locally
/// and encodes for its own connections. `local_broadcast` never leaves the
/// node. One publisher's broadcasts reach every node in order.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>

#include "fenix/types.hpp"
#include "fenix/protocol/serializer.hpp"

namespace fenix {

class fault_injector;
class supervisor;

namespace detail {
class sharded;
}  // namespace detail

/// A subscription as a shard stores it.
struct subscriber {
  caf::actor handle;
  transport::connection_ptr conn;  // fastlane target; null for plain actors
  const serializer* ser = nullptr;
  std::shared_ptr<const std::vector<std::string>> intercepts;
  bool linked = false;  // a channel's: it dies with the shard (see above)
};

/// History of the topics matching a pattern (pubsub::history,
/// endpoint::channel). Defaults are for a chat-like load.
struct history_options {
  std::size_t max_messages = 100;              // retained per topic
  std::chrono::milliseconds max_age{300'000};  // retained for 5 minutes
  std::size_t max_topics = 10'000;             // streams per shard; past it the
    // longest idle one without subscribers
    // is evicted
  // Non-empty: only these events are recorded (others, e.g. presence_diff,
  // pass with offset 0); empty: every event.
  std::vector<std::string> events;
  // Non-empty: the offset is also written into JSON object payloads under
  // this key (so fastlane subscribers see it without an intercept).
  std::string offset_key;
  // Called in the shard with every recorded broadcast (offset set), e.g.
  // to store it; must not block (send it to an actor).
  std::function<void(const broadcast&)> on_record;
};

/// Internal: the history_options of each pattern (pubsub.cpp).
struct history_table;

/// Internal: a join on a topic with history, as the channel hands it to
/// the shard (which writes the reply).
struct stream_join {
  opt_string join_ref;  // of the phx_join message
  opt_string ref;
  payload reply;
  std::shared_ptr<stream_request> request;
};

using stream_join_ptr = std::shared_ptr<const stream_join>;

/// Counters shared by the shards (read from any thread).
struct pubsub_stats {
  std::atomic<std::uint64_t> broadcasts{0};  // broadcasts dispatched
  std::atomic<std::uint64_t> encodes{0};     // frames encoded for fastlane
  std::atomic<std::uint64_t> deliveries{0};  // frames handed to connections
  std::atomic<std::uint64_t> subscriptions{0};
};

class pubsub {
public:
  /// `shards` shard actors, children of `sup` (null: a private supervisor
  /// with default options); `faults` may drop or delay routed messages.
  pubsub(caf::actor_system& sys, std::size_t shards, supervisor* sup = nullptr,
         std::shared_ptr<fault_injector> faults = nullptr);
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

  /// Keeps history for topics matching `pattern` ("room:*" or exact).
  /// Call it before the first broadcast (the endpoint's channel() does).
  void history(const std::string& pattern, history_options opts);

  /// True if `topic` has history.
  bool has_history(const std::string& topic) const;

  /// The current handle of the shard responsible for `topic` (null after
  /// shutdown; a new one after the shard restarted).
  caf::actor shard(const std::string& topic) const;

  /// Every shard's current handle, in index order.
  std::vector<caf::actor> shards() const;

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

  std::shared_ptr<pubsub_stats> stats_;
  std::shared_ptr<history_table> histories_;
  std::shared_ptr<cluster_link> link_;
  std::unique_ptr<supervisor> own_sup_;  // before shards_: outlives them
  std::unique_ptr<detail::sharded> shards_;
};

}  // namespace fenix

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::subscriber)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::stream_join_ptr)
