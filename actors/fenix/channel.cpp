#include "fenix/log.hpp"
#include "fenix/channel.hpp"

#include <iostream>

#include <caf/all.hpp>

#include "fenix/atoms.hpp"
#include "fenix/detail/endpoint_context.hpp"
#include "fenix/protocol/json.hpp"

namespace fenix {

const char* to_string(close_reason r) {
  switch (r) {
  case close_reason::left:
    return "left";
  case close_reason::closed:
    return "closed";
  case close_reason::duplicate_join:
    return "duplicate_join";
  case close_reason::stopped:
    return "stopped";
  case close_reason::crashed:
    return "crashed";
  case close_reason::disconnected:
    return "disconnected";
  }
  return "unknown";
}

namespace {

// Extracts a T from the result of invoking a user behavior.
template <class T>
const T* result_as(const caf::optional<caf::message>& res) {
  if (!res || res->size() != 1 || !res->match_element<T>(0))
    return nullptr;
  return &res->get_as<T>(0);
}

std::string describe(const std::exception_ptr& eptr) {
  try {
    std::rethrow_exception(eptr);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

channel::channel(caf::actor_config& cfg, std::shared_ptr<channel_init> init)
  : caf::event_based_actor(cfg),
    init_(std::move(init)) {
  init_->ctx->channels.fetch_add(1, std::memory_order_relaxed);
  attach_functor([ctx = init_->ctx] {
    ctx->channels.fetch_sub(1, std::memory_order_relaxed);
  });
}

void channel::write(frame f) {
  if (!joined_) {
    pending_.push_back(std::move(f));
    return;
  }
  init_->conn->send(std::move(f));
}

void channel::push(const std::string& event, payload p) {
  write(init_->ser->encode_push(init_->join_ref, topic(), event, p));
}

void channel::reply(const reply_ref& ref, const fenix::reply& r) {
  if (r.is_none())
    return;
  write(init_->ser->encode_reply(init_->join_ref, ref.ref, topic(), r.status(),
                                 r.response()));
}

void channel::broadcast(const std::string& event, payload p) {
  init_->ctx->ps->broadcast(topic(), event, std::move(p));
}

void channel::broadcast_from(const std::string& event, payload p) {
  init_->ctx->ps->broadcast_from(address(), topic(), event, std::move(p));
}

void channel::intercept(std::vector<std::string> events) {
  intercepts_ =
    std::make_shared<const std::vector<std::string>>(std::move(events));
}

void channel::stop() {
  if (terminated_)
    return;
  if (in_event_) {  // the event's reply goes first (handle_in)
    stop_pending_ = true;
    return;
  }
  // A joined channel's phx_close is written by the socket when it sees this
  // exit: it forgets the topic in the same step, so an event the client
  // sends after phx_close gets "unmatched topic" rather than reaching a
  // dead channel.
  if (!joined_)
    init_->conn->send(
      init_->ser->encode_control(init_->join_ref, topic(), "phx_close", {}));
  finish(close_reason::stopped);
}

void channel::unbecome() {
  if (saved_.empty())
    return;
  user_ = std::move(saved_.back());
  saved_.pop_back();
}

caf::optional<caf::message> channel::invoke_user(caf::message& msg) {
  // A copy: the handler may call become(), replacing user_ while it runs.
  auto bhvr = user_;
  return bhvr(msg);
}

void channel::run_terminate(close_reason why) {
  if (terminated_)
    return;
  terminated_ = true;
  auto msg = caf::make_message(terminate_atom_v, why);
  invoke_user(msg);
}

void channel::finish(close_reason why) {
  run_terminate(why);
  // Leave presence now rather than when the tracker sees the exit, so a
  // rejoin right after (duplicate join, rejoin after leave) sees a clean
  // state. The tracker's monitor still covers crashes.
  if (tracked_)
    send(init_->ctx->presence->shard(topic()), untrack_atom_v, address());
  quit();
}

void channel::handle_join(const payload& params, const opt_string& join_ref,
                          const opt_string& ref, caf::response_promise rp) {
  auto msg = caf::make_message(join_atom_v, topic(), params);
  current_ref_ = ref;
  join_msg_ref_ = ref;
  join_msg_join_ref_ = join_ref;
  join_promise_ = std::move(rp);
  auto res = invoke_user(msg);
  auto* jr = result_as<join_result>(res);
  if (jr == nullptr)
    throw std::logic_error("channel for " + topic()
                           + " has no (join_atom, topic, payload) handler "
                             "returning fenix::join_result");
  if (!jr->is_deferred())
    complete_join(*jr);
}

void channel::finish_join(const join_result& r) {
  if (joined_ || !join_promise_.pending() || r.is_deferred())
    return;
  complete_join(r);
}

void channel::complete_join(const join_result& r) {
  auto& ser = *init_->ser;
  // The join reply echoes the join message's join_ref (null stays null).
  const opt_string& join_ref = join_msg_join_ref_;
  auto rp = std::move(join_promise_);
  if (!r.accepted()) {
    // The reply echoes the join message's join_ref.
    init_->conn->send(ser.encode_reply(join_ref, join_msg_ref_, topic(),
                                       reply_status::error, r.response()));
    rp.deliver(false);
    terminated_ = true;  // a refused join never ran: no terminate hook
    quit();
    return;
  }
  // The PubSub shard subscribes us and writes the reply itself: the reply
  // precedes every broadcast, and no broadcast after the join is missed.
  // Pushes wait (pending_) until the shard has done so.
  fenix::subscriber me{caf::actor_cast<caf::actor>(this), init_->conn,
                       init_->ser, intercepts_, true};
  auto& ps = *init_->ctx->ps;
  auto joined = [this, rp](bool) mutable {
    joined_ = true;
    for (auto& f : pending_)
      write(std::move(f));
    pending_.clear();
    pending_.shrink_to_fit();
    rp.deliver(true);
  };
  auto failed = [this, rp](caf::error& err) mutable {
    log::limited(log_level::error, "channel subscribe", "channel ", topic(),
                 " could not subscribe: ", caf::to_string(err));
    rp.deliver(std::move(err));
  };
  if (r.stream() && ps.has_history(topic())) {
    // The shard completes the reply with the stream's position and
    // replays what a recovering client missed (pubsub.hpp).
    stream_join_ptr j = std::make_shared<const stream_join>(
      stream_join{join_ref, join_msg_ref_, r.response(), r.stream()});
    request(ps.shard(topic()), caf::infinite, subscribe_atom_v, topic(),
            std::move(me), std::move(j))
      .then(std::move(joined), std::move(failed));
    return;
  }
  request(ps.shard(topic()), caf::infinite, subscribe_atom_v, topic(),
          std::move(me),
          ser.encode_reply(join_ref, join_msg_ref_, topic(), reply_status::ok,
                           r.response()))
    .then(std::move(joined), std::move(failed));
}

std::optional<stream_position> recover_param(const payload& params) {
  if (params.is_binary() || !params.json().is_object())
    return std::nullopt;
  auto* rec = params.object().if_contains("recover");
  if (!rec)
    return std::nullopt;
  stream_position since;  // an empty epoch never matches: not recovered
  auto* o = rec->if_object();
  auto* epoch = o ? o->if_contains("epoch") : nullptr;
  auto* offset = o ? o->if_contains("offset") : nullptr;
  if (!epoch || !epoch->is_string() || epoch->get_string().size() > 64
      || !offset)
    return since;
  if (offset->is_int64() && offset->get_int64() >= 0)
    since.offset = static_cast<std::uint64_t>(offset->get_int64());
  else if (offset->is_uint64())
    since.offset = offset->get_uint64();
  else
    return since;
  since.epoch = std::string{epoch->get_string()};
  return since;
}

void channel::handle_in(const std::string& event, const payload& p,
                        const opt_string& ref) {
  current_ref_ = ref;
  auto msg = caf::make_message(in_atom_v, event, p);
  in_event_ = true;
  caf::optional<caf::message> res;
  try {
    res = invoke_user(msg);
  } catch (...) {
    in_event_ = false;
    throw;
  }
  in_event_ = false;
  if (!res)
    throw std::logic_error("channel for " + topic() + " has no handler for "
                           + "event \"" + event + "\"");
  if (auto* r = result_as<fenix::reply>(res))
    reply({ref}, *r);
  if (stop_pending_) {  // stop() during the handler: after its reply
    stop_pending_ = false;
    stop();
  }
}

void channel::handle_out(const broadcast_ptr& b) {
  auto msg = caf::make_message(out_atom_v, b->event, b->payload);
  if (!invoke_user(msg))
    push(b->event, b->payload);  // intercepted but not handled: pass on
}

caf::behavior channel::make_behavior() {
  user_ = init_->fn(this);
  set_exception_handler([](caf::scheduled_actor* ptr, std::exception_ptr& e) {
    auto self = static_cast<channel*>(ptr);
    auto what = describe(e);
    log::limited(log_level::error, "channel crash", "channel ", self->topic(),
                 " crashed: ", what);
    if (!self->joined_) {
      self->terminated_ = true;  // a crashed join never ran: no terminate
      // The socket waits for the join: answer it ("join crashed").
      if (self->join_promise_.pending())
        self->join_promise_.deliver(
          caf::make_error(caf::sec::runtime_error, what));
    }
    try {
      self->run_terminate(close_reason::crashed);
    } catch (...) {
      // terminate threw too: nothing more to run
    }
    return caf::make_error(caf::sec::runtime_error, std::move(what));
  });
  set_exit_handler([this](caf::exit_msg& em) {
    if (em.reason && em.reason != caf::exit_reason::user_shutdown) {
      // A linked system actor (PubSub or presence shard) died: so do we,
      // with its reason, so the client gets phx_error and rejoins.
      log::limited(log_level::warning, "channel link", "channel ", topic(),
                   " ends: a linked actor died: ", caf::to_string(em.reason));
      try {
        run_terminate(close_reason::crashed);
      } catch (...) {
        // the hook's failure changes nothing: we are ending
      }
      quit(std::move(em.reason));
      return;
    }
    // The socket went away (link): the connection is closed.
    finish(close_reason::closed);
  });
  // Everything the framework does not handle goes to the user's behavior
  // (Phoenix handle_info), including requests, whose results are returned.
  set_default_handler(
    [this](caf::scheduled_actor*,
           caf::message_view& xs) -> caf::result<caf::message> {
      auto msg = xs.copy_content_to_message();
      if (auto res = invoke_user(msg))
        return std::move(*res);
      log::limited(log_level::warning, "channel unexpected message", "channel ",
                   topic(), " dropped unexpected ", "message ",
                   caf::to_string(msg));
      return caf::sec::unexpected_message;
    });
  caf::behavior framework{
    [this](sys_join_atom, const payload& params, const opt_string& join_ref,
           const opt_string& ref) {
      handle_join(params, join_ref, ref, make_response_promise());
    },
    [this](sys_in_atom, const std::string& event, const payload& p,
           const opt_string& ref) { handle_in(event, p, ref); },
    [this](sys_leave_atom, const opt_string& ref) {
      auto& ser = *init_->ser;
      opt_string jr = init_->join_ref;
      init_->conn->send(
        ser.encode_reply(jr, ref, topic(), reply_status::ok, payload{}));
      init_->conn->send(
        ser.encode_control(init_->join_ref, topic(), "phx_close", {}));
      finish(close_reason::left);
    },
    [this](sys_close_atom, close_reason why) {
      auto rp = make_response_promise();
      finish(why);
      rp.deliver(true);  // the socket waits for this on a duplicate join
    },
    [this](sys_out_atom, const broadcast_ptr& b) { handle_out(b); },
    [this](broadcast_atom, const broadcast_ptr& b) { handle_subscribed(b); },
  };
  return framework;
}

}  // namespace fenix

// -- presence (the tracker shard does the work) ---------------------------------

namespace fenix {

namespace {

// A meta travels to every peer inside a gossip delta and out in
// presence_diff pushes: refused here, before it could make a peer drop a
// whole delta.
void check_meta(const json::object& meta) {
  protocol::check_json(json::value{meta}, protocol::max_payload_depth);
}

}  // namespace

void channel::track(const std::string& key, json::object meta) {
  check_meta(meta);
  tracked_ = true;
  send(init_->ctx->presence->shard(topic()), track_atom_v, topic(), key,
       payload{std::move(meta)}, caf::actor_cast<caf::actor>(this));
}

void channel::update(const std::string& key, json::object meta) {
  check_meta(meta);
  send(init_->ctx->presence->shard(topic()), update_atom_v, topic(), key,
       payload{std::move(meta)}, caf::actor_cast<caf::actor>(this));
}

void channel::untrack(const std::string& key) {
  send(init_->ctx->presence->shard(topic()), untrack_atom_v, topic(), key,
       address());
}

void channel::push_presence_state() {
  // The tracker frames the push itself: it renders the topic's state once
  // per batching window, and joiners with the same serializer and join_ref
  // share the bytes (see presence_tracker.hpp).
  request(init_->ctx->presence->shard(topic()), caf::infinite, list_atom_v,
          topic(), presence_push{init_->ser, init_->join_ref})
    .then([this](frame& state) { write(std::move(state)); });
}

}  // namespace fenix
