// What the app scenarios (app-chat, app-timer) share: HTTP calls to the
// app (sessions, /metrics) and how busy the machine was over a window.

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bench/scenario.hpp"

namespace fenix::bench {

namespace json = boost::json;

std::string app_session(const options& opts, const std::string& user) {
  auto a = http_call(opts.host, opts.port, "POST", "/api/session",
                     json::serialize(json::object{{"username", user}}));
  if (a.status != 200)
    throw std::runtime_error("POST /api/session for " + user + ": status "
                             + std::to_string(a.status) + " " + a.body);
  json::error_code ec;
  auto v = json::parse(a.body, ec);
  const json::value* token =
    !ec && v.is_object() ? v.as_object().if_contains("token") : nullptr;
  if (!token || !token->is_string())
    throw std::runtime_error("POST /api/session: no token in " + a.body);
  return std::string{token->get_string()};
}

std::vector<std::pair<std::string, double>> app_metrics(const options& opts) {
  std::vector<std::pair<std::string, double>> out;
  auto a = http_call(opts.host, opts.port, "GET", "/metrics");
  if (a.status != 200)
    return out;
  std::istringstream in{a.body};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto sp = line.rfind(' ');
    if (sp == std::string::npos)
      continue;
    try {
      out.emplace_back(line.substr(0, sp), std::stod(line.substr(sp + 1)));
    } catch (const std::exception&) {
    }
  }
  return out;
}

double server_cpu_util(const result& r, const std::string& from,
                       const std::string& to) {
  auto* a = r.snapshot(from);
  auto* b = r.snapshot(to);
  if (!a || !b || a->cpu_s < 0 || b->cpu_s < 0)
    return -1;
  double wall =
    seconds_between(static_cast<double>(a->t_ns), static_cast<double>(b->t_ns));
  return wall > 0 ? 100.0 * (b->cpu_s - a->cpu_s) / wall : -1;
}

}  // namespace fenix::bench
