/* Tests for infer/psis: Pareto k̂ (MATH.md §9) on exact generalised-Pareto draws (mean k̂
 * over replicates against the shape after the prior's shrinkage), on bounded weights
 * (uniform; a proposal wider than the target), on Gaussian-vs-Gaussian weights of known
 * tail index, the degenerate statuses, −inf weights, determinism, the tail size and the
 * threshold, and one k̂ against the independent numpy script tests/infer/psis-ref.py. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen, popen */
#include <config.h>
#include "tap/basic.h"
#include "core/rng.h"
#include "infer/psis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define SEED 20250611u
/* Draws per set of weights (the protocol's S) and its tail size. */
#define S 5000
#define M_S 213
/* Replicates for the mean k̂ of generalised-Pareto draws, and the tolerance in standard
 * errors of that mean. */
#ifndef NREP
#define NREP 60
#endif
#define NSE 3.0
/* Replicates averaged for the Gaussian-vs-Gaussian cases. */
#define NGAUSS 10

/* k̂ of S log-weights; the status through *st. */
static double
khat(size_t n, const double *lw, int *st)
{
  double *work = malloc(n * sizeof *work), k = -99;
  *st = infb_psis_khat(n, lw, work, &k);
  free(work);
  return k;
}

/* lw_s = ln y_s for S exact generalised-Pareto draws of shape ξ > 0 and scale 1 by
 * inversion: y = (U^{−ξ} − 1)/ξ, U ~ Uniform(0, 1]; ln y = ln expm1(−ξ ln U) − ln ξ. */
static void
gpd_lw(double xi, gsl_rng *r, double *lw)
{
  for (size_t s = 0; s < S; s++)
    lw[s] = log(expm1(-xi * log(gsl_rng_uniform_pos(r)))) - log(xi);
}

/* The exceedances of a generalised-Pareto sample over any threshold are generalised
 * Pareto with the same ξ, so the M = 213 largest give k̂ → ξ before the prior, and
 * (M·ξ + 10·0.5)/(M + 10) after it (MATH.md §9).  With 2000 replicates (-DNREP=2000) the
 * means were 0.2150, 0.5010 and 0.8717 (se 0.002–0.003) against 0.2135, 0.5000, 0.8821:
 * at ξ = 0.9 the Zhang–Stephens estimator's own bias at M = 213, about −0.01, is below
 * this test's resolution (se ≈ 0.014 at NREP = 60). */
static void
test_gpd(void)
{
  static const double xis[3] = {0.2, 0.5, 0.9};
  double *lw = malloc(S * sizeof *lw);
  for (size_t x = 0; x < 3; x++) {
    const double xi = xis[x], want = (M_S * xi + 5.0) / (M_S + 10.0);
    double sum = 0, sum2 = 0;
    int bad = 0;
    for (size_t rep = 0; rep < NREP; rep++) {
      gsl_rng *r = infb_rng_stream(SEED, "test/psis/gpd", x * 1000 + rep);
      gpd_lw(xi, r, lw);
      gsl_rng_free(r);
      int st;
      double k = khat(S, lw, &st);
      bad |= st != INFB_PSIS_OK;
      sum += k;
      sum2 += k * k;
    }
    const double mean = sum / NREP, sd = sqrt((sum2 - NREP * mean * mean) / (NREP - 1));
    const double se = sd / sqrt((double)NREP);
    diag("GPD xi = %.1f: mean khat %.4f (sd %.4f, se %.4f) over %d replicates of S = %d; "
         "expected (M xi + 5)/(M + 10) = %.4f", xi, mean, sd, se, NREP, S, want);
    ok(!bad && fabs(mean - want) <= NSE * se && se > 0,
       "GPD draws, xi = %.1f: mean khat over %d replicates of S = %d (%.4f) is within %g SE "
       "(%.4f) of (M xi + 5)/(M + 10) = %.4f", xi, NREP, S, mean, NSE, se, want);
  }
  free(lw);
}

/* Bounded weights: uniform weights (their exceedances uniform: k̂ ≈ −1 before the
 * prior, (−M + 5)/(M + 10) ≈ −0.93 after), and a Gaussian proposal wider than the
 * Gaussian target (w ∝ e^{−z²(1/σp² − 1/σq²)/2} ≤ its value at 0). */
static void
test_bounded(void)
{
  double *lw = malloc(S * sizeof *lw);
  gsl_rng *r = infb_rng_stream(SEED, "test/psis/uniform", 0);
  for (size_t s = 0; s < S; s++)
    lw[s] = log(gsl_rng_uniform_pos(r));
  int st;
  double k = khat(S, lw, &st);
  ok(st == INFB_PSIS_OK && k < 0, "uniform weights, S = %d: khat %.4f < 0 (bounded)", S, k);
  is_double_abs((5.0 - M_S) / (M_S + 10.0), k, 0.1,
                "uniform weights: khat is near (-M + 5)/(M + 10) = %.3f (within 0.1)",
                (5.0 - M_S) / (M_S + 10.0));
  gsl_rng_free(r);
  free(lw);
}

/* Gaussian proposal q = N(0, 1), Gaussian target p = N(0, σp²), σp > 1: w = p/q ∝
 * e^{z²(1 − 1/σp²)/2}, P(w > t) ~ t^{−1/(1 − 1/σp²)} up to a log factor, so the tail index
 * is k = 1 − 1/σp²; the variance E_q w² = ∫p²/q is finite iff σp² < 2 (k < ½).
 * σp = 1.2: k = 0.31, finite variance; σp = 3: k = 0.89, unreliable.  ln w_s =
 * ln N(z_s; 0, σp²) − ln N(z_s; 0, 1). */
static double
gauss_mean_khat(double sp, const char *purpose, int *bad)
{
  double *lw = malloc(S * sizeof *lw), sum = 0;
  for (size_t rep = 0; rep < NGAUSS; rep++) {
    gsl_rng *r = infb_rng_stream(SEED, purpose, rep);
    for (size_t s = 0; s < S; s++) {
      double z = gsl_ran_gaussian(r, 1.0);
      lw[s] = -0.5 * z * z / (sp * sp) - log(sp) + 0.5 * z * z;
    }
    gsl_rng_free(r);
    int st;
    sum += khat(S, lw, &st);
    *bad |= st != INFB_PSIS_OK;
  }
  free(lw);
  return sum / NGAUSS;
}

static void
test_gauss(void)
{
  int bad = 0;
  double k1 = gauss_mean_khat(1.2, "test/psis/gauss-1.2", &bad);
  ok(!bad && k1 < 0.5,
     "q = N(0,1), p = N(0,1.2^2) (tail index 1 - 1/1.44 = 0.31, finite variance): mean "
     "khat over %d replicates of S = %d is %.3f < 0.5", NGAUSS, S, k1);
  bad = 0;
  double k3 = gauss_mean_khat(3.0, "test/psis/gauss-3", &bad);
  ok(!bad && k3 > 0.7 && k3 > infb_psis_threshold(S),
     "q = N(0,1), p = N(0,3^2) (tail index 1 - 1/9 = 0.89, infinite variance): mean khat "
     "over %d replicates of S = %d is %.3f > 0.7 = threshold(%d)", NGAUSS, S, k3, S);
  /* The proposal wider than the target: bounded weights. */
  bad = 0;
  double kw = gauss_mean_khat(0.7, "test/psis/gauss-0.7", &bad);
  ok(!bad && kw < 0,
     "q = N(0,1), p = N(0,0.7^2) (bounded weights): mean khat %.3f < 0", kw);
}

/* The degenerate tails and the input conventions. */
static void
test_status(void)
{
  double *lw = malloc(S * sizeof *lw), *w2 = malloc(S * sizeof *w2);
  int st;
  double k;
  gsl_rng *r = infb_rng_stream(SEED, "test/psis/status", 0);
  for (size_t s = 0; s < S; s++)
    lw[s] = gsl_ran_gaussian(r, 1.0);

  /* Too few draws for 5 exceedances: S = 20 gives M = ⌈min(4, 13.4)⌉ = 4. */
  k = khat(20, lw, &st);
  ok(st == INFB_PSIS_FEW && isnan(k), "S = 20 (M = 4 < 5): few-exceedances, khat NaN");
  k = khat(25, lw, &st);
  ok(st == INFB_PSIS_OK && isfinite(k), "S = 25 (M = 5): fitted (khat %.3f)", k);
  /* Only 3 non-zero weights among S = 5000: 3 exceedances above u = 0. */
  for (size_t s = 0; s < S; s++)
    w2[s] = s % 1000 == 7 && s < 3000 ? lw[s] : -INFINITY;
  k = khat(S, w2, &st);
  ok(st == INFB_PSIS_FEW && isnan(k), "S = %d with 3 non-zero weights: few-exceedances", S);

  /* All weights equal (q = p): every exceedance 0. */
  for (size_t s = 0; s < S; s++)
    w2[s] = -3.25;
  k = khat(S, w2, &st);
  ok(st == INFB_PSIS_FLAT && isnan(k), "all log-weights equal: flat-tail, khat NaN");
  /* All weights zero. */
  for (size_t s = 0; s < S; s++)
    w2[s] = -INFINITY;
  k = khat(S, w2, &st);
  ok(st == INFB_PSIS_FLAT && isnan(k), "all log-weights -inf (all weights 0): flat-tail");
  /* Two values, the M largest all equal: every exceedance the same positive number. */
  for (size_t s = 0; s < S; s++)
    w2[s] = s < M_S ? 1.0 : 0.0;
  k = khat(S, w2, &st);
  ok(st == INFB_PSIS_FLAT && isnan(k), "the M largest weights equal, above u: flat-tail");
  /* More than a quarter of the tail tied at u: y* = 0. */
  for (size_t s = 0; s < S; s++)
    w2[s] = s < 150 ? lw[s] + 10 : 0.0;
  k = khat(S, w2, &st);
  ok(st == INFB_PSIS_FLAT && isnan(k), "the first quartile of the exceedances is 0: flat-tail");

  /* NaN and +inf anywhere. */
  memcpy(w2, lw, S * sizeof *lw);
  w2[1234] = NAN;
  k = khat(S, w2, &st);
  ok(st == INFB_PSIS_NONFINITE && isnan(k), "a NaN log-weight: non-finite, khat NaN");
  w2[1234] = INFINITY;
  k = khat(S, w2, &st);
  ok(st == INFB_PSIS_NONFINITE && isnan(k), "a +inf log-weight: non-finite, khat NaN");

  /* −inf log-weights are zero weights: replacing the 1000 smallest (below the tail and
   * its threshold) by −inf changes nothing. */
  double k0 = khat(S, lw, &st);
  int st0 = st;
  memcpy(w2, lw, S * sizeof *lw);
  double *srt = malloc(S * sizeof *srt);
  memcpy(srt, lw, S * sizeof *lw);
  for (size_t a = 1; a < S; a++) /* insertion sort: small enough */
    for (size_t b = a; b > 0 && srt[b - 1] > srt[b]; b--) {
      double t = srt[b];
      srt[b] = srt[b - 1];
      srt[b - 1] = t;
    }
  for (size_t s = 0; s < S; s++)
    if (w2[s] < srt[1000])
      w2[s] = -INFINITY;
  k = khat(S, w2, &st);
  ok(st0 == INFB_PSIS_OK && st == INFB_PSIS_OK && memcmp(&k, &k0, sizeof k) == 0,
     "the 1000 smallest log-weights set to -inf: the same khat (%.6f), bit for bit", k0);

  /* Deterministic and order-free: the draws reversed give the same bits; the input is
   * not changed; a constant added to every log-weight (a scale of the weights) does not
   * move k̂ beyond rounding. */
  for (size_t s = 0; s < S; s++)
    w2[s] = lw[S - 1 - s];
  k = khat(S, w2, &st);
  ok(memcmp(&k, &k0, sizeof k) == 0, "the log-weights reversed: the same khat, bit for bit");
  memcpy(srt, lw, S * sizeof *lw);
  double *work = malloc(S * sizeof *work);
  infb_psis_khat(S, lw, work, &k);
  ok(memcmp(srt, lw, S * sizeof *lw) == 0, "infb_psis_khat leaves lw unchanged");
  free(work);
  for (size_t s = 0; s < S; s++)
    w2[s] = lw[s] + 700.0;
  k = khat(S, w2, &st);
  is_double_abs(k0, k, 1e-10, "log-weights + 700 (weights that overflow a double): the same "
                              "khat within 1e-10");

  free(srt);
  free(w2);
  free(lw);
  gsl_rng_free(r);
}

static void
test_sizes(void)
{
  is_int(M_S, (long long)infb_psis_tail(5000), "tail(5000) = ceil(min(1000, 212.1)) = 213");
  is_int(20, (long long)infb_psis_tail(100), "tail(100) = ceil(min(20, 30)) = 20");
  is_int(5, (long long)infb_psis_tail(25), "tail(25) = ceil(min(5, 15)) = 5");
  is_double_abs(0.7, infb_psis_threshold(5000), 1e-15,
                "threshold(5000) = min(1 - 1/log10 5000, 0.7) = 0.7");
  is_double_abs(0.5, infb_psis_threshold(100), 1e-15,
                "threshold(100) = min(1 - 1/2, 0.7) = 0.5");
  ok(strcmp(infb_psis_status_name(INFB_PSIS_OK), "ok") == 0 &&
         strcmp(infb_psis_status_name(INFB_PSIS_FEW), "few-exceedances") == 0 &&
         strcmp(infb_psis_status_name(INFB_PSIS_FLAT), "flat-tail") == 0 &&
         strcmp(infb_psis_status_name(INFB_PSIS_NONFINITE), "non-finite") == 0,
     "status names: ok, few-exceedances, flat-tail, non-finite");
}

/* The python interpreter for the reference: $PYTHON, else Debian's /usr/bin/python3 (with
 * python3-numpy), else python3 on the PATH. */
static const char *
python(void)
{
  const char *p = getenv("PYTHON");
  if (p && *p)
    return p;
  FILE *f = fopen("/usr/bin/python3", "r");
  if (f) {
    fclose(f);
    return "/usr/bin/python3";
  }
  return "python3";
}

/* One k̂ (GPD draws, ξ = 0.7) against tests/infer/psis-ref.py, an independent numpy
 * implementation (a full sort, the grid as one matrix); skipped without python3 or numpy. */
static void
test_reference(void)
{
  double *lw = malloc(S * sizeof *lw);
  gsl_rng *r = infb_rng_stream(SEED, "test/psis/reference", 0);
  gpd_lw(0.7, r, lw);
  gsl_rng_free(r);
  int st;
  double k = khat(S, lw, &st);

  char file[] = "psis-t-lw.XXXXXX";
  int fd = mkstemp(file);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    skip("psis-ref.py: cannot write a temporary file");
    free(lw);
    return;
  }
  for (size_t s = 0; s < S; s++)
    fprintf(f, "%.17g\n", lw[s]);
  fclose(f);
  char cmd[8192], out[256] = "";
  snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' 2>&1", python(),
           path_fixture("../infer/psis-ref.py"), file);
  FILE *p = popen(cmd, "r");
  if (p) {
    if (!fgets(out, sizeof out, p))
      out[0] = '\0';
    while (fgetc(p) != EOF)
      ;
    pclose(p);
  }
  remove(file);
  char *end;
  double kref = strtod(out, &end);
  if (end == out) {
    out[strcspn(out, "\n")] = '\0';
    skip("psis-ref.py did not run (%s): %s", python(), *out ? out : "no output");
  } else {
    is_double_rel(kref, k, 1e-9, "GPD draws xi = 0.7, S = %d: khat %.12f equals "
                  "tests/infer/psis-ref.py's (numpy) within 1e-9 relative (status %d)",
                  S, k, st);
  }
  free(lw);
}

int
main(void)
{
  plan(3 + 2 + 3 + 13 + 6 + 1);
  test_gpd();
  test_bounded();
  test_gauss();
  test_status();
  test_sizes();
  test_reference();
  return test_done();
}
