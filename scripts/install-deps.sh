#!/usr/bin/env bash
# Installs exactly what fenix needs on a Debian bookworm machine, idempotently.
# Run as root (or with sudo). Safe to run again: it only installs what is missing.
#   scripts/install-deps.sh           build + test dependencies (C++ and npm)
#   FENIX_SKIP_BROWSER=1 ...          skip chromium (browser tests are then skipped)
#   FENIX_DOCS=1 ...                  doxygen too (make docs sets it on first use)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake ccache libcaf-dev libboost1.81-dev libboost-json1.81-dev
      catch2 libsqlite3-dev sqlite3 libssl-dev zlib1g-dev nodejs npm)
[ "${FENIX_SKIP_BROWSER:-0}" = 1 ] || pkgs+=(chromium)
[ "${FENIX_DOCS:-0}" = 1 ] && pkgs+=(doxygen)

missing=()
for p in "${pkgs[@]}"; do
  # node/npm may come from outside Debian (the image ships node 20): accept the commands.
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages for the integration tests, the browser tests and the apps' static files.
if [ ! -f tests/js/node_modules/.fenix-installed ] || \
   [ tests/js/package.json -nt tests/js/node_modules/.fenix-installed ]; then
  echo "install-deps: npm install in tests/js"
  (cd tests/js && npm install --no-audit --no-fund --loglevel=error && touch node_modules/.fenix-installed)
fi
