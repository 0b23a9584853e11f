# curve-amortized.gp: the training objective on the training and test sets against the
# step.
# Data: curve-amortized.tsv (tab-separated; '#' header lines).
# Written by infbench.  Render every figure of this directory with
#   infbench plot DIR [--format png|svg|both]
# or this one by hand, from this directory:
#   gnuplot -e "set terminal pngcairo size 960,640; set output 'curve-amortized.png'" curve-amortized.gp
# No terminal is set here; the shared style comes from infbench-style.gp.
load 'infbench-style.gp'
set datafile separator "\t"
set datafile commentschars "#"
set datafile missing "NaN"
set title 'amortized: training curve' noenhanced
set xlabel 'epoch' noenhanced
set ylabel 'ELBO per point (nats)' noenhanced
set key outside below center horizontal Left reverse height 1
plot 'curve-amortized.tsv' using 1:2 with lines ls 1 title 'train', \
     'curve-amortized.tsv' using 1:3 with lines ls 2 title 'test'
