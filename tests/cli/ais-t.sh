#!/bin/sh
# AIS in the VAE's gap report (issue "truth" §1, §2, §3, §9): its config errors, its place in
# the table of ln p(x) methods, agreement with the converged quadrature on a K = 2 model,
# a finished run extended with AIS (identical to a run that had it from the start), a
# changed AIS setting refused before anything is written, and a kill during AIS resumed to
# identical outputs.
. "$top_srcdir/tests/cli/lib.sh"
plan 19

base="$fixtures/run-vae.ini"
ais="--set ais.chains=16 --set ais.temperatures=400 --set ais.pilot_chains=4 --set ais.points=4"
ais="$ais --set ais.tile_points=2" # AIS groups of 2 points on one thread

# §9: FILE:LINE errors.
{ cat "$base"; printf '[ais]\npoints = 9\n'; } > "$tmp/bad1.ini"
run_cmd check "$tmp/bad1.ini"
is 2 "$rc" "[ais] points above [evaluate] points: exit 2"
printf '%s' "$err" | grep -q "bad1.ini:[0-9]*: \[ais\] points = 9 is above \[evaluate\] points = 5"
ok $? "... names the file, the line and both values ($err)"
{ cat "$base"; printf '[ais]\nstep_size = 0.9\n'; } > "$tmp/bad2.ini"
run_cmd check "$tmp/bad2.ini"
is 2 "$rc" "a step size outside the clamp: exit 2"
printf '%s' "$err" | grep -q "bad2.ini:[0-9]*: \[ais\] step_size = 0.9 lies outside the clamp"
ok $? "... names the file and line ($err)"

# A run with AIS from the start.
# shellcheck disable=SC2086
run_cmd run "$base" -o "$tmp/direct" --quiet $ais
is 0 "$rc" "a run with [ais]: exit 0 ($err)"
est=$(python_json "$tmp/direct/results.json" \
  "g=d['estimators']['amortized']['gaps']['train']; e=g['log_px_estimates']; \
print(d['schema_version'], g['log_px_method'], e['ais']['kind'], e['ais']['points_of'], \
e['quadrature']['kind'], e['quadrature']['chosen'])")
is "2 quadrature lower-bound 4 exact True" "$est" \
  "results.json schema 2: AIS a lower bound on 4 points beside the converged quadrature (chosen)"
# AIS against the quadrature (exact here): the paired mean difference is AIS's bias, small
# at these settings, plus Monte-Carlo error.
agree=$(python_json "$tmp/direct/results.json" \
  "p=d['estimators']['amortized']['gaps']['train']['log_px_estimates']['ais']['paired']; \
print(int(abs(p['mean']) < 0.05 + 3 * p['mc_se']), p['mean'], p['mc_se'])")
case $agree in 1*) r=0 ;; *) r=1 ;; esac
ok $r "AIS agrees with the quadrature within 0.05 nat + 3 mc_se on average ($agree)"
head -2 "$tmp/direct/gaps-amortized-train.tsv" | tail -1 | grep -q "log_px_ais	log_px_ais_mc_se	ais_ess"
ok $? "the per-point TSV has AIS's columns"
[ -s "$tmp/direct/ais-trace-amortized-train.tsv" ]
ok $? "the AIS diagnostics of the first points are written"

# The same run in two steps: without AIS, then extended with it.
run_cmd run "$base" -o "$tmp/ext" --quiet
# shellcheck disable=SC2086
[ "$rc" = 0 ] && run_cmd run --resume "$tmp/ext" --quiet $ais
is 0 "$rc" "a finished run extended with --resume --set ais.*: exit 0 ($err)"
# Their config.ini differ (the extended one records the keys given, not every default).
# same_gaps DIR1 DIR2 [GLOB]: the TSVs (GLOB, default all) and results.json's gaps agree.
same_gaps() {
  _sg=0
  for f in "$1"/${3:-*.tsv}; do
    cmp -s "$f" "$2/$(basename "$f")" || { _sg=1; diag "$(basename "$f") differs"; }
  done
  for d in "$1" "$2"; do
    python_json "$d/results.json" \
      "print(json.dumps(d['estimators']['amortized']['gaps'], sort_keys=True))" |
      sed 's/"seconds": [0-9.e+-]*//g' >"$d.gaps"
  done
  cmp -s "$1.gaps" "$2.gaps" || { _sg=1; diag "results.json's gaps differ"; }
  return $_sg
}
same_gaps "$tmp/direct" "$tmp/ext"
ok $? "... identical to the run that had AIS from the start"

# A finished stage's key changed: refused, nothing written.
cp "$tmp/ext/config.ini" "$tmp/config-before"
run_cmd run --resume "$tmp/ext" --quiet --set ais.chains=8
is 2 "$rc" "changing a setting a finished AIS stage read: exit 2 ($err)"
cmp -s "$tmp/config-before" "$tmp/ext/config.ini"
ok $? "... and the run's config.ini is untouched"

# Killed during AIS (the fifth saved group: L[q], q*, the two IWAEs, then AIS's first
# tile of 2 points), resumed: identical.
# shellcheck disable=SC2086
INFBENCH_KILL_AT=gap-group:5 "$INFBENCH" run "$base" -o "$tmp/killed" --quiet $ais \
  >"$tmp/out" 2>"$tmp/err"
killed=$?
"$INFBENCH" run --resume "$tmp/killed" --quiet >"$tmp/out" 2>"$tmp/err" &&
  [ "$killed" = 137 ] && grep -q '"AIS after 2 of 4 points"' "$tmp/killed/stages/amortized.ais-train.json" &&
  same_gaps "$tmp/direct" "$tmp/killed" 'gaps*.tsv'
ok $? "killed after AIS's first group of 2 points (exit $killed), resumed there: identical gap reports"

# BDMC (§3) on points simulated from the model: the sandwich closes as temperatures grow.
run_cmd run "$base" -o "$tmp/bdmc" --quiet --set bdmc.points=6 --set "bdmc.temperatures=10, 300" \
  --set ais.chains=8 --set ais.pilot_chains=4
is 0 "$rc" "a run with [bdmc]: exit 0 ($err)"
closes=$(python_json "$tmp/bdmc/results.json" \
  "s=d['estimators']['amortized']['bdmc']['settings']; g=[x['gap'] for x in s]; \
print(int(len(s) == 2 and g[1]['mean'] < g[0]['mean'] and g[1]['mean'] < 0.5 and \
g[0]['mean'] > 0), g[0]['mean'], g[1]['mean'])")
case $closes in 1*) r=0 ;; *) r=1 ;; esac
ok $r "the BDMC gap shrinks from 10 to 300 temperatures, below 0.5 nat ($closes)"
[ -s "$tmp/bdmc/bdmc-amortized.tsv" ] && [ -s "$tmp/bdmc/bdmc-amortized-points.tsv" ]
ok $? "bdmc-STEM.tsv and the per-point table are written"
{ cat "$fixtures/run-lingauss.ini"; printf '[bdmc]\npoints = 3\n'; } > "$tmp/bad3.ini"
run_cmd check "$tmp/bad3.ini"
[ "$rc" = 2 ] && printf '%s' "$err" | grep -q "bad3.ini:[0-9]*: \[bdmc\]: BDMC needs a sampler for p(x|z)"
ok $? "BDMC on a model without a sampler for p(x|z): a FILE:LINE config error ($err)"

# AIS from the encoder's q: a point's value does not depend on how many points AIS covers
# (the encoder, too, sees each point at the place its index fixes: a gemm's row depends on
# the call's shape, so 8 and 24 points encoded in one call each would differ).
for np in 8 24; do
  "$INFBENCH" run "$base" -o "$tmp/enc$np" --quiet --set evaluate.points=24 \
    --set ais.init=encoder --set ais.points=$np --set ais.chains=4 --set ais.pilot_chains=2 \
    --set ais.temperatures=20 --set ais.tile_points=2 >"$tmp/out" 2>"$tmp/err" ||
    diag "encoder AIS on $np points failed: $(cat "$tmp/err")"
done
col() { # the log_px_ais column of the first eight training points
  awk -F'\t' '/^# index/ { for (i = 2; i <= NF; i++) if ($i == "log_px_ais") c = i }
    !/^#/ && c && n++ < 8 { printf "%s ", $c }' "$1/gaps-amortized-train.tsv"
}
a=$(col "$tmp/enc8") b=$(col "$tmp/enc24")
[ -n "$a" ] && [ "$a" = "$b" ]
ok $? "AIS from the encoder: the first 8 points' values are the same on 8 and 24 points"
