#!/bin/sh
# Identical results on 1, 2 and 3 threads for every model (issue "any machine" §3): every
# number in results.json (less its provenance block) and every byte of every other output.
# The VAE runs with [experiment] parts = 3, so that every thread count really runs the
# parts on that many threads, with gemm blocking set explicitly on and off (with auto the
# setting depends on the CPU's kernels), and with layers wide enough for blocking to
# engage (a part's rows × 784 × 200 is above OpenBLAS's small-matrix bound).
. "$top_srcdir/tests/cli/lib.sh"
plan 15

# check NAME CONFIG [--set ...]: run on 1, 2 and 3 threads, compare with 1 thread's run.
check() {
  name=$1 config=$2
  shift 2
  good=1
  for t in 1 2 3; do
    run_cmd run "$config" -o "$tmp/$name-$t" --quiet --threads "$t" "$@"
    if [ "$rc" != 0 ]; then
      diag "$name, $t threads: exit $rc: $err"
      good=0
    fi
  done
  grep -q '"threads": 3' "$tmp/$name-3/results.json" || good=0
  [ $good = 1 ] && same_run "$tmp/$name-1" "$tmp/$name-2" && same_run "$tmp/$name-1" "$tmp/$name-3"
  ok $? "$name: identical outputs on 1, 2 and 3 threads"
}

check linreg "$fixtures/run-small.ini"
check logreg "$top_srcdir/experiments/logreg-1d.ini"
check lingauss "$fixtures/run-lingauss.ini"
vae="--set experiment.parts=3 --set model.latent=3 --set model.decoder_hidden=200 --set encoder.hidden=200"
vae="$vae --set estimators.run=amortized,map,meanfield --set map.lambda=1"
for b in on off; do
  # shellcheck disable=SC2086
  check "vae-blocking-$b" "$fixtures/run-vae.ini" $vae --set experiment.gemm_blocking=$b
done
blocks=$(tr -d ' \n' < "$tmp/vae-blocking-on-1/results.json" | grep -o '"gemm_blocks":\[[0-9,]*\]')
is '"gemm_blocks":[32,128]' "$blocks" "gemm_blocking = on is in force in that run"
blocks=$(tr -d ' \n' < "$tmp/vae-blocking-off-1/results.json" | grep -o '"gemm_blocks":\[[0-9,]*\]')
is '"gemm_blocks":[0,0]' "$blocks" "gemm_blocking = off is in force in that run"

# The comparison can see a change of the parts (it is not vacuous): parts = 1 differs.
# shellcheck disable=SC2086
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/vae-parts1" --quiet --threads 2 $vae \
  --set experiment.gemm_blocking=off --set experiment.parts=1
same_run "$tmp/vae-blocking-off-1" "$tmp/vae-parts1" >/dev/null
differ=$?
[ "$rc" = 0 ] && [ $differ != 0 ]
ok $? "parts = 1 gives other numbers than parts = 3 (the comparison sees a partition)"

# A run resumes on another thread count: stopped after training on 1 thread, then resumed
# on 3; killed mid-epoch on 2, then resumed on 1.
# shellcheck disable=SC2086
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/vae-stop" --quiet --threads 1 $vae \
  --set experiment.gemm_blocking=off --stop-after train
rc1=$rc
run_cmd run --resume "$tmp/vae-stop" --quiet --threads 3
[ "$rc1" = 0 ] && [ "$rc" = 0 ] && same_run "$tmp/vae-blocking-off-1" "$tmp/vae-stop"
ok $? "stopped after training on 1 thread, resumed on 3 threads: identical outputs"
# shellcheck disable=SC2086
env INFBENCH_KILL_AT=train-step:5 "$INFBENCH" run "$fixtures/run-vae.ini" -o "$tmp/vae-kill" \
  --quiet --threads 2 $vae --set experiment.gemm_blocking=off >/dev/null 2>&1
rc1=$?
run_cmd run --resume "$tmp/vae-kill" --quiet --threads 1
[ "$rc1" = 137 ] && [ "$rc" = 0 ] && same_run "$tmp/vae-blocking-off-1" "$tmp/vae-kill"
ok $? "killed mid-epoch on 2 threads (exit $rc1), resumed on 1 thread: identical outputs"

# The thread count is outside the config's hash.
h1=$(sed -n 's/^# sha256: //p' "$tmp/lingauss-1/config.ini")
h3=$(sed -n 's/^# sha256: //p' "$tmp/lingauss-3/config.ini")
[ -n "$h1" ] && [ "$h1" = "$h3" ]; ok $? "the config hash does not depend on --threads"
grep -q '^threads = 3$' "$tmp/lingauss-3/config.ini"; ok $? "config.ini records the threads given"

# --threads is validated.
run_cmd run "$fixtures/run-small.ini" -o "$tmp/bad" --threads 0
is 2 "$rc" "--threads 0 exits 2"
is "infbench: --threads: '0' is not a thread count from 1 to 64" "$err" "and says why"
run_cmd run "$fixtures/run-small.ini" -o "$tmp/bad" --threads 2x
is 2 "$rc" "--threads 2x exits 2"
[ $tap_failed -eq 0 ]
