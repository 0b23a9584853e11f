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
# results_numbers DIR: DIR/results.json less what differs between two runs of one config
# and seed: the provenance (the "program" block: versions, BLAS kernels, thread counts) and
# every timing ("seconds", "evaluation_seconds") or thread count.  "Identical results"
# compares this.
results_numbers() {
  sed '/^  "program": {$/,/^  },$/d' "$1/results.json" |
    grep -v -E '"[a-z_]*(seconds|threads)": '
}
# same_outputs A B: status 0 when run directories A and B hold the same results_numbers and
# byte-identical TSV files (the same set of them); otherwise 1, with the differences as
# diagnostics.
same_outputs() {
  _so=0
  results_numbers "$1" >"$tmp/so-a" && results_numbers "$2" >"$tmp/so-b" &&
    cmp -s "$tmp/so-a" "$tmp/so-b" || { _so=1; diag "results.json of $1 and $2 differ"; }
  (cd "$1" && ls -- *.tsv) >"$tmp/so-a" 2>/dev/null
  (cd "$2" && ls -- *.tsv) >"$tmp/so-b" 2>/dev/null
  cmp -s "$tmp/so-a" "$tmp/so-b" || { _so=1; diag "$1 and $2 hold different TSV files"; }
  [ -s "$tmp/so-a" ] || { _so=1; diag "$1 holds no TSV file"; }
  while read -r _f; do
    cmp -s "$1/$_f" "$2/$_f" || { _so=1; diag "$_f differs"; }
  done <"$tmp/so-a"
  return $_so
}
# paused_run POINT CHANGE ARGS...: run "$INFBENCH" ARGS... paused at POINT
# (INFBENCH_PAUSE_AT, core/fault.h); there run the shell command CHANGE, with the run's
# process ID in $pause_pid, then let the run go on.  $rc, $out and $err as run_cmd's;
# $paused is 1 when the run reached the point.  The run's status comes back through the
# FIFO too, so a run that never reaches the point cannot leave the test waiting.
# $pause_launch (empty by default) is put before "$INFBENCH": a launcher, e.g.
# "mpirun -np 3" (the pause then happens in the rank that reaches POINT).
pause_launch=
paused_run() {
  _point=$1 _change=$2
  shift 2
  paused=0
  rm -f "$tmp/fifo" && mkfifo "$tmp/fifo" || return 1
  # shellcheck disable=SC2086
  (INFBENCH_PAUSE_AT=$_point INFBENCH_PAUSE_FIFO="$tmp/fifo" $pause_launch "$INFBENCH" "$@" \
    >"$tmp/out" 2>"$tmp/err" </dev/null
   echo "exit $?" >"$tmp/fifo") &
  read -r _what _n pause_pid <"$tmp/fifo"
  if [ "$_what" = exit ]; then
    rc=$_n
    diag "the run ended (status $rc) without reaching $_point"
  else
    paused=1
    eval "$_change"
    echo go >"$tmp/fifo"
    read -r _what rc <"$tmp/fifo"
  fi
  wait
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/infbench-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fixtures="$top_srcdir/tests/fixtures"
# same_run DIR1 DIR2: same_outputs, and every other output (scripts, checkpoints) equal
# byte for byte (config.ini names the threads; stages/ holds timings; schedule.log is the
# log of who computed which group, and when).
same_run() {
  same_outputs "$1" "$2" || return 1
  for f in "$1"/*; do
    b=$(basename "$f")
    case $b in config.ini|results.json|stages|schedule.log|*.tsv) continue ;; esac
    cmp -s "$f" "$2/$b" || { diag "$b differs between $1 and $2"; return 1; }
  done
  [ "$(ls "$1" | sort)" = "$(ls "$2" | sort)" ]
}

# python_json FILE CODE: run CODE with the JSON document FILE as d (Debian's python3).
python_json() {
  "${PYTHON:-/usr/bin/python3}" -c "import json, sys
d = json.load(open(sys.argv[1]))
$2" "$1"
}
