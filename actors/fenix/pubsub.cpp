#include "fenix/pubsub.hpp"

#include <algorithm>
#include <functional>
#include <unordered_map>

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/mesh/protocol.hpp"
#include "fenix/protocol/json.hpp"

namespace fenix {

struct pubsub::cluster_link {
  caf::actor node;  // written once, before `attached`
  std::atomic<bool> attached{false};
  std::atomic<std::size_t> peers{0};
};

namespace {

struct shard_state {
  std::unordered_map<std::string, std::vector<subscriber>> topics;
  std::unordered_map<caf::actor_addr, std::vector<std::string>> by_actor;
  std::shared_ptr<pubsub_stats> stats;
  static inline const char* name = "fenix.pubsub";
};

using shard_actor = caf::stateful_actor<shard_state>;

bool intercepts(const subscriber& s, const std::string& event) {
  if (!s.intercepts)
    return false;
  auto& v = *s.intercepts;
  return std::find(v.begin(), v.end(), event) != v.end();
}

void dispatch(shard_actor* self, const caf::actor_addr& from,
              const broadcast_ptr& b) {
  auto& st = self->state;
  st.stats->broadcasts.fetch_add(1, std::memory_order_relaxed);
  auto i = st.topics.find(b->topic);
  if (i == st.topics.end())
    return;
  frame encoded[protocol_version_count];
  std::uint64_t delivered = 0;
  transport::send_batch batch;  // one hand-off to the io threads
  for (auto& s : i->second) {
    if (from && s.handle.address() == from)
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
  auto& v = i->second;
  auto before = v.size();
  v.erase(std::remove_if(
            v.begin(), v.end(),
            [&](const subscriber& s) { return s.handle.address() == who; }),
          v.end());
  st.stats->subscriptions.fetch_sub(before - v.size());
  if (v.empty())
    st.topics.erase(i);
}

caf::behavior shard_fn(shard_actor* self, std::shared_ptr<pubsub_stats> stats) {
  self->state.stats = std::move(stats);
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.by_actor.find(dm.source);
    if (i == st.by_actor.end())
      return;
    for (auto& topic : i->second)
      remove_subscription(self, dm.source, topic);
    st.by_actor.erase(i);
  });
  return {
    [=](subscribe_atom, const std::string& topic, subscriber& s) {
      auto& st = self->state;
      auto addr = s.handle.address();
      auto& topics = st.by_actor[addr];
      if (std::find(topics.begin(), topics.end(), topic) != topics.end())
        return;  // already subscribed
      if (topics.empty())
        self->monitor(s.handle);
      topics.push_back(topic);
      st.topics[topic].push_back(std::move(s));
      st.stats->subscriptions.fetch_add(1);
    },
    // Subscribes and writes `first` (a join reply) to the connection from
    // this shard, so that no broadcast can overtake it and none published
    // after the join is missed.
    [=](subscribe_atom, const std::string& topic, subscriber& s,
        const frame& first) {
      auto& st = self->state;
      auto conn = s.conn;
      auto addr = s.handle.address();
      auto& topics = st.by_actor[addr];
      if (std::find(topics.begin(), topics.end(), topic) == topics.end()) {
        if (topics.empty())
          self->monitor(s.handle);
        topics.push_back(topic);
        st.topics[topic].push_back(std::move(s));
        st.stats->subscriptions.fetch_add(1);
      }
      if (conn)
        conn->send(first);
      return true;
    },
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
        st.by_actor.erase(i);
      }
    },
    [=](publish_atom, const caf::actor_addr& from, const broadcast_ptr& b) {
      dispatch(self, from, b);
    },
    [=](count_atom, const std::string& topic) -> std::size_t {
      auto& st = self->state;
      auto i = st.topics.find(topic);
      return i == st.topics.end() ? 0 : i->second.size();
    },
  };
}

}  // namespace

pubsub::pubsub(caf::actor_system& sys, std::size_t n)
  : stats_(std::make_shared<pubsub_stats>()),
    link_(std::make_shared<cluster_link>()) {
  n = std::max<std::size_t>(1, n);
  for (std::size_t i = 0; i < n; ++i)
    shards_.push_back(sys.spawn(shard_fn, stats_));
}

pubsub::~pubsub() {
  shutdown();
}

void pubsub::shutdown() {
  for (auto& s : shards_)
    caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  shards_.clear();
}

const caf::actor& pubsub::shard(const std::string& topic) const {
  static const caf::actor none;  // after shutdown: sends are dropped
  if (shards_.empty())
    return none;
  return shards_[std::hash<std::string>{}(topic) % shards_.size()];
}

void pubsub::subscribe(const caf::actor& who, const std::string& topic) const {
  subscribe(topic, subscriber{who, nullptr, nullptr, nullptr});
}

void pubsub::subscribe(const std::string& topic, subscriber s) const {
  caf::anon_send(shard(topic), subscribe_atom::value, topic, std::move(s));
}

void pubsub::unsubscribe(const caf::actor& who,
                         const std::string& topic) const {
  caf::anon_send(shard(topic), unsub_atom::value, topic, who.address());
}

void pubsub::publish(const caf::actor_addr& from, const std::string& topic,
                     const std::string& event, payload p) const {
  auto b = std::make_shared<const fenix::broadcast>(
    fenix::broadcast{topic, event, std::move(p)});
  caf::anon_send(shard(topic), publish_atom::value, from, b);
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
