# iwae-amortized.gp: the IWAE bound against the number of importance samples k, mean
# over the points ± 1 standard error, with the gap report's ln p̂(x) and L[q] over the
# same points.
# Data: iwae-amortized-train.tsv and iwae-amortized-test.tsv (tab-separated; '#' header lines).
# Written by infbench.  Render every figure of this directory with
#   infbench plot DIR [--format png|svg|both]
# or this one by hand, from this directory:
#   gnuplot -e "set terminal pngcairo size 960,640; set output 'iwae-amortized.png'" iwae-amortized.gp
# No terminal is set here; the shared style comes from infbench-style.gp.
load 'infbench-style.gp'
set datafile separator "\t"
set datafile commentschars "#"
set datafile missing "NaN"
set xlabel 'importance samples k'
set ylabel 'nats per point'
set logscale x 10
set format x '10^{%L}'
set offsets graph 0.04, graph 0.04, graph 0.05, graph 0.05
set pointintervalbox 1e-6
set key outside below center horizontal Left reverse height 1
# The number of points of each split, for the legend.
stats 'iwae-amortized-train.tsv' every ::0::0 using (n_tr = column(15), 0) nooutput
stats 'iwae-amortized-test.tsv' every ::0::0 using (n_te = column(15), 0) nooutput
set multiplot layout 1, 2 title 'amortized: IWAE bound against k' noenhanced font ',13'

# ---------------- the bound, mean over the points
set title 'IWAE-k, mean over the points ± 1 se'
plot 'iwae-amortized-train.tsv' using 1:2:3 with yerrorlines ls 1 title sprintf('train (%d points)', n_tr), \
     'iwae-amortized-train.tsv' using 1:7 with lines ls 1 lw 1.5 dt (8,5) title 'train: ln p̂(x)', \
     'iwae-amortized-train.tsv' using 1:9 with lines ls 1 lw 1.5 dt (2,3) title 'train: L[q]', \
     'iwae-amortized-test.tsv' using 1:2:3 with yerrorlines ls 2 title sprintf('test (%d points)', n_te), \
     'iwae-amortized-test.tsv' using 1:7 with lines ls 2 lw 1.5 dt (8,5) title 'test: ln p̂(x)', \
     'iwae-amortized-test.tsv' using 1:9 with lines ls 2 lw 1.5 dt (2,3) title 'test: L[q]'

# ---------------- the bound above L[q], paired per point
set title 'IWAE-k − L[q], paired ± 1 se'
set ylabel 'nats per point above L[q]'
set xzeroaxis ls 9
plot 'iwae-amortized-train.tsv' using 1:11:12 with yerrorlines ls 1 title 'train', \
     'iwae-amortized-train.tsv' using 1:13 with lines ls 1 lw 1.5 dt (8,5) title 'train: ln p̂(x) − L[q]', \
     'iwae-amortized-test.tsv' using 1:11:12 with yerrorlines ls 2 title 'test', \
     'iwae-amortized-test.tsv' using 1:13 with lines ls 2 lw 1.5 dt (8,5) title 'test: ln p̂(x) − L[q]'
unset multiplot
