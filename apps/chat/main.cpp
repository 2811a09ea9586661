// fenix-chat: rooms with history, presence and typing indicators.
// The contract is docs/apps.md; run it with `make run`.
//
// Rooms have a history (fenix::history_options): each new_msg broadcast
// gets the room's next offset in the PubSub shard, which hands it to the
// store (SQLite), and joins can recover what a client missed.
//
// In a cluster (--node-port/--join) each node keeps its own SQLite history:
// it stores the messages sent on it and the ones it receives from other
// nodes, so its history is complete for the time it was up. Offsets are
// per node for now (cluster recovery is not done).

#include <iostream>
#include <memory>
#include <optional>

#include <caf/all.hpp>

#include "fenix/fenix.hpp"
#include "apps/chat/room_channel.hpp"
#include "apps/chat/room_store.hpp"
#include "apps/common/app.hpp"

namespace {

// A recorded new_msg broadcast (offset set), as the store keeps it.
std::optional<fenix::apps::chat::chat_message>
recorded_message(const fenix::broadcast& b) {
  if (b.event != "new_msg" || b.topic.rfind("room:", 0) != 0
      || b.payload.is_binary() || !b.payload.json().is_object())
    return std::nullopt;
  auto& o = b.payload.object();
  auto* id = o.if_contains("id");
  auto* user = o.if_contains("user");
  auto* body = o.if_contains("body");
  auto* at = o.if_contains("at");
  if (!id || !id->is_string() || !user || !user->is_string() || !body
      || !body->is_string() || !at || !at->is_int64())
    return std::nullopt;
  fenix::apps::chat::chat_message m;
  m.id = std::string{id->get_string()};
  m.room = b.topic.substr(5);
  m.user = std::string{user->get_string()};
  m.body = std::string{body->get_string()};
  m.at_ms = at->get_int64();
  m.offset = b.offset;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fenix::apps;
  auto flags = parse_flags(argc, argv, "chat", 4000);
  if (!flags.run)
    return flags.exit_code;
  caf::actor_system sys{system_config(flags)};
  caf::actor store;
  try {
    store = chat::spawn_room_store(sys, flags.db);
  } catch (const std::exception& e) {
    std::cerr << "fenix-chat: cannot open database " << flags.db << ": "
              << e.what() << '\n';
    return 1;
  }
  int rc = 0;
  {
    fenix::endpoint ep{sys, endpoint_options_for(flags)};
    std::unique_ptr<fenix::cluster> node;
    try {
      node = start_cluster(ep, flags);
    } catch (const std::exception& e) {
      std::cerr << "fenix-chat: " << e.what() << '\n';
      caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
      return 1;
    }
    mount(ep, flags, node.get());
    fenix::history_options history;
    history.max_messages = chat::message_store::recovery_history;
    history.max_age = std::chrono::minutes(10);
    history.offset_key = "offset";
    history.events = {"new_msg"};  // not presence_diff
    // Local and remote messages alike pass through the room's shard.
    history.on_record = [store](const fenix::broadcast& b) {
      if (auto m = recorded_message(b))
        caf::anon_send(store, chat::store_atom::value, std::move(*m));
    };
    ep.channel(
      "room:*",
      [store](chat::room_channel_actor* self) {
        return chat::room_channel(self, store);
      },
      std::move(history));
    try {
      rc = ep.run();
    } catch (const std::exception& e) {
      std::cerr << "fenix-chat: " << e.what() << '\n';
      rc = 1;
    }
    if (node)
      node->leave();
  }
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  return rc;
}
