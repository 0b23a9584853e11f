/* Mean-field variational Bayes over linear-regression weights:
 * q(w) = Π_j N(w_j; μ_j, s_j²) at fixed (α, β), fitted by coordinate ascent on the ELBO.
 * MATH.md §1: the optimum is μ = m_N, s_j² = 1/A_jj, and
 * ln p(y) − ELBO(q*) = KL(q*‖p(w|y)) = ½(Σ ln A_jj − ln|A|). */
#ifndef INFB_INFER_MEANFIELD_H
#define INFB_INFER_MEANFIELD_H

#include "infer/estimator.h"

typedef struct infb_meanfield_options {
  double alpha;        /* prior precision α > 0 */
  double beta;         /* noise precision β > 0 */
  double tol;          /* stop when, in one sweep, the ELBO rises by at most tol·(1 + |ELBO|)
                          and no μ_j moves by more than tol·(|μ_j| + 1/√A_jj) */
  size_t max_iter;     /* sweep cap */
} infb_meanfield_options;

/* ELBO of q = N(mu, diag s2) for the weights (and b per pb's intercept convention: under
 * FLAT, the centred problem whose evidence bayes reports) at (α, β), in closed form.
 * mu and s2 have the length of the reduced design (model/linreg.h): p, or p+1 under SAME
 * (b last); GSL_EBADLEN otherwise, GSL_EDOM for a variance ≤ 0.  Under FLAT this equals
 * the ELBO of q(w)·p(b | w, y) for the flat-prior joint. */
int infb_meanfield_elbo(const infb_problem *pb, double alpha, double beta,
                        const gsl_vector *mu, const gsl_vector *s2, double *elbo);

/* Coordinate ascent from μ = 0, s² = 1/α.  Fills fit->w = μ (weights), intercept, cov
 * (diag s², plus b), noise_var = 1/β, elbo, log_evidence (exact, from bayes), gap =
 * log_evidence − elbo, gap_analytic, alpha, beta, iterations, stop_reason.
 * A sweep updates every factor once; its ELBO rise is summed exactly from the coordinate
 * gains, and the ascent stops ("converged") when that rise is ≤ tol·(1 + |ELBO|) and
 * every μ_j step is ≤ max(tol, 8ε)·(|μ_j| + 1/√A_jj), ε the machine epsilon, or
 * after max_iter sweeps ("max_iter"; max_iter = k runs exactly k sweeps when tol = 0
 * and the ELBO still rises).  A problem with a fixed noise_var > 0 sets β = 1/noise_var,
 * as in bayes.  FLAT: intercept = ȳ − x̄ᵀμ and cov holds Var(b) = 1/(βN) + Σ x̄_j² s_j²,
 * Cov(w_j, b) = −x̄_j s_j² (q(b | w) is the exact flat-prior conditional). */
int infb_meanfield_fit(const infb_problem *pb, const infb_meanfield_options *opt,
                       infb_fit *fit);

#endif
