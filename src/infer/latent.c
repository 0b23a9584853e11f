/* Latent fits and principal angles (see latent.h). */
#include <config.h>
#include "infer/latent.h"
#include "core/error.h"
#include "linalg/dense.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_linalg.h>

void
infb_latent_fit_init(infb_latent_fit *f)
{
  memset(f, 0, sizeof *f);
  f->recon_mse_train = f->recon_mse_test = NAN;
}

void
infb_latent_fit_free(infb_latent_fit *f)
{
  if (!f)
    return;
  infb_lingauss_free(f->model);
  if (f->encoder_free && f->encoder.self)
    f->encoder_free(f->encoder.self);
  free(f->curve);
  free(f->angles);
  infb_latent_fit_init(f);
}

int
infb_latent_fit_curve(infb_latent_fit *f, size_t n, const char *label)
{
  free(f->curve);
  f->curve = infb_malloc(3 * (n ? n : 1), sizeof *f->curve);
  if (!f->curve)
    return GSL_ENOMEM;
  for (size_t i = 0; i < 3 * n; i++)
    f->curve[i] = NAN;
  f->ncurve = n;
  f->curve_label = label;
  return GSL_SUCCESS;
}

/* Q (D×K) of the thin QR of A. */
static int
orthonormal(const gsl_matrix *A, gsl_matrix *Q)
{
  const size_t D = A->size1, K = A->size2;
  gsl_matrix *QR = gsl_matrix_alloc(D, K), *Qf = gsl_matrix_alloc(D, D), *R = gsl_matrix_alloc(D, K);
  gsl_vector *tau = gsl_vector_alloc(K);
  int st = GSL_ENOMEM;
  if (QR && Qf && R && tau) {
    gsl_matrix_memcpy(QR, A);
    st = gsl_linalg_QR_decomp(QR, tau);
    if (!st)
      st = gsl_linalg_QR_unpack(QR, tau, Qf, R);
    if (!st) {
      for (size_t k = 0; k < K; k++)
        if (fabs(gsl_matrix_get(R, k, k)) <= 1e-12 * (1.0 + fabs(gsl_matrix_get(R, 0, 0))))
          st = INFB_ERROR(INFB_ESINGULAR, "principal angles: the columns are linearly dependent");
      gsl_matrix_const_view q = gsl_matrix_const_submatrix(Qf, 0, 0, D, K);
      gsl_matrix_memcpy(Q, &q.matrix);
    }
  }
  gsl_matrix_free(QR);
  gsl_matrix_free(Qf);
  gsl_matrix_free(R);
  gsl_vector_free(tau);
  return st;
}

int
infb_principal_angles(const gsl_matrix *A, const gsl_matrix *B, double *angles)
{
  const size_t D = A->size1, K = A->size2;
  if (B->size1 != D || B->size2 != K || K == 0 || K > D)
    return INFB_ERROR(GSL_EBADLEN, "principal angles: shapes %zux%zu and %zux%zu", D, K, B->size1,
                      B->size2);
  gsl_matrix *QA = gsl_matrix_alloc(D, K), *QB = gsl_matrix_alloc(D, K);
  gsl_matrix *M = gsl_matrix_alloc(K, K), *V = gsl_matrix_alloc(K, K);
  gsl_vector *s = gsl_vector_alloc(K), *work = gsl_vector_alloc(K);
  int st = GSL_ENOMEM;
  if (QA && QB && M && V && s && work && !(st = orthonormal(A, QA)) && !(st = orthonormal(B, QB)) &&
      !(st = infb_dense_gemm(1, 0, 1.0, QA, QB, 0.0, M))) {
    /* The singular values of Q_AᵀQ_B are the cosines, in descending order. */
    st = gsl_linalg_SV_decomp(M, V, s, work);
    for (size_t k = 0; !st && k < K; k++) {
      double c = gsl_vector_get(s, k);
      angles[k] = acos(c > 1.0 ? 1.0 : c);
    }
  }
  gsl_matrix_free(QA);
  gsl_matrix_free(QB);
  gsl_matrix_free(M);
  gsl_matrix_free(V);
  gsl_vector_free(s);
  gsl_vector_free(work);
  return st;
}
