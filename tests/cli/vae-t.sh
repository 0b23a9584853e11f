#!/bin/sh
# The VAE end to end on a few Fashion-MNIST images: training with checkpoints, the gap
# report with IWAE and quadrature, evaluating a saved model, and bad input.
. "$top_srcdir/tests/cli/lib.sh"
fm=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -r "$fm" ]; then
  echo "1..0 # SKIP Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
  exit 0
fi
plan 39

run_cmd run "$fixtures/run-vae.ini" -o "$tmp/v" --quiet --set plot.posterior_images=5
is 0 "$rc" "a small VAE run exits 0"
for f in results.json checkpoint-amortized.bin curve-amortized.tsv gaps-amortized-train.tsv gaps.tsv; do
  [ -s "$tmp/v/$f" ]; ok $? "writes $f"
done
# K = 2: ln p(x) is the quadrature when it converged on every split, else IWAE.
nconv=$(grep -c '"quadrature_converged": true' "$tmp/v/results.json")
nquad=$(grep -c '"quadrature_converged"' "$tmp/v/results.json")
want=iwae
[ "$nquad" -gt 0 ] && [ "$nconv" = "$nquad" ] && want=quadrature
grep -q "\"log_px_method\": \"$want\"" "$tmp/v/results.json"
ok $? "ln p(x) by $want (quadrature converged on $nconv of $nquad splits)"
grep -q '"log_px_quadrature"' "$tmp/v/results.json"; ok $? "K = 2: quadrature beside IWAE"

# The VAE figures (exp/vaefigs.h): each a TSV and a script, listed in results.json.
v="$tmp/v"
bad=0
for f in iwae-amortized-train.tsv iwae-amortized-test.tsv iwae-amortized.gp \
         recon-amortized.tsv recon-amortized.gp samples-amortized.tsv samples-amortized.gp \
         latent-amortized.tsv latent-amortized.gp posterior-amortized.tsv \
         posterior-amortized-grid.tsv posterior-amortized.gp; do
  [ -s "$v/$f" ] || { bad=1; diag "missing $f"; }
done
ok $bad "writes the IWAE, reconstruction, prior-sample, latent-space and posterior figures"
bad=0
for f in iwae recon samples latent posterior; do
  grep -q "\"script\": \"$f-amortized.gp\"" "$v/results.json" || bad=1
done
ok $bad "results.json lists each figure's script"
# awk prologue: c[NAME] is the column of NAME in the last '#' header line.
hdr='/^#/ { sub(/^# /, ""); for (i = 1; i <= NF; i++) c[$i] = i; next }'
# The IWAE curve's checks need a standard error over more than 5 points (with n = 5 the
# 3-se rule on a single-draw IWAE-1 fails 4 % of the time): a run on 40 points.
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/w40" --quiet --set evaluate.points=40 \
  --set evaluate.iwae_curve_k=1,10,100,1000 --set plot.posterior_images=0
[ "$rc" = 0 ] || diag "the 40-point run exited $rc: $err"
# IWAE-k is nondecreasing in k: each paired gain over the previous k is > -3 se.
for s in train test; do
  awk -F'\t' "$hdr"' c["gain"] && $c["k"] > 1 && $c["gain"] < -3 * $c["gain_se"] { bad = 1 }
    END { exit bad }' "$tmp/w40/iwae-amortized-$s.tsv"
  ok $? "$s: IWAE-k nondecreasing in k within 3 paired standard errors"
done
# IWAE-1 is an unbiased estimate of L[q]: their paired difference is within 3 se of 0.
for s in train test; do
  awk -F'\t' "$hdr"' $c["k"] == 1 { d = $c["iwae_minus_elbo_q"]; e = $c["iwae_minus_elbo_q_se"];
    n++; if (!(d <= 3 * e && d >= -3 * e && e > 0)) bad = 1 } END { exit bad || n != 1 }' \
    "$tmp/w40/iwae-amortized-$s.tsv"
  ok $? "$s: IWAE-1 agrees with the gap report's L[q] within 3 paired standard errors"
done
# Decoder means lie in (0, 1); the images above them are the binarised test images: image 0
# is the first image of the test file thresholded at 0.5 (pixel >= 128).
awk -F'\t' "$hdr"' $c["kind"] == 1 && !($c["value"] > 0 && $c["value"] < 1) { bad = 1 }
  $c["kind"] == 0 && $c["value"] != 0 && $c["value"] != 1 { bad = 1 } END { exit bad }' \
  "$v/recon-amortized.tsv"
ok $? "reconstructions: Bernoulli means in (0, 1), images binary"
awk -F'\t' "$hdr"' NF > 1 && !($c["value"] > 0 && $c["value"] < 1) { bad = 1 } END { exit bad }' \
  "$v/samples-amortized.tsv"
ok $? "prior samples: Bernoulli means in (0, 1)"
te=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
tl=/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
gzip -dc "$te" | od -An -v -tu1 -j16 -N784 | tr -s ' ' '\n' | grep . |
  awk '{ print ($1 >= 128) ? 1 : 0 }' > "$tmp/img0"
awk -F'\t' "$hdr"' $c["image"] == 0 && $c["kind"] == 0 { print $c["value"] }' \
  "$v/recon-amortized.tsv" > "$tmp/rec0"
[ "$(wc -l < "$tmp/img0")" -eq 784 ] && cmp -s "$tmp/img0" "$tmp/rec0"
ok $? "reconstructions: image 0 is the first test image, binarised at 0.5"
# The latent space's labels are the test labels, in order.
n=$(awk '!/^#/' "$v/latent-amortized.tsv" | wc -l)
gzip -dc "$tl" | od -An -v -tu1 -j8 -N"$n" | tr -s ' ' '\n' | grep . > "$tmp/lab"
awk -F'\t' "$hdr"' { print $c["label"] }' "$v/latent-amortized.tsv" > "$tmp/lab2"
[ "$n" -gt 0 ] && cmp -s "$tmp/lab" "$tmp/lab2"
ok $? "latent space: $n labels equal the test label file's"
# The grid posterior: each image's density integrates to 1 over the cells; its
# highest-density levels decrease; L[q*] of the gap report equals ln p(x) − KL(q*‖p) on the
# grid within 4 Monte-Carlo standard errors (+ 0.01 nats); and the mean grid ln p(x) over
# the 5 test points equals the gap report's quadrature within 0.01 nats.
awk -F'\t' 'FNR == 1 { f++; b = 0; blank = 0 }
  /^#/ { if (f == 1) { sub(/^# /, ""); for (i = 1; i <= NF; i++) c[$i] = i }; next }
  f == 1 { cell[$c["index"]] = $c["cell"]; next }
  NF == 0 { blank++; next }
  { if (blank >= 2) b++; blank = 0; sum[b] += $3 * cell[b] * cell[b] }
  END { for (i = 0; i <= b; i++) { d = sum[i] - 1; if (d < 0) d = -d; if (!(d < 1e-9)) bad = 1 }
        exit bad || b != 4 }' "$v/posterior-amortized.tsv" "$v/posterior-amortized-grid.tsv"
ok $? "grid posterior: each of the 5 images' densities integrates to 1"
awk -F'\t' "$hdr"' !($c["lv1"] > $c["lv2"] && $c["lv2"] > $c["lv3"] && $c["lv3"] > 0) { bad = 1 }
  END { exit bad }' "$v/posterior-amortized.tsv"
ok $? "grid posterior: highest-density levels decrease from 1 to 3 sd"
awk -F'\t' 'FNR == 1 { f++ } /^#/ { sub(/^# /, ""); for (i = 1; i <= NF; i++) c[f, $i] = i; next }
  f == 1 { q[$1] = $c[1, "elbo_qstar"]; se[$1] = $c[1, "elbo_qstar_numeric_mc_se"] }
  f == 2 { i = $c[2, "index"]; d = q[i] - ($c[2, "log_px_grid"] - $c[2, "kl_qstar"]);
           if (d < 0) d = -d; if (!(d <= 4 * se[i] + 0.01)) { bad = 1; print "# image " i ": " d } n++ }
  END { exit bad || n != 5 }' "$v/gaps-amortized-test.tsv" "$v/posterior-amortized.tsv"
ok $? "grid posterior: the gap report's L[q*] = ln p(x) - KL(q*|p) within its Monte-Carlo error"
quad=$(awk '/"test": \{/ { t = 1 } t && /"log_px_quadrature"/ { q = 1 } q && /"mean"/ {
  gsub(/[ ",]/, ""); sub(/^mean:/, ""); print; exit }' "$v/results.json")
awk -F'\t' -v q="$quad" "$hdr"' { s += $c["log_px_grid"]; n++ }
  END { d = s / n - q; if (d < 0) d = -d; exit !(q != "" && n == 5 && d < 0.01) }' \
  "$v/posterior-amortized.tsv"
ok $? "grid posterior: mean ln p(x) on the grids equals the quadrature's ($quad)"
# The quadrature's box: after 60 epochs some posteriors sit beyond |z| = 6 (the starting
# box), which a fixed box missed by up to 3 nats.  Now the box grows until it no longer
# matters: the report says it converged, and the IWAE bound (encoder proposal, a stochastic
# lower bound) stays below the quadrature's ln p(x) within 4 Monte-Carlo standard errors.
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/q60" --quiet --set train.epochs=60 \
  --set evaluate.points=40 --set plot.posterior_images=0
[ "$rc" = 0 ] || diag "the 60-epoch run exited $rc: $err"
for s in train test; do
  awk -v s="$s" '!done && !t && index($0, "\"" s "\": {") { t = 1; ind = index($0, "\"") - 1; next }
    t && /"log_px_iwae_encoder"/ { w = 1 } t && /"log_px_quadrature"/ { w = 2 }
    t && /"log_px_iwae_qstar"|"quadrature_box"/ { w = 0 }
    t && /"quadrature_converged": true/ { conv = 1 }
    t && /"quadrature_change"/ { v = $0; gsub(/[ ",]/, "", v); sub(/^quadrature_change:/, "", v); ch = v + 0; hc = 1 }
    t && w && /"mean"/ { v = $0; gsub(/[ ",]/, "", v); sub(/^mean:/, "", v); m[w] = v + 0 }
    t && w == 1 && /"mc_se"/ { v = $0; gsub(/[ ",]/, "", v); sub(/^mc_se:/, "", v); se = v + 0 }
    t && substr($0, 1, ind + 1) == sprintf("%" ind "s}", "") { t = 0; done = 1 }
    END { print "# " s ": IWAE " m[1] " (mc se " se "), quadrature " m[2]
          exit !(conv && hc && ch < 0.001 && m[1] != "" && m[2] != "" && se > 0 &&
                 m[1] <= m[2] + 4 * se) }' \
    "$tmp/q60/results.json"
  ok $? "$s, 60 epochs: the quadrature converged (last change < 0.001) and IWAE stays below it within 4 mc se"
done
# gnuplot renders every new script without a warning.
if [ -n "${GNUPLOT:-}" ] && [ -x "$GNUPLOT" ]; then
  run_cmd plot "$v" --format png --quiet
  bad=0
  for f in iwae recon samples latent posterior; do
    [ -s "$v/$f-amortized.png" ] || bad=1
    if echo "$err" | grep -q "$f-amortized.gp"; then bad=1; fi
  done
  [ -n "$err" ] && diag "$err"
  ok $bad "gnuplot renders the figures without a warning"
else
  skip "gnuplot not installed"
fi
# K > 2: no latent-space or posterior figure, and a note says why.
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/k3" --quiet --set model.latent=3 \
  --set evaluate.points=2 --set "evaluate.iwae_curve_k=1, 10"
is 0 "$rc" "a K = 3 run exits 0"
[ -s "$tmp/k3/recon-amortized.gp" ] && [ ! -e "$tmp/k3/latent-amortized.tsv" ] &&
  [ ! -e "$tmp/k3/posterior-amortized.tsv" ] &&
  grep -q 'drawn for K = 2 only, the model has K = 3' "$tmp/k3/results.json"
ok $? "K = 3: no latent-space or posterior figure, and a note in results.json"
# A bad k list is a configuration error, found before training.
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/bk" --set "evaluate.iwae_curve_k=10, 5"
is 2 "$rc" "a decreasing iwae_curve_k exits 2"
echo "$err" | grep -q 'iwae_curve_k: give increasing values (5 after 10)' && [ ! -e "$tmp/bk" ]
ok $? "and says why, before creating the run directory"

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

# meanfield beside the VAE: the decoder without an encoder, both in one gap report; the
# test split has no L[q] (no q(z_i) for held-out images).
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/m" --quiet --set "estimators.run=amortized, meanfield"
is 0 "$rc" "amortized and meanfield in one run exit 0"
grep -q '"estimator": "meanfield",' "$tmp/m/results.json" && [ -s "$tmp/m/gaps-meanfield-test.tsv" ] &&
  [ -s "$tmp/m/checkpoint-meanfield.bin" ]; ok $? "meanfield: results, per-point gaps and a checkpoint"
is "amortized 0,amortized 1,meanfield 0,meanfield 1" \
  "$(awk -F'\t' '!/^#/ && $3 + 0 == $3 { printf "%s%s %s", n++ ? "," : "", $1, $2 }' "$tmp/m/gaps.tsv")" \
  "gaps.tsv: both estimators on both splits with a finite approximation gap"
awk -F'\t' '$1 == "meanfield" && $2 == 0 && $5 + 0 == $5 { a = 1 } $1 == "meanfield" && $2 == 1 && $5 == "NaN" { b = 1 } END { exit !(a && b) }' "$tmp/m/gaps.tsv"
ok $? "meanfield: L[q*] − L[q] of the training q(z_i) on train, none on test"
[ -s "$tmp/m/posterior-meanfield.gp" ] && [ -s "$tmp/m/samples-meanfield.gp" ] &&
  [ ! -e "$tmp/m/iwae-meanfield.gp" ] && ! grep -q 'q_m1' "$tmp/m/posterior-meanfield.gp" &&
  grep -q 'no trained encoder' "$tmp/m/results.json"
ok $? "meanfield: prior samples and the posterior without q; no encoder figures, a note says so"

# Data that is not an IDX file.
run_cmd run "$fixtures/run-vae.ini" -o "$tmp/y" --set "data.train=run-small.ini"
is 1 "$rc" "a non-IDX training file exits 1"
[ $tap_failed -eq 0 ]
