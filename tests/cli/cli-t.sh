#!/bin/sh
# The command line: commands, exit statuses, outputs present and consistent, nothing
# half-written, reproducibility, failure isolation, plotting.
. "$top_srcdir/tests/cli/lib.sh"
plan 65

run_cmd --version
ok $rc "--version exits 0"
echo "$out" | grep -q '^infbench ' ; ok $? "--version names the program"
echo "$out" | grep -q '^GSL 2\.' ; ok $? "--version names GSL"
echo "$out" | grep -q '^BLAS OpenBLAS' ; ok $? "--version names OpenBLAS"
# OpenBLAS's kernels.  The choice itself is a pure function tested with injected inputs
# (tests/linalg/blas-t); here, once, the re-execution that acts on it.  Tests neither set
# nor unset OPENBLAS_CORETYPE (some machines set it because old OpenBLAS builds crash on
# their CPUs), so which half runs depends on the environment, and the other is skipped.
echo "$out" | grep -q '^BLAS kernels: [A-Za-z0-9]* (' ; ok $? "--version names the kernel set and who chose it"
if [ -n "${OPENBLAS_CORETYPE+set}" ]; then
  skip "the environment sets OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE: no re-execution to test"
  line=$(env -u INFBENCH_BLAS_CORETYPE "$INFBENCH" --version 2>&1 | grep '^BLAS kernels: ')
  echo "$line" | grep -q "(OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)\$"
  ok $? "the environment's OPENBLAS_CORETYPE is respected ($line)"
else
  # With keep, OpenBLAS's own choice and what infbench advises over it; without, the
  # advice must have been acted on (or, with none, OpenBLAS's choice kept).
  keep=$(INFBENCH_BLAS_CORETYPE=keep "$INFBENCH" --version 2>&1 | grep '^BLAS kernels: ')
  auto=$(env -u INFBENCH_BLAS_CORETYPE "$INFBENCH" --version 2>&1 | grep '^BLAS kernels: ')
  own=$(echo "$keep" | sed -n "s/^BLAS kernels: \([A-Za-z0-9]*\) (OpenBLAS's own choice; .*/\1/p")
  advice=$(echo "$keep" | sed -n "s/.*infbench's advice: \([A-Za-z0-9]*\))\$/\1/p")
  if [ -z "$own" ] || [ -z "$advice" ]; then
    false
  elif [ "$advice" = none ]; then
    [ "$auto" = "$keep" ]
  else
    [ "$auto" = "BLAS kernels: $advice (chosen by infbench over OpenBLAS's $own)" ]
  fi
  ok $? "infbench re-executes itself with the kernels it advises ($keep; then $auto)"
  skip "the environment leaves OPENBLAS_CORETYPE unset: nothing of the user's to respect"
fi
# OpenMP's wait policy: passive unless the environment sets one (setting it here is fine:
# it is infbench's own decision, not the machine's).
w=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$INFBENCH" --version 2>&1 | grep '^OpenMP wait')
is "OpenMP wait policy: passive (set by infbench)" "$w" "OpenMP's threads wait passively by default"
w=$(env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active "$INFBENCH" --version 2>&1 | grep '^OpenMP wait')
is "OpenMP wait policy: the environment's (OMP_WAIT_POLICY=active, GOMP_SPINCOUNT=unset)" "$w" \
   "the environment's OMP_WAIT_POLICY is kept"
w=$(env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=1000 "$INFBENCH" --version 2>&1 | grep '^OpenMP wait')
is "OpenMP wait policy: the environment's (OMP_WAIT_POLICY=unset, GOMP_SPINCOUNT=1000)" "$w" \
   "so is its GOMP_SPINCOUNT"
run_cmd --help
ok $rc "--help exits 0"
for c in run check list plot; do
  run_cmd $c --help
  ok $rc "$c --help exits 0"
done
run_cmd frobnicate
is 2 "$rc" "an unknown command exits 2"
run_cmd
is 2 "$rc" "no command exits 2"

run_cmd list
ok $rc "list exits 0"
echo "$out" | grep -q '^estimator  laplace' ; ok $? "list names the laplace estimator"
run_cmd list keys
ok $rc "list keys exits 0"
echo "$out" | grep -q '^map\.lambda	' ; ok $? "list keys has map.lambda"

# check: resolved config and its hash.
run_cmd check "$fixtures/run-small.ini"
ok $rc "check of a valid file exits 0"
hash=$(echo "$out" | sed -n 's/^# sha256: //p')
is 64 "${#hash}" "check prints a SHA-256"
echo "$out" | grep -q '^folds = 5' ; ok $? "check fills in defaults (map folds = 5)"
run_cmd check "$fixtures/run-small.ini" --set map.lambda=2
hash2=$(echo "$out" | sed -n 's/^# sha256: //p')
[ -n "$hash2" ] && [ "$hash" != "$hash2" ]; ok $? "--set changes the hash"

# run: outputs present and consistent.
run_cmd run "$fixtures/run-small.ini" -o "$tmp/r1" --quiet
is 0 "$rc" "run exits 0"
is "" "$out" "--quiet prints nothing"
for f in config.ini results.json estimators.tsv weights.tsv path-map-sweep.tsv \
         evidence-bayes.tsv infbench-style.gp path-map-sweep-loglik.gp evidence-bayes.gp; do
  [ -s "$tmp/r1/$f" ]; ok $? "run writes $f"
done
ls "$tmp/r1" | grep -q '\.tmp\.' ; [ $? -ne 0 ]; ok $? "no temporary files are left"
grep -q "^# sha256: $hash\$" "$tmp/r1/config.ini"; ok $? "config.ini carries the hash printed by check"
grep -q "\"hash\": \"$hash\"" "$tmp/r1/results.json"; ok $? "results.json carries the same hash"
grep -q '"schema_version": 2' "$tmp/r1/results.json"; ok $? "results.json has schema_version"
grep -q '"gsl": "2\.' "$tmp/r1/results.json"; ok $? "results.json records the GSL version"

# An existing directory is refused without --force.
run_cmd run "$fixtures/run-small.ini" -o "$tmp/r1"
is 2 "$rc" "an existing run directory exits 2"
echo "$err" | grep -q 'use --force' ; ok $? "and says to use --force"
run_cmd run "$fixtures/run-small.ini" -o "$tmp/r1" --force --quiet
is 0 "$rc" "--force reuses it"

# Reproducible: the same config and seed give the same numbers (timings aside).
run_cmd run "$fixtures/run-small.ini" -o "$tmp/r2" --quiet
results_numbers "$tmp/r1" > "$tmp/a.json"
results_numbers "$tmp/r2" > "$tmp/b.json"
cmp -s "$tmp/a.json" "$tmp/b.json"; ok $? "two runs give identical results.json (timings aside)"

# One failing estimator: the others still run, exit 1, the failure is reported.
run_cmd run "$fixtures/run-separable.ini" -o "$tmp/sep"
is 1 "$rc" "a failing estimator makes the run exit 1"
echo "$out" | grep -q 'mle failed: .*separable' ; ok $? "the table reports the separable-data failure"
grep -q '"status": "ok"' "$tmp/sep/results.json"; ok $? "map and laplace still succeed"
run_cmd run "$fixtures/run-collinear.ini" -o "$tmp/col"
is 1 "$rc" "a singular design fails the MLE (exit 1)"
echo "$out" | grep -q 'mle failed: .*use map' ; ok $? "the singular-design message suggests map"

# Missing parents of the output directory are created.
run_cmd run "$fixtures/run-small.ini" -o "$tmp/deep/er/run" --quiet
[ "$rc" = 0 ] && [ -s "$tmp/deep/er/run/results.json" ]; ok $? "-o creates missing parent directories"

# An output directory that cannot be created.
run_cmd run "$fixtures/run-small.ini" -o /dev/null/sub --quiet
is 1 "$rc" "an uncreatable output directory exits 1"
echo "$err" | grep -q '/dev/null/sub' ; ok $? "and names it"

# Plot scripts: self-contained, loading the copied shared style.
cmp -s "$tmp/r1/infbench-style.gp" "$top_srcdir/plots/infbench.gp"
ok $? "the run directory carries a copy of plots/infbench.gp"
bad=0
for g in "$tmp"/r1/*.gp; do
  case $g in */infbench-style.gp) continue ;; esac
  grep -q "^load 'infbench-style.gp'" "$g" || bad=1
done
ok $bad "every script loads infbench-style.gp"
grep -q 'nats per observation' "$tmp/r1/path-map-sweep-loglik.gp"; ok $? "log-likelihood axis carries its unit"
run_cmd plot "$tmp/none"
is 2 "$rc" "plot of a missing directory exits 2"
mkdir "$tmp/empty"
run_cmd plot "$tmp/empty"
is 1 "$rc" "plot of a directory without scripts exits 1"
run_cmd plot "$tmp/r1" --format jpg
is 2 "$rc" "plot --format jpg exits 2"
env PATH=/nonexistent GNUPLOT= "$INFBENCH" plot "$tmp/r1" >"$tmp/out" 2>"$tmp/err"
is 1 "$?" "plot without gnuplot exits 1"
is "infbench: gnuplot not found on PATH; install it (apt-get install gnuplot-nox) to render figures" \
   "$(cat "$tmp/err")" "and says how to install it"

# Plots, when gnuplot is there.
if [ -n "${GNUPLOT:-}" ] && [ -x "$GNUPLOT" ]; then
  run_cmd plot "$tmp/r1" --quiet
  ok $rc "plot renders the run directory"
  [ -s "$tmp/r1/path-map-sweep-loglik.png" ] && [ -s "$tmp/r1/path-map-sweep-loglik.svg" ]
  ok $? "plot writes PNG and SVG"
  mkdir "$tmp/r3" && cp "$tmp"/r1/*.gp "$tmp"/r1/*.tsv "$tmp/r3/"
  echo 'plot nosuchvariable' > "$tmp/r3/zz-broken.gp"
  run_cmd plot "$tmp/r3" --format png --quiet
  is 1 "$rc" "a failing script makes plot exit 1"
  [ -s "$tmp/r3/path-map-sweep-loglik.png" ] && [ ! -e "$tmp/r3/zz-broken.png" ]
  ok $? "the other figures are still written, the broken one is not"
else
  skip "gnuplot not installed"
  skip "gnuplot not installed"
  skip "gnuplot not installed"
  skip "gnuplot not installed"
fi
[ $tap_failed -eq 0 ]
