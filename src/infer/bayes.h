/* Exact Bayesian linear regression: Gaussian posterior, log evidence, predictive, and
 * type-II maximum likelihood of (α, β).  MATH.md §1 (Bishop PRML §3.3–3.5). */
#ifndef INFB_INFER_BAYES_H
#define INFB_INFER_BAYES_H

#include "infer/estimator.h"

typedef struct infb_bayes_options {
  double alpha;        /* prior precision α > 0, used when !alpha_evidence */
  double beta;         /* noise precision β > 0, used when !beta_evidence (and the problem
                          does not fix σ²: a fixed noise_var sets β = 1/σ²) */
  int alpha_evidence;  /* optimise α by type-II ML */
  int beta_evidence;   /* optimise β by type-II ML */
  double tol;          /* stop when the relative change of α and β is below tol */
  size_t max_iter;     /* fixed-point iteration cap */
} infb_bayes_options;
/* When α (β) is optimised, opt->alpha (opt->beta) is its starting value if > 0; otherwise
 * the start is derived from the data: β₀ = n_eff/‖t‖² and α₀ = tr(ΦᵀΦ)/‖t‖² (t, Φ, n_eff
 * the reduced design of model/linreg.h), i.e. the noise and the prior predictive variance
 * per point each equal to the targets' mean square.  Each iteration is one update of
 * PRML eqs. 3.91–3.95 (β's with n_eff − γ); fit->iterations counts them, stop_reason is
 * "converged" or "max_iter" ("closed form", 0 iterations, when nothing is optimised).  A
 * diverging update (m_Nᵀm_N = 0, a perfect fit, n_eff ≤ γ) is GSL_EDOM. */

/* Posterior N(m_N, A⁻¹) with A = αI + βXᵀX (intercept per pb's convention: FLAT
 * integrates b out under a flat prior, giving the evidence of the centred problem with
 * N−1 degrees of freedom and the −½ln N term; SAME treats b as a weight).  Fills
 * fit->w = m_N, intercept, cov (of (w, b)), noise_var = 1/β, log_evidence, alpha, beta,
 * iterations, stop_reason, note.  Linreg only (GSL_EINVAL otherwise). */
int infb_bayes_fit(const infb_problem *pb, const infb_bayes_options *opt, infb_fit *fit);

/* ln p(y | α, β) for fixed α, β under pb's intercept convention (PRML eq. 3.86). */
int infb_bayes_log_evidence(const infb_problem *pb, double alpha, double beta, double *out);

#endif
