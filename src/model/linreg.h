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
 * problem's fixed σ²).  method DIRECT (or AUTO) solves the normal equations by Cholesky
 * (the FLAT intercept by centring X and y; SAME with the ones column penalised), stop_reason
 * "closed form", 0 iterations.  BFGS runs gsl_multimin vector_bfgs2 (restarted when its
 * line search stalls) to a gradient norm ≤ tol·(1 + ‖Xᵀy‖), both gradients taken with
 * respect to standardised parameters (features centred when there is an intercept and
 * scaled so the Hessian has a unit diagonal; the ones column included in X), which makes
 * the rule scale-free: tol = 1e-10 gives weights to ~1e-8 relative on well-posed problems;
 * stop_reason "converged", "max_iter" (opt->max_iter BFGS iterations in all), or
 * "no progress" (a fresh restart could not take a step).  λ = 0 needs a design of full
 * column rank (X, or [X 1] with an intercept; numerically: its column-normalised smallest
 * singular value above max(N, k)·DBL_EPSILON times the largest, k unknowns); otherwise it
 * fails with INFB_ESINGULAR and the message "the design matrix is rank-deficient (XᵀX is
 * singular): the MLE is not unique; use map with lambda > 0".  With λ > 0 a Cholesky
 * failure (XᵀX + λI singular to rounding) is INFB_ESINGULAR "XᵀX + lambda·I is
 * numerically singular (lambda = …): increase lambda".  A negative or non-finite λ, or a
 * fit of the wrong size, is GSL_EINVAL / GSL_EBADLEN. */
int infb_linreg_fit_penalized(const infb_problem *pb, double lambda,
                              const infb_solver_options *opt, infb_fit *fit);

/* The Gaussian-weight form of a linreg problem under its intercept convention, shared by
 * the direct solver, bayes and meanfield: targets t and an n×m design Φ such that the
 * model is t = Φv + ε with every weight in v penalised (prior N(0, α⁻¹I)).
 *  - no intercept: Φ = X, t = y, m = p;
 *  - SAME:         Φ = [X 1], t = y, m = p+1 (b = v[p]);
 *  - FLAT:         Φ = X − 1x̄ᵀ, t = y − ȳ1, m = p: b is integrated out exactly under its
 *                  flat prior, ∫ Π_i N(y_i; x_iᵀw + b, β⁻¹) db
 *                  = N^{−½}(β/2π)^{(N−1)/2} exp(−β/2‖t − Φw‖²), so n_eff = N−1 and
 *                  log_offset = −½ln N; b's conditional mode/mean is ȳ − x̄ᵀw.
 * The Gaussian log-likelihood of the reduced problem is
 *   log_offset + (n_eff/2) ln(β/2π) − (β/2)‖t − Φv‖². */
typedef struct infb_linreg_design {
  size_t n;            /* observations N */
  size_t p;            /* feature weights */
  size_t m;            /* columns of Phi: p, or p+1 under SAME */
  int intercept;       /* the problem fits b */
  infb_intercept_prior intercept_prior; /* its convention (meaningful when intercept) */
  gsl_matrix *Phi;     /* n×m reduced design (owned) */
  gsl_vector *t;       /* n reduced targets (owned) */
  gsl_matrix *G;       /* m×m ΦᵀΦ (owned) */
  gsl_vector *Phit;    /* m-vector Φᵀt (owned) */
  gsl_vector *xbar;    /* FLAT: the p column means x̄ (owned); NULL otherwise */
  double ybar;         /* FLAT: ȳ; 0 otherwise */
  double n_eff;        /* N, or N−1 under FLAT */
  double log_offset;   /* 0, or −½ ln N under FLAT */
} infb_linreg_design;

/* Build the reduced design of pb (linreg only: X, y non-NULL with matching sizes; FLAT
 * needs N ≥ 2).  NULL (error raised) on invalid input or allocation failure. */
infb_linreg_design *infb_linreg_design_alloc(const infb_problem *pb);
/* NULL is a no-op. */
void infb_linreg_design_free(infb_linreg_design *d);
/* Map reduced weights v (length d->m) to the problem's (w, b): w = v[0..p), and b = v[p]
 * (SAME), ȳ − x̄ᵀw (FLAT) or 0.  w has length p. */
void infb_linreg_design_unpack(const infb_linreg_design *d, const gsl_vector *v, gsl_vector *w,
                               double *b);

#endif
