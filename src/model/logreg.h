/* Logistic regression: log-likelihood, gradient, Hessian and the Newton/IRLS solver
 * shared by MLE, MAP and Laplace.  Formulas: MATH.md §2 (computed through log-sigmoid,
 * never ln σ). */
#ifndef INFB_MODEL_LOGREG_H
#define INFB_MODEL_LOGREG_H

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include "infer/estimator.h"

/* Stable ln σ(t) and ln(1 − σ(t)) = ln σ(−t). */
double infb_log_sigmoid(double t);

/* ln p(y | X, w, b) = Σ_i [y_i ln σ(η_i) + (1 − y_i) ln σ(−η_i)], η = Xw + b. */
double infb_logreg_loglik(const gsl_matrix *X, const gsl_vector *y, const gsl_vector *w,
                          double b);

/* The penalised negative log-likelihood of the problem's convention,
 *   f(θ) = −ln p(y|X, w, b) + ½α‖w‖² (+ ½αb² when intercept_prior is SAME),
 * θ = (w, b) (length p+1 with an intercept, else p).  grad (same length) and hess
 * (square) may be NULL.  Returns f, or NAN (error raised: GSL_EBADLEN) when the shapes
 * disagree or GSL_ENOMEM.  Allocates its scratch per call (the solvers keep theirs). */
double infb_logreg_objective(const infb_problem *pb, double alpha, const gsl_vector *theta,
                             gsl_vector *grad, gsl_matrix *hess);

/* Minimise the objective for α ≥ 0 by Newton's method with a backtracking line search
 * (method NEWTON or AUTO) or BFGS (method BFGS) until ‖grad‖ ≤ tol·max(1, ‖f‖-scale).
 * Writes fit->w, fit->intercept, iterations, stop_reason.  With α = 0 and (quasi-)
 * separable data the MLE does not exist: fails with INFB_ESEPARABLE and the message
 * "the classes are (quasi-)separable: the logistic MLE does not exist (weights diverge);
 * use map".  Also rejects targets that are not 0/1 or have a single class (INFB_EDATA).
 *
 * Details (infb_logreg_fit_ex with the default infb_logreg_options):
 *  - opt may be NULL; opt->tol ≤ 0 means 1e-10 and opt->max_iter == 0 means 200.
 *  - Convergence: ‖grad‖∞ ≤ tol·scale with scale = max(1, ‖Xᵀ(y − ȳ)‖∞) (the size of
 *    the gradient's terms at the start; it makes tol relative and invariant to N).  With
 *    α = 0 the Newton step must also be small, ‖d‖∞ ≤ step_tol·max(1, ‖θ‖∞), since on
 *    quasi-separable data the gradient vanishes while the iterates still run off.
 *    stop_reason: "converged", "max_iter", or "no progress" (the line search cannot
 *    decrease f any more: θ is at the rounding floor; still GSL_SUCCESS).
 *  - Start: w = 0, b = ln(ȳ/(1 − ȳ)).
 *  - Targets: every y_i must be exactly 0 or 1, else INFB_EDATA
 *    "the target must be 0 or 1 for logreg (row I has V)" (I counts from 1, V as %g);
 *    both classes must occur, else INFB_EDATA
 *    "the target has a single class (all C): logistic regression needs both".
 *  - α = 0 only: a design [X, 1] (or X) of deficient column rank fails with INFB_ESINGULAR
 *    "the design matrix is rank-deficient: the MLE is not unique; use map with lambda > 0"
 *    (test: the Gram matrix of the columns — centred when there is an intercept — scaled
 *    to unit diagonal has λ_min ≤ rank_tol·λ_max, or a column's centred sum of squares is
 *    ≤ rank_tol times its raw sum of squares).
 *  - α = 0 only, separation (Albert & Anderson 1984: the MLE exists iff no direction
 *    u ≠ 0 has (2y_i − 1) z_iᵀu ≥ 0 for all i, z_i = (x_i, 1)) is reported when
 *    (a) an iterate classifies every point strictly correctly (complete separation: an
 *        exact certificate), or
 *    (b) the gradient has converged but the Newton step has not, and either the step d or
 *        the displacement since the gradient first converged is a separating direction
 *        up to rounding: (2y_i − 1) z_iᵀu ≥ −sep_tol·max_j |z_jᵀu| for all i
 *        (quasi-complete separation: the overlapping points stay put while the others
 *        run off to the correct side), or
 *    (c) the Hessian XᵀRX stops being positive definite although the design has full
 *        rank (R_i underflowed to 0: the iterates diverged), or
 *    (d) the gradient has converged, the Newton step has not, and no step along it
 *        decreases f or ‖grad‖∞ in floating point (flat along a direction the iterates
 *        can no longer follow).
 *    With α > 0 the optimum always exists (the objective is strictly convex and
 *    coercive once both classes occur, also with a FLAT intercept), so nothing is checked;
 *    a Hessian that is still numerically singular fails with INFB_ESINGULAR.
 *  - method BFGS: gsl_multimin vector_bfgs2 (first step bfgs_step, line tolerance
 *    bfgs_line_tol) with the same gradient test; with α = 0 the Newton iteration is run
 *    first from the same start as the existence check (a)–(d) (BFGS alone can wander far
 *    out on separable data before it stalls), then BFGS, which also checks (a) at every
 *    iterate.  BFGS usually stops on "no progress" at the rounding floor of f, about
 *    1e-8 relative to the Newton optimum.
 * On failure fit is left unchanged. */
int infb_logreg_fit_penalized(const infb_problem *pb, double alpha,
                              const infb_solver_options *opt, infb_fit *fit);

/* Solver details of infb_logreg_fit_penalized (defaults in brackets). */
typedef struct infb_logreg_options {
  double armijo;        /* sufficient decrease c in f(θ + td) ≤ f(θ) + c·t·gᵀd [1e-4] */
  double backtrack;     /* step shrink factor of the line search, in (0, 1) [0.5] */
  size_t max_backtrack; /* line-search halvings before "no progress" [60] */
  double f_noise;       /* relative rounding level of f: when the predicted decrease
                           −gᵀd ≤ f_noise·max(1, |f|), values of f cannot be compared and
                           the full Newton step is taken if it shrinks ‖g‖∞ [1e-12] */
  double step_tol;      /* α = 0: the Newton step must be ≤ step_tol·max(1, ‖θ‖∞) [1e-6] */
  double sep_tol;       /* α = 0: slack of the separating-direction test (b) [1e-6] */
  double rank_tol;      /* α = 0: rank-deficiency threshold on the scaled Gram [1e-12] */
  double bfgs_step;     /* BFGS: size of the first trial step [1] */
  double bfgs_line_tol; /* BFGS: line-minimisation tolerance [0.1] */
} infb_logreg_options;

/* Fill *o with the defaults above. */
void infb_logreg_options_default(infb_logreg_options *o);

/* infb_logreg_fit_penalized with explicit solver details (lopt NULL: the defaults). */
int infb_logreg_fit_ex(const infb_problem *pb, double alpha, const infb_solver_options *opt,
                       const infb_logreg_options *lopt, infb_fit *fit);

/* H = XᵀRX + αI (the Hessian of the objective, intercept convention as above: with a
 * FLAT intercept no α on b's diagonal) at the fit's (w, b); H is (p+h)×(p+h).  Returns a
 * GSL status (GSL_EBADLEN on a shape mismatch). */
int infb_logreg_hessian(const infb_problem *pb, double alpha, const infb_fit *fit,
                        gsl_matrix *H);

#endif
