# bdmc-amortized.gp: the BDMC sandwich on simulated data against the number of
# temperatures: the forward-AIS lower and reverse-AIS upper bounds on ln p(x) (± 1
# standard error) with the encoder's IWAE-k, and the gap between them.
# Data: bdmc-amortized.tsv (tab-separated; '#' header lines).
# Written by infbench.  Render every figure of this directory with
#   infbench plot DIR [--format png|svg|both]
# or this one by hand, from this directory:
#   gnuplot -e "set terminal pngcairo size 960,640; set output 'bdmc-amortized.png'" bdmc-amortized.gp
# No terminal is set here; the shared style comes from infbench-style.gp.
load 'infbench-style.gp'
set datafile separator "\t"
set datafile commentschars "#"
set datafile missing "NaN"

huge = 1.0000000000000001e+300; flat_lin = 1
# fin: a finite number (NaN marks a missing value; an infinite one is not drawn).
fin(v) = v == v && abs(v) < huge
# widen: lo and hi take in v.
widen(v) = (lo = (lo == lo && lo <= v) ? lo : v, hi = (hi == hi && hi >= v) ? hi : v, 0)
z(v) = v == v ? v : 0
# acc: count, sum and range of the finite values; first: the first row's.
acc(v) = fin(v) ? (n = n + 1, sum = sum + v, widen(v)) : 0

# The temperatures' range (a single setting: a decade around it).
n = 0; sum = 0; lo = NaN; hi = NaN
stats 'bdmc-amortized.tsv' using (acc(column(1))) nooutput
t_lo = lo; t_hi = hi; nrows = n
if (nrows == 0) { t_lo = 1; t_hi = 10 }
if (t_hi <= t_lo * 1.0001) { t_lo = t_lo / sqrt(10); t_hi = t_hi * sqrt(10) } else { t_lo = t_lo / 1.25; t_hi = t_hi * 1.25 }
# The encoder's IWAE-k and its se: their means over the rows (the same on every
# row); NaN without an encoder.
n = 0; sum = 0; lo = NaN; hi = NaN
stats 'bdmc-amortized.tsv' using (acc(column(8))) nooutput
iw = n > 0 ? sum / n : NaN
n = 0; sum = 0; lo = NaN; hi = NaN
stats 'bdmc-amortized.tsv' using (acc(column(9))) nooutput
iw_se = n > 0 ? sum / n : NaN
# The gaps' range, and the first row's gap and temperatures for the 1/T guide.
n = 0; sum = 0; lo = NaN; hi = NaN
stats 'bdmc-amortized.tsv' using (acc(column(6))) nooutput
g_lo = lo; g_hi = hi; ng = n
g1 = NaN; t1 = NaN
stats 'bdmc-amortized.tsv' every ::0::0 using (g1 = column(6), t1 = column(1), 0) nooutput
# Log y for the gap when every gap is positive.
logy = ng > 0 && g_lo > 0
set key outside below center horizontal Left reverse height 1
set pointintervalbox 1e-6
set multiplot layout 1, 2 title 'amortized: BDMC on simulated data' noenhanced font ',13'

# ---------------- the two bounds
set title 'bounds on ln p(x), mean ± 1 se'
set xlabel 'temperatures T'
set ylabel 'nats per point'
set xrange [t_lo:t_hi]
set logscale x 10
set format x '10^{%L}'
if (nrows == 0) {
  set label 1 'no rows' at graph 0.5, graph 0.5 center
  set yrange [0:1]
  plot 2 notitle
} else {
  plot for [j = 1:(iw == iw && iw_se == iw_se)] '+' using 1:(iw - iw_se):(iw + iw_se) \
    with filledcurves ls 9 fs transparent solid 0.2 noborder notitle, \
    for [j = 1:(iw == iw)] iw with lines ls 9 title "encoder's IWAE-k", \
    'bdmc-amortized.tsv' using 1:2:(z(column(3))) with yerrorlines ls 1 \
    title 'lower: forward AIS (ln p̂(x))', \
    'bdmc-amortized.tsv' using 1:4:(z(column(5))) with yerrorlines ls 2 \
    title 'upper: reverse AIS'
}

# ---------------- the gap
unset label 1
set title 'BDMC gap (upper − lower), mean ± 1 se'
set ylabel 'gap (nats per point)'
set yrange [*:*]
if (logy) {
  set logscale y 10
  set format y '10^{%L}'
  if (g_hi <= g_lo * 1.0001) { set yrange [g_lo / sqrt(10):g_hi * sqrt(10)] }
} else {
  if (ng > 0 && g_hi - g_lo <= 1e-9 * (abs(g_lo) > 1 ? abs(g_lo) : 1)) { set yrange [g_lo - flat_lin:g_hi + flat_lin] }
  set xzeroaxis ls 9
}
# On a log axis an error bar reaching 0 or below is cut at the lower end of the
# axis.
lowbar(g, s) = logy && g - s <= 0 ? g * 1e-3 : g - s
if (ng == 0) {
  set label 1 'no finite gap' at graph 0.5, graph 0.5 center
  set yrange [0:1]
  plot 2 notitle
} else {
  plot 'bdmc-amortized.tsv' using 1:6:(lowbar(column(6), z(column(7)))):(column(6) + z(column(7))) \
    with yerrorlines ls 3 title 'upper − lower', \
    for [j = 1:(logy && fin(g1) && fin(t1) && nrows > 1)] g1 * t1 / x with lines ls 9 title '∝ 1/T (through the first row)'
}
unset multiplot
