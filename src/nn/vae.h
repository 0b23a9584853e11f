/* The variational autoencoder with a Bernoulli decoder (Kingma & Welling 2014; MATH.md §5):
 *   encoder  x (D) → MLP → (μ, ln σ²) (2K)          q(z|x) = N(μ, diag σ²)
 *   decoder  z (K) → MLP → logits l (D)             p(x|z) = Π_d Bern(x_d; σ(l_d))
 *   ln p(x|z) = Σ_d [x_d l_d − softplus(l_d)],  prior z ~ N(0, I).
 * One parameter slab [encoder | decoder] and one gradient slab of the same layout, with a
 * layout table (the encoder's and the decoder's entries, prefixed "enc." and "dec.").
 *
 * Batched over points AND samples: every pass runs the decoder on the (B·S) rows of
 * (point, sample) pairs in one gemm per layer; row r = i·S + s is sample s of point i.
 * The noise ε (B·S × K) is an input drawn by the caller, so every pass is deterministic
 * and gradient checks are exact.  Workspaces are sized at _alloc (max_batch points ×
 * max_samples samples); no pass allocates.  Sums over pixels and points are accumulated
 * in double in both precisions.
 *
 * Written once over infb_real and compiled twice (nn/real.h): infb_vae_*_f32 is the hot
 * path, infb_vae_*_f64 serves the finite-difference checks. */
#ifndef INFB_NN_VAE_H
#define INFB_NN_VAE_H

#include <stddef.h>
#include <gsl/gsl_rng.h>
#include "nn/real.h"
#include "nn/act.h"
#include "nn/mlp.h"

/* The architecture of a VAE. */
/* The most parts a VAE splits its passes into (vae_set_parts). */
#define INFB_VAE_MAX_PARTS 64
/* The default of vae_set_block_rows: a tuning parameter, not a result.  1024 rows of 784
 * float logits are 3.2 MB; on the bench machine (bench/RESULTS.md) 1000-row blocks were
 * a few per cent faster than 256 or 5000 (the gemm's efficiency against the logits'
 * cache residence). */
#define INFB_VAE_BLOCK_ROWS 1024

typedef struct infb_vae_arch {
  size_t D;                 /* observed dimension (784 for 28×28 images) */
  size_t K;                 /* latent dimension */
  size_t nenc, ndec;        /* hidden layers of the encoder and the decoder */
  size_t enc_hidden[8];     /* their widths */
  size_t dec_hidden[8];
  enum infb_act act;        /* hidden activation (ELU in the protocol) */
} infb_vae_arch;

#define INFB_NN_VAE_T
#define INFB_NN_TBITS 32
#include "nn/real.h"
#include "nn/vae.h"
#undef INFB_NN_TBITS
#define INFB_NN_TBITS 64
#include "nn/real.h"
#include "nn/vae.h"
#undef INFB_NN_TBITS
#undef INFB_NN_VAE_T
#include "nn/real.h"

#elif defined(INFB_NN_VAE_T) /* the template part, instantiated once per precision */

typedef struct INFB_NN(vae) INFB_NN(vae);

/* A VAE for batches of up to max_batch points × max_samples samples.  Parameters zero
 * (call _init).  NULL (error raised) for an invalid architecture or out of memory.
 * Valid: D, K ≥ 1, nenc, ndec ≤ 8 (0: a linear encoder/decoder), every used hidden width
 * ≥ 1, a valid act, max_batch, max_samples ≥ 1.  The encoder is the MLP
 * [D, enc_hidden…, 2K] (outputs μ then ln σ²), the decoder [K, dec_hidden…, D]; both
 * hold workspaces for max_batch·max_samples rows. */
INFB_NN(vae) *INFB_NN(vae_alloc)(const infb_vae_arch *arch, size_t max_batch,
                                  size_t max_samples);
void INFB_NN(vae_free)(INFB_NN(vae) *v); /* NULL is a no-op */
/* U(±1/√fan_in) for every weight and bias (the protocol), encoder then decoder. */
int INFB_NN(vae_init)(INFB_NN(vae) *v, gsl_rng *rng);

/* Parts: every pass below (_quadrature: its dot products) is split into P parts by points
 * (or rows), part t computed by a worker copy of the network that shares this one's
 * parameter slab and has its own workspaces and gradient slab; backward passes then add
 * the workers' gradients into this network's slab in part order.  The parts are run by
 * the run threads (vae_set_run_threads), never more than P; what a part computes does not
 * depend on the thread that runs it, so the results depend on P (sums split over parts,
 * gemms over other row counts) but are bit-identical for any number of run threads.
 * Each gemm stays single-threaded: set OpenBLAS to one thread (infb_blas_set_threads)
 * when P > 1.  P from 1 (the default; no workers) to INFB_VAE_MAX_PARTS; the workers
 * cost P − 1 times the workspaces.  GSL_EINVAL for a P out of range, GSL_ENOMEM. */
int INFB_NN(vae_set_parts)(INFB_NN(vae) *v, size_t P);
size_t INFB_NN(vae_parts)(const INFB_NN(vae) *v);
/* The OpenMP threads that run the parts: T ≤ INFB_VAE_MAX_PARTS (GSL_EINVAL beyond), 0
 * (the default) for one per part.  vae_run_threads: the threads a pass of all P parts
 * uses, min(T, P). */
int INFB_NN(vae_set_run_threads)(INFB_NN(vae) *v, size_t T);
size_t INFB_NN(vae_run_threads)(const INFB_NN(vae) *v);
/* IWAE (vae_iwae) decodes its points × samples rows in blocks of at most `rows` rows
 * (default INFB_VAE_BLOCK_ROWS), so that each block's logits are still in cache when the
 * likelihood reads them; the results do not depend on it beyond rounding of the gemms.
 * Applies to the workers too.  GSL_EINVAL for 0. */
int INFB_NN(vae_set_block_rows)(INFB_NN(vae) *v, size_t rows);

/* The slabs and their layout (as nn/mlp.h). */
infb_real *INFB_NN(vae_params)(INFB_NN(vae) *v, size_t *n);
infb_real *INFB_NN(vae_grads)(INFB_NN(vae) *v, size_t *n);
const struct infb_nn_tensor *INFB_NN(vae_layout)(const INFB_NN(vae) *v, size_t *count);
void INFB_NN(vae_zero_grad)(INFB_NN(vae) *v);
const infb_vae_arch *INFB_NN(vae_arch)(const INFB_NN(vae) *v);

/* The encoder alone: MU, LV (B × K) for X (B × D), 1 ≤ B ≤ max_batch·max_samples. */
int INFB_NN(vae_encode)(INFB_NN(vae) *v, size_t B, const infb_real *X, infb_real *MU,
                        infb_real *LV);

/* The training objective for B points X (B × D, entries in [0, 1]; 0/1 when binarised)
 * with S samples each and noise E (B·S × K):
 *   per point  L_i = mean_s [ln p(x_i|z_is) + ln p(z_is) − beta·ln q(z_is|x_i)],
 *   z_is = μ_i + σ_i⊙ε_is,
 * where beta ∈ [0, 1] is the entropy warm-up of the protocol (beta = 1: the ELBO).
 * Choice: the ln p(z) − beta·ln q(z|x) part is taken in closed form (its expectation
 * under q, for every beta; lower variance, same expected objective and gradient):
 *   E_q[ln p(z)] = −½ Σ_k (μ_k² + σ_k²) − (K/2) ln 2π,
 *   E_q[−ln q(z|x)] = ½ Σ_k (1 + ln 2π + ln σ_k²),
 * so at beta = 1 the sum is −KL(q ‖ N(0, I)); only ln p(x|z) is sampled.
 * *sum receives Σ_i L_i (double).  When backward is nonzero the gradient of −Σ_i L_i / B
 * (the minibatch loss to minimise) is ACCUMULATED into the gradient slab: through the
 * decoder, then the reparameterisation (∂z/∂μ = 1, ∂z/∂ln σ² = ½σ⊙ε) and the closed-form
 * terms, then the encoder.  Needs 1 ≤ B·S ≤ max_batch·max_samples (GSL_EBADLEN) and
 * beta ∈ [0, 1] (GSL_EDOM). */
int INFB_NN(vae_elbo)(INFB_NN(vae) *v, size_t B, const infb_real *X, size_t S,
                      const infb_real *E, double beta, int backward, double *sum);

/* Per-point ELBO estimates (beta = 1) for B points with S samples: out[i] = mean_s of
 * ln p(x_i, z_is) − ln q(z_is|x_i) (every term sampled, no closed form), and se[i] its
 * standard error over samples, sd/√S with the S − 1 denominator (NaN when S = 1; se may
 * be NULL).  Forward only.  1 ≤ B·S ≤ max_batch·max_samples. */
int INFB_NN(vae_elbo_points)(INFB_NN(vae) *v, size_t B, const infb_real *X, size_t S,
                             const infb_real *E, double *out, double *se);

/* The decoder as a frozen likelihood: ln p(x|z) for R rows (X R×D row-aligned with
 * Z R×K) into logp (double), and when G is not NULL, G (R×K) = ∂ ln p(x|z)/∂z.
 * 1 ≤ R ≤ max_batch·max_samples.  The gradient slab is untouched.  The decoder callback
 * of the numeric q* (infer/qstar.h). */
int INFB_NN(vae_decoder_loglik)(INFB_NN(vae) *v, size_t R, const infb_real *X,
                                const infb_real *Z, double *logp, infb_real *G);
/* As _decoder_loglik with row r's point X + xrow[r]·D (X: the points, row-major; rows may
 * share a point, as a point's samples do in q*): no copy of X per row. */
int INFB_NN(vae_decoder_loglik_rows)(INFB_NN(vae) *v, size_t R, const infb_real *X,
                                     const size_t *xrow, const infb_real *Z, double *logp,
                                     infb_real *G);
/* The decoder's parameters transposed for a frozen decoder (mlp_transpose): WT of
 * vae_decoder_nparams entries, the caller's, a snapshot of the current parameters.
 * Returns GSL_SUCCESS, or GSL_EINVAL (raised) when WT is NULL. */
size_t INFB_NN(vae_decoder_nparams)(const INFB_NN(vae) *v);
int INFB_NN(vae_decoder_transpose)(const INFB_NN(vae) *v, infb_real *WT);
/* As _decoder_loglik_rows with the forward pass on WT (from _decoder_transpose, taken from
 * the current parameters; the backward reads the parameters themselves): the same values
 * up to float rounding, faster where no-transpose gemms are (linalg/blas.h).  WT NULL:
 * exactly _decoder_loglik_rows. */
int INFB_NN(vae_decoder_loglik_rows_t)(INFB_NN(vae) *v, const infb_real *WT, size_t R,
                                       const infb_real *X, const size_t *xrow,
                                       const infb_real *Z, double *logp, infb_real *G);
/* As _decoder_loglik_rows, computed by part `part` (0 ≤ part < vae_parts(v), else
 * GSL_EINVAL) of v's threads alone: on that part's own buffers, with no threads of its
 * own, so calls for distinct parts may run concurrently (the parameters are shared and only
 * read).  q* runs its points in independent shares this way (infer/qstar.h). */
int INFB_NN(vae_decoder_loglik_part)(INFB_NN(vae) *v, size_t part, size_t R,
                                     const infb_real *X, const size_t *xrow,
                                     const infb_real *Z, double *logp, infb_real *G);
/* As _decoder_loglik_part with the forward pass on WT as in _decoder_loglik_rows_t. */
int INFB_NN(vae_decoder_loglik_part_t)(INFB_NN(vae) *v, const infb_real *WT, size_t part,
                                       size_t R, const infb_real *X, const size_t *xrow,
                                       const infb_real *Z, double *logp, infb_real *G);

/* The decoder as a trainable likelihood (variational EM with per-point q, no encoder):
 * logp[r] = ln p(x_r|z_r) for R rows (X R×D row-aligned with Z R×K), and the gradient of
 * coef·Σ_r ln p(x_r|z_r) ACCUMULATED into the decoder's segment of the gradient slab
 * (the encoder's segment untouched); when G is not NULL, G (R×K) = coef·∂ ln p(x_r|z_r)/∂z_r
 * (overwritten).  Pass coef = −1/B to accumulate the gradient of a minibatch loss.
 * 1 ≤ R ≤ max_batch·max_samples (GSL_EBADLEN). */
int INFB_NN(vae_decoder_train)(INFB_NN(vae) *v, size_t R, const infb_real *X,
                               const infb_real *Z, double coef, double *logp, infb_real *G);

/* The decoder's Bernoulli means: P (R×D) = σ(logits) for the R latent rows Z (R×K), e.g.
 * reconstructions (Z = the encoder's μ) and samples from the prior (Z ~ N(0, I)).
 * 1 ≤ R ≤ max_batch·max_samples (GSL_EBADLEN); P is the caller's; slabs untouched. */
int INFB_NN(vae_decode)(INFB_NN(vae) *v, size_t R, const infb_real *Z, infb_real *P);

/* IWAE-k (Burda et al. 2016; MATH.md §5) for B points with the proposal
 * q(z|x) = N(MU_i, diag exp(LV_i)) (the encoder's when MU == NULL): draws k samples per
 * point from rng in chunks of max_samples, w_j = p(x, z_j)/q(z_j|x), and
 *   out[i] = ln (1/k) Σ_j w_j   (log-sum-exp with the max subtracted, streaming),
 *   se[i]  = sqrt(Σ_j w̃_j² − 1/k)   (delta method, w̃ the normalised weights).
 * The draws for point i come from rng in order; the caller passes a per-point stream.
 * Details: MU and LV (B × K) are both given or both NULL (GSL_EINVAL); se may be NULL;
 * any B ≥ 1 (points are processed in groups that fill the workspace); k ≥ 1.  Point i's
 * noise is ε_j ~ N(0, I_K) by gsl_ran_gaussian_ziggurat(rngs[i], 1), sample after sample,
 * dimension after dimension, so the results do not depend on max_batch or max_samples
 * (up to the rounding of the log-sum-exp). */
int INFB_NN(vae_iwae)(INFB_NN(vae) *v, size_t B, const infb_real *X, const infb_real *MU,
                      const infb_real *LV, size_t k, gsl_rng *const *rngs, double *out,
                      double *se);
/* vae_iwae that also returns the raw log-weights (e.g. for infer/psis's Pareto k̂):
 * lw (B × k, the caller's; may be NULL, which is vae_iwae) row i = point i's
 * ln w_j = ln p(x_i, z_j) − ln q(z_j|x_i), j = 0..k−1 in draw order, so that out[i] is
 * their log-sum-exp minus ln k.  The same draws, out and se as vae_iwae. */
int INFB_NN(vae_iwae_lw)(INFB_NN(vae) *v, size_t B, const infb_real *X, const infb_real *MU,
                         const infb_real *LV, size_t k, gsl_rng *const *rngs, double *out,
                         double *se, double *lw);

/* K = 2 only: ln p(x) = ln ∫ p(x|z) N(z; 0, I) dz by the midpoint rule on an n×n grid over
 * [−L, L]², the decoder run on the grid in batches, log-sum-exp over cells.  out[B].
 * Details: cell centres z_ab = (−L + (a + ½)h, −L + (b + ½)h), h = 2L/n, and
 *   out[i] = ln Σ_ab p(x_i|z_ab) N(z_ab; 0, I) h²;
 * the decoder runs once per cell for all B points (any B ≥ 1: pass them all at once), and
 * the x·l terms of all points and cells are dgemms in double, split by points over the
 * threads (vae_set_parts).  Unlike the other passes it allocates, once per call, double
 * copies of X and of 256 cells' logits and B × 256 doubles of products.  GSL_EINVAL when
 * K ≠ 2, n = 0 or L is not finite and positive; GSL_ENOMEM. */
int INFB_NN(vae_quadrature)(INFB_NN(vae) *v, size_t B, const infb_real *X, double L,
                            size_t n, double *out);

/* Extension (the kernel of every pass, exposed for tests and timing): for one row of D
 * pixels, returns Σ_d [x_d l_d − softplus(l_d)] accumulated in double (x NULL: all
 * x_d = 0, i.e. −Σ_d softplus(l_d)), and when dl is not NULL OVERWRITES
 * dl_d = coef·(x_d − σ(l_d)) (dl must not overlap x or l), where
 *   softplus(l) = max(l, 0) + log1p(t),  σ(l) = 1/(1 + t) (l ≥ 0), t/(1 + t) (l < 0),
 *   t = e^−|l| ∈ [0, 1]  (no overflow for any l).
 * vector = 1: the SIMD kernel every pass uses, the best this CPU has (float: AVX-512, 16
 * floats with the inline exp of nn/vmath512.h, or AVX2 + FMA, 8 floats with SLEEF's expf;
 * both with a series log1p on [0, 1]; double: 4 doubles with SLEEF's exp and log1p);
 * vector = 2: the AVX2 + FMA kernel even where AVX-512 is available (for tests); vector = 0,
 * or no AVX2: the portable kernel (libm expf/log1pf or exp/log1p).  All are within a few
 * ulp of libm (tests/nn/vae-t). */
double INFB_NN(vae_bernoulli_loglik)(size_t D, const infb_real *x, const infb_real *l,
                                     infb_real *dl, double coef, int vector);
/* The SIMD kernel this CPU runs (checked at run time): 2 for AVX-512 (the float build
 * only: 16 floats with SLEEF's expf16, then the AVX2 kernel on what is left), 1 for AVX2
 * and FMA, 0 for none (the portable kernel). */
int INFB_NN(vae_simd)(void);

#endif
