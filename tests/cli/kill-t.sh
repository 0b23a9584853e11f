#!/bin/sh
# kill -9 at injected points (INFBENCH_KILL_AT=POINT[:N], core/fault.h), and SIGTERM at an
# injected pause, then infbench run --resume: the process dies at the point (status 137,
# SIGKILL, so the kill lands neither before the run started nor after it ended), the
# resumed run goes on from the stage it reached (the stage records list where each session
# began), leaves no temporary file, and ends with the outputs of the run done in one go:
# every number of results.json (timings and provenance aside, lib.sh's results_numbers)
# and every TSV byte.
. "$top_srcdir/tests/cli/lib.sh"
fm=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ -r "$fm" ]; then have_fm=1; else have_fm=0; fi
plan $((12 + have_fm * 64))

# kill_run DIR POINT ARGS...: run infbench with the kill armed at POINT; $rc its status.
kill_run() {
  _dir=$1 _point=$2
  shift 2
  INFBENCH_KILL_AT=$_point "$INFBENCH" run -o "$_dir" --quiet "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}
# no_temporaries DIR DESCRIPTION: no NAME.tmp.PID file is left in DIR or DIR/stages.
no_temporaries() {
  ls "$1" "$1/stages" 2>/dev/null | grep -q '\.tmp\.[0-9]*$'
  is 1 "$?" "$2: no temporary file is left"
}
# resume_ok DIR DESCRIPTION: --resume exits 0, leaves no temporary, and the outputs equal
# those of the reference run $ref.
resume_ok() {
  run_cmd run --resume "$1" --quiet
  is 0 "$rc" "$2: --resume exits 0"
  [ "$rc" -eq 0 ] || diag "$err"
  no_temporaries "$1" "$2"
  same_outputs "$ref" "$1"
  ok $? "$2: results.json's numbers and every TSV byte equal the run in one go's"
}
# session_is DIR STAGE SESSIONS DESCRIPTION: the stage record lists exactly these sessions
# (a JSON array's elements, e.g. '"start","after epoch 1"').
session_is() {
  got=$(sed -n 's/.*"sessions":\[//p' "$1/stages/amortized.$2.json" | sed 's/"\].*/"/')
  is "$3" "$got" "$4"
}

# The linear-Gaussian model has no stages: a killed run runs again on --resume.  Killed in
# its third atomic write (config.ini and the style come first, the outputs at the end).
f="$fixtures/run-lingauss.ini"
ref="$tmp/lg-ref"
run_cmd run "$f" -o "$ref" --quiet
is 0 "$rc" "lingauss: the run in one go exits 0"
kill_run "$tmp/lg" file-write:3 "$f"
is 137 "$rc" "lingauss, file-write:3: killed by SIGKILL (137)"
[ ! -e "$tmp/lg/results.json" ]
ok $? "lingauss, file-write:3: killed before results.json was written"
run_cmd run --resume "$tmp/lg" --quiet
same_outputs "$ref" "$tmp/lg"
ok $? "lingauss: --resume gives the run in one go's outputs"
# Linear regression likewise (its per-estimator outputs come first: the 4th write is one).
f="$fixtures/run-small.ini"
ref="$tmp/lr-ref"
run_cmd run "$f" -o "$ref" --quiet
kill_run "$tmp/lr" file-write:4 "$f"
is 137 "$rc" "linreg, file-write:4: killed by SIGKILL (137)"
[ ! -e "$tmp/lr/results.json" ]
ok $? "linreg, file-write:4: killed before results.json was written"
run_cmd run --resume "$tmp/lr" --quiet
is 0 "$rc" "linreg: --resume exits 0"
same_outputs "$ref" "$tmp/lr"
ok $? "linreg: --resume gives the run in one go's outputs"

# A bad setting is a usage error before anything runs.
INFBENCH_KILL_AT=no-such-point "$INFBENCH" run "$fixtures/run-lingauss.ini" -o "$tmp/bad" \
  >"$tmp/out" 2>"$tmp/err"
is 2 "$?" "INFBENCH_KILL_AT naming no point: exit 2"
grep -q "INFBENCH_KILL_AT=no-such-point: unknown point 'no-such-point' (points: train-step," \
  "$tmp/err"
ok $? "and the message names the variable and the points"
[ ! -e "$tmp/bad" ]
ok $? "and nothing is created"
INFBENCH_KILL_AT=train-step:0 "$INFBENCH" run "$fixtures/run-lingauss.ini" -o "$tmp/bad" \
  >"$tmp/out" 2>"$tmp/err"
is 2 "$?" "INFBENCH_KILL_AT with a count of 0: exit 2"
[ $have_fm -eq 1 ] || { diag "VAE cases skipped: Fashion-MNIST not installed"; exit $((tap_failed > 0)); }

# The VAE: 300 training images in batches of 50 (6 steps per epoch, so train-step is
# reached 5 times per epoch), 3 epochs, a gap report on 20 points per split in groups of 5
# (13 groups per split: L[q] 4, q* 1, IWAE with the encoder's proposal 4, with q*'s 4).
f="$fixtures/run-vae.ini"
set -- "$f" --set train.epochs=3 --set evaluate.points=20 --set evaluate.iwae_curve_points=0 \
  --set plot.posterior_images=0 --set plot.latent_points=0
ref="$tmp/ref"
run_cmd run -o "$ref" --quiet "$@"
is 0 "$rc" "vae: the run in one go exits 0"
session_is "$ref" train '"start"' "vae: the run in one go has one training session"
session_is "$ref" evaluate-test '"start"' "vae: and one gap-report session per split"

# Mid-epoch: between steps 2 and 3 of epoch 2 (epoch 1's checkpoint written).
kill_run "$tmp/a" train-step:7 "$@"
is 137 "$rc" "train-step:7: killed by SIGKILL (137)"
grep -q '"epochs":1,' "$tmp/a/stages/amortized.train.json" && [ ! -e "$tmp/a/results.json" ]
ok $? "train-step:7: killed in epoch 2 (the record holds epoch 1), before the end"
resume_ok "$tmp/a" "train-step:7"
session_is "$tmp/a" train '"start","after epoch 1"' "train-step:7: training resumed after epoch 1"

# During a checkpoint's write: epoch 2's checkpoint half written under its temporary name.
kill_run "$tmp/b" checkpoint-write:2 "$@"
is 137 "$rc" "checkpoint-write:2: killed by SIGKILL (137)"
tmpf=$(ls "$tmp/b"/checkpoint-amortized.bin.tmp.* 2>/dev/null)
[ -n "$tmpf" ] && [ "$(wc -c <"$tmpf")" -lt "$(wc -c <"$tmp/b/checkpoint-amortized.bin")" ]
ok $? "checkpoint-write:2: the new checkpoint is partly written, beside the old one"
resume_ok "$tmp/b" "checkpoint-write:2"
session_is "$tmp/b" train '"start","after epoch 1"' \
  "checkpoint-write:2: training resumed after epoch 1 (the complete checkpoint)"

# During a stage record's write: the 12th atomic write is the train split's third gap
# report state (config.ini, the style, 3 × (training record, checkpoint), the final
# training record, then a state after each group).
kill_run "$tmp/c" file-write:12 "$@"
is 137 "$rc" "file-write:12: killed by SIGKILL (137)"
ls "$tmp/c/stages" | grep -q '^amortized\.evaluate-train\.json\.tmp\.[0-9]*$'
ok $? "file-write:12: killed while the gap report's state was written"
resume_ok "$tmp/c" "file-write:12"
session_is "$tmp/c" evaluate-train '"start","L[q] after 10 of 20 points"' \
  "file-write:12: the gap report resumed from the last state written (10 points of L[q])"

# Between evaluation groups (20 points in groups of 5: L[q] groups 1-4, q* 5-8, IWAE with
# the encoder's proposal 9-12, with q*'s 13-16): mid-q* (group 6), after q* (8), mid-IWAE
# on the train split (10), mid-IWAE with q*'s proposal (14), and on the test split
# (16 + 10 = 26).
kill_run "$tmp/d0" gap-group:6 "$@"
is 137 "$rc" "gap-group:6: killed by SIGKILL (137)"
resume_ok "$tmp/d0" "gap-group:6"
session_is "$tmp/d0" evaluate-train '"start","q* after 10 of 20 points"' \
  "gap-group:6: the gap report resumed mid-q*"
kill_run "$tmp/d" gap-group:8 "$@"
is 137 "$rc" "gap-group:8: killed by SIGKILL (137)"
resume_ok "$tmp/d" "gap-group:8"
session_is "$tmp/d" evaluate-train '"start","IWAE (encoder)"' \
  "gap-group:8: the gap report resumed after q*, at IWAE"
kill_run "$tmp/e" gap-group:10 "$@"
is 137 "$rc" "gap-group:10: killed by SIGKILL (137)"
resume_ok "$tmp/e" "gap-group:10"
session_is "$tmp/e" evaluate-train '"start","IWAE (encoder) after 10 of 20 points"' \
  "gap-group:10: the gap report resumed mid-IWAE"
kill_run "$tmp/g" gap-group:14 "$@"
is 137 "$rc" "gap-group:14: killed by SIGKILL (137)"
resume_ok "$tmp/g" "gap-group:14"
session_is "$tmp/g" evaluate-train '"start","IWAE (q*) after 10 of 20 points"' \
  "gap-group:14: the gap report resumed mid-IWAE with q*'s proposal"
kill_run "$tmp/h" gap-group:26 "$@"
is 137 "$rc" "gap-group:26: killed by SIGKILL (137)"
resume_ok "$tmp/h" "gap-group:26"
session_is "$tmp/h" evaluate-train '"start"' "gap-group:26: the train split finished in one session"
session_is "$tmp/h" evaluate-test '"start","IWAE (encoder) after 10 of 20 points"' \
  "gap-group:26: the test split's report resumed mid-IWAE"

# Killed twice: the resumed session is killed too (its third group: IWAE with q*'s
# proposal after 5 points), and a third session finishes.
kill_run "$tmp/i" gap-group:10 "$@"
is 137 "$rc" "twice: the first session killed by SIGKILL (137)"
INFBENCH_KILL_AT=gap-group:3 "$INFBENCH" run --resume "$tmp/i" --quiet >"$tmp/out" 2>"$tmp/err"
is 137 "$?" "twice: the resumed session killed by SIGKILL (137)"
resume_ok "$tmp/i" "twice"
session_is "$tmp/i" evaluate-train \
  '"start","IWAE (encoder) after 10 of 20 points","IWAE (q*) after 5 of 20 points"' \
  "twice: three sessions, each going on from the last"

# SIGTERM between two evaluation groups (sent while the run waits at gap-group:10): the
# group's state is recorded, exit 130, and --resume goes on from it.
paused_run gap-group:10 'kill -TERM "$pause_pid"' run -o "$tmp/t" --quiet "$@"
is 130 "$rc" "SIGTERM at gap-group:10: exit 130"
resume_ok "$tmp/t" "SIGTERM at gap-group:10"
session_is "$tmp/t" evaluate-train '"start","IWAE (encoder) after 10 of 20 points"' \
  "SIGTERM at gap-group:10: the gap report resumed mid-IWAE"

# meanfield on the VAE keeps no trainer state: killed mid-epoch, it trains again.
set -- "$f" --set estimators.run=meanfield --set train.epochs=2 --set evaluate.points=5 \
  --set evaluate.iwae_curve_points=0 --set plot.posterior_images=0 --set plot.latent_points=0
ref="$tmp/mf-ref"
run_cmd run -o "$ref" --quiet "$@"
is 0 "$rc" "vae meanfield: the run in one go exits 0"
kill_run "$tmp/mf" train-step:7 "$@"
is 137 "$rc" "vae meanfield, train-step:7: killed by SIGKILL (137)"
[ -e "$tmp/mf/checkpoint-meanfield.bin" ] && [ ! -e "$tmp/mf/results.json" ]
ok $? "vae meanfield, train-step:7: killed in epoch 2, before the end"
resume_ok "$tmp/mf" "vae meanfield"

[ $tap_failed -eq 0 ]
