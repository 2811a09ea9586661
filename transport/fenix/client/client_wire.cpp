// The Phoenix side of the client (see client.hpp): refs and join_refs,
// V2 frames out (joins, pushes, leaves, heartbeats) and in (the binary
// kinds), reply status. No Beast: the socket side is client.cpp.

#include <algorithm>
#include <stdexcept>
#include <string>

#include "fenix/client/client.hpp"
#include "fenix/protocol/json_text.hpp"
#include "fenix/protocol/serializer.hpp"

namespace fenix::client {

namespace json_text = protocol::json_text;
using protocol::protocol_version;
using protocol::serializer_for;

namespace {

template <class Table>
auto find_topic(Table& t, const std::string& topic) {
  return std::find_if(t.begin(), t.end(),
                      [&](auto& kv) { return kv.first == topic; });
}

}  // namespace

// -- sending ------------------------------------------------------------------

std::string ws_client::make_ref() {
  return std::to_string(++ref_counter_);
}

std::string ws_client::send_v2(const opt_string& join_ref,
                               const std::string& ref, std::string_view topic,
                               std::string_view event,
                               const json::value& payload) {
  std::string out{"["};
  json_text::append_opt(out, join_ref);
  out.push_back(',');
  json_text::append_string(out, ref);
  out.push_back(',');
  json_text::append_string(out, topic);
  out.push_back(',');
  json_text::append_string(out, event);
  out.push_back(',');
  json_text::append_value(out, payload, 1);
  out.push_back(']');
  send_text(std::move(out));
  return ref;
}

std::string ws_client::join(const std::string& topic, json::value params) {
  auto ref = make_ref();
  {
    std::lock_guard<std::mutex> guard{refs_mtx_};
    if (auto i = find_topic(join_refs_, topic); i != join_refs_.end())
      i->second = ref;
    else
      join_refs_.emplace_back(topic, ref);
  }
  return send_v2(ref, ref, topic, "phx_join", params);
}

opt_string ws_client::join_ref(const std::string& topic) const {
  std::lock_guard<std::mutex> guard{refs_mtx_};
  auto i = find_topic(join_refs_, topic);
  return i == join_refs_.end() ? std::nullopt : opt_string{i->second};
}

std::string ws_client::push(const std::string& topic, const std::string& event,
                            json::value payload) {
  return send_v2(join_ref(topic), make_ref(), topic, event, payload);
}

std::string ws_client::push_binary(const std::string& topic,
                                   const std::string& event,
                                   std::string bytes) {
  auto ref = make_ref();
  send_binary(encode_client_binary(join_ref(topic).value_or(""), ref, topic,
                                   event, bytes));
  return ref;
}

std::string ws_client::leave(const std::string& topic) {
  opt_string jr;
  {
    std::lock_guard<std::mutex> guard{refs_mtx_};
    if (auto i = find_topic(join_refs_, topic); i != join_refs_.end()) {
      jr = std::move(i->second);
      join_refs_.erase(i);
    }
  }
  return send_v2(jr, make_ref(), topic, "phx_leave", json::object{});
}

std::string ws_client::heartbeat() {
  return send_v2(std::nullopt, make_ref(), "phoenix", "heartbeat",
                 json::object{});
}

// -- wire helpers -------------------------------------------------------------

decode_result decode_server_frame(std::string_view data, bool binary) {
  if (!binary)
    // A server frame may use the whole depth (a reply's response, a
    // presence_diff around a meta): only the frame's own level is taken.
    return serializer_for(protocol_version::v2)
      .decode(data, false, protocol::json_max_depth - 1);
  if (data.empty())
    return decode_error{"empty binary frame"};
  auto kind = static_cast<unsigned char>(data[0]);
  // Fields per kind: push (join_ref, topic, event), reply (join_ref, ref,
  // topic, status), broadcast (topic, event); see protocol doc 2.3.
  std::size_t count = kind == 0 ? 3 : kind == 1 ? 4 : kind == 2 ? 2 : 0;
  if (count == 0)
    return decode_error{"unknown binary kind " + std::to_string(kind)};
  if (data.size() < 1 + count)
    return decode_error{"binary frame header truncated"};
  std::string_view f[4];
  std::size_t pos = 1 + count;
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t len = static_cast<unsigned char>(data[1 + i]);
    if (data.size() - pos < len)
      return decode_error{"binary frame field truncated"};
    f[i] = data.substr(pos, len);
    pos += len;
  }
  auto opt = [](std::string_view s) -> opt_string {
    return s.empty() ? std::nullopt : opt_string{std::string{s}};
  };
  message m;
  m.payload = payload::binary(std::string{data.substr(pos)});
  if (kind == 0) {
    m.join_ref = opt(f[0]);
    m.topic = std::string{f[1]};
    m.event = std::string{f[2]};
  } else if (kind == 1) {
    m.join_ref = opt(f[0]);
    m.ref = opt(f[1]);
    m.topic = std::string{f[2]};
    m.event = "phx_reply";
    m.payload.json() = json::object{{"status", f[3]}};
  } else {
    m.topic = std::string{f[0]};
    m.event = std::string{f[1]};
  }
  return m;
}

std::string encode_client_binary(std::string_view join_ref,
                                 std::string_view ref, std::string_view topic,
                                 std::string_view event,
                                 std::string_view data) {
  std::string_view fields[] = {join_ref, ref, topic, event};
  std::string out;
  out.reserve(5 + join_ref.size() + ref.size() + topic.size() + event.size()
              + data.size());
  out.push_back('\0');  // kind 0: push
  for (auto f : fields) {
    if (f.size() > 255)
      throw std::length_error("V2 binary field longer than 255 bytes");
    out.push_back(static_cast<char>(static_cast<unsigned char>(f.size())));
  }
  for (auto f : fields)
    out.append(f);
  out.append(data);
  return out;
}

std::string status_of(const message& m) {
  if (m.event != "phx_reply" || !m.payload.json().is_object())
    return {};
  auto* s = m.payload.json().get_object().if_contains("status");
  return s && s->is_string() ? std::string{s->get_string()} : std::string{};
}

}  // namespace fenix::client
