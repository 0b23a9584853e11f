/* Linear regression with Gaussian noise: log-likelihood, gradient, and the normal-equation
 * solver shared by MLE and MAP.  Formulas: MATH.md §1. */
#ifndef INFB_MODEL_LINREG_H
#define INFB_MODEL_LINREG_H

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include "infer/estimator.h"

/* ln p(y | X, w, b, σ²) = Σ_i ln N(y_i; x_iᵀw + b, σ²).  X n×p, y n, w p. */
double infb_linreg_loglik(const gsl_matrix *X, const gsl_vector *y, const gsl_vector *w,
                          double b, double sigma2);

/* Residual sum of squares ‖y − Xw − b‖². */
double infb_linreg_rss(const gsl_matrix *X, const gsl_vector *y, const gsl_vector *w, double b);

/* The penalised least-squares objective of the problem's convention and its gradient:
 *   f(w, b) = ½‖y − Xw − b‖² + ½λ‖w‖² (+ ½λb² when intercept_prior is SAME),
 * theta = (w, b) of length p+1 when pb->intercept, else p; grad the same length (may be
 * NULL).  Returns f.  This is the objective BFGS minimises and the gradient the tests
 * check by finite differences. */
double infb_linreg_objective(const infb_problem *pb, double lambda, const gsl_vector *theta,
                             gsl_vector *grad);

/* Minimise the objective above for λ ≥ 0 (λ = 0: least squares, the MLE), writing
 * fit->w and fit->intercept, stop_reason, iterations and noise_var = RSS/N (or the
 * problem's fixed σ²).  method DIRECT solves the normal equations by Cholesky (the FLAT
 * intercept by centring X and y); BFGS runs gsl_multimin vector_bfgs2 to a gradient norm
 * ≤ tol·(1 + ‖Xᵀy‖).  A singular XᵀX + λI fails with INFB_ESINGULAR and the message
 * "the design matrix is rank-deficient (XᵀX is singular): the MLE is not unique; use map
 * with lambda > 0". */
int infb_linreg_fit_penalized(const infb_problem *pb, double lambda,
                              const infb_solver_options *opt, infb_fit *fit);

#endif
