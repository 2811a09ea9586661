/// Wire structs of the Phoenix protocol: what a serializer decodes from a
/// client frame and what it encodes for one. Plain aggregates, no behaviour.
///
///   message m{"3", "7", "room:lobby", "new_msg", payload{json::object{}}};
///   frame f = v2_json_serializer{}.encode_push(m);
///
/// A `payload` is either a JSON value (text frames) or raw bytes (V2 binary
/// frames); `frame` is the encoded bytes, shared so that a broadcast encoded
/// once can be written to every subscriber without copying.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/json/value.hpp>

#include "fenix/transport/frame.hpp"

namespace fenix::protocol {

namespace json = boost::json;

/// The body of a message: JSON, or bytes for a V2 binary frame.
class payload {
public:
  payload() : json_(json::object{}) {}
  payload(json::value v) : json_(std::move(v)) {}
  payload(json::object v) : json_(std::move(v)) {}

  /// A binary payload (sent as a V2 binary frame).
  static payload binary(std::string bytes) {
    payload p;
    p.binary_ = true;
    p.bytes_ = std::move(bytes);
    p.json_ = nullptr;
    return p;
  }

  bool is_binary() const { return binary_; }
  const json::value& json() const { return json_; }
  json::value& json() { return json_; }
  const std::string& bytes() const { return bytes_; }

  /// Shorthand for `json().as_object()`; throws when it is not an object.
  const json::object& object() const { return json_.as_object(); }

private:
  json::value json_;
  std::string bytes_;
  bool binary_ = false;
};

using opt_string = std::optional<std::string>;

/// One protocol message: `[join_ref, ref, topic, event, payload]`.
struct message {
  opt_string join_ref;
  opt_string ref;
  std::string topic;
  std::string event;
  protocol::payload payload;
};

/// Encoded bytes ready for the wire, shared between connections.
using transport::frame;
using transport::make_frame;

enum class reply_status { ok, error };

inline const char* to_string(reply_status s) {
  return s == reply_status::ok ? "ok" : "error";
}

}  // namespace fenix::protocol

namespace fenix {

// Users write fenix::payload and fenix::message.
using protocol::message;
using protocol::opt_string;
using protocol::payload;
using protocol::reply_status;

}  // namespace fenix
