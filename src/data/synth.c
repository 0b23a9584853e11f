/* Synthetic supervised data from known linear-Gaussian and logistic regression models
 * (Bishop, PRML §3.1 and §4.3.2), drawn in a fixed order from one seeded generator. */
#include "config.h"
#include "data/synth.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <gsl/gsl_randist.h>

/* σ(a) = 1/(1 + e^−a), evaluated without overflow on either side. */
static double
sigmoid(double a)
{
  if (a >= 0.0)
    return 1.0 / (1.0 + exp(-a));
  double e = exp(a);
  return e / (1.0 + e);
}

/* The argument checks both generators share, then an n×p dataset with a target. */
static infb_dataset *
synth_start(const char *what, size_t n, size_t p, double weight_scale, double bias)
{
  if (n == 0 || p == 0)
    INFB_ERROR_NULL(GSL_EINVAL, "synthetic %s: needs n > 0 and p > 0 (got n = %zu, p = %zu)",
                    what, n, p);
  if (!(weight_scale >= 0.0) || !isfinite(weight_scale))
    INFB_ERROR_NULL(GSL_EINVAL, "synthetic %s: weight scale %g is not a finite value >= 0",
                    what, weight_scale);
  if (!isfinite(bias))
    INFB_ERROR_NULL(GSL_EINVAL, "synthetic %s: bias %g is not finite", what, bias);
  return infb_dataset_alloc(n, p, 1);
}

/* x_iᵀw */
static double
row_dot(const double *x, const double *w, size_t p)
{
  double s = 0.0;
  for (size_t j = 0; j < p; j++)
    s += x[j] * w[j];
  return s;
}

/* w_j ~ N(0, weight_scale²), j = 1..p: the first p Gaussian draws. */
static void
draw_weights(gsl_rng *r, double weight_scale, double *w, size_t p)
{
  for (size_t j = 0; j < p; j++)
    w[j] = gsl_ran_gaussian(r, weight_scale);
}

/* One row x_i: x_ij ~ N(0, 1), j = 1..p. */
static void
draw_row(gsl_rng *r, double *x, size_t p)
{
  for (size_t j = 0; j < p; j++)
    x[j] = gsl_ran_gaussian(r, 1.0);
}

infb_dataset *
infb_synth_linreg(size_t n, size_t p, double noise_sd, double weight_scale, double bias,
                  gsl_rng *r, double *w_true)
{
  if (!(noise_sd > 0.0) || !isfinite(noise_sd))
    INFB_ERROR_NULL(GSL_EINVAL, "synthetic linreg: noise sd %g is not a finite value > 0",
                    noise_sd);
  infb_dataset *d = synth_start("linreg", n, p, weight_scale, bias);
  if (!d)
    return NULL;
  double *w = infb_malloc(p, sizeof *w);
  if (!w) {
    infb_dataset_free(d);
    return NULL;
  }
  draw_weights(r, weight_scale, w, p);
  for (size_t i = 0; i < n; i++) {
    double *x = d->X + i * p;
    draw_row(r, x, p);
    /* y_i = x_iᵀw + b + ε_i, ε_i ~ N(0, noise_sd²) */
    d->y[i] = row_dot(x, w, p) + bias + gsl_ran_gaussian(r, noise_sd);
  }
  if (w_true)
    for (size_t j = 0; j < p; j++)
      w_true[j] = w[j];
  free(w);
  return d;
}

infb_dataset *
infb_synth_logreg(size_t n, size_t p, double weight_scale, double bias, gsl_rng *r,
                  double *w_true)
{
  infb_dataset *d = synth_start("logreg", n, p, weight_scale, bias);
  if (!d)
    return NULL;
  double *w = infb_malloc(p, sizeof *w);
  if (!w) {
    infb_dataset_free(d);
    return NULL;
  }
  draw_weights(r, weight_scale, w, p);
  for (size_t i = 0; i < n; i++) {
    double *x = d->X + i * p;
    draw_row(r, x, p);
    /* y_i ~ Bernoulli(σ(x_iᵀw + b)): one uniform u, y_i = [u < σ]. */
    d->y[i] = (double)gsl_ran_bernoulli(r, sigmoid(row_dot(x, w, p) + bias));
  }
  if (w_true)
    for (size_t j = 0; j < p; j++)
      w_true[j] = w[j];
  free(w);
  return d;
}
