#include "fenix/entity/router.hpp"

#include <map>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "fenix/entity/placement.hpp"
#include "fenix/entity/shared.hpp"

namespace fenix::detail {

namespace {

namespace ep = entity_placement;
using clock_type = std::chrono::steady_clock;

// A message waiting for its key (the promise carries the original sender
// and request id, so the entity's reply goes straight to the caller).
struct pending {
  caf::response_promise rp;
  caf::message msg;
  clock_type::time_point deadline{};
};

struct peer {
  std::string address;
  caf::actor handle;  // its cluster actor
};

struct slot {
  caf::actor actor;
  clock_type::time_point last_used;
};

struct router_state {
  router_state() : buffered(0, 0) {}

  entity_options opts;
  std::shared_ptr<entity_shared> sh;
  std::string me;                 // cluster address; "" without a cluster
  std::vector<peer> peers;        // up
  std::vector<std::string> view;  // placement members (not me when leaving)
  std::size_t known = 1;          // members up or down, this one included
  bool leaving = false;
  std::map<std::string, slot> active;
  std::map<caf::actor_addr, std::string> keys;  // of active entities
  ep::buffer<pending> buffered;
  std::map<std::string, std::uint64_t> claims;  // key -> generation
  std::uint64_t claim_gen = 0;
  // Peer -> send time of the latest ping it answered.
  std::map<std::string, clock_type::time_point> acks;
  // A lease held before the members grew, kept until it runs out.
  clock_type::time_point carry = clock_type::time_point::min();
  bool ticking = false;
  static inline const char* name = "fenix.entities";
};

using router_actor = caf::stateful_actor<router_state>;

bool clustered(const router_state& st) {
  return !st.me.empty();
}

bool mine(const router_state& st, const std::string& key) {
  if (!clustered(st))
    return true;
  return !st.leaving && ep::owner(st.view, key) == st.me;
}

const caf::actor* handle_of(const router_state& st, const std::string& addr) {
  for (auto& p : st.peers)
    if (p.address == addr)
      return &p.handle;
  return nullptr;
}

void fail(router_state& st, pending& p, entity_error why) {
  if (p.rp.async()) {
    ++st.sh->dropped;
    return;
  }
  p.rp.deliver(make_error(why));
}

void update_lease(router_state& st) {
  if (!clustered(st)) {
    st.sh->lease_until =
      clock_type::time_point::max().time_since_epoch().count();
    return;
  }
  std::vector<clock_type::time_point> acks;
  for (auto& kv : st.acks)
    acks.push_back(kv.second);
  auto until = std::max(
    ep::lease_until(std::move(acks), st.known, st.opts.lease), st.carry);
  st.sh->lease_until = until.time_since_epoch().count();
}

void ensure_ticking(router_actor* self) {
  auto& st = self->state;
  if (st.ticking)
    return;
  st.ticking = true;
  self->delayed_send(self, st.opts.tick, en_tick_atom::value);
}

void hold(router_actor* self, const std::string& key, pending& p) {
  auto& st = self->state;
  if (p.deadline == clock_type::time_point{})
    p.deadline = clock_type::now() + st.opts.buffer_timeout;
  auto deadline = p.deadline;
  if (!st.buffered.push(key, p, deadline))
    fail(st, p, entity_error::overloaded);
  ensure_ticking(self);
}

void stand_down(router_actor* self, const std::string& key) {
  auto& st = self->state;
  auto i = st.active.find(key);
  if (i == st.active.end())
    return;
  // Routing stops now; it counts as active until its down message comes.
  self->send_exit(i->second.actor, caf::exit_reason::user_shutdown);
  st.active.erase(i);
}

void stand_down_all(router_actor* self) {
  std::vector<std::string> ks;
  for (auto& kv : self->state.active)
    ks.push_back(kv.first);
  for (auto& k : ks)
    stand_down(self, k);
}

void try_activate(router_actor* self, const std::string& key);

void dispatch(router_actor* self, const std::string& key, std::uint32_t hops,
              pending p) {
  auto& st = self->state;
  if (mine(st, key)) {
    auto i = st.active.find(key);
    if (i != st.active.end()) {
      i->second.last_used = clock_type::now();
      p.rp.delegate(i->second.actor, std::move(p.msg));
      return;
    }
    if (!st.sh->find(key))
      return fail(st, p, entity_error::unknown_kind);
    hold(self, key, p);
    try_activate(self, key);
    return;
  }
  auto* h = handle_of(st, ep::owner(st.view, key));
  if (h == nullptr || hops >= st.opts.max_hops)
    return hold(self, key, p);
  p.rp.delegate(*h, en_remote_atom::value,
                caf::make_message(en_fwd_atom::value, key,
                                  static_cast<std::uint32_t>(hops + 1),
                                  std::move(p.msg)));
}

// Everything waiting for `key`, dispatched again (delivered, forwarded or
// held once more with its original deadline).
void flush(router_actor* self, const std::string& key) {
  for (auto& e : self->state.buffered.take(key))
    dispatch(self, key, 0, std::move(e.item));
}

void activate(router_actor* self, const std::string& key) {
  auto& st = self->state;
  auto fn = st.sh->find(key);
  if (!fn) {
    for (auto& e : st.buffered.take(key))
      fail(st, e.item, entity_error::unknown_kind);
    return;
  }
  auto a = self->spawn<entity, caf::monitored>(key, std::move(fn), st.sh);
  st.keys[a.address()] = key;
  st.active[key] = slot{a, clock_type::now()};
  ++st.sh->activations;
  ++st.sh->active;
  flush(self, key);
}

void claim_answer(router_actor* self, const std::string& key, std::uint64_t gen,
                  const std::shared_ptr<std::pair<std::size_t, bool>>& tally,
                  bool yes) {
  auto& st = self->state;
  if (!yes)
    tally->second = false;
  if (--tally->first > 0)
    return;
  auto i = st.claims.find(key);
  if (i == st.claims.end() || i->second != gen)
    return;  // superseded (members changed, or a peer claimed it)
  st.claims.erase(i);
  if (tally->second && mine(st, key) && st.sh->leased(clock_type::now())
      && st.active.count(key) == 0)
    activate(self, key);
  // Otherwise the next tick tries again.
}

// Activates `key` here once every peer up agrees this node owns it.
void try_activate(router_actor* self, const std::string& key) {
  auto& st = self->state;
  if (st.claims.count(key) > 0 || st.active.count(key) > 0)
    return;
  if (!st.sh->leased(clock_type::now()))
    return;  // no majority: retried on tick
  if (st.peers.empty())
    return activate(self, key);
  auto gen = ++st.claim_gen;
  st.claims[key] = gen;
  auto tally =
    std::make_shared<std::pair<std::size_t, bool>>(st.peers.size(), true);
  for (auto& p : st.peers)
    self
      ->request(p.handle, st.opts.claim_timeout, en_remote_atom::value,
                caf::make_message(en_claim_atom::value, key, st.me))
      .then([=](bool yes) { claim_answer(self, key, gen, tally, yes); },
            [=](caf::error&) { claim_answer(self, key, gen, tally, false); });
}

void retry(router_actor* self) {
  auto& st = self->state;
  for (auto& key : st.buffered.keys()) {
    if (!mine(st, key) || st.active.count(key) > 0)
      flush(self, key);
    else
      try_activate(self, key);
  }
}

void ping(router_actor* self) {
  auto& st = self->state;
  auto sent = clock_type::now();
  for (auto& p : st.peers) {
    auto addr = p.address;
    self
      ->request(p.handle, st.opts.lease, en_remote_atom::value,
                caf::make_message(en_ping_atom::value))
      .then(
        [=](en_ping_atom) {
          auto& t = self->state.acks[addr];
          t = std::max(t, sent);
          update_lease(self->state);
        },
        [](caf::error&) {});
  }
}

void passivate_idle(router_actor* self, clock_type::time_point now) {
  auto& st = self->state;
  if (st.opts.idle_timeout.count() <= 0)
    return;
  std::vector<std::string> idle;
  for (auto& [key, s] : st.active)
    if (now - s.last_used >= st.opts.idle_timeout)
      idle.push_back(key);
  for (auto& key : idle)
    stand_down(self, key);
}

void tick(router_actor* self) {
  auto& st = self->state;
  st.ticking = false;
  auto now = clock_type::now();
  if (clustered(st)) {
    ping(self);
    update_lease(st);
    if (!st.sh->leased(now))
      stand_down_all(self);  // frozen or cut off: stand down first
  }
  for (auto& p : st.buffered.expire(now))
    fail(st, p, entity_error::unavailable);
  retry(self);
  passivate_idle(self, now);
  if (clustered(st) || st.buffered.size() > 0
      || (st.opts.idle_timeout.count() > 0 && !st.active.empty()))
    ensure_ticking(self);
}

void on_members(router_actor* self, std::string me,
                std::vector<std::string> addrs, std::vector<caf::actor> handles,
                std::uint64_t known, bool leaving) {
  auto& st = self->state;
  auto before =
    clock_type::time_point{clock_type::duration{st.sh->lease_until.load()}};
  bool was_clustered = clustered(st);
  st.me = std::move(me);
  st.peers.clear();
  for (std::size_t i = 0; i < addrs.size() && i < handles.size(); ++i)
    st.peers.push_back(peer{addrs[i], handles[i]});
  st.view = addrs;
  st.leaving = leaving;
  if (!leaving)
    st.view.push_back(st.me);
  st.known = std::max<std::uint64_t>(known, 1);
  st.claims.clear();  // answers from the old members no longer count
  // More members need more acks: keep the lease this node held (not the
  // unbounded one of a node outside any cluster) until the acks come.
  if (was_clustered)
    st.carry =
      std::max(st.carry, std::min(before, clock_type::now() + st.opts.lease));
  update_lease(st);
  std::vector<std::string> moved;
  for (auto& kv : st.active)
    if (!mine(st, kv.first))
      moved.push_back(kv.first);
  for (auto& key : moved)
    stand_down(self, key);
  ping(self);
  retry(self);
  ensure_ticking(self);
}

caf::behavior router_fn(router_actor* self, entity_options opts,
                        std::shared_ptr<entity_shared> sh) {
  auto& st = self->state;
  st.opts = opts;
  st.sh = std::move(sh);
  st.buffered =
    ep::buffer<pending>{opts.max_buffered_per_key, opts.max_buffered};
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.keys.find(dm.source);
    if (i == st.keys.end())
      return;
    // A crash: stop routing to it (a stood-down one is routed to no more).
    auto a = st.active.find(i->second);
    if (a != st.active.end() && a->second.actor.address() == dm.source)
      st.active.erase(a);
    st.keys.erase(i);
    --st.sh->active;
  });
  // An exit sent to the router (entities' destructor) stops it: entities
  // first, then every waiting caller gets `stopped`.
  self->set_exit_handler([=](caf::exit_msg& em) {
    stand_down_all(self);
    auto& st = self->state;
    for (auto& key : st.buffered.keys())
      for (auto& e : st.buffered.take(key))
        fail(st, e.item, entity_error::stopped);
    self->quit(em.reason);
  });
  return {
    [=](en_fwd_atom, const std::string& key, std::uint32_t hops,
        caf::message& msg) {
      auto rp = self->make_response_promise();
      dispatch(self, key, hops, pending{std::move(rp), std::move(msg)});
    },
    [=](en_claim_atom, const std::string& key,
        const std::string& claimant) -> bool {
      auto& st = self->state;
      bool yes = clustered(st) && ep::owner(st.view, key) == claimant;
      if (yes) {
        stand_down(self, key);
        st.claims.erase(key);
        flush(self, key);  // on to the claimant
      }
      return yes;
    },
    [=](en_ping_atom) { return en_ping_atom::value; },
    [=](en_members_atom, std::string& me, std::vector<std::string>& addrs,
        std::vector<caf::actor>& handles, std::uint64_t known, bool leaving) {
      on_members(self, std::move(me), std::move(addrs), std::move(handles),
                 known, leaving);
    },
    [=](en_tick_atom) { tick(self); },
  };
}

}  // namespace

caf::actor spawn_entity_router(caf::actor_system& sys, entity_options opts,
                               std::shared_ptr<entity_shared> shared) {
  return sys.spawn(router_fn, std::move(opts), std::move(shared));
}

}  // namespace fenix::detail
