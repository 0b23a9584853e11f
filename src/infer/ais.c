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
  o->tile_points = 1;
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
 *   r ← r − ½ε∇U(z); L times { z ← z + εr; r ← r − ε∇U(z) }, the last of these a half step.
 * Rows with live[r] == 0 (live may be NULL: all live) are left as they are (the potential
 * is still called on all R rows). */
static int
leapfrog_rows(infb_ais_potential_fn pot, void *ctx, size_t R, size_t K, size_t L, double eps,
              const double *eps_rows, const unsigned char *live, double *Z, double *P,
              double *U, double *gradU)
{
  for (size_t r = 0; r < R; r++) {
    if (live && !live[r])
      continue;
    const double e = eps_rows ? eps_rows[r] : eps;
    for (size_t k = 0; k < K; k++)
      P[r * K + k] -= 0.5 * e * gradU[r * K + k];
  }
  for (size_t l = 0; l < L; l++) {
    for (size_t r = 0; r < R; r++) {
      if (live && !live[r])
        continue;
      const double e = eps_rows ? eps_rows[r] : eps;
      for (size_t k = 0; k < K; k++)
        Z[r * K + k] += e * P[r * K + k];
    }
    int st = pot(ctx, R, Z, U, gradU);
    if (st)
      return st;
    const double f = l + 1 < L ? 1.0 : 0.5;
    for (size_t r = 0; r < R; r++) {
      if (live && !live[r])
        continue;
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
  return leapfrog_rows(pot, ctx, R, K, L, eps, NULL, NULL, Z, P, U, gradU);
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

/* infb_ais_hmc_move on the rows with live[r] != 0 (live NULL: all): a row that is not live
 * draws nothing, keeps its state and is not accepted (a tile's padding rows). */
static int
hmc_move_rows(infb_ais_potential_fn pot, void *ctx, gsl_rng *const *rng, size_t R, size_t K,
              size_t L, double eps, const double *eps_rows, const unsigned char *live,
              double *Z, double *U, double *gradU, double *work, int *accepted)
{
  double *Zp = work, *P = Zp + R * K, *Gp = P + R * K, *Up = Gp + R * K, *H0 = Up + R,
         *u = H0 + R;
  /* Each chain's draws: K momentum normals, then the uniform of its test. */
  for (size_t r = 0; r < R; r++) {
    if (live && !live[r]) {
      memset(P + r * K, 0, K * sizeof(double));
      continue;
    }
    for (size_t k = 0; k < K; k++)
      P[r * K + k] = gsl_ran_gaussian_ziggurat(rng[r], 1.0);
    u[r] = gsl_rng_uniform(rng[r]);
    H0[r] = U[r] + half_sq(K, P + r * K);
  }
  memcpy(Zp, Z, R * K * sizeof(double));
  memcpy(Up, U, R * sizeof(double));
  memcpy(Gp, gradU, R * K * sizeof(double));
  int st = leapfrog_rows(pot, ctx, R, K, L, eps, eps_rows, live, Zp, P, Up, Gp);
  if (st)
    return st;
  for (size_t r = 0; r < R; r++) {
    if (live && !live[r]) {
      accepted[r] = 0;
      continue;
    }
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

int
infb_ais_hmc_move(infb_ais_potential_fn pot, void *ctx, gsl_rng *const *rng, size_t R,
                  size_t K, size_t L, double eps, const double *eps_rows, double *Z, double *U,
                  double *gradU, double *work, int *accepted)
{
  if (!pot || !rng || !Z || !U || !gradU || !work || !accepted || L == 0)
    return INFB_ERROR(GSL_EINVAL, "AIS HMC move: NULL argument or no leapfrog step");
  return hmc_move_rows(pot, ctx, rng, R, K, L, eps, eps_rows, NULL, Z, U, gradU, work,
                       accepted);
}

/* ---- the annealed potential of a tile's points ----
 * s(z): the start density, N(0, I) (PRIOR) or q = N(μ_q, diag σ_q²) (ENCODER);
 * ℓ(z) = ln p(x, z) − ln s(z) (PRIOR: ln p(x|z));
 * U_β(z) = −ln s(z) − β ℓ(z) = −ln f_β(z), ∇U_β = −∇ln s − β∇ℓ (MATH.md §7).
 * Rows come in slots of `per` rows (a tile: slot s = one point's chains, rows
 * [s·per, (s + 1)·per)); the start density is the slot's point's. */

typedef struct {
  const infb_decoder *dec;
  size_t part;        /* the decoder part to call, SIZE_MAX: dec->fn */
  const double *X;    /* the caller's points */
  size_t *xr;         /* a row of X per decoder row (as many as the most rows of a call) */
  size_t cap;         /* decoder rows per call at most */
  double clip;        /* |∂ ln p(x|z)/∂z_k| ≤ clip (0: none) */
  int encoder;        /* start density q (else the prior) */
  size_t per;         /* rows per slot: row r belongs to slot r / per */
  const double **mu;  /* per slot: μ_q (K) */
  double *iv, *sd;    /* per slot: 1/σ_q², σ_q (K each, slot-major) */
  double *lnq0;       /* per slot: −½ Σ_k (ln σ_q,k² + ln 2π) */
  double *gs;         /* K: scratch */
  double beta;        /* the current target's β */
  double *ell, *gell; /* where the potential stores ℓ (R) and ∇ℓ (R×K) of its rows */
} target;

/* ln s(z) of slot s's start density and its gradient into gs (K). */
static double
start_logdens(const target *g, size_t s, size_t K, const double *z, double *gs)
{
  double a = 0.0;
  if (!g->encoder) {
    for (size_t k = 0; k < K; k++) {
      a += z[k] * z[k];
      gs[k] = -z[k];
    }
    return -0.5 * a - 0.5 * (double)K * log(2.0 * M_PI);
  }
  const double *mu = g->mu[s], *iv = g->iv + s * K;
  for (size_t k = 0; k < K; k++) {
    const double d = z[k] - mu[k];
    a += d * d * iv[k];
    gs[k] = -d * iv[k];
  }
  return g->lnq0[s] - 0.5 * a;
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
    const double lns = start_logdens(g, r / g->per, K, Z + r * K, gu);
    for (size_t k = 0; k < K; k++)
      gu[k] = -gu[k] - b * gell[r * K + k];
    U[r] = isfinite(ell[r]) && all_finite(K, gell + r * K) ? -lns - b * ell[r] : NAN;
  }
}

/* The decoder on R rows (chunks of at most cap rows, at fixed places: a function of R and
 * cap alone) into g->ell, g->gell, turned into ℓ and ∇ℓ (the clip applied to
 * ∂ ln p(x|z)/∂z), then U and ∇U at g->beta. */
static int
potential(void *ctx, size_t R, const double *Z, double *U, double *gradU)
{
  target *g = ctx;
  const infb_decoder *dec = g->dec;
  const size_t K = dec->K;
  for (size_t r0 = 0; r0 < R; r0 += g->cap) {
    const size_t m = R - r0 < g->cap ? R - r0 : g->cap;
    int st = g->part == SIZE_MAX
                 ? dec->fn(dec->self, m, g->X, g->xr + r0, Z + r0 * K, g->ell + r0,
                           g->gell + r0 * K)
                 : dec->fn_part(dec->self, g->part, m, g->X, g->xr + r0, Z + r0 * K,
                                g->ell + r0, g->gell + r0 * K);
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
      const double lnq = start_logdens(g, r / g->per, K, z, gs);
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

/* Slot s's start density: point row `row`'s q (ENCODER; nothing for the prior). */
static void
target_slot(target *g, size_t K, const double *q_mu, const double *q_lv, size_t s,
            size_t row)
{
  if (!g->encoder)
    return;
  const double *lv = q_lv + row * K;
  double *iv = g->iv + s * K, *sd = g->sd + s * K;
  g->mu[s] = q_mu + row * K;
  g->lnq0[s] = 0.0;
  for (size_t k = 0; k < K; k++) {
    iv[k] = exp(-lv[k]);
    sd[k] = exp(0.5 * lv[k]);
    g->lnq0[s] -= 0.5 * (lv[k] + log(2.0 * M_PI));
  }
}

/* The target's per-slot arrays for `slots` slots and a row map of `rows` entries;
 * target_free releases them. */
static int
target_alloc(target *g, size_t K, size_t slots, size_t rows)
{
  g->xr = infb_malloc(rows, sizeof *g->xr);
  g->mu = infb_calloc(slots, sizeof *g->mu);
  g->iv = infb_malloc(2 * slots * K + K + slots, sizeof(double));
  if (!g->xr || !g->mu || !g->iv)
    return GSL_ENOMEM;
  g->sd = g->iv + slots * K;
  g->gs = g->sd + slots * K;
  g->lnq0 = g->gs + K;
  return GSL_SUCCESS;
}

static void
target_free(target *g)
{
  free(g->xr);
  free(g->mu);
  free(g->iv);
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
              .encoder = init == INFB_AIS_ENCODER, .per = R, .beta = beta};
  g.ell = infb_malloc(R, sizeof(double));
  g.gell = infb_malloc(R * K, sizeof(double));
  if ((st = target_alloc(&g, K, 1, R)) || !g.ell || !g.gell) {
    st = GSL_ENOMEM;
    goto done;
  }
  for (size_t r = 0; r < R; r++)
    g.xr[r] = 0;
  target_slot(&g, K, q_mu, q_lv, 0, 0);
  st = potential(&g, R, Z, U, gradU);
done:
  target_free(&g);
  free(g.ell);
  free(g.gell);
  return st;
}

/* ---- one thread's workspace and the chains of one tile ----
 * A tile holds P = tile_points slots; slot s is global point index tile·P + s.  Every
 * decoder call of a phase has P·C' rows (C' the phase's chains), slot s in rows
 * [s·C', (s + 1)·C'); a slot without a running point (absent from this call, or its
 * chains stopped) is padding: z = 0, never moved, its rows' X the tile's first present
 * point, its outputs ignored. */

struct run;

typedef struct {
  target g;
  size_t P, C, K;     /* slots, chains per slot allocated (max of chains and pilot), K */
  gsl_rng **rng;      /* P·C streams, re-seeded per tile */
  double *Z, *U, *gU; /* P·C×K, P·C, P·C×K: the chains' states and U, ∇U at the move's β */
  double *ell, *gell; /* P·C, P·C×K: ℓ and ∇ℓ at the states, carried between moves */
  double *ellp, *gellp; /* P·C, P·C×K: the same at the proposals */
  double *lnw;        /* P·C: log-weights */
  double *step;       /* P·C: each chain's step (online rule) */
  double *eps_rows;   /* P·C: the step of each row's move */
  size_t *acc;        /* P·C: accepted moves per chain */
  int *accepted;      /* P·C: the last move's verdicts */
  unsigned char *live_rows; /* P·C: the row's slot runs */
  double *work;       /* 3·P·C·K + 3·P·C: hmc_move_rows's */
  double *eps;        /* P×T: ε(t) of each slot's point */
  size_t *slot_row;   /* P: the slot's point's row of X, SIZE_MAX: absent */
  size_t *nacc;       /* P: accepted moves of the slot's chains */
  unsigned char *ok, *live; /* P each: the pilot succeeded; the slot runs (this phase) */
  infb_ais_point **res; /* P: the current direction's results (NULL: none) */
  infb_ais_trace **tr;  /* P: the slot's trace (NULL: none) */
  struct run *run;
  int reporter;       /* this thread calls progress */
} ws;

/* What the threads share; the counters are read and written with atomics. */
typedef struct run {
  const infb_decoder *dec;
  const infb_ais_options *o;
  const double *beta; /* T + 1 */
  size_t n, first_index;
  size_t tile0, tiles; /* the first tile touched by the call, and how many */
  const double *X, *q_mu, *q_lv, *zstar;
  infb_ais_point *fwd, *rev;
  infb_ais_trace *trace;
  double *step_out;
  size_t next, done;  /* next tile to start (from 0), points finished */
  int halt;           /* nonzero: every thread stops */
  int progress_st;    /* the progress callback's nonzero return */
  size_t reported;    /* the last count given to the progress callback (+1; 0: none) */
} run;

/* Halt status (never returned to the caller): another thread or the callback stopped. */
#define HALTED (-1000)
/* The calling thread reports progress every this many moves inside a tile as well, and
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
    for (size_t c = 0; c < w->P * w->C; c++)
      if (w->rng[c])
        gsl_rng_free(w->rng[c]);
  free(w->rng);
  target_free(&w->g);
  free(w->Z);
  free(w->U);
  free(w->gU);
  free(w->ell);
  free(w->gell);
  free(w->ellp);
  free(w->gellp);
  free(w->lnw);
  free(w->step);
  free(w->eps_rows);
  free(w->acc);
  free(w->accepted);
  free(w->live_rows);
  free(w->work);
  free(w->eps);
  free(w->slot_row);
  free(w->nacc);
  free(w->ok);
  free(w->res);
  free(w->tr);
}

static int
ws_alloc(ws *w, run *c, size_t part)
{
  const infb_ais_options *o = c->o;
  const size_t K = c->dec->K, T = o->temperatures, P = o->tile_points;
  size_t C = o->chains;
  if (o->adapt == INFB_AIS_PILOT && o->pilot_chains > C)
    C = o->pilot_chains;
  memset(w, 0, sizeof *w);
  w->P = P;
  w->C = C;
  w->K = K;
  w->run = c;
  if (C > SIZE_MAX / 8 / (3 * K + 3) / P || T > SIZE_MAX / 8 / P)
    return INFB_ERROR(GSL_ENOMEM, "AIS: %zu points of %zu chains are too many", P, C);
  const size_t R = P * C;
  const size_t cap = o->chunk_rows < R ? o->chunk_rows : R;
  w->g = (target){.dec = c->dec, .part = part, .X = c->X, .cap = cap, .clip = o->grad_clip,
                  .encoder = o->init == INFB_AIS_ENCODER, .per = C};
  int st = target_alloc(&w->g, K, P, R);
  w->rng = infb_calloc(R, sizeof *w->rng);
  w->Z = infb_malloc(R * K, sizeof(double));
  w->U = infb_malloc(R, sizeof(double));
  w->gU = infb_malloc(R * K, sizeof(double));
  w->ell = infb_malloc(R, sizeof(double));
  w->gell = infb_malloc(R * K, sizeof(double));
  w->ellp = infb_malloc(R, sizeof(double));
  w->gellp = infb_malloc(R * K, sizeof(double));
  w->lnw = infb_malloc(R, sizeof(double));
  w->step = infb_malloc(R, sizeof(double));
  w->eps_rows = infb_malloc(R, sizeof(double));
  w->acc = infb_malloc(R, sizeof(size_t));
  w->accepted = infb_malloc(R, sizeof(int));
  w->live_rows = infb_malloc(R, 1);
  w->work = infb_malloc(3 * R * K + 3 * R, sizeof(double));
  w->eps = infb_malloc(P * T, sizeof(double));
  w->slot_row = infb_malloc(P, sizeof(size_t));
  w->nacc = infb_malloc(P, sizeof(size_t));
  w->ok = infb_malloc(2 * P, 1);
  w->res = infb_malloc(P, sizeof *w->res);
  w->tr = infb_malloc(P, sizeof *w->tr);
  if (st || !w->rng || !w->Z || !w->U || !w->gU || !w->ell || !w->gell || !w->ellp ||
      !w->gellp || !w->lnw || !w->step || !w->eps_rows || !w->acc || !w->accepted ||
      !w->live_rows || !w->work || !w->eps || !w->slot_row || !w->nacc || !w->ok ||
      !w->res || !w->tr)
    return GSL_ENOMEM;
  w->live = w->ok + P;
  for (size_t q = 0; q < R; q++)
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

/* Slot s's chains stop (a number was not finite): its rows become padding. */
static void
slot_stop(ws *w, size_t Cd, size_t s)
{
  w->live[s] = 0;
  memset(w->Z + s * Cd * w->K, 0, Cd * w->K * sizeof(double));
  memset(w->live_rows + s * Cd, 0, Cd);
}

/* Cd chains of each slot with w->live[s] set, in direction dir, in lockstep (one decoder
 * call of P·Cd rows per potential).  FWD and PILOT start from s (prior or q), REV from z*.
 * online: each chain runs the online rule and slot s's ε(t) (w->eps + s·T) receives at
 * t − 1 the geometric mean of its chains' steps used at t; else every chain of the slot
 * uses its frozen ε.  w->res[s] (when res_on and not NULL) and w->tr[s] (when tr_on and
 * not NULL) receive a slot's results; on return w->live[s] is cleared for a slot whose
 * numbers stopped being finite (its chains stop there).  Returns a decoder's status or
 * HALTED. */
static int
run_chains(ws *w, int dir, size_t Cd, int online, int res_on, int tr_on)
{
  const run *c = w->run;
  const infb_ais_options *o = c->o;
  const size_t K = w->K, T = o->temperatures, L = o->leapfrog, P = w->P, R = P * Cd;
  const double *beta = c->beta;
  const char *purpose = dir == DIR_FWD ? "ais" : dir == DIR_REV ? "ais/reverse" : "ais/pilot";
  target *g = &w->g;
  unsigned char *live = w->live;
  size_t nlive = 0, pad = SIZE_MAX;
  int st;
  for (size_t s = 0; s < P && pad == SIZE_MAX; s++)
    pad = w->slot_row[s];
  g->per = Cd;
  for (size_t s = 0; s < P; s++) {
    const size_t row = w->slot_row[s];
    nlive += live[s];
    w->nacc[s] = 0;
    for (size_t q = 0; q < Cd; q++) {
      const size_t r = s * Cd + q;
      double *z = w->Z + r * K;
      g->xr[r] = row != SIZE_MAX ? row : pad;
      w->live_rows[r] = live[s];
      w->lnw[r] = 0.0;
      w->acc[r] = 0;
      w->step[r] = o->step_size;
      if (!live[s]) {
        memset(z, 0, K * sizeof(double));
        continue;
      }
      gsl_rng *rg = w->rng[r];
      infb_rng_reseed(rg, o->seed, purpose, ((uint64_t)(c->first_index + row) << CHAIN_BITS) + q);
      if (dir == DIR_REV)
        memcpy(z, c->zstar + row * K, K * sizeof(double));
      else if (g->encoder)
        for (size_t k = 0; k < K; k++)
          z[k] = g->mu[s][k] + g->sd[s * K + k] * gsl_ran_gaussian_ziggurat(rg, 1.0);
      else
        for (size_t k = 0; k < K; k++)
          z[k] = gsl_ran_gaussian_ziggurat(rg, 1.0);
    }
  }
  if (!nlive)
    return GSL_SUCCESS;
  g->beta = 0.0;
  g->ell = w->ell;
  g->gell = w->gell;
  if ((st = potential(g, R, w->Z, w->U, w->gU)))
    return st;
  for (size_t s = 0; s < P; s++)
    if (live[s] && (!all_finite(Cd, w->ell + s * Cd) || !all_finite(Cd * K, w->gell + s * Cd * K))) {
      slot_stop(w, Cd, s);
      nlive--;
    }
  for (size_t mv = 1; mv <= T && nlive; mv++) {
    const size_t t = dir == DIR_REV ? T + 1 - mv : mv;
    const double db = beta[t] - beta[t - 1];
    /* The weight's increment with the state before the move (forward: z_{t−1};
     * reverse: z_t). */
    if (dir != DIR_PILOT) {
      const double sg = dir == DIR_FWD ? db : -db;
      for (size_t s = 0; s < P; s++) {
        if (!live[s])
          continue;
        double *lnw = w->lnw + s * Cd;
        const double *ell = w->ell + s * Cd;
        for (size_t q = 0; q < Cd; q++)
          lnw[q] += sg * ell[q];
        if (!all_finite(Cd, lnw)) {
          slot_stop(w, Cd, s);
          nlive--;
        }
      }
      if (!nlive)
        break;
    }
    for (size_t s = 0; s < P; s++) {
      if (!live[s])
        continue;
      double *eps = w->eps + s * T;
      if (online)
        eps[t - 1] = geo_mean(Cd, w->step + s * Cd);
      for (size_t q = 0; q < Cd; q++)
        w->eps_rows[s * Cd + q] = online ? w->step[s * Cd + q] : eps[t - 1];
    }
    /* One HMC move leaving f_t (reverse: f_{t−1}) invariant; the proposals' ℓ and ∇ℓ go to
     * ellp, gellp and are kept where the move is accepted. */
    g->beta = dir == DIR_REV ? beta[t - 1] : beta[t];
    g->ell = w->ell;
    g->gell = w->gell;
    assemble(g, R, K, w->Z, w->ell, w->gell, w->U, w->gU);
    g->ell = w->ellp;
    g->gell = w->gellp;
    st = hmc_move_rows(potential, g, w->rng, R, K, L, 0.0, w->eps_rows, w->live_rows, w->Z,
                       w->U, w->gU, w->work, w->accepted);
    if (st)
      return st;
    for (size_t s = 0; s < P; s++) {
      if (!live[s])
        continue;
      size_t nt = 0;
      for (size_t q = s * Cd; q < (s + 1) * Cd; q++)
        if (w->accepted[q]) {
          w->ell[q] = w->ellp[q];
          memcpy(w->gell + q * K, w->gellp + q * K, K * sizeof(double));
          w->acc[q]++;
          nt++;
        }
      w->nacc[s] += nt;
      if (online)
        for (size_t q = s * Cd; q < (s + 1) * Cd; q++) {
          double sq = w->step[q] * ((double)w->acc[q] / (double)mv > o->target_accept
                                        ? o->adapt_up : o->adapt_down);
          w->step[q] = sq < o->step_min ? o->step_min : sq > o->step_max ? o->step_max : sq;
        }
      infb_ais_trace *tr = tr_on ? w->tr[s] : NULL;
      if (tr) {
        const size_t j = trace_row(T, tr->stride, t);
        if (j != SIZE_MAX) {
          const double lm = log_mean_exp(Cd, w->lnw + s * Cd, NULL);
          tr->beta[j] = beta[t];
          tr->logw[j] = dir == DIR_REV ? -lm : lm;
          tr->accept[j] = (double)nt / (double)Cd;
          tr->step[j] = w->eps[s * T + t - 1];
        }
      }
    }
    if (mv % POLL_MOVES == 0 && (st = poll_halt(w)))
      return st;
  }
  for (size_t s = 0; s < P; s++) {
    infb_ais_point *res = res_on ? w->res[s] : NULL;
    if (!live[s] || !res)
      continue;
    double s2;
    const double lm = log_mean_exp(Cd, w->lnw + s * Cd, &s2);
    const double v = s2 - 1.0 / (double)Cd;
    res->log_px = dir == DIR_REV ? -lm : lm;
    res->mc_se = sqrt(v > 0.0 ? v : 0.0);
    res->ess = 1.0 / s2;
    res->low_ess = res->ess < o->ess_min;
    res->accept = (double)w->nacc[s] / ((double)Cd * (double)T);
    res->step_final = w->eps[s * T + T - 1];
    res->status = INFB_AIS_OK;
    if (!isfinite(res->log_px) || !isfinite(res->mc_se) || !isfinite(res->ess))
      point_nan(res);
  }
  return GSL_SUCCESS;
}

/* Every direction asked for, for the points of tile `tile` (global: c->tile0 + tile) that
 * are in the call; *first receives the first one's row and *count their number. */
static int
run_tile(ws *w, size_t tile, size_t *first, size_t *count)
{
  const run *c = w->run;
  const infb_ais_options *o = c->o;
  const size_t T = o->temperatures, P = w->P, K = w->K;
  const size_t i0 = (c->tile0 + tile) * P;
  size_t pad = SIZE_MAX, cnt = 0;
  int st;
  for (size_t s = 0; s < P; s++) {
    const size_t i = i0 + s;
    const size_t row = i >= c->first_index && i - c->first_index < c->n ? i - c->first_index
                                                                       : SIZE_MAX;
    w->slot_row[s] = row;
    w->ok[s] = row != SIZE_MAX;
    if (row != SIZE_MAX) {
      cnt++;
      if (pad == SIZE_MAX)
        pad = row;
    }
  }
  *first = pad;
  *count = cnt;
  for (size_t s = 0; s < P; s++) {
    const size_t row = w->slot_row[s];
    /* An absent slot takes the first point's start density: its rows are padding. */
    target_slot(&w->g, K, c->q_mu, c->q_lv, s, row != SIZE_MAX ? row : pad);
    w->res[s] = NULL;
    w->tr[s] = NULL;
    if (row == SIZE_MAX)
      continue;
    infb_ais_trace *tr = c->trace && c->trace[row].rows ? c->trace + row : NULL;
    w->tr[s] = tr;
    if (tr)
      for (size_t j = 0; j < tr->rows; j++)
        tr->beta[j] = tr->logw[j] = tr->accept[j] = tr->step[j] = NAN;
    for (size_t t = 0; t < T; t++)
      w->eps[s * T + t] = o->adapt == INFB_AIS_FIXED ? o->step_size : NAN;
    if (c->fwd)
      point_nan(c->fwd + row);
    if (c->rev)
      point_nan(c->rev + row);
  }
  if (o->adapt == INFB_AIS_PILOT) {
    memcpy(w->live, w->ok, P);
    if ((st = run_chains(w, DIR_PILOT, o->pilot_chains, 1, 0, 0)))
      return st;
    memcpy(w->ok, w->live, P);
  }
  /* Without a step schedule (the pilot stopped) neither direction can run; otherwise
   * each runs whatever became of the other. */
  if (c->fwd) {
    for (size_t s = 0; s < P; s++)
      w->res[s] = w->slot_row[s] != SIZE_MAX ? c->fwd + w->slot_row[s] : NULL;
    memcpy(w->live, w->ok, P);
    if ((st = run_chains(w, DIR_FWD, o->chains, o->adapt == INFB_AIS_ONLINE, 1, 1)))
      return st;
  }
  if (c->rev) {
    for (size_t s = 0; s < P; s++)
      w->res[s] = w->slot_row[s] != SIZE_MAX ? c->rev + w->slot_row[s] : NULL;
    memcpy(w->live, w->ok, P);
    if ((st = run_chains(w, DIR_REV, o->chains, 0, 1, !c->fwd)))
      return st;
  }
  if (c->step_out)
    for (size_t s = 0; s < P; s++)
      if (w->slot_row[s] != SIZE_MAX)
        memcpy(c->step_out + w->slot_row[s] * T, w->eps + s * T, T * sizeof(double));
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
  if (o->tile_points == 0)
    return INFB_ERROR(GSL_EINVAL, "AIS: tile_points must be ≥ 1");
  return GSL_SUCCESS;
}

/* A thread's status and, for an error of its own, its message and first point. */
typedef struct {
  int st;
  size_t row;
  char msg[512];
} thread_result;

/* Tiles from the shared counter until none is left or a thread stops all. */
static void
thread_tiles(ws *w, thread_result *res)
{
  run *c = w->run;
  res->st = GSL_SUCCESS;
  for (;;) {
    if (__atomic_load_n(&c->halt, __ATOMIC_RELAXED))
      return;
    const size_t tile = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
    if (tile >= c->tiles)
      return;
    size_t first, count;
    int st = run_tile(w, tile, &first, &count);
    if (!st) {
      __atomic_add_fetch(&c->done, count, __ATOMIC_RELAXED);
      st = poll_halt(w);
    }
    if (st) {
      if (st != HALTED) {
        res->st = st;
        res->row = first;
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
  /* The tiles the call touches: global points first_index … first_index + n − 1. */
  const size_t P = o->tile_points, tile0 = first_index / P,
               tiles = (first_index + n - 1) / P - tile0 + 1;

  /* Threads take whole tiles: with a decoder of parts, thread j calls part j (one thread:
   * part 0, so the rows go through the same code whatever the thread count); else dec->fn,
   * one thread. */
  const int parts = dec->fn_part && dec->parts > 0;
  size_t nthr = 1;
#ifdef _OPENMP
  if (parts) {
    nthr = o->threads < dec->parts ? o->threads : dec->parts;
    if (nthr > tiles)
      nthr = tiles;
  }
#endif
  double *beta = infb_malloc(T + 1, sizeof(double));
  ws *w = infb_calloc(nthr, sizeof *w);
  thread_result *res = infb_calloc(nthr, sizeof *res);
  run c = {.dec = dec, .o = o, .n = n, .first_index = first_index, .tile0 = tile0,
           .tiles = tiles, .X = X, .q_mu = q_mu, .q_lv = q_lv, .zstar = zstar, .fwd = fwd,
           .rev = rev, .trace = trace, .step_out = step_out};
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
    thread_tiles(&w[0], &res[0]);
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
        thread_tiles(&w[tid], &res[tid]);
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
