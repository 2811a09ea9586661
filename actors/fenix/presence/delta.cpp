#include "fenix/presence/delta.hpp"

namespace fenix::presence {

namespace {

namespace json = boost::json;

json::value slice_to_json(const replica_id& r, const delta_slice& s) {
  json::array context;
  for (auto& [lo, hi] : s.context.intervals())
    context.emplace_back(json::array{lo, hi});
  json::array values;
  values.reserve(s.values.size());
  for (auto& v : s.values)
    values.emplace_back(
      json::array{v.counter, v.topic, v.key, v.owner, v.meta});
  json::array removals;
  removals.reserve(s.removals.size());
  for (auto& x : s.removals)
    removals.emplace_back(json::array{x.event, x.target});
  return json::object{{"replica", replica_to_json(r)},
                      {"context", std::move(context)},
                      {"floor", s.floor},
                      {"values", std::move(values)},
                      {"removals", std::move(removals)}};
}

std::optional<std::string> string_from_json(const json::value& v) {
  if (auto s = v.if_string())
    return std::string{s->data(), s->size()};
  return std::nullopt;
}

const json::array* field_array(const json::object& obj, const char* name) {
  auto i = obj.find(name);
  return i == obj.end() ? nullptr : i->value().if_array();
}

bool context_from_json(const json::array& arr, counter_set& out) {
  for (auto& item : arr) {
    auto pair = item.if_array();
    if (pair == nullptr || pair->size() != 2)
      return false;
    auto lo = u64_from_json((*pair)[0]);
    auto hi = u64_from_json((*pair)[1]);
    if (!lo || !hi || *lo == 0 || *lo > *hi)
      return false;
    out.insert(*lo, *hi);
  }
  return true;
}

bool values_from_json(const json::array& arr, std::vector<delta_value>& out) {
  out.reserve(arr.size());
  for (auto& item : arr) {
    auto row = item.if_array();
    if (row == nullptr || row->size() != 5)
      return false;
    auto counter = u64_from_json((*row)[0]);
    auto topic = string_from_json((*row)[1]);
    auto key = string_from_json((*row)[2]);
    auto owner = u64_from_json((*row)[3]);
    auto meta = (*row)[4].if_object();
    if (!counter || *counter == 0 || !topic || !key || !owner || !meta)
      return false;
    out.push_back(
      delta_value{*counter, std::move(*topic), std::move(*key), *owner, *meta});
  }
  return true;
}

bool removals_from_json(const json::array& arr, std::vector<removal>& out) {
  out.reserve(arr.size());
  for (auto& item : arr) {
    auto pair = item.if_array();
    if (pair == nullptr || pair->size() != 2)
      return false;
    auto event = u64_from_json((*pair)[0]);
    auto target = u64_from_json((*pair)[1]);
    if (!event || !target || *target == 0 || *target >= *event)
      return false;
    out.push_back(removal{*event, *target});
  }
  return true;
}

std::optional<std::pair<replica_id, delta_slice>>
slice_from_json(const json::value& v) {
  auto obj = v.if_object();
  if (obj == nullptr)
    return std::nullopt;
  auto r = obj->find("replica");
  auto f = obj->find("floor");
  auto context = field_array(*obj, "context");
  auto values = field_array(*obj, "values");
  auto removals = field_array(*obj, "removals");
  if (r == obj->end() || f == obj->end() || !context || !values || !removals)
    return std::nullopt;
  auto id = replica_from_json(r->value());
  auto floor = u64_from_json(f->value());
  if (!id || !floor)
    return std::nullopt;
  delta_slice s;
  s.floor = *floor;
  if (!context_from_json(*context, s.context)
      || !values_from_json(*values, s.values)
      || !removals_from_json(*removals, s.removals))
    return std::nullopt;
  return std::make_pair(std::move(*id), std::move(s));
}

}  // namespace

std::size_t delta::value_count() const {
  std::size_t n = 0;
  for (auto& kv : slices)
    n += kv.second.values.size();
  return n;
}

boost::json::value delta::to_json() const {
  json::array arr;
  arr.reserve(slices.size());
  for (auto& [r, s] : slices)
    arr.emplace_back(slice_to_json(r, s));
  return json::object{{"slices", std::move(arr)}};
}

std::optional<delta> delta::from_json(const boost::json::value& v) {
  auto obj = v.if_object();
  if (obj == nullptr)
    return std::nullopt;
  auto arr = field_array(*obj, "slices");
  if (arr == nullptr)
    return std::nullopt;
  delta result;
  for (auto& item : *arr) {
    auto s = slice_from_json(item);
    if (!s
        || !result.slices.emplace(std::move(s->first), std::move(s->second))
              .second)
      return std::nullopt;  // malformed or duplicate replica
  }
  return result;
}

}  // namespace fenix::presence
