#include "bench/scenario.hpp"

#include <iostream>

namespace fenix::bench {

std::size_t run_context::share(std::size_t total) const {
  return total / workers + (index < total % workers ? 1 : 0);
}

std::size_t run_context::offset(std::size_t total) const {
  auto base = total / workers;
  auto extra = total % workers;
  return index * base + std::min(index, extra);
}

void run_context::progress(const std::string& line) const {
  if (opts.quiet)
    return;
  std::cerr << "[" << opts.scenario;
  if (workers > 1)
    std::cerr << " w" << index;
  std::cerr << "] " << line << std::endl;
}

const scenario* find_scenario(const std::string& name) {
  static const scenario table[] = {
    {"connect", run_connect, finish_connect, passed_connect},
    {"fanout", run_fanout, finish_fanout, passed_fanout},
    {"chat", run_fanout, finish_fanout, passed_fanout},
    {"echo", run_echo, finish_echo, passed_echo},
    {"presence", run_presence, finish_presence, passed_presence},
    {"churn", run_churn, finish_churn, passed_churn},
    {"app-chat", run_app_chat, finish_app_chat, passed_app_chat},
    {"app-timer", run_app_timer, finish_app_timer, passed_app_timer},
  };
  for (auto& s : table)
    if (name == s.name)
      return &s;
  return nullptr;
}

void add_server_cost(result& r, const std::string& from, const std::string& to,
                     double per, const std::string& per_name) {
  auto* a = r.snapshot(from);
  auto* b = r.snapshot(to);
  if (!a || !b)
    return;
  if (a->cpu_s >= 0 && b->cpu_s >= 0) {
    double cpu = b->cpu_s - a->cpu_s;
    double wall = seconds_between(static_cast<double>(a->t_ns),
                                  static_cast<double>(b->t_ns));
    r.set("server_cpu_s", cpu, "s");
    if (wall > 0)
      r.set("server_cpu_util", 100.0 * cpu / wall, "% of one core");
    if (per > 0)
      r.set("server_cpu_per_" + per_name, cpu * 1e6 / per, "us");
  }
  if (a->ctx_switches >= 0 && b->ctx_switches >= 0 && per > 0)
    r.set("server_ctx_switches_per_" + per_name.substr(0, per_name.rfind('_')),
          static_cast<double>(b->ctx_switches - a->ctx_switches) / per);
  if (a->rss_kib >= 0 && b->rss_kib >= 0) {
    r.set("server_rss_" + from, static_cast<double>(a->rss_kib), "KiB");
    r.set("server_rss_" + to, static_cast<double>(b->rss_kib), "KiB");
  }
}

}  // namespace fenix::bench
