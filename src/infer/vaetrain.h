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

/* Mean ELBO per point of v on the n rows of X (n×D) with S samples each from stream
 * ("vae/valid", 0), forward only, in batches. */
int infb_vae_mean_elbo(infb_vae_f32 *v, size_t n, const float *X, size_t S, uint64_t seed,
                       double *mean);

/* Checkpoints: a binary file with a magic "INFBVAE\0", a format version, the
 * architecture, the epochs done, the trainer's Adam state and step counters (when t is
 * not NULL), the parameter slab, and a SHA-256 of everything before it.  Written
 * atomically (core/atomicfile.h).  Load refuses (INFB_EDATA, naming the file and the
 * reason) a bad magic or version, a checksum mismatch, a truncated file, or an
 * architecture different from v's ("checkpoint PATH is for a 784-200-200-50 model,
 * the config asks for 784-500-500-50").  Save → load is bit-identical. */
int infb_vae_checkpoint_save(const char *path, infb_vae_f32 *v, const infb_vaetrain *t);
int infb_vae_checkpoint_load(const char *path, infb_vae_f32 *v, infb_vaetrain *t);

#endif
