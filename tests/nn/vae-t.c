/* Tests for nn/vae: the Bernoulli kernel (SIMD and portable) against libm, the ELBO and
 * its per-point estimates against a direct computation for a tiny network with set
 * weights, finite-difference checks of the training gradient (β = 1 and 0.3, tanh and
 * ELU) and of the decoder's ∂ ln p(x|z)/∂z, IWAE (monotone in k, IWAE-1 = ELBO in
 * expectation, chunking invariance, IWAE-large against quadrature; the raw log-weights of
 * vae_iwae_lw against the direct computation of the same draws), quadrature
 * convergence, the float build against the double build, the layout and error paths. */
#include <config.h>
#include "nn/vae.h"
#include "core/error.h"
#include "core/rng.h"
#include "tap/basic.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#define SEED 20240531u
/* ln 2π. */
#define LN_2PI 1.83787706640934548356
/* Central differences: step and tolerance |fd − g| ≤ FD_TOL·(1 + |g|) (truncation
 * O(h²) ≈ 1e-12, rounding ≈ eps·|L|/h ≈ 1e-9 for |L| ≈ 10). */
#define FD_H 1e-6
#define FD_TOL 1e-6
/* The direct double computations agree with the library up to reassociation. */
#define DIRECT_TOL 1e-11
/* Monte-Carlo comparisons: within this many standard errors. */
#define NSE 4.0
/* Widest layer of the reference MLP. */
#define MAXW 64

/* ------------------------------------------------------------------ helpers */

static double
act_ref(enum infb_act a, double x)
{
  switch (a) {
  case INFB_ACT_TANH: return tanh(x);
  case INFB_ACT_ELU: return x > 0 ? x : expm1(x);
  case INFB_ACT_RELU: return x > 0 ? x : 0;
  case INFB_ACT_SOFTPLUS: return log1p(exp(x));
  default: return x;
  }
}

/* A plain MLP forward from the slab and its layout table (entries lay[0..2·nl)), in the
 * layout's convention: W rows × cols = out × in, row-major. */
static void
mlp_ref(const double *theta, const struct infb_nn_tensor *lay, size_t nl, enum infb_act a,
        const double *in, double *out)
{
  double buf[2][MAXW];
  const double *cur = in;
  for (size_t l = 0; l < nl; l++) {
    const struct infb_nn_tensor *tW = &lay[2 * l], *tb = &lay[2 * l + 1];
    double *nxt = l + 1 == nl ? out : buf[l % 2];
    for (size_t o = 0; o < tW->rows; o++) {
      double s = theta[tb->offset + o];
      for (size_t j = 0; j < tW->cols; j++)
        s += theta[tW->offset + o * tW->cols + j] * cur[j];
      nxt[o] = l + 1 == nl ? s : act_ref(a, s);
    }
    cur = nxt;
  }
}

static infb_vae_arch
make_arch(size_t D, size_t K, size_t nenc, const size_t *eh, size_t ndec, const size_t *dh,
          enum infb_act a)
{
  infb_vae_arch ar;
  memset(&ar, 0, sizeof ar);
  ar.D = D;
  ar.K = K;
  ar.nenc = nenc;
  ar.ndec = ndec;
  for (size_t l = 0; l < nenc; l++)
    ar.enc_hidden[l] = eh[l];
  for (size_t l = 0; l < ndec; l++)
    ar.dec_hidden[l] = dh[l];
  ar.act = a;
  return ar;
}

/* The layout entry named `name`, or NULL. */
static const struct infb_nn_tensor *
find_block(const struct infb_nn_tensor *lay, size_t n, const char *name)
{
  for (size_t j = 0; j < n; j++)
    if (strcmp(lay[j].name, name) == 0)
      return &lay[j];
  return NULL;
}

static void
fill_normal(double *a, size_t n, gsl_rng *r)
{
  for (size_t i = 0; i < n; i++)
    a[i] = gsl_ran_gaussian(r, 1.0);
}

/* ------------------------------------------------------------------ the kernel */

#define KPOS 27 /* a row of 27: floats as one 16-lane block (AVX-512), one 8-lane block and
                   * a tail of 3; doubles as six 4-lane blocks and a tail */
#define NVAL 49
static double kvals[NVAL] = {-100, -88, -30, -17, -5, -1, -0.3, -1e-3, -1e-7, 0,
                             1e-7, 1e-3, 0.3, 1,    5,  17, 30,   88,   100};

/* x·l − ln(1 + eˡ) and x − 1/(1 + e⁻ˡ) from the definitions, in long double. */
static long double
bern_def(long double x, long double l)
{
  return x * l - log1pl(expl(l));
}

static long double
sig_def(long double l)
{
  return 1 / (1 + expl(-l));
}

/* Each (value, x) pair in its own row at position p (the other pixels l = −200, x = 0,
 * contributing below 1e-86), so every lane and the tail are checked elementwise.  Returns
 * the worst error of the value and of the gradient in units of their bounds
 * tol·(|x·l| + softplus(l)) + tiny and tol·(|x| + σ(l)) + tiny. */
static void
kernel_worst_f32(int vector, double *wv, double *wg)
{
  static const float xs[3] = {0, 1, 0.37f};
  float x[KPOS], l[KPOS], dl[KPOS];
  *wv = *wg = 0;
  for (size_t j = 0; j < NVAL; j++)
    for (size_t q = 0; q < 3; q++) {
      size_t p = (3 * j + q) % KPOS;
      for (size_t d = 0; d < KPOS; d++)
        x[d] = 0, l[d] = -200;
      x[p] = xs[q];
      l[p] = (float)kvals[j];
      const double coef = -0.75;
      double got = infb_vae_bernoulli_loglik_f32(KPOS, x, l, dl, coef, vector);
      long double lx = x[p], ll = l[p];
      long double want = bern_def(lx, ll), sp = log1pl(expl(ll));
      double b = 4 * FLT_EPSILON * (double)(fabsl(lx * ll) + sp) + 1e-30;
      double e = fabs(got - (double)want) / b;
      *wv = isfinite(got) && e < *wv ? *wv : (isfinite(got) ? e : INFINITY);
      long double gw = coef * (lx - sig_def(ll));
      double bg = 4 * FLT_EPSILON * fabs(coef) * (double)(fabsl(lx) + sig_def(ll)) + FLT_MIN;
      double eg = fabs(dl[p] - (double)gw) / bg;
      for (size_t d = 0; d < KPOS; d++) /* the filler's σ(−200) underflows */
        if (d != p && !(fabs(dl[d]) <= FLT_MIN))
          eg = INFINITY;
      if (!(eg <= *wg))
        *wg = eg;
    }
}

static void
kernel_worst_f64(int vector, double *wv, double *wg)
{
  static const double xs[3] = {0, 1, 0.37};
  double x[KPOS], l[KPOS], dl[KPOS];
  *wv = *wg = 0;
  for (size_t j = 0; j < NVAL; j++)
    for (size_t q = 0; q < 3; q++) {
      size_t p = (3 * j + q) % KPOS;
      for (size_t d = 0; d < KPOS; d++)
        x[d] = 0, l[d] = -200;
      x[p] = xs[q];
      l[p] = kvals[j];
      const double coef = -0.75;
      double got = infb_vae_bernoulli_loglik_f64(KPOS, x, l, dl, coef, vector);
      long double lx = x[p], ll = l[p];
      long double want = bern_def(lx, ll), sp = log1pl(expl(ll));
      /* the 18 fillers contribute e^−200 each */
      double b = 4 * DBL_EPSILON * (double)(fabsl(lx * ll) + sp) + 18 * exp(-200.0) + 1e-300;
      double e = fabs(got - (double)want) / b;
      *wv = isfinite(got) && e < *wv ? *wv : (isfinite(got) ? e : INFINITY);
      long double gw = coef * (lx - sig_def(ll));
      double bg = 4 * DBL_EPSILON * fabs(coef) * (double)(fabsl(lx) + sig_def(ll)) + DBL_MIN;
      double eg = fabs(dl[p] - (double)gw) / bg;
      for (size_t d = 0; d < KPOS; d++)
        if (d != p && !(fabs(dl[d]) <= 1e-80))
          eg = INFINITY;
      if (!(eg <= *wg))
        *wg = eg;
    }
}

/* The small terms relative to themselves: with x = [l > 0] the term is
 * −log1p(e^−|l|) exactly; a sweep of |l| ∈ [0, 80] (normal floats throughout), each value
 * alone in a row at a rotating position.  Worst relative error in units of eps. */
#define NSWEEP 4001
#define SWEEP_MAX 80.0
static double
sweep_worst(int f32, int vector)
{
  float xf[KPOS], lf[KPOS];
  double xd[KPOS], ld[KPOS];
  double worst = 0;
  for (size_t j = 0; j < NSWEEP; j++) {
    double a = SWEEP_MAX * (double)j / (NSWEEP - 1);
    for (int sgn = -1; sgn <= 1; sgn += 2) {
      size_t p = (2 * j + (sgn > 0)) % KPOS;
      for (size_t d = 0; d < KPOS; d++)
        xf[d] = 0, lf[d] = -200, xd[d] = 0, ld[d] = -200;
      lf[p] = (float)(sgn * a);
      ld[p] = f32 ? lf[p] : sgn * a;
      xf[p] = (float)(xd[p] = ld[p] > 0);
      double got = f32 ? infb_vae_bernoulli_loglik_f32(KPOS, xf, lf, NULL, 0, vector)
                       : infb_vae_bernoulli_loglik_f64(KPOS, xd, ld, NULL, 0, vector);
      long double want = -log1pl(expl(-fabsl((long double)ld[p])));
      double e = fabs(got - (double)want) /
                 ((f32 ? FLT_EPSILON : DBL_EPSILON) * fabs((double)want));
      if (!(e <= worst))
        worst = e;
    }
  }
  return worst;
}

/* A long row (with a tail after the vector blocks): its sum must be the double sum of its
 * pixels' terms, each obtained from a row where only that pixel is active (the lanes are
 * elementwise, so the term is the same).  A float accumulator would be off by about
 * 1e-3 here; the double one by about D·eps_double·Σ|term|. */
#define LONGD 1003
static void
test_kernel(void)
{
  gsl_rng *r = infb_rng_stream(SEED, "test/vae/kernel", 0);
  for (size_t j = 19; j < NVAL; j++)
    kvals[j] = 40 * gsl_rng_uniform(r) - 20;
  static const char *const level[3] = {"none", "AVX2 + FMA", "AVX-512"};
  diag("SIMD kernel on this CPU: f32 %s, f64 %s", level[infb_vae_simd_f32()],
       level[infb_vae_simd_f64()]);
  /* vector 1: the kernel the passes use (AVX-512 for f32 where the CPU has it), 2: AVX2 +
   * FMA, 0: portable. */
  static const int order[3] = {1, 2, 0};
  static const char *const pname[3] = {"portable", "vector", "AVX2"};
  for (int vi = 0; vi < 3; vi++) {
    const int vector = order[vi];
    const char *path = pname[vector];
    double wv, wg;
    kernel_worst_f32(vector, &wv, &wg);
    ok(wv <= 1, "f32 %s kernel: x*l - softplus(l) within 4 eps of libm (long double) for l in "
                "[-100, 100], x in {0, 1, 0.37}, every lane (worst %.2g of the bound)",
       path, wv);
    ok(wg <= 1, "f32 %s kernel: coef*(x - sigmoid(l)) within 4 eps of libm, every lane "
                "(worst %.2g)", path, wg);
    kernel_worst_f64(vector, &wv, &wg);
    ok(wv <= 1, "f64 %s kernel: x*l - softplus(l) within 4 eps of libm for l in [-100, 100] "
                "(worst %.2g)", path, wv);
    ok(wg <= 1, "f64 %s kernel: coef*(x - sigmoid(l)) within 4 eps of libm (worst %.2g)", path,
       wg);

    static float xf[LONGD], lf[LONGD], x1[LONGD], l1[LONGD];
    long double want = 0, bound = 0, terms = 0, absterms = 0;
    float facc = 0;
    for (size_t d = 0; d < LONGD; d++) {
      xf[d] = gsl_rng_uniform(r) < 0.5 ? 1.0f : 0.0f;
      lf[d] = (float)(25 * gsl_rng_uniform(r) + 5);
      want += bern_def(xf[d], lf[d]);
      bound += 4 * FLT_EPSILON * (fabsl((long double)xf[d] * lf[d]) + log1pl(expl(lf[d])));
    }
    for (size_t d = 0; d < LONGD; d++) {
      for (size_t q = 0; q < LONGD; q++)
        x1[q] = 0, l1[q] = -200;
      x1[d] = xf[d];
      l1[d] = lf[d];
      double t = infb_vae_bernoulli_loglik_f32(LONGD, x1, l1, NULL, 0, vector);
      terms += t;
      absterms += fabs(t);
      facc += (float)t;
    }
    double got = infb_vae_bernoulli_loglik_f32(LONGD, xf, lf, NULL, 0, vector);
    double acc_bound = LONGD * DBL_EPSILON * (double)absterms;
    ok(fabs(got - (double)terms) <= acc_bound && fabs(got - (double)want) <= (double)bound,
       "f32 %s kernel: a row of %d pixels is the double sum of its terms (error %.3g, bound "
       "%.3g; a float sum is off by %.3g) and within the per-pixel libm bounds (error %.3g, "
       "bound %.3g)", path, LONGD, fabs(got - (double)terms), acc_bound,
       fabs((double)facc - (double)terms), fabs(got - (double)want), (double)bound);
    double w32 = sweep_worst(1, vector), w64 = sweep_worst(0, vector);
    ok(w32 <= 4 && w64 <= 4,
       "%s kernel: the small terms -log1p(exp(-|l|)) for |l| in [0, %g] are within 4 eps "
       "relative of libm (worst f32 %.2f eps, f64 %.2f eps)", path, SWEEP_MAX, w32, w64);
    /* x NULL means x = 0. */
    float zero[LONGD] = {0};
    double a = infb_vae_bernoulli_loglik_f32(LONGD, NULL, lf, NULL, 0, vector);
    double b = infb_vae_bernoulli_loglik_f32(LONGD, zero, lf, NULL, 0, vector);
    ok(a == b, "f32 %s kernel: x = NULL is x = 0 (%.17g vs %.17g)", path, a, b);
  }
  gsl_rng_free(r);
}

/* ------------------------------------------------------------------ direct computation */

/* The tiny network: D = 3, K = 2, encoder 3-2-4 and decoder 2-3-3, tanh, the parameters
 * θ_j = 0.6 sin(1.7 j + 0.4); two points, S = 4 fixed noises. */
#define TD 3
#define TK 2
#define TB 2
#define TS 4
static void
test_direct(void)
{
  const size_t eh[1] = {2}, dh[1] = {3};
  infb_vae_arch ar = make_arch(TD, TK, 1, eh, 1, dh, INFB_ACT_TANH);
  infb_vae_f64 *v = infb_vae_alloc_f64(&ar, TB, TS);
  size_t np = 0, nl = 0;
  double *th = infb_vae_params_f64(v, &np);
  const struct infb_nn_tensor *lay = infb_vae_layout_f64(v, &nl);
  for (size_t j = 0; j < np; j++)
    th[j] = 0.6 * sin(1.7 * (double)j + 0.4);
  const double X[TB * TD] = {1, 0, 1, 0.25, 1, 0};
  const double E[TB * TS * TK] = {0.3, -1.2, 1.5, 0.1, -0.7, -0.4, 2.1, 0.8,
                                  -1.9, 0.6, 0.05, -0.2, 1.1, 1.3, -0.5, -2.2};
  double want_pt[TB], want_se[TB], want_sum[2] = {0, 0};
  const double betas[2] = {1.0, 0.3};
  for (size_t i = 0; i < TB; i++) {
    double h[2 * TK], mu[TK], lv[TK], sg[TK];
    mlp_ref(th, lay, 2, INFB_ACT_TANH, X + i * TD, h);
    for (size_t k = 0; k < TK; k++) {
      mu[k] = h[k];
      lv[k] = h[TK + k];
      sg[k] = exp(0.5 * lv[k]);
    }
    double lw[TS], lpx_mean = 0, mean = 0;
    for (size_t s = 0; s < TS; s++) {
      double z[TK], l[TD];
      const double *e = E + (i * TS + s) * TK;
      double lpz = 0, lq = 0;
      for (size_t k = 0; k < TK; k++) {
        z[k] = mu[k] + sg[k] * e[k];
        /* the densities written out: N(z; 0, 1) and N(z; μ, σ²) */
        lpz += -0.5 * z[k] * z[k] - 0.5 * LN_2PI;
        lq += -0.5 * (LN_2PI + log(sg[k] * sg[k])) -
              (z[k] - mu[k]) * (z[k] - mu[k]) / (2 * sg[k] * sg[k]);
      }
      mlp_ref(th, lay + 4, 2, INFB_ACT_TANH, z, l);
      double lpx = 0;
      for (size_t d = 0; d < TD; d++) {
        /* x ln σ(l) + (1 − x) ln(1 − σ(l)), the Bernoulli mass as written */
        double p = 1 / (1 + exp(-l[d]));
        lpx += X[i * TD + d] * log(p) + (1 - X[i * TD + d]) * log(1 - p);
      }
      lw[s] = lpx + lpz - lq;
      mean += lw[s] / TS;
      lpx_mean += lpx / TS;
    }
    double ss = 0;
    for (size_t s = 0; s < TS; s++)
      ss += (lw[s] - mean) * (lw[s] - mean);
    want_pt[i] = mean;
    want_se[i] = sqrt(ss / (TS - 1) / TS);
    /* E_q ln p(z) and E_q ln q(z|x) of the diagonal Gaussians */
    for (size_t b = 0; b < 2; b++) {
      double elpz = 0, elq = 0;
      for (size_t k = 0; k < TK; k++) {
        elpz += -0.5 * (mu[k] * mu[k] + sg[k] * sg[k]) - 0.5 * LN_2PI;
        elq += -0.5 * (LN_2PI + log(sg[k] * sg[k])) - 0.5;
      }
      want_sum[b] += lpx_mean + elpz - betas[b] * elq;
    }
  }
  double out[TB], se[TB];
  int st = infb_vae_elbo_points_f64(v, TB, X, TS, E, out, se);
  for (size_t i = 0; i < TB; i++) {
    ok(st == 0 && fabs(out[i] - want_pt[i]) <= DIRECT_TOL * (1 + fabs(want_pt[i])),
       "elbo_points point %zu: mean of ln p(x|z) + ln N(z;0,I) - ln N(z;mu,sigma^2) over %d "
       "fixed eps equals the direct computation (%.12g vs %.12g)", i, TS, out[i], want_pt[i]);
    ok(st == 0 && fabs(se[i] - want_se[i]) <= DIRECT_TOL * (1 + want_se[i]),
       "elbo_points point %zu: se = sd/sqrt(S) of the direct log-weights (%.12g vs %.12g)", i,
       se[i], want_se[i]);
  }
  for (size_t b = 0; b < 2; b++) {
    double sum = NAN;
    st = infb_vae_elbo_f64(v, TB, X, TS, E, betas[b], 0, &sum);
    ok(st == 0 && fabs(sum - want_sum[b]) <= DIRECT_TOL * (1 + fabs(want_sum[b])),
       "vae_elbo beta = %g: sum of mean ln p(x|z) + E_q ln p(z) - beta E_q ln q equals the "
       "direct computation (%.12g vs %.12g)", betas[b], sum, want_sum[b]);
  }
  /* f32 on the same tiny network: same values within float rounding. */
  infb_vae_f32 *w = infb_vae_alloc_f32(&ar, TB, TS);
  float *thf = infb_vae_params_f32(w, NULL);
  for (size_t j = 0; j < np; j++)
    thf[j] = (float)th[j];
  float Xf[TB * TD], Ef[TB * TS * TK];
  for (size_t j = 0; j < TB * TD; j++)
    Xf[j] = (float)X[j];
  for (size_t j = 0; j < TB * TS * TK; j++)
    Ef[j] = (float)E[j];
  st = infb_vae_elbo_points_f32(w, TB, Xf, TS, Ef, out, NULL);
  ok(st == 0 && fabs(out[0] - want_pt[0]) <= 1e-5 * (1 + fabs(want_pt[0])) &&
         fabs(out[1] - want_pt[1]) <= 1e-5 * (1 + fabs(want_pt[1])),
     "f32 elbo_points (se NULL) matches the direct computation within 1e-5 (%.7g, %.7g)",
     out[0], out[1]);
  infb_vae_free_f32(w);
  infb_vae_free_f64(v);
}

/* ------------------------------------------------------------------ gradients */

#define GD 7
#define GK 2
#define GB 3
#define GS 3
static double
objective(infb_vae_f64 *v, const double *X, const double *E, double beta)
{
  double s = NAN;
  if (infb_vae_elbo_f64(v, GB, X, GS, E, beta, 0, &s))
    return NAN;
  return -s / GB;
}

static void
test_gradients(void)
{
  const size_t eh[2] = {5, 4}, dh[2] = {4, 5};
  const enum infb_act acts[2] = {INFB_ACT_TANH, INFB_ACT_ELU};
  const double betas[2] = {1.0, 0.3};
  gsl_rng *r = infb_rng_stream(SEED, "test/vae/grad", 0);
  double X[GB * GD], E[GB * GS * GK];
  for (size_t j = 0; j < GB * GD; j++)
    X[j] = j % 5 == 4 ? 0.3 : (gsl_rng_uniform(r) < 0.5 ? 1 : 0);
  fill_normal(E, GB * GS * GK, r);
  for (size_t ia = 0; ia < 2; ia++)
    for (size_t ib = 0; ib < 2; ib++) {
      infb_vae_arch ar = make_arch(GD, GK, 2, eh, 2, dh, acts[ia]);
      infb_vae_f64 *v = infb_vae_alloc_f64(&ar, GB, GS);
      infb_vae_init_f64(v, r);
      size_t np = 0, nl = 0;
      double *th = infb_vae_params_f64(v, &np), *g = infb_vae_grads_f64(v, NULL);
      const struct infb_nn_tensor *lay = infb_vae_layout_f64(v, &nl);
      /* Larger weights than the init, so every block matters. */
      for (size_t j = 0; j < np; j++)
        th[j] *= 1.5;
      infb_vae_zero_grad_f64(v);
      double s = NAN;
      int st = infb_vae_elbo_f64(v, GB, X, GS, E, betas[ib], 1, &s);
      double *gc = malloc(np * sizeof *gc);
      memcpy(gc, g, np * sizeof *gc);
      double worst = 0;
      size_t wj = 0;
      for (size_t j = 0; j < np; j++) {
        double t = th[j];
        th[j] = t + FD_H;
        double fp = objective(v, X, E, betas[ib]);
        th[j] = t - FD_H;
        double fm = objective(v, X, E, betas[ib]);
        th[j] = t;
        double fd = (fp - fm) / (2 * FD_H);
        double e = fabs(fd - gc[j]) / (FD_TOL * (1 + fabs(gc[j])));
        if (!(e <= worst))
          worst = e, wj = j;
      }
      ok(st == 0 && worst <= 1,
         "vae_elbo backward (%s, beta = %g): gradient of -sum L_i/B matches central "
         "differences for all %zu parameters (worst %.2g of the tolerance at %zu)",
         infb_act_name(acts[ia]), betas[ib], np, worst, wj);
      /* Guard: each layout block has a non-zero gradient. */
      size_t zero_blocks = 0;
      for (size_t b = 0; b < nl; b++) {
        double m = 0;
        for (size_t j = 0; j < lay[b].length; j++)
          m = fmax(m, fabs(gc[lay[b].offset + j]));
        if (!(m > 1e-6))
          zero_blocks++;
      }
      ok(nl == 12 && zero_blocks == 0,
         "vae_elbo backward (%s, beta = %g): all %zu layout blocks have a non-zero gradient",
         infb_act_name(acts[ia]), betas[ib], nl);
      /* Accumulation: a second backward doubles the slab. */
      st = infb_vae_elbo_f64(v, GB, X, GS, E, betas[ib], 1, &s);
      double wacc = 0;
      for (size_t j = 0; j < np; j++)
        wacc = fmax(wacc, fabs(g[j] - 2 * gc[j]) / (1e-12 + fabs(gc[j])));
      ok(st == 0 && wacc <= 1e-12, "vae_elbo backward (%s, beta = %g) accumulates into the "
                                   "gradient slab (rel. worst %.2g)",
         infb_act_name(acts[ia]), betas[ib], wacc);
      free(gc);
      infb_vae_free_f64(v);
    }
  gsl_rng_free(r);
}

/* decoder_loglik: ln p(x|z) against the direct decoder, ∂/∂z against central differences,
 * the gradient slab untouched. */
#define DR 4
#define DK 3
static void
test_decoder(void)
{
  const size_t eh[1] = {6}, dh[2] = {5, 4};
  infb_vae_arch ar = make_arch(GD, DK, 1, eh, 2, dh, INFB_ACT_ELU);
  infb_vae_f64 *v = infb_vae_alloc_f64(&ar, 2, 2);
  gsl_rng *r = infb_rng_stream(SEED, "test/vae/decoder", 0);
  infb_vae_init_f64(v, r);
  size_t np = 0, nl = 0;
  double *th = infb_vae_params_f64(v, &np), *g = infb_vae_grads_f64(v, NULL);
  const struct infb_nn_tensor *lay = infb_vae_layout_f64(v, &nl);
  for (size_t j = 0; j < np; j++)
    th[j] *= 2;
  double X[DR * GD], Z[DR * DK], G[DR * DK], lp[DR], lp2[DR];
  for (size_t j = 0; j < DR * GD; j++)
    X[j] = gsl_rng_uniform(r) < 0.5 ? 1 : 0;
  fill_normal(Z, DR * DK, r);
  infb_vae_zero_grad_f64(v);
  int st = infb_vae_decoder_loglik_f64(v, DR, X, Z, lp, G);
  double wv = 0;
  for (size_t i = 0; i < DR; i++) {
    double l[GD], want = 0;
    mlp_ref(th, lay + 2 * 2, 3, INFB_ACT_ELU, Z + i * DK, l);
    for (size_t d = 0; d < GD; d++) {
      double p = 1 / (1 + exp(-l[d]));
      want += X[i * GD + d] * log(p) + (1 - X[i * GD + d]) * log(1 - p);
    }
    wv = fmax(wv, fabs(lp[i] - want) / (DIRECT_TOL * (1 + fabs(want))));
  }
  ok(st == 0 && wv <= 1, "decoder_loglik: ln p(x|z) equals the direct Bernoulli mass of the "
                         "direct decoder (worst %.2g of the tolerance)", wv);
  double worst = 0, gmax = 0;
  for (size_t j = 0; j < DR * DK; j++) {
    double t = Z[j];
    Z[j] = t + FD_H;
    infb_vae_decoder_loglik_f64(v, DR, X, Z, lp2, NULL);
    double fp = lp2[j / DK];
    Z[j] = t - FD_H;
    infb_vae_decoder_loglik_f64(v, DR, X, Z, lp2, NULL);
    double fm = lp2[j / DK];
    Z[j] = t;
    double fd = (fp - fm) / (2 * FD_H);
    worst = fmax(worst, fabs(fd - G[j]) / (FD_TOL * (1 + fabs(G[j]))));
    gmax = fmax(gmax, fabs(G[j]));
  }
  ok(worst <= 1 && gmax > 1e-3, "decoder_loglik: d ln p(x|z)/dz matches central differences "
                                "(worst %.2g of the tolerance; max |G| %.3g not trivial)",
     worst, gmax);
  double gs = 0;
  for (size_t j = 0; j < np; j++)
    gs = fmax(gs, fabs(g[j]));
  ok(gs == 0, "decoder_loglik leaves the gradient slab untouched (max |g| %g)", gs);
  infb_vae_free_f64(v);
  gsl_rng_free(r);
}

/* ------------------------------------------------------------------ IWAE and quadrature */

#define ID 16
#define IK 2
#define IN 30
/* A K = 2 model: decoder weights scaled by 2.5 (a concentrated posterior), data drawn
 * from the model itself. */
static infb_vae_f64 *
iwae_model(size_t max_batch, size_t max_samples, double *X, double enc_scale)
{
  const size_t eh[1] = {10}, dh[1] = {12};
  infb_vae_arch ar = make_arch(ID, IK, 1, eh, 1, dh, INFB_ACT_TANH);
  infb_vae_f64 *v = infb_vae_alloc_f64(&ar, max_batch, max_samples);
  gsl_rng *r = infb_rng_stream(SEED, "test/vae/iwae-model", 0);
  infb_vae_init_f64(v, r);
  size_t np = 0, nl = 0;
  double *th = infb_vae_params_f64(v, &np);
  const struct infb_nn_tensor *lay = infb_vae_layout_f64(v, &nl);
  for (size_t j = lay[4].offset; j < np; j++)
    th[j] *= 2.5;
  for (size_t j = 0; j < lay[4].offset; j++)
    th[j] *= enc_scale;
  if (X) {
    for (size_t i = 0; i < IN; i++) {
      double z[IK], l[ID];
      fill_normal(z, IK, r);
      mlp_ref(th, lay + 4, 2, INFB_ACT_TANH, z, l);
      for (size_t d = 0; d < ID; d++)
        X[i * ID + d] = gsl_rng_uniform(r) < 1 / (1 + exp(-l[d])) ? 1 : 0;
    }
  }
  gsl_rng_free(r);
  return v;
}

static int
run_iwae(infb_vae_f64 *v, size_t B, const double *X, const double *MU, const double *LV,
         size_t k, const char *purpose, double *out, double *se)
{
  gsl_rng **rngs = malloc(B * sizeof *rngs);
  for (size_t i = 0; i < B; i++)
    rngs[i] = infb_rng_stream(SEED, purpose, i);
  int st = infb_vae_iwae_f64(v, B, X, MU, LV, k, rngs, out, se);
  for (size_t i = 0; i < B; i++)
    gsl_rng_free(rngs[i]);
  free(rngs);
  return st;
}

static void
mean_sd(const double *a, size_t n, double *mean, double *sd)
{
  double m = 0, ss = 0;
  for (size_t i = 0; i < n; i++)
    m += a[i] / (double)n;
  for (size_t i = 0; i < n; i++)
    ss += (a[i] - m) * (a[i] - m);
  *mean = m;
  *sd = sqrt(ss / (double)(n - 1));
}

/* IWAE-k of the IN points, each the mean of NREP independent estimates (the points
 * repeated NREP times, one stream per copy). */
#define NREP 50
static int
iwae_rep(infb_vae_f64 *v, const double *X, size_t k, const char *purpose, double *out)
{
  double *XR = malloc(IN * NREP * ID * sizeof *XR), *o = malloc(IN * NREP * sizeof *o);
  for (size_t c = 0; c < NREP; c++)
    memcpy(XR + c * IN * ID, X, IN * ID * sizeof *X);
  int st = run_iwae(v, IN * NREP, XR, NULL, NULL, k, purpose, o, NULL);
  for (size_t i = 0; i < IN; i++) {
    out[i] = 0;
    for (size_t c = 0; c < NREP; c++)
      out[i] += o[c * IN + i] / NREP;
  }
  free(XR);
  free(o);
  return st;
}

#define ES 200
static void
test_iwae(void)
{
  static double X[IN * ID];
  infb_vae_f64 *v = iwae_model(IN, ES, X, 1.0);
  double i1[IN], i10[IN], i100[IN], d1[IN], d2[IN];
  int st = iwae_rep(v, X, 1, "test/vae/iwae1", i1);
  st |= iwae_rep(v, X, 10, "test/vae/iwae10", i10);
  st |= iwae_rep(v, X, 100, "test/vae/iwae100", i100);
  for (size_t i = 0; i < IN; i++) {
    d1[i] = i10[i] - i1[i];
    d2[i] = i100[i] - i10[i];
  }
  /* Paired differences over the points: their SE is sd/sqrt(IN). */
  double m1, s1, m2, s2;
  mean_sd(d1, IN, &m1, &s1);
  mean_sd(d2, IN, &m2, &s2);
  ok(st == 0 && m1 > NSE * s1 / sqrt(IN),
     "IWAE-10 > IWAE-1 on average over %d points (%d estimates each) by more than %g SE "
     "(mean diff %.3f, SE %.3f)", IN, NREP, NSE, m1, s1 / sqrt(IN));
  ok(st == 0 && m2 > NSE * s2 / sqrt(IN),
     "IWAE-100 > IWAE-10 on average over %d points (%d estimates each) by more than %g SE "
     "(mean diff %.3f, SE %.3f)", IN, NREP, NSE, m2, s2 / sqrt(IN));

  /* IWAE-1 is one sample of the ELBO: against elbo_points with ES samples. */
  double el[IN], else_[IN], d[IN];
  double *E = malloc(IN * ES * IK * sizeof *E);
  gsl_rng *r = infb_rng_stream(SEED, "test/vae/elbo-mc", 0);
  fill_normal(E, IN * ES * IK, r);
  st = infb_vae_elbo_points_f64(v, IN, X, ES, E, el, else_);
  for (size_t i = 0; i < IN; i++)
    d[i] = i1[i] - el[i];
  double md, sdd;
  mean_sd(d, IN, &md, &sdd);
  ok(st == 0 && fabs(md) <= NSE * sdd / sqrt(IN),
     "mean IWAE-1 (%d estimates per point) equals the mean %d-sample ELBO within %g SE "
     "(diff %.3f, SE %.3f)", NREP, ES, NSE, md, sdd / sqrt(IN));
  /* The closed-form ELBO of vae_elbo against the sampled one. */
  double sum = NAN, msum = 0, vsum = 0;
  st = infb_vae_elbo_f64(v, IN, X, ES, E, 1.0, 0, &sum);
  for (size_t i = 0; i < IN; i++) {
    msum += el[i];
    vsum += else_[i] * else_[i];
  }
  ok(st == 0 && fabs(sum - msum) <= NSE * sqrt(vsum) && sum != msum,
     "vae_elbo (closed-form KL, beta = 1) equals the sum of sampled ELBOs within %g SE "
     "(%.3f vs %.3f, SE %.3f)", NSE, sum, msum, sqrt(vsum));
  free(E);
  gsl_rng_free(r);

  /* Chunking invariance: max_samples 7 (groups of points, chunks of 7) and 64. */
  infb_vae_f64 *v7 = iwae_model(3, 7, NULL, 1.0), *v64 = iwae_model(1, 64, NULL, 1.0);
  double a[IN], b[IN], sa[IN], sb[IN];
  st = run_iwae(v7, IN, X, NULL, NULL, 150, "test/vae/chunk", a, sa);
  st |= run_iwae(v64, IN, X, NULL, NULL, 150, "test/vae/chunk", b, sb);
  double wc = 0;
  for (size_t i = 0; i < IN; i++)
    wc = fmax(wc, fmax(fabs(a[i] - b[i]), fabs(sa[i] - sb[i])));
  ok(st == 0 && wc <= 1e-10, "IWAE-150 does not depend on the chunking (max_samples 7 with "
                             "3-point groups vs 64; worst diff %.2g)", wc);
  infb_vae_free_f64(v7);
  infb_vae_free_f64(v64);
  infb_vae_free_f64(v);
}

/* ln Σ_j e^{w_j} over n values, with the max subtracted (a reference for vae_iwae_lw). */
static double
lse_ref(const double *w, size_t n)
{
  double m = -INFINITY, s = 0;
  for (size_t j = 0; j < n; j++)
    m = fmax(m, w[j]);
  for (size_t j = 0; j < n; j++)
    s += exp(w[j] - m);
  return m + log(s);
}

/* vae_iwae_lw: the raw log-weights of IWAE.  Chunked (max_samples 7, 3-point groups, k =
 * 150 not a multiple of 7) and split over 2 parts; with a given proposal (MU, LV) and the
 * encoder's. */
#define LWK 150
static void
test_iwae_lw(void)
{
  double X[IN * ID], MU[IN * IK], LV[IN * IK];
  infb_vae_f64 *v = iwae_model(3, 7, X, 1.0);
  infb_vae_set_parts_f64(v, 2);
  gsl_rng *r = infb_rng_stream(SEED, "test/vae/iwae-lw-q", 0);
  for (size_t j = 0; j < IN * IK; j++) {
    MU[j] = gsl_ran_gaussian(r, 0.5);
    LV[j] = -1.0 + gsl_rng_uniform(r);
  }
  gsl_rng_free(r);
  double *lw = malloc(IN * LWK * sizeof *lw);
  double a[IN], sa[IN], b[IN], sb[IN];
  int same = 1, st = 0;
  for (int enc = 0; enc < 2; enc++) {
    const double *mu = enc ? NULL : MU, *lv = enc ? NULL : LV;
    gsl_rng *rs[IN];
    for (size_t i = 0; i < IN; i++)
      rs[i] = infb_rng_stream(SEED, "test/vae/iwae-lw", i);
    for (size_t j = 0; j < IN * LWK; j++)
      lw[j] = NAN;
    st |= infb_vae_iwae_lw_f64(v, IN, X, mu, lv, LWK, rs, a, sa, lw);
    for (size_t i = 0; i < IN; i++)
      gsl_rng_free(rs[i]);
    st |= run_iwae(v, IN, X, mu, lv, LWK, "test/vae/iwae-lw", b, sb);
    for (size_t i = 0; i < IN; i++)
      same &= memcmp(&a[i], &b[i], sizeof a[i]) == 0 && memcmp(&sa[i], &sb[i], sizeof sa[i]) == 0;
    /* out[i] = ln (1/k) Σ_j w_j and se[i] = sqrt(Σ w̃² − 1/k) from the returned row. */
    double wo = 0, ws = 0;
    for (size_t i = 0; i < IN; i++) {
      const double *row = lw + i * LWK, l1 = lse_ref(row, LWK);
      double w2[LWK];
      for (size_t j = 0; j < LWK; j++)
        w2[j] = 2 * row[j];
      wo = fmax(wo, fabs(l1 - log((double)LWK) - a[i]) / (1 + fabs(a[i])));
      ws = fmax(ws, fabs(sqrt(fmax(exp(lse_ref(w2, LWK) - 2 * l1) - 1.0 / LWK, 0)) - sa[i]));
    }
    ok(st == 0 && wo <= 1e-13 && ws <= 1e-12,
       "vae_iwae_lw (%s, k = %d, chunks of 7, 2 parts): the log-sum-exp of each row of lw "
       "minus ln k is out (worst rel diff %.2g) and its normalised weights give se (%.2g)",
       enc ? "encoder" : "given MU, LV", LWK, wo, ws);
    if (enc)
      break;
    /* The draws: point i's ε_j from its own stream (ziggurat, sample after sample),
     * z = μ + e^{LV/2} ε, ln w = ln p(x|z) + ln N(z; 0, I) − ln N(z; μ, σ²), all direct. */
    size_t np = 0, nl = 0;
    const double *th = infb_vae_params_f64(v, &np);
    const struct infb_nn_tensor *lay = infb_vae_layout_f64(v, &nl);
    double wd = 0;
    for (size_t i = 0; i < IN; i++) {
      gsl_rng *ri = infb_rng_stream(SEED, "test/vae/iwae-lw", i);
      for (size_t j = 0; j < LWK; j++) {
        double z[IK], l[ID], lp = 0;
        for (size_t q = 0; q < IK; q++) {
          double e = gsl_ran_gaussian_ziggurat(ri, 1.0);
          z[q] = MU[i * IK + q] + exp(0.5 * LV[i * IK + q]) * e;
          lp += -0.5 * z[q] * z[q] + 0.5 * e * e + 0.5 * LV[i * IK + q];
        }
        mlp_ref(th, lay + 4, 2, INFB_ACT_TANH, z, l);
        for (size_t d = 0; d < ID; d++)
          lp += X[i * ID + d] * l[d] - (l[d] > 0 ? l[d] + log1p(exp(-l[d])) : log1p(exp(l[d])));
        wd = fmax(wd, fabs(lw[i * LWK + j] - lp) / (1 + fabs(lp)));
      }
      gsl_rng_free(ri);
    }
    ok(wd <= DIRECT_TOL, "vae_iwae_lw: lw[i][j] is ln p(x_i, z_j) - ln q(z_j|x_i) of point i's "
                         "j-th draw from its stream, computed directly (worst rel diff %.2g)", wd);
  }
  ok(same, "vae_iwae_lw returns the same out and se, bit for bit, as vae_iwae (both proposals)");
  /* The float build: lw in double, its log-sum-exp is out. */
  infb_vae_f32 *w = infb_vae_alloc_f32(infb_vae_arch_f64(v), 4, 7);
  size_t np = 0, np32 = 0;
  const double *th = infb_vae_params_f64(v, &np);
  float *thf = infb_vae_params_f32(w, &np32), Xf[IN * ID];
  for (size_t j = 0; j < np; j++)
    thf[j] = (float)th[j];
  for (size_t j = 0; j < IN * ID; j++)
    Xf[j] = (float)X[j];
  gsl_rng *rs[IN];
  for (size_t i = 0; i < IN; i++)
    rs[i] = infb_rng_stream(SEED, "test/vae/iwae-lw", i);
  st = infb_vae_iwae_lw_f32(w, IN, Xf, NULL, NULL, LWK, rs, a, NULL, lw);
  double wo = 0;
  for (size_t i = 0; i < IN; i++) {
    wo = fmax(wo, fabs(lse_ref(lw + i * LWK, LWK) - log((double)LWK) - a[i]) / (1 + fabs(a[i])));
    gsl_rng_free(rs[i]);
  }
  ok(st == 0 && np == np32 && wo <= 1e-13,
     "vae_iwae_lw_f32: the log-sum-exp of lw's rows minus ln k is out (worst rel diff %.2g)", wo);
  infb_vae_free_f32(w);
  free(lw);
  infb_vae_free_f64(v);
}

#define QN 6          /* points for the quadrature comparisons */
#define QGRID 64      /* grid, doubled once */
#define QL 6.0        /* half-width */
#define KBIG 20000    /* IWAE-large */
static void
test_quadrature(void)
{
  static double X[IN * ID];
  infb_vae_f64 *v = iwae_model(QN, 500, X, 0.2);
  double q1[QN], q2[QN], q3[QN];
  int st = infb_vae_quadrature_f64(v, QN, X, QL, QGRID, q1);
  st |= infb_vae_quadrature_f64(v, QN, X, QL, 2 * QGRID, q2);
  /* a wider box at the same spacing */
  st |= infb_vae_quadrature_f64(v, QN, X, 1.5 * QL, 3 * QGRID, q3);
  double w12 = 0, w23 = 0;
  for (size_t i = 0; i < QN; i++) {
    w12 = fmax(w12, fabs(q1[i] - q2[i]));
    w23 = fmax(w23, fabs(q2[i] - q3[i]));
  }
  ok(st == 0 && w12 <= 1e-6, "quadrature has converged: L = %g, n = %d vs %d changes ln p(x) "
                             "by %.2g <= 1e-6", QL, QGRID, 2 * QGRID, w12);
  ok(st == 0 && w23 <= 1e-6, "quadrature: L = %g vs %g at the same spacing changes ln p(x) by "
                             "%.2g <= 1e-6", QL, 1.5 * QL, w23);
  /* A coarse grid is visibly different (the check above is not vacuous). */
  double qc[QN];
  st = infb_vae_quadrature_f64(v, QN, X, QL, 6, qc);
  double wcoarse = 0;
  for (size_t i = 0; i < QN; i++)
    wcoarse = fmax(wcoarse, fabs(qc[i] - q2[i]));
  ok(st == 0 && wcoarse > 1e-3, "quadrature on a 6x6 grid differs from the converged value "
                                "(by %.3g)", wcoarse);
  /* The 6×6 grid against a direct sum: ln p(x_i|z_c) from decoder_loglik for every
   * (point, cell) pair, plus ln N(z_c), log-sum-exp in long double; then the same grid
   * on 2 threads. */
  {
    enum { QC = 6 };
    const double hq = 2.0 * QL / QC;
    double worst = 0, wthr = 0, qt[QN];
    for (size_t i = 0; i < QN; i++) {
      long double acc = 0;
      for (size_t c = 0; c < QC * QC; c++) {
        double z[2] = {-QL + ((double)(c / QC) + 0.5) * hq, -QL + ((double)(c % QC) + 0.5) * hq};
        double lp;
        infb_vae_decoder_loglik_f64(v, 1, X + i * ID, z, &lp, NULL);
        acc += expl((long double)lp - 0.5L * (z[0] * z[0] + z[1] * z[1]) - 1.83787706640934548356L); /* ln 2π */
      }
      worst = fmax(worst, fabs((double)(logl(acc) + 2 * logl(hq)) - qc[i]));
    }
    ok(worst <= 1e-9, "quadrature on a 6x6 grid equals the direct sum over cells of "
                      "decoder_loglik + ln N(z) (worst %.2g)", worst);
    st = infb_vae_set_parts_f64(v, 2);
    st |= infb_vae_quadrature_f64(v, QN, X, QL, QC, qt);
    st |= infb_vae_set_parts_f64(v, 1);
    for (size_t i = 0; i < QN; i++)
      wthr = fmax(wthr, fabs(qt[i] - qc[i]));
    ok(st == 0 && wthr <= 1e-12, "quadrature on 2 threads equals 1 thread's (worst %.2g)", wthr);
  }

  /* IWAE-large against the quadrature: the (broad) encoder proposal and the prior. */
  double iw[QN], se[QN], MU[QN * IK] = {0}, LV[QN * IK] = {0};
  for (int prior = 0; prior < 2; prior++) {
    st = run_iwae(v, QN, X, prior ? MU : NULL, prior ? LV : NULL, KBIG,
                  prior ? "test/vae/iwae-prior" : "test/vae/iwae-enc", iw, se);
    double worst = 0, dmax = 0;
    for (size_t i = 0; i < QN; i++) {
      worst = fmax(worst, fabs(iw[i] - q2[i]) / se[i]);
      dmax = fmax(dmax, fabs(iw[i] - q2[i]));
    }
    ok(st == 0 && worst <= NSE, "IWAE-%d (%s proposal) is within %g SE of the quadrature "
                                "ln p(x) for %d points (worst %.2f SE, %.2g nats)",
       KBIG, prior ? "prior" : "encoder", NSE, QN, worst, dmax);
  }
  /* The SE is honest: IWAE-1000 scatters about the quadrature value with its SE. */
  double z2 = 0;
  st = run_iwae(v, QN, X, NULL, NULL, 1000, "test/vae/iwae-1000", iw, se);
  for (size_t i = 0; i < QN; i++)
    z2 += (iw[i] - q2[i]) * (iw[i] - q2[i]) / (se[i] * se[i]);
  ok(st == 0 && z2 <= NSE * NSE * QN && z2 > 0,
     "IWAE-1000 deviations from quadrature in units of the delta-method SE: sum z^2 = %.2f "
     "over %d points (at most %g, i.e. an rms of %g SE)", z2, QN, NSE * NSE * QN, NSE);
  infb_vae_free_f64(v);
}

/* ------------------------------------------------------------------ float vs double */

#define FD_D 30
#define FD_K 3
#define FB 4
#define FS 2
static void
test_precisions(void)
{
  const size_t eh[2] = {20, 15}, dh[2] = {15, 20};
  infb_vae_arch ar = make_arch(FD_D, FD_K, 2, eh, 2, dh, INFB_ACT_ELU);
  infb_vae_f64 *v = infb_vae_alloc_f64(&ar, FB, FS);
  infb_vae_f32 *w = infb_vae_alloc_f32(&ar, FB, FS);
  gsl_rng *r = infb_rng_stream(SEED, "test/vae/precision", 0);
  infb_vae_init_f64(v, r);
  size_t np = 0, np32 = 0;
  double *th = infb_vae_params_f64(v, &np), *g = infb_vae_grads_f64(v, NULL);
  float *thf = infb_vae_params_f32(w, &np32), *gf = infb_vae_grads_f32(w, NULL);
  for (size_t j = 0; j < np; j++)
    thf[j] = (float)th[j];
  double X[FB * FD_D], E[FB * FS * FD_K];
  float Xf[FB * FD_D], Ef[FB * FS * FD_K];
  for (size_t j = 0; j < FB * FD_D; j++)
    Xf[j] = (float)(X[j] = gsl_rng_uniform(r) < 0.4 ? 1 : 0);
  fill_normal(E, FB * FS * FD_K, r);
  for (size_t j = 0; j < FB * FS * FD_K; j++)
    Ef[j] = (float)E[j];
  double s64 = NAN, s32 = NAN;
  infb_vae_zero_grad_f64(v);
  infb_vae_zero_grad_f32(w);
  int st = infb_vae_elbo_f64(v, FB, X, FS, E, 0.7, 1, &s64);
  st |= infb_vae_elbo_f32(w, FB, Xf, FS, Ef, 0.7, 1, &s32);
  ok(st == 0 && np == np32 && fabs(s32 - s64) <= 1e-5 * fabs(s64),
     "f32 and f64 ELBO (beta = 0.7) agree within 1e-5 relative (%.9g vs %.9g)", s32, s64);
  double gmax = 0, dmax = 0;
  for (size_t j = 0; j < np; j++) {
    gmax = fmax(gmax, fabs(g[j]));
    dmax = fmax(dmax, fabs(gf[j] - g[j]));
  }
  ok(gmax > 0 && dmax <= 1e-4 * gmax,
     "f32 and f64 gradients agree within 1e-4 of the largest (max diff %.3g, max |g| %.3g)",
     dmax, gmax);
  /* IWAE with the same streams (the draws are rounded to float). */
  double a[FB], b[FB], sa[FB], sb[FB];
  gsl_rng *ra[FB], *rb[FB];
  for (size_t i = 0; i < FB; i++) {
    ra[i] = infb_rng_stream(SEED, "test/vae/iwae-prec", i);
    rb[i] = infb_rng_stream(SEED, "test/vae/iwae-prec", i);
  }
  st = infb_vae_iwae_f64(v, FB, X, NULL, NULL, 20, ra, a, sa);
  st |= infb_vae_iwae_f32(w, FB, Xf, NULL, NULL, 20, rb, b, sb);
  double wi = 0;
  for (size_t i = 0; i < FB; i++)
    wi = fmax(wi, fabs(a[i] - b[i]) / (1 + fabs(a[i])));
  ok(st == 0 && wi <= 1e-5, "f32 and f64 IWAE-20 agree within 1e-5 relative (worst %.2g)", wi);
  for (size_t i = 0; i < FB; i++) {
    gsl_rng_free(ra[i]);
    gsl_rng_free(rb[i]);
  }
  infb_vae_free_f32(w);
  infb_vae_free_f64(v);

  /* Quadrature in both precisions on the K = 2 model. */
  static double Xq[IN * ID];
  float Xqf[QN * ID];
  infb_vae_f64 *vq = iwae_model(QN, 50, Xq, 1.0);
  const infb_vae_arch *aq = infb_vae_arch_f64(vq);
  infb_vae_f32 *wq = infb_vae_alloc_f32(aq, QN, 50);
  double *tq = infb_vae_params_f64(vq, &np);
  float *tqf = infb_vae_params_f32(wq, NULL);
  for (size_t j = 0; j < np; j++)
    tqf[j] = (float)tq[j];
  for (size_t j = 0; j < QN * ID; j++)
    Xqf[j] = (float)Xq[j];
  double qa[QN], qb[QN];
  st = infb_vae_quadrature_f64(vq, QN, Xq, QL, 40, qa);
  st |= infb_vae_quadrature_f32(wq, QN, Xqf, QL, 40, qb);
  double wq_ = 0;
  for (size_t i = 0; i < QN; i++)
    wq_ = fmax(wq_, fabs(qa[i] - qb[i]) / (1 + fabs(qa[i])));
  ok(st == 0 && wq_ <= 1e-5, "f32 and f64 quadrature agree within 1e-5 relative (worst %.2g)",
     wq_);
  infb_vae_free_f32(wq);
  infb_vae_free_f64(vq);
  gsl_rng_free(r);
}

/* ------------------------------------------------------------------ layout, init, errors */

static void
test_layout(void)
{
  const size_t eh[2] = {5, 4}, dh[1] = {6};
  infb_vae_arch ar = make_arch(GD, GK, 2, eh, 1, dh, INFB_ACT_ELU);
  infb_vae_f32 *v = infb_vae_alloc_f32(&ar, 2, 3);
  size_t np = 0, nl = 0;
  float *th = infb_vae_params_f32(v, &np);
  const struct infb_nn_tensor *lay = infb_vae_layout_f32(v, &nl);
  /* encoder 7-5-4-4 and decoder 2-6-7 */
  size_t want_np = 5 * 8 + 4 * 6 + 4 * 5 + 6 * 3 + 7 * 7;
  int contiguous = 1;
  size_t off = 0;
  for (size_t j = 0; j < nl; j++) {
    contiguous &= lay[j].offset == off && lay[j].length == lay[j].rows * lay[j].cols;
    off += lay[j].length;
  }
  const struct infb_nn_tensor *e0 = find_block(lay, nl, "enc.layer0.W");
  const struct infb_nn_tensor *e2 = find_block(lay, nl, "enc.layer2.b");
  const struct infb_nn_tensor *d0 = find_block(lay, nl, "dec.layer0.W");
  const struct infb_nn_tensor *d1 = find_block(lay, nl, "dec.layer1.b");
  ok(np == want_np && nl == 10 && contiguous && off == np,
     "layout: 10 contiguous blocks covering the %zu parameters", want_np);
  ok(e0 && e0->offset == 0 && e0->rows == 5 && e0->cols == GD && e2 && e2->rows == 2 * GK &&
         d0 && d0->offset == 5 * 8 + 4 * 6 + 4 * 5 && d0->rows == 6 && d0->cols == GK && d1 &&
         d1->rows == GD && d1 == &lay[nl - 1],
     "layout: enc.layer0.W first (5 x 7), enc.layer2.b of 2K rows, dec.layer0.W (6 x 2) "
     "right after the encoder, dec.layer1.b last");
  gsl_rng *r = infb_rng_stream(SEED, "test/vae/init", 0);
  int st = infb_vae_init_f32(v, r);
  int inside = 1;
  double spread = 0;
  for (size_t j = 0; j < nl; j++) {
    /* fan_in is the cols of the layer's W block (W, b pairs: a bias follows its W) */
    size_t fan = j % 2 == 0 ? lay[j].cols : lay[j - 1].cols;
    double s = 1 / sqrt((double)fan), m = 0;
    for (size_t q = 0; q < lay[j].length; q++)
      m = fmax(m, fabs(th[lay[j].offset + q]));
    inside &= m <= s;
    spread = fmax(spread, m / s);
  }
  ok(st == 0 && inside && spread > 0.5, "init: every block within U(+-1/sqrt(fan_in)) "
                                        "(largest |theta|·sqrt(fan_in) = %.3f)", spread);
  const infb_vae_arch *got = infb_vae_arch_f32(v);
  ok(got->D == GD && got->K == GK && got->nenc == 2 && got->dec_hidden[0] == 6 &&
         got->act == INFB_ACT_ELU, "vae_arch returns the architecture");
  float MU[2 * GK], LV[2 * GK], Xf[2 * GD] = {1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 1};
  st = infb_vae_encode_f32(v, 2, Xf, MU, LV);
  double wenc = 0;
  for (size_t i = 0; i < 2; i++) {
    double xd[GD], h[2 * GK], thd[5 * 8 + 4 * 6 + 4 * 5 + 6 * 3 + 7 * 7];
    for (size_t j = 0; j < np && j < sizeof thd / sizeof thd[0]; j++)
      thd[j] = th[j];
    for (size_t d = 0; d < GD; d++)
      xd[d] = Xf[i * GD + d];
    mlp_ref(thd, lay, 3, INFB_ACT_ELU, xd, h);
    for (size_t k = 0; k < GK; k++)
      wenc = fmax(wenc, fmax(fabs(MU[i * GK + k] - h[k]), fabs(LV[i * GK + k] - h[GK + k])));
  }
  ok(st == 0 && wenc <= 1e-5, "encode: MU and LV are the encoder's first and last K outputs "
                              "(worst diff %.2g)", wenc);
  gsl_rng_free(r);
  infb_vae_free_f32(v);
}

static void
test_errors(void)
{
  infb_vae_free_f32(NULL);
  infb_vae_free_f64(NULL);
  ok(1, "infb_vae_free_f32(NULL) and infb_vae_free_f64(NULL) are no-ops");
  const size_t eh[1] = {4}, dh[1] = {4}, zero[1] = {0};
  infb_vae_arch good = make_arch(5, 2, 1, eh, 1, dh, INFB_ACT_TANH);
  infb_vae_arch bad;
  bad = good, bad.D = 0;
  ok(infb_vae_alloc_f32(&bad, 2, 2) == NULL, "alloc: D = 0 is rejected");
  bad = good, bad.K = 0;
  ok(infb_vae_alloc_f64(&bad, 2, 2) == NULL, "alloc: K = 0 is rejected");
  bad = good, bad.nenc = 9;
  ok(infb_vae_alloc_f32(&bad, 2, 2) == NULL, "alloc: 9 encoder hidden layers are rejected");
  bad = good, bad.ndec = 9;
  ok(infb_vae_alloc_f32(&bad, 2, 2) == NULL, "alloc: 9 decoder hidden layers are rejected");
  bad = make_arch(5, 2, 1, zero, 1, dh, INFB_ACT_TANH);
  ok(infb_vae_alloc_f32(&bad, 2, 2) == NULL, "alloc: an encoder hidden width 0 is rejected");
  bad = make_arch(5, 2, 1, eh, 1, zero, INFB_ACT_TANH);
  ok(infb_vae_alloc_f64(&bad, 2, 2) == NULL, "alloc: a decoder hidden width 0 is rejected");
  bad = good, bad.act = INFB_ACT_COUNT;
  ok(infb_vae_alloc_f32(&bad, 2, 2) == NULL, "alloc: an invalid activation is rejected");
  ok(infb_vae_alloc_f32(&good, 0, 2) == NULL && infb_vae_alloc_f32(&good, 2, 0) == NULL,
     "alloc: max_batch = 0 and max_samples = 0 are rejected");
  ok(infb_vae_alloc_f32(NULL, 2, 2) == NULL, "alloc: a NULL architecture is rejected");

  /* A linear encoder and decoder (no hidden layer) is valid. */
  infb_vae_arch lin = make_arch(5, 2, 0, eh, 0, dh, INFB_ACT_IDENTITY);
  infb_vae_f64 *vl = infb_vae_alloc_f64(&lin, 1, 1);
  size_t nl = 0;
  infb_vae_layout_f64(vl, &nl);
  ok(vl && nl == 4, "alloc: nenc = ndec = 0 gives a linear encoder and decoder (4 blocks)");
  infb_vae_free_f64(vl);

  infb_vae_f64 *v = infb_vae_alloc_f64(&good, 2, 3);
  double X[7 * 5] = {0}, E[7 * 2] = {0}, s, out[7], MU[2 * 2] = {0};
  ok(infb_vae_elbo_f64(v, 4, X, 2, E, 1.0, 0, &s) == GSL_EBADLEN &&
         infb_vae_elbo_f64(v, 1, X, 7, E, 1.0, 0, &s) == GSL_EBADLEN &&
         infb_vae_elbo_f64(v, 0, X, 1, E, 1.0, 0, &s) == GSL_EBADLEN,
     "elbo: more than max_batch*max_samples = 6 rows, or none, is GSL_EBADLEN");
  ok(infb_vae_elbo_f64(v, 1, X, 6, E, 1.0, 0, &s) == GSL_SUCCESS,
     "elbo: 1 point x 6 samples fits the 2 x 3 workspace");
  ok(infb_vae_elbo_f64(v, 1, X, 1, E, 1.5, 0, &s) == GSL_EDOM &&
         infb_vae_elbo_f64(v, 1, X, 1, E, NAN, 0, &s) == GSL_EDOM,
     "elbo: beta = 1.5 or NaN is GSL_EDOM");
  ok(infb_vae_elbo_points_f64(v, 7, X, 1, E, out, NULL) == GSL_EBADLEN,
     "elbo_points: 7 rows is GSL_EBADLEN");
  ok(infb_vae_decoder_loglik_f64(v, 7, X, E, out, NULL) == GSL_EBADLEN,
     "decoder_loglik: 7 rows is GSL_EBADLEN");
  ok(infb_vae_encode_f64(v, 7, X, E, E) == GSL_EBADLEN, "encode: 7 rows is GSL_EBADLEN");
  gsl_rng *r = infb_rng_stream(SEED, "test/vae/errors", 0);
  gsl_rng *rr[2] = {r, r};
  ok(infb_vae_iwae_f64(v, 2, X, MU, NULL, 5, rr, out, NULL) == GSL_EINVAL,
     "iwae: MU without LV is GSL_EINVAL");
  ok(infb_vae_iwae_f64(v, 2, X, NULL, NULL, 0, rr, out, NULL) == GSL_EINVAL,
     "iwae: k = 0 is GSL_EINVAL");
  ok(infb_vae_quadrature_f64(v, 1, X, 0.0, 10, out) == GSL_EINVAL &&
         infb_vae_quadrature_f64(v, 1, X, 5.0, 0, out) == GSL_EINVAL &&
         infb_vae_quadrature_f64(v, 1, X, INFINITY, 10, out) == GSL_EINVAL,
     "quadrature: L = 0, L = inf or n = 0 is GSL_EINVAL");
  double se[1];
  ok(infb_vae_elbo_points_f64(v, 1, X, 1, E, out, se) == 0 && isnan(se[0]),
     "elbo_points: the SE of one sample is NaN");
  infb_vae_f64 *v3 = infb_vae_alloc_f64(&(infb_vae_arch){.D = 5, .K = 3, .act = INFB_ACT_TANH},
                                        1, 1);
  ok(v3 && infb_vae_quadrature_f64(v3, 1, X, 5.0, 10, out) == GSL_EINVAL,
     "quadrature: K = 3 is GSL_EINVAL");
  infb_vae_free_f64(v3);
  gsl_rng_free(r);
  infb_vae_free_f64(v);
}


/* ------------------------------------------------------------------ threads */

/* Every pass split over T = 2 and 3 threads agrees with T = 1 within reassociation (the
 * gradient sums over points are split; the gemms see other row counts), IWAE with the
 * same draws (each point has its own stream), and the workers share the parameters (a
 * change is seen by all). */
static void
test_threads(void)
{
  enum { NP = 7, NS = 3, DD = 13, KK = 3 };
  infb_vae_arch ar = {.D = DD, .K = KK, .nenc = 1, .ndec = 2, .act = INFB_ACT_ELU};
  ar.enc_hidden[0] = 9;
  ar.dec_hidden[0] = 8;
  ar.dec_hidden[1] = 6;
  gsl_rng *r = infb_rng_stream(SEED, "threads", 0);
  infb_vae_f64 *v = infb_vae_alloc_f64(&ar, NP, NS);
  infb_vae_init_f64(v, r);
  double X[NP * DD], E[NP * NS * KK], MU[NP * KK], LV[NP * KK], Z[NP * KK];
  for (size_t i = 0; i < NP * DD; i++)
    X[i] = gsl_rng_uniform(r) < 0.4;
  for (size_t i = 0; i < NP * NS * KK; i++)
    E[i] = gsl_ran_gaussian(r, 1.0);
  for (size_t i = 0; i < NP * KK; i++)
    Z[i] = gsl_ran_gaussian(r, 1.0);
  size_t np = 0;
  double *g = infb_vae_grads_f64(v, &np);
  double *g1 = malloc(np * sizeof *g1), *dg1 = malloc(np * sizeof *dg1);
  double sum1 = 0, lp1[NP], G1[NP * KK], iw1[NP], se1[NP], pt1[NP], MU1[NP * KK];

  /* T = 1 references. */
  infb_vae_zero_grad_f64(v);
  infb_vae_elbo_f64(v, NP, X, NS, E, 0.7, 1, &sum1);
  memcpy(g1, g, np * sizeof *g);
  infb_vae_zero_grad_f64(v);
  infb_vae_decoder_train_f64(v, NP, X, Z, -0.25, lp1, G1);
  memcpy(dg1, g, np * sizeof *g);
  infb_vae_encode_f64(v, NP, X, MU1, LV);
  infb_vae_elbo_points_f64(v, NP, X, NS, E, pt1, NULL);
  gsl_rng *rs[NP];
  for (size_t i = 0; i < NP; i++)
    rs[i] = infb_rng_stream(SEED, "threads-iwae", i);
  infb_vae_iwae_f64(v, NP, X, NULL, NULL, 50, rs, iw1, se1);

  /* IWAE's decoder blocks (vae_set_block_rows): 1 row, 5 rows (blocks that split a
   * point's 3-sample chunks) and the default give the same bound and SE. */
  int block_ok = 1;
  const size_t blocks[3] = {1, 5, INFB_VAE_BLOCK_ROWS};
  for (size_t b = 0; b < 3; b++) {
    double iw[NP], se[NP];
    block_ok &= infb_vae_set_block_rows_f64(v, blocks[b]) == GSL_SUCCESS;
    for (size_t i = 0; i < NP; i++) {
      gsl_rng_free(rs[i]);
      rs[i] = infb_rng_stream(SEED, "threads-iwae", i);
    }
    infb_vae_iwae_f64(v, NP, X, NULL, NULL, 50, rs, iw, se);
    for (size_t i = 0; i < NP; i++)
      block_ok &= fabs(iw[i] - iw1[i]) <= DIRECT_TOL * (1 + fabs(iw1[i])) &&
                  fabs(se[i] - se1[i]) <= DIRECT_TOL * (1 + fabs(se1[i]));
  }
  ok(block_ok, "IWAE decoded in blocks of 1, 5 and %d rows equals the one-pass result",
     INFB_VAE_BLOCK_ROWS);
  ok(infb_vae_set_block_rows_f64(v, 0) == GSL_EINVAL, "vae_set_block_rows(0) is refused");
  for (size_t i = 0; i < NP; i++) { /* the T loop below starts from fresh streams */
    gsl_rng_free(rs[i]);
    rs[i] = infb_rng_stream(SEED, "threads-iwae", i);
  }

  /* decoder_loglik_part references: rows named through xrow (row r: point NP − 1 − r). */
  size_t xrow[NP];
  double Zr[NP * KK], lpr1[NP], Gr1[NP * KK];
  for (size_t i = 0; i < NP; i++) {
    xrow[i] = NP - 1 - i;
    for (size_t k = 0; k < KK; k++)
      Zr[i * KK + k] = Z[i * KK + k] + 0.1 * (double)k;
  }
  infb_vae_decoder_loglik_rows_f64(v, NP, X, xrow, Zr, lpr1, Gr1);
  int part_ok = 1;
  /* The same through the transposed decoder weights (a frozen decoder's forward). */
  double *WT = malloc(infb_vae_decoder_nparams_f64(v) * sizeof *WT);
  int wt_ok = infb_vae_decoder_transpose_f64(v, WT) == GSL_SUCCESS &&
              infb_vae_decoder_transpose_f64(v, NULL) == GSL_EINVAL;

  int set_ok = 1, elbo_ok = 1, dec_ok = 1, misc_ok = 1, iwae_ok = 1;
  double worst = 0;
  for (size_t T = 2; T <= 3; T++) {
    set_ok &= infb_vae_set_parts_f64(v, T) == GSL_SUCCESS && infb_vae_parts_f64(v) == T;
    double sum = 0, lp[NP], G[NP * KK], iw[NP], se[NP], pt[NP];
    /* Accumulation: the slab starts at 1, so the result is 1 + gradient. */
    for (size_t j = 0; j < np; j++)
      g[j] = 1.0;
    infb_vae_elbo_f64(v, NP, X, NS, E, 0.7, 1, &sum);
    elbo_ok &= fabs(sum - sum1) <= DIRECT_TOL * (1 + fabs(sum1));
    for (size_t j = 0; j < np; j++) {
      double e = fabs((g[j] - 1.0) - g1[j]) / (1 + fabs(g1[j]));
      worst = fmax(worst, e);
      elbo_ok &= e <= DIRECT_TOL;
    }
    infb_vae_zero_grad_f64(v);
    infb_vae_decoder_train_f64(v, NP, X, Z, -0.25, lp, G);
    for (size_t j = 0; j < np; j++)
      dec_ok &= fabs(g[j] - dg1[j]) <= DIRECT_TOL * (1 + fabs(dg1[j]));
    for (size_t i = 0; i < NP; i++)
      dec_ok &= fabs(lp[i] - lp1[i]) <= DIRECT_TOL * (1 + fabs(lp1[i]));
    for (size_t i = 0; i < NP * KK; i++)
      dec_ok &= fabs(G[i] - G1[i]) <= DIRECT_TOL * (1 + fabs(G1[i]));
    infb_vae_encode_f64(v, NP, X, MU, LV);
    infb_vae_elbo_points_f64(v, NP, X, NS, E, pt, NULL);
    for (size_t i = 0; i < NP * KK; i++)
      misc_ok &= fabs(MU[i] - MU1[i]) <= DIRECT_TOL * (1 + fabs(MU1[i]));
    for (size_t i = 0; i < NP; i++)
      misc_ok &= fabs(pt[i] - pt1[i]) <= DIRECT_TOL * (1 + fabs(pt1[i]));
    for (size_t i = 0; i < NP; i++) {
      gsl_rng_free(rs[i]);
      rs[i] = infb_rng_stream(SEED, "threads-iwae", i);
    }
    infb_vae_iwae_f64(v, NP, X, NULL, NULL, 50, rs, iw, se);
    for (size_t i = 0; i < NP; i++)
      iwae_ok &= fabs(iw[i] - iw1[i]) <= DIRECT_TOL * (1 + fabs(iw1[i])) &&
                 fabs(se[i] - se1[i]) <= DIRECT_TOL * (1 + fabs(se1[i]));
    /* Every part alone, all at once (one thread each): the whole call's values. */
    double lpp[3][NP], Gp[3][NP * KK];
    int stp[3];
#pragma omp parallel for num_threads(T)
    for (size_t p = 0; p < T; p++)
      stp[p] = infb_vae_decoder_loglik_part_f64(v, p, NP, X, xrow, Zr, lpp[p], Gp[p]);
    for (size_t p = 0; p < T; p++) {
      part_ok &= stp[p] == GSL_SUCCESS;
      for (size_t i = 0; i < NP; i++)
        part_ok &= fabs(lpp[p][i] - lpr1[i]) <= DIRECT_TOL * (1 + fabs(lpr1[i]));
      for (size_t i = 0; i < NP * KK; i++)
        part_ok &= fabs(Gp[p][i] - Gr1[i]) <= DIRECT_TOL * (1 + fabs(Gr1[i]));
    }
    part_ok &= infb_vae_decoder_loglik_part_f64(v, T, NP, X, xrow, Zr, lpp[0], NULL) ==
               GSL_EINVAL;
    /* With WT: each part, and the whole call on T threads. */
#pragma omp parallel for num_threads(T)
    for (size_t p = 0; p < T; p++)
      stp[p] = infb_vae_decoder_loglik_part_t_f64(v, WT, p, NP, X, xrow, Zr, lpp[p], Gp[p]);
    double lpw[NP], Gw[NP * KK];
    wt_ok &= infb_vae_decoder_loglik_rows_t_f64(v, WT, NP, X, xrow, Zr, lpw, Gw) == 0;
    for (size_t p = 0; p < T; p++) {
      wt_ok &= stp[p] == GSL_SUCCESS;
      for (size_t i = 0; i < NP; i++)
        wt_ok &= fabs(lpp[p][i] - lpr1[i]) <= DIRECT_TOL * (1 + fabs(lpr1[i])) &&
                 fabs(lpw[i] - lpr1[i]) <= DIRECT_TOL * (1 + fabs(lpr1[i]));
      for (size_t i = 0; i < NP * KK; i++)
        wt_ok &= fabs(Gp[p][i] - Gr1[i]) <= DIRECT_TOL * (1 + fabs(Gr1[i])) &&
                 fabs(Gw[i] - Gr1[i]) <= DIRECT_TOL * (1 + fabs(Gr1[i]));
    }
  }
  ok(wt_ok, "decoder_loglik_rows_t and _part_t (2 and 3 parts) on the transposed weights "
            "give decoder_loglik_rows' ln p(x|z) and dz; a NULL WT is refused");
  free(WT);
  ok(part_ok, "decoder_loglik_part: each of 2 and 3 parts, run concurrently, gives the "
              "ln p(x|z) and dz of decoder_loglik_rows; part T is GSL_EINVAL");
  ok(set_ok, "vae_set_parts 2, 3: accepted and reported");
  ok(elbo_ok, "elbo on 2 and 3 threads: the sum and the ACCUMULATED gradient equal 1 thread's "
              "within %g (worst %.2g)", DIRECT_TOL, worst);
  ok(dec_ok, "decoder_train on 2 and 3 threads: ln p(x|z), dz and the decoder gradient equal "
             "1 thread's");
  ok(misc_ok, "encode and elbo_points on 2 and 3 threads equal 1 thread's");
  ok(iwae_ok, "IWAE on 2 and 3 threads equals 1 thread's (per-point streams: the same draws)");
  /* Shared parameters: a change made through the owner's slab is seen by every part. */
  size_t npar = 0;
  double *th = infb_vae_params_f64(v, &npar);
  th[npar - 1] += 0.5; /* the last decoder bias: logit of the last pixel */
  double lpa[NP];
  infb_vae_decoder_loglik_f64(v, NP, X, Z, lpa, NULL);
  int moved = 1;
  for (size_t i = 0; i < NP; i++)
    moved &= lpa[i] != lp1[i];
  ok(moved, "every part sees a parameter change made after vae_set_parts (shared slab)");
  ok(infb_vae_set_parts_f64(v, 0) == GSL_EINVAL &&
         infb_vae_set_parts_f64(v, INFB_VAE_MAX_PARTS + 1) == GSL_EINVAL &&
         infb_vae_set_parts_f64(v, 1) == GSL_SUCCESS && infb_vae_parts_f64(v) == 1,
     "vae_set_parts: 0 and too many are refused; back to 1");
  for (size_t i = 0; i < NP; i++)
    gsl_rng_free(rs[i]);
  free(g1);
  free(dg1);
  infb_vae_free_f64(v);
  gsl_rng_free(r);
}

int
main(void)
{
  plan(21 + 7 + 12 + 3 + 7 + 5 + 6 + 4 + 5 + 23 + 10);
  test_kernel();
  test_direct();
  test_gradients();
  test_decoder();
  test_iwae();
  test_iwae_lw();
  test_quadrature();
  test_precisions();
  test_layout();
  test_errors();
  test_threads();
  return test_done();
}
