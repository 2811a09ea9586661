#include "bench/wire.hpp"

#include <charconv>

namespace fenix::bench {

namespace {

// Skips spaces from `i`.
std::size_t skip_ws(std::string_view s, std::size_t i) {
  while (i < s.size()
         && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
    ++i;
  return i;
}

// At a '"': the index just past the closing quote, or npos.
std::size_t end_of_string(std::string_view s, std::size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\')
      ++i;
    else if (s[i] == '"')
      return i + 1;
  }
  return std::string_view::npos;
}

// Reads a string or null element at `i`, then the ',' after it.
bool element(std::string_view s, std::size_t& i, std::string_view& out,
             bool nullable) {
  i = skip_ws(s, i);
  if (nullable && s.substr(i, 4) == "null") {
    out = {};
    i += 4;
  } else if (i < s.size() && s[i] == '"') {
    auto end = end_of_string(s, i);
    if (end == std::string_view::npos)
      return false;
    out = s.substr(i + 1, end - i - 2);
    i = end;
  } else {
    return false;
  }
  i = skip_ws(s, i);
  if (i >= s.size() || s[i] != ',')
    return false;
  ++i;
  return true;
}

}  // namespace

bool scan_head(std::string_view frame, frame_head& out) {
  auto i = skip_ws(frame, 0);
  if (i >= frame.size() || frame[i] != '[')
    return false;
  ++i;
  if (!element(frame, i, out.join_ref, true)
      || !element(frame, i, out.ref, true)
      || !element(frame, i, out.topic, false)
      || !element(frame, i, out.event, false))
    return false;
  i = skip_ws(frame, i);
  auto end = frame.find_last_of(']');
  if (end == std::string_view::npos || end < i)
    return false;
  while (end > i && skip_ws(frame, end - 1) == end)
    --end;  // spaces before the ']'
  out.payload = frame.substr(i, end - i);
  return true;
}

std::optional<std::int64_t> find_int(std::string_view json,
                                     std::string_view key) {
  std::string pattern;
  pattern.reserve(key.size() + 3);
  pattern += '"';
  pattern += key;
  pattern += "\":";
  auto at = json.find(pattern);
  if (at == std::string_view::npos)
    return std::nullopt;
  auto i = skip_ws(json, at + pattern.size());
  std::int64_t v = 0;
  auto [ptr, ec] =
    std::from_chars(json.data() + i, json.data() + json.size(), v);
  if (ec != std::errc{} || ptr == json.data() + i)
    return std::nullopt;
  return v;
}

std::string bench_payload(std::uint64_t pub, std::uint64_t seq,
                          std::int64_t sent_ns, std::size_t size) {
  std::string out = "{\"p\":" + std::to_string(pub)
                    + ",\"s\":" + std::to_string(seq)
                    + ",\"t\":" + std::to_string(sent_ns) + ",\"x\":\"";
  auto base = out.size() + 2;  // the closing "}
  if (size > base)
    out.append(size - base, 'x');
  out += "\"}";
  return out;
}

std::string push_frame(std::string_view join_ref, std::string_view ref,
                       std::string_view topic, std::string_view event,
                       std::string_view payload_json) {
  std::string out;
  out.reserve(32 + join_ref.size() + ref.size() + topic.size() + event.size()
              + payload_json.size());
  out += '[';
  if (join_ref.empty()) {
    out += "null";
  } else {
    out += '"';
    out += join_ref;
    out += '"';
  }
  out += ",\"";
  out += ref;
  out += "\",\"";
  out += topic;
  out += "\",\"";
  out += event;
  out += "\",";
  out += payload_json;
  out += ']';
  return out;
}

void for_each_key(
  std::string_view s,
  const std::function<void(std::string_view, std::string_view)>& fn) {
  // Depth counts objects and arrays; keys are strings followed by ':'
  // directly inside an object at depth 1 (the payload) or 2 (its values).
  int depth = 0;
  std::string_view parent;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == '"') {
      auto end = end_of_string(s, i);
      if (end == std::string_view::npos)
        return;
      auto after = skip_ws(s, end);
      if (after < s.size() && s[after] == ':' && depth <= 2) {
        auto key = s.substr(i + 1, end - i - 2);
        if (depth == 1) {
          parent = key;
          fn({}, key);
        } else if (depth == 2) {
          fn(parent, key);
        }
      }
      i = end - 1;
    }
  }
}

std::optional<std::size_t> user_index(std::string_view key) {
  if (key.size() < 2 || key[0] != 'u')
    return std::nullopt;
  std::size_t v = 0;
  auto [ptr, ec] = std::from_chars(key.data() + 1, key.data() + key.size(), v);
  if (ec != std::errc{} || ptr != key.data() + key.size())
    return std::nullopt;
  return v;
}

}  // namespace fenix::bench
