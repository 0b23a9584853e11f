/* gnuplot script emission: each figure is a small script that loads the shared style and
 * plots columns of a TSV file in the same directory (gnuplot 5 syntax; see the gnuplot 5.4
 * manual for `set datafile`, `filledcurves` and `yerrorlines`). */
#include "config.h"
#include "plot/gnuplot.h"
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
  LS_NCOLOURS = 8,
  LS_REFERENCE = 9, /* horizontal reference level */
  LS_MARK_A = 10,   /* a marked parameter value (evidence-optimal) */
  LS_MARK_B = 11,   /* another marked parameter value (CV-selected) */
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
