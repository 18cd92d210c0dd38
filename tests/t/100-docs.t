#!/usr/bin/env bash
# brokers: none
# What the docs say that can drift from the code, checked cheaply: the
# schema version they name is the code's (STORE_VERSION), every --option the
# README names is in a --help of the programs, every docs/ link the README
# has resolves, and the README names the test command the CI runs.
. "$(dirname "$0")/../lib.sh"

readme=$ROOT/README.md

# The schema version: docs/state-file.md's sentence against aggregator/store.h.
code_v=$(sed -n 's/^#define STORE_VERSION \([0-9]*\).*/\1/p' "$ROOT/aggregator/store.h")
doc_v=$(grep -o 'The schema is version [0-9]*' "$ROOT/docs/state-file.md" | grep -o '[0-9]*$')
like "$code_v" '^[0-9]+$' "STORE_VERSION found in aggregator/store.h"
is "$doc_v" "$code_v" "docs/state-file.md names the schema version of the code"
last=$(ls "$ROOT"/sql/migrate_*_*.sql | sed 's/.*_\([0-9]*\)\.sql$/\1/' | sort -n | tail -1)
is "$last" "$code_v" "the last sql/migrate_*.sql leads to that version"

# Every --option the README names, in one of the --help texts.
help=$("$BIN/aggregator" --help; "$BIN/aggregator" export --help; "$BIN/aggregator" status --help;
	"$BIN/producer" --help; "$ROOT/scripts/install-deps.sh" --help)
opts=$(grep -o -- '--[a-z][a-z-]*[a-z]' "$readme" | sort -u)
cmp_ok "$(wc -w <<<"$opts")" -ge 20 "the README names options ($(wc -w <<<"$opts"))"
missing=""
for o in $opts; do
	grep -q -- "$o\\b" <<<"$help" || missing+=" $o"
done
is "$missing" "" "every --option the README names is in a --help"

# Every docs/ link of the README resolves.
links=$(grep -o '](docs/[^)#]*' "$readme" | sed 's/^](//' | sort -u)
cmp_ok "$(wc -w <<<"$links")" -ge 8 "the README links docs/ ($(wc -w <<<"$links"))"
broken=""
for l in $links; do [[ -e $ROOT/$l ]] || broken+=" $l"; done
is "$broken" "" "every docs/ link of the README resolves"
# ... and the docs' links to each other.
broken=""
for f in "$ROOT"/docs/*.md; do
	for l in $(grep -o '](\([a-z0-9-]*\.md\))' "$f" | sed 's/^](//; s/)$//'); do
		[[ -e $ROOT/docs/$l ]] || broken+=" ${f##*/}:$l"
	done
done
is "$broken" "" "every docs/ link between docs resolves"

# The CI runs the test command the README gives: make test, visible as such.
ci=$(sed -n 's/^exec //p' "$ROOT/.ci/run")
is "$ci" "make test" "the CI's command is make test"
like "$(cat "$readme")" $'\nmake test\n' "the README gives 'make test' on a line of its own"

# The README stays a front door.
cmp_ok "$(wc -l <"$readme")" -le 300 "the README is at most 300 lines"
# The Makefile's header lists every target of its .PHONY line that a user runs.
for t in test demo run bench deps fuzz clean; do
	like "$(sed -n '1,15p' "$ROOT/Makefile")" "#   make $t( |"$'\n'")" "the Makefile's header lists make $t"
done
done_testing
