/// Reads what the server under test costs, from outside: its RSS and CPU
/// time from /proc (with `--server-pid`), and its counters from
/// `GET /stats` when it has that route (fenix-test-server does; the Node
/// peer does not, and is simply skipped).
///
///   server_probe probe{"127.0.0.1", port, pid};
///   auto before = probe.take("start");
///   ... load ...
///   auto after = probe.take("joined");
///   auto per_conn = (after.rss_kib - before.rss_kib) * 1024.0 / n;
///
/// CPU is utime + stime of /proc/PID/stat in clock ticks (10 ms here), so
/// take deltas over seconds, not milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <boost/json/object.hpp>

#include "bench/result.hpp"

namespace fenix::bench {

/// VmRSS of a process in KiB, or nullopt.
std::optional<std::int64_t> rss_kib(int pid);

/// utime + stime of a process in seconds, or nullopt.
std::optional<double> cpu_seconds(int pid);

/// Context switches of every thread of a process (voluntary and not), or
/// nullopt: on a VM each one costs tens of microseconds.
std::optional<std::int64_t> context_switches(int pid);

/// CPU time used by this process so far (user + system), in seconds.
double self_cpu_seconds();

/// Busy and total jiffies of the whole machine (/proc/stat), to report how
/// many cores were busy over a window (server, load generator and others).
std::pair<double, double> machine_busy_jiffies();
double busy_cores_between(const std::pair<double, double>& from,
                          const std::pair<double, double>& to);

/// A blocking HTTP/1.1 request (Connection: close), bounded by `timeout`
/// per send and receive; status 0 if no answer.
struct http_answer {
  int status = 0;
  std::string body;
};
http_answer http_call(const std::string& host, std::uint16_t port,
                      const std::string& method, const std::string& path,
                      const std::string& body = {}, int timeout_s = 10);

/// `GET path` on host:port with a blocking socket; the JSON body, if the
/// answer is 200 with a JSON object.
std::optional<boost::json::object> fetch_json(const std::string& host,
                                              std::uint16_t port,
                                              const std::string& path);

/// Nanoseconds on the steady clock (CLOCK_MONOTONIC: one clock for every
/// process of the machine, so workers' timestamps compare).
std::int64_t now_ns();

class server_probe {
public:
  server_probe(std::string host, std::uint16_t port, int pid);

  /// A snapshot named `phase`: time, RSS, CPU and /stats.
  server_snapshot take(const std::string& phase);

private:
  std::string host_;
  std::uint16_t port_;
  int pid_;
  bool has_stats_ = true;  // cleared after the first failed GET
};

}  // namespace fenix::bench
