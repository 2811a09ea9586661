#!/usr/bin/env bash
# Cluster measurements of issue #6, written to bench/sections/cluster.md
# (bench/render.mjs appends every bench/sections/*.md to BENCHMARKS.md):
#
#   1. latency   broadcast publish-to-receipt p50/p99/max, 1,000 subscribers:
#                all on one node vs. subscribers on node B (and on B + C)
#                with the publisher on node A; plus a node without cluster.
#   2. presence  N clients per node tracked in one topic; kill -9 (and
#                SIGSTOP) one node; time until every client of the surviving
#                nodes lists exactly the surviving users (official JS client,
#                bench/cluster-presence.mjs).
#   3. capacity  15,000 connections per node, each joined to one channel,
#                45,000 held at once; RSS per node and per connection.
#
#   bench/run-cluster.sh [BUILD_DIR]      default build-cluster-bench
#   ONLY="latency presence capacity"      the parts to run (default all)
#   SUBS=1000 RATE=10 DURATION=20         part 1 sizes
#   PER_NODE="100 500" REPEAT=3           part 2: clients per node (each
#                                         size: REPEAT kill -9 runs; then one
#                                         SIGSTOP run at the last size)
#   CAP=15000 HOLD=20                     part 3: connections per node
#   OUT=path.md                           default bench/sections/cluster.md
#
# Every node is fenix-test-server --port 0 --node-port FREE [--join A]; the
# script reads each HTTP port from the "listening on" line and waits until
# /stats shows cluster_nodes 3 on every node. Everything it starts is killed
# on exit. Raw results stay in BUILD_DIR/cluster-results/DATE/.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh  # busy_cores, wait_quiet, listening_port
root=$PWD
build=${1:-build-cluster-bench}
only=${ONLY:-latency presence capacity}
subs=${SUBS:-1000}
rate=${RATE:-10}
duration=${DURATION:-20}
per_node=${PER_NODE:-100 500}
repeat=${REPEAT:-3}
cap=${CAP:-15000}
hold=${HOLD:-20}
out=${OUT:-$root/bench/sections/cluster.md}

# -- build ----------------------------------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
bin=$root/$build/bin
[ -d "$bin" ] || bin=$build/bin
# The working tree is shared: if someone's half-done file breaks the build,
# the binaries of the last good build are used (and the report says so).
build_note="built from this tree"
if ! cmake --build "$build" --target fenix-bench fenix-test-server -j 1 \
     > "$build/cluster-build.log" 2>&1; then
  [ -x "$bin/fenix-bench" ] && [ -x "$bin/fenix-test-server" ] || {
    cat "$build/cluster-build.log" >&2; exit 1; }
  build_note="build FAILED (see $build/cluster-build.log): binaries of $(date -u -r "$bin/fenix-test-server" '+%Y-%m-%d %H:%M UTC')"
  echo "warning: $build_note" >&2
fi
results=$root/$build/cluster-results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"
echo "results in $results"

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "kernel: $(uname -sr)"
  echo "memory: $(free -g | awk '/Mem:/ {print $2 " GiB"}')"
  echo "ulimit_n: $(ulimit -n)"
  echo "port_range: $(tr '\t' ' ' < /proc/sys/net/ipv4/ip_local_port_range)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "loadavg_before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "build: $build_note"
  echo "sizes: SUBS=$subs RATE=$rate DURATION=$duration PER_NODE=$per_node REPEAT=$repeat CAP=$cap HOLD=$hold"
} > "$results/machine.txt"
cat "$results/machine.txt"

# -- processes ------------------------------------------------------------------
# Everything this script starts is a background job of this shell: on exit
# the jobs still running (servers, benches) are killed and reaped.
cleanup() {
  local left
  left=$(jobs -p)
  [ -z "$left" ] && return 0
  kill -KILL $left 2>/dev/null || true
  wait $left 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server NAME [flags...]: sets srv_pid, srv_port.
start_server() {
  local name=$1 log=$results/$1.log
  shift
  "$bin/fenix-test-server" --port 0 "$@" >"$log.out" 2>"$log" &
  srv_pid=$!
  srv_port=$(listening_port "server $name" "$log.out" "$log") || exit 1
}

stat_of() {  # PORT FIELD: a number from /stats
  curl -s --max-time 3 "http://127.0.0.1:$1/stats" | jq -r ".$2 // 0"
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# start_cluster TAG: three nodes A, B, C (B and C join A); sets pids[],
# ports[] and waits for a full mesh (cluster_nodes 3 on each).
pids=()
ports=()
start_cluster() {
  local tag=$1 na nb nc
  na=$(free_port); nb=$(free_port); nc=$(free_port)
  start_server "$tag-a" --node-port "$na"
  pids=("$srv_pid"); ports=("$srv_port")
  start_server "$tag-b" --node-port "$nb" --join "127.0.0.1:$na"
  pids+=("$srv_pid"); ports+=("$srv_port")
  start_server "$tag-c" --node-port "$nc" --join "127.0.0.1:$na"
  pids+=("$srv_pid"); ports+=("$srv_port")
  for _ in $(seq 200); do
    local ok=1
    for p in "${ports[@]}"; do
      [ "$(stat_of "$p" cluster_nodes)" = 3 ] || ok=
    done
    [ -n "$ok" ] && return 0
    sleep 0.05
  done
  echo "cluster $tag did not form" >&2
  exit 1
}

stop_cluster() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=(); ports=()
}

want() { [[ " $only " == *" $1 "* ]]; }

# Waits for a quiet machine before part $1 and logs what it saw.
wait_quiet_for() {
  wait_quiet 60
  echo "busy_before_$1: $busy cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg)" \
    >> "$results/machine.txt"
}

# -- 1. latency -------------------------------------------------------------------
if want latency; then
  wait_quiet_for latency
  fan=(fanout --clients "$subs" --publishers 1 --rate "$rate" --payload 100
       --duration "$duration")
  echo "== latency: no cluster (one fenix-test-server)"
  start_server single
  "$bin/fenix-bench" "${fan[@]}" --port "$srv_port" --server-pid "$srv_pid" \
    --label single --json "$results/lat-single.json" 2>"$results/lat-single.err" \
    | tee "$results/lat-single.txt"
  kill -TERM "$srv_pid"; wait "$srv_pid" || true

  start_cluster lat
  echo "== latency: all on node A"
  "$bin/fenix-bench" "${fan[@]}" --port "${ports[0]}" --server-pid "${pids[0]}" \
    --label same-node --json "$results/lat-same.json" \
    2>"$results/lat-same.err" | tee "$results/lat-same.txt"
  echo "== latency: subscribers on B, publisher on A"
  "$bin/fenix-bench" "${fan[@]}" --port "${ports[1]}" \
    --publish-port "${ports[0]}" --server-pid "${pids[1]}" --label cross-node \
    --json "$results/lat-cross.json" 2>"$results/lat-cross.err" \
    | tee "$results/lat-cross.txt"
  echo "== latency: half the subscribers on B, half on C, publishers on A"
  half=(fanout --clients $((subs / 2)) --publishers 1 --rate "$rate"
        --payload 100 --duration "$duration")
  "$bin/fenix-bench" "${half[@]}" --topic bench:b --port "${ports[1]}" \
    --publish-port "${ports[0]}" --server-pid "${pids[1]}" --label cross-b \
    --json "$results/lat-cross-b.json" 2>"$results/lat-cross-b.err" \
    > "$results/lat-cross-b.txt" &
  bb=$!
  "$bin/fenix-bench" "${half[@]}" --topic bench:c --port "${ports[2]}" \
    --publish-port "${ports[0]}" --server-pid "${pids[2]}" --label cross-c \
    --json "$results/lat-cross-c.json" 2>"$results/lat-cross-c.err" \
    > "$results/lat-cross-c.txt" &
  bc=$!
  wait "$bb" || true; wait "$bc" || true
  cat "$results/lat-cross-b.txt" "$results/lat-cross-c.txt"
  for i in 0 1 2; do
    echo "node $i: $(curl -s "http://127.0.0.1:${ports[$i]}/stats")"
  done > "$results/lat-stats.txt"
  stop_cluster
fi

# -- 2. presence convergence --------------------------------------------------------
if want presence; then
  wait_quiet_for presence
  : > "$results/presence.jsonl"
  runs=()   # "SIGNAL:CLIENTS_PER_NODE"
  for size in $per_node; do
    for i in $(seq "$repeat"); do runs+=("SIGKILL:$size"); done
  done
  runs+=("SIGSTOP:${per_node##* }")
  n=0
  for run in "${runs[@]}"; do
    n=$((n + 1))
    sig=${run%%:*} size=${run##*:}
    echo "== presence: $size clients per node, $sig to node C (run $n)"
    start_cluster pres$n
    node bench/cluster-presence.mjs --ports "$(IFS=,; echo "${ports[*]}")" \
      --pids "$(IFS=,; echo "${pids[*]}")" --per-node "$size" \
      --victim 2 --signal "$sig" | tee -a "$results/presence.jsonl"
    kill -CONT "${pids[2]}" 2>/dev/null || true
    grep -h 'lost node\|node down\|down:' "$results"/pres$n-{a,b}.log \
      > "$results/pres$n-detect.txt" 2>/dev/null || true
    stop_cluster
  done
fi

# -- 3. capacity ------------------------------------------------------------------
if want capacity; then
  wait_quiet_for capacity
  echo "== capacity: $cap connections per node, each joined to bench:1"
  start_cluster cap
  sleep 1
  for i in 0 1 2; do echo "${pids[$i]} $(rss_kib "${pids[$i]}")"; done \
    > "$results/cap-rss-before.txt"
  benches=()
  for i in 0 1 2; do
    "$bin/fenix-bench" connect --clients "$cap" --port "${ports[$i]}" \
      --server-pid "${pids[$i]}" --hold "$hold" --label "node-$i" \
      --json "$results/cap-$i.json" 2>"$results/cap-$i.err" \
      > "$results/cap-$i.txt" &
    benches+=("$!")
  done
  # Held: every bench reported its joins; give the nodes 3 s to settle.
  for _ in $(seq 1200); do
    done_n=0
    for i in 0 1 2; do
      grep -q ' joined, ' "$results/cap-$i.err" && done_n=$((done_n + 1))
    done
    [ "$done_n" = 3 ] && break
    sleep 0.1
  done
  sleep 3
  {
    for i in 0 1 2; do
      echo "node $i pid ${pids[$i]} rss_kib $(rss_kib "${pids[$i]}")" \
        "connections $(stat_of "${ports[$i]}" connections)" \
        "channels $(stat_of "${ports[$i]}" channels)" \
        "fds $(ls /proc/"${pids[$i]}"/fd | wc -l)"
    done
    for i in 0 1 2; do
      echo "bench $i pid ${benches[$i]} rss_kib $(rss_kib "${benches[$i]}")"
    done
    echo "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  } > "$results/cap-held.txt"
  cat "$results/cap-held.txt"
  for b in "${benches[@]}"; do wait "$b" || true; done
  cat "$results"/cap-{0,1,2}.txt
  stop_cluster
fi

echo "loadavg_after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$results/machine.txt"

# -- report -----------------------------------------------------------------------
node "$root/bench/cluster-render.mjs" "$results" "$out" > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
