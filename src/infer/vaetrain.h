/* Training a VAE (nn/vae.h, float32) on binarised images, and its checkpoints.
 *
 * Protocol (PROTOCOL.md): Adam (β1, β2, ε configurable), minibatches from a seeded
 * permutation per epoch, S samples per point, the IWAE learning-rate schedule
 * lr·10^(−i/7) for 3^i epochs (i = 0…7) or a constant rate, and the entropy warm-up
 * β = min(1, epoch/warmup_epochs).  Dynamic binarisation redraws the training images every
 * epoch from the stream ("vae/binarize", epoch).  The caller drives the loop (GSL style):
 * _alloc, then _epoch repeatedly (each returns after one epoch, so the runner can print,
 * checkpoint and stop), _free.  No allocation per step. */
#ifndef INFB_INFER_VAETRAIN_H
#define INFB_INFER_VAETRAIN_H

#include <stddef.h>
#include <stdint.h>
#include "nn/vae.h"

enum { INFB_SCHEDULE_CONSTANT = 0, INFB_SCHEDULE_IWAE = 1 };
/* What to do when a step's loss or gradient is not finite. */
enum { INFB_NONFINITE_ABORT = 0, INFB_NONFINITE_SKIP = 1, INFB_NONFINITE_HALVE = 2 };

typedef struct infb_vaetrain_options {
  size_t batch;          /* minibatch size */
  size_t samples;        /* S per point per step */
  double lr;             /* base learning rate */
  int schedule;          /* INFB_SCHEDULE_* */
  double beta1, beta2, eps; /* Adam */
  size_t warmup_epochs;  /* β = min(1, epoch/warmup_epochs); 0: no warm-up */
  double weight_decay;   /* λ ≥ 0: Gaussian prior on all weights, coupled: (λ/N)θ */
  int dynamic;           /* redraw the binarisation every epoch (needs the raw images) */
  int nonfinite;         /* INFB_NONFINITE_* */
  uint64_t seed;         /* master seed: streams ("vae/init", 0), ("vae/batch", epoch),
                            ("vae/noise", epoch), ("vae/binarize", epoch) */
} infb_vaetrain_options;

typedef struct infb_vaetrain infb_vaetrain;

/* A trainer for v on the N training images. X (N×D floats in [0,1]: already binarised for
 * static binarisation, or the grey levels to draw from when dynamic) is borrowed and
 * must outlive the trainer.  Initialises v's parameters from ("vae/init", 0) unless
 * fresh == 0 (a loaded checkpoint).  NULL (error raised) on bad options or ENOMEM. */
infb_vaetrain *infb_vaetrain_alloc(infb_vae_f32 *v, size_t N, const float *X,
                                   const infb_vaetrain_options *o, int fresh);
void infb_vaetrain_free(infb_vaetrain *t); /* NULL is a no-op */

/* Run one epoch.  *train_elbo receives the mean per-point objective of the epoch
 * (β-weighted during warm-up).  Returns GSL_SUCCESS, or GSL_EDOM for a non-finite loss
 * under the abort policy ("epoch 3, step 17: the loss is not finite; lower [train] lr or
 * set [train] nonfinite = skip"). */
int infb_vaetrain_epoch(infb_vaetrain *t, double *train_elbo);
size_t infb_vaetrain_epochs_done(const infb_vaetrain *t);
double infb_vaetrain_lr(const infb_vaetrain *t);   /* the current epoch's rate */
/* Steps skipped and learning-rate halvings caused by non-finite steps. */
size_t infb_vaetrain_skipped(const infb_vaetrain *t);
size_t infb_vaetrain_halvings(const infb_vaetrain *t);

/* Details of the above (the contract of _epoch and _lr):
 *  - Epochs are counted from 0 (epoch e is the (e+1)-th; messages count from 1).  Epoch e
 *    draws its permutation of 0…N−1 (the identity shuffled by gsl_ran_shuffle) from
 *    ("vae/batch", e), its noise from ("vae/noise", e) — ε for step after step, each
 *    the B·S × K rows gsl_ran_gaussian_ziggurat(r, 1) in row-major order, drawn even for
 *    a step that is then discarded — and, when dynamic, the binarised images from
 *    ("vae/binarize", e): one gsl_rng_uniform u per pixel of the N × D images in row-major
 *    order, x_bin = (u < x) (so 0 stays 0 and 1 stays 1).
 *  - Steps take the permutation in order in minibatches of `batch` points; the last one
 *    holds the remaining N mod batch points when batch does not divide N (never dropped).
 *    Each step minimises −Σ_i L_i / B (nn/vae.h, infb_vae_elbo_f32) plus, when
 *    weight_decay λ > 0, the coupled penalty: (λ/N)·θ is added to the gradient before the
 *    Adam step (nn/adam.h).  v must hold B·S rows (infb_vae_alloc_f32 with max_batch ≥
 *    min(batch, N) and max_samples ≥ samples), otherwise the first step fails with
 *    GSL_EBADLEN.
 *  - A step is non-finite when its loss or any entry of its gradient (after the weight
 *    decay) is NaN or infinite; it is then never applied (parameters and Adam state stay
 *    as before the step).  abort: _epoch returns GSL_EDOM, raised as "epoch E, step S: the
 *    loss is not finite; lower [train] lr or set [train] nonfinite = skip" (E and S from 1;
 *    "the gradient is not finite" when only the gradient is), the epoch is not counted
 *    and the steps before it in that epoch stay applied.  skip: the step is discarded and
 *    counted in _skipped.  halve: likewise, and the learning rate is halved for the rest
 *    of training (counted in _halvings; the rate is the schedule's times 2^−halvings).
 *  - *train_elbo is Σ L_i over the points of the applied steps divided by their number
 *    (NaN when every step of the epoch was discarded).
 *  - _lr is the rate of epoch _epochs_done() (the next one to run, or the one running):
 *    infb_vaetrain_rate(o, epochs_done)·2^−halvings. */

/* Extension: the scheduled learning rate of epoch e (from 0), before any halving.
 * INFB_SCHEDULE_CONSTANT: o->lr.  INFB_SCHEDULE_IWAE (Burda, Grosse & Salakhutdinov
 * 2016, §5): o->lr·10^(−i/7) in stage i = 0…7, stage i spanning the 3^i epochs
 * Σ_{j<i} 3^j ≤ e < Σ_{j≤i} 3^j (epoch 0; 1–3; 4–12; 13–39; …; 1093–3279); every epoch
 * from 3280 on keeps stage 7's rate. */
double infb_vaetrain_rate(const infb_vaetrain_options *o, size_t e);

/* Extension: the warm-up weight β of epoch e (from 0): min(1, (e + 1)/warmup_epochs),
 * i.e. the protocol's min(1, epoch/400) with epochs counted from 1; 1 when
 * warmup_epochs = 0. */
double infb_vaetrain_beta(const infb_vaetrain_options *o, size_t e);

/* Mean ELBO per point of v on the n rows of X (n×D) with S samples each from stream
 * ("vae/valid", 0), forward only, in batches.
 * Details: the ELBO is nn/vae.h's objective at beta = 1 (ln p(x|z) sampled, the KL in
 * closed form), (1/n) Σ_i (1/S) Σ_s.  The noise ε of (point i, sample s) is the
 * ((i·S + s)·K)-th to ((i·S + s + 1)·K − 1)-th gsl_ran_gaussian_ziggurat(r, 1) draw of that
 * stream, however the work is batched.  The passes run on a scratch VAE of v's
 * architecture holding a copy of v's parameters (allocated per call, so v's own capacity
 * does not matter); v is not modified.  n, S ≥ 1 (GSL_EINVAL); GSL_ENOMEM. */
int infb_vae_mean_elbo(infb_vae_f32 *v, size_t n, const float *X, size_t S, uint64_t seed,
                       double *mean);

/* Checkpoints: a binary file with a magic "INFBVAE\0", a format version, the
 * architecture, the epochs done, the trainer's Adam state and step counters (when t is
 * not NULL), the parameter slab, and a SHA-256 of everything before it.  Written
 * atomically (core/atomicfile.h).  Load refuses (INFB_EDATA, naming the file and the
 * reason) a bad magic or version, a checksum mismatch, a truncated file, or an
 * architecture different from v's ("checkpoint PATH is for a 784-200-200-50 model,
 * the config asks for 784-500-500-50").  Save → load is bit-identical.
 *
 * Format version 1, little-endian (the build refuses other byte orders), floats as their
 * IEEE-754 binary32 bytes, every integer a uint64 unless said otherwise:
 *   offset   0  8 bytes   magic "INFBVAE\0"
 *            8  uint32    version = 1
 *           12  uint32    flags: bit 0 set = the trainer block is present; others 0
 *           16  D, K, nenc, ndec
 *           48  enc_hidden[0..7]   (unused entries 0)
 *          112  dec_hidden[0..7]   (unused entries 0)
 *          176  act (enum infb_act)
 *          184  n, the parameter-slab length
 *          192  epochs done (0 when saved without a trainer)
 *          200  trainer block, when flags bit 0:  Adam's step count t, steps skipped,
 *               learning-rate halvings, then Adam's m (n floats) and v (n floats)
 *               (24 + 8n bytes)
 *          ...  the parameter slab (n floats)
 *          end  32 bytes: SHA-256 of every byte before it.
 * Total 200 + [24 + 8n] + 4n + 32 bytes.
 *
 * Save: t (may be NULL: the model only) must be a trainer of v (GSL_EINVAL).  Raises the
 * atomic-file errors (GSL_EFAILED) on I/O failure.
 * Load: t may be NULL (the model only; a file with or without a trainer block); with t
 * (a trainer of v, GSL_EINVAL otherwise) the file must hold a trainer block, and
 * epochs done, Adam's state, the skip and halving counters (hence the learning rate)
 * are restored, so training resumes bit-identically to an uninterrupted run (given the
 * same options and data).  Checks in this order; every message starts "checkpoint PATH: ":
 *   "cannot open (<strerror>)" / "cannot read (<strerror>)"
 *   "not an infbench VAE checkpoint (bad magic)"
 *   "format version N; this build reads version 1"
 *   "is truncated (N bytes, the header alone has 200)"
 *   "has unknown flags 0x... (corrupt?)" / "the header is corrupt (slab length N)"
 *   "is truncated (N bytes, M expected)"                      (M from the header)
 *   "has the wrong length (N bytes, M expected; corrupt?)"    (longer than M)
 *   "checksum mismatch (the file is corrupt)"
 *   "the header is corrupt (...)"          (a checksummed but impossible header)
 *   "checkpoint PATH is for a A model, the config asks for B"   (no "PATH: " prefix; A and
 *     B as D-enc_hidden…-K, then in parentheses, joined by ", ", "decoder K-dec_hidden…-D"
 *     when the decoder is not the mirror of the encoder and the activation's name when
 *     the activations differ: "784-200-200-50 (decoder 50-100-784, tanh)")
 *   "holds no trainer state; training cannot resume from it"   (t given)
 * On any failure v and t are unchanged. */
int infb_vae_checkpoint_save(const char *path, infb_vae_f32 *v, const infb_vaetrain *t);
int infb_vae_checkpoint_load(const char *path, infb_vae_f32 *v, infb_vaetrain *t);

#endif
