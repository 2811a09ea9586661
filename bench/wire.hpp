/// The benchmark's view of the wire: building the frames it sends and
/// scanning the frames it receives without a full JSON parse (a client
/// may read a few hundred thousand frames per second on a shared core).
///
///   auto text = bench_payload(pub, seq, now_ns(), 100);   // 100 bytes
///   client.send_text(push_frame("1", ref, "bench:1", "broadcast", text));
///
///   frame_head h;
///   if (scan_head(data, h) && h.event == "broadcast")
///     auto seq = find_int(h.payload, "s");
///
/// Benchmark payloads are `{"p":PUB,"s":SEQ,"t":SENT_NS,"x":"xx..."}`,
/// padded with 'x' to the requested size: the publisher, its sequence
/// number and the send time on the steady clock.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace fenix::bench {

/// The first four elements of a V2 frame `[join_ref, ref, topic, event,
/// payload]`, as raw string contents (escapes left as they are).
struct frame_head {
  std::string_view join_ref;  // empty if null
  std::string_view ref;       // empty if null
  std::string_view topic;
  std::string_view event;
  std::string_view payload;  // the payload's JSON text
};

/// Scans a text frame; false if it is not a V2 array of that shape.
bool scan_head(std::string_view frame, frame_head& out);

/// The integer after `"key":` in `json`, the first occurrence.
std::optional<std::int64_t> find_int(std::string_view json,
                                     std::string_view key);

/// A benchmark payload of at least `size` bytes (exactly, if it fits).
std::string bench_payload(std::uint64_t pub, std::uint64_t seq,
                          std::int64_t sent_ns, std::size_t size);

/// `[join_ref, ref, topic, event, payload]`, payload given as JSON text;
/// an empty join_ref is sent as null.
std::string push_frame(std::string_view join_ref, std::string_view ref,
                       std::string_view topic, std::string_view event,
                       std::string_view payload_json);

/// Calls `fn(parent, key)` for the keys of the object `json` (parent "")
/// and of the objects that are its values (parent: their key), such as
/// the users of a presence_state or the joins/leaves of a presence_diff.
void for_each_key(
  std::string_view json,
  const std::function<void(std::string_view parent, std::string_view key)>& fn);

/// "u42" -> 42 (presence user names); nullopt for anything else.
std::optional<std::size_t> user_index(std::string_view key);

}  // namespace fenix::bench
