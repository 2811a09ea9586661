#!/usr/bin/env bash
# Measures the bundled apps (issue #5; write-up in bench/sections/apps.md):
# the real fenix-chat (one room of 1,000 members, every message stored in
# SQLite) and the real fenix-timer (10,000 running timers), with the
# fenix-bench scenarios app-chat and app-timer.
#
#   bench/run-apps.sh [BUILD_DIR]   default build-apps-bench (configured and
#                                   built here with -j${JOBS:-1})
#   BIN=DIR bench/run-apps.sh       use the binaries in DIR, build nothing
#   ONLY="chat" bench/run-apps.sh   only cases whose id contains a word
#   SMOKE=1 bench/run-apps.sh       tiny sizes (a few seconds): exit 1 unless
#                                   every case passes (ctest bench_apps_smoke)
#   QUIET_WAIT=S                    wait at most S s (default 60) for a
#                                   quiet machine before each case
#   CHAT_RATE=N                     the paced chat case: N messages/s per
#                                   publisher (10 publishers; default 5)
#
# Each case starts the app on port 0 with a fresh SQLite file in the
# results directory, reads the port from its "listening on" line, runs one
# fenix-bench command with --server-pid (server RSS and CPU from
# /proc/PID/stat), and stops it. Chat cases then compare the acknowledged
# message ids (--ids) with the rows of the database, read while the server
# still runs. Results (tables, JSON, logs): BUILD_DIR/apps-results/DATE/.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh  # busy_cores, wait_quiet, listening_port
root=$PWD
build=${1:-build-apps-bench}

if [ -n "${BIN:-}" ]; then
  bin=$(cd "$BIN" && pwd)
else
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build" --target fenix-bench fenix-chat fenix-timer \
    -j "${JOBS:-1}" >/dev/null
  bin=$root/$build/bin
fi
bench=$bin/fenix-bench
if [ -n "${SMOKE:-}" ]; then
  results=$(mktemp -d "${TMPDIR:-/tmp}/fenix-apps-smoke.XXXXXX")
else
  results=$root/$build/apps-results/$(date +%Y%m%d-%H%M%S)
  mkdir -p "$results"
fi
export FENIX_SECRET=${FENIX_SECRET:-bench-secret-$$}

echo "results in $results"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "kernel: $(uname -sr)"
  echo "sqlite: $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || echo none)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "loadavg_before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$results/machine.txt"

server_pid=
server_port=
trap '[ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null; true' EXIT

start_app() {  # APP DB LOG
  "$bin/fenix-$1" --port 0 --db "$2" --log-level warning >"$3" 2>&1 &
  server_pid=$!
  server_port=$(listening_port "fenix-$1" "$3" "$3") || exit 1
}

stop_app() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# The ids in the database of room `bench`, sorted.
db_ids() {
  if command -v sqlite3 >/dev/null; then
    sqlite3 "$1" "SELECT id FROM messages WHERE room = 'bench'"
  else
    python3 -c 'import sqlite3, sys
for (i,) in sqlite3.connect(sys.argv[1]).execute(
    "SELECT id FROM messages WHERE room = ?", ("bench",)):
  print(i)' "$1"
  fi | LC_ALL=C sort
}

failed=0

# run_case ID APP DB [fenix-bench flags...]: DB "file" (fresh, in results) or
# ":memory:".
run_case() {
  local id=$1 app=$2 dbkind=$3
  shift 3
  if [ -n "${ONLY:-}" ]; then
    local hit=
    for w in $ONLY; do [[ $id == *"$w"* ]] && hit=1; done
    [ -n "$hit" ] || return 0
  fi
  local db=":memory:"
  [ "$dbkind" = file ] && db=$results/$id.db
  local ids=()
  [ "$app" = chat ] && ids=(--ids "$results/$id.ids")
  echo
  echo "== $id: fenix-$app --db $db; fenix-bench app-$app $*"
  [ -n "${SMOKE:-}" ] || wait_quiet 60
  echo "   loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
  start_app "$app" "$db" "$results/$id.server.log"
  local ok=1
  "$bench" "app-$app" "$@" --port "$server_port" --server-pid "$server_pid" \
    --json "$results/$id.json" "${ids[@]}" 2>"$results/$id.err" \
    | tee "$results/$id.txt" || ok=
  echo "   loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$app" = chat ] && [ "$dbkind" = file ] && [ -f "$results/$id.ids" ]; then
    # Stored within 20 ms of the push (the store's batch); read it live.
    sleep 1
    LC_ALL=C sort "$results/$id.ids" >"$results/$id.ids.sorted"
    db_ids "$db" >"$results/$id.db.sorted"
    local acked indb missing extra
    acked=$(wc -l <"$results/$id.ids.sorted")
    indb=$(wc -l <"$results/$id.db.sorted")
    missing=$(LC_ALL=C comm -23 "$results/$id.ids.sorted" "$results/$id.db.sorted" | wc -l)
    extra=$(LC_ALL=C comm -13 "$results/$id.ids.sorted" "$results/$id.db.sorted" | wc -l)
    echo "   database: $acked acknowledged ids, $indb rows in room bench," \
      "$missing acknowledged but not stored, $extra stored but not acknowledged" \
      | tee "$results/$id.db.txt"
    [ "$missing" = 0 ] && [ "$extra" = 0 ] || ok=
  fi
  stop_app
  grep -Eq '^ *passed +1$' "$results/$id.txt" || ok=
  if [ -z "$ok" ]; then
    echo "   FAILED: $id (see $results/$id.err)"
    failed=1
  fi
}

if [ -n "${SMOKE:-}" ]; then
  run_case chat-smoke chat file --clients 20 --publishers 3 --count 30 \
    --settle 0.1 --quiet
  run_case timer-smoke timer file --clients 5 --count 10 --duration 1.2 \
    --settle 0.2 --quiet
  rm -rf "$results"
  [ "$failed" = 0 ] && echo "apps smoke: all passed" || echo "apps smoke: failures"
  exit "$failed"
fi

# Chat: one room of 1,000 members, 10 of them pushing new_msg.
# Saturation: a closed loop of 4 messages in flight per publisher.
run_case chat-1000-closed chat file --clients 1000 --publishers 10 --rate 0 \
  --window 4 --payload 100 --duration 10
# Latency below saturation: CHAT_RATE per publisher, paced.
run_case chat-1000-paced chat file --clients 1000 --publishers 10 \
  --rate "${CHAT_RATE:-5}" --payload 100 --duration 10
# The same saturation without the disk (SQLite in memory): the storage cost.
run_case chat-1000-closed-memdb chat memory --clients 1000 --publishers 10 \
  --rate 0 --window 4 --payload 100 --duration 10
# Timer: 100 users x 100 running timers (the app's per-user maximum).
run_case timer-10000 timer file --clients 100 --count 100 --rate 2000 \
  --duration 15

echo
echo "loadavg_after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results/machine.txt"
exit "$failed"
