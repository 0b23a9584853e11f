/* Tests for infer/ais: forward AIS and reverse AIS (BDMC) against the exact ln p(x) of a
 * linear-Gaussian decoder written here (MATH.md §3: x ~ N(b, WWᵀ + Ψ)), from the prior
 * and from an encoder's q near the exact posterior; the HMC move against a correlated
 * Gaussian target (its mean and covariance, acceptance) and the leapfrog's reversibility;
 * AIS's potential gradient against finite differences; the schedules; per-point
 * reproducibility (alone, batched, reordered, threads, chunking); the adaptation modes;
 * NONFINITE points; row tiles (tile_points) against a decoder whose rows depend on their
 * place in the call, and through the VAE's float32 decoder on OpenBLAS; the error paths
 * (MATH.md §7–8). */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "core/rng.h"
#include "infer/ais.h"
#include "infer/gapeval.h"
#include "linalg/blas.h"
#include "nn/vae.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define MAXD 5
#define MAXK 3

/* ---- a linear-Gaussian decoder: z ~ N(0, I_K), x | z ~ N(Wz + b, diag psi) ---- */

typedef struct {
  size_t D, K;
  double W[MAXD * MAXK]; /* D×K row-major */
  double b[MAXD], psi[MAXD];
  const double *nan_x;   /* rows of this point get ln p = NaN */
  size_t fail_call;      /* nonzero: calls from this one on return GSL_EFAILED */
  size_t calls;          /* decoder calls so far */
  unsigned parts_used;   /* bit p: part p was called */
} lgmodel;

/* ln N(x; Wz + b, Ψ) and its z-gradient G_k = Σ_d W_dk r_d/ψ_d, r = x − b − Wz. */
static int
lg_decoder(void *self, size_t R, const double *X, const size_t *xrow, const double *Z,
           double *logp, double *G)
{
  lgmodel *m = self;
  const size_t D = m->D, K = m->K;
  size_t call = __atomic_add_fetch(&m->calls, 1, __ATOMIC_RELAXED);
  if (m->fail_call && call >= m->fail_call)
    return GSL_EFAILED;
  for (size_t r = 0; r < R; r++) {
    const double *x = X + xrow[r] * D, *z = Z + r * K;
    double lp = 0.0;
    for (size_t k = 0; k < K; k++)
      G[r * K + k] = 0.0;
    for (size_t d = 0; d < D; d++) {
      double res = x[d] - m->b[d];
      for (size_t k = 0; k < K; k++)
        res -= m->W[d * K + k] * z[k];
      lp += -0.5 * (log(2.0 * M_PI) + log(m->psi[d]) + res * res / m->psi[d]);
      for (size_t k = 0; k < K; k++)
        G[r * K + k] += m->W[d * K + k] * res / m->psi[d];
    }
    if (m->nan_x && memcmp(x, m->nan_x, D * sizeof(double)) == 0)
      lp = NAN;
    logp[r] = lp;
  }
  return GSL_SUCCESS;
}

/* The same as independent parts: rows do not depend on each other. */
static int
lg_decoder_part(void *self, size_t part, size_t R, const double *X, const size_t *xrow,
                const double *Z, double *logp, double *G)
{
  lgmodel *m = self;
  __atomic_or_fetch(&m->parts_used, 1u << part, __ATOMIC_RELAXED);
  return lg_decoder(self, R, X, xrow, Z, logp, G);
}

static void
lg_random(lgmodel *m, gsl_rng *r, size_t D, size_t K, double psi_lo, double psi_hi)
{
  memset(m, 0, sizeof *m);
  m->D = D;
  m->K = K;
  for (size_t q = 0; q < D * K; q++)
    m->W[q] = gsl_ran_gaussian(r, 1.0);
  for (size_t d = 0; d < D; d++) {
    m->b[d] = gsl_ran_gaussian(r, 0.5);
    m->psi[d] = psi_lo + (psi_hi - psi_lo) * gsl_rng_uniform(r);
  }
}

static infb_decoder
lg_dec(lgmodel *m, size_t parts)
{
  infb_decoder d = {.D = m->D, .K = m->K, .fn = lg_decoder, .self = m, .parts = parts,
                    .fn_part = parts ? lg_decoder_part : NULL};
  return d;
}

/* n draws z* ~ N(0, I), x = Wz* + b + N(0, Ψ): z* is an exact sample of p(z | x). */
static void
lg_sample(const lgmodel *m, gsl_rng *r, size_t n, double *X, double *Zs)
{
  for (size_t i = 0; i < n; i++) {
    double *z = Zs + i * m->K;
    for (size_t k = 0; k < m->K; k++)
      z[k] = gsl_ran_gaussian(r, 1.0);
    for (size_t d = 0; d < m->D; d++) {
      double v = m->b[d] + gsl_ran_gaussian(r, sqrt(m->psi[d]));
      for (size_t k = 0; k < m->K; k++)
        v += m->W[d * m->K + k] * z[k];
      X[i * m->D + d] = v;
    }
  }
}

/* Exact ln p(x) = ln N(x; b, WWᵀ + Ψ) by Cholesky (MATH.md §3). */
static double
lg_logpx(const lgmodel *m, const double *x)
{
  const size_t D = m->D, K = m->K;
  gsl_matrix *S = gsl_matrix_alloc(D, D);
  gsl_vector *r = gsl_vector_alloc(D);
  for (size_t i = 0; i < D; i++) {
    for (size_t j = 0; j < D; j++) {
      double s = i == j ? m->psi[i] : 0.0;
      for (size_t k = 0; k < K; k++)
        s += m->W[i * K + k] * m->W[j * K + k];
      gsl_matrix_set(S, i, j, s);
    }
    gsl_vector_set(r, i, x[i] - m->b[i]);
  }
  gsl_linalg_cholesky_decomp1(S);
  double logdet = 0.0;
  for (size_t i = 0; i < D; i++)
    logdet += 2.0 * log(gsl_matrix_get(S, i, i));
  gsl_vector *y = gsl_vector_alloc(D);
  gsl_linalg_cholesky_solve(S, r, y);
  double q = 0.0;
  for (size_t i = 0; i < D; i++)
    q += gsl_vector_get(r, i) * gsl_vector_get(y, i);
  gsl_matrix_free(S);
  gsl_vector_free(r);
  gsl_vector_free(y);
  return -0.5 * ((double)D * log(2.0 * M_PI) + logdet + q);
}

/* The exact posterior N(Λ⁻¹WᵀΨ⁻¹(x − b), Λ⁻¹), Λ = I + WᵀΨ⁻¹W: its mean and the log of its
 * marginal variances diag Λ⁻¹. */
static void
lg_posterior(const lgmodel *m, const double *x, double *mu, double *lv)
{
  const size_t D = m->D, K = m->K;
  gsl_matrix *A = gsl_matrix_alloc(K, K);
  double u[MAXK];
  for (size_t j = 0; j < K; j++) {
    for (size_t k = 0; k < K; k++) {
      double s = j == k;
      for (size_t d = 0; d < D; d++)
        s += m->W[d * K + j] * m->W[d * K + k] / m->psi[d];
      gsl_matrix_set(A, j, k, s);
    }
    u[j] = 0.0;
    for (size_t d = 0; d < D; d++)
      u[j] += m->W[d * K + j] * (x[d] - m->b[d]) / m->psi[d];
  }
  gsl_linalg_cholesky_decomp1(A);
  gsl_linalg_cholesky_invert(A);
  for (size_t j = 0; j < K; j++) {
    mu[j] = 0.0;
    for (size_t k = 0; k < K; k++)
      mu[j] += gsl_matrix_get(A, j, k) * u[k];
    lv[j] = log(gsl_matrix_get(A, j, j));
  }
  gsl_matrix_free(A);
}

/* ---- helpers ---- */

static double
mean_of(size_t n, const double *v)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += v[i];
  return s / (double)n;
}

static double
sd_of(size_t n, const double *v)
{
  double m = mean_of(n, v), s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (v[i] - m) * (v[i] - m);
  return sqrt(s / (double)(n - 1));
}

static void
small_options(infb_ais_options *o, size_t C, size_t T, size_t L)
{
  infb_ais_options_default(o);
  o->chains = C;
  o->temperatures = T;
  o->leapfrog = L;
  o->pilot_chains = 8;
  o->seed = 7;
}

/* ---- the schedules ---- */

static void
test_schedule(void)
{
  double beta[1001];
  int st = infb_ais_schedule_fill(INFB_AIS_LINEAR, 0.0, 10, beta);
  int mono = 1;
  for (size_t t = 1; t <= 10; t++)
    mono = mono && beta[t] > beta[t - 1];
  ok(st == 0 && beta[0] == 0.0 && beta[10] == 1.0 && mono && beta[5] == 0.5,
     "linear schedule T = 10: β_0 = 0, β_T = 1 exactly, increasing, β_5 = 0.5");
  for (size_t T = 10; T <= 1000; T *= 100) {
    st = infb_ais_schedule_fill(INFB_AIS_SIGMOID, 4.0, T, beta);
    mono = 1;
    for (size_t t = 1; t <= T; t++)
      mono = mono && beta[t] > beta[t - 1];
    ok(st == 0 && beta[0] == 0.0 && beta[T] == 1.0 && mono &&
       fabs(beta[T / 2] - 0.5) < 1e-15,
       "sigmoid schedule δ = 4, T = %zu: ends exactly 0 and 1, increasing, β_{T/2} = 0.5",
       T);
  }
  /* σ(δ(2t/T − 1)) rescaled: at t = T/4, (σ(−2) − σ(−4))/(σ(4) − σ(−4)). */
  infb_ais_schedule_fill(INFB_AIS_SIGMOID, 4.0, 1000, beta);
  double lo = 1.0 / (1.0 + exp(4.0)), want = (1.0 / (1.0 + exp(2.0)) - lo) / (1.0 - 2.0 * lo);
  is_double_rel(want, beta[250], 1e-13, "sigmoid δ = 4: β_{T/4} = (σ(−2) − σ(−4))/(σ(4) − σ(−4))");
  ok(infb_ais_schedule_fill(INFB_AIS_LINEAR, 4.0, 1, beta) == GSL_EINVAL &&
     infb_ais_schedule_fill(7, 4.0, 10, beta) == GSL_EINVAL &&
     infb_ais_schedule_fill(INFB_AIS_SIGMOID, 0.0, 10, beta) == GSL_EINVAL,
     "schedule: T = 1, an unknown schedule and δ = 0 are GSL_EINVAL");
  ok(infb_ais_trace_rows(10, 3) == 4 && infb_ais_trace_rows(10, 5) == 2 &&
     infb_ais_trace_rows(10, 1) == 10 && infb_ais_trace_rows(10, 0) == 0,
     "trace rows: T = 10 → 4 (stride 3), 2 (5), 10 (1), 0 (0)");
}

/* ---- HMC on a correlated Gaussian: U = ½‖z‖² + ½(z − a)ᵀA(z − a) ---- */

typedef struct {
  double A[4], a[2];
  size_t evals;
} gauss2;

static int
gauss_pot(void *ctx, size_t R, const double *Z, double *U, double *gradU)
{
  gauss2 *g = ctx;
  g->evals += R;
  for (size_t r = 0; r < R; r++) {
    const double *z = Z + 2 * r;
    double d0 = z[0] - g->a[0], d1 = z[1] - g->a[1];
    double Ad0 = g->A[0] * d0 + g->A[1] * d1, Ad1 = g->A[2] * d0 + g->A[3] * d1;
    U[r] = 0.5 * (z[0] * z[0] + z[1] * z[1]) + 0.5 * (d0 * Ad0 + d1 * Ad1);
    gradU[2 * r] = z[0] + Ad0;
    gradU[2 * r + 1] = z[1] + Ad1;
  }
  return GSL_SUCCESS;
}

static void
test_hmc(void)
{
  /* Precision Λ = I + A, mean m = Λ⁻¹Aa, covariance Λ⁻¹ (2×2 inverse by hand). */
  gauss2 g = {.A = {8.0, 6.0, 6.0, 8.0}, .a = {1.0, -0.5}};
  const double L00 = 1 + g.A[0], L01 = g.A[1], L11 = 1 + g.A[3], det = L00 * L11 - L01 * L01;
  const double S00 = L11 / det, S01 = -L01 / det, S11 = L00 / det;
  const double Aa0 = g.A[0] * g.a[0] + g.A[1] * g.a[1], Aa1 = g.A[2] * g.a[0] + g.A[3] * g.a[1];
  const double m0 = S00 * Aa0 + S01 * Aa1, m1 = S01 * Aa0 + S11 * Aa1;

  /* Leapfrog reversibility: L steps forward, negate p, L steps back. */
  {
    double Z[6] = {0.3, -1.2, 2.0, 0.5, -3.0, 1.0}, P[6] = {1.0, 0.2, -0.7, 0.4, 0.0, -2.0};
    double Z0[6], P0[6], U[3], G[6];
    memcpy(Z0, Z, sizeof Z);
    memcpy(P0, P, sizeof P);
    gauss_pot(&g, 3, Z, U, G);
    int st = infb_ais_leapfrog(gauss_pot, &g, 3, 2, 25, 0.05, Z, P, U, G);
    double moved = 0.0;
    for (int q = 0; q < 6; q++) {
      moved = fmax(moved, fabs(Z[q] - Z0[q]));
      P[q] = -P[q];
    }
    st |= infb_ais_leapfrog(gauss_pot, &g, 3, 2, 25, 0.05, Z, P, U, G);
    double ez = 0.0, ep = 0.0;
    for (int q = 0; q < 6; q++) {
      ez = fmax(ez, fabs(Z[q] - Z0[q]));
      ep = fmax(ep, fabs(-P[q] - P0[q]));
    }
    ok(st == 0 && moved > 0.1 && ez < 1e-12 && ep < 1e-12,
       "leapfrog 25 steps of 0.05 there and back: z recovered to %.1e, p to %.1e (moved %.2f)",
       ez, ep, moved);
    /* Energy nearly conserved over one trajectory (second-order integrator). */
    double Zc[2] = {0.5, 0.5}, Pc[2] = {1.0, -1.0}, Uc, Gc[2];
    gauss_pot(&g, 1, Zc, &Uc, Gc);
    double H0 = Uc + 0.5 * (Pc[0] * Pc[0] + Pc[1] * Pc[1]);
    infb_ais_leapfrog(gauss_pot, &g, 1, 2, 20, 0.01, Zc, Pc, &Uc, Gc);
    double H1 = Uc + 0.5 * (Pc[0] * Pc[0] + Pc[1] * Pc[1]);
    ok(fabs(H1 - H0) < 1e-3 && g.evals == 3 + 3 * 25 * 2 + 1 + 20,
       "leapfrog: energy change %.1e over 20 steps of 0.01; one potential call per step", H1 - H0);
  }

  /* R independent chains started off target at (4, −4), M moves each: the final states
   * are draws from N(m, Λ⁻¹). */
  const size_t R = 2000, M = 60, Lf = 8;
  const double eps = 0.3;
  gsl_rng **rng = malloc(R * sizeof *rng);
  double *Z = malloc(2 * R * sizeof *Z), *U = malloc(R * sizeof *U), *G = malloc(2 * R * sizeof *G);
  double *work = malloc((3 * R * 2 + 3 * R) * sizeof *work);
  int *acc = malloc(R * sizeof *acc);
  for (size_t r = 0; r < R; r++) {
    rng[r] = infb_rng_sampler(11, "test/ais/hmc", r);
    Z[2 * r] = 4.0;
    Z[2 * r + 1] = -4.0;
  }
  gauss_pot(&g, R, Z, U, G);
  size_t nacc = 0;
  int st = 0;
  for (size_t t = 0; t < M && !st; t++) {
    st = infb_ais_hmc_move(gauss_pot, &g, rng, R, 2, Lf, eps, NULL, Z, U, G, work, acc);
    for (size_t r = 0; r < R; r++)
      nacc += acc[r];
  }
  double s0 = 0, s1 = 0;
  for (size_t r = 0; r < R; r++) {
    s0 += Z[2 * r];
    s1 += Z[2 * r + 1];
  }
  s0 /= (double)R;
  s1 /= (double)R;
  double c00 = 0, c01 = 0, c11 = 0;
  for (size_t r = 0; r < R; r++) {
    double d0 = Z[2 * r] - s0, d1 = Z[2 * r + 1] - s1;
    c00 += d0 * d0;
    c01 += d0 * d1;
    c11 += d1 * d1;
  }
  c00 /= (double)(R - 1);
  c01 /= (double)(R - 1);
  c11 /= (double)(R - 1);
  const double rate = (double)nacc / (double)(R * M), n = (double)R;
  ok(st == 0 && rate > 0.2 && rate < 0.95, "HMC move: acceptance %.3f in (0.2, 0.95)", rate);
  ok(fabs(s0 - m0) < 4 * sqrt(S00 / n) && fabs(s1 - m1) < 4 * sqrt(S11 / n),
     "HMC move: mean (%.4f, %.4f) vs exact (%.4f, %.4f) within 4 s.e.", s0, s1, m0, m1);
  /* Var of a sample covariance entry of a Gaussian: (Σ_ii Σ_jj + Σ_ij²)/n. */
  ok(fabs(c00 - S00) < 4 * sqrt(2 * S00 * S00 / n) &&
     fabs(c11 - S11) < 4 * sqrt(2 * S11 * S11 / n) &&
     fabs(c01 - S01) < 4 * sqrt((S00 * S11 + S01 * S01) / n),
     "HMC move: covariance (%.4f, %.4f, %.4f) vs exact (%.4f, %.4f, %.4f) within 4 s.e.", c00,
     c01, c11, S00, S01, S11);
  /* Per-row steps: a chain with step 0 never moves (the proposal is the state itself, so
   * H is unchanged and it is accepted). */
  double eps_rows[2] = {0.0, eps}, Z2[4] = {1.0, 1.0, 1.0, 1.0}, U2[2], G2[4];
  int acc2[2];
  gauss_pot(&g, 2, Z2, U2, G2);
  st = infb_ais_hmc_move(gauss_pot, &g, rng, 2, 2, Lf, 0.5, eps_rows, Z2, U2, G2, work, acc2);
  ok(st == 0 && Z2[0] == 1.0 && Z2[1] == 1.0 && acc2[0] == 1 && (Z2[2] != 1.0 || !acc2[1]),
     "HMC move: per-row steps (a row of step 0 stays where it is)");
  for (size_t r = 0; r < R; r++)
    gsl_rng_free(rng[r]);
  free(rng);
  free(Z);
  free(U);
  free(G);
  free(work);
  free(acc);
}

/* ---- AIS's potential against finite differences ---- */

static void
test_potential(lgmodel *m, gsl_rng *r)
{
  infb_decoder dec = lg_dec(m, 0);
  const size_t K = m->K;
  double x[MAXD], zs[MAXK], mu[MAXK], lv[MAXK];
  lg_sample(m, r, 1, x, zs);
  lg_posterior(m, x, mu, lv);
  for (size_t k = 0; k < K; k++) {
    mu[k] += 0.3;
    lv[k] += 0.5;
  }
  for (int init = 0; init < 2; init++) {
    double Z[3 * MAXK], U[3], G[3 * MAXK], worst = 0.0, gmax = 0.0;
    for (size_t q = 0; q < 3 * K; q++)
      Z[q] = gsl_ran_gaussian(r, 1.0);
    const double beta = 0.37, h = 1e-5;
    int st = infb_ais_potential(&dec, x, beta, init, mu, lv, 0.0, 3, Z, U, G);
    for (size_t q = 0; q < 3 * K; q++) {
      double Zp[3 * MAXK], Up[3], Um[3], Gt[3 * MAXK];
      memcpy(Zp, Z, sizeof Zp);
      Zp[q] += h;
      st |= infb_ais_potential(&dec, x, beta, init, mu, lv, 0.0, 3, Zp, Up, Gt);
      Zp[q] -= 2 * h;
      st |= infb_ais_potential(&dec, x, beta, init, mu, lv, 0.0, 3, Zp, Um, Gt);
      const size_t row = q / K;
      double fd = (Up[row] - Um[row]) / (2 * h);
      worst = fmax(worst, fabs(fd - G[q]) / fmax(1.0, fabs(G[q])));
      gmax = fmax(gmax, fabs(G[q]));
    }
    ok(st == 0 && worst < 1e-6 && gmax > 0.1,
       "AIS potential (%s, β = 0.37): ∇U matches central differences (worst rel. %.1e, "
       "max |∇U| %.2f)", init ? "encoder" : "prior", worst, gmax);
  }
  /* Values: prior U = ½‖z‖² + (K/2) ln 2π − β ln p(x|z); encoder at β = 0 is −ln q(z), at
   * β = 1 is −ln p(x, z). */
  double z[MAXK], U, G[MAXK], lp, Gd[MAXK];
  size_t xr = 0;
  for (size_t k = 0; k < K; k++)
    z[k] = 0.2 * (double)k - 0.1;
  lg_decoder(m, 1, x, &xr, z, &lp, Gd);
  double zz = 0.0, lq = 0.0;
  for (size_t k = 0; k < K; k++) {
    zz += z[k] * z[k];
    lq += -0.5 * (log(2 * M_PI) + lv[k] + (z[k] - mu[k]) * (z[k] - mu[k]) / exp(lv[k]));
  }
  const double lnprior = -0.5 * zz - 0.5 * (double)K * log(2 * M_PI);
  int st = infb_ais_potential(&dec, x, 0.6, INFB_AIS_PRIOR, NULL, NULL, 0.0, 1, z, &U, G);
  is_double_rel(-lnprior - 0.6 * lp, U, 1e-12, "AIS potential, prior, β = 0.6: U = −ln p(z) − β ln p(x|z)");
  st |= infb_ais_potential(&dec, x, 0.0, INFB_AIS_ENCODER, mu, lv, 0.0, 1, z, &U, G);
  is_double_rel(-lq, U, 1e-12, "AIS potential, encoder, β = 0: U = −ln q(z)");
  st |= infb_ais_potential(&dec, x, 1.0, INFB_AIS_ENCODER, mu, lv, 0.0, 1, z, &U, G);
  is_double_rel(-(lp + lnprior), U, 1e-12, "AIS potential, encoder, β = 1: U = −ln p(x, z)");
  /* The clip: every ∂ ln p(x|z)/∂z_k within ±0.01, so ∇U = z − β·clip(G) at the prior. */
  st |= infb_ais_potential(&dec, x, 1.0, INFB_AIS_PRIOR, NULL, NULL, 0.01, 1, z, &U, G);
  double worst = 0.0;
  for (size_t k = 0; k < K; k++)
    worst = fmax(worst, fabs(G[k] - (z[k] - fmax(-0.01, fmin(0.01, Gd[k])))));
  ok(st == 0 && worst < 1e-15, "AIS potential: the gradient clip ±0.01 (error %.1e)", worst);
}

/* ---- forward and reverse AIS against exact ln p(x) ---- */

typedef struct {
  double bias, bias_se, gap, gap_se, rev_excess, rev_excess_se;
  size_t fwd_ok, rev_ok; /* points within the sigma bounds */
  int st, all_ok;
} lg_summary;

/* AIS over the n points; d[i] = exact − ln p̂_fwd and (with_rev) gp[i] = ln p̂_rev − ln p̂_fwd
 * for the paired comparisons between settings. */
static lg_summary
lg_run(lgmodel *m, const infb_ais_options *o, size_t n, const double *X, const double *Zs,
       const double *exact, const double *q_mu, const double *q_lv, int with_rev, double *d,
       double *gp)
{
  infb_decoder dec = lg_dec(m, 0);
  infb_ais_point *fwd = calloc(n, sizeof *fwd), *rev = calloc(n, sizeof *rev);
  double *re = malloc(n * sizeof *re);
  lg_summary s = {0};
  s.st = infb_ais_run(&dec, o, n, X, 0, q_mu, q_lv, with_rev ? Zs : NULL, fwd,
                      with_rev ? rev : NULL, NULL, NULL);
  s.all_ok = 1;
  for (size_t i = 0; i < n; i++) {
    s.all_ok = s.all_ok && fwd[i].status == INFB_AIS_OK &&
               (!with_rev || rev[i].status == INFB_AIS_OK);
    d[i] = exact[i] - fwd[i].log_px;
    gp[i] = with_rev ? rev[i].log_px - fwd[i].log_px : 0.0;
    re[i] = with_rev ? rev[i].log_px - exact[i] : 0.0;
  }
  s.bias = mean_of(n, d);
  s.bias_se = sd_of(n, d) / sqrt((double)n);
  s.gap = mean_of(n, gp);
  s.gap_se = sd_of(n, gp) / sqrt((double)n);
  s.rev_excess = mean_of(n, re);
  s.rev_excess_se = sd_of(n, re) / sqrt((double)n);
  for (size_t i = 0; i < n; i++) {
    s.fwd_ok += d[i] <= s.bias + 3 * fwd[i].mc_se;
    s.rev_ok += with_rev && rev[i].log_px >= exact[i] - 3 * rev[i].mc_se;
  }
  free(fwd);
  free(rev);
  free(re);
  return s;
}

/* Mean and standard error over points of a[i] − b[i]. */
static void
paired(size_t n, const double *a, const double *b, double *mean, double *se)
{
  double *v = malloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = a[i] - b[i];
  *mean = mean_of(n, v);
  *se = sd_of(n, v) / sqrt((double)n);
  free(v);
}

static void
test_lingauss(lgmodel *m, gsl_rng *r)
{
  const size_t n = 100, D = m->D, K = m->K;
  double *X = malloc(n * D * sizeof *X), *Zs = malloc(n * K * sizeof *Zs);
  double *exact = malloc(n * sizeof *exact);
  double *qm = malloc(n * K * sizeof *qm), *ql = malloc(n * K * sizeof *ql);
  double *d = malloc(4 * n * sizeof *d), *gp = malloc(4 * n * sizeof *gp);
  lg_sample(m, r, n, X, Zs);
  for (size_t i = 0; i < n; i++)
    exact[i] = lg_logpx(m, X + i * D);

  /* 24 chains, 8 leapfrog steps, pilot steps from 0.1: the protocol's shape, scaled down. */
  const size_t Ts[3] = {10, 100, 1000};
  lg_summary s[3];
  for (int j = 0; j < 3; j++) {
    infb_ais_options o;
    small_options(&o, 24, Ts[j], 8);
    o.step_size = 0.1;
    s[j] = lg_run(m, &o, n, X, Zs, exact, NULL, NULL, 1, d + j * n, gp + j * n);
    diag("T = %zu: bias %.4f ± %.4f, BDMC gap %.4f ± %.4f, rev − exact %.4f ± %.4f, "
         "fwd within %zu, rev within %zu", Ts[j], s[j].bias, s[j].bias_se, s[j].gap,
         s[j].gap_se, s[j].rev_excess, s[j].rev_excess_se, s[j].fwd_ok, s[j].rev_ok);
    ok(s[j].st == 0 && s[j].all_ok, "AIS T = %zu over %zu points: success, every point OK",
       Ts[j], n);
    /* At T = 10 the bias itself varies from point to point by more than the chains'
     * s.e., so the per-point bound is looser there. */
    const size_t need = j ? 99 : 90;
    ok(s[j].fwd_ok >= need, "forward AIS (prior, PILOT) T = %zu: exact − ln p̂ ≤ mean bias "
       "%.3f + 3 s.e. on %zu/100 points (≥ %zu)", Ts[j], s[j].bias, s[j].fwd_ok, need);
    ok(s[j].bias > -3 * s[j].bias_se, "forward AIS T = %zu: a lower bound on average "
       "(mean exact − ln p̂ = %.4f > −3·%.4f)", Ts[j], s[j].bias, s[j].bias_se);
    /* All reverse chains of a point start at its one z*: their s.e. understates. */
    ok(s[j].rev_ok >= 85 && s[j].rev_excess > -3 * s[j].rev_excess_se,
       "reverse AIS from z* T = %zu: ≥ exact − 3 s.e. on %zu/100 points (≥ 85), an upper "
       "bound on average (mean excess %.4f > −3·%.4f)", Ts[j], s[j].rev_ok, s[j].rev_excess,
       s[j].rev_excess_se);
    if (j < 2)
      ok(s[j].gap > 3 * s[j].gap_se, "BDMC gap T = %zu: %.4f > 3·%.4f", Ts[j], s[j].gap,
         s[j].gap_se);
    else
      ok(s[j].gap > -3 * s[j].gap_se && s[j].gap < 0.05,
         "BDMC gap T = %zu: %.4f in (−3·%.4f, 0.05 nat)", Ts[j], s[j].gap, s[j].gap_se);
  }
  double m01, se01, m12, se12, m02, se02;
  paired(n, d, d + n, &m01, &se01);
  paired(n, d + n, d + 2 * n, &m12, &se12);
  paired(n, d, d + 2 * n, &m02, &se02);
  /* The bias's spread over points is dominated by a few points of heavy-tailed weights at
   * T = 10 (most points are nearly unbiased already), hence 2 paired s.e. for the drop
   * from T = 10 to 1000, besides the order of the means. */
  ok(s[0].bias > s[1].bias && s[1].bias > s[2].bias && m02 > 2 * se02,
     "forward AIS bias shrinks with temperatures: %.4f > %.4f > %.4f (T 10 → 1000 by "
     "%.4f > 2·%.4f, paired)", s[0].bias, s[1].bias, s[2].bias, m02, se02);
  paired(n, gp, gp + n, &m01, &se01);
  paired(n, gp + n, gp + 2 * n, &m12, &se12);
  ok(m01 > 3 * se01 && m12 > 3 * se12,
     "BDMC gap shrinks with temperatures: %.4f > %.4f > %.4f (paired differences %.4f ± "
     "%.4f, %.4f ± %.4f)", s[0].gap, s[1].gap, s[2].gap, m01, se01, m12, se12);

  /* From the encoder: q = the exact posterior's marginals, and a perturbed one. */
  infb_ais_options o;
  small_options(&o, 24, 100, 8);
  o.step_size = 0.1;
  o.init = INFB_AIS_ENCODER;
  for (int pert = 0; pert < 2; pert++) {
    for (size_t i = 0; i < n; i++) {
      lg_posterior(m, X + i * D, qm + i * K, ql + i * K);
      for (size_t k = 0; k < K && pert; k++) {
        qm[i * K + k] += 0.5 * exp(0.5 * ql[i * K + k]) * (k % 2 ? 1.0 : -1.0);
        ql[i * K + k] += 0.7;
      }
    }
    lg_summary e = lg_run(m, &o, n, X, Zs, exact, qm, ql, 0, d + 3 * n, gp + 3 * n);
    diag("encoder%s T = 100: bias %.5f ± %.5f, within %zu", pert ? " (perturbed)" : "",
         e.bias, e.bias_se, e.fwd_ok);
    paired(n, d + n, d + 3 * n, &m01, &se01);
    ok(e.st == 0 && e.all_ok && e.fwd_ok >= 99 && e.bias > -3 * e.bias_se && e.bias < 0.05 &&
       m01 > 0.0, "forward AIS from %s q, T = 100: mean bias %.4f ± %.4f in (−3 s.e., 0.05), "
       "below the prior start's %.4f; within bias + 3 s.e. on %zu/100",
       pert ? "a perturbed" : "the posterior-marginal", e.bias, e.bias_se, s[1].bias, e.fwd_ok);
  }
  free(X);
  free(Zs);
  free(exact);
  free(qm);
  free(ql);
  free(d);
  free(gp);
}

/* ---- unbiasedness: E[w] = p(x) forward, E[w_rev] = 1/p(x) over z* ~ p(z|x) ---- */

static void
test_unbiased(lgmodel *m, gsl_rng *r)
{
  const size_t D = m->D, K = m->K, S = 4000;
  double x[MAXD], zs[MAXK];
  lg_sample(m, r, 1, x, zs);
  const double exact = lg_logpx(m, x);
  infb_decoder dec = lg_dec(m, 0);
  infb_ais_options o;
  /* Few temperatures, FIXED steps: w has a large variance but E[w] = p(x) exactly. */
  small_options(&o, S, 8, 3);
  o.adapt = INFB_AIS_FIXED;
  o.step_size = 0.2;
  infb_ais_point f;
  int st = infb_ais_run(&dec, &o, 1, x, 0, NULL, NULL, NULL, &f, NULL, NULL, NULL);
  ok(st == 0 && f.status == 0 && fabs(f.log_px - exact) < 4 * f.mc_se && f.mc_se < 0.1 &&
     f.accept > 0.2,
     "forward AIS, one point, %zu chains of T = 8: ln p̂ %.4f = exact %.4f within 4·%.4f "
     "(E[w] = p(x)); acceptance %.2f", S, f.log_px, exact, f.mc_se, f.accept);
  /* Reverse: S copies of the point, each with its own z* drawn from the exact posterior
   * N(Λ⁻¹WᵀΨ⁻¹(x − b), Λ⁻¹) and one chain; w_rev = exp(−ln p̂_rev). */
  gsl_matrix *Lc = gsl_matrix_alloc(K, K);
  for (size_t j = 0; j < K; j++)
    for (size_t k = 0; k < K; k++) {
      double s = j == k;
      for (size_t d = 0; d < D; d++)
        s += m->W[d * K + j] * m->W[d * K + k] / m->psi[d];
      gsl_matrix_set(Lc, j, k, s);
    }
  gsl_linalg_cholesky_decomp1(Lc); /* Λ = LLᵀ: z = μ + L⁻ᵀε has covariance Λ⁻¹ */
  double mu[MAXK], lv[MAXK];
  lg_posterior(m, x, mu, lv);
  double *X = malloc(S * D * sizeof *X), *Z = malloc(S * K * sizeof *Z);
  infb_ais_point *rv = malloc(S * sizeof *rv);
  for (size_t i = 0; i < S; i++) {
    memcpy(X + i * D, x, D * sizeof(double));
    double e[MAXK];
    for (size_t k = 0; k < K; k++)
      e[k] = gsl_ran_gaussian(r, 1.0);
    for (size_t k = K; k-- > 0;) { /* back substitution Lᵀy = e */
      double s = e[k];
      for (size_t j = k + 1; j < K; j++)
        s -= gsl_matrix_get(Lc, j, k) * e[j];
      e[k] = s / gsl_matrix_get(Lc, k, k);
    }
    for (size_t k = 0; k < K; k++)
      Z[i * K + k] = mu[k] + e[k];
  }
  gsl_matrix_free(Lc);
  o.chains = 1;
  o.temperatures = 100; /* fewer: w_rev's tail is too heavy for 4000 draws */
  st = infb_ais_run(&dec, &o, S, X, 0, NULL, NULL, Z, NULL, rv, NULL, NULL);
  double *lw = malloc(S * sizeof *lw), mx = -INFINITY;
  for (size_t i = 0; i < S; i++) {
    lw[i] = -rv[i].log_px;
    mx = fmax(mx, lw[i]);
  }
  double a = 0.0, b = 0.0;
  for (size_t i = 0; i < S; i++) {
    a += exp(lw[i] - mx);
    b += exp(2 * (lw[i] - mx));
  }
  const double lme = mx + log(a / (double)S), se = sqrt(fmax(0.0, b / (a * a) - 1.0 / (double)S));
  ok(st == 0 && fabs(-lme - exact) < 4 * se && se < 0.1,
     "reverse AIS, %zu exact posterior draws z* of one point, one chain each, T = 100: "
     "−ln mean w_rev %.4f = exact %.4f within 4·%.4f (E[w_rev] = 1/p(x))", S, -lme, exact, se);
  free(X);
  free(Z);
  free(rv);
  free(lw);
}

/* ---- reproducibility, modes, traces ---- */

static int
same_points(size_t n, const infb_ais_point *a, const infb_ais_point *b)
{
  for (size_t i = 0; i < n; i++)
    if (memcmp(&a[i].log_px, &b[i].log_px, sizeof(double)) ||
        memcmp(&a[i].mc_se, &b[i].mc_se, sizeof(double)) ||
        memcmp(&a[i].accept, &b[i].accept, sizeof(double)))
      return 0;
  return 1;
}

static _Thread_local int on_main_thread;

typedef struct {
  size_t calls, last_done, stop_at, off_main;
  int stop_with;
} progress_log;

static int
progress_cb(void *ctx, size_t done, size_t total)
{
  progress_log *p = ctx;
  p->calls++;
  p->last_done = done;
  p->off_main += !on_main_thread;
  return p->stop_at && done >= p->stop_at ? p->stop_with : 0;
}

static void
test_reproducible(lgmodel *m, gsl_rng *r)
{
  const size_t n = 7, D = m->D, K = m->K, T = 40;
  double X[7 * MAXD], Zs[7 * MAXK], Xr[7 * MAXD], Zr[7 * MAXK];
  lg_sample(m, r, n, X, Zs);
  for (size_t i = 0; i < n; i++) {
    memcpy(Xr + i * D, X + (n - 1 - i) * D, D * sizeof(double));
    memcpy(Zr + i * K, Zs + (n - 1 - i) * K, K * sizeof(double));
  }
  infb_ais_options o;
  small_options(&o, 8, T, 3);
  /* A high acceptance target, so the chains' cumulative rates straddle it and their
   * online steps part (with every chain above target all steps are step_size·1.02^t, and
   * ONLINE would equal PILOT but for rounding). */
  o.step_size = 0.25;
  o.target_accept = 0.9;
  infb_decoder d2 = lg_dec(m, 2), d0 = lg_dec(m, 0);
  infb_ais_point f1[7], r1[7], f2[7], r2[7], f0[7], r0[7], fa[7], ra[7], fr[7], rr[7], fc[7],
      rc[7];
  double steps[7 * 40], steps2[7 * 40];
  progress_log pl = {0};
  o.progress = progress_cb;
  o.progress_ctx = &pl;
  int st = infb_ais_run(&d2, &o, n, X, 0, NULL, NULL, Zs, f1, r1, NULL, steps);
  ok(st == 0 && pl.calls >= n && pl.last_done == n && pl.off_main == 0,
     "progress: %zu calls, all from the calling thread, the last with done = 7", pl.calls);
  o.threads = 2;
  m->parts_used = 0;
  pl = (progress_log){0};
  st |= infb_ais_run(&d2, &o, n, X, 0, NULL, NULL, Zs, f2, r2, NULL, steps2);
  ok(st == 0 && same_points(n, f1, f2) && same_points(n, r1, r2) &&
     !memcmp(steps, steps2, sizeof steps) && pl.last_done == n && pl.off_main == 0,
     "threads 1 and 2 (decoder of 2 parts, parts used 0x%x): forward and reverse ln p̂, "
     "s.e., acceptance and the steps bit-identical; progress from the calling thread",
     m->parts_used);
  o.threads = 1;
  o.progress = NULL;
  st = infb_ais_run(&d0, &o, n, X, 0, NULL, NULL, Zs, f0, r0, NULL, NULL);
  ok(st == 0 && same_points(n, f1, f0) && same_points(n, r1, r0),
     "a decoder without parts (fn): bit-identical results");
  o.chunk_rows = 3;
  st = infb_ais_run(&d0, &o, n, X, 0, NULL, NULL, Zs, fc, rc, NULL, NULL);
  ok(st == 0 && same_points(n, f1, fc) && same_points(n, r1, rc),
     "chunk_rows 3 (8 chains in calls of 3, 3, 2): bit-identical results");
  o.chunk_rows = 4096;
  int alone = 1;
  for (size_t i = 0; i < n; i++) {
    st |= infb_ais_run(&d2, &o, 1, X + i * D, i, NULL, NULL, Zs + i * K, fa + i, ra + i,
                       NULL, NULL);
  }
  alone = same_points(n, f1, fa) && same_points(n, r1, ra);
  ok(st == 0 && alone, "each point run alone (its index as first_index): bit-identical to "
     "the batch of 7");
  /* Reversed order: row j now holds point 6 − j under index j; equal to that x run alone
   * under index j. */
  st = infb_ais_run(&d2, &o, n, Xr, 0, NULL, NULL, Zr, fr, rr, NULL, NULL);
  int rev_ok = 1;
  for (size_t j = 0; j < n; j++) {
    infb_ais_point fj, rj;
    st |= infb_ais_run(&d2, &o, 1, Xr + j * D, j, NULL, NULL, Zr + j * K, &fj, &rj, NULL, NULL);
    rev_ok = rev_ok && same_points(1, fr + j, &fj) && same_points(1, rr + j, &rj);
  }
  ok(st == 0 && rev_ok && !same_points(1, fr, f1),
     "the batch in reversed order: each row bit-identical to its x alone under its index "
     "(and the streams differ from the original order)");
  /* The point's index moves its streams: the same x under another index differs. */
  infb_ais_point fo;
  st = infb_ais_run(&d2, &o, 1, X, 5, NULL, NULL, Zs, &fo, ra, NULL, NULL);
  ok(st == 0 && fo.log_px != f1[0].log_px, "the same point under another index: another "
     "estimate (%.6f vs %.6f)", fo.log_px, f1[0].log_px);

  /* FIXED, ONLINE and PILOT give different numbers; FIXED's steps are step_size. */
  infb_ais_point ff[7], fon[7];
  double sf[7 * 40], son[7 * 40];
  o.adapt = INFB_AIS_FIXED;
  int st1 = infb_ais_run(&d2, &o, n, X, 0, NULL, NULL, NULL, ff, NULL, NULL, sf);
  o.adapt = INFB_AIS_ONLINE;
  int st2 = infb_ais_run(&d2, &o, n, X, 0, NULL, NULL, NULL, fon, NULL, NULL, son);
  int differ = 1, fixed_steps = 1, finite = 1;
  for (size_t i = 0; i < n; i++) {
    differ = differ && ff[i].log_px != fon[i].log_px && ff[i].log_px != f1[i].log_px &&
             fon[i].log_px != f1[i].log_px;
    for (size_t t = 0; t < T; t++)
      fixed_steps = fixed_steps && sf[i * T + t] == o.step_size;
    finite = finite && ff[i].status == 0 && fon[i].status == 0 && isfinite(ff[i].log_px) &&
             isfinite(fon[i].log_px) && ff[i].accept > 0 && fon[i].accept > 0 &&
             ff[i].step_final == o.step_size && fon[i].step_final == son[i * T + T - 1];
  }
  ok(st1 == 0 && st2 == 0 && finite, "FIXED and ONLINE run: every point OK, finite, "
     "accepting; step_final = ε(T)");
  ok(differ && fixed_steps, "FIXED, ONLINE and PILOT give different estimates; FIXED's "
     "ε(t) = step_size");
  /* ONLINE's ε(t): from step_size, one factor 1.02 or 0.98 per move (geometric mean). */
  double ratio = son[1] / son[0];
  ok(fabs(son[0] / o.step_size - 1) < 1e-14 && ratio > 0.98 - 1e-12 && ratio < 1.02 + 1e-12 &&
     fabs(steps[0] / o.step_size - 1) < 1e-14 && fabs(log(steps[T - 1] / steps[0])) > 1e-3,
     "ONLINE and PILOT: ε(1) = step_size, ε(2)/ε(1) = %.4f in [0.98, 1.02], the pilot's "
     "ε(T) = %.4f adapted", ratio, steps[T - 1]);

  /* Traces: forward with stride 7 (rows t = 7, …, 35, 40), reverse alone with stride 1. */
  o.adapt = INFB_AIS_PILOT;
  const size_t rows = infb_ais_trace_rows(T, 7);
  double tb[6], tl[6], ta[6], ts[6];
  infb_ais_trace tr[7] = {{0}};
  tr[2] = (infb_ais_trace){7, rows, tb, tl, ta, ts};
  infb_ais_point ft[7], rt[7];
  double stt[7 * 40];
  st = infb_ais_run(&d2, &o, n, X, 0, NULL, NULL, Zs, ft, rt, tr, stt);
  ok(st == 0 && rows == 6 && same_points(n, ft, f1) && tb[5] == 1.0 && tb[0] == 7.0 / 40 &&
     !memcmp(&tl[5], &ft[2].log_px, sizeof(double)) && ts[1] == stt[2 * T + 13] &&
     ta[0] >= 0 && ta[0] <= 1,
     "forward trace (stride 7, 6 rows): β ends at 1, its last ln p̂ is the estimate, "
     "steps are step_out's; the trace changes no result");
  double rb[40], rl[40], ra2[40], rs[40];
  infb_ais_trace rtr = {1, T, rb, rl, ra2, rs};
  infb_ais_point rev1;
  st = infb_ais_run(&d2, &o, 1, X + 2 * D, 2, NULL, NULL, Zs + 2 * K, NULL, &rev1, &rtr, NULL);
  ok(st == 0 && same_points(1, &rev1, r1 + 2) && !memcmp(&rl[0], &rev1.log_px, sizeof(double)) &&
     rb[0] == 1.0 / 40 && rb[T - 1] == 1.0,
     "reverse trace (fwd NULL, stride 1): row t = 1 holds the reverse estimate");
}

/* ---- fixed row tiles (tile_points) ----
 * A decoder whose rows depend on their place in the call, as OpenBLAS's gemm kernels'
 * do (linalg/blas.h, the row contract): the linear-Gaussian ln p plus
 * (position mod 3)·1e-13·(R mod 5), position and R of the call.  With `compact` it plays
 * a tiling that would drop its padding rows (rows with z = 0 exactly: AIS's padding):
 * the position and R then count the other rows only, so the shape follows the batch. */

typedef struct {
  lgmodel *m;
  int compact;
  size_t calls, shapes[8]; /* distinct row counts seen (up to 8) */
  size_t nshapes;
} posmodel;

static int
pos_zero_row(size_t K, const double *z)
{
  for (size_t k = 0; k < K; k++)
    if (z[k] != 0.0)
      return 0;
  return 1;
}

static int
pos_decoder(void *self, size_t R, const double *X, const size_t *xrow, const double *Z,
            double *logp, double *G)
{
  posmodel *p = self;
  const size_t K = p->m->K;
  int st = lg_decoder(p->m, R, X, xrow, Z, logp, G);
  if (st)
    return st;
  size_t Rv = R, pos = 0;
  if (p->compact) {
    Rv = 0;
    for (size_t r = 0; r < R; r++)
      Rv += !pos_zero_row(K, Z + r * K);
  }
  for (size_t r = 0; r < R; r++) {
    if (p->compact && pos_zero_row(K, Z + r * K))
      continue;
    logp[r] += (double)(pos % 3) * 1e-13 * (double)(Rv % 5);
    pos++;
  }
  /* The shapes, from one thread at a time (the tests read them after single-thread runs;
   * a race with two threads only garbles this log). */
  __atomic_add_fetch(&p->calls, 1, __ATOMIC_RELAXED);
  int seen = 0;
  for (size_t j = 0; j < p->nshapes; j++)
    seen |= p->shapes[j] == R;
  if (!seen && p->nshapes < 8)
    p->shapes[p->nshapes++] = R;
  return GSL_SUCCESS;
}

static int
pos_decoder_part(void *self, size_t part, size_t R, const double *X, const size_t *xrow,
                 const double *Z, double *logp, double *G)
{
  posmodel *p = self;
  __atomic_or_fetch(&p->m->parts_used, 1u << part, __ATOMIC_RELAXED);
  return pos_decoder(self, R, X, xrow, Z, logp, G);
}

static infb_decoder
pos_dec(posmodel *p, size_t parts)
{
  infb_decoder d = {.D = p->m->D, .K = p->m->K, .fn = pos_decoder, .self = p,
                    .parts = parts, .fn_part = parts ? pos_decoder_part : NULL};
  return d;
}

/* Bit-identity of every field that holds a number, NaNs included. */
static int
same_bits(size_t n, const infb_ais_point *a, const infb_ais_point *b)
{
  for (size_t i = 0; i < n; i++)
    if (memcmp(&a[i].log_px, &b[i].log_px, sizeof(double)) ||
        memcmp(&a[i].mc_se, &b[i].mc_se, sizeof(double)) ||
        memcmp(&a[i].ess, &b[i].ess, sizeof(double)) ||
        memcmp(&a[i].accept, &b[i].accept, sizeof(double)) ||
        memcmp(&a[i].step_final, &b[i].step_final, sizeof(double)) ||
        a[i].status != b[i].status || a[i].low_ess != b[i].low_ess)
      return 0;
  return 1;
}

/* The 7 points at indices FI … FI + 6 (FI = 5: tiles of 4 from index 4, so the first
 * tile holds 3 of them and the second 4). */
#define TN 7
#define TFI 5
#define TT 30

/* Each of the TN points run alone under its index into fa, ra, sa (steps). */
static int
tiles_alone(const infb_decoder *d, const infb_ais_options *o, const lgmodel *m,
            const double *X, const double *Zs, infb_ais_point *fa, infb_ais_point *ra,
            double *sa)
{
  int st = 0;
  for (size_t j = 0; j < TN; j++)
    st |= infb_ais_run(d, o, 1, X + j * m->D, TFI + j, NULL, NULL, Zs + j * m->K, fa + j,
                       ra + j, NULL, sa + j * TT);
  return st;
}

static void
test_tiles(lgmodel *m, gsl_rng *r)
{
  const size_t D = m->D, K = m->K, T = TT;
  double X[TN * MAXD], Zs[TN * MAXK], Xr[TN * MAXD], Zr[TN * MAXK];
  lg_sample(m, r, TN, X, Zs);
  for (size_t i = 0; i < TN; i++) {
    memcpy(Xr + i * D, X + (TN - 1 - i) * D, D * sizeof(double));
    memcpy(Zr + i * K, Zs + (TN - 1 - i) * K, K * sizeof(double));
  }
  posmodel pm = {.m = m};
  infb_decoder dp = pos_dec(&pm, 2);
  infb_ais_options o;
  /* 8 chains and 6 pilot chains: calls of 32 and 24 rows at P = 4 (R mod 5 = 2, 4), 16 and
   * 12 at P = 2 (1, 2), 8 and 6 at P = 1 (3, 1): the position term never vanishes. */
  small_options(&o, 8, T, 3);
  o.pilot_chains = 6;
  o.step_size = 0.25;
  o.target_accept = 0.9;
  o.tile_points = 4;
  infb_ais_point fb[TN], rb[TN], fa[TN], ra[TN], fx[TN], rx[TN];
  double sb[TN * TT], sa[TN * TT], sx[TN * TT];

  /* The position term matters: one row, alone and third in a call of 4, or in a call of 3. */
  {
    double z[4 * MAXK] = {0}, lp[4], G[4 * MAXK];
    size_t xr[4] = {0, 0, 0, 0};
    for (size_t k = 0; k < K; k++)
      z[k] = z[K + k] = z[2 * K + k] = z[3 * K + k] = 0.3;
    pos_decoder(&pm, 4, X, xr, z, lp, G);
    double l3[3];
    pos_decoder(&pm, 3, X, xr, z, l3, G);
    ok(lp[0] != lp[2] && lp[2] != l3[2] && lp[0] == l3[0],
       "the test decoder's rows depend on their position and the call's rows (%.17g, %.17g, "
       "%.17g), as gemm rows do", lp[0], lp[2], l3[2]);
  }

  /* The reference: the batch of 7 on one thread. */
  pm.nshapes = 0;
  progress_log pl = {0};
  o.progress = progress_cb;
  o.progress_ctx = &pl;
  int st = infb_ais_run(&dp, &o, TN, X, TFI, NULL, NULL, Zs, fb, rb, NULL, sb);
  o.progress = NULL;
  int shapes = pm.nshapes == 2 && ((pm.shapes[0] == 24 && pm.shapes[1] == 32) ||
                                   (pm.shapes[0] == 32 && pm.shapes[1] == 24));
  int all_ok = 1;
  for (size_t i = 0; i < TN; i++)
    all_ok = all_ok && fb[i].status == INFB_AIS_OK && rb[i].status == INFB_AIS_OK;
  ok(st == 0 && all_ok && shapes && pl.last_done == TN && pl.off_main == 0,
     "tile_points 4, 7 points from index 5: every point OK, every decoder call 4·6 = 24 "
     "(pilot) or 4·8 = 32 rows (%zu shapes seen), progress ends at 7", pm.nshapes);

  st = tiles_alone(&dp, &o, m, X, Zs, fa, ra, sa);
  ok(st == 0 && same_bits(TN, fb, fa) && same_bits(TN, rb, ra) && !memcmp(sb, sa, sizeof sb),
     "tile_points 4, position-dependent decoder: each point run alone (its own index) is "
     "bit-identical to the batch of 7, forward, reverse and ε(t)");

  /* Reversed rows: row j holds point 6 − j under index 5 + j; it equals that x alone there. */
  st = infb_ais_run(&dp, &o, TN, Xr, TFI, NULL, NULL, Zr, fx, rx, NULL, sx);
  infb_ais_point fra[TN], rra[TN];
  double sra[TN * TT];
  st |= tiles_alone(&dp, &o, m, Xr, Zr, fra, rra, sra);
  ok(st == 0 && same_bits(TN, fx, fra) && same_bits(TN, rx, rra) &&
     !memcmp(sx, sra, sizeof sx) && !same_bits(1, fx, fb),
     "tile_points 4: the batch in reversed order, each row bit-identical to its x alone "
     "under its index");

  /* Two calls cut inside a tile (indices 5–6, then 7–11: the first tile split), issued
   * in reverse order. */
  st = infb_ais_run(&dp, &o, 5, X + 2 * D, TFI + 2, NULL, NULL, Zs + 2 * K, fx + 2, rx + 2,
                    NULL, sx + 2 * T);
  st |= infb_ais_run(&dp, &o, 2, X, TFI, NULL, NULL, Zs, fx, rx, NULL, sx);
  ok(st == 0 && same_bits(TN, fb, fx) && same_bits(TN, rb, rx) && !memcmp(sb, sx, sizeof sb),
     "tile_points 4: the batch split into calls of 2 and 5 points across a tile, the later "
     "call first: bit-identical");

  /* Threads: two tiles on two threads (the decoder's two parts). */
  o.threads = 2;
  m->parts_used = 0;
  pl = (progress_log){0};
  o.progress = progress_cb;
  o.progress_ctx = &pl;
  st = infb_ais_run(&dp, &o, TN, X, TFI, NULL, NULL, Zs, fx, rx, NULL, sx);
  o.progress = NULL;
  ok(st == 0 && same_bits(TN, fb, fx) && same_bits(TN, rb, rx) &&
     !memcmp(sb, sx, sizeof sb) && m->parts_used && pl.last_done == TN &&
     pl.off_main == 0,
     "tile_points 4: 2 threads (parts used 0x%x) bit-identical to 1; progress from the "
     "calling thread", m->parts_used);
  o.threads = 1;

  /* Chunks: the 32 rows cut into 12, 12, 8 (a fixed cut): alone equals batch still. */
  o.chunk_rows = 12;
  infb_ais_point fc[TN], rc[TN], fca[TN], rca[TN];
  double sc[TN * TT], sca[TN * TT];
  st = infb_ais_run(&dp, &o, TN, X, TFI, NULL, NULL, Zs, fc, rc, NULL, sc);
  st |= tiles_alone(&dp, &o, m, X, Zs, fca, rca, sca);
  ok(st == 0 && same_bits(TN, fc, fca) && same_bits(TN, rc, rca) && !memcmp(sc, sca, sizeof sc),
     "tile_points 4, chunk_rows 12 (calls of 12, 12, 8 rows): alone bit-identical to the "
     "batch");
  o.chunk_rows = 4096;

  /* The test has teeth: a tiling that dropped its padding (the shape following the batch)
   * gives other bits alone than in the batch. */
  pm.compact = 1;
  st = infb_ais_run(&dp, &o, TN, X, TFI, NULL, NULL, Zs, fx, rx, NULL, NULL);
  st |= tiles_alone(&dp, &o, m, X, Zs, fa, ra, sa);
  size_t differ = 0;
  for (size_t i = 0; i < TN; i++)
    differ += !same_bits(1, fx + i, fa + i);
  pm.compact = 0;
  ok(st == 0 && differ >= 5,
     "a decoder that sees the calls without their padding rows (a shape that follows the "
     "batch): %zu of 7 points differ alone from the batch", differ);

  /* Shape matters: P = 1, 2 and 4 give the same point other bits with this decoder, and the
   * same bits with the position-free one. */
  infb_ais_point f1[TN], r1[TN], f2[TN], r2[TN], g4[TN], h4[TN];
  double s1[TN * TT], s2[TN * TT], s4[TN * TT];
  o.tile_points = 1;
  st = infb_ais_run(&dp, &o, TN, X, TFI, NULL, NULL, Zs, f1, r1, NULL, NULL);
  o.tile_points = 2;
  st |= infb_ais_run(&dp, &o, TN, X, TFI, NULL, NULL, Zs, f2, r2, NULL, NULL);
  int all_differ = 1;
  for (size_t i = 0; i < TN; i++)
    all_differ = all_differ && f1[i].log_px != f2[i].log_px && f1[i].log_px != fb[i].log_px &&
                 f2[i].log_px != fb[i].log_px;
  ok(st == 0 && all_differ, "position-dependent decoder: tile_points 1, 2 and 4 give every "
     "point three different estimates (e.g. %.17g, %.17g, %.17g)", f1[0].log_px,
     f2[0].log_px, fb[0].log_px);
  infb_decoder dl = lg_dec(m, 2);
  st = 0;
  for (size_t P = 1; P <= 4; P *= 2) {
    o.tile_points = P;
    st |= infb_ais_run(&dl, &o, TN, X, TFI, NULL, NULL, Zs, P == 1 ? f1 : P == 2 ? f2 : g4,
                       P == 1 ? r1 : P == 2 ? r2 : h4, NULL, P == 1 ? s1 : P == 2 ? s2 : s4);
  }
  ok(st == 0 && same_bits(TN, f1, f2) && same_bits(TN, f1, g4) && same_bits(TN, r1, r2) &&
     same_bits(TN, r1, h4) && !memcmp(s1, s2, sizeof s1) && !memcmp(s1, s4, sizeof s1),
     "position-free decoder: tile_points 1, 2 and 4 bit-identical (forward, reverse, ε(t)): "
     "the tiles change the calls, not a point's arithmetic");
  /* ... in the other modes too: ONLINE, FIXED, from the encoder's q, with a trace. */
  double qm[TN * MAXK], ql[TN * MAXK];
  for (size_t i = 0; i < TN; i++)
    lg_posterior(m, X + i * D, qm + i * K, ql + i * K);
  const int modes[3][2] = {{INFB_AIS_ONLINE, INFB_AIS_PRIOR}, {INFB_AIS_FIXED, INFB_AIS_PRIOR},
                           {INFB_AIS_PILOT, INFB_AIS_ENCODER}};
  int modes_same = 1;
  st = 0;
  for (int j = 0; j < 3; j++) {
    o.adapt = modes[j][0];
    o.init = modes[j][1];
    double tb[2][5], tl[2][5], ta[2][5], ts[2][5];
    for (int q = 0; q < 2; q++) {
      infb_ais_trace tr[TN] = {{0}};
      tr[3] = (infb_ais_trace){7, infb_ais_trace_rows(T, 7), tb[q], tl[q], ta[q], ts[q]};
      o.tile_points = q ? 4 : 1;
      st |= infb_ais_run(&dl, &o, TN, X, TFI, qm, ql, NULL, q ? g4 : f1, NULL, tr,
                         q ? s4 : s1);
    }
    modes_same = modes_same && same_bits(TN, f1, g4) && !memcmp(s1, s4, sizeof s1) &&
                 !memcmp(tb, tb[1], sizeof tb[0]) && !memcmp(tl, tl[1], sizeof tl[0]) &&
                 !memcmp(ta, ta[1], sizeof ta[0]) && !memcmp(ts, ts[1], sizeof ts[0]);
  }
  ok(st == 0 && modes_same, "position-free decoder, ONLINE, FIXED and from the encoder's q "
     "with a trace: tile_points 4 bit-identical to 1 (estimates, ε(t), traces)");
  o.adapt = INFB_AIS_PILOT;
  o.init = INFB_AIS_PRIOR;

  /* A NONFINITE point inside a tile: padding from its start; its neighbours unchanged. */
  o.tile_points = 4;
  m->nan_x = X + 3 * D; /* index 8: slot 0 of the second tile */
  st = infb_ais_run(&dp, &o, TN, X, TFI, NULL, NULL, Zs, fx, rx, NULL, NULL);
  m->nan_x = NULL;
  int others = fx[3].status == INFB_AIS_NONFINITE && rx[3].status == INFB_AIS_NONFINITE &&
               isnan(fx[3].log_px);
  for (size_t i = 0; i < TN; i++)
    if (i != 3)
      others = others && same_bits(1, fx + i, fb + i) && same_bits(1, rx + i, rb + i);
  ok(st == 0 && others, "tile_points 4: a NONFINITE point in a tile (its slot turns to "
     "padding), its neighbours bit-identical to the clean batch");

  /* A decoder's error passes through with tiles on 2 threads; P = 0 is refused. */
  o.threads = 2;
  m->calls = 0;
  m->fail_call = 40;
  st = infb_ais_run(&dp, &o, TN, X, TFI, NULL, NULL, Zs, fx, rx, NULL, NULL);
  m->fail_call = 0;
  is_int(GSL_EFAILED, st, "tile_points 4, 2 threads: a decoder's GSL_EFAILED passes through");
  o.threads = 1;
  infb_ais_options d0;
  infb_ais_options_default(&d0);
  ok(d0.tile_points == 1, "the default tile_points is 1 (one point per call, as before "
     "tiles)");
}
#undef TN
#undef TFI
#undef TT

/* ---- tiles through the VAE's decoder: real OpenBLAS sgemm rows ---- */

#define VN 7
#define VFI 5
#define VT 10
#define VD 784
#define VK 4
#define VH 200

static void
test_tiles_vae(void)
{
  infb_vae_arch a;
  memset(&a, 0, sizeof a);
  a.D = VD;
  a.K = VK;
  a.ndec = 1;
  a.dec_hidden[0] = VH;
  a.act = INFB_ACT_ELU;
  infb_ais_options o;
  small_options(&o, 16, VT, 2);
  o.pilot_chains = 4;
  o.step_size = 0.05;
  o.tile_points = 4;
  const size_t rows = o.tile_points * o.chains; /* 64: the largest call */
  infb_vae_f32 *v = infb_vae_alloc_f32(&a, rows, 1);
  gsl_rng *r = infb_rng_stream(17, "test/ais/tiles-vae", 0);
  float *Xf = malloc(VN * VD * sizeof *Xf);
  double *Xd = malloc(VN * VD * sizeof *Xd), Zs[VN * VK];
  int st = !v || !Xf || !Xd || infb_vae_init_f32(v, r) || infb_vae_set_parts_f32(v, 2);
  for (size_t j = 0; !st && j < (size_t)VN * VD; j++)
    Xd[j] = Xf[j] = gsl_rng_uniform(r) < 0.3 ? 1.0f : 0.0f;
  for (size_t j = 0; j < (size_t)VN * VK; j++)
    Zs[j] = gsl_ran_gaussian(r, 1.0);
  infb_vae_decoder *d = st ? NULL : infb_vae_decoder_alloc(v, rows);
  infb_decoder ops = d ? infb_vae_decoder_ops(d) : (infb_decoder){0};
  const int threads = infb_blas_threads();
  infb_blas_set_threads(1);
  for (int b = 0; b < 2; b++) {
    infb_blas_set_blocking(b ? 32 : 0, b ? 128 : 0);
    const int engaged = b == infb_blas_blocks(0, 0, rows, VD, VH);
    infb_ais_point fb[VN], rb[VN], fa[VN], ra[VN], ft[VN], rt[VN], f1[VN];
    double sb[VN * VT], sa[VN * VT], stt[VN * VT];
    int s = st || !d;
    o.threads = 1;
    s |= infb_ais_run(&ops, &o, VN, Xd, VFI, NULL, NULL, Zs, fb, rb, NULL, sb);
    for (size_t j = 0; j < VN; j++)
      s |= infb_ais_run(&ops, &o, 1, Xd + j * VD, VFI + j, NULL, NULL, Zs + j * VK, fa + j,
                        ra + j, NULL, sa + j * VT);
    o.threads = 2;
    s |= infb_ais_run(&ops, &o, VN, Xd, VFI, NULL, NULL, Zs, ft, rt, NULL, stt);
    o.threads = 1;
    int all_ok = 1;
    for (size_t i = 0; i < VN; i++)
      all_ok = all_ok && fb[i].status == INFB_AIS_OK && rb[i].status == INFB_AIS_OK;
    ok(s == 0 && all_ok && engaged && same_bits(VN, fb, fa) && same_bits(VN, rb, ra) &&
       !memcmp(sb, sa, sizeof sb) && same_bits(VN, fb, ft) && same_bits(VN, rb, rt) &&
       !memcmp(sb, stt, sizeof sb),
       "VAE decoder (%d-%d-%d ELU, float32 sgemm, 2 parts), gemm blocking %s, tile_points 4, "
       "16 chains: 7 points from index 5 alone, in one batch and on 2 threads bit-identical "
       "(forward, reverse, ε(t))", VK, VH, VD, b ? "on" : "off");
    /* For the record: how many points the shape of their calls moves (P = 1 vs 4). */
    o.tile_points = 1;
    s = infb_ais_run(&ops, &o, VN, Xd, VFI, NULL, NULL, NULL, f1, NULL, NULL, NULL);
    o.tile_points = 4;
    size_t moved = 0;
    for (size_t i = 0; i < VN; i++)
      moved += f1[i].log_px != fb[i].log_px;
    diag("VAE decoder, blocking %s (kernels %s): %zu of 7 points' ln p̂ differ between "
         "tile_points 1 and 4 (the gemm rows' dependence on shape and place)",
         b ? "on" : "off", infb_blas_corename(), moved);
  }
  infb_blas_set_blocking(0, 0);
  infb_blas_set_threads(threads);
  infb_vae_decoder_free(d);
  infb_vae_free_f32(v);
  gsl_rng_free(r);
  free(Xf);
  free(Xd);
}
#undef VN
#undef VFI
#undef VT
#undef VD
#undef VK
#undef VH

/* ---- NONFINITE points, errors ---- */

static void
test_nonfinite(lgmodel *m, gsl_rng *r)
{
  const size_t n = 5, D = m->D;
  double X[5 * MAXD], Zs[5 * MAXK];
  lg_sample(m, r, n, X, Zs);
  infb_ais_options o;
  small_options(&o, 6, 20, 2);
  infb_decoder dec = lg_dec(m, 2);
  infb_ais_point f[5], rv[5];
  m->nan_x = X + 2 * D;
  o.threads = 2;
  int st = infb_ais_run(&dec, &o, n, X, 0, NULL, NULL, Zs, f, rv, NULL, NULL);
  m->nan_x = NULL;
  int others = 1;
  for (size_t i = 0; i < n; i++)
    if (i != 2)
      others = others && f[i].status == INFB_AIS_OK && rv[i].status == INFB_AIS_OK &&
               isfinite(f[i].log_px) && isfinite(rv[i].log_px);
  ok(st == 0 && f[2].status == INFB_AIS_NONFINITE && rv[2].status == INFB_AIS_NONFINITE &&
     isnan(f[2].log_px) && isnan(rv[2].log_px) && others,
     "a point whose ln p(x|z) is NaN: NONFINITE with NAN estimates, the others OK, success");

  /* A decoder's error passes through (threads 1 and 2). */
  for (size_t th = 1; th <= 2; th++) {
    o.threads = th;
    m->calls = 0;
    m->fail_call = 30;
    st = infb_ais_run(&dec, &o, n, X, 0, NULL, NULL, Zs, f, rv, NULL, NULL);
    m->fail_call = 0;
    is_int(GSL_EFAILED, st, "a decoder's GSL_EFAILED passes through (threads %zu)", th);
  }
  /* The progress callback's stop. */
  progress_log pl = {.stop_at = 2, .stop_with = 77};
  o.threads = 1;
  o.progress = progress_cb;
  o.progress_ctx = &pl;
  st = infb_ais_run(&dec, &o, n, X, 0, NULL, NULL, Zs, f, rv, NULL, NULL);
  ok(st == 77 && pl.last_done == 2, "progress returning 77 at 2 points done stops the run "
     "with status 77");
}

static void
test_errors(lgmodel *m)
{
  double X[MAXD] = {0}, Z[MAXK] = {0}, mu[MAXK] = {0}, lv[MAXK] = {0};
  infb_decoder dec = lg_dec(m, 0);
  infb_ais_point f, rv;
  infb_ais_options o;
#define BAD(name, change, zs, revp, qm, ql)                                                  \
  do {                                                                                     \
    small_options(&o, 4, 10, 2);                                                           \
    change;                                                                                \
    is_int(GSL_EINVAL, infb_ais_run(&dec, &o, 1, X, 0, qm, ql, zs, &f, revp,              \
                                    NULL, NULL), "invalid: %s is GSL_EINVAL", name);       \
  } while (0)
  BAD("temperatures 1", o.temperatures = 1, NULL, NULL, NULL, NULL);
  BAD("chains 0", o.chains = 0, NULL, NULL, NULL, NULL);
  BAD("leapfrog 0", o.leapfrog = 0, NULL, NULL, NULL, NULL);
  BAD("step_size 1 above step_max 0.5", o.step_size = 1.0, NULL, NULL, NULL, NULL);
  BAD("step_size 1e-5 below step_min 1e-4", o.step_size = 1e-5, NULL, NULL, NULL, NULL);
  BAD("zstar with ONLINE", o.adapt = INFB_AIS_ONLINE, Z, &rv, NULL, NULL);
  BAD("zstar with init ENCODER", o.init = INFB_AIS_ENCODER, Z, &rv, mu, lv);
  BAD("init ENCODER without q", o.init = INFB_AIS_ENCODER, NULL, NULL, NULL, NULL);
  BAD("rev without zstar", (void)0, NULL, &rv, NULL, NULL);
  BAD("pilot_chains 0 with PILOT", o.pilot_chains = 0, NULL, NULL, NULL, NULL);
  BAD("chunk_rows 0", o.chunk_rows = 0, NULL, NULL, NULL, NULL);
  BAD("threads 0", o.threads = 0, NULL, NULL, NULL, NULL);
  BAD("tile_points 0", o.tile_points = 0, NULL, NULL, NULL, NULL);
  BAD("target_accept 1", o.target_accept = 1.0, NULL, NULL, NULL, NULL);
#undef BAD
  small_options(&o, 4, 10, 2);
  infb_ais_trace tr = {3, 3, X, X, X, X}; /* T = 10, stride 3 needs 4 rows */
  is_int(GSL_EINVAL, infb_ais_run(&dec, &o, 1, X, 0, NULL, NULL, NULL, &f, NULL, &tr, NULL),
         "invalid: a trace with the wrong row count is GSL_EINVAL");
  is_int(GSL_EINVAL, infb_ais_run(&dec, &o, 1, X, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
         "invalid: neither fwd nor rev is GSL_EINVAL");
  o.adapt = INFB_AIS_FIXED;
  o.pilot_chains = 0;
  is_int(0, infb_ais_run(&dec, &o, 1, X, 0, NULL, NULL, NULL, &f, NULL, NULL, NULL),
         "FIXED ignores pilot_chains 0");
}

static void
test_defaults(void)
{
  infb_ais_options o;
  infb_ais_options_default(&o);
  ok(o.chains == 100 && o.temperatures == 10000 && o.leapfrog == 10 &&
     o.schedule == INFB_AIS_LINEAR && o.sigmoid_delta == 4.0 && o.step_size == 0.01 &&
     o.adapt == INFB_AIS_PILOT && o.pilot_chains == 10 && o.adapt_up == 1.02 &&
     o.adapt_down == 0.98 && o.target_accept == 0.65 && o.step_min == 1e-4 &&
     o.step_max == 0.5 && o.grad_clip == 1e4 && o.init == INFB_AIS_PRIOR &&
     o.ess_min == 10.0 && o.chunk_rows == 4096 && o.threads == 1 && o.seed == 0 &&
     !o.progress, "defaults are the protocol's (ais.h)");
}

int
main(void)
{
  on_main_thread = 1;
  plan(89);
  gsl_rng *r = infb_rng_stream(42, "test/ais", 0);
  lgmodel m;
  lg_random(&m, r, 5, 2, 0.1, 0.3); /* posterior s.d. ≈ 0.15–0.3: far from the prior */
  lgmodel m3;
  lg_random(&m3, r, 5, 3, 0.3, 1.0);

  test_defaults();
  test_schedule();
  test_hmc();
  test_potential(&m3, r);
  test_lingauss(&m, r);
  test_unbiased(&m3, r);
  test_reproducible(&m3, r);
  test_nonfinite(&m3, r);
  test_tiles(&m3, r);
  test_tiles_vae();
  test_errors(&m3);

  gsl_rng_free(r);
  return test_done();
}
