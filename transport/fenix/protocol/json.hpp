/// JSON in and out of fenix, the one place that fixes how numbers and
/// nesting cross the wire (client frames, cluster peers, HTTP bodies):
///
///   json::error_code ec;
///   auto v = parse_json(text, ec);            // precise, finite, <= 32 deep
///   std::string s = serialize_json(v);        // throws std::domain_error
///
/// Numbers. Boost 1.81's parser computes doubles as mantissa * 10^exp
/// (`detail::dec_to_float`, up to a few ULPs off; `1e999999` becomes
/// infinity and `0e400` NaN), and 1.81 has no option to do better
/// (`parse_options` holds only max_depth, allow_comments,
/// allow_trailing_commas and allow_invalid_utf8; `number_precision` came
/// later). So parse_json runs `json::basic_parser` with its own handler,
/// which keeps the source text of every non-integer number (the handler's
/// `on_number_part` / `on_double` string views) and converts it again with
/// `std::from_chars`, correctly rounded. A number that overflows a double is
/// refused (`errc::result_out_of_range`); one that underflows becomes a
/// signed zero as IEEE rounding says. Boost's serializer writes the shortest
/// text that reads back to the same double (Ryu), so decode -> encode ->
/// decode is exact.
///
/// Depth. Every parse is limited to `json_max_depth` (Boost's default).
/// A client payload may be at most `max_payload_depth` deep: the deepest
/// place fenix relays one is a presence meta inside a gossip delta
/// (`{"slices":[{"values":[[c,topic,key,owner,META]]}]}`, 5 levels), so
/// whatever a client gets accepted can travel to every peer and back out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace fenix::protocol {

namespace json = boost::json;

/// Nesting of arrays and objects any fenix parser accepts (a document of
/// this many nested containers parses, one more does not).
constexpr std::size_t json_max_depth = 32;

/// Levels the deepest relay wraps around a client payload (a presence meta
/// in a gossip delta).
constexpr std::size_t relay_wrapper_depth = 5;

/// The deepest payload a client frame may carry.
constexpr std::size_t max_payload_depth = json_max_depth - relay_wrapper_depth;

/// What one parsed document may cost in memory (values, containers,
/// strings): 64 MiB. JSON can cost 25-40 times its text (an array of small
/// numbers), so a frame under max_frame_size could still take gigabytes;
/// past this budget the parse fails (a frame: close 1007). Each socket
/// actor parses one frame at a time, so the parsed memory in flight is at
/// most this times the CAF worker count.
constexpr std::size_t max_parsed_bytes = 64 << 20;

/// Parses standard JSON at most `max_depth` deep with precise numbers;
/// non-finite numbers are an error (`ec` is set, the value is null).
json::value parse_json(std::string_view text, json::error_code& ec,
                       std::size_t max_depth = json_max_depth);

/// Nesting depth: 0 for a scalar, 1 for `[]` or `{"a":1}`, 2 for `[[]]`.
std::size_t json_depth(const json::value& v);

/// Throws std::domain_error if `v` holds a non-finite number or is deeper
/// than `max_depth`: such JSON is never sent (no parser reads `Infinity`,
/// and fenix's peers and clients refuse what they cannot relay).
void check_json(const json::value& v, std::size_t max_depth = json_max_depth);

/// Appends `v` as JSON text after check_json(v, max_depth).
void append_json(std::string& out, const json::value& v,
                 std::size_t max_depth = json_max_depth);

/// `v` as JSON text after check_json(v, max_depth).
std::string serialize_json(const json::value& v,
                           std::size_t max_depth = json_max_depth);

}  // namespace fenix::protocol
