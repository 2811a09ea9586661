#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz (clang, ASan + UBSan) and runs
# each for SECONDS (default 60) on a scratch copy of its seed corpus, so that
# tests/fuzz/corpus is never modified. Exits non-zero if any harness crashes
# (its reproducer is kept in BUILD/artifacts/<harness>/), or if an input of
# tests/fuzz/crashes/<harness>/ (a fixed finding) fails again.
#   scripts/fuzz.sh [SECONDS]
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (build -j,
# default 2), FUZZ_HARNESSES (default: all five), FUZZ_ARGS (extra libFuzzer
# flags, e.g. "-jobs=2" or "-only_ascii=1").
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-60}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-2}
harnesses=${FUZZ_HARNESSES:-"ws_frame serializer http jwt presence"}

# -- toolchain: clang with the libFuzzer runtime --------------------------------
# Debian bookworm: clang-14, and libclang-rt-14-dev for libclang_rt.fuzzer
# (only a Recommends of clang-14, so often missing). Installed once, as root.
pick_clang() {
  for c in clang++ clang++-14; do
    command -v "$c" >/dev/null 2>&1 && { echo "$c"; return; }
  done
}
has_libfuzzer() {
  local cxx probe
  cxx=$(pick_clang)
  [ -n "$cxx" ] || return 1
  probe=$(mktemp -d)
  echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long)
        { return 0; }' > "$probe/p.cpp"
  "$cxx" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" \
    >/dev/null 2>&1
  local rc=$?
  rm -rf "$probe"
  return $rc
}
if ! has_libfuzzer; then
  pkgs="clang-14 libclang-rt-14-dev"
  echo "== installing $pkgs (clang + libFuzzer)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "fuzz.sh: need root to apt-get install $pkgs" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends $pkgs \
    || { $sudo apt-get update && $sudo apt-get install -y \
           --no-install-recommends $pkgs; } \
    || exit 2
  has_libfuzzer || { echo "fuzz.sh: clang cannot link -fsanitize=fuzzer" >&2
                     exit 2; }
fi
cxx=$(pick_clang)

# -- build ----------------------------------------------------------------------
echo "== building fuzz targets in $build ($cxx)"
# ccache (when installed) hits across clones, as in scripts/build.sh.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
cmake -S tests/fuzz -B "$build" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null \
  || exit 2
targets=()
for h in $harnesses; do targets+=(--target "fuzz_$h"); done
cmake --build "$build" -j "$jobs" "${targets[@]}" || exit 2

# -- run ------------------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for h in $harnesses; do
  corpus=$work/$h
  rm -rf "$build/artifacts/$h"
  mkdir -p "$corpus" "$build/artifacts/$h"
  cp -r "tests/fuzz/corpus/$h/." "$corpus/" 2>/dev/null || true
  dict=()
  [ -f "tests/fuzz/dict/$h.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$h.dict")
  # Known findings first: each must now run clean (a regression test).
  crashes=("tests/fuzz/crashes/$h"/*)
  if [ -e "${crashes[0]}" ]; then
    echo "== fuzz_$h on ${#crashes[@]} inputs from tests/fuzz/crashes/$h"
    if ! "$build/fuzz_$h" "${crashes[@]}" >"$work/$h.replay.log" 2>&1; then
      failed+=("$h(crashes)")
      echo "!! fuzz_$h fails on tests/fuzz/crashes/$h; log tail:"
      tail -n 40 "$work/$h.replay.log"
    fi
  fi
  echo "== fuzz_$h for ${seconds}s"
  # shellcheck disable=SC2086
  (cd "$work" && "$build/fuzz_$h" -max_total_time="$seconds" -timeout=10 \
     -print_final_stats=1 -artifact_prefix="$build/artifacts/$h/" \
     "${dict[@]}" ${FUZZ_ARGS:-} "$corpus") >"$work/$h.log" 2>&1
  rc=$?
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|Done)' \
    "$work/$h.log" || true
  if [ $rc -ne 0 ]; then
    failed+=("$h")
    echo "!! fuzz_$h failed (exit $rc); log tail:"
    tail -n 60 "$work/$h.log"
    ls "$build/artifacts/$h/" 2>/dev/null | sed 's/^/   artifact: /'
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED: ${failed[*]}"
  exit 1
fi
echo "== all harnesses ran ${seconds}s without a crash"
