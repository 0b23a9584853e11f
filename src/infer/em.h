/* The `mle` estimator of the linear-Gaussian latent model: initialisation from the data,
 * then EM for factor analysis / PPCA (Ghahramani & Hinton 1996) or the PPCA closed form
 * (Tipping & Bishop 1999).  A thin layer over model/lingauss.h; MATH.md §3. */
#ifndef INFB_INFER_EM_H
#define INFB_INFER_EM_H

#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_rng.h>

#include "model/lingauss.h"

typedef enum infb_em_method {
  INFB_EM_ITERATE = 0,    /* EM iterations (FA, or PPCA when m->ppca) */
  INFB_EM_PPCA_CLOSED = 1 /* the PPCA closed form (needs m->ppca) */
} infb_em_method;

typedef struct infb_em_fit_options {
  size_t max_iter;       /* EM iteration cap (INFB_EM_ITERATE) */
  double tol;            /* stop when the rise of the mean log-likelihood per iteration is
                            ≤ tol·(1 + |ll|); ≥ 0 */
  double psi_floor;      /* smallest allowed noise variance (≥ 0; 0 disables the floor) */
  double init_scale;     /* W is initialised with entries N(0, init_scale²); > 0 for
                            INFB_EM_ITERATE (W = 0 is a fixed point of EM) */
  infb_em_method method; /* INFB_EM_ITERATE or INFB_EM_PPCA_CLOSED */
  double lambda;         /* ≥ 0: MAP-EM with a N(0, 1/lambda) prior on every entry of W
                            (INFB_EM_ITERATE only; see infb_lingauss_em_options); the trace
                            is then the mean log posterior */
} infb_em_fit_options;

typedef struct infb_em_result {
  size_t iterations;    /* EM iterations run (0 for the closed form) */
  char stop_reason[64]; /* "converged", "max_iter" or "closed form" */
  size_t nfloored;      /* noise variances raised to psi_floor (see infb_lingauss_em;
                           ppca: 0 or 1) */
  double loglik;        /* final mean log-likelihood per data point, ln p(X)/N */
  double *trace;        /* trace_len mean log-likelihoods: before each iteration and after
                           the last (closed form: one entry, = loglik); owned by the
                           result, free with infb_em_result_free */
  size_t trace_len;     /* iterations + 1 */
} infb_em_result;

/* Fit m (its D, K and ppca flag fixed by the caller) to the rows of X (n×D):
 *  - INFB_EM_ITERATE: b = sample mean, psi_d = the 1/N sample variance of column d (ppca:
 *    their mean), W_dk ~ N(0, init_scale²) drawn from r row by row; the floor applied;
 *    then infb_lingauss_em with {max_iter, tol, psi_floor}.
 *  - INFB_EM_PPCA_CLOSED: infb_lingauss_ppca_closed_floor (r unused, may be NULL).
 * res is overwritten (any previous trace is not freed: call infb_em_result_free first).
 * Returns a status: the errors of infb_lingauss_check_data (K = m->K), GSL_EINVAL for bad
 * options ("EM: init_scale = v must be a positive number", "EM: tol = ...", "the PPCA
 * closed form needs a ppca model"), then those of infb_lingauss_em / _ppca_closed_floor
 * ("EM iteration t: ...").  On failure res->trace is NULL and m holds the last
 * parameters tried. */
int infb_em_fit(infb_lingauss *m, const gsl_matrix *X, const infb_em_fit_options *o,
                gsl_rng *r, infb_em_result *res);

/* Free res->trace and set it to NULL (trace_len to 0).  NULL res is a no-op; freeing
 * twice is safe. */
void infb_em_result_free(infb_em_result *res);

/* Validate data for a K-dimensional latent model: INFB_ECONFIG unless 1 ≤ K ≤ D − 1
 * ("latent dimension K = 5 must be between 1 and D − 1 = 4"); INFB_EDATA when X has no
 * rows ("the data have no rows") or a non-finite cell ("data row i, column j is not
 * finite (v)", 1-based). */
int infb_lingauss_check_data(const gsl_matrix *X, size_t K);

#endif
