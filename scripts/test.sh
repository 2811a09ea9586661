#!/usr/bin/env bash
# Runs every test against the build in DIR: the Catch2 binaries through
# ctest, then the JS integration and browser tests (node's test runner).
#   scripts/test.sh DIR
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
status=0
export FENIX_BUILD_DIR="$PWD/$dir"
if [ "${FENIX_SANITIZE:-0}" = 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export LSAN_OPTIONS=suppressions="$PWD/scripts/lsan.supp"
fi
echo "== C++ tests ($dir)"
(cd "$dir" && ctest --output-on-failure -j 2 --timeout 180) || status=1
echo "== JS tests (official phoenix client)"
if ls tests/js/*.test.mjs >/dev/null 2>&1; then
  (cd tests/js && node --test --test-concurrency=1 --test-timeout=120000 *.test.mjs) || status=1
fi
exit $status
