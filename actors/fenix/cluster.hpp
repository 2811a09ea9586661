/// Clustering: several fenix nodes joined over CAF's io middleman, with
/// cluster-wide PubSub and replicated presence (Phoenix's distributed
/// Erlang + PG2 + Tracker, on CAF 0.17).
///
///   fenix::cluster_options co;
///   co.port = 9001;                         // this node's cluster port
///   co.seeds = {"127.0.0.1:9000"};          // any member; repeatable
///   caf::actor_system_config cfg;
///   fenix::cluster::configure(cfg, co);     // middleman, TLS, msg types
///   caf::actor_system sys{cfg};
///   fenix::endpoint_options eo;
///   eo.node_name = fenix::cluster::address_of(co);  // presence replica
///   fenix::endpoint ep{sys, eo};
///   fenix::cluster node{ep, co};            // publish, then join (async)
///   ep.run();
///   node.leave();                           // peers drop our presence now
///
/// Membership: each node publishes its cluster actor on `host:port` and
/// dials its seeds with the middleman actor (never a blocking call in an
/// actor). Nodes exchange member lists on every join, so joining one member
/// connects a node to all of them (a full mesh). A node is `{address, name,
/// incarnation}`; every start is a new incarnation.
///
/// Failure detection: every node monitors each peer's cluster actor. A
/// killed peer is seen when its TCP connection drops (milliseconds); a
/// frozen or partitioned one through the middleman heartbeat: after
/// `connection_timeout` without traffic the connection is closed (set by
/// `configure`; defaults 200 ms / 2 s, so a SIGSTOPped node is out in about
/// 2 s). A lost peer is dialled again with exponential backoff
/// (`reconnect_min` .. `reconnect_max`) until it is back, said goodbye, or
/// was unreachable for `permdown_period`.
///
/// PubSub: `broadcast`/`broadcast_from` reach every node once (see
/// pubsub.hpp); `local_broadcast` stays here. Presence: tracker shards
/// gossip CRDT deltas every `gossip_period` (see cluster_presence.hpp). A
/// peer that goes down leaves local presence lists at once, comes back on
/// reconnect with the same incarnation, and is dropped for good when it
/// restarts (new incarnation) or leaves cleanly.
///
/// Security: plain BASP is cleartext and unauthenticated, so a non-loopback
/// `host` needs TLS (`certificate`, `key`, `ca`: mutual authentication with
/// libcaf_openssl; a peer whose certificate is not signed by `ca` cannot
/// join) unless `insecure` is set.
///
/// Errors: the constructor throws std::runtime_error when the options are
/// refused or the port cannot be published; unreachable seeds are retried.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system_config.hpp>

#include "fenix/types.hpp"

namespace fenix {

class endpoint;
class entities;

struct cluster_options {
  std::string host = "127.0.0.1";  // address the cluster port binds to
  std::uint16_t port = 0;          // cluster port (0 picks a free one)
  std::string advertise;           // "HOST:PORT" peers dial; default host:port
  std::vector<std::string> seeds;  // "HOST:PORT" of members to join
  // Middleman heartbeat; a peer silent for connection_timeout is down.
  std::chrono::milliseconds heartbeat_interval{200};
  std::chrono::milliseconds connection_timeout{2000};
  std::chrono::milliseconds gossip_period{200};               // presence deltas
  std::chrono::milliseconds reconnect_min{100};               // first redial
  std::chrono::milliseconds reconnect_max{2000};              // backoff cap
  std::chrono::milliseconds permdown_period{20 * 60 * 1000};  // then forget
  std::chrono::milliseconds leave_timeout{1000};  // wait for peers' acks
  std::string certificate;  // TLS: PEM certificate of this node
  std::string key;          // TLS: its private key
  std::string ca;           // TLS: the CA that signs every node
  bool insecure = false;    // allow a non-loopback host without TLS
  // Called on the cluster actor for every broadcast from another node
  // (after local delivery), e.g. to store chat messages.
  std::function<void(const broadcast&)> on_remote_broadcast;

  bool tls() const { return !certificate.empty(); }
};

class cluster {
public:
  /// Refuses bad options (TLS half set, non-loopback without TLS or
  /// `insecure`, a seed that is not HOST:PORT): throws std::runtime_error.
  static void check(const cluster_options& opts);

  /// Prepares an actor system config for a cluster node: loads the
  /// middleman (and the OpenSSL manager with the TLS files), sets the
  /// heartbeat and connection timeout, registers the message types nodes
  /// exchange. Call once, before constructing the actor system.
  static void configure(caf::actor_system_config& cfg,
                        const cluster_options& opts);

  /// The address other nodes dial ("HOST:PORT"); with port 0 only known
  /// after construction (see address()).
  static std::string address_of(const cluster_options& opts);

  /// Publishes this node (blocking: call it from main, not from an actor)
  /// and starts joining the seeds in the background. One cluster per
  /// endpoint, made before the endpoint serves clients.
  cluster(endpoint& ep, cluster_options opts);

  /// leave(), then stops the cluster actor.
  ~cluster();

  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  /// The bound cluster port.
  std::uint16_t port() const { return port_; }

  /// The address other nodes dial.
  const std::string& address() const { return address_; }

  /// Nodes in the cluster as seen from here: this one plus peers up.
  std::size_t nodes() const;

  /// Addresses of the peers up, sorted.
  std::vector<std::string> peers() const;

  /// Places the entities of `e` across the cluster (see entity.hpp): from
  /// now on keys are owned by one node and routed there. Attach before the
  /// first message to an entity, on every node; `e` outlives the cluster.
  void attach(entities& e);

  /// Tells every peer to drop this node now (they stop showing its
  /// presences and do not redial it), waits up to `leave_timeout` for their
  /// acknowledgements, then stops. Idempotent. Blocking (call from main).
  void leave();

  struct view;  // internal: what the cluster actor publishes to readers

private:
  endpoint& ep_;
  std::uint16_t port_ = 0;
  std::string address_;
  caf::actor actor_;
  std::shared_ptr<view> view_;
  bool left_ = false;
};

}  // namespace fenix
