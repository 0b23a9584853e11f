#!/bin/sh
# infbench run --resume and --stop-after on a tiny VAE: a run stopped after training, and a
# run interrupted by SIGINT during training (at an injected pause), both continued with
# --resume, end with the same results as the run done in one go; refused resumes exit 2
# and say why.
. "$top_srcdir/tests/cli/lib.sh"
fm=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -r "$fm" ]; then
  echo "1..0 # SKIP Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
  exit 0
fi
plan 20

f="$fixtures/run-vae.ini"
# Three epochs (6 steps each) and a small gap report.
set -- --set train.epochs=3 --set evaluate.points=2 --set evaluate.iwae_curve_points=0 \
  --set plot.posterior_images=0 --set plot.latent_points=0

run_cmd run "$f" -o "$tmp/a" --quiet "$@"
is 0 "$rc" "the run in one go exits 0"

# --stop-after train, then --resume.
run_cmd run "$f" -o "$tmp/b" --quiet --stop-after train "$@"
is 0 "$rc" "--stop-after train exits 0"
grep -q '"stopped_after": "train"' "$tmp/b/results.json"
ok $? "results.json records the stop"
[ -s "$tmp/b/checkpoint-amortized.bin" ] && ! grep -q '"approximation_gap"' "$tmp/b/results.json"
ok $? "a checkpoint and no gap report yet"
run_cmd run --resume "$tmp/b" --quiet
is 0 "$rc" "--resume of the stopped run exits 0"
results_numbers "$tmp/a" >"$tmp/ja"
results_numbers "$tmp/b" >"$tmp/jb"
cmp -s "$tmp/ja" "$tmp/jb"
ok $? "the resumed run's results equal the run in one go's"
run_cmd run --resume "$tmp/b"
is 0 "$rc" "--resume of a finished run exits 0"
case $out in *"nothing to resume"*) ok 0 "and says there is nothing to resume" ;;
  *) ok 1 "and says there is nothing to resume"; diag "$out" ;; esac

# SIGINT during training, sent while the run waits between two steps of epoch 2
# (INFBENCH_PAUSE_AT): the epoch's checkpoint, exit 130, then --resume.
paused_run train-step:7 'kill -INT "$pause_pid"' run "$f" -o "$tmp/c" --quiet "$@"
is 130 "$rc" "SIGINT during training exits 130"
grep -q 'continue with: infbench run --resume' "$tmp/err"
ok $? "and says how to continue"
grep -q '"interrupted": true' "$tmp/c/results.json" &&
  grep -q 'interrupted after epoch 2;' "$tmp/c/results.json"
ok $? "results.json records the interruption and its epoch (the one under way: 2)"
ls "$tmp/c" | grep -q -E '\.tmp|~$'
is 1 "$?" "no temporary file is left behind"
run_cmd run --resume "$tmp/c" --quiet
is 0 "$rc" "--resume of the interrupted run exits 0"
results_numbers "$tmp/c" >"$tmp/jc"
cmp -s "$tmp/ja" "$tmp/jc"
ok $? "the resumed run's results equal the run in one go's"

# Refusals: exit 2, a reason, nothing changed.
run_cmd run --resume "$tmp/b" --set train.epochs=5
is 2 "$rc" "--resume with --set exits 2"
run_cmd run --resume "$tmp/nonexistent"
is 2 "$rc" "--resume of a missing directory exits 2"
run_cmd run "$f" -o "$tmp/d" --quiet --stop-after train --set train.epochs=2
sed 's/^epochs = 2$/epochs = 3/' "$tmp/d/config.ini" >"$tmp/d/config.new" &&
  mv "$tmp/d/config.new" "$tmp/d/config.ini"
run_cmd run --resume "$tmp/d"
is 2 "$rc" "--resume of a run whose config.ini was edited exits 2"
case $err in *"no longer matches"*) ok 0 "and says the configuration changed" ;;
  *) ok 1 "and says the configuration changed"; diag "$err" ;; esac
run_cmd run "$f" -o "$tmp/e" --stop-after everything
is 2 "$rc" "--stop-after with an unknown stage exits 2"
run_cmd run "$fixtures/run-linreg.ini" -o "$tmp/g" --stop-after train
is 2 "$rc" "--stop-after on a model without stages exits 2"
