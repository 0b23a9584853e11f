/* Tests of model/logreg: the stable log-sigmoid, the log-likelihood against the naive
 * formula, finite-difference checks of the objective's gradient and Hessian for every
 * intercept convention, the Newton and BFGS solvers (accuracy checked by an explicit
 * Newton step built in the test), target validation, separation and rank deficiency. */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "infer/estimator.h"
#include "model/logreg.h"

#include <math.h>
#include <string.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define SEP_MSG                                                                            \
  "the classes are (quasi-)separable: the logistic MLE does not exist (weights diverge); " \
  "use map"
#define RANK_MSG \
  "the design matrix is rank-deficient: the MLE is not unique; use map with lambda > 0"

static const char *conv_name[] = {"no intercept", "FLAT intercept", "SAME intercept"};

/* conv 0: no intercept, 1: FLAT, 2: SAME. */
static infb_problem
make_problem(const gsl_matrix *X, const gsl_vector *y, int conv)
{
  infb_problem pb;
  memset(&pb, 0, sizeof pb);
  pb.model = INFB_MODEL_LOGREG;
  pb.X = X;
  pb.y = y;
  pb.intercept = conv != 0;
  pb.intercept_prior = conv == 2 ? INFB_INTERCEPT_SAME : INFB_INTERCEPT_FLAT;
  pb.seed = 1;
  return pb;
}

/* x_ij ~ N(0, 1) (column j scaled by 1 + j), y_i ~ Bernoulli(σ(x_iᵀw* + b*)). */
static void
gen_data(gsl_rng *rng, gsl_matrix *X, gsl_vector *y, double b_true)
{
  for (size_t i = 0; i < X->size1; i++) {
    double eta = b_true;
    for (size_t j = 0; j < X->size2; j++) {
      double x = (1.0 + (double)j) * gsl_ran_gaussian(rng, 1.0);
      gsl_matrix_set(X, i, j, x);
      eta += x * (j % 2 ? -0.8 : 1.1) / (1.0 + (double)j);
    }
    gsl_vector_set(y, i, gsl_rng_uniform(rng) < 1.0 / (1.0 + exp(-eta)) ? 1.0 : 0.0);
  }
}

/* The naive σ, only for moderate arguments. */
static double
naive_sigma(double t)
{
  return 1.0 / (1.0 + exp(-t));
}

/* The gradient of the penalised objective written out in the test:
 * g_w = −Σ(y − σ(η))x + αw, g_b = −Σ(y − σ(η)) (+ αb for SAME). */
static void
test_gradient(const infb_problem *pb, double alpha, const gsl_vector *theta, gsl_vector *g)
{
  size_t n = pb->X->size1, p = pb->X->size2;
  gsl_vector_set_zero(g);
  for (size_t i = 0; i < n; i++) {
    double eta = pb->intercept ? gsl_vector_get(theta, p) : 0.0;
    for (size_t j = 0; j < p; j++)
      eta += gsl_matrix_get(pb->X, i, j) * gsl_vector_get(theta, j);
    double res = gsl_vector_get(pb->y, i) - naive_sigma(eta);
    for (size_t j = 0; j < p; j++)
      *gsl_vector_ptr(g, j) -= res * gsl_matrix_get(pb->X, i, j);
    if (pb->intercept)
      *gsl_vector_ptr(g, p) -= res;
  }
  for (size_t j = 0; j < p; j++)
    *gsl_vector_ptr(g, j) += alpha * gsl_vector_get(theta, j);
  if (pb->intercept && pb->intercept_prior == INFB_INTERCEPT_SAME)
    *gsl_vector_ptr(g, p) += alpha * gsl_vector_get(theta, p);
}

/* ... and its Hessian: Σ σ(1 − σ) z zᵀ + α on the penalised diagonal. */
static void
test_hessian(const infb_problem *pb, double alpha, const gsl_vector *theta, gsl_matrix *H)
{
  size_t n = pb->X->size1, p = pb->X->size2, m = theta->size;
  gsl_matrix_set_zero(H);
  for (size_t i = 0; i < n; i++) {
    double eta = pb->intercept ? gsl_vector_get(theta, p) : 0.0;
    for (size_t j = 0; j < p; j++)
      eta += gsl_matrix_get(pb->X, i, j) * gsl_vector_get(theta, j);
    double s = naive_sigma(eta), r = s * (1.0 - s);
    for (size_t j = 0; j < m; j++)
      for (size_t k = 0; k < m; k++) {
        double zj = j < p ? gsl_matrix_get(pb->X, i, j) : 1.0;
        double zk = k < p ? gsl_matrix_get(pb->X, i, k) : 1.0;
        *gsl_matrix_ptr(H, j, k) += r * zj * zk;
      }
  }
  for (size_t j = 0; j < p; j++)
    *gsl_matrix_ptr(H, j, j) += alpha;
  if (pb->intercept && pb->intercept_prior == INFB_INTERCEPT_SAME)
    *gsl_matrix_ptr(H, p, p) += alpha;
}

static double
vec_norm_inf(const gsl_vector *v)
{
  double m = 0.0;
  for (size_t i = 0; i < v->size; i++)
    m = fmax(m, fabs(gsl_vector_get(v, i)));
  return m;
}

/* max(1, ‖Xᵀ(y − ȳ)‖∞), the gradient scale of logreg.h, computed here. */
static double
grad_scale(const infb_problem *pb)
{
  size_t n = pb->X->size1, p = pb->X->size2;
  double ybar = 0.0, s = 1.0;
  for (size_t i = 0; i < n; i++)
    ybar += gsl_vector_get(pb->y, i) / (double)n;
  for (size_t j = 0; j < p; j++) {
    double c = 0.0;
    for (size_t i = 0; i < n; i++)
      c += gsl_matrix_get(pb->X, i, j) * (gsl_vector_get(pb->y, i) - ybar);
    s = fmax(s, fabs(c));
  }
  return s;
}

static void
fit_theta(const infb_fit *f, gsl_vector *theta)
{
  for (size_t j = 0; j < f->p; j++)
    gsl_vector_set(theta, j, gsl_vector_get(f->w, j));
  if (f->has_intercept)
    gsl_vector_set(theta, f->p, f->intercept);
}

static void
test_log_sigmoid(void)
{
  double big = infb_log_sigmoid(800.0), small = infb_log_sigmoid(-800.0);
  ok(isfinite(big) && big <= 0.0 && big > -1e-300,
     "log_sigmoid(800) is finite and equals -exp(-800) (underflows to -0): %g", big);
  ok(isfinite(small), "log_sigmoid(-800) is finite (naive log(1/(1+exp(800))) is -inf): %g",
     small);
  /* ln σ(−800) = −800 − ln(1 + e^{−800}) = −800 to double precision. */
  is_double_rel(-800.0, small, 1e-15, "log_sigmoid(-800) = -800");
  static const double ts[] = {-700.0, -30.0, -5.0, -1.0, 0.0, 0.5, 3.0, 20.0, 40.0};
  double worst = 0.0;
  for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++) {
    /* −log1p(exp(−t)) is accurate while exp(−t) does not overflow (t > −709). */
    double want = -log1p(exp(-ts[k])), got = infb_log_sigmoid(ts[k]);
    worst = fmax(worst, fabs(got - want) / fabs(want));
  }
  ok(worst <= 1e-14, "log_sigmoid(t) = -log1p(exp(-t)) for t in [-700, 40] (worst rel %.2g)",
     worst);
  /* ln(1 − σ(t)) = ln σ(−t): at t = 40, 1 − σ(t) is exactly e^{−40}/(1 + e^{−40}). */
  is_double_rel(-40.0 - log1p(exp(-40.0)), infb_log_sigmoid(-40.0), 1e-15,
                "log(1 - sigma(40)) = log_sigmoid(-40) = -40 - log1p(exp(-40))");
}

static void
test_loglik(gsl_rng *rng)
{
  gsl_matrix *X = gsl_matrix_alloc(15, 3);
  gsl_vector *y = gsl_vector_alloc(15), *w = gsl_vector_alloc(3);
  gen_data(rng, X, y, 0.3);
  for (size_t j = 0; j < 3; j++)
    gsl_vector_set(w, j, 0.4 - 0.3 * (double)j);
  double b = -0.2, naive = 0.0, maxeta = 0.0;
  for (size_t i = 0; i < 15; i++) {
    double eta = b;
    for (size_t j = 0; j < 3; j++)
      eta += gsl_matrix_get(X, i, j) * gsl_vector_get(w, j);
    maxeta = fmax(maxeta, fabs(eta));
    double s = naive_sigma(eta), yi = gsl_vector_get(y, i);
    naive += yi * log(s) + (1.0 - yi) * log(1.0 - s);
  }
  ok(maxeta < 10.0, "loglik test data has moderate |eta| <= %.2g (naive formula accurate)",
     maxeta);
  is_double_rel(naive, infb_logreg_loglik(X, y, w, b), 1e-12,
                "loglik equals the naive sum of y ln s + (1-y) ln(1-s), n = 15, p = 3");
  gsl_vector *w2 = gsl_vector_alloc(2);
  infb_error_clear();
  ok(isnan(infb_logreg_loglik(X, y, w2, b)), "loglik with a w of the wrong length is NAN");
  gsl_vector_free(w2);
  gsl_matrix_free(X);
  gsl_vector_free(y);
  gsl_vector_free(w);
}

/* Central differences of f for the gradient and of the gradient for the Hessian. */
static void
test_fd(gsl_rng *rng)
{
  const size_t n = 25, p = 3;
  gsl_matrix *X = gsl_matrix_alloc(n, p);
  gsl_vector *y = gsl_vector_alloc(n);
  gen_data(rng, X, y, 0.5);
  static const double alphas[] = {0.0, 0.7};
  for (int conv = 0; conv < 3; conv++)
    for (size_t a = 0; a < 2; a++) {
      double alpha = alphas[a];
      infb_problem pb = make_problem(X, y, conv);
      size_t m = p + (conv ? 1 : 0);
      gsl_vector *th = gsl_vector_alloc(m), *g = gsl_vector_alloc(m), *gp = gsl_vector_alloc(m),
                 *gm = gsl_vector_alloc(m), *tg = gsl_vector_alloc(m);
      gsl_matrix *H = gsl_matrix_alloc(m, m), *TH = gsl_matrix_alloc(m, m);
      for (size_t j = 0; j < m; j++)
        gsl_vector_set(th, j, 0.6 * gsl_ran_gaussian(rng, 1.0) + 0.3);
      double f = infb_logreg_objective(&pb, alpha, th, g, H);
      /* The value: −loglik + ½α‖w‖² (+ ½αb² for SAME). */
      gsl_vector_view wv = gsl_vector_subvector(th, 0, p);
      double pen = 0.0;
      for (size_t j = 0; j < p; j++)
        pen += gsl_vector_get(th, j) * gsl_vector_get(th, j);
      double b = conv ? gsl_vector_get(th, p) : 0.0;
      if (conv == 2)
        pen += b * b;
      is_double_rel(-infb_logreg_loglik(X, y, &wv.vector, b) + 0.5 * alpha * pen, f, 1e-13,
                    "objective value = -loglik + penalty (%s, alpha %g)", conv_name[conv], alpha);
      double gerr = 0.0, herr = 0.0, h = 1e-5;
      for (size_t j = 0; j < m; j++) {
        double t0 = gsl_vector_get(th, j);
        gsl_vector_set(th, j, t0 + h);
        double fp = infb_logreg_objective(&pb, alpha, th, gp, NULL);
        gsl_vector_set(th, j, t0 - h);
        double fm = infb_logreg_objective(&pb, alpha, th, gm, NULL);
        gsl_vector_set(th, j, t0);
        gerr = fmax(gerr, fabs((fp - fm) / (2 * h) - gsl_vector_get(g, j)));
        for (size_t k = 0; k < m; k++)
          herr = fmax(herr, fabs((gsl_vector_get(gp, k) - gsl_vector_get(gm, k)) / (2 * h) -
                                 gsl_matrix_get(H, k, j)));
      }
      double gn = vec_norm_inf(g), hn = 0.0;
      for (size_t j = 0; j < m; j++)
        for (size_t k = 0; k < m; k++)
          hn = fmax(hn, fabs(gsl_matrix_get(H, j, k)));
      ok(gn > 1e-2, "gradient is not trivially zero (%s, alpha %g): |g| = %.3g",
         conv_name[conv], alpha, gn);
      /* Central differences: truncation O(h²)·f''' ≈ 1e-10·n, rounding eps·f/h ≈ 1e-10. */
      ok(gerr <= 1e-7 * gn, "gradient matches central differences (%s, alpha %g): err %.2g",
         conv_name[conv], alpha, gerr);
      ok(herr <= 1e-7 * hn, "Hessian matches central differences of the gradient "
                            "(%s, alpha %g): err %.2g",
         conv_name[conv], alpha, herr);
      /* And both against the formulas written out in the test. */
      test_gradient(&pb, alpha, th, tg);
      test_hessian(&pb, alpha, th, TH);
      gsl_vector_sub(tg, g);
      gsl_matrix_sub(TH, H);
      double the = 0.0;
      for (size_t j = 0; j < m; j++)
        for (size_t k = 0; k < m; k++)
          the = fmax(the, fabs(gsl_matrix_get(TH, j, k)));
      ok(vec_norm_inf(tg) <= 1e-12 * gn && the <= 1e-12 * hn,
         "gradient and Hessian equal the explicit sums (%s, alpha %g)", conv_name[conv], alpha);
      gsl_vector_free(th);
      gsl_vector_free(g);
      gsl_vector_free(gp);
      gsl_vector_free(gm);
      gsl_vector_free(tg);
      gsl_matrix_free(H);
      gsl_matrix_free(TH);
    }
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* Solve H d = −g with LU (the test's own Newton step). */
static void
lu_newton_step(const gsl_matrix *H, const gsl_vector *g, gsl_vector *d)
{
  size_t m = g->size;
  gsl_matrix *A = gsl_matrix_alloc(m, m);
  gsl_permutation *perm = gsl_permutation_alloc(m);
  int sg;
  gsl_matrix_memcpy(A, H);
  gsl_linalg_LU_decomp(A, perm, &sg);
  gsl_linalg_LU_solve(A, perm, g, d);
  gsl_vector_scale(d, -1.0);
  gsl_permutation_free(perm);
  gsl_matrix_free(A);
}

static void
test_newton_bfgs(gsl_rng *rng)
{
  const size_t n = 200, p = 3;
  gsl_matrix *X = gsl_matrix_alloc(n, p);
  gsl_vector *y = gsl_vector_alloc(n);
  gen_data(rng, X, y, -0.4);
  struct {
    int conv;
    double alpha;
  } cases[] = {{0, 0.0}, {1, 0.0}, {2, 0.0}, {1, 0.7}, {2, 0.7}, {0, 2.5}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    infb_problem pb = make_problem(X, y, cases[c].conv);
    double alpha = cases[c].alpha;
    size_t m = p + (pb.intercept ? 1 : 0);
    infb_fit *fn = infb_fit_alloc(p, pb.intercept), *fb = infb_fit_alloc(p, pb.intercept);
    infb_solver_options newton = {.tol = 0, .max_iter = 0, .method = INFB_SOLVER_NEWTON};
    infb_solver_options bfgs = {.tol = 1e-10, .max_iter = 2000, .method = INFB_SOLVER_BFGS};
    int st = infb_logreg_fit_penalized(&pb, alpha, &newton, fn);
    is_int(0, st, "newton fit succeeds (%s, alpha %g)", conv_name[cases[c].conv], alpha);
    is_string("converged", fn->stop_reason, "newton stop_reason (%s, alpha %g)",
              conv_name[cases[c].conv], alpha);
    gsl_vector *th = gsl_vector_alloc(m), *g = gsl_vector_alloc(m), *d = gsl_vector_alloc(m);
    gsl_matrix *H = gsl_matrix_alloc(m, m);
    fit_theta(fn, th);
    test_gradient(&pb, alpha, th, g);
    double rel = vec_norm_inf(g) / grad_scale(&pb);
    ok(rel <= 1e-8, "newton: |grad|inf / max(1, |X'(y - ybar)|inf) = %.2g <= 1e-8 "
                    "(%s, alpha %g)",
       rel, conv_name[cases[c].conv], alpha);
    /* One more Newton step built here bounds the distance to the optimum (quadratic
     * convergence): the weights are accurate to 1e-8 relative. */
    test_hessian(&pb, alpha, th, H);
    lu_newton_step(H, g, d);
    double derr = vec_norm_inf(d) / vec_norm_inf(th);
    ok(derr <= 1e-8, "newton: a further exact Newton step moves theta by %.2g relative "
                     "<= 1e-8 (%s, alpha %g)",
       derr, conv_name[cases[c].conv], alpha);
    st = infb_logreg_fit_penalized(&pb, alpha, &bfgs, fb);
    is_int(0, st, "bfgs fit succeeds (%s, alpha %g), stop %s after %zu", conv_name[cases[c].conv],
           alpha, fb->stop_reason, fb->iterations);
    double diff = 0.0;
    for (size_t j = 0; j < p; j++)
      diff = fmax(diff, fabs(gsl_vector_get(fb->w, j) - gsl_vector_get(fn->w, j)));
    diff = fmax(diff, fabs(fb->intercept - fn->intercept));
    ok(diff <= 1e-6 * vec_norm_inf(th), "bfgs agrees with newton to %.2g relative <= 1e-6 "
                                        "(%s, alpha %g)",
       diff / vec_norm_inf(th), conv_name[cases[c].conv], alpha);
    if (c == 1) {
      /* infb_logreg_hessian is the objective's Hessian at the fit. */
      gsl_matrix *H2 = gsl_matrix_alloc(m, m);
      is_int(0, infb_logreg_hessian(&pb, alpha, fn, H2), "logreg_hessian succeeds");
      gsl_matrix_sub(H2, H);
      double e = 0.0;
      for (size_t j = 0; j < m; j++)
        for (size_t k = 0; k < m; k++)
          e = fmax(e, fabs(gsl_matrix_get(H2, j, k)));
      ok(e <= 1e-12 * gsl_matrix_get(H, 0, 0), "logreg_hessian equals the explicit sum at the "
                                               "fit (err %.2g)",
         e);
      gsl_matrix *Hbad = gsl_matrix_alloc(m + 1, m + 1);
      is_int(GSL_EBADLEN, infb_logreg_hessian(&pb, alpha, fn, Hbad),
             "logreg_hessian rejects a wrongly sized H");
      gsl_matrix_free(Hbad);
      gsl_matrix_free(H2);
    }
    gsl_vector_free(th);
    gsl_vector_free(g);
    gsl_vector_free(d);
    gsl_matrix_free(H);
    infb_fit_free(fn);
    infb_fit_free(fb);
  }
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

static void
test_targets(gsl_rng *rng)
{
  gsl_matrix *X = gsl_matrix_alloc(6, 2);
  gsl_vector *y = gsl_vector_alloc(6);
  gen_data(rng, X, y, 0.0);
  infb_problem pb = make_problem(X, y, 1);
  infb_fit *f = infb_fit_alloc(2, 1);
  for (size_t i = 0; i < 6; i++)
    gsl_vector_set(y, i, (double)(i % 2));
  gsl_vector_set(y, 2, 0.5);
  infb_error_clear();
  is_int(INFB_EDATA, infb_logreg_fit_penalized(&pb, 1.0, NULL, f), "y = 0.5 is INFB_EDATA");
  is_string("the target must be 0 or 1 for logreg (row 3 has 0.5)", infb_error_message(),
            "non-0/1 target message");
  gsl_vector_set_all(y, 1.0);
  is_int(INFB_EDATA, infb_logreg_fit_penalized(&pb, 1.0, NULL, f), "all y = 1 is INFB_EDATA");
  is_string("the target has a single class (all 1): logistic regression needs both",
            infb_error_message(), "single class message (all 1)");
  gsl_vector_set_all(y, 0.0);
  infb_logreg_fit_penalized(&pb, 1.0, NULL, f);
  is_string("the target has a single class (all 0): logistic regression needs both",
            infb_error_message(), "single class message (all 0)");
  infb_fit_free(f);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* A 1-D problem from arrays. */
static void
fill_1d(gsl_matrix *X, gsl_vector *y, const double *x, const double *t)
{
  for (size_t i = 0; i < y->size; i++) {
    gsl_matrix_set(X, i, 0, x[i]);
    gsl_vector_set(y, i, t[i]);
  }
}

static void
expect_separable(const infb_problem *pb, int method, const char *what)
{
  infb_fit *f = infb_fit_alloc(pb->X->size2, pb->intercept);
  infb_solver_options o = {.tol = 0, .max_iter = 0, .method = method};
  infb_error_clear();
  int st = infb_logreg_fit_penalized(pb, 0.0, &o, f);
  is_int(INFB_ESEPARABLE, st, "%s (%s, %s): INFB_ESEPARABLE", what,
         method == INFB_SOLVER_BFGS ? "bfgs" : "newton", pb->intercept ? "intercept" : "no b");
  is_string(SEP_MSG, infb_error_message(), "%s: separation message", what);
  infb_fit_free(f);
}

static void
test_separation(gsl_rng *rng)
{
  /* Complete: x < 0 → 0, x > 0 → 1. */
  static const double xs[] = {-2.0, -1.3, -0.4, 0.2, 0.9, 1.7, 2.5, -0.8};
  static const double ys[] = {0, 0, 0, 1, 1, 1, 1, 0};
  gsl_matrix *X = gsl_matrix_alloc(8, 1);
  gsl_vector *y = gsl_vector_alloc(8);
  fill_1d(X, y, xs, ys);
  for (int conv = 0; conv < 3; conv += 2) {
    infb_problem pb = make_problem(X, y, conv);
    expect_separable(&pb, INFB_SOLVER_NEWTON, "complete separation");
    expect_separable(&pb, INFB_SOLVER_BFGS, "complete separation");
    /* α > 0: the optimum exists. */
    infb_fit *f = infb_fit_alloc(1, pb.intercept);
    int st = infb_logreg_fit_penalized(&pb, 1.0, NULL, f);
    gsl_vector *th = gsl_vector_alloc(1 + (conv ? 1 : 0)), *g = gsl_vector_alloc(th->size);
    fit_theta(f, th);
    test_gradient(&pb, 1.0, th, g);
    ok(st == 0 && strcmp(f->stop_reason, "converged") == 0 &&
           vec_norm_inf(g) <= 1e-8 * grad_scale(&pb) && gsl_vector_get(f->w, 0) > 0.0,
       "separable data with alpha = 1 converge to a finite optimum (%s): w = %g, |g| = %.2g",
       conv_name[conv], gsl_vector_get(f->w, 0), vec_norm_inf(g));
    gsl_vector_free(th);
    gsl_vector_free(g);
    infb_fit_free(f);
  }
  gsl_matrix_free(X);
  gsl_vector_free(y);

  /* Quasi-complete: two overlapping points at x = 0, the rest separated by x = 0. */
  static const double xq[] = {-2.0, -1.0, 0.0, 0.0, 1.0, 2.0};
  static const double yq[] = {0, 0, 0, 1, 1, 1};
  X = gsl_matrix_alloc(6, 1);
  y = gsl_vector_alloc(6);
  fill_1d(X, y, xq, yq);
  infb_problem pq = make_problem(X, y, 1);
  expect_separable(&pq, INFB_SOLVER_NEWTON, "quasi-separation (1-D, overlap at x = 0)");
  expect_separable(&pq, INFB_SOLVER_BFGS, "quasi-separation (1-D, overlap at x = 0)");
  /* A nearly separable problem whose MLE exists (one point on the wrong side) is not
   * flagged. */
  static const double xn[] = {-2.0, -1.0, -0.5, 0.3, 1.0, 2.0};
  static const double yn[] = {0, 0, 1, 0, 1, 1};
  fill_1d(X, y, xn, yn);
  infb_fit *f = infb_fit_alloc(1, 1);
  int st = infb_logreg_fit_penalized(&pq, 0.0, NULL, f);
  gsl_vector *th = gsl_vector_alloc(2), *g = gsl_vector_alloc(2);
  fit_theta(f, th);
  test_gradient(&pq, 0.0, th, g);
  ok(st == 0 && vec_norm_inf(g) <= 1e-8 * grad_scale(&pq),
     "overlapping 1-D data (MLE exists) are not flagged: status %d, w = %g, |g| = %.2g", st,
     gsl_vector_get(f->w, 0), vec_norm_inf(g));
  gsl_vector_free(th);
  gsl_vector_free(g);
  infb_fit_free(f);
  gsl_matrix_free(X);
  gsl_vector_free(y);

  /* Quasi-complete in 2-D: y = [x1 > 0] for x1 ≠ 0; on x1 = 0 three pairs of points
   * share x2 but not y, so no direction other than ±x1 separates them. */
  X = gsl_matrix_alloc(40, 2);
  y = gsl_vector_alloc(40);
  static const double x2pair[] = {-1.0, 0.5, 1.2};
  for (size_t i = 0; i < 40; i++) {
    double x1 = i < 6 ? 0.0 : gsl_ran_gaussian(rng, 1.0);
    double x2 = i < 6 ? x2pair[i / 2] : gsl_ran_gaussian(rng, 1.0);
    gsl_matrix_set(X, i, 0, x1);
    gsl_matrix_set(X, i, 1, x2);
    gsl_vector_set(y, i, i < 6 ? (double)(i % 2) : (double)(x1 > 0.0));
  }
  for (int conv = 0; conv < 3; conv++) {
    infb_problem p2 = make_problem(X, y, conv);
    expect_separable(&p2, INFB_SOLVER_NEWTON, "quasi-separation (2-D)");
  }
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* Random small 1-D problems with ties (x on a grid of 1/4), against the exact criterion:
 * with an intercept the data are (quasi-)separable iff one class lies weakly on one side
 * of a threshold (max of one class ≤ min of the other); without one, iff the classes lie
 * weakly on opposite sides of 0. */
static void
test_separation_random(gsl_rng *rng, int intercept, int method)
{
  const size_t n = 7;
  gsl_matrix *X = gsl_matrix_alloc(n, 1);
  gsl_vector *y = gsl_vector_alloc(n);
  int trials = 0, wrong = 0, nsep = 0;
  while (trials < 400) {
    size_t ones = 0;
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
      double x = round(4.0 * gsl_ran_gaussian(rng, 1.0)) / 4.0;
      double t = gsl_rng_uniform(rng) < naive_sigma(2.0 * x) ? 1.0 : 0.0;
      gsl_matrix_set(X, i, 0, x);
      gsl_vector_set(y, i, t);
      ones += t == 1.0;
      nonzero |= x != 0.0;
    }
    if (ones == 0 || ones == n || !nonzero)
      continue;
    trials++;
    double max0 = -HUGE_VAL, min0 = HUGE_VAL, max1 = -HUGE_VAL, min1 = HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
      double x = gsl_matrix_get(X, i, 0);
      if (gsl_vector_get(y, i) == 1.0) {
        max1 = fmax(max1, x);
        min1 = fmin(min1, x);
      } else {
        max0 = fmax(max0, x);
        min0 = fmin(min0, x);
      }
    }
    int sep = intercept ? (max0 <= min1 || max1 <= min0)
                        : ((max0 <= 0.0 && min1 >= 0.0) || (max1 <= 0.0 && min0 >= 0.0));
    nsep += sep;
    infb_problem pb = make_problem(X, y, intercept);
    infb_fit *f = infb_fit_alloc(1, pb.intercept);
    infb_solver_options o = {.tol = 0, .max_iter = 0, .method = method};
    int st = infb_logreg_fit_penalized(&pb, 0.0, &o, f);
    int flagged = st == INFB_ESEPARABLE;
    if (flagged != sep || (!flagged && st != 0))
      wrong++;
    infb_fit_free(f);
  }
  ok(wrong == 0 && nsep > 50 && nsep < 350,
     "400 random 1-D problems (%s, %s): separable iff the exact criterion says so "
     "(%d separable, %d wrong)",
     intercept ? "intercept" : "no intercept", method == INFB_SOLVER_BFGS ? "bfgs" : "newton",
     nsep, wrong);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

static void
test_rank(gsl_rng *rng)
{
  const size_t n = 50;
  gsl_matrix *X = gsl_matrix_alloc(n, 3);
  gsl_vector *y = gsl_vector_alloc(n);
  gen_data(rng, X, y, 0.2);
  for (size_t i = 0; i < n; i++) /* column 2 = 2·column 0 */
    gsl_matrix_set(X, i, 2, 2.0 * gsl_matrix_get(X, i, 0));
  infb_fit *f = infb_fit_alloc(3, 1);
  for (int conv = 0; conv < 3; conv++) {
    infb_problem pb = make_problem(X, y, conv);
    infb_fit *fc = infb_fit_alloc(3, pb.intercept);
    infb_error_clear();
    is_int(INFB_ESINGULAR, infb_logreg_fit_penalized(&pb, 0.0, NULL, fc),
           "collinear columns, alpha = 0 (%s): INFB_ESINGULAR", conv_name[conv]);
    is_string(RANK_MSG, infb_error_message(), "rank-deficiency message (%s)", conv_name[conv]);
    is_int(0, infb_logreg_fit_penalized(&pb, 0.5, NULL, fc),
           "collinear columns with alpha = 0.5 fit (%s)", conv_name[conv]);
    infb_fit_free(fc);
  }
  /* A constant column is collinear with the intercept (but not without one). */
  gen_data(rng, X, y, 0.2);
  for (size_t i = 0; i < n; i++)
    gsl_matrix_set(X, i, 1, 0.1);
  infb_problem pb = make_problem(X, y, 1);
  is_int(INFB_ESINGULAR, infb_logreg_fit_penalized(&pb, 0.0, NULL, f),
         "a constant column with an intercept, alpha = 0: INFB_ESINGULAR");
  infb_fit *f0 = infb_fit_alloc(3, 0);
  pb = make_problem(X, y, 0);
  is_int(0, infb_logreg_fit_penalized(&pb, 0.0, NULL, f0),
         "the same constant column without an intercept has full rank and fits");
  infb_fit_free(f0);
  infb_fit_free(f);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

int
main(void)
{
  plan(117);
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 20240611);
  test_log_sigmoid();
  test_loglik(rng);
  test_fd(rng);
  test_newton_bfgs(rng);
  test_targets(rng);
  test_separation(rng);
  test_separation_random(rng, 0, INFB_SOLVER_NEWTON);
  test_separation_random(rng, 1, INFB_SOLVER_NEWTON);
  test_separation_random(rng, 1, INFB_SOLVER_BFGS);
  test_rank(rng);
  gsl_rng_free(rng);
  return test_done();
}
