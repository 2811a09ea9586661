#include "bench/runner.hpp"

#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bench/child_process.hpp"
#include "bench/scenario.hpp"
#include "bench/server_probe.hpp"

namespace fenix::bench {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

constexpr auto worker_timeout = std::chrono::minutes{30};

const scenario& scenario_of(const options& opts) {
  auto* sc = find_scenario(opts.scenario);
  if (!sc)
    throw std::runtime_error("unknown scenario: " + opts.scenario);
  return *sc;
}

json::object params_of(const options& o) {
  return json::object{
    {"clients", o.clients},   {"publishers", o.publishers},
    {"rate", o.rate},         {"payload", o.payload},
    {"window", o.window},     {"duration", o.duration},
    {"count", o.count},       {"connect_rate", o.connect_rate},
    {"inflight", o.inflight}, {"topic", o.topic},
    {"workers", o.workers}};
}

// How busy the machine was during a run, in cores: the server, the load
// generator and anything else on this shared machine together.
class machine_meter {
public:
  machine_meter() : start_(machine_busy_jiffies()) {}

  void add_to(result& r) const {
    if (auto busy = busy_cores_between(start_, machine_busy_jiffies());
        busy >= 0)
      r.params["machine_busy_cores"] = busy;
    std::ifstream load{"/proc/loadavg"};
    double one = 0;
    if (load >> one)
      r.params["loadavg_1min"] = one;
  }

private:
  std::pair<double, double> start_;
};

// Fills in what every result carries, then the scenario's own figures.
void complete(result& r, const options& opts,
              std::vector<server_snapshot> snapshots) {
  r.scenario = opts.scenario;
  r.label = opts.label;
  r.command = command_line(opts);
  for (auto& [k, v] : params_of(opts))
    r.params[k] = v;
  r.snapshots = std::move(snapshots);
  scenario_of(opts).finish(r, opts);
}

result run_alone(const options& opts) {
  machine_meter meter;
  server_probe probe{opts.host, opts.port, opts.server_pid};
  std::vector<server_snapshot> snapshots;
  run_context ctx{opts, 0, 1, {}};
  ctx.sync = [&](const std::string& phase, std::chrono::milliseconds settle) {
    std::this_thread::sleep_for(settle);
    snapshots.push_back(probe.take(phase));
  };
  auto r = scenario_of(opts).run(ctx);
  complete(r, opts, std::move(snapshots));
  meter.add_to(r);
  return r;
}

// Reads one protocol line from every worker.
std::vector<std::string> read_all(std::vector<child_process>& workers) {
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    auto line = workers[i].read_line(worker_timeout);
    if (!line)
      throw std::runtime_error("worker " + std::to_string(i)
                               + " ended without a result");
    lines.push_back(std::move(*line));
  }
  return lines;
}

result run_coordinator(const options& opts) {
  machine_meter meter;
  server_probe probe{opts.host, opts.port, opts.server_pid};
  std::vector<server_snapshot> snapshots;
  std::vector<child_process> workers;
  for (std::size_t i = 0; i < opts.workers; ++i) {
    std::vector<std::string> argv{self_exe(), opts.scenario};
    for (auto& a : opts.args)
      argv.push_back(a);
    argv.push_back("--worker-index");
    argv.push_back(std::to_string(i));
    workers.push_back(child_process::spawn(argv));
  }
  result merged;
  for (;;) {
    auto lines = read_all(workers);
    if (lines[0].rfind("result ", 0) == 0) {
      for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].rfind("result ", 0) != 0)
          throw std::runtime_error("workers out of step: " + lines[i]);
        merged.merge(result::from_json(json::parse(lines[i].substr(7))));
      }
      break;
    }
    // Every worker reached the same phase: settle, snapshot, release.
    std::string phase;
    long settle_ms = 0;
    for (auto& line : lines) {
      std::istringstream in{line};
      std::string word, name;
      long settle = 0;
      in >> word >> name >> settle;
      if (word != "sync" || (!phase.empty() && name != phase))
        throw std::runtime_error("workers out of step: " + line);
      phase = name;
      settle_ms = std::max(settle_ms, settle);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{settle_ms});
    snapshots.push_back(probe.take(phase));
    for (auto& w : workers)
      w.write_line("go");
  }
  for (std::size_t i = 0; i < workers.size(); ++i)
    if (int status = workers[i].wait(); status != 0)
      throw std::runtime_error("worker " + std::to_string(i) + " exited with "
                               + std::to_string(status));
  complete(merged, opts, std::move(snapshots));
  meter.add_to(merged);
  return merged;
}

}  // namespace

client::client_options base_options(const options& opts) {
  client::client_options c;
  c.host = opts.host;
  c.port = opts.port;
  c.path = opts.path;
  return c;
}

std::string command_line(const options& opts) {
  std::string out = "fenix-bench " + opts.scenario;
  for (auto& a : opts.args)
    out += " " + a;
  return out;
}

result run_scenario(const options& opts) {
  return opts.workers > 1 ? run_coordinator(opts) : run_alone(opts);
}

int run_worker(const options& opts) {
  run_context ctx{
    opts, static_cast<std::size_t>(opts.worker_index), opts.workers, {}};
  ctx.sync = [](const std::string& phase, std::chrono::milliseconds settle) {
    std::cout << "sync " << phase << ' ' << settle.count() << std::endl;
    std::string line;
    if (!std::getline(std::cin, line) || line != "go")
      throw std::runtime_error("coordinator gone");
  };
  auto r = scenario_of(opts).run(ctx);
  r.scenario = opts.scenario;
  std::cout << "result " << json::serialize(r.to_json()) << std::endl;
  return 0;
}

}  // namespace fenix::bench
