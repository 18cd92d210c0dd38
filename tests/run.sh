#!/usr/bin/env bash
# tests/run.sh BIN_DIR - run every test under prove and summarise.
#
# Runs the unit test binaries BIN_DIR/unit/* (compiled, print TAP) and the
# end-to-end tests tests/t/*.t (bash, source tests/lib.sh) with BIN=BIN_DIR,
# then prints exactly one final line "N passed, M failed" counting single TAP
# assertions; a test program that dies or breaks its plan counts as at least
# one failure.  Exit status 0 only when nothing failed.
#
#   PROVE_JOBS=N   parallel test programs (default 2; 1 for serial)
#   PROVE_ARGS     extra prove arguments (e.g. -v)
#   TESTS="..."    only these test files (paths), instead of all
set -u

# Internal: prove's interpreter (--exec), so bash tests need no exec bit and
# compiled tests run directly.
if [[ ${1:-} == --exec1 ]]; then
	case $2 in
	*.t | *.sh) exec bash "$2" ;;
	*) exec "$2" ;;
	esac
fi

usage() {
	echo "Usage: tests/run.sh BIN_DIR   (e.g. build/san/bin or bin)" >&2
	exit 2
}
[[ $# -eq 1 && $1 != -h && $1 != --help ]] || usage
[[ -d $1 ]] || { echo "run.sh: no such directory: $1" >&2; exit 2; }

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$1" && pwd)
export ROOT BIN
cd "$ROOT" || exit 2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}
if [[ -z ${LSAN_OPTIONS:-} && -f $ROOT/tests/lsan.supp ]]; then
	export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

tests=()
if [[ -n ${TESTS:-} ]]; then
	read -r -a tests <<<"$TESTS"
else
	for f in "$BIN"/unit/*; do
		[[ -f $f && -x $f ]] && tests+=("$f")
	done
	for f in tests/t/*.t; do
		[[ -f $f ]] && tests+=("$f")
	done
fi
if ((${#tests[@]} == 0)); then
	echo "run.sh: no tests found" >&2
	echo "0 passed, 0 failed"
	exit 0
fi

log=$(mktemp "${TMPDIR:-/tmp}/run.XXXXXX") || exit 2
trap 'rm -f "$log"' EXIT

jobs=${PROVE_JOBS:-2}
# shellcheck disable=SC2086 # PROVE_ARGS is split on purpose
timeout "${RUN_TIMEOUT:-3600}" prove --timer -j"$jobs" ${PROVE_ARGS:-} \
	--exec "$SELF --exec1" "${tests[@]}" 2>&1 | tee "$log"
prove_st=${PIPESTATUS[0]}

# Files=4, Tests=57, 12 wallclock secs (...)
# Test Summary Report
# -------------------
# tests/t/10-x.t (Wstat: 256 (exited 1) Tests: 5 Failed: 1)
#   Failed test:  3
#   Non-zero exit status: 1
#   Parse errors: Bad plan.  You planned 6 tests but ran 5.
read -r passed failed < <(awk '
	function flush() {
		if (!inentry) return
		n = failed_here
		if (n == 0 && problem) n = 1
		failed += n
		inentry = 0
	}
	/^Test Summary Report/ { insummary = 1; next }
	insummary && /\(Wstat: [0-9]+/ {
		flush()
		inentry = 1; problem = 0; failed_here = 0
		if (match($0, /Failed: [0-9]+/)) {
			failed_here = substr($0, RSTART + 8, RLENGTH - 8) + 0
			failfiles_f += failed_here
		}
		if (match($0, /Wstat: [0-9]+/) && substr($0, RSTART + 7, RLENGTH - 7) + 0 != 0)
			problem = 1
		next
	}
	insummary && inentry && /^  (Parse errors|Non-zero exit|Non-zero wait|No subtests run|Bad plan)/ {
		problem = 1; next
	}
	/^Files=[0-9]+, Tests=[0-9]+/ {
		flush()
		if (match($0, /Tests=[0-9]+/)) tests = substr($0, RSTART + 6, RLENGTH - 6) + 0
		havefiles = 1
		insummary = 0
	}
	END {
		flush()
		if (!havefiles) { print 0, (failed > 0 ? failed : 1); exit }
		print tests - failfiles_f, failed + 0
	}' "$log")

if ((prove_st != 0 && failed == 0)); then
	echo "run.sh: prove exited with status $prove_st" >&2
	failed=1
fi
echo "$passed passed, $failed failed"
((failed == 0))
