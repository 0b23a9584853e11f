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
 * (square) may be NULL.  Returns f. */
double infb_logreg_objective(const infb_problem *pb, double alpha, const gsl_vector *theta,
                             gsl_vector *grad, gsl_matrix *hess);

/* Minimise the objective for α ≥ 0 by Newton's method with a backtracking line search
 * (method NEWTON or AUTO) or BFGS (method BFGS) until ‖grad‖ ≤ tol·max(1, ‖f‖-scale).
 * Writes fit->w, fit->intercept, iterations, stop_reason.  With α = 0 and (quasi-)
 * separable data the MLE does not exist: fails with INFB_ESEPARABLE and the message
 * "the classes are (quasi-)separable: the logistic MLE does not exist (weights diverge);
 * use map".  Also rejects targets that are not 0/1 or have a single class (INFB_EDATA). */
int infb_logreg_fit_penalized(const infb_problem *pb, double alpha,
                              const infb_solver_options *opt, infb_fit *fit);

/* H = XᵀRX + αI (the Hessian of the objective, intercept convention as above) at the
 * fit's (w, b); H is (p+h)×(p+h). */
int infb_logreg_hessian(const infb_problem *pb, double alpha, const infb_fit *fit,
                        gsl_matrix *H);

#endif
