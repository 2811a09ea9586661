/// The timer app's server-side state (docs/apps.md "Timer"): one actor per
/// user owns that user's timers, outlives sockets, ticks once a second and
/// broadcasts every change on "timers:USER"; a registry actor finds or
/// spawns it; a detached store actor writes changes to SQLite.
///
///   auto reg = spawn_timer_registry(sys, ep.pubsub(), "fenix-timer.db");
///   self->request(reg, caf::infinite, get_atom::value, "alice")
///     .then([](caf::actor user) { ... });
///   // user actor: (list_atom) -> payload {"timers":[...]}
///   //             (command_atom, event, payload) -> fenix::reply
#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include "fenix/pubsub.hpp"
#include "fenix/types.hpp"

namespace fenix::apps::timer {

using get_atom = caf::atom_constant<caf::atom("get")>;
using command_atom = caf::atom_constant<caf::atom("command")>;

/// Spawns the registry. Loads every active timer from `db_path` (time that
/// passed while the server was down counts) and starts their users' actors.
/// Throws sqlite_error if the database cannot be opened.
caf::actor spawn_timer_registry(caf::actor_system& sys, const pubsub& ps,
                                const std::string& db_path);

}  // namespace fenix::apps::timer
