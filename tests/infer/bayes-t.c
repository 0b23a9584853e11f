/* Tests for infer/bayes: the log evidence against the dense Gaussian density of
 * y ~ N(0, β⁻¹I + α⁻¹ΦΦᵀ) (Φ = X, or [X 1] for the SAME intercept) and, for the FLAT
 * intercept, against 1-D quadrature of that density over b; the posterior mean against the
 * ridge normal equations; the posterior covariance against an explicit inverse of the
 * joint precision; type-II ML against finite differences of the evidence. */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "infer/bayes.h"

#include <math.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

typedef struct {
  gsl_matrix *X;
  gsl_vector *y;
  infb_problem pb;
} problem;

/* X n×p with column j ~ N(mean_j, 1) (correlated through a shared factor), y = Xw + b +
 * N(0, σ²). */
static void
make_problem(problem *P, gsl_rng *r, size_t n, size_t p, double b, double sigma)
{
  P->X = gsl_matrix_alloc(n, p);
  P->y = gsl_vector_alloc(n);
  for (size_t i = 0; i < n; i++) {
    double common = gsl_ran_gaussian(r, 1.0), f = b;
    for (size_t j = 0; j < p; j++) {
      double x = 0.3 * (double)j + 0.6 * common + gsl_ran_gaussian(r, 1.0);
      gsl_matrix_set(P->X, i, j, x);
      f += x * (j % 2 ? -0.7 : 1.1);
    }
    gsl_vector_set(P->y, i, f + gsl_ran_gaussian(r, sigma));
  }
  memset(&P->pb, 0, sizeof P->pb);
  P->pb.model = INFB_MODEL_LINREG;
  P->pb.X = P->X;
  P->pb.y = P->y;
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
  P->pb.intercept = conv != 0;
  P->pb.intercept_prior = conv == 2 ? INFB_INTERCEPT_SAME : INFB_INTERCEPT_FLAT;
}

static const char *conv_name[] = { "no intercept", "FLAT intercept", "SAME intercept" };

/* Φ entry: X, plus a ones column when `ones`. */
static double
phi(const problem *P, int ones, size_t i, size_t j)
{
  return j < P->X->size2 ? gsl_matrix_get(P->X, i, j) : (ones ? 1.0 : 0.0);
}

/* C = β⁻¹I + α⁻¹ΦΦᵀ factored by Cholesky; returns ln|C| and leaves the factor in L. */
static double
marginal_cov(const problem *P, int ones, double alpha, double beta, gsl_matrix *L)
{
  size_t n = P->X->size1, m = P->X->size2 + (ones ? 1 : 0);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < n; k++) {
      double s = 0.0;
      for (size_t j = 0; j < m; j++)
        s += phi(P, ones, i, j) * phi(P, ones, k, j);
      gsl_matrix_set(L, i, k, s / alpha + (i == k ? 1.0 / beta : 0.0));
    }
  gsl_linalg_cholesky_decomp1(L);
  double ld = 0.0;
  for (size_t i = 0; i < n; i++)
    ld += 2.0 * log(gsl_matrix_get(L, i, i));
  return ld;
}

/* ln N(v; 0, C) with C = LLᵀ. */
static double
log_gauss(const gsl_matrix *L, double logdet, const gsl_vector *v)
{
  size_t n = v->size;
  gsl_vector *s = gsl_vector_alloc(n);
  gsl_vector_memcpy(s, v);
  gsl_linalg_cholesky_svx(L, s);
  double q;
  gsl_blas_ddot(v, s, &q);
  gsl_vector_free(s);
  return -0.5 * q - 0.5 * logdet - 0.5 * (double)n * log(2.0 * M_PI);
}

/* The direct evidence: none/SAME as a dense Gaussian density of y. */
static double
direct_evidence(const problem *P, int ones, double alpha, double beta)
{
  size_t n = P->X->size1;
  gsl_matrix *L = gsl_matrix_alloc(n, n);
  double ld = marginal_cov(P, ones, alpha, beta, L);
  double v = log_gauss(L, ld, P->y);
  gsl_matrix_free(L);
  return v;
}

/* FLAT: ln ∫ N(y; b1, C) db by adaptive quadrature over the whole line (QAGI), the
 * integrand scaled by its value at b = ȳ so that it is O(1). */
typedef struct {
  const gsl_matrix *L;
  double logdet, ref;
  gsl_vector *v;
  const gsl_vector *y;
} flat_params;

static double
flat_integrand(double b, void *vp)
{
  flat_params *fp = vp;
  gsl_vector_memcpy(fp->v, fp->y);
  gsl_vector_add_constant(fp->v, -b);
  return exp(log_gauss(fp->L, fp->logdet, fp->v) - fp->ref);
}

static double
flat_evidence_quadrature(const problem *P, double alpha, double beta, double *abserr)
{
  size_t n = P->X->size1;
  gsl_matrix *L = gsl_matrix_alloc(n, n);
  double ld = marginal_cov(P, 0, alpha, beta, L);
  flat_params fp = { .L = L, .logdet = ld, .v = gsl_vector_alloc(n), .y = P->y };
  double ybar = 0.0;
  for (size_t i = 0; i < n; i++)
    ybar += gsl_vector_get(P->y, i) / (double)n;
  fp.ref = 0.0;
  fp.ref = log(flat_integrand(ybar, &fp));
  gsl_integration_workspace *w = gsl_integration_workspace_alloc(1000);
  gsl_function F = { .function = flat_integrand, .params = &fp };
  double val, err;
  gsl_integration_qagi(&F, 0.0, 1e-12, 1000, w, &val, &err);
  *abserr = err / val;
  gsl_integration_workspace_free(w);
  gsl_vector_free(fp.v);
  gsl_matrix_free(L);
  return log(val) + fp.ref;
}

/* The posterior of (w, b) by explicit LU inversion of the joint precision
 *   Λ = diag(α·1_p, α_b) + βΦ̃ᵀΦ̃,  Φ̃ = [X 1] (or X),  α_b = α (SAME) or 0 (FLAT),
 * with mean βΛ⁻¹Φ̃ᵀy — the ridge solution with λ = α/β (b unpenalised under FLAT). */
static void
joint_posterior(const problem *P, int conv, double alpha, double beta, gsl_vector *mean,
                gsl_matrix *cov)
{
  size_t n = P->X->size1, p = P->X->size2, k = p + (conv ? 1 : 0);
  gsl_matrix *Lam = gsl_matrix_calloc(k, k);
  gsl_vector *rhs = gsl_vector_calloc(k);
  gsl_permutation *perm = gsl_permutation_alloc(k);
  for (size_t a = 0; a < k; a++) {
    for (size_t c = 0; c < k; c++) {
      double s = 0.0;
      for (size_t i = 0; i < n; i++)
        s += phi(P, 1, i, a) * phi(P, 1, i, c);
      gsl_matrix_set(Lam, a, c, beta * s);
    }
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
      s += phi(P, 1, i, a) * gsl_vector_get(P->y, i);
    gsl_vector_set(rhs, a, beta * s);
    if (a < p || conv == 2)
      *gsl_matrix_ptr(Lam, a, a) += alpha;
  }
  int sgn;
  gsl_linalg_LU_decomp(Lam, perm, &sgn);
  gsl_linalg_LU_invert(Lam, perm, cov);
  gsl_blas_dgemv(CblasNoTrans, 1.0, cov, rhs, 0.0, mean);
  gsl_matrix_free(Lam);
  gsl_vector_free(rhs);
  gsl_permutation_free(perm);
}

static double
direct_any(const problem *P, int conv, double alpha, double beta)
{
  double e;
  return conv == 1 ? flat_evidence_quadrature(P, alpha, beta, &e)
                   : direct_evidence(P, conv == 2, alpha, beta);
}

static void
test_evidence(gsl_rng *r)
{
  problem P;
  make_problem(&P, r, 40, 3, 1.5, 0.6);
  const double ab[2][2] = { { 0.8, 2.5 }, { 5.0, 0.3 } };
  for (int conv = 0; conv < 3; conv++) {
    set_convention(&P, conv);
    for (int t = 0; t < 2; t++) {
      double a = ab[t][0], be = ab[t][1], got = NAN;
      int st = infb_bayes_log_evidence(&P.pb, a, be, &got);
      if (conv == 1) {
        double qerr;
        double want = flat_evidence_quadrature(&P, a, be, &qerr);
        ok(st == GSL_SUCCESS && fabs(got - want) <= 1e-7 * fabs(want),
           "FLAT log evidence equals ln ∫N(y; b1, I/beta + XXᵀ/alpha) db by QAGI "
           "(alpha=%g, beta=%g): %.12g vs %.12g (quadrature rel err %.1g)",
           a, be, got, want, qerr);
      } else {
        double want = direct_evidence(&P, conv == 2, a, be);
        ok(st == GSL_SUCCESS && fabs(got - want) <= 1e-9 * fabs(want),
           "log evidence equals the dense Gaussian density of y (%s, alpha=%g, beta=%g): "
           "%.12g vs %.12g",
           conv_name[conv], a, be, got, want);
      }
    }
  }
  /* The three conventions differ (so the tests above distinguish them). */
  double e0, e1, e2;
  set_convention(&P, 0);
  infb_bayes_log_evidence(&P.pb, 1.0, 1.0, &e0);
  set_convention(&P, 1);
  infb_bayes_log_evidence(&P.pb, 1.0, 1.0, &e1);
  set_convention(&P, 2);
  infb_bayes_log_evidence(&P.pb, 1.0, 1.0, &e2);
  ok(fabs(e0 - e1) > 1e-3 && fabs(e1 - e2) > 1e-3 && fabs(e0 - e2) > 1e-3,
     "the three intercept conventions give different evidences (%g, %g, %g)", e0, e1, e2);
  ok(infb_bayes_log_evidence(&P.pb, 0.0, 1.0, &e0) == GSL_EINVAL,
     "log_evidence with alpha = 0 is GSL_EINVAL");
  free_problem(&P);
}

/* Fixed (α, β): posterior mean and covariance against the explicit joint inverse. */
static void
test_posterior(gsl_rng *r)
{
  problem P;
  make_problem(&P, r, 35, 4, -1.0, 0.5);
  double alpha = 1.7, beta = 3.2;
  infb_bayes_options opt = { .alpha = alpha, .beta = beta, .tol = 1e-12, .max_iter = 100 };
  for (int conv = 0; conv < 3; conv++) {
    set_convention(&P, conv);
    size_t k = 4 + (conv ? 1 : 0);
    infb_fit *fit = infb_fit_alloc(4, conv != 0);
    gsl_vector *mean = gsl_vector_alloc(k);
    gsl_matrix *cov = gsl_matrix_alloc(k, k);
    joint_posterior(&P, conv, alpha, beta, mean, cov);
    int st = infb_bayes_fit(&P.pb, &opt, fit);
    is_int(GSL_SUCCESS, st, "bayes fit succeeds (%s)", conv_name[conv]);
    double em = 0.0, sm = 0.0, ec = 0.0, sc = 0.0;
    for (size_t a = 0; a < k; a++) {
      double got = a < 4 ? gsl_vector_get(fit->w, a) : fit->intercept;
      em = fmax(em, fabs(got - gsl_vector_get(mean, a)));
      sm = fmax(sm, fabs(gsl_vector_get(mean, a)));
      for (size_t c = 0; c < k; c++) {
        ec = fmax(ec, fabs(gsl_matrix_get(fit->cov, a, c) - gsl_matrix_get(cov, a, c)));
        sc = fmax(sc, fabs(gsl_matrix_get(cov, a, c)));
      }
    }
    ok(em <= 1e-10 * sm, "posterior mean (w, b) = ridge solution with lambda = alpha/beta "
       "(%s): max rel err %.3g", conv_name[conv], em / sm);
    ok(fit->cov && fit->cov->size1 == k && ec <= 1e-10 * sc,
       "posterior covariance of (w, b) = inverse of the joint precision by LU (%s): "
       "max rel err %.3g", conv_name[conv], ec / sc);
    double want = direct_any(&P, conv, alpha, beta);
    is_double_rel(want, fit->log_evidence, 1e-7, "fit->log_evidence equals the direct "
                  "computation (%s)", conv_name[conv]);
    ok(fit->alpha == alpha && fit->beta == beta && fit->noise_var == 1.0 / beta,
       "alpha, beta and noise_var = 1/beta reported as given (%s)", conv_name[conv]);
    ok(strcmp(fit->stop_reason, "closed form") == 0 && fit->iterations == 0,
       "fixed alpha and beta: stop_reason \"closed form\", 0 iterations (%s)",
       conv_name[conv]);
    if (conv == 1)
      is_string("intercept integrated out under a flat prior (evidence of the centred "
                "problem)", fit->note, "FLAT note names the convention");
    gsl_vector_free(mean);
    gsl_matrix_free(cov);
    infb_fit_free(fit);
  }

  /* A fixed problem noise_var overrides the options' beta. */
  set_convention(&P, 2);
  P.pb.noise_var = 0.25;
  infb_fit *fit = infb_fit_alloc(4, 1);
  infb_bayes_options ob = { .alpha = alpha, .beta = 99.0, .beta_evidence = 1, .tol = 1e-12,
                            .max_iter = 100 };
  infb_bayes_fit(&P.pb, &ob, fit);
  ok(fit->beta == 4.0 && fit->noise_var == 0.25 && fit->iterations == 0,
     "problem noise_var 0.25 fixes beta = 4 despite beta_evidence (beta %g, %zu iterations)",
     fit->beta, fit->iterations);
  P.pb.noise_var = 0.0;
  infb_bayes_options bad = { .alpha = -1.0, .beta = 1.0, .tol = 1e-12, .max_iter = 10 };
  is_int(GSL_EINVAL, infb_bayes_fit(&P.pb, &bad, fit), "a negative fixed alpha is GSL_EINVAL");
  P.pb.model = INFB_MODEL_LOGREG;
  is_int(GSL_EINVAL, infb_bayes_fit(&P.pb, &opt, fit), "a logreg problem is GSL_EINVAL");
  P.pb.model = INFB_MODEL_LINREG;
  infb_fit_free(fit);
  free_problem(&P);
}

/* Type-II ML.  At the fixed point ∂ln p/∂ln α = ∂ln p/∂ln β = 0.  Central differences in
 * (ln α, ln β) with h = 1e-4: the truncation error h²|f'''|/6 is below 1e-8·N (the third
 * log-derivatives of a sum of N + M log terms are O(N)), rounding ε|f|/h ≈ 1e-10; the
 * fixed point is converged to a relative change 1e-13.  So |derivative| ≤ 1e-5 is a
 * safe bound, while a factor 1.5 away from the optimum the derivative is O(1) (checked as
 * a guard). */
static double
evid(const problem *P, double la, double lb)
{
  double v;
  infb_bayes_log_evidence(&P->pb, exp(la), exp(lb), &v);
  return v;
}

static void
test_typeII(gsl_rng *r)
{
  problem P;
  make_problem(&P, r, 50, 3, 0.8, 0.7);
  infb_bayes_options opt = { .alpha = 1.0, .beta = 1.0, .alpha_evidence = 1,
                             .beta_evidence = 1, .tol = 1e-13, .max_iter = 10000 };
  const double h = 1e-4;
  for (int conv = 0; conv < 3; conv++) {
    set_convention(&P, conv);
    infb_fit *fit = infb_fit_alloc(3, conv != 0);
    int st = infb_bayes_fit(&P.pb, &opt, fit);
    ok(st == GSL_SUCCESS && strcmp(fit->stop_reason, "converged") == 0 && fit->iterations > 0,
       "type-II ML converges (%s): alpha %g, beta %g after %zu iterations", conv_name[conv],
       fit->alpha, fit->beta, fit->iterations);
    double la = log(fit->alpha), lb = log(fit->beta);
    double da = (evid(&P, la + h, lb) - evid(&P, la - h, lb)) / (2 * h);
    double db = (evid(&P, la, lb + h) - evid(&P, la, lb - h)) / (2 * h);
    ok(fabs(da) <= 1e-5 && fabs(db) <= 1e-5,
       "d ln p / d ln alpha and d ln p / d ln beta vanish at the fixed point (%s): %.2g, %.2g",
       conv_name[conv], da, db);
    double ga = (evid(&P, la + log(1.5) + h, lb) - evid(&P, la + log(1.5) - h, lb)) / (2 * h);
    double gb = (evid(&P, la, lb + log(1.5) + h) - evid(&P, la, lb + log(1.5) - h)) / (2 * h);
    ok(fabs(ga) > 1e-2 && fabs(gb) > 1e-2,
       "guard: the derivatives are clearly nonzero at 1.5x alpha, beta (%s): %.2g, %.2g",
       conv_name[conv], ga, gb);
    /* The value at the optimum, checked independently, beats every perturbation. */
    double best = direct_any(&P, conv, fit->alpha, fit->beta);
    is_double_rel(best, fit->log_evidence, 1e-7, "the reported log evidence at the optimum "
                  "equals the direct computation (%s)", conv_name[conv]);
    int higher = 1;
    for (int sa = -1; sa <= 1; sa++)
      for (int sb = -1; sb <= 1; sb++) {
        if (!sa && !sb)
          continue;
        double v = direct_any(&P, conv, fit->alpha * exp(0.2 * sa), fit->beta * exp(0.2 * sb));
        if (!(v < best))
          higher = 0;
      }
    ok(higher, "the optimum beats the 8 perturbations (alpha, beta)·e^{±0.2} (direct "
       "evidences, %s)", conv_name[conv]);
    is_double_rel(1.0 / fit->beta, fit->noise_var, 1e-15, "noise_var = 1/beta (%s)",
                  conv_name[conv]);
    infb_fit_free(fit);
  }

  /* α alone (β fixed by the options): ∂/∂ln α vanishes, β untouched. */
  set_convention(&P, 1);
  infb_fit *fit = infb_fit_alloc(3, 1);
  infb_bayes_options oa = { .alpha = 2.0, .beta = 1.3, .alpha_evidence = 1, .tol = 1e-13,
                            .max_iter = 10000 };
  infb_bayes_fit(&P.pb, &oa, fit);
  double la = log(fit->alpha), lb = log(1.3);
  double da = (evid(&P, la + h, lb) - evid(&P, la - h, lb)) / (2 * h);
  ok(fit->beta == 1.3 && fabs(da) <= 1e-5,
     "alpha-only evidence maximisation: beta stays 1.3, d ln p/d ln alpha = %.2g", da);
  /* An iteration cap reached is reported. */
  infb_bayes_options o1 = opt;
  o1.max_iter = 1;
  infb_bayes_fit(&P.pb, &o1, fit);
  ok(strcmp(fit->stop_reason, "max_iter") == 0 && fit->iterations == 1,
     "max_iter=1 stops with \"max_iter\" after 1 iteration (got \"%s\")", fit->stop_reason);
  /* Without starting values the data-derived ones are used. */
  infb_bayes_options o0 = opt;
  o0.alpha = o0.beta = 0.0;
  double a_ref = NAN;
  infb_bayes_fit(&P.pb, &opt, fit);
  a_ref = fit->alpha;
  ok(infb_bayes_fit(&P.pb, &o0, fit) == GSL_SUCCESS &&
         fabs(fit->alpha - a_ref) <= 1e-8 * a_ref,
     "type-II ML from the default start reaches the same alpha (%g vs %g)", fit->alpha, a_ref);
  infb_fit_free(fit);
  free_problem(&P);
}

int
main(void)
{
  plan(6 + 2 + 3 * 6 + 1 + 3 + 3 * 6 + 3);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 314159);
  test_evidence(r);
  test_posterior(r);
  test_typeII(r);
  gsl_rng_free(r);
  return test_done();
}
