/// Runs a scenario in one of three roles:
/// - alone: the load and the server snapshots in this process;
/// - coordinator (`--workers K`): starts K copies of this program as
///   workers, each with 1/K of the sizes, snapshots the server when all of
///   them reach a phase, and merges their results (histograms by counts);
/// - worker (`--worker-index I`, set by the coordinator): runs its share
///   and talks to the coordinator over stdin/stdout.
///
///   auto opts = parse_options(args);
///   if (opts.is_worker())
///     return run_worker(opts);
///   result r = run_scenario(opts);       // alone or coordinator
///   std::cout << format_table(r);
///
/// Worker protocol, one line each: the worker writes `sync PHASE SETTLE_MS`
/// and waits for `go`; at the end it writes `result JSON`. Progress lines
/// go to stderr. Workers are needed past ~18,000 connections, since one
/// process may hold at most 20,000 descriptors here.
#pragma once

#include "bench/options.hpp"
#include "bench/result.hpp"
#include "fenix/client.hpp"

namespace fenix::bench {

/// Runs `opts.scenario` alone or as coordinator; the result carries the
/// server snapshots and the derived figures. Throws std::runtime_error.
result run_scenario(const options& opts);

/// The worker role: returns the process exit code.
int run_worker(const options& opts);

/// Client options for the server in `opts` (host, port, path).
client::client_options base_options(const options& opts);

/// "fenix-bench SCENARIO flags...", for reports.
std::string command_line(const options& opts);

}  // namespace fenix::bench
