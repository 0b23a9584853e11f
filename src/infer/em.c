/* The `mle` estimator of the linear-Gaussian latent model: data checks, initialisation
 * and the call into EM or the PPCA closed form (see em.h; MATH.md §3). */
#include <config.h>
#include "infer/em.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

int
infb_lingauss_check_data(const gsl_matrix *X, size_t K)
{
  size_t D = X->size2;
  if (K == 0 || K >= D)
    return INFB_ERROR(INFB_ECONFIG, "latent dimension K = %zu must be between 1 and D − 1 = %lld",
                      K, (long long)D - 1);
  if (X->size1 == 0)
    return INFB_ERROR(INFB_EDATA, "the data have no rows");
  for (size_t i = 0; i < X->size1; i++)
    for (size_t j = 0; j < D; j++) {
      double v = gsl_matrix_get(X, i, j);
      if (!isfinite(v))
        return INFB_ERROR(INFB_EDATA, "data row %zu, column %zu is not finite (%g)", i + 1,
                          j + 1, v);
    }
  return GSL_SUCCESS;
}

void
infb_em_result_free(infb_em_result *res)
{
  if (!res)
    return;
  free(res->trace);
  res->trace = NULL;
  res->trace_len = 0;
}

/* b = column means (corrected two-pass), psi = 1/N column variances (ppca: their mean). */
static void
init_moments(infb_lingauss *m, const gsl_matrix *X)
{
  size_t n = X->size1, D = m->D;
  double vmean = 0.0;
  for (size_t d = 0; d < D; d++) {
    double s = 0.0, corr = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++)
      s += gsl_matrix_get(X, i, d);
    s /= (double)n;
    for (size_t i = 0; i < n; i++)
      corr += gsl_matrix_get(X, i, d) - s;
    s += corr / (double)n;
    for (size_t i = 0; i < n; i++) {
      double e = gsl_matrix_get(X, i, d) - s;
      ss += e * e;
    }
    gsl_vector_set(m->b, d, s);
    gsl_vector_set(m->psi, d, ss / (double)n);
    vmean += ss / (double)n;
  }
  if (m->ppca)
    gsl_vector_set_all(m->psi, vmean / (double)D);
}

int
infb_em_fit(infb_lingauss *m, const gsl_matrix *X, const infb_em_fit_options *o, gsl_rng *r,
            infb_em_result *res)
{
  memset(res, 0, sizeof *res);
  int st;
  if ((st = infb_lingauss_check_data(X, m->K)))
    return st;
  if (X->size2 != m->D)
    return INFB_ERROR(GSL_EBADLEN, "EM: the data have %zu columns, the model D = %zu",
                      X->size2, m->D);
  if (!(o->tol >= 0.0) || !isfinite(o->tol))
    return INFB_ERROR(GSL_EINVAL, "EM: tol = %g must be a finite number ≥ 0", o->tol);
  if (!(o->psi_floor >= 0.0) || !isfinite(o->psi_floor))
    return INFB_ERROR(GSL_EINVAL, "EM: psi_floor = %g must be a finite number ≥ 0",
                      o->psi_floor);

  if (o->method == INFB_EM_PPCA_CLOSED) {
    if (!m->ppca)
      return INFB_ERROR(GSL_EINVAL, "the PPCA closed form needs a ppca model");
    if ((st = infb_lingauss_ppca_closed_floor(m, X, o->psi_floor, &res->nfloored)))
      return st;
    /* The final log-likelihood, exactly (Woodbury), for the result. */
    infb_lingauss_cache *c = infb_lingauss_cache_alloc(m->D, m->K);
    gsl_vector *lp = c ? gsl_vector_alloc(X->size1) : NULL;
    if (!lp) {
      infb_lingauss_cache_free(c);
      return INFB_ERROR(GSL_ENOMEM, "EM: out of memory");
    }
    st = infb_lingauss_cache_set(c, m);
    if (!st)
      st = infb_lingauss_logpx(c, X, lp);
    double s = 0.0;
    for (size_t i = 0; !st && i < X->size1; i++)
      s += gsl_vector_get(lp, i);
    gsl_vector_free(lp);
    infb_lingauss_cache_free(c);
    if (st)
      return st;
    res->loglik = s / (double)X->size1;
    if (!(res->trace = infb_malloc(1, sizeof *res->trace)))
      return GSL_ENOMEM;
    res->trace[0] = res->loglik;
    res->trace_len = 1;
    res->iterations = 0;
    strcpy(res->stop_reason, "closed form");
    return GSL_SUCCESS;
  }
  if (o->method != INFB_EM_ITERATE)
    return INFB_ERROR(GSL_EINVAL, "EM: unknown method %d", (int)o->method);
  if (!(o->init_scale > 0.0) || !isfinite(o->init_scale))
    return INFB_ERROR(GSL_EINVAL, "EM: init_scale = %g must be a positive number",
                      o->init_scale);
  if (!r)
    return INFB_ERROR(GSL_EINVAL, "EM: no random-number generator for the W initialisation");
  if (o->max_iter == (size_t)-1)
    return INFB_ERROR(GSL_EINVAL, "EM: max_iter is too large");

  init_moments(m, X);
  for (size_t d = 0; d < m->D; d++)
    for (size_t k = 0; k < m->K; k++)
      gsl_matrix_set(m->W, d, k, gsl_ran_gaussian(r, o->init_scale));

  double *trace = infb_malloc(o->max_iter + 1, sizeof *trace);
  if (!trace)
    return GSL_ENOMEM;
  infb_lingauss_em_options eo = { o->max_iter, o->tol, o->psi_floor, o->lambda };
  st = infb_lingauss_em(m, X, &eo, trace, &res->iterations, &res->nfloored,
                        res->stop_reason, sizeof res->stop_reason);
  if (st) {
    free(trace);
    return st;
  }
  res->trace_len = res->iterations + 1;
  double *t = realloc(trace, res->trace_len * sizeof *t);
  res->trace = t ? t : trace;
  res->loglik = res->trace[res->iterations];
  return GSL_SUCCESS;
}
