/* Tests for model/lingauss: the Woodbury marginal against the dense Gaussian density
 * (C = WWᵀ + Ψ formed and factorised in the test), the posterior against the dense
 * conditional-Gaussian formula (explicit LU inverse of C), the closed-form ELBO against a
 * seeded Monte-Carlo estimate, the q* optimality and the approximation gap against an
 * explicitly formed Λ, gradients against central differences, sampling moments, and the
 * error paths.  MATH.md §3. */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "model/lingauss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* Number of (D, K) cases × {FA, PPCA} and tests per case (see test_case). */
static const size_t CASES[][2] = { { 2, 1 }, { 3, 1 }, { 3, 2 }, { 5, 1 }, { 6, 3 }, { 10, 4 },
                                   { 12, 11 } };
#define NCASES (sizeof CASES / sizeof CASES[0])
#define TESTS_PER_CASE 9

/* ------------------------------------------------------------ dense references */

/* C = WWᵀ + Ψ, element by element. */
static gsl_matrix *
dense_C(const infb_lingauss *m)
{
  gsl_matrix *C = gsl_matrix_alloc(m->D, m->D);
  for (size_t a = 0; a < m->D; a++)
    for (size_t b = 0; b < m->D; b++) {
      double s = a == b ? gsl_vector_get(m->psi, a) : 0.0;
      for (size_t k = 0; k < m->K; k++)
        s += gsl_matrix_get(m->W, a, k) * gsl_matrix_get(m->W, b, k);
      gsl_matrix_set(C, a, b, s);
    }
  return C;
}

/* ln N(x; b, C) by a Cholesky factor of the explicit C: −½[D ln 2π + ln|C| + eᵀC⁻¹e]. */
static double
dense_logpx(const infb_lingauss *m, const double *x)
{
  size_t D = m->D;
  gsl_matrix *C = dense_C(m);
  gsl_linalg_cholesky_decomp1(C);
  double logdet = 0.0;
  for (size_t d = 0; d < D; d++)
    logdet += 2.0 * log(gsl_matrix_get(C, d, d));
  gsl_vector *e = gsl_vector_alloc(D), *y = gsl_vector_alloc(D);
  for (size_t d = 0; d < D; d++)
    gsl_vector_set(e, d, x[d] - gsl_vector_get(m->b, d));
  gsl_linalg_cholesky_solve(C, e, y);
  double q = 0.0;
  for (size_t d = 0; d < D; d++)
    q += gsl_vector_get(e, d) * gsl_vector_get(y, d);
  gsl_vector_free(e);
  gsl_vector_free(y);
  gsl_matrix_free(C);
  return -0.5 * ((double)D * log(2.0 * M_PI) + logdet + q);
}

/* C⁻¹ by LU (independent of Cholesky and Woodbury). */
static gsl_matrix *
dense_Cinv(const infb_lingauss *m)
{
  size_t D = m->D;
  gsl_matrix *C = dense_C(m), *Ci = gsl_matrix_alloc(D, D);
  gsl_permutation *p = gsl_permutation_alloc(D);
  int sgn;
  gsl_linalg_LU_decomp(C, p, &sgn);
  gsl_linalg_LU_invert(C, p, Ci);
  gsl_permutation_free(p);
  gsl_matrix_free(C);
  return Ci;
}

/* Λ = I + WᵀΨ⁻¹W element by element. */
static gsl_matrix *
explicit_lambda(const infb_lingauss *m)
{
  size_t K = m->K;
  gsl_matrix *L = gsl_matrix_alloc(K, K);
  for (size_t j = 0; j < K; j++)
    for (size_t k = 0; k < K; k++) {
      double s = j == k ? 1.0 : 0.0;
      for (size_t d = 0; d < m->D; d++)
        s += gsl_matrix_get(m->W, d, j) * gsl_matrix_get(m->W, d, k) /
             gsl_vector_get(m->psi, d);
      gsl_matrix_set(L, j, k, s);
    }
  return L;
}

/* ln|A| by LU (A positive definite). */
static double
lu_logdet(const gsl_matrix *A)
{
  gsl_matrix *B = gsl_matrix_alloc(A->size1, A->size2);
  gsl_matrix_memcpy(B, A);
  gsl_permutation *p = gsl_permutation_alloc(A->size1);
  int sgn;
  gsl_linalg_LU_decomp(B, p, &sgn);
  double ld = gsl_linalg_LU_lndet(B);
  gsl_permutation_free(p);
  gsl_matrix_free(B);
  return ld;
}

/* ln p(x|z) directly: Σ_d ln N(x_d; (Wz + b)_d, psi_d) with GSL's univariate density. */
static double
direct_logpxz(const infb_lingauss *m, const double *x, const double *z)
{
  double s = 0.0;
  for (size_t d = 0; d < m->D; d++) {
    double mean = gsl_vector_get(m->b, d);
    for (size_t k = 0; k < m->K; k++)
      mean += gsl_matrix_get(m->W, d, k) * z[k];
    s += log(gsl_ran_gaussian_pdf(x[d] - mean, sqrt(gsl_vector_get(m->psi, d))));
  }
  return s;
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

static void
fill_gaussian(gsl_matrix *M, gsl_rng *r, double sd)
{
  for (size_t i = 0; i < M->size1; i++)
    for (size_t j = 0; j < M->size2; j++)
      gsl_matrix_set(M, i, j, gsl_ran_gaussian(r, sd));
}

/* ------------------------------------------------------------ per-case checks */

static void
test_case(size_t D, size_t K, int ppca, gsl_rng *r)
{
  const char *kind = ppca ? "PPCA" : "FA";
  size_t n = 7;
  infb_lingauss *m = infb_lingauss_alloc(D, K, ppca);
  infb_lingauss_random(m, r, 1.0, 2.0, 0.3, 1.5);
  infb_lingauss_cache *c = infb_lingauss_cache_alloc(D, K);
  int st = infb_lingauss_cache_set(c, m);
  gsl_matrix *X = gsl_matrix_alloc(n, D);
  infb_lingauss_sample(m, r, X, NULL);
  gsl_vector *lp = gsl_vector_alloc(n), *el = gsl_vector_alloc(n);

  /* 1. ln p(x) against the dense density. */
  st |= infb_lingauss_logpx(c, X, lp);
  double err = 0.0;
  for (size_t i = 0; i < n; i++) {
    double want = dense_logpx(m, gsl_matrix_const_ptr(X, i, 0));
    err = GSL_MAX(err, fabs(gsl_vector_get(lp, i) - want) / fabs(want));
  }
  ok(st == 0 && err <= 1e-10,
     "%s D=%zu K=%zu: logpx = dense ln N(x; b, WWᵀ+Ψ) (max rel err %.2g ≤ 1e-10)", kind, D, K,
     err);

  /* 2–3. Posterior against the conditional Gaussian: mean WᵀC⁻¹(x − b), cov I − WᵀC⁻¹W. */
  gsl_matrix *M = gsl_matrix_alloc(n, K), *Sig = gsl_matrix_alloc(K, K);
  st = infb_lingauss_posterior(c, X, M, Sig);
  gsl_matrix *Ci = dense_Cinv(m);
  gsl_matrix *WtCi = gsl_matrix_calloc(K, D);
  for (size_t k = 0; k < K; k++)
    for (size_t a = 0; a < D; a++) {
      double s = 0.0;
      for (size_t b = 0; b < D; b++)
        s += gsl_matrix_get(m->W, b, k) * gsl_matrix_get(Ci, b, a);
      gsl_matrix_set(WtCi, k, a, s);
    }
  double merr = 0.0, mscale = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < K; k++) {
      double s = 0.0;
      for (size_t a = 0; a < D; a++)
        s += gsl_matrix_get(WtCi, k, a) * (gsl_matrix_get(X, i, a) - gsl_vector_get(m->b, a));
      merr = GSL_MAX(merr, fabs(s - gsl_matrix_get(M, i, k)));
      mscale = GSL_MAX(mscale, fabs(s));
    }
  ok(st == 0 && merr <= 1e-10 * mscale,
     "%s D=%zu K=%zu: posterior mean = Σ_zx C⁻¹(x − b) (max err %.2g, scale %.2g)", kind, D, K,
     merr, mscale);
  double cerr = 0.0;
  for (size_t j = 0; j < K; j++)
    for (size_t k = 0; k < K; k++) {
      double s = j == k ? 1.0 : 0.0;
      for (size_t a = 0; a < D; a++)
        s -= gsl_matrix_get(WtCi, j, a) * gsl_matrix_get(m->W, a, k);
      cerr = GSL_MAX(cerr, fabs(s - gsl_matrix_get(Sig, j, k)) / GSL_MAX(fabs(s), 1e-3));
    }
  ok(cerr <= 1e-9, "%s D=%zu K=%zu: posterior cov = I − Σ_zx C⁻¹ Σ_xz (max rel err %.2g)", kind,
     D, K, cerr);

  /* 4. ELBO at q* = ln p(x) − gap. */
  gsl_matrix *MU = gsl_matrix_alloc(n, K), *S2 = gsl_matrix_alloc(n, K);
  st = infb_lingauss_qstar(c, X, MU, S2);
  st |= infb_lingauss_elbo(c, X, MU, S2, el);
  double gap = infb_lingauss_approx_gap(c);
  err = 0.0;
  for (size_t i = 0; i < n; i++)
    err = GSL_MAX(err, fabs(gsl_vector_get(el, i) - (gsl_vector_get(lp, i) - gap)) /
                           fabs(gsl_vector_get(lp, i)));
  ok(st == 0 && err <= 1e-10,
     "%s D=%zu K=%zu: ELBO(q*) = logpx − approx_gap (max rel err %.2g)", kind, D, K, err);

  /* 5. Gap = ½(Σ ln Λ_jj − ln|Λ|) ≥ 0 with Λ formed explicitly and ln|Λ| by LU; Λ and
   *    the q* variances 1/Λ_jj match it. */
  gsl_matrix *Lx = explicit_lambda(m);
  double sdiag = 0.0;
  for (size_t j = 0; j < K; j++)
    sdiag += log(gsl_matrix_get(Lx, j, j));
  double gap_want = 0.5 * (sdiag - lu_logdet(Lx));
  const gsl_matrix *Lc = infb_lingauss_cache_lambda(c);
  double lerr = 0.0;
  for (size_t j = 0; j < K; j++) {
    for (size_t k = 0; k < K; k++)
      lerr = GSL_MAX(lerr, fabs(gsl_matrix_get(Lc, j, k) - gsl_matrix_get(Lx, j, k)) /
                               gsl_matrix_get(Lx, j, j));
    for (size_t i = 0; i < n; i++)
      lerr = GSL_MAX(lerr, fabs(gsl_matrix_get(S2, i, j) * gsl_matrix_get(Lx, j, j) - 1.0));
  }
  ok(gap >= 0.0 && fabs(gap - gap_want) <= 1e-10 * (1.0 + gap_want) && lerr <= 1e-12,
     "%s D=%zu K=%zu: approx_gap = %.6g ≥ 0 equals explicit ½(Σ ln Λ_jj − ln|Λ|) = %.6g; Λ "
     "and S2 = 1/Λ_jj match (err %.2g)",
     kind, D, K, gap, gap_want, lerr);

  /* 6. ELBO ≤ ln p(x) for random q. */
  gsl_matrix *MUr = gsl_matrix_alloc(n, K), *S2r = gsl_matrix_alloc(n, K);
  size_t viol = 0;
  for (int rep = 0; rep < 20; rep++) {
    for (size_t i = 0; i < n; i++)
      for (size_t k = 0; k < K; k++) {
        gsl_matrix_set(MUr, i, k, gsl_matrix_get(MU, i, k) + gsl_ran_gaussian(r, 1.0));
        gsl_matrix_set(S2r, i, k, exp(gsl_ran_gaussian(r, 1.0)));
      }
    infb_lingauss_elbo(c, X, MUr, S2r, el);
    for (size_t i = 0; i < n; i++)
      viol += gsl_vector_get(el, i) > gsl_vector_get(lp, i);
  }
  ok(viol == 0, "%s D=%zu K=%zu: ELBO ≤ logpx for 140 random q (%zu violations)", kind, D, K,
     viol);

  /* 7. Gradient at q* is 0. */
  gsl_matrix *GMU = gsl_matrix_alloc(n, K), *GLV = gsl_matrix_alloc(n, K);
  st = infb_lingauss_elbo_grad(c, X, MU, S2, GMU, GLV);
  double gscale = 1.0 + max_abs(MU) * max_abs(Lx);
  ok(st == 0 && max_abs(GMU) <= 1e-11 * gscale && max_abs(GLV) <= 1e-13,
     "%s D=%zu K=%zu: ELBO gradient at q* ≈ 0 (|gμ| %.2g, |g ln s²| %.2g)", kind, D, K,
     max_abs(GMU), max_abs(GLV));

  /* 8. Random perturbations of q* never increase the ELBO. */
  infb_lingauss_elbo(c, X, MU, S2, el);
  gsl_vector *el2 = gsl_vector_alloc(n);
  viol = 0;
  for (int rep = 0; rep < 100; rep++) {
    double scale = rep % 2 ? 1e-3 : 0.2;
    for (size_t i = 0; i < n; i++)
      for (size_t k = 0; k < K; k++) {
        gsl_matrix_set(MUr, i, k, gsl_matrix_get(MU, i, k) + gsl_ran_gaussian(r, scale));
        gsl_matrix_set(S2r, i, k, gsl_matrix_get(S2, i, k) * exp(gsl_ran_gaussian(r, scale)));
      }
    infb_lingauss_elbo(c, X, MUr, S2r, el2);
    for (size_t i = 0; i < n; i++)
      viol += gsl_vector_get(el2, i) > gsl_vector_get(el, i) + 1e-13 * fabs(gsl_vector_get(el, i));
  }
  ok(viol == 0, "%s D=%zu K=%zu: 100 perturbations of q* never raise the ELBO (%zu did)", kind,
     D, K, viol);

  /* 9. Sigma from posterior = Λ⁻¹: Λ·Sigma = I with the explicit Λ. */
  double ierr = 0.0;
  for (size_t j = 0; j < K; j++)
    for (size_t k = 0; k < K; k++) {
      double s = 0.0;
      for (size_t l = 0; l < K; l++)
        s += gsl_matrix_get(Lx, j, l) * gsl_matrix_get(Sig, l, k);
      ierr = GSL_MAX(ierr, fabs(s - (j == k ? 1.0 : 0.0)));
    }
  ok(ierr <= 1e-11, "%s D=%zu K=%zu: posterior Sigma·Λ = I (err %.2g)", kind, D, K, ierr);

  gsl_vector_free(el2);
  gsl_matrix_free(GMU);
  gsl_matrix_free(GLV);
  gsl_matrix_free(MUr);
  gsl_matrix_free(S2r);
  gsl_matrix_free(Lx);
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  gsl_matrix_free(Ci);
  gsl_matrix_free(WtCi);
  gsl_matrix_free(M);
  gsl_matrix_free(Sig);
  gsl_vector_free(lp);
  gsl_vector_free(el);
  gsl_matrix_free(X);
  infb_lingauss_cache_free(c);
  infb_lingauss_free(m);
}

/* ------------------------------------------------------------ ELBO by Monte Carlo */

#define MC_ROWS 3
static void
test_elbo_mc(gsl_rng *r)
{
  size_t D = 6, K = 3, n = MC_ROWS, S = 200000;
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0);
  infb_lingauss_random(m, r, 1.0, 1.0, 0.3, 1.5);
  infb_lingauss_cache *c = infb_lingauss_cache_alloc(D, K);
  infb_lingauss_cache_set(c, m);
  gsl_matrix *X = gsl_matrix_alloc(n, D), *MU = gsl_matrix_alloc(n, K),
             *S2 = gsl_matrix_alloc(n, K);
  gsl_vector *el = gsl_vector_alloc(n);
  infb_lingauss_sample(m, r, X, NULL);
  fill_gaussian(MU, r, 1.0);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < K; k++)
      gsl_matrix_set(S2, i, k, exp(gsl_ran_gaussian(r, 0.7)));
  int st = infb_lingauss_elbo(c, X, MU, S2, el);
  double z[16];
  for (size_t i = 0; i < n; i++) {
    /* E_q[ln p(x|z) + ln N(z; 0, I) − ln q(z)], z = μ + sε. */
    double sum = 0.0, sum2 = 0.0;
    for (size_t s = 0; s < S; s++) {
      double lpz = 0.0, lq = 0.0;
      for (size_t k = 0; k < K; k++) {
        double eps = gsl_ran_gaussian(r, 1.0), s2 = gsl_matrix_get(S2, i, k);
        z[k] = gsl_matrix_get(MU, i, k) + sqrt(s2) * eps;
        lpz += -0.5 * (log(2.0 * M_PI) + z[k] * z[k]);
        lq += -0.5 * (log(2.0 * M_PI) + log(s2) + eps * eps);
      }
      double v = direct_logpxz(m, gsl_matrix_const_ptr(X, i, 0), z) + lpz - lq;
      sum += v;
      sum2 += v * v;
    }
    double mean = sum / (double)S, se = sqrt((sum2 / (double)S - mean * mean) / (double)S);
    double got = gsl_vector_get(el, i);
    ok(st == 0 && se > 0.0 && fabs(got - mean) <= 5.0 * se,
       "FA D=6 K=3 row %zu: closed-form ELBO %.6f = Monte-Carlo %.6f ± %.2g (within 5 SE, %zu "
       "draws)",
       i, got, mean, se, S);
  }
  gsl_vector_free(el);
  gsl_matrix_free(X);
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  infb_lingauss_cache_free(c);
  infb_lingauss_free(m);
}

/* ------------------------------------------------------------ gradients by differences */

#define GRAD_TESTS 3
static void
test_elbo_grad(size_t D, size_t K, int ppca, gsl_rng *r)
{
  size_t n = 3;
  const double h = 1e-5;
  infb_lingauss *m = infb_lingauss_alloc(D, K, ppca);
  infb_lingauss_random(m, r, 1.0, 1.0, 0.3, 1.5);
  infb_lingauss_cache *c = infb_lingauss_cache_alloc(D, K);
  infb_lingauss_cache_set(c, m);
  gsl_matrix *X = gsl_matrix_alloc(n, D), *MU = gsl_matrix_alloc(n, K),
             *S2 = gsl_matrix_alloc(n, K), *GMU = gsl_matrix_alloc(n, K),
             *GLV = gsl_matrix_alloc(n, K);
  gsl_vector *ep = gsl_vector_alloc(n), *em = gsl_vector_alloc(n);
  infb_lingauss_sample(m, r, X, NULL);
  fill_gaussian(MU, r, 1.0);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < K; k++)
      gsl_matrix_set(S2, i, k, exp(gsl_ran_gaussian(r, 0.7)));
  int st = infb_lingauss_elbo_grad(c, X, MU, S2, GMU, GLV);
  double emu = 0.0, elv = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < K; k++) {
      double mu = gsl_matrix_get(MU, i, k), s2 = gsl_matrix_get(S2, i, k);
      gsl_matrix_set(MU, i, k, mu + h);
      infb_lingauss_elbo(c, X, MU, S2, ep);
      gsl_matrix_set(MU, i, k, mu - h);
      infb_lingauss_elbo(c, X, MU, S2, em);
      gsl_matrix_set(MU, i, k, mu);
      double fd = (gsl_vector_get(ep, i) - gsl_vector_get(em, i)) / (2.0 * h);
      emu = GSL_MAX(emu, fabs(fd - gsl_matrix_get(GMU, i, k)) / (1.0 + fabs(fd)));
      gsl_matrix_set(S2, i, k, s2 * exp(h));
      infb_lingauss_elbo(c, X, MU, S2, ep);
      gsl_matrix_set(S2, i, k, s2 * exp(-h));
      infb_lingauss_elbo(c, X, MU, S2, em);
      gsl_matrix_set(S2, i, k, s2);
      fd = (gsl_vector_get(ep, i) - gsl_vector_get(em, i)) / (2.0 * h);
      elv = GSL_MAX(elv, fabs(fd - gsl_matrix_get(GLV, i, k)) / (1.0 + fabs(fd)));
    }
  const char *kind = ppca ? "PPCA" : "FA";
  ok(st == 0 && max_abs(GMU) > 0.1 && max_abs(GLV) > 0.1,
     "%s D=%zu K=%zu: ELBO gradient is not trivially zero (|gμ| %.3g, |g ln s²| %.3g)", kind, D,
     K, max_abs(GMU), max_abs(GLV));
  ok(emu <= 1e-7, "%s D=%zu K=%zu: ∂ELBO/∂μ = central differences (max rel err %.2g)", kind, D,
     K, emu);
  ok(elv <= 1e-7, "%s D=%zu K=%zu: ∂ELBO/∂ln s² = central differences (max rel err %.2g)",
     kind, D, K, elv);
  gsl_vector_free(ep);
  gsl_vector_free(em);
  gsl_matrix_free(X);
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  gsl_matrix_free(GMU);
  gsl_matrix_free(GLV);
  infb_lingauss_cache_free(c);
  infb_lingauss_free(m);
}

static void
test_decoder(gsl_rng *r)
{
  size_t D = 5, K = 2, R = 4;
  const double h = 1e-5;
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0);
  infb_lingauss_random(m, r, 1.0, 1.0, 0.3, 1.5);
  double X[4 * 5], Z[4 * 2], lp[4], lp2[4], G[4 * 2], lpp[4], lpm[4];
  for (size_t i = 0; i < R * D; i++)
    X[i] = gsl_ran_gaussian(r, 2.0);
  for (size_t i = 0; i < R * K; i++)
    Z[i] = gsl_ran_gaussian(r, 1.0);
  int st = infb_lingauss_decoder(m, R, X, NULL, Z, lp, G);
  double err = 0.0;
  for (size_t i = 0; i < R; i++) {
    double want = direct_logpxz(m, X + i * D, Z + i * K);
    err = GSL_MAX(err, fabs(lp[i] - want) / fabs(want));
  }
  ok(st == 0 && err <= 1e-12,
     "decoder: ln p(x|z) = Σ_d ln N(x_d; (Wz+b)_d, psi_d) (max rel err %.2g)", err);
  st = infb_lingauss_decoder(m, R, X, NULL, Z, lp2, NULL);
  ok(st == 0 && memcmp(lp, lp2, sizeof lp) == 0, "decoder: G = NULL gives the same ln p(x|z)");
  double gerr = 0.0, gmax = 0.0;
  for (size_t i = 0; i < R * K; i++) {
    double z0 = Z[i];
    Z[i] = z0 + h;
    infb_lingauss_decoder(m, R, X, NULL, Z, lpp, NULL);
    Z[i] = z0 - h;
    infb_lingauss_decoder(m, R, X, NULL, Z, lpm, NULL);
    Z[i] = z0;
    size_t row = i / K;
    double fd = (lpp[row] - lpm[row]) / (2.0 * h);
    gerr = GSL_MAX(gerr, fabs(fd - G[i]) / (1.0 + fabs(fd)));
    gmax = GSL_MAX(gmax, fabs(G[i]));
  }
  ok(gmax > 0.1, "decoder: ∂ ln p(x|z)/∂z is not trivially zero (max %.3g)", gmax);
  ok(gerr <= 1e-7, "decoder: ∂ ln p(x|z)/∂z = central differences (max rel err %.2g)", gerr);
  infb_lingauss_free(m);
}

/* ------------------------------------------------------------ sampling, random models */

static void
test_sample(void)
{
  size_t D = 3, K = 2, n = 200000;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 11);
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0);
  infb_lingauss_random(m, r, 1.0, 2.0, 0.3, 1.5);
  gsl_matrix *X = gsl_matrix_alloc(n, D), *Z = gsl_matrix_alloc(n, K);
  int st = infb_lingauss_sample(m, r, X, Z);
  gsl_matrix *C = dense_C(m);
  double mean[3] = { 0 };
  for (size_t i = 0; i < n; i++)
    for (size_t d = 0; d < D; d++)
      mean[d] += gsl_matrix_get(X, i, d) / (double)n;
  for (size_t d = 0; d < D; d++) {
    double se = sqrt(gsl_matrix_get(C, d, d) / (double)n);
    double b = gsl_vector_get(m->b, d);
    ok(st == 0 && fabs(mean[d] - b) <= 5.0 * se,
       "sample: mean of x_%zu = %.5f matches b = %.5f within 5 SE (%.2g)", d, mean[d], b, se);
  }
  /* Sample covariance entries; SE of an entry of a Gaussian sample covariance:
   * sqrt((C_aa C_bb + C_ab²)/n). */
  size_t pairs[4][2] = { { 0, 0 }, { 0, 1 }, { 1, 2 }, { 2, 2 } };
  for (int p = 0; p < 4; p++) {
    size_t a = pairs[p][0], b = pairs[p][1];
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
      s += (gsl_matrix_get(X, i, a) - mean[a]) * (gsl_matrix_get(X, i, b) - mean[b]);
    s /= (double)(n - 1);
    double caa = gsl_matrix_get(C, a, a), cbb = gsl_matrix_get(C, b, b),
           cab = gsl_matrix_get(C, a, b);
    double se = sqrt((caa * cbb + cab * cab) / (double)n);
    ok(fabs(s - cab) <= 5.0 * se,
       "sample: covariance[%zu][%zu] = %.5f matches (WWᵀ+Ψ) = %.5f within 5 SE (%.2g)", a, b, s,
       cab, se);
  }
  /* Latents: mean 0 and residual x − Wz − b with variance psi. */
  double zmax = 0.0, rmax = 0.0;
  for (size_t k = 0; k < K; k++) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
      s += gsl_matrix_get(Z, i, k);
    zmax = GSL_MAX(zmax, fabs(s / (double)n) / sqrt(1.0 / (double)n));
  }
  for (size_t d = 0; d < D; d++) {
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) {
      double e = gsl_matrix_get(X, i, d) - gsl_vector_get(m->b, d);
      for (size_t k = 0; k < K; k++)
        e -= gsl_matrix_get(m->W, d, k) * gsl_matrix_get(Z, i, k);
      ss += e * e;
    }
    double psi = gsl_vector_get(m->psi, d);
    rmax = GSL_MAX(rmax, fabs(ss / (double)n - psi) / (psi * sqrt(2.0 / (double)n)));
  }
  ok(zmax <= 5.0 && rmax <= 5.0,
     "sample: Z has mean 0 (max %.2f SE) and x − Wz − b has variance psi (max %.2f SE)", zmax,
     rmax);
  /* Draw order (per row: z_1..z_K then ε_1..ε_D), reproduced by hand on the same seed. */
  gsl_matrix *X2 = gsl_matrix_alloc(2, D), *Z2 = gsl_matrix_alloc(2, K);
  gsl_rng_set(r, 99);
  infb_lingauss_sample(m, r, X2, NULL);
  gsl_rng_set(r, 99);
  double err = 0.0;
  for (size_t i = 0; i < 2; i++) {
    double z[2];
    for (size_t k = 0; k < K; k++)
      z[k] = gsl_ran_gaussian(r, 1.0);
    for (size_t d = 0; d < D; d++) {
      double x = gsl_vector_get(m->b, d) + gsl_matrix_get(m->W, d, 0) * z[0] +
                 gsl_matrix_get(m->W, d, 1) * z[1] +
                 gsl_ran_gaussian(r, sqrt(gsl_vector_get(m->psi, d)));
      err = GSL_MAX(err, fabs(x - gsl_matrix_get(X2, i, d)));
    }
  }
  ok(err <= 1e-14, "sample: the draw order is per row z then noise (Z = NULL; err %.2g)", err);
  gsl_rng_set(r, 99);
  infb_lingauss_sample(m, r, X2, Z2);
  gsl_matrix *X3 = gsl_matrix_alloc(2, D);
  gsl_rng_set(r, 99);
  infb_lingauss_sample(m, r, X3, NULL);
  ok(gsl_matrix_equal(X2, X3), "sample: the same seed gives the same rows with or without Z");
  gsl_matrix_free(X3);
  gsl_matrix_free(X2);
  gsl_matrix_free(Z2);
  gsl_matrix_free(C);
  gsl_matrix_free(X);
  gsl_matrix_free(Z);
  infb_lingauss_free(m);
  gsl_rng_free(r);
}

static void
test_random(gsl_rng *r)
{
  size_t D = 200, K = 5;
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0), *p = infb_lingauss_alloc(D, K, 1);
  int st = infb_lingauss_random(m, r, 0.7, 3.0, 0.25, 0.5);
  int inrange = 1;
  for (size_t d = 0; d < D; d++) {
    double v = gsl_vector_get(m->psi, d);
    inrange &= v >= 0.25 && v <= 0.5;
  }
  ok(st == 0 && inrange, "random: every psi in [psi_min, psi_max] = [0.25, 0.5]");
  /* Sample SDs of W (n = 1000) and b (n = 200): SE of an SD ≈ σ/√(2n). */
  double ss = 0.0, sb = 0.0;
  for (size_t d = 0; d < D; d++) {
    for (size_t k = 0; k < K; k++)
      ss += gsl_matrix_get(m->W, d, k) * gsl_matrix_get(m->W, d, k);
    sb += gsl_vector_get(m->b, d) * gsl_vector_get(m->b, d);
  }
  double sdw = sqrt(ss / (double)(D * K)), sdb = sqrt(sb / (double)D);
  ok(fabs(sdw - 0.7) <= 5.0 * 0.7 / sqrt(2.0 * (double)(D * K)),
     "random: sd of W entries %.4f ≈ w_scale 0.7 within 5 SE", sdw);
  ok(fabs(sdb - 3.0) <= 5.0 * 3.0 / sqrt(2.0 * (double)D),
     "random: sd of b entries %.4f ≈ b_scale 3 within 5 SE", sdb);
  st = infb_lingauss_random(p, r, 0.7, 3.0, 0.25, 0.5);
  double p0 = gsl_vector_get(p->psi, 0);
  int same = 1;
  for (size_t d = 0; d < D; d++)
    same &= gsl_vector_get(p->psi, d) == p0;
  ok(st == 0 && same && p0 >= 0.25 && p0 <= 0.5,
     "random: ppca shares one psi = %.4f in [0.25, 0.5]", p0);
  ok(infb_lingauss_random(m, r, 1.0, 1.0, 0.0, 1.0) == GSL_EDOM,
     "random: psi_min = 0 is rejected with GSL_EDOM");
  ok(infb_lingauss_random(m, r, 1.0, 1.0, 2.0, 1.0) == GSL_EDOM,
     "random: psi_max < psi_min is rejected with GSL_EDOM");
  infb_lingauss_free(m);
  infb_lingauss_free(p);
}

/* ------------------------------------------------------------ larger n, views, errors */

static void
test_large_and_views(gsl_rng *r)
{
  size_t D = 40, K = 5, n = 3000;
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0);
  infb_lingauss_random(m, r, 1.0, 1.0, 0.3, 1.5);
  infb_lingauss_cache *c = infb_lingauss_cache_alloc(D, K);
  infb_lingauss_cache_set(c, m);
  gsl_matrix *big = gsl_matrix_alloc(n, D + 3);
  fill_gaussian(big, r, 1.0);
  gsl_matrix_view Xv = gsl_matrix_submatrix(big, 0, 2, n, D); /* tda = D + 3 */
  infb_lingauss_sample(m, r, &Xv.matrix, NULL);
  gsl_matrix *X = gsl_matrix_alloc(n, D);
  gsl_matrix_memcpy(X, &Xv.matrix);
  gsl_vector *a = gsl_vector_alloc(n), *b = gsl_vector_alloc(n);
  int st = infb_lingauss_logpx(c, &Xv.matrix, a);
  st |= infb_lingauss_logpx(c, X, b);
  double err = 0.0;
  for (size_t i = 0; i < n; i += 500)
    err = GSL_MAX(err, fabs(gsl_vector_get(b, i) - dense_logpx(m, gsl_matrix_const_ptr(X, i, 0))) /
                           fabs(gsl_vector_get(b, i)));
  ok(st == 0 && gsl_vector_equal(a, b) && err <= 1e-10,
     "D=40 K=5 n=3000: logpx on a strided view = on a copy, and = dense (rel err %.2g)", err);
  gsl_vector_free(a);
  gsl_vector_free(b);
  gsl_matrix_free(X);
  gsl_matrix_free(big);
  infb_lingauss_cache_free(c);
  infb_lingauss_free(m);
}

static void
test_errors(void)
{
  infb_lingauss *m = infb_lingauss_alloc(4, 4, 0);
  ok(m == NULL && strcmp(infb_error_message(),
                         "latent dimension K = 4 must be between 1 and D − 1 = 3") == 0,
     "alloc(D=4, K=4) is NULL: \"%s\"", infb_error_message());
  m = infb_lingauss_alloc(4, 0, 0);
  ok(m == NULL && strcmp(infb_error_message(),
                         "latent dimension K = 0 must be between 1 and D − 1 = 3") == 0,
     "alloc(D=4, K=0) is NULL: \"%s\"", infb_error_message());
  ok(infb_lingauss_alloc(3, 7, 1) == NULL, "alloc(D=3, K=7) is NULL");
  ok(infb_lingauss_cache_alloc(3, 3) == NULL, "cache_alloc(D=3, K=3) is NULL");
  infb_lingauss_free(NULL);
  infb_lingauss_cache_free(NULL);
  ok(1, "infb_lingauss_free(NULL) and infb_lingauss_cache_free(NULL) are no-ops");

  m = infb_lingauss_alloc(4, 2, 0);
  infb_lingauss *m2 = infb_lingauss_alloc(5, 2, 0), *m3 = infb_lingauss_alloc(4, 2, 1);
  ok(m && gsl_matrix_isnull(m->W) && gsl_vector_isnull(m->b) && gsl_vector_get(m->psi, 3) == 1.0,
     "alloc: W = 0, b = 0, psi = 1");
  ok(infb_lingauss_copy(m2, m) == GSL_EBADLEN, "copy between D = 4 and D = 5 is GSL_EBADLEN");
  gsl_matrix_set(m->W, 1, 1, 2.5);
  gsl_vector_set(m->b, 2, -1.0);
  gsl_vector_set(m->psi, 0, 0.125);
  int st = infb_lingauss_copy(m3, m);
  ok(st == 0 && gsl_matrix_equal(m3->W, m->W) && gsl_vector_equal(m3->b, m->b) &&
         gsl_vector_equal(m3->psi, m->psi) && m3->ppca == 0,
     "copy: W, b, psi and the ppca flag are copied");

  infb_lingauss_cache *c = infb_lingauss_cache_alloc(4, 2);
  gsl_matrix *X = gsl_matrix_calloc(2, 4);
  gsl_vector *out = gsl_vector_alloc(2);
  ok(infb_lingauss_logpx(c, X, out) == GSL_EINVAL, "logpx on a cache never set is GSL_EINVAL");
  gsl_vector_set(m->psi, 2, 0.0);
  st = infb_lingauss_cache_set(c, m);
  ok(st == GSL_EDOM, "cache_set with psi[2] = 0 is GSL_EDOM");
  is_string("Psi[2] = 0 is not a positive variance", infb_error_message(),
            "cache_set message for psi[2] = 0");
  ok(infb_lingauss_logpx(c, X, out) == GSL_EINVAL, "a failed cache_set leaves the cache unset");
  gsl_vector_set(m->psi, 2, 1.0);
  gsl_vector_set(m->psi, 0, -1.0);
  st = infb_lingauss_cache_set(c, m);
  ok(st == GSL_EDOM, "cache_set with psi[0] = -1 is GSL_EDOM");
  is_string("Psi[0] = -1 is not a positive variance", infb_error_message(),
            "cache_set message for psi[0] = -1");
  gsl_vector_set(m->psi, 0, NAN);
  ok(infb_lingauss_cache_set(c, m) == GSL_EDOM, "cache_set with psi[0] = NaN is GSL_EDOM");
  gsl_vector_set(m->psi, 0, 1.0);
  gsl_matrix_set(m->W, 3, 1, INFINITY);
  st = infb_lingauss_cache_set(c, m);
  ok(st == GSL_EDOM && strcmp(infb_error_message(), "W[3][1] = inf is not finite") == 0,
     "cache_set with W[3][1] = inf is GSL_EDOM: \"%s\"", infb_error_message());
  gsl_matrix_set(m->W, 3, 1, 0.5);
  ok(infb_lingauss_cache_set(c, m2) == GSL_EBADLEN,
     "cache_set with a D = 5 model on a D = 4 cache is GSL_EBADLEN");
  st = infb_lingauss_cache_set(c, m);
  gsl_matrix *X3 = gsl_matrix_calloc(2, 3);
  ok(st == 0 && infb_lingauss_logpx(c, X3, out) == GSL_EBADLEN,
     "logpx with a 2×3 X for D = 4 is GSL_EBADLEN");
  gsl_matrix *MU = gsl_matrix_calloc(2, 2), *S2 = gsl_matrix_alloc(2, 2);
  gsl_matrix_set_all(S2, 1.0);
  gsl_matrix_set(S2, 1, 0, 0.0);
  ok(infb_lingauss_elbo(c, X, MU, S2, out) == GSL_EDOM, "elbo with S2[1][0] = 0 is GSL_EDOM");
  gsl_vector_set(m->psi, 1, 0.0);
  double lp, z[2] = { 0, 0 }, x[4] = { 0, 0, 0, 0 };
  ok(infb_lingauss_decoder(m, 1, x, NULL, z, &lp, NULL) == GSL_EDOM,
     "decoder with psi[1] = 0 is GSL_EDOM");
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  gsl_matrix_free(X3);
  gsl_matrix_free(X);
  gsl_vector_free(out);
  infb_lingauss_cache_free(c);
  infb_lingauss_free(m);
  infb_lingauss_free(m2);
  infb_lingauss_free(m3);
}

int
main(void)
{
  plan((int)(2 * NCASES * TESTS_PER_CASE) + MC_ROWS + 2 * GRAD_TESTS + 4 + 9 + 6 + 1 + 21);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 20240601);
  for (size_t i = 0; i < NCASES; i++) {
    test_case(CASES[i][0], CASES[i][1], 0, r);
    test_case(CASES[i][0], CASES[i][1], 1, r);
  }
  test_elbo_mc(r);
  test_elbo_grad(6, 3, 0, r);
  test_elbo_grad(5, 1, 1, r);
  test_decoder(r);
  test_sample();
  test_random(r);
  test_large_and_views(r);
  test_errors();
  gsl_rng_free(r);
  return test_done();
}
