#!/usr/bin/env bash
# Configures (once) and builds fenix into the given directory.
#   scripts/build.sh DIR [cmake flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
# Let ccache hit across clones in other directories (CI builds a fresh one).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
cmake -S . -B "$dir" "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
