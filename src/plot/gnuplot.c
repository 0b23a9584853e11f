/* gnuplot script emission: each figure is a small script that loads the shared style and
 * plots columns of a TSV file in the same directory (gnuplot 5 syntax; see the gnuplot 5.4
 * manual for `set datafile`, `filledcurves` and `yerrorlines`). */
#include "config.h"
#include "plot/gnuplot.h"
#include "plot/gpscript.h"
#include "core/atomicfile.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

/* The text of plots/infbench.gp, generated at build time into the build tree
 * (<builddir>/src/plot/style.inc; automake's DEFAULT_INCLUDES puts the build tree's top
 * directory on the include path, in-tree and VPATH builds alike). */
#include "src/plot/style.inc"

/* Fixed column layout of the regularisation-path TSV (1-based, gnuplot's numbering). */
enum {
  RP_COL_LAMBDA = 1,
  RP_COL_CV = 2,
  RP_COL_CV_SE = 3,
  RP_COL_TRAIN = 4,
  RP_COL_TEST = 5,
  RP_COL_W0 = 6 /* first weight column */
};
/* Predictive TSV: x, then (mean, lo, hi) per estimator. */
enum { PR_COL_X = 1, PR_COL_E0 = 2, PR_COLS_PER_EST = 3 };
/* Colour line styles of the shared style (1..8) and its reference styles. */
enum {
  LS_NCOLOURS = INFB_GP_NCOLOURS,
  LS_REFERENCE = INFB_GP_LS_REFERENCE, /* horizontal reference level */
  LS_MARK_A = INFB_GP_LS_MARK_A,       /* a marked parameter value (evidence-optimal) */
  LS_MARK_B = INFB_GP_LS_MARK_B,       /* another marked parameter value (CV-selected) */
  LS_TRAIN = 12,    /* training points */
  LS_TEST = 13      /* test points */
};

static const char style_name[] = "infbench-style.gp";
/* Legends stay outside the graph, below it, so the graph keeps the full width; gnuplot
 * arranges the entries in as many columns as fit.  A legend of more entries than this
 * (one per feature) uses a smaller font. */
enum { KEY_LARGE = 12 };
static const char key_below[] =
    "set key outside below center horizontal Left reverse height 1\n";
static const char key_below_small[] =
    "set key outside below center horizontal Left reverse height 1 font ',9' spacing 1\n";

/* DIR/NAME SUFFIX, newly allocated; NULL with the error raised. */
static char *
path_join(const char *dir, const char *name, const char *suffix)
{
  size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
  char *p = infb_malloc(n, 1);
  if (p)
    snprintf(p, n, "%s/%s%s", dir, name, suffix);
  return p;
}

/* Comment lines are wrapped before this column. */
enum { COMMENT_WIDTH = 88 };

/* One character of comment text: control characters and backslashes (a trailing
 * backslash would continue the comment onto the next line) become '?'. */
static void
put_comment_char(FILE *fp, unsigned char c)
{
  fputc(c < 0x20 || c == 0x7f || c == '\\' ? '?' : c, fp);
}

/* Text inside a comment. */
static void
put_comment_text(FILE *fp, const char *s)
{
  for (; *s; s++)
    put_comment_char(fp, (unsigned char)*s);
}

/* Comment text continuing a line at column *col, wrapped at spaces onto new "# " lines
 * (UTF-8 continuation bytes do not count as columns). */
static void
put_comment_wrapped(FILE *fp, const char *s, size_t *col)
{
  while (*s) {
    if (*s == ' ') {
      size_t w = 0;
      for (const char *q = s + 1; *q && *q != ' '; q++)
        w += ((unsigned char)*q & 0xC0) != 0x80;
      if (*col + 1 + w > COMMENT_WIDTH) {
        fputs("\n#", fp);
        *col = 1;
      }
    }
    put_comment_char(fp, (unsigned char)*s);
    *col += ((unsigned char)*s & 0xC0) != 0x80;
    s++;
  }
}

/* Characters inside a gnuplot single-quoted string, which has no backslash processing:
 * a quote is doubled; control characters (a newline would end the command) become '?'. */
static void
put_qchars(FILE *fp, const char *s)
{
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '\'')
      fputs("''", fp);
    else
      fputc(c < 0x20 || c == 0x7f ? '?' : c, fp);
  }
}

/* A quoted string. */
static void
put_qstr(FILE *fp, const char *s)
{
  fputc('\'', fp);
  put_qchars(fp, s);
  fputc('\'', fp);
}

/* A data file name as a quoted string: names gnuplot would treat specially ('<cmd' is
 * a pipe, '-' inline data, '+' and '++' pseudo-files) are read as ./NAME. */
static void
put_datafile(FILE *fp, const char *name)
{
  fputs(name[0] && strchr("<|-+", name[0]) ? "'./" : "'", fp);
  put_qchars(fp, name);
  fputc('\'', fp);
}

/* A number for a legend: "%.*g", with a typographic minus sign (U+2212) as on the axes
 * (the style sets `set minussign`) and powers of ten as "2.5×10⁻⁴" (legends are not
 * enhanced text, so the exponent is written in superscript characters). */
static const char *
fmt_num(char *buf, size_t cap, int digits, double x)
{
  static const char *const sup[10] = {"\u2070", "\u00b9", "\u00b2", "\u00b3", "\u2074",
                                      "\u2075", "\u2076", "\u2077", "\u2078", "\u2079"};
  static const char minus[] = "\u2212", sup_minus[] = "\u207b", times[] = "\u00d7";
  char tmp[40]; /* "%.*g" of a double with a few digits is far shorter */
  snprintf(tmp, sizeof tmp, "%.*g", digits, x);
  const char *m = tmp;
  size_t k = 0;
  buf[0] = '\0';
  if (*m == '-') {
    k += (size_t)snprintf(buf + k, cap - k, "%s", minus);
    m++;
  }
  char *e = strchr(tmp, 'e');
  if (!e) {
    snprintf(buf + k, cap > k ? cap - k : 0, "%s", m);
    return buf;
  }
  *e = '\0';
  int ex = atoi(e + 1);
  if (strcmp(m, "1") != 0)
    k += (size_t)snprintf(buf + k, cap > k ? cap - k : 0, "%s%s", m, times);
  k += (size_t)snprintf(buf + k, cap > k ? cap - k : 0, "10%s", ex < 0 ? sup_minus : "");
  char digs[12];
  snprintf(digs, sizeof digs, "%d", ex < 0 ? -ex : ex);
  for (const char *d = digs; *d; d++)
    k += (size_t)snprintf(buf + k, cap > k ? cap - k : 0, "%s", sup[*d - '0']);
  return buf;
}

/* The opening comment (what is drawn, from which data, how to render), the style, and
 * the data-file conventions shared by every script: tab-separated columns, '#' header
 * lines skipped as comments, NaN (any spelling strtod reads) a missing value. */
static void
put_preamble(FILE *fp, const char *stem, const char *suffix, const char *what,
             const char *data)
{
  size_t col = 0;
  put_comment_wrapped(fp, "# ", &col);
  put_comment_wrapped(fp, stem, &col);
  put_comment_wrapped(fp, suffix, &col);
  put_comment_wrapped(fp, ".gp: ", &col);
  put_comment_wrapped(fp, what, &col);
  fputs(".\n# Data: ", fp);
  put_comment_text(fp, data);
  fputs(" (tab-separated; '#' header lines).\n"
        "# Written by infbench.  Render every figure of this directory with\n"
        "#   infbench plot DIR [--format png|svg|both]\n"
        "# or this one by hand, from this directory:\n"
        "#   gnuplot -e \"set terminal pngcairo size 960,640; set output '",
        fp);
  put_comment_text(fp, stem);
  put_comment_text(fp, suffix);
  fputs(".png'\" ", fp);
  put_comment_text(fp, stem);
  put_comment_text(fp, suffix);
  fputs(".gp\n"
        "# No terminal is set here; the shared style comes from infbench-style.gp.\n",
        fp);
  fprintf(fp, "load '%s'\n", style_name);
  fputs("set datafile separator \"\\t\"\n"
        "set datafile commentschars \"#\"\n"
        "set datafile missing \"NaN\"\n",
        fp);
}

/* Logarithmic x axis with powers of ten. */
static void
put_logx(FILE *fp)
{
  fputs("set logscale x 10\n"
        "set format x '10^{%L}'\n",
        fp);
}

static void
put_title(FILE *fp, const char *estimator, const char *rest)
{
  fputs("set title '", fp);
  put_qchars(fp, estimator);
  fputs(": ", fp);
  put_qchars(fp, rest);
  fputs("' noenhanced\n", fp);
}

/* A vertical line at x (an arrow across the graph in first-axis coordinates; gnuplot
 * does not draw it when x is outside the x range). */
static void
put_vline(FILE *fp, double x, int ls)
{
  fprintf(fp, "set arrow from %.17g, graph 0 to %.17g, graph 1 nohead back ls %d\n", x, x,
          ls);
}

/* A key entry without data (for the vertical lines drawn as arrows): gnuplot draws
 * nothing for the undefined function NaN but lists its title. */
static void
put_key_only(FILE *fp, int ls, const char *title)
{
  fprintf(fp, ", \\\n     NaN with lines ls %d title ", ls);
  put_qstr(fp, title);
}

static const char *
lambda_label(const char *model)
{
  if (model && strcmp(model, "linreg") == 0)
    return "λ (ridge penalty)";
  if (model && strcmp(model, "logreg") == 0)
    return "λ (prior precision α)";
  return "λ (regularisation strength)";
}

static int
check_name(const char *what, const char *s)
{
  if (!s || !*s)
    return INFB_ERROR(GSL_EINVAL, "plot: %s is missing", what);
  return GSL_SUCCESS;
}

/* Open DIR/STEM SUFFIX for writing; NULL with the error raised. */
static infb_afile *
open_script(const char *dir, const char *stem, const char *suffix)
{
  char *path = path_join(dir, stem, suffix);
  if (!path)
    return NULL;
  infb_afile *af = infb_afile_open(path);
  free(path);
  return af;
}

int
infb_plot_style(const char *dir)
{
  int st = check_name("the directory", dir);
  if (st)
    return st;
  char *path = path_join(dir, style_name, "");
  if (!path)
    return GSL_ENOMEM;
  st = infb_write_file_atomic(path, infb_plot_style_text, strlen(infb_plot_style_text));
  free(path);
  return st;
}

/* The marks shared by both regularisation-path figures: vertical lines at the
 * evidence-optimal and CV-selected λ (arrows, set before `plot`). */
static void
put_lambda_marks(FILE *fp, const infb_plot_regpath *p)
{
  if (isfinite(p->lambda_evidence) && p->lambda_evidence > 0)
    put_vline(fp, p->lambda_evidence, LS_MARK_A);
  if (isfinite(p->lambda_selected) && p->lambda_selected > 0)
    put_vline(fp, p->lambda_selected, LS_MARK_B);
}

/* ... and their key entries, appended to the plot command. */
static void
put_lambda_keys(FILE *fp, const infb_plot_regpath *p)
{
  char t[96], v[48];
  if (isfinite(p->lambda_evidence) && p->lambda_evidence > 0) {
    snprintf(t, sizeof t, "evidence-optimal λ = %s",
             fmt_num(v, sizeof v, 3, p->lambda_evidence));
    put_key_only(fp, LS_MARK_A, t);
  }
  if (isfinite(p->lambda_selected) && p->lambda_selected > 0) {
    snprintf(t, sizeof t, "λ selected by CV = %s",
             fmt_num(v, sizeof v, 3, p->lambda_selected));
    put_key_only(fp, LS_MARK_B, t);
  }
}

static int
regpath_loglik(const char *dir, const infb_plot_regpath *p)
{
  infb_afile *af = open_script(dir, p->stem, "-loglik.gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  put_preamble(fp, p->stem, "-loglik",
               "log-likelihood per observation against the regularisation strength λ "
               "(train, test, cross-validation ± 1 standard error)",
               p->tsv);

  put_title(fp, p->estimator, "log-likelihood along the regularisation path");
  fprintf(fp, "set xlabel '%s'\n", lambda_label(p->model));
  fputs("set ylabel 'log-likelihood (nats per observation)'\n", fp);
  put_logx(fp);
  fputs(key_below, fp);
  put_lambda_marks(fp, p);

  fputs("plot ", fp);
  put_datafile(fp, p->tsv);
  fprintf(fp, " using %d:%d with lines ls 1 title 'train'", RP_COL_LAMBDA, RP_COL_TRAIN);
  if (p->has_test) {
    fputs(", \\\n     ", fp);
    put_datafile(fp, p->tsv);
    fprintf(fp, " using %d:%d with lines ls 2 title 'test'", RP_COL_LAMBDA, RP_COL_TEST);
  }
  fputs(", \\\n     ", fp);
  put_datafile(fp, p->tsv);
  fprintf(fp, " using %d:%d:%d with yerrorlines ls 3 title 'cross-validation ± 1 se'",
          RP_COL_LAMBDA, RP_COL_CV, RP_COL_CV_SE);
  if (isfinite(p->mle_test_loglik)) {
    char t[96], v[48];
    snprintf(t, sizeof t, "mle, %s (%s)", p->has_test ? "test" : "train",
             fmt_num(v, sizeof v, 4, p->mle_test_loglik));
    fprintf(fp, ", \\\n     %.17g with lines ls %d title ", p->mle_test_loglik,
            LS_REFERENCE);
    put_qstr(fp, t);
  }
  put_lambda_keys(fp, p);
  fputc('\n', fp);
  return infb_afile_commit(af);
}

static int
regpath_weights(const char *dir, const infb_plot_regpath *p)
{
  infb_afile *af = open_script(dir, p->stem, "-weights.gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  put_preamble(fp, p->stem, "-weights",
               "each weight (in the units of the original features) against the "
               "regularisation strength λ",
               p->tsv);

  put_title(fp, p->estimator, "weights along the regularisation path");
  fprintf(fp, "set xlabel '%s'\n", lambda_label(p->model));
  fputs("set ylabel 'weight (original units)'\n", fp);
  put_logx(fp);
  fprintf(fp, "set xzeroaxis ls %d\n", LS_REFERENCE);
  size_t nkeys = p->nfeatures + (isfinite(p->lambda_evidence) && p->lambda_evidence > 0) +
                 (isfinite(p->lambda_selected) && p->lambda_selected > 0);
  fputs(nkeys <= KEY_LARGE ? key_below : key_below_small, fp);
  put_lambda_marks(fp, p);

  fputs("plot ", fp);
  for (size_t j = 0; j < p->nfeatures; j++) {
    if (j)
      fputs(", \\\n     ", fp);
    put_datafile(fp, p->tsv);
    /* Colours cycle through the palette; each further round of eight features gets the
     * next dash pattern, so every line stays distinguishable. */
    fprintf(fp, " using %d:%zu with lines ls %zu dt %zu title ", RP_COL_LAMBDA,
            (size_t)RP_COL_W0 + j, j % LS_NCOLOURS + 1, j / LS_NCOLOURS + 1);
    put_qstr(fp, p->features[j]);
  }
  if (p->nfeatures == 0)
    fputs("0 with lines ls 9 title 'no features'", fp);
  put_lambda_keys(fp, p);
  fputc('\n', fp);
  return infb_afile_commit(af);
}

int
infb_plot_regpath_write(const char *dir, const infb_plot_regpath *p)
{
  if (!p)
    return INFB_ERROR(GSL_EINVAL, "plot: no regularisation path given");
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", p->stem)) ||
      (st = check_name("the data file", p->tsv)) ||
      (st = check_name("the estimator", p->estimator)))
    return st;
  if (p->nfeatures && !p->features)
    return INFB_ERROR(GSL_EINVAL, "plot: %zu features but no names", p->nfeatures);
  for (size_t j = 0; j < p->nfeatures; j++)
    if (!p->features[j])
      return INFB_ERROR(GSL_EINVAL, "plot: feature %zu has no name", j + 1);
  if ((st = regpath_loglik(dir, p)))
    return st;
  return regpath_weights(dir, p);
}

int
infb_plot_evidence_write(const char *dir, const char *stem, const char *tsv,
                         const char *estimator, double alpha_opt, double log_ev_opt)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the data file", tsv)) ||
      (st = check_name("the estimator", estimator)))
    return st;
  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  put_preamble(fp, stem, "", "log evidence against the prior precision α, optimum marked",
               tsv);
  put_title(fp, estimator, "log evidence against the prior precision α");
  fputs("set xlabel 'prior precision α'\n"
        "set ylabel 'log evidence (nats)'\n",
        fp);
  put_logx(fp);
  fputs(key_below, fp);
  int mark = isfinite(alpha_opt) && alpha_opt > 0 && isfinite(log_ev_opt);
  if (mark) {
    put_vline(fp, alpha_opt, LS_MARK_A);
    fprintf(fp, "$optimum << EOD\n%.17g\t%.17g\nEOD\n", alpha_opt, log_ev_opt);
  }
  fputs("plot ", fp);
  put_datafile(fp, tsv);
  fputs(" using 1:2 with lines ls 1 title 'log evidence'", fp);
  if (mark) {
    char t[128], a[48], l[48];
    snprintf(t, sizeof t, "optimum: α = %s, %s nats", fmt_num(a, sizeof a, 3, alpha_opt),
             fmt_num(l, sizeof l, 5, log_ev_opt));
    fputs(", \\\n     $optimum using 1:2 with points ls 2 pt 7 ps 1.8 title ", fp);
    put_qstr(fp, t);
  }
  fputc('\n', fp);
  return infb_afile_commit(af);
}

int
infb_plot_predictive_write(const char *dir, const char *stem, const char *tsv,
                           size_t nest, const char *const *estimators, const char *xlabel,
                           const char *ylabel, int has_test, double band)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the data file", tsv)))
    return st;
  if (nest && !estimators)
    return INFB_ERROR(GSL_EINVAL, "plot: %zu estimators but no names", nest);
  for (size_t e = 0; e < nest; e++)
    if (!estimators[e] || !*estimators[e])
      return INFB_ERROR(GSL_EINVAL, "plot: estimator %zu has no name", e + 1);
  if (!(isfinite(band) && band >= 0))
    return INFB_ERROR(GSL_EINVAL, "plot: predictive band %g is not a number >= 0", band);
  int banded = band > 0;

  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  char what[160];
  if (banded)
    snprintf(what, sizeof what,
             "the data and, per estimator, the predictive mean with a shaded band of "
             "± %g predictive standard deviations",
             band);
  else
    snprintf(what, sizeof what, "the data and, per estimator, the predictive mean");
  put_preamble(fp, stem, "", what, tsv);

  /* Title: the estimators, in order, and the band's width. */
  fputs("set title '", fp);
  for (size_t e = 0; e < nest; e++) {
    if (e)
      fputs(", ", fp);
    put_qchars(fp, estimators[e]);
  }
  if (nest && banded)
    fprintf(fp, ": predictive mean ± %g sd' noenhanced\n", band);
  else if (nest)
    fputs(": predictive mean' noenhanced\n", fp);
  else
    fputs("data' noenhanced\n", fp);

  fputs("set xlabel ", fp);
  put_qstr(fp, xlabel && *xlabel ? xlabel : "x");
  fputs(" noenhanced\nset ylabel ", fp);
  put_qstr(fp, ylabel && *ylabel ? ylabel : "y");
  fputs(" noenhanced\n", fp);
  fputs(key_below, fp);

  /* Bands first (behind everything), then the data, then the means on top. */
  const char *sep = "plot ";
  for (size_t e = 0; banded && e < nest; e++) {
    size_t c = PR_COL_E0 + PR_COLS_PER_EST * e;
    fputs(sep, fp);
    put_datafile(fp, tsv);
    fprintf(fp, " using %d:%zu:%zu with filledcurves ls %zu notitle", PR_COL_X, c + 1,
            c + 2, e % LS_NCOLOURS + 1);
    sep = ", \\\n     ";
  }
  /* Thin edges in the band's colour keep overlapping bands apart. */
  for (size_t e = 0; banded && e < nest; e++) {
    size_t c = PR_COL_E0 + PR_COLS_PER_EST * e;
    for (size_t k = 1; k <= 2; k++) {
      fputs(sep, fp);
      put_datafile(fp, tsv);
      fprintf(fp, " using %d:%zu with lines ls %zu lw 0.75 dt (4,3) notitle", PR_COL_X,
              c + k, e % LS_NCOLOURS + 1);
    }
  }
  fputs(sep, fp);
  fprintf(fp, "'data-train.tsv' using 1:2 with points ls %d title 'training data'",
          LS_TRAIN);
  sep = ", \\\n     ";
  if (has_test)
    fprintf(fp, "%s'data-test.tsv' using 1:2 with points ls %d title 'test data'", sep,
            LS_TEST);
  for (size_t e = 0; e < nest; e++) {
    size_t c = PR_COL_E0 + PR_COLS_PER_EST * e;
    fputs(sep, fp);
    put_datafile(fp, tsv);
    fprintf(fp, " using %d:%zu with lines ls %zu dt %zu title '", PR_COL_X, c,
            e % LS_NCOLOURS + 1, e / LS_NCOLOURS + 1);
    put_qchars(fp, estimators[e]);
    fputs("'", fp);
  }
  fputc('\n', fp);
  return infb_afile_commit(af);
}

/* ---------------------------------------------------------------- latent models */

/* The gap figures follow Cremer, Li & Duvenaud, "Inference Suboptimality in Variational
 * Autoencoders", ICML 2018: gap bars (their Table 2 as a figure), per-point gap
 * histograms, and the K = 2 posterior contours of their Fig. 2. */

/* gaps.tsv columns (1-based). */
enum {
  GB_COL_EST = 1,
  GB_COL_SPLIT = 2,
  GB_COL_APPROX = 3,
  GB_COL_APPROX_SE = 4,
  GB_COL_AMORT = 5,
  GB_COL_AMORT_SE = 6,
  GB_COL_INFER = 7
};
/* Per-point gap file columns (gaps-<e>-<split>.tsv). */
enum { GH_COL_APPROX = 7, GH_COL_AMORT = 8 };
/* posterior-<e>.tsv columns. */
enum {
  PO_COL_INDEX = 1,
  PO_COL_M1,
  PO_COL_M2,
  PO_COL_S11,
  PO_COL_S12,
  PO_COL_S22,
  PO_COL_QS_M1,
  PO_COL_QS_M2,
  PO_COL_QS_V1,
  PO_COL_QS_V2,
  PO_COL_Q_M1,
  PO_COL_Q_M2,
  PO_COL_Q_V1,
  PO_COL_Q_V2
};
/* angles-<e>.tsv columns. */
enum { AN_COL_INDEX = 1, AN_COL_DEG = 3 };
/* Curve TSV columns. */
enum { CU_COL_STEP = 1, CU_COL_TRAIN = 2, CU_COL_TEST = 3 };

/* Gap bars: the two bars of an estimator sit at its position ± GB_OFFSET, each
 * GB_WIDTH wide (x units: one estimator per unit); the estimator names are written
 * vertically when, side by side, they would need more than GB_LABEL_CHARS characters
 * (about the graph's width at the default font). */
static const double GB_OFFSET = 0.2, GB_WIDTH = 0.36;
enum { GB_LABEL_CHARS = 110 };
/* Histograms: Freedman–Diaconis bins (width 2·IQR·n^(−1/3)), clamped to between
 * HIST_MIN_BINS and HIST_MAX_BINS bins over the data's range.  Values whose spread is
 * below HIST_FLAT_REL × max(1, |value|) count as one value (the linear-Gaussian
 * approximation gap is the same for every x): a single bar of width
 * HIST_SPIKE_FRAC × the x range, which spans ± HIST_FLAT_HALF × max(1, |value|). */
enum { HIST_MIN_BINS = 5, HIST_MAX_BINS = 60 };
static const double HIST_FLAT_REL = 1e-9, HIST_FLAT_HALF = 0.25, HIST_SPIKE_FRAC = 0.02;
/* Tukey's "far out" fences: values beyond Q1 − 3·IQR or Q3 + 3·IQR are not binned. */
static const double HIST_FENCE = 3.0;
/* Posterior contours: ellipses at 1, 2, ..., PO_LEVELS standard deviations (Mahalanobis
 * distance); each panel spans ± PO_RANGE posterior sd (and q's outermost ellipse);
 * PO_SAMPLES points per ellipse. */
enum { PO_LEVELS = 3, PO_SAMPLES = 241, PO_TICS = 4 /* about this many tick steps */ };
static const double PO_RANGE = 3.5;
/* Panel layout, in pixels of the canvas `infbench plot` renders (FIG_W × FIG_H, see
 * src/cli/cmd_plot.c): the room kept for the figure title and the first row's panel
 * titles (top), for tick labels, axis label and the shared legend (bottom), for the y
 * tick labels and axis label (left), the y tick labels (between columns), and the x tick
 * labels and the next row's titles (between rows): axis labels go on the outer panels.
 * The rows × columns grid giving the largest square panels is chosen and centred; other
 * canvas sizes keep the equal aspect ratio (`set size ratio -1`) with more white space. */
static const double FIG_W = 960, FIG_H = 640;
static const double PO_TOP = 84, PO_BOTTOM = 88, PO_LEFT = 56, PO_RIGHT = 16,
                    PO_HGAP = 48, PO_VGAP = 88;
/* The legend strip at the bottom (pixels of the reference canvas). */
static const double PO_KEY = 36;
/* More points than this: only the first PO_MAX_POINTS get a panel (3 × 4 panels of
 * about 100 pixels). */
enum { PO_MAX_POINTS = 12 };
/* Angles: value labels over the bars up to this many angles. */
enum { AN_LABELS = 16 };

static const char plot_sep[] = ", \\\n     ";

int
infb_plot_gapbars_write(const char *dir, const char *stem, const char *tsv)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the data file", tsv)))
    return st;
  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  put_preamble(fp, stem, "",
               "inference gaps per estimator and split, stacked: the approximation gap "
               "(bottom) and the amortisation gap (top), each with ± 1 standard error; "
               "train and test side by side",
               tsv);

  /* A first pass over the file numbers the estimators in order of first appearance
   * (rows of one estimator need not be adjacent) and makes them the x tick labels. */
  fputs("\n# Estimator k (k-th distinct name in column 1) is drawn at x = k.  `seen` holds\n"
        "# the names met so far, each followed by a tab (a name in a tab-separated file\n"
        "# cannot contain one).\n"
        "ntabs(s) = (p_ = strstrt(s, \"\\t\")) ? 1 + ntabs(s[p_ + 1:]) : 0\n"
        "est(s) = (p_ = strstrt(seen, \"\\t\" . s . \"\\t\")) ? ntabs(seen[1:p_]) : \\\n"
        "         (seen = seen . s . \"\\t\", lmax = strlen(s) > lmax ? strlen(s) : lmax, "
        "nest = nest + 1)\n"
        "field(s, k) = k <= 1 ? s[1:strstrt(s, \"\\t\") - 1] : "
        "field(s[strstrt(s, \"\\t\") + 1:], k - 1)\n"
        "seen = \"\\t\"; nest = 0; lmax = 0\n",
        fp);
  fputs("stats ", fp);
  put_datafile(fp, tsv);
  fprintf(fp, " using (est(strcol(%d)), 0) nooutput\n", GB_COL_EST);
  fputs("set xtics () scale 0 noenhanced\n"
        "unset mxtics\n"
        "do for [k = 1:nest] { set xtics add (field(seen[2:], k) k) }\n",
        fp);
  fprintf(fp, "# Vertical tick labels when the names (lmax characters at most) would not fit.\n"
              "if (nest * (lmax + 2) > %d) { set xtics rotate by 90 right }\n",
          GB_LABEL_CHARS);
  fputs("set xrange [0.5:nest + 0.5]\n"
        "set grid noxtics nomxtics\n",
        fp);

  fprintf(fp,
          "\n# Bar geometry: train (split 0) left of the estimator's position, test right.\n"
          "# Positive parts stack upwards from 0, negative parts downwards, so a negative\n"
          "# measured gap shows below the axis instead of hiding inside the other bar.\n"
          "off = %.17g; hw = %.17g\n",
          GB_OFFSET, GB_WIDTH / 2);
  fputs("reset_seen(r) = r == 0 ? (seen = \"\\t\", nest = 0) : 0\n"
        "# xpos also leaves the position in x_, for the bar's edges (columns are read left to\n"
        "# right).\n"
        "xpos(s, split) = (reset_seen(column(0)), x_ = est(s) + (split == 0 ? -off : off))\n"
        "z(v) = v == v ? v : 0\n"
        "# Base and top of the amortisation part (b) stacked on the approximation part (a).\n"
        "base(a, b) = b >= 0 ? (z(a) > 0 ? z(a) : 0) : (z(a) < 0 ? z(a) : 0)\n"
        "top(a, b) = base(a, b) + b\n"
        "tr(split, v) = split == 0 ? v : NaN\n"
        "te(split, v) = split == 1 ? v : NaN\n",
        fp);

  put_title(fp, "inference gaps", "approximation + amortisation, ± 1 se");
  fputs("set ylabel 'gap (nats)'\n"
        "set xlabel 'estimator'\n",
        fp);
  fprintf(fp, "set xzeroaxis ls %d\n", LS_REFERENCE);
  fputs(key_below, fp);
  /* Error bars without the background-filled disc gnuplot 5.4 puts behind their (here
   * absent) point: its radius is a multiple of the point size, and 0 means the default
   * (5.4.4 ignores `unset pointintervalbox`), so a vanishing multiple. */
  fputs("set style fill solid 0.8 border\n"
        "set pointintervalbox 1e-6\n",
        fp);

  /* Column shorthands in the using expressions. */
  char A[32], B[32], As[32], Bs[32], S[32], E[32];
  snprintf(A, sizeof A, "column(%d)", GB_COL_APPROX);
  snprintf(B, sizeof B, "column(%d)", GB_COL_AMORT);
  snprintf(As, sizeof As, "column(%d)", GB_COL_APPROX_SE);
  snprintf(Bs, sizeof Bs, "column(%d)", GB_COL_AMORT_SE);
  snprintf(S, sizeof S, "column(%d)", GB_COL_SPLIT);
  snprintf(E, sizeof E, "strcol(%d)", GB_COL_EST);

  /* Boxes (boxxyerror: x, y, xlow, xhigh, ylow, yhigh), train solid, test hatched;
   * approximation in colour 1, amortisation in colour 2. */
  static const struct {
    const char *fn, *fill, *name;
  } split[2] = {{"tr", "fs solid 0.8 border", "train"},
                {"te", "fs pattern 4 border", "test"}};
  const char *sep = "plot ";
  for (int s = 0; s < 2; s++) {
    fputs(sep, fp);
    put_datafile(fp, tsv);
    fprintf(fp,
            " using (xpos(%s, %s)):(%s(%s, %s)):(x_ - hw):(x_ + hw):(0):(%s(%s, %s)) "
            "with boxxyerror %s ls 1 title 'approximation gap, %s'",
            E, S, split[s].fn, S, A, split[s].fn, S, A, split[s].fill, split[s].name);
    sep = plot_sep;
  }
  for (int s = 0; s < 2; s++) {
    fputs(sep, fp);
    put_datafile(fp, tsv);
    fprintf(fp,
            " using (xpos(%s, %s)):(%s(%s, top(%s, %s))):(x_ - hw):(x_ + hw)"
            ":(base(%s, %s)):(top(%s, %s)) with boxxyerror %s ls 2 "
            "title 'amortisation gap, %s'",
            E, S, split[s].fn, S, A, B, A, B, A, B, split[s].fill, split[s].name);
  }
  /* Error bars at the end of each part; one key entry for all of them. */
  fputs(sep, fp);
  put_datafile(fp, tsv);
  fprintf(fp, " using (xpos(%s, %s)):(%s):(%s) with yerrorbars ls 7 lw 1.5 ps 0 "
              "title '± 1 standard error'",
          E, S, A, As);
  fputs(sep, fp);
  put_datafile(fp, tsv);
  fprintf(fp, " using (xpos(%s, %s)):(top(%s, %s)):(%s) with yerrorbars ls 7 lw 1.5 ps 0 "
              "notitle",
          E, S, A, B, Bs);
  /* The inference gap (their sum), a mark that matters when one part is negative. */
  fputs(sep, fp);
  put_datafile(fp, tsv);
  fprintf(fp, " using (xpos(%s, %s)):%d with points ls 7 pt 12 ps 1.4 "
              "title 'inference gap (sum)'",
          E, S, GB_COL_INFER);
  fputc('\n', fp);
  return infb_afile_commit(af);
}

/* One histogram panel of column `col` of the per-point files (tsv_test may be NULL).
 * The bin width is computed by gnuplot from the data: a first pass counts the finite
 * values and finds their range and means, `stats` gives the quartiles for the
 * Freedman–Diaconis width. */
static void
gaphist_panel(FILE *fp, const char *tsv_train, const char *tsv_test, int col,
              const char *what)
{
  const char *file[2] = {tsv_train, tsv_test};
  static const char *const split[2] = {"tr", "te"};
  fprintf(fp, "\n# ---------------- %s (column %d)\n", what, col);
  /* stats drops values outside the ranges the previous panel set. */
  fputs("n = 0; sum = 0; lo = NaN; hi = NaN; bw = NaN\n"
        "f_lo = NaN; f_hi = NaN; n_out = 0; far = NaN\n"
        "set xrange [*:*]\n"
        "set yrange [*:*]\n",
        fp);
  for (int s = 0; s < 2; s++) {
    if (!file[s]) {
      fprintf(fp, "n_%s = 0; m_%s = NaN\n", split[s], split[s]);
      continue;
    }
    fputs("n = 0; sum = 0\nstats ", fp);
    put_datafile(fp, file[s]);
    fprintf(fp, " using (acc(column(%d))) nooutput\n", col);
    fprintf(fp, "n_%s = n; m_%s = n > 0 ? sum / n : NaN\n", split[s], split[s]);
    fprintf(fp, "if (n_%s > 1) {\n  stats ", split[s]);
    put_datafile(fp, file[s]);
    fprintf(fp, " using %d nooutput\n"
                "  w = fd(STATS_lo_quartile, STATS_up_quartile, n_%s)\n"
                "  bw = (bw == bw && bw <= w) ? bw : w\n"
                "  f_set = fences(STATS_lo_quartile, STATS_up_quartile)\n"
                "}\n",
            col, split[s]);
  }
  /* Values beyond both splits' far-out fences are left out of the bins (and of the
   * range), counted in a label; the fractions and means stay over all points. */
  fputs("if (f_lo == f_lo) {\n  lo = NaN; hi = NaN\n", fp);
  for (int s = 0; s < 2; s++) {
    if (!file[s])
      continue;
    fputs("  stats ", fp);
    put_datafile(fp, file[s]);
    fprintf(fp, " using (acc_in(column(%d))) nooutput\n", col);
  }
  fputs("}\n", fp);
  fputs("scale = abs(lo) > abs(hi) ? abs(lo) : abs(hi)\n"
        "scale = scale > 1 ? scale : 1\n"
        "flat = n_tr + n_te > 0 && hi - lo <= flat_rel * scale\n"
        "unset arrow\n"
        "unset label\n"
        "if (n_out > 0) { set label sprintf(\"%d point%s outside [%.3g, %.3g] not shown\\n"
        "(the farthest: %.4g nats)\", n_out, n_out > 1 ? 's' : '', f_lo, f_hi, far) at "
        "graph 0.97, graph 0.95 right front noenhanced }\n"
        "set xrange [*:*]\n"
        "if (flat) {\n"
        "  # One value: a single bar centred on it.\n"
        "  v0 = (lo + hi) / 2\n"
        "  half = flat_half * scale\n"
        "  bw = spike_frac * 2 * half\n"
        "  lo = v0 - bw / 2\n"
        "  set xrange [v0 - half:v0 + half]\n"
        "} else {\n"
        "  if (n_tr + n_te > 0) {\n"
        "    range = hi - lo\n"
        "    bw = (bw == bw && bw >= range / max_bins) ? bw : range / max_bins\n"
        "    bw = bw <= range / min_bins ? bw : range / min_bins\n"
        "  }\n"
        "}\n"
        "set boxwidth bw absolute\n",
        fp);
  fputs("set title ", fp);
  put_qstr(fp, what);
  fputs(" . (flat ? sprintf(\": all %d values = %.6g nats\", n_tr + n_te, v0) : '') "
        "noenhanced\n",
        fp);
  fputs("set xlabel '", fp);
  put_qchars(fp, what);
  fputs(" (nats)'\n", fp);
  fputs("set ylabel 'fraction of points'\n"
        "set yrange [0:*]\n",
        fp);
  /* Means as vertical lines in the split's colour (not drawn when flat: they would
   * hide the bar's edge; the value is in the title). */
  fputs("if (!flat && n_tr > 0) { set arrow from m_tr, graph 0 to m_tr, graph 1 nohead "
        "front ls 1 dt (6,4) }\n"
        "if (!flat && n_te > 0) { set arrow from m_te, graph 0 to m_te, graph 1 nohead "
        "front ls 2 dt (6,4) }\n",
        fp);
  fputs("if (n_tr + n_te == 0) {\n"
        "  set label 'no finite values' at graph 0.5, graph 0.5 center\n"
        "  set xrange [0:1]\n"
        "  set yrange [0:1]\n"
        "  plot 2 notitle\n"
        "} else {\n",
        fp);
  const char *sep = "  plot ";
  static const char *const name[2] = {"train", "test"};
  for (int s = 0; s < 2; s++) {
    if (!file[s])
      continue;
    fputs(sep, fp);
    put_datafile(fp, file[s]);
    fprintf(fp,
            " using (inside(column(%d)) ? bin(column(%d)) : NaN):(1.0 / n_%s) smooth "
            "frequency with boxes fs transparent solid 0.45 border ls %d "
            "title sprintf('%s (%%d points)', n_%s)",
            col, col, split[s], s + 1, name[s], split[s]);
    sep = plot_sep;
  }
  for (int s = 0; s < 2; s++) {
    if (!file[s])
      continue;
    fprintf(fp, "%sNaN with lines ls %d dt (6,4) title (flat ? '' : "
                "sprintf('%s mean %%.3g nats', m_%s))",
            plot_sep, s + 1, name[s], split[s]);
  }
  fputs("\n}\n", fp);
}

int
infb_plot_gaphist_write(const char *dir, const char *stem, const char *tsv_train,
                        const char *tsv_test, const char *estimator, int has_amortization)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the training data file", tsv_train)) ||
      (st = check_name("the estimator", estimator)))
    return st;
  if (tsv_test && (st = check_name("the test data file", tsv_test)))
    return st;
  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  size_t nd = strlen(tsv_train) + (tsv_test ? strlen(tsv_test) : 0) + 8;
  char *data = infb_malloc(nd, 1);
  if (!data) {
    infb_afile_abort(af);
    return GSL_ENOMEM;
  }
  snprintf(data, nd, "%s%s%s", tsv_train, tsv_test ? " and " : "", tsv_test ? tsv_test : "");
  put_preamble(fp, stem, "",
               has_amortization
                   ? "histograms of the per-point approximation and amortisation gaps, "
                     "train against test"
                   : "histogram of the per-point approximation gaps, train against test",
               data);
  free(data);

  fprintf(fp,
          "\n# Bins: Freedman–Diaconis width 2·IQR·n^(−1/3) (the smaller of the two splits'),\n"
          "# kept between %d and %d bins over the range; values spread less than\n"
          "# flat_rel·max(1, |value|) are one value, drawn as one bar.  Values beyond\n"
          "# Tukey's far-out fences Q1 − fence·IQR, Q3 + fence·IQR (the widest of the\n"
          "# splits') are not binned but counted in a label (one image with a 459-nat gap\n"
          "# would otherwise squeeze a thousand others into one bar).\n"
          "min_bins = %d; max_bins = %d; fence = %.17g\n"
          "flat_rel = %.17g; flat_half = %.17g; spike_frac = %.17g\n",
          HIST_MIN_BINS, HIST_MAX_BINS, HIST_MIN_BINS, HIST_MAX_BINS, HIST_FENCE,
          HIST_FLAT_REL, HIST_FLAT_HALF, HIST_SPIKE_FRAC);
  fputs("# acc: count, sum and range of the finite values (NaN marks a missing gap).\n"
        "acc(v) = v == v ? (n = n + 1, sum = sum + v, lo = (lo == lo && lo <= v) ? lo : v, "
        "\\\n                  hi = (hi == hi && hi >= v) ? hi : v, 0) : 0\n"
        "fd(q1, q3, n) = 2 * (q3 - q1) / n**(1.0 / 3)\n"
        "# fences: widen [f_lo, f_hi] to a split's fences (none while its IQR is 0);\n"
        "# inside: within them, or no fences; acc_in: the range of the values inside,\n"
        "# the count and the farthest of those outside.\n"
        "fences(q1, q3) = q3 > q1 ? (f_lo = (f_lo == f_lo && f_lo <= q1 - fence * (q3 - q1)) "
        "\\\n  ? f_lo : q1 - fence * (q3 - q1), f_hi = (f_hi == f_hi && f_hi >= q3 + fence * "
        "(q3 - q1)) \\\n  ? f_hi : q3 + fence * (q3 - q1), 0) : 0\n"
        "inside(v) = v == v && (f_lo != f_lo || (v >= f_lo && v <= f_hi))\n"
        "acc_in(v) = v != v ? 0 : inside(v) ? (lo = (lo == lo && lo <= v) ? lo : v, \\\n"
        "  hi = (hi == hi && hi >= v) ? hi : v, 0) \\\n"
        "  : (n_out = n_out + 1, far = (far == far && abs(far) >= abs(v)) ? far : v, 0)\n"
        "bin(x) = lo + bw * (floor((x - lo) / bw) + 0.5)\n",
        fp);
  fputs(key_below, fp);
  /* Horizontal grid lines only: vertical ones would cut through the bins. */
  fputs("set grid noxtics nomxtics\n"
        "set offsets 0, 0, graph 0.03, 0\n",
        fp);
  if (has_amortization) {
    fputs("set multiplot layout 1, 2 title '", fp);
    put_qchars(fp, estimator);
    fputs(": per-point gaps' noenhanced font ',13'\n", fp);
  } else {
    fputs("set multiplot layout 1, 1 title '", fp);
    put_qchars(fp, estimator);
    fputs(": per-point gaps' noenhanced font ',13'\n", fp);
  }
  gaphist_panel(fp, tsv_train, tsv_test, GH_COL_APPROX, "approximation gap");
  if (has_amortization)
    gaphist_panel(fp, tsv_train, tsv_test, GH_COL_AMORT, "amortisation gap");
  fputs("unset multiplot\n", fp);
  return infb_afile_commit(af);
}

int
infb_plot_curve_write(const char *dir, const char *stem, const char *tsv,
                      const char *estimator, const char *xlabel, const char *ylabel,
                      int has_test)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the data file", tsv)) ||
      (st = check_name("the estimator", estimator)))
    return st;
  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  put_preamble(fp, stem, "",
               has_test ? "the training objective on the training and test sets against "
                          "the step"
                        : "the training objective against the step",
               tsv);
  put_title(fp, estimator, "training curve");
  fputs("set xlabel ", fp);
  put_qstr(fp, xlabel && *xlabel ? xlabel : "step");
  fputs(" noenhanced\nset ylabel ", fp);
  put_qstr(fp, ylabel && *ylabel ? ylabel : "objective");
  fputs(" noenhanced\n", fp);
  fputs(key_below, fp);
  fputs("plot ", fp);
  put_datafile(fp, tsv);
  fprintf(fp, " using %d:%d with lines ls 1 title 'train'", CU_COL_STEP, CU_COL_TRAIN);
  if (has_test) {
    fputs(plot_sep, fp);
    put_datafile(fp, tsv);
    fprintf(fp, " using %d:%d with lines ls 2 title 'test'", CU_COL_STEP, CU_COL_TEST);
  }
  fputc('\n', fp);
  return infb_afile_commit(af);
}

/* The rows × cols grid of n square panels with the largest side (pixels) on the
 * reference canvas; ties go to fewer rows; no row is left empty. */
static double
po_layout(size_t n, size_t *rows, size_t *cols)
{
  double best = -1;
  for (size_t r = 1; r <= n; r++) {
    size_t c = (n + r - 1) / r;
    if (r > 1 && (r - 1) * c >= n)
      continue; /* an empty row */
    double sw = (FIG_W - PO_LEFT - PO_RIGHT - (double)(c - 1) * PO_HGAP) / (double)c;
    double sh = (FIG_H - PO_TOP - PO_BOTTOM - (double)(r - 1) * PO_VGAP) / (double)r;
    double side = sw < sh ? sw : sh;
    if (side > best) {
      best = side;
      *rows = r;
      *cols = c;
    }
  }
  return best; /* positive for n <= PO_MAX_POINTS */
}

/* The panel grid shared by the posterior figures: a grid of square graphs for ndrawn
 * panels, centred in the room left by the title and the legend strip, written as gnuplot
 * variables in screen coordinates of the reference canvas, then the settings every panel
 * shares.  Returns the number of columns. */
/* The shared legend of the posterior figures: an empty graph across the bottom strip of
 * the canvas showing only its key, up to the start of its plot command (one invisible
 * line in range, which keeps gnuplot from finding nothing to plot); the caller appends
 * the keyed series. */
static void
po_write_legend_start(FILE *fp)
{
  fprintf(fp,
          "\n# The legend: an empty graph across the bottom of the canvas, key only.\n"
          "unset parametric\n"
          "unset title\n"
          "unset xlabel\n"
          "unset ylabel\n"
          "unset tics\n"
          "unset border\n"
          "unset grid\n"
          "set size noratio\n"
          "set lmargin at screen 0\n"
          "set rmargin at screen 1\n"
          "set bmargin at screen 0\n"
          "set tmargin at screen %.4f\n"
          "set xrange [0:1]\n"
          "set yrange [0:1]\n"
          "set key inside center center horizontal Left reverse\n",
          PO_KEY / FIG_H);
  fputs("plot 0.5 with lines lt nodraw notitle", fp);
}

static size_t
po_write_panel_grid(FILE *fp, size_t ndrawn)
{
  size_t rows = 1, cols = ndrawn;
  double side = po_layout(ndrawn, &rows, &cols);
  double bw = (double)cols * side + (double)(cols - 1) * PO_HGAP;
  double bh = (double)rows * side + (double)(rows - 1) * PO_VGAP;
  double left = PO_LEFT + (FIG_W - PO_LEFT - PO_RIGHT - bw) / 2;
  double top = FIG_H - PO_TOP - (FIG_H - PO_TOP - PO_BOTTOM - bh) / 2;
  fprintf(fp,
          "\n# Panel i sits in row i / cols, column i %% cols of a grid of square graphs\n"
          "# (screen coordinates laid out for a %g × %g canvas; `set size ratio -1` keeps\n"
          "# the aspect ratio equal on any other).\n"
          "cols = %zu\n"
          "x0 = %.4f; pw = %.4f; hgap = %.4f\n"
          "y1 = %.4f; ph = %.4f; vgap = %.4f\n",
          FIG_W, FIG_H, cols, left / FIG_W, side / FIG_W, PO_HGAP / FIG_W, top / FIG_H,
          side / FIG_H, PO_VGAP / FIG_H);
  fputs("set size ratio -1\n"
        "set title font ',10'\n"
        "unset mxtics\n"
        "unset mytics\n"
        "unset key\n",
        fp);
  return cols;
}

int
infb_plot_posterior2d_write(const char *dir, const char *stem, const char *tsv,
                            const char *estimator, size_t npoints, int has_q)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the data file", tsv)) ||
      (st = check_name("the estimator", estimator)))
    return st;
  if (npoints == 0)
    return INFB_ERROR(GSL_EINVAL, "plot: no points for the posterior contours");
  size_t ndrawn = npoints < PO_MAX_POINTS ? npoints : PO_MAX_POINTS;
  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  put_preamble(fp, stem, "",
               has_q ? "for each point, contours of the exact posterior p(z|x), the "
                       "factorised optimum q*(z) and the encoder's q(z|x)"
                     : "for each point, contours of the exact posterior p(z|x) and the "
                       "factorised optimum q*(z)",
               tsv);

  fprintf(fp,
          "\n# The k-standard-deviation contour of N(m, [[a, b], [b, c]]) (Mahalanobis\n"
          "# distance k, probability 1 − exp(−k²/2) inside) is m + k·L·(cos t, sin t) with\n"
          "# L the Cholesky factor: L11 = √a, L21 = b/√a, L22 = √(c − b²/a).\n"
          "set trange [0:2 * pi]\n"
          "set samples %d\n"
          "ex(t, k, m, a) = m + k * sqrt(a) * cos(t)\n"
          "ey(t, k, m, a, b, c) = m + k * (b / sqrt(a) * cos(t) + "
          "sqrt(c > b * b / a ? c - b * b / a : 0) * sin(t))\n",
          PO_SAMPLES);
  fputs("# KL(N(u, diag(v1, v2)) ‖ N(m, S)) for the posterior of the current point, det_ =\n"
        "# |S|: q*'s is the approximation gap, q's the inference gap (nats).\n"
        "kl(u1, u2, v1, v2) = 0.5 * ((s22 * v1 + s11 * v2 + s22 * (m1 - u1)**2 "
        "- 2 * s12 * (m1 - u1) * (m2 - u2) \\\n"
        "                     + s11 * (m2 - u2)**2) / det_ - 2 + log(det_ / (v1 * v2)))\n"
        "lo3(m, v, k) = m - k * sqrt(v)\n"
        "hi3(m, v, k) = m + k * sqrt(v)\n"
        "min2(a, b) = a < b ? a : b\n"
        "max2(a, b) = a > b ? a : b\n"
        "# A tick step of 1, 2 or 5 × 10^n near x (the panels are small: few tick labels).\n"
        "nice(x) = (e_ = 10**floor(log10(x)), f_ = x / e_, "
        "(f_ < 1.5 ? 1 : f_ < 3.5 ? 2 : f_ < 7.5 ? 5 : 10) * e_)\n",
        fp);
  fprintf(fp, "levels = %d; span = %.17g; ntics = %d\n", PO_LEVELS, PO_RANGE, PO_TICS);

  (void)po_write_panel_grid(fp, ndrawn);
  fputs("set multiplot title '", fp);
  put_qchars(fp, estimator);
  fprintf(fp, ": posterior contours at 1–%d sd", PO_LEVELS);
  if (ndrawn < npoints)
    fprintf(fp, " (first %zu of %zu points)", ndrawn, npoints);
  fputs("' noenhanced font ',13'\n", fp);
  fprintf(fp, "do for [i = 0:%zu] {\n", ndrawn - 1);
  fputs("  set lmargin at screen x0 + (i % cols) * (pw + hgap)\n"
        "  set rmargin at screen x0 + (i % cols) * (pw + hgap) + pw\n"
        "  set tmargin at screen y1 - (i / cols) * (ph + vgap)\n"
        "  set bmargin at screen y1 - (i / cols) * (ph + vgap) - ph\n",
        fp);
  /* Axis labels on the outer panels only: z₁ under the lowest panel of each column,
   * z₂ left of the first panel of each row. */
  fprintf(fp, "  if (i + cols > %zu) { set xlabel 'z₁' noenhanced } else { unset xlabel }\n"
              "  if (i %% cols == 0) { set ylabel 'z₂' noenhanced } else { unset ylabel }\n",
          ndrawn - 1);
  fputs("  # Row i's parameters (stats is not available in parametric mode, and would drop\n"
        "  # its dummy value outside the previous panel's x range).\n"
        "  unset parametric\n"
        "  set xrange [*:*]\n"
        "  set yrange [*:*]\n"
        "  stats ",
        fp);
  put_datafile(fp, tsv);
  fprintf(fp,
          " every ::i::i using (idx = column(%d), m1 = column(%d), m2 = column(%d), \\\n"
          "    s11 = column(%d), s12 = column(%d), s22 = column(%d), qs_m1 = column(%d), \\\n"
          "    qs_m2 = column(%d), qs_v1 = column(%d), qs_v2 = column(%d)",
          PO_COL_INDEX, PO_COL_M1, PO_COL_M2, PO_COL_S11, PO_COL_S12, PO_COL_S22,
          PO_COL_QS_M1, PO_COL_QS_M2, PO_COL_QS_V1, PO_COL_QS_V2);
  if (has_q)
    fprintf(fp, ", \\\n    q_m1 = column(%d), q_m2 = column(%d), q_v1 = column(%d), "
                "q_v2 = column(%d)",
            PO_COL_Q_M1, PO_COL_Q_M2, PO_COL_Q_V1, PO_COL_Q_V2);
  fputs(", 0) nooutput\n"
        "  set parametric\n"
        "  det_ = s11 * s22 - s12 * s12\n",
        fp);
  /* A square window around the posterior (± span sd) that holds q's ellipses too. */
  fputs("  xlo = lo3(m1, s11, span); xhi = hi3(m1, s11, span)\n"
        "  ylo = lo3(m2, s22, span); yhi = hi3(m2, s22, span)\n",
        fp);
  if (has_q)
    fputs("  xlo = min2(xlo, lo3(q_m1, q_v1, levels)); xhi = max2(xhi, hi3(q_m1, q_v1, levels))\n"
          "  ylo = min2(ylo, lo3(q_m2, q_v2, levels)); yhi = max2(yhi, hi3(q_m2, q_v2, levels))\n",
          fp);
  fputs("  half = max2(xhi - xlo, yhi - ylo) / 2\n"
        "  cx = (xlo + xhi) / 2; cy = (ylo + yhi) / 2\n"
        "  set xrange [cx - half:cx + half]\n"
        "  set yrange [cy - half:cy + half]\n"
        "  set xtics nice(2 * half / ntics)\n"
        "  set ytics nice(2 * half / ntics)\n",
        fp);
  if (has_q)
    fputs("  set title sprintf(\"point %d\\nKL(q*‖p) %.3g, KL(q‖p) %.3g nats\", idx, "
          "kl(qs_m1, qs_m2, qs_v1, qs_v2), kl(q_m1, q_m2, q_v1, q_v2)) noenhanced\n",
          fp);
  else
    fputs("  set title sprintf(\"point %d\\nKL(q*‖p) %.3g nats\", idx, "
          "kl(qs_m1, qs_m2, qs_v1, qs_v2)) noenhanced\n",
          fp);
  /* Posterior: black, solid; q*: vermillion, dashed; q: blue, dash-dot. */
  struct {
    int ls;
    const char *dt, *m1, *m2, *a, *b, *c, *title;
  } dens[3] = {
      {7, "solid", "m1", "m2", "s11", "s12", "s22", "exact posterior p(z|x)"},
      {2, "(8,4)", "qs_m1", "qs_m2", "qs_v1", "0", "qs_v2", "factorised optimum q*(z)"},
      {1, "(12,4,3,4)", "q_m1", "q_m2", "q_v1", "0", "q_v2", "encoder q(z|x)"}};
  int ndens = has_q ? 3 : 2;
  const char *sep = "  plot ";
  for (int d = 0; d < ndens; d++)
    for (int k = 1; k <= PO_LEVELS; k++) {
      fprintf(fp,
              "%sex(t, %d, %s, %s), ey(t, %d, %s, %s, %s, %s) with lines ls %d dt %s notitle",
              sep, k, dens[d].m1, dens[d].a, k, dens[d].m2, dens[d].a, dens[d].b, dens[d].c,
              dens[d].ls, dens[d].dt);
      sep = ", \\\n       ";
    }
  fputs("\n}\n", fp);

  /* The shared legend: a graph without axes across the bottom strip, showing its key. */
  po_write_legend_start(fp);
  for (int d = 0; d < ndens; d++) {
    fprintf(fp, "%sNaN with lines ls %d dt %s title ", plot_sep, dens[d].ls, dens[d].dt);
    put_qstr(fp, dens[d].title);
  }
  fputs("\nunset multiplot\n", fp);
  return infb_afile_commit(af);
}

int
infb_plot_angles_write(const char *dir, const char *stem, const char *tsv,
                       const char *estimator, size_t K)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the data file", tsv)) ||
      (st = check_name("the estimator", estimator)))
    return st;
  if (K == 0)
    return INFB_ERROR(GSL_EINVAL, "plot: no principal angles (K = 0)");
  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  put_preamble(fp, stem, "",
               "principal angles between the decoder's subspace and the top-K principal "
               "subspace of the data",
               tsv);
  put_title(fp, estimator, "principal angles between the decoder and PCA subspaces");
  fputs("set xlabel 'principal angle index'\n"
        "set ylabel 'angle (degrees)'\n"
        "unset key\n"
        "unset mxtics\n"
        "set grid noxtics nomxtics\n"
        "set style fill solid 0.8 border\n"
        "set boxwidth 0.6 relative\n",
        fp);
  fprintf(fp, "set xrange [0.5:%zu.5]\n", K);
  fputs("set yrange [0:*]\n", fp);
  /* Room above the bars for their value labels; none below 0. */
  if (K <= AN_LABELS)
    fputs("set xtics 1\n"
          "set offsets 0, 0, graph 0.1, 0\n",
          fp);
  else
    fputs("set offsets 0, 0, graph 0.03, 0\n", fp);
  fputs("plot ", fp);
  put_datafile(fp, tsv);
  fprintf(fp, " using %d:%d with boxes ls 1", AN_COL_INDEX, AN_COL_DEG);
  if (K <= AN_LABELS) {
    fputs(plot_sep, fp);
    put_datafile(fp, tsv);
    fprintf(fp, " using %d:%d:(sprintf('%%.3g°', column(%d))) with labels offset 0, 0.8",
            AN_COL_INDEX, AN_COL_DEG, AN_COL_DEG);
  }
  fputc('\n', fp);
  return infb_afile_commit(af);
}

/* ---------------------------------------------------------------- VAE figures */

/* iwae-<e>-<split>.tsv columns. */
enum {
  IW_COL_K = 1,
  IW_COL_MEAN = 2,
  IW_COL_SE = 3,
  IW_COL_LOGPX = 7,
  IW_COL_ELBOQ = 9,
  IW_COL_ABOVE_Q = 11,
  IW_COL_ABOVE_Q_SE = 12,
  IW_COL_GAP = 13,
  IW_COL_POINTS = 15
};
/* Image grids: tiles are separated by IMG_GAP blank pixels. */
enum { IMG_GAP = 2 };
/* Latent space: points of this size; classes beyond the 8 colours of the palette repeat
 * the colours with the next point type (filled circle, square, triangle, diamond, ...). */
static const double LAT_POINT_SIZE = 0.55;
static const int lat_point_types[] = {7, 5, 9, 13, 11, 15};
enum { LAT_NPT = sizeof lat_point_types / sizeof lat_point_types[0] };
/* Posterior-grid summary columns (the lv columns follow s22). */
enum {
  PG_COL_INDEX = 1,
  PG_COL_M1 = 4,
  PG_COL_LV1 = 9,
  PG_COL_QS_M1 = PG_COL_LV1 + INFB_PLOT_POSTERIOR_LEVELS,
  PG_COL_QS_M2,
  PG_COL_QS_V1,
  PG_COL_QS_V2,
  PG_COL_Q_M1,
  PG_COL_Q_M2,
  PG_COL_Q_V1,
  PG_COL_Q_V2,
  PG_COL_KL_QSTAR,
  PG_COL_KL_Q,
  PG_COL_CELL,
  PG_COL_Z1_LO,
  PG_COL_Z1_HI,
  PG_COL_Z2_LO,
  PG_COL_Z2_HI
};

int
infb_plot_iwae_write(const char *dir, const char *stem, const char *tsv_train,
                     const char *tsv_test, const char *estimator, int has_ref)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the estimator", estimator)))
    return st;
  if (!tsv_train && !tsv_test)
    return INFB_ERROR(GSL_EINVAL, "plot: no data file for the IWAE curve");
  if ((tsv_train && (st = check_name("the training data file", tsv_train))) ||
      (tsv_test && (st = check_name("the test data file", tsv_test))))
    return st;
  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  size_t nd = (tsv_train ? strlen(tsv_train) : 0) + (tsv_test ? strlen(tsv_test) : 0) + 8;
  char *data = infb_malloc(nd, 1);
  if (!data) {
    infb_afile_abort(af);
    return GSL_ENOMEM;
  }
  snprintf(data, nd, "%s%s%s", tsv_train ? tsv_train : "", tsv_train && tsv_test ? " and " : "",
           tsv_test ? tsv_test : "");
  put_preamble(fp, stem, "",
               has_ref ? "the IWAE bound against the number of importance samples k, mean "
                         "over the points ± 1 standard error, with the gap report's ln p̂(x) "
                         "and L[q] over the same points"
                       : "the IWAE bound against the number of importance samples k, mean "
                         "over the points ± 1 standard error",
               data);
  free(data);
  fputs("set xlabel 'importance samples k'\n"
        "set ylabel 'nats per point'\n",
        fp);
  put_logx(fp);
  /* Room left and right on the log axis, so the end points' error bars show. */
  fputs("set offsets graph 0.04, graph 0.04, graph 0.05, graph 0.05\n"
        "set pointintervalbox 1e-6\n",
        fp);
  fputs(key_below, fp);
  const char *file[2] = {tsv_train, tsv_test};
  static const char *const name[2] = {"train", "test"};
  static const char *const var[2] = {"n_tr", "n_te"};
  fputs("# The number of points of each split, for the legend.\n", fp);
  for (int s = 0; s < 2; s++) {
    if (!file[s])
      continue;
    fputs("stats ", fp);
    put_datafile(fp, file[s]);
    fprintf(fp, " every ::0::0 using (%s = column(%d), 0) nooutput\n", var[s], IW_COL_POINTS);
  }
  fprintf(fp, "set multiplot layout 1, %d title '", has_ref ? 2 : 1);
  put_qchars(fp, estimator);
  fputs(": IWAE bound against k' noenhanced font ',13'\n", fp);

  fputs("\n# ---------------- the bound, mean over the points\n"
        "set title 'IWAE-k, mean over the points ± 1 se'\n",
        fp);
  const char *sep = "plot ";
  for (int s = 0; s < 2; s++) {
    if (!file[s])
      continue;
    fputs(sep, fp);
    put_datafile(fp, file[s]);
    fprintf(fp, " using %d:%d:%d with yerrorlines ls %d title sprintf('%s (%%d points)', %s)",
            IW_COL_K, IW_COL_MEAN, IW_COL_SE, s + 1, name[s], var[s]);
    sep = plot_sep;
    if (!has_ref)
      continue;
    fputs(sep, fp);
    put_datafile(fp, file[s]);
    fprintf(fp, " using %d:%d with lines ls %d lw 1.5 dt (8,5) title '%s: ln p̂(x)'",
            IW_COL_K, IW_COL_LOGPX, s + 1, name[s]);
    fputs(sep, fp);
    put_datafile(fp, file[s]);
    fprintf(fp, " using %d:%d with lines ls %d lw 1.5 dt (2,3) title '%s: L[q]'", IW_COL_K,
            IW_COL_ELBOQ, s + 1, name[s]);
  }
  fputc('\n', fp);
  if (has_ref) {
    fputs("\n# ---------------- the bound above L[q], paired per point\n"
          "set title 'IWAE-k − L[q], paired ± 1 se'\n"
          "set ylabel 'nats per point above L[q]'\n",
          fp);
    fprintf(fp, "set xzeroaxis ls %d\n", LS_REFERENCE);
    sep = "plot ";
    for (int s = 0; s < 2; s++) {
      if (!file[s])
        continue;
      fputs(sep, fp);
      put_datafile(fp, file[s]);
      fprintf(fp, " using %d:%d:%d with yerrorlines ls %d title '%s'", IW_COL_K,
              IW_COL_ABOVE_Q, IW_COL_ABOVE_Q_SE, s + 1, name[s]);
      sep = plot_sep;
      fputs(sep, fp);
      put_datafile(fp, file[s]);
      fprintf(fp, " using %d:%d with lines ls %d lw 1.5 dt (8,5) title '%s: ln p̂(x) − L[q]'",
              IW_COL_K, IW_COL_GAP, s + 1, name[s]);
    }
    fputc('\n', fp);
  }
  fputs("unset multiplot\n", fp);
  return infb_afile_commit(af);
}

/* A grid of images, one TSV block each; paired: blocks 2i and 2i + 1 (an image and its
 * reconstruction) one above the other.  The last three columns of the file are row, col
 * and value (col_row is the row's column). */
static int
images_write(const char *dir, const char *stem, const char *tsv, const char *estimator,
             const char *what, const char *title, size_t nimages, size_t height,
             size_t width, size_t columns, int paired, int col_row)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the data file", tsv)) ||
      (st = check_name("the estimator", estimator)))
    return st;
  if (nimages == 0 || height == 0 || width == 0 || columns == 0)
    return INFB_ERROR(GSL_EINVAL,
                      "plot: an image grid needs images (%zu), a size (%zu x %zu) and "
                      "columns (%zu)",
                      nimages, height, width, columns);
  size_t cols = nimages < columns ? nimages : columns;
  size_t tile_rows = (nimages + cols - 1) / cols * (paired ? 2 : 1);
  size_t nblocks = nimages * (paired ? 2 : 1);
  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  put_preamble(fp, stem, "", what, tsv);
  put_title(fp, estimator, title);
  fprintf(fp,
          "\n# Image b (block b of the file) is a tile at column tx(b), row ty(b) of the grid;\n"
          "# tiles are h x w pixels, gap pixels apart; pixel (row, col) of a tile is drawn at\n"
          "# x = tile x + col, y = tile y + row (y downwards).\n"
          "h = %zu; w = %zu; gap = %d; cols = %zu; rows = %zu\n",
          height, width, IMG_GAP, cols, tile_rows);
  if (paired)
    fputs("# Blocks 2i and 2i + 1: image i and its reconstruction, one above the other.\n"
          "tx(b) = (b / 2) % cols\n"
          "ty(b) = 2 * ((b / 2) / cols) + b % 2\n",
          fp);
  else
    fputs("tx(b) = b % cols\n"
          "ty(b) = b / cols\n",
          fp);
  fputs("set size ratio -1\n"
        "unset border\n"
        "unset grid\n"
        "unset key\n"
        "unset xtics\n"
        "unset mxtics\n"
        "unset mytics\n"
        "set offsets 0, 0, 0, 0\n"
        "set palette gray\n"
        "set cbrange [0:1]\n"
        "unset colorbox\n"
        "set xrange [-0.5:cols * (w + gap) - gap - 0.5]\n"
        "set yrange [rows * (h + gap) - gap - 0.5:-0.5]\n",
        fp);
  if (paired)
    fputs("# Row names on the left.\n"
          "set ytics scale 0 ()\n"
          "do for [r = 0:rows - 1] { set ytics add ((r % 2 ? 'reconstruction' : 'data') "
          "r * (h + gap) + (h - 1) / 2.0) }\n",
          fp);
  else
    fputs("unset ytics\n", fp);
  fprintf(fp, "plot for [b = 0:%zu] ", nblocks - 1);
  put_datafile(fp, tsv);
  fprintf(fp,
          " index b using (tx(b) * (w + gap) + column(%d)):(ty(b) * (h + gap) + column(%d))"
          ":(column(%d)) with image notitle\n",
          col_row + 1, col_row, col_row + 2);
  return infb_afile_commit(af);
}

int
infb_plot_recon_write(const char *dir, const char *stem, const char *tsv, const char *estimator,
                      size_t nimages, size_t height, size_t width, size_t columns)
{
  return images_write(dir, stem, tsv, estimator,
                      "images (binarised as evaluated) above their reconstructions, the "
                      "decoder's Bernoulli means at the encoder's mean",
                      "images and their reconstructions", nimages, height, width, columns, 1,
                      3);
}

int
infb_plot_samples_write(const char *dir, const char *stem, const char *tsv,
                        const char *estimator, size_t nsamples, size_t height, size_t width,
                        size_t columns)
{
  return images_write(dir, stem, tsv, estimator,
                      "samples from the model: the decoder's Bernoulli means at z ~ N(0, I)",
                      "decoder means at samples from the prior", nsamples, height, width,
                      columns, 0, 2);
}

int
infb_plot_latent2d_write(const char *dir, const char *stem, const char *tsv,
                         const char *estimator, size_t nclasses,
                         const char *const *class_names)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the data file", tsv)) ||
      (st = check_name("the estimator", estimator)))
    return st;
  if (nclasses && !class_names)
    return INFB_ERROR(GSL_EINVAL, "plot: %zu classes but no names", nclasses);
  for (size_t c = 0; c < nclasses; c++)
    if ((st = check_name("a class name", class_names[c])))
      return st;
  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  put_preamble(fp, stem, "",
               nclasses ? "the encoder's means of the images in the 2-D latent space, "
                          "coloured by class"
                        : "the encoder's means of the images in the 2-D latent space",
               tsv);
  put_title(fp, estimator, "latent space (encoder means)");
  fputs("set xlabel 'z₁' noenhanced\n"
        "set ylabel 'z₂' noenhanced\n"
        "set size ratio -1\n"
        "set key outside right center vertical Left reverse\n",
        fp);
  if (nclasses == 0) {
    fputs("plot ", fp);
    put_datafile(fp, tsv);
    fprintf(fp, " using 3:4 with points ls 1 pt 7 ps %g title 'encoder means'\n",
            LAT_POINT_SIZE);
    return infb_afile_commit(af);
  }
  const char *sep = "plot ";
  for (size_t c = 0; c < nclasses; c++) {
    fputs(sep, fp);
    put_datafile(fp, tsv);
    fprintf(fp, " using (column(2) == %zu ? column(3) : NaN):4 with points ls %zu pt %d ps %g "
                "title ",
            c, c % LS_NCOLOURS + 1, lat_point_types[(c / LS_NCOLOURS) % LAT_NPT],
            LAT_POINT_SIZE);
    put_qstr(fp, class_names[c]);
    sep = plot_sep;
  }
  fputc('\n', fp);
  return infb_afile_commit(af);
}

int
infb_plot_posterior_grid_write(const char *dir, const char *stem, const char *tsv,
                               const char *tsv_grid, const char *estimator, size_t nimages,
                               const char *const *captions, int has_q)
{
  int st;
  if ((st = check_name("the directory", dir)) || (st = check_name("the stem", stem)) ||
      (st = check_name("the data file", tsv)) ||
      (st = check_name("the grid data file", tsv_grid)) ||
      (st = check_name("the estimator", estimator)))
    return st;
  if (nimages == 0)
    return INFB_ERROR(GSL_EINVAL, "plot: no images for the posterior contours");
  size_t ndrawn = nimages < PO_MAX_POINTS ? nimages : PO_MAX_POINTS;
  infb_afile *af = open_script(dir, stem, ".gp");
  if (!af)
    return GSL_EFAILED;
  FILE *fp = af->fp;
  size_t nd = strlen(tsv) + strlen(tsv_grid) + 8;
  char *data = infb_malloc(nd, 1);
  if (!data) {
    infb_afile_abort(af);
    return GSL_ENOMEM;
  }
  snprintf(data, nd, "%s and %s", tsv, tsv_grid);
  put_preamble(fp, stem, "",
               has_q ? "for each image, the exact posterior p(z|x) on a grid (shaded) with its "
                       "highest-density regions, and the 1–3 sd ellipses of the factorised "
                       "optimum q*(z) and the encoder's q(z|x)"
                     : "for each image, the exact posterior p(z|x) on a grid (shaded) with its "
                       "highest-density regions, and the 1–3 sd ellipses of the factorised "
                       "optimum q*(z)",
               data);
  free(data);
  fputs("# The data hold numbers only, and the contour tables gnuplot writes below are\n"
        "# space-separated: read both with any blank as the separator.\n"
        "set datafile separator whitespace\n",
        fp);
  fprintf(fp,
          "\n# The k-sd ellipse of N(m, diag(v1, v2)) is m + k (√v1 cos t, √v2 sin t); the\n"
          "# exact posterior's contours enclose the same probabilities, 1 − exp(−k²/2).\n"
          "set trange [0:2 * pi]\n"
          "set samples %d\n"
          "ex(t, k, m, v) = m + k * sqrt(v) * cos(t)\n"
          "ey(t, k, m, v) = m + k * sqrt(v) * sin(t)\n"
          "nice(x) = (e_ = 10**floor(log10(x)), f_ = x / e_, "
          "(f_ < 1.5 ? 1 : f_ < 3.5 ? 2 : f_ < 7.5 ? 5 : 10) * e_)\n"
          "ntics = %d\n",
          PO_SAMPLES, PO_TICS);

  /* Contours first, in table mode, into one datablock per image. */
  fputs("\n# The highest-density contours of each image's grid posterior (levels lv1..lv3 of\n"
        "# its summary row), as tables of lines.\n"
        "set contour base\n"
        "unset surface\n"
        "set view map\n",
        fp);
  for (size_t i = 0; i < ndrawn; i++) {
    fputs("stats ", fp);
    put_datafile(fp, tsv);
    fprintf(fp, " every ::%zu::%zu using (", i, i);
    for (int k = 0; k < INFB_PLOT_POSTERIOR_LEVELS; k++)
      fprintf(fp, "lv%d = column(%d), ", k + 1, PG_COL_LV1 + k);
    fputs("0) nooutput\nset cntrparam levels discrete ", fp);
    for (int k = INFB_PLOT_POSTERIOR_LEVELS; k >= 1; k--)
      fprintf(fp, "lv%d%s", k, k > 1 ? ", " : "\n");
    fprintf(fp, "set table $cont%zu\nsplot ", i);
    put_datafile(fp, tsv_grid);
    fprintf(fp, " index %zu using 1:2:3 notitle\nunset table\n", i);
  }
  fputs("unset contour\n"
        "set surface\n",
        fp);

  size_t cols = po_write_panel_grid(fp, ndrawn);
  fputs("unset colorbox\n"
        "set offsets 0, 0, 0, 0\n"
        "# The posterior density shaded from white (0) to grey (its maximum).\n"
        "set palette defined (0 '#FFFFFF', 1 '#9E9E9E')\n"
        "set cbrange [0:*]\n",
        fp);
  fputs("set multiplot title '", fp);
  put_qchars(fp, estimator);
  fprintf(fp, ": exact posterior (shaded; highest-density regions) against %s, 1–%d sd",
          has_q ? "q* and q" : "q*", INFB_PLOT_POSTERIOR_LEVELS);
  if (ndrawn < nimages)
    fprintf(fp, " (first %zu of %zu images)", ndrawn, nimages);
  fputs("' noenhanced font ',13'\n", fp);
  /* q*: vermillion, dashed; q: blue, dash-dot; the exact posterior's contours black. */
  static const struct {
    int ls;
    const char *dt, *m1, *m2, *v1, *v2, *title;
  } dens[2] = {{2, "(8,4)", "qs_m1", "qs_m2", "qs_v1", "qs_v2", "factorised optimum q*(z)"},
               {1, "(12,4,3,4)", "q_m1", "q_m2", "q_v1", "q_v2", "encoder q(z|x)"}};
  for (size_t i = 0; i < ndrawn; i++) {
    fprintf(fp, "\n# ---------------- panel %zu\n", i);
    fprintf(fp,
            "set lmargin at screen x0 + %zu * (pw + hgap)\n"
            "set rmargin at screen x0 + %zu * (pw + hgap) + pw\n"
            "set tmargin at screen y1 - %zu * (ph + vgap)\n"
            "set bmargin at screen y1 - %zu * (ph + vgap) - ph\n",
            i % cols, i % cols, i / cols, i / cols);
    fputs(i + cols > ndrawn - 1 ? "set xlabel 'z₁' noenhanced\n" : "unset xlabel\n", fp);
    fputs(i % cols == 0 ? "set ylabel 'z₂' noenhanced\n" : "unset ylabel\n", fp);
    /* stats would drop its dummy value outside the previous panel's ranges. */
    fputs("unset parametric\n"
          "set xrange [*:*]\n"
          "set yrange [*:*]\n"
          "stats ",
          fp);
    put_datafile(fp, tsv);
    fprintf(fp,
            " every ::%zu::%zu using (idx = column(%d), qs_m1 = column(%d), \\\n"
            "    qs_m2 = column(%d), qs_v1 = column(%d), qs_v2 = column(%d), kl1 = column(%d), \\\n"
            "    z1lo = column(%d), z1hi = column(%d), z2lo = column(%d), z2hi = column(%d), ",
            i, i, PG_COL_INDEX, PG_COL_QS_M1, PG_COL_QS_M2, PG_COL_QS_V1, PG_COL_QS_V2,
            PG_COL_KL_QSTAR, PG_COL_Z1_LO, PG_COL_Z1_HI, PG_COL_Z2_LO, PG_COL_Z2_HI);
    if (has_q)
      fprintf(fp,
              "\\\n    q_m1 = column(%d), q_m2 = column(%d), q_v1 = column(%d), "
              "q_v2 = column(%d), kl2 = column(%d), ",
              PG_COL_Q_M1, PG_COL_Q_M2, PG_COL_Q_V1, PG_COL_Q_V2, PG_COL_KL_Q);
    fputs("0) nooutput\n", fp);
    fputs("set xrange [z1lo:z1hi]\n"
          "set yrange [z2lo:z2hi]\n"
          "set xtics nice((z1hi - z1lo) / ntics)\n"
          "set ytics nice((z2hi - z2lo) / ntics)\n",
          fp);
    fputs("set title ", fp);
    if (captions && captions[i] && *captions[i])
      put_qstr(fp, captions[i]);
    else
      fputs("sprintf('image %d', idx)", fp);
    fputs(has_q ? " . sprintf(\"\\nKL(q*‖p) %.3g, KL(q‖p) %.3g nats\", kl1, kl2) noenhanced\n"
                : " . sprintf(\"\\nKL(q*‖p) %.3g nats\", kl1) noenhanced\n",
          fp);
    fputs("set parametric\nplot ", fp);
    put_datafile(fp, tsv_grid);
    fprintf(fp, " index %zu using 1:2:3 with image notitle, \\\n"
                "     $cont%zu using 1:2 with lines ls 7 lw 1.5 notitle",
            i, i);
    for (int d = 0; d < (has_q ? 2 : 1); d++)
      for (int k = 1; k <= INFB_PLOT_POSTERIOR_LEVELS; k++)
        fprintf(fp, "%sex(t, %d, %s, %s), ey(t, %d, %s, %s) with lines ls %d dt %s notitle",
                plot_sep, k, dens[d].m1, dens[d].v1, k, dens[d].m2, dens[d].v2, dens[d].ls,
                dens[d].dt);
    fputc('\n', fp);
  }

  /* The shared legend, as in infb_plot_posterior2d_write (po_write_legend_start). */
  po_write_legend_start(fp);
  fprintf(fp, "%sNaN with lines ls 7 lw 1.5 title 'exact posterior p(z|x), "
              "highest-density regions'",
          plot_sep);
  for (int d = 0; d < (has_q ? 2 : 1); d++) {
    fprintf(fp, "%sNaN with lines ls %d dt %s title ", plot_sep, dens[d].ls, dens[d].dt);
    put_qstr(fp, dens[d].title);
  }
  fputs("\nunset multiplot\n", fp);
  return infb_afile_commit(af);
}

/* ---------------------------------------------------------------- plot/gpscript.h:
 * the helpers above, for the other figure files. */
int
infb_gp_check_name(const char *what, const char *s)
{
  return check_name(what, s);
}

infb_afile *
infb_gp_open(const char *dir, const char *stem, const char *suffix)
{
  return open_script(dir, stem, suffix);
}

void
infb_gp_preamble(FILE *fp, const char *stem, const char *suffix, const char *what,
                 const char *data)
{
  put_preamble(fp, stem, suffix, what, data);
}

void
infb_gp_qchars(FILE *fp, const char *s)
{
  put_qchars(fp, s);
}

void
infb_gp_qstr(FILE *fp, const char *s)
{
  put_qstr(fp, s);
}

void
infb_gp_datafile(FILE *fp, const char *name)
{
  put_datafile(fp, name);
}

const char *
infb_gp_fmt_num(char *buf, size_t cap, int digits, double x)
{
  return fmt_num(buf, cap, digits, x);
}

void
infb_gp_logx(FILE *fp)
{
  put_logx(fp);
}

void
infb_gp_key_below(FILE *fp)
{
  fputs(key_below, fp);
}

void
infb_gp_plot_sep(FILE *fp)
{
  fputs(plot_sep, fp);
}
