/* The linear-Gaussian latent model (factor analysis; PPCA when Ψ = σ²I):
 *   z ~ N(0, I_K),  x | z ~ N(Wz + b, Ψ),  Ψ = diag(psi).
 * Exact marginal, posterior and ELBOs through the K×K matrix Λ = I + WᵀΨ⁻¹W (Woodbury),
 * EM for factor analysis (Ghahramani & Hinton 1996), the PPCA closed form (Tipping &
 * Bishop 1999), and sampling.  Formulas: MATH.md §3.  All in double. */
#ifndef INFB_MODEL_LINGAUSS_H
#define INFB_MODEL_LINGAUSS_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_vector.h>

typedef struct infb_lingauss {
  size_t D;          /* observed dimension */
  size_t K;          /* latent dimension, 1 ≤ K < D */
  gsl_matrix *W;     /* D×K loadings */
  gsl_vector *b;     /* D offsets */
  gsl_vector *psi;   /* D noise variances > 0 (all equal under ppca) */
  int ppca;          /* nonzero: Ψ = σ²I is kept isotropic by every estimator */
} infb_lingauss;

/* A model with W = 0, b = 0, psi = 1.  NULL (error raised) when K == 0, K ≥ D, or out of
 * memory. */
infb_lingauss *infb_lingauss_alloc(size_t D, size_t K, int ppca);
void infb_lingauss_free(infb_lingauss *m); /* NULL is a no-op */
/* Copy parameters (W, b, psi and the ppca flag) between models of equal D, K
 * (GSL_EBADLEN otherwise). */
int infb_lingauss_copy(infb_lingauss *dst, const infb_lingauss *src);

/* Quantities of one θ, computed once by _set: Λ, its Cholesky factor, Λ⁻¹, ln|C| =
 * ln|Λ| + Σ ln psi, and WᵀΨ⁻¹.  A cache does not own the model; re-_set after θ changes. */
typedef struct infb_lingauss_cache infb_lingauss_cache;
infb_lingauss_cache *infb_lingauss_cache_alloc(size_t D, size_t K);
void infb_lingauss_cache_free(infb_lingauss_cache *c); /* NULL is a no-op */
/* Fails with GSL_EDOM when some psi ≤ 0 or is not finite ("Psi[j] = v is not a positive
 * variance"), INFB_ESINGULAR if Λ is not positive definite.  Extensions: GSL_EBADLEN when
 * the cache's D, K differ from the model's; GSL_EDOM when a W or b entry is not finite
 * ("W[d][k] = v is not finite", "b[d] = v is not finite").  The cache copies W, b, psi,
 * so it stays valid if the model is changed afterwards.  Every function below that takes
 * a cache fails with GSL_EINVAL on a cache that has never been _set successfully. */
int infb_lingauss_cache_set(infb_lingauss_cache *c, const infb_lingauss *m);
/* Λ (K×K), read-only view valid until the next _set. */
const gsl_matrix *infb_lingauss_cache_lambda(const infb_lingauss_cache *c);

/* Exact ln p(x_i) = ln N(x_i; b, C) for the n rows of X (n×D) into out (length n). */
int infb_lingauss_logpx(const infb_lingauss_cache *c, const gsl_matrix *X, gsl_vector *out);

/* Exact posterior: row i of M (n×K) = m(x_i) = Λ⁻¹WᵀΨ⁻¹(x_i − b); Sigma (K×K, may be
 * NULL) = Λ⁻¹. */
int infb_lingauss_posterior(const infb_lingauss_cache *c, const gsl_matrix *X, gsl_matrix *M,
                            gsl_matrix *Sigma);

/* Closed-form ELBO of q_i = N(MU_i, diag S2_i) for each row (MU, S2 n×K, S2 > 0):
 *   E_q ln p(x|z) − KL(q‖N(0,I)) (MATH.md §3).  out has length n.  GSL_EDOM if some
 * S2 ≤ 0. */
int infb_lingauss_elbo(const infb_lingauss_cache *c, const gsl_matrix *X, const gsl_matrix *MU,
                       const gsl_matrix *S2, gsl_vector *out);

/* Its gradient for each row: GMU (n×K) = ∂ELBO/∂μ, GLV (n×K) = ∂ELBO/∂ln s² (either may
 * be NULL).  For finite-difference checks and the numeric q* tests. */
int infb_lingauss_elbo_grad(const infb_lingauss_cache *c, const gsl_matrix *X,
                            const gsl_matrix *MU, const gsl_matrix *S2, gsl_matrix *GMU,
                            gsl_matrix *GLV);

/* The optimal fully factorised q* for each row: MU = m(x_i), S2_ij = 1/Λ_jj (the same for
 * every row). */
int infb_lingauss_qstar(const infb_lingauss_cache *c, const gsl_matrix *X, gsl_matrix *MU,
                        gsl_matrix *S2);

/* The approximation gap of q*, the same for every x: ½(Σ_j ln Λ_jj − ln|Λ|) ≥ 0. */
double infb_lingauss_approx_gap(const infb_lingauss_cache *c);

/* ln p(x|z) for R rows: row r pairs x = X + xrow[r]·D (xrow NULL: X + r·D, X then R×D)
 * with z = Z + r·K → logp (R); G (R×K, may be NULL) = ∂ ln p(x|z)/∂z = (x − Wz − b)ᵀΨ⁻¹W.
 * The decoder callback of the numeric q* (infer/qstar.h). */
int infb_lingauss_decoder(const infb_lingauss *m, size_t R, const double *X,
                          const size_t *xrow, const double *Z, double *logp, double *G);

/* Draw n rows x ~ p(x) into X (n×D): z ~ N(0, I), x = Wz + b + N(0, Ψ).  Z (n×K) receives
 * the latents when not NULL.  Draw order: per row, z then the noise (z_1..z_K, then
 * ε_1..ε_D, each one gsl_ran_gaussian call). */
int infb_lingauss_sample(const infb_lingauss *m, gsl_rng *r, gsl_matrix *X, gsl_matrix *Z);

/* A random "true" model for synthetic data: W_dk ~ N(0, w_scale²), b_d ~ N(0, b_scale²),
 * psi_d ~ U(psi_min, psi_max) (ppca: one draw shared by all d).  Draw order: W row by
 * row, then b, then psi.  GSL_EDOM unless w_scale, b_scale ≥ 0 and
 * 0 < psi_min ≤ psi_max (all finite). */
int infb_lingauss_random(infb_lingauss *m, gsl_rng *r, double w_scale, double b_scale,
                         double psi_min, double psi_max);

/* EM for factor analysis (PPCA when m->ppca).  Starts from m's current parameters (the
 * caller initialises, e.g. b = mean, W small random, psi = variances).  Each iteration
 * computes the exact log-likelihood; stops when its rise per point is ≤ tol·(1 + |ll|)
 * ("converged") or after max_iter ("max_iter").  A psi below psi_floor is raised to it
 * and counted in *nfloored (it is the option that keeps Ψ nonsingular).  trace (length ≥
 * max_iter + 1, may be NULL) receives the mean log-likelihood per point before each
 * iteration and after the last; *iters the iterations run.  Returns a status; on a NaN
 * fails naming the iteration.
 *
 * Details (extensions of the contract above):
 * - Each iteration first sets b to the sample mean (the exact maximiser of ln p(X) in b
 *   for any W, Ψ, so a no-op after the first iteration), then makes one EM step of
 *   Ghahramani & Hinton (1996) for W, Ψ on the centred data, through the 1/N sample
 *   covariance S (D×D, formed once per call): with β = Λ⁻¹WᵀΨ⁻¹,
 *     W ← Sβᵀ(Λ⁻¹ + βSβᵀ)⁻¹,  psi_d ← (S − WβS)_dd  (ppca: σ² ← tr(S − WβS)/D).
 *   The log-likelihood is the exact one, −½[D ln 2π + ln|C| + tr(C⁻¹S) + δᵀC⁻¹δ] with
 *   δ = x̄ − b, evaluated by Woodbury.
 * - The floor is also applied to the starting psi.  *nfloored counts the coordinates d
 *   whose psi was raised to psi_floor at least once (under ppca the shared σ² counts
 *   once).  psi_floor = 0 disables the floor.
 * - stop_reason (NUL-terminated, truncated to reason_cap; may be NULL) is "converged" or
 *   "max_iter"; any of trace, iters, nfloored may be NULL.
 * - Errors: GSL_EINVAL for bad options (tol or psi_floor negative or not finite);
 *   GSL_EBADLEN when X is not n×D; INFB_EDATA when X has no rows or a non-finite cell;
 *   a parameter failure at iteration t (t = 0 is the starting point) is raised as
 *     "EM iteration t: the log-likelihood is not finite; try a larger [mle] psi_floor"
 *     "EM iteration t: <cache_set's message>; try a larger [mle] psi_floor"
 *   with the status of the failure (GSL_EDOM or INFB_ESINGULAR).  On error m holds the
 *   last parameters tried. */
typedef struct infb_lingauss_em_options {
  size_t max_iter;   /* iteration cap */
  double tol;        /* relative tolerance on the mean log-likelihood */
  double psi_floor;  /* smallest allowed noise variance */
  double lambda;     /* ≥ 0: a Gaussian prior N(0, 1/lambda) on every entry of W (MAP-EM).
                        The objective (and the trace) is then the mean log posterior
                        ln p(X)/N − lambda‖W‖²/(2N), and each M-step is an ECM step: row d
                        of W ← (S Bᵀ)_d (E[zzᵀ] + (lambda psi_d/N) I)⁻¹ at the old psi_d, then
                        psi_d ← S_dd − 2 w_d·(S Bᵀ)_d + w_dᵀ E[zzᵀ] w_d (its exact maximiser
                        given w_d).  0 is maximum likelihood. */
} infb_lingauss_em_options;
int infb_lingauss_em(infb_lingauss *m, const gsl_matrix *X, const infb_lingauss_em_options *o,
                     double *trace, size_t *iters, size_t *nfloored, char *stop_reason,
                     size_t reason_cap);

/* The PPCA maximum-likelihood solution in closed form (MATH.md §3): b = sample mean,
 * σ² = mean of the D−K smallest eigenvalues of the 1/N sample covariance, W =
 * U_K(Λ_K − σ²I)^{1/2}.  Sets m->psi to σ² everywhere (m->ppca must be set).
 * Eigenvectors by gsl_eigen_symmv.  Errors: GSL_EINVAL when m->ppca is 0; GSL_EBADLEN
 * when X is not n×D; INFB_EDATA for no rows or a non-finite cell; INFB_ESINGULAR when
 * σ² ≤ 0 ("PPCA closed form: sigma^2 = v: the data lie in a K-dimensional subspace; set
 * a positive [mle] psi_floor"). */
int infb_lingauss_ppca_closed(infb_lingauss *m, const gsl_matrix *X);

/* Extension: the same with σ² ≥ psi_floor.  When the closed-form σ² is below psi_floor
 * it is raised to it and W = U_K(max(Λ_K − σ²I, 0))^{1/2} (the maximiser in W for that
 * σ²); *nfloored (may be NULL) is then 1, else 0.  psi_floor = 0 gives
 * infb_lingauss_ppca_closed. */
int infb_lingauss_ppca_closed_floor(infb_lingauss *m, const gsl_matrix *X, double psi_floor,
                                    size_t *nfloored);

#endif
