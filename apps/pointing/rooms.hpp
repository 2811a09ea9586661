/// The pointing app's room state (docs/apps.md "Pointing party"): one room
/// actor per room owns its ticket, votes and reveal, and its members (the
/// channels that joined, monitored, so a channel that dies stops
/// counting); a detached registry actor finds or spawns rooms and owns the
/// SQLite store every room change is written to. A room whose last member
/// left goes away (its state is stored; the next enter reloads it), so
/// room names nobody uses any more cost no memory.
///
///   auto reg = spawn_room_registry(sys, "fenix-pointing.db");
///   self->request(reg, caf::infinite, enter_atom::value, "lobby", "alice")
///     .then([](caf::actor room, fenix::payload r) { ... });
///   // r: {"reply": join reply, "state": "voting"|"voted",
///   //     "revealed": votes_revealed payload | null}; the sender (a
///   //     channel) is now a member of `room`, which handles
///   //     (command_atom, event, payload) -> fenix::reply
///   // members receive (state_atom, "voting"|"voted") for their presence
///   // meta and (push_atom, event, payload) to push to their client.
///
/// Members hear of every change from the room itself, in the room's order,
/// after their enter reply: a channel that is still subscribing misses no
/// ticket or reveal, and its presence meta never goes back in time.
#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include "fenix/types.hpp"
#include "apps/pointing/room_store.hpp"

namespace fenix::apps::pointing {

using enter_atom = caf::atom_constant<caf::atom("enter")>;
using command_atom = caf::atom_constant<caf::atom("command")>;
using state_atom = caf::atom_constant<caf::atom("pstate")>;
using push_atom = caf::atom_constant<caf::atom("ppush")>;
using freeze_atom = caf::atom_constant<caf::atom("freeze")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;

/// Spawns the registry (detached: SQLite blocks only its thread). Throws
/// sqlite_error if the database cannot be opened.
///
/// Shutdown: `(freeze_atom) -> bool` makes every room ignore members that
/// go away from then on (a server closing its sockets must not discard
/// the votes it persisted), `(sync_atom) -> bool` answers once every
/// write sent before it is on disk.
caf::actor spawn_room_registry(caf::actor_system& sys, const std::string& db);

/// The summary of a reveal: {"min","max","average" (2 decimals),
/// "consensus"}; `votes` is not empty.
json::object summarize(const std::map<std::string, int>& votes);

}  // namespace fenix::apps::pointing

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::apps::pointing::room_record)
