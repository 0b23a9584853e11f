/* Fits and their predictive distributions (see estimator.h).  The logistic predictive
 * uses MacKay's probit approximation (MacKay 1992; Bishop PRML eq. 4.153). */
#include "config.h"
#include "infer/estimator.h"
#include "core/error.h"
#include "model/logreg.h"

#include <math.h>
#include <stdlib.h>
#include <gsl/gsl_math.h>

infb_fit *
infb_fit_alloc(size_t p, int has_intercept)
{
  if (p == 0)
    INFB_ERROR_NULL(GSL_EINVAL, "a fit needs at least one feature");
  infb_fit *f = infb_calloc(1, sizeof *f);
  if (!f)
    return NULL;
  f->p = p;
  f->has_intercept = has_intercept != 0;
  f->w = gsl_vector_calloc(p);
  if (!f->w) {
    free(f);
    INFB_ERROR_NULL(GSL_ENOMEM, "cannot allocate a fit of %zu weights", p);
  }
  f->noise_var = NAN;
  f->lambda = f->log_evidence = f->alpha = f->beta = NAN;
  f->elbo = f->gap = f->gap_analytic = NAN;
  return f;
}

void
infb_fit_free(infb_fit *f)
{
  if (!f)
    return;
  gsl_vector_free(f->w);
  gsl_matrix_free(f->cov);
  free(f);
}

int
infb_fit_alloc_cov(infb_fit *f)
{
  if (f->cov)
    return GSL_SUCCESS;
  size_t m = f->p + (size_t)f->has_intercept;
  f->cov = gsl_matrix_calloc(m, m);
  if (!f->cov)
    return INFB_ERROR(GSL_ENOMEM, "cannot allocate a %zux%zu covariance", m, m);
  return GSL_SUCCESS;
}

/* Linear predictor x_iᵀw + b and its variance [x_i;1]ᵀ cov [x_i;1] for row i. */
static void
linear_predictor(const infb_fit *f, const gsl_matrix *X, size_t i, double *eta, double *v)
{
  const double *x = gsl_matrix_const_ptr(X, i, 0);
  double s = f->has_intercept ? f->intercept : 0.0;
  for (size_t j = 0; j < f->p; j++)
    s += x[j] * gsl_vector_get(f->w, j);
  *eta = s;
  *v = 0.0;
  if (!f->cov)
    return;
  size_t m = f->p + (size_t)f->has_intercept;
  double q = 0.0;
  for (size_t a = 0; a < m; a++) {
    double xa = a < f->p ? x[a] : 1.0;
    double row = 0.0;
    for (size_t b = 0; b < m; b++)
      row += gsl_matrix_get(f->cov, a, b) * (b < f->p ? x[b] : 1.0);
    q += xa * row;
  }
  *v = q > 0.0 ? q : 0.0;
}

int
infb_fit_predict(infb_model_kind model, const infb_fit *f, const gsl_matrix *X, gsl_vector *mean,
                 gsl_vector *var)
{
  if (X->size2 != f->p || mean->size != X->size1 || (var && var->size != X->size1))
    return INFB_ERROR(GSL_EBADLEN, "predict: X is %zux%zu for a fit of %zu weights", X->size1,
                      X->size2, f->p);
  for (size_t i = 0; i < X->size1; i++) {
    double eta, v;
    linear_predictor(f, X, i, &eta, &v);
    if (model == INFB_MODEL_LINREG) {
      gsl_vector_set(mean, i, eta);
      if (var)
        gsl_vector_set(var, i, f->noise_var + v);
    } else {
      /* σ(μ/√(1 + πs²/8)) */
      double kappa = 1.0 / sqrt(1.0 + M_PI * v / 8.0);
      double pr = exp(infb_log_sigmoid(kappa * eta));
      gsl_vector_set(mean, i, pr);
      if (var)
        gsl_vector_set(var, i, pr * (1.0 - pr));
    }
  }
  return GSL_SUCCESS;
}

int
infb_fit_loglik(infb_model_kind model, const infb_fit *f, const gsl_matrix *X, const gsl_vector *y,
                double *avg)
{
  if (X->size2 != f->p || y->size != X->size1)
    return INFB_ERROR(GSL_EBADLEN, "loglik: X is %zux%zu, y has %zu, fit has %zu weights",
                      X->size1, X->size2, y->size, f->p);
  if (X->size1 == 0)
    return INFB_ERROR(GSL_EINVAL, "loglik: no observations");
  double s = 0.0;
  for (size_t i = 0; i < X->size1; i++) {
    double eta, v;
    linear_predictor(f, X, i, &eta, &v);
    double yi = gsl_vector_get(y, i);
    if (model == INFB_MODEL_LINREG) {
      double var = f->noise_var + v;
      if (!(var > 0.0))
        return INFB_ERROR(GSL_EDOM, "loglik: predictive variance %g is not positive", var);
      double r = yi - eta;
      s += -0.5 * (log(2.0 * M_PI * var) + r * r / var);
    } else {
      double t = eta / sqrt(1.0 + M_PI * v / 8.0);
      s += yi > 0.5 ? infb_log_sigmoid(t) : infb_log_sigmoid(-t);
    }
  }
  *avg = s / (double)X->size1;
  return GSL_SUCCESS;
}
