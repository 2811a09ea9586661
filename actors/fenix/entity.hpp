/// Entities: actors addressed by a string key ("timers:alice"), written by
/// the user as a behavior like a channel, activated on first use and, in a
/// cluster, placed on one live node (rendezvous hashing over the members)
/// wherever the message comes from.
///
///   caf::behavior counter(fenix::entity* self) {
///     auto n = std::make_shared<std::int64_t>(0);
///     return {
///       [=](const std::string& cmd) -> std::int64_t {
///         return cmd == "incr" ? ++*n : *n;
///       },
///     };
///   }
///   fenix::entities ents{sys};
///   ents.kind("counter:*", counter);
///   cluster.attach(ents);                    // optional: see cluster.hpp
///   ents.send("counter:a", std::string{"incr"});          // one-way
///   ents.request(self, "counter:a", 2s, std::string{"get"})
///     .then([](std::int64_t n) { ... }, [](caf::error& e) { ... });
///
/// Without a cluster every key is activated on this node: the same code
/// path on one node and on many. Messages that cross nodes must consist of
/// CAF built-in types or types registered on every node.
///
/// Placement (cluster): the owner of a key is the member with the highest
/// rendezvous score among this node and the peers up; every node computes
/// the same owner from the same member list, and routes to it. Before it
/// activates a key the owner *claims* it from every peer up: a peer agrees
/// only if its own member list names the claimant as owner, and stops its
/// own activation of the key first. So at most one activation exists while
/// the members agree; while they disagree (a node joining or lost) the key
/// is not active anywhere and its messages wait in a bounded buffer.
///
/// Fencing: a node owns keys only while it holds a lease: a majority of the
/// known members (up or down, not left) answered one of its pings within
/// `lease`. `lease` must be shorter than the cluster's connection timeout,
/// so a frozen or partitioned node has lost its lease before the others
/// see it down and re-activate its keys elsewhere; when it resumes it stops
/// its entities, and `entity::owned()` is false from the first instant, so
/// a timer that fires first can check it before any side effect. A lone
/// node of a cluster that lost its majority owns nothing (no split brain):
/// a two-node cluster does not survive the loss of one.
///
/// Errors (caf::error of category "entity", see entity_error) answer a
/// request that cannot be served: unknown kind, buffer full, or no owner
/// within `buffer_timeout`. A request the owner does not answer ends with
/// the caller's own timeout (caf::sec::request_timeout): never silence.
/// One-way messages that cannot be delivered are dropped and counted.
///
/// Not yet: state replication and handoff. An entity that moves (owner
/// lost, node joined or left) starts again from its behavior function.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>

#include "fenix/atoms.hpp"

namespace fenix {

/// Why an entity request failed (caf::error category "entity").
enum class entity_error : std::uint8_t {
  unknown_kind = 1,  // no registered kind matches the key
  overloaded = 2,    // the key's buffer, or all buffers together, are full
  unavailable = 3,   // no node activated the key within buffer_timeout
  stopped = 4,       // the entities object is being destroyed
};

/// "unknown_kind", "overloaded", ...
std::string to_string(entity_error x);

/// The caf::error for `x` (category atom "entity").
caf::error make_error(entity_error x);

/// Whether `e` is the entity error `x`.
bool is_entity_error(const caf::error& e, entity_error x);

struct entity_options {
  // Messages held for a key that has no active owner yet (activation,
  // claim, owner changing); more are refused with overloaded.
  std::size_t max_buffered_per_key = 1000;
  std::size_t max_buffered = 100000;  // all keys together
  // A buffered message gets `unavailable` after this long.
  std::chrono::milliseconds buffer_timeout{5000};
  // An entity without messages for this long is stopped (0: never).
  std::chrono::milliseconds idle_timeout{0};
  // Cluster: ownership lease (must be shorter than the connection timeout).
  std::chrono::milliseconds lease{1000};
  std::chrono::milliseconds tick{100};  // lease renewal, retries, expiry
  std::chrono::milliseconds claim_timeout{1000};
  // Forwards between nodes before a message waits where it is.
  std::uint32_t max_hops = 2;
};

namespace detail {
struct entity_shared;
}  // namespace detail

/// The actor behind one key on its owner node.
class entity : public caf::event_based_actor {
public:
  using fn_type = std::function<caf::behavior(entity*)>;

  entity(caf::actor_config& cfg, std::string key, fn_type fn,
         std::shared_ptr<detail::entity_shared> shared);

  /// The key this entity serves ("timers:alice").
  const std::string& key() const { return key_; }

  /// Whether this node still owns the key: false once its lease lapsed
  /// (the node was frozen or cut off). Check it before side effects that
  /// do not come from a routed message, e.g. in timer handlers.
  bool owned() const;

  caf::behavior make_behavior() override;

private:
  std::string key_;
  fn_type fn_;
  std::shared_ptr<detail::entity_shared> shared_;
};

/// What users register per kind: a function building the behavior.
using entity_fn = entity::fn_type;

/// The entities of this node: registered kinds and the router actor.
class entities {
public:
  explicit entities(caf::actor_system& sys, entity_options opts = {});

  /// Stops the router and every entity active here.
  ~entities();

  entities(const entities&) = delete;
  entities& operator=(const entities&) = delete;

  /// Registers a kind: keys matching `pattern` ("timers:*": that prefix;
  /// otherwise exactly that key) run `fn`. Register every kind on every
  /// node, before the first message.
  void kind(std::string pattern, entity_fn fn);

  /// One-way message to the entity of `key` (anonymous sender).
  template <class... Ts>
  void send(const std::string& key, Ts&&... xs) const {
    caf::anon_send(router_, en_fwd_atom::value, key, std::uint32_t{0},
                   caf::make_message(std::forward<Ts>(xs)...));
  }

  /// Request to the entity of `key` from actor `self`; the entity's reply
  /// or an error within `timeout`. Use .then/.await (or .receive on a
  /// scoped_actor) as with any CAF request.
  template <class Self, class Duration, class... Ts>
  auto request(Self* self, const std::string& key, Duration timeout,
               Ts&&... xs) const {
    return self->request(router_, timeout, en_fwd_atom::value, key,
                         std::uint32_t{0},
                         caf::make_message(std::forward<Ts>(xs)...));
  }

  /// The router actor (what a cluster attaches to).
  const caf::actor& router() const { return router_; }

  const entity_options& options() const { return opts_; }

  /// Activations on this node since start.
  std::uint64_t activations() const;

  /// Entities running on this node now: activated and not yet seen to
  /// exit by the router (0 means the router routes to none of them).
  std::uint64_t active() const;

private:
  entity_options opts_;
  std::shared_ptr<detail::entity_shared> shared_;
  caf::actor router_;
};

}  // namespace fenix
