# gaphist-amortized.gp: histograms of the per-point approximation and amortisation gaps,
# train against test.
# Data: gaps-amortized-train.tsv and gaps-amortized-test.tsv (tab-separated; '#' header lines).
# Written by infbench.  Render every figure of this directory with
#   infbench plot DIR [--format png|svg|both]
# or this one by hand, from this directory:
#   gnuplot -e "set terminal pngcairo size 960,640; set output 'gaphist-amortized.png'" gaphist-amortized.gp
# No terminal is set here; the shared style comes from infbench-style.gp.
load 'infbench-style.gp'
set datafile separator "\t"
set datafile commentschars "#"
set datafile missing "NaN"

# Bins: Freedman–Diaconis width 2·IQR·n^(−1/3) (the smaller of the two splits'),
# kept between 5 and 60 bins over the range; values spread less than
# flat_rel·max(1, |value|) are one value, drawn as one bar.  Values beyond
# Tukey's far-out fences Q1 − fence·IQR, Q3 + fence·IQR (the widest of the
# splits') are not binned but counted in a label (one image with a 459-nat gap
# would otherwise squeeze a thousand others into one bar).
min_bins = 5; max_bins = 60; fence = 3
flat_rel = 1.0000000000000001e-09; flat_half = 0.25; spike_frac = 0.02
# acc: count, sum and range of the finite values (NaN marks a missing gap).
acc(v) = v == v ? (n = n + 1, sum = sum + v, lo = (lo == lo && lo <= v) ? lo : v, \
                  hi = (hi == hi && hi >= v) ? hi : v, 0) : 0
fd(q1, q3, n) = 2 * (q3 - q1) / n**(1.0 / 3)
# fences: widen [f_lo, f_hi] to a split's fences (none while its IQR is 0);
# inside: within them, or no fences; acc_in: the range of the values inside,
# the count and the farthest of those outside.
fences(q1, q3) = q3 > q1 ? (f_lo = (f_lo == f_lo && f_lo <= q1 - fence * (q3 - q1)) \
  ? f_lo : q1 - fence * (q3 - q1), f_hi = (f_hi == f_hi && f_hi >= q3 + fence * (q3 - q1)) \
  ? f_hi : q3 + fence * (q3 - q1), 0) : 0
inside(v) = v == v && (f_lo != f_lo || (v >= f_lo && v <= f_hi))
acc_in(v) = v != v ? 0 : inside(v) ? (lo = (lo == lo && lo <= v) ? lo : v, \
  hi = (hi == hi && hi >= v) ? hi : v, 0) \
  : (n_out = n_out + 1, far = (far == far && abs(far) >= abs(v)) ? far : v, 0)
bin(x) = lo + bw * (floor((x - lo) / bw) + 0.5)
set key outside below center horizontal Left reverse height 1
set grid noxtics nomxtics
set offsets 0, 0, graph 0.03, 0
set multiplot layout 1, 2 title 'amortized: per-point gaps' noenhanced font ',13'

# ---------------- approximation gap (column 7)
n = 0; sum = 0; lo = NaN; hi = NaN; bw = NaN
f_lo = NaN; f_hi = NaN; n_out = 0; far = NaN
set xrange [*:*]
set yrange [*:*]
n = 0; sum = 0
stats 'gaps-amortized-train.tsv' using (acc(column(7))) nooutput
n_tr = n; m_tr = n > 0 ? sum / n : NaN
if (n_tr > 1) {
  stats 'gaps-amortized-train.tsv' using 7 nooutput
  w = fd(STATS_lo_quartile, STATS_up_quartile, n_tr)
  bw = (bw == bw && bw <= w) ? bw : w
  f_set = fences(STATS_lo_quartile, STATS_up_quartile)
}
n = 0; sum = 0
stats 'gaps-amortized-test.tsv' using (acc(column(7))) nooutput
n_te = n; m_te = n > 0 ? sum / n : NaN
if (n_te > 1) {
  stats 'gaps-amortized-test.tsv' using 7 nooutput
  w = fd(STATS_lo_quartile, STATS_up_quartile, n_te)
  bw = (bw == bw && bw <= w) ? bw : w
  f_set = fences(STATS_lo_quartile, STATS_up_quartile)
}
if (f_lo == f_lo) {
  lo = NaN; hi = NaN
  stats 'gaps-amortized-train.tsv' using (acc_in(column(7))) nooutput
  stats 'gaps-amortized-test.tsv' using (acc_in(column(7))) nooutput
}
scale = abs(lo) > abs(hi) ? abs(lo) : abs(hi)
scale = scale > 1 ? scale : 1
flat = n_tr + n_te > 0 && hi - lo <= flat_rel * scale
unset arrow
unset label
if (n_out > 0) { set label sprintf("%d point%s outside [%.3g, %.3g] not shown\n(the farthest: %.4g nats)", n_out, n_out > 1 ? 's' : '', f_lo, f_hi, far) at graph 0.97, graph 0.95 right front noenhanced }
set xrange [*:*]
if (flat) {
  # One value: a single bar centred on it.
  v0 = (lo + hi) / 2
  half = flat_half * scale
  bw = spike_frac * 2 * half
  lo = v0 - bw / 2
  set xrange [v0 - half:v0 + half]
} else {
  if (n_tr + n_te > 0) {
    range = hi - lo
    bw = (bw == bw && bw >= range / max_bins) ? bw : range / max_bins
    bw = bw <= range / min_bins ? bw : range / min_bins
  }
}
set boxwidth bw absolute
set title 'approximation gap' . (flat ? sprintf(": all %d values = %.6g nats", n_tr + n_te, v0) : '') noenhanced
set xlabel 'approximation gap (nats)'
set ylabel 'fraction of points'
set yrange [0:*]
if (!flat && n_tr > 0) { set arrow from m_tr, graph 0 to m_tr, graph 1 nohead front ls 1 dt (6,4) }
if (!flat && n_te > 0) { set arrow from m_te, graph 0 to m_te, graph 1 nohead front ls 2 dt (6,4) }
if (n_tr + n_te == 0) {
  set label 'no finite values' at graph 0.5, graph 0.5 center
  set xrange [0:1]
  set yrange [0:1]
  plot 2 notitle
} else {
  plot 'gaps-amortized-train.tsv' using (inside(column(7)) ? bin(column(7)) : NaN):(1.0 / n_tr) smooth frequency with boxes fs transparent solid 0.45 border ls 1 title sprintf('train (%d points)', n_tr), \
     'gaps-amortized-test.tsv' using (inside(column(7)) ? bin(column(7)) : NaN):(1.0 / n_te) smooth frequency with boxes fs transparent solid 0.45 border ls 2 title sprintf('test (%d points)', n_te), \
     NaN with lines ls 1 dt (6,4) title (flat ? '' : sprintf('train mean %.3g nats', m_tr)), \
     NaN with lines ls 2 dt (6,4) title (flat ? '' : sprintf('test mean %.3g nats', m_te))
}

# ---------------- amortisation gap (column 8)
n = 0; sum = 0; lo = NaN; hi = NaN; bw = NaN
f_lo = NaN; f_hi = NaN; n_out = 0; far = NaN
set xrange [*:*]
set yrange [*:*]
n = 0; sum = 0
stats 'gaps-amortized-train.tsv' using (acc(column(8))) nooutput
n_tr = n; m_tr = n > 0 ? sum / n : NaN
if (n_tr > 1) {
  stats 'gaps-amortized-train.tsv' using 8 nooutput
  w = fd(STATS_lo_quartile, STATS_up_quartile, n_tr)
  bw = (bw == bw && bw <= w) ? bw : w
  f_set = fences(STATS_lo_quartile, STATS_up_quartile)
}
n = 0; sum = 0
stats 'gaps-amortized-test.tsv' using (acc(column(8))) nooutput
n_te = n; m_te = n > 0 ? sum / n : NaN
if (n_te > 1) {
  stats 'gaps-amortized-test.tsv' using 8 nooutput
  w = fd(STATS_lo_quartile, STATS_up_quartile, n_te)
  bw = (bw == bw && bw <= w) ? bw : w
  f_set = fences(STATS_lo_quartile, STATS_up_quartile)
}
if (f_lo == f_lo) {
  lo = NaN; hi = NaN
  stats 'gaps-amortized-train.tsv' using (acc_in(column(8))) nooutput
  stats 'gaps-amortized-test.tsv' using (acc_in(column(8))) nooutput
}
scale = abs(lo) > abs(hi) ? abs(lo) : abs(hi)
scale = scale > 1 ? scale : 1
flat = n_tr + n_te > 0 && hi - lo <= flat_rel * scale
unset arrow
unset label
if (n_out > 0) { set label sprintf("%d point%s outside [%.3g, %.3g] not shown\n(the farthest: %.4g nats)", n_out, n_out > 1 ? 's' : '', f_lo, f_hi, far) at graph 0.97, graph 0.95 right front noenhanced }
set xrange [*:*]
if (flat) {
  # One value: a single bar centred on it.
  v0 = (lo + hi) / 2
  half = flat_half * scale
  bw = spike_frac * 2 * half
  lo = v0 - bw / 2
  set xrange [v0 - half:v0 + half]
} else {
  if (n_tr + n_te > 0) {
    range = hi - lo
    bw = (bw == bw && bw >= range / max_bins) ? bw : range / max_bins
    bw = bw <= range / min_bins ? bw : range / min_bins
  }
}
set boxwidth bw absolute
set title 'amortisation gap' . (flat ? sprintf(": all %d values = %.6g nats", n_tr + n_te, v0) : '') noenhanced
set xlabel 'amortisation gap (nats)'
set ylabel 'fraction of points'
set yrange [0:*]
if (!flat && n_tr > 0) { set arrow from m_tr, graph 0 to m_tr, graph 1 nohead front ls 1 dt (6,4) }
if (!flat && n_te > 0) { set arrow from m_te, graph 0 to m_te, graph 1 nohead front ls 2 dt (6,4) }
if (n_tr + n_te == 0) {
  set label 'no finite values' at graph 0.5, graph 0.5 center
  set xrange [0:1]
  set yrange [0:1]
  plot 2 notitle
} else {
  plot 'gaps-amortized-train.tsv' using (inside(column(8)) ? bin(column(8)) : NaN):(1.0 / n_tr) smooth frequency with boxes fs transparent solid 0.45 border ls 1 title sprintf('train (%d points)', n_tr), \
     'gaps-amortized-test.tsv' using (inside(column(8)) ? bin(column(8)) : NaN):(1.0 / n_te) smooth frequency with boxes fs transparent solid 0.45 border ls 2 title sprintf('test (%d points)', n_te), \
     NaN with lines ls 1 dt (6,4) title (flat ? '' : sprintf('train mean %.3g nats', m_tr)), \
     NaN with lines ls 2 dt (6,4) title (flat ? '' : sprintf('test mean %.3g nats', m_te))
}
unset multiplot
