// V1 (vsn 1.0.x): JSON objects `{topic, event, payload, ref}`; join_ref is
// read when present but never sent. Text frames only.

#include <algorithm>

#include "fenix/protocol/json_text.hpp"
#include "fenix/protocol/serializer.hpp"

namespace fenix::protocol {

namespace {

bool read_opt(const json::value* v, opt_string& out) {
  if (v == nullptr || v->is_null())
    return true;
  if (!v->is_string())
    return false;
  out = std::string{v->get_string()};
  return true;
}

class v1_json_serializer final : public serializer {
public:
  protocol_version version() const override { return protocol_version::v1; }

  using serializer::decode;

  decode_result decode(std::string_view data, bool binary,
                       std::size_t payload_depth) const override {
    if (binary)
      return decode_error{"V1 does not accept binary frames"};
    json::error_code ec;
    // The frame is one level around the payload.
    auto v =
      parse_json(data, ec, 1 + std::min(payload_depth, json_max_depth - 1));
    if (ec)
      return decode_error{"invalid JSON: " + ec.message()};
    if (!v.is_object())
      return decode_error{"V1 frame is not an object"};
    auto& o = v.get_object();
    auto* topic = o.if_contains("topic");
    auto* event = o.if_contains("event");
    auto* pl = o.if_contains("payload");
    auto* ref = o.if_contains("ref");
    if (!topic || !event || !pl || !ref)
      return decode_error{"V1 frame lacks topic, event, payload or ref"};
    if (!topic->is_string() || !event->is_string())
      return decode_error{"topic and event must be strings"};
    message m;
    if (!read_opt(ref, m.ref)
        || !read_opt(o.if_contains("join_ref"), m.join_ref))
      return decode_error{"join_ref and ref must be strings or null"};
    m.topic = std::string{topic->get_string()};
    m.event = std::string{event->get_string()};
    m.payload = payload{std::move(*pl)};
    return m;
  }

  frame encode(const opt_string&, const opt_string& ref, std::string_view topic,
               std::string_view event, const payload& p) const override {
    if (p.is_binary())
      throw std::invalid_argument("V1 cannot carry binary payloads");
    return text_frame(ref, topic, event, 64, [&](std::string& out) {
      json_text::append_value(out, p.json(), 1);
    });
  }

  frame encode_json_text(const opt_string&, const opt_string& ref,
                         std::string_view topic, std::string_view event,
                         std::string_view payload_json) const override {
    return text_frame(ref, topic, event, 64 + payload_json.size(),
                      [&](std::string& out) { out += payload_json; });
  }

  // `{"topic","event","payload","ref"}`, the payload written by `body`.
  template <class Body>
  static frame text_frame(const opt_string& ref, std::string_view topic,
                          std::string_view event, std::size_t reserve,
                          Body body) {
    std::string out;
    out.reserve(reserve + topic.size() + event.size());
    out += "{\"topic\":";
    json_text::append_string(out, topic);
    out += ",\"event\":";
    json_text::append_string(out, event);
    out += ",\"payload\":";
    body(out);
    out += ",\"ref\":";
    json_text::append_opt(out, ref);
    out.push_back('}');
    return make_frame(std::move(out));
  }

  frame encode_reply(const opt_string&, const opt_string& ref,
                     std::string_view topic, reply_status status,
                     const payload& response) const override {
    if (response.is_binary())
      throw std::invalid_argument("V1 cannot carry binary payloads");
    std::string out;
    out += "{\"topic\":";
    json_text::append_string(out, topic);
    out += ",\"event\":\"phx_reply\",\"payload\":{\"status\":\"";
    out += to_string(status);
    out += "\",\"response\":";
    json_text::append_value(out, response.json(), 2);
    out += "},\"ref\":";
    json_text::append_opt(out, ref);
    out.push_back('}');
    return make_frame(std::move(out));
  }
};

}  // namespace

const serializer& v1_json_serializer_instance() {
  static const v1_json_serializer instance;
  return instance;
}

}  // namespace fenix::protocol
