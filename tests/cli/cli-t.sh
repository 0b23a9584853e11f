#!/bin/sh
# The command line: commands, exit statuses, outputs present and consistent, nothing
# half-written, reproducibility, failure isolation, plotting.
. "$top_srcdir/tests/cli/lib.sh"
plan 63

run_cmd --version
ok $rc "--version exits 0"
echo "$out" | grep -q '^infbench ' ; ok $? "--version names the program"
echo "$out" | grep -q '^GSL 2\.' ; ok $? "--version names GSL"
echo "$out" | grep -q '^BLAS OpenBLAS' ; ok $? "--version names OpenBLAS"
# OpenBLAS's kernels: never its generic SSE3 set on a CPU with AVX2 and FMA (infbench
# re-executes itself with OPENBLAS_CORETYPE when OpenBLAS does not know the CPU), unless
# the user says keep; the user's own OPENBLAS_CORETYPE is respected.  The choice is
# tested without an OPENBLAS_CORETYPE that the environment may set (some machines here
# set OPENBLAS_CORETYPE=Haswell for every process).
auto=$(env -u OPENBLAS_CORETYPE "$INFBENCH" --version 2>&1 | grep '^BLAS')
if grep -q '^flags.* avx2' /proc/cpuinfo && grep -q '^flags.* fma' /proc/cpuinfo; then
  echo "$auto" | grep -qv ' Prescott '; ok $? "--version: OpenBLAS runs kernels for this CPU, not Prescott"
else
  skip "the CPU has no AVX2/FMA"
fi
avx512=1
for f in avx512f avx512cd avx512bw avx512dq avx512vl; do
  grep -q "^flags.* $f" /proc/cpuinfo || avx512=0
done
if [ $avx512 = 1 ]; then
  echo "$auto" | grep -Eq ' (SkylakeX|Cooperlake|SapphireRapids) '
  ok $? "--version: OpenBLAS runs AVX-512 kernels on a CPU with AVX-512 ($auto)"
else
  skip "the CPU has no AVX-512"
fi
out=$(OPENBLAS_CORETYPE=Sandybridge "$INFBENCH" --version 2>&1)
echo "$out" | grep -q ' Sandybridge '; ok $? "the user's OPENBLAS_CORETYPE is respected"
keep=$(env -u OPENBLAS_CORETYPE INFBENCH_BLAS_CORETYPE=keep "$INFBENCH" --version 2>&1 | grep '^BLAS')
# With keep there is no re-execution: either OpenBLAS chose well by itself (the same
# kernels as above) or it is its generic fallback.
[ "$keep" = "$auto" ] || echo "$keep" | grep -q ' Prescott '
ok $? "INFBENCH_BLAS_CORETYPE=keep leaves OpenBLAS's own choice ($keep)"
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
grep -q '"schema_version": 1' "$tmp/r1/results.json"; ok $? "results.json has schema_version"
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
