/* Dense linear algebra on GSL matrices: the few factorisations the estimators share.
 * Products go through the CBLAS wrappers (OpenBLAS); factorisations are GSL's. */
#ifndef INFB_LINALG_DENSE_H
#define INFB_LINALG_DENSE_H

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

/* Checked allocation: a new r×c matrix / length-n vector, or NULL with the error raised
 * through the infbench error path (never GSL's aborting handler): GSL_EINVAL for a zero
 * size, GSL_ENOMEM when memory runs out. */
gsl_matrix *infb_dense_matrix_alloc(size_t r, size_t c);
gsl_vector *infb_dense_vector_alloc(size_t n);

/* Column means of X (n ≥ 1 rows) into mean[X->size2], by two passes with the rounding
 * correction of the second (Chan, Golub & LeVeque 1983). */
void infb_dense_column_means(const gsl_matrix *X, double *mean);

/* A new contiguous n×D matrix X − 1cᵀ (c has D entries).  NULL on ENOMEM. */
gsl_matrix *infb_dense_centred(const gsl_matrix *X, const double *c);

/* G (p×p) = alpha·XᵀX + beta·G for X n×p (any tda).  Returns a GSL status. */
int infb_dense_gram(double alpha, const gsl_matrix *X, double beta, gsl_matrix *G);

/* C = alpha·op(A)·op(B) + beta·C on gsl_matrix views (any tda); shapes must agree
 * (GSL_EBADLEN raised otherwise). */
int infb_dense_gemm(int transa, int transb, double alpha, const gsl_matrix *A,
                    const gsl_matrix *B, double beta, gsl_matrix *C);

/* In-place Cholesky A = LLᵀ (L in the lower triangle).  `what` names the matrix for the
 * message, e.g. "posterior precision".  On failure A is left undefined and
 * INFB_ESINGULAR is raised: "<what> is not positive definite". */
int infb_dense_cholesky(gsl_matrix *A, const char *what);

/* ln|A| = 2 Σ ln L_ii from a Cholesky factor. */
double infb_dense_chol_logdet(const gsl_matrix *L);

/* Solve (LLᵀ) x = b; x and b may be the same vector. */
int infb_dense_chol_solve(const gsl_matrix *L, const gsl_vector *b, gsl_vector *x);

/* Replace a Cholesky factor by the inverse of LLᵀ (full symmetric matrix). */
int infb_dense_chol_invert(gsl_matrix *L);

#endif
