/* The linear-Gaussian latent model (factor analysis, PPCA): exact marginal, posterior and
 * closed-form ELBOs through Woodbury's identity, EM (Ghahramani & Hinton 1996), the PPCA
 * closed form (Tipping & Bishop 1999) and sampling.  MATH.md §3. */
#include <config.h>
#include "model/lingauss.h"
#include "core/error.h"
#include "linalg/blas.h"
#include "linalg/dense.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

/* ln 2π (a mathematical constant). */
#define LOG_2PI 1.837877066409345483560659472811235279722794947275566825634

struct infb_lingauss_cache {
  size_t D, K;
  int valid;            /* nonzero after a successful _set */
  gsl_matrix *W;        /* D×K copy of the loadings */
  gsl_vector *b;        /* D copy of the offsets */
  gsl_vector *ipsi;     /* D: 1/psi */
  gsl_matrix *P;        /* K×D: WᵀΨ⁻¹ */
  gsl_matrix *A;        /* K×K: WᵀΨ⁻¹W */
  gsl_matrix *Lambda;   /* K×K: Λ = I + A */
  gsl_matrix *L;        /* K×K: Cholesky factor of Λ (lower triangle) */
  gsl_matrix *Linv;     /* K×K: Λ⁻¹ */
  gsl_matrix *B;        /* K×D: Λ⁻¹WᵀΨ⁻¹, the posterior-mean map */
  gsl_vector *wk;       /* K: scratch */
  double logdet_psi;    /* Σ ln psi */
  double logdet_lambda; /* ln|Λ| */
  double logdet_c;      /* ln|C| = ln|Λ| + ln|Ψ| */
};

/* ------------------------------------------------------------ allocation helpers */

static int
check_dims(size_t D, size_t K)
{
  if (K == 0 || K >= D)
    return INFB_ERROR(GSL_EINVAL, "latent dimension K = %zu must be between 1 and D − 1 = %lld",
                      K, (long long)D - 1);
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------ the model */

infb_lingauss *
infb_lingauss_alloc(size_t D, size_t K, int ppca)
{
  if (check_dims(D, K))
    return NULL;
  infb_lingauss *m = infb_calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->D = D;
  m->K = K;
  m->ppca = ppca != 0;
  m->W = infb_dense_matrix_alloc(D, K);
  m->b = m->W ? infb_dense_vector_alloc(D) : NULL;
  m->psi = m->b ? infb_dense_vector_alloc(D) : NULL;
  if (!m->psi) {
    infb_lingauss_free(m);
    return NULL;
  }
  gsl_matrix_set_zero(m->W);
  gsl_vector_set_zero(m->b);
  gsl_vector_set_all(m->psi, 1.0);
  return m;
}

void
infb_lingauss_free(infb_lingauss *m)
{
  if (!m)
    return;
  if (m->W)
    gsl_matrix_free(m->W);
  if (m->b)
    gsl_vector_free(m->b);
  if (m->psi)
    gsl_vector_free(m->psi);
  free(m);
}

int
infb_lingauss_copy(infb_lingauss *dst, const infb_lingauss *src)
{
  if (dst->D != src->D || dst->K != src->K)
    return INFB_ERROR(GSL_EBADLEN, "lingauss copy: D, K = %zu, %zu into %zu, %zu", src->D,
                      src->K, dst->D, dst->K);
  gsl_matrix_memcpy(dst->W, src->W);
  gsl_vector_memcpy(dst->b, src->b);
  gsl_vector_memcpy(dst->psi, src->psi);
  dst->ppca = src->ppca;
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------ the cache (Woodbury) */

infb_lingauss_cache *
infb_lingauss_cache_alloc(size_t D, size_t K)
{
  if (check_dims(D, K))
    return NULL;
  infb_lingauss_cache *c = infb_calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->D = D;
  c->K = K;
  if (!(c->W = infb_dense_matrix_alloc(D, K)) || !(c->b = infb_dense_vector_alloc(D)) || !(c->ipsi = infb_dense_vector_alloc(D)) ||
      !(c->P = infb_dense_matrix_alloc(K, D)) || !(c->A = infb_dense_matrix_alloc(K, K)) ||
      !(c->Lambda = infb_dense_matrix_alloc(K, K)) || !(c->L = infb_dense_matrix_alloc(K, K)) ||
      !(c->Linv = infb_dense_matrix_alloc(K, K)) || !(c->B = infb_dense_matrix_alloc(K, D)) || !(c->wk = infb_dense_vector_alloc(K))) {
    infb_lingauss_cache_free(c);
    return NULL;
  }
  return c;
}

void
infb_lingauss_cache_free(infb_lingauss_cache *c)
{
  if (!c)
    return;
  gsl_matrix *mats[] = { c->W, c->P, c->A, c->Lambda, c->L, c->Linv, c->B };
  for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
    if (mats[i])
      gsl_matrix_free(mats[i]);
  gsl_vector *vecs[] = { c->b, c->ipsi, c->wk };
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
    if (vecs[i])
      gsl_vector_free(vecs[i]);
  free(c);
}

int
infb_lingauss_cache_set(infb_lingauss_cache *c, const infb_lingauss *m)
{
  size_t D = c->D, K = c->K;
  c->valid = 0;
  if (m->D != D || m->K != K)
    return INFB_ERROR(GSL_EBADLEN, "lingauss cache: sized for D, K = %zu, %zu, model has %zu, %zu",
                      D, K, m->D, m->K);
  for (size_t d = 0; d < D; d++) {
    double p = gsl_vector_get(m->psi, d);
    if (!(p > 0.0) || !isfinite(p))
      return INFB_ERROR(GSL_EDOM, "Psi[%zu] = %g is not a positive variance", d, p);
    double bd = gsl_vector_get(m->b, d);
    if (!isfinite(bd))
      return INFB_ERROR(GSL_EDOM, "b[%zu] = %g is not finite", d, bd);
    for (size_t k = 0; k < K; k++) {
      double w = gsl_matrix_get(m->W, d, k);
      if (!isfinite(w))
        return INFB_ERROR(GSL_EDOM, "W[%zu][%zu] = %g is not finite", d, k, w);
    }
  }
  gsl_matrix_memcpy(c->W, m->W);
  gsl_vector_memcpy(c->b, m->b);
  double ld = 0.0;
  for (size_t d = 0; d < D; d++) {
    double p = gsl_vector_get(m->psi, d);
    gsl_vector_set(c->ipsi, d, 1.0 / p);
    ld += log(p);
  }
  c->logdet_psi = ld;
  /* P = WᵀΨ⁻¹ (column d of Wᵀ scaled by 1/psi_d), A = P W, Λ = I + A. */
  for (size_t k = 0; k < K; k++)
    for (size_t d = 0; d < D; d++)
      gsl_matrix_set(c->P, k, d, gsl_matrix_get(c->W, d, k) * gsl_vector_get(c->ipsi, d));
  int st = infb_dense_gemm(0, 0, 1.0, c->P, c->W, 0.0, c->A);
  if (st)
    return st;
  /* Symmetrise: A is symmetric in exact arithmetic; make it so bit for bit. */
  for (size_t j = 0; j < K; j++)
    for (size_t k = j + 1; k < K; k++) {
      double a = 0.5 * (gsl_matrix_get(c->A, j, k) + gsl_matrix_get(c->A, k, j));
      gsl_matrix_set(c->A, j, k, a);
      gsl_matrix_set(c->A, k, j, a);
    }
  gsl_matrix_memcpy(c->Lambda, c->A);
  for (size_t k = 0; k < K; k++)
    gsl_matrix_set(c->Lambda, k, k, gsl_matrix_get(c->Lambda, k, k) + 1.0);
  gsl_matrix_memcpy(c->L, c->Lambda);
  if ((st = infb_dense_cholesky(c->L, "the posterior precision Λ = I + WᵀΨ⁻¹W")))
    return st;
  c->logdet_lambda = infb_dense_chol_logdet(c->L);
  c->logdet_c = c->logdet_lambda + c->logdet_psi;
  gsl_matrix_memcpy(c->Linv, c->L);
  if ((st = infb_dense_chol_invert(c->Linv)))
    return INFB_ERROR(st, "lingauss cache: inverting Λ failed");
  if ((st = infb_dense_gemm(0, 0, 1.0, c->Linv, c->P, 0.0, c->B)))
    return st;
  c->valid = 1;
  return GSL_SUCCESS;
}

const gsl_matrix *
infb_lingauss_cache_lambda(const infb_lingauss_cache *c)
{
  return c->Lambda;
}

/* ------------------------------------------------------------ argument checks */

static int
check_cache(const infb_lingauss_cache *c, const char *fn)
{
  if (!c || !c->valid)
    return INFB_ERROR(GSL_EINVAL, "lingauss %s: the cache has not been set", fn);
  return GSL_SUCCESS;
}

static int
check_shape(const gsl_matrix *M, size_t r, size_t cols, const char *what, const char *fn)
{
  if (M->size1 != r || M->size2 != cols)
    return INFB_ERROR(GSL_EBADLEN, "lingauss %s: %s is %zux%zu, expected %zux%zu", fn, what,
                      M->size1, M->size2, r, cols);
  return GSL_SUCCESS;
}

static int
check_s2(const gsl_matrix *S2, const char *fn)
{
  for (size_t i = 0; i < S2->size1; i++)
    for (size_t j = 0; j < S2->size2; j++) {
      double s = gsl_matrix_get(S2, i, j);
      if (!(s > 0.0) || !isfinite(s))
        return INFB_ERROR(GSL_EDOM, "lingauss %s: S2[%zu][%zu] = %g is not a positive variance",
                          fn, i, j, s);
    }
  return GSL_SUCCESS;
}

/* A new n×D matrix X − 1bᵀ (n ≥ 1; b contiguous, as every model's b is). */
static gsl_matrix *
centred(const gsl_matrix *X, const gsl_vector *b)
{
  return infb_dense_centred(X, b->data);
}

/* ------------------------------------------------------------ exact marginal, posterior */

int
infb_lingauss_logpx(const infb_lingauss_cache *c, const gsl_matrix *X, gsl_vector *out)
{
  int st;
  if ((st = check_cache(c, "logpx")) || (st = check_shape(X, X->size1, c->D, "X", "logpx")))
    return st;
  size_t n = X->size1, D = c->D, K = c->K;
  if (out->size != n)
    return INFB_ERROR(GSL_EBADLEN, "lingauss logpx: out has length %zu, X has %zu rows",
                      out->size, n);
  if (n == 0)
    return GSL_SUCCESS;
  /* (x − b)ᵀC⁻¹(x − b) = Σ_d e_d²/psi_d − ‖L⁻¹u‖², u = WᵀΨ⁻¹e (Woodbury), for all rows at
   * once: U = E Pᵀ (n×K), then U ← U L⁻ᵀ so row i is (L⁻¹u_i)ᵀ. */
  gsl_matrix *E = centred(X, c->b);
  gsl_matrix *U = E ? infb_dense_matrix_alloc(n, K) : NULL;
  if (!U) {
    if (E)
      gsl_matrix_free(E);
    return GSL_ENOMEM;
  }
  st = infb_dense_gemm(0, 1, 1.0, E, c->P, 0.0, U);
  if (!st)
    st = gsl_blas_dtrsm(CblasRight, CblasLower, CblasTrans, CblasNonUnit, 1.0, c->L, U);
  if (!st) {
    const double *ip = c->ipsi->data;
    for (size_t i = 0; i < n; i++) {
      const double *e = gsl_matrix_const_ptr(E, i, 0), *u = gsl_matrix_const_ptr(U, i, 0);
      double q = 0.0, v = 0.0;
      for (size_t d = 0; d < D; d++)
        q += e[d] * e[d] * ip[d];
      for (size_t k = 0; k < K; k++)
        v += u[k] * u[k];
      gsl_vector_set(out, i, -0.5 * ((double)D * LOG_2PI + c->logdet_c + q - v));
    }
  }
  gsl_matrix_free(E);
  gsl_matrix_free(U);
  return st;
}

int
infb_lingauss_posterior(const infb_lingauss_cache *c, const gsl_matrix *X, gsl_matrix *M,
                        gsl_matrix *Sigma)
{
  int st;
  if ((st = check_cache(c, "posterior")) ||
      (st = check_shape(X, X->size1, c->D, "X", "posterior")) ||
      (st = check_shape(M, X->size1, c->K, "M", "posterior")) ||
      (Sigma && (st = check_shape(Sigma, c->K, c->K, "Sigma", "posterior"))))
    return st;
  if (Sigma)
    gsl_matrix_memcpy(Sigma, c->Linv);
  if (X->size1 == 0)
    return GSL_SUCCESS;
  /* M = (X − 1bᵀ) Bᵀ, B = Λ⁻¹WᵀΨ⁻¹. */
  gsl_matrix *E = centred(X, c->b);
  if (!E)
    return GSL_ENOMEM;
  st = infb_dense_gemm(0, 1, 1.0, E, c->B, 0.0, M);
  gsl_matrix_free(E);
  return st;
}

/* R = X − 1bᵀ − MU Wᵀ (n×D), the residuals at the variational means. */
static gsl_matrix *
residuals(const infb_lingauss_cache *c, const gsl_matrix *X, const gsl_matrix *MU)
{
  gsl_matrix *R = centred(X, c->b);
  if (R && infb_dense_gemm(0, 1, -1.0, MU, c->W, 1.0, R)) {
    gsl_matrix_free(R);
    return NULL;
  }
  return R;
}

int
infb_lingauss_elbo(const infb_lingauss_cache *c, const gsl_matrix *X, const gsl_matrix *MU,
                   const gsl_matrix *S2, gsl_vector *out)
{
  int st;
  if ((st = check_cache(c, "elbo")) || (st = check_shape(X, X->size1, c->D, "X", "elbo")) ||
      (st = check_shape(MU, X->size1, c->K, "MU", "elbo")) ||
      (st = check_shape(S2, X->size1, c->K, "S2", "elbo")))
    return st;
  size_t n = X->size1, D = c->D, K = c->K;
  if (out->size != n)
    return INFB_ERROR(GSL_EBADLEN, "lingauss elbo: out has length %zu, X has %zu rows",
                      out->size, n);
  if ((st = check_s2(S2, "elbo")))
    return st;
  if (n == 0)
    return GSL_SUCCESS;
  gsl_matrix *R = residuals(c, X, MU);
  if (!R)
    return GSL_ENOMEM;
  /* E_q ln p(x|z) = −½[D ln 2π + ln|Ψ| + rᵀΨ⁻¹r + Σ_j s_j² A_jj],
   * KL(q‖N(0, I)) = ½ Σ_j (s_j² + μ_j² − 1 − ln s_j²). */
  const double *ip = c->ipsi->data;
  for (size_t i = 0; i < n; i++) {
    const double *r = gsl_matrix_const_ptr(R, i, 0);
    const double *mu = gsl_matrix_const_ptr(MU, i, 0), *s2 = gsl_matrix_const_ptr(S2, i, 0);
    double q = 0.0, t = 0.0, kl = 0.0;
    for (size_t d = 0; d < D; d++)
      q += r[d] * r[d] * ip[d];
    for (size_t j = 0; j < K; j++) {
      t += s2[j] * gsl_matrix_get(c->A, j, j);
      kl += s2[j] + mu[j] * mu[j] - 1.0 - log(s2[j]);
    }
    gsl_vector_set(out, i, -0.5 * ((double)D * LOG_2PI + c->logdet_psi + q + t) - 0.5 * kl);
  }
  gsl_matrix_free(R);
  return GSL_SUCCESS;
}

int
infb_lingauss_elbo_grad(const infb_lingauss_cache *c, const gsl_matrix *X,
                        const gsl_matrix *MU, const gsl_matrix *S2, gsl_matrix *GMU,
                        gsl_matrix *GLV)
{
  int st;
  if ((st = check_cache(c, "elbo_grad")) ||
      (st = check_shape(X, X->size1, c->D, "X", "elbo_grad")) ||
      (st = check_shape(MU, X->size1, c->K, "MU", "elbo_grad")) ||
      (st = check_shape(S2, X->size1, c->K, "S2", "elbo_grad")) ||
      (GMU && (st = check_shape(GMU, X->size1, c->K, "GMU", "elbo_grad"))) ||
      (GLV && (st = check_shape(GLV, X->size1, c->K, "GLV", "elbo_grad"))))
    return st;
  if ((st = check_s2(S2, "elbo_grad")))
    return st;
  size_t n = X->size1, K = c->K;
  if (n == 0)
    return GSL_SUCCESS;
  /* ∂/∂μ = WᵀΨ⁻¹r − μ  (GMU = R Pᵀ − MU);
   * ∂/∂ln s_j² = −½ s_j² A_jj − ½(s_j² − 1) = ½(1 − s_j² Λ_jj). */
  if (GMU) {
    gsl_matrix *R = residuals(c, X, MU);
    if (!R)
      return GSL_ENOMEM;
    gsl_matrix_memcpy(GMU, MU);
    st = infb_dense_gemm(0, 1, 1.0, R, c->P, -1.0, GMU);
    gsl_matrix_free(R);
    if (st)
      return st;
  }
  if (GLV)
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < K; j++)
        gsl_matrix_set(GLV, i, j,
                       0.5 * (1.0 - gsl_matrix_get(S2, i, j) * gsl_matrix_get(c->Lambda, j, j)));
  return GSL_SUCCESS;
}

int
infb_lingauss_qstar(const infb_lingauss_cache *c, const gsl_matrix *X, gsl_matrix *MU,
                    gsl_matrix *S2)
{
  int st;
  if ((st = check_cache(c, "qstar")) || (st = check_shape(S2, X->size1, c->K, "S2", "qstar")) ||
      (st = infb_lingauss_posterior(c, X, MU, NULL)))
    return st;
  for (size_t i = 0; i < S2->size1; i++)
    for (size_t j = 0; j < c->K; j++)
      gsl_matrix_set(S2, i, j, 1.0 / gsl_matrix_get(c->Lambda, j, j));
  return GSL_SUCCESS;
}

double
infb_lingauss_approx_gap(const infb_lingauss_cache *c)
{
  if (check_cache(c, "approx_gap"))
    return NAN;
  /* ½(Σ_j ln Λ_jj − ln|Λ|) = ½ Σ_j ln(Λ_jj / L_jj²), and with Λ_jj = Σ_{k≤j} L_jk² (the
   * Cholesky identity) each term is ln(1 + Σ_{k<j} L_jk² / L_jj²): evaluated so, the gap
   * is ≥ 0 and accurate when small (exactly 0 for K = 1) instead of a difference of two
   * rounded logarithms. */
  double s = 0.0;
  for (size_t j = 0; j < c->K; j++) {
    double off = 0.0, ljj = gsl_matrix_get(c->L, j, j);
    for (size_t k = 0; k < j; k++)
      off += gsl_matrix_get(c->L, j, k) * gsl_matrix_get(c->L, j, k);
    s += log1p(off / (ljj * ljj));
  }
  return 0.5 * s;
}

/* ------------------------------------------------------------ decoder, sampling */

static int
check_model_psi(const infb_lingauss *m, const char *fn)
{
  for (size_t d = 0; d < m->D; d++) {
    double p = gsl_vector_get(m->psi, d);
    if (!(p > 0.0) || !isfinite(p))
      return INFB_ERROR(GSL_EDOM, "lingauss %s: Psi[%zu] = %g is not a positive variance", fn,
                        d, p);
  }
  return GSL_SUCCESS;
}

int
infb_lingauss_decoder(const infb_lingauss *m, size_t R, const double *X, const size_t *xrow,
                      const double *Z, double *logp, double *G)
{
  int st;
  if ((st = check_model_psi(m, "decoder")))
    return st;
  size_t D = m->D, K = m->K, tw = m->W->tda, sb = m->b->stride, sp = m->psi->stride;
  const double *W = m->W->data, *bv = m->b->data, *pv = m->psi->data;
  double ld = 0.0;
  for (size_t d = 0; d < D; d++)
    ld += log(pv[d * sp]);
  double base = (double)D * LOG_2PI + ld;
  /* e = x − Wz − b; ln p = −½(D ln 2π + ln|Ψ| + eᵀΨ⁻¹e); G = eᵀΨ⁻¹W.  Row-contiguous
   * loops, no scratch. */
  for (size_t r = 0; r < R; r++) {
    const double *x = X + (xrow ? xrow[r] : r) * D, *z = Z + r * K;
    double *g = G ? G + r * K : NULL;
    if (g)
      for (size_t k = 0; k < K; k++)
        g[k] = 0.0;
    double q = 0.0;
    for (size_t d = 0; d < D; d++) {
      const double *w = W + d * tw;
      double mean = bv[d * sb];
      for (size_t k = 0; k < K; k++)
        mean += w[k] * z[k];
      double e = x[d] - mean, a = e / pv[d * sp];
      q += e * a;
      if (g)
        for (size_t k = 0; k < K; k++)
          g[k] += a * w[k];
    }
    logp[r] = -0.5 * (base + q);
  }
  return GSL_SUCCESS;
}

int
infb_lingauss_sample(const infb_lingauss *m, gsl_rng *r, gsl_matrix *X, gsl_matrix *Z)
{
  int st;
  size_t n = X->size1, D = m->D, K = m->K;
  if ((st = check_shape(X, n, D, "X", "sample")) ||
      (Z && (st = check_shape(Z, n, K, "Z", "sample"))) || (st = check_model_psi(m, "sample")))
    return st;
  double *zbuf = NULL;
  if (!Z && !(zbuf = infb_malloc(K, sizeof *zbuf)))
    return GSL_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    double *z = Z ? gsl_matrix_ptr(Z, i, 0) : zbuf;
    for (size_t k = 0; k < K; k++)
      z[k] = gsl_ran_gaussian(r, 1.0);
    for (size_t d = 0; d < D; d++) {
      const double *w = gsl_matrix_const_ptr(m->W, d, 0);
      double x = gsl_vector_get(m->b, d);
      for (size_t k = 0; k < K; k++)
        x += w[k] * z[k];
      gsl_matrix_set(X, i, d, x + gsl_ran_gaussian(r, sqrt(gsl_vector_get(m->psi, d))));
    }
  }
  free(zbuf);
  return GSL_SUCCESS;
}

int
infb_lingauss_random(infb_lingauss *m, gsl_rng *r, double w_scale, double b_scale,
                     double psi_min, double psi_max)
{
  if (!(w_scale >= 0.0) || !isfinite(w_scale) || !(b_scale >= 0.0) || !isfinite(b_scale))
    return INFB_ERROR(GSL_EDOM, "lingauss random: scales w = %g, b = %g must be ≥ 0", w_scale,
                      b_scale);
  if (!(psi_min > 0.0) || !(psi_max >= psi_min) || !isfinite(psi_max))
    return INFB_ERROR(GSL_EDOM, "lingauss random: need 0 < psi_min ≤ psi_max, got %g, %g",
                      psi_min, psi_max);
  for (size_t d = 0; d < m->D; d++)
    for (size_t k = 0; k < m->K; k++)
      gsl_matrix_set(m->W, d, k, gsl_ran_gaussian(r, w_scale));
  for (size_t d = 0; d < m->D; d++)
    gsl_vector_set(m->b, d, gsl_ran_gaussian(r, b_scale));
  if (m->ppca)
    gsl_vector_set_all(m->psi, gsl_ran_flat(r, psi_min, psi_max));
  else
    for (size_t d = 0; d < m->D; d++)
      gsl_vector_set(m->psi, d, gsl_ran_flat(r, psi_min, psi_max));
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------ sample moments */

static int
check_data(const gsl_matrix *X, size_t D, const char *fn)
{
  if (X->size2 != D)
    return INFB_ERROR(GSL_EBADLEN, "%s: X has %zu columns, the model D = %zu", fn, X->size2, D);
  if (X->size1 == 0)
    return INFB_ERROR(INFB_EDATA, "%s: no data rows", fn);
  for (size_t i = 0; i < X->size1; i++)
    for (size_t d = 0; d < D; d++)
      if (!isfinite(gsl_matrix_get(X, i, d)))
        return INFB_ERROR(INFB_EDATA, "%s: data row %zu, column %zu is not finite", fn, i + 1,
                          d + 1);
  return GSL_SUCCESS;
}

/* mean (D) = x̄ by a corrected two-pass sum; S (D×D) = (1/N) Σ (x − x̄)(x − x̄)ᵀ. */
static int
moments(const gsl_matrix *X, gsl_vector *mean, gsl_matrix *S)
{
  size_t n = X->size1;
  infb_dense_column_means(X, mean->data); /* mean is a contiguous workspace vector */
  gsl_matrix *E = centred(X, mean);
  if (!E)
    return GSL_ENOMEM;
  int st = infb_dense_gram(1.0 / (double)n, E, 0.0, S);
  gsl_matrix_free(E);
  return st;
}

/* ------------------------------------------------------------ EM */

/* Workspaces of one EM call. */
typedef struct {
  gsl_matrix *S;        /* D×D sample covariance (1/N) */
  gsl_vector *xbar;     /* D sample mean */
  gsl_matrix *SB;       /* D×K: S Bᵀ = S Ψ⁻¹WΛ⁻¹ */
  gsl_matrix *Ezz;      /* K×K: Λ⁻¹ + B S Bᵀ, the mean second moment of z */
  gsl_vector *delta;    /* D: x̄ − b */
  gsl_matrix *Ereg;     /* K×K: MAP-EM's regularised system */
  gsl_vector *psi_new;  /* D: MAP-EM's new noise variances */
  unsigned char *hit;   /* D: coordinate floored at least once */
  infb_lingauss_cache *c;
} em_work;

static void
em_work_free(em_work *w)
{
  if (w->S)
    gsl_matrix_free(w->S);
  if (w->xbar)
    gsl_vector_free(w->xbar);
  if (w->SB)
    gsl_matrix_free(w->SB);
  if (w->Ezz)
    gsl_matrix_free(w->Ezz);
  if (w->delta)
    gsl_vector_free(w->delta);
  if (w->Ereg)
    gsl_matrix_free(w->Ereg);
  if (w->psi_new)
    gsl_vector_free(w->psi_new);
  free(w->hit);
  infb_lingauss_cache_free(w->c);
}

/* The exact mean log-likelihood at the cached θ from the moments, and SB = S Bᵀ for the
 * next M-step:  ln p(X)/N = −½[D ln 2π + ln|C| + tr(C⁻¹S) + δᵀC⁻¹δ], with
 * tr(C⁻¹S) = Σ_d S_dd/psi_d − tr(Λ⁻¹WᵀΨ⁻¹SΨ⁻¹W) = Σ_d S_dd/psi_d − Σ_dk SB_dk P_kd and
 * δᵀC⁻¹δ = Σ_d δ_d²/psi_d − ‖L⁻¹Pδ‖². */
static int
em_loglik(em_work *w, const gsl_vector *b, double *ll)
{
  infb_lingauss_cache *c = w->c;
  size_t D = c->D, K = c->K;
  int st = infb_dense_gemm(0, 1, 1.0, w->S, c->B, 0.0, w->SB);
  if (st)
    return st;
  double tr = 0.0, dq = 0.0;
  for (size_t d = 0; d < D; d++) {
    double ip = gsl_vector_get(c->ipsi, d);
    double dl = gsl_vector_get(w->xbar, d) - gsl_vector_get(b, d);
    gsl_vector_set(w->delta, d, dl);
    tr += gsl_matrix_get(w->S, d, d) * ip;
    dq += dl * dl * ip;
    for (size_t k = 0; k < K; k++)
      tr -= gsl_matrix_get(w->SB, d, k) * gsl_matrix_get(c->P, k, d);
  }
  gsl_blas_dgemv(CblasNoTrans, 1.0, c->P, w->delta, 0.0, c->wk);
  gsl_blas_dtrsv(CblasLower, CblasNoTrans, CblasNonUnit, c->L, c->wk);
  double v;
  gsl_blas_ddot(c->wk, c->wk, &v);
  *ll = -0.5 * ((double)D * LOG_2PI + c->logdet_c + tr + dq - v);
  return GSL_SUCCESS;
}

/* The MAP M-step (ECM, see the header): each row of W solves its own ridge system at the
 * old psi_d, then psi_d is the exact maximiser given the new row.  Ezz is intact (not
 * factorised) on entry. */
static int
em_mstep_map(em_work *w, infb_lingauss *m, double lambda_n)
{
  size_t D = m->D, K = m->K;
  double mean = 0.0;
  for (size_t d = 0; d < D; d++) {
    gsl_matrix_memcpy(w->Ereg, w->Ezz);
    double ridge = lambda_n * (m->ppca ? gsl_vector_get(m->psi, 0) : gsl_vector_get(m->psi, d));
    for (size_t k = 0; k < K; k++)
      gsl_matrix_set(w->Ereg, k, k, gsl_matrix_get(w->Ereg, k, k) + ridge);
    int st = infb_dense_cholesky(w->Ereg, "the MAP-EM system E[zzᵀ] + (lambda psi/N) I");
    if (st)
      return st;
    gsl_vector_view wd = gsl_matrix_row(m->W, d);
    gsl_vector_const_view sb = gsl_matrix_const_row(w->SB, d);
    if ((st = infb_dense_chol_solve(w->Ereg, &sb.vector, &wd.vector)))
      return st;
    /* psi_d = S_dd − 2 w_d·SB_d + w_dᵀ Ezz w_d */
    double p = gsl_matrix_get(w->S, d, d), q = 0.0;
    for (size_t k = 0; k < K; k++) {
      double wk = gsl_vector_get(&wd.vector, k);
      p -= 2.0 * wk * gsl_vector_get(&sb.vector, k);
      for (size_t l = 0; l < K; l++)
        q += wk * gsl_matrix_get(w->Ezz, k, l) * gsl_vector_get(&wd.vector, l);
    }
    p += q;
    gsl_vector_set(w->psi_new, d, p);
    mean += p;
  }
  if (m->ppca)
    gsl_vector_set_all(m->psi, mean / (double)D);
  else
    gsl_vector_memcpy(m->psi, w->psi_new);
  return GSL_SUCCESS;
}

/* One M-step from the cached θ (Ghahramani & Hinton 1996, with 1/N moments):
 * W ← SB Ezz⁻¹, psi_d ← S_dd − Σ_k W_dk SB_dk (ppca: their mean); with lambda_n =
 * lambda/N > 0 the MAP step above. */
static int
em_mstep(em_work *w, infb_lingauss *m, double lambda_n)
{
  infb_lingauss_cache *c = w->c;
  size_t D = m->D, K = m->K;
  gsl_matrix_memcpy(w->Ezz, c->Linv);
  int st = infb_dense_gemm(0, 0, 1.0, c->B, w->SB, 1.0, w->Ezz);
  if (st)
    return st;
  if (lambda_n > 0.0)
    return em_mstep_map(w, m, lambda_n);
  if ((st = infb_dense_cholesky(w->Ezz, "the EM second moment E[zzᵀ]")))
    return st;
  /* W = SB Ezz⁻¹ = SB L⁻ᵀ L⁻¹ (Ezz = LLᵀ). */
  gsl_matrix_memcpy(m->W, w->SB);
  gsl_blas_dtrsm(CblasRight, CblasLower, CblasTrans, CblasNonUnit, 1.0, w->Ezz, m->W);
  gsl_blas_dtrsm(CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, 1.0, w->Ezz, m->W);
  double mean = 0.0;
  for (size_t d = 0; d < D; d++) {
    double p = gsl_matrix_get(w->S, d, d);
    for (size_t k = 0; k < K; k++)
      p -= gsl_matrix_get(m->W, d, k) * gsl_matrix_get(w->SB, d, k);
    gsl_vector_set(m->psi, d, p);
    mean += p;
  }
  if (m->ppca)
    gsl_vector_set_all(m->psi, mean / (double)D);
  return GSL_SUCCESS;
}

/* Raise psi below the floor; mark the coordinates raised. */
static void
apply_floor(infb_lingauss *m, double psi_floor, unsigned char *hit)
{
  for (size_t d = 0; d < m->D; d++)
    if (gsl_vector_get(m->psi, d) < psi_floor) {
      gsl_vector_set(m->psi, d, psi_floor);
      hit[d] = 1;
    }
}

/* Re-raise the last error with the iteration named. */
static int
em_fail(int st, size_t iter)
{
  char reason[512];
  strncpy(reason, infb_error_message(), sizeof reason - 1);
  reason[sizeof reason - 1] = '\0';
  return INFB_ERROR(st, "EM iteration %zu: %s; try a larger [mle] psi_floor", iter, reason);
}

/* Set the cache at m and evaluate the objective: the mean log-likelihood, minus
 * lambda_n‖W‖²/2 for MAP-EM; errors name the iteration. */
static int
em_evaluate(em_work *w, const infb_lingauss *m, size_t iter, double lambda_n, double *ll)
{
  int st = infb_lingauss_cache_set(w->c, m);
  if (!st)
    st = em_loglik(w, m->b, ll);
  if (!st && lambda_n > 0.0) {
    double w2 = 0.0;
    for (size_t i = 0; i < m->W->size1 * m->W->size2; i++) {
      double v = m->W->data[(i / m->W->size2) * m->W->tda + i % m->W->size2];
      w2 += v * v;
    }
    *ll -= 0.5 * lambda_n * w2;
  }
  if (st)
    return em_fail(st, iter);
  if (!isfinite(*ll))
    return INFB_ERROR(GSL_EDOM,
                      "EM iteration %zu: the log-likelihood is not finite; try a larger [mle] "
                      "psi_floor",
                      iter);
  return GSL_SUCCESS;
}

static void
set_reason(char *dst, size_t cap, const char *s)
{
  if (!dst || cap == 0)
    return;
  strncpy(dst, s, cap - 1);
  dst[cap - 1] = '\0';
}

int
infb_lingauss_em(infb_lingauss *m, const gsl_matrix *X, const infb_lingauss_em_options *o,
                 double *trace, size_t *iters, size_t *nfloored, char *stop_reason,
                 size_t reason_cap)
{
  if (iters)
    *iters = 0;
  if (nfloored)
    *nfloored = 0;
  set_reason(stop_reason, reason_cap, "");
  if (!(o->tol >= 0.0) || !isfinite(o->tol))
    return INFB_ERROR(GSL_EINVAL, "EM: tol = %g must be a finite number ≥ 0", o->tol);
  if (!(o->psi_floor >= 0.0) || !isfinite(o->psi_floor))
    return INFB_ERROR(GSL_EINVAL, "EM: psi_floor = %g must be a finite number ≥ 0",
                      o->psi_floor);
  if (!(o->lambda >= 0.0) || !isfinite(o->lambda))
    return INFB_ERROR(GSL_EINVAL, "EM: lambda = %g must be a finite number ≥ 0", o->lambda);
  int st;
  if ((st = check_data(X, m->D, "EM")))
    return st;
  size_t D = m->D, K = m->K;
  em_work w = { 0 };
  if (!(w.S = infb_dense_matrix_alloc(D, D)) || !(w.xbar = infb_dense_vector_alloc(D)) ||
      !(w.SB = infb_dense_matrix_alloc(D, K)) ||
      !(w.Ezz = infb_dense_matrix_alloc(K, K)) || !(w.delta = infb_dense_vector_alloc(D)) ||
      !(w.Ereg = infb_dense_matrix_alloc(K, K)) || !(w.psi_new = infb_dense_vector_alloc(D)) ||
      !(w.hit = infb_calloc(D, 1)) || !(w.c = infb_lingauss_cache_alloc(D, K))) {
    em_work_free(&w);
    return GSL_ENOMEM;
  }
  if ((st = moments(X, w.xbar, w.S))) {
    em_work_free(&w);
    return st;
  }

  double ll;
  const double lambda_n = o->lambda / (double)X->size1;
  apply_floor(m, o->psi_floor, w.hit);
  st = em_evaluate(&w, m, 0, lambda_n, &ll);
  if (!st && trace)
    trace[0] = ll;
  size_t it = 0;
  const char *reason = "max_iter";
  while (!st && it < o->max_iter) {
    it++;
    /* b ← x̄ maximises ln p(X) over b for any C; the E-step needs only W, Ψ, whose cache
     * (Λ, B, SB) does not depend on b. */
    gsl_vector_memcpy(m->b, w.xbar);
    if ((st = em_mstep(&w, m, lambda_n))) {
      st = em_fail(st, it);
      break;
    }
    apply_floor(m, o->psi_floor, w.hit);
    double prev = ll;
    if ((st = em_evaluate(&w, m, it, lambda_n, &ll)))
      break;
    if (trace)
      trace[it] = ll;
    if (ll - prev <= o->tol * (1.0 + fabs(ll))) {
      reason = "converged";
      break;
    }
  }
  if (iters)
    *iters = it;
  if (nfloored) {
    size_t nf = 0;
    for (size_t d = 0; d < D; d++)
      nf += w.hit[d];
    *nfloored = m->ppca && nf > 0 ? 1 : nf;
  }
  if (!st)
    set_reason(stop_reason, reason_cap, reason);
  em_work_free(&w);
  return st;
}

/* ------------------------------------------------------------ PPCA closed form */

int
infb_lingauss_ppca_closed_floor(infb_lingauss *m, const gsl_matrix *X, double psi_floor,
                                size_t *nfloored)
{
  if (nfloored)
    *nfloored = 0;
  if (!m->ppca)
    return INFB_ERROR(GSL_EINVAL, "PPCA closed form: the model is not ppca (Psi is not "
                                  "isotropic)");
  if (!(psi_floor >= 0.0) || !isfinite(psi_floor))
    return INFB_ERROR(GSL_EINVAL, "PPCA closed form: psi_floor = %g must be a finite number ≥ 0",
                      psi_floor);
  int st;
  if ((st = check_data(X, m->D, "PPCA closed form")))
    return st;
  size_t D = m->D, K = m->K;
  gsl_matrix *S = infb_dense_matrix_alloc(D, D), *U = S ? infb_dense_matrix_alloc(D, D) : NULL;
  gsl_vector *xbar = U ? infb_dense_vector_alloc(D) : NULL, *ev = xbar ? infb_dense_vector_alloc(D) : NULL;
  gsl_eigen_symmv_workspace *ws = NULL;
  if (ev) {
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    ws = gsl_eigen_symmv_alloc(D);
    gsl_set_error_handler(old);
    if (!ws)
      INFB_ERROR(GSL_ENOMEM, "PPCA closed form: out of memory for the eigen workspace");
  }
  if (!ws) {
    st = GSL_ENOMEM;
    goto done;
  }
  if ((st = moments(X, xbar, S)))
    goto done;
  if ((st = gsl_eigen_symmv(S, ev, U, ws))) {
    st = INFB_ERROR(st, "PPCA closed form: the eigen-decomposition of S failed");
    goto done;
  }
  gsl_eigen_symmv_sort(ev, U, GSL_EIGEN_SORT_VAL_DESC);
  /* σ² = mean of the D − K smallest eigenvalues; W = U_K (Λ_K − σ²I)^{1/2}. */
  double s2 = 0.0;
  for (size_t d = K; d < D; d++)
    s2 += gsl_vector_get(ev, d);
  s2 /= (double)(D - K);
  if (s2 < psi_floor) {
    s2 = psi_floor;
    if (nfloored)
      *nfloored = 1;
  }
  if (!(s2 > 0.0) || !isfinite(s2)) {
    st = INFB_ERROR(INFB_ESINGULAR,
                    "PPCA closed form: sigma^2 = %g: the data lie in a K-dimensional subspace; "
                    "set a positive [mle] psi_floor",
                    s2);
    goto done;
  }
  for (size_t k = 0; k < K; k++) {
    double g = gsl_vector_get(ev, k) - s2;
    double scale = g > 0.0 ? sqrt(g) : 0.0;
    for (size_t d = 0; d < D; d++)
      gsl_matrix_set(m->W, d, k, gsl_matrix_get(U, d, k) * scale);
  }
  gsl_vector_memcpy(m->b, xbar);
  gsl_vector_set_all(m->psi, s2);
done:
  if (ws)
    gsl_eigen_symmv_free(ws);
  if (ev)
    gsl_vector_free(ev);
  if (xbar)
    gsl_vector_free(xbar);
  if (U)
    gsl_matrix_free(U);
  if (S)
    gsl_matrix_free(S);
  return st;
}

int
infb_lingauss_ppca_closed(infb_lingauss *m, const gsl_matrix *X)
{
  return infb_lingauss_ppca_closed_floor(m, X, 0.0, NULL);
}
