# infbench-style.gp: the shared look of every infbench figure.
#
# Every script infbench writes into a run directory loads this file first
# (load 'infbench-style.gp'); `infbench run` copies it there, and it is installed as
# $(pkgdatadir)/infbench.gp.  It sets no terminal and no output, so the same scripts
# render to PNG, SVG or an interactive window; `infbench plot DIR` chooses the terminal.
#
# Line styles 1-8: the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"),
# distinguishable with the common colour-vision deficiencies.  Yellow (8) is darkened
# for contrast on white.  Linetypes 1-8 are set to the same colours, so plain `lt N` and
# gnuplot's automatic sequence follow the palette as well.
#   1 blue   2 vermillion   3 bluish green   4 reddish purple
#   5 orange 6 sky blue     7 black          8 dark yellow
# Line styles 9-13: reference elements, in greys:
#   9  reference level (e.g. the MLE's log-likelihood)      grey, dashed
#   10 a marked parameter value (e.g. evidence-optimal)      dark grey, dash-dot
#   11 another marked parameter value (e.g. CV-selected)     black, dotted
#   12 training data: small filled circles                   dark grey
#   13 test data: crosses                                    black

set encoding utf8

# ---------------------------------------------------------------- palette
set linetype 1 lc rgb '#0072B2' lw 2 dt solid pt 7 ps 0.9
set linetype 2 lc rgb '#D55E00' lw 2 dt solid pt 5 ps 0.9
set linetype 3 lc rgb '#009E73' lw 2 dt solid pt 9 ps 1.0
set linetype 4 lc rgb '#CC79A7' lw 2 dt solid pt 13 ps 1.0
set linetype 5 lc rgb '#E69F00' lw 2 dt solid pt 11 ps 1.0
set linetype 6 lc rgb '#56B4E9' lw 2 dt solid pt 15 ps 1.0
set linetype 7 lc rgb '#000000' lw 2 dt solid pt 4 ps 0.9
set linetype 8 lc rgb '#B39B00' lw 2 dt solid pt 6 ps 0.9
set linetype cycle 8

set style line 1 lc rgb '#0072B2' lw 2 dt solid pt 7 ps 0.9
set style line 2 lc rgb '#D55E00' lw 2 dt solid pt 5 ps 0.9
set style line 3 lc rgb '#009E73' lw 2 dt solid pt 9 ps 1.0
set style line 4 lc rgb '#CC79A7' lw 2 dt solid pt 13 ps 1.0
set style line 5 lc rgb '#E69F00' lw 2 dt solid pt 11 ps 1.0
set style line 6 lc rgb '#56B4E9' lw 2 dt solid pt 15 ps 1.0
set style line 7 lc rgb '#000000' lw 2 dt solid pt 4 ps 0.9
set style line 8 lc rgb '#B39B00' lw 2 dt solid pt 6 ps 0.9

set style line 9 lc rgb '#7F7F7F' lw 1.5 dt (8,5)
set style line 10 lc rgb '#333333' lw 2 dt (14,5,3,5)
set style line 11 lc rgb '#000000' lw 2 dt (2,3)
set style line 12 lc rgb '#404040' lw 1 pt 7 ps 0.7
set style line 13 lc rgb '#000000' lw 1.5 pt 2 ps 1.0

# Shaded bands (e.g. predictive intervals): translucent, so overlapping bands stay visible.
set style fill transparent solid 0.14 noborder

# ---------------------------------------------------------------- frame
set border 3 back lc rgb '#404040' lw 1
set tics nomirror out scale 0.6 textcolor rgb '#262626'
set mxtics
set mytics
set grid xtics ytics mxtics back lt 1 lc rgb '#D9D9D9' lw 1, lt 1 lc rgb '#EFEFEF' lw 1
set minussign
# A little room above and below the data, so no curve runs along the frame.
set offsets 0, 0, graph 0.03, graph 0.03

# ---------------------------------------------------------------- text
set title font ',13' textcolor rgb '#000000'
set xlabel textcolor rgb '#262626'
set ylabel textcolor rgb '#262626'
# Legend entries are names taken from the data (features, estimators): never enhanced
# text, so an underscore stays an underscore.
set key noenhanced nobox samplen 3.5 spacing 1.15 textcolor rgb '#262626'
