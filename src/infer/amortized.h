/* Amortised inference for the linear-Gaussian model: an encoder q_φ(z|x) =
 * N(μ_φ(x), diag σ²_φ(x)) — a linear map or an MLP (nn/mlp.h, double precision) — trained
 * jointly with θ = (W, b, ln Ψ) by Adam on the reparameterised ELBO over minibatches
 * (Kingma & Welling 2014): a VAE with a linear-Gaussian decoder.  Optional Gaussian prior
 * on W of precision λ, coupled into the gradient as λ‖W‖²/(2N) per example. */
#ifndef INFB_INFER_AMORTIZED_H
#define INFB_INFER_AMORTIZED_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>
#include "infer/latent.h"
#include "nn/act.h"

#define INFB_MAX_HIDDEN 8

typedef struct infb_train_options {
  size_t epochs;       /* passes over the training rows */
  size_t batch;        /* minibatch size */
  size_t samples;      /* reparameterised samples per point per step */
  double lr;           /* Adam learning rate of the first epoch */
  double lr_decay;     /* multiplied into lr after every epoch */
  double beta1, beta2, eps; /* Adam */
  uint64_t seed;       /* master seed: streams ("<name>/init", 0), ("<name>/batch", epoch),
                          ("<name>/noise", epoch) */
} infb_train_options;

typedef struct infb_encoder_options {
  int mlp;             /* 0: linear encoder; 1: MLP */
  size_t nhidden;      /* hidden layers (mlp) */
  size_t hidden[INFB_MAX_HIDDEN]; /* their widths */
  int activation;      /* INFB_ACT_* of nn/act.h */
} infb_encoder_options;

/* The encoder network of eo as MLP layer sizes D → hidden… → out (nn/mlp.h): sizes
 * (≥ INFB_MAX_HIDDEN + 2 entries) and *nlayers, and the hidden activation in *act.
 * GSL_EINVAL (raised, prefixed by `who`) for an MLP without hidden layers or with too
 * many, a width of 0, or an invalid activation. */
int infb_encoder_sizes(const infb_encoder_options *eo, size_t D, size_t out, const char *who,
                       size_t *sizes, size_t *nlayers, enum infb_act *act);

/* Check optional test data against the training width D: GSL_EBADLEN for another width,
 * INFB_EDATA naming the row and column of a non-finite cell (messages prefixed by who).
 * NULL is fine. */
int infb_check_test_data(const gsl_matrix *Xte, size_t D, const char *who);

typedef struct infb_amortized_options {
  infb_encoder_options enc;
  infb_train_options train;
  double weight_decay; /* λ ≥ 0 on W */
  double psi_floor;    /* noise variances are kept ≥ this (ln ψ clamped) */
  int ppca;            /* isotropic Ψ */
  const char *name;    /* stream prefix, e.g. "amortized:mlp" */
  double init_scale;   /* extension: W_dk ~ N(0, init_scale²) at the start; 0 selects
                          INFB_AMORTIZED_INIT_SCALE (so a zeroed struct keeps working) */
} infb_amortized_options;

/* The default init_scale, as [mle] init_scale. */
#define INFB_AMORTIZED_INIT_SCALE 0.1

/* Extension: checks a train section for estimator `who` (a name for the messages):
 * GSL_EINVAL (raised) unless batch ≥ 1, samples ≥ 1, lr ≥ 0 finite, lr_decay > 0
 * finite, 0 ≤ beta1 < 1, 0 ≤ beta2 < 1, eps > 0 finite, e.g. "amortized: [train] batch
 * = 0 must be at least 1". */
int infb_train_options_check(const infb_train_options *o, const char *who);

/* Train on Xtr (N×D); Xte (may be NULL) is only scored for the training curve (mean ELBO
 * per point, computed in closed form for the encoder's q, after every epoch).  On success
 * fit->model holds θ, fit->encoder the trained encoder (fit owns it), fit->curve the
 * curve, iterations = epochs, stop_reason "epochs".  A non-finite objective stops with
 * GSL_EDOM naming the epoch and step ("amortized: epoch 3, step 17: the ELBO is not
 * finite; lower [train] lr"). */
int infb_amortized_fit(const gsl_matrix *Xtr, const gsl_matrix *Xte, size_t K,
                       const infb_amortized_options *o, infb_latent_fit *fit);
/* Details of infb_amortized_fit (extensions of the contract above):
 * - Errors first: infb_lingauss_check_data(Xtr, K) (and Xte: GSL_EBADLEN for a different
 *   column count, INFB_EDATA for a non-finite cell), infb_train_options_check, GSL_EINVAL
 *   for weight_decay or psi_floor negative or not finite, init_scale negative or not
 *   finite, an MLP encoder with nhidden not in 1..INFB_MAX_HIDDEN, a zero width or an
 *   invalid activation; GSL_ENOMEM.
 * - Parameters live in ONE slab (infb_amortized_alloc below): the encoder's MLP, then
 *   W, b, ln ψ; one Adam state over the whole slab.
 * - Initialisation: from stream ("<name>/init", 0) the encoder by infb_mlp_init_f64, then
 *   W_dk ~ N(0, init_scale²) row by row; b = the column means of Xtr; ψ_d = the 1/N
 *   column variance (ppca: the mean of them), raised to psi_floor; a zero initial
 *   variance with psi_floor = 0 is GSL_EDOM ("amortized: column d has no variance; set
 *   a positive psi_floor").
 * - Epoch e = 1..epochs (1-based in messages; its streams have index e − 1) uses learning
 *   rate lr·lr_decay^(e−1), visits the rows in the order of gsl_ran_shuffle from stream
 *   ("<name>/batch", e − 1) in ⌈N/B⌉ steps of B = min(batch, N) rows (the last step may
 *   be shorter), and draws ε (row by row, sample by sample, K each, gsl_ran_gaussian) from
 *   the one stream ("<name>/noise", e − 1).  Each step minimises the loss of
 *   infb_amortized_objective with weight_decay λ and N = the training rows, then clamps
 *   ln ψ ≥ ln psi_floor (nfloored counts the coordinates raised to the floor at least once,
 *   at the start or after a step; ppca: the shared one once).  Step s in the message is 1-based within its epoch.  A non-finite
 *   gradient is also GSL_EDOM ("amortized: epoch 3, step 17: the ELBO gradient is not
 *   finite; lower [train] lr").
 * - Curve: epochs + 1 rows (epoch, mean ELBO per point on Xtr, on Xte or NAN): row 0
 *   before training, row e after epoch e; the ELBO is the closed form
 *   (infb_lingauss_elbo) of the encoder's q under the current θ.
 * - fit is re-initialised first (nothing it held is freed); on failure it is left
 *   initialised (owning nothing).
 * - fit->encoder evaluates its MLP in chunks of B rows (one thread at a time);
 *   fit->encoder_free frees it. */

/* The training state (exposed for the gradient checks): an encoder MLP D → 2K (outputs
 * μ then ln σ²) and θ in one parameter slab of the layout
 *   [0, nenc)                 the encoder's MLP slab (nn/mlp.h layout)
 *   [nenc, nenc + D·K)        W, row-major D×K
 *   next D                    b
 *   next D (ppca: 1)          ln ψ (ppca: the shared ln σ²)
 * with a gradient slab of the same layout, and a workspace for batches of up to
 * max_batch rows of `samples` samples each.  Uses o->enc, o->train.samples,
 * o->weight_decay, o->ppca (nothing else).  Parameters start at zero.  NULL (error
 * raised: GSL_EINVAL for K = 0, K ≥ D, max_batch or samples 0, a bad encoder or
 * negative weight decay; GSL_ENOMEM) on failure. */
typedef struct infb_amortized infb_amortized;
infb_amortized *infb_amortized_alloc(size_t D, size_t K, const infb_amortized_options *o,
                                     size_t max_batch);
void infb_amortized_free(infb_amortized *a); /* NULL is a no-op */
/* The parameter and gradient slabs (length in *n unless NULL), owned by a. */
double *infb_amortized_params(infb_amortized *a, size_t *n);
double *infb_amortized_grads(infb_amortized *a, size_t *n);
/* nenc, the length of the encoder's part of the slab. */
size_t infb_amortized_encoder_nparams(const infb_amortized *a);
/* Copies θ into m (same D, K; ψ = exp(ln ψ); m->ppca set from a).  GSL_EBADLEN on a
 * shape mismatch. */
int infb_amortized_theta(const infb_amortized *a, infb_lingauss *m);

/* The minibatch loss at the current parameters, for B (1 ≤ B ≤ max_batch) rows X (B×D,
 * row-major) and noise E (B·S×K, row i·S + s is ε of sample s of point i), N ≥ 1 the
 * training-set size scaling the weight decay:
 *   z_is = μ_i + σ_i⊙ε_is   (μ_i, ln σ_i² = the encoder's outputs for x_i)
 *   ELBO_i = (1/S)Σ_s ln p(x_i|z_is) − KL(N(μ_i, diag σ_i²)‖N(0, I))  (KL closed form)
 *   ln p(x|z) = −½Σ_d [ln 2πψ_d + r_d²/ψ_d],  r = x − Wz − b
 *   *loss = −(1/B)Σ_i ELBO_i + λ‖W‖²/(2N)
 * and OVERWRITES the gradient slab with ∂loss/∂(slab), E held fixed (the pathwise
 * gradient).  Allocates nothing.  A non-finite loss is returned as is (the caller
 * decides).  Returns GSL_SUCCESS, GSL_EBADLEN (raised) for B out of range or N = 0, or a
 * BLAS / MLP status. */
int infb_amortized_objective(infb_amortized *a, size_t B, const double *X, const double *E,
                             size_t N, double *loss);

#endif
