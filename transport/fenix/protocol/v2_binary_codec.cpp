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

// Splits the `count` length-prefixed fields after the kind byte; the rest
// is the payload. Empty when the header is truncated (`error` says why).
bool split_fields(std::string_view data, std::size_t count,
                  std::string_view* fields, std::string_view& rest,
                  std::string& error) {
  if (data.size() < 1 + count) {
    error = "binary frame header truncated";
    return false;
  }
  std::size_t pos = 1 + count;
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t len = static_cast<unsigned char>(data[1 + i]);
    if (data.size() - pos < len) {
      error = "binary frame field truncated";
      return false;
    }
    fields[i] = data.substr(pos, len);
    pos += len;
  }
  for (std::size_t i = 0; i < count; ++i)
    if (!valid_utf8(fields[i])) {
      error = "binary frame header is not valid UTF-8";
      return false;
    }
  rest = data.substr(pos);
  return true;
}

// An empty join_ref or ref stands for null (no client or server sends "").
opt_string opt(std::string_view s) {
  return s.empty() ? std::nullopt : opt_string{std::string{s}};
}

}  // namespace

decode_result decode(std::string_view data) {
  if (data.empty())
    return decode_error{"empty binary frame"};
  if (static_cast<unsigned char>(data[0]) != push)
    return decode_error{"unknown binary kind "
                        + std::to_string(static_cast<unsigned char>(data[0]))};
  std::string_view f[4], rest;
  std::string error;
  if (!split_fields(data, 4, f, rest, error))
    return decode_error{std::move(error)};
  message m;
  m.join_ref = opt(f[0]);
  m.ref = opt(f[1]);
  m.topic = std::string{f[2]};
  m.event = std::string{f[3]};
  m.payload = payload::binary(std::string{rest});
  return m;
}

decode_result decode_server(std::string_view data) {
  if (data.empty())
    return decode_error{"empty binary frame"};
  auto k = static_cast<unsigned char>(data[0]);
  // Fields per kind: push (join_ref, topic, event), reply (join_ref, ref,
  // topic, status), broadcast (topic, event); protocol doc 2.3.
  std::size_t count = k == push ? 3 : k == reply ? 4 : k == broadcast ? 2 : 0;
  if (count == 0)
    return decode_error{"unknown binary kind " + std::to_string(k)};
  std::string_view f[4], rest;
  std::string error;
  if (!split_fields(data, count, f, rest, error))
    return decode_error{std::move(error)};
  message m;
  m.payload = payload::binary(std::string{rest});
  if (k == push) {
    m.join_ref = opt(f[0]);
    m.topic = std::string{f[1]};
    m.event = std::string{f[2]};
  } else if (k == reply) {
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

std::string encode_client_push(std::string_view join_ref, std::string_view ref,
                               std::string_view topic, std::string_view event,
                               std::string_view data) {
  return assemble(push, {join_ref, ref, topic, event}, data);
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
