/* Tests for infer/em (and the EM / PPCA closed form of model/lingauss): the EM trace
 * never decreases; at convergence the exact log-likelihood is stationary (central
 * differences in W, b, ln psi); PPCA EM converges to the closed form (compared through
 * the rotation-invariant WWᵀ and σ²), which is stationary and beats random PPCA models;
 * EM recovers the covariance of a known FA model; the psi floor; option and data
 * validation messages.  MATH.md §3. */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "infer/em.h"
#include "model/lingauss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* ------------------------------------------------------------ references */

/* Mean ln N(x_i; b, WWᵀ + Ψ) over the rows of X with C formed and factorised here (not
 * through the Woodbury cache). */
static double
dense_mean_ll(const infb_lingauss *m, const gsl_matrix *X)
{
  size_t D = m->D, n = X->size1;
  gsl_matrix *C = gsl_matrix_alloc(D, D);
  for (size_t a = 0; a < D; a++)
    for (size_t b = 0; b < D; b++) {
      double s = a == b ? gsl_vector_get(m->psi, a) : 0.0;
      for (size_t k = 0; k < m->K; k++)
        s += gsl_matrix_get(m->W, a, k) * gsl_matrix_get(m->W, b, k);
      gsl_matrix_set(C, a, b, s);
    }
  gsl_linalg_cholesky_decomp1(C);
  double logdet = 0.0;
  for (size_t d = 0; d < D; d++)
    logdet += 2.0 * log(gsl_matrix_get(C, d, d));
  gsl_vector *e = gsl_vector_alloc(D), *y = gsl_vector_alloc(D);
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    for (size_t d = 0; d < D; d++)
      gsl_vector_set(e, d, gsl_matrix_get(X, i, d) - gsl_vector_get(m->b, d));
    gsl_linalg_cholesky_solve(C, e, y);
    double q;
    gsl_blas_ddot(e, y, &q);
    sum += -0.5 * ((double)D * log(2.0 * M_PI) + logdet + q);
  }
  gsl_vector_free(e);
  gsl_vector_free(y);
  gsl_matrix_free(C);
  return sum / (double)n;
}

/* Mean ln p(x_i) through the model's exact logpx. */
static double
mean_ll(const infb_lingauss *m, const gsl_matrix *X)
{
  infb_lingauss_cache *c = infb_lingauss_cache_alloc(m->D, m->K);
  gsl_vector *lp = gsl_vector_alloc(X->size1);
  double s = NAN;
  if (!infb_lingauss_cache_set(c, m) && !infb_lingauss_logpx(c, X, lp)) {
    s = 0.0;
    for (size_t i = 0; i < X->size1; i++)
      s += gsl_vector_get(lp, i);
    s /= (double)X->size1;
  }
  gsl_vector_free(lp);
  infb_lingauss_cache_free(c);
  return s;
}

/* max |∂(mean ln p)/∂θ| over θ = (W, b, ln psi) by central differences (step h); with
 * shared_psi the noise direction is ln σ² for all d at once (PPCA). */
static double
fd_grad_max(infb_lingauss *m, const gsl_matrix *X, int shared_psi)
{
  const double h = 1e-5;
  size_t D = m->D, K = m->K;
  double g = 0.0;
  for (size_t d = 0; d < D; d++)
    for (size_t k = 0; k < K; k++) {
      double w = gsl_matrix_get(m->W, d, k);
      gsl_matrix_set(m->W, d, k, w + h);
      double fp = mean_ll(m, X);
      gsl_matrix_set(m->W, d, k, w - h);
      double fm = mean_ll(m, X);
      gsl_matrix_set(m->W, d, k, w);
      g = GSL_MAX(g, fabs(fp - fm) / (2.0 * h));
    }
  for (size_t d = 0; d < D; d++) {
    double b = gsl_vector_get(m->b, d);
    gsl_vector_set(m->b, d, b + h);
    double fp = mean_ll(m, X);
    gsl_vector_set(m->b, d, b - h);
    double fm = mean_ll(m, X);
    gsl_vector_set(m->b, d, b);
    g = GSL_MAX(g, fabs(fp - fm) / (2.0 * h));
  }
  for (size_t d = 0; d < (shared_psi ? 1 : D); d++) {
    gsl_vector *save = gsl_vector_alloc(D);
    gsl_vector_memcpy(save, m->psi);
    if (shared_psi)
      gsl_vector_scale(m->psi, exp(h));
    else
      gsl_vector_set(m->psi, d, gsl_vector_get(save, d) * exp(h));
    double fp = mean_ll(m, X);
    gsl_vector_memcpy(m->psi, save);
    if (shared_psi)
      gsl_vector_scale(m->psi, exp(-h));
    else
      gsl_vector_set(m->psi, d, gsl_vector_get(save, d) * exp(-h));
    double fm = mean_ll(m, X);
    gsl_vector_memcpy(m->psi, save);
    gsl_vector_free(save);
    g = GSL_MAX(g, fabs(fp - fm) / (2.0 * h));
  }
  return g;
}

/* WWᵀ (D×D). */
static gsl_matrix *
wwt(const infb_lingauss *m)
{
  gsl_matrix *G = gsl_matrix_alloc(m->D, m->D);
  for (size_t a = 0; a < m->D; a++)
    for (size_t b = 0; b < m->D; b++) {
      double s = 0.0;
      for (size_t k = 0; k < m->K; k++)
        s += gsl_matrix_get(m->W, a, k) * gsl_matrix_get(m->W, b, k);
      gsl_matrix_set(G, a, b, s);
    }
  return G;
}

static double
max_abs(const gsl_matrix *M)
{
  double s = 0.0;
  for (size_t i = 0; i < M->size1; i++)
    for (size_t j = 0; j < M->size2; j++)
      s = GSL_MAX(s, fabs(gsl_matrix_get(M, i, j)));
  return s;
}

static gsl_matrix *
synth(size_t D, size_t K, int ppca, size_t n, double psi_min, double psi_max, unsigned long seed,
      infb_lingauss **truth)
{
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, seed);
  infb_lingauss *t = infb_lingauss_alloc(D, K, ppca);
  infb_lingauss_random(t, r, 1.0, 2.0, psi_min, psi_max);
  gsl_matrix *X = gsl_matrix_alloc(n, D);
  infb_lingauss_sample(t, r, X, NULL);
  gsl_rng_free(r);
  if (truth)
    *truth = t;
  else
    infb_lingauss_free(t);
  return X;
}

/* ------------------------------------------------------------ tests */

static void
test_validation(void)
{
  gsl_matrix *X = gsl_matrix_alloc(3, 5);
  gsl_matrix_set_all(X, 1.0);
  int st = infb_lingauss_check_data(X, 5);
  ok(st == INFB_ECONFIG, "check_data K = 5, D = 5 is INFB_ECONFIG");
  is_string("latent dimension K = 5 must be between 1 and D − 1 = 4", infb_error_message(),
            "check_data message for K = D");
  st = infb_lingauss_check_data(X, 0);
  ok(st == INFB_ECONFIG &&
         strcmp(infb_error_message(),
                "latent dimension K = 0 must be between 1 and D − 1 = 4") == 0,
     "check_data K = 0: \"%s\"", infb_error_message());
  ok(infb_lingauss_check_data(X, 4) == 0, "check_data K = 4, D = 5 is accepted");
  gsl_matrix_set(X, 1, 2, NAN);
  st = infb_lingauss_check_data(X, 2);
  ok(st == INFB_EDATA, "check_data with a NaN cell is INFB_EDATA");
  is_string("data row 2, column 3 is not finite (nan)", infb_error_message(),
            "check_data message for a NaN cell");
  gsl_matrix_set(X, 1, 2, 1.0);

  infb_lingauss *m = infb_lingauss_alloc(5, 2, 0);
  infb_em_fit_options o = { 10, 1e-8, 1e-6, 0.1, INFB_EM_ITERATE, 0.0 };
  infb_em_result res;
  m->K = 5; /* a model claiming K = D reaches the data check */
  st = infb_em_fit(m, X, &o, NULL, &res);
  m->K = 2;
  ok(st == INFB_ECONFIG &&
         strcmp(infb_error_message(),
                "latent dimension K = 5 must be between 1 and D − 1 = 4") == 0 &&
         res.trace == NULL,
     "em_fit rejects K = D with the check_data message");
  o.init_scale = 0.0;
  ok(infb_em_fit(m, X, &o, NULL, &res) == GSL_EINVAL,
     "em_fit rejects init_scale = 0 (W = 0 is a fixed point)");
  o.init_scale = 0.1;
  o.method = INFB_EM_PPCA_CLOSED;
  st = infb_em_fit(m, X, &o, NULL, &res);
  ok(st == GSL_EINVAL &&
         strcmp(infb_error_message(), "the PPCA closed form needs a ppca model") == 0,
     "em_fit PPCA_CLOSED on an FA model: \"%s\"", infb_error_message());
  o.method = INFB_EM_ITERATE;
  ok(infb_em_fit(m, X, &o, NULL, &res) == GSL_EINVAL,
     "em_fit INFB_EM_ITERATE without a generator is GSL_EINVAL");
  o.tol = -1.0;
  ok(infb_em_fit(m, X, &o, NULL, &res) == GSL_EINVAL, "em_fit rejects tol = -1");
  infb_em_result_free(NULL);
  infb_em_result_free(&res);
  infb_em_result_free(&res);
  ok(res.trace == NULL, "em_result_free(NULL) is a no-op and freeing twice is safe");
  infb_lingauss_free(m);
  gsl_matrix_free(X);
}

/* FA on synthetic data: monotone trace, consistency of the trace with logpx, and a
 * stationary point at convergence. */
static void
test_fa_em(void)
{
  size_t D = 8, K = 3, n = 2000;
  gsl_matrix *X = synth(D, K, 0, n, 0.3, 1.0, 101, NULL);
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 5);
  infb_em_fit_options o = { 0, 0.0, 1e-6, 0.1, INFB_EM_ITERATE, 0.0 };
  infb_em_result res;
  /* max_iter = 0: the initialisation, whose gradient guards the stationarity test. */
  int st = infb_em_fit(m, X, &o, r, &res);
  double g0 = fd_grad_max(m, X, 0);
  ok(st == 0 && res.iterations == 0 && res.trace_len == 1 &&
         strcmp(res.stop_reason, "max_iter") == 0 && g0 > 1e-2,
     "FA max_iter = 0: the initial point, not stationary (max |∂ll/∂θ| = %.3g)", g0);
  infb_em_result_free(&res);

  gsl_rng_set(r, 5);
  o.max_iter = 50000;
  o.tol = 0.0;
  st = infb_em_fit(m, X, &o, r, &res);
  size_t down = 0;
  double worst = 0.0;
  for (size_t t = 0; st == 0 && t + 1 < res.trace_len; t++) {
    double drop = res.trace[t] - res.trace[t + 1];
    worst = GSL_MAX(worst, drop / fabs(res.trace[t]));
    down += drop > 1e-10 * fabs(res.trace[t]);
  }
  ok(st == 0 && res.iterations > 20 && down == 0,
     "FA D=8 K=3: EM trace never decreases over %zu iterations (worst relative drop %.2g)",
     res.iterations, worst);
  ok(st == 0 && strcmp(res.stop_reason, "converged") == 0,
     "FA: stops with \"converged\" (tol = 0: no further rise) after %zu iterations",
     res.iterations);
  double lw = mean_ll(m, X), ld = dense_mean_ll(m, X);
  ok(st == 0 && res.loglik == res.trace[res.iterations] &&
         fabs(res.loglik - ld) <= 1e-11 * fabs(ld) && fabs(lw - ld) <= 1e-11 * fabs(ld),
     "FA: final loglik %.12f = mean dense ln N(x; b, C) %.12f = mean logpx", res.loglik, ld);
  double g = fd_grad_max(m, X, 0);
  ok(g <= 1e-6, "FA: at convergence max |∂ mean ln p(x)/∂(W, b, ln psi)| = %.2g ≤ 1e-6", g);
  infb_em_result_free(&res);

  /* max_iter reached. */
  gsl_rng_set(r, 5);
  o.max_iter = 7;
  st = infb_em_fit(m, X, &o, r, &res);
  ok(st == 0 && res.iterations == 7 && res.trace_len == 8 &&
         strcmp(res.stop_reason, "max_iter") == 0,
     "FA max_iter = 7: 7 iterations, 8 trace entries, \"max_iter\"");
  infb_lingauss *m2 = infb_lingauss_alloc(D, K, 0);
  infb_em_result res2;
  gsl_rng_set(r, 5);
  st = infb_em_fit(m2, X, &o, r, &res2);
  ok(st == 0 && gsl_matrix_equal(m->W, m2->W) && gsl_vector_equal(m->psi, m2->psi) &&
         res.loglik == res2.loglik,
     "FA: the same rng seed gives the same fit");
  infb_em_result_free(&res);
  infb_em_result_free(&res2);

  /* infb_lingauss_em from a start with b ≠ x̄: trace[0] is the exact ll there (checks the
   * δ = x̄ − b term of the moment formula against the dense density). */
  gsl_vector_add_constant(m2->b, 0.3);
  gsl_vector_set(m2->psi, 1, 2.0);
  double want = dense_mean_ll(m2, X);
  double trace[4];
  size_t iters, nfl;
  char reason[16];
  infb_lingauss_em_options eo = { 3, 0.0, 1e-6, 0.0 };
  st = infb_lingauss_em(m2, X, &eo, trace, &iters, &nfl, reason, sizeof reason);
  ok(st == 0 && fabs(trace[0] - want) <= 1e-12 * fabs(want) && iters == 3 && trace[1] > trace[0],
     "lingauss_em: trace[0] = %.12f = dense mean ll at a start with b ≠ x̄ (%.12f); then rises",
     trace[0], want);
  infb_lingauss_free(m2);
  infb_lingauss_free(m);
  gsl_rng_free(r);
  gsl_matrix_free(X);
}

/* PPCA: EM at convergence = the closed form; the closed form is stationary and beats
 * random PPCA models. */
static void
test_ppca(void)
{
  size_t D = 6, K = 2, n = 1000;
  infb_lingauss *truth;
  gsl_matrix *X = synth(D, K, 1, n, 0.4, 0.4, 202, &truth);
  infb_lingauss *mc = infb_lingauss_alloc(D, K, 1), *me = infb_lingauss_alloc(D, K, 1);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 6);
  infb_em_fit_options o = { 0, 0.0, 1e-6, 0.1, INFB_EM_PPCA_CLOSED, 0.0 };
  infb_em_result rc, re;
  int st = infb_em_fit(mc, X, &o, r, &rc);
  double ldc = dense_mean_ll(mc, X);
  ok(st == 0 && strcmp(rc.stop_reason, "closed form") == 0 && rc.trace_len == 1 &&
         fabs(rc.loglik - ldc) <= 1e-12 * fabs(ldc),
     "PPCA closed form: loglik %.10f = mean dense ln N(x; b, C) %.10f", rc.loglik, ldc);
  double g = fd_grad_max(mc, X, 1);
  ok(g <= 1e-8,
     "PPCA closed form (1/N covariance) is stationary: max |∂ll/∂(W, b, ln σ²)| = %.2g", g);

  o.method = INFB_EM_ITERATE;
  o.max_iter = 100000;
  st = infb_em_fit(me, X, &o, r, &re);
  int iso = 1;
  for (size_t d = 1; d < D; d++)
    iso &= gsl_vector_get(me->psi, d) == gsl_vector_get(me->psi, 0);
  ok(st == 0 && iso && strcmp(re.stop_reason, "converged") == 0,
     "PPCA EM: converged in %zu iterations with psi isotropic", re.iterations);
  gsl_matrix *Gc = wwt(mc), *Ge = wwt(me);
  gsl_matrix_sub(Ge, Gc);
  double werr = max_abs(Ge) / max_abs(Gc);
  double s2c = gsl_vector_get(mc->psi, 0), s2e = gsl_vector_get(me->psi, 0);
  double serr = fabs(s2e - s2c) / s2c;
  diag("PPCA EM vs closed form: WWᵀ max rel err %.3g, sigma^2 rel err %.3g", werr, serr);
  ok(werr <= 1e-6, "PPCA EM at convergence: WWᵀ = closed form (max err / max |WWᵀ| = %.2g)",
     werr);
  ok(serr <= 1e-6, "PPCA EM at convergence: σ² = %.10f = closed form %.10f (rel err %.2g)", s2e,
     s2c, serr);
  ok(rc.loglik >= re.loglik - 1e-12 * fabs(re.loglik),
     "PPCA closed-form loglik %.12f ≥ EM loglik %.12f − 1e-12·|ll|", rc.loglik, re.loglik);
  /* Random PPCA models (around the truth and fully random) never beat it. */
  infb_lingauss *mr = infb_lingauss_alloc(D, K, 1);
  size_t better = 0;
  for (int rep = 0; rep < 30; rep++) {
    if (rep % 2) {
      infb_lingauss_random(mr, r, 1.0, 2.0, 0.1, 2.0);
    } else {
      infb_lingauss_copy(mr, mc);
      for (size_t d = 0; d < D; d++) {
        for (size_t k = 0; k < K; k++)
          *gsl_matrix_ptr(mr->W, d, k) += gsl_ran_gaussian(r, 0.05);
        *gsl_vector_ptr(mr->b, d) += gsl_ran_gaussian(r, 0.05);
      }
      gsl_vector_scale(mr->psi, exp(gsl_ran_gaussian(r, 0.1)));
    }
    better += mean_ll(mr, X) > rc.loglik;
  }
  ok(better == 0, "PPCA closed form beats 30 random / perturbed PPCA models (%zu did better)",
     better);
  /* The truth, too (it is one particular PPCA model). */
  ok(mean_ll(truth, X) <= rc.loglik, "PPCA closed form beats the generating model");
  infb_em_result_free(&rc);
  infb_em_result_free(&re);
  gsl_matrix_free(Gc);
  gsl_matrix_free(Ge);
  infb_lingauss_free(mr);
  infb_lingauss_free(truth);
  infb_lingauss_free(mc);
  infb_lingauss_free(me);
  gsl_rng_free(r);
  gsl_matrix_free(X);
}

/* EM on a large sample from a known FA model recovers C = WWᵀ + Ψ: each entry within 5
 * standard errors of a Gaussian sample covariance entry, sqrt((C_aa C_bb + C_ab²)/n). */
static void
test_recovery(void)
{
  size_t D = 5, K = 2, n = 50000;
  infb_lingauss *truth;
  gsl_matrix *X = synth(D, K, 0, n, 0.2, 1.0, 303, &truth);
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 7);
  infb_em_fit_options o = { 5000, 1e-12, 1e-6, 0.1, INFB_EM_ITERATE, 0.0 };
  infb_em_result res;
  int st = infb_em_fit(m, X, &o, r, &res);
  gsl_matrix *Ct = wwt(truth), *Ch = wwt(m);
  for (size_t d = 0; d < D; d++) {
    *gsl_matrix_ptr(Ct, d, d) += gsl_vector_get(truth->psi, d);
    *gsl_matrix_ptr(Ch, d, d) += gsl_vector_get(m->psi, d);
  }
  double zmax = 0.0;
  for (size_t a = 0; a < D; a++)
    for (size_t b = 0; b < D; b++) {
      double se = sqrt((gsl_matrix_get(Ct, a, a) * gsl_matrix_get(Ct, b, b) +
                        gsl_matrix_get(Ct, a, b) * gsl_matrix_get(Ct, a, b)) /
                       (double)n);
      zmax = GSL_MAX(zmax, fabs(gsl_matrix_get(Ch, a, b) - gsl_matrix_get(Ct, a, b)) / se);
    }
  ok(st == 0 && zmax <= 5.0,
     "FA D=5 K=2 n=50000: fitted WWᵀ+Ψ = true C entrywise within 5 SE (max %.2f SE, %zu "
     "iterations)",
     zmax, res.iterations);
  infb_em_result_free(&res);
  gsl_matrix_free(Ct);
  gsl_matrix_free(Ch);
  infb_lingauss_free(m);
  infb_lingauss_free(truth);
  gsl_rng_free(r);
  gsl_matrix_free(X);
}

/* A constant column has zero variance: its psi is floored and counted. */
static void
test_floor(void)
{
  size_t D = 5, K = 2, n = 500;
  gsl_matrix *X = synth(D, K, 0, n, 0.3, 1.0, 404, NULL);
  for (size_t i = 0; i < n; i++)
    gsl_matrix_set(X, i, 2, 3.0);
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 8);
  infb_em_fit_options o = { 500, 1e-12, 1e-4, 0.1, INFB_EM_ITERATE, 0.0 };
  infb_em_result res;
  int st = infb_em_fit(m, X, &o, r, &res);
  ok(st == 0 && isfinite(res.loglik), "constant column: EM succeeds (loglik %.6f)", res.loglik);
  ok(res.nfloored == 1, "constant column: nfloored = %zu (want 1)", res.nfloored);
  int others = 1;
  for (size_t d = 0; d < D; d++)
    if (d != 2)
      others &= gsl_vector_get(m->psi, d) > 1e-4;
  ok(gsl_vector_get(m->psi, 2) == 1e-4 && others,
     "constant column: psi[2] = psi_floor = 1e-4 exactly, the other psi above it");
  size_t down = 0;
  for (size_t t = 0; st == 0 && t + 1 < res.trace_len; t++)
    down += res.trace[t + 1] < res.trace[t] - 1e-10 * fabs(res.trace[t]);
  ok(st == 0 && down == 0, "constant column: the trace never decreases (%zu iterations)",
     res.iterations);
  infb_em_result_free(&res);

  o.psi_floor = 0.0;
  st = infb_em_fit(m, X, &o, r, &res);
  ok(st == GSL_EDOM, "constant column, psi_floor = 0: GSL_EDOM");
  is_string("EM iteration 0: Psi[2] = 0 is not a positive variance; try a larger [mle] psi_floor",
            infb_error_message(), "constant column, psi_floor = 0: the message names iteration 0");

  /* PPCA closed form when the D − K smallest eigenvalues are 0 (only column 0 varies). */
  gsl_matrix *Y = gsl_matrix_alloc(50, 3);
  for (size_t i = 0; i < 50; i++) {
    gsl_matrix_set(Y, i, 0, gsl_ran_gaussian(r, 2.0));
    gsl_matrix_set(Y, i, 1, 1.0);
    gsl_matrix_set(Y, i, 2, -2.0);
  }
  infb_lingauss *p = infb_lingauss_alloc(3, 1, 1);
  st = infb_lingauss_ppca_closed(p, Y);
  ok(st == INFB_ESINGULAR, "PPCA closed form on rank-1 data with K = 1: INFB_ESINGULAR (\"%s\")",
     infb_error_message());
  size_t nf = 0;
  st = infb_lingauss_ppca_closed_floor(p, Y, 1e-3, &nf);
  double v = 0.0, mu = 0.0;
  for (size_t i = 0; i < 50; i++)
    mu += gsl_matrix_get(Y, i, 0) / 50.0;
  for (size_t i = 0; i < 50; i++)
    v += (gsl_matrix_get(Y, i, 0) - mu) * (gsl_matrix_get(Y, i, 0) - mu) / 50.0;
  /* With σ² = floor, C = WWᵀ + σ²I must reproduce the 1/N variance v of column 0. */
  double w0 = gsl_matrix_get(p->W, 0, 0);
  ok(st == 0 && nf == 1 && gsl_vector_get(p->psi, 0) == 1e-3 &&
         fabs(w0 * w0 + 1e-3 - v) <= 1e-12 * v,
     "PPCA closed form with psi_floor = 1e-3: σ² floored (nfloored = %zu), W²+σ² = var %.6f", nf,
     v);
  infb_lingauss_free(p);
  gsl_matrix_free(Y);
  infb_lingauss_free(m);
  gsl_rng_free(r);
  gsl_matrix_free(X);
}

/* The MAP-EM objective ln p(X)/N − lambda‖W‖²/(2N) and its largest finite-difference
 * partial derivative over W, b and ln psi (the ll part by fd_grad_max's scheme, the
 * prior part in closed form: ∂/∂W = −(lambda/N) W). */
static double
map_grad_max(infb_lingauss *m, const gsl_matrix *X, double lambda)
{
  const double h = 1e-5, ln = lambda / (double)X->size1;
  double g = 0.0;
  for (size_t d = 0; d < m->D; d++)
    for (size_t k = 0; k < m->K; k++) {
      double w = gsl_matrix_get(m->W, d, k);
      gsl_matrix_set(m->W, d, k, w + h);
      double fp = mean_ll(m, X);
      gsl_matrix_set(m->W, d, k, w - h);
      double fm = mean_ll(m, X);
      gsl_matrix_set(m->W, d, k, w);
      g = GSL_MAX(g, fabs((fp - fm) / (2.0 * h) - ln * w));
    }
  /* b and psi carry no prior: their partials are those of the log-likelihood. */
  for (size_t d = 0; d < m->D; d++) {
    double b = gsl_vector_get(m->b, d);
    gsl_vector_set(m->b, d, b + h);
    double fp = mean_ll(m, X);
    gsl_vector_set(m->b, d, b - h);
    double fm = mean_ll(m, X);
    gsl_vector_set(m->b, d, b);
    g = GSL_MAX(g, fabs(fp - fm) / (2.0 * h));
    double p = gsl_vector_get(m->psi, d);
    gsl_vector_set(m->psi, d, p * exp(h));
    fp = mean_ll(m, X);
    gsl_vector_set(m->psi, d, p * exp(-h));
    fm = mean_ll(m, X);
    gsl_vector_set(m->psi, d, p);
    g = GSL_MAX(g, fabs(fp - fm) / (2.0 * h));
  }
  return g;
}

static double
frob_wwt(const infb_lingauss *m)
{
  gsl_matrix *G = wwt(m);
  double s = 0.0;
  for (size_t i = 0; i < G->size1 * G->size2; i++)
    s += G->data[i] * G->data[i];
  gsl_matrix_free(G);
  return sqrt(s);
}

/* MAP-EM: the log posterior never decreases, its gradient vanishes at convergence, and the
 * prior shrinks WWᵀ. */
static void
test_map(void)
{
  size_t D = 6, K = 2, n = 300;
  const double lambda = 200.0;
  gsl_matrix *X = synth(D, K, 0, n, 0.3, 1.0, 77, NULL);
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0), *ml = infb_lingauss_alloc(D, K, 0);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  infb_em_fit_options o = { 50000, 0.0, 1e-6, 0.1, INFB_EM_ITERATE, lambda };
  infb_em_result res;
  gsl_rng_set(r, 3);
  int st = infb_em_fit(m, X, &o, r, &res);
  size_t down = 0;
  for (size_t t = 0; st == 0 && t + 1 < res.trace_len; t++)
    down += res.trace[t] - res.trace[t + 1] > 1e-10 * fabs(res.trace[t]);
  ok(st == 0 && down == 0 && strcmp(res.stop_reason, "converged") == 0,
     "MAP-EM (lambda %g): the log posterior never decreases over %zu iterations, converged",
     lambda, res.iterations);
  double g = map_grad_max(m, X, lambda);
  ok(g < 1e-6, "MAP-EM: the log posterior is stationary in W, b, ln psi (max |grad| %.2g)", g);
  infb_em_result_free(&res);
  o.lambda = 0.0;
  gsl_rng_set(r, 3);
  infb_em_fit(ml, X, &o, r, &res);
  infb_em_result_free(&res);
  double fm = frob_wwt(m), fl = frob_wwt(ml);
  ok(fm < 0.9 * fl, "MAP-EM: the prior shrinks WW^T (|WW^T| %.4g against %.4g for EM)", fm, fl);
  ok(mean_ll(ml, X) >= mean_ll(m, X), "EM's log-likelihood is at least MAP-EM's (%.6f >= %.6f)",
     mean_ll(ml, X), mean_ll(m, X));
  o.lambda = -1.0;
  is_int(GSL_EINVAL, infb_em_fit(m, X, &o, r, &res), "a negative lambda is refused");
  infb_lingauss_free(m);
  infb_lingauss_free(ml);
  gsl_matrix_free(X);
  gsl_rng_free(r);
}

int
main(void)
{
  plan(12 + 8 + 8 + 1 + 8 + 5);
  test_validation();
  test_fa_em();
  test_ppca();
  test_recovery();
  test_floor();
  test_map();
  return test_done();
}
