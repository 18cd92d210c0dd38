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
#   TESTS="..."    only these tests (paths, each optionally @mock or @kafka),
#                  instead of all
#   KAFKA_TESTS=mock   run no test on the real broker (says how many it skipped)
#
# Brokers: an end-to-end test runs once on each broker its "# brokers:" line
# names (mock: kafka-mock; kafka: Apache Kafka from scripts/kafka; none: it
# starts no broker), as FILE@mock and FILE@kafka; without the line, on both.
# Kafka is fetched once before the tests (scripts/kafka fetch); when it cannot
# be, the run fails and says why.
set -u

# Internal: prove's interpreter (--exec), so bash tests need no exec bit and
# compiled tests run directly; FILE@BROKER runs FILE with TEST_BROKER=BROKER.
if [[ ${1:-} == --exec1 ]]; then
	t=$2
	if [[ $t == *@* ]]; then
		export TEST_BROKER=${t##*@}
		t=${t%@*}
	fi
	case $t in
	*.t | *.sh) exec bash "$t" ;;
	*) exec "$t" ;;
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

. "$ROOT/tests/san-env.sh"

tests=()
if [[ -n ${TESTS:-} ]]; then
	read -r -a tests <<<"$TESTS"
else
	for f in "$BIN"/unit/*; do
		[[ -f $f && -x $f ]] && tests+=("$f")
	done
	for f in tests/t/*.t; do
		[[ -f $f ]] || continue
		brokers=$(sed -n 's/^# brokers: *\([a-z ]*\).*/\1/p' "$f" | head -n 1)
		for b in ${brokers:-mock kafka}; do
			case $b in
			none) tests+=("$f") ;;
			mock | kafka) tests+=("$f@$b") ;;
			*) echo "run.sh: $f: unknown broker '$b'" >&2; exit 2 ;;
			esac
		done
	done
fi

# The real broker: fetched once here (the tests would race for it), or left
# out on request.
kafka_runs=0
for t in "${tests[@]}"; do [[ $t == *@kafka ]] && kafka_runs=$((kafka_runs + 1)); done
if ((kafka_runs)); then
	if [[ ${KAFKA_TESTS:-} == mock ]]; then
		kept=()
		for t in "${tests[@]}"; do [[ $t == *@kafka ]] || kept+=("$t"); done
		tests=("${kept[@]}")
		echo "run.sh: KAFKA_TESTS=mock: skipped $kafka_runs test runs on the real Kafka broker"
	elif ! "$ROOT/scripts/kafka" fetch >/dev/null; then
		echo "run.sh: cannot get Apache Kafka for the $kafka_runs real-broker test runs (above: why);" \
			"KAFKA_TESTS=mock make test runs the others only" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
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
