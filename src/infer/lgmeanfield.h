/* Variational EM with per-sample parameters for the linear-Gaussian model: every point i
 * has its own fully factorised q(z_i) = N(μ_i, diag s_i²).  Local step: the closed-form
 * optimum (μ_i = m(x_i), s_ij² = 1/Λ_jj) or Adam on the reparameterised ELBO (infer/
 * qstar.h, warm-started from the previous q_i); global step: the closed-form maximiser of
 * Σ_i E_q ln p(x_i|z_i) over (W, b, Ψ), or Adam steps on the closed-form ELBO.  The
 * objective (mean ELBO per point) never decreases with the closed-form steps.  Because the
 * bound is tight only for factorised posteriors, the fit rotates W toward one (MATH.md
 * §3). */
#ifndef INFB_INFER_LGMEANFIELD_H
#define INFB_INFER_LGMEANFIELD_H

#include <gsl/gsl_matrix.h>
#include "infer/amortized.h"
#include "infer/qstar.h"

typedef struct infb_lgmeanfield_options {
  int local_adam;      /* 0: closed-form local step; 1: Adam (qstar settings) */
  int global_gradient; /* 0: closed-form global step; 1: Adam on θ (train settings) */
  size_t max_iter;     /* outer iterations */
  double tol;          /* stop when the mean ELBO rises by ≤ tol·(1 + |ELBO|) */
  double psi_floor;    /* smallest noise variance */
  double init_scale;   /* sd of the random initial W */
  int ppca;            /* isotropic Ψ */
  infb_qstar_options qstar;  /* the local Adam step (max_steps per outer iteration) */
  infb_train_options train;  /* the global gradient step (lr, betas; epochs = Adam steps
                                per outer iteration) */
  uint64_t seed;       /* streams ("meanfield/init", 0), and qstar's */
} infb_lgmeanfield_options;

/* Fit on Xtr (N×D) with latent dimension K; Xte (may be NULL) scored on the curve (mean
 * ELBO per point of its own optimal factorised q).  Fills fit->model, curve (one row per
 * outer iteration), iterations, stop_reason, nfloored.  No encoder.
 *
 * Details (extensions of the contract above):
 * - fit is overwritten (infb_latent_fit_init; free a previous fit first).  On error fit is
 *   left initialised (nothing allocated).
 * - Start: b = the training mean, psi_d = the 1/N variance of column d (ppca: their mean),
 *   floored; W_dk ~ N(0, init_scale²) from stream ("meanfield/init", 0) row by row; every
 *   q_i at its closed-form optimum for that θ.  Curve row 0 is this start (step 0);
 *   row t follows outer iteration t, so ncurve = iterations + 1.
 * - Outer iteration t: the global step (θ given q), then the local step (q given the new
 *   θ), then the objective: the mean closed-form ELBO of the q_i under θ (the train
 *   column), and (test column) the mean ELBO of the test points' optimal factorised q
 *   under θ.  Stop with "converged" when ELBO_t − ELBO_{t−1} ≤ tol·(1 + |ELBO_t|) (so
 *   also on any decrease, which only the Adam steps can cause), else "max_iter".
 * - Closed global step: with z̃ = (z, 1), [W b] = (Σ_i x_i E[z̃_i]ᵀ)(Σ_i E[z̃_i z̃_iᵀ])⁻¹
 *   (Cholesky), then psi_d = (1/N)Σ_i E_q(x_id − w_dᵀz_i − b_d)² from the residuals at
 *   the new W, b (ppca: the mean over d), raised to psi_floor; the exact maximiser of
 *   Σ_i E_q ln p(x_i|z_i) over θ with psi ≥ psi_floor.
 * - Gradient global step: train.epochs full-batch Adam steps on −(mean ELBO) over θ =
 *   (W, b, ln psi) (ppca: one shared ln σ²) with the gradient of
 *   infb_lgmeanfield_theta_grad; learning rate train.lr·lr_decay^(t−1) in iteration t;
 *   the Adam moments and step count persist across outer iterations; ln psi is clamped
 *   at ln psi_floor.  train.batch, samples and seed are not used.
 * - Closed local step: q_i = N(m(x_i), diag 1/Λ_jj) (infb_lingauss_qstar).  Adam local
 *   step: infb_qstar_optimize warm-started from the current q_i (init_given), at most
 *   qstar.max_steps steps per outer iteration (fewer if its stopping rule fires; its
 *   Adam moments restart every iteration), master seed infb_rng_derive(seed,
 *   "meanfield/qstar", t); qstar.seed and init_given are ignored, and eval_samples is
 *   replaced by 2 (its Monte-Carlo ELBO is not used: the objective is the closed form).
 * - nfloored counts the coordinates d whose psi was raised to psi_floor at least once
 *   (ppca: the shared σ² counts once); psi_floor = 0 disables the floor.
 * - Errors: GSL_EINVAL for NULL arguments or bad options ("meanfield: tol = ...");
 *   those of infb_lingauss_check_data for Xtr and Xte (K between 1 and D − 1, rows,
 *   finite cells), GSL_EBADLEN when Xte has a different D; at outer iteration t (0: the
 *   start) a non-finite ELBO is GSL_EDOM "meanfield iteration t: the ELBO is not finite;
 *   ...", and a failure of θ or of the Adam local step is re-raised with its status as
 *   "meanfield iteration t: <reason>; <hint>". */
int infb_lgmeanfield_fit(const gsl_matrix *Xtr, const gsl_matrix *Xte, size_t K,
                         const infb_lgmeanfield_options *o, infb_latent_fit *fit);

/* Extension: the mean closed-form ELBO (MATH.md §3) over the n rows of X of
 * q_i = N(MU_i, diag S2_i) under m, and its gradient with respect to θ at fixed q — the
 * function the gradient global step climbs.  With E_q(x_d − w_dᵀz − b_d)² summed over
 * the points written Q_d (from the sufficient statistics Σ x x, Σ x E[z̃]ᵀ,
 * Σ E[z̃z̃ᵀ] of the centred data):
 *   ELBO = −½ D ln 2π − ½ Σ_d ln psi_d − Σ_d Q_d/(2n psi_d) − mean_i KL(q_i‖N(0, I)),
 *   ∂/∂(w_d, b_d) = (Σ_i x_id E[z̃_i] − Σ_i E[z̃_i z̃_iᵀ](w_d, b_d)) / (n psi_d),
 *   ∂/∂ln psi_d   = −½ + Q_d/(2n psi_d).
 * elbo, GW (D×K), Gb (D), Glpsi (D) may each be NULL.  Glpsi holds the derivative for
 * every psi_d free; under ppca the derivative with respect to the shared ln σ² is the sum
 * of its entries.  Errors: GSL_EBADLEN for shapes, GSL_EDOM for a non-positive S2 or
 * psi, INFB_EDATA for X without rows. */
int infb_lgmeanfield_theta_grad(const infb_lingauss *m, const gsl_matrix *X,
                                const gsl_matrix *MU, const gsl_matrix *S2, double *elbo,
                                gsl_matrix *GW, gsl_vector *Gb, gsl_vector *Glpsi);

#endif
