# recon-amortized.gp: images (binarised as evaluated) above their reconstructions, the
# decoder's Bernoulli means at the encoder's mean.
# Data: recon-amortized.tsv (tab-separated; '#' header lines).
# Written by infbench.  Render every figure of this directory with
#   infbench plot DIR [--format png|svg|both]
# or this one by hand, from this directory:
#   gnuplot -e "set terminal pngcairo size 960,640; set output 'recon-amortized.png'" recon-amortized.gp
# No terminal is set here; the shared style comes from infbench-style.gp.
load 'infbench-style.gp'
set datafile separator "\t"
set datafile commentschars "#"
set datafile missing "NaN"
set title 'amortized: images and their reconstructions' noenhanced

# Image b (block b of the file) is a tile at column tx(b), row ty(b) of the grid;
# tiles are h x w pixels, gap pixels apart; pixel (row, col) of a tile is drawn at
# x = tile x + col, y = tile y + row (y downwards).
h = 28; w = 28; gap = 2; cols = 10; rows = 4
# Blocks 2i and 2i + 1: image i and its reconstruction, one above the other.
tx(b) = (b / 2) % cols
ty(b) = 2 * ((b / 2) / cols) + b % 2
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
# Row names on the left.
set ytics scale 0 ()
do for [r = 0:rows - 1] { set ytics add ((r % 2 ? 'reconstruction' : 'data') r * (h + gap) + (h - 1) / 2.0) }
plot for [b = 0:39] 'recon-amortized.tsv' index b using (tx(b) * (w + gap) + column(4)):(ty(b) * (h + gap) + column(3)):(column(5)) with image notitle
