/* The per-point optimal fully factorised Gaussian q* with the decoder frozen: Adam on the
 * reparameterised ELBO, batched over points and samples, with the stopping rule of
 * Cremer, Li & Duvenaud (2018; PROTOCOL.md "L[q*]", MATH.md §5–6). */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <config.h>
#include "infer/qstar.h"
#include "core/error.h"
#include "core/rng.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* The generator of the per-point streams (qstar.h). */
#define QSTAR_RNG INFB_RNG_SAMPLER
#ifdef _OPENMP
#include <omp.h>
#endif

/* The per-point loops (Adam's update, the gradient reduction) are compiled for AVX-512
 * and AVX2 beside the baseline and chosen when the program is loaded (GCC's
 * target_clones); σ = e^{lv/2} goes through SLEEF's 8-lane exp on AVX-512 CPUs.  SLEEF's
 * AVX-512 declarations need the target switched on while its header is read. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define QSTAR_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#define QSTAR_HAVE_AVX512 1
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f")
#include <sleef.h>
#pragma GCC pop_options
#else
#define QSTAR_HOT
#define QSTAR_HAVE_AVX512 0
#endif

/* How often the calling thread reports progress (nanoseconds) once its own part of a split
 * optimisation is done and the other parts are not. */
#define PROGRESS_POLL_NS 2000000L

void
infb_qstar_options_default(infb_qstar_options *o)
{
  o->samples = 50;
  o->lr = 1e-3;
  o->beta1 = 0.9;
  o->beta2 = 0.999;
  o->eps = 1e-8;
  o->max_steps = 100000;
  o->check_every = 100;
  o->patience = 10;
  o->eval_samples = 5000;
  o->batch_points = 100;
  o->init_given = 0;
  o->seed = 0;
  o->progress = NULL;
  o->progress_ctx = NULL;
  o->threads = 1;
}

/* ---- per-point arithmetic shared by the optimiser and infb_qstar_grad ---- */

/* KL(N(μ, diag e^lv) ‖ N(0, I)) = ½ Σ_j (σ_j² + μ_j² − 1 − ln σ_j²)  (MATH.md §3);
 * sig: σ = e^{lv/2} when the caller has it, else NULL. */
static double
kl_prior(size_t K, const double *mu, const double *lv, const double *sig)
{
  double kl = 0.0;
  for (size_t k = 0; k < K; k++)
    kl += (sig ? sig[k] * sig[k] : exp(lv[k])) + mu[k] * mu[k] - 1.0 - lv[k];
  return 0.5 * kl;
}

/* S·K standard normals into E (S×K), sample-major. */
static void
draw_eps(gsl_rng *r, size_t K, size_t S, double *E)
{
  for (size_t q = 0; q < S * K; q++)
    E[q] = gsl_ran_gaussian_ziggurat(r, 1.0);
}

#if QSTAR_HAVE_AVX512
/* sg[0..8·⌊K/8⌋) = e^{lv/2} by SLEEF (1 ulp, as libm's exp); returns the count done. */
__attribute__((target("avx2,fma,avx512f"))) static size_t
exp_half_avx512(size_t K, const double *lv, double *sg)
{
  size_t k = 0;
  const __m512d half = _mm512_set1_pd(0.5);
  for (; k + 8 <= K; k += 8)
    _mm512_storeu_pd(sg + k, Sleef_expd8_u10avx512f(_mm512_mul_pd(half, _mm512_loadu_pd(lv + k))));
  return k;
}
#endif

/* The reparameterisation z_s = μ + σ⊙ε_s, σ = exp(lv/2), for the S rows of one point;
 * σ into sg (K). */
static void
reparam(size_t K, size_t S, const double *mu, const double *lv, const double *E, double *Z,
        double *sg)
{
  size_t k0 = 0;
#if QSTAR_HAVE_AVX512
  if (__builtin_cpu_supports("avx512f")) /* libgcc's CPU model, set before main */
    k0 = exp_half_avx512(K, lv, sg);
#endif
  for (size_t k = k0; k < K; k++)
    sg[k] = exp(0.5 * lv[k]);
  for (size_t s = 0; s < S; s++)
    for (size_t k = 0; k < K; k++)
      Z[s * K + k] = mu[k] + sg[k] * E[s * K + k];
}

/* From the decoder's logp (S) and G (S×K) for one point, the ELBO estimate
 *   mean_s ln p(x|z_s) − KL
 * and its gradient at fixed ε (chain rule through z = μ + e^{lv/2} ε, KL in closed form):
 *   ∂/∂μ_k  = mean_s G_sk − μ_k,
 *   ∂/∂lv_k = ½ σ_k mean_s G_sk ε_sk − ½ (σ_k² − 1).
 * Returns 0, 1 if the ELBO is not finite, 2 if a gradient entry is not. */
QSTAR_HOT static int
reduce_point(size_t K, size_t S, const double *mu, const double *lv, const double *sg,
             const double *E, const double *logp, const double *G, double *elbo,
             double *gmu, double *glv)
{
  double sl = 0.0;
  for (size_t s = 0; s < S; s++)
    sl += logp[s];
  *elbo = sl / (double)S - kl_prior(K, mu, lv, sg);
  if (!isfinite(*elbo))
    return 1;
  int bad = 0;
  for (size_t k = 0; k < K; k++) {
    double gm = 0.0, ge = 0.0;
    for (size_t s = 0; s < S; s++) {
      double g = G[s * K + k];
      gm += g;
      ge += g * E[s * K + k];
    }
    double sig = sg[k];
    gmu[k] = gm / (double)S - mu[k];
    glv[k] = 0.5 * sig * ge / (double)S - 0.5 * (sig * sig - 1.0);
    if (!isfinite(gmu[k]) || !isfinite(glv[k]))
      bad = 1;
  }
  return bad ? 2 : 0;
}

/* ---- argument checks ---- */

static int
check_decoder(const infb_decoder *dec)
{
  if (!dec || !dec->fn)
    return INFB_ERROR(GSL_EINVAL, "q*: no decoder");
  if (dec->D == 0 || dec->K == 0)
    return INFB_ERROR(GSL_EINVAL, "q*: the decoder dimensions must be ≥ 1 (D = %zu, K = %zu)",
                      dec->D, dec->K);
  return GSL_SUCCESS;
}

static int
check_options(const infb_qstar_options *o)
{
  if (!o)
    return INFB_ERROR(GSL_EINVAL, "q*: no options");
  if (o->samples == 0)
    return INFB_ERROR(GSL_EINVAL, "q*: samples must be ≥ 1");
  if (o->check_every == 0)
    return INFB_ERROR(GSL_EINVAL, "q*: check_every must be ≥ 1");
  if (o->batch_points == 0)
    return INFB_ERROR(GSL_EINVAL, "q*: batch_points must be ≥ 1");
  if (o->threads == 0 || o->threads > INFB_QSTAR_MAX_THREADS)
    return INFB_ERROR(GSL_EINVAL, "q*: threads must be 1 to %d (got %zu)", INFB_QSTAR_MAX_THREADS,
                      o->threads);
  if (o->eval_samples < 2)
    return INFB_ERROR(GSL_EINVAL, "q*: eval_samples must be ≥ 2 (got %zu)", o->eval_samples);
  if (!(o->lr > 0.0) || !isfinite(o->lr))
    return INFB_ERROR(GSL_EINVAL, "q*: lr must be finite and > 0 (got %g)", o->lr);
  if (!(o->eps > 0.0) || !isfinite(o->eps))
    return INFB_ERROR(GSL_EINVAL, "q*: Adam eps must be finite and > 0 (got %g)", o->eps);
  if (!(o->beta1 >= 0.0 && o->beta1 < 1.0) || !(o->beta2 >= 0.0 && o->beta2 < 1.0))
    return INFB_ERROR(GSL_EINVAL, "q*: Adam betas must lie in [0, 1) (got %g, %g)", o->beta1,
                      o->beta2);
  return GSL_SUCCESS;
}

/* a·b·c without overflow, or 0 on overflow (the callers' factors are all ≥ 1). */
static size_t
mul3(size_t a, size_t b, size_t c)
{
  if (b && a > SIZE_MAX / b)
    return 0;
  size_t ab = a * b;
  if (c && ab > SIZE_MAX / c)
    return 0;
  return ab * c;
}

/* ---- Monte-Carlo ELBO in chunks ---- */

/* Buffers of a chunked evaluation: `rows` decoder rows. */
typedef struct {
  size_t rows;
  size_t *xr; /* rows: the point (row of X) of each decoder row */
  double *Zr; /* rows×K */
  double *lp; /* rows */
  double *sig; /* K */
} eval_ws;

/* The (point, sample) pairs are visited in order and packed into decoder calls of at most
 * ws->rows rows; a point's ε come from its own stream in sample order and its ln p(x|z)
 * are accumulated in sample order (Welford), so the values do not depend on the chunking
 * or on the other points. */
static int
elbo_mc_chunked(const infb_decoder *dec, size_t n, const double *X, const double *MU,
                const double *LV, size_t S, uint64_t seed, const char *purpose,
                size_t first_index, double *out_elbo, double *out_se, const eval_ws *ws)
{
  const size_t K = dec->K;
  size_t i_fill = 0, s_fill = 0, i_acc = 0, s_acc = 0;
  double mean = 0.0, m2 = 0.0;
  gsl_rng *r = gsl_rng_alloc(QSTAR_RNG); /* re-seeded for each point's stream */
  if (!r)
    return INFB_ERROR(GSL_ENOMEM, "cannot allocate a random-number generator");
  int st = GSL_SUCCESS;
  while (i_acc < n) {
    size_t R = 0;
    while (R < ws->rows && i_fill < n) {
      const double *mu = MU + i_fill * K;
      if (s_fill == 0) {
        infb_rng_reseed(r, seed, purpose, (uint64_t)(first_index + i_fill));
        for (size_t k = 0; k < K; k++)
          ws->sig[k] = exp(0.5 * LV[i_fill * K + k]);
      }
      ws->xr[R] = i_fill;
      for (size_t k = 0; k < K; k++)
        ws->Zr[R * K + k] = mu[k] + ws->sig[k] * gsl_ran_gaussian_ziggurat(r, 1.0);
      R++;
      if (++s_fill == S) {
        s_fill = 0;
        i_fill++;
      }
    }
    st = dec->fn(dec->self, R, X, ws->xr, ws->Zr, ws->lp, NULL);
    if (st)
      break;
    for (size_t q = 0; q < R; q++) {
      double l = ws->lp[q], d = l - mean;
      s_acc++;
      mean += d / (double)s_acc;
      m2 += d * (l - mean);
      if (s_acc == S) {
        double e = mean - kl_prior(K, MU + i_acc * K, LV + i_acc * K, NULL);
        double se = sqrt(m2 / (double)(S - 1) / (double)S);
        if (!isfinite(e) || !isfinite(se)) {
          st = INFB_ERROR(GSL_EDOM, "q* point %zu: the ELBO estimate from %zu samples is not "
                          "finite", first_index + i_acc, S);
          break;
        }
        out_elbo[i_acc] = e;
        out_se[i_acc] = se;
        i_acc++;
        s_acc = 0;
        mean = m2 = 0.0;
      }
    }
    if (st)
      break;
  }
  gsl_rng_free(r);
  return st;
}

int
infb_qstar_elbo_mc(const infb_decoder *dec, size_t n, const double *X, const double *MU,
                   const double *LV, size_t S, uint64_t seed, const char *purpose,
                   size_t first_index, double *out_elbo, double *out_se)
{
  int st = check_decoder(dec);
  if (st)
    return st;
  if (S < 2)
    return INFB_ERROR(GSL_EINVAL, "q*: the ELBO estimate needs ≥ 2 samples (got %zu)", S);
  if (n == 0)
    return GSL_SUCCESS;
  if (!X || !MU || !LV || !purpose || !out_elbo || !out_se)
    return INFB_ERROR(GSL_EINVAL, "q*: NULL argument to the ELBO estimate");
  const size_t K = dec->K;
  if (!mul3(S, K + 2, sizeof(double)))
    return INFB_ERROR(GSL_ENOMEM, "q*: %zu samples are too many", S);
  eval_ws ws = { S, NULL, NULL, NULL, NULL };
  ws.xr = infb_malloc(S, sizeof(size_t));
  ws.Zr = infb_malloc(S * K, sizeof(double));
  ws.lp = infb_malloc(S, sizeof(double));
  ws.sig = infb_malloc(K, sizeof(double));
  if (!ws.xr || !ws.Zr || !ws.lp || !ws.sig)
    st = GSL_ENOMEM;
  else
    st = elbo_mc_chunked(dec, n, X, MU, LV, S, seed, purpose, first_index, out_elbo, out_se,
                         &ws);
  free(ws.xr);
  free(ws.Zr);
  free(ws.lp);
  free(ws.sig);
  return st;
}

int
infb_qstar_grad(const infb_decoder *dec, const double *x, const double *mu, const double *lv,
                size_t S, const double *eps, double *elbo, double *gmu, double *glv)
{
  int st = check_decoder(dec);
  if (st)
    return st;
  if (S == 0 || !x || !mu || !lv || !eps || !elbo)
    return INFB_ERROR(GSL_EINVAL, "q* gradient: bad arguments (S = %zu or a NULL pointer)", S);
  const size_t K = dec->K;
  if (!mul3(S, 2 * K + 3, sizeof(double)))
    return INFB_ERROR(GSL_ENOMEM, "q* gradient: %zu samples are too many", S);
  size_t *xr = infb_calloc(S, sizeof *xr); /* every row is point 0: x */
  double *Zr = infb_malloc(S * K, sizeof(double));
  double *G = infb_malloc(S * K, sizeof(double));
  double *lp = infb_malloc(S, sizeof(double));
  double *gbuf = infb_malloc(3 * K, sizeof(double)); /* gmu, glv, σ */
  if (!xr || !Zr || !G || !lp || !gbuf) {
    st = GSL_ENOMEM;
    goto done;
  }
  reparam(K, S, mu, lv, eps, Zr, gbuf + 2 * K);
  st = dec->fn(dec->self, S, x, xr, Zr, lp, G);
  if (st)
    goto done;
  int bad = reduce_point(K, S, mu, lv, gbuf + 2 * K, eps, lp, G, elbo, gbuf, gbuf + K);
  if (bad) {
    st = INFB_ERROR(GSL_EDOM, "q* gradient: the ELBO%s is not finite",
                    bad == 1 ? "" : " gradient");
    goto done;
  }
  if (gmu)
    memcpy(gmu, gbuf, K * sizeof(double));
  if (glv)
    memcpy(glv, gbuf + K, K * sizeof(double));
done:
  free(xr);
  free(Zr);
  free(G);
  free(lp);
  free(gbuf);
  return st;
}

/* ---- the batched optimiser ---- */

/* One point being optimised.  Its parameters live in the caller's MU, LV rows; its Adam
 * moments in the slot's rows of m, v; its decoder rows are the slot's S rows of Zr (xr: its row of X). */
typedef struct {
  size_t row;   /* row of X (point index − first_index) */
  gsl_rng *r;   /* its stream ("qstar", point index): the slot's taus2, re-seeded */
  size_t t;     /* steps taken */
  double wsum;  /* sum of the losses of the current window */
  double best;  /* best window mean so far (+∞ before the first check) */
  size_t bad;   /* consecutive checks without improvement */
  int stop;     /* −1 while running, else INFB_QSTAR_* */
} slot;

typedef struct {
  size_t B, S, D, K;
  size_t *xr;                   /* B·S: the point (row of X) of each decoder row */
  double *Zr, *E, *G, *lp;      /* (B·S)×K, ×K, ×K, (B·S) */
  double *m, *v;                /* B×2K Adam moments */
  double *grad;                 /* B×2K: ∂ELBO/∂(μ, lv) of each slot's point this step */
  double *sg;                   /* B×K: σ of each slot's point this step */
  double *step;                 /* B×2K: each slot's Adam step this step */
  double *sig;                  /* K, for the evaluation */
  double *eval_elbo, *eval_se;  /* n */
  slot *slots;                  /* B */
  int *bad;                     /* B: reduce_point's verdict per slot in the current step */
} opt_ws;

static void
opt_ws_free(opt_ws *w)
{
  if (w->slots)
    for (size_t j = 0; j < w->B; j++)
      if (w->slots[j].r)
        gsl_rng_free(w->slots[j].r);
  free(w->xr);
  free(w->Zr);
  free(w->E);
  free(w->G);
  free(w->lp);
  free(w->m);
  free(w->v);
  free(w->grad);
  free(w->sg);
  free(w->step);
  free(w->sig);
  free(w->eval_elbo);
  free(w->eval_se);
  free(w->slots);
  free(w->bad);
}

static int
opt_ws_alloc(opt_ws *w, size_t B, size_t S, size_t D, size_t K, size_t n)
{
  memset(w, 0, sizeof *w);
  w->B = B;
  w->S = S;
  w->D = D;
  w->K = K;
  if (!mul3(B, S, (3 * K + 2) * sizeof(double)))
    return INFB_ERROR(GSL_ENOMEM, "q*: batch_points·samples = %zu·%zu rows are too many", B, S);
  size_t R = B * S;
  w->xr = infb_malloc(R, sizeof(size_t));
  w->Zr = infb_malloc(R * K, sizeof(double));
  w->E = infb_malloc(R * K, sizeof(double));
  w->G = infb_malloc(R * K, sizeof(double));
  w->lp = infb_malloc(R, sizeof(double));
  w->m = infb_malloc(B * 2 * K, sizeof(double));
  w->v = infb_malloc(B * 2 * K, sizeof(double));
  w->sig = infb_malloc(K, sizeof(double));
  w->eval_elbo = infb_malloc(n, sizeof(double));
  w->eval_se = infb_malloc(n, sizeof(double));
  w->slots = infb_calloc(B, sizeof(slot));
  w->bad = infb_calloc(B, sizeof(int));
  for (size_t j = 0; w->slots && j < B; j++)
    if (!(w->slots[j].r = gsl_rng_alloc(QSTAR_RNG)))
      return GSL_ENOMEM;
  w->grad = infb_malloc(B * 2 * K, sizeof(double));
  w->sg = infb_malloc(B * K, sizeof(double));
  w->step = infb_malloc(B * 2 * K, sizeof(double));
  if (!w->xr || !w->Zr || !w->E || !w->G || !w->lp || !w->m || !w->v || !w->grad ||
      !w->sg || !w->step || !w->sig || !w->eval_elbo || !w->eval_se || !w->slots || !w->bad)
    return GSL_ENOMEM;
  return GSL_SUCCESS;
}

/* Point `row` enters slot j: its stream, fresh Adam state and stopping state, and its row
 * of X named for the slot's S decoder rows. */
static int
slot_enter(opt_ws *w, size_t j, size_t row, uint64_t seed, size_t first_index)
{
  slot *sl = &w->slots[j];
  infb_rng_reseed(sl->r, seed, "qstar", (uint64_t)(first_index + row));
  sl->row = row;
  sl->t = 0;
  sl->wsum = 0.0;
  sl->best = INFINITY;
  sl->bad = 0;
  sl->stop = -1;
  memset(w->m + j * 2 * w->K, 0, 2 * w->K * sizeof(double));
  memset(w->v + j * 2 * w->K, 0, 2 * w->K * sizeof(double));
  for (size_t s = 0; s < w->S; s++)
    w->xr[j * w->S + s] = row;
  return GSL_SUCCESS;
}

/* Move the point in slot `from` to slot `to` (whose point has left). */
static void
slot_move(opt_ws *w, size_t to, size_t from)
{
  size_t K2 = 2 * w->K;
  gsl_rng *spare = w->slots[to].r; /* each slot keeps a generator */
  w->slots[to] = w->slots[from];
  w->slots[from].r = spare;
  memcpy(w->m + to * K2, w->m + from * K2, K2 * sizeof(double));
  memcpy(w->v + to * K2, w->v + from * K2, K2 * sizeof(double));
  memcpy(w->xr + to * w->S, w->xr + from * w->S, w->S * sizeof *w->xr);
}

/* Adam's moments and steps for n parameters with ELBO gradient grad (the loss gradient is
 * −grad), bias corrections bc1, bc2: one branch-free loop (it vectorises). */
QSTAR_HOT static void
adam_moments(size_t n, const double *restrict grad, double *restrict m, double *restrict v,
             double *restrict step, double b1, double b2, double lr, double bc1, double bc2,
             double eps)
{
#pragma omp simd
  for (size_t q = 0; q < n; q++) {
    double g = -grad[q]; /* loss gradient */
    m[q] = b1 * m[q] + (1.0 - b1) * g;
    v[q] = b2 * v[q] + (1.0 - b2) * g * g;
    step[q] = lr * (m[q] / bc1) / (sqrt(v[q] / bc2) + eps);
  }
}

/* One Adam step on the loss −ELBO for the point in slot j (its parameters p = (μ, lv) in
 * the caller's rows), then the stopping rule. */
static void
slot_update(opt_ws *w, size_t j, const infb_qstar_options *o, double elbo, double *mu,
            double *lv)
{
  slot *sl = &w->slots[j];
  const size_t K = w->K;
  double *m = w->m + j * 2 * K, *v = w->v + j * 2 * K;
  const double *grad = w->grad + j * 2 * K;
  sl->t++;
  const double b1 = o->beta1, b2 = o->beta2;
  const double bc1 = 1.0 - pow(b1, (double)sl->t), bc2 = 1.0 - pow(b2, (double)sl->t);
  adam_moments(2 * K, grad, m, v, w->step + j * 2 * K, b1, b2, o->lr, bc1, bc2, o->eps);
  const double *step = w->step + j * 2 * K;
  for (size_t k = 0; k < K; k++) {
    mu[k] -= step[k];
    lv[k] -= step[K + k];
  }
  sl->wsum += -elbo;
  if (sl->t % o->check_every == 0) {
    double wmean = sl->wsum / (double)o->check_every;
    sl->wsum = 0.0;
    if (wmean < sl->best) {
      sl->best = wmean;
      sl->bad = 0;
    } else {
      sl->bad++;
    }
    if (sl->bad > o->patience)
      sl->stop = INFB_QSTAR_CONVERGED;
  }
  if (sl->stop < 0 && sl->t >= o->max_steps)
    sl->stop = INFB_QSTAR_MAX_STEPS;
}

/* What the parts of one optimisation share.  The counters are read and written with
 * atomics, as the parts run concurrently. */
typedef struct {
  const infb_decoder *dec;
  const infb_qstar_options *opt;
  const double *X;
  size_t first_index;
  double *MU, *LV;
  infb_qstar_point *out;
  size_t stopped;  /* points stopped so far, all parts */
  size_t running;  /* parts still optimising */
  int halt;        /* nonzero: every part stops before its next step */
  int progress_st; /* the progress callback's nonzero return, if any */
} run_ctx;

/* run_points' status when it stopped because another part (or the progress callback)
 * asked all parts to. */
#define HALTED (-1000)

/* The calling thread's progress report; on a nonzero return every part is told to stop
 * and HALTED is returned. */
static int
report(run_ctx *c)
{
  const infb_qstar_options *o = c->opt;
  if (!o->progress)
    return GSL_SUCCESS;
  int st = o->progress(o->progress_ctx, __atomic_load_n(&c->stopped, __ATOMIC_RELAXED));
  if (!st)
    return GSL_SUCCESS;
  c->progress_st = st;
  __atomic_store_n(&c->halt, 1, __ATOMIC_RELAXED);
  return HALTED;
}

/* Optimise the points [lo, hi) through w's slots.  part < 0: the whole optimisation on
 * the calling thread, one dec->fn call per step, the per-point loops split over T threads.
 * part ≥ 0: part `part` of a split one, on its own thread, with dec->fn_part(part) and no
 * threads of its own; part 0 runs on the calling thread and reports progress, also after
 * its own points are done, until every part is. */
static int
run_points(run_ctx *c, opt_ws *w, size_t lo, size_t hi, int part, size_t T, int reporter)
{
  const infb_decoder *dec = c->dec;
  const infb_qstar_options *opt = c->opt;
  const size_t K = w->K, S = w->S, B = w->B;
  double *MU = c->MU, *LV = c->LV;
  size_t nslot = 0, next = lo;
  int st = GSL_SUCCESS;
  while (nslot < B && next < hi) {
    if ((st = slot_enter(w, nslot, next, opt->seed, c->first_index)))
      goto done;
    nslot++;
    next++;
  }
  while (nslot > 0) {
    if (part >= 0 && __atomic_load_n(&c->halt, __ATOMIC_RELAXED)) {
      st = HALTED;
      goto done;
    }
    /* Noise and latents of every active point, then one decoder call for all rows, then
     * each point's gradient, Adam step and stopping rule; the per-point loops are split
     * over T threads (each point has its own stream and rows). */
#pragma omp parallel for num_threads(T) schedule(static) if(T > 1 && nslot > 1)
    for (size_t j = 0; j < nslot; j++) {
      size_t row = w->slots[j].row, off = j * S * K;
      draw_eps(w->slots[j].r, K, S, w->E + off);
      reparam(K, S, MU + row * K, LV + row * K, w->E + off, w->Zr + off, w->sg + j * K);
    }
    st = part < 0 ? dec->fn(dec->self, nslot * S, c->X, w->xr, w->Zr, w->lp, w->G)
                  : dec->fn_part(dec->self, (size_t)part, nslot * S, c->X, w->xr, w->Zr,
                                 w->lp, w->G);
    if (st)
      goto done;
#pragma omp parallel for num_threads(T) schedule(static) if(T > 1 && nslot > 1)
    for (size_t j = 0; j < nslot; j++) {
      size_t row = w->slots[j].row, off = j * S * K;
      double *mu = MU + row * K, *lv = LV + row * K, elbo;
      double *grad = w->grad + j * 2 * K;
      w->bad[j] = reduce_point(K, S, mu, lv, w->sg + j * K, w->E + off, w->lp + j * S,
                               w->G + off, &elbo, grad, grad + K);
      if (!w->bad[j])
        slot_update(w, j, opt, elbo, mu, lv);
    }
    for (size_t j = 0; j < nslot; j++)
      if (w->bad[j]) {
        st = INFB_ERROR(GSL_EDOM, "q* point %zu, step %zu: the ELBO%s is not finite",
                        c->first_index + w->slots[j].row, w->slots[j].t + 1,
                        w->bad[j] == 1 ? "" : " gradient");
        goto done;
      }
    /* Points that stopped leave; the next point takes the slot, or the last slot moves
     * into it so the active rows stay contiguous. */
    for (size_t j = 0; j < nslot;) {
      slot *sl = &w->slots[j];
      if (sl->stop < 0) {
        j++;
        continue;
      }
      c->out[sl->row].steps = sl->t;
      c->out[sl->row].stop = sl->stop;
      __atomic_add_fetch(&c->stopped, 1, __ATOMIC_RELAXED);
      if (next < hi) {
        if ((st = slot_enter(w, j, next, opt->seed, c->first_index)))
          goto done;
        next++;
        j++;
      } else {
        nslot--;
        if (j != nslot)
          slot_move(w, j, nslot);
      }
    }
    if (reporter && (st = report(c)))
      goto done;
  }
done:
  if (part < 0)
    return st;
  if (st)
    __atomic_store_n(&c->halt, 1, __ATOMIC_RELAXED);
  __atomic_sub_fetch(&c->running, 1, __ATOMIC_RELAXED);
  return st;
}

/* The calling thread, its own parts done, keeps reporting until every part is (or one
 * asked all to stop). */
static int
report_until_done(run_ctx *c)
{
  int st = GSL_SUCCESS;
  while (!st && !__atomic_load_n(&c->halt, __ATOMIC_RELAXED) &&
         __atomic_load_n(&c->running, __ATOMIC_RELAXED) > 0) {
    struct timespec ts = {0, PROGRESS_POLL_NS};
    nanosleep(&ts, NULL);
    st = report(c);
  }
  return st;
}

/* The parts q* splits its points into: a decoder's independent parts (fn_part), at most
 * one per slot; else 1.  Not the thread count: the parts, and so every point's decoder
 * calls, are the same whatever the threads that run them. */
static size_t
nparts(const infb_decoder *dec, size_t B)
{
  if (!dec->fn_part || dec->parts < 2 || B < 2)
    return 1;
  return dec->parts < B ? dec->parts : B;
}

/* The threads that run P parts. */
static size_t
part_threads(const infb_qstar_options *opt, size_t P)
{
#ifdef _OPENMP
  return opt->threads < P ? opt->threads : P;
#else
  (void)opt, (void)P;
  return 1;
#endif
}

/* A part's status and, for an error of its own, its message (raised on its thread). */
typedef struct {
  int st;
  char msg[512];
} part_result;

/* Points [n·p/P, n·(p+1)/P) and slots [B·p/P, B·(p+1)/P) go to part p of P. */
static size_t
share(size_t n, size_t p, size_t P)
{
  return n * p / P;
}

int
infb_qstar_optimize(const infb_decoder *dec, const infb_qstar_options *opt, size_t n,
                    const double *X, size_t first_index, double *MU, double *LV,
                    infb_qstar_point *out)
{
  int st = check_decoder(dec);
  if (st)
    return st;
  if ((st = check_options(opt)))
    return st;
  if (n == 0)
    return GSL_SUCCESS;
  if (!X || !MU || !LV || !out)
    return INFB_ERROR(GSL_EINVAL, "q*: NULL argument");
  const size_t D = dec->D, K = dec->K, S = opt->samples;
  const size_t B = opt->batch_points < n ? opt->batch_points : n, P = nparts(dec, B);
  opt_ws w;
  opt_ws *pw = NULL;
  part_result *res = NULL;
  if ((st = opt_ws_alloc(&w, B, S, D, K, n)))
    goto done;
  if (P > 1) {
    pw = infb_calloc(P, sizeof *pw);
    res = infb_calloc(P, sizeof *res);
    if (!pw || !res) {
      st = GSL_ENOMEM;
      goto done;
    }
    for (size_t p = 0; p < P; p++)
      if ((st = opt_ws_alloc(&pw[p], share(B, p + 1, P) - share(B, p, P), S, D, K, 1)))
        goto done;
  }

  if (!opt->init_given) {
    memset(MU, 0, n * K * sizeof(double));
    memset(LV, 0, n * K * sizeof(double));
  }

  run_ctx c = {dec, opt, X, first_index, MU, LV, out, 0, P, 0, 0};
  if (opt->max_steps == 0) {
    for (size_t i = 0; i < n; i++) {
      out[i].steps = 0;
      out[i].stop = INFB_QSTAR_MAX_STEPS;
    }
  } else if (P == 1) {
    st = run_points(&c, &w, 0, n, -1, opt->threads, 1);
    if (st == HALTED)
      st = c.progress_st;
    if (st)
      goto done;
  } else {
    /* Thread `tid` of T runs parts tid, tid + T, …; the calling thread (0) reports. */
    const size_t T = part_threads(opt, P);
#pragma omp parallel num_threads(T) if(T > 1)
    {
#ifdef _OPENMP
      const size_t tid = (size_t)omp_get_thread_num();
#else
      const size_t tid = 0;
#endif
      for (size_t p = tid; p < P; p += T) {
        int s = run_points(&c, &pw[p], share(n, p, P), share(n, p + 1, P), (int)p, 1, tid == 0);
        res[p].st = s;
        if (s && s != HALTED)
          snprintf(res[p].msg, sizeof res[p].msg, "%s", infb_error_message());
      }
      if (tid == 0)
        (void)report_until_done(&c); /* a stop it asks for is c.progress_st */
    }
    /* An error of a part's own (the first in part order) on the caller's thread, else
     * the progress callback's stop. */
    for (size_t p = 0; p < P && !st; p++)
      if (res[p].st && res[p].st != HALTED)
        st = INFB_ERROR(res[p].st, "%s", res[p].msg);
    if (!st)
      st = c.progress_st;
    if (st)
      goto done;
  }

  /* The final ELBO from fresh samples, in chunks of the optimiser's rows. */
  eval_ws ev = { B * S, w.xr, w.Zr, w.lp, w.sig };
  st = elbo_mc_chunked(dec, n, X, MU, LV, opt->eval_samples, opt->seed, "qstar/eval",
                       first_index, w.eval_elbo, w.eval_se, &ev);
  if (st)
    goto done;
  for (size_t i = 0; i < n; i++) {
    out[i].elbo = w.eval_elbo[i];
    out[i].elbo_mc_se = w.eval_se[i];
  }
done:
  opt_ws_free(&w);
  if (pw)
    for (size_t p = 0; p < P; p++)
      opt_ws_free(&pw[p]);
  free(pw);
  free(res);
  return st;
}
