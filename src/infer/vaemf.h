/* The VAE's decoder trained without an encoder: variational EM with a fully factorised
 * Gaussian q(z_i) = N(μ_i, diag exp(ℓ_i)) of its own for every training point (the
 * non-amortised counterpart of the VAE; Cremer, Li & Duvenaud 2018; MATH.md §5–6).
 *
 * Per minibatch (f32 hot path, nn/vae.h):
 *   local step  — local_steps Adam steps on the batch's λ_i = (μ_i, ℓ_i), decoder frozen,
 *                 on each point's own objective
 *                   L_i(λ_i) = mean_s ln p(x_i|z_is) + E_q[ln p(z)] − β·E_q[ln q(z)],
 *                   z_is = μ_i + σ_i⊙ε_is,  σ_i = exp(ℓ_i/2),
 *                 with the prior and entropy terms in closed form (as nn/vae.h's objective):
 *                   E_q[ln p(z)] = −½ Σ_k (μ_k² + σ_k²) − (K/2) ln 2π,
 *                   −E_q[ln q(z)] = ½ Σ_k (1 + ln 2π + ℓ_k),
 *                 and, with g_is = ∂ ln p(x_i|z)/∂z at z_is,
 *                   ∂L_i/∂μ_i = mean_s g_is − μ_i,
 *                   ∂L_i/∂ℓ_i = mean_s (g_is⊙ε_is)⊙σ_i/2 − σ_i²/2 + β/2;
 *   global step — one Adam step on the decoder's segment of the slab, minimising
 *                 −(1/B) Σ_i mean_s ln p(x_i|z_is) at the updated λ and fresh noise
 *                 (infb_vae_decoder_train_f32 with coef −1/(B·S)).
 * β is the entropy warm-up and the decoder's learning rate follows the schedule of the
 * amortised trainer (infb_vaetrain_beta, infb_vaetrain_rate).  The caller drives the loop:
 * _alloc, _epoch repeatedly, _free.  No allocation per step. */
#ifndef INFB_INFER_VAEMF_H
#define INFB_INFER_VAEMF_H

#include <stddef.h>
#include <stdint.h>
#include "infer/vaetrain.h"
#include "nn/vae.h"

typedef struct infb_vaemf_options {
  infb_vaetrain_options train; /* the decoder's training as in the amortised trainer: batch,
                                  samples (S per point for the local and the global step),
                                  lr, schedule, Adam's beta1, beta2, eps (also λ's),
                                  warmup_epochs, weight_decay (the decoder's weights only),
                                  dynamic, nonfinite; train.seed is the master seed of the
                                  streams ("vaemf/init", 0), ("vaemf/batch", e),
                                  ("vaemf/noise", e), ("vaemf/binarize", e) */
  size_t local_steps;          /* Adam steps on each minibatch's λ per decoder step (≥ 1) */
  double local_lr;             /* λ's Adam learning rate (> 0; not scheduled) */
  int frozen_decoder;          /* nonzero: local steps only, the decoder is never updated
                                  (refining λ for a fixed decoder; tests) */
} infb_vaemf_options;

typedef struct infb_vaemf infb_vaemf;

/* A variational-EM trainer for v's decoder on the N training images X (N×D floats in
 * [0, 1]: binarised for static binarisation, or the grey levels to draw from when
 * train.dynamic), borrowed and outliving the trainer.  Every λ_i starts at the prior,
 * μ_i = 0, ℓ_i = 0, with zero Adam moments.  Initialises v's parameters (encoder, unused,
 * then decoder: infb_vae_init_f32) from ("vaemf/init", 0) unless fresh == 0 (a loaded
 * checkpoint).  Apart from that initialisation the trainer never reads or writes v's
 * encoder.  v must hold min(batch, N)·samples rows (infb_vae_alloc_f32 with max_batch ≥
 * min(batch, N) and max_samples ≥ samples), otherwise the first step fails with
 * GSL_EBADLEN.  NULL (error raised) for NULL arguments, N = 0, bad options (those of the
 * amortised trainer, local_steps = 0, local_lr not finite and > 0) or out of memory.
 * Memory: 6·N·K floats for λ and its moments plus O(batch·samples·(D + K)). */
infb_vaemf *infb_vaemf_alloc(infb_vae_f32 *v, size_t N, const float *X,
                             const infb_vaemf_options *o, int fresh);
void infb_vaemf_free(infb_vaemf *t); /* NULL is a no-op */

/* Run one epoch.  *mean_elbo (may be NULL) receives the mean over the points of the
 * applied steps of the β-weighted objective L_i, evaluated in each step's global pass
 * (after the local steps, before the decoder moves; with frozen_decoder, in an extra
 * forward pass at the same place); NaN when every step was discarded.
 *
 * Details:
 *  - Epochs are counted from 0.  Epoch e permutes 0…N−1 (the identity shuffled by
 *    gsl_ran_shuffle) with ("vaemf/batch", e); when dynamic, binarises the images with
 *    ("vaemf/binarize", e) as the amortised trainer does (one uniform u per pixel,
 *    row-major over the N × D images, x = (u < grey)); takes minibatches in order, the
 *    last one holding the N mod batch remaining points.  Noise comes from
 *    ("vaemf/noise", e): per step, local_steps blocks then one global block (also with
 *    frozen_decoder), each the B·S × K draws gsl_ran_gaussian_ziggurat(r, 1) in
 *    row-major order (row i·S + s is sample s of the batch's point i), drawn even for a
 *    step that is then discarded.
 *  - λ_i's Adam (nn/adam.h's update, elementwise, in double): its own moments m, v (2K
 *    each) and step count t_i, so the bias corrections use the number of local steps
 *    point i has taken; the rate is local_lr·2^−halvings.  The decoder's Adam runs over
 *    the decoder's segment of the slab only (one step count), at
 *    infb_vaetrain_rate(&train, e)·2^−halvings, after adding (weight_decay/N)·θ to the
 *    segment's gradient.
 *  - A step is non-finite when any of its local objectives or λ gradients, its global
 *    objective or any entry of the decoder's gradient is NaN or infinite.  Nothing of it
 *    is applied then (λ, the moments of its points, the decoder and its Adam state stay
 *    as before the step) and the policy of the amortised trainer applies: abort (GSL_EDOM
 *    "epoch E, step S: the loss is not finite; lower [train] lr or [meanfield] local_lr,
 *    or set [train] nonfinite = skip" — "the gradient" when only a gradient is; the epoch
 *    is not counted), skip (counted in _skipped) or halve (both rates halved for the rest
 *    of training, counted in _halvings).
 * Other errors: those of the decoder passes. */
int infb_vaemf_epoch(infb_vaemf *t, double *mean_elbo);
size_t infb_vaemf_epochs_done(const infb_vaemf *t);
double infb_vaemf_lr(const infb_vaemf *t);   /* the decoder's rate of epoch _epochs_done() */
size_t infb_vaemf_skipped(const infb_vaemf *t);
size_t infb_vaemf_halvings(const infb_vaemf *t);

/* The training points' variational parameters: MU and LV (N×K each, row i = point i's
 * μ_i and ℓ_i = ln σ_i²), owned by t and valid until the next _epoch or _free. */
const float *infb_vaemf_mu(const infb_vaemf *t);
const float *infb_vaemf_lv(const infb_vaemf *t);

/* The local objective and its λ-gradient, exposed for finite-difference checks (double
 * build; the trainer runs the same code after its float decoder pass): for B points X
 * (B×D) with λ = (MU, LV) (B×K each), noise E (B·S × K, row i·S + s) and warm-up beta,
 * obj[i] = L_i and GMU, GLV (B×K) = ∂L_i/∂μ_i, ∂L_i/∂ℓ_i (formulas at the top; any of
 * obj, GMU, GLV may be NULL).  v must hold B·S rows.  Allocates its scratch per call.
 * GSL_EINVAL for NULL inputs, B or S = 0, beta outside [0, 1]; the decoder's errors. */
int infb_vaemf_local_f64(infb_vae_f64 *v, size_t B, size_t S, const double *X,
                         const double *MU, const double *LV, const double *E, double beta,
                         double *obj, double *GMU, double *GLV);

#endif
