/* Shared dense factorisations (see dense.h). */
#include "config.h"
#include "linalg/dense.h"
#include "linalg/blas.h"
#include "core/error.h"

#include <math.h>
#include <gsl/gsl_linalg.h>

int
infb_dense_gram(double alpha, const gsl_matrix *X, double beta, gsl_matrix *G)
{
  if (G->size1 != X->size2 || G->size2 != X->size2)
    return INFB_ERROR(GSL_EBADLEN, "gram: G is %zux%zu, X has %zu columns", G->size1, G->size2,
                      X->size2);
  return infb_dgemm(1, 0, X->size2, X->size2, X->size1, alpha, X->data, X->tda, X->data, X->tda,
                    beta, G->data, G->tda);
}

int
infb_dense_gemm(int transa, int transb, double alpha, const gsl_matrix *A, const gsl_matrix *B,
                double beta, gsl_matrix *C)
{
  size_t m = transa ? A->size2 : A->size1, k = transa ? A->size1 : A->size2;
  size_t kb = transb ? B->size2 : B->size1, n = transb ? B->size1 : B->size2;
  if (k != kb || C->size1 != m || C->size2 != n)
    return INFB_ERROR(GSL_EBADLEN, "gemm: shapes do not agree (%zux%zu by %zux%zu into %zux%zu)",
                      m, k, kb, n, C->size1, C->size2);
  return infb_dgemm(transa, transb, m, n, k, alpha, A->data, A->tda, B->data, B->tda, beta,
                    C->data, C->tda);
}

int
infb_dense_cholesky(gsl_matrix *A, const char *what)
{
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  int st = gsl_linalg_cholesky_decomp1(A);
  gsl_set_error_handler(old);
  if (st)
    return INFB_ERROR(INFB_ESINGULAR, "%s is not positive definite", what);
  return GSL_SUCCESS;
}

double
infb_dense_chol_logdet(const gsl_matrix *L)
{
  double s = 0.0;
  for (size_t i = 0; i < L->size1; i++)
    s += log(gsl_matrix_get(L, i, i));
  return 2.0 * s;
}

int
infb_dense_chol_solve(const gsl_matrix *L, const gsl_vector *b, gsl_vector *x)
{
  if (x != b)
    gsl_vector_memcpy(x, b);
  return gsl_linalg_cholesky_svx(L, x);
}

int
infb_dense_chol_invert(gsl_matrix *L)
{
  return gsl_linalg_cholesky_invert(L);
}
