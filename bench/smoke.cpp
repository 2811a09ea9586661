#include "bench/smoke.hpp"

#include <signal.h>

#include <chrono>
#include <iostream>
#include <stdexcept>

#include "bench/child_process.hpp"
#include "bench/runner.hpp"
#include "bench/scenario.hpp"

namespace fenix::bench {

using namespace std::chrono_literals;

namespace {

// Tiny sizes: each case takes well under two seconds.
const std::vector<std::vector<std::string>>& cases() {
  static const std::vector<std::vector<std::string>> list{
    {"connect", "--clients", "50"},
    {"connect", "--clients", "40", "--workers", "2"},
    {"fanout", "--clients", "20", "--publishers", "2", "--rate", "50",
     "--count", "10"},
    {"fanout", "--clients", "20", "--publishers", "2", "--rate", "0",
     "--window", "4", "--count", "50"},
    {"fanout", "--clients", "20", "--publishers", "3", "--rate", "50",
     "--count", "10", "--workers", "2"},
    {"chat", "--clients", "10", "--rate", "0", "--count", "20"},
    {"echo", "--clients", "10", "--rate", "200", "--count", "10"},
    {"echo", "--clients", "4", "--rate", "0", "--count", "50"},
    {"presence", "--clients", "30", "--duration", "10"},
    {"churn", "--count", "100", "--inflight", "5"},
  };
  return list;
}

// Starts the server on port 0 and reads the port from its first line.
std::uint16_t start_server(child_process& server) {
  const std::string prefix = "listening on http://";
  for (;;) {
    auto line = server.read_line(15s);
    if (!line)
      throw std::runtime_error("test server did not start");
    if (line->rfind(prefix, 0) == 0)
      return static_cast<std::uint16_t>(
        std::stoi(line->substr(line->rfind(':') + 1)));
  }
}

}  // namespace

int run_smoke(const options& opts) {
  if (opts.server_path.empty())
    throw std::invalid_argument("smoke needs --server PATH");
  auto server = child_process::spawn({opts.server_path, "--port", "0"});
  auto port = start_server(server);
  int failed = 0;
  for (auto& args : cases()) {
    auto argv = args;
    argv.insert(argv.end(),
                {"--port", std::to_string(port), "--server-pid",
                 std::to_string(server.pid()), "--settle", "0.1", "--quiet"});
    auto o = parse_options(argv);
    bool ok = false;
    std::string detail;
    try {
      auto r = run_scenario(o);
      ok = find_scenario(o.scenario)->passed(r);
      if (!ok)
        detail = format_table(r);
    } catch (const std::exception& e) {
      detail = e.what();
    }
    std::cout << (ok ? "ok      " : "FAILED  ") << command_line(o) << std::endl;
    if (!ok) {
      std::cout << detail << std::endl;
      ++failed;
    }
  }
  server.signal(SIGTERM);
  server.wait();
  std::cout << (failed == 0 ? "smoke: all passed" : "smoke: failures") << '\n';
  return failed == 0 ? 0 : 1;
}

}  // namespace fenix::bench
