#include "fenix/log.hpp"
#include "fenix/socket/socket.hpp"

#include <iostream>
#include <unordered_map>

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/channel.hpp"
#include "fenix/detail/endpoint_context.hpp"

namespace fenix::socket {

namespace {

using transport::close_code;
using expire_atom = caf::atom_constant<caf::atom("expire")>;

struct channel_entry {
  caf::actor handle;
  std::string join_ref;
};

struct socket_state {
  std::shared_ptr<socket_init> init;
  transport::connection_ptr conn;
  std::unordered_map<std::string, channel_entry> channels;
  std::unordered_map<caf::actor_addr, std::string> topics;  // inverse
  detail::token_bucket events;
  detail::token_bucket joins;
  std::size_t refused = 0;  // refused by a rate limit in this window
  detail::rate_clock::time_point refused_since{};
  std::uint64_t expiry_gen = 0;  // the armed expiry timer's generation
  static inline const char* name = "fenix.socket";
};

using socket_actor = caf::stateful_actor<socket_state>;

const serializer& ser(socket_actor* self) {
  return *self->state.init->ser;
}

void send_reply(socket_actor* self, const opt_string& join_ref,
                const opt_string& ref, const std::string& topic,
                reply_status status, json::object response) {
  self->state.conn->send(
    ser(self).encode_reply(join_ref, ref, topic, status, std::move(response)));
}

void reply_error(socket_actor* self, const opt_string& join_ref,
                 const message& m, const char* reason) {
  send_reply(self, join_ref, m.ref, m.topic, reply_status::error,
             json::object{{"reason", reason}});
}

void forget(socket_actor* self, const caf::actor_addr& who) {
  auto& st = self->state;
  auto i = st.topics.find(who);
  if (i == st.topics.end())
    return;
  auto j = st.channels.find(i->second);
  if (j != st.channels.end() && j->second.handle.address() == who)
    st.channels.erase(j);
  st.topics.erase(i);
}

// Spawns the channel and waits for its join (Phoenix's socket waits for
// join/3: later frames queue behind it). `old_join_ref` is set when this
// join replaced a channel: its phx_close follows the new join's reply.
void start_join(socket_actor* self, message m, const channel_fn& fn,
                std::optional<std::string> old_join_ref) {
  auto& st = self->state;
  auto& ctx = st.init->ctx;
  if (st.channels.size() >= ctx->opts.max_channels_per_socket)
    return reply_error(self, m.join_ref, m, "too many channels joined");
  auto init = std::make_shared<channel_init>();
  init->ctx = ctx;
  init->topic = m.topic;
  init->join_ref = m.join_ref ? *m.join_ref : m.ref.value_or("");
  init->conn = st.conn;
  init->ser = st.init->ser;
  init->assigns = st.init->assigns;
  init->socket_id = st.init->id;
  init->fn = fn;
  auto ch = fn.spawn(self, init);
  auto topic = m.topic;
  auto join_ref = init->join_ref;
  auto close_old = [self, topic, old_join_ref] {
    if (old_join_ref)
      self->state.conn->send(
        ser(self).encode_control(*old_join_ref, topic, "phx_close", {}));
  };
  self
    ->request(ch, caf::infinite, sys_join_atom::value, m.payload, m.join_ref,
              m.ref)
    .await(
      [=](bool ok) {
        auto& st = self->state;
        if (ok) {
          st.channels[topic] = channel_entry{ch, join_ref};
          st.topics[ch.address()] = topic;
        }
        close_old();
      },
      [=](caf::error&) {
        // join threw: the channel is gone; the client gets "join crashed".
        send_reply(self, m.join_ref, m.ref, topic, reply_status::error,
                   json::object{{"reason", "join crashed"}});
        close_old();
      });
}

void join(socket_actor* self, message m) {
  auto& st = self->state;
  const channel_fn* fn = st.init->ctx->find_route(m.topic);
  if (fn == nullptr) {
    log::limited(log_level::warning, "unmatched topic",
                 "ignoring unmatched topic \"", m.topic, "\"");
    return reply_error(self, std::nullopt, m, "unmatched topic");
  }
  auto i = st.channels.find(m.topic);
  if (i == st.channels.end())
    return start_join(self, std::move(m), *fn, std::nullopt);
  // A join for a joined topic replaces the old channel (duplicate join):
  // stop it and wait (at most 5 s, as Phoenix) before the new join.
  auto old = i->second;
  st.topics.erase(old.handle.address());
  st.channels.erase(i);
  self->unlink_from(old.handle);
  auto next = [self, m, fn, jr = old.join_ref]() mutable {
    start_join(self, std::move(m), *fn, jr);
  };
  self
    ->request(old.handle, std::chrono::seconds(5), sys_close_atom::value,
              close_reason::duplicate_join)
    .await([next](bool) mutable { next(); },
           [next, h = old.handle, self](caf::error&) mutable {
             self->send_exit(h, caf::exit_reason::kill);
             next();
           });
}

// The per-connection rate limits: an event or join over its bucket is
// answered {"reason":"rate limited"}; a connection that keeps going past
// the limit (rate_limit_close_after refusals within 10 s) is closed with
// 1008. Returns false when the message must not be handled.
bool admit(socket_actor* self, const message& m, bool is_join) {
  auto& st = self->state;
  auto& ctx = *st.init->ctx;
  auto now = detail::rate_clock::now();
  if ((is_join ? st.joins : st.events).take(now))
    return true;
  (is_join ? ctx.rate_limited_joins : ctx.rate_limited_events)
    .fetch_add(1, std::memory_order_relaxed);
  if (now - st.refused_since > std::chrono::seconds(10)) {
    st.refused_since = now;
    st.refused = 0;
  }
  if (++st.refused > ctx.opts.rate_limit_close_after) {
    auto& req = st.conn->request();
    log::limited(log_level::warning, "rate limit close", "closing ",
                 req.peer_address, ':', req.peer_port, ": over the rate limit");
    ctx.rate_limit_closes.fetch_add(1, std::memory_order_relaxed);
    st.conn->close(close_code::policy_violation, "rate limited");
    self->quit();
    return false;
  }
  if (m.ref)
    send_reply(self, m.join_ref, m.ref, m.topic, reply_status::error,
               json::object{{"reason", "rate limited"}});
  return false;
}

// -- token expiry ---------------------------------------------------------------

void close_expired(socket_actor* self, const char* why) {
  self->state.conn->close(close_code::token_expired, why);
  self->quit();
}

// Closes the socket at the token's expiry (a later arm replaces it).
void arm_expiry(socket_actor* self) {
  auto& st = self->state;
  auto gen = ++st.expiry_gen;
  if (!st.init->expiry)
    return;
  auto left = *st.init->expiry - std::chrono::system_clock::now();
  if (left <= decltype(left)::zero())
    return close_expired(self, "token expired");
  self->delayed_send(self, left, expire_atom::value, gen);
}

// `access_token` {"access_token": T}: the connect check again, with T.
void refresh_token(socket_actor* self, const message& m) {
  auto& st = self->state;
  auto* t = m.payload.is_binary() || !m.payload.json().is_object()
              ? nullptr
              : m.payload.object().if_contains("access_token");
  std::optional<connect_result> res;
  if (t && t->is_string() && st.init->info) {
    auto info = *st.init->info;
    std::string token{t->get_string()};
    info.params["token"] = token;
    info.auth_token = token;
    try {
      res = st.init->ctx->connect(info);
    } catch (const std::exception&) {
      res.reset();
    }
  }
  if (!res || !res->accepted() || res->id() != st.init->id) {
    send_reply(self, m.join_ref, m.ref, m.topic, reply_status::error,
               json::object{{"reason", "invalid token"}});
    return close_expired(self, "invalid token");
  }
  st.init->expiry = res->expiry();
  arm_expiry(self);
  send_reply(self, m.join_ref, m.ref, m.topic, reply_status::ok, {});
}

void route(socket_actor* self, message m) {
  auto& st = self->state;
  if (m.topic == "phoenix" && m.event == "heartbeat")
    return send_reply(self, std::nullopt, m.ref, m.topic, reply_status::ok, {});
  if (!admit(self, m, m.event == "phx_join"))
    return;
  if (m.event == "phx_join")
    return join(self, std::move(m));
  auto i = st.channels.find(m.topic);
  if (i == st.channels.end()) {
    if (m.event == "phx_leave")
      return send_reply(self, m.join_ref, m.ref, m.topic, reply_status::ok, {});
    return reply_error(self, std::nullopt, m, "unmatched topic");
  }
  auto& entry = i->second;
  if (m.join_ref && *m.join_ref != entry.join_ref)
    return;  // stale join_ref: dropped silently (Phoenix 1.8)
  if (m.event == "access_token")
    return refresh_token(self, m);
  if (m.event == "phx_leave") {
    // The channel replies, sends phx_close and exits; the topic is free at
    // once, so later events get "unmatched topic" and a join starts fresh.
    self->send(entry.handle, sys_leave_atom::value, m.ref);
    st.topics.erase(entry.handle.address());
    st.channels.erase(i);
    return;
  }
  self->send(entry.handle, sys_in_atom::value, m.event, m.payload, m.ref);
}

void on_frame(socket_actor* self, std::string& data, bool binary) {
  auto& st = self->state;
  // Consumed once handled: the replies sent meanwhile go out before a
  // close frame the peer sent after this one (connection::consumed).
  struct consume_on_exit {
    transport::connection& conn;
    std::size_t bytes;
    ~consume_on_exit() { conn.consumed(bytes); }
  } consume{*st.conn, data.size()};
  st.init->ctx->messages_in.fetch_add(1, std::memory_order_relaxed);
  auto res = ser(self).decode(data, binary);
  if (auto* err = std::get_if<decode_error>(&res)) {
    auto& req = st.conn->request();
    log::limited(log_level::warning, "invalid frame", "closing ",
                 req.peer_address, ':', req.peer_port, ": ", err->what);
    st.conn->close(st.init->ctx->opts.decode_error_close, "invalid frame");
    self->quit();
    return;
  }
  route(self, std::move(std::get<message>(res)));
}

void on_channel_exit(socket_actor* self, const caf::exit_msg& em) {
  auto& st = self->state;
  auto i = st.topics.find(em.source);
  if (i == st.topics.end())
    return;  // a refused join, or a replaced channel
  auto topic = i->second;
  auto j = st.channels.find(topic);
  // Still registered: the channel ended itself. A crash is phx_error; a
  // normal exit is stop(), whose reply the channel already wrote.
  if (j != st.channels.end() && j->second.handle.address() == em.source)
    st.conn->send(ser(self).encode_control(
      j->second.join_ref, topic, em.reason ? "phx_error" : "phx_close",
      em.reason ? json::object{{"reason", "channel_crash"}} : json::object{}));
  forget(self, em.source);
}

caf::behavior socket_fn(socket_actor* self, std::shared_ptr<socket_init> init) {
  self->state.init = std::move(init);
  auto& o = self->state.init->ctx->opts;
  self->state.events = detail::token_bucket{o.event_rate, o.event_burst};
  self->state.joins = detail::token_bucket{o.join_rate, o.join_burst};
  self->set_exit_handler(
    [self](caf::exit_msg& em) { on_channel_exit(self, em); });
  return {
    [=](open_atom, transport::connection_ptr& conn) {
      self->state.conn = std::move(conn);
      auto& id = self->state.init->id;
      if (!id.empty())
        self->state.init->ctx->ps->subscribe(caf::actor_cast<caf::actor>(self),
                                             id);
      arm_expiry(self);
    },
    [=](expire_atom, std::uint64_t gen) {
      if (gen == self->state.expiry_gen)
        close_expired(self, "token expired");
    },
    [=](frame_atom, std::string& data, bool binary) {
      on_frame(self, data, binary);
    },
    [=](closed_atom) { self->quit(); },
    [=](broadcast_atom, const broadcast_ptr& b) {
      // Only "disconnect" on the socket id topic means anything.
      if (b->event == "disconnect") {
        self->state.conn->close(close_code::going_away, "disconnect");
        self->quit();
      }
    },
  };
}

}  // namespace

caf::actor spawn_socket(caf::actor_system& sys, socket_init init) {
  return sys.spawn(socket_fn, std::make_shared<socket_init>(std::move(init)));
}

}  // namespace fenix::socket
