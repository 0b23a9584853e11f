/* Tests for model/linreg: the log-likelihood against GSL's Gaussian density, the
 * objective's gradient against central differences, the direct solver against the
 * normal equations inverted by LU in the test, BFGS against the direct solver, the
 * singular-design error, and σ² = RSS/N. */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "model/linreg.h"

#include <math.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define SINGULAR_MSG                                                                       \
  "the design matrix is rank-deficient (XᵀX is singular): the MLE is not unique; use map " \
  "with lambda > 0"

/* A synthetic problem: X n×p with column j ~ N(mean_j, scale_j²), y = Xw + b + N(0, σ²). */
typedef struct {
  gsl_matrix *X;
  gsl_vector *y;
  infb_problem pb;
} problem;

static void
make_problem(problem *P, gsl_rng *r, size_t n, size_t p, const double *mean,
             const double *scale, double b, double sigma)
{
  P->X = gsl_matrix_alloc(n, p);
  P->y = gsl_vector_alloc(n);
  for (size_t i = 0; i < n; i++) {
    double f = b;
    for (size_t j = 0; j < p; j++) {
      double x = mean[j] + scale[j] * gsl_ran_gaussian(r, 1.0);
      gsl_matrix_set(P->X, i, j, x);
      f += x * (0.5 + 0.3 * (double)j) * (j % 2 ? -1.0 : 1.0);
    }
    gsl_vector_set(P->y, i, f + gsl_ran_gaussian(r, sigma));
  }
  memset(&P->pb, 0, sizeof P->pb);
  P->pb.model = INFB_MODEL_LINREG;
  P->pb.X = P->X;
  P->pb.y = P->y;
  P->pb.seed = 7;
}

static void
free_problem(problem *P)
{
  gsl_matrix_free(P->X);
  gsl_vector_free(P->y);
}

static void
set_convention(problem *P, int conv)
{
  /* conv: 0 none, 1 FLAT, 2 SAME */
  P->pb.intercept = conv != 0;
  P->pb.intercept_prior = conv == 2 ? INFB_INTERCEPT_SAME : INFB_INTERCEPT_FLAT;
}

static const char *conv_name[] = { "no intercept", "FLAT intercept", "SAME intercept" };

/* Independent ridge solution: solve the (p+1)- or p-dimensional normal equations by an
 * explicit LU inverse, built element by element from X.
 *  none: (XᵀX + λI) w = Xᵀy.
 *  FLAT: b unpenalised: [XᵀX + λI, Xᵀ1; 1ᵀX, N] (w, b) = (Xᵀy, 1ᵀy) (no centring here).
 *  SAME: as FLAT with N + λ in the corner. */
static void
ridge_reference(const problem *P, int conv, double lambda, gsl_vector *w, double *b)
{
  size_t n = P->X->size1, p = P->X->size2, k = p + (conv ? 1 : 0);
  gsl_matrix *M = gsl_matrix_calloc(k, k), *Minv = gsl_matrix_alloc(k, k);
  gsl_vector *rhs = gsl_vector_calloc(k), *sol = gsl_vector_alloc(k);
  gsl_permutation *perm = gsl_permutation_alloc(k);
  for (size_t i = 0; i < n; i++) {
    for (size_t a = 0; a < k; a++) {
      double xa = a < p ? gsl_matrix_get(P->X, i, a) : 1.0;
      *gsl_vector_ptr(rhs, a) += xa * gsl_vector_get(P->y, i);
      for (size_t c = 0; c < k; c++) {
        double xc = c < p ? gsl_matrix_get(P->X, i, c) : 1.0;
        *gsl_matrix_ptr(M, a, c) += xa * xc;
      }
    }
  }
  for (size_t a = 0; a < p; a++)
    *gsl_matrix_ptr(M, a, a) += lambda;
  if (conv == 2)
    *gsl_matrix_ptr(M, p, p) += lambda;
  int sgn;
  gsl_linalg_LU_decomp(M, perm, &sgn);
  gsl_linalg_LU_invert(M, perm, Minv);
  gsl_blas_dgemv(CblasNoTrans, 1.0, Minv, rhs, 0.0, sol);
  for (size_t j = 0; j < p; j++)
    gsl_vector_set(w, j, gsl_vector_get(sol, j));
  *b = conv ? gsl_vector_get(sol, p) : 0.0;
  gsl_matrix_free(M);
  gsl_matrix_free(Minv);
  gsl_vector_free(rhs);
  gsl_vector_free(sol);
  gsl_permutation_free(perm);
}

/* max_j |θ1_j − θ2_j| / max_j |θ2_j| over (w, b). */
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

static void
test_loglik(gsl_rng *r)
{
  double mean[3] = { 0.5, -1.0, 2.0 }, scale[3] = { 1.0, 0.5, 2.0 };
  problem P;
  make_problem(&P, r, 25, 3, mean, scale, 0.7, 0.4);
  gsl_vector *w = gsl_vector_alloc(3);
  gsl_vector_set(w, 0, 0.3);
  gsl_vector_set(w, 1, -0.8);
  gsl_vector_set(w, 2, 1.1);
  double b = -0.25, s2 = 0.37;
  /* Σ_i ln N(y_i; x_iᵀw + b, σ²) term by term with gsl_ran_gaussian_pdf; and the RSS. */
  double want = 0.0, rss = 0.0;
  for (size_t i = 0; i < 25; i++) {
    double f = b;
    for (size_t j = 0; j < 3; j++)
      f += gsl_matrix_get(P.X, i, j) * gsl_vector_get(w, j);
    double res = gsl_vector_get(P.y, i) - f;
    want += log(gsl_ran_gaussian_pdf(res, sqrt(s2)));
    rss += res * res;
  }
  is_double_rel(want, infb_linreg_loglik(P.X, P.y, w, b, s2), 1e-12,
                "loglik equals the sum of ln gsl_ran_gaussian_pdf (n=25, p=3, b=-0.25, s2=0.37)");
  is_double_rel(rss, infb_linreg_rss(P.X, P.y, w, b), 1e-12,
                "rss equals the explicit sum of squared residuals");
  gsl_vector_free(w);
  free_problem(&P);
}

/* The objective's value against its definition, and its gradient against central
 * differences.  f is quadratic, so the central difference has no truncation error: what
 * remains is rounding, ≈ ε|f|/h ≈ 1e-16·1e3/1e-4 = 1e-9, far below the tolerance
 * 1e-6·‖∇f‖∞ used here (‖∇f‖∞ is of order 10–1000 at the random points). */
static void
test_gradient(gsl_rng *r)
{
  double mean[4] = { 1.0, -0.5, 0.0, 3.0 }, scale[4] = { 1.0, 2.0, 0.3, 1.0 };
  problem P;
  make_problem(&P, r, 30, 4, mean, scale, 1.5, 0.5);
  const double lambdas[3] = { 0.0, 0.7, 5.0 };
  for (int conv = 0; conv < 3; conv++) {
    set_convention(&P, conv);
    size_t k = 4 + (conv ? 1 : 0);
    gsl_vector *th = gsl_vector_alloc(k), *g = gsl_vector_alloc(k), *tp = gsl_vector_alloc(k);
    for (size_t j = 0; j < k; j++)
      gsl_vector_set(th, j, gsl_ran_gaussian(r, 1.0));
    for (int l = 0; l < 3; l++) {
      double lam = lambdas[l];
      double f = infb_linreg_objective(&P.pb, lam, th, g);
      if (l == 1) {
        /* value: ½‖y − Xw − b‖² + ½λ‖w‖² (+ ½λb² under SAME), from the pieces */
        double b = conv ? gsl_vector_get(th, 4) : 0.0, ww = 0.0;
        gsl_vector_view wv = gsl_vector_subvector(th, 0, 4);
        for (size_t j = 0; j < 4; j++)
          ww += gsl_vector_get(th, j) * gsl_vector_get(th, j);
        double want = 0.5 * infb_linreg_rss(P.X, P.y, &wv.vector, b) + 0.5 * lam * ww +
                      (conv == 2 ? 0.5 * lam * b * b : 0.0);
        is_double_rel(want, f, 1e-12, "objective value matches its definition (%s, lambda=%g)",
                      conv_name[conv], lam);
      }
      double gmax = 0.0, err = 0.0;
      for (size_t j = 0; j < k; j++) {
        double h = 1e-4 * (1.0 + fabs(gsl_vector_get(th, j)));
        gsl_vector_memcpy(tp, th);
        gsl_vector_set(tp, j, gsl_vector_get(th, j) + h);
        double fp = infb_linreg_objective(&P.pb, lam, tp, NULL);
        gsl_vector_set(tp, j, gsl_vector_get(th, j) - h);
        double fm = infb_linreg_objective(&P.pb, lam, tp, NULL);
        double fd = (fp - fm) / (2.0 * h);
        gmax = fmax(gmax, fabs(gsl_vector_get(g, j)));
        err = fmax(err, fabs(fd - gsl_vector_get(g, j)));
      }
      ok(gmax > 1.0, "gradient is not trivially zero at the test point (%s, lambda=%g): "
         "max |g| = %g", conv_name[conv], lam, gmax);
      ok(err <= 1e-6 * gmax, "gradient matches central differences (%s, lambda=%g): "
         "max err %.3g, max |g| %.3g", conv_name[conv], lam, err, gmax);
    }
    /* The intercept's penalty is what distinguishes SAME from FLAT: at λ=5 the b-component
     * of the gradient differs by λb exactly. */
    if (conv == 2) {
      set_convention(&P, 1);
      gsl_vector *g2 = gsl_vector_alloc(k);
      infb_linreg_objective(&P.pb, 5.0, th, g2);
      is_double_rel(5.0 * gsl_vector_get(th, 4),
                    gsl_vector_get(g, 4) - gsl_vector_get(g2, 4), 1e-10,
                    "SAME adds lambda*b to the intercept's gradient (lambda=5)");
      set_convention(&P, 2);
      gsl_vector_free(g2);
    }
    gsl_vector_free(th);
    gsl_vector_free(g);
    gsl_vector_free(tp);
  }
  /* A theta of the wrong length is an error (NAN), not a read past the end. */
  set_convention(&P, 1);
  gsl_vector *bad = gsl_vector_calloc(4);
  ok(isnan(infb_linreg_objective(&P.pb, 0.0, bad, NULL)),
     "objective with a theta of length p (intercept expected) returns NAN");
  gsl_vector_free(bad);
  free_problem(&P);
}

/* DIRECT and BFGS against the LU reference, on a deliberately uneven design (scales 0.1 to
 * 10, nonzero means) so that the scaling of BFGS matters. */
static void
test_solvers(gsl_rng *r)
{
  double mean[5] = { 2.0, -1.0, 0.0, 5.0, 0.5 }, scale[5] = { 1.0, 10.0, 0.1, 2.0, 0.7 };
  problem P;
  make_problem(&P, r, 60, 5, mean, scale, -2.0, 0.8);
  const double lambdas[2] = { 0.0, 2.5 };
  infb_fit *fit = infb_fit_alloc(5, 1), *fit0 = infb_fit_alloc(5, 0);
  gsl_vector *wref = gsl_vector_alloc(5);
  for (int conv = 0; conv < 3; conv++) {
    set_convention(&P, conv);
    infb_fit *f = conv ? fit : fit0;
    for (int l = 0; l < 2; l++) {
      double lam = lambdas[l], bref;
      ridge_reference(&P, conv, lam, wref, &bref);
      infb_solver_options opt = { .tol = 1e-10, .max_iter = 1000, .method = INFB_SOLVER_DIRECT };
      int st = infb_linreg_fit_penalized(&P.pb, lam, &opt, f);
      double e = rel_err(f->w, f->intercept, wref, bref);
      ok(st == GSL_SUCCESS && e <= 1e-8,
         "DIRECT equals the LU-inverted normal equations (%s, lambda=%g): rel err %.3g",
         conv_name[conv], lam, e);
      if (conv == 1 && l == 0) {
        is_string("closed form", f->stop_reason, "DIRECT stop_reason is \"closed form\"");
        is_int(0, (long long)f->iterations, "DIRECT reports 0 iterations");
      }
      double wd[6], bd = f->intercept;
      for (size_t j = 0; j < 5; j++)
        wd[j] = gsl_vector_get(f->w, j);
      opt.method = INFB_SOLVER_BFGS;
      st = infb_linreg_fit_penalized(&P.pb, lam, &opt, f);
      gsl_vector_view wdv = gsl_vector_view_array(wd, 5);
      e = rel_err(f->w, f->intercept, &wdv.vector, bd);
      ok(st == GSL_SUCCESS && e <= 1e-8,
         "BFGS (tol 1e-10) equals DIRECT to 1e-8 relative (%s, lambda=%g): rel err %.3g "
         "after %zu iterations",
         conv_name[conv], lam, e, f->iterations);
      is_string("converged", f->stop_reason, "BFGS stop_reason is \"converged\" (%s, lambda=%g)",
                conv_name[conv], lam);
    }
  }
  /* One iteration cannot reach the tolerance: stop_reason max_iter. */
  set_convention(&P, 1);
  infb_solver_options opt1 = { .tol = 1e-10, .max_iter = 1, .method = INFB_SOLVER_BFGS };
  int st = infb_linreg_fit_penalized(&P.pb, 0.0, &opt1, fit);
  ok(st == GSL_SUCCESS && strcmp(fit->stop_reason, "max_iter") == 0 && fit->iterations == 1,
     "BFGS with max_iter=1 stops with \"max_iter\" after 1 iteration (got \"%s\", %zu)",
     fit->stop_reason, fit->iterations);

  /* noise_var = RSS/N at the fitted weights (DIRECT, FLAT, λ = 2.5). */
  infb_solver_options od = { .tol = 1e-10, .max_iter = 100, .method = INFB_SOLVER_AUTO };
  infb_linreg_fit_penalized(&P.pb, 2.5, &od, fit);
  double rss = 0.0;
  for (size_t i = 0; i < 60; i++) {
    double f = fit->intercept;
    for (size_t j = 0; j < 5; j++)
      f += gsl_matrix_get(P.X, i, j) * gsl_vector_get(fit->w, j);
    rss += (gsl_vector_get(P.y, i) - f) * (gsl_vector_get(P.y, i) - f);
  }
  is_double_rel(rss / 60.0, fit->noise_var, 1e-12, "noise_var = RSS/N (FLAT, lambda=2.5)");
  P.pb.noise_var = 0.123;
  infb_linreg_fit_penalized(&P.pb, 2.5, &od, fit);
  is_double_abs(0.123, fit->noise_var, 0.0, "a fixed problem noise_var is reported as is");
  P.pb.noise_var = 0.0;
  ok(infb_linreg_fit_penalized(&P.pb, -1.0, &od, fit) == GSL_EINVAL,
     "a negative lambda is GSL_EINVAL");

  gsl_vector_free(wref);
  infb_fit_free(fit);
  infb_fit_free(fit0);
  free_problem(&P);
}

static void
test_singular(gsl_rng *r)
{
  double mean[3] = { 0.0, 1.0, 0.0 }, scale[3] = { 1.0, 1.0, 1.0 };
  problem P;
  make_problem(&P, r, 20, 3, mean, scale, 0.0, 0.3);
  /* Column 2 duplicates column 0. */
  for (size_t i = 0; i < 20; i++)
    gsl_matrix_set(P.X, i, 2, gsl_matrix_get(P.X, i, 0));
  infb_fit *fit = infb_fit_alloc(3, 1), *fit0 = infb_fit_alloc(3, 0);
  for (int method = INFB_SOLVER_DIRECT; method <= INFB_SOLVER_BFGS; method++) {
    for (int conv = 0; conv < 3; conv++) {
      set_convention(&P, conv);
      infb_solver_options opt = { .tol = 1e-10, .max_iter = 100, .method = method };
      infb_error_clear();
      int st = infb_linreg_fit_penalized(&P.pb, 0.0, &opt, conv ? fit : fit0);
      is_int(INFB_ESINGULAR, st, "duplicate column, lambda=0, %s, %s: INFB_ESINGULAR",
             method == INFB_SOLVER_DIRECT ? "DIRECT" : "BFGS", conv_name[conv]);
      if (conv == 1)
        is_string(SINGULAR_MSG, infb_error_message(), "and the exact rank-deficiency message "
                  "(%s)", method == INFB_SOLVER_DIRECT ? "DIRECT" : "BFGS");
    }
  }
  /* λ > 0 makes the same design well posed; both copies get equal weight. */
  set_convention(&P, 1);
  infb_solver_options opt = { .tol = 1e-10, .max_iter = 100, .method = INFB_SOLVER_DIRECT };
  int st = infb_linreg_fit_penalized(&P.pb, 0.5, &opt, fit);
  ok(st == GSL_SUCCESS && fabs(gsl_vector_get(fit->w, 0) - gsl_vector_get(fit->w, 2)) <=
                              1e-10 * fabs(gsl_vector_get(fit->w, 0)),
     "duplicate column with lambda=0.5 fits, splitting the weight equally");

  /* A constant column is collinear with a FLAT intercept (but fine without one). */
  for (size_t i = 0; i < 20; i++)
    gsl_matrix_set(P.X, i, 2, 0.1);
  infb_error_clear();
  st = infb_linreg_fit_penalized(&P.pb, 0.0, &opt, fit);
  ok(st == INFB_ESINGULAR && strcmp(infb_error_message(), SINGULAR_MSG) == 0,
     "constant column 0.1 with a FLAT intercept, lambda=0: INFB_ESINGULAR, exact message");
  set_convention(&P, 0);
  ok(infb_linreg_fit_penalized(&P.pb, 0.0, &opt, fit0) == GSL_SUCCESS,
     "the same constant column without an intercept is full rank");
  infb_fit_free(fit);
  infb_fit_free(fit0);
  free_problem(&P);

  /* More features than observations. */
  double m5[5] = { 0 }, s5[5] = { 1, 1, 1, 1, 1 };
  make_problem(&P, r, 4, 5, m5, s5, 0.0, 0.3);
  fit0 = infb_fit_alloc(5, 0);
  is_int(INFB_ESINGULAR, infb_linreg_fit_penalized(&P.pb, 0.0, &opt, fit0),
         "n=4 < p=5 with lambda=0 is INFB_ESINGULAR");
  infb_fit_free(fit0);
  free_problem(&P);
}

int
main(void)
{
  plan(62);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 20240611);
  test_loglik(r);
  test_gradient(r);
  test_solvers(r);
  test_singular(r);
  infb_linreg_design_free(NULL);
  ok(1, "infb_linreg_design_free(NULL) is a no-op");
  gsl_rng_free(r);
  return test_done();
}
