#!/usr/bin/env bash
# brokers: none
# make demo (scripts/demo.sh) and the live page: it says the page's address
# while the pipeline runs; in a run that is not at a terminal (CI, a pipe)
# it ends on its own, serving nothing after; with DEMO_SERVE=SECONDS the page
# stays that long (aggregator serve over demo/state.db: the CSV's windows)
# and Ctrl-C ends it early with exit 0.  Nothing is left running.
. "$(dirname "$0")/../lib.sh"

# DEMO_PORT: a free port here, not the 8080 a user's demo may hold.
P=$(free_port) || bail "no free port"
demo() { # NAME [ENV=VALUE...]: the demo, sped up, its files in $T/NAME
	local name=$1; shift
	spawn "$name" perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' env DEMO_SPEED=0 \
		DEMO_DIR="$T/$name" DEMO_PORT="$P" PROGRESS=1 "$@" "$ROOT/scripts/demo.sh" "$BIN"
}
left() { pgrep -f -- "$T/$1" | paste -sd' '; }

# Not at a terminal, no DEMO_SERVE: the demo ends on its own.
demo plain
wait_exit plain 120
is "$?" 0 "not at a terminal: the demo ends on its own, exit 0"
like "$(cat "$T/plain.out")" "demo: the live page: http://127\\.0\\.0\\.1:[0-9]+/ .*the producer's: http://127\\.0\\.0\\.1:[0-9]+/" \
	"it says where the live pages are"
unlike "$(cat "$T/plain.out")" "stays on" "and does not stay to serve"
is "$(left plain)" "" "nothing of it left running"

# DEMO_SERVE=600: the page stays, from the state; Ctrl-C ends it.
demo serve DEMO_SERVE=600
serving() { grep -q 'the live page stays on http' "$T/serve.out"; }
ok_cmd "DEMO_SERVE=600: it says the page stays" wait_for 120 serving
url=$(sed -n 's|.*the live page stays on \(http://[^ ]*/\) for 10 min.*|\1|p' "$T/serve.out")
like "$url" "^http://127\\.0\\.0\\.1:[0-9]+/$" "for 10 min, at its address ($url)"
like "$(curl -sf --max-time 5 "$url")" '<canvas id="chart">' "the page is served"
is "$(curl -sf --max-time 5 "${url}api/windows?limit=5000" | jq '.windows | length')" \
	"$(($(wc -l <"$T/serve/output.csv") - 1))" "/api/windows: the CSV's windows"
is "$(curl -sf --max-time 5 "${url}api/status" | jq -r .mode)" serve "read-only, over the state"
stop serve INT
is "$?" 0 "Ctrl-C while it serves: exit 0"
like "$(cat "$T/serve.out")" "stopped serving the page \\(SIGINT\\)" "it says so"
is "$(left serve)" "" "nothing of it left running"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url")" 000 "the page is gone"

# DEMO_SERVE=2: it ends by itself after that.
demo short DEMO_SERVE=2
wait_exit short 120
is "$?" 0 "DEMO_SERVE=2: exit 0 once the time is over"
like "$(cat "$T/short.out")" "the page's time is over \\(DEMO_SERVE=2\\)" "it says so"
is "$(left short)" "" "nothing of it left running"
done_testing
