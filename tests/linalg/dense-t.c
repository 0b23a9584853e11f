/* Tests of src/linalg/dense: Gram matrices, gemm shapes, Cholesky solve/logdet/inverse
 * against direct computations (LU from GSL, products by loops). */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "linalg/dense.h"

#include <math.h>
#include <string.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_permutation.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>

static double
max_abs_diff(const gsl_matrix *A, const gsl_matrix *B)
{
  double m = 0;
  for (size_t i = 0; i < A->size1; i++)
    for (size_t j = 0; j < A->size2; j++)
      m = fmax(m, fabs(gsl_matrix_get(A, i, j) - gsl_matrix_get(B, i, j)));
  return m;
}

int
main(void)
{
  plan(16);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 11);
  const size_t n = 7, p = 3;
  gsl_matrix *X = gsl_matrix_alloc(n, p);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < p; j++)
      gsl_matrix_set(X, i, j, gsl_ran_gaussian(r, 1.0));

  /* Gram: 2·XᵀX + 0.5·I by the definition Σ_i x_ia x_ib. */
  gsl_matrix *G = gsl_matrix_alloc(p, p), *R = gsl_matrix_alloc(p, p);
  gsl_matrix_set_identity(G);
  ok(infb_dense_gram(2.0, X, 0.5, G) == 0, "gram returns success");
  for (size_t a = 0; a < p; a++)
    for (size_t b = 0; b < p; b++) {
      double s = 0;
      for (size_t i = 0; i < n; i++)
        s += gsl_matrix_get(X, i, a) * gsl_matrix_get(X, i, b);
      gsl_matrix_set(R, a, b, 2.0 * s + (a == b ? 0.5 : 0.0));
    }
  ok(max_abs_diff(G, R) < 1e-13, "gram equals 2 sum_i x_i x_i^T + 0.5 I");
  gsl_matrix *bad = gsl_matrix_alloc(p + 1, p);
  is_int(GSL_EBADLEN, infb_dense_gram(1.0, X, 0.0, bad), "gram rejects a wrong-shaped G");

  /* gemm: XᵀX through the general product equals the Gram matrix (β = 0). */
  gsl_matrix *C = gsl_matrix_alloc(p, p);
  ok(infb_dense_gemm(1, 0, 2.0, X, X, 0.0, C) == 0, "gemm X^T X");
  gsl_matrix_memcpy(R, G);
  for (size_t a = 0; a < p; a++)
    gsl_matrix_set(R, a, a, gsl_matrix_get(R, a, a) - 0.5);
  ok(max_abs_diff(C, R) < 1e-13, "gemm(trans, notrans) equals the Gram matrix");
  is_int(GSL_EBADLEN, infb_dense_gemm(0, 0, 1.0, X, X, 0.0, C), "gemm rejects mismatched shapes");

  /* Cholesky of G: solve, log-determinant and inverse against LU. */
  gsl_matrix *L = gsl_matrix_alloc(p, p), *LU = gsl_matrix_alloc(p, p), *inv = gsl_matrix_alloc(p, p);
  gsl_matrix_memcpy(L, G);
  gsl_matrix_memcpy(LU, G);
  gsl_permutation *perm = gsl_permutation_alloc(p);
  int sign;
  gsl_linalg_LU_decomp(LU, perm, &sign);
  ok(infb_dense_cholesky(L, "G") == 0, "cholesky of a positive-definite matrix");
  is_double_rel(gsl_linalg_LU_lndet(LU), infb_dense_chol_logdet(L), 1e-12, "chol logdet = LU ln|det|");
  gsl_vector *b = gsl_vector_alloc(p), *x = gsl_vector_alloc(p), *xr = gsl_vector_alloc(p);
  for (size_t j = 0; j < p; j++)
    gsl_vector_set(b, j, 1.0 + (double)j);
  infb_dense_chol_solve(L, b, x);
  gsl_linalg_LU_solve(LU, perm, b, xr);
  double e = 0;
  for (size_t j = 0; j < p; j++)
    e = fmax(e, fabs(gsl_vector_get(x, j) - gsl_vector_get(xr, j)));
  ok(e < 1e-12, "chol solve = LU solve (err %.2g)", e);
  infb_dense_chol_invert(L);
  gsl_linalg_LU_invert(LU, perm, inv);
  ok(max_abs_diff(L, inv) < 1e-12, "chol inverse = LU inverse");

  /* A matrix that is not positive definite: status and message. */
  gsl_matrix *S = gsl_matrix_calloc(2, 2);
  gsl_matrix_set(S, 0, 0, 1.0);
  gsl_matrix_set(S, 0, 1, 2.0);
  gsl_matrix_set(S, 1, 0, 2.0);
  gsl_matrix_set(S, 1, 1, 1.0);
  is_int(INFB_ESINGULAR, infb_dense_cholesky(S, "posterior precision"), "indefinite matrix fails");
  is_string("posterior precision is not positive definite", infb_error_message(),
            "the message names the matrix");

  /* Column means and centring against direct sums. */
  double mean[3], want[3] = {0, 0, 0};
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < p; j++)
      want[j] += gsl_matrix_get(X, i, j) / (double)n;
  infb_dense_column_means(X, mean);
  ok(fabs(mean[0] - want[0]) < 1e-15 && fabs(mean[2] - want[2]) < 1e-15, "column means");
  gsl_matrix *E = infb_dense_centred(X, mean);
  double ce = 0;
  for (size_t j = 0; j < p; j++) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
      s += gsl_matrix_get(E, i, j);
    ce = fmax(ce, fabs(s));
  }
  ok(E && ce < 1e-14, "centred columns sum to 0 (%.2g)", ce);
  gsl_matrix_free(E);
  ok(infb_dense_matrix_alloc(0, 3) == NULL, "a 0x3 matrix is refused, not aborted");
  ok(infb_dense_vector_alloc(0) == NULL && strstr(infb_error_message(), "empty vector") != NULL,
     "a length-0 vector is refused with a message");

  gsl_matrix_free(X);
  gsl_matrix_free(G);
  gsl_matrix_free(R);
  gsl_matrix_free(bad);
  gsl_matrix_free(C);
  gsl_matrix_free(L);
  gsl_matrix_free(LU);
  gsl_matrix_free(inv);
  gsl_matrix_free(S);
  gsl_vector_free(b);
  gsl_vector_free(x);
  gsl_vector_free(xr);
  gsl_permutation_free(perm);
  gsl_rng_free(r);
  return test_done();
}
