/* Tests of infer/mle through infb_mle_fit: linreg against the normal equations solved by
 * LU in the test (every intercept convention; σ² = RSS/N), a rank-deficient linreg design,
 * logreg's gradient at the returned MLE (recomputed here), and separable logreg data. */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "infer/estimator.h"
#include "infer/mle.h"

#include <math.h>
#include <string.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

static const char *conv_name[] = {"no intercept", "FLAT intercept", "SAME intercept"};

static infb_problem
make_problem(infb_model_kind model, const gsl_matrix *X, const gsl_vector *y, int conv)
{
  infb_problem pb;
  memset(&pb, 0, sizeof pb);
  pb.model = model;
  pb.X = X;
  pb.y = y;
  pb.intercept = conv != 0;
  pb.intercept_prior = conv == 2 ? INFB_INTERCEPT_SAME : INFB_INTERCEPT_FLAT;
  pb.noise_var = 0.0;
  pb.seed = 5;
  return pb;
}

static double
zget(const gsl_matrix *X, size_t i, size_t j)
{
  return j < X->size2 ? gsl_matrix_get(X, i, j) : 1.0;
}

/* Least squares by the normal equations ZᵀZ θ = Zᵀy, Z = [X, 1] or X, solved by LU. */
static void
normal_equations(const gsl_matrix *X, const gsl_vector *y, int intercept, gsl_vector *theta)
{
  size_t n = X->size1, m = X->size2 + (intercept ? 1 : 0);
  gsl_matrix *A = gsl_matrix_calloc(m, m);
  gsl_vector *c = gsl_vector_calloc(m);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < m; j++) {
      *gsl_vector_ptr(c, j) += zget(X, i, j) * gsl_vector_get(y, i);
      for (size_t k = 0; k < m; k++)
        *gsl_matrix_ptr(A, j, k) += zget(X, i, j) * zget(X, i, k);
    }
  gsl_permutation *perm = gsl_permutation_alloc(m);
  int sg;
  gsl_linalg_LU_decomp(A, perm, &sg);
  gsl_linalg_LU_solve(A, perm, c, theta);
  gsl_permutation_free(perm);
  gsl_matrix_free(A);
  gsl_vector_free(c);
}

static void
test_linreg(gsl_rng *rng)
{
  const size_t n = 50, p = 3;
  gsl_matrix *X = gsl_matrix_alloc(n, p);
  gsl_vector *y = gsl_vector_alloc(n);
  for (size_t i = 0; i < n; i++) {
    double t = 2.5;
    for (size_t j = 0; j < p; j++) {
      double x = gsl_ran_gaussian(rng, 1.0) + 0.5 * (double)j; /* uncentred columns */
      gsl_matrix_set(X, i, j, x);
      t += (1.0 - 0.6 * (double)j) * x;
    }
    gsl_vector_set(y, i, t + gsl_ran_gaussian(rng, 0.3));
  }
  for (int conv = 0; conv < 3; conv++) {
    infb_problem pb = make_problem(INFB_MODEL_LINREG, X, y, conv);
    size_t m = p + (conv ? 1 : 0);
    infb_fit *f = infb_fit_alloc(p, pb.intercept);
    int st = infb_mle_fit(&pb, NULL, f);
    is_int(0, st, "linreg mle (%s)", conv_name[conv]);
    gsl_vector *th = gsl_vector_alloc(m);
    normal_equations(X, y, pb.intercept, th);
    double diff = 0.0, nrm = 0.0;
    for (size_t j = 0; j < m; j++) {
      double got = j < p ? gsl_vector_get(f->w, j) : f->intercept;
      diff = fmax(diff, fabs(got - gsl_vector_get(th, j)));
      nrm = fmax(nrm, fabs(gsl_vector_get(th, j)));
    }
    ok(diff <= 1e-8 * nrm, "linreg mle equals the LU solution of the normal equations (%s): "
                           "rel err %.2g",
       conv_name[conv], diff / nrm);
    if (!pb.intercept)
      is_double_abs(0.0, f->intercept, 0.0, "no intercept: b = 0");
    double rss = 0.0;
    for (size_t i = 0; i < n; i++) {
      double r = gsl_vector_get(y, i);
      for (size_t j = 0; j < m; j++)
        r -= zget(X, i, j) * gsl_vector_get(th, j);
      rss += r * r;
    }
    is_double_rel(rss / (double)n, f->noise_var, 1e-8, "linreg mle noise_var = RSS/N (%s)",
                  conv_name[conv]);
    /* A fixed σ² is kept. */
    pb.noise_var = 0.25;
    is_int(0, infb_mle_fit(&pb, NULL, f), "linreg mle with a fixed noise_var (%s)",
           conv_name[conv]);
    is_double_rel(0.25, f->noise_var, 1e-15, "a fixed noise_var is kept (%s)", conv_name[conv]);
    gsl_vector_free(th);
    infb_fit_free(f);
  }
  /* Rank-deficient: column 2 = column 0 − column 1. */
  for (size_t i = 0; i < n; i++)
    gsl_matrix_set(X, i, 2, gsl_matrix_get(X, i, 0) - gsl_matrix_get(X, i, 1));
  for (int conv = 0; conv < 3; conv += 2) {
    infb_problem pb = make_problem(INFB_MODEL_LINREG, X, y, conv);
    infb_fit *f = infb_fit_alloc(p, pb.intercept);
    infb_error_clear();
    is_int(INFB_ESINGULAR, infb_mle_fit(&pb, NULL, f),
           "linreg mle on a rank-deficient design: INFB_ESINGULAR (%s)", conv_name[conv]);
    ok(strstr(infb_error_message(), "use map") != NULL,
       "the message suggests map (%s): \"%s\"", conv_name[conv], infb_error_message());
    infb_fit_free(f);
  }
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

static double
sig(double t)
{
  return t > 0.0 ? 1.0 / (1.0 + exp(-t)) : exp(t) / (1.0 + exp(t));
}

static void
test_logreg(gsl_rng *rng)
{
  const size_t n = 150, p = 3;
  gsl_matrix *X = gsl_matrix_alloc(n, p);
  gsl_vector *y = gsl_vector_alloc(n);
  double ybar = 0.0;
  for (size_t i = 0; i < n; i++) {
    double eta = 0.4;
    for (size_t j = 0; j < p; j++) {
      double x = gsl_ran_gaussian(rng, 1.0);
      gsl_matrix_set(X, i, j, x);
      eta += (j == 1 ? -0.9 : 0.7) * x;
    }
    gsl_vector_set(y, i, gsl_rng_uniform(rng) < sig(eta) ? 1.0 : 0.0);
    ybar += gsl_vector_get(y, i) / (double)n;
  }
  /* The gradient scale of logreg.h: max(1, ‖Xᵀ(y − ȳ)‖∞). */
  double scale = 1.0;
  for (size_t j = 0; j < p; j++) {
    double c = 0.0;
    for (size_t i = 0; i < n; i++)
      c += gsl_matrix_get(X, i, j) * (gsl_vector_get(y, i) - ybar);
    scale = fmax(scale, fabs(c));
  }
  for (int conv = 0; conv < 3; conv++) {
    infb_problem pb = make_problem(INFB_MODEL_LOGREG, X, y, conv);
    size_t m = p + (conv ? 1 : 0);
    infb_fit *f = infb_fit_alloc(p, pb.intercept);
    is_int(0, infb_mle_fit(&pb, NULL, f), "logreg mle (%s)", conv_name[conv]);
    /* ∇ ln p(y|θ) = Σ (y_i − σ(z_iᵀθ)) z_i, recomputed here. */
    double g[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
      double eta = f->intercept;
      for (size_t j = 0; j < p; j++)
        eta += gsl_matrix_get(X, i, j) * gsl_vector_get(f->w, j);
      double r = gsl_vector_get(y, i) - sig(eta);
      for (size_t j = 0; j < m; j++)
        g[j] += r * zget(X, i, j);
    }
    double gn = 0.0;
    for (size_t j = 0; j < m; j++)
      gn = fmax(gn, fabs(g[j]));
    ok(gn / scale <= 1e-8, "logreg mle: |grad|inf / max(1, |X'(y - ybar)|inf) = %.2g <= 1e-8 "
                           "(%s)",
       gn / scale, conv_name[conv]);
    ok(isnan(f->noise_var), "logreg mle: noise_var is NAN (%s)", conv_name[conv]);
    infb_fit_free(f);
  }
  gsl_matrix_free(X);
  gsl_vector_free(y);

  /* Separable: y = [x > 0]. */
  X = gsl_matrix_alloc(30, 1);
  y = gsl_vector_alloc(30);
  for (size_t i = 0; i < 30; i++) {
    double x = gsl_ran_gaussian(rng, 1.0);
    gsl_matrix_set(X, i, 0, x);
    gsl_vector_set(y, i, x > 0.0 ? 1.0 : 0.0);
  }
  for (int conv = 0; conv < 3; conv += 1) {
    infb_problem pb = make_problem(INFB_MODEL_LOGREG, X, y, conv);
    infb_fit *f = infb_fit_alloc(1, pb.intercept);
    infb_error_clear();
    is_int(INFB_ESEPARABLE, infb_mle_fit(&pb, NULL, f),
           "logreg mle on separable data: INFB_ESEPARABLE (%s)", conv_name[conv]);
    ok(strstr(infb_error_message(), "use map") != NULL, "the message suggests map (%s)",
       conv_name[conv]);
    infb_fit_free(f);
  }
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

int
main(void)
{
  plan(36);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 8675309);
  test_linreg(rng);
  test_logreg(rng);
  infb_fit_free(NULL);
  ok(1, "infb_fit_free(NULL) is a no-op");
  gsl_rng_free(rng);
  return test_done();
}
