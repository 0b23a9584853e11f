/* Laplace approximation for logistic regression: a Gaussian at the MAP with covariance
 * H⁻¹, H = XᵀRX + αI, and the Laplace evidence (MATH.md §2). */
#ifndef INFB_INFER_LAPLACE_H
#define INFB_INFER_LAPLACE_H

#include "infer/estimator.h"

typedef struct infb_laplace_options {
  double alpha;        /* prior precision α > 0, used when !alpha_evidence */
  int alpha_evidence;  /* choose α by maximising the Laplace evidence (MacKay's update
                          α ← γ/‖w‖², γ = Σ λ_i/(α+λ_i) over the eigenvalues of XᵀRX) */
  infb_solver_options solver; /* the inner MAP solve */
  double tol;          /* relative change of α to stop the outer iteration */
  size_t max_iter;     /* outer iteration cap */
} infb_laplace_options;

/* Fill fit->w, intercept (the MAP), cov = H⁻¹, log_evidence
 *   ln p(y|w_MAP) + ln p(w_MAP) + (M/2) ln 2π − ½ ln|H|
 * (flat intercept: no prior term for b and no α on its diagonal of H), alpha,
 * iterations, stop_reason, note.  Logreg only (GSL_EINVAL otherwise). */
int infb_laplace_fit(const infb_problem *pb, const infb_laplace_options *opt, infb_fit *fit);

#endif
