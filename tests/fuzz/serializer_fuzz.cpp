// Phoenix serializers (transport/serializer.hpp). Each input is decoded as a
// V1 JSON text frame, a V2 JSON text frame and a V2 binary frame; decoding
// must not crash. Whatever decodes must encode (encode, encode_json_text,
// encode_reply) and decode again equal: refs (V1 sends no join_ref), topic,
// event, payload (exactly: fenix parses numbers precisely, see
// fenix/protocol/json.hpp, and never sends a non-finite one). A V2 binary push re-encoded in the client layout (protocol doc
// 2.3) must give the input bytes back, and the server's binary encodes of its
// fields must not throw. negotiate() also gets the input as a vsn.
#include <cstdint>
#include <variant>

#include <boost/json/serialize.hpp>

#include "fuzz_util.hpp"
#include "fenix/protocol/serializer.hpp"

using namespace fenix;
using namespace fenix::protocol;

namespace {

// Read back as a client reads a server frame (fenix::client): the payload
// may use the whole depth but the frame's level (a reply's response sits
// one deeper than the max_payload_depth a client frame may have).
message redecode(const serializer& s, const frame& f) {
  auto r = s.decode(*f.data, f.binary, json_max_depth - 1);
  FUZZ_CHECK(std::holds_alternative<message>(r));  // what we send must parse
  return std::get<message>(std::move(r));
}

void text_round_trip(const serializer& s, const message& m) {
  auto f = s.encode(m.join_ref, m.ref, m.topic, m.event, m.payload);
  auto m2 = redecode(s, f);
  bool v1 = s.version() == protocol_version::v1;
  FUZZ_CHECK(m2.join_ref == (v1 ? std::nullopt : m.join_ref)
             && m2.ref == m.ref);
  FUZZ_CHECK(m2.topic == m.topic && m2.event == m.event);
  FUZZ_CHECK(m2.payload.json() == m.payload.json());
  auto text = json::serialize(m.payload.json());
  FUZZ_CHECK(*s.encode_json_text(m.join_ref, m.ref, m.topic, m.event, text).data
             == *f.data);
  auto r = redecode(s, s.encode_reply(m.join_ref, m.ref, m.topic,
                                      reply_status::error, m.payload));
  FUZZ_CHECK(r.event == "phx_reply" && r.ref == m.ref && r.topic == m.topic);
  FUZZ_CHECK(r.payload.object().at("status") == "error");
  FUZZ_CHECK(r.payload.object().at("response") == m.payload.json());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  if (auto* s = negotiate(in))  // "" is 1.0.0, else the major is the version
    FUZZ_CHECK(in.empty() || in[0] == '1' + static_cast<int>(s->version()));
  for (auto v : {protocol_version::v1, protocol_version::v2}) {
    auto r = serializer_for(v).decode(in, false);
    if (auto* m = std::get_if<message>(&r))
      text_round_trip(serializer_for(v), *m);
  }
  auto& v2 = serializer_for(protocol_version::v2);
  auto r = v2.decode(in, true);
  auto* m = std::get_if<message>(&r);
  if (!m)
    return 0;
  FUZZ_CHECK(m->payload.is_binary());
  std::string f[] = {m->join_ref.value_or(""), m->ref.value_or(""), m->topic,
                     m->event};
  std::string back(1, '\0');  // kind 0: push
  for (auto& x : f)
    back.push_back(static_cast<char>(x.size()));
  for (auto& x : f)
    back += x;
  FUZZ_CHECK(back + m->payload.bytes() == in);
  FUZZ_CHECK(
    v2.encode_push(m->join_ref.value_or("1"), m->topic, m->event, m->payload)
      .binary);
  FUZZ_CHECK(v2.encode_broadcast(m->topic, m->event, m->payload).binary);
  FUZZ_CHECK(
    v2.encode_reply(m->join_ref, m->ref, m->topic, reply_status::ok, m->payload)
      .binary);
  return 0;
}
