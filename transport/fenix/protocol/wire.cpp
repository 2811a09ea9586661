// The client's side of the V2 wire (see wire.hpp).

#include "fenix/protocol/wire.hpp"

#include "fenix/protocol/v2_binary_codec.hpp"

namespace fenix::protocol {

decode_result decode_server_frame(std::string_view data, bool binary) {
  if (binary)
    return v2_binary::decode_server(data);
  // A server frame may use the whole depth (a reply's response, a
  // presence_diff around a meta): only the frame's own level is taken.
  return serializer_for(protocol_version::v2)
    .decode(data, false, json_max_depth - 1);
}

std::string encode_client_binary(std::string_view join_ref,
                                 std::string_view ref, std::string_view topic,
                                 std::string_view event,
                                 std::string_view data) {
  return v2_binary::encode_client_push(join_ref, ref, topic, event, data);
}

std::string reply_status_of(const message& m) {
  if (m.event != "phx_reply" || !m.payload.json().is_object())
    return {};
  auto* s = m.payload.json().get_object().if_contains("status");
  return s && s->is_string() ? std::string{s->get_string()} : std::string{};
}

}  // namespace fenix::protocol
