#!/usr/bin/env bash
# Packaging tests (ctest label "install"); ctest passes the build's settings
# in FENIX_* variables (see tests/CMakeLists.txt).
#   run.sh install       cmake --install into $FENIX_PKG_DIR/prefix, then the
#                        consumer (tests/consumer) with find_package
#   run.sh headers       every installed header compiled alone (after install)
#   run.sh subdir        the consumer with add_subdirectory(fenix)
#   run.sh fetchcontent  the consumer with FetchContent_Declare(SOURCE_DIR)
#   run.sh new           scripts/fenix-new, built against the prefix, tested
#   run.sh chat          fenix-chat copied alone into an empty dir and run
#   run.sh pointing      the same for fenix-pointing
# Consumer builds reuse ccache and the build's exact compiler flags, so the
# fenix sources they compile again are cache hits.
set -euo pipefail
mode=${1:?mode}
src=${FENIX_SOURCE:?} build=${FENIX_BUILD:?} pkg=${FENIX_PKG_DIR:?}
cmake=${FENIX_CMAKE:-cmake}
prefix=$pkg/prefix
jobs=${FENIX_JOBS:-2}
export CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=true
cfg=$(echo "${FENIX_BUILD_TYPE:-Release}" | tr a-z A-Z)
common=(
  -DCMAKE_BUILD_TYPE="${FENIX_BUILD_TYPE:-Release}"
  -DCMAKE_CXX_COMPILER="${FENIX_CXX:-c++}"
  -DCMAKE_CXX_FLAGS="${FENIX_CXX_FLAGS:-}"
  -DCMAKE_CXX_FLAGS_"$cfg"="${FENIX_CXX_FLAGS_CONFIG:-}"
  -DCMAKE_EXE_LINKER_FLAGS="${FENIX_LINKER_FLAGS:-}"
)
[ -n "${FENIX_LAUNCHER:-}" ] && common+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$FENIX_LAUNCHER")
# Sanitizer builds: leaks in CAF's statics are suppressed as in scripts/test.sh.
export LSAN_OPTIONS=suppressions="$src/scripts/lsan.supp"

step() { echo "== $*"; }
configure() { "$cmake" "${common[@]}" "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }; }
log=$pkg/$mode.log
mkdir -p "$pkg"

case $mode in
install)
  step "install into $prefix"
  rm -rf "$prefix" "$pkg/consumer-package"
  "$cmake" --install "$build" --prefix "$prefix" >"$log"
  for internal in detail socket mesh tracker transport/ws \
                  protocol/json_text.hpp protocol/v2_binary_codec.hpp; do
    if [ -e "$prefix/include/fenix/$internal" ]; then
      echo "internal $internal was installed"; exit 1
    fi
  done
  for f in fenixConfig.cmake fenixConfigVersion.cmake fenixTargets.cmake \
           fenixCAF.cmake; do
    [ -f "$prefix/lib/cmake/fenix/$f" ] || { echo "missing $f"; exit 1; }
  done
  step "consumer with find_package(fenix 0.2)"
  configure -S "$src/tests/consumer" -B "$pkg/consumer-package" \
    -DFENIX_CONSUMER_MODE=package -DCMAKE_PREFIX_PATH="$prefix"
  "$cmake" --build "$pkg/consumer-package" -j "$jobs" >"$log" 2>&1 || { cat "$log"; exit 1; }
  out=$("$pkg/consumer-package/consumer")
  echo "$out"
  [[ $out == *"fenix 0.2.0"* ]]
  ;;
headers)
  [ -d "$prefix/include/fenix" ] || { echo "run the install test first"; exit 1; }
  dir=$pkg/headers
  rm -rf "$dir"; mkdir -p "$dir/src"
  step "every installed header alone"
  n=0
  while IFS= read -r h; do
    rel=${h#"$prefix/include/"}
    # twice: #pragma once must hold
    printf '#include <%s>\n#include <%s>\n' "$rel" "$rel" \
      >"$dir/src/h$n.cpp"
    n=$((n + 1))
  done < <(find "$prefix/include/fenix" -name '*.hpp' | sort)
  cat >"$dir/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.21)
project(fenix_headers LANGUAGES CXX)
find_package(fenix 0.2 CONFIG REQUIRED)
file(GLOB srcs ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
add_library(headers OBJECT ${srcs})
target_link_libraries(headers PRIVATE fenix::fenix fenix::client fenix::testing)
target_compile_options(headers PRIVATE -Wall -Wextra -Werror)
CM
  configure -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$prefix"
  "$cmake" --build "$dir/build" -j "$jobs" >"$log" 2>&1 || { cat "$log"; exit 1; }
  echo "$n headers compile alone"
  ;;
subdir|fetchcontent)
  # FENIX_BUILD_* default to OFF as a subproject; neither Catch2 nor SQLite
  # may be looked for. The fenix build dir sits next to $build (same depth
  # under the source as the main build) so ccache serves its objects.
  step "consumer with fenix as $mode"
  bdir=$pkg/consumer-$mode
  fbin=$build-$mode
  rm -rf "$bdir" "$fbin"
  configure -S "$src/tests/consumer" -B "$bdir" -DFENIX_CONSUMER_MODE="$mode" \
    -DFENIX_SOURCE_DIR="$src" -DFENIX_BINARY_DIR="$fbin" \
    -DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON -DCMAKE_DISABLE_FIND_PACKAGE_SQLite3=ON
  # (a REQUIRED find of a disabled package would have failed the configure)
  if grep -q "^Catch2_DIR\|^SQLite3_\|^FENIX_PHOENIX_MJS" "$bdir/CMakeCache.txt"; then
    echo "Catch2, SQLite or the apps were looked for"; exit 1
  fi
  grep -q "^CTEST_" "$bdir/CMakeCache.txt" && { echo "include(CTest) ran"; exit 1; }
  "$cmake" --build "$bdir" --target consumer -j "$jobs" >"$log" 2>&1 || { cat "$log"; exit 1; }
  out=$("$bdir/consumer")
  echo "$out"
  rm -rf "$fbin"
  [[ $out == *"fenix 0.2.0"* ]]
  ;;
new)
  [ -d "$prefix/lib/cmake/fenix" ] || { echo "run the install test first"; exit 1; }
  dir=$pkg/new
  rm -rf "$dir"
  step "scripts/fenix-new demo $dir/demo"
  bash "$src/scripts/fenix-new" demo "$dir/demo" >"$log"
  configure -S "$dir/demo" -B "$dir/demo/build" -DCMAKE_PREFIX_PATH="$prefix"
  "$cmake" --build "$dir/demo/build" -j "$jobs" >"$log" 2>&1 || { cat "$log"; exit 1; }
  (cd "$dir/demo/build" && ctest --output-on-failure)
  "$dir/demo/build/demo" --help | grep -q -- --static-dir
  ;;
chat|pointing)
  bin=fenix-$mode
  dir=$(mktemp -d "$pkg/$mode.XXXXXX")
  trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
  cp "$build/bin/$bin" "$dir/"
  step "$bin alone in $dir"
  (cd "$dir" && exec "./$bin" --port 0 --db :memory: --secret s \
     >"$dir/out.log" 2>"$dir/err.log") &
  pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$dir/out.log")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$dir/out.log" "$dir/err.log"; exit 1; }
  # from an empty directory: no static files next to the binary
  [ "$(ls "$dir")" = "$(printf 'err.log\n%s\nout.log' "$bin")" ]
  node "$src/tests/consumer/chat_check.mjs" "http://127.0.0.1:$port" \
    "$src/tests/js/node_modules" "$mode"
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
