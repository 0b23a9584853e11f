/* Annealed importance sampling with HMC transitions (Neal 2001; MATH.md §7) and its
 * reverse, the upper half of a BDMC sandwich (Grosse, Ghahramani & Adams 2015; §8), over a
 * frozen decoder (infer/qstar.h's infb_decoder), so the same code serves the
 * linear-Gaussian model (exact ln p(x) to test against) and the VAE.
 *
 * Targets f_t(z) = p(z)·p(x|z)^{β_t}, 0 = β_0 < … < β_T = 1, with T = `temperatures`
 * (chains from the prior), or f_t = q(z|x)^{1−β_t}·p(x, z)^{β_t} (chains from the
 * encoder's q = N(μ_q, diag exp(lv_q))).  Forward chain c of point i: z_0 from the start
 * density, ln w = 0; for t = 1..T: ln w += (β_t − β_{t−1})·ℓ(z_{t−1}) (ℓ = ln p(x|z) from
 * the prior, ln p(x, z) − ln q(z|x) from q), then one HMC move leaving f_t invariant:
 * fresh momentum r ~ N(0, I), `leapfrog` steps of size ε(t), Metropolis test on
 * H = U + ½‖r‖².  ln p̂(x) = log-mean-exp of ln w over the chains.
 * Reverse chain (data simulated from the model, z* an exact posterior sample): z_T = z*,
 * ln w = 0; for t = T..1: ln w −= (β_t − β_{t−1})·ℓ(z_t), then one HMC move leaving
 * f_{t−1} invariant with step ε(t); ln p̂_rev = −log-mean-exp of ln w (an upper bound in
 * expectation).  The reverse chains are run only from the prior (init = PRIOR).
 *
 * Step sizes ε(t), t = 1..T (the step of the move at temperature t, both directions):
 * - FIXED:  ε(t) = step_size.
 * - PILOT (valid: the estimating chains' kernels do not depend on their own past):
 *   pilot_chains forward chains of the point on their own streams run the online rule
 *   below; ε(t) = the geometric mean over the pilot chains of the step each used at t.
 *   The estimating chains (forward and reverse) then run with ε(t) frozen.
 * - ONLINE (the authors' code; approximate: E[w] = p(x) no longer holds exactly): each
 *   chain starts at step_size and after each move multiplies its step by adapt_up when its
 *   cumulative acceptance rate (accepted moves / moves so far) is above target_accept,
 *   else by adapt_down, clamped to [step_min, step_max].  Forward only.
 * Gradients of ln p(x|z) are clipped elementwise to ±grad_clip (0: none; leapfrog with a
 * clipped gradient is still reversible and volume-preserving, so the Metropolis test
 * keeps f_t invariant).
 *
 * Randomness: chain c of point i (i = first_index + row) draws from its own stream of
 * INFB_RNG_SAMPLER (core/rng.h): purpose "ais" (forward), "ais/reverse", "ais/pilot",
 * index i·2^24 + c: z_0 (K ziggurat normals, forward from the prior; from q: μ + σ⊙ε),
 * then per move K momentum normals and one uniform for the test.
 *
 * Row tiles (linalg/blas.h, the row contract: a gemm row's value depends on the call's
 * shape and the row's position in it).  Points are grouped by their index into tiles of
 * P = tile_points: point i is slot s = i mod P of tile ⌊i/P⌋.  The points of a tile run in
 * lockstep (the same T, L and schedule; each its own ε(t) from its own pilot chains, its
 * own streams and Metropolis tests), and every decoder call of a tile has the same shape:
 * P·C' rows for a phase of C' chains per point (C' = pilot_chains for the pilot phase,
 * chains for the forward and for the reverse phase), slot s in rows [s·C', (s + 1)·C'),
 * cut into chunks of chunk_rows rows when there are more (chunks at fixed places: a
 * function of P, C' and chunk_rows alone).  A slot whose point is not in the call, or
 * whose chains stopped (NONFINITE), is padding: z = 0, never moved, x the tile's first
 * point in the call (a stopped point: its own), its outputs ignored (no sum runs over a
 * call's rows).  So a point's
 * rows always meet the same calls at the same places, and its result depends only on its
 * own data, streams and the options: bit-identical whatever the points beside it in the
 * call (a tile cut across calls included), their order or the thread count.  P = 1 is one
 * point's chains per call (the behaviour before tiles, bit for bit).
 * Cost: T·leapfrog + 1 decoder forward+backward passes per chain (ln p(x|z) and its
 * gradient at the state are carried from move to move), and as many per pilot chain; the
 * decoder runs the whole tile every time, so a tile with k of its P points in the call
 * costs what P points cost: give a call whole tiles (first_index and n multiples of P)
 * where it can.  Larger tiles make larger gemms, faster per row (measured on the protocol's
 * decoder, C = 16, one thread, OpenBLAS Zen kernels: ×1.22 chain transitions/s at P = 4,
 * ×1.29 at 8, ×1.33 at 16), for P times the per-thread workspace. */
#ifndef INFB_INFER_AIS_H
#define INFB_INFER_AIS_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>
#include "infer/qstar.h"

enum infb_ais_schedule { INFB_AIS_LINEAR = 0, INFB_AIS_SIGMOID = 1 };
enum infb_ais_adapt { INFB_AIS_PILOT = 0, INFB_AIS_ONLINE = 1, INFB_AIS_FIXED = 2 };
enum infb_ais_init { INFB_AIS_PRIOR = 0, INFB_AIS_ENCODER = 1 };

/* A point's status: its numbers are valid (OK) or NAN (the others). */
enum infb_ais_status {
  INFB_AIS_OK = 0,
  INFB_AIS_NONFINITE = 1 /* a log-weight, likelihood or gradient was not finite */
};

typedef struct infb_ais_options {
  size_t chains;        /* C ≥ 1 (100 in the protocol) */
  size_t temperatures;  /* T ≥ 2 (10 000) */
  size_t leapfrog;      /* L ≥ 1 (10) */
  int schedule;         /* enum infb_ais_schedule (LINEAR) */
  double sigmoid_delta; /* δ of the sigmoid schedule (4) */
  double step_size;     /* the starting (ONLINE, PILOT) or only (FIXED) step (0.01) */
  int adapt;            /* enum infb_ais_adapt (PILOT) */
  size_t pilot_chains;  /* PILOT: chains that set ε(t) (≥ 1 with PILOT; 10) */
  double adapt_up, adapt_down; /* the online rule's factors (1.02, 0.98) */
  double target_accept; /* ... its target acceptance rate (0.65) */
  double step_min, step_max; /* ... its clamp ([1e-4, 0.5]); step_size must lie inside */
  double grad_clip;     /* elementwise clip of ∇ ln p(x|z) (1e4; 0: none) */
  int init;             /* enum infb_ais_init (PRIOR) */
  double ess_min;       /* flag a point whose chains' ESS is below this (10) */
  size_t chunk_rows;    /* decoder rows per call at most (≥ 1; 4096) */
  size_t threads;       /* tiles run on min(threads, dec->parts, tiles in the call)
                           threads when the decoder has parts (fn_part; thread j calls part
                           j, and a single thread part 0, so the rows meet the same code
                           whatever the thread count), else on the calling thread with fn
                           (≥ 1; 1) */
  size_t tile_points;   /* P ≥ 1: points per row tile (above; 1).  Threads take whole
                           tiles.  The results depend on P (it sets the calls' shape) but,
                           for a given P, not on the batch, order or threads */
  uint64_t seed;        /* master seed of the streams */
  /* Progress (may be NULL): called from the calling thread only, with the points done
   * so far (of total n): after each tile it finishes (its points finish together), every
   * 64 moves of its chains, and
   * once with done = n at the end unless that was the last call; nonzero stops the run
   * (returned as its status; the results are then unspecified).  The results do not
   * depend on it. */
  int (*progress)(void *ctx, size_t done, size_t total);
  void *progress_ctx;
} infb_ais_options;

/* One direction's result for one point. */
typedef struct infb_ais_point {
  double log_px;      /* ln p̂(x) (forward: lower bound, reverse: upper bound in
                         expectation); NAN unless status is OK */
  double mc_se;       /* delta-method standard error over the chains, sqrt(1/ESS − 1/C)
                         (0 when rounding makes that negative) */
  double ess;         /* the chains' effective sample size (Σw)²/Σw² */
  int low_ess;        /* ess < ess_min */
  double accept;      /* acceptance rate over all moves of all chains */
  double step_final;  /* ε(T) (ONLINE: the geometric mean over chains of the steps they
                         used at T) */
  int status;         /* enum infb_ais_status */
} infb_ais_point;

/* Diagnostics of one point (may be requested for a few): every `stride`-th temperature
 * t = stride, 2·stride, …, ≤ T (and always T), rows = that count; the caller allocates
 * rows entries in each array (infb_ais_trace_rows).  beta[j] = β_t; logw[j] = log-mean-exp
 * over the chains of their ln w after the increment at t (forward; reverse: −that after
 * the decrement at t; the rows are in increasing t either way, the reverse chains filling
 * them from the last row up); accept[j] = the fraction of chains whose move at t was
 * accepted; step[j] = ε(t) (ONLINE: the geometric mean over chains).  Rows a point does
 * not reach (NONFINITE) hold NAN. */
typedef struct infb_ais_trace {
  size_t stride, rows;
  double *beta, *logw, *accept, *step;
} infb_ais_trace;

/* The number of rows a trace of stride `stride` holds for T temperatures (0 for a stride
 * or T of 0). */
size_t infb_ais_trace_rows(size_t T, size_t stride);

/* β_0..β_T into beta (T + 1 values): linear t/T, or sigmoid σ(δ(2t/T − 1)) rescaled so
 * that β_0 = 0 and β_T = 1 exactly.  GSL_EINVAL for T < 2, an unknown schedule, or (sigmoid)
 * a δ that is not finite and positive; δ is not read for the linear schedule. */
int infb_ais_schedule_fill(int schedule, double delta, size_t T, double *beta);

/* AIS for the n points X (n×D, row-major), point index first_index + row (chain c's
 * streams index (first_index + row)·2^24 + c: chains, pilot chains ≤ 2^24).  Tile-major:
 * per tile (above), its points' pilot chains, then their forward, then their reverse
 * chains.
 * - fwd (n entries, or NULL): forward AIS.  q_mu, q_lv (n×K): the encoder's q, needed
 *   (GSL_EINVAL otherwise) when init is ENCODER, ignored otherwise.
 * - zstar (n×K) with rev (n entries): reverse AIS from zstar (both or neither; GSL_EINVAL
 *   with init ENCODER or adapt ONLINE), with the same ε(t) as the forward chains.
 * - trace (n entries or NULL; an entry with rows = 0 is skipped): the forward chains'
 *   diagnostics (of the reverse chains when fwd is NULL).
 * - step_out (n×T or NULL): the ε(t) each point used (ONLINE: geometric mean over chains).
 * - fwd and rev both NULL: GSL_EINVAL.
 * A point whose numbers stop being finite gets status NONFINITE and the others go on: a
 * likelihood or ∇ln p(x|z) at a chain's start, or a log-weight (a proposal with one is
 * rejected); when its pilot chains stop, both directions are NONFINITE and its step_out
 * row holds NAN from there.
 * Returns a status: GSL_EINVAL for invalid options or arguments (chains, leapfrog, pilot
 * chains, chunk_rows, threads or tile_points 0; temperatures < 2; step_size outside
 * [step_min, step_max]; …), a decoder's nonzero status unchanged, ENOMEM; the progress
 * callback's nonzero value.  Allocates once per call (per thread: O(P·C·K) with C the
 * larger of chains and pilot chains), nothing per move. */
int infb_ais_run(const infb_decoder *dec, const infb_ais_options *o, size_t n,
                 const double *X, size_t first_index, const double *q_mu, const double *q_lv,
                 const double *zstar, infb_ais_point *fwd, infb_ais_point *rev,
                 infb_ais_trace *trace, double *step_out);

/* A potential U(z) = −ln f(z) for R independent rows: U (R) and gradU (R×K) at Z (R×K),
 * for the HMC move and the leapfrog below (AIS's own: infb_ais_potential).  A
 * non-finite U marks a point the move never accepts.  Returns a status. */
typedef int (*infb_ais_potential_fn)(void *ctx, size_t R, const double *Z, double *U,
                                     double *gradU);
/* Leapfrog: L steps of size eps from (Z, P) (R×K each, updated in place), with U and gradU
 * (R and R×K) at Z on entry and at the final Z on return; the half steps merged inside
 * (L calls of pot).  Returns the callback's status (GSL_EINVAL for a NULL argument). */
int infb_ais_leapfrog(infb_ais_potential_fn pot, void *ctx, size_t R, size_t K, size_t L,
                      double eps, double *Z, double *P, double *U, double *gradU);

/* One HMC move of R independent chains on pot's target, the move infb_ais_run makes: chain
 * r draws K momentum normals (ziggurat) and then one uniform u from rng[r], runs L leapfrog
 * steps of size eps (eps_rows[r] when eps_rows is not NULL) from its Z row, and moves to
 * the proposal when u < exp(H_old − H_new), H = U + ½‖p‖², rejecting a proposal whose
 * H or gradient is not finite.  Z (R×K), U (R), gradU (R×K): the states and U, ∇U there
 * on entry (finite), the new states on return; accepted (R) receives 1 or 0 per chain;
 * work: 3·R·K + 3·R doubles of scratch.  Returns pot's status (GSL_EINVAL for a NULL
 * argument or L = 0); on error Z, U, gradU are unchanged but the streams have moved. */
int infb_ais_hmc_move(infb_ais_potential_fn pot, void *ctx, gsl_rng *const *rng, size_t R,
                      size_t K, size_t L, double eps, const double *eps_rows, double *Z,
                      double *U, double *gradU, double *work, int *accepted);

/* AIS's potential for one point x (D), for tests: U(z) = −ln s(z) − β·ℓ(z) =
 * −(1 − β) ln s(z) − β ln p(x, z), with s the start density (init PRIOR: N(0, I);
 * ENCODER: q = N(q_mu, diag exp(q_lv)), K each) and ℓ = ln p(x, z) − ln s(z) (all
 * normalised), and gradU its gradient with ∇ln p(x|z) clipped elementwise to ±grad_clip
 * (0: none), for R rows Z (R×K) → U (R), gradU (R×K) (U = NaN where ℓ or ∇ℓ is not
 * finite).  One decoder call of R rows via dec->fn; allocates O(R·K).  GSL_EINVAL for a
 * NULL argument or an unknown init; a decoder's status unchanged. */
int infb_ais_potential(const infb_decoder *dec, const double *x, double beta, int init,
                       const double *q_mu, const double *q_lv, double grad_clip, size_t R,
                       const double *Z, double *U, double *gradU);

/* The protocol's settings: 100 chains, 10 000 linear temperatures, 10 leapfrog steps,
 * ε 0.01, PILOT with 10 pilot chains, ×1.02/×0.98 toward 0.65 within [1e-4, 0.5], clip
 * 1e4, from the prior, ESS flag below 10, chunk 4096, 1 thread, tiles of 1 point, δ 4,
 * seed 0. */
void infb_ais_options_default(infb_ais_options *o);

#endif
