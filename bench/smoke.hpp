/// The smoke run registered with ctest: starts the test server given with
/// `--server PATH` on port 0, runs every scenario at tiny sizes (and the
/// coordinator with two workers), and fails unless each one completes with
/// no loss, no duplicate and no failed join. It never checks a timing.
///
///   fenix-bench smoke --server build/bin/fenix-test-server
#pragma once

#include "bench/options.hpp"

namespace fenix::bench {

/// Returns the process exit code: 0 if every case passed.
int run_smoke(const options& opts);

}  // namespace fenix::bench
