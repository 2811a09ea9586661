#include "fenix/pubsub.hpp"

#include <algorithm>
#include <functional>
#include <unordered_map>

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/detail/sharded.hpp"
#include "fenix/detail/stream.hpp"
#include "fenix/mesh/protocol.hpp"
#include "fenix/protocol/json.hpp"
#include "fenix/socket/topic_pattern.hpp"

namespace fenix {

struct history_table {
  std::vector<
    std::pair<socket::topic_pattern, std::shared_ptr<const history_options>>>
    patterns;

  std::shared_ptr<const history_options> find(const std::string& t) const {
    for (auto& [pattern, opts] : patterns)
      if (pattern.matches(t))
        return opts;
    return nullptr;
  }
};

struct pubsub::cluster_link {
  caf::actor node;  // written once, before `attached`
  std::atomic<bool> attached{false};
  std::atomic<std::size_t> peers{0};
};

namespace {

using sweep_atom = caf::atom_constant<caf::atom("ps_sweep")>;
constexpr auto sweep_period = std::chrono::seconds(1);

// The subscribers of one topic, in subscription order (delivery follows
// it). A removal leaves a hole (null handle), found through `index`; the
// holes are squeezed out once they are half the list, so removing N
// subscribers costs O(N) in all, not a scan of the list each.
struct topic_subscribers {
  std::vector<subscriber> list;
  std::unordered_map<const caf::actor_control_block*, std::size_t> index;
  std::size_t holes = 0;

  std::size_t size() const { return list.size() - holes; }

  void add(subscriber s) {
    index.emplace(caf::actor_cast<caf::actor_control_block*>(s.handle),
                  list.size());
    list.push_back(std::move(s));
  }

  /// Removes `who`'s subscription; false if it had none.
  bool remove(const caf::actor_control_block* who) {
    auto i = index.find(who);
    if (i == index.end())
      return false;
    list[i->second] = subscriber{};  // drops the connection and intercepts
    index.erase(i);
    if (++holes > list.size() / 2)
      compact();
    return true;
  }

private:
  void compact() {
    std::size_t out = 0;
    for (std::size_t k = 0; k < list.size(); ++k) {
      if (!list[k].handle)
        continue;
      if (out != k) {
        list[out] = std::move(list[k]);
        index[caf::actor_cast<caf::actor_control_block*>(list[out].handle)] =
          out;
      }
      ++out;
    }
    list.resize(out);
    holes = 0;
  }
};

struct shard_state {
  std::unordered_map<std::string, topic_subscribers> topics;
  std::unordered_map<caf::actor_addr, std::vector<std::string>> by_actor;
  std::unordered_map<std::string, detail::stream> streams;
  std::shared_ptr<pubsub_stats> stats;
  std::shared_ptr<const history_table> histories;
  bool sweeping = false;
  static inline const char* name = "fenix.pubsub";

  // A shard that dies (or stops) takes its subscriptions with it.
  ~shard_state() {
    std::uint64_t n = 0;
    for (auto& kv : topics)
      n += kv.second.size();
    if (stats && n > 0)
      stats->subscriptions.fetch_sub(n);
  }
};

using shard_actor = caf::stateful_actor<shard_state>;
using detail::stream_clock;

bool intercepts(const subscriber& s, const std::string& event) {
  if (!s.intercepts)
    return false;
  auto& v = *s.intercepts;
  return std::find(v.begin(), v.end(), event) != v.end();
}

// -- streams (topics with history) ---------------------------------------------

void schedule_sweep(shard_actor* self) {
  if (self->state.sweeping)
    return;
  self->state.sweeping = true;
  self->delayed_send(self, sweep_period, sweep_atom::value);
}

// Evicts the stream idle longest among those without subscribers.
void evict_one(shard_actor* self) {
  auto& st = self->state;
  auto victim = st.streams.end();
  for (auto i = st.streams.begin(); i != st.streams.end(); ++i)
    if (!st.topics.count(i->first)
        && (victim == st.streams.end()
            || i->second.last_active() < victim->second.last_active()))
      victim = i;
  if (victim != st.streams.end())
    st.streams.erase(victim);
}

// The topic's stream, started (from `seed` if given) when the topic has
// history; nullptr when it has none.
detail::stream* stream_for(shard_actor* self, const std::string& topic,
                           const stream_seed* seed = nullptr) {
  auto& st = self->state;
  auto i = st.streams.find(topic);
  if (i != st.streams.end())
    return &i->second;
  auto opts = st.histories->find(topic);
  if (!opts)
    return nullptr;
  if (st.streams.size() >= opts->max_topics)
    evict_one(self);
  auto now = stream_clock::now();
  auto s = seed ? detail::stream{opts, *seed, now} : detail::stream{opts, now};
  schedule_sweep(self);
  return &st.streams.emplace(topic, std::move(s)).first->second;
}

// Drops what is too old, and the streams with nothing left, no subscriber
// and no broadcast for max_age.
void sweep(shard_actor* self) {
  auto& st = self->state;
  st.sweeping = false;
  auto now = stream_clock::now();
  for (auto i = st.streams.begin(); i != st.streams.end();) {
    auto& s = i->second;
    s.trim(now);
    if (s.empty() && !st.topics.count(i->first)
        && now - s.last_active() > s.options().max_age)
      i = st.streams.erase(i);
    else
      ++i;
  }
  if (!st.streams.empty())
    schedule_sweep(self);
}

// Gives a broadcast its offset when its topic has history.
broadcast_ptr record(shard_actor* self, const broadcast_ptr& b) {
  auto* s = stream_for(self, b->topic);
  if (!s)
    return b;
  auto& events = s->options().events;
  if (!events.empty()
      && std::find(events.begin(), events.end(), b->event) == events.end())
    return b;
  auto out = s->record(b, stream_clock::now());
  if (auto& hook = s->options().on_record) {
    try {
      hook(*out);
    } catch (const std::exception&) {
      // the hook's failure is its own; delivery goes on
    }
  }
  return out;
}

void dispatch(shard_actor* self, const caf::actor_addr& from,
              const broadcast_ptr& in) {
  auto& st = self->state;
  st.stats->broadcasts.fetch_add(1, std::memory_order_relaxed);
  auto b = record(self, in);
  auto i = st.topics.find(b->topic);
  if (i == st.topics.end())
    return;
  frame encoded[protocol_version_count];
  std::uint64_t delivered = 0;
  transport::send_batch batch;  // one hand-off to the io threads
  auto* sender = from.get();
  for (auto& s : i->second.list) {
    if (!s.handle
        || (sender
            && caf::actor_cast<caf::actor_control_block*>(s.handle) == sender))
      continue;
    if (!s.conn || intercepts(s, b->event)) {
      if (s.conn)
        self->send(s.handle, sys_out_atom::value, b);
      else
        self->send(s.handle, broadcast_atom::value, b);
      continue;
    }
    auto& f = encoded[static_cast<int>(s.ser->version())];
    if (!f.data) {
      try {
        f = s.ser->encode_broadcast(b->topic, b->event, b->payload);
      } catch (const std::exception&) {
        continue;  // e.g. a binary payload for a V1 client: skipped
      }
      st.stats->encodes.fetch_add(1, std::memory_order_relaxed);
    }
    s.conn->send(f);
    ++delivered;
  }
  st.stats->deliveries.fetch_add(delivered, std::memory_order_relaxed);
}

void remove_subscription(shard_actor* self, const caf::actor_addr& who,
                         const std::string& topic) {
  auto& st = self->state;
  auto i = st.topics.find(topic);
  if (i == st.topics.end())
    return;
  auto& subs = i->second;
  if (subs.remove(who.get()))
    st.stats->subscriptions.fetch_sub(1);
  if (subs.size() == 0)
    st.topics.erase(i);
}

// Adds the subscription unless `s` is subscribed to `topic` already.
void add_subscription(shard_actor* self, const std::string& topic,
                      subscriber s) {
  auto& st = self->state;
  auto& topics = st.by_actor[s.handle.address()];
  if (std::find(topics.begin(), topics.end(), topic) != topics.end())
    return;
  if (topics.empty()) {
    self->monitor(s.handle);
    if (s.linked)  // a channel: it dies with this shard (see pubsub.hpp)
      self->link_to(s.handle);
  }
  topics.push_back(topic);
  st.topics[topic].add(std::move(s));
  st.stats->subscriptions.fetch_add(1);
}

// One replayed broadcast to one subscriber, as dispatch would deliver it.
void replay_one(shard_actor* self, const subscriber& s,
                const broadcast_ptr& b) {
  if (!s.conn || intercepts(s, b->event)) {
    if (s.conn)
      self->send(s.handle, sys_out_atom::value, b);
    else
      self->send(s.handle, broadcast_atom::value, b);
    return;
  }
  try {
    s.conn->send(s.ser->encode_broadcast(b->topic, b->event, b->payload));
  } catch (const std::exception&) {
    // skipped, as in dispatch
  }
}

// The join reply of a topic with history: the channel's payload (or the
// recovered one) with the stream's position and "recovered".
payload stream_reply(const stream_join& j, const detail::stream* s,
                     bool recovered) {
  auto& req = *j.request;
  payload p = recovered ? req.recovered_reply : j.reply;
  if (!s || p.is_binary() || !p.json().is_object())
    return p;
  auto& o = p.json().as_object();
  auto pos = s->position();
  if (req.since)
    o["recovered"] = recovered;
  if (req.position) {
    o["epoch"] = pos.epoch;
    o["offset"] = static_cast<std::int64_t>(pos.offset);
  }
  return p;
}

// Writes the join reply, replays what the client missed, then subscribes:
// all in this one handler, so nothing published meanwhile is lost or
// doubled (dispatch runs before or after it, never in between).
void stream_subscribe(shard_actor* self, const std::string& topic,
                      subscriber& s, const stream_join& j) {
  auto& req = *j.request;
  auto* str = stream_for(self, topic, req.seed ? &*req.seed : nullptr);
  bool recovered = false;
  if (str && req.since) {
    str->trim(stream_clock::now());
    recovered = str->can_serve(*req.since);
  }
  auto reply = stream_reply(j, str, recovered);
  if (s.conn)
    s.conn->send(
      s.ser->encode_reply(j.join_ref, j.ref, topic, reply_status::ok, reply));
  if (recovered)
    for (auto& b : str->after(req.since->offset))
      replay_one(self, s, b);
  add_subscription(self, topic, std::move(s));
}

caf::behavior shard_fn(shard_actor* self, std::shared_ptr<pubsub_stats> stats,
                       std::shared_ptr<const history_table> histories) {
  self->state.stats = std::move(stats);
  self->state.histories = std::move(histories);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.by_actor.find(dm.source);
    if (i == st.by_actor.end())
      return;
    for (auto& topic : i->second)
      remove_subscription(self, dm.source, topic);
    st.by_actor.erase(i);
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
  return {
    [=](subscribe_atom, const std::string& topic, subscriber& s) {
      add_subscription(self, topic, std::move(s));
    },
    // Subscribes and writes `first` (a join reply) to the connection from
    // this shard, so that no broadcast can overtake it and none published
    // after the join is missed.
    [=](subscribe_atom, const std::string& topic, subscriber& s,
        const frame& first) {
      auto conn = s.conn;
      add_subscription(self, topic, std::move(s));
      if (conn)
        conn->send(first);
      return true;
    },
    // The same for a topic with history: the shard writes the reply (with
    // the stream's position) and replays what a recovering client missed.
    [=](subscribe_atom, const std::string& topic, subscriber& s,
        const stream_join_ptr& j) {
      stream_subscribe(self, topic, s, *j);
      return true;
    },
    [=](sweep_atom) { sweep(self); },
    [=](unsub_atom, const std::string& topic, const caf::actor_addr& who) {
      auto& st = self->state;
      remove_subscription(self, who, topic);
      auto i = st.by_actor.find(who);
      if (i == st.by_actor.end())
        return;
      auto& v = i->second;
      v.erase(std::remove(v.begin(), v.end(), topic), v.end());
      if (v.empty()) {
        self->demonitor(who);
        self->unlink_from(who);
        st.by_actor.erase(i);
      }
    },
    [=](publish_atom, const caf::actor_addr& from, const broadcast_ptr& b) {
      dispatch(self, from, b);
    },
  };
}

}  // namespace

pubsub::pubsub(caf::actor_system& sys, std::size_t n, supervisor* sup,
               std::shared_ptr<fault_injector> faults)
  : stats_(std::make_shared<pubsub_stats>()),
    histories_(std::make_shared<history_table>()),
    link_(std::make_shared<cluster_link>()) {
  if (!sup) {
    own_sup_ =
      std::make_unique<supervisor>(sys, supervisor_options{}, "fenix.pubsub");
    sup = own_sup_.get();
  }
  auto start = [stats = stats_,
                h = std::shared_ptr<const history_table>{histories_}](
                 caf::actor_system& s, std::size_t) {
    return s.spawn(shard_fn, stats, h);
  };
  shards_ = std::make_unique<detail::sharded>(*sup, "fenix.pubsub", n, start,
                                              std::move(faults));
}

void pubsub::history(const std::string& pattern, history_options opts) {
  histories_->patterns.emplace_back(
    socket::topic_pattern{pattern},
    std::make_shared<const history_options>(std::move(opts)));
}

bool pubsub::has_history(const std::string& topic) const {
  return histories_->find(topic) != nullptr;
}

pubsub::~pubsub() {
  shutdown();
}

void pubsub::shutdown() {
  if (shards_)
    shards_->stop();
}

caf::actor pubsub::shard(const std::string& topic) const {
  return shards_->route(topic);
}

std::vector<caf::actor> pubsub::shards() const {
  return shards_->all();
}

void pubsub::subscribe(const caf::actor& who, const std::string& topic) const {
  subscribe(topic, subscriber{who, nullptr, nullptr, nullptr});
}

void pubsub::subscribe(const std::string& topic, subscriber s) const {
  shards_->send(topic, subscribe_atom::value, topic, std::move(s));
}

void pubsub::unsubscribe(const caf::actor& who,
                         const std::string& topic) const {
  shards_->send(topic, unsub_atom::value, topic, who.address());
}

void pubsub::publish(const caf::actor_addr& from, const std::string& topic,
                     const std::string& event, payload p) const {
  auto b = std::make_shared<const fenix::broadcast>(
    fenix::broadcast{topic, event, std::move(p)});
  shards_->send(topic, publish_atom::value, from, b);
}

void pubsub::forward(const std::string& topic, const std::string& event,
                     const payload& p) const {
  auto& l = *link_;
  if (l.peers.load(std::memory_order_acquire) == 0
      || !l.attached.load(std::memory_order_acquire))
    return;
  mesh::remote_broadcast rb;
  rb.topic = topic;
  rb.event = event;
  rb.binary = p.is_binary();
  if (rb.binary) {
    rb.data = p.bytes();
  } else {
    try {
      // As deep as a push frame can carry, every number finite.
      rb.data =
        protocol::serialize_json(p.json(), protocol::json_max_depth - 1);
    } catch (const std::domain_error&) {
      return;  // no subscriber could get it here either (see serializer.hpp)
    }
  }
  caf::anon_send(l.node, cl_forward_atom::value, std::move(rb));
}

void pubsub::broadcast(const std::string& topic, const std::string& event,
                       payload p) const {
  forward(topic, event, p);
  publish(caf::actor_addr{}, topic, event, std::move(p));
}

void pubsub::broadcast_from(const caf::actor_addr& from,
                            const std::string& topic, const std::string& event,
                            payload p) const {
  forward(topic, event, p);
  publish(from, topic, event, std::move(p));
}

void pubsub::attach_cluster(caf::actor node) {
  link_->node = std::move(node);
  link_->attached.store(true, std::memory_order_release);
}

void pubsub::cluster_peers(std::size_t n) const {
  link_->peers.store(n, std::memory_order_release);
}

void pubsub::local_broadcast(const std::string& topic, const std::string& event,
                             payload p) const {
  publish(caf::actor_addr{}, topic, event, std::move(p));
}

}  // namespace fenix
