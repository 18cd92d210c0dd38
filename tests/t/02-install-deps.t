#!/usr/bin/env bash
# brokers: none
# scripts/install-deps.sh decides what to install from dpkg's answers: run
# against stub dpkg-query / apt-get / id / sudo / java / mvn on a PATH that
# holds nothing else, with packages missing (dpkg has never heard of them),
# half-installed, and present.
. "$(dirname "$0")/../lib.sh"

S=$T/stub
mkdir -p "$S"
for tool in awk grep mktemp tail rm cat; do
	ln -s "$(command -v "$tool")" "$S/$tool"
done
# dpkg-query -W -f=FMT NAME...: answers from $T/status ("name status" lines)
# like dpkg: known names printed, exit 1 when any name is unknown.
cat >"$S/dpkg-query" <<'EOF'
#!/bin/bash
shift 2; rc=0
for p in "$@"; do
	line=$(grep -m1 "^$p " "$STUB_DIR/status") || { echo "dpkg-query: no packages found matching $p" >&2; rc=1; continue; }
	echo "$line"
done
exit $rc
EOF
cat >"$S/apt-get" <<'EOF'
#!/bin/bash
echo "apt-get $*" >>"$STUB_DIR/apt.log"
[[ $1 == install && -n ${APT_FAIL:-} ]] && { echo "E: Unable to locate package $APT_FAIL"; exit 100; }
exit 0
EOF
printf '#!/bin/bash\necho "${STUB_UID:-0}"\n' >"$S/id"
printf '#!/bin/bash\necho "sudo $*" >>"$STUB_DIR/apt.log"\nexec "$@"\n' >"$S/sudo"
printf '#!/bin/bash\necho "openjdk version \\"${STUB_JAVA}\\" 2025-04-15" >&2\n' >"$S/java"
printf '#!/bin/bash\nexit 0\n' >"$S/mvn"
chmod +x "$S"/*

ALL=(build-essential pkg-config librdkafka-dev libwebsockets-dev libjansson-dev libsqlite3-dev
	libssl-dev sqlite3 kcat openssl perl ca-certificates jq time curl procps psmisc iproute2 coreutils
	util-linux gnuplot-nox valgrind clang chromium python3)
# status LINES...: every package of ALL installed, then the given lines first
# (dpkg-query's stub takes the first match).
status() {
	printf '%s\n' "$@" >"$T/status"
	printf '%s install ok installed\n' "${ALL[@]}" >>"$T/status"
}
# deps [ARGS]: runs the installer on the stub PATH; output in $T/out, apt-get's
# calls in $T/apt.log; returns its exit status.
deps() {
	rm -f "$T/apt.log"
	env -i PATH="$S" STUB_DIR="$T" STUB_UID="${STUB_UID:-0}" STUB_JAVA="${STUB_JAVA:-17.0.15}" \
		APT_FAIL="${APT_FAIL:-}" TMPDIR="$T" /bin/bash "$ROOT/scripts/install-deps.sh" "$@" >"$T/out" 2>&1
}
installs() { grep '^apt-get install' "$T/apt.log" 2>/dev/null | sed 's/.*--no-install-recommends //'; }

# Everything present: nothing run, nothing said.
status
deps
is "$?" 0 "all present: exit 0"
is "$(cat "$T/out")" "" "all present: says nothing"
ok_cmd "all present: apt-get not called" test ! -e "$T/apt.log"

# Two packages dpkg has never heard of (the fresh machine): dpkg-query exits 1.
status
grep -v -e '^kcat ' -e '^clang ' "$T/status" >"$T/s2" && mv "$T/s2" "$T/status"
deps
is "$?" 0 "never-heard-of packages: installed, exit 0"
is "$(installs)" "kcat clang" "apt-get install gets exactly the two missing packages"
like "$(cat "$T/out")" "installing kcat clang" "says what it installs"
like "$(head -n 1 "$T/apt.log")" "^apt-get update" "apt-get update runs first"

# Half-installed, config-files only, unpacked: all three reinstalled.
status "jq install reinstreq half-installed" "valgrind deinstall ok config-files" \
	"sqlite3 install ok unpacked"
deps
is "$(installs)" "sqlite3 jq valgrind" "half-installed, config-files and unpacked count as missing"

# Java too old, Maven absent: Debian's packages for both.
status
rm "$S/mvn"
STUB_JAVA=11.0.2 deps
is "$(installs)" "openjdk-17-jre-headless maven" "java 11 and no mvn: openjdk-17-jre-headless and maven"
printf '#!/bin/bash\nexit 0\n' >"$S/mvn"
chmod +x "$S/mvn"
STUB_JAVA=21.0.1 deps
ok_cmd "java 21 and mvn on PATH: nothing to install" test ! -e "$T/apt.log"

# --check: names what is missing, installs nothing, exit 1.
status "kcat deinstall ok config-files"
deps --check
is "$?" 1 "--check with kcat missing: exit 1"
like "$(cat "$T/out")" "missing: kcat" "--check names it"
ok_cmd "--check runs no apt-get" test ! -e "$T/apt.log"

# Not root, no sudo: says what to install, exit 1.
STUB_UID=1000
mv "$S/sudo" "$S/sudo.off"
deps
is "$?" 1 "no root, no sudo: exit 1"
like "$(cat "$T/out")" "need root or sudo to install: kcat" "says it needs root and names the package"
mv "$S/sudo.off" "$S/sudo"
# Not root, sudo there: through sudo.
deps
is "$?" 0 "through sudo: exit 0"
like "$(cat "$T/apt.log")" "sudo apt-get install .* kcat" "apt-get runs through sudo"
STUB_UID=0

# apt-get install fails: the reason is shown, exit 1.
APT_FAIL=kcat deps
is "$?" 1 "apt-get install fails: exit 1"
like "$(cat "$T/out")" "Unable to locate package kcat" "apt-get's reason is shown"
like "$(cat "$T/out")" "could not install: kcat" "and what could not be installed"

done_testing
