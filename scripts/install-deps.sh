#!/usr/bin/env bash
# scripts/install-deps.sh [--check] - installs the Debian packages the project
# needs, only those that are missing.  Runs as root, or through sudo.  `make`
# calls it; it is a quick no-op when everything is there.
#
#   --check   print what is missing and exit 1 if anything is; install nothing
#
# A package counts as present only when dpkg says "install ok installed"; one
# dpkg has never heard of, or one left half-installed or half-configured by an
# interrupted install, is installed (again).  Java and Maven (for the real
# Kafka broker of the tests, scripts/kafka) count as present when `java` (17
# or newer) and `mvn` are on PATH, whatever installed them.
#
# chromium is the headless browser of the live page's test (tests/t/107),
# python3 drives it (tests/cdp.py) and computes the candles' reference
# (tests/candles-ref.py, tests/t/90, 91): a pristine Debian has neither.
#
# Exit: 0 all present (or installed now), 1 an install failed or is needed
# without root or sudo (the message says which packages and why).
set -uo pipefail

pkgs=(
	build-essential pkg-config
	librdkafka-dev libwebsockets-dev libjansson-dev libsqlite3-dev libssl-dev
	sqlite3 kcat openssl perl ca-certificates jq time curl
	procps psmisc iproute2 coreutils util-linux
	gnuplot-nox valgrind clang chromium python3
)
java_pkg=openjdk-17-jre-headless
maven_pkg=maven

say() { printf 'install-deps: %s\n' "$*" >&2; }

check_only=0
case ${1:-} in
--check) check_only=1 ;;
"") ;;
-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
*) say "unknown option '$1'; usage: scripts/install-deps.sh [--check]"; exit 2 ;;
esac

# java_ok: a Java runtime of version 17 or newer on PATH.
java_ok() {
	local v
	command -v java >/dev/null 2>&1 || return 1
	v=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
	v=${v%%.*}
	[[ $v =~ ^[0-9]+$ ]] && ((v >= 17))
}

want=("${pkgs[@]}")
java_ok || want+=("$java_pkg")
command -v mvn >/dev/null 2>&1 || want+=("$maven_pkg")

# One dpkg-query for all.  It exits 1 when it has never heard of one of the
# names (a package never installed on this machine): that is an answer, not
# an error, so its status is not checked; its output lists the ones it knows.
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${want[@]}" 2>/dev/null |
	awk '/ ok installed$/ {print $1}')
missing=()
for p in "${want[@]}"; do
	grep -qx -- "$p" <<<"$installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	exit 0
fi
if ((check_only)); then
	say "missing: ${missing[*]}"
	exit 1
fi

if [[ $(id -u) == 0 ]]; then
	sudo=()
elif command -v sudo >/dev/null 2>&1; then
	sudo=(sudo)
else
	say "need root or sudo to install: ${missing[*]}"
	say "install them (apt-get install ${missing[*]}), then run make again"
	exit 1
fi

say "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT
if ! "${sudo[@]}" apt-get update -qq >"$log" 2>&1; then
	say "apt-get update failed:"
	tail -n 20 "$log" >&2
	say "could not install: ${missing[*]}"
	exit 1
fi
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
	say "apt-get install failed:"
	tail -n 20 "$log" >&2
	say "could not install: ${missing[*]}"
	exit 1
fi
say "installed ${missing[*]}"
