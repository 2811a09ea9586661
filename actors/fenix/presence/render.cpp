// Phoenix payloads for presence (declared in actors/presence_state.hpp).
#include "fenix/presence/state.hpp"

#include <string_view>
#include <unordered_map>

namespace fenix::presence {

namespace {

namespace json = boost::json;

void append_meta(json::object& map, const std::string& key,
                 const json::object& meta) {
  auto& slot = map[key];
  if (!slot.is_object())
    slot = json::object{{"metas", json::array{}}};
  slot.as_object()["metas"].as_array().push_back(meta);
}

}  // namespace

boost::json::object render_presences(const std::vector<entry>& entries) {
  json::object out;
  for (auto& e : entries)
    append_meta(out, e.key, e.meta);
  return out;
}

std::string render_presences_text(const std::vector<entry>& entries) {
  // Keys in order of first appearance, metas in the order given, as
  // render_presences (json::object keeps insertion order).
  std::vector<std::vector<const json::object*>> metas;
  std::vector<std::string_view> keys;
  std::unordered_map<std::string_view, std::size_t> slot;
  std::size_t size = 2;
  for (auto& e : entries) {
    auto [i, fresh] = slot.try_emplace(e.key, keys.size());
    if (fresh) {
      keys.push_back(e.key);
      metas.emplace_back();
      size += e.key.size() + 16;
    }
    metas[i->second].push_back(&e.meta);
    size += 64;
  }
  std::string out;
  out.reserve(size);
  out.push_back('{');
  for (std::size_t k = 0; k < keys.size(); ++k) {
    if (k > 0)
      out.push_back(',');
    out += json::serialize(json::string_view{keys[k]});
    out += ":{\"metas\":[";
    for (std::size_t m = 0; m < metas[k].size(); ++m) {
      if (m > 0)
        out.push_back(',');
      out += json::serialize(*metas[k][m]);
    }
    out += "]}";
  }
  out.push_back('}');
  return out;
}

std::map<std::string, boost::json::object> render_diffs(const changes& cs) {
  std::map<std::string, json::object> out;
  for (auto& c : cs) {
    auto [i, fresh] = out.try_emplace(c.topic);
    if (fresh)
      i->second =
        json::object{{"joins", json::object{}}, {"leaves", json::object{}}};
    auto field = c.kind == change_kind::join ? "joins" : "leaves";
    append_meta(i->second[field].as_object(), c.key, c.meta);
  }
  return out;
}

}  // namespace fenix::presence
