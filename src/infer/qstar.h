/* The per-point optimal fully factorised Gaussian q*(z) = N(μ, diag σ²) with the decoder
 * frozen, found numerically: Adam on the reparameterised ELBO, batched over points and
 * samples, with the stopping rule of Cremer, Li & Duvenaud (2018, PROTOCOL.md): every
 * `check_every` steps compare the mean loss of the last `check_every` steps with the best
 * so far; stop after more than `patience` checks without improvement.  The decoder is a
 * callback, so the same code serves the linear-Gaussian model and the VAE.
 *
 * Per step, for each active point i and sample s: ε ~ N(0, I_K) from the point's own
 * stream ("qstar", i) of the master seed (INFB_RNG_SAMPLER, GSL's taus2: core/rng.h), z = μ + σ⊙ε, and with g = ∂ ln p(x|z)/∂z
 *   ∂ELBO/∂μ      = mean_s g − μ,
 *   ∂ELBO/∂ln σ²  = mean_s (g⊙ε)⊙σ/2 − (σ² − 1)/2,
 * (the KL term in closed form).  The ELBO estimate per step is mean_s ln p(x|z) − KL.
 * ε is drawn with gsl_ran_gaussian_ziggurat, sample-major (for s, for k), S·K draws per
 * step; a point's trajectory depends only on its own x, start, stream and the options,
 * and on the decoder's values for its rows, which (linalg/blas.h, the row contract)
 * depend on the calls they are made in: those are the same for a given share of points
 * (infb_qstar_options.threads), so the results are the same bit for bit on any thread
 * count, and equal a lone point's wherever the decoder computes each row alone. */
#ifndef INFB_INFER_QSTAR_H
#define INFB_INFER_QSTAR_H

#include <stddef.h>
#include <stdint.h>

/* ln p(x|z) for R rows: row r pairs the point X + xrow[r]·D (X: the caller's points,
 * row-major, D each; several rows may share a point, so no point is copied per sample)
 * with Z + r·K (Z: R×K) → logp (R) and, when G is not NULL, G (R×K) = ∂ ln p(x|z)/∂z.
 * Deterministic; returns a status. */
typedef int (*infb_decoder_fn)(void *self, size_t R, const double *X, const size_t *xrow,
                               const double *Z, double *logp, double *G);

/* As infb_decoder_fn, computed by part `part` of the decoder alone: on its own buffers,
 * with no threads of its own, so calls for distinct parts may run concurrently. */
typedef int (*infb_decoder_part_fn)(void *self, size_t part, size_t R, const double *X,
                                    const size_t *xrow, const double *Z, double *logp,
                                    double *G);

typedef struct infb_decoder {
  size_t D, K;        /* observed and latent dimensions */
  infb_decoder_fn fn; /* the likelihood and its z-gradient */
  void *self;         /* passed to fn */
  /* Optional (0 and NULL: none): independent parts, 0 ≤ part < parts, for q* to run its
   * points on several threads without a barrier per step (infb_qstar_options.threads). */
  size_t parts;
  infb_decoder_part_fn fn_part;
} infb_decoder;

typedef struct infb_qstar_options {
  size_t samples;      /* S: reparameterised samples per point per step (≥ 1) */
  double lr;           /* Adam learning rate */
  double beta1, beta2, eps; /* Adam constants */
  size_t max_steps;    /* hard cap on steps per point */
  size_t check_every;  /* steps between stopping checks (100 in the protocol) */
  size_t patience;     /* stop after more than this many checks without improvement (10) */
  size_t eval_samples; /* fresh samples for the final ELBO estimate (5000 in the protocol) */
  size_t batch_points; /* points optimised together (memory: batch_points·samples rows) */
  int init_given;      /* nonzero: start at the caller's MU, LV; zero: at the prior (0, 0) */
  uint64_t seed;       /* master seed; point i uses streams ("qstar", i), ("qstar/eval", i) */
  /* Progress (may be NULL): called from the calling thread after every step, with the
   * number of points stopped so far (so a caller can stop it long before the first point
   * stops: in the protocol that takes some 16 000 steps); a nonzero return stops the
   * optimisation and is returned as its status (MU, LV and out then unspecified). */
  int (*progress)(void *ctx, size_t stopped);
  void *progress_ctx;  /* passed to progress */
  size_t threads;      /* 1 to INFB_QSTAR_MAX_THREADS (OpenMP).  With a decoder of
                        * independent parts (fn_part): the points split into
                        * P = min(parts, batch) contiguous shares (parts, not threads, set
                        * P), each optimised through its share of the batch's slots with no
                        * barrier between steps; min(threads, P) threads run them, thread t
                        * the shares t, t + threads, …, and the calling thread calls
                        * progress.  Otherwise the per-point work of a step (noise,
                        * reparameterisation, gradient reduction, Adam, stopping rule) is
                        * split over the threads and the decoder called once per step, from
                        * the calling thread.  Every point has its own stream and the
                        * decoder calls of a share do not depend on the threads, so the
                        * results are bit-identical for any thread count. */
} infb_qstar_options;

/* The most threads infb_qstar_options.threads takes. */
#define INFB_QSTAR_MAX_THREADS 64

/* Per-point results. */
typedef struct infb_qstar_point {
  double elbo;         /* final ELBO estimate from eval_samples fresh samples */
  double elbo_mc_se;   /* its Monte-Carlo standard error */
  size_t steps;        /* Adam steps taken */
  int stop;            /* INFB_QSTAR_CONVERGED or INFB_QSTAR_MAX_STEPS */
} infb_qstar_point;

enum { INFB_QSTAR_CONVERGED = 0, INFB_QSTAR_MAX_STEPS = 1 };

/* Optimise q* for the n points X (n×D, row-major).  MU and LV (n×K: means and ln σ²) are
 * read as the start when init_given and always receive the optimum; out[n] the per-point
 * results.  Point index i (for the rng streams) is first_index + row, so a subset of a
 * dataset reproduces the numbers of the whole.  Allocates its workspace once per call
 * (nothing per step).  Returns a status: GSL_EDOM naming the point and step if an ELBO or
 * gradient is not finite.
 *
 * Details of the contract:
 * - Step t (1-based) evaluates the loss −(ELBO estimate) and the gradient at the current
 *   (μ, ln σ²), then takes one Adam step (per-point m, v and bias correction with t).
 *   After step t, if t % check_every == 0 the mean loss of steps t−check_every+1..t is
 *   compared with the best such mean so far (strictly smaller is an improvement; the
 *   first check always is); stop with INFB_QSTAR_CONVERGED when the number of
 *   consecutive checks without improvement exceeds patience, else with
 *   INFB_QSTAR_MAX_STEPS when t == max_steps.  max_steps == 0 takes no step.  MU, LV
 *   receive the last iterate.
 * - Up to batch_points points are optimised together (one decoder call of
 *   (active points)·samples rows per step); a point that stops is replaced by the next
 *   one, and the batch shrinks once no point is left.
 * - out[i].elbo, out[i].elbo_mc_se: infb_qstar_elbo_mc with eval_samples samples from
 *   streams ("qstar/eval", first_index + row), computed in chunks of at most
 *   batch_points·samples decoder rows (the bitwise values do not depend on the chunking).
 * - Memory: batch_points·samples·(3K + 1) doubles and as many row indices, plus
 *   O(n + batch_points·K), twice that when split into parts (the final evaluation keeps
 *   chunks of batch_points·samples rows); the points are read in place (xrow).
 * - Errors: GSL_EINVAL for NULL arguments, D or K == 0, samples, check_every or
 *   batch_points == 0, eval_samples < 2, lr or eps not finite and > 0, β outside [0, 1);
 *   GSL_EDOM with the message "q* point I, step T: the ELBO is not finite" (or "... the
 *   ELBO gradient is not finite"; I is first_index + row, T the 1-based step); a
 *   decoder's nonzero status passes through unchanged.  On error MU, LV and out are
 *   unspecified. */
int infb_qstar_optimize(const infb_decoder *dec, const infb_qstar_options *opt, size_t n,
                        const double *X, size_t first_index, double *MU, double *LV,
                        infb_qstar_point *out);

/* Monte-Carlo ELBO of the given q (MU, LV: n×K) with S samples per point from streams
 * (purpose, first_index + row) of INFB_RNG_SAMPLER (core/rng.h): out_elbo[n], out_se[n] (standard error of the mean over
 * samples).
 * Each sample is ln p(x|z_s) − KL(q‖N(0,I)), z_s = μ + σ⊙ε_s, ε_s drawn as in the
 * optimiser (ziggurat, sample-major); the KL is in closed form, so out_se is the sample
 * standard deviation of ln p(x|z_s) (divisor S − 1) over √S.  One decoder call per point
 * (S rows of memory; G is not requested).  GSL_EINVAL for NULL arguments or S < 2;
 * GSL_EDOM "q* point I: the ELBO estimate from S samples is not finite". */
int infb_qstar_elbo_mc(const infb_decoder *dec, size_t n, const double *X, const double *MU,
                       const double *LV, size_t S, uint64_t seed, const char *purpose,
                       size_t first_index, double *out_elbo, double *out_se);

/* The optimiser's per-step estimate for one point with given noise, exposed for gradient
 * checks: x (D), mu, lv (K), eps (S×K, row-major) → elbo = mean_s ln p(x|z_s) − KL with
 * z_s = μ + σ⊙ε_s, and gmu, glv (K each) its exact gradient with respect to μ and ln σ²
 * at fixed ε (the formulas above; the optimiser runs the same code on its batch).  Either
 * gradient pointer may be NULL (then the decoder is still asked for G).  Allocates
 * S·(2K + 1) doubles and S row indices.  GSL_EINVAL for bad arguments, GSL_EDOM "q* gradient: the ELBO is
 * not finite" (or "... gradient is not finite"). */
int infb_qstar_grad(const infb_decoder *dec, const double *x, const double *mu,
                    const double *lv, size_t S, const double *eps, double *elbo, double *gmu,
                    double *glv);

/* Defaults of the protocol: S = 50, lr = 1e-3, β = (0.9, 0.999), ε = 1e-8 (Adam's usual;
 * the protocol's 1e-4 is for training), check_every 100, patience 10, max_steps 100000,
 * eval_samples 5000, batch_points 100, prior init. */
void infb_qstar_options_default(infb_qstar_options *o);

#endif
