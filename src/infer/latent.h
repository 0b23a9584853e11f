/* What a latent-model estimator produces: the fitted linear-Gaussian model, optionally an
 * encoder q(z|x), a training curve and diagnostics.  The runner evaluates the gaps of
 * every fit with infer/gapeval.h. */
#ifndef INFB_INFER_LATENT_H
#define INFB_INFER_LATENT_H

#include <stddef.h>
#include "infer/gapeval.h"
#include "model/lingauss.h"

typedef struct infb_latent_fit {
  infb_lingauss *model;        /* fitted θ (owned; NULL for the autoencoder, which has no
                                  probabilistic decoder) */
  infb_encoder encoder;        /* q(z|x); encoder.fn == NULL when there is none */
  void (*encoder_free)(void *self); /* frees encoder.self (NULL: nothing to free) */
  size_t iterations;           /* EM iterations, or epochs */
  char stop_reason[64];        /* "converged", "max_iter", "epochs", "closed form" */
  char note[256];              /* a remark for the report */
  size_t nfloored;             /* noise variances raised to the floor */
  /* Training curve: ncurve rows of (step, train objective, test objective), objectives
   * per point (test NAN without a test set); curve_label names the objective. */
  size_t ncurve;
  double *curve;               /* ncurve×3, owned */
  const char *curve_label;     /* e.g. "log-likelihood per point (nats)" */
  /* Autoencoder only (NAN / NULL otherwise). */
  double recon_mse_train;      /* mean squared reconstruction error per point */
  double recon_mse_test;
  size_t nangles;
  double *angles;              /* principal angles (radians) between the decoder's column
                                  space and the top-K principal subspace, ascending; owned */
} infb_latent_fit;

/* Zero a fit (every optional number NAN, pointers NULL). */
void infb_latent_fit_init(infb_latent_fit *f);
/* Free what f owns and re-initialise it.  NULL is a no-op. */
void infb_latent_fit_free(infb_latent_fit *f);
/* Allocate f->curve for n rows (NAN-filled); GSL_ENOMEM on failure. */
int infb_latent_fit_curve(infb_latent_fit *f, size_t n, const char *label);

/* Principal angles between the column spaces of A and B (both D×K, full column rank):
 * the arccos of the singular values of Q_AᵀQ_B (QR by GSL), ascending, into angles[K].
 * Björck & Golub (1973). */
int infb_principal_angles(const gsl_matrix *A, const gsl_matrix *B, double *angles);

#endif
