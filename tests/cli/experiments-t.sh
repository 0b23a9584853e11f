#!/bin/sh
# Every committed experiment is valid, and the quick ones run to completion with the
# numbers their closed forms demand.
. "$top_srcdir/tests/cli/lib.sh"
n=$(ls "$top_srcdir"/experiments/*.ini | wc -l)
plan $((n + 6))
for f in "$top_srcdir"/experiments/*.ini; do
  run_cmd check "$f"
  ok $rc "check $(basename "$f")"
done
run_cmd run "$top_srcdir/experiments/quickstart.ini" -o "$tmp/q" --quiet
is 0 "$rc" "quickstart.ini runs"
for f in predictive.tsv predictive.gp path-map-loglik.gp path-map-weights.gp; do
  [ -s "$tmp/q/$f" ]; ok $? "quickstart writes $f"
done
# The mean-field gap measured (log evidence − ELBO) equals its analytic form.
gap=$(sed -n '/"meanfield"/,/}/s/ *"gap": \(.*\),*$/\1/p' "$tmp/q/results.json" | tr -d ,)
ana=$(sed -n '/"meanfield"/,/}/s/ *"gap_analytic": \(.*\),*$/\1/p' "$tmp/q/results.json" | tr -d ,)
awk -v a="$gap" -v b="$ana" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-8 * (1 + b)) }'
ok $? "quickstart meanfield gap $gap equals the analytic $ana"
[ $tap_failed -eq 0 ]
