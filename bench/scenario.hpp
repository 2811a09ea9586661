/// The scenario table and what a scenario's load part sees.
///
/// A scenario has two halves. `run` generates the load and measures what
/// the clients see; it runs once per worker (or once, alone) on its share
/// of the sizes, and marks phase boundaries with `ctx.sync("joined")`. At
/// each boundary the runner waits for every worker, snapshots the server
/// (RSS, CPU, /stats) and lets them go on. `finish` runs once on the merged
/// result with those snapshots and derives the figures (rates, losses, RSS
/// per connection, CPU per delivery).
///
///   const scenario* sc = find_scenario("fanout");
///   result r = sc->run(ctx);           // in each worker
///   merged.merge(r);                   // in the coordinator
///   sc->finish(merged, opts);
///   bool ok = sc->passed(merged);      // smoke: complete, no loss
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bench/options.hpp"
#include "bench/result.hpp"
#include "bench/server_probe.hpp"  // http_call

namespace fenix::bench {

struct run_context {
  const options& opts;
  std::size_t index = 0;  // this worker (0 when alone)
  std::size_t workers = 1;
  /// Waits until every worker reached `phase`; the server is snapshot
  /// after `settle` (time for it to finish the work of the phase).
  std::function<void(const std::string& phase,
                     std::chrono::milliseconds settle)>
    sync;

  /// This worker's share of `total` items, and the index of its first.
  std::size_t share(std::size_t total) const;
  std::size_t offset(std::size_t total) const;

  /// The --settle time, for syncs before an RSS reading.
  std::chrono::milliseconds settle() const {
    return std::chrono::milliseconds{static_cast<long>(opts.settle * 1000)};
  }

  /// A progress line on stderr (unless --quiet).
  void progress(const std::string& line) const;
};

struct scenario {
  const char* name;
  result (*run)(run_context& ctx);
  void (*finish)(result& merged, const options& opts);
  bool (*passed)(const result& merged);
};

/// The scenario named `name`, or nullptr.
const scenario* find_scenario(const std::string& name);

// -- the scenarios (one file each) --------------------------------------------

result run_connect(run_context& ctx);
void finish_connect(result& r, const options& opts);
bool passed_connect(const result& r);

result run_fanout(run_context& ctx);  // also chat (opts.scenario == "chat")
void finish_fanout(result& r, const options& opts);
bool passed_fanout(const result& r);

result run_echo(run_context& ctx);
void finish_echo(result& r, const options& opts);
bool passed_echo(const result& r);

result run_presence(run_context& ctx);
void finish_presence(result& r, const options& opts);
bool passed_presence(const result& r);

result run_churn(run_context& ctx);
void finish_churn(result& r, const options& opts);
bool passed_churn(const result& r);

result run_app_chat(run_context& ctx);  // the real fenix-chat (apps.md)
void finish_app_chat(result& r, const options& opts);
bool passed_app_chat(const result& r);

result run_app_timer(run_context& ctx);  // the real fenix-timer (apps.md)
void finish_app_timer(result& r, const options& opts);
bool passed_app_timer(const result& r);

// -- helpers shared by the scenarios ------------------------------------------

/// Seconds between two steady-clock ns stamps.
inline double seconds_between(double from_ns, double to_ns) {
  return (to_ns - from_ns) / 1e9;
}

/// Adds the server's CPU seconds and RSS change between two phases, and
/// the CPU per unit of work (`per` items, e.g. deliveries) in µs.
void add_server_cost(result& r, const std::string& from, const std::string& to,
                     double per, const std::string& per_name);

// -- helpers of the app scenarios (scenario_app_common.cpp) -------------------

/// A session token for `user` from the app's POST /api/session; throws
/// std::runtime_error unless the answer is 200 with a token.
std::string app_session(const options& opts, const std::string& user);

/// The app's GET /metrics as name -> value (empty if unavailable).
std::vector<std::pair<std::string, double>> app_metrics(const options& opts);

/// Server CPU (percent of one core) between two snapshots, -1 if unknown.
double server_cpu_util(const result& r, const std::string& from,
                       const std::string& to);

}  // namespace fenix::bench
