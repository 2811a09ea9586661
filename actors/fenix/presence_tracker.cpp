#include "fenix/log.hpp"
#include "fenix/presence_tracker.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <unistd.h>

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/detail/sharded.hpp"
#include "fenix/tracker/gossip.hpp"
#include "fenix/presence/state.hpp"
#include "fenix/protocol/json.hpp"
#include "fenix/pubsub.hpp"
#include "fenix/socket/topic_pattern.hpp"
#include "fenix/types.hpp"

namespace fenix {

// The fetch hooks of a tracker, filled before it serves (like pubsub's
// history table), read by its shards.
struct presence_fetch_table {
  std::vector<std::pair<socket::topic_pattern, presence_fetch_fn>> patterns;

  /// The first hook whose pattern matches `topic`, or nullptr.
  const presence_fetch_fn* find(const std::string& topic) const {
    for (auto& [pattern, fn] : patterns)
      if (pattern.matches(topic))
        return &fn;
    return nullptr;
  }

  /// Runs `fn` on `presences`; a throw leaves them as they were (logged).
  static void apply(const presence_fetch_fn& fn, const std::string& topic,
                    json::object& presences);
};

struct presence_tracker::counters {
  explicit counters(std::size_t shards)
    : entries(std::make_unique<std::atomic<std::int64_t>[]>(shards)),
      shards(shards) {}
  // Per shard: a restarted shard starts from 0 (its entries died with it).
  std::unique_ptr<std::atomic<std::int64_t>[]> entries;
  std::size_t shards;
  std::atomic<std::uint64_t> diffs{0};
  std::atomic<std::uint64_t> renders{0};
};

namespace tracker {

constexpr auto max_window = std::chrono::milliseconds{1000};

void record(actor* self, presence::changes cs) {
  auto& st = self->state;
  for (auto& c : cs) {
    auto delta = c.kind == presence::change_kind::join ? 1 : -1;
    st.sizes[c.topic] += delta;
    if (st.sizes[c.topic] <= 0)
      st.sizes.erase(c.topic);
    st.counters->entries[st.index].fetch_add(delta, std::memory_order_relaxed);
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

}  // namespace tracker

namespace {

using namespace std::chrono_literals;
using tracker::record;
using tracker_state = tracker::state;
using tracker_actor = tracker::actor;

// A meta every peer can parse inside a delta (channel::track throws on the
// same test; this catches metas sent to the shard directly).
bool meta_ok(const payload& p, const std::string& key,
             const std::string& topic) {
  try {
    if (!p.is_binary() && p.json().is_object()) {
      protocol::check_json(p.json(), protocol::max_payload_depth);
      return true;
    }
  } catch (const std::domain_error& e) {
    log::limited(log_level::warning, "presence meta", "presence: meta of ", key,
                 " on ", topic, " refused: ", e.what());
    return false;
  }
  log::limited(log_level::warning, "presence meta", "presence: meta of ", key,
               " on ", topic, " is not a JSON object");
  return false;
}

// phx_ref: URL-safe base64 of 12 bytes (time, random, counter): 16 chars.
std::string make_ref(tracker_state& st) {
  static constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
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

// The net effect of a batch, per entry (dot): a leave then a join of the
// same entry (a peer down and back within one window) is no change, and so
// is a join then a leave. Without this, the JS helper, which applies joins
// before leaves, would drop an entry that is still there.
presence::changes net_changes(presence::changes cs) {
  struct seen {
    presence::change_kind first;
    std::size_t last;
  };
  std::map<presence::dot, seen> by_dot;
  for (std::size_t i = 0; i < cs.size(); ++i) {
    auto [it, fresh] = by_dot.try_emplace(cs[i].tag, seen{cs[i].kind, i});
    if (!fresh)
      it->second.last = i;
  }
  if (by_dot.size() == cs.size())
    return cs;
  std::vector<bool> keep(cs.size(), false);
  for (auto& [tag, s] : by_dot)
    keep[s.last] = s.first == cs[s.last].kind;
  presence::changes out;
  for (std::size_t i = 0; i < cs.size(); ++i)
    if (keep[i])
      out.push_back(std::move(cs[i]));
  return out;
}

void flush(tracker_actor* self, const std::string& topic,
           const presence_fetch_table& fetch) {
  auto& st = self->state;
  auto i = st.pending.find(topic);
  if (i == st.pending.end())
    return;
  auto cs = net_changes(std::move(i->second.changes));
  st.pending.erase(i);
  for (auto& [t, diff] : presence::render_diffs(cs)) {
    if (auto* hook = fetch.find(t))
      for (auto* half : {"joins", "leaves"})
        if (auto& map = diff[half].as_object(); !map.empty())
          presence_fetch_table::apply(*hook, t, map);
    st.counters->diffs.fetch_add(1, std::memory_order_relaxed);
    st.ps->local_broadcast(t, "presence_diff", payload{std::move(diff)});
  }
}

// -- presence_state: rendered once per topic and window ----------------------

// A shard's rendered presence states and the joiners waiting for their
// topic's next flush. Held by the shard's behavior (tracker::state is the
// cluster code's too). A rendered state is valid while its topic has no
// pending changes: every visible change goes through `record`, which opens
// a window, and each flush drops the topic's rendering.
struct state_pushes {
  struct waiter {
    caf::typed_response_promise<frame> rp;
    presence_push how;
  };
  std::map<std::string, std::shared_ptr<const std::string>> rendered;
  std::map<std::string, std::vector<waiter>> waiting;
  std::shared_ptr<const presence_fetch_table> fetch;
};

// The topic's presence map as a tree, the fetch hook applied.
json::object listed(tracker_actor* self, const presence_fetch_table& fetch,
                    const std::string& topic) {
  auto out = presence::render_presences(self->state.crdt->list(topic));
  if (auto* hook = fetch.find(topic))
    presence_fetch_table::apply(*hook, topic, out);
  return out;
}

// The topic's presence map as JSON text, rendered at most once per window.
std::shared_ptr<const std::string> rendered_state(tracker_actor* self,
                                                  state_pushes& sp,
                                                  const std::string& topic) {
  if (auto i = sp.rendered.find(topic); i != sp.rendered.end())
    return i->second;
  auto& st = self->state;
  auto text = std::make_shared<const std::string>(
    sp.fetch->find(topic)
      ? json::serialize(listed(self, *sp.fetch, topic))
      : presence::render_presences_text(st.crdt->list(topic)));
  st.counters->renders.fetch_add(1, std::memory_order_relaxed);
  if (st.sizes.count(topic) > 0)  // nothing kept for empty topics
    sp.rendered.emplace(topic, text);
  return text;
}

// The presence_state push of `text` as `how.ser` frames it (V2 JSON if
// null): the rendered state is copied in, not parsed back into a tree.
frame state_frame(const presence_push& how, const std::string& topic,
                  const std::string& text) {
  auto& ser = how.ser ? *how.ser : serializer_for(protocol_version::v2);
  return ser.encode_json_text(how.join_ref, std::nullopt, topic,
                              "presence_state", text);
}

// Answers the joiners waiting for `topic`: one rendering, one frame per
// (serializer, join_ref), the same bytes for all who share them.
void push_states(tracker_actor* self, state_pushes& sp,
                 const std::string& topic) {
  auto i = sp.waiting.find(topic);
  if (i == sp.waiting.end())
    return;
  auto waiters = std::move(i->second);
  sp.waiting.erase(i);
  auto text = rendered_state(self, sp, topic);
  std::map<std::pair<const serializer*, opt_string>, frame> framed;
  for (auto& w : waiters) {
    auto [f, fresh] = framed.try_emplace({w.how.ser, w.how.join_ref});
    if (fresh)
      f->second = state_frame(w.how, topic, *text);
    w.rp.deliver(f->second);
  }
}

// (list_atom, topic, presence_push): at the topic's next flush if changes
// are pending (the state then holds them all), else at once.
caf::result<frame> request_state(tracker_actor* self, state_pushes& sp,
                                 const std::string& topic, presence_push how) {
  if (self->state.pending.count(topic) == 0)
    return state_frame(how, topic, *rendered_state(self, sp, topic));
  auto rp = self->make_response_promise<frame>();
  sp.waiting[topic].push_back({rp, std::move(how)});
  return rp;
}

// Monitors the owner (its exit untracks it) and links to it, so that the
// owner (a channel) dies with this shard (see presence_tracker.hpp).
void watch(tracker_actor* self, const caf::actor& owner) {
  if (self->state.monitored.insert(owner.id()).second) {
    self->monitor(owner);
    self->link_to(owner);
  }
}

// -- the shard's behavior, in steps ------------------------------------------

void init_shard(tracker_actor* self, presence::replica_id me,
                std::uint32_t index, const pubsub* ps,
                std::chrono::milliseconds window,
                std::shared_ptr<presence_tracker::counters> c) {
  auto& st = self->state;
  st.index = index;
  st.crdt = std::make_unique<presence::state>(std::move(me));
  st.ps = ps;
  st.window = window;
  st.counters = std::move(c);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto id = dm.source.id();
    self->state.monitored.erase(id);
    record(self, self->state.crdt->untrack_all(id));
  });
  // Linked channels that exit are handled by the down handler; their exit
  // must not end the shard. A channel never exits with user_shutdown: that
  // is the supervisor stopping the shard; an anonymous exit (its source is
  // the shard itself) is shutdown() or the fault injector.
  self->set_exit_handler([self](caf::exit_msg& em) {
    if (em.reason == caf::exit_reason::user_shutdown
        || em.source == self->address())
      self->quit(std::move(em.reason));
  });
}

void track(tracker_actor* self, const std::string& topic,
           const std::string& key, payload& p, const caf::actor& owner) {
  auto& st = self->state;
  if (!meta_ok(p, key, topic))
    return;
  auto meta = std::move(p.json().as_object());
  meta["phx_ref"] = make_ref(st);
  auto cs = st.crdt->track(topic, key, owner.id(), std::move(meta));
  if (!cs) {
    log::limited(log_level::warning, "presence", "presence: ", key,
                 " is already tracked on ", topic, " by this channel");
    return;
  }
  watch(self, owner);
  record(self, std::move(*cs));
}

void update(tracker_actor* self, const std::string& topic,
            const std::string& key, payload& p, const caf::actor& owner) {
  auto& st = self->state;
  if (!meta_ok(p, key, topic))
    return;
  auto meta = std::move(p.json().as_object());
  auto* old = st.crdt->find_local(topic, key, owner.id());
  if (old == nullptr) {
    log::limited(log_level::warning, "presence", "presence: update of ", key,
                 " on ", topic, " which is not tracked");
    return;
  }
  if (auto* prev = old->if_contains("phx_ref"))
    meta["phx_ref_prev"] = *prev;
  meta["phx_ref"] = make_ref(st);
  if (auto cs = st.crdt->update(topic, key, owner.id(), std::move(meta)))
    record(self, std::move(*cs));
}

// What channels ask of their shard: track, update, untrack, list.
caf::message_handler local_handlers(tracker_actor* self,
                                    std::shared_ptr<state_pushes> states) {
  return {
    [=](track_atom, const std::string& topic, const std::string& key,
        payload& p,
        const caf::actor& owner) { track(self, topic, key, p, owner); },
    [=](update_atom, const std::string& topic, const std::string& key,
        payload& p,
        const caf::actor& owner) { update(self, topic, key, p, owner); },
    [=](untrack_atom, const std::string& topic, const std::string& key,
        const caf::actor_addr& owner) {
      record(self, self->state.crdt->untrack(topic, key, owner.id()));
    },
    [=](untrack_atom, const caf::actor_addr& owner) {
      record(self, self->state.crdt->untrack_all(owner.id()));
    },
    [=](list_atom, const std::string& topic) -> payload {
      return payload{listed(self, *states->fetch, topic)};
    },
    [=](list_atom, const std::string& topic,
        presence_push& how) -> caf::result<frame> {
      return request_state(self, *states, topic, std::move(how));
    },
    [=](flush_atom, const std::string& topic) {
      flush(self, topic, *states->fetch);  // the window's diff, then states
      states->rendered.erase(topic);
      push_states(self, *states, topic);
    },
  };
}

// Replication with the same shard of the other nodes (gossip.hpp).
caf::message_handler cluster_handlers(tracker_actor* self) {
  return {
    [=](cl_attach_atom, std::uint64_t gossip_ms, std::uint64_t permdown_ms) {
      tracker::attach(self, gossip_ms, permdown_ms);
    },
    [=](cl_peer_up_atom, const std::string& node, std::uint64_t inc,
        const caf::actor& handle) {
      tracker::peer_up(self, node, inc, handle);
    },
    [=](cl_peer_down_atom, const std::string& node, std::uint64_t inc) {
      tracker::peer_down(self, node, inc);
    },
    [=](cl_peer_gone_atom, const std::string& node, std::uint64_t inc) {
      tracker::peer_gone(self, node, inc);
    },
    [=](cl_presence_atom, const mesh::presence_message& m) {
      tracker::receive(self, m);
    },
    [=](cl_tick_atom) { tracker::tick(self); },
  };
}

caf::behavior tracker_fn(tracker_actor* self, presence::replica_id me,
                         std::uint32_t index, const pubsub* ps,
                         std::chrono::milliseconds window,
                         std::shared_ptr<presence_tracker::counters> c,
                         std::shared_ptr<const presence_fetch_table> fetch) {
  init_shard(self, std::move(me), index, ps, window, std::move(c));
  auto states = std::make_shared<state_pushes>();
  states->fetch = std::move(fetch);
  return local_handlers(self, std::move(states))
    .or_else(cluster_handlers(self));
}

}  // namespace

presence_tracker::presence_tracker(caf::actor_system& sys, const pubsub& ps,
                                   std::size_t shards,
                                   std::chrono::milliseconds window,
                                   std::string node_name, supervisor* sup,
                                   std::shared_ptr<fault_injector> faults)
  : counters_(std::make_shared<counters>(std::max<std::size_t>(1, shards))),
    fetch_(std::make_shared<presence_fetch_table>()) {
  // Start time in us; strictly increasing within the process, so that two
  // trackers (e.g. two nodes in one test process) never share a replica.
  static std::atomic<std::uint64_t> last{0};
  auto now = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count());
  auto prev = last.load();
  while (!last.compare_exchange_weak(prev, std::max(now, prev + 1))) {
  }
  replica_.incarnation = std::max(now, prev + 1);
  if (node_name.empty()) {
    static std::atomic<int> count{0};
    char host[256] = "localhost";
    ::gethostname(host, sizeof(host) - 1);
    node_name = std::string{host} + ":" + std::to_string(::getpid()) + "#"
                + std::to_string(++count);
  }
  replica_.node = std::move(node_name);
  if (!sup) {
    own_sup_ =
      std::make_unique<supervisor>(sys, supervisor_options{}, "fenix.presence");
    sup = own_sup_.get();
  }
  auto start = [r = replica_, ps = &ps, window, c = counters_,
                f = std::shared_ptr<const presence_fetch_table>{fetch_}](
                 caf::actor_system& s, std::size_t i) {
    c->entries[i].store(0);  // a restart: the old shard's entries are gone
    return s.spawn(tracker_fn, r, static_cast<std::uint32_t>(i), ps, window, c,
                   f);
  };
  shards_ = std::make_unique<detail::sharded>(
    *sup, "fenix.presence", counters_->shards, start, std::move(faults));
}

presence_tracker::~presence_tracker() {
  shutdown();
}

caf::actor presence_tracker::shard(const std::string& topic) const {
  return shards_->route(topic);
}

std::vector<caf::actor> presence_tracker::shards() const {
  return shards_->all();
}

std::uint64_t presence_tracker::entries() const {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < counters_->shards; ++i)
    n += counters_->entries[i].load();
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, n));
}

std::uint64_t presence_tracker::diffs_sent() const {
  return counters_->diffs.load();
}

std::uint64_t presence_tracker::states_rendered() const {
  return counters_->renders.load();
}

void presence_tracker::shutdown() {
  if (shards_)
    shards_->stop();
}

}  // namespace fenix

// -- fetch hooks -------------------------------------------------------------------

namespace fenix {

void presence_tracker::fetch(std::string pattern, presence_fetch_fn fn) {
  fetch_->patterns.emplace_back(socket::topic_pattern{std::move(pattern)},
                                std::move(fn));
}

void presence_fetch_table::apply(const presence_fetch_fn& fn,
                                 const std::string& topic,
                                 json::object& presences) {
  // On a copy: a hook that throws halfway leaves the map as it was.
  auto copy = presences;
  try {
    fn(topic, copy);
  } catch (const std::exception& e) {
    log::limited(log_level::error, "presence fetch", "presence: fetch hook ",
                 "for ", topic, " threw: ", e.what());
    return;
  }
  presences = std::move(copy);
}

}  // namespace fenix
