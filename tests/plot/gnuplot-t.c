/* Tests of src/plot/gnuplot: the VAE figure scripts (IWAE against k, image grids, the
 * latent space, the grid posterior) and the gap histograms, written for small synthetic
 * data files; argument errors; and, when $GNUPLOT names gnuplot, every script rendered to
 * PNG with nothing on gnuplot's stderr (no warning, no error). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "exp/results.h"
#include "plot/gnuplot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gsl/gsl_math.h>

static char dir[] = "/tmp/gnuplot-t.XXXXXX";

/* The text of DIR/name (static buffer; "" when unreadable). */
static const char *
slurp(const char *name)
{
  static char buf[1 << 16];
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f)
    return buf;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static int
has(const char *name, const char *text)
{
  return strstr(slurp(name), text) != NULL;
}

/* A file of blocks of h×w pixel rows: `lead` leading columns per block (their values given
 * by lead_of), then row, col, value = a deterministic pattern in [0, 1]. */
static void
write_blocks(const char *name, size_t nblocks, size_t h, size_t w, int paired)
{
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f)
    return;
  fprintf(f, "# synthetic images\n# %s\n", paired ? "image\tkind\trow\tcol\tvalue"
                                                   : "sample\trow\tcol\tvalue");
  for (size_t b = 0; b < nblocks; b++) {
    if (b)
      fputs("\n\n", f);
    for (size_t r = 0; r < h; r++)
      for (size_t c = 0; c < w; c++) {
        double v = (double)((r * w + c + b) % 7) / 6.0;
        if (paired)
          fprintf(f, "%zu\t%zu\t%zu\t%zu\t%.17g\n", b / 2, b % 2, r, c, v);
        else
          fprintf(f, "%zu\t%zu\t%zu\t%.17g\n", b, r, c, v);
      }
  }
  fclose(f);
}

/* An IWAE table: rows for k = 1, 10, 100 rising towards ln p(x). */
static void
write_iwae(const char *name, double lpx, double shift)
{
  static const char *const cols[15] = {
      "k",         "iwae",   "iwae_se",   "iwae_mc_se",        "gain",
      "gain_se",   "log_px", "log_px_se", "elbo_q",            "elbo_q_se",
      "iwae_minus_elbo_q",   "iwae_minus_elbo_q_se", "log_px_minus_elbo_q",
      "log_px_minus_elbo_q_se", "points"};
  double rows[3 * 15];
  const double k[3] = {1, 10, 100};
  for (int j = 0; j < 3; j++) {
    double *r = rows + 15 * j;
    double v = lpx - shift / (1 + j);
    double q = lpx - shift;
    double gain = j ? shift / j - shift / (1 + j) : NAN;
    double rv[15] = {k[j], v, 2.0, 0.1, gain, j ? 0.05 : NAN, lpx, 2.0, q, 2.0, v - q, 0.05,
                     lpx - q, 0.02, 40};
    memcpy(r, rv, sizeof rv);
  }
  infb_tsv_write(dir, name, "synthetic IWAE curve", 15, cols, 3, NULL, rows);
}

/* Grid posterior of two Gaussian images: a 20×20 grid over ±4 sd of each; the summary's
 * highest-density levels are the Gaussian density at Mahalanobis distance k, which holds
 * 1 − exp(−k²/2) of the probability (chi-square with 2 degrees of freedom). */
static void
write_posterior(void)
{
  const size_t G = 20;
  char path[256];
  snprintf(path, sizeof path, "%s/post-grid.tsv", dir);
  FILE *f = fopen(path, "w");
  if (!f)
    return;
  fputs("# synthetic\n# z1\tz2\tdensity\n", f);
  double rows[2 * 26];
  for (int i = 0; i < 2; i++) {
    double m1 = i ? 1.0 : -0.5, m2 = 0.3, s1 = i ? 0.2 : 0.4, s2 = 0.3;
    double lo1 = m1 - 4 * s1, lo2 = m2 - 4 * s1, h = 8 * s1 / (double)G;
    if (i)
      fputs("\n\n", f);
    for (size_t a = 0; a < G; a++) {
      if (a)
        fputc('\n', f);
      for (size_t b = 0; b < G; b++) {
        double z1 = lo1 + ((double)a + 0.5) * h, z2 = lo2 + ((double)b + 0.5) * h;
        double d = exp(-0.5 * ((z1 - m1) * (z1 - m1) / (s1 * s1) + (z2 - m2) * (z2 - m2) /
                                                                        (s2 * s2))) /
                   (2 * M_PI * s1 * s2);
        fprintf(f, "%.17g\t%.17g\t%.17g\n", z1, z2, d);
      }
    }
    double peak = 1 / (2 * M_PI * s1 * s2);
    double r[26] = {(double)i, NAN, -100.0, m1, m2, s1 * s1, 0, s2 * s2,
                    peak * exp(-0.5), peak * exp(-2.0), peak * exp(-4.5),
                    m1 + 0.05, m2, 0.8 * s1 * s1, 0.8 * s2 * s2, m1 - 0.1, m2 + 0.1,
                    s1 * s1, s2 * s2, 0.05, 0.4, h, lo1, lo1 + (double)G * h, lo2,
                    lo2 + (double)G * h};
    memcpy(rows + 26 * i, r, sizeof r);
  }
  fclose(f);
  static const char *const cols[26] = {
      "index", "label", "log_px_grid", "m1",    "m2",    "s11",      "s12",  "s22",  "lv1",
      "lv2",   "lv3",   "qs_m1",       "qs_m2", "qs_v1", "qs_v2",    "q_m1", "q_m2", "q_v1",
      "q_v2",  "kl_qstar", "kl_q",     "cell",  "z1_lo", "z1_hi",   "z2_lo", "z2_hi"};
  infb_tsv_write(dir, "post.tsv", "synthetic posterior summary", 26, cols, 2, NULL, rows);
}

/* Per-point gap files whose amortisation gaps are negative while the approximation gaps
 * are positive (the second histogram panel's values lie outside the first one's range);
 * outlier ≠ 0: row 5's amortisation gap instead. */
static void
write_gaps(const char *name, double offset, double outlier)
{
  static const char *const cols[10] = {
      "index",  "log_px",            "elbo_qstar",       "elbo_qstar_numeric",
      "elbo_qstar_numeric_mc_se",    "elbo_q",           "approximation_gap",
      "amortization_gap", "inference_gap", "qstar_steps"};
  double rows[12 * 10];
  for (int i = 0; i < 12; i++) {
    double a = 3 + 0.5 * i + offset, b = outlier != 0 && i == 5 ? outlier : -2 - 0.3 * i;
    double r[10] = {i, -100, -100 - a, -100 - a, 0.1, -100 - a - b, a, b, a + b, 100};
    memcpy(rows + 10 * i, r, sizeof r);
  }
  infb_tsv_write(dir, name, "synthetic gaps", 10, cols, 12, NULL, rows);
}

/* Render DIR/stem.gp with $GNUPLOT to a PNG; nonzero when gnuplot exits 0, the PNG is not
 * empty and gnuplot wrote nothing to stderr. */
static int
render(const char *gnuplot, const char *stem)
{
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && '%s' -e \"set terminal pngcairo size 960,640 enhanced font 'Sans,11'; "
           "set output '%s.png'\" %s.gp 2> %s.err",
           dir, gnuplot, stem, stem, stem);
  int rc = system(cmd);
  char png[256], err[256];
  snprintf(png, sizeof png, "%s/%s.png", dir, stem);
  snprintf(err, sizeof err, "%s/%s.err", dir, stem);
  struct stat sp, se;
  int good = rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0 && stat(png, &sp) == 0 &&
             sp.st_size > 0 && stat(err, &se) == 0 && se.st_size == 0;
  if (!good) {
    char e[64];
    snprintf(e, sizeof e, "%s.err", stem);
    diag("gnuplot on %s.gp: %s", stem, slurp(e));
  }
  return good;
}

int
main(void)
{
  plan(47);
  ok(mkdtemp(dir) != NULL, "temporary directory");
  ok(infb_plot_style(dir) == GSL_SUCCESS, "style written");

  /* IWAE against k. */
  write_iwae("iwae-e-train.tsv", -100, 3);
  write_iwae("iwae-e-test.tsv", -104, 4);
  ok(infb_plot_iwae_write(dir, "iwae-e", "iwae-e-train.tsv", "iwae-e-test.tsv", "e", 1) == 0,
     "iwae: written for both splits with references");
  ok(has("iwae-e.gp", "load 'infbench-style.gp'"), "iwae: loads the shared style");
  ok(has("iwae-e.gp", "set logscale x 10"), "iwae: k on a log axis");
  ok(has("iwae-e.gp", "using 1:2:3 with yerrorlines ls 1") &&
         has("iwae-e.gp", "using 1:2:3 with yerrorlines ls 2"),
     "iwae: mean ± se (columns 1:2:3) for train (colour 1) and test (colour 2)");
  ok(has("iwae-e.gp", "using 1:7 with lines") && has("iwae-e.gp", "using 1:9 with lines"),
     "iwae: ln p(x) (column 7) and L[q] (column 9) reference levels");
  ok(has("iwae-e.gp", "set multiplot layout 1, 2") && has("iwae-e.gp", "using 1:11:12 with"),
     "iwae: a second panel with the paired IWAE-k - L[q] (columns 11:12)");
  ok(infb_plot_iwae_write(dir, "iwae-t", NULL, "iwae-e-test.tsv", "e", 0) == 0,
     "iwae: written for the test split alone, without references");
  ok(!has("iwae-t.gp", "iwae-e-train.tsv") && !has("iwae-t.gp", "using 1:7 ") &&
         has("iwae-t.gp", "set multiplot layout 1, 1"),
     "iwae: no training file, no reference lines, one panel");
  ok(infb_plot_iwae_write(dir, "iwae-x", NULL, NULL, "e", 1) == GSL_EINVAL,
     "iwae: no data file is GSL_EINVAL");

  /* Image grids: 3 images of 4×5 pixels in rows of 2 (reconstructions: 4 tile rows);
   * 7 samples in rows of 3 (3 tile rows). */
  write_blocks("recon-e.tsv", 6, 4, 5, 1);
  write_blocks("samples-e.tsv", 7, 4, 5, 0);
  ok(infb_plot_recon_write(dir, "recon-e", "recon-e.tsv", "e", 3, 4, 5, 2) == 0,
     "recon: written");
  ok(has("recon-e.gp", "h = 4; w = 5; gap = 2; cols = 2; rows = 4"),
     "recon: 3 images in rows of 2, each above its reconstruction: 4 tile rows");
  ok(has("recon-e.gp", "plot for [b = 0:5] 'recon-e.tsv' index b using") &&
         has("recon-e.gp", "column(4)):(ty(b) * (h + gap) + column(3)):(column(5)) with image"),
     "recon: 6 blocks, x from col (column 4), y from row (column 3), value column 5");
  ok(has("recon-e.gp", "'reconstruction'") && has("recon-e.gp", "set palette gray"),
     "recon: rows named, grey scale");
  ok(infb_plot_samples_write(dir, "samples-e", "samples-e.tsv", "e", 7, 4, 5, 3) == 0,
     "samples: written");
  ok(has("samples-e.gp", "cols = 3; rows = 3") && has("samples-e.gp", "for [b = 0:6]") &&
         has("samples-e.gp", "column(3)):(ty(b) * (h + gap) + column(2)):(column(4))"),
     "samples: 7 samples in 3 rows of 3, columns row 2, col 3, value 4");
  ok(infb_plot_samples_write(dir, "samples-x", "samples-e.tsv", "e", 0, 4, 5, 3) == GSL_EINVAL,
     "samples: no images is GSL_EINVAL");
  ok(infb_plot_recon_write(dir, "recon-x", "recon-e.tsv", "e", 3, 4, 5, 0) == GSL_EINVAL,
     "recon: 0 columns is GSL_EINVAL");

  /* The latent space: 30 points of 3 classes, one name with a quote. */
  {
    static const char *const cols[6] = {"index", "label", "mu1", "mu2", "sd1", "sd2"};
    double rows[30 * 6];
    for (int i = 0; i < 30; i++) {
      double r[6] = {i, i % 3, cos(i) + (i % 3), sin(i) - (i % 3), 0.1, 0.1};
      memcpy(rows + 6 * i, r, sizeof r);
    }
    infb_tsv_write(dir, "latent-e.tsv", "synthetic latent", 6, cols, 30, NULL, rows);
  }
  const char *names[3] = {"T-shirt/top", "it's", "a_b"};
  ok(infb_plot_latent2d_write(dir, "latent-e", "latent-e.tsv", "e", 3, names) == 0,
     "latent: written");
  ok(has("latent-e.gp", "column(2) == 0 ? column(3) : NaN):4") &&
         has("latent-e.gp", "column(2) == 2 ? column(3) : NaN):4"),
     "latent: one item per class, selected on the label column");
  ok(has("latent-e.gp", "title 'it''s'") && has("latent-e.gp", "set size ratio -1"),
     "latent: a quote in a class name is doubled; equal axis scales");
  ok(infb_plot_latent2d_write(dir, "latent-n", "latent-e.tsv", "e", 0, NULL) == 0 &&
         has("latent-n.gp", "using 3:4 with points"),
     "latent: without labels, one item");
  ok(infb_plot_latent2d_write(dir, "latent-x", "latent-e.tsv", "e", 3, NULL) == GSL_EINVAL,
     "latent: classes without names is GSL_EINVAL");

  /* The grid posterior. */
  write_posterior();
  const char *caps[2] = {"test image 0: Bag", NULL};
  ok(infb_plot_posterior_grid_write(dir, "post-e", "post.tsv", "post-grid.tsv", "e", 2, caps,
                                    1) == 0,
     "posterior grid: written");
  ok(has("post-e.gp", "set cntrparam levels discrete lv3, lv2, lv1") &&
         has("post-e.gp", "set table $cont1") && has("post-e.gp", "index 1 using 1:2:3"),
     "posterior grid: each image's contours at its three levels, from its block");
  ok(has("post-e.gp", "lv1 = column(9), lv2 = column(10), lv3 = column(11)") &&
         has("post-e.gp", "kl1 = column(20)") && has("post-e.gp", "z2hi = column(26)") &&
         has("post-e.gp", "q_v2 = column(19)"),
     "posterior grid: summary columns as documented");
  ok(has("post-e.gp", "set title 'test image 0: Bag'") &&
         has("post-e.gp", "sprintf('image %d', idx)"),
     "posterior grid: the caption, or image <index> without one");
  ok(has("post-e.gp", "set datafile separator whitespace"),
     "posterior grid: reads the space-separated contour tables");
  ok(infb_plot_posterior_grid_write(dir, "post-n", "post.tsv", "post-grid.tsv", "e", 2, NULL,
                                    0) == 0 &&
         !has("post-n.gp", "q_m1") && !has("post-n.gp", "encoder q(z|x)"),
     "posterior grid: without an encoder q is neither read nor drawn");
  ok(infb_plot_posterior_grid_write(dir, "post-x", "post.tsv", "post-grid.tsv", "e", 0, NULL,
                                    1) == GSL_EINVAL,
     "posterior grid: no images is GSL_EINVAL");
  ok(infb_plot_posterior_grid_write(dir, "post-x", "post.tsv", NULL, "e", 2, NULL, 1) ==
         GSL_EINVAL,
     "posterior grid: no grid file is GSL_EINVAL");
  ok(infb_plot_iwae_write(NULL, "x", "a", "b", "e", 1) == GSL_EINVAL,
     "a NULL directory is GSL_EINVAL");
  ok(infb_plot_recon_write("/nonexistent-dir", "x", "a", "e", 1, 1, 1, 1) == GSL_EFAILED,
     "an unwritable directory is GSL_EFAILED");

  /* Gap histograms whose second panel lies outside the first one's range. */
  write_gaps("gaps-e-train.tsv", 0, 0);
  write_gaps("gaps-e-test.tsv", 1, 0);
  ok(infb_plot_gaphist_write(dir, "gaphist-e", "gaps-e-train.tsv", "gaps-e-test.tsv", "e", 1) ==
         0,
     "gap histograms: written");
  ok(has("gaphist-e.gp", "# ---------------- amortisation gap (column 8)\n"
                         "n = 0; sum = 0; lo = NaN; hi = NaN; bw = NaN\n"
                         "f_lo = NaN; f_hi = NaN; n_out = 0; far = NaN\nset xrange [*:*]\n"
                         "set yrange [*:*]\n"),
     "gap histograms: the ranges are reset before the second panel's stats");

  /* An outlier far beyond the others (as one test image's 459-nat amortisation gap) is
   * left out of the bins and named in a label; the panels without one have no label. */
  write_gaps("gaps-o-train.tsv", 0, 0);
  write_gaps("gaps-o-test.tsv", 0, 459.25);
  ok(infb_plot_gaphist_write(dir, "gaphist-o", "gaps-o-train.tsv", "gaps-o-test.tsv", "e", 1) ==
         0,
     "gap histograms with an outlier: written");

  /* Rendering. */
  const char *gp = getenv("GNUPLOT");
  static const char *const stems[] = {"iwae-e",   "iwae-t", "recon-e", "samples-e",
                                      "latent-e", "latent-n", "post-e", "post-n",
                                      "gaphist-e"};
  const size_t nstems = sizeof stems / sizeof stems[0];
  if (gp && *gp && access(gp, X_OK) == 0) {
    for (size_t i = 0; i < nstems; i++)
      ok(render(gp, stems[i]), "gnuplot renders %s.gp without a warning", stems[i]);
    /* The outlier's label, read off gnuplot's text terminal. */
    char cmd2[1024];
    snprintf(cmd2, sizeof cmd2,
             "cd '%s' && '%s' -e \"set terminal dumb size 240,60\" gaphist-o.gp > gaphist-o.txt "
             "2>&1 && '%s' -e \"set terminal dumb size 240,60\" gaphist-e.gp > gaphist-e.txt "
             "2>&1",
             dir, gp, gp);
    int rc = system(cmd2);
    const char *txt = rc == 0 ? slurp("gaphist-o.txt") : "";
    int labelled = strstr(txt, "1 point outside") != NULL && strstr(txt, "459.2 nats") != NULL;
    txt = rc == 0 ? slurp("gaphist-e.txt") : "not shown";
    ok(labelled && strstr(txt, "not shown") == NULL,
       "gap histogram: the outlier (459.25) is left out and named in a label; no label "
       "without one");
  } else {
    for (size_t i = 0; i < nstems + 1; i++)
      skip("GNUPLOT not set: %s not rendered", i < nstems ? stems[i] : "gaphist-o");
  }

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    diag("could not remove %s", dir);
  return test_done();
}
