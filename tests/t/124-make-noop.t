#!/usr/bin/env bash
# brokers: none
# A second `make` is a no-op (issue 26): after the build `make test` has just
# made, nothing is compiled or linked again.  The test tools' objects come
# from a pattern chain, and make deleted them as intermediates, so every
# `make` relinked kafka-mock, kafka-admin, feed-server and gen-ticks.
. "$(dirname "$0")/../lib.sh"

for flavour in "" "SAN=1"; do
	out=$(cd "$ROOT" && make -n $flavour all 2>&1)
	is "$(grep -cE '(^| )(cc|gcc|clang) ' <<<"$out")" 0 "make ${flavour:+$flavour }all after a build: nothing to compile or link" ||
		diag "$(grep -E '(^| )(cc|gcc|clang) ' <<<"$out" | head -n 5)"
done
done_testing
