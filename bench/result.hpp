/// The outcome of one benchmark run: named figures, latency histograms,
/// per-message series and the server snapshots taken between phases.
/// Workers send theirs to the coordinator as JSON, which merges them.
///
///   result r;
///   r.scenario = "fanout";
///   r.set("delivered", 12000);                       // summed on merge
///   r.set("last_receipt_ns", t, "ns", merge_rule::max);
///   r.hist("latency").record(latency_ns);
///   total.merge(r);                                  // figure by rule
///   std::cout << format_table(total);
///   write_file(path, boost::json::serialize(total.to_json()));
///
/// Merging: figures combine by their rule (sum, max, min), histograms by
/// adding counts, series element-wise by max (e.g. the time for a message
/// to reach its last subscriber). Snapshots are the coordinator's own and
/// are not merged.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "bench/histogram.hpp"

namespace fenix::bench {

/// How a figure of several workers combines.
enum class merge_rule { sum, max, min };

struct figure {
  std::string name;
  double value = 0;
  std::string unit;  // "", "ms", "KiB", "/s", ...
  merge_rule rule = merge_rule::sum;
};

/// What the server looked like at a phase boundary.
struct server_snapshot {
  std::string phase;
  std::int64_t t_ns = 0;      // steady clock
  std::int64_t rss_kib = -1;  // VmRSS; -1 if unknown
  double cpu_s = -1;          // utime + stime; -1 if unknown
  std::int64_t ctx_switches =
    -1;                       // all threads, voluntary + not; -1 if unknown
  boost::json::object stats;  // GET /stats, if the server has it
};

class result {
public:
  std::string scenario;
  std::string label;    // "fenix", "peer", ...
  std::string command;  // the command line that produced it
  boost::json::object params;
  std::vector<figure> figures;
  std::map<std::string, histogram> histograms;  // values in ns
  std::map<std::string, std::vector<std::uint64_t>> series;
  std::vector<server_snapshot> snapshots;

  /// Sets (or replaces) a figure, keeping the order of first setting.
  void set(const std::string& name, double value, std::string unit = {},
           merge_rule rule = merge_rule::sum);

  /// Removes a figure (e.g. a raw timestamp once derived figures exist).
  void erase(const std::string& name);

  std::optional<double> get(const std::string& name) const;
  double value(const std::string& name, double fallback = 0) const;

  histogram& hist(const std::string& name) { return histograms[name]; }

  const server_snapshot* snapshot(const std::string& phase) const;

  /// Combines a worker's result into this one (see the header comment).
  void merge(const result& other);

  /// Everything, reversible with from_json; histograms also carry a
  /// "summary" of percentiles in milliseconds for readers.
  boost::json::object to_json() const;
  static result from_json(const boost::json::value& v);
};

/// The human table: figures, then one line of percentiles per histogram.
std::string format_table(const result& r);

/// "12.3", "1,234", "0.0123": a readable number.
std::string format_number(double v);

}  // namespace fenix::bench
