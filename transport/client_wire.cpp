// The client's wire helpers (see client.hpp): V2 binary frames from the
// server, binary pushes to it, and reply status. No Beast, no socket.

#include <stdexcept>
#include <string>

#include "transport/client.hpp"
#include "transport/serializer.hpp"

namespace fenix::transport {

decode_result decode_server_frame(std::string_view data, bool binary) {
  if (!binary)
    return serializer_for(protocol_version::v2).decode(data, false);
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

}  // namespace fenix::transport
