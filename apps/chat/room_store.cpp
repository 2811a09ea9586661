#include "apps/chat/room_store.hpp"

#include <deque>
#include <iostream>
#include <unordered_map>

#include <caf/all.hpp>

namespace fenix::apps::chat {

namespace {

using namespace std::chrono_literals;
using flush_atom = caf::atom_constant<caf::atom("flush")>;

constexpr std::size_t batch_size = 200;
constexpr auto batch_delay = 20ms;

struct room_store_state {
  std::unique_ptr<message_store> store;
  std::unordered_map<std::string, std::deque<chat_message>> cache;
  std::vector<chat_message> pending;
  bool flush_scheduled = false;
  static inline const char* name = "fenix.chat.store";

  void flush() {
    flush_scheduled = false;
    if (pending.empty() || !store)
      return;
    try {
      store->append(pending);
    } catch (const std::exception& e) {
      std::cerr << "fenix-chat: storing " << pending.size()
                << " messages failed: " << e.what() << '\n';
    }
    pending.clear();
  }

  std::deque<chat_message>& room(const std::string& name) {
    auto i = cache.find(name);
    if (i != cache.end())
      return i->second;
    auto loaded = store->last(name, message_store::recovery_history);
    auto& q = cache[name];
    q.assign(loaded.begin(), loaded.end());
    return q;
  }

  ~room_store_state() { flush(); }
};

using store_actor = caf::stateful_actor<room_store_state>;

room_history history_of(room_store_state& st, const std::string& room) {
  auto& q = st.room(room);
  room_history h;
  auto first_of_last = q.size() > message_store::default_history
                         ? q.size() - message_store::default_history
                         : 0;
  std::uint64_t last = q.empty() ? 0 : q.back().offset;
  h.seed.position = stream_position{st.store->epoch(), last};
  for (std::size_t i = 0; i < q.size(); ++i) {
    auto obj = to_json(q[i]);
    if (i >= first_of_last)
      h.last.push_back(obj);
    auto at = std::chrono::system_clock::time_point{
      std::chrono::milliseconds{q[i].at_ms}};
    h.seed.entries.push_back(stream_entry{
      std::make_shared<const broadcast>(broadcast{
        "room:" + room, "new_msg", payload{std::move(obj)}, q[i].offset}),
      at});
  }
  return h;
}

caf::behavior room_store_fn(store_actor* self, std::string path) {
  self->state.store = std::make_unique<message_store>(std::move(path));
  return {
    [=](store_atom, chat_message& m) {
      auto& st = self->state;
      auto& q = st.room(m.room);
      q.push_back(m);
      if (q.size() > message_store::recovery_history)
        q.pop_front();
      st.pending.push_back(std::move(m));
      if (st.pending.size() >= batch_size)
        st.flush();
      else if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->delayed_send(self, batch_delay, flush_atom::value);
      }
    },
    [=](flush_atom) { self->state.flush(); },
    [=](history_atom, const std::string& room) -> room_history {
      return history_of(self->state, room);
    },
  };
}

}  // namespace

caf::actor spawn_room_store(caf::actor_system& sys, const std::string& path) {
  // Open once here so that a bad path fails at startup with a clear error.
  { message_store probe{path}; }
  return sys.spawn<caf::detached>(room_store_fn, path);
}

}  // namespace fenix::apps::chat
