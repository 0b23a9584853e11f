/* Tests of src/plot/truthfigs: the AIS-trace, PSIS k̂ and BDMC figure scripts, written for
 * small synthetic data files (the layouts of src/exp/runlatent.c's ais-trace and per-point
 * gap TSVs, and of bdmc-<e>.tsv as plot/truthfigs.h documents it): each script is written
 * atomically (no temporary left), names its data files and finds its columns by name;
 * argument errors; and, when $GNUPLOT names gnuplot, every script rendered to PNG with
 * nothing on gnuplot's stderr (no warning, no error). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "exp/results.h"
#include "plot/gnuplot.h"
#include "plot/truthfigs.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/truthfigs-t.XXXXXX";

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

/* No file of DIR is an atomic write's temporary (NAME.tmp.PID). */
static int
no_temporaries(void)
{
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  int clean = 1;
  for (struct dirent *e; (e = readdir(d));)
    clean = clean && strstr(e->d_name, ".tmp.") == NULL;
  closedir(d);
  return clean;
}

/* An AIS trace of the points `ids` (T = 1000 temperatures, a row every 50): β rising
 * along a sigmoid, the running ln p̂ falling from 0 towards −90 − id, the acceptance
 * settling from 0.9 to about 0.65. */
static void
write_trace(const char *name, size_t nids, const int *ids)
{
  const size_t R = 20;
  double *rows = malloc(6 * R * nids * sizeof *rows);
  if (!rows)
    return;
  for (size_t p = 0; p < nids; p++)
    for (size_t r = 0; r < R; r++) {
      double t = 50.0 * (double)(r + 1), b = 1 / (1 + exp(-(t - 500) / 100));
      double *v = rows + 6 * (R * p + r);
      v[0] = ids[p];
      v[1] = t;
      v[2] = r + 1 == R ? 1.0 : b;
      v[3] = -(90.0 + ids[p]) * (1 - exp(-4 * v[2])) - 0.1 * ids[p];
      v[4] = 0.65 + 0.25 * exp(-(double)r / 3) + 0.01 * (double)p;
      v[5] = 0.05;
    }
  static const char *const cols[6] = {"point", "t", "beta", "log_px_running", "accept", "step"};
  infb_tsv_write(dir, name, "synthetic AIS trace", 6, cols, R * nids, NULL, rows);
  free(rows);
}

/* Per-point gaps with the IWAE proposals' k̂ (the runner's layout: the base columns,
 * then per method its values and diagnostics); with_encoder = 0: no encoder, so no
 * iwae_encoder columns and NaN amortisation gaps.  One encoder k̂ is NaN (not fitted). */
static const char *const gap_cols_enc[] = {
    "index",          "log_px",           "elbo_qstar",       "elbo_qstar_numeric",
    "elbo_qstar_numeric_mc_se", "elbo_q", "approximation_gap", "amortization_gap",
    "inference_gap",  "qstar_steps",      "log_px_iwae_encoder", "log_px_iwae_encoder_mc_se",
    "iwae_encoder_khat", "iwae_encoder_khat_status", "log_px_iwae_qstar",
    "log_px_iwae_qstar_mc_se", "iwae_qstar_khat", "iwae_qstar_khat_status"};
enum { NGAP_ENC = sizeof gap_cols_enc / sizeof gap_cols_enc[0] };
static const char *const gap_cols_noenc[] = {
    "index",          "log_px",           "elbo_qstar",       "elbo_qstar_numeric",
    "elbo_qstar_numeric_mc_se", "elbo_q", "approximation_gap", "amortization_gap",
    "inference_gap",  "qstar_steps",      "log_px_iwae_qstar", "log_px_iwae_qstar_mc_se",
    "iwae_qstar_khat", "iwae_qstar_khat_status"};
enum { NGAP_NOENC = sizeof gap_cols_noenc / sizeof gap_cols_noenc[0] };

static void
write_gaps(const char *name, size_t n, int with_encoder, double shift)
{
  const size_t nc = with_encoder ? NGAP_ENC : NGAP_NOENC;
  double *rows = malloc(n * nc * sizeof *rows);
  if (!rows)
    return;
  for (size_t i = 0; i < n; i++) {
    double *v = rows + nc * i, u = (double)((i * 7) % n) / (double)n;
    double amort = with_encoder ? 1 + 6 * u + shift : NAN;
    double base[10] = {i, -100, -103, -103, 0.1, -103 - amort, 3, amort, 3 + amort, 100};
    memcpy(v, base, sizeof base);
    double kq = 0.2 + 0.5 * u + shift / 10, ke = 0.3 + 0.12 * amort;
    if (with_encoder) {
      double m[8] = {-100.5, 0.1, i == 3 ? NAN : ke, i == 3 ? 1 : 0, -100.2, 0.05, kq, 0};
      memcpy(v + 10, m, sizeof m);
    } else {
      double m[4] = {-100.2, 0.05, kq, 0};
      memcpy(v + 10, m, sizeof m);
    }
  }
  infb_tsv_write(dir, name, "synthetic per-point gaps", nc,
                 with_encoder ? gap_cols_enc : gap_cols_noenc, n, NULL, rows);
  free(rows);
}

/* BDMC rows for the temperatures T: lower = L − 20/√T, upper = L + 30/T (gap 20/√T +
 * 30/T), IWAE-k below the larger T's lower bounds; negative: the last gap below 0 (a
 * Monte-Carlo upper bound can fall under the lower one). */
static void
write_bdmc(const char *name, size_t nt, const double *T, int negative)
{
  static const char *const cols[9] = {"temperatures", "lower", "lower_se", "upper", "upper_se",
                                      "gap",          "gap_se", "iwae",    "iwae_se"};
  double rows[9 * 8];
  for (size_t j = 0; j < nt && j < 8; j++) {
    double lo = -95 - 20 / sqrt(T[j]), up = -95 + 30 / T[j];
    if (negative && j + 1 == nt)
      up = lo - 0.05;
    double r[9] = {T[j], lo, 0.4, up, 0.5, up - lo, 0.08 * (up - lo) + 0.01, -96.5, 0.3};
    memcpy(rows + 9 * j, r, sizeof r);
  }
  infb_tsv_write(dir, name, "synthetic BDMC", 9, cols, nt, NULL, rows);
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

/* The text gnuplot's dumb terminal draws for DIR/stem.gp (static buffer; "" on failure). */
static const char *
dumb(const char *gnuplot, const char *stem)
{
  char cmd[1024], out[64];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && '%s' -e \"set terminal dumb size 240,60\" %s.gp > %s.txt 2>&1", dir,
           gnuplot, stem, stem);
  snprintf(out, sizeof out, "%s.txt", stem);
  return system(cmd) == 0 ? slurp(out) : "";
}

int
main(void)
{
  plan(36);
  ok(mkdtemp(dir) != NULL, "temporary directory");
  ok(infb_plot_style(dir) == GSL_SUCCESS, "style written");

  /* AIS traces: points 0, 2 and 5 (a resumed run's trace may skip ids); 14 points, more
   * than are drawn. */
  const int ids[3] = {0, 2, 5};
  write_trace("ais-trace-e-train.tsv", 3, ids);
  int many[14];
  for (int i = 0; i < 14; i++)
    many[i] = i;
  write_trace("ais-trace-m-test.tsv", 14, many);
  ok(infb_plot_ais_trace_write(dir, "ais-trace-e-train", "ais-trace-e-train.tsv", "e") == 0,
     "ais trace: written");
  ok(has("ais-trace-e-train.gp", "load 'infbench-style.gp'") &&
         has("ais-trace-e-train.gp", "stats 'ais-trace-e-train.tsv' using (addid(column(1)))"),
     "ais trace: loads the style; the point ids come from column 1 of the named file");
  ok(has("ais-trace-e-train.gp", "using 3:(column(1) == pid(i) ? column(4) : NaN)") &&
         has("ais-trace-e-train.gp", "using 2:(column(1) == pid(i) ? column(5) : NaN)"),
     "ais trace: log_px_running (4) against beta (3), accept (5) against t (2), per point");
  ok(has("ais-trace-e-train.gp", "set multiplot layout 1, 2") &&
         has("ais-trace-e-train.gp", "max_ids = 12;"),
     "ais trace: two panels, at most 12 points");
  ok(infb_plot_ais_trace_write(dir, "ais-trace-m-test", "ais-trace-m-test.tsv", "it's") == 0 &&
         has("ais-trace-m-test.gp", "title 'it''s: AIS per traced point'"),
     "ais trace: 14 points written; a quote in the title is doubled");
  ok(infb_plot_ais_trace_write(dir, "x", NULL, "e") == GSL_EINVAL,
     "ais trace: no data file is GSL_EINVAL");
  ok(infb_plot_ais_trace_write("/nonexistent-dir", "x", "a.tsv", "e") == GSL_EFAILED,
     "ais trace: an unwritable directory is GSL_EFAILED");

  /* PSIS k̂: both proposals (train and test), and q* alone without an encoder. */
  write_gaps("gaps-e-train.tsv", 40, 1, 0);
  write_gaps("gaps-e-test.tsv", 25, 1, 1);
  write_gaps("gaps-n-train.tsv", 30, 0, 0);
  ok(infb_plot_khat_write(dir, "khat-e", "gaps-e-train.tsv", "gaps-e-test.tsv", "e", 0.7,
                          NGAP_ENC, gap_cols_enc) == 0,
     "khat: written for both proposals and splits");
  ok(has("khat-e.gp", "'gaps-e-train.tsv' using (bin(column(13)))") &&
         has("khat-e.gp", "'gaps-e-test.tsv' using (bin(column(17)))"),
     "khat: iwae_encoder_khat (column 13) and iwae_qstar_khat (column 17) found by name");
  ok(!has("khat-e.gp", "column(14)") && !has("khat-e.gp", "column(18)"),
     "khat: the _khat_status columns are not proposals");
  ok(has("khat-e.gp", "using (column(8)):(column(13))") &&
         has("khat-e.gp", "set multiplot layout 1, 2"),
     "khat: second panel, k̂ against amortization_gap (column 8)");
  ok(has("khat-e.gp", "thr = 0.69999999999999996") &&
         has("khat-e.gp", "set arrow 1 from thr, graph 0 to thr, graph 1") &&
         has("khat-e.gp", "title 'threshold 0.7'"),
     "khat: the threshold 0.7 as a vertical line, named in the legend");
  ok(has("khat-e.gp", "encoder q(z|x), train (%d points): %.0f%% above"),
     "khat: each proposal's fraction above the threshold in the legend");
  ok(infb_plot_khat_write(dir, "khat-n", "gaps-n-train.tsv", NULL, "e", 0.7, NGAP_NOENC,
                          gap_cols_noenc) == 0,
     "khat: written for q* alone, train only");
  ok(!has("khat-n.gp", "encoder q(z|x)") && !has("khat-n.gp", "gaps-e-test") &&
         has("khat-n.gp", "using (bin(column(13)))"),
     "khat: the absent encoder proposal is skipped; q*'s k̂ is column 13 here");
  static const char *const no_amort[] = {"index", "iwae_qstar_khat"};
  ok(infb_plot_khat_write(dir, "khat-a", "gaps-n-train.tsv", NULL, "e", NAN, 2, no_amort) == 0 &&
         has("khat-a.gp", "set multiplot layout 1, 1") && !has("khat-a.gp", "title 'threshold") &&
         !has("khat-a.gp", "set arrow 1"),
     "khat: no amortization_gap column, one panel; a NaN threshold draws none");
  static const char *const no_khat[] = {"index", "log_px", "amortization_gap"};
  ok(infb_plot_khat_write(dir, "khat-x", "gaps-n-train.tsv", NULL, "e", 0.7, 3, no_khat) ==
         GSL_EINVAL,
     "khat: no _khat column is GSL_EINVAL");
  ok(infb_plot_khat_write(dir, "khat-x", "gaps-n-train.tsv", NULL, "e", 0.7, 0, NULL) ==
         GSL_EINVAL,
     "khat: no column names is GSL_EINVAL");

  /* BDMC: three settings; one; the last gap negative. */
  const double T3[3] = {100, 1000, 10000}, T1[1] = {1000};
  write_bdmc("bdmc-e.tsv", 3, T3, 0);
  write_bdmc("bdmc-one.tsv", 1, T1, 0);
  write_bdmc("bdmc-neg.tsv", 3, T3, 1);
  ok(infb_plot_bdmc_write(dir, "bdmc-e", "bdmc-e.tsv", "e") == 0, "bdmc: written");
  ok(has("bdmc-e.gp", "'bdmc-e.tsv' using 1:2:(z(column(3))) with yerrorlines") &&
         has("bdmc-e.gp", "'bdmc-e.tsv' using 1:4:(z(column(5))) with yerrorlines"),
     "bdmc: lower (2 ± 3) and upper (4 ± 5) against the temperatures (1)");
  ok(has("bdmc-e.gp", "using (acc(column(8)))") && has("bdmc-e.gp", "iw with lines ls 9"),
     "bdmc: the encoder's IWAE-k (column 8) as a horizontal reference");
  ok(has("bdmc-e.gp", "set logscale x 10") && has("bdmc-e.gp", "if (logy) {\n  set logscale y"),
     "bdmc: log temperatures; log gap when positive");
  ok(infb_plot_bdmc_write(dir, "bdmc-one", "bdmc-one.tsv", "e") == 0 &&
         infb_plot_bdmc_write(dir, "bdmc-neg", "bdmc-neg.tsv", "e") == 0,
     "bdmc: written for a single setting and for a negative gap");
  ok(infb_plot_bdmc_write(dir, "", "bdmc-e.tsv", "e") == GSL_EINVAL,
     "bdmc: an empty stem is GSL_EINVAL");
  ok(no_temporaries(), "no temporary file left behind");

  /* Rendering. */
  const char *gp = getenv("GNUPLOT");
  static const char *const stems[] = {"ais-trace-e-train", "ais-trace-m-test", "khat-e",
                                      "khat-n", "khat-a", "bdmc-e", "bdmc-one", "bdmc-neg"};
  const size_t nstems = sizeof stems / sizeof stems[0];
  if (gp && *gp && access(gp, X_OK) == 0) {
    for (size_t i = 0; i < nstems; i++)
      ok(render(gp, stems[i]), "gnuplot renders %s.gp without a warning", stems[i]);
  } else {
    for (size_t i = 0; i < nstems; i++)
      skip("GNUPLOT not set: %s not rendered", stems[i]);
  }
  if (gp && *gp && access(gp, X_OK) == 0) {
    const char *txt = dumb(gp, "ais-trace-m-test");
    ok(strstr(txt, "point 11") && !strstr(txt, "point 12"),
       "ais trace: the first 12 of 14 points are drawn (points 0 .. 11)");
  } else {
    skip("GNUPLOT not set: ais-trace-m-test not drawn");
  }

  if (!getenv("TRUTHFIGS_KEEP")) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
      diag("could not remove %s", dir);
  } else {
    diag("kept %s", dir);
  }
  return test_done();
}
