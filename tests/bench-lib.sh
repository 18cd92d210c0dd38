# shellcheck shell=bash
# tests/bench-lib.sh - sourced by the benchmarks (tests/bench.sh,
# tests/bench-group.sh, tests/bench-peers.sh) once they set BENCH_NAME: ROOT,
# BIN (the script's $1, else bin/), tests/lib.sh's process cleanup without
# its TAP, and the helpers to time, record and report runs.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(cd "${1:-$ROOT/bin}" && pwd) || { echo "$BENCH_NAME: no binaries in ${1:-bin} (run make)" >&2; exit 2; }
export ROOT BIN
# shellcheck source=tests/lib.sh
. "$ROOT/tests/lib.sh"
# lib.sh's EXIT trap speaks TAP; here we only want its process cleanup.
trap '_cleanup $?' EXIT
trap 'echo "$BENCH_NAME: interrupted" >&2; _cleanup 1; exit 130' INT TERM HUP
OUT_DIR=$ROOT/bench
mkdir -p "$OUT_DIR"

log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
now_ms() { echo $(($(now_us) / 1000)); }
# median of the numbers on stdin ("" when none)
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# pct P: the P-th percentile (nearest rank) of the numbers on stdin
pct() { sort -g | awk -v p="$1" '{a[NR]=$1} END {if (NR) {i=int(NR*p/100+0.999999); if (i<1) i=1; if (i>NR) i=NR; print a[i]}}'; }
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { if (v == "") print "n/a"; else printf "%.*f\n", d, v }'; }
calc() { awk "BEGIN { printf \"%.6f\n\", $* }"; }
# record KEY VALUE: one sample of KEY for this run (under $PFX KEY); med KEY: their median
declare -A S=()
PFX=""
record() { S[$PFX$1]+="$2"$'\n'; }
med() { printf '%s' "${S[$1]:-}" | grep -v '^$' | median; }
# verdict VALUE OP TARGET: PASS, MISS, or n/a without a value
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v == "") print "n/a";
	else if ((op == ">=" && v + 0 >= t + 0) || (op == "<=" && v + 0 <= t + 0)) print "PASS"; else print "MISS" }'; }
# first_commit FILE: wall-clock ms of the first --progress-json line after a committed batch
first_commit() { grep -m 1 '"totals":{"batches":[1-9]' "$1" 2>/dev/null | sed -n 's/.*"timestampMs":\([0-9]*\),.*/\1/p'; }
# results_section NAME TEXT: TEXT into bench/results.md between <!-- NAME -->
# and <!-- /NAME -->, where that section was (else at the end); the rest kept.
results_section() {
	local f=$OUT_DIR/results.md
	if [[ -f $f ]] && grep -q "^<!-- $1 -->\$" "$f"; then
		SEC="<!-- $1 -->"$'\n'"$2"$'\n'"<!-- /$1 -->" awk -v b="<!-- $1 -->" -v e="<!-- /$1 -->" '
			$0 == b { print ENVIRON["SEC"]; skip = 1; next } skip && $0 == e { skip = 0; next } !skip' "$f" \
			>"$f.tmp" && mv "$f.tmp" "$f"
	else
		{ [[ -s $f ]] && printf '\n'; printf '<!-- %s -->\n%s\n<!-- /%s -->\n' "$1" "$2" "$1"; } >>"$f"
	fi
}
