#!/bin/sh
# Outputs that cannot be written mid-run (a VAE run): a file-size limit (prlimit, with
# SIGXFSZ ignored, so writes fail with EFBIG as on a full disk), a real full file system
# (a small tmpfs, as root in a private mount namespace), a run directory made read-only
# or removed at an injected point (INFBENCH_PAUSE_AT, core/fault.h).  Each: exit 1, a
# message naming the step and the file, no temporary and no partial file left, and, where
# the directory is still there, --resume once the outputs can be written, ending with the
# outputs of the run done in one go.
. "$top_srcdir/tests/cli/lib.sh"
fm=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -r "$fm" ]; then
  echo "1..0 # SKIP Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
  exit 0
fi
plan 33

# 300 training images, 6 steps per epoch, 3 epochs; the checkpoint is 312 304 bytes, the
# figures' TSVs above 500 000, everything else below 20 000.
set -- "$fixtures/run-vae.ini" --set train.epochs=3 --set evaluate.points=20 \
  --set evaluate.iwae_curve_points=0 --set plot.posterior_images=0 --set plot.latent_points=0
ref="$tmp/ref"
run_cmd run -o "$ref" --quiet "$@"
is 0 "$rc" "the run in one go exits 0"

# no_temporaries DIR DESCRIPTION
no_temporaries() {
  ls "$1" "$1/stages" 2>/dev/null | grep -q '\.tmp\.[0-9]*$'
  is 1 "$?" "$2: no temporary file is left"
}
# has_err PATTERN DESCRIPTION: stderr ($err) matches the basic regular expression.
has_err() {
  echo "$err" | grep -q -- "$1"
  _s=$?
  ok $_s "$2"
  [ $_s -eq 0 ] || diag "stderr: $err"
}
# resumed_ok DIR DESCRIPTION: --resume exits 0 and gives the run in one go's outputs.
resumed_ok() {
  run_cmd run --resume "$1" --quiet
  is 0 "$rc" "$2: --resume exits 0"
  [ "$rc" -eq 0 ] || diag "$err"
  same_outputs "$ref" "$1"
  ok $? "$2: results.json's numbers and every TSV byte equal the run in one go's"
}
# A file-size limit below the checkpoint: the first epoch's checkpoint cannot be written.
if command -v prlimit >/dev/null 2>&1; then
  d="$tmp/fsize"
  (trap '' XFSZ; exec prlimit --fsize=100000 "$INFBENCH" run -o "$d" --quiet "$@") \
    >"$tmp/out" 2>"$tmp/err"
  rc=$?
  err=$(cat "$tmp/err")
  is 1 "$rc" "file-size limit at the checkpoint: exit 1"
  has_err "^infbench: amortized failed: training epoch 1: cannot write $d/checkpoint-amortized\.bin: File too large (free some space, or write the outputs to another directory)$" \
    "file-size limit at the checkpoint: the message names the step, the file and the fix"
  has_err "^infbench: once the outputs can be written, continue with: infbench run --resume $d$" \
    "file-size limit at the checkpoint: and says how to go on"
  no_temporaries "$d" "file-size limit at the checkpoint"
  [ ! -e "$d/checkpoint-amortized.bin" ] && grep -q '"status": "training epoch 1: cannot write' "$d/results.json"
  ok $? "file-size limit at the checkpoint: no partial checkpoint; results.json records the failure"
  resumed_ok "$d" "file-size limit at the checkpoint"

  # A limit between the checkpoint and the figures: training and evaluation are recorded,
  # the figures fail; --resume reuses the stages (their records unchanged) and writes them.
  d="$tmp/fsize2"
  (trap '' XFSZ; exec prlimit --fsize=400000 "$INFBENCH" run -o "$d" --quiet "$@") \
    >"$tmp/out" 2>"$tmp/err"
  rc=$?
  err=$(cat "$tmp/err")
  is 1 "$rc" "file-size limit at the figures: exit 1"
  has_err "^infbench: amortized failed: figures: cannot write $d/recon-amortized\.tsv: File too large (free some space" \
    "file-size limit at the figures: the message names the step and the file"
  no_temporaries "$d" "file-size limit at the figures"
  [ ! -e "$d/recon-amortized.tsv" ]
  ok $? "file-size limit at the figures: no partial figure data"
  cp -r "$d/stages" "$tmp/stages-before"
  resumed_ok "$d" "file-size limit at the figures"
  diff -r "$tmp/stages-before" "$d/stages" >/dev/null
  ok $? "file-size limit at the figures: training and the gap reports were reused, not redone"
else
  for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do skip "prlimit (util-linux) is not installed"; done
fi

# The run directory removed between two groups of the gap report: exit 1, the failed
# write named, no --resume offered, nothing recreated.
d="$tmp/gone"
paused_run gap-group:3 'rm -rf "$d"' run -o "$d" --quiet "$@"
is 1 "$rc" "directory removed: exit 1"
has_err "^infbench: amortized failed: gap report on the train points: cannot create $tmp/gone/stages: No such file or directory$" \
  "directory removed: the message names the step and the directory"
has_err "^infbench: writing the outputs: cannot write $tmp/gone/results\.json: No such file or directory$" \
  "directory removed: and results.json"
echo "$err" | grep -q 'continue with'
is 1 "$?" "directory removed: no --resume is offered"
[ ! -e "$tmp/gone" ]
ok $? "directory removed: nothing is recreated"

# The run directory made read-only in epoch 2: as root (which ignores permission bits),
# a read-only bind mount in a private mount namespace; otherwise chmod.
d="$tmp/ro"
if [ "$(id -u)" -eq 0 ]; then
  mkdir "$tmp/probe"
  if unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" &&
      ! touch "$1/x" 2>/dev/null' sh "$tmp/probe" 2>/dev/null; then
    # The whole paused run inside the namespace; its status and stderr come back in files.
    cat >"$tmp/ro.sh" <<'EOF'
tmp=$1 d=$2 INFBENCH=$3
shift 3
mkfifo "$tmp/fifo"
(INFBENCH_PAUSE_AT=train-step:8 INFBENCH_PAUSE_FIFO="$tmp/fifo" "$INFBENCH" run -o "$d" \
  --quiet "$@" >"$tmp/out" 2>"$tmp/err"
 echo "exit $?" >"$tmp/fifo") &
read -r what n <"$tmp/fifo"
if [ "$what" = exit ]; then
  echo "$n" >"$tmp/rc"
else
  mount --bind "$d" "$d" && mount -o remount,ro,bind "$d" "$d"
  echo go >"$tmp/fifo"
  read -r what n <"$tmp/fifo"
  echo "$n" >"$tmp/rc"
fi
wait
EOF
    rm -f "$tmp/fifo"
    unshare -m sh "$tmp/ro.sh" "$tmp" "$d" "$INFBENCH" "$@"
    rc=$(cat "$tmp/rc")
    err=$(cat "$tmp/err")
    ro=yes
  else
    ro="no: as root, and a read-only bind mount in a private mount namespace (unshare -m) is not allowed here"
  fi
else
  paused_run train-step:8 'chmod a-w "$d" "$d/stages"' run -o "$d" --quiet "$@"
  chmod u+w "$d" "$d/stages"
  ro=yes
fi
if [ "$ro" = yes ]; then
  is 1 "$rc" "read-only directory: exit 1"
  has_err "^infbench: amortized failed: training epoch 2: cannot write $d/stages/amortized\.train\.json: \(Read-only file system\|Permission denied\)$" \
    "read-only directory: the message names the step and the file"
  has_err "^infbench: once the outputs can be written, continue with: infbench run --resume $d$" \
    "read-only directory: and says how to go on"
  no_temporaries "$d" "read-only directory"
  resumed_ok "$d" "read-only directory"
  grep -q '"sessions":\["start","after epoch 1"\]' "$d/stages/amortized.train.json"
  ok $? "read-only directory: training resumed after epoch 1"
else
  for i in 1 2 3 4 5 6 7; do skip "$ro"; done
fi

# A real full file system: a 500 kB tmpfs holds epoch 1's checkpoint but not epoch 2's
# beside it.  Then the file system grows (space freed) and --resume goes on.
fs=no
if [ "$(id -u)" -ne 0 ]; then
  fs="not root: mounting a tmpfs needs privileges"
elif ! unshare -m sh -c 'mount -t tmpfs -o size=500k tmpfs "$1"' sh "$tmp" 2>/dev/null; then
  fs="mounting a tmpfs in a private mount namespace (unshare -m) is not allowed here"
else
  mkdir "$tmp/fs" "$tmp/fsrun"
  cat >"$tmp/fs.sh" <<'EOF'
tmp=$1 INFBENCH=$2
shift 2
mount -t tmpfs -o size=500k tmpfs "$tmp/fs" || exit 1
d="$tmp/fs/run"
"$INFBENCH" run -o "$d" --quiet "$@" >"$tmp/out" 2>"$tmp/err"
echo $? >"$tmp/rc"
ls "$d" "$d/stages" >"$tmp/fs-ls"
mount -o remount,size=64m "$tmp/fs" &&
  "$INFBENCH" run --resume "$d" --quiet >"$tmp/out2" 2>"$tmp/err2"
echo $? >"$tmp/rc2"
cp -r "$d/." "$tmp/fsrun"
EOF
  unshare -m sh "$tmp/fs.sh" "$tmp" "$INFBENCH" "$@"
  fs=yes
fi
if [ "$fs" = yes ]; then
  d="$tmp/fs/run"
  rc=$(cat "$tmp/rc")
  err=$(cat "$tmp/err")
  is 1 "$rc" "full file system: exit 1"
  has_err "^infbench: amortized failed: training epoch 2: cannot write $d/checkpoint-amortized\.bin: No space left on device (free some space, or write the outputs to another directory)$" \
    "full file system: the message names the step, the file and the fix"
  grep -q '\.tmp\.[0-9]*$' "$tmp/fs-ls"
  is 1 "$?" "full file system: no temporary file is left"
  is 0 "$(cat "$tmp/rc2")" "full file system: --resume once there is room exits 0"
  same_outputs "$ref" "$tmp/fsrun"
  ok $? "full file system: results.json's numbers and every TSV byte equal the run in one go's"
  grep -q '"sessions":\["start","after epoch 1"\]' "$tmp/fsrun/stages/amortized.train.json"
  ok $? "full file system: training resumed after epoch 1"
else
  for i in 1 2 3 4 5 6; do skip "$fs"; done
fi
[ $tap_failed -eq 0 ]
