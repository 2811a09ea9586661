#include "fenix/protocol/v2_binary_codec.hpp"

#include <stdexcept>

namespace fenix::protocol::v2_binary {

namespace {

void put_len(std::string& out, std::string_view field) {
  if (field.size() > 255)
    throw std::length_error("V2 binary field longer than 255 bytes");
  out.push_back(static_cast<char>(static_cast<unsigned char>(field.size())));
}

std::string assemble(kind k, std::initializer_list<std::string_view> fields,
                     std::string_view data) {
  std::string out;
  std::size_t total = 1 + fields.size() + data.size();
  for (auto f : fields)
    total += f.size();
  out.reserve(total);
  out.push_back(static_cast<char>(k));
  for (auto f : fields)
    put_len(out, f);
  for (auto f : fields)
    out.append(f.data(), f.size());
  out.append(data.data(), data.size());
  return out;
}

}  // namespace

decode_result decode(std::string_view data) {
  if (data.empty())
    return decode_error{"empty binary frame"};
  if (static_cast<unsigned char>(data[0]) != push)
    return decode_error{"unknown binary kind "
                        + std::to_string(static_cast<unsigned char>(data[0]))};
  if (data.size() < 5)
    return decode_error{"binary frame header truncated"};
  std::size_t lens[4];
  for (int i = 0; i < 4; ++i)
    lens[i] = static_cast<unsigned char>(data[1 + i]);
  std::size_t pos = 5;
  std::string_view fields[4];
  for (int i = 0; i < 4; ++i) {
    if (data.size() - pos < lens[i])
      return decode_error{"binary frame field truncated"};
    fields[i] = data.substr(pos, lens[i]);
    pos += lens[i];
  }
  for (auto& f : fields)
    if (!valid_utf8(f))
      return decode_error{"binary frame header is not valid UTF-8"};
  message m;
  // An empty join_ref or ref stands for null (the client never sends "").
  if (!fields[0].empty())
    m.join_ref = std::string{fields[0]};
  if (!fields[1].empty())
    m.ref = std::string{fields[1]};
  m.topic = std::string{fields[2]};
  m.event = std::string{fields[3]};
  m.payload = payload::binary(std::string{data.substr(pos)});
  return m;
}

std::string encode_push(std::string_view join_ref, std::string_view topic,
                        std::string_view event, std::string_view data) {
  return assemble(push, {join_ref, topic, event}, data);
}

std::string encode_reply(std::string_view join_ref, std::string_view ref,
                         std::string_view topic, std::string_view status,
                         std::string_view data) {
  return assemble(reply, {join_ref, ref, topic, status}, data);
}

std::string encode_broadcast(std::string_view topic, std::string_view event,
                             std::string_view data) {
  return assemble(broadcast, {topic, event}, data);
}

}  // namespace fenix::protocol::v2_binary
