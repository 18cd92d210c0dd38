#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those that are missing.
# Runs as root, or through sudo. Called by `make` when a dependency is missing.
set -euo pipefail

pkgs=(
  build-essential pkg-config
  librdkafka-dev libwebsockets-dev libjansson-dev libsqlite3-dev libssl-dev
  sqlite3 kcat openssl perl ca-certificates jq time
  procps psmisc iproute2 coreutils util-linux
  gnuplot-nox valgrind clang
)

# One dpkg-query for all: installed packages print "name ok installed".
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${pkgs[@]}" 2>/dev/null | awk '/ ok installed$/ {print $1}')
missing=()
for p in "${pkgs[@]}"; do
  if ! grep -qx -- "$p" <<<"$installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
