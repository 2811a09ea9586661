/// The chat app's storage actor: keeps each room's last 500 messages in
/// memory (loaded from SQLite on first use; what recovery can replay after
/// a restart) and writes new messages to SQLite in batches, on its own
/// thread, so channel actors never wait for the disk.
///
///   auto store = spawn_room_store(sys, "fenix-chat.db");
///   self->send(store, store_atom::value, msg);   // with its offset
///   self->request(store, caf::infinite, history_atom::value, "lobby")
///     .then([](room_history& h) { /* h.last: last 50, oldest first;
///                                     h.seed: the room's stream */ });
#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include "fenix/types.hpp"
#include "apps/chat/message_store.hpp"

namespace fenix::apps::chat {

using store_atom = caf::atom_constant<caf::atom("store")>;
using history_atom = caf::atom_constant<caf::atom("history")>;

/// What a join needs: the last 50 messages (JSON, oldest first) and the
/// room's stream as storage has it (epoch, last offset, recent messages).
struct room_history {
  json::array last;
  fenix::stream_seed seed;
};

/// Spawns the store (detached: SQLite calls block only its own thread).
/// Throws sqlite_error if the database cannot be opened.
caf::actor spawn_room_store(caf::actor_system& sys, const std::string& path);

}  // namespace fenix::apps::chat

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::apps::chat::chat_message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::apps::chat::room_history)
