/* Tests for infer/map on linear regression: MAP equals the ridge normal equations solved
 * in the test (Cholesky of XᵀX + λI on centred data for the FLAT intercept, the intercept
 * as a penalised weight for SAME), the regularisation path equals the individual fits,
 * its best index maximises cv_loglik, and cv_loglik equals a K-fold cross-validation
 * recomputed here (folds from the documented ("map/cv", 0) permutation stream). */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "core/rng.h"
#include "infer/map.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

static const char *conv_name[] = { "no intercept", "FLAT intercept", "SAME intercept" };

static void
set_convention(infb_problem *pb, int conv)
{
  pb->intercept = conv != 0;
  pb->intercept_prior = conv == 2 ? INFB_INTERCEPT_SAME : INFB_INTERCEPT_FLAT;
}

/* Ridge by explicit normal equations on (X, y) rows in `rows` (all when NULL, n of them):
 *  none: (XᵀX + λI)w = Xᵀy;
 *  FLAT: centre X and y by the means of these rows, solve, b = ȳ − x̄ᵀw;
 *  SAME: ([X 1]ᵀ[X 1] + λI)(w, b) = [X 1]ᵀy.
 * Solved by GSL's Cholesky; σ² = RSS/n of these rows. */
static void
ridge(const gsl_matrix *X, const gsl_vector *y, const size_t *rows, size_t n, int conv,
      double lambda, gsl_vector *w, double *b, double *s2)
{
  size_t p = X->size2, m = p + (conv == 2 ? 1 : 0);
  double xbar[16] = { 0 }, ybar = 0.0;
  if (conv == 1) {
    for (size_t r = 0; r < n; r++) {
      size_t i = rows ? rows[r] : r;
      ybar += gsl_vector_get(y, i) / (double)n;
      for (size_t j = 0; j < p; j++)
        xbar[j] += gsl_matrix_get(X, i, j) / (double)n;
    }
  }
  gsl_matrix *M = gsl_matrix_calloc(m, m);
  gsl_vector *rhs = gsl_vector_calloc(m), *sol = gsl_vector_alloc(m);
  for (size_t r = 0; r < n; r++) {
    size_t i = rows ? rows[r] : r;
    double phi[17];
    for (size_t j = 0; j < p; j++)
      phi[j] = gsl_matrix_get(X, i, j) - xbar[j];
    if (conv == 2)
      phi[p] = 1.0;
    double t = gsl_vector_get(y, i) - ybar;
    for (size_t a = 0; a < m; a++) {
      *gsl_vector_ptr(rhs, a) += phi[a] * t;
      for (size_t c = 0; c < m; c++)
        *gsl_matrix_ptr(M, a, c) += phi[a] * phi[c];
    }
  }
  for (size_t a = 0; a < m; a++)
    *gsl_matrix_ptr(M, a, a) += lambda;
  gsl_linalg_cholesky_decomp1(M);
  gsl_linalg_cholesky_solve(M, rhs, sol);
  for (size_t j = 0; j < p; j++)
    gsl_vector_set(w, j, gsl_vector_get(sol, j));
  if (conv == 0) {
    *b = 0.0;
  } else if (conv == 2) {
    *b = gsl_vector_get(sol, p);
  } else {
    *b = ybar;
    for (size_t j = 0; j < p; j++)
      *b -= xbar[j] * gsl_vector_get(w, j);
  }
  double rss = 0.0;
  for (size_t r = 0; r < n; r++) {
    size_t i = rows ? rows[r] : r;
    double f = *b;
    for (size_t j = 0; j < p; j++)
      f += gsl_matrix_get(X, i, j) * gsl_vector_get(w, j);
    rss += (gsl_vector_get(y, i) - f) * (gsl_vector_get(y, i) - f);
  }
  *s2 = rss / (double)n;
  gsl_matrix_free(M);
  gsl_vector_free(rhs);
  gsl_vector_free(sol);
}

static double
rel_err(const gsl_vector *w1, double b1, const gsl_vector *w2, double b2)
{
  double num = fabs(b1 - b2), den = fabs(b2);
  for (size_t j = 0; j < w1->size; j++) {
    num = fmax(num, fabs(gsl_vector_get(w1, j) - gsl_vector_get(w2, j)));
    den = fmax(den, fabs(gsl_vector_get(w2, j)));
  }
  return num / den;
}

int
main(void)
{
  plan(3 * 2 * 2 + 2 + 3 * 5 + 4 + 1);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 1618);
  size_t n = 48, p = 6;
  gsl_matrix *X = gsl_matrix_alloc(n, p);
  gsl_vector *y = gsl_vector_alloc(n);
  /* Few strong and several weak coefficients, correlated features with nonzero means: a
   * problem where some shrinkage helps, so the CV curve has an interior maximum. */
  for (size_t i = 0; i < n; i++) {
    double common = gsl_ran_gaussian(r, 1.0), f = 0.9;
    for (size_t j = 0; j < p; j++) {
      double x = 1.0 - 0.3 * (double)j + 0.8 * common + gsl_ran_gaussian(r, 1.0);
      gsl_matrix_set(X, i, j, x);
      f += x * (j == 0 ? 1.0 : 0.15 * (j % 2 ? -1.0 : 1.0));
    }
    gsl_vector_set(y, i, f + gsl_ran_gaussian(r, 1.5));
  }
  infb_problem pb = { .model = INFB_MODEL_LINREG, .X = X, .y = y, .seed = 99 };
  gsl_vector *wref = gsl_vector_alloc(p);

  /* MAP = ridge, both solvers. */
  const double lams[2] = { 0.3, 12.0 };
  for (int conv = 0; conv < 3; conv++) {
    set_convention(&pb, conv);
    infb_fit *fit = infb_fit_alloc(p, conv != 0);
    for (int l = 0; l < 2; l++) {
      double bref, s2ref;
      ridge(X, y, NULL, n, conv, lams[l], wref, &bref, &s2ref);
      for (int method = INFB_SOLVER_DIRECT; method <= INFB_SOLVER_BFGS; method++) {
        infb_solver_options opt = { .tol = 1e-10, .max_iter = 1000, .method = method };
        int st = infb_map_fit(&pb, lams[l], &opt, fit);
        double e = rel_err(fit->w, fit->intercept, wref, bref);
        ok(st == GSL_SUCCESS && e <= 1e-8 && fit->lambda == lams[l] &&
               fabs(fit->noise_var - s2ref) <= 1e-8 * s2ref,
           "map (%s) = ridge normal equations, lambda = %g, %s: rel err %.3g; "
           "fit->lambda and sigma² = RSS/N",
           method == INFB_SOLVER_DIRECT ? "direct" : "bfgs", lams[l], conv_name[conv], e);
      }
    }
    infb_fit_free(fit);
  }
  /* λ = 0 is the MLE (= ridge at 0); a negative λ is refused. */
  set_convention(&pb, 1);
  {
    infb_fit *fit = infb_fit_alloc(p, 1);
    infb_solver_options opt = { .tol = 1e-10, .max_iter = 1000, .method = INFB_SOLVER_AUTO };
    double bref, s2ref;
    ridge(X, y, NULL, n, 1, 0.0, wref, &bref, &s2ref);
    ok(infb_map_fit(&pb, 0.0, &opt, fit) == GSL_SUCCESS &&
           rel_err(fit->w, fit->intercept, wref, bref) <= 1e-8,
       "map with lambda = 0 is least squares (FLAT)");
    ok(infb_map_fit(&pb, -1.0, &opt, fit) != GSL_SUCCESS, "map with lambda = -1 fails");
    infb_fit_free(fit);
  }

  /* The path. */
  const double lambdas[7] = { 0.01, 0.1, 1.0, 5.0, 20.0, 100.0, 1000.0 };
  const size_t nl = 7, K = 4;
  for (int conv = 0; conv < 3; conv++) {
    set_convention(&pb, conv);
    infb_solver_options opt = { .tol = 1e-10, .max_iter = 1000, .method = INFB_SOLVER_AUTO };
    infb_map_path_point path[7];
    size_t best = 99;
    int st = infb_map_path(&pb, lambdas, nl, K, &opt, path, &best);
    is_int(GSL_SUCCESS, st, "map path over 7 lambdas, 4 folds succeeds (%s)", conv_name[conv]);

    /* Whole-data fits equal individual map fits. */
    infb_fit *fit = infb_fit_alloc(p, conv != 0);
    double e = 0.0;
    int lam_ok = 1;
    for (size_t l = 0; l < nl; l++) {
      infb_map_fit(&pb, lambdas[l], &opt, fit);
      if (!path[l].w) {
        e = INFINITY;
        continue;
      }
      e = fmax(e, rel_err(path[l].w, path[l].intercept, fit->w, fit->intercept));
      e = fmax(e, fabs(path[l].noise_var - fit->noise_var) / fit->noise_var);
      lam_ok &= path[l].lambda == lambdas[l];
    }
    ok(e <= 1e-12 && lam_ok, "path weights, intercepts, sigma² equal individual map fits "
       "(%s): max rel err %.3g", conv_name[conv], e);

    /* best is the argmax of cv_loglik. */
    size_t arg = 0;
    for (size_t l = 1; l < nl; l++)
      if (path[l].cv_loglik > path[arg].cv_loglik)
        arg = l;
    ok(best == arg, "best index %zu is the argmax of cv_loglik (%zu), lambda = %g (%s)", best,
       arg, lambdas[arg], conv_name[conv]);
    ok(best > 0 && best < nl - 1, "guard: the CV maximum is interior (index %zu of 0..6), so "
       "the argmax check is not an endpoint artefact (%s)", best, conv_name[conv]);

    /* Cross-validation recomputed: fold of row perm[i] is i mod K, perm a shuffle of 0..N-1
     * by the stream ("map/cv", 0); per fold, ridge on the other rows, score = mean over the
     * held-out rows of ln N(y; xᵀw + b, σ²_train) (gsl_ran_gaussian_pdf); cv_loglik = mean
     * over folds, cv_se = sd over folds / √K. */
    size_t perm[48], fold[48];
    for (size_t i = 0; i < n; i++)
      perm[i] = i;
    gsl_rng *cr = infb_rng_stream(pb.seed, "map/cv", 0);
    gsl_ran_shuffle(cr, perm, n, sizeof perm[0]);
    gsl_rng_free(cr);
    for (size_t i = 0; i < n; i++)
      fold[perm[i]] = i % K;
    double ecv = 0.0, ese = 0.0;
    for (size_t l = 0; l < nl; l++) {
      double sc[4];
      for (size_t k = 0; k < K; k++) {
        size_t tr[48], te[48], ntr = 0, nte = 0;
        for (size_t i = 0; i < n; i++) {
          if (fold[i] == k)
            te[nte++] = i;
          else
            tr[ntr++] = i;
        }
        double b, s2;
        ridge(X, y, tr, ntr, conv, lambdas[l], wref, &b, &s2);
        double s = 0.0;
        for (size_t q = 0; q < nte; q++) {
          double f = b;
          for (size_t j = 0; j < p; j++)
            f += gsl_matrix_get(X, te[q], j) * gsl_vector_get(wref, j);
          s += log(gsl_ran_gaussian_pdf(gsl_vector_get(y, te[q]) - f, sqrt(s2)));
        }
        sc[k] = s / (double)nte;
      }
      double mean = 0.0, v = 0.0;
      for (size_t k = 0; k < K; k++)
        mean += sc[k] / (double)K;
      for (size_t k = 0; k < K; k++)
        v += (sc[k] - mean) * (sc[k] - mean);
      double se = sqrt(v / (double)(K - 1) / (double)K);
      ecv = fmax(ecv, fabs(path[l].cv_loglik - mean) / fabs(mean));
      ese = fmax(ese, fabs(path[l].cv_se - se) / se);
    }
    ok(ecv <= 1e-9 && ese <= 1e-6,
       "cv_loglik and cv_se equal a 4-fold CV recomputed with explicit ridge fits (%s): "
       "rel err %.3g, %.3g", conv_name[conv], ecv, ese);
    infb_map_path_free(path, nl);
    infb_fit_free(fit);
  }

  /* A λ whose fit fails (λ = 0 on a rank-deficient design) gets NAN and no weights; the
   * others still work; all failing is an error. */
  {
    gsl_matrix *Xd = gsl_matrix_alloc(n, p);
    gsl_matrix_memcpy(Xd, X);
    gsl_vector_const_view c0 = gsl_matrix_const_column(X, 0);
    gsl_matrix_set_col(Xd, 1, &c0.vector);
    infb_problem pd = pb;
    pd.X = Xd;
    set_convention(&pd, 1);
    infb_solver_options opt = { .tol = 1e-10, .max_iter = 1000, .method = INFB_SOLVER_AUTO };
    const double lz[3] = { 0.0, 1.0, 10.0 };
    infb_map_path_point path[3];
    size_t best = 99;
    int st = infb_map_path(&pd, lz, 3, K, &opt, path, &best);
    ok(st == GSL_SUCCESS && path[0].w == NULL && isnan(path[0].cv_loglik),
       "duplicate column: the lambda = 0 point fails alone (w NULL, cv_loglik NAN)");
    ok(path[1].w && path[2].w && isfinite(path[1].cv_loglik) && isfinite(path[2].cv_loglik) &&
           (best == 1 || best == 2),
       "and the lambda > 0 points are fitted and scored; best = %zu", best);
    infb_map_path_free(path, 3);
    const double only0[1] = { 0.0 };
    ok(infb_map_path(&pd, only0, 1, K, &opt, path, &best) != GSL_SUCCESS,
       "a path whose every lambda fails is an error");
    infb_map_path_free(path, 1);
    ok(infb_map_path(&pb, lambdas, 1, 1, &opt, path, &best) == GSL_EINVAL,
       "1 fold is GSL_EINVAL");
    gsl_matrix_free(Xd);
  }
  infb_map_path_free(NULL, 0);
  ok(1, "infb_map_path_free(NULL, 0) is a no-op");

  gsl_vector_free(wref);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  gsl_rng_free(r);
  return test_done();
}
