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

}  // namespace fenix::client
