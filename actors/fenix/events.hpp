/// A table of client events, one handler per event (Phoenix's handle_in
/// clauses), with typed payloads (typed.hpp). It is the channel's
/// `(in_atom, event, payload)` handler: put it in the behavior.
///
///   struct new_msg { std::string body; };
///   BOOST_DESCRIBE_STRUCT(new_msg, (), (body))
///   struct sent { std::string id; };
///   BOOST_DESCRIBE_STRUCT(sent, (), (id))
///
///   caf::behavior room(fenix::channel* self) {
///     return {
///       [=](fenix::join_atom, const std::string&, const fenix::payload&) {
///         return fenix::join_result::ok();
///       },
///       fenix::events{
///         fenix::on<new_msg>("new_msg", [=](const new_msg& m) {
///           self->broadcast("new_msg", fenix::encode(m));
///           return sent{"1"};                  // reply ok {"id": "1"}
///         }),
///         fenix::on("ping", [](const fenix::payload& p) {
///           return fenix::reply::ok(p);        // untyped
///         }),
///         fenix::on("leave_me", [=] { self->stop(); }),  // no reply
///       },
///     };
///   }
///
/// A handler takes `const T&` (the decoded payload), or nothing, and
/// returns a fenix::reply, nothing (no reply, as {:noreply, socket}), or a
/// value encoded as the ok reply's payload (fenix::encode).
///
/// A payload that does not decode as T is answered, without calling the
/// handler, `{"reason": "invalid payload", "field": "body", "error":
/// "missing"}` (on_invalid replaces that answer for the table, the third
/// argument of on() for one row). An event not in the table
/// crashes the channel (the client gets phx_error), as in Phoenix, unless
/// on_unknown says otherwise.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fenix/atoms.hpp"
#include "fenix/typed.hpp"
#include "fenix/types.hpp"

namespace fenix {

class events;

/// One row of an events table: see on().
struct event_handler {
  std::string event;
  std::function<reply(const payload&, const events&)> run;
};

/// The table; copies share their rows.
class events {
public:
  using invalid_fn =
    std::function<reply(const std::string& event, const invalid_payload&)>;
  using unknown_fn =
    std::function<reply(const std::string& event, const payload&)>;

  events(std::initializer_list<event_handler> rows)
    : s_(std::make_shared<table>()) {
    s_->rows.assign(rows.begin(), rows.end());
  }

  /// Replaces the answer to a payload that does not decode, e.g.
  /// `{"reason": "invalid body"}` from the field's name.
  events& on_invalid(invalid_fn f) {
    s_->invalid = std::move(f);
    return *this;
  }

  /// Answers events not in the table (default: the channel crashes).
  events& on_unknown(unknown_fn f) {
    s_->unknown = std::move(f);
    return *this;
  }

  /// The channel behavior's in handler.
  reply operator()(in_atom, const std::string& event, const payload& p) const {
    for (auto& row : s_->rows)
      if (row.event == event)
        return row.run(p, *this);
    if (s_->unknown)
      return s_->unknown(event, p);
    throw std::logic_error("no handler for event \"" + event + "\"");
  }

  /// Internal: the answer to an undecodable payload.
  reply invalid(const std::string& event, const invalid_payload& e) const {
    if (s_->invalid)
      return s_->invalid(event, e);
    return reply::error(e.to_json());
  }

private:
  struct table {
    std::vector<event_handler> rows;
    invalid_fn invalid;
    unknown_fn unknown;
  };
  std::shared_ptr<table> s_;
};

namespace detail {

template <class R>
reply to_reply(R&& r) {
  using type = std::decay_t<R>;
  if constexpr (std::is_same_v<type, reply>)
    return std::forward<R>(r);
  else
    return reply::ok(encode(r));
}

}  // namespace detail

namespace detail {

template <class T, class F>
event_handler make_row(std::string event, F f,
                       std::optional<reply> invalid_reply) {
  auto name = event;
  return {std::move(event),
          [name, f = std::move(f), invalid_reply](
            const payload& p, const events& table) mutable -> reply {
            if constexpr (std::is_invocable_v<F&>) {
              using R = std::invoke_result_t<F&>;
              if constexpr (std::is_void_v<R>) {
                f();
                return reply::none();
              } else {
                return to_reply(f());
              }
            } else {
              auto d = decode<T>(p);
              if (!d)
                return invalid_reply ? *invalid_reply
                                     : table.invalid(name, d.error());
              using R = std::invoke_result_t<F&, const T&>;
              if constexpr (std::is_void_v<R>) {
                f(*d);
                return reply::none();
              } else {
                return to_reply(f(*d));
              }
            }
          }};
}

}  // namespace detail

/// A row of an events table: `event` decoded as T (payload: undecoded)
/// and handed to `f` (see the top of this file).
template <class T = payload, class F>
event_handler on(std::string event, F f) {
  return detail::make_row<T>(std::move(event), std::move(f), std::nullopt);
}

/// The same, answering `invalid` to a payload that does not decode as T:
///
///   fenix::on<vote>("vote", cast_vote,
///                   fenix::reply::error({{"reason", "invalid points"}}))
template <class T = payload, class F>
event_handler on(std::string event, F f, reply invalid) {
  return detail::make_row<T>(std::move(event), std::move(f),
                             std::move(invalid));
}

}  // namespace fenix
