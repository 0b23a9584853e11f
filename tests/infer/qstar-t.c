/* Tests for infer/qstar: the numeric per-point q* against the closed form of a
 * linear-Gaussian decoder written here (MATH.md §3: μ* = Λ⁻¹WᵀΨ⁻¹(x − b),
 * σ*²_j = 1/Λ_jj, Λ = I + WᵀΨ⁻¹W, and the closed-form ELBO), the gradient against finite
 * differences (linear-Gaussian and Bernoulli-logit decoders), the Monte-Carlo ELBO and its
 * standard error against exact values, per-point reproducibility, the stopping rule of
 * PROTOCOL.md "L[q*]", init_given, and the error paths. */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "core/rng.h"
#include "infer/qstar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define MAXD 8
#define MAXK 3

/* ---- a linear-Gaussian decoder: z ~ N(0, I_K), x | z ~ N(Wz + b, diag psi) ---- */

typedef struct {
  size_t D, K;
  double W[MAXD * MAXK]; /* D×K row-major */
  double b[MAXD], psi[MAXD];
  int bernoulli;         /* nonzero: ln p(x|z) = Σ_d x_d l_d − softplus(l_d), l = Wz + b */
  int flat;              /* nonzero: ln p(x|z) = −3 (does not depend on z), G = 0 */
  const double *nan_x;   /* rows equal to this x get ln p = NaN from call nan_call on */
  size_t nan_call;
  size_t calls;          /* decoder calls so far */
  unsigned parts_used;   /* bit p: part p was called (lg_decoder_part) */
} lgmodel;

/* ln N(x; Wz + b, Ψ) = −½[D ln 2π + Σ ln ψ_d + Σ_d r_d²/ψ_d], r = x − b − Wz, and its
 * z-gradient G_k = Σ_d W_dk r_d/ψ_d (written by hand; checked by finite differences below).
 * The Bernoulli variant: ln p = Σ_d x_d l_d − softplus(l_d), G = Wᵀ(x − σ(l)). */
static int
lg_decoder(void *self, size_t R, const double *X, const size_t *xrow, const double *Z,
           double *logp, double *G)
{
  lgmodel *m = self;
  const size_t D = m->D, K = m->K;
  __atomic_add_fetch(&m->calls, 1, __ATOMIC_RELAXED); /* parts may call concurrently */
  for (size_t r = 0; r < R; r++) {
    const double *x = X + xrow[r] * D, *z = Z + r * K;
    double lp = 0.0;
    if (G)
      for (size_t k = 0; k < K; k++)
        G[r * K + k] = 0.0;
    if (m->flat) {
      logp[r] = -3.0;
      continue;
    }
    for (size_t d = 0; d < D; d++) {
      double l = m->b[d];
      for (size_t k = 0; k < K; k++)
        l += m->W[d * K + k] * z[k];
      double coef;
      if (m->bernoulli) {
        double sp = l > 0 ? l + log1p(exp(-l)) : log1p(exp(l));
        lp += x[d] * l - sp;
        coef = x[d] - 1.0 / (1.0 + exp(-l));
      } else {
        double res = x[d] - l;
        lp += -0.5 * (log(2.0 * M_PI) + log(m->psi[d]) + res * res / m->psi[d]);
        coef = res / m->psi[d];
      }
      if (G)
        for (size_t k = 0; k < K; k++)
          G[r * K + k] += m->W[d * K + k] * coef;
    }
    if (m->nan_x && __atomic_load_n(&m->calls, __ATOMIC_RELAXED) >= m->nan_call &&
        memcmp(x, m->nan_x, D * sizeof(double)) == 0)
      lp = NAN;
    logp[r] = lp;
  }
  return GSL_SUCCESS;
}

/* The same decoder as independent parts (infb_decoder.fn_part): rows do not depend on
 * each other, so any split gives the same values. */
static int
lg_decoder_part(void *self, size_t part, size_t R, const double *X, const size_t *xrow,
                const double *Z, double *logp, double *G)
{
  lgmodel *m = self;
  __atomic_or_fetch(&m->parts_used, 1u << part, __ATOMIC_RELAXED);
  return lg_decoder(self, R, X, xrow, Z, logp, G);
}

static void
lg_random(lgmodel *m, gsl_rng *r, size_t D, size_t K)
{
  memset(m, 0, sizeof *m);
  m->D = D;
  m->K = K;
  for (size_t q = 0; q < D * K; q++)
    m->W[q] = gsl_ran_gaussian(r, 1.0);
  for (size_t d = 0; d < D; d++) {
    m->b[d] = gsl_ran_gaussian(r, 0.5);
    m->psi[d] = 0.3 + 0.7 * gsl_rng_uniform(r);
  }
}

static infb_decoder
lg_dec(lgmodel *m)
{
  infb_decoder d = {.D = m->D, .K = m->K, .fn = lg_decoder, .self = m};
  return d;
}

/* n draws x = Wz + b + N(0, Ψ), z ~ N(0, I). */
static void
lg_sample(const lgmodel *m, gsl_rng *r, size_t n, double *X)
{
  for (size_t i = 0; i < n; i++) {
    double z[MAXK];
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

/* ---- closed forms (MATH.md §3) ---- */

typedef struct {
  size_t K;
  double M[MAXK * MAXK];      /* WᵀΨ⁻¹W */
  double Lam[MAXK * MAXK];    /* Λ = I + WᵀΨ⁻¹W */
  double Laminv[MAXK * MAXK]; /* Λ⁻¹ by Cholesky */
} lgclosed;

static void
lg_closed(const lgmodel *m, lgclosed *c)
{
  const size_t D = m->D, K = m->K;
  c->K = K;
  for (size_t j = 0; j < K; j++)
    for (size_t k = 0; k < K; k++) {
      double s = 0.0;
      for (size_t d = 0; d < D; d++)
        s += m->W[d * K + j] * m->W[d * K + k] / m->psi[d];
      c->M[j * K + k] = s;
      c->Lam[j * K + k] = s + (j == k);
    }
  gsl_matrix *A = gsl_matrix_alloc(K, K);
  for (size_t q = 0; q < K * K; q++)
    A->data[q] = c->Lam[q];
  gsl_linalg_cholesky_decomp1(A);
  gsl_linalg_cholesky_invert(A);
  for (size_t q = 0; q < K * K; q++)
    c->Laminv[q] = A->data[q];
  gsl_matrix_free(A);
}

/* The optimal factorised q*: μ* = Λ⁻¹WᵀΨ⁻¹(x − b), ln σ*²_j = −ln Λ_jj. */
static void
lg_qstar(const lgmodel *m, const lgclosed *c, const double *x, double *mu, double *lv)
{
  const size_t D = m->D, K = m->K;
  double u[MAXK];
  for (size_t k = 0; k < K; k++) {
    u[k] = 0.0;
    for (size_t d = 0; d < D; d++)
      u[k] += m->W[d * K + k] * (x[d] - m->b[d]) / m->psi[d];
  }
  for (size_t j = 0; j < K; j++) {
    mu[j] = 0.0;
    for (size_t k = 0; k < K; k++)
      mu[j] += c->Laminv[j * K + k] * u[k];
    lv[j] = -log(c->Lam[j * K + j]);
  }
}

/* ELBO(q) = −½[D ln 2π + ln|Ψ| + rᵀΨ⁻¹r + Σ_j s_j²(WᵀΨ⁻¹W)_jj] − ½Σ_j(s_j² + μ_j² − 1 − ln s_j²),
 * r = x − b − Wμ. */
static double
lg_elbo(const lgmodel *m, const lgclosed *c, const double *x, const double *mu,
        const double *lv)
{
  const size_t D = m->D, K = m->K;
  double e = 0.0;
  for (size_t d = 0; d < D; d++) {
    double r = x[d] - m->b[d];
    for (size_t k = 0; k < K; k++)
      r -= m->W[d * K + k] * mu[k];
    e += log(2.0 * M_PI) + log(m->psi[d]) + r * r / m->psi[d];
  }
  for (size_t j = 0; j < K; j++)
    e += exp(lv[j]) * c->M[j * K + j] + exp(lv[j]) + mu[j] * mu[j] - 1.0 - lv[j];
  return -0.5 * e;
}

/* The exact standard deviation of ln p(x|z) under q: with a = Ψ^{-½}r and A = Ψ^{-½}W diag σ,
 * ln p = c + aᵀAε − ½εᵀAᵀAε, so Var = ‖Aᵀa‖² + ½ tr((AᵀA)²) (Gaussian linear and quadratic
 * forms, uncorrelated). */
static double
lg_logp_sd(const lgmodel *m, const double *x, const double *mu, const double *lv)
{
  const size_t D = m->D, K = m->K;
  double Ata[MAXK] = { 0 }, AtA[MAXK * MAXK] = { 0 };
  for (size_t d = 0; d < D; d++) {
    double r = x[d] - m->b[d];
    for (size_t k = 0; k < K; k++)
      r -= m->W[d * K + k] * mu[k];
    for (size_t j = 0; j < K; j++) {
      double Adj = m->W[d * K + j] * exp(0.5 * lv[j]) / sqrt(m->psi[d]);
      Ata[j] += Adj * r / sqrt(m->psi[d]);
      for (size_t k = 0; k < K; k++)
        AtA[j * K + k] += Adj * m->W[d * K + k] * exp(0.5 * lv[k]) / sqrt(m->psi[d]);
    }
  }
  double v = 0.0;
  for (size_t j = 0; j < K; j++) {
    v += Ata[j] * Ata[j];
    for (size_t k = 0; k < K; k++)
      v += 0.5 * AtA[j * K + k] * AtA[k * K + j];
  }
  return sqrt(v);
}

static void
base_options(infb_qstar_options *o)
{
  infb_qstar_options_default(o);
  o->seed = 20180131;
}

/* ---- tests ---- */

static void
test_defaults(void)
{
  infb_qstar_options o;
  memset(&o, 0xff, sizeof o);
  infb_qstar_options_default(&o);
  ok(o.samples == 50 && o.lr == 1e-3 && o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-8 &&
         o.check_every == 100 && o.patience == 10 && o.max_steps == 100000 &&
         o.eval_samples == 5000 && o.batch_points == 100 && o.init_given == 0,
     "defaults are the protocol's (S 50, lr 1e-3, β 0.9/0.999, ε 1e-8, check 100, patience "
     "10, max 1e5, eval 5000, batch 100, prior init)");
}

/* The test decoders' hand-written G against central differences of their ln p(x|z). */
static void
test_decoder_grad(lgmodel *m, const char *name, gsl_rng *r)
{
  const size_t D = m->D, K = m->K;
  double x[MAXD], z[MAXK] = { 0 }, lp, G[MAXK], lpp, lpm, err = 0.0, gn = 0.0;
  for (size_t d = 0; d < D; d++)
    x[d] = m->bernoulli ? (double)(gsl_rng_uniform(r) < 0.5) : gsl_ran_gaussian(r, 1.5);
  for (size_t k = 0; k < K; k++)
    z[k] = gsl_ran_gaussian(r, 1.0);
  const size_t x0 = 0; /* the one row is point 0: x */
  lg_decoder(m, 1, x, &x0, z, &lp, G);
  for (size_t k = 0; k < K; k++) {
    const double h = 1e-5, z0 = z[k];
    z[k] = z0 + h;
    lg_decoder(m, 1, x, &x0, z, &lpp, NULL);
    z[k] = z0 - h;
    lg_decoder(m, 1, x, &x0, z, &lpm, NULL);
    z[k] = z0;
    err = fmax(err, fabs((lpp - lpm) / (2 * h) - G[k]));
    gn += G[k] * G[k];
  }
  ok(err < 1e-6 && sqrt(gn) > 1e-2,
     "%s test decoder: hand-written ∂ln p/∂z matches central differences (max err %.2g, "
     "|G| = %.3g)",
     name, err, sqrt(gn));
}

/* infb_qstar_grad against central differences of its own ELBO at fixed ε. */
static void
test_grad_fd(lgmodel *m, const char *name, gsl_rng *r)
{
  const size_t D = m->D, K = m->K, S = 7;
  infb_decoder dec = lg_dec(m);
  double x[MAXD], mu[MAXK], lv[MAXK], eps[7 * MAXK], gmu[MAXK], glv[MAXK], e0, ep, em;
  for (size_t d = 0; d < D; d++)
    x[d] = m->bernoulli ? (double)(gsl_rng_uniform(r) < 0.5) : gsl_ran_gaussian(r, 1.5);
  for (size_t k = 0; k < K; k++) {
    mu[k] = gsl_ran_gaussian(r, 0.7);
    lv[k] = gsl_ran_gaussian(r, 0.5) - 0.5;
  }
  for (size_t q = 0; q < S * K; q++)
    eps[q] = gsl_ran_gaussian(r, 1.0);
  int st = infb_qstar_grad(&dec, x, mu, lv, S, eps, &e0, gmu, glv);
  double err = 0.0, gn = 0.0, gnl = 0.0;
  for (size_t k = 0; k < 2 * K; k++) {
    double *p = k < K ? &mu[k] : &lv[k - K], p0 = *p, h = 1e-5;
    double g = k < K ? gmu[k] : glv[k - K];
    *p = p0 + h;
    infb_qstar_grad(&dec, x, mu, lv, S, eps, &ep, NULL, NULL);
    *p = p0 - h;
    infb_qstar_grad(&dec, x, mu, lv, S, eps, &em, NULL, NULL);
    *p = p0;
    err = fmax(err, fabs((ep - em) / (2 * h) - g) / fmax(1.0, fabs(g)));
    if (k < K)
      gn += g * g;
    else
      gnl += g * g;
  }
  ok(st == GSL_SUCCESS && err < 1e-6 && sqrt(gn) > 1e-2 && sqrt(gnl) > 1e-2,
     "%s: infb_qstar_grad ∂ELBO/∂μ and ∂ELBO/∂ln σ² match central differences of the "
     "fixed-ε MC ELBO (S = 7, max rel err %.2g, |gμ| = %.3g, |glv| = %.3g)",
     name, err, sqrt(gn), sqrt(gnl));
}

/* One Adam step from a given start moves each parameter by exactly
 * lr·g/(|g| + ε) (bias-corrected first step: m̂ = −g, v̂ = g²), with g the infb_qstar_grad
 * gradient at the ε of the point's stream ("qstar", i) drawn as documented. */
static void
test_one_step(lgmodel *m, gsl_rng *r)
{
  const size_t D = m->D, K = m->K, n = 3, first = 4;
  infb_decoder dec = lg_dec(m);
  infb_qstar_options o;
  base_options(&o);
  o.max_steps = 1;
  o.init_given = 1;
  o.eval_samples = 10;
  o.batch_points = 2;
  double X[3 * MAXD], MU[3 * MAXK], LV[3 * MAXK], MU0[3 * MAXK], LV0[3 * MAXK];
  infb_qstar_point out[3];
  lg_sample(m, r, n, X);
  for (size_t q = 0; q < n * K; q++) {
    MU0[q] = MU[q] = gsl_ran_gaussian(r, 0.5);
    LV0[q] = LV[q] = gsl_ran_gaussian(r, 0.3);
  }
  int st = infb_qstar_optimize(&dec, &o, n, X, first, MU, LV, out);
  double err = 0.0, moved = 0.0;
  for (size_t i = 0; i < n; i++) {
    double *eps = malloc(o.samples * K * sizeof(double)), e, gmu[MAXK], glv[MAXK];
    gsl_rng *pr = infb_rng_stream_type(gsl_rng_taus2, o.seed, "qstar", first + i);
    for (size_t q = 0; q < o.samples * K; q++)
      eps[q] = gsl_ran_gaussian_ziggurat(pr, 1.0);
    infb_qstar_grad(&dec, X + i * D, MU0 + i * K, LV0 + i * K, o.samples, eps, &e, gmu, glv);
    for (size_t k = 0; k < K; k++) {
      double dm = o.lr * gmu[k] / (fabs(gmu[k]) + o.eps);
      double dl = o.lr * glv[k] / (fabs(glv[k]) + o.eps);
      err = fmax(err, fabs(MU[i * K + k] - MU0[i * K + k] - dm));
      err = fmax(err, fabs(LV[i * K + k] - LV0[i * K + k] - dl));
      moved = fmax(moved, fabs(MU[i * K + k] - MU0[i * K + k]));
    }
    gsl_rng_free(pr);
    free(eps);
  }
  ok(st == GSL_SUCCESS && err < 1e-12 && moved > 0.5 * o.lr,
     "a 1-step run moves (μ, ln σ²) by lr·g/(|g|+ε) with g = infb_qstar_grad at the "
     "stream's ε (max err %.2g)",
     err);
  ok(out[0].steps == 1 && out[1].stop == INFB_QSTAR_MAX_STEPS,
     "a 1-step run reports 1 step and MAX_STEPS");
}

/* The MC ELBO of arbitrary q against the closed form, and its SE against the exact
 * standard deviation of ln p(x|z) over √S. */
static void
test_elbo_mc(lgmodel *m, const lgclosed *c, gsl_rng *r)
{
  enum { N = 20 };
  const size_t D = m->D, K = m->K;
  infb_decoder dec = lg_dec(m);
  double X[N * MAXD], MU[N * MAXK], LV[N * MAXK], e1[N], s1[N], e2[N], s2[N];
  lg_sample(m, r, N, X);
  for (size_t q = 0; q < N * K; q++) {
    MU[q] = gsl_ran_gaussian(r, 1.0);
    LV[q] = gsl_ran_gaussian(r, 0.5) - 1.0;
  }
  int st1 = infb_qstar_elbo_mc(&dec, N, X, MU, LV, 2000, 7, "test/elbo", 0, e1, s1);
  int st2 = infb_qstar_elbo_mc(&dec, N, X, MU, LV, 500, 7, "test/elbo", 0, e2, s2);
  double zmax = 0.0, sdrel = 0.0, sum1 = 0.0, sum2 = 0.0;
  for (size_t i = 0; i < N; i++) {
    double ex = lg_elbo(m, c, X + i * D, MU + i * K, LV + i * K);
    zmax = fmax(zmax, fabs(e1[i] - ex) / s1[i]);
    double sd = lg_logp_sd(m, X + i * D, MU + i * K, LV + i * K);
    sdrel = fmax(sdrel, fabs(s1[i] * sqrt(2000.0) / sd - 1.0));
    sum1 += s1[i];
    sum2 += s2[i];
  }
  ok(st1 == GSL_SUCCESS && zmax < 5.0,
     "elbo_mc (S = 2000) equals the closed-form ELBO of 20 arbitrary q within 5 SE (max "
     "|z| = %.2f)",
     zmax);
  /* The sample sd has relative error ≈ √((κ−1)/4S) ≈ 3% at S = 2000 for the kurtosis
   * κ ≲ 9 of a Gaussian quadratic form; 12% is 4 such errors. */
  ok(st1 == GSL_SUCCESS && sdrel < 0.12,
     "elbo_mc SE·√S matches the exact sd of ln p(x|z) (Gaussian quadratic form) within 12%% "
     "(max rel dev %.3f)",
     sdrel);
  ok(st2 == GSL_SUCCESS && fabs(sum2 / sum1 / 2.0 - 1.0) < 0.1,
     "elbo_mc SE scales like 1/√S: ΣSE(500)/ΣSE(2000) = %.3f ≈ 2 within 10%%", sum2 / sum1);
  /* Determinism, and per-point streams: a subset reproduces its rows of the whole. */
  double e3[N], s3[N];
  infb_qstar_elbo_mc(&dec, N, X, MU, LV, 2000, 7, "test/elbo", 0, e3, s3);
  ok(memcmp(e1, e3, sizeof e1) == 0 && memcmp(s1, s3, sizeof s1) == 0,
     "elbo_mc is bit-reproducible for a fixed seed");
  double e4[5], s4[5];
  infb_qstar_elbo_mc(&dec, 5, X + 7 * D, MU + 7 * K, LV + 7 * K, 2000, 7, "test/elbo", 7, e4,
                     s4);
  ok(memcmp(e4, e1 + 7, sizeof e4) == 0 && memcmp(s4, s1 + 7, sizeof s4) == 0,
     "elbo_mc on rows [7, 12) with first_index 7 reproduces those rows of the whole");
  is_int(GSL_EINVAL, infb_qstar_elbo_mc(&dec, N, X, MU, LV, 1, 7, "test/elbo", 0, e4, s4),
         "elbo_mc with S = 1 is GSL_EINVAL (no standard error)");
}

/* Adam from the prior to the closed-form q*, then the reproducibility of the run. */
static void
test_optimum(lgmodel *m, const lgclosed *c, gsl_rng *r)
{
  enum { N = 20 };
  const size_t D = m->D, K = m->K;
  infb_decoder dec = lg_dec(m);
  double X[N * MAXD], MU[N * MAXK], LV[N * MAXK];
  infb_qstar_point out[N];
  lg_sample(m, r, N, X);
  infb_qstar_options o;
  base_options(&o);
  o.lr = 1e-2;
  o.max_steps = 3000;
  o.eval_samples = 4000;
  o.batch_points = 8; /* 20 points: batches refill and then shrink */
  int st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  /* Stage 2 from the stage-1 result with a 10× smaller step: Adam's stationary jitter
   * scales with lr, so this measures the optimum rather than the noise floor of lr 1e-2. */
  o.lr = 1e-3;
  o.init_given = 1;
  int st2 = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  const double tol_mu = 0.02, tol_lv = 0.05;
  double emu = 0.0, elv = 0.0, zmax = 0.0, zq = 0.0;
  for (size_t i = 0; i < N; i++) {
    double mus[MAXK], lvs[MAXK];
    lg_qstar(m, c, X + i * D, mus, lvs);
    for (size_t k = 0; k < K; k++) {
      emu = fmax(emu, fabs(MU[i * K + k] - mus[k]));
      elv = fmax(elv, fabs(LV[i * K + k] - lvs[k]));
    }
    /* Slack: ELBO(q*) − ELBO(q) = ½δμᵀΛδμ + Σ_j ½(e^{δ_j} − 1 − δ_j) for δ = ln σ² − ln σ*²
     * (the ELBO is quadratic in μ with Hessian −Λ, and −½Λ_jj s² + ½ ln s² in s²); with
     * |δμ| ≤ tol_mu, |δ| ≤ tol_lv it is at most ½tol_mu²Σ|Λ_jk| + ½K(e^{tol_lv}−1−tol_lv). */
    double slack = 0.5 * K * (exp(tol_lv) - 1.0 - tol_lv);
    for (size_t q = 0; q < K * K; q++)
      slack += 0.5 * tol_mu * tol_mu * fabs(c->Lam[q]);
    double eq = lg_elbo(m, c, X + i * D, mus, lvs);
    zmax = fmax(zmax, (fabs(out[i].elbo - eq) - slack) / out[i].elbo_mc_se);
    double ev = lg_elbo(m, c, X + i * D, MU + i * K, LV + i * K);
    zq = fmax(zq, fabs(out[i].elbo - ev) / out[i].elbo_mc_se);
  }
  ok(st == GSL_SUCCESS && st2 == GSL_SUCCESS, "optimize on 20 points returns success");
  ok(emu < tol_mu, "q* means equal the closed form Λ⁻¹WᵀΨ⁻¹(x−b) within %g (max err %.4f)",
     tol_mu, emu);
  ok(elv < tol_lv, "q* ln σ² equal the closed form −ln Λ_jj within %g (max err %.4f)", tol_lv,
     elv);
  ok(zmax < 5.0,
     "final MC ELBO equals the closed-form ELBO(q*) within 5 SE + optimisation slack "
     "(max excess %.2f SE)",
     zmax);
  ok(zq < 5.0, "final MC ELBO equals the closed-form ELBO of the returned q within 5 SE (max "
               "|z| = %.2f)",
     zq);

  /* Reproducibility: the same run twice; points [5, 10) alone with first_index 5 and
   * another batch size; another seed differs. */
  double MUa[N * MAXK], LVa[N * MAXK], MUb[N * MAXK], LVb[N * MAXK];
  infb_qstar_point oa[N], ob[N];
  base_options(&o);
  o.lr = 1e-2;
  o.max_steps = 1500;
  o.check_every = 20;
  o.patience = 2;
  o.eval_samples = 300;
  o.batch_points = 6;
  infb_qstar_optimize(&dec, &o, N, X, 0, MUa, LVa, oa);
  infb_qstar_optimize(&dec, &o, N, X, 0, MUb, LVb, ob);
  int same = memcmp(MUa, MUb, N * K * sizeof(double)) == 0 &&
             memcmp(LVa, LVb, N * K * sizeof(double)) == 0;
  for (size_t i = 0; i < N; i++)
    same = same && oa[i].elbo == ob[i].elbo && oa[i].elbo_mc_se == ob[i].elbo_mc_se &&
           oa[i].steps == ob[i].steps && oa[i].stop == ob[i].stop;
  ok(same, "same seed → bit-identical μ, ln σ², ELBO, SE, steps and stop codes");
  /* Guard: the points stop at different steps, so slots are refilled and the batch
   * shrinks in a different pattern in the whole and in the subset run. */
  size_t smin = SIZE_MAX, smax = 0;
  for (size_t i = 0; i < N; i++) {
    smin = oa[i].steps < smin ? oa[i].steps : smin;
    smax = oa[i].steps > smax ? oa[i].steps : smax;
  }
  diag("reproducibility run: steps %zu–%zu", smin, smax);
  o.batch_points = 2;
  infb_qstar_optimize(&dec, &o, 5, X + 5 * D, 5, MUb, LVb, ob);
  same = memcmp(MUa + 5 * K, MUb, 5 * K * sizeof(double)) == 0 &&
         memcmp(LVa + 5 * K, LVb, 5 * K * sizeof(double)) == 0;
  for (size_t i = 0; i < 5; i++)
    same = same && oa[5 + i].elbo == ob[i].elbo && oa[5 + i].elbo_mc_se == ob[i].elbo_mc_se &&
           oa[5 + i].steps == ob[i].steps && oa[5 + i].stop == ob[i].stop;
  ok(same && smin < smax, "points [5, 10) alone (first_index 5, batch 2) reproduce rows 5–9 "
                         "of the whole run (batch 6, stops at different steps) bit for bit");
  o.seed++;
  o.batch_points = 6;
  infb_qstar_optimize(&dec, &o, N, X, 0, MUb, LVb, ob);
  ok(memcmp(MUa, MUb, N * K * sizeof(double)) != 0 && oa[0].elbo != ob[0].elbo,
     "another seed gives different numbers");
}

static void
test_stopping(lgmodel *m, gsl_rng *r)
{
  enum { N = 4 };
  const size_t K = m->K;
  infb_decoder dec = lg_dec(m);
  double X[N * MAXD], MU[N * MAXK], LV[N * MAXK];
  infb_qstar_point out[N];
  lg_sample(m, r, N, X);
  infb_qstar_options o;
  base_options(&o);
  o.eval_samples = 200;

  o.max_steps = 7;
  int st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  int good = st == GSL_SUCCESS;
  for (size_t i = 0; i < N; i++)
    good = good && out[i].steps == 7 && out[i].stop == INFB_QSTAR_MAX_STEPS;
  ok(good, "max_steps 7: every point stops with MAX_STEPS after 7 steps");

  o.max_steps = 0;
  for (size_t q = 0; q < N * K; q++)
    MU[q] = LV[q] = 1.0;
  st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  good = st == GSL_SUCCESS;
  for (size_t i = 0; i < N; i++)
    good = good && out[i].steps == 0 && out[i].stop == INFB_QSTAR_MAX_STEPS &&
           MU[i * K] == 0.0 && LV[i * K] == 0.0 && isfinite(out[i].elbo);
  ok(good, "max_steps 0: no step, MAX_STEPS, q left at the prior, ELBO still evaluated");

  /* The protocol's rule (lr 1e-3, check 100, patience 10) on an easy problem. */
  o.max_steps = 20000;
  st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  good = st == GSL_SUCCESS;
  size_t smin = SIZE_MAX, smax = 0;
  for (size_t i = 0; i < N; i++) {
    good = good && out[i].stop == INFB_QSTAR_CONVERGED && out[i].steps < o.max_steps &&
           out[i].steps % o.check_every == 0 &&
           out[i].steps >= (o.patience + 2) * o.check_every;
    smin = out[i].steps < smin ? out[i].steps : smin;
    smax = out[i].steps > smax ? out[i].steps : smax;
  }
  ok(good,
     "default rule: every point converges before max_steps, at a multiple of check_every "
     "and after ≥ (patience+2)·check_every steps (steps %zu–%zu)",
     smin, smax);

  /* A decoder whose ln p(x|z) does not depend on z: from the prior the loss is exactly 0
   * at every step and the gradient 0, so the first check improves (on +∞) and the next
   * patience+1 do not: convergence at exactly (patience + 2)·check_every. */
  lgmodel flat = *m;
  flat.flat = 1;
  infb_decoder fdec = lg_dec(&flat);
  base_options(&o);
  o.check_every = 5;
  o.patience = 3;
  o.eval_samples = 10;
  o.batch_points = 3;
  st = infb_qstar_optimize(&fdec, &o, N, X, 0, MU, LV, out);
  good = st == GSL_SUCCESS;
  for (size_t i = 0; i < N; i++)
    good = good && out[i].steps == 25 && out[i].stop == INFB_QSTAR_CONVERGED &&
           MU[i * K] == 0.0 && LV[i * K] == 0.0 && out[i].elbo == -3.0 &&
           out[i].elbo_mc_se == 0.0;
  ok(good, "flat decoder: converged at exactly (3+2)·5 = 25 steps, q stays at the prior, "
           "ELBO = ln p = −3 with SE 0");
}

static void
test_init_given(lgmodel *m, const lgclosed *c, gsl_rng *r)
{
  enum { N = 6 };
  const size_t D = m->D, K = m->K;
  infb_decoder dec = lg_dec(m);
  double X[N * MAXD], MU[N * MAXK], LV[N * MAXK];
  infb_qstar_point out[N];
  lg_sample(m, r, N, X);
  for (size_t i = 0; i < N; i++)
    lg_qstar(m, c, X + i * D, MU + i * K, LV + i * K);
  infb_qstar_options o;
  base_options(&o);
  o.init_given = 1;
  o.max_steps = 300;
  o.eval_samples = 4000;
  int st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  /* From the optimum, 300 steps of lr 1e-3 move each coordinate by at most 0.3 and in
   * practice stay within Adam's jitter; the deficit must be below the slack of
   * test_optimum's tolerances (μ 0.02, ln σ² 0.05), and the MC ELBO within 5 SE of it. */
  double dmax = 0.0, zmax = 0.0, slack = 0.5 * K * (exp(0.05) - 1.0 - 0.05);
  for (size_t q = 0; q < K * K; q++)
    slack += 0.5 * 0.02 * 0.02 * fabs(c->Lam[q]);
  for (size_t i = 0; i < N; i++) {
    double mus[MAXK], lvs[MAXK];
    lg_qstar(m, c, X + i * D, mus, lvs);
    double eq = lg_elbo(m, c, X + i * D, mus, lvs);
    dmax = fmax(dmax, eq - lg_elbo(m, c, X + i * D, MU + i * K, LV + i * K));
    zmax = fmax(zmax, (eq - out[i].elbo) / out[i].elbo_mc_se);
  }
  ok(st == GSL_SUCCESS && dmax < slack,
     "init_given at the optimum: closed-form ELBO deficit after 300 steps %.2g < slack %.2g",
     dmax, slack);
  ok(zmax < 5.0, "init_given at the optimum: MC ELBO not below ELBO(q*) by more than 5 SE "
                 "(max %.2f SE)",
     zmax);
  /* Control: the same 300 steps from the prior are far from the optimum, so init_given
   * was what kept the run there. */
  o.init_given = 0;
  infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  double dprior = 0.0;
  for (size_t i = 0; i < N; i++) {
    double mus[MAXK], lvs[MAXK];
    lg_qstar(m, c, X + i * D, mus, lvs);
    dprior = fmax(dprior, lg_elbo(m, c, X + i * D, mus, lvs) -
                              lg_elbo(m, c, X + i * D, MU + i * K, LV + i * K));
  }
  ok(dprior > 10.0 * slack, "control: 300 steps from the prior leave a deficit %.3g ≫ slack",
     dprior);
}

static void
test_errors(lgmodel *m, gsl_rng *r)
{
  enum { N = 3 };
  const size_t D = m->D;
  double X[N * MAXD], MU[N * MAXK], LV[N * MAXK], e[N], s[N];
  infb_qstar_point out[N];
  lg_sample(m, r, N, X);
  lgmodel bad = *m;
  bad.nan_x = X + 1 * D;
  bad.nan_call = 7;
  bad.calls = 0;
  infb_decoder dec = lg_dec(&bad);
  infb_qstar_options o;
  base_options(&o);
  o.eval_samples = 10;
  infb_error_clear();
  int st = infb_qstar_optimize(&dec, &o, N, X, 10, MU, LV, out);
  is_int(GSL_EDOM, st, "a decoder returning NaN for row 1 from step 7 on: GSL_EDOM");
  is_string("q* point 11, step 7: the ELBO is not finite", infb_error_message(),
            "the message names the point (first_index 10 + row 1) and the step");

  bad.calls = 0;
  bad.nan_call = 1;
  for (size_t q = 0; q < N * m->K; q++)
    MU[q] = LV[q] = 0.0;
  st = infb_qstar_elbo_mc(&dec, N, X, MU, LV, 10, 1, "test", 0, e, s);
  is_int(GSL_EDOM, st, "elbo_mc with a NaN decoder: GSL_EDOM");
  is_string("q* point 1: the ELBO estimate from 10 samples is not finite",
            infb_error_message(), "elbo_mc's message names the point");

  infb_decoder good = lg_dec(m);
  infb_qstar_options bo;
  base_options(&bo);
  bo.samples = 0;
  int e1 = infb_qstar_optimize(&good, &bo, N, X, 0, MU, LV, out);
  base_options(&bo);
  bo.check_every = 0;
  int e2 = infb_qstar_optimize(&good, &bo, N, X, 0, MU, LV, out);
  base_options(&bo);
  bo.batch_points = 0;
  int e3 = infb_qstar_optimize(&good, &bo, N, X, 0, MU, LV, out);
  base_options(&bo);
  bo.beta2 = 1.0;
  int e4 = infb_qstar_optimize(&good, &bo, N, X, 0, MU, LV, out);
  base_options(&bo);
  bo.lr = 0.0;
  int e5 = infb_qstar_optimize(&good, &bo, N, X, 0, MU, LV, out);
  int e6 = infb_qstar_optimize(NULL, &bo, N, X, 0, MU, LV, out);
  ok(e1 == GSL_EINVAL && e2 == GSL_EINVAL && e3 == GSL_EINVAL && e4 == GSL_EINVAL &&
         e5 == GSL_EINVAL && e6 == GSL_EINVAL,
     "samples 0, check_every 0, batch_points 0, β2 = 1, lr 0, no decoder: GSL_EINVAL");
  base_options(&bo);
  ok(infb_qstar_optimize(&good, &bo, 0, NULL, 0, NULL, NULL, NULL) == GSL_SUCCESS,
     "n = 0 is a no-op success");
}

typedef struct {
  size_t calls, last;
  int increasing;
  size_t stop_at; /* return 77 once this many points stopped (0: never) */
} progress_rec;

static int
count_progress(void *ctx, size_t stopped)
{
  progress_rec *p = ctx;
  p->increasing &= stopped >= p->last;
  p->last = stopped;
  p->calls++;
  return p->stop_at && stopped >= p->stop_at ? 77 : 0;
}

/* The options of the thread tests: 9 points through 4 slots, the stopping rule on. */
static void
split_options(infb_qstar_options *o)
{
  base_options(o);
  o->batch_points = 4;
  o->check_every = 10;
  o->patience = 2;
  o->max_steps = 400;
  o->eval_samples = 50;
}

/* Nonzero when two q* results for N points of K latents are equal bit for bit. */
static int
same_qstar(size_t N, size_t K, const double *MU, const double *LV, const infb_qstar_point *out,
           const double *MU1, const double *LV1, const infb_qstar_point *out1)
{
  int same = 1;
  for (size_t q = 0; q < N * K; q++)
    same &= MU[q] == MU1[q] && LV[q] == LV1[q];
  for (size_t i = 0; i < N; i++)
    same &= out[i].steps == out1[i].steps && out[i].stop == out1[i].stop &&
            out[i].elbo == out1[i].elbo && out[i].elbo_mc_se == out1[i].elbo_mc_se;
  return same;
}

/* A progress callback that returns 78 at its fifth call. */
static int
stop_at_call(void *ctx, size_t stopped)
{
  (void)stopped;
  size_t *calls = ctx;
  return ++*calls == 5 ? 78 : 0;
}

/* Parts: with a decoder of independent parts, the points split into one share per part
 * whatever the threads (1, 2 or 3 run them), each optimised without a barrier per step;
 * the results equal 1 thread's bit for bit
 * (9 points through 4 slots, the stopping rule on), every part is used, a NaN is reported
 * for its point on the caller's thread, and progress still counts and stops. */
static void
test_parts(lgmodel *m, gsl_rng *r)
{
  enum { N = 9 };
  const size_t D = m->D, K = m->K;
  infb_decoder dec = lg_dec(m);
  dec.parts = 3;
  dec.fn_part = lg_decoder_part;
  double X[N * MAXD], MU1[N * MAXK], LV1[N * MAXK], MU[N * MAXK], LV[N * MAXK];
  infb_qstar_point out1[N], out[N];
  lg_sample(m, r, N, X);
  infb_qstar_options o;
  split_options(&o);
  m->parts_used = 0;
  int same = infb_qstar_optimize(&dec, &o, N, X, 3, MU1, LV1, out1) == GSL_SUCCESS;
  unsigned serial = m->parts_used;
  unsigned used[2];
  for (size_t T = 2; T <= 3; T++) {
    o.threads = T;
    m->parts_used = 0;
    same &= infb_qstar_optimize(&dec, &o, N, X, 3, MU, LV, out) == GSL_SUCCESS;
    used[T - 2] = m->parts_used;
    same &= same_qstar(N, K, MU, LV, out, MU1, LV1, out1);
  }
  ok(same, "parts, threads 2 and 3: MU, LV, steps, stop reasons and final ELBOs equal 1 "
           "thread's bit for bit (9 points through 4 slots)");
  ok(serial == 7u && used[0] == 7u && used[1] == 7u, "parts: 1, 2 and 3 threads all call the "
     "decoder's 3 parts, the parts not depending on the threads (masks %u, %u, %u)", serial,
     used[0], used[1]);
  lgmodel bad = *m;
  bad.nan_x = X + 7 * D;
  bad.nan_call = 6;
  bad.calls = 0;
  infb_decoder bd = dec;
  bd.self = &bad;
  o.threads = 2;
  infb_error_clear();
  int st = infb_qstar_optimize(&bd, &o, N, X, 0, MU, LV, out);
  ok(st == GSL_EDOM && strstr(infb_error_message(), "q* point 7,") != NULL,
     "parts, threads 2: a NaN from row 7 (the second share) is reported for point 7 on the "
     "caller's thread (%s)", infb_error_message());
  progress_rec pr = {0, 0, 1, 0};
  o.progress = count_progress;
  o.progress_ctx = &pr;
  st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  ok(st == GSL_SUCCESS && pr.last == N && pr.increasing, "parts: progress counts never "
     "decrease and reach %zu of %d (%zu calls)", pr.last, N, pr.calls);
  pr = (progress_rec){0, 0, 1, 3};
  st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  ok(st == 77 && pr.last >= 3 && pr.last < N, "parts: progress returning nonzero at %zu "
     "stopped points stops every share with its status (%d)", pr.last, st);
  size_t calls = 0;
  o.progress = stop_at_call;
  o.progress_ctx = &calls;
  st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  ok(st == 78 && calls == 5, "parts: progress returning nonzero at step 5 stops it (%d "
     "after %zu calls)", st, calls);
}

/* threads: the per-point work split over 2 and 3 threads gives bit-identical q* (each
 * point has its own stream; the decoder is still called once per step), also when points
 * leave and enter slots (9 points, 4 slots, the stopping rule on); a NaN is still
 * reported for the right point and step; 0 and too many threads are refused. */
static void
test_threads(lgmodel *m, gsl_rng *r)
{
  enum { N = 9 };
  const size_t D = m->D, K = m->K;
  infb_decoder dec = lg_dec(m);
  double X[N * MAXD], MU1[N * MAXK], LV1[N * MAXK], MU[N * MAXK], LV[N * MAXK];
  infb_qstar_point out1[N], out[N];
  lg_sample(m, r, N, X);
  infb_qstar_options o;
  split_options(&o);
  int st = infb_qstar_optimize(&dec, &o, N, X, 3, MU1, LV1, out1);
  int same = st == GSL_SUCCESS;
  for (size_t T = 2; T <= 3; T++) {
    o.threads = T;
    same &= infb_qstar_optimize(&dec, &o, N, X, 3, MU, LV, out) == GSL_SUCCESS;
    same &= same_qstar(N, K, MU, LV, out, MU1, LV1, out1);
  }
  ok(same, "threads 2 and 3: MU, LV, steps, stop reasons and final ELBOs equal 1 thread's "
           "bit for bit (9 points through 4 slots)");
  lgmodel bad = *m;
  bad.nan_x = X + 5 * D;
  bad.nan_call = 4;
  bad.calls = 0;
  infb_decoder bd = lg_dec(&bad);
  o.threads = 2;
  infb_error_clear();
  st = infb_qstar_optimize(&bd, &o, N, X, 0, MU, LV, out);
  ok(st == GSL_EDOM && strstr(infb_error_message(), "q* point 5,") != NULL,
     "threads 2: a NaN from row 5 is still reported for point 5 (%s)", infb_error_message());
  o.threads = 0;
  int e0 = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  o.threads = INFB_QSTAR_MAX_THREADS + 1;
  int e1 = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  ok(e0 == GSL_EINVAL && e1 == GSL_EINVAL, "threads 0 and %d: GSL_EINVAL",
     INFB_QSTAR_MAX_THREADS + 1);

  /* Progress: called after every step, counts never decreasing, up to N; a nonzero
   * return stops the optimisation with that status, also before any point has stopped. */
  progress_rec pr = {0, 0, 1, 0};
  o.threads = 1;
  o.progress = count_progress;
  o.progress_ctx = &pr;
  st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  ok(st == GSL_SUCCESS && pr.last == N && pr.calls >= 1 && pr.increasing,
     "progress: %zu calls, counts increasing to %zu of %d", pr.calls, pr.last, N);
  pr = (progress_rec){0, 0, 1, 3};
  st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  ok(st == 77 && pr.last >= 3 && pr.last < N, "progress returning nonzero at %zu stopped "
     "points stops the optimisation with its status (%d)", pr.last, st);
  size_t steps_max = 0;
  for (size_t i = 0; i < N; i++)
    steps_max = out1[i].steps > steps_max ? out1[i].steps : steps_max;
  pr = (progress_rec){0, 0, 1, 0};
  st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  ok(pr.calls >= steps_max, "progress: called after every step (%zu calls; the slowest "
     "point took %zu steps)", pr.calls, steps_max);
  o.progress = stop_at_call;
  size_t calls = 0;
  o.progress_ctx = &calls;
  st = infb_qstar_optimize(&dec, &o, N, X, 0, MU, LV, out);
  ok(st == 78 && calls == 5, "progress returning nonzero at step 5, before any point "
     "stopped, stops the optimisation (%d after %zu calls)", st, calls);
}

int
main(void)
{
  plan(47);
  gsl_rng *r = infb_rng_stream(42, "test/qstar", 0);
  lgmodel m;
  lg_random(&m, r, 6, 2);
  lgclosed c;
  lg_closed(&m, &c);
  lgmodel bern;
  lg_random(&bern, r, 5, 3);
  bern.bernoulli = 1;

  test_defaults();
  test_decoder_grad(&m, "linear-Gaussian", r);
  test_decoder_grad(&bern, "Bernoulli-logit", r);
  test_grad_fd(&m, "linear-Gaussian", r);
  test_grad_fd(&bern, "Bernoulli-logit", r);
  test_one_step(&m, r);
  test_elbo_mc(&m, &c, r);
  test_optimum(&m, &c, r);
  test_stopping(&m, r);
  test_init_given(&m, &c, r);
  test_errors(&m, r);
  test_threads(&m, r);
  test_parts(&m, r);

  gsl_rng_free(r);
  return test_done();
}
