/* Tests of src/data/synth.c: shapes, argument checks, the documented draw order,
 * reproducibility, and Monte-Carlo checks (thresholds in standard errors) that the data
 * follow the stated linear-Gaussian and logistic models. */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_vector.h>

/* Monte-Carlo thresholds, in standard errors. */
#define NSE 5.0

static double
sigmoid(double a)
{
  return a >= 0 ? 1.0 / (1.0 + exp(-a)) : exp(a) / (1.0 + exp(a));
}

static int
same_data(const infb_dataset *a, const infb_dataset *b)
{
  return a && b && a->n == b->n && a->p == b->p &&
         memcmp(a->X, b->X, a->n * a->p * sizeof *a->X) == 0 &&
         memcmp(a->y, b->y, a->n * sizeof *a->y) == 0;
}

static void
test_shapes_and_args(void)
{
  gsl_rng *r = infb_rng_stream(1, "test/synth", 0);
  double w[3];
  infb_dataset *d = infb_synth_linreg(7, 3, 0.5, 1.0, 0.0, r, w);
  ok(d && d->n == 7 && d->p == 3 && d->y != NULL, "linreg(7, 3): 7 rows, 3 features, y");
  ok(d && strcmp(d->names[0], "x1") == 0 && strcmp(d->names[2], "x3") == 0 &&
         strcmp(d->target, "y") == 0 && strcmp(d->source, "synthetic") == 0,
     "linreg: names x1..x3, target y, source synthetic");
  infb_dataset_free(d);
  d = infb_synth_logreg(5, 2, 1.0, 0.0, r, NULL);
  ok(d && d->n == 5 && d->p == 2 && d->y != NULL && strcmp(d->target, "y") == 0,
     "logreg(5, 2) with w_true NULL: 5 rows, 2 features, target y");
  infb_dataset_free(d);

  ok(infb_synth_linreg(0, 3, 0.5, 1.0, 0.0, r, NULL) == NULL, "linreg with n = 0 fails");
  ok(infb_synth_linreg(5, 0, 0.5, 1.0, 0.0, r, NULL) == NULL, "linreg with p = 0 fails");
  ok(infb_synth_linreg(5, 2, 0.0, 1.0, 0.0, r, NULL) == NULL, "linreg with noise_sd = 0 fails");
  ok(infb_synth_linreg(5, 2, 0.5, -1.0, 0.0, r, NULL) == NULL,
     "linreg with weight_scale = -1 fails");
  ok(infb_synth_logreg(0, 2, 1.0, 0.0, r, NULL) == NULL, "logreg with n = 0 fails");
  ok(infb_synth_logreg(5, 2, 1.0, NAN, r, NULL) == NULL, "logreg with bias NaN fails");
  gsl_rng_free(r);
}

/* The documented draw order, replayed with direct GSL calls from the same stream. */
static void
test_draw_order(void)
{
  /* Enough rows that a Bernoulli draw made from a slightly wrong probability would show. */
  const size_t n = 1000, p = 3;
  const double noise = 0.5, scale = 2.0, bias = 0.25;
  double w[3];
  gsl_rng *r = infb_rng_stream(5, "test/synth", 1);
  infb_dataset *d = infb_synth_linreg(n, p, noise, scale, bias, r, w);
  gsl_rng_free(r);
  r = infb_rng_stream(5, "test/synth", 1);
  int good = d != NULL;
  for (size_t j = 0; j < p; j++)
    good &= w[j] == gsl_ran_gaussian(r, scale);
  ok(good, "linreg: w_true is the first p draws N(0, scale^2)");
  for (size_t i = 0; d && i < n; i++) {
    double eta = bias;
    for (size_t j = 0; j < p; j++) {
      double x = gsl_ran_gaussian(r, 1.0);
      good &= d->X[i * p + j] == x;
      eta += x * w[j];
    }
    good &= fabs(d->y[i] - (eta + gsl_ran_gaussian(r, noise))) <= 1e-12 * (1 + fabs(eta));
  }
  ok(good, "linreg: then row by row x_i ~ N(0, 1) and y_i = x_i'w + b + eps_i");
  gsl_rng_free(r);
  infb_dataset_free(d);

  r = infb_rng_stream(5, "test/synth", 2);
  d = infb_synth_logreg(n, p, scale, bias, r, w);
  gsl_rng_free(r);
  r = infb_rng_stream(5, "test/synth", 2);
  good = d != NULL;
  for (size_t j = 0; j < p; j++)
    good &= w[j] == gsl_ran_gaussian(r, scale);
  for (size_t i = 0; d && i < n; i++) {
    double eta = bias;
    for (size_t j = 0; j < p; j++) {
      double x = gsl_ran_gaussian(r, 1.0);
      good &= d->X[i * p + j] == x;
      eta += x * w[j];
    }
    good &= d->y[i] == (gsl_rng_uniform(r) < sigmoid(eta) ? 1.0 : 0.0);
  }
  ok(good, "logreg: w, then row by row x_i and y_i = [u_i < sigma(x_i'w + b)]");
  gsl_rng_free(r);
  infb_dataset_free(d);
}

static void
test_reproducible(void)
{
  double w1[4], w2[4];
  gsl_rng *r1 = infb_rng_stream(11, "test/synth", 0), *r2 = infb_rng_stream(11, "test/synth", 0),
          *r3 = infb_rng_stream(12, "test/synth", 0);
  infb_dataset *a = infb_synth_linreg(50, 4, 1.0, 1.0, 0.5, r1, w1);
  infb_dataset *b = infb_synth_linreg(50, 4, 1.0, 1.0, 0.5, r2, w2);
  ok(same_data(a, b) && memcmp(w1, w2, sizeof w1) == 0,
     "linreg: the same seed gives the same X, y and w");
  infb_dataset *c = infb_synth_linreg(50, 4, 1.0, 1.0, 0.5, r3, NULL);
  ok(a && c && !same_data(a, c), "linreg: seeds 11 and 12 give different data");
  infb_dataset_free(a);
  infb_dataset_free(b);
  infb_dataset_free(c);
  a = infb_synth_logreg(50, 4, 1.0, 0.5, r1, w1);
  b = infb_synth_logreg(50, 4, 1.0, 0.5, r2, w2);
  c = infb_synth_logreg(50, 4, 1.0, 0.5, r3, NULL);
  ok(same_data(a, b) && memcmp(w1, w2, sizeof w1) == 0,
     "logreg: the same stream state gives the same X, y and w");
  ok(a && c && !same_data(a, c), "logreg: different seeds give different data");
  infb_dataset_free(a);
  infb_dataset_free(b);
  infb_dataset_free(c);
  gsl_rng_free(r1);
  gsl_rng_free(r2);
  gsl_rng_free(r3);
}

/* OLS with an intercept, computed here with GSL's Cholesky: for design Z = [1, X],
 * ŵ = (ZᵀZ)⁻¹Zᵀy, Cov(ŵ | X) = σ²(ZᵀZ)⁻¹ (σ the true noise sd). */
static void
test_linreg_stats(void)
{
  const size_t n = 20000, p = 5, q = p + 1;
  const double noise = 0.5, scale = 1.0, bias = 0.7;
  double w[5];
  gsl_rng *r = infb_rng_stream(2024, "test/synth", 3);
  infb_dataset *d = infb_synth_linreg(n, p, noise, scale, bias, r, w);
  gsl_rng_free(r);
  if (!d) {
    for (int k = 0; k < 5; k++)
      skip("linreg(20000, 5) failed");
    return; /* skips all five checks, the weight-variance one included */
  }
  gsl_matrix *A = gsl_matrix_calloc(q, q);
  gsl_vector *b = gsl_vector_calloc(q), *c = gsl_vector_alloc(q);
  double z[6];
  for (size_t i = 0; i < n; i++) {
    z[0] = 1.0;
    memcpy(z + 1, d->X + i * p, p * sizeof *z);
    for (size_t j = 0; j < q; j++) {
      *gsl_vector_ptr(b, j) += z[j] * d->y[i];
      for (size_t k = 0; k < q; k++)
        *gsl_matrix_ptr(A, j, k) += z[j] * z[k];
    }
  }
  gsl_linalg_cholesky_decomp1(A);
  gsl_linalg_cholesky_solve(A, b, c);
  gsl_linalg_cholesky_invert(A);
  double worst = 0;
  for (size_t j = 0; j < q; j++) {
    double truth = j == 0 ? bias : w[j - 1];
    double se = noise * sqrt(gsl_matrix_get(A, j, j));
    worst = fmax(worst, fabs(gsl_vector_get(c, j) - truth) / se);
  }
  ok(worst < NSE, "linreg OLS (bias, w) within %g SE of the truth (worst %.2f SE)", NSE, worst);

  /* Residual variance s² = RSS/(n − q): E s² = σ², sd(s²) = σ²·√(2/(n − q)). */
  double rss = 0;
  for (size_t i = 0; i < n; i++) {
    double f = gsl_vector_get(c, 0);
    for (size_t j = 0; j < p; j++)
      f += d->X[i * p + j] * gsl_vector_get(c, j + 1);
    rss += (d->y[i] - f) * (d->y[i] - f);
  }
  double s2 = rss / (double)(n - q), s2se = noise * noise * sqrt(2.0 / (double)(n - q));
  ok(fabs(s2 - noise * noise) < NSE * s2se,
     "residual variance %.5f = noise_sd^2 %.4f within %g SE (%.2g)", s2, noise * noise, NSE,
     s2se);

  /* Features: N(0, 1), so over N = n·p values mean ± 1/√N and variance 1 ± √(2/N). */
  double sum = 0, sq = 0, N = (double)(n * p);
  for (size_t k = 0; k < n * p; k++) {
    sum += d->X[k];
    sq += d->X[k] * d->X[k];
  }
  double m = sum / N, v = sq / N - m * m;
  ok(fabs(m) < NSE / sqrt(N), "features have mean 0 within %g SE (mean %.2g)", NSE, m);
  ok(fabs(v - 1) < NSE * sqrt(2 / N), "features have variance 1 within %g SE (var %.5f)", NSE, v);
  gsl_matrix_free(A);
  gsl_vector_free(b);
  gsl_vector_free(c);
  infb_dataset_free(d);

  /* Weights: with p = 4000, n = 1, sample variance of w ≈ scale² ± scale²·√(2/p). */
  const size_t pw = 4000;
  const double sw = 3.0;
  double *ww = malloc(pw * sizeof *ww);
  r = infb_rng_stream(2024, "test/synth", 4);
  d = infb_synth_linreg(1, pw, noise, sw, 0.0, r, ww);
  gsl_rng_free(r);
  double wsq = 0;
  for (size_t j = 0; j < pw; j++)
    wsq += ww[j] * ww[j];
  ok(d && fabs(wsq / pw - sw * sw) < NSE * sw * sw * sqrt(2.0 / pw),
     "w_j ~ N(0, 3^2): mean square %.3f within %g SE of 9", wsq / pw, NSE);
  free(ww);
  infb_dataset_free(d);
}

/* Given X, y_i ~ Bernoulli(σ_i) independently, so ȳ − mean σ_i has sd √(Σσ(1−σ))/n and
 * the score Σ_i x_ij(y_i − σ_i) has sd √(Σ x_ij² σ_i(1 − σ_i)). */
static void
test_logreg_stats(void)
{
  const size_t n = 100000, p = 3;
  const double scale = 1.0, bias = -0.5;
  double w[3];
  gsl_rng *r = infb_rng_stream(2024, "test/synth", 5);
  infb_dataset *d = infb_synth_logreg(n, p, scale, bias, r, w);
  gsl_rng_free(r);
  if (!d) {
    for (int k = 0; k < 3; k++)
      skip("logreg(100000, 3) failed");
    return;
  }
  int binary = 1;
  double ys = 0, ss = 0, vs = 0, score[3] = {0}, svar[3] = {0};
  for (size_t i = 0; i < n; i++) {
    const double *x = d->X + i * p;
    double eta = bias;
    for (size_t j = 0; j < p; j++)
      eta += x[j] * w[j];
    double s = sigmoid(eta);
    binary &= d->y[i] == 0.0 || d->y[i] == 1.0;
    ys += d->y[i];
    ss += s;
    vs += s * (1 - s);
    for (size_t j = 0; j < p; j++) {
      score[j] += x[j] * (d->y[i] - s);
      svar[j] += x[j] * x[j] * s * (1 - s);
    }
  }
  ok(binary, "logreg: every y is 0 or 1");
  double se = sqrt(vs) / n;
  ok(fabs(ys / n - ss / n) < NSE * se,
     "logreg: fraction of ones %.4f matches mean sigma %.4f within %g SE (%.2g)", ys / n,
     ss / n, NSE, se);
  double worst = 0;
  for (size_t j = 0; j < p; j++)
    worst = fmax(worst, fabs(score[j]) / sqrt(svar[j]));
  ok(worst < NSE, "logreg: score X'(y - sigma) at the true w within %g SE of 0 (worst %.2f)",
     NSE, worst);
  infb_dataset_free(d);

  /* Extreme logits (weight_scale 1000) stay well defined. */
  r = infb_rng_stream(3, "test/synth", 6);
  d = infb_synth_logreg(200, 2, 1000.0, 0.0, r, NULL);
  gsl_rng_free(r);
  binary = d != NULL;
  for (size_t i = 0; d && i < d->n; i++)
    binary &= d->y[i] == 0.0 || d->y[i] == 1.0;
  ok(binary, "logreg with weight_scale 1000: every y is still 0 or 1");
  infb_dataset_free(d);
}

int
main(void)
{
  plan(9 + 3 + 4 + 5 + 4);
  test_shapes_and_args();
  test_draw_order();
  test_reproducible();
  test_linreg_stats();
  test_logreg_stats();
  return test_done();
}
