/* Shared dense factorisations (see dense.h). */
#include "config.h"
#include "linalg/dense.h"
#include "linalg/blas.h"
#include "core/error.h"

#include <math.h>
#include <gsl/gsl_linalg.h>

gsl_matrix *
infb_dense_matrix_alloc(size_t r, size_t c)
{
  if (r == 0 || c == 0)
    INFB_ERROR_NULL(GSL_EINVAL, "cannot allocate an empty %zux%zu matrix", r, c);
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  gsl_matrix *M = gsl_matrix_alloc(r, c);
  gsl_set_error_handler(old);
  if (!M)
    INFB_ERROR_NULL(GSL_ENOMEM, "out of memory for a %zux%zu matrix", r, c);
  return M;
}

gsl_vector *
infb_dense_vector_alloc(size_t n)
{
  if (n == 0)
    INFB_ERROR_NULL(GSL_EINVAL, "cannot allocate an empty vector");
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  gsl_vector *v = gsl_vector_alloc(n);
  gsl_set_error_handler(old);
  if (!v)
    INFB_ERROR_NULL(GSL_ENOMEM, "out of memory for a vector of length %zu", n);
  return v;
}

void
infb_dense_column_means(const gsl_matrix *X, double *mean)
{
  const size_t n = X->size1, D = X->size2;
  for (size_t d = 0; d < D; d++) {
    double s = 0.0, corr = 0.0;
    for (size_t i = 0; i < n; i++)
      s += gsl_matrix_get(X, i, d);
    s /= (double)n;
    for (size_t i = 0; i < n; i++)
      corr += gsl_matrix_get(X, i, d) - s;
    mean[d] = s + corr / (double)n;
  }
}

gsl_matrix *
infb_dense_centred(const gsl_matrix *X, const double *c)
{
  gsl_matrix *E = infb_dense_matrix_alloc(X->size1, X->size2);
  if (!E)
    return NULL;
  for (size_t i = 0; i < X->size1; i++) {
    const double *x = gsl_matrix_const_ptr(X, i, 0);
    double *e = gsl_matrix_ptr(E, i, 0);
    for (size_t d = 0; d < X->size2; d++)
      e[d] = x[d] - c[d];
  }
  return E;
}

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
