/* Synthetic data from known supervised models, driven by a seeded generator. */
#ifndef INFB_DATA_SYNTH_H
#define INFB_DATA_SYNTH_H

#include "data/dataset.h"

/* Linear-Gaussian regression: x_ij ~ N(0, 1); true weights w_j ~ N(0, weight_scale²);
 * y_i = x_iᵀw + bias + ε_i, ε_i ~ N(0, noise_sd²).  Draws in a fixed order from r (all
 * of w first, then row by row x_i then ε_i) so the same r state gives the same data.
 * Every Gaussian is one gsl_ran_gaussian(r, sd) call (weight_scale = 0 still draws).
 * w_true (length p, may be NULL) receives the true weights.  Names x1..xp, target y.
 * NULL (error raised, GSL_EINVAL) on allocation failure or invalid arguments (n == 0,
 * p == 0, noise_sd ≤ 0 or not finite, weight_scale < 0 or not finite, bias not
 * finite). */
infb_dataset *infb_synth_linreg(size_t n, size_t p, double noise_sd, double weight_scale,
                                double bias, gsl_rng *r, double *w_true);

/* Logistic regression: x_ij ~ N(0,1), w_j ~ N(0, weight_scale²),
 * y_i ~ Bernoulli(σ(x_iᵀw + bias)) ∈ {0, 1}.  Same conventions as above; the draw order
 * is all of w, then row by row x_i then one gsl_ran_bernoulli(r, σ_i) (one uniform). */
infb_dataset *infb_synth_logreg(size_t n, size_t p, double weight_scale, double bias,
                                gsl_rng *r, double *w_true);

#endif
