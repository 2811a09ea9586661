// Writes the seed corpora, corpus/<harness>/<name>, from the project's own
// encoders where it has them (serializers, sign_token, presence deltas).
//   cmake --build build-fuzz --target fuzz_gen_corpus
//   build-fuzz/fuzz_gen_corpus tests/fuzz/corpus
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "fenix/presence/state.hpp"
#include "apps/common/jwt.hpp"
#include "fenix/protocol/serializer.hpp"
#include "fenix/transport/ws/frame.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace fenix;
using namespace fenix::protocol;
namespace ws = fenix::transport::ws;

namespace {

fs::path root;

void put(const std::string& harness, const std::string& name,
         const std::string& bytes) {
  fs::create_directories(root / harness);
  std::ofstream{root / harness / name, std::ios::binary} << bytes;
}

// A masked client frame; `fin` false for a fragment.
std::string ws(ws::ws_opcode op, const std::string& payload, bool fin = true) {
  std::uint8_t hdr[ws::max_header_size];
  auto n = ws::write_header(hdr, op, payload.size());
  if (!fin)
    hdr[0] &= 0x7F;
  hdr[1] |= 0x80;
  std::string out{reinterpret_cast<char*>(hdr), n};
  const char mask[4] = {0x37, static_cast<char>(0xfa), 0x21, 0x3d};
  out.append(mask, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return out;
}

std::string text(const frame& f) {
  return *f.data;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_gen_corpus DIR\n";
    return 2;
  }
  root = argv[1];
  using ws::ws_opcode;
  auto& v1 = serializer_for(protocol_version::v1);
  auto& v2 = serializer_for(protocol_version::v2);
  json::object body{{"body", "hi \xc3\xa9"}, {"n", 1.5}, {"tags", {1, 2}}};

  // ws_frame: byte 0 = size limit (1 + 8 * b), byte 1 = split seed.
  std::string cfg{"\x40\x07", 2};  // limit 513
  auto join = text(v2.encode(opt_string{"1"}, opt_string{"1"}, "room:lobby",
                             "phx_join", json::object{}));
  put("ws_frame", "text_join", cfg + ws(ws_opcode::text, join));
  put("ws_frame", "fragmented",
      cfg + ws(ws_opcode::text, "[null,\"2\",", false)
        + ws(ws_opcode::ping, "p")
        + ws(ws_opcode::continuation, "\"phoenix\",\"heartbeat\",{}]"));
  put("ws_frame", "binary_then_close",
      cfg + ws(ws_opcode::binary, std::string("\0\1\1\2\3", 5) + "a1rt:xev")
        + ws(ws_opcode::pong, "")
        + ws(ws_opcode::close, "\x03\xe8"
                               "bye"));
  put("ws_frame", "too_big",
      std::string{"\x02\x01", 2} + ws(ws_opcode::text, std::string(200, 'x'))
        + ws(ws_opcode::close, ""));
  put("ws_frame", "len16", cfg + ws(ws_opcode::binary, std::string(300, 'b')));

  // serializer: real client frames, V1 objects, V2 arrays, V2 binary push.
  put("serializer", "v2_join", join);
  put("serializer", "v2_heartbeat",
      text(v2.encode(std::nullopt, opt_string{"2"}, "phoenix", "heartbeat",
                     json::object{})));
  put("serializer", "v2_push",
      text(v2.encode(opt_string{"1"}, opt_string{"3"}, "room:lobby", "new_msg",
                     body)));
  put("serializer", "v1_push",
      R"({"topic":"room:lobby","event":"new_msg","payload":{"body":"hi"},)"
      R"("ref":"4","join_ref":"1"})");
  put(
    "serializer", "v1_join",
    text(v1.encode(std::nullopt, opt_string{"1"}, "room:1", "phx_join", body)));
  put("serializer", "v2_binary_push",
      std::string("\0\1\1\12\4", 5) + "14room:lobbyblob" + "\x01\x02\xff");
  put("serializer", "vsn", "2.0.0");

  // http: queries, percent-encoding, base64, origins.
  put("http", "query", "vsn=2.0.0&token=a%20b+c&&x=%zz&user=%C3%A9");
  put("http", "origin", "https://Example.COM:4443/path?q");
  put("http", "origin_ipv6", "//[::1]:4000");
  put("http", "wildcard", "//*.example.com");
  put("http", "base64", "cGhvZW5peA==");

  // jwt: tokens signed with the test secret, valid at the harness's "now".
  std::string secret = "test-secret-0123456789";
  std::chrono::system_clock::time_point now{std::chrono::seconds{1700000000}};
  auto token = apps::sign_token("alice", secret, now - std::chrono::hours{1});
  put("jwt", "valid", token);
  put("jwt", "unsigned_claims", token.substr(0, token.rfind('.')));
  put("jwt", "expired",
      apps::sign_token("bob", secret, now - std::chrono::hours{48}));
  put("jwt", "alg_none",
      apps::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "."
        + token.substr(token.find('.') + 1,
                       token.rfind('.') - token.find('.') - 1)
        + ".");
  put("jwt", "nbf_claims",
      apps::base64url_encode(R"({"alg":"HS256"})") + "."
        + apps::base64url_encode(
          R"({"sub":"carol","exp":1700003600.5,"nbf":1699999999})"));

  // presence: deltas made by a real replica.
  presence::state a{presence::replica_id{"node-a", 1700000000000001}};
  a.track("room:lobby", "alice", 7, {{"phx_ref", "F1"}});
  a.track("room:lobby", "bob", 8, {{"phx_ref", "F2"}, {"status", "away"}});
  put("presence", "gossip_tracks",
      json::serialize(a.take_pending_delta().to_json()));
  a.update("room:lobby", "alice", 7, {{"phx_ref", "F3"}, {"typing", true}});
  a.untrack("room:lobby", "bob", 8);
  a.track("room:2", "alice", 9, {});
  put("presence", "gossip_update_untrack",
      json::serialize(a.take_pending_delta().to_json()));
  put("presence", "full_state", json::serialize(a.extract_delta({}).to_json()));
  presence::state b{presence::replica_id{"node-b", 1700000000000002}};
  b.merge(a.extract_delta({}));
  b.track("room:lobby", "dave", 1, {{"phx_ref", "F9"}});
  presence::version_vector since;
  since.set(a.self(), 2);
  b.prune_removals(b.clock());
  put("presence", "catch_up_two_replicas",
      json::serialize(b.extract_delta(since).to_json()));
  return 0;
}
