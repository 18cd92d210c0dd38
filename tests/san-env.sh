# tests/san-env.sh - sourced by tests/run.sh (the unit tests) and tests/lib.sh
# (the end-to-end tests, also when one is run by hand): the sanitizers'
# settings.  ASan errors exit 23; a tests/lsan.supp, when present, holds
# LeakSanitizer suppressions.  Callers may override any of these variables.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}
if [[ -z ${LSAN_OPTIONS:-} && -f $ROOT/tests/lsan.supp ]]; then
	export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
