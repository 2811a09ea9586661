/// Command-line options of fenix-bench: one aggregate for every scenario,
/// parsed from `SCENARIO --flag value ...` (or `--flag=value`).
///
///   auto opts = parse_options({"fanout", "--clients", "10000",
///                              "--rate", "2", "--duration", "20"});
///   opts.clients;   // 10000 subscribers
///
/// Sizes left at 0 (or a rate left at -1) take the scenario's default;
/// `usage()` lists the flags and those defaults. Unknown flags and bad
/// numbers throw std::invalid_argument.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fenix::bench {

struct options {
  std::string scenario;  // connect fanout chat echo presence churn smoke

  // -- the server under test --------------------------------------------------
  std::string host = "127.0.0.1";
  std::uint16_t port = 4000;
  std::uint16_t publish_port = 0;  // fanout: publishers' port (0: --port)
  std::string path = "/socket/websocket";
  int server_pid = 0;           // for RSS and CPU from /proc
  std::string label = "fenix";  // names the server in reports ("peer")

  // -- sizes
  // --------------------------------------------------------------------
  std::size_t clients = 0;     // connections / subscribers / room members
  std::size_t publishers = 0;  // fanout: extra clients that publish
  double rate = -1;            // per publisher (echo: in all) per second;
                               // 0: closed loop, `window` in flight each
  std::size_t payload = 0;     // bytes of each message's JSON payload
  std::size_t window = 0;      // messages in flight per publisher (rate 0)
  double duration = 0;         // seconds of load
  std::size_t count = 0;       // messages per publisher, or churn cycles
  double connect_rate = 0;     // connects per second; 0: inflight-bound
  std::size_t inflight = 0;    // connects (or churn loops) in flight
  std::string topic;           // default bench:1 (presence: room:bench)
  double hold = 0;             // connect: seconds to hold before closing
  double settle = -1;          // seconds before a server snapshot (RSS)

  // -- output and processes
  // -----------------------------------------------------
  std::string json_file;    // --json FILE
  std::size_t workers = 1;  // > 1: coordinator of worker processes
  int worker_index = -1;    // set by the coordinator for its workers
  bool quiet = false;       // no progress lines on stderr
  std::string server_path;  // smoke: fenix-test-server to start
  std::string ids_file;     // app-chat: acknowledged message ids

  std::vector<std::string> args;  // the flags as given (after the scenario)

  bool is_worker() const { return worker_index >= 0; }
};

/// Parses `SCENARIO [flags]` and fills in the scenario's defaults.
options parse_options(const std::vector<std::string>& argv);

/// The flags, their meaning and the defaults of each scenario.
std::string usage();

}  // namespace fenix::bench
