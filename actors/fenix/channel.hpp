/// A channel: one actor per joined topic per connection, written by the
/// user as a function returning a CAF behavior (Phoenix.Channel).
///
///   caf::behavior room(fenix::channel* self) {
///     return {
///       [=](fenix::join_atom, const std::string& topic,
///           const fenix::payload& params) {
///         return fenix::join_result::ok({{"joined", true}});
///       },
///       [=](fenix::in_atom, const std::string& event,
///           const fenix::payload& p) {
///         self->broadcast(event, p);
///         return fenix::reply::ok();
///       },
///       [=](fenix::terminate_atom, fenix::close_reason) { /* cleanup */ },
///     };
///   }
///   endpoint.channel("room:*", room);
///
/// Messages a channel behavior may handle:
/// - `(join_atom, topic, params) -> join_result` (required). A throw
///   answers the client `{"reason":"join crashed"}`.
/// - `(in_atom, event, payload) -> reply`, for every client event. Return
///   reply::none() and answer later with `self->reply(ref, ...)` using
///   `self->socket_ref()` taken during the handler. An event with no
///   matching handler crashes the channel, as in Phoenix.
/// - `(out_atom, event, payload)` for broadcasts of intercepted events
///   (see intercept()); without such a handler they are pushed unchanged.
/// - `(terminate_atom, close_reason)`, once, before the actor exits.
/// - `(broadcast_atom, topic, event, payload)` for broadcasts of a topic
///   the channel subscribed to with subscribe() (Phoenix "subscribing to
///   external topics": handle_info on a %Broadcast{}); nothing reaches the
///   client unless the handler pushes it. Without such a handler they are
///   dropped with a (rate-limited) warning, as Phoenix logs them.
/// - any other message (handle_info), e.g. timers or app actors' replies.
///
/// With types (docs/phoenix-to-fenix.md, examples/tour.cpp):
/// - `fenix::stateful_channel<State>*` instead of `fenix::channel*` gives
///   the channel `self->state` (see stateful_channel below);
/// - `fenix::events{fenix::on<new_msg>("new_msg", fn), ...}` is a table of
///   per-event handlers with payloads decoded as structs (events.hpp,
///   typed.hpp); a payload that does not decode is answered
///   `{"reason": "invalid payload", "field": ..., "error": ...}`;
/// - `self->assign<std::string>("user")` reads an assign, throwing
///   assign_error when it is missing or of another type;
/// - `self->become(...)` swaps the user's behavior only: the framework's
///   handlers stay.
///
/// Lifetime: a throw in any handler ends the channel and the client gets
/// phx_error; `stop()` or the client's phx_leave ends it with phx_close;
/// the connection closing ends it with close_reason::closed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <caf/behavior_policy.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/spawn_options.hpp>

#include "fenix/typed.hpp"
#include "fenix/types.hpp"
#include "fenix/protocol/serializer.hpp"

namespace fenix {

class channel;
struct channel_init;
namespace detail {
struct endpoint_context;
}  // namespace detail

/// The position a join asks to recover from: params
/// `{"recover": {"epoch": E, "offset": N}}` (N an integer >= 0, E a string
/// of at most 64 chars). nullopt without "recover"; a malformed one gives a
/// position with an empty epoch (never servable: recovered false).
///
///   if (auto since = fenix::recover_param(params))
///     return fenix::join_result::ok(full).recover(*since, {{"messages", {}}});
std::optional<stream_position> recover_param(const payload& params);

template <class State>
class stateful_channel;

namespace detail {

template <class T>
struct stateful_self : std::false_type {};
template <class State>
struct stateful_self<stateful_channel<State>*> : std::true_type {};

template <class F>
using first_arg_t = caf::detail::tl_head_t<
  typename caf::detail::get_callable_trait<F>::arg_types>;

}  // namespace detail

/// What users register: a function building the channel's behavior from
/// its actor, either `caf::behavior(fenix::channel*)` or, for a channel
/// with typed state, `caf::behavior(fenix::stateful_channel<State>*)`.
///
///   ep.channel("room:*", room);                        // function
///   ep.channel("room:*", [db](fenix::channel* self) {  // or lambda
///     return room(self, db);
///   });
class channel_fn {
public:
  channel_fn() = default;

  template <class F, class = std::enable_if_t<
                       !std::is_same_v<std::decay_t<F>, channel_fn>>>
  channel_fn(F f) {
    if constexpr (std::is_invocable_r_v<caf::behavior, F&, channel*>) {
      make_ = std::move(f);
      spawn_ = &spawn_as<channel>;
    } else {
      using self_t = detail::first_arg_t<F>;
      static_assert(detail::stateful_self<self_t>::value,
                    "a channel function takes fenix::channel* or "
                    "fenix::stateful_channel<State>*");
      make_ = [f = std::move(f)](channel* self) mutable {
        return f(static_cast<self_t>(self));
      };
      spawn_ = &spawn_as<std::remove_pointer_t<self_t>>;
    }
  }

  explicit operator bool() const { return static_cast<bool>(make_); }

  /// Builds the behavior (called once, by the channel actor).
  caf::behavior operator()(channel* self) const { return make_(self); }

  /// Internal: spawns the channel actor, linked to `parent` (the socket).
  caf::actor spawn(caf::local_actor* parent,
                   std::shared_ptr<channel_init> init) const {
    return spawn_(parent, std::move(init));
  }

private:
  template <class T>
  static caf::actor spawn_as(caf::local_actor* parent,
                             std::shared_ptr<channel_init> init) {
    return parent->template spawn<T, caf::linked>(std::move(init));
  }

  std::function<caf::behavior(channel*)> make_;
  caf::actor (*spawn_)(caf::local_actor*,
                       std::shared_ptr<channel_init>) = nullptr;
};

/// Internal: everything a channel is spawned with.
struct channel_init {
  std::shared_ptr<detail::endpoint_context> ctx;
  std::string topic;
  std::string join_ref;
  transport::connection_ptr conn;
  const serializer* ser = nullptr;
  json::object assigns;
  std::string socket_id;
  channel_fn fn;
};

/// What assign<T>() throws when an assign is missing or of another type.
struct assign_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class channel : public caf::event_based_actor {
public:
  channel(caf::actor_config& cfg, std::shared_ptr<channel_init> init);

  // -- identity ---------------------------------------------------------------

  const std::string& topic() const { return init_->topic; }
  const std::string& join_ref() const { return init_->join_ref; }
  const std::string& socket_id() const { return init_->socket_id; }

  /// Values the connect callback assigned to the socket (e.g. "user"),
  /// copied into the channel; the channel may change its copy.
  json::object& assigns() { return init_->assigns; }
  const json::object& assigns() const { return init_->assigns; }

  /// The assign `key` as a T (decoded as payloads are, see typed.hpp);
  /// throws assign_error when it is missing or of another type (a throw in
  /// join answers "join crashed", elsewhere it crashes the channel).
  ///
  ///   auto user = self->assign<std::string>("user");
  template <class T>
  T assign(std::string_view key) const {
    if (auto x = find_assign<T>(key))
      return std::move(*x);
    throw assign_error("assign \"" + std::string{key} + "\" is missing");
  }

  /// The assign `key` as a T, or nullopt when it is missing; throws
  /// assign_error when it has another type.
  template <class T>
  std::optional<T> find_assign(std::string_view key) const {
    auto* v = init_->assigns.if_contains(key);
    if (v == nullptr)
      return std::nullopt;
    auto d = decode<T>(*v);
    if (!d) {
      auto& e = d.error();
      throw assign_error("assign \"" + std::string{key}
                         + (e.field.empty() ? "" : "." + e.field)
                         + "\": " + e.error);
    }
    return std::move(*d);
  }

  /// Sets the channel's copy of assign `key` (Phoenix assign/3); the value
  /// is encoded like a reply (see typed.hpp).
  template <class T>
  void assign(std::string_view key, const T& value) {
    init_->assigns[key] = encode(value);
  }

  // -- output to this client ----------------------------------------------------

  /// Pushes an event to this client (`[join_ref, null, topic, event, p]`).
  /// Pushes made during join go out right after the join reply.
  void push(const std::string& event, payload p);

  /// The message being handled, for replying later.
  reply_ref socket_ref() const { return {current_ref_}; }

  /// Replies to an earlier message (one message may get several replies).
  void reply(const reply_ref& ref, const fenix::reply& r);

  // -- broadcasts -------------------------------------------------------------------

  /// To every subscriber of this topic, this client included.
  void broadcast(const std::string& event, payload p);

  /// To every subscriber of this topic but this channel.
  void broadcast_from(const std::string& event, payload p);

  /// Routes broadcasts of these events through this actor's
  /// `(out_atom, event, payload)` handler. Call it in the join handler.
  void intercept(std::vector<std::string> events);

  // -- subscriptions to other topics (channel_subscribe.cpp) -----------------

  /// Subscribes this channel to `topic` (Endpoint.subscribe in a Phoenix
  /// channel): its broadcasts, local or from other nodes, arrive as
  /// `(broadcast_atom, topic, event, payload)` (see the top); the client
  /// sees only what the handler pushes. Broadcasts published after this
  /// call by this channel, or by anyone after the join reply, arrive. The
  /// subscription ends with unsubscribe() or the channel. The channel's own
  /// topic is refused (logged): its broadcasts already reach the client.
  void subscribe(const std::string& topic);

  /// Ends a subscribe(); no broadcast of `topic` is handled after it.
  void unsubscribe(const std::string& topic);

  /// The topics subscribe() added, in order.
  const std::vector<std::string>& subscriptions() const {
    return subscriptions_;
  }

  // -- presence ---------------------------------------------------------------

  /// Tracks this channel under `key` on its topic; `phx_ref` is added to
  /// the meta. The entry goes away by itself when the channel exits.
  /// Tracking the same key twice from one channel is an error (logged).
  /// A meta with a non-finite number or deeper than
  /// protocol::max_payload_depth throws std::domain_error (peers could not
  /// take it).
  void track(const std::string& key, json::object meta);

  /// Replaces the meta of `key`: one presence_diff with the old meta in
  /// leaves and the new one (new phx_ref, phx_ref_prev) in joins. The meta
  /// is checked like track's.
  void update(const std::string& key, json::object meta);

  void untrack(const std::string& key);

  /// Pushes `presence_state` with the topic's presence list. Call it after
  /// every join (the JS Presence helper needs a fresh state per join).
  void push_presence_state();

  /// Phoenix `Presence.list(topic)`, asynchronously (presence_list.cpp):
  /// `cb` runs later in this channel (it may use `self`) with the map
  /// `{key: {"metas": [...]}}` of `topic` (any topic, this one or
  /// another), the fetch hook applied (presence_fetch.hpp). It gets an
  /// empty map (logged) if the tracker does not answer within `timeout`.
  void
  presence_list(const std::string& topic, std::function<void(json::object)> cb,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // -- deferred join ---------------------------------------------------------

  /// Completes a join whose handler returned join_result::deferred().
  void finish_join(const join_result& r);

  // -- lifetime ------------------------------------------------------------------

  /// Ends the channel gracefully: the client gets phx_close. Called while
  /// handling a client event, the event's reply (returned or sent with
  /// reply()) goes out first, as Phoenix's `{:stop, reason, reply, socket}`.
  void stop();

  // -- behavior ----------------------------------------------------------------

  /// Replaces the user's behavior (the one the channel function returned),
  /// as CAF's become does; the framework's own handlers (join, events,
  /// leave, close, broadcasts) stay. `become(caf::keep_behavior, ...)`
  /// keeps the current one for unbecome().
  ///
  ///   self->become(voting(self));   // caf::behavior or handlers
  template <class T, class... Ts>
  void become(T&& x, Ts&&... xs) {
    if constexpr (std::is_same_v<std::decay_t<T>, caf::keep_behavior_t>) {
      saved_.push_back(user_);
      user_ = caf::behavior{std::forward<Ts>(xs)...};
    } else if constexpr (sizeof...(Ts) == 0
                         && std::is_same_v<std::decay_t<T>, caf::behavior>) {
      user_ = std::forward<T>(x);
    } else {
      user_ = caf::behavior{std::forward<T>(x), std::forward<Ts>(xs)...};
    }
  }

  /// Goes back to the behavior kept by `become(caf::keep_behavior, ...)`;
  /// does nothing if none was kept.
  void unbecome();

  caf::behavior make_behavior() override;

  /// Internal: the endpoint this channel belongs to.
  const std::shared_ptr<detail::endpoint_context>& context() const {
    return init_->ctx;
  }

private:
  void write(frame f);
  void handle_join(const payload& params, const opt_string& join_ref,
                   const opt_string& ref, caf::response_promise rp);
  void complete_join(const join_result& r);
  void handle_in(const std::string& event, const payload& p,
                 const opt_string& ref);
  void handle_out(const broadcast_ptr& b);
  void finish(close_reason why);
  void run_terminate(close_reason why);

  caf::optional<caf::message> invoke_user(caf::message& msg);

  std::shared_ptr<channel_init> init_;
  caf::behavior user_;
  std::vector<caf::behavior> saved_;  // become(keep_behavior, ...)
  opt_string current_ref_;
  opt_string join_msg_ref_;             // ref of the phx_join message
  opt_string join_msg_join_ref_;        // its join_ref (echoed in the reply)
  caf::response_promise join_promise_;  // the socket waits on it
  std::shared_ptr<const std::vector<std::string>> intercepts_;
  std::vector<frame> pending_;  // pushes made before the join reply
  bool joined_ = false;
  bool terminated_ = false;
  bool tracked_ = false;       // has presence entries to drop on exit
  bool in_event_ = false;      // handling a client event
  bool stop_pending_ = false;  // stop() called meanwhile: after the reply
  // -- subscriptions (channel_subscribe.cpp) --
  void handle_subscribed(const broadcast_ptr& b);
  std::vector<std::string> subscriptions_;
};

/// A channel with typed state, like CAF's stateful_actor: `self->state`
/// lives as long as the channel (it is destroyed when the actor exits, after
/// the terminate hook). State is default-constructible, or constructible
/// from the channel's pointer.
///
///   struct room_state { std::string user; int messages = 0; };
///   caf::behavior room(fenix::stateful_channel<room_state>* self) {
///     return {
///       [=](fenix::join_atom, const std::string&, const fenix::payload&) {
///         self->state.user = self->assign<std::string>("user");
///         return fenix::join_result::ok();
///       },
///     };
///   }
///   ep.channel("room:*", room);
template <class State>
class stateful_channel : public channel {
public:
  stateful_channel(caf::actor_config& cfg, std::shared_ptr<channel_init> init)
    : channel(cfg, std::move(init)) {
    if constexpr (std::is_constructible_v<State, stateful_channel*>)
      new (&state) State(this);
    else
      new (&state) State();
  }

  ~stateful_channel() override {
    if (!destroyed_)
      state.~State();
  }

  void on_exit() override {
    if (!destroyed_) {
      destroyed_ = true;
      state.~State();
    }
    channel::on_exit();
  }

  union {
    State state;
  };

private:
  bool destroyed_ = false;
};

}  // namespace fenix
