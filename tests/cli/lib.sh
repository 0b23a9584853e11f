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
# results_numbers DIR: DIR/results.json less its provenance block (infbench(1), FILES):
# the "program" object and every timing ("seconds", "evaluation_seconds").  What remains
# must be identical on any thread count and after --resume.
results_numbers() {
  awk '/^  "program": \{/ { skip = 1 } skip { if (/^  \},?$/) skip = 0; next }
       /"(seconds|evaluation_seconds)":/ { next } { print }' "$1/results.json"
}
# same_run DIR1 DIR2: status 0 when the two run directories hold the same numbers:
# results_numbers equal, and every other output (TSV tables, scripts, checkpoints) equal
# byte for byte (config.ini names the threads; stages/ holds timings).
same_run() {
  [ "$(results_numbers "$1")" = "$(results_numbers "$2")" ] || return 1
  for f in "$1"/*; do
    b=$(basename "$f")
    case $b in config.ini|results.json|stages) continue ;; esac
    cmp -s "$f" "$2/$b" || { diag "$b differs between $1 and $2"; return 1; }
  done
  [ "$(ls "$1" | sort)" = "$(ls "$2" | sort)" ]
}
