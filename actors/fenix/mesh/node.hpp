/// Internal: the cluster actor of one node (membership, failure detection,
/// routing between nodes). Used by cluster.cpp; not part of the public API.
///
/// How it works: members are kept by address ("HOST:PORT"). A member is
/// dialled with the middleman actor's connect (never a blocking call), then
/// greeted with (cl_hello, node_info, members); the answer carries the
/// peer's node_info and members, and every member learned is dialled in
/// turn (a full mesh). Whoever is up is monitored; its down message marks
/// it down (trackers hide its presences), and it is redialled with
/// exponential backoff. A hello with a new incarnation of a known address
/// makes the old one go for good, as does a cl_bye or `permdown_period`.
/// Broadcasts from the local PubSub (cl_forward) go to every peer up as
/// cl_deliver; presence messages are routed to the tracker shard they name.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "fenix/cluster.hpp"
#include "fenix/mesh/protocol.hpp"

namespace fenix {

namespace detail {
struct endpoint_context;
}  // namespace detail

struct cluster::view {
  std::mutex mtx;  // guards `peers` only; never held while sending
  std::vector<std::string> peers;
  std::atomic<std::size_t> up{0};
};

}  // namespace fenix

namespace fenix::mesh {

/// "HOST:PORT" (or "[v6]:PORT") as host and port; nullopt if malformed.
std::optional<std::pair<std::string, std::uint16_t>>
split_address(const std::string& addr);

/// Whether `host` is a loopback name or address.
bool is_loopback(const std::string& host);

/// Spawns the cluster actor; its address is `me.address` (or set later with
/// (cl_attach_atom, node_info) when the port was 0).
caf::actor spawn_cluster_node(caf::actor_system& sys, cluster_options opts,
                              node_info me,
                              std::shared_ptr<detail::endpoint_context> ctx,
                              std::shared_ptr<cluster::view> view);

}  // namespace fenix::mesh
