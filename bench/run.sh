#!/usr/bin/env bash
# Runs the standard benchmark suite against a freshly built fenix and the
# Node `ws` reference peer, then writes BENCHMARKS.md (bench/render.mjs).
#
#   bench/run.sh [BUILD_DIR]        default build-bench (configured and built
#                                   here with -j${JOBS:-1}; `make bench`
#                                   passes its own build dir)
#   SUITE=quick bench/run.sh        smaller sizes, about a minute
#   ONLY="echo chat" bench/run.sh   only cases whose id contains a word
#   OUT=path.md bench/run.sh        write the report elsewhere
#   QUIET_WAIT=0 bench/run.sh       do not wait for a quiet machine
#   RESULTS=DIR ONLY=... bench/run.sh  re-run cases into an earlier run
#   SERVERS=fenix,uws,ws bench/run.sh  which servers to compare (default
#                                   fenix,ws); uws needs the uWebSockets peer
#                                   built by ../shared/peers/build-uws.sh
#                                   (UWS_PEER=path, default
#                                   /work/peers-build/uws_peer, else
#                                   /tmp/uws-peer/uws_peer); a missing build
#                                   is skipped with a note
#
# Each case starts a fresh server (fenix-test-server, or a peer) on port
# 0, reads the port from its "listening on http://HOST:PORT" line, runs one
# fenix-bench command with --server-pid so the server's RSS and CPU come
# from /proc, and stops it. Raw results (JSON, logs) stay in
# BUILD_DIR/bench-results/DATE/.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh  # busy_cores, wait_quiet, listening_port
root=$PWD
build=${1:-build-bench}
suite=${SUITE:-standard}
out=${OUT:-$root/BENCHMARKS.md}

# -- build ----------------------------------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target fenix-bench fenix-test-server -j "${JOBS:-1}"
bench=$root/$build/bin/fenix-bench
[ -x "$bench" ] || bench=$build/bin/fenix-bench
server=$(dirname "$bench")/fenix-test-server
peer=$root/bench/peers/ws_peer.mjs
servers=",${SERVERS:-fenix,ws},"
uws_peer=${UWS_PEER:-}
if [ -z "$uws_peer" ]; then
  for c in /work/peers-build/uws_peer /tmp/uws-peer/uws_peer; do
    [ -x "$c" ] && { uws_peer=$c; break; }
  done
fi
if [[ $servers == *,uws,* ]] && [ ! -x "${uws_peer:-/nonexistent}" ]; then
  echo "SERVERS has uws but no uws_peer build (../shared/peers/build-uws.sh): skipped" >&2
  servers=${servers/,uws,/,}
fi

if [ -n "${RESULTS:-}" ] && [ -f "$RESULTS/machine.txt" ]; then
  # Re-run some cases into an earlier run's results (with ONLY=...).
  results=$(cd "$RESULTS" && pwd)
  echo "rerun: $(date -u '+%H:%M UTC') ${ONLY:-all}, loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >> "$results/machine.txt"
  node "$root/bench/render.mjs" "$results" > /dev/null  # fail early
else
  results=$root/$build/bench-results/$(date +%Y%m%d-%H%M%S)
  mkdir -p "$results"
fi
echo "results in $results"

# -- machine --------------------------------------------------------------------
[ -n "${RESULTS:-}" ] || {
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "kernel: $(uname -sr)"
  echo "memory: $(free -g | awk '/Mem:/ {print $2 " GiB"}')"
  echo "ulimit_n: $(ulimit -n)"
  echo "compiler: $(${CXX:-c++} --version | head -1)"
  echo "node: $(node --version 2>/dev/null || echo none)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "loadavg_before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "suite: $suite"
  echo "servers: ${servers:1:${#servers}-2}"
  [[ $servers == *,uws,* ]] && echo "uws_peer: $uws_peer"
} > "$results/machine.txt"

# -- servers --------------------------------------------------------------------
server_pid=
server_port=

# The kind of server -> the suffix of its case ids (render.mjs pairs them).
suffix() { case $1 in fenix) echo "";; peer) echo "-peer";; uws) echo "-uws";; esac; }
# The kinds SERVERS asks for (ws is "peer" in case names).
kinds() {
  local k
  for k in fenix peer uws; do
    local name=$k; [ $k = peer ] && name=ws
    [[ $servers == *,$name,* ]] && echo $k
  done
  true
}

start_server() {  # fenix | peer (Node ws) | uws
  local log=$results/server-$1.log
  case $1 in
    peer) node "$peer" --port 0 >"$log" 2>&1 & ;;
    uws) "$uws_peer" --port 0 >"$log" 2>&1 & ;;
    *) "$server" --port 0 >"$log" 2>&1 & ;;
  esac
  server_pid=$!
  server_port=$(listening_port "server $1" "$log" "$log") || exit 1
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
trap '[ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null; true' EXIT

# run_case ID fenix|peer|uws SCENARIO [flags...]
run_case() {
  local id=$1 kind=$2
  shift 2
  local name=$kind; [ $kind = peer ] && name=ws
  [[ $servers == *,$name,* ]] || return 0
  if [ -n "${ONLY:-}" ]; then
    local hit=
    for w in $ONLY; do [[ $id == *"$w"* ]] && hit=1; done
    [ -n "$hit" ] || return 0
  fi
  echo "== $id ($kind): fenix-bench $*"
  wait_quiet
  start_server "$kind"
  "$bench" "$@" --label "$kind" --port "$server_port" \
    --server-pid "$server_pid" --json "$results/$id.json" \
    2>>"$results/$id.err" | tee "$results/$id.txt" \
    || echo "case $id failed (see $results/$id.err)"
  stop_server
}

# -- the suite ------------------------------------------------------------------
if [ "$suite" = quick ]; then
  big=2000; fan=(1000 2000); fan_s=5; sat_s=5; pres=(500 1000); churn=10000
else
  big=10000; fan=(1000 5000 10000); fan_s=20; sat_s=10; pres=(1000 5000)
  churn=100000
fi

for kind in $(kinds); do
  run_case connect-${big}$(suffix $kind) $kind connect --clients $big
done
if [ "$suite" != quick ]; then
  # 15,000 in two worker processes: the coordinator path of >18k.
  run_case connect-15000 fenix connect --clients 15000 --workers 2
fi
for n in "${fan[@]}"; do
  run_case fanout-$n fenix fanout --clients $n --publishers 1 --rate 2 \
    --payload 100 --duration $fan_s
done
for kind in $(kinds); do
  sfx=$(suffix $kind)
  [ $kind = fenix ] || run_case fanout-${fan[-1]}$sfx $kind fanout \
    --clients ${fan[-1]} --publishers 1 --rate 2 --payload 100 --duration $fan_s
  run_case saturation-fanout$sfx $kind fanout --clients 1000 --publishers 4 \
    --rate 0 --window 8 --payload 100 --duration $sat_s
  run_case saturation-chat$sfx $kind chat --clients 100 --rate 0 --window 4 \
    --payload 100 --duration $sat_s
  run_case echo$sfx $kind echo --clients 100 --rate 1000 --payload 100 \
    --duration $sat_s
  # Request/response at saturation: each client waits for its reply.
  run_case echo-saturation$sfx $kind echo --clients 100 --rate 0 --window 1 \
    --payload 100 --duration $sat_s
done
for n in "${pres[@]}"; do
  run_case presence-$n fenix presence --clients $n --duration 120
done
run_case churn fenix churn --count $churn --inflight 50

[ -n "${RESULTS:-}" ] \
  || echo "loadavg_after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$results/machine.txt"

# -- report ---------------------------------------------------------------------
node "$root/bench/render.mjs" "$results" > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
