#include "bench/result.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

namespace fenix::bench {

namespace json = boost::json;

namespace {

const char* rule_name(merge_rule r) {
  switch (r) {
  case merge_rule::max:
    return "max";
  case merge_rule::min:
    return "min";
  default:
    return "sum";
  }
}

merge_rule rule_from(std::string_view s) {
  if (s == "max")
    return merge_rule::max;
  if (s == "min")
    return merge_rule::min;
  return merge_rule::sum;
}

double combine(merge_rule rule, double a, double b) {
  switch (rule) {
  case merge_rule::max:
    return std::max(a, b);
  case merge_rule::min:
    return std::min(a, b);
  default:
    return a + b;
  }
}

json::object summary(const histogram& h) {
  auto ms = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  return json::object{{"count", h.count()},
                      {"mean_ms", h.mean() / 1e6},
                      {"p50_ms", ms(h.percentile(50))},
                      {"p90_ms", ms(h.percentile(90))},
                      {"p99_ms", ms(h.percentile(99))},
                      {"p999_ms", ms(h.percentile(99.9))},
                      {"max_ms", ms(h.max())}};
}

json::object snapshot_json(const server_snapshot& s) {
  return json::object{{"phase", s.phase},
                      {"t_ns", s.t_ns},
                      {"rss_kib", s.rss_kib},
                      {"cpu_s", s.cpu_s},
                      {"ctx_switches", s.ctx_switches},
                      {"stats", s.stats}};
}

server_snapshot snapshot_from(const json::object& o) {
  server_snapshot s;
  s.phase = json::value_to<std::string>(o.at("phase"));
  s.t_ns = o.at("t_ns").to_number<std::int64_t>();
  s.rss_kib = o.at("rss_kib").to_number<std::int64_t>();
  s.cpu_s = o.at("cpu_s").to_number<double>();
  if (auto* c = o.if_contains("ctx_switches"))
    s.ctx_switches = c->to_number<std::int64_t>();
  if (auto* st = o.if_contains("stats"); st && st->is_object())
    s.stats = st->get_object();
  return s;
}

}  // namespace

void result::set(const std::string& name, double v, std::string unit,
                 merge_rule rule) {
  for (auto& f : figures)
    if (f.name == name) {
      f.value = v;
      f.unit = std::move(unit);
      f.rule = rule;
      return;
    }
  figures.push_back({name, v, std::move(unit), rule});
}

void result::erase(const std::string& name) {
  figures.erase(std::remove_if(figures.begin(), figures.end(),
                               [&](const figure& f) { return f.name == name; }),
                figures.end());
}

std::optional<double> result::get(const std::string& name) const {
  for (auto& f : figures)
    if (f.name == name)
      return f.value;
  return std::nullopt;
}

double result::value(const std::string& name, double fallback) const {
  return get(name).value_or(fallback);
}

const server_snapshot* result::snapshot(const std::string& phase) const {
  for (auto& s : snapshots)
    if (s.phase == phase)
      return &s;
  return nullptr;
}

void result::merge(const result& other) {
  if (scenario.empty())
    scenario = other.scenario;
  for (auto& [k, v] : other.params)
    if (!params.contains(k))
      params[k] = v;
  for (auto& f : other.figures) {
    if (auto mine = get(f.name))
      set(f.name, combine(f.rule, *mine, f.value), f.unit, f.rule);
    else
      set(f.name, f.value, f.unit, f.rule);
  }
  for (auto& [name, h] : other.histograms)
    histograms[name].merge(h);
  for (auto& [name, s] : other.series) {
    auto& mine = series[name];
    if (mine.size() < s.size())
      mine.resize(s.size(), 0);
    for (std::size_t i = 0; i < s.size(); ++i)
      mine[i] = std::max(mine[i], s[i]);
  }
}

json::object result::to_json() const {
  json::array figs;
  json::object values;
  for (auto& f : figures) {
    figs.push_back(json::object{{"name", f.name},
                                {"value", f.value},
                                {"unit", f.unit},
                                {"rule", rule_name(f.rule)}});
    values[f.name] = f.value;
  }
  json::object hists;
  for (auto& [name, h] : histograms)
    hists[name] =
      json::object{{"summary", summary(h)}, {"buckets", h.to_json()}};
  json::object ser;
  for (auto& [name, s] : series)
    ser[name] = json::value_from(s);
  json::array snaps;
  for (auto& s : snapshots)
    snaps.push_back(snapshot_json(s));
  return json::object{{"scenario", scenario},
                      {"label", label},
                      {"command", command},
                      {"params", params},
                      {"values", std::move(values)},
                      {"figures", std::move(figs)},
                      {"histograms", std::move(hists)},
                      {"series", std::move(ser)},
                      {"server", std::move(snaps)}};
}

result result::from_json(const json::value& v) try {
  auto& o = v.as_object();
  result r;
  r.scenario = json::value_to<std::string>(o.at("scenario"));
  r.label = json::value_to<std::string>(o.at("label"));
  r.command = json::value_to<std::string>(o.at("command"));
  r.params = o.at("params").as_object();
  for (auto& f : o.at("figures").as_array()) {
    auto& fo = f.as_object();
    r.set(json::value_to<std::string>(fo.at("name")),
          fo.at("value").to_number<double>(),
          json::value_to<std::string>(fo.at("unit")),
          rule_from(fo.at("rule").as_string()));
  }
  for (auto& [name, h] : o.at("histograms").as_object())
    r.histograms[std::string{name}] =
      histogram::from_json(h.as_object().at("buckets"));
  for (auto& [name, s] : o.at("series").as_object())
    r.series[std::string{name}] = json::value_to<std::vector<std::uint64_t>>(s);
  for (auto& s : o.at("server").as_array())
    r.snapshots.push_back(snapshot_from(s.as_object()));
  return r;
} catch (const std::invalid_argument&) {
  throw;
} catch (const std::exception& e) {
  throw std::invalid_argument(std::string{"result: malformed JSON: "}
                              + e.what());
}

std::string format_number(double v) {
  char buf[64];
  double a = std::fabs(v);
  if (v == std::floor(v) && a < 1e15) {
    // Integers with thousands separators.
    auto s = std::to_string(static_cast<long long>(a));
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (i != 0 && (s.size() - i) % 3 == 0)
        out.push_back(',');
      out.push_back(s[i]);
    }
    return (v < 0 ? "-" : "") + out;
  }
  if (a >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 1)
    std::snprintf(buf, sizeof buf, "%.2f", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string format_table(const result& r) {
  std::ostringstream out;
  out << r.scenario << (r.label.empty() ? "" : " [" + r.label + "]") << '\n';
  std::size_t width = 10;
  for (auto& f : r.figures)
    width = std::max(width, f.name.size());
  for (auto& [name, h] : r.histograms)
    width = std::max(width, name.size() + 5);
  auto pad = [&](const std::string& s) {
    return s + std::string(width + 2 - std::min(width + 1, s.size()), ' ');
  };
  for (auto& f : r.figures)
    out << "  " << pad(f.name) << format_number(f.value)
        << (f.unit.empty() ? "" : " " + f.unit) << '\n';
  if (!r.histograms.empty()) {
    out << "  " << pad("(ms)") << "count        p50      p90      p99    "
        << "p99.9      max\n";
    for (auto& [name, h] : r.histograms) {
      char line[160];
      auto ms = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e6; };
      std::snprintf(line, sizeof line, "%-10llu %8.3f %8.3f %8.3f %8.3f %8.3f",
                    static_cast<unsigned long long>(h.count()),
                    ms(h.percentile(50)), ms(h.percentile(90)),
                    ms(h.percentile(99)), ms(h.percentile(99.9)), ms(h.max()));
      out << "  " << pad(name) << line << '\n';
    }
  }
  return out.str();
}

}  // namespace fenix::bench
