#!/bin/sh
# The latent-model runner end to end: outputs present, the gap report consistent with its
# closed forms, bad input and a failing estimator handled.
. "$top_srcdir/tests/cli/lib.sh"
plan 23

run_cmd run "$fixtures/run-lingauss.ini" -o "$tmp/l" --quiet
is 0 "$rc" "a lingauss run exits 0"
for f in results.json config.ini gaps.tsv gaps.gp gaps-mle-train.tsv gaps-mle-test.tsv \
         gaphist-amortized.gp curve-amortized.tsv curve-meanfield.tsv posterior-mle.tsv \
         posterior-amortized.gp angles-autoencoder.tsv; do
  [ -s "$tmp/l/$f" ]; ok $? "writes $f"
done
grep -q '"log_px_method": "exact"' "$tmp/l/results.json"; ok $? "results name the ln p(x) method"
# The measured approximation gap (gaps.tsv, mle, train) equals the analytic one.
ana=$(sed -n '/"mle": {/,/"map": {/s/ *"approximation_gap_analytic": \([^,]*\),*$/\1/p' "$tmp/l/results.json" | head -1)
meas=$(awk -F'\t' '$1 == "mle" && $2 == 0 { print $3 }' "$tmp/l/gaps.tsv")
awk -v a="$ana" -v b="$meas" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= 1e-9) }'
ok $? "mle: measured approximation gap $meas equals the analytic $ana"
# Every per-point approximation gap of the linear-Gaussian model is the same number.
awk -F'\t' '!/^#/ { if (n++ == 0) v = $7; else if ($7 - v > 1e-9 || v - $7 > 1e-9) bad = 1 } END { exit bad }' \
  "$tmp/l/gaps-mle-train.tsv"
ok $? "the per-point approximation gaps are all equal"
grep -q '"principal_angles"' "$tmp/l/results.json"; ok $? "the autoencoder reports principal angles"
# The table of variational families: ffg's L[q*] and approximation gap are the report's,
# and its gap equals the analytic one (exact: no Monte-Carlo error).
python_json "$tmp/l/results.json" '
g = d["estimators"]["mle"]["gaps"]["train"]
f = g["qstar_families"]
assert list(f) == ["ffg"], f
ffg = f["ffg"]
assert abs(ffg["mean"] - g["elbo_qstar"]["mean"]) < 1e-9, (ffg, g["elbo_qstar"])
ag = ffg["approximation_gap"]
assert abs(ag["mean"] - g["approximation_gap"]["mean"]) < 1e-9 and "mc_se" not in ag, ag
ana = d["estimators"]["mle"]["approximation_gap_analytic"]
assert abs(ag["mean"] - ana) < 1e-9, (ag, ana)'
ok $? "qstar_families: ffg, in closed form, its approximation gap the analytic one"

# K >= D on a CSV is a configuration error, found when the data are read.
run_cmd run "$fixtures/run-lingauss.ini" --set data.source=csv --set data.train=csv-good.csv \
  --set model.latent=9 -o "$tmp/k"
is 2 "$rc" "latent >= D exits 2"
echo "$err" | grep -q 'latent = 9 must be below' ; ok $? "and says why"

# A diverging estimator fails alone; the others are reported.
run_cmd run "$fixtures/run-lingauss.ini" --set train.lr=1e6 -o "$tmp/f"
is 1 "$rc" "a diverging amortised fit makes the run exit 1"
echo "$out" | grep -q 'amortized failed: amortized: epoch [0-9]*, step [0-9]*: the ELBO' ; ok $? "the failure names the epoch and step"
grep -q '"status": "ok"' "$tmp/f/results.json"; ok $? "the other estimators still succeed"
[ $tap_failed -eq 0 ]
