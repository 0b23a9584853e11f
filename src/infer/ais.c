/* Annealed importance sampling with HMC transitions and its reverse for BDMC over a frozen
 * decoder (Neal 2001; Grosse, Ghahramani & Adams 2015; MATH.md §7–8; contract in ais.h). */
#include <config.h>
#include "infer/ais.h"
#include "core/error.h"
#include "core/rng.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The generator of the chains' streams (ais.h). */
#define AIS_RNG INFB_RNG_SAMPLER
/* Chains of one point per stream index block: index i·2^24 + c. */
#define CHAIN_BITS 24

void
infb_ais_options_default(infb_ais_options *o)
{
  o->chains = 100;
  o->temperatures = 10000;
  o->leapfrog = 10;
  o->schedule = INFB_AIS_LINEAR;
  o->sigmoid_delta = 4.0;
  o->step_size = 0.01;
  o->adapt = INFB_AIS_PILOT;
  o->pilot_chains = 10;
  o->adapt_up = 1.02;
  o->adapt_down = 0.98;
  o->target_accept = 0.65;
  o->step_min = 1e-4;
  o->step_max = 0.5;
  o->grad_clip = 1e4;
  o->init = INFB_AIS_PRIOR;
  o->ess_min = 10.0;
  o->chunk_rows = 4096;
  o->threads = 1;
  o->seed = 0;
  o->progress = NULL;
  o->progress_ctx = NULL;
}

size_t
infb_ais_trace_rows(size_t T, size_t stride)
{
  if (T == 0 || stride == 0)
    return 0;
  return T / stride + (T % stride ? 1 : 0);
}

/* The trace row of temperature t, or SIZE_MAX when t is not recorded. */
static size_t
trace_row(size_t T, size_t stride, size_t t)
{
  if (t % stride == 0)
    return t / stride - 1;
  if (t == T)
    return T / stride;
  return SIZE_MAX;
}

static double
logistic(double x)
{
  return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

int
infb_ais_schedule_fill(int schedule, double delta, size_t T, double *beta)
{
  if (T < 2 || !beta)
    return INFB_ERROR(GSL_EINVAL, "AIS: the schedule needs T ≥ 2 temperatures (got %zu)", T);
  if (schedule == INFB_AIS_LINEAR) {
    for (size_t t = 0; t <= T; t++)
      beta[t] = (double)t / (double)T;
  } else if (schedule == INFB_AIS_SIGMOID) {
    if (!(delta > 0.0) || !isfinite(delta))
      return INFB_ERROR(GSL_EINVAL, "AIS: the sigmoid schedule's δ must be finite and > 0 "
                        "(got %g)", delta);
    /* σ(δ(2t/T − 1)) rescaled by its end values; σ(δ) − σ(−δ) = 1 − 2σ(−δ). */
    const double lo = logistic(-delta), span = 1.0 - 2.0 * lo;
    for (size_t t = 0; t <= T; t++)
      beta[t] = (logistic(delta * (2.0 * (double)t / (double)T - 1.0)) - lo) / span;
  } else {
    return INFB_ERROR(GSL_EINVAL, "AIS: unknown schedule %d", schedule);
  }
  beta[0] = 0.0;
  beta[T] = 1.0;
  return GSL_SUCCESS;
}

/* ---- leapfrog and the HMC move ---- */

/* L leapfrog steps, step eps (or eps_rows[r] for row r when eps_rows is not NULL):
 *   r ← r − ½ε∇U(z); L times { z ← z + εr; r ← r − ε∇U(z) }, the last of these a half step. */
static int
leapfrog_rows(infb_ais_potential_fn pot, void *ctx, size_t R, size_t K, size_t L, double eps,
              const double *eps_rows, double *Z, double *P, double *U, double *gradU)
{
  for (size_t r = 0; r < R; r++) {
    const double e = eps_rows ? eps_rows[r] : eps;
    for (size_t k = 0; k < K; k++)
      P[r * K + k] -= 0.5 * e * gradU[r * K + k];
  }
  for (size_t l = 0; l < L; l++) {
    for (size_t r = 0; r < R; r++) {
      const double e = eps_rows ? eps_rows[r] : eps;
      for (size_t k = 0; k < K; k++)
        Z[r * K + k] += e * P[r * K + k];
    }
    int st = pot(ctx, R, Z, U, gradU);
    if (st)
      return st;
    const double f = l + 1 < L ? 1.0 : 0.5;
    for (size_t r = 0; r < R; r++) {
      const double e = f * (eps_rows ? eps_rows[r] : eps);
      for (size_t k = 0; k < K; k++)
        P[r * K + k] -= e * gradU[r * K + k];
    }
  }
  return GSL_SUCCESS;
}

int
infb_ais_leapfrog(infb_ais_potential_fn pot, void *ctx, size_t R, size_t K, size_t L,
                  double eps, double *Z, double *P, double *U, double *gradU)
{
  if (!pot || !Z || !P || !U || !gradU)
    return INFB_ERROR(GSL_EINVAL, "AIS leapfrog: NULL argument");
  return leapfrog_rows(pot, ctx, R, K, L, eps, NULL, Z, P, U, gradU);
}

static double
half_sq(size_t K, const double *p)
{
  double s = 0.0;
  for (size_t k = 0; k < K; k++)
    s += p[k] * p[k];
  return 0.5 * s;
}

static int
all_finite(size_t n, const double *v)
{
  for (size_t q = 0; q < n; q++)
    if (!isfinite(v[q]))
      return 0;
  return 1;
}

int
infb_ais_hmc_move(infb_ais_potential_fn pot, void *ctx, gsl_rng *const *rng, size_t R,
                  size_t K, size_t L, double eps, const double *eps_rows, double *Z, double *U,
                  double *gradU, double *work, int *accepted)
{
  if (!pot || !rng || !Z || !U || !gradU || !work || !accepted || L == 0)
    return INFB_ERROR(GSL_EINVAL, "AIS HMC move: NULL argument or no leapfrog step");
  double *Zp = work, *P = Zp + R * K, *Gp = P + R * K, *Up = Gp + R * K, *H0 = Up + R,
         *u = H0 + R;
  /* Each chain's draws: K momentum normals, then the uniform of its test. */
  for (size_t r = 0; r < R; r++) {
    for (size_t k = 0; k < K; k++)
      P[r * K + k] = gsl_ran_gaussian_ziggurat(rng[r], 1.0);
    u[r] = gsl_rng_uniform(rng[r]);
    H0[r] = U[r] + half_sq(K, P + r * K);
  }
  memcpy(Zp, Z, R * K * sizeof(double));
  memcpy(Up, U, R * sizeof(double));
  memcpy(Gp, gradU, R * K * sizeof(double));
  int st = leapfrog_rows(pot, ctx, R, K, L, eps, eps_rows, Zp, P, Up, Gp);
  if (st)
    return st;
  for (size_t r = 0; r < R; r++) {
    /* A proposal whose energy or gradient is not finite is rejected (the current state's
     * are, so the test stays symmetric). */
    const double Hn = Up[r] + half_sq(K, P + r * K);
    const double a = H0[r] - Hn; /* a NaN (current energy not finite) rejects */
    const int acc = isfinite(Hn) && all_finite(K, Gp + r * K) && (a >= 0.0 || u[r] < exp(a));
    accepted[r] = acc;
    if (acc) {
      memcpy(Z + r * K, Zp + r * K, K * sizeof(double));
      memcpy(gradU + r * K, Gp + r * K, K * sizeof(double));
      U[r] = Up[r];
    }
  }
  return GSL_SUCCESS;
}

/* ---- the annealed potential of one point ----
 * s(z): the start density, N(0, I) (PRIOR) or q = N(μ_q, diag σ_q²) (ENCODER);
 * ℓ(z) = ln p(x, z) − ln s(z) (PRIOR: ln p(x|z));
 * U_β(z) = −ln s(z) − β ℓ(z) = −ln f_β(z), ∇U_β = −∇ln s − β∇ℓ (MATH.md §7). */

typedef struct {
  const infb_decoder *dec;
  size_t part;        /* the decoder part to call, SIZE_MAX: dec->fn */
  const double *X;    /* the caller's points */
  size_t *xr;         /* cap entries, each the point's row of X */
  size_t cap;         /* decoder rows per call at most */
  double clip;        /* |∂ ln p(x|z)/∂z_k| ≤ clip (0: none) */
  int encoder;        /* start density q (else the prior) */
  const double *mu;   /* K: μ_q */
  double *iv, *sd;    /* K each: 1/σ_q², σ_q */
  double *gs;         /* K: scratch */
  double lnq0;        /* −½ Σ_k (ln σ_q,k² + ln 2π) */
  double beta;        /* the current target's β */
  double *ell, *gell; /* where the potential stores ℓ (R) and ∇ℓ (R×K) of its rows */
} target;

/* ln s(z) and its gradient into gs (K). */
static double
start_logdens(const target *g, size_t K, const double *z, double *gs)
{
  double s = 0.0;
  if (!g->encoder) {
    for (size_t k = 0; k < K; k++) {
      s += z[k] * z[k];
      gs[k] = -z[k];
    }
    return -0.5 * s - 0.5 * (double)K * log(2.0 * M_PI);
  }
  for (size_t k = 0; k < K; k++) {
    const double d = z[k] - g->mu[k];
    s += d * d * g->iv[k];
    gs[k] = -d * g->iv[k];
  }
  return g->lnq0 - 0.5 * s;
}

/* U and ∇U at β from ℓ, ∇ℓ (R rows).  A row whose ℓ or ∇ℓ is not finite gets U = NaN, so
 * a proposal there is rejected (at β = 0 too, where ℓ does not enter U). */
static void
assemble(const target *g, size_t R, size_t K, const double *Z, const double *ell,
         const double *gell, double *U, double *gradU)
{
  const double b = g->beta;
  for (size_t r = 0; r < R; r++) {
    double *gu = gradU + r * K;
    const double lns = start_logdens(g, K, Z + r * K, gu);
    for (size_t k = 0; k < K; k++)
      gu[k] = -gu[k] - b * gell[r * K + k];
    U[r] = isfinite(ell[r]) && all_finite(K, gell + r * K) ? -lns - b * ell[r] : NAN;
  }
}

/* The decoder on R rows of the point (chunks of at most cap rows) into g->ell, g->gell,
 * turned into ℓ and ∇ℓ (the clip applied to ∂ ln p(x|z)/∂z), then U and ∇U at g->beta. */
static int
potential(void *ctx, size_t R, const double *Z, double *U, double *gradU)
{
  target *g = ctx;
  const infb_decoder *dec = g->dec;
  const size_t K = dec->K;
  for (size_t r0 = 0; r0 < R; r0 += g->cap) {
    const size_t m = R - r0 < g->cap ? R - r0 : g->cap;
    int st = g->part == SIZE_MAX
                 ? dec->fn(dec->self, m, g->X, g->xr, Z + r0 * K, g->ell + r0, g->gell + r0 * K)
                 : dec->fn_part(dec->self, g->part, m, g->X, g->xr, Z + r0 * K, g->ell + r0,
                                g->gell + r0 * K);
    if (st)
      return st;
  }
  const double c = g->clip;
  for (size_t r = 0; r < R; r++) {
    double *ge = g->gell + r * K;
    const double *z = Z + r * K;
    if (c > 0.0)
      for (size_t k = 0; k < K; k++) { /* comparisons keep a NaN a NaN */
        if (ge[k] > c)
          ge[k] = c;
        else if (ge[k] < -c)
          ge[k] = -c;
      }
    if (g->encoder) {
      /* ℓ = ln p(x|z) + ln N(z; 0, I) − ln q(z), ∇ℓ = ∇ln p(x|z) − z − ∇ln q. */
      double *gs = g->gs, zz = 0.0;
      const double lnq = start_logdens(g, K, z, gs);
      for (size_t k = 0; k < K; k++) {
        zz += z[k] * z[k];
        ge[k] += -z[k] - gs[k];
      }
      g->ell[r] += -0.5 * zz - 0.5 * (double)K * log(2.0 * M_PI) - lnq;
    }
  }
  assemble(g, R, K, Z, g->ell, g->gell, U, gradU);
  return GSL_SUCCESS;
}

/* The start density's constants for point row `row` (ENCODER). */
static void
target_point(target *g, size_t K, const double *q_mu, const double *q_lv, size_t row)
{
  for (size_t r = 0; r < g->cap; r++)
    g->xr[r] = row;
  if (!g->encoder)
    return;
  const double *lv = q_lv + row * K;
  g->mu = q_mu + row * K;
  g->lnq0 = 0.0;
  for (size_t k = 0; k < K; k++) {
    g->iv[k] = exp(-lv[k]);
    g->sd[k] = exp(0.5 * lv[k]);
    g->lnq0 -= 0.5 * (lv[k] + log(2.0 * M_PI));
  }
}

static int
check_decoder(const infb_decoder *dec)
{
  if (!dec || !dec->fn)
    return INFB_ERROR(GSL_EINVAL, "AIS: no decoder");
  if (dec->D == 0 || dec->K == 0)
    return INFB_ERROR(GSL_EINVAL, "AIS: the decoder dimensions must be ≥ 1 (D = %zu, K = %zu)",
                      dec->D, dec->K);
  return GSL_SUCCESS;
}

int
infb_ais_potential(const infb_decoder *dec, const double *x, double beta, int init,
                   const double *q_mu, const double *q_lv, double grad_clip, size_t R,
                   const double *Z, double *U, double *gradU)
{
  int st = check_decoder(dec);
  if (st)
    return st;
  if (!x || !Z || !U || !gradU || (init == INFB_AIS_ENCODER && (!q_mu || !q_lv)) ||
      (init != INFB_AIS_PRIOR && init != INFB_AIS_ENCODER))
    return INFB_ERROR(GSL_EINVAL, "AIS potential: NULL argument or unknown init");
  if (R == 0)
    return GSL_SUCCESS;
  const size_t K = dec->K;
  target g = {.dec = dec, .part = SIZE_MAX, .X = x, .cap = R, .clip = grad_clip,
              .encoder = init == INFB_AIS_ENCODER, .beta = beta};
  g.xr = infb_malloc(R, sizeof *g.xr);
  g.iv = infb_malloc(3 * K, sizeof(double));
  g.ell = infb_malloc(R, sizeof(double));
  g.gell = infb_malloc(R * K, sizeof(double));
  if (!g.xr || !g.iv || !g.ell || !g.gell) {
    st = GSL_ENOMEM;
    goto done;
  }
  g.sd = g.iv + K;
  g.gs = g.iv + 2 * K;
  target_point(&g, K, q_mu, q_lv, 0);
  st = potential(&g, R, Z, U, gradU);
done:
  free(g.xr);
  free(g.iv);
  free(g.ell);
  free(g.gell);
  return st;
}

/* ---- one thread's workspace and the chains of one point ---- */

struct run;

typedef struct {
  target g;
  size_t C, K;        /* chains allocated (max of chains and pilot chains), K */
  gsl_rng **rng;      /* C streams, re-seeded per point */
  double *Z, *U, *gU; /* C×K, C, C×K: the chains' states and U, ∇U at the move's β */
  double *ell, *gell; /* C, C×K: ℓ and ∇ℓ at the states, carried between moves */
  double *ellp, *gellp; /* C, C×K: the same at the proposals */
  double *lnw;        /* C: log-weights */
  double *step;       /* C: each chain's step (online rule) */
  size_t *acc;        /* C: accepted moves per chain */
  int *accepted;      /* C: the last move's verdicts */
  double *work;       /* 3·C·K + 3·C: infb_ais_hmc_move's */
  double *eps;        /* T: ε(t) of the current point */
  struct run *run;
  int reporter;       /* this thread calls progress */
} ws;

/* What the threads share; the counters are read and written with atomics. */
typedef struct run {
  const infb_decoder *dec;
  const infb_ais_options *o;
  const double *beta; /* T + 1 */
  size_t n, first_index;
  const double *X, *q_mu, *q_lv, *zstar;
  infb_ais_point *fwd, *rev;
  infb_ais_trace *trace;
  double *step_out;
  size_t next, done;  /* next point to start, points finished */
  int halt;           /* nonzero: every thread stops */
  int progress_st;    /* the progress callback's nonzero return */
  size_t reported;    /* the last count given to the progress callback (+1; 0: none) */
} run;

/* Halt status (never returned to the caller): another thread or the callback stopped. */
#define HALTED (-1000)
/* The calling thread reports progress every this many moves inside a point as well, and
 * the others look for a stop as often (a protocol point takes some 10^5 moves). */
#define POLL_MOVES 64

static int
poll_halt(ws *w)
{
  run *c = w->run;
  if (__atomic_load_n(&c->halt, __ATOMIC_RELAXED))
    return HALTED;
  if (!w->reporter || !c->o->progress)
    return GSL_SUCCESS;
  const size_t done = __atomic_load_n(&c->done, __ATOMIC_RELAXED);
  c->reported = done + 1;
  int st = c->o->progress(c->o->progress_ctx, done, c->n);
  if (!st)
    return GSL_SUCCESS;
  c->progress_st = st;
  __atomic_store_n(&c->halt, 1, __ATOMIC_RELAXED);
  return HALTED;
}

static void
ws_free(ws *w)
{
  if (w->rng)
    for (size_t c = 0; c < w->C; c++)
      if (w->rng[c])
        gsl_rng_free(w->rng[c]);
  free(w->rng);
  free(w->g.xr);
  free(w->g.iv);
  free(w->Z);
  free(w->U);
  free(w->gU);
  free(w->ell);
  free(w->gell);
  free(w->ellp);
  free(w->gellp);
  free(w->lnw);
  free(w->step);
  free(w->acc);
  free(w->accepted);
  free(w->work);
  free(w->eps);
}

static int
ws_alloc(ws *w, run *c, size_t part)
{
  const infb_ais_options *o = c->o;
  const size_t K = c->dec->K, T = o->temperatures;
  size_t C = o->chains;
  if (o->adapt == INFB_AIS_PILOT && o->pilot_chains > C)
    C = o->pilot_chains;
  memset(w, 0, sizeof *w);
  w->C = C;
  w->K = K;
  w->run = c;
  if (C > SIZE_MAX / 8 / (3 * K + 3))
    return INFB_ERROR(GSL_ENOMEM, "AIS: %zu chains are too many", C);
  const size_t cap = o->chunk_rows < C ? o->chunk_rows : C;
  w->g = (target){.dec = c->dec, .part = part, .X = c->X, .cap = cap, .clip = o->grad_clip,
                  .encoder = o->init == INFB_AIS_ENCODER};
  w->g.xr = infb_malloc(cap, sizeof(size_t));
  w->g.iv = infb_malloc(3 * K, sizeof(double));
  w->rng = infb_calloc(C, sizeof *w->rng);
  w->Z = infb_malloc(C * K, sizeof(double));
  w->U = infb_malloc(C, sizeof(double));
  w->gU = infb_malloc(C * K, sizeof(double));
  w->ell = infb_malloc(C, sizeof(double));
  w->gell = infb_malloc(C * K, sizeof(double));
  w->ellp = infb_malloc(C, sizeof(double));
  w->gellp = infb_malloc(C * K, sizeof(double));
  w->lnw = infb_malloc(C, sizeof(double));
  w->step = infb_malloc(C, sizeof(double));
  w->acc = infb_malloc(C, sizeof(size_t));
  w->accepted = infb_malloc(C, sizeof(int));
  w->work = infb_malloc(3 * C * K + 3 * C, sizeof(double));
  w->eps = infb_malloc(T, sizeof(double));
  if (!w->g.xr || !w->g.iv || !w->rng || !w->Z || !w->U || !w->gU || !w->ell || !w->gell ||
      !w->ellp || !w->gellp || !w->lnw || !w->step || !w->acc || !w->accepted || !w->work ||
      !w->eps)
    return GSL_ENOMEM;
  w->g.sd = w->g.iv + K;
  w->g.gs = w->g.iv + 2 * K;
  for (size_t q = 0; q < C; q++)
    if (!(w->rng[q] = gsl_rng_alloc(AIS_RNG)))
      return INFB_ERROR(GSL_ENOMEM, "AIS: cannot allocate a random-number generator");
  return GSL_SUCCESS;
}

/* log-mean-exp of v (C); also Σ w̃² of the normalised weights when s2 is not NULL. */
static double
log_mean_exp(size_t C, const double *v, double *s2)
{
  double m = -INFINITY;
  for (size_t c = 0; c < C; c++)
    if (v[c] > m)
      m = v[c];
  double a = 0.0, b = 0.0;
  for (size_t c = 0; c < C; c++) {
    const double e = exp(v[c] - m);
    a += e;
    b += e * e;
  }
  if (s2)
    *s2 = b / (a * a);
  return m + log(a) - log((double)C);
}

/* The geometric mean of the chains' steps. */
static double
geo_mean(size_t C, const double *s)
{
  double a = 0.0;
  for (size_t c = 0; c < C; c++)
    a += log(s[c]);
  return exp(a / (double)C);
}

enum { DIR_FWD, DIR_REV, DIR_PILOT };

static void
point_nan(infb_ais_point *p)
{
  *p = (infb_ais_point){.log_px = NAN, .mc_se = NAN, .ess = NAN, .low_ess = 0,
                        .accept = NAN, .step_final = NAN, .status = INFB_AIS_NONFINITE};
}

/* C chains of point `row` in direction dir.  FWD and PILOT start from s (prior or q), REV
 * from z*.  online: each chain runs the online rule and w->eps[t − 1] receives the
 * geometric mean of the steps used at t; else every chain uses the frozen w->eps.  res
 * (not PILOT) and tr (may be NULL) receive the results; *bad is set when a number stopped
 * being finite (then the point's chains stop).  Returns a decoder's status or HALTED. */
static int
run_chains(ws *w, int dir, size_t C, size_t row, int online, infb_ais_point *res,
           infb_ais_trace *tr, int *bad)
{
  const run *c = w->run;
  const infb_ais_options *o = c->o;
  const size_t K = w->K, T = o->temperatures, L = o->leapfrog;
  const double *beta = c->beta;
  const char *purpose = dir == DIR_FWD ? "ais" : dir == DIR_REV ? "ais/reverse" : "ais/pilot";
  const uint64_t base = (uint64_t)(c->first_index + row) << CHAIN_BITS;
  target *g = &w->g;
  int st;
  *bad = 0;
  for (size_t q = 0; q < C; q++) {
    gsl_rng *r = w->rng[q];
    double *z = w->Z + q * K;
    infb_rng_reseed(r, o->seed, purpose, base + q);
    if (dir == DIR_REV)
      memcpy(z, c->zstar + row * K, K * sizeof(double));
    else if (g->encoder)
      for (size_t k = 0; k < K; k++)
        z[k] = g->mu[k] + g->sd[k] * gsl_ran_gaussian_ziggurat(r, 1.0);
    else
      for (size_t k = 0; k < K; k++)
        z[k] = gsl_ran_gaussian_ziggurat(r, 1.0);
    w->lnw[q] = 0.0;
    w->acc[q] = 0;
    w->step[q] = o->step_size;
  }
  g->beta = 0.0;
  g->ell = w->ell;
  g->gell = w->gell;
  if ((st = potential(g, C, w->Z, w->U, w->gU)))
    return st;
  if (!all_finite(C, w->ell) || !all_finite(C * K, w->gell)) {
    *bad = 1;
    return GSL_SUCCESS;
  }
  size_t nacc = 0;
  for (size_t s = 1; s <= T; s++) {
    const size_t t = dir == DIR_REV ? T + 1 - s : s;
    const double db = beta[t] - beta[t - 1];
    /* The weight's increment with the state before the move (forward: z_{t−1};
     * reverse: z_t). */
    if (dir != DIR_PILOT) {
      const double sg = dir == DIR_FWD ? db : -db;
      for (size_t q = 0; q < C; q++)
        w->lnw[q] += sg * w->ell[q];
      if (!all_finite(C, w->lnw)) {
        *bad = 1;
        return GSL_SUCCESS;
      }
    }
    if (online)
      w->eps[t - 1] = geo_mean(C, w->step);
    /* One HMC move leaving f_t (reverse: f_{t−1}) invariant; the proposals' ℓ and ∇ℓ go to
     * ellp, gellp and are kept where the move is accepted. */
    g->beta = dir == DIR_REV ? beta[t - 1] : beta[t];
    assemble(g, C, K, w->Z, w->ell, w->gell, w->U, w->gU);
    g->ell = w->ellp;
    g->gell = w->gellp;
    st = infb_ais_hmc_move(potential, g, w->rng, C, K, L, w->eps[t - 1],
                           online ? w->step : NULL, w->Z, w->U, w->gU, w->work, w->accepted);
    if (st)
      return st;
    size_t nt = 0;
    for (size_t q = 0; q < C; q++)
      if (w->accepted[q]) {
        w->ell[q] = w->ellp[q];
        memcpy(w->gell + q * K, w->gellp + q * K, K * sizeof(double));
        w->acc[q]++;
        nt++;
      }
    nacc += nt;
    if (online)
      for (size_t q = 0; q < C; q++) {
        double sq = w->step[q] * ((double)w->acc[q] / (double)s > o->target_accept
                                      ? o->adapt_up : o->adapt_down);
        w->step[q] = sq < o->step_min ? o->step_min : sq > o->step_max ? o->step_max : sq;
      }
    if (tr && tr->rows) {
      const size_t j = trace_row(T, tr->stride, t);
      if (j != SIZE_MAX) {
        const double lm = log_mean_exp(C, w->lnw, NULL);
        tr->beta[j] = beta[t];
        tr->logw[j] = dir == DIR_REV ? -lm : lm;
        tr->accept[j] = (double)nt / (double)C;
        tr->step[j] = w->eps[t - 1];
      }
    }
    if (s % POLL_MOVES == 0 && (st = poll_halt(w)))
      return st;
  }
  if (res) {
    double s2;
    const double lm = log_mean_exp(C, w->lnw, &s2);
    const double v = s2 - 1.0 / (double)C;
    res->log_px = dir == DIR_REV ? -lm : lm;
    res->mc_se = sqrt(v > 0.0 ? v : 0.0);
    res->ess = 1.0 / s2;
    res->low_ess = res->ess < o->ess_min;
    res->accept = (double)nacc / ((double)C * (double)T);
    res->step_final = w->eps[T - 1];
    res->status = INFB_AIS_OK;
    if (!isfinite(res->log_px) || !isfinite(res->mc_se) || !isfinite(res->ess))
      point_nan(res);
  }
  return GSL_SUCCESS;
}

/* Every direction asked for, for point `row`. */
static int
run_point(ws *w, size_t row)
{
  const run *c = w->run;
  const infb_ais_options *o = c->o;
  const size_t T = o->temperatures;
  infb_ais_point *fwd = c->fwd ? c->fwd + row : NULL, *rev = c->rev ? c->rev + row : NULL;
  infb_ais_trace *tr = c->trace && c->trace[row].rows ? c->trace + row : NULL;
  int st, bad = 0;
  target_point(&w->g, w->K, c->q_mu, c->q_lv, row);
  if (tr)
    for (size_t j = 0; j < tr->rows; j++)
      tr->beta[j] = tr->logw[j] = tr->accept[j] = tr->step[j] = NAN;
  for (size_t t = 0; t < T; t++)
    w->eps[t] = o->adapt == INFB_AIS_FIXED ? o->step_size : NAN;
  if (fwd)
    point_nan(fwd);
  if (rev)
    point_nan(rev);
  if (o->adapt == INFB_AIS_PILOT) {
    if ((st = run_chains(w, DIR_PILOT, o->pilot_chains, row, 1, NULL, NULL, &bad)))
      return st;
  }
  /* Without a step schedule (the pilot stopped) neither direction can run; otherwise
   * each runs whatever became of the other. */
  if (!bad && fwd) {
    int bad_fwd;
    if ((st = run_chains(w, DIR_FWD, o->chains, row, o->adapt == INFB_AIS_ONLINE, fwd, tr,
                         &bad_fwd)))
      return st;
    if (bad_fwd)
      point_nan(fwd);
  }
  if (!bad && rev) {
    int bad_rev;
    if ((st = run_chains(w, DIR_REV, o->chains, row, 0, rev, fwd ? NULL : tr, &bad_rev)))
      return st;
    if (bad_rev)
      point_nan(rev);
  }
  if (c->step_out)
    memcpy(c->step_out + row * T, w->eps, T * sizeof(double));
  return GSL_SUCCESS;
}

/* ---- argument checks ---- */

static int
check_options(const infb_ais_options *o)
{
  if (!o)
    return INFB_ERROR(GSL_EINVAL, "AIS: no options");
  const size_t maxc = (size_t)1 << CHAIN_BITS;
  if (o->chains == 0 || o->chains > maxc)
    return INFB_ERROR(GSL_EINVAL, "AIS: chains must be 1 to %zu (got %zu)", maxc, o->chains);
  if (o->temperatures < 2)
    return INFB_ERROR(GSL_EINVAL, "AIS: temperatures must be ≥ 2 (got %zu)", o->temperatures);
  if (o->leapfrog == 0)
    return INFB_ERROR(GSL_EINVAL, "AIS: leapfrog steps must be ≥ 1");
  if (o->schedule != INFB_AIS_LINEAR && o->schedule != INFB_AIS_SIGMOID)
    return INFB_ERROR(GSL_EINVAL, "AIS: unknown schedule %d", o->schedule);
  if (o->schedule == INFB_AIS_SIGMOID && (!(o->sigmoid_delta > 0.0) || !isfinite(o->sigmoid_delta)))
    return INFB_ERROR(GSL_EINVAL, "AIS: the sigmoid schedule's δ must be finite and > 0 (got %g)",
                      o->sigmoid_delta);
  if (o->adapt != INFB_AIS_PILOT && o->adapt != INFB_AIS_ONLINE && o->adapt != INFB_AIS_FIXED)
    return INFB_ERROR(GSL_EINVAL, "AIS: unknown step-size adaptation %d", o->adapt);
  if (o->adapt == INFB_AIS_PILOT && (o->pilot_chains == 0 || o->pilot_chains > maxc))
    return INFB_ERROR(GSL_EINVAL, "AIS: pilot chains must be 1 to %zu (got %zu)", maxc,
                      o->pilot_chains);
  if (!(o->step_min > 0.0) || !(o->step_max >= o->step_min) || !isfinite(o->step_max))
    return INFB_ERROR(GSL_EINVAL, "AIS: the step clamp [%g, %g] must be finite with "
                      "0 < step_min ≤ step_max", o->step_min, o->step_max);
  if (!(o->step_size >= o->step_min && o->step_size <= o->step_max))
    return INFB_ERROR(GSL_EINVAL, "AIS: step_size %g lies outside [%g, %g]", o->step_size,
                      o->step_min, o->step_max);
  if (o->adapt != INFB_AIS_FIXED &&
      (!(o->adapt_up > 0.0) || !isfinite(o->adapt_up) || !(o->adapt_down > 0.0) ||
       !isfinite(o->adapt_down) || !(o->target_accept > 0.0 && o->target_accept < 1.0)))
    return INFB_ERROR(GSL_EINVAL, "AIS: the online rule needs factors > 0 and a target in "
                      "(0, 1) (got ×%g, ×%g, %g)", o->adapt_up, o->adapt_down,
                      o->target_accept);
  if (!(o->grad_clip >= 0.0))
    return INFB_ERROR(GSL_EINVAL, "AIS: grad_clip must be ≥ 0 (got %g)", o->grad_clip);
  if (o->init != INFB_AIS_PRIOR && o->init != INFB_AIS_ENCODER)
    return INFB_ERROR(GSL_EINVAL, "AIS: unknown init %d", o->init);
  if (isnan(o->ess_min))
    return INFB_ERROR(GSL_EINVAL, "AIS: ess_min is NaN");
  if (o->chunk_rows == 0)
    return INFB_ERROR(GSL_EINVAL, "AIS: chunk_rows must be ≥ 1");
  if (o->threads == 0)
    return INFB_ERROR(GSL_EINVAL, "AIS: threads must be ≥ 1");
  return GSL_SUCCESS;
}

/* A thread's status and, for an error of its own, its message and point. */
typedef struct {
  int st;
  size_t row;
  char msg[512];
} thread_result;

/* Points from the shared counter until none is left or a thread stops all. */
static void
thread_points(ws *w, thread_result *res)
{
  run *c = w->run;
  res->st = GSL_SUCCESS;
  for (;;) {
    if (__atomic_load_n(&c->halt, __ATOMIC_RELAXED))
      return;
    const size_t row = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
    if (row >= c->n)
      return;
    int st = run_point(w, row);
    if (!st) {
      __atomic_add_fetch(&c->done, 1, __ATOMIC_RELAXED);
      st = poll_halt(w);
    }
    if (st) {
      if (st != HALTED) {
        res->st = st;
        res->row = row;
        snprintf(res->msg, sizeof res->msg, "%s", infb_error_message());
      }
      __atomic_store_n(&c->halt, 1, __ATOMIC_RELAXED);
      return;
    }
  }
}

int
infb_ais_run(const infb_decoder *dec, const infb_ais_options *o, size_t n, const double *X,
             size_t first_index, const double *q_mu, const double *q_lv, const double *zstar,
             infb_ais_point *fwd, infb_ais_point *rev, infb_ais_trace *trace, double *step_out)
{
  int st = check_decoder(dec);
  if (st)
    return st;
  if ((st = check_options(o)))
    return st;
  if (!zstar != !rev)
    return INFB_ERROR(GSL_EINVAL, "AIS: zstar and rev go together");
  if (zstar && (o->init == INFB_AIS_ENCODER || o->adapt == INFB_AIS_ONLINE))
    return INFB_ERROR(GSL_EINVAL, "AIS: reverse chains need init PRIOR and a frozen step "
                      "(PILOT or FIXED)");
  if (!fwd && !rev)
    return INFB_ERROR(GSL_EINVAL, "AIS: neither forward nor reverse results asked for");
  if (o->init == INFB_AIS_ENCODER && (!q_mu || !q_lv))
    return INFB_ERROR(GSL_EINVAL, "AIS: init ENCODER needs q_mu and q_lv");
  if (n == 0)
    return GSL_SUCCESS;
  if (!X)
    return INFB_ERROR(GSL_EINVAL, "AIS: no points");
  if ((uint64_t)(first_index + n) > (UINT64_MAX >> CHAIN_BITS) || first_index + n < n)
    return INFB_ERROR(GSL_EINVAL, "AIS: point indices up to %zu are too large", first_index + n);
  const size_t T = o->temperatures;
  if (trace)
    for (size_t i = 0; i < n; i++) {
      const infb_ais_trace *tr = trace + i;
      if (tr->rows && (tr->rows != infb_ais_trace_rows(T, tr->stride) || !tr->beta ||
                       !tr->logw || !tr->accept || !tr->step))
        return INFB_ERROR(GSL_EINVAL, "AIS: point %zu's trace has %zu rows for stride %zu "
                          "(want %zu) or a NULL array", first_index + i, tr->rows, tr->stride,
                          infb_ais_trace_rows(T, tr->stride));
    }

  /* Threads: with a decoder of parts, thread j calls part j (one thread: part 0, so the
   * rows go through the same code whatever the thread count); else dec->fn, one thread. */
  const int parts = dec->fn_part && dec->parts > 0;
  size_t nthr = 1;
#ifdef _OPENMP
  if (parts) {
    nthr = o->threads < dec->parts ? o->threads : dec->parts;
    if (nthr > n)
      nthr = n;
  }
#endif
  double *beta = infb_malloc(T + 1, sizeof(double));
  ws *w = infb_calloc(nthr, sizeof *w);
  thread_result *res = infb_calloc(nthr, sizeof *res);
  run c = {.dec = dec, .o = o, .n = n, .first_index = first_index, .X = X, .q_mu = q_mu,
           .q_lv = q_lv, .zstar = zstar, .fwd = fwd, .rev = rev, .trace = trace,
           .step_out = step_out};
  if (!beta || !w || !res) {
    st = GSL_ENOMEM;
    goto done;
  }
  if ((st = infb_ais_schedule_fill(o->schedule, o->sigmoid_delta, T, beta)))
    goto done;
  c.beta = beta;
  for (size_t j = 0; j < nthr; j++)
    if ((st = ws_alloc(&w[j], &c, parts ? j : SIZE_MAX)))
      goto done;
  w[0].reporter = 1;

  if (nthr == 1) {
    thread_points(&w[0], &res[0]);
  } else {
#pragma omp parallel num_threads(nthr)
    {
#ifdef _OPENMP
      const size_t tid = (size_t)omp_get_thread_num();
#else
      const size_t tid = 0;
#endif
      /* Thread 0 is the calling thread: the one that reports. */
      if (tid < nthr)
        thread_points(&w[tid], &res[tid]);
    }
  }
  /* An error of a thread's own (the one at the first point) on the calling thread, else
   * the progress callback's stop. */
  size_t first = SIZE_MAX;
  for (size_t j = 0; j < nthr; j++)
    if (res[j].st && (first == SIZE_MAX || res[j].row < res[first].row))
      first = j;
  if (first != SIZE_MAX)
    st = first == 0 ? res[0].st : INFB_ERROR(res[first].st, "%s", res[first].msg);
  else if (c.progress_st)
    st = c.progress_st;
  else if (o->progress && c.reported != n + 1)
    st = o->progress(o->progress_ctx, n, n); /* the last point ended on another thread */
done:
  if (w)
    for (size_t j = 0; j < nthr; j++)
      ws_free(&w[j]);
  free(w);
  free(res);
  free(beta);
  return st;
}
