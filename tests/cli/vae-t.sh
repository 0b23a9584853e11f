#!/bin/sh
# The VAE end to end on a few Fashion-MNIST images: training with checkpoints, the gap
# report with IWAE and quadrature, evaluating a saved model, and bad input.
. "$top_srcdir/tests/cli/lib.sh"
fm=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -r "$fm" ]; then
  echo "1..0 # SKIP Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
  exit 0
fi
plan 13

run_cmd run "$fixtures/run-vae.ini" -o "$tmp/v" --quiet
is 0 "$rc" "a small VAE run exits 0"
for f in results.json checkpoint-amortized.bin curve-amortized.tsv gaps-amortized-train.tsv gaps.tsv; do
  [ -s "$tmp/v/$f" ]; ok $? "writes $f"
done
grep -q '"log_px_method": "iwae"' "$tmp/v/results.json"; ok $? "ln p(x) by IWAE"
grep -q '"log_px_quadrature"' "$tmp/v/results.json"; ok $? "K = 2: quadrature beside IWAE"

# Evaluating the saved model reproduces the gap report without training.
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/w" --quiet --set "train.checkpoint=$tmp/v/checkpoint-amortized.bin"
is 0 "$rc" "evaluating a checkpoint exits 0"
grep -q '"stop_reason": "checkpoint"' "$tmp/w/results.json"; ok $? "no training: stop reason checkpoint"
sed -n '/"gaps"/,/"seconds"/p' "$tmp/v/results.json" | grep -v seconds > "$tmp/a"
sed -n '/"gaps"/,/"seconds"/p' "$tmp/w/results.json" | grep -v seconds > "$tmp/b"
cmp -s "$tmp/a" "$tmp/b"; ok $? "the checkpoint gives the same gap report"

# A checkpoint of another architecture is refused, naming both.
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/x" --set "train.checkpoint=$tmp/v/checkpoint-amortized.bin" --set encoder.hidden=8
echo "$out" | grep -q 'is for a 784-16-2 model, the config asks for 784-8-2'; ok $? "another architecture's checkpoint is refused"

# Data that is not an IDX file.
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/y" --set "data.train=run-small.ini"
is 1 "$rc" "a non-IDX training file exits 1"
[ $tap_failed -eq 0 ]
