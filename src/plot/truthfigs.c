/* Figures of the ln p(x) ground truth: AIS diagnostics (Neal 2001), the PSIS k̂ of the
 * IWAE proposals (Vehtari et al. 2024, §3: k̂ above min(1 − 1/log10 S, 0.7) marks an
 * unreliable importance-sampling estimate) and the BDMC sandwich (Grosse, Ghahramani &
 * Adams 2015, §4: forward AIS from the prior bounds ln p(x) below, reverse AIS from the
 * exact posterior sample of simulated data bounds it above in expectation, and the gap
 * bounds the error of both; it shrinks about as 1/T). */
#include "config.h"
#include "plot/truthfigs.h"
#include "plot/gpscript.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ais-trace TSV columns (1-based, gnuplot's numbering). */
enum { AT_COL_POINT = 1, AT_COL_T = 2, AT_COL_BETA = 3, AT_COL_LOGPX = 4, AT_COL_ACCEPT = 5 };
/* bdmc TSV columns. */
enum {
  BD_COL_T = 1,
  BD_COL_LOWER,
  BD_COL_LOWER_SE,
  BD_COL_UPPER,
  BD_COL_UPPER_SE,
  BD_COL_GAP,
  BD_COL_GAP_SE,
  BD_COL_IWAE,
  BD_COL_IWAE_SE
};
/* k̂ histograms: this many bins over the finite k̂ and the threshold, the range widened to
 * at least KH_MIN_RANGE (k̂ all alike). */
enum { KH_BINS = 30 };
static const double KH_MIN_RANGE = 0.2;
/* Beyond this magnitude a value is not a number to draw (an infinite k̂ or bound). */
static const double FIN_HUGE = 1e300;
/* BDMC: a single temperature setting is drawn over ±half a decade around it; a flat gap
 * the same way on a log y axis, ± BD_FLAT_LIN nats on a linear one. */
static const double BD_FLAT_LIN = 1.0;
/* The suffix naming a k̂ column and the one to pass over. */
static const char khat_suffix[] = "_khat";

/* The sentence after "STEM.gp: " for a data file list "A and B". */
static char *
two_files(const char *a, const char *b)
{
  size_t n = strlen(a) + (b ? strlen(b) : 0) + 8;
  char *s = infb_malloc(n, 1);
  if (s)
    snprintf(s, n, "%s%s%s", a, b ? " and " : "", b ? b : "");
  return s;
}

/* set multiplot layout 1, N title 'TITLE: WHAT' */
static void
put_multiplot(FILE *fp, int panels, const char *title, const char *what)
{
  fprintf(fp, "set multiplot layout 1, %d title '", panels);
  infb_gp_qchars(fp, title);
  fputs(": ", fp);
  infb_gp_qchars(fp, what);
  fputs("' noenhanced font ',13'\n", fp);
}

/* Helpers every script below defines: finite values, and the range of the values seen. */
static const char fin_defs[] =
    "# fin: a finite number (NaN marks a missing value; an infinite one is not drawn).\n"
    "fin(v) = v == v && abs(v) < huge\n"
    "# widen: lo and hi take in v.\n"
    "widen(v) = (lo = (lo == lo && lo <= v) ? lo : v, hi = (hi == hi && hi >= v) ? hi : v, "
    "0)\n";

/* The names every writer takes, checked as gnuplot strings (infb_gp_check_name). */
static int
check_names(const char *dir, const char *stem, const char *tsv, const char *title)
{
  int st;
  if ((st = infb_gp_check_name("the directory", dir)) ||
      (st = infb_gp_check_name("the stem", stem)) ||
      (st = infb_gp_check_name("the data file", tsv)))
    return st;
  return infb_gp_check_name("the title", title);
}

/* ---------------------------------------------------------------- AIS trace */

int
infb_plot_ais_trace_write(const char *dir, const char *stem, const char *tsv, const char *title)
{
  int st = check_names(dir, stem, tsv, title);
  if (st)
    return st;
  infb_afile *af = infb_gp_open(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  infb_gp_preamble(fp, stem, "",
                   "AIS diagnostics per traced point: the running estimate of ln p(x) "
                   "against the inverse temperature β, and the fraction of moves accepted "
                   "against the temperature t",
                   tsv);
  fprintf(fp,
          "\n# The traced points' ids (column %d) in order of first appearance, at most\n"
          "# max_ids of them: ids = \" 0 3 7\", nid = 3.  A point of a resumed run may have\n"
          "# no rows, so the ids come from the file.\n"
          "max_ids = %d; ids = ''; nid = 0\n"
          "addid(p) = (p == p && nid < max_ids && strstrt(ids . ' ', sprintf(' %%d ', int(p))) "
          "== 0) \\\n  ? (ids = ids . sprintf(' %%d', int(p)), nid = nid + 1, 0) : 0\n"
          "pid(i) = int(word(ids, i))\n"
          "stats ",
          AT_COL_POINT, INFB_PLOT_AIS_TRACE_MAX);
  infb_gp_datafile(fp, tsv);
  fprintf(fp, " using (addid(column(%d))) nooutput\n", AT_COL_POINT);
  fputs("# Point i in colour i (then the next dash pattern after eight).\n"
        "lsi(i) = (i - 1) % 8 + 1\n"
        "dti(i) = (i - 1) / 8 + 1\n",
        fp);
  infb_gp_key_below(fp);
  put_multiplot(fp, 2, title, "AIS per traced point");

  static const struct {
    const char *title, *xlabel, *ylabel, *range;
    int x, y;
  } panel[2] = {
      {"running ln p̂(x) against β", "inverse temperature β",
       "log-mean-exp of ln w so far (nats)", "set xrange [0:1]\nset yrange [*:*]\n",
       AT_COL_BETA, AT_COL_LOGPX},
      {"acceptance against t", "temperature t", "fraction of moves accepted",
       "set xrange [*:*]\nset yrange [0:1]\n", AT_COL_T, AT_COL_ACCEPT},
  };
  for (int k = 0; k < 2; k++) {
    fprintf(fp, "\n# ---------------- %s\n", panel[k].title);
    fprintf(fp, "set title '%s'\nset xlabel '%s'\nset ylabel '%s'\n%s", panel[k].title,
            panel[k].xlabel, panel[k].ylabel, panel[k].range);
    fputs("if (nid == 0) {\n"
          "  set label 1 'no traced rows' at graph 0.5, graph 0.5 center\n"
          "  set xrange [0:1]\n"
          "  set yrange [0:1]\n"
          "  plot 2 notitle\n"
          "} else {\n"
          "  plot for [i = 1:nid] ",
          fp);
    infb_gp_datafile(fp, tsv);
    fprintf(fp, " using %d:(column(%d) == pid(i) ? column(%d) : NaN) \\\n"
                "    with lines ls lsi(i) dt dti(i) title sprintf('point %%d', pid(i))\n"
                "}\n",
            panel[k].x, AT_COL_POINT, panel[k].y);
  }
  fputs("unset multiplot\n", fp);
  return infb_afile_commit(af);
}

/* ---------------------------------------------------------------- PSIS k̂ */

/* A proposal's name for the legend: "encoder q(z|x)" for iwae_encoder, "q*" for
 * iwae_qstar, else the method name (the column's name without _khat, len characters). */
static void
put_proposal(FILE *fp, const char *col, size_t len)
{
  static const struct {
    const char *method, *label;
  } known[] = {{"iwae_encoder", "encoder q(z|x)"}, {"iwae_qstar", "q*"}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strlen(known[i].method) == len && strncmp(col, known[i].method, len) == 0) {
      fputs(known[i].label, fp);
      return;
    }
  for (size_t i = 0; i < len; i++)
    fputc(col[i] == '\'' || col[i] == '%' || (unsigned char)col[i] < 0x20 ? '?' : col[i], fp);
}

int
infb_plot_khat_write(const char *dir, const char *stem, const char *tsv_train,
                     const char *tsv_test, const char *title, double threshold, size_t ncols,
                     const char *const *cols)
{
  int st;
  if ((st = infb_gp_check_name("the directory", dir)) ||
      (st = infb_gp_check_name("the stem", stem)) ||
      (st = infb_gp_check_name("the training data file", tsv_train)) ||
      (st = infb_gp_check_name("the title", title)))
    return st;
  if (tsv_test && (st = infb_gp_check_name("the test data file", tsv_test)))
    return st;
  if (ncols == 0 || !cols)
    return INFB_ERROR(GSL_EINVAL, "plot: no column names for the k̂ figure");
  /* The proposals' columns (1-based) and the amortisation gap's, by name. */
  size_t *kc = infb_malloc(ncols, sizeof *kc);
  if (!kc)
    return GSL_ENOMEM;
  size_t np = 0, ca = 0;
  const size_t ls = strlen(khat_suffix);
  for (size_t j = 0; j < ncols; j++) {
    if (!cols[j]) {
      free(kc);
      return INFB_ERROR(GSL_EINVAL, "plot: column %zu of the k̂ figure's data is unnamed",
                        j + 1);
    }
    size_t n = strlen(cols[j]);
    if (n > ls && strcmp(cols[j] + n - ls, khat_suffix) == 0)
      kc[np++] = j;
    else if (strcmp(cols[j], "amortization_gap") == 0)
      ca = j + 1;
  }
  if (np == 0) {
    free(kc);
    return INFB_ERROR(GSL_EINVAL, "plot: no *%s column for the k̂ figure", khat_suffix);
  }
  infb_afile *af = infb_gp_open(dir, stem, ".gp");
  char *data = af ? two_files(tsv_train, tsv_test) : NULL;
  if (!data) {
    infb_afile_abort(af);
    free(kc);
    return af ? GSL_ENOMEM : GSL_EFAILED;
  }
  FILE *fp = af->fp;
  infb_gp_preamble(fp, stem, "",
                   ca ? "PSIS k̂ of each IWAE proposal: its histogram, train against test, "
                        "with the threshold; and k̂ against the amortisation gap per point"
                      : "PSIS k̂ of each IWAE proposal: its histogram, train against test, "
                        "with the threshold",
                   data);
  free(data);

  const char *file[2] = {tsv_train, tsv_test};
  static const char *const split[2] = {"tr", "te"};
  static const char *const sname[2] = {"train", "test"};
  const int has_thr = isfinite(threshold);
  fprintf(fp, "\nhuge = %.17g\nnbins = %d; min_range = %.17g\n", FIN_HUGE, KH_BINS,
          KH_MIN_RANGE);
  if (has_thr)
    fprintf(fp, "thr = %.17g\n", threshold);
  else
    fputs("thr = NaN\n", fp);
  fputs(fin_defs, fp);
  fputs("# acc: count the finite k̂, those above the threshold, and their range.\n"
        "acc(v) = fin(v) ? (n = n + 1, a = a + (v > thr), widen(v)) : 0\n"
        "# acc2: count the points with both k̂ and the amortisation gap finite.\n"
        "acc2(k, g) = fin(k) && fin(g) ? (m = m + 1, 0) : 0\n"
        "lo = NaN; hi = NaN; n_all = 0; m_all = 0\n",
        fp);
  fputs("# n_P_S, a_P_S: proposal P's finite k̂ and those above thr in split S; m_P_S: points\n"
        "# with an amortisation gap too.\n",
        fp);
  for (size_t p = 0; p < np; p++)
    for (int s = 0; s < 2; s++) {
      if (!file[s])
        continue;
      fputs("n = 0; a = 0; m = 0\nstats ", fp);
      infb_gp_datafile(fp, file[s]);
      if (ca)
        fprintf(fp, " using (acc(column(%zu)) + acc2(column(%zu), column(%zu))) nooutput\n",
                kc[p] + 1, kc[p] + 1, ca);
      else
        fprintf(fp, " using (acc(column(%zu))) nooutput\n", kc[p] + 1);
      fprintf(fp, "n_%zu_%s = n; a_%zu_%s = a; m_%zu_%s = m; n_all = n_all + n; "
                  "m_all = m_all + m\n",
              p + 1, split[s], p + 1, split[s], p + 1, split[s]);
    }
  fputs("\n# Bins over the finite k̂ and the threshold.\n"
        "if (thr == thr) { w_ = widen(thr) }\n"
        "if (lo != lo) { lo = 0; hi = 1 }\n"
        "if (hi - lo < min_range) { mid = (lo + hi) / 2; lo = mid - min_range / 2; "
        "hi = mid + min_range / 2 }\n"
        "bw = (hi - lo) / nbins\n"
        "bin(v) = fin(v) ? lo + bw * (floor((v - lo) / bw) + 0.5) : NaN\n",
        fp);
  infb_gp_key_below(fp);
  fputs("set pointintervalbox 1e-6\n", fp);
  put_multiplot(fp, ca ? 2 : 1, title, "PSIS k̂ per IWAE proposal");

  char thrbuf[48];
  if (has_thr)
    infb_gp_fmt_num(thrbuf, sizeof thrbuf, 3, threshold);

  /* Left: histograms. */
  fputs("\n# ---------------- histograms of k̂\n"
        "set title 'k̂ per point'\n"
        "set xlabel 'Pareto k̂'\n"
        "set ylabel 'fraction of points'\n"
        "set grid noxtics nomxtics\n"
        "set boxwidth bw absolute\n"
        "set xrange [lo - bw:hi + bw]\n"
        "set yrange [0:*]\n"
        "set offsets 0, 0, graph 0.03, 0\n",
        fp);
  if (has_thr)
    fputs("set arrow 1 from thr, graph 0 to thr, graph 1 nohead front ls 11\n", fp);
  fputs("if (n_all == 0) {\n"
        "  set label 1 'no finite k̂' at graph 0.5, graph 0.5 center\n"
        "  set xrange [0:1]\n"
        "  set yrange [0:1]\n"
        "  plot 2 notitle\n"
        "} else {\n"
        "  plot ",
        fp);
  const char *sep = "";
  for (size_t p = 0; p < np; p++)
    for (int s = 0; s < 2; s++) {
      if (!file[s])
        continue;
      size_t c = kc[p] + 1, lsp = p % INFB_GP_NCOLOURS + 1;
      fprintf(fp, "%sfor [j = 1:(n_%zu_%s > 0)] ", sep, p + 1, split[s]);
      infb_gp_datafile(fp, file[s]);
      fprintf(fp, " using (bin(column(%zu))):(1.0 / n_%zu_%s) smooth frequency \\\n"
                  "    with boxes ls %zu %s title sprintf('",
              c, p + 1, split[s], lsp,
              s ? "lw 1.5 dt (6,4) fs empty border" : "fs transparent solid 0.35 border");
      put_proposal(fp, cols[kc[p]], strlen(cols[kc[p]]) - ls);
      fprintf(fp, ", %s (%%d points)", sname[s]);
      if (has_thr)
        fprintf(fp, ": %%.0f%%%% above', n_%zu_%s, 100.0 * a_%zu_%s / n_%zu_%s)", p + 1,
                split[s], p + 1, split[s], p + 1, split[s]);
      else
        fprintf(fp, "', n_%zu_%s)", p + 1, split[s]);
      sep = ", \\\n       ";
    }
  if (has_thr)
    fprintf(fp, ", \\\n       NaN with lines ls 11 title 'threshold %s'", thrbuf);
  fputs("\n}\n", fp);

  /* Right: k̂ against the amortisation gap. */
  if (ca) {
    fprintf(fp, "\n# ---------------- k̂ against the amortisation gap (column %zu)\n", ca);
    fputs("unset arrow 1\n"
          "unset label 1\n"
          "set title 'k̂ against the amortisation gap'\n"
          "set xlabel 'amortisation gap (nats)'\n"
          "set ylabel 'Pareto k̂'\n"
          "set grid xtics ytics\n"
          "set xrange [*:*]\n"
          "set yrange [*:*]\n"
          "set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05\n"
          "if (m_all == 0) {\n"
          "  set label 1 'no amortisation gaps (no encoder)' at graph 0.5, graph 0.5 center\n"
          "  set xrange [0:1]\n"
          "  set yrange [0:1]\n"
          "  plot 2 notitle\n"
          "} else {\n"
          "  plot ",
          fp);
    sep = "";
    for (size_t p = 0; p < np; p++)
      for (int s = 0; s < 2; s++) {
        if (!file[s])
          continue;
        fprintf(fp, "%sfor [j = 1:(m_%zu_%s > 0)] ", sep, p + 1, split[s]);
        infb_gp_datafile(fp, file[s]);
        fprintf(fp, " using (column(%zu)):(column(%zu)) \\\n"
                    "    with points ls %zu pt %d ps 0.6 title '",
                ca, kc[p] + 1, p % INFB_GP_NCOLOURS + 1, s ? 6 : 7);
        put_proposal(fp, cols[kc[p]], strlen(cols[kc[p]]) - ls);
        fprintf(fp, ", %s'", sname[s]);
        sep = ", \\\n       ";
      }
    if (has_thr)
      fprintf(fp, ", \\\n       thr with lines ls 11 title 'threshold %s'", thrbuf);
    fputs("\n}\n", fp);
  }
  fputs("unset multiplot\n", fp);
  free(kc);
  return infb_afile_commit(af);
}

/* ---------------------------------------------------------------- BDMC */

int
infb_plot_bdmc_write(const char *dir, const char *stem, const char *tsv, const char *title)
{
  int st = check_names(dir, stem, tsv, title);
  if (st)
    return st;
  infb_afile *af = infb_gp_open(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  infb_gp_preamble(fp, stem, "",
                   "the BDMC sandwich on simulated data against the number of temperatures: "
                   "the forward-AIS lower and reverse-AIS upper bounds on ln p(x) (± 1 "
                   "standard error) with the encoder's IWAE-k, and the gap between them",
                   tsv);
  fprintf(fp, "\nhuge = %.17g; flat_lin = %.17g\n", FIN_HUGE, BD_FLAT_LIN);
  fputs(fin_defs, fp);
  fputs("z(v) = v == v ? v : 0\n"
        "# acc: count, sum and range of the finite values; first: the first row's.\n"
        "acc(v) = fin(v) ? (n = n + 1, sum = sum + v, widen(v)) : 0\n",
        fp);
  /* The temperature range: a decade around a single setting. */
  fputs("\n# The temperatures' range (a single setting: a decade around it).\n"
        "n = 0; sum = 0; lo = NaN; hi = NaN\n"
        "stats ",
        fp);
  infb_gp_datafile(fp, tsv);
  fprintf(fp, " using (acc(column(%d))) nooutput\n", BD_COL_T);
  fputs("t_lo = lo; t_hi = hi; nrows = n\n"
        "if (nrows == 0) { t_lo = 1; t_hi = 10 }\n"
        "if (t_hi <= t_lo * 1.0001) { t_lo = t_lo / sqrt(10); t_hi = t_hi * sqrt(10) } "
        "else { t_lo = t_lo / 1.25; t_hi = t_hi * 1.25 }\n",
        fp);
  fputs("# The encoder's IWAE-k and its se: their means over the rows (the same on every\n"
        "# row); NaN without an encoder.\n"
        "n = 0; sum = 0; lo = NaN; hi = NaN\nstats ",
        fp);
  infb_gp_datafile(fp, tsv);
  fprintf(fp, " using (acc(column(%d))) nooutput\n", BD_COL_IWAE);
  fputs("iw = n > 0 ? sum / n : NaN\n"
        "n = 0; sum = 0; lo = NaN; hi = NaN\nstats ",
        fp);
  infb_gp_datafile(fp, tsv);
  fprintf(fp, " using (acc(column(%d))) nooutput\n", BD_COL_IWAE_SE);
  fputs("iw_se = n > 0 ? sum / n : NaN\n"
        "# The gaps' range, and the first row's gap and temperatures for the 1/T guide.\n"
        "n = 0; sum = 0; lo = NaN; hi = NaN\nstats ",
        fp);
  infb_gp_datafile(fp, tsv);
  fprintf(fp, " using (acc(column(%d))) nooutput\n", BD_COL_GAP);
  fputs("g_lo = lo; g_hi = hi; ng = n\n"
        "g1 = NaN; t1 = NaN\nstats ",
        fp);
  infb_gp_datafile(fp, tsv);
  fprintf(fp, " every ::0::0 using (g1 = column(%d), t1 = column(%d), 0) nooutput\n",
          BD_COL_GAP, BD_COL_T);
  fputs("# Log y for the gap when every gap is positive.\n"
        "logy = ng > 0 && g_lo > 0\n",
        fp);

  infb_gp_key_below(fp);
  fputs("set pointintervalbox 1e-6\n", fp);
  put_multiplot(fp, 2, title, "BDMC on simulated data");

  fputs("\n# ---------------- the two bounds\n"
        "set title 'bounds on ln p(x), mean ± 1 se'\n"
        "set xlabel 'temperatures T'\n"
        "set ylabel 'nats per point'\n"
        "set xrange [t_lo:t_hi]\n",
        fp);
  infb_gp_logx(fp);
  fputs("if (nrows == 0) {\n"
        "  set label 1 'no rows' at graph 0.5, graph 0.5 center\n"
        "  set yrange [0:1]\n"
        "  plot 2 notitle\n"
        "} else {\n"
        "  plot for [j = 1:(iw == iw && iw_se == iw_se)] '+' using 1:(iw - iw_se):(iw + "
        "iw_se) \\\n"
        "    with filledcurves ls 9 fs transparent solid 0.2 noborder notitle, \\\n"
        "    for [j = 1:(iw == iw)] iw with lines ls 9 title \"encoder's IWAE-k\", \\\n    ",
        fp);
  infb_gp_datafile(fp, tsv);
  fprintf(fp, " using %d:%d:(z(column(%d))) with yerrorlines ls 1 \\\n"
              "    title 'lower: forward AIS (ln p̂(x))', \\\n    ",
          BD_COL_T, BD_COL_LOWER, BD_COL_LOWER_SE);
  infb_gp_datafile(fp, tsv);
  fprintf(fp, " using %d:%d:(z(column(%d))) with yerrorlines ls 2 \\\n"
              "    title 'upper: reverse AIS'\n"
              "}\n",
          BD_COL_T, BD_COL_UPPER, BD_COL_UPPER_SE);

  fputs("\n# ---------------- the gap\n"
        "unset label 1\n"
        "set title 'BDMC gap (upper − lower), mean ± 1 se'\n"
        "set ylabel 'gap (nats per point)'\n"
        "set yrange [*:*]\n"
        "if (logy) {\n"
        "  set logscale y 10\n"
        "  set format y '10^{%L}'\n"
        "  if (g_hi <= g_lo * 1.0001) { set yrange [g_lo / sqrt(10):g_hi * sqrt(10)] }\n"
        "} else {\n"
        "  if (ng > 0 && g_hi - g_lo <= 1e-9 * (abs(g_lo) > 1 ? abs(g_lo) : 1)) "
        "{ set yrange [g_lo - flat_lin:g_hi + flat_lin] }\n",
        fp);
  fprintf(fp, "  set xzeroaxis ls %d\n", INFB_GP_LS_REFERENCE);
  fputs("}\n"
        "# On a log axis an error bar reaching 0 or below is cut at the lower end of the\n"
        "# axis.\n"
        "lowbar(g, s) = logy && g - s <= 0 ? g * 1e-3 : g - s\n"
        "if (ng == 0) {\n"
        "  set label 1 'no finite gap' at graph 0.5, graph 0.5 center\n"
        "  set yrange [0:1]\n"
        "  plot 2 notitle\n"
        "} else {\n"
        "  plot ",
        fp);
  infb_gp_datafile(fp, tsv);
  fprintf(fp, " using %d:%d:(lowbar(column(%d), z(column(%d)))):(column(%d) + "
              "z(column(%d))) \\\n"
              "    with yerrorlines ls 3 title 'upper − lower', \\\n"
              "    for [j = 1:(logy && fin(g1) && fin(t1) && nrows > 1)] g1 * t1 / x "
              "with lines ls 9 title '∝ 1/T (through the first row)'\n"
              "}\n",
          BD_COL_T, BD_COL_GAP, BD_COL_GAP, BD_COL_GAP_SE, BD_COL_GAP, BD_COL_GAP_SE);
  fputs("unset multiplot\n", fp);
  return infb_afile_commit(af);
}
