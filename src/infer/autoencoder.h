/* A deterministic autoencoder: encoder (linear or MLP, with biases) to K codes, a linear
 * decoder with bias, trained by Adam on the mean squared reconstruction error.  A linear
 * one spans the top-K principal subspace of the training data (Baldi & Hornik 1989,
 * MATH.md §4): the fit reports the principal angles between the decoder's column space
 * and that subspace. */
#ifndef INFB_INFER_AUTOENCODER_H
#define INFB_INFER_AUTOENCODER_H

#include <gsl/gsl_matrix.h>
#include "infer/amortized.h"

typedef struct infb_autoencoder_options {
  infb_encoder_options enc;
  infb_train_options train;
  const char *name;    /* stream prefix */
} infb_autoencoder_options;

/* Train on Xtr (N×D).  fit->model stays NULL (no probabilistic decoder); fills the curve
 * (mean squared error per point on train and test), recon_mse_train/test, angles[K]
 * against the top-K eigenvectors of the 1/N sample covariance of Xtr, iterations =
 * epochs. */
int infb_autoencoder_fit(const gsl_matrix *Xtr, const gsl_matrix *Xte, size_t K,
                         const infb_autoencoder_options *o, infb_latent_fit *fit);
/* Details of infb_autoencoder_fit (extensions of the contract above):
 * - Errors: infb_lingauss_check_data(Xtr, K), Xte with another column count (GSL_EBADLEN)
 *   or a non-finite cell (INFB_EDATA), infb_train_options_check, GSL_EINVAL for a bad
 *   MLP encoder (nhidden not in 1..INFB_MAX_HIDDEN, a zero width, an invalid activation).
 * - Parameters live in ONE slab (infb_autoencoder_alloc), one Adam state over it.
 * - Initialisation from stream ("<name>/init", 0): the encoder by infb_mlp_init_f64,
 *   then the decoder likewise; then the decoder bias is set to the column means of Xtr.
 * - Epochs and minibatches as infb_amortized_fit (lr·lr_decay^(e−1), rows shuffled by
 *   stream ("<name>/batch", e − 1), B = min(batch, N), ⌈N/B⌉ steps; no noise).  A
 *   non-finite loss or gradient is GSL_EDOM ("autoencoder: epoch 3, step 17: the
 *   reconstruction error is not finite; lower [train] lr").
 * - Curve: epochs + 1 rows (epoch, mean Σ_d (x_d − x̂_d)² per point on Xtr, on Xte or
 *   NAN), row 0 before training; recon_mse_train/test are the last row's values.
 * - Angles: nangles = K, infb_principal_angles(W, U_K) with W the decoder's D×K weight
 *   and U_K the eigenvectors of the K largest eigenvalues (gsl_eigen_symmv).  When W has
 *   linearly dependent columns the angles are left out (nangles = 0) and the note says so.
 * - fit->encoder.fn stays NULL (a deterministic code is no q(z|x)); stop_reason "epochs".
 *   fit is re-initialised first; on failure it is left initialised (owning nothing). */

/* The training state (exposed for the gradient checks): encoder MLP D → K (linear:
 * one affine layer; with biases) and a linear decoder K → D with bias, in one slab:
 *   [0, nenc)               the encoder's MLP slab (nn/mlp.h layout)
 *   [nenc, nenc + D·K)      the decoder weight W, row-major D×K ("layer0.W" of a one-layer
 *                           MLP K → D)
 *   next D                  the decoder bias c
 * with a gradient slab of the same layout and a workspace for up to max_batch rows.
 * Parameters start at zero.  NULL (error raised: GSL_EINVAL for K = 0, K ≥ D,
 * max_batch = 0, a bad encoder; GSL_ENOMEM) on failure. */
typedef struct infb_autoencoder infb_autoencoder;
infb_autoencoder *infb_autoencoder_alloc(size_t D, size_t K, const infb_encoder_options *enc,
                                         size_t max_batch);
void infb_autoencoder_free(infb_autoencoder *a); /* NULL is a no-op */
double *infb_autoencoder_params(infb_autoencoder *a, size_t *n);
double *infb_autoencoder_grads(infb_autoencoder *a, size_t *n);
size_t infb_autoencoder_encoder_nparams(const infb_autoencoder *a);

/* For B (1 ≤ B ≤ max_batch) rows X (B×D, row-major): x̂_i = W·h(x_i) + c with h the
 * encoder, *loss = (1/B)Σ_i Σ_d (x_id − x̂_id)², and the gradient slab OVERWRITTEN with
 * ∂loss/∂(slab).  Xhat (B×D, may be NULL) receives the reconstructions.  Allocates
 * nothing.  A non-finite loss is returned as is.  Returns GSL_SUCCESS, GSL_EBADLEN
 * (raised) for B out of range, or an MLP status. */
int infb_autoencoder_objective(infb_autoencoder *a, size_t B, const double *X, double *Xhat,
                               double *loss);

#endif
