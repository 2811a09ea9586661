// V2 (vsn 2.0.x): JSON arrays `[join_ref, ref, topic, event, payload]` in
// text frames, and the binary layout of v2_binary_codec in binary frames.

#include <algorithm>

#include "fenix/protocol/json_text.hpp"
#include "fenix/protocol/serializer.hpp"
#include "fenix/protocol/v2_binary_codec.hpp"

namespace fenix::protocol {

namespace {

bool read_opt(const json::value& v, opt_string& out) {
  if (v.is_null())
    return true;
  if (!v.is_string())
    return false;
  out = std::string{v.get_string()};
  return true;
}

class v2_json_serializer final : public serializer {
public:
  protocol_version version() const override { return protocol_version::v2; }

  using serializer::decode;

  decode_result decode(std::string_view data, bool binary,
                       std::size_t payload_depth) const override {
    if (binary)
      return v2_binary::decode(data);
    json::error_code ec;
    // The frame is one level around the payload.
    auto v =
      parse_json(data, ec, 1 + std::min(payload_depth, json_max_depth - 1));
    if (ec)
      return decode_error{"invalid JSON: " + ec.message()};
    if (!v.is_array())
      return decode_error{"V2 frame is not an array"};
    auto& a = v.get_array();
    if (a.size() < 5)
      return decode_error{"V2 frame has fewer than 5 elements"};
    message m;
    if (!read_opt(a[0], m.join_ref) || !read_opt(a[1], m.ref))
      return decode_error{"join_ref and ref must be strings or null"};
    if (!a[2].is_string() || !a[3].is_string())
      return decode_error{"topic and event must be strings"};
    m.topic = std::string{a[2].get_string()};
    m.event = std::string{a[3].get_string()};
    m.payload = payload{std::move(a[4])};
    return m;
  }

  frame encode(const opt_string& join_ref, const opt_string& ref,
               std::string_view topic, std::string_view event,
               const payload& p) const override {
    if (p.is_binary()) {
      if (ref)
        throw std::invalid_argument("binary frames with a ref are replies");
      if (!join_ref)
        return make_frame(v2_binary::encode_broadcast(topic, event, p.bytes()),
                          true);
      return make_frame(
        v2_binary::encode_push(*join_ref, topic, event, p.bytes()), true);
    }
    return text_frame(join_ref, ref, topic, event, 64, [&](std::string& out) {
      json_text::append_value(out, p.json(), 1);
    });
  }

  frame encode_json_text(const opt_string& join_ref, const opt_string& ref,
                         std::string_view topic, std::string_view event,
                         std::string_view payload_json) const override {
    return text_frame(join_ref, ref, topic, event, 64 + payload_json.size(),
                      [&](std::string& out) { out += payload_json; });
  }

  // `[join_ref, ref, topic, event, PAYLOAD]`, the payload written by `body`.
  template <class Body>
  static frame text_frame(const opt_string& join_ref, const opt_string& ref,
                          std::string_view topic, std::string_view event,
                          std::size_t reserve, Body body) {
    std::string out;
    out.reserve(reserve + topic.size() + event.size());
    out.push_back('[');
    json_text::append_opt(out, join_ref);
    out.push_back(',');
    json_text::append_opt(out, ref);
    out.push_back(',');
    json_text::append_string(out, topic);
    out.push_back(',');
    json_text::append_string(out, event);
    out.push_back(',');
    body(out);
    out.push_back(']');
    return make_frame(std::move(out));
  }

  frame encode_reply(const opt_string& join_ref, const opt_string& ref,
                     std::string_view topic, reply_status status,
                     const payload& response) const override {
    if (response.is_binary())
      return make_frame(
        v2_binary::encode_reply(join_ref.value_or(""), ref.value_or(""), topic,
                                to_string(status), response.bytes()),
        true);
    std::string out;
    out.reserve(96 + topic.size());
    out.push_back('[');
    json_text::append_opt(out, join_ref);
    out.push_back(',');
    json_text::append_opt(out, ref);
    out.push_back(',');
    json_text::append_string(out, topic);
    out += ",\"phx_reply\",{\"status\":\"";
    out += to_string(status);
    out += "\",\"response\":";
    json_text::append_value(out, response.json(), 2);
    out += "}]";
    return make_frame(std::move(out));
  }
};

}  // namespace

const serializer& v2_json_serializer_instance() {
  static const v2_json_serializer instance;
  return instance;
}

}  // namespace fenix::protocol
