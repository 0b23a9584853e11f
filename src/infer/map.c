/* MAP with a Gaussian prior (L2 weight decay) and its regularisation path, with λ chosen
 * by K-fold cross-validation of the held-out log predictive density. */
#include "config.h"
#include "infer/map.h"
#include "core/error.h"
#include "core/rng.h"
#include "model/linreg.h"
#include "model/logreg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

int
infb_map_fit(const infb_problem *pb, double lambda, const infb_solver_options *opt,
             infb_fit *fit)
{
  int st;
  if (!(lambda >= 0.0))
    return INFB_ERROR(GSL_EDOM, "map: lambda must be >= 0 (got %g)", lambda);
  switch (pb->model) {
  case INFB_MODEL_LINREG:
    st = infb_linreg_fit_penalized(pb, lambda, opt, fit);
    break;
  case INFB_MODEL_LOGREG:
    st = infb_logreg_fit_penalized(pb, lambda, opt, fit);
    break;
  default:
    return INFB_ERROR(GSL_EINVAL, "map: unknown model %d", (int)pb->model);
  }
  fit->lambda = lambda;
  return st;
}

/* Copy the rows of (X, y) whose fold label is (in_fold ? == k : != k). */
static void
take_rows(const gsl_matrix *X, const gsl_vector *y, const size_t *fold, size_t k, int in_fold,
          gsl_matrix *Xo, gsl_vector *yo)
{
  size_t r = 0;
  for (size_t i = 0; i < X->size1; i++) {
    if ((fold[i] == k) != (in_fold != 0))
      continue;
    gsl_vector_const_view row = gsl_matrix_const_row(X, i);
    gsl_matrix_set_row(Xo, r, &row.vector);
    gsl_vector_set(yo, r, gsl_vector_get(y, i));
    r++;
  }
}

void
infb_map_path_free(infb_map_path_point *path, size_t n)
{
  if (!path)
    return;
  for (size_t i = 0; i < n; i++) {
    gsl_vector_free(path[i].w);
    path[i].w = NULL;
  }
}

int
infb_map_path(const infb_problem *pb, const double *lambdas, size_t n, size_t folds,
              const infb_solver_options *opt, infb_map_path_point *path, size_t *best)
{
  const size_t N = pb->X->size1, p = pb->X->size2;
  if (n == 0)
    return INFB_ERROR(GSL_EINVAL, "map path: no lambda values");
  if (folds < 2 || folds > N)
    return INFB_ERROR(GSL_EINVAL, "map path: %zu folds for %zu training rows (need 2..%zu)",
                      folds, N, N);
  for (size_t i = 0; i < n; i++) {
    memset(&path[i], 0, sizeof path[i]);
    path[i].lambda = lambdas[i];
    path[i].cv_loglik = path[i].cv_se = path[i].noise_var = NAN;
  }

  /* Fold labels from a seeded permutation: the fold of row perm[i] is i mod K. */
  size_t *perm = infb_malloc(N, sizeof *perm), *fold = infb_malloc(N, sizeof *fold);
  double *score = infb_calloc(n * folds, sizeof *score);
  gsl_rng *r = infb_rng_stream(pb->seed, "map/cv", 0);
  infb_fit *fit = infb_fit_alloc(p, pb->intercept);
  int st = GSL_ENOMEM;
  if (!perm || !fold || !score || !r || !fit)
    goto done;
  for (size_t i = 0; i < N; i++)
    perm[i] = i;
  gsl_ran_shuffle(r, perm, N, sizeof *perm);
  for (size_t i = 0; i < N; i++)
    fold[perm[i]] = i % folds;

  /* Whole-training-set fits along the path. */
  size_t nok = 0;
  for (size_t l = 0; l < n; l++) {
    if (infb_map_fit(pb, lambdas[l], opt, fit) != GSL_SUCCESS)
      continue;
    path[l].w = gsl_vector_alloc(p);
    if (!path[l].w)
      goto done;
    gsl_vector_memcpy(path[l].w, fit->w);
    path[l].intercept = fit->intercept;
    path[l].noise_var = fit->noise_var;
    nok++;
  }
  if (nok == 0) {
    st = INFB_ERROR(GSL_EFAILED, "map path: every lambda failed (last: %s)",
                    infb_error_message());
    goto done;
  }

  /* Cross-validation: fold-outer so each fold's matrices are built once. */
  for (size_t k = 0; k < folds; k++) {
    size_t nk = 0;
    for (size_t i = 0; i < N; i++)
      nk += fold[i] == k;
    gsl_matrix *Xtr = gsl_matrix_alloc(N - nk, p), *Xte = gsl_matrix_alloc(nk, p);
    gsl_vector *ytr = gsl_vector_alloc(N - nk), *yte = gsl_vector_alloc(nk);
    if (!Xtr || !Xte || !ytr || !yte) {
      gsl_matrix_free(Xtr);
      gsl_matrix_free(Xte);
      gsl_vector_free(ytr);
      gsl_vector_free(yte);
      st = INFB_ERROR(GSL_ENOMEM, "map path: cannot allocate fold %zu", k);
      goto done;
    }
    take_rows(pb->X, pb->y, fold, k, 0, Xtr, ytr);
    take_rows(pb->X, pb->y, fold, k, 1, Xte, yte);
    infb_problem sub = *pb;
    sub.X = Xtr;
    sub.y = ytr;
    for (size_t l = 0; l < n; l++) {
      double s = NAN;
      if (path[l].w && infb_map_fit(&sub, lambdas[l], opt, fit) == GSL_SUCCESS)
        infb_fit_loglik(pb->model, fit, Xte, yte, &s);
      score[l * folds + k] = s;
    }
    gsl_matrix_free(Xtr);
    gsl_matrix_free(Xte);
    gsl_vector_free(ytr);
    gsl_vector_free(yte);
  }

  /* Mean and standard error over folds; a λ with any failed fold scores NAN. */
  size_t ibest = n;
  for (size_t l = 0; l < n; l++) {
    double m = 0.0, s2 = 0.0;
    for (size_t k = 0; k < folds; k++)
      m += score[l * folds + k];
    m /= (double)folds;
    for (size_t k = 0; k < folds; k++) {
      double d = score[l * folds + k] - m;
      s2 += d * d;
    }
    path[l].cv_loglik = m;
    path[l].cv_se = sqrt(s2 / (double)(folds - 1) / (double)folds);
    if (isfinite(m) && (ibest == n || m > path[ibest].cv_loglik))
      ibest = l;
  }
  if (ibest == n) {
    st = INFB_ERROR(GSL_EFAILED, "map path: cross-validation failed for every lambda");
    goto done;
  }
  *best = ibest;
  st = GSL_SUCCESS;
done:
  free(perm);
  free(fold);
  free(score);
  gsl_rng_free(r);
  infb_fit_free(fit);
  return st;
}
