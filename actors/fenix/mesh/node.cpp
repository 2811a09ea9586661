#include "fenix/log.hpp"
#include "fenix/mesh/node.hpp"

#include <algorithm>
#include <iostream>
#include <map>

#include <boost/json.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/manager.hpp>

#include "fenix/detail/endpoint_context.hpp"
#include "fenix/protocol/json.hpp"

namespace fenix::mesh {

std::optional<std::pair<std::string, std::uint16_t>>
split_address(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == addr.size())
    return std::nullopt;
  auto host = addr.substr(0, colon);
  auto port = addr.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != port.npos)
    return std::nullopt;
  auto n = std::stoul(port);
  if (n == 0 || n > 65535)
    return std::nullopt;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return std::make_pair(host, static_cast<std::uint16_t>(n));
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// The hello exchange after a connect; the connect itself is bounded by the
// middleman's connection timeout.
constexpr auto hello_timeout = std::chrono::seconds{5};

enum class status { joining, up, down, left };

struct member {
  node_info info;     // incarnation 0 until heard from
  caf::actor handle;  // the peer's cluster actor while up
  status st = status::joining;
  bool seed = false;  // from --join: redialled forever
  bool dialing = false;
  std::uint64_t attempt = 0;  // generation of redial timers and dials
  std::chrono::milliseconds backoff{0};
  std::uint32_t failures = 0;
};

struct node_state {
  cluster_options opts;
  node_info me;
  std::map<std::string, member> members;  // by address
  std::shared_ptr<detail::endpoint_context> ctx;
  std::shared_ptr<cluster::view> view;
  caf::io::middleman_actor mm;  // plain or OpenSSL
  caf::actor entities;          // the entity router, once attached
  bool leaving = false;
  static inline const char* name = "fenix.cluster";
};

using node_actor = caf::stateful_actor<node_state>;

void log(const node_state& st, const std::string& what) {
  log::info("cluster ", st.me.address, ": ", what);
}

std::vector<std::string> member_list(node_actor* self) {
  auto& st = self->state;
  std::vector<std::string> out{st.me.address};
  for (auto& [addr, m] : st.members)
    if (m.st == status::up)
      out.push_back(addr);
  return out;
}

template <class... Ts>
void tell_trackers(node_actor* self, const Ts&... xs) {
  for (auto& shard : self->state.ctx->presence->shards())
    self->send(shard, xs...);
}

// The entity router learns the members up (with their cluster actors) and
// how many are known (all but those that left) on every change.
void tell_entities(node_actor* self) {
  auto& st = self->state;
  if (!st.entities || st.me.address.empty())
    return;
  std::vector<std::string> addrs;
  std::vector<caf::actor> handles;
  std::uint64_t known = 1;
  for (auto& [addr, m] : st.members) {
    if (m.st == status::up) {
      addrs.push_back(addr);
      handles.push_back(m.handle);
    }
    if (m.st != status::left)  // joining ones too: a node still reaching
      ++known;                 // its seeds is not a cluster of one
  }
  self->send(st.entities, en_members_atom::value, st.me.address,
             std::move(addrs), std::move(handles), known, st.leaving);
}

void publish_view(node_actor* self) {
  tell_entities(self);
  auto& st = self->state;
  std::vector<std::string> up;
  for (auto& [addr, m] : st.members)
    if (m.st == status::up)
      up.push_back(addr);
  st.ctx->ps->cluster_peers(st.leaving ? 0 : up.size());
  st.view->up.store(up.size());
  std::lock_guard<std::mutex> guard{st.view->mtx};
  st.view->peers = std::move(up);
}

// The replica of `info` goes for good (new incarnation, leave, permdown).
void gone(node_actor* self, const node_info& info) {
  if (info.incarnation != 0)
    tell_trackers(self, cl_peer_gone_atom::value, info.name, info.incarnation);
}

void dial(node_actor* self, const std::string& addr);

void schedule_redial(node_actor* self, const std::string& addr) {
  auto& st = self->state;
  auto& m = st.members[addr];
  m.backoff = m.backoff.count() == 0
                ? st.opts.reconnect_min
                : std::min(m.backoff * 2, st.opts.reconnect_max);
  self->delayed_send(self, m.backoff, cl_retry_atom::value, addr, m.attempt);
}

void failed(node_actor* self, const std::string& addr, std::uint64_t gen,
            const caf::error& err) {
  auto& st = self->state;
  auto i = st.members.find(addr);
  if (i == st.members.end() || i->second.attempt != gen)
    return;  // superseded by a later dial or an incoming hello
  auto& m = i->second;
  m.dialing = false;
  if (m.st == status::up || m.st == status::left || st.leaving)
    return;
  if (++m.failures == 1) {
    log(st, "cannot reach " + addr + " (" + self->system().render(err)
              + "), retrying");
    if (m.info.incarnation == 0)  // never reached: forget it some day
      self->delayed_send(self, st.opts.permdown_period, cl_permdown_atom::value,
                         addr, std::uint64_t{0});
  }
  schedule_redial(self, addr);
}

// `info` is up, reached through `handle` (its cluster actor).
void peer_is_up(node_actor* self, const node_info& info,
                const caf::actor& handle) {
  auto& st = self->state;
  if (!handle || info.address == st.me.address || st.leaving)
    return;
  auto& m = st.members[info.address];
  m.dialing = false;
  if (m.st == status::up && m.handle == handle
      && m.info.incarnation == info.incarnation)
    return;  // both sides dialled: already known
  if (m.info.incarnation != 0 && m.info.name == info.name
      && m.info.incarnation > info.incarnation)
    return;  // an older incarnation than one we know: stale
  if (m.info.incarnation != 0
      && (m.info.incarnation != info.incarnation || m.info.name != info.name)) {
    log(st, "node " + info.address + " restarted");
    gone(self, m.info);
  }
  if (m.handle && m.handle != handle)
    self->demonitor(m.handle);
  bool back = m.st == status::down && m.info.incarnation == info.incarnation;
  m.info = info;
  m.handle = handle;
  m.st = status::up;
  m.backoff = 0ms;
  m.failures = 0;
  ++m.attempt;  // cancels pending redials
  self->monitor(handle);
  log(st, std::string{back ? "node back: " : "node up: "} + info.address);
  tell_trackers(self, cl_peer_up_atom::value, info.name, info.incarnation,
                handle);
  publish_view(self);
  // Member gossip: whoever joined learns everyone (a full mesh).
  auto list = member_list(self);
  for (auto& [addr, other] : st.members)
    if (other.st == status::up && addr != info.address)
      self->send(other.handle, cl_members_atom::value, list);
}

void learn(node_actor* self, const std::vector<std::string>& addrs) {
  auto& st = self->state;
  for (auto& addr : addrs) {
    if (addr == st.me.address || st.members.count(addr) > 0
        || !split_address(addr))
      continue;
    st.members[addr];  // joining
    dial(self, addr);
  }
}

// Connects with the middleman actor, then says hello to the peer's cluster
// actor; never blocks.
void dial(node_actor* self, const std::string& addr) {
  auto& st = self->state;
  auto& m = st.members[addr];
  if (st.leaving || m.dialing || m.st == status::up || m.st == status::left)
    return;
  auto hp = split_address(addr);
  if (!hp)
    return;
  m.dialing = true;
  auto gen = ++m.attempt;
  auto timeout = st.opts.connection_timeout + std::chrono::seconds{1};
  self->request(st.mm, timeout, caf::connect_atom::value, hp->first, hp->second)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>&) {
        if (!ptr)
          return failed(self, addr, gen, caf::sec::no_actor_published_at_port);
        auto peer = caf::actor_cast<caf::actor>(ptr);
        auto& st = self->state;
        self
          ->request(peer, hello_timeout, cl_hello_atom::value, st.me,
                    member_list(self))
          .then(
            [=](node_info& info, std::vector<std::string>& addrs) {
              auto& st = self->state;
              if (info.address.empty() || info.incarnation == 0)
                return failed(self, addr, gen, caf::sec::invalid_argument);
              if (info.address != addr) {  // a seed under another name
                auto i = st.members.find(addr);
                if (i != st.members.end() && i->second.st != status::up)
                  st.members.erase(i);
              }
              peer_is_up(self, info, peer);
              learn(self, addrs);
            },
            [=](caf::error& err) { failed(self, addr, gen, err); });
      },
      [=](caf::error& err) { failed(self, addr, gen, err); });
}

void on_down(node_actor* self, const caf::down_msg& dm) {
  auto& st = self->state;
  for (auto& [addr, m] : st.members) {
    if (!m.handle || m.handle.address() != dm.source)
      continue;
    m.handle = nullptr;
    if (m.st != status::up)
      return;
    m.st = status::down;
    log(st,
        "lost node " + addr + " (" + self->system().render(dm.reason) + ")");
    tell_trackers(self, cl_peer_down_atom::value, m.info.name,
                  m.info.incarnation);
    publish_view(self);
    self->delayed_send(self, st.opts.permdown_period, cl_permdown_atom::value,
                       addr, m.info.incarnation);
    m.backoff = 0ms;
    ++m.attempt;
    if (!st.leaving)
      schedule_redial(self, addr);
    return;
  }
}

void permdown(node_actor* self, const std::string& addr,
              std::uint64_t incarnation) {
  auto& st = self->state;
  auto i = st.members.find(addr);
  if (i == st.members.end() || i->second.st == status::up
      || i->second.info.incarnation != incarnation)
    return;
  gone(self, i->second.info);
  if (i->second.seed) {
    i->second.info = node_info{};  // keep dialling a seed
    return;
  }
  log(st, "node " + addr + " unreachable for too long: forgotten");
  st.members.erase(i);
}

void deliver(node_actor* self, remote_broadcast& rb) {
  auto& st = self->state;
  payload p;
  if (rb.binary) {
    p = payload::binary(std::move(rb.data));
  } else {
    json::error_code ec;
    // A payload that fits in a push frame (one level around it).
    auto v = protocol::parse_json(rb.data, ec, protocol::json_max_depth - 1);
    if (ec) {
      log(st, "dropping a broadcast with bad JSON on " + rb.topic);
      return;
    }
    p = payload{std::move(v)};
  }
  if (st.opts.on_remote_broadcast) {
    st.ctx->ps->local_broadcast(rb.topic, rb.event, p);
    st.opts.on_remote_broadcast(
      broadcast{std::move(rb.topic), std::move(rb.event), std::move(p)});
  } else {
    st.ctx->ps->local_broadcast(rb.topic, rb.event, std::move(p));
  }
}

caf::response_promise leave(node_actor* self) {
  auto& st = self->state;
  auto rp = self->make_response_promise();
  st.leaving = true;
  publish_view(self);  // stops PubSub forwarding
  auto waiting = std::make_shared<std::size_t>(0);
  for (auto& [addr, m] : st.members)
    if (m.st == status::up)
      ++*waiting;
  if (*waiting == 0) {
    rp.deliver(cl_leave_atom::value);
    return rp;
  }
  auto done = [rp, waiting]() mutable {
    if (--*waiting == 0)
      rp.deliver(cl_leave_atom::value);
  };
  for (auto& [addr, m] : st.members)
    if (m.st == status::up)
      self->request(m.handle, st.opts.leave_timeout, cl_bye_atom::value, st.me)
        .then([done](cl_bye_atom) mutable { done(); },
              [done](caf::error&) mutable { done(); });
  return rp;
}

caf::behavior node_fn(node_actor* self, cluster_options opts, node_info me,
                      std::shared_ptr<detail::endpoint_context> ctx,
                      std::shared_ptr<cluster::view> view) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.me = std::move(me);
  st.ctx = std::move(ctx);
  st.view = std::move(view);
  auto& sys = self->system();
  st.mm = st.opts.tls() ? sys.openssl_manager().actor_handle()
                        : sys.middleman().actor_handle();
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  return {
    [=](cl_attach_atom, const node_info& me) {
      self->state.me = me;
      tell_entities(self);
    },
    [=](en_attach_atom, const caf::actor& router) {
      self->state.entities = router;
      tell_entities(self);
    },
    [=](en_remote_atom, caf::message& m) {
      // From a peer's entity router: the reply goes straight back to it.
      if (self->state.entities)
        self->delegate(self->state.entities, std::move(m));
    },
    [=](cl_join_atom, const std::vector<std::string>& seeds) {
      for (auto& addr : seeds) {
        if (addr == self->state.me.address)
          continue;
        self->state.members[addr].seed = true;
        dial(self, addr);
      }
    },
    [=](cl_hello_atom, node_info& info, std::vector<std::string>& addrs)
      -> caf::result<node_info, std::vector<std::string>> {
      auto& st = self->state;
      if (st.leaving || st.me.address.empty())
        return caf::sec::request_receiver_down;
      if (info.shards != st.me.shards) {
        log(st, "refusing " + info.address + ": it has "
                  + std::to_string(info.shards) + " presence shards, this node "
                  + std::to_string(st.me.shards));
        return caf::sec::incompatible_versions;
      }
      auto peer = caf::actor_cast<caf::actor>(self->current_sender());
      if (!peer) {
        // CAF 0.17's BASP delivers a message without a sender when the
        // connection it came on is not (or no longer) in the routing
        // table, e.g. while connections a frozen node left behind are
        // being replaced after it resumes. The answer could not reach the
        // peer either: dial it instead (its hello times out and retries).
        log(st, "hello from " + info.address
                  + " came without a sender (its connection is being"
                    " replaced): dialling it");
        if (split_address(info.address) && info.address != st.me.address)
          dial(self, info.address);
        learn(self, addrs);
        return caf::sec::invalid_argument;
      }
      peer_is_up(self, info, peer);
      learn(self, addrs);
      return {st.me, member_list(self)};
    },
    [=](cl_members_atom, const std::vector<std::string>& addrs) {
      learn(self, addrs);
    },
    [=](cl_bye_atom, const node_info& info) {
      auto& st = self->state;
      auto i = st.members.find(info.address);
      if (i != st.members.end()
          && i->second.info.incarnation == info.incarnation
          && i->second.st != status::left) {
        auto& m = i->second;
        if (m.handle)
          self->demonitor(m.handle);
        m.handle = nullptr;
        m.st = status::left;
        ++m.attempt;
        log(st, "node left: " + info.address);
        gone(self, m.info);
        publish_view(self);
      }
      return cl_bye_atom::value;
    },
    [=](cl_retry_atom, const std::string& addr, std::uint64_t gen) {
      auto& st = self->state;
      auto i = st.members.find(addr);
      if (i != st.members.end() && i->second.attempt == gen)
        dial(self, addr);
    },
    [=](cl_permdown_atom, const std::string& addr, std::uint64_t inc) {
      permdown(self, addr, inc);
    },
    [=](cl_forward_atom, const remote_broadcast& rb) {
      for (auto& [addr, m] : self->state.members)
        if (m.st == status::up)
          self->send(m.handle, cl_deliver_atom::value, rb);
    },
    [=](cl_deliver_atom, remote_broadcast& rb) { deliver(self, rb); },
    [=](cl_presence_atom, const presence_message& m) {
      auto shards = self->state.ctx->presence->shards();
      if (m.shard < shards.size())
        self->send(shards[m.shard], cl_presence_atom::value, m);
    },
    [=](cl_leave_atom) { return leave(self); },
  };
}

}  // namespace

caf::actor spawn_cluster_node(caf::actor_system& sys, cluster_options opts,
                              node_info me,
                              std::shared_ptr<detail::endpoint_context> ctx,
                              std::shared_ptr<cluster::view> view) {
  return sys.spawn(node_fn, std::move(opts), std::move(me), std::move(ctx),
                   std::move(view));
}

}  // namespace fenix::mesh
