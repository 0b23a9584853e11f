/* Laplace approximation for logistic regression: a Gaussian at the MAP with covariance
 * H⁻¹, H = XᵀRX + αI, and the Laplace evidence (MATH.md §2). */
#ifndef INFB_INFER_LAPLACE_H
#define INFB_INFER_LAPLACE_H

#include "infer/estimator.h"

typedef struct infb_laplace_options {
  double alpha;        /* prior precision α > 0, used when !alpha_evidence; with
                          alpha_evidence the starting α (≤ 0: start at 1) */
  int alpha_evidence;  /* choose α by maximising the Laplace evidence (MacKay's update
                          α ← γ/‖w‖², γ = Σ λ_i/(α+λ_i) over the eigenvalues of XᵀRX) */
  infb_solver_options solver; /* the inner MAP solve (infb_logreg_fit_penalized) */
  double tol;          /* relative change of α to stop the outer iteration (≤ 0: 1e-10) */
  size_t max_iter;     /* outer iteration cap (0: 500) */
} infb_laplace_options;

/* Fill fit->w, intercept (the MAP), cov = H⁻¹, log_evidence
 *   ln p(y|w_MAP) + ln p(w_MAP) + (M/2) ln 2π − ½ ln|H|
 * (flat intercept: no prior term for b and no α on its diagonal of H), alpha,
 * iterations, stop_reason, note.  Logreg only (GSL_EINVAL otherwise).
 *
 * Details: M = p + h counts every coordinate, a FLAT b included (its prior is the
 * constant density 1); ln p(w) = Σ ln N(θ_j; 0, α⁻¹) over the penalised coordinates
 * (w, and b when SAME).  H is factorised by Cholesky (INFB_ESINGULAR if it is not
 * positive definite).  Fixed α: iterations and stop_reason are the inner solver's.
 * alpha_evidence: γ = n_pen − α·tr[(H⁻¹)_pen,pen], which is Σ λ_i/(α + λ_i) over the
 * eigenvalues λ_i of the data Hessian XᵀRX restricted to the penalised coordinates (with
 * a FLAT b: of its Schur complement, b profiled out) — the stationarity condition of the
 * Laplace evidence in α at fixed R; the MAP is re-solved at each α; the loop stops when
 * |α_new − α| < tol·α, and the fit (w, cov, evidence, alpha) is the one at the last α
 * solved, so α = γ/‖w_pen‖² holds there to tol.  iterations counts α updates;
 * stop_reason is "converged" or "max_iter"; GSL_ERUNAWAY if the update leaves (0, ∞).
 * Inner failures (INFB_EDATA for bad targets, ...) pass through. */
int infb_laplace_fit(const infb_problem *pb, const infb_laplace_options *opt, infb_fit *fit);

#endif
