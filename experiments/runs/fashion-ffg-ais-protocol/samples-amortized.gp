# samples-amortized.gp: samples from the model: the decoder's Bernoulli means at z ~
# N(0, I).
# Data: samples-amortized.tsv (tab-separated; '#' header lines).
# Written by infbench.  Render every figure of this directory with
#   infbench plot DIR [--format png|svg|both]
# or this one by hand, from this directory:
#   gnuplot -e "set terminal pngcairo size 960,640; set output 'samples-amortized.png'" samples-amortized.gp
# No terminal is set here; the shared style comes from infbench-style.gp.
load 'infbench-style.gp'
set datafile separator "\t"
set datafile commentschars "#"
set datafile missing "NaN"
set title 'amortized: decoder means at samples from the prior' noenhanced

# Image b (block b of the file) is a tile at column tx(b), row ty(b) of the grid;
# tiles are h x w pixels, gap pixels apart; pixel (row, col) of a tile is drawn at
# x = tile x + col, y = tile y + row (y downwards).
h = 28; w = 28; gap = 2; cols = 10; rows = 5
tx(b) = b % cols
ty(b) = b / cols
set size ratio -1
unset border
unset grid
unset key
unset xtics
unset mxtics
unset mytics
set offsets 0, 0, 0, 0
set palette gray
set cbrange [0:1]
unset colorbox
set xrange [-0.5:cols * (w + gap) - gap - 0.5]
set yrange [rows * (h + gap) - gap - 0.5:-0.5]
unset ytics
plot for [b = 0:49] 'samples-amortized.tsv' index b using (tx(b) * (w + gap) + column(3)):(ty(b) * (h + gap) + column(2)):(column(4)) with image notitle
