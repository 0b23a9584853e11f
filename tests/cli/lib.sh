# TAP helpers for the shell tests (POSIX sh).  Source it; it expects $INFBENCH and
# $top_srcdir from the test environment (Makefile.am's AM_TESTS_ENVIRONMENT).
: "${INFBENCH:?INFBENCH is not set (run through make check)}"
: "${top_srcdir:?top_srcdir is not set (run through make check)}"
tap_n=0
tap_failed=0
plan() { echo "1..$1"; }
ok() { # ok CONDITION-STATUS DESCRIPTION
  tap_n=$((tap_n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_failed=$((tap_failed + 1)); fi
}
is() { # is WANT GOT DESCRIPTION
  if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; printf '#   wanted: %s\n#      got: %s\n' "$1" "$2"; fi
}
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $1"; }
diag() { echo "# $*"; }
# run_cmd ARGS...: run infbench, capture stdout, stderr and status in $out, $err, $rc.
run_cmd() {
  "$INFBENCH" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/infbench-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fixtures="$top_srcdir/tests/fixtures"
