/// Internal: what cluster nodes say to each other, and what the cluster
/// actor says to the local PubSub and presence tracker shards. Not part of
/// the public API (see cluster.hpp).
///
/// Everything that crosses nodes is either a CAF built-in type (atoms,
/// strings, integers, `std::vector<std::string>`) or one of the three
/// structs below, registered by `add_cluster_message_types` under the same
/// name on every node (CAF 0.17: an unregistered type only fails at run
/// time). Payloads travel as text: JSON for presence deltas, clocks and
/// broadcast payloads, raw bytes for binary broadcast payloads.
///
/// Node to node (to the peer's cluster actor, which routes):
///   (cl_hello, node_info, members) -> (node_info, members)   join/rejoin
///   (cl_members, members)                                  gossip
///   (cl_bye, node_info) -> cl_bye                           clean leave
///   (cl_deliver, remote_broadcast)                          PubSub
///   (cl_presence, presence_message)                         tracker shard i
/// where `members` is a `std::vector<std::string>` of "HOST:PORT".
///
/// Local (cluster actor -> tracker shards):
///   (cl_attach, gossip_ms, caf::actor cluster)
///   (cl_peer_up, node, incarnation, caf::actor peer_cluster)
///   (cl_peer_down, node, incarnation)
///   (cl_peer_gone, node, incarnation)   (permdown: new incarnation, bye)
/// and PubSub -> cluster actor: (cl_forward, remote_broadcast).
#pragma once

#include <cstdint>
#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "fenix/atoms.hpp"

namespace fenix::mesh {

// -- node to node -------------------------------------------------------------

/// Who a node is: where to dial it, and its presence replica.
struct node_info {
  std::string address;            // "HOST:PORT" other nodes dial
  std::string name;               // presence replica node name
  std::uint64_t incarnation = 0;  // new on every start
  std::uint32_t shards = 0;       // presence tracker shards (must match)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("fenix_node_info"), x.address, x.name,
           x.incarnation, x.shards);
}

/// A PubSub broadcast on its way to another node's local subscribers.
struct remote_broadcast {
  std::string topic;
  std::string event;
  std::string data;  // JSON text, or the bytes of a binary payload
  bool binary = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_broadcast& x) {
  return f(caf::meta::type_name("fenix_remote_broadcast"), x.topic, x.event,
           x.data, x.binary);
}

/// What tracker shard `shard` on one node says to the same shard on another.
struct presence_message {
  enum kind_type : std::uint32_t {
    gossip = 0,        // periodic: pending delta (may be empty) + clock
    transfer_req = 1,  // "send me what I miss": clock = the asker's clock
    transfer_ack = 2,  // delta = extract_delta(asker's clock) + clock
  };
  std::uint32_t shard = 0;
  std::uint32_t kind = gossip;
  std::string node;  // sender replica
  std::uint64_t incarnation = 0;
  std::string delta;  // presence::delta JSON, "" for none
  std::string clock;  // version_vector JSON
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_message& x) {
  return f(caf::meta::type_name("fenix_presence_message"), x.shard, x.kind,
           x.node, x.incarnation, x.delta, x.clock);
}

/// Registers the three structs above (same names on every node).
inline void add_cluster_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<node_info>("fenix_node_info");
  cfg.add_message_type<remote_broadcast>("fenix_remote_broadcast");
  cfg.add_message_type<presence_message>("fenix_presence_message");
}

}  // namespace fenix::mesh
