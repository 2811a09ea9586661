// Phoenix payloads for presence (declared in actors/presence_state.hpp).
#include "actors/presence_state.hpp"

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

} // namespace

boost::json::object render_presences(const std::vector<entry>& entries) {
  json::object out;
  for (auto& e : entries)
    append_meta(out, e.key, e.meta);
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

} // namespace fenix::presence
