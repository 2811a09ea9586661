/// Internal: the state an endpoint shares with its socket and channel
/// actors (routes, options, PubSub, counters). Not part of the public API.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>

#include "fenix/endpoint.hpp"
#include "fenix/presence_tracker.hpp"
#include "fenix/pubsub.hpp"
#include "fenix/detail/rate_limit.hpp"
#include "fenix/socket/topic_pattern.hpp"
#include "fenix/transport/connection.hpp"
#include "fenix/transport/longpoll/longpoll.hpp"

namespace fenix::detail {

struct endpoint_context {
  explicit endpoint_context(caf::actor_system& s) : sys(s) {}

  caf::actor_system& sys;
  endpoint_options opts;
  std::vector<std::pair<socket::topic_pattern, channel_fn>> routes;
  connect_fn connect;
  std::unique_ptr<fenix::supervisor> sup;  // before ps, presence: outlives
  std::shared_ptr<fault_injector> faults;  // null unless enabled
  std::atomic<int> escalate_fd{-1};        // endpoint::run's wake-up pipe
  std::unique_ptr<fenix::pubsub> ps;
  std::unique_ptr<presence_tracker> presence;
  std::atomic<std::uint64_t> channels{0};
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> rate_limited_events{0};
  std::atomic<std::uint64_t> rate_limited_joins{0};
  std::atomic<std::uint64_t> rate_limited_connects{0};
  std::atomic<std::uint64_t> rate_limit_closes{0};
  std::unique_ptr<address_limiter> connects;  // per peer address

  /// Stops the supervised actors (reverse start order), PubSub and presence.
  void shutdown() {
    if (sup)
      sup->stop();
    if (presence)
      presence->shutdown();
    if (ps)
      ps->shutdown();
  }

  /// The channel function for `topic`, or nullptr (unmatched topic).
  const channel_fn* find_route(const std::string& topic) const {
    for (auto& [pattern, fn] : routes)
      if (pattern.matches(topic))
        return &fn;
    return nullptr;
  }
};

/// Creates the shared state with its PubSub and presence actors.
std::shared_ptr<endpoint_context> make_endpoint_context(caf::actor_system& sys,
                                                        endpoint_options opts);

/// The opening of a Phoenix socket over either transport (a WebSocket
/// upgrade, a new long-poll session): the connect checks (socket/
/// authorize.hpp), then a handler bridging the connection to a new socket
/// actor. The one place where transports meet socket actors.
transport::upgrade_result
socket_upgrade(const std::shared_ptr<endpoint_context>& ctx,
               const transport::http_request& req);

/// The long-poll transport for ctx's socket: ctx's limits and origin check,
/// sessions opened through socket_upgrade.
std::unique_ptr<transport::longpoll::handler>
make_longpoll(const std::shared_ptr<endpoint_context>& ctx);

}  // namespace fenix::detail
