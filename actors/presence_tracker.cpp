#include "actors/presence_tracker.hpp"

#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <unistd.h>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/presence_state.hpp"
#include "actors/pubsub.hpp"
#include "actors/types.hpp"

namespace fenix {

struct presence_tracker::counters {
  std::atomic<std::int64_t> entries{0};
  std::atomic<std::uint64_t> diffs{0};
};

namespace {

using namespace std::chrono_literals;

constexpr auto max_window = std::chrono::milliseconds{1000};

struct pending_topic {
  presence::changes changes;
  bool scheduled = false;
};

struct tracker_state {
  std::unique_ptr<presence::state> crdt;
  const pubsub* ps = nullptr;
  std::chrono::milliseconds window{20};
  std::shared_ptr<presence_tracker::counters> counters;
  std::map<std::string, pending_topic> pending;
  std::map<std::string, std::int64_t> sizes;  // entries per topic
  std::set<std::uint64_t> monitored;          // owner actor ids
  std::mt19937_64 rng{std::random_device{}()};
  std::uint16_t ref_counter = 0;
  static inline const char* name = "fenix.presence";
};

using tracker_actor = caf::stateful_actor<tracker_state>;

// phx_ref: URL-safe base64 of 12 bytes (time, random, counter): 16 chars.
std::string make_ref(tracker_state& st) {
  static constexpr char alphabet[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  unsigned char bytes[12];
  auto ns = static_cast<std::uint64_t>(
    std::chrono::system_clock::now().time_since_epoch().count());
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<unsigned char>(ns >> (56 - 8 * i));
  auto r = st.rng();
  bytes[8] = static_cast<unsigned char>(r);
  bytes[9] = static_cast<unsigned char>(r >> 8);
  auto c = ++st.ref_counter;
  bytes[10] = static_cast<unsigned char>(c >> 8);
  bytes[11] = static_cast<unsigned char>(c);
  std::string out;
  for (int i = 0; i < 12; i += 3) {
    unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  return out;
}

void record(tracker_actor* self, presence::changes cs) {
  auto& st = self->state;
  for (auto& c : cs) {
    auto delta = c.kind == presence::change_kind::join ? 1 : -1;
    st.sizes[c.topic] += delta;
    if (st.sizes[c.topic] <= 0)
      st.sizes.erase(c.topic);
    st.counters->entries.fetch_add(delta, std::memory_order_relaxed);
    auto& p = st.pending[c.topic];
    if (!p.scheduled) {
      p.scheduled = true;
      auto n = st.sizes.count(c.topic) ? st.sizes[c.topic] : 0;
      auto w = std::min(max_window, st.window * (1 + n / 100));
      self->delayed_send(self, w, flush_atom::value, c.topic);
    }
    p.changes.push_back(std::move(c));
  }
}

void flush(tracker_actor* self, const std::string& topic) {
  auto& st = self->state;
  auto i = st.pending.find(topic);
  if (i == st.pending.end())
    return;
  auto cs = std::move(i->second.changes);
  st.pending.erase(i);
  for (auto& [t, diff] : presence::render_diffs(cs)) {
    st.counters->diffs.fetch_add(1, std::memory_order_relaxed);
    st.ps->local_broadcast(t, "presence_diff", payload{std::move(diff)});
  }
}

void watch(tracker_actor* self, const caf::actor& owner) {
  if (self->state.monitored.insert(owner.id()).second)
    self->monitor(owner);
}

caf::behavior tracker_fn(tracker_actor* self, presence::replica_id me,
                         const pubsub* ps, std::chrono::milliseconds window,
                         std::shared_ptr<presence_tracker::counters> c) {
  auto& st = self->state;
  st.crdt = std::make_unique<presence::state>(std::move(me));
  st.ps = ps;
  st.window = window;
  st.counters = std::move(c);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto id = dm.source.id();
    self->state.monitored.erase(id);
    record(self, self->state.crdt->untrack_all(id));
  });
  return {
    [=](track_atom, const std::string& topic, const std::string& key,
        payload& p, const caf::actor& owner) {
      auto& st = self->state;
      auto meta = std::move(p.json().as_object());
      meta["phx_ref"] = make_ref(st);
      auto cs = st.crdt->track(topic, key, owner.id(), std::move(meta));
      if (!cs) {
        std::cerr << "fenix: presence: " << key << " is already tracked on "
                  << topic << " by this channel\n";
        return;
      }
      watch(self, owner);
      record(self, std::move(*cs));
    },
    [=](update_atom, const std::string& topic, const std::string& key,
        payload& p, const caf::actor& owner) {
      auto& st = self->state;
      auto meta = std::move(p.json().as_object());
      auto* old = st.crdt->find_local(topic, key, owner.id());
      if (old == nullptr) {
        std::cerr << "fenix: presence: update of " << key << " on " << topic
                  << " which is not tracked\n";
        return;
      }
      if (auto* prev = old->if_contains("phx_ref"))
        meta["phx_ref_prev"] = *prev;
      meta["phx_ref"] = make_ref(st);
      if (auto cs = st.crdt->update(topic, key, owner.id(), std::move(meta)))
        record(self, std::move(*cs));
    },
    [=](untrack_atom, const std::string& topic, const std::string& key,
        const caf::actor_addr& owner) {
      record(self, self->state.crdt->untrack(topic, key, owner.id()));
    },
    [=](untrack_atom, const caf::actor_addr& owner) {
      record(self, self->state.crdt->untrack_all(owner.id()));
    },
    [=](list_atom, const std::string& topic) -> payload {
      return payload{
        presence::render_presences(self->state.crdt->list(topic))};
    },
    [=](flush_atom, const std::string& topic) { flush(self, topic); },
  };
}

} // namespace

presence_tracker::presence_tracker(caf::actor_system& sys, const pubsub& ps,
                                   std::size_t shards,
                                   std::chrono::milliseconds window)
  : counters_(std::make_shared<counters>()) {
  auto incarnation = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count());
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  auto node = std::string{host} + ":" + std::to_string(::getpid());
  for (std::size_t i = 0; i < std::max<std::size_t>(1, shards); ++i)
    shards_.push_back(sys.spawn(tracker_fn,
                                presence::replica_id{node, incarnation}, &ps,
                                window, counters_));
}

presence_tracker::~presence_tracker() {
  shutdown();
}

const caf::actor& presence_tracker::shard(const std::string& topic) const {
  static const caf::actor none;  // after shutdown: sends are dropped
  if (shards_.empty())
    return none;
  return shards_[std::hash<std::string>{}(topic) % shards_.size()];
}

std::uint64_t presence_tracker::entries() const {
  return static_cast<std::uint64_t>(
    std::max<std::int64_t>(0, counters_->entries.load()));
}

std::uint64_t presence_tracker::diffs_sent() const {
  return counters_->diffs.load();
}

void presence_tracker::shutdown() {
  for (auto& s : shards_)
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  shards_.clear();
}

} // namespace fenix
