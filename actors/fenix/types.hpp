/// Values that travel in CAF messages between fenix actors and user
/// channels: replies, join results, close reasons, broadcasts. All are
/// local-only message types (whitelisted for CAF 0.17 below).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "fenix/transport/connection.hpp"
#include "fenix/protocol/message.hpp"
#include "fenix/protocol/serializer.hpp"

namespace fenix {

// The wire types users meet in channel code, under fenix:: (they live in
// the protocol and transport layers).
namespace json = boost::json;
using protocol::decode_error;
using protocol::decode_result;
using protocol::message;
using protocol::negotiate;
using protocol::opt_string;
using protocol::payload;
using protocol::protocol_version;
using protocol::protocol_version_count;
using protocol::reply_status;
using protocol::serializer;
using protocol::serializer_for;
using transport::frame;
using transport::make_frame;

/// What a channel answers to an incoming event (Phoenix handle_in result).
///
///   return fenix::reply::ok({{"id", id}});        // {:reply, {:ok, ..}}
///   return fenix::reply::error({{"reason", "x"}}); // {:reply, {:error, ..}}
///   return fenix::reply::none();                   // {:noreply, socket}
class reply {
public:
  static reply ok(payload p = {}) { return {kind::ok, std::move(p)}; }
  static reply error(payload p = {}) { return {kind::error, std::move(p)}; }
  static reply none() { return {kind::none, {}}; }

  bool is_none() const { return kind_ == kind::none; }
  reply_status status() const {
    return kind_ == kind::ok ? reply_status::ok : reply_status::error;
  }
  const payload& response() const { return payload_; }

private:
  enum class kind { ok, error, none };
  reply(kind k, payload p) : kind_(k), payload_(std::move(p)) {}
  kind kind_;
  payload payload_;
};

/// One broadcast as PubSub carries it: shared, immutable.
struct broadcast {
  std::string topic;
  std::string event;
  fenix::payload payload;
  /// Position in the topic's stream (topics with history, see
  /// history_options in pubsub.hpp); 0 on topics without history.
  std::uint64_t offset = 0;
};

using broadcast_ptr = std::shared_ptr<const broadcast>;

/// A position in a topic's stream: the stream's epoch (a random string that
/// changes when its history is lost) and the offset of a broadcast (1 for
/// the first, +1 per broadcast; 0: before the first).
struct stream_position {
  std::string epoch;
  std::uint64_t offset = 0;
};

/// A retained broadcast and when it was published.
struct stream_entry {
  broadcast_ptr b;
  std::chrono::system_clock::time_point at;
};

/// What a topic's stream starts from when it does not exist yet (e.g. an
/// app that keeps its messages in storage, after a restart): its epoch and
/// last offset, and the retained broadcasts, oldest first, whose offsets
/// are at most `position.offset`.
struct stream_seed {
  stream_position position;
  std::vector<stream_entry> entries;
};

/// What a join asks of the topic's stream (join_result::with_position,
/// recover, seed); ignored on topics without history.
struct stream_request {
  bool position = false;                 // reply gets "epoch" and "offset"
  std::optional<stream_position> since;  // recover from here
  fenix::payload recovered_reply;        // the reply when recovered
  std::optional<stream_seed> seed;
};

/// What a channel answers to a join (Phoenix join/3 result).
///
///   return fenix::join_result::ok();                          // {:ok, socket}
///   return fenix::join_result::ok({{"joined", true}});        // with reply
///   return fenix::join_result::error({{"reason", "unauthorized"}});
///   return fenix::join_result::deferred();  // answer later with
///                                          // self->finish_join(...)
class join_result {
public:
  static join_result ok(payload p = {}) { return {kind::ok, std::move(p)}; }
  static join_result error(payload p) { return {kind::error, std::move(p)}; }

  /// The join needs data from another actor: the channel calls
  /// `finish_join(ok|error)` later; until then the socket waits.
  static join_result deferred() { return {kind::deferred, {}}; }

  bool accepted() const { return kind_ == kind::ok; }
  bool is_deferred() const { return kind_ == kind::deferred; }
  const payload& response() const { return payload_; }

  // -- topics with history (pubsub.hpp, history_options) ---------------------
  // The PubSub shard completes the reply (an object) as it subscribes.

  /// The reply gets the stream's current "epoch" and "offset".
  join_result& with_position() {
    request().position = true;
    return *this;
  }

  /// Recovery: if the stream holds every broadcast after `since` (same
  /// epoch, not older than the history), the reply is `recovered_reply`
  /// plus {"recovered": true, "epoch", "offset"}, followed by those
  /// broadcasts, in order, before any live one; otherwise this result's
  /// payload plus {"recovered": false, "epoch", "offset"}, no replay.
  join_result& recover(stream_position since, payload recovered_reply = {}) {
    auto& r = request();
    r.position = true;
    r.since = std::move(since);
    r.recovered_reply = std::move(recovered_reply);
    return *this;
  }

  /// Starts the topic's stream from `s` if it does not exist yet.
  join_result& seed(stream_seed s) {
    request().seed = std::move(s);
    return *this;
  }

  const std::shared_ptr<stream_request>& stream() const { return stream_; }

private:
  enum class kind { ok, error, deferred };
  join_result(kind k, payload p) : kind_(k), payload_(std::move(p)) {}
  stream_request& request() {
    if (!stream_)
      stream_ = std::make_shared<stream_request>();
    return *stream_;
  }
  kind kind_;
  payload payload_;
  std::shared_ptr<stream_request> stream_;
};

/// Why a channel terminates (the argument of its terminate hook).
enum class close_reason {
  left,            // the client sent phx_leave
  closed,          // the connection closed
  duplicate_join,  // the client joined the same topic again
  stopped,         // the channel stopped itself (self->stop())
  crashed,         // a handler threw
  disconnected,    // socket-id "disconnect" broadcast
};

const char* to_string(close_reason r);

/// A reference to a client message, for replying later (Phoenix socket_ref).
struct reply_ref {
  opt_string ref;
};

}  // namespace fenix

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::payload)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::join_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::close_reason)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::reply_ref)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::broadcast_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::opt_string)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::frame)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::transport::connection_ptr)
