/* Dense layer forward and backward (see dense.h), one gemm each; compiled once per
 * precision (INFB_REAL_BITS), after llm.c's matmul_forward/matmul_backward. */
#include <config.h>
#include "nn/dense.h"
#include "linalg/blas.h"

#include <gsl/gsl_errno.h>

/* Y = X·op(W) + 1bᵀ: every row of Y starts at bᵀ (when b is given), then one gemm adds
 * X·Wᵀ (W out × in) or X·WT (WT in × out, transposed != 0) with beta = 1. */
static int
forward_op(infb_real *restrict Y, const infb_real *restrict X, const infb_real *restrict W,
           const infb_real *restrict b, size_t B, size_t in, size_t out, int transposed)
{
  infb_real beta = 0;
  if (b) {
    for (size_t r = 0; r < B; r++) {
      infb_real *restrict y = Y + r * out;
      for (size_t j = 0; j < out; j++)
        y[j] = b[j];
    }
    beta = 1;
  }
  return transposed ? INFB_REAL_GEMM(0, 0, B, out, in, 1, X, in, W, out, beta, Y, out)
                    : INFB_REAL_GEMM(0, 1, B, out, in, 1, X, in, W, in, beta, Y, out);
}

INFB_NN_HOT
int
INFB_NN(dense_forward)(infb_real *restrict Y, const infb_real *restrict X,
                       const infb_real *restrict W, const infb_real *restrict b, size_t B,
                       size_t in, size_t out)
{
  return forward_op(Y, X, W, b, B, in, out, 0);
}

INFB_NN_HOT
int
INFB_NN(dense_forward_t)(infb_real *restrict Y, const infb_real *restrict X,
                         const infb_real *restrict WT, const infb_real *restrict b, size_t B,
                         size_t in, size_t out)
{
  return forward_op(Y, X, WT, b, B, in, out, 1);
}

INFB_NN_HOT
int
INFB_NN(dense_backward)(infb_real *restrict dX, infb_real *restrict dW,
                        infb_real *restrict db, const infb_real *restrict dY,
                        const infb_real *restrict X, const infb_real *restrict W, size_t B,
                        size_t in, size_t out)
{
  int st;
  /* ∂L/∂X_rk = Σ_j dY_rj W_jk: dX = dY·W. */
  if (dX) {
    st = INFB_REAL_GEMM(0, 0, B, in, out, 1, dY, out, W, in, 0, dX, in);
    if (st)
      return st;
  }
  /* ∂L/∂W_jk = Σ_r dY_rj X_rk: dW += dYᵀ·X. */
  if (dW) {
    st = INFB_REAL_GEMM(1, 0, out, in, B, 1, dY, out, X, in, 1, dW, in);
    if (st)
      return st;
  }
  /* ∂L/∂b_j = Σ_r dY_rj. */
  if (db) {
    for (size_t r = 0; r < B; r++) {
      const infb_real *restrict dy = dY + r * out;
      for (size_t j = 0; j < out; j++)
        db[j] += dy[j];
    }
  }
  return GSL_SUCCESS;
}
