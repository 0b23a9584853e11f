/* Fully connected (dense, affine) layer: forward Y = X·Wᵀ + 1bᵀ and its backward pass,
 * one gemm each (llm.c's matmul_forward/matmul_backward layout).
 *
 * Shapes (all row-major, contiguous):
 *   X  B × in     inputs, one row per example
 *   W  out × in   weights, one row per output unit (so fan_in = in is a row's length)
 *   b  out        bias
 *   Y  B × out    outputs
 * and the gradients dX, dW, db, dY have the shapes of X, W, b, Y.
 *
 * Declared for both precisions (see nn/real.h): infb_dense_forward_f32 over float and
 * infb_dense_forward_f64 over double, likewise _backward.  (The GSL-matrix helpers
 * infb_dense_gram etc. of linalg/dense.h are a different module.) */
#ifndef INFB_NN_DENSE_H
#define INFB_NN_DENSE_H

#include <stddef.h>
#include "nn/real.h"

#define INFB_NN_DENSE_T
#define INFB_NN_TBITS 32
#include "nn/real.h"
#include "nn/dense.h"
#undef INFB_NN_TBITS
#define INFB_NN_TBITS 64
#include "nn/real.h"
#include "nn/dense.h"
#undef INFB_NN_TBITS
#undef INFB_NN_DENSE_T
#include "nn/real.h"

#elif defined(INFB_NN_DENSE_T) /* the template part, instantiated once per precision */

/* Y = X·Wᵀ + 1bᵀ (Y is overwritten).  b may be NULL (no bias).  Y must not overlap X, W
 * or b.  Any of B, in, out may be 0 (Y = 1bᵀ when in == 0).  Returns GSL_SUCCESS, or
 * GSL_EINVAL (raised) when a dimension exceeds the BLAS's int range. */
int INFB_NN(dense_forward)(infb_real *restrict Y, const infb_real *restrict X,
                           const infb_real *restrict W, const infb_real *restrict b, size_t B,
                           size_t in, size_t out);

/* As dense_forward with the weights given transposed: Y = X·WT + 1bᵀ, WT (in × out)
 * row-major, i.e. WT = Wᵀ: one no-transpose gemm (the form infb_sgemm can block for
 * OpenBLAS's small-matrix kernels; linalg/blas.h).  The same Y up to float rounding. */
int INFB_NN(dense_forward_t)(infb_real *restrict Y, const infb_real *restrict X,
                             const infb_real *restrict WT, const infb_real *restrict b,
                             size_t B, size_t in, size_t out);

/* The mirror of dense_forward, given dY = ∂L/∂Y and the forward's input X:
 *   dX  = dY·W          (B × in; OVERWRITTEN — an activation gradient; NULL: not wanted)
 *   dW += dYᵀ·X         (out × in; ACCUMULATED; NULL: not wanted)
 *   db += Σ_rows dY     (out; ACCUMULATED; NULL: not wanted)
 * Zeroing dW and db is the caller's separate step.  X may be NULL only when dW is.
 * Outputs must not overlap inputs.  Returns GSL_SUCCESS or GSL_EINVAL as forward. */
int INFB_NN(dense_backward)(infb_real *restrict dX, infb_real *restrict dW,
                            infb_real *restrict db, const infb_real *restrict dY,
                            const infb_real *restrict X, const infb_real *restrict W, size_t B,
                            size_t in, size_t out);

#endif
