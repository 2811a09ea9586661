# Shell functions shared by bench/run.sh, bench/run-apps.sh and
# bench/run-cluster.sh (sourced, not run).
#
#   busy_cores            cores busy over the next second (all processes)
#   listening_port NAME OUT ERR  the port a server printed (see below)
#   wait_quiet [SECONDS]  waits until fewer than QUIET_CORES (0.3) cores are
#                         busy, at most QUIET_WAIT (default SECONDS, else 90)
#                         seconds; sets `busy` to what it saw last

# Cores busy over the next second, from /proc/stat (all processes).
busy_cores() {
  local a b
  a=$(head -1 /proc/stat)
  sleep 1
  b=$(head -1 /proc/stat)
  awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN {
    split(a, x); split(b, y); t = 0; i = 0
    for (k = 2; k <= 9; k++) t += y[k] - x[k]
    i = (y[5] - x[5]) + (y[6] - x[6])
    printf "%.2f", (t > 0 ? (t - i) * n / t : 0) }'
}

# This machine is shared: wait until it is quiet, then run anyway.
wait_quiet() {
  local limit=${QUIET_WAIT:-${1:-90}} start=$SECONDS
  while :; do
    busy=$(busy_cores)
    if awk -v b="$busy" -v q="${QUIET_CORES:-0.3}" 'BEGIN { exit !(b < q) }'; then
      echo "   machine: $busy cores busy before the case"
      return 0
    fi
    if (( SECONDS - start >= limit )); then
      echo "   machine still busy ($busy cores) after $limit s: running anyway"
      return 0
    fi
  done
}

# listening_port NAME OUT ERR: waits (at most 10 s) for the
# "listening on http://HOST:PORT" line a server prints on OUT and echoes the
# port; else shows ERR and exits the script.
listening_port() {
  for _ in $(seq 200); do
    if grep -q '^listening on http://' "$2"; then
      grep -m1 '^listening on http://' "$2" | sed 's/.*://'
      return 0
    fi
    sleep 0.05
  done
  echo "$1 did not start" >&2
  cat "$3" >&2
  exit 1
}
