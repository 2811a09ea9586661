#include "fenix/log.hpp"
#include "fenix/tracker/gossip.hpp"

#include <iostream>

#include <boost/json.hpp>
#include <caf/all.hpp>

#include "fenix/protocol/json.hpp"

namespace fenix::tracker {

namespace {

namespace json = boost::json;

// A shard with nothing to ship still sends its clock this often (periods),
// so that a peer that missed something notices.
constexpr int silent_periods = 5;

// Removal records every live peer has seen are dropped this often (periods).
constexpr int prune_periods = 25;

// A transfer request without an answer is repeated after this long.
constexpr auto transfer_retry = std::chrono::seconds{1};

// At most this many early messages are kept per node.
constexpr std::size_t max_early = 64;

std::string to_text(const presence::version_vector& vv) {
  return json::serialize(vv.to_json());
}

// A peer's JSON is read like a client's: precise numbers, nothing
// non-finite, at most json_max_depth (a delta carries metas of at most
// max_payload_depth at 5 levels down).
std::optional<presence::version_vector> clock_from(const std::string& text) {
  json::error_code ec;
  auto v = protocol::parse_json(text, ec);
  if (ec)
    return std::nullopt;
  return presence::version_vector::from_json(v);
}

std::optional<presence::delta> delta_from(const std::string& text) {
  json::error_code ec;
  auto v = protocol::parse_json(text, ec);
  if (ec)
    return std::nullopt;
  return presence::delta::from_json(v);
}

void send_to(actor* self, const peer& p, std::uint32_t kind,
             std::string delta) {
  auto& st = self->state;
  mesh::presence_message m;
  m.shard = st.index;
  m.kind = kind;
  m.node = st.crdt->self().node;
  m.incarnation = st.crdt->self().incarnation;
  m.delta = std::move(delta);
  m.clock = to_text(st.crdt->clock());
  self->send(p.node, cl_presence_atom::value, std::move(m));
}

void request_transfer(actor* self, peer& p) {
  p.requested = std::chrono::steady_clock::now();
  send_to(self, p, mesh::presence_message::transfer_req, {});
}

bool live(const state& st, const presence::replica_id& r) {
  auto i = st.peers.find(r.node);
  return i != st.peers.end() && i->second.up && i->second.replica == r;
}

// Merges a peer's delta. Replicas we only hear of second-hand stay hidden
// until their own node is up here; older incarnations go for good.
void merge(actor* self, const presence::delta& d) {
  auto& st = self->state;
  auto& crdt = *st.crdt;
  for (auto& kv : d.slices) {
    auto& r = kv.first;
    if (r != crdt.self() && !crdt.is_removed(r) && !crdt.is_down(r)
        && !live(st, r))
      record(self, crdt.mark_down(r));
  }
  record(self, crdt.merge(d));
  for (auto& old : crdt.superseded_replicas())
    record(self, crdt.remove_replica(old));
}

// Whether `theirs` knows events of some replica that we do not.
bool behind(const presence::state& crdt,
            const presence::version_vector& theirs) {
  auto mine = crdt.clock();
  for (auto& [r, n] : theirs.counters())
    if (r != crdt.self() && !crdt.is_removed(r) && n > mine.get(r))
      return true;
  return false;
}

// Replicas hidden for longer than permdown_period go for good.
void permdown_hidden(actor* self) {
  auto& st = self->state;
  auto& crdt = *st.crdt;
  auto now = std::chrono::steady_clock::now();
  std::map<presence::replica_id, std::chrono::steady_clock::time_point> next;
  for (auto& r : crdt.replicas()) {
    if (!crdt.is_down(r))
      continue;
    auto i = st.hidden_since.find(r);
    auto since = i == st.hidden_since.end() ? now : i->second;
    if (now - since >= st.permdown_period)
      record(self, crdt.remove_replica(r));
    else
      next.emplace(r, since);
  }
  st.hidden_since = std::move(next);
}

void prune(actor* self) {
  auto& st = self->state;
  std::optional<presence::version_vector> acked;
  for (auto& [name, p] : st.peers) {
    if (!p.up)
      continue;
    acked = acked ? presence::version_vector::meet(*acked, p.clock) : p.clock;
  }
  // Alone: a later peer gets full slices anyway.
  st.crdt->prune_removals(acked ? *acked : st.crdt->clock());
}

}  // namespace

void attach(actor* self, std::uint64_t gossip_ms, std::uint64_t permdown_ms) {
  auto& st = self->state;
  if (st.clustered)
    return;
  st.clustered = true;
  st.permdown_period = std::chrono::milliseconds{permdown_ms};
  st.gossip_period =
    std::chrono::milliseconds{std::max<std::uint64_t>(1, gossip_ms)};
  self->delayed_send(self, st.gossip_period, cl_tick_atom::value);
}

void peer_up(actor* self, const std::string& node, std::uint64_t incarnation,
             const caf::actor& handle) {
  auto& st = self->state;
  auto& crdt = *st.crdt;
  presence::replica_id r{node, incarnation};
  if (crdt.is_removed(r)) {
    log::limited(log_level::warning, "cluster permdown", "cluster: ", node,
                 " is back after it was",
                 " dropped (permdown): its presences stay hidden until it",
                 " restarts");
    return;
  }
  for (auto& old : crdt.replicas())
    if (old.node == node && old.incarnation < incarnation)
      record(self, crdt.remove_replica(old));
  auto& p = st.peers[node];
  p.replica = r;
  p.node = handle;
  p.up = true;
  p.awaiting_transfer = true;
  p.clock = {};
  request_transfer(self, p);
  auto e = st.early.find(node);
  if (e == st.early.end())
    return;
  auto msgs = std::move(e->second);
  st.early.erase(e);
  for (auto& m : msgs)
    if (m.incarnation == incarnation)
      receive(self, m);
}

void peer_down(actor* self, const std::string& node,
               std::uint64_t incarnation) {
  auto& st = self->state;
  auto i = st.peers.find(node);
  if (i == st.peers.end() || i->second.replica.incarnation != incarnation)
    return;
  i->second.up = false;
  i->second.node = nullptr;
  record(self, st.crdt->mark_down(i->second.replica));
}

void peer_gone(actor* self, const std::string& node,
               std::uint64_t incarnation) {
  auto& st = self->state;
  presence::replica_id r{node, incarnation};
  record(self, st.crdt->remove_replica(r));
  st.early.erase(node);
  auto i = st.peers.find(node);
  if (i != st.peers.end() && i->second.replica == r)
    st.peers.erase(i);
}

void receive(actor* self, const mesh::presence_message& m) {
  auto& st = self->state;
  auto i = st.peers.find(m.node);
  if (i == st.peers.end() || !i->second.up
      || i->second.replica.incarnation != m.incarnation) {
    // Its node may have learned of us before ours learned of it: keep the
    // message for cl_peer_up (a stale one is dropped there).
    auto& q = st.early[m.node];
    if (q.size() < max_early)
      q.push_back(m);
    return;
  }
  auto& p = i->second;
  auto theirs = clock_from(m.clock);
  if (!theirs) {
    log::limited(log_level::warning, "cluster bad presence",
                 "cluster: bad presence clock from ", m.node);
    return;
  }
  if (m.kind == mesh::presence_message::transfer_req) {
    auto d = st.crdt->extract_delta(*theirs);
    p.clock = std::move(*theirs);
    send_to(self, p, mesh::presence_message::transfer_ack,
            json::serialize(d.to_json()));
    return;
  }
  if (!m.delta.empty()) {
    auto d = delta_from(m.delta);
    if (!d) {
      log::limited(log_level::warning, "cluster bad presence",
                   "cluster: bad presence delta from ", m.node);
      return;
    }
    merge(self, *d);
  }
  p.clock = std::move(*theirs);
  if (m.kind == mesh::presence_message::transfer_ack && p.awaiting_transfer) {
    p.awaiting_transfer = false;
    record(self, st.crdt->mark_up(p.replica));  // no-op unless it was down
  }
  auto stale = std::chrono::steady_clock::now() - p.requested > transfer_retry;
  if (behind(*st.crdt, p.clock) && (!p.awaiting_transfer || stale)) {
    p.awaiting_transfer = true;
    request_transfer(self, p);
  }
}

void tick(actor* self) {
  auto& st = self->state;
  self->delayed_send(self, st.gossip_period, cl_tick_atom::value);
  auto d = st.crdt->take_pending_delta();
  bool any = false;
  for (auto& kv : st.peers)
    any = any || kv.second.up;
  if (++st.ticks % prune_periods == 0) {
    prune(self);
    permdown_hidden(self);
  }
  if (!any)
    return;
  // A transfer request (or its answer) lost to a reconnect is repeated.
  auto now = std::chrono::steady_clock::now();
  for (auto& kv : st.peers)
    if (kv.second.up && kv.second.awaiting_transfer
        && now - kv.second.requested > transfer_retry)
      request_transfer(self, kv.second);
  if (d.empty() && ++st.silent_ticks < silent_periods)
    return;
  st.silent_ticks = 0;
  auto text = d.empty() ? std::string{} : json::serialize(d.to_json());
  for (auto& kv : st.peers)
    if (kv.second.up)
      send_to(self, kv.second, mesh::presence_message::gossip, text);
}

}  // namespace fenix::tracker
