# gaps.gp: inference gaps per estimator and split, stacked: the approximation gap
# (bottom) and the amortisation gap (top), each with ± 1 standard error; train and test
# side by side.
# Data: gaps.tsv (tab-separated; '#' header lines).
# Written by infbench.  Render every figure of this directory with
#   infbench plot DIR [--format png|svg|both]
# or this one by hand, from this directory:
#   gnuplot -e "set terminal pngcairo size 960,640; set output 'gaps.png'" gaps.gp
# No terminal is set here; the shared style comes from infbench-style.gp.
load 'infbench-style.gp'
set datafile separator "\t"
set datafile commentschars "#"
set datafile missing "NaN"

# Estimator k (k-th distinct name in column 1) is drawn at x = k.  `seen` holds
# the names met so far, each followed by a tab (a name in a tab-separated file
# cannot contain one).
ntabs(s) = (p_ = strstrt(s, "\t")) ? 1 + ntabs(s[p_ + 1:]) : 0
est(s) = (p_ = strstrt(seen, "\t" . s . "\t")) ? ntabs(seen[1:p_]) : \
         (seen = seen . s . "\t", lmax = strlen(s) > lmax ? strlen(s) : lmax, nest = nest + 1)
field(s, k) = k <= 1 ? s[1:strstrt(s, "\t") - 1] : field(s[strstrt(s, "\t") + 1:], k - 1)
seen = "\t"; nest = 0; lmax = 0
stats 'gaps.tsv' using (est(strcol(1)), 0) nooutput
set xtics () scale 0 noenhanced
unset mxtics
do for [k = 1:nest] { set xtics add (field(seen[2:], k) k) }
# Vertical tick labels when the names (lmax characters at most) would not fit.
if (nest * (lmax + 2) > 110) { set xtics rotate by 90 right }
set xrange [0.5:nest + 0.5]
set grid noxtics nomxtics

# Bar geometry: train (split 0) left of the estimator's position, test right.
# Positive parts stack upwards from 0, negative parts downwards, so a negative
# measured gap shows below the axis instead of hiding inside the other bar.
off = 0.20000000000000001; hw = 0.17999999999999999
reset_seen(r) = r == 0 ? (seen = "\t", nest = 0) : 0
# xpos also leaves the position in x_, for the bar's edges (columns are read left to
# right).
xpos(s, split) = (reset_seen(column(0)), x_ = est(s) + (split == 0 ? -off : off))
z(v) = v == v ? v : 0
# Base and top of the amortisation part (b) stacked on the approximation part (a).
base(a, b) = b >= 0 ? (z(a) > 0 ? z(a) : 0) : (z(a) < 0 ? z(a) : 0)
top(a, b) = base(a, b) + b
tr(split, v) = split == 0 ? v : NaN
te(split, v) = split == 1 ? v : NaN
set title 'inference gaps: approximation + amortisation, ± 1 se' noenhanced
set ylabel 'gap (nats)'
set xlabel 'estimator'
set xzeroaxis ls 9
set key outside below center horizontal Left reverse height 1
set style fill solid 0.8 border
set pointintervalbox 1e-6
plot 'gaps.tsv' using (xpos(strcol(1), column(2))):(tr(column(2), column(3))):(x_ - hw):(x_ + hw):(0):(tr(column(2), column(3))) with boxxyerror fs solid 0.8 border ls 1 title 'approximation gap, train', \
     'gaps.tsv' using (xpos(strcol(1), column(2))):(te(column(2), column(3))):(x_ - hw):(x_ + hw):(0):(te(column(2), column(3))) with boxxyerror fs pattern 4 border ls 1 title 'approximation gap, test', \
     'gaps.tsv' using (xpos(strcol(1), column(2))):(tr(column(2), top(column(3), column(5)))):(x_ - hw):(x_ + hw):(base(column(3), column(5))):(top(column(3), column(5))) with boxxyerror fs solid 0.8 border ls 2 title 'amortisation gap, train', \
     'gaps.tsv' using (xpos(strcol(1), column(2))):(te(column(2), top(column(3), column(5)))):(x_ - hw):(x_ + hw):(base(column(3), column(5))):(top(column(3), column(5))) with boxxyerror fs pattern 4 border ls 2 title 'amortisation gap, test', \
     'gaps.tsv' using (xpos(strcol(1), column(2))):(column(3)):(column(4)) with yerrorbars ls 7 lw 1.5 ps 0 title '± 1 standard error', \
     'gaps.tsv' using (xpos(strcol(1), column(2))):(top(column(3), column(5))):(column(6)) with yerrorbars ls 7 lw 1.5 ps 0 notitle, \
     'gaps.tsv' using (xpos(strcol(1), column(2))):7 with points ls 7 pt 12 ps 1.4 title 'inference gap (sum)'
