# ais-trace-amortized-train.gp: AIS diagnostics per traced point: the running estimate
# of ln p(x) against the inverse temperature β, and the fraction of moves accepted
# against the temperature t.
# Data: ais-trace-amortized-train.tsv (tab-separated; '#' header lines).
# Written by infbench.  Render every figure of this directory with
#   infbench plot DIR [--format png|svg|both]
# or this one by hand, from this directory:
#   gnuplot -e "set terminal pngcairo size 960,640; set output 'ais-trace-amortized-train.png'" ais-trace-amortized-train.gp
# No terminal is set here; the shared style comes from infbench-style.gp.
load 'infbench-style.gp'
set datafile separator "\t"
set datafile commentschars "#"
set datafile missing "NaN"

# The traced points' ids (column 1) in order of first appearance, at most
# max_ids of them: ids = " 0 3 7", nid = 3.  A point of a resumed run may have
# no rows, so the ids come from the file.
max_ids = 12; ids = ''; nid = 0
addid(p) = (p == p && nid < max_ids && strstrt(ids . ' ', sprintf(' %d ', int(p))) == 0) \
  ? (ids = ids . sprintf(' %d', int(p)), nid = nid + 1, 0) : 0
pid(i) = int(word(ids, i))
stats 'ais-trace-amortized-train.tsv' using (addid(column(1))) nooutput
# Point i in colour i (then the next dash pattern after eight).
lsi(i) = (i - 1) % 8 + 1
dti(i) = (i - 1) / 8 + 1
set key outside below center horizontal Left reverse height 1
set multiplot layout 1, 2 title 'amortized: AIS per traced point' noenhanced font ',13'

# ---------------- running ln p̂(x) against β
set title 'running ln p̂(x) against β'
set xlabel 'inverse temperature β'
set ylabel 'log-mean-exp of ln w so far (nats)'
set xrange [0:1]
set yrange [*:*]
if (nid == 0) {
  set label 1 'no traced rows' at graph 0.5, graph 0.5 center
  set xrange [0:1]
  set yrange [0:1]
  plot 2 notitle
} else {
  plot for [i = 1:nid] 'ais-trace-amortized-train.tsv' using 3:(column(1) == pid(i) ? column(4) : NaN) \
    with lines ls lsi(i) dt dti(i) title sprintf('point %d', pid(i))
}

# ---------------- acceptance against t
set title 'acceptance against t'
set xlabel 'temperature t'
set ylabel 'fraction of moves accepted'
set xrange [*:*]
set yrange [0:1]
if (nid == 0) {
  set label 1 'no traced rows' at graph 0.5, graph 0.5 center
  set xrange [0:1]
  set yrange [0:1]
  plot 2 notitle
} else {
  plot for [i = 1:nid] 'ais-trace-amortized-train.tsv' using 2:(column(1) == pid(i) ? column(5) : NaN) \
    with lines ls lsi(i) dt dti(i) title sprintf('point %d', pid(i))
}
unset multiplot
