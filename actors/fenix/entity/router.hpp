/// Internal: the entity router of one node. Used by entity.cpp and the
/// cluster actor; not part of the public API (see entity.hpp).
///
/// Messages:
///   (en_fwd, key, hops, caf::message)          from callers (hops 0) and
///                                              peer routers; delegated to
///                                              the entity, so its reply
///                                              goes straight to the caller
///   (en_claim, key, claimant) -> bool          from a peer about to
///                                              activate `key`
///   (en_ping) -> en_ping                       lease renewal
///   (en_members, me, addrs, handles, known, leaving)
///                                              from the local cluster
///                                              actor on every change
///   (en_tick)                                  self: lease, retries, expiry
/// Node to node, everything travels as (en_remote, caf::message) to the
/// peer's cluster actor, which delegates the inner message to its router.
#pragma once

#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "fenix/entity.hpp"

namespace fenix::detail {

struct entity_shared;

caf::actor spawn_entity_router(caf::actor_system& sys, entity_options opts,
                               std::shared_ptr<entity_shared> shared);

}  // namespace fenix::detail
