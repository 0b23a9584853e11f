/* Thin checked wrappers over CBLAS (row-major, sizes as size_t).  Every gemm in infbench
 * goes through here; the CBLAS behind them is OpenBLAS (tests/linalg/blas-t proves it).
 * We include GSL's <gsl/gsl_cblas.h>, never OpenBLAS's <cblas.h>. */
#ifndef INFB_LINALG_BLAS_H
#define INFB_LINALG_BLAS_H

#include <stddef.h>

/* C (m×n, leading dim ldc) = alpha·op(A)·op(B) + beta·C, all row-major.  op(A) is m×k:
 * A is m×k (lda ≥ k) when transa == 0, k×m (lda ≥ m) when transa != 0; likewise op(B)
 * is k×n.  Returns GSL_SUCCESS, or GSL_EINVAL (raised) when a size exceeds INT_MAX.
 * m, n or k equal to 0 is allowed (C is scaled by beta when k == 0). */
int infb_dgemm(int transa, int transb, size_t m, size_t n, size_t k, double alpha,
               const double *A, size_t lda, const double *B, size_t ldb, double beta,
               double *C, size_t ldc);
int infb_sgemm(int transa, int transb, size_t m, size_t n, size_t k, float alpha,
               const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
               size_t ldc);

/* Blocking of small no-transpose sgemms.  OpenBLAS's AVX-512 kernel sets (SkylakeX,
 * Cooperlake, SapphireRapids) have unpacked "small-matrix" kernels, which it uses only for
 * calls with m·n·k ≤ INFB_BLAS_SMALL_MNK; larger calls repack both operands into its
 * buffers every time.  With the q* shapes (a few dozen rows against a frozen 784×200
 * weight matrix) the repacking of the weights is a fifth of the gemm time.  When blocking
 * is set (nc > 0), infb_sgemm computes a call with transa = transb = 0,
 * m·n·k > INFB_BLAS_SMALL_MNK, m·min(n, nc)·min(k, kc) ≤ INFB_BLAS_SMALL_MNK and one
 * OpenBLAS thread as a sequence of gemms on column blocks of nc and depth blocks of kc,
 * accumulating the depth blocks into C (the same C up to float rounding of the sum's
 * order; deterministic for a given setting).  Every other call goes to OpenBLAS whole.
 * nc = 0 turns blocking off (the default); kc = 0 means no depth blocks.  The setting is
 * process-wide: set it before gemms run on other threads. */
#define INFB_BLAS_SMALL_MNK 1000000.0
void infb_blas_set_blocking(size_t nc, size_t kc);
/* The current setting; either pointer may be NULL. */
void infb_blas_blocking(size_t *nc, size_t *kc);
/* Nonzero when infb_sgemm would run the call (transa, transb, m, n, k) in blocks under the
 * current setting and OpenBLAS's current thread count. */
int infb_blas_blocks(int transa, int transb, size_t m, size_t n, size_t k);
/* Nonzero when OpenBLAS's kernel set `core` (infb_blas_corename(); NULL allowed) is one of
 * the AVX-512 sets named above, which have the small-matrix kernels that blocking serves
 * (measured: bench/RESULTS.md). */
int infb_blas_has_small_kernels(const char *core);
/* The blocking of a `gemm_blocking` setting: mode "on" sets (nc, kc); "auto" sets them when
 * OpenBLAS's current kernel set has the small-matrix kernels, else turns blocking off, as
 * does any other mode ("off"). */
void infb_blas_apply_blocking(const char *mode, size_t nc, size_t kc);

/* y (length m, or n when trans) = alpha·op(A)·x + beta·y, A m×n row-major (lda ≥ n). */
int infb_dgemv(int trans, size_t m, size_t n, double alpha, const double *A, size_t lda,
               const double *x, double beta, double *y);

/* Σ x_i y_i (n may exceed INT_MAX: summed in chunks). */
double infb_ddot(size_t n, const double *x, const double *y);

/* OpenBLAS's build description (openblas_get_config), e.g. "OpenBLAS 0.3.21 ...". */
const char *infb_blas_config(void);
/* OpenBLAS's thread count, and a setter (n ≥ 1). */
int infb_blas_threads(void);
void infb_blas_set_threads(int n);

/* The kernel set OpenBLAS chose at load time (openblas_get_corename), e.g. "SkylakeX". */
const char *infb_blas_corename(void);
/* The kernel set that would serve this CPU better than OpenBLAS's choice, or NULL when its
 * choice is right.  OpenBLAS ≤ 0.3.21 (Debian 12) does not know Intel's newer server models
 * (e.g. family 6 model 207) and falls back to its generic SSE3 "Prescott" kernels, about
 * 5× slower here; this returns "SkylakeX" when OpenBLAS chose "Prescott" and the CPU has
 * AVX-512 F, CD, BW, DQ and VL, "Haswell" when it has AVX2 and FMA, else NULL.  OpenBLAS
 * reads its choice from the environment (OPENBLAS_CORETYPE) only when it is loaded, so
 * acting on this means re-executing the program (src/cli/main.c does). */
const char *infb_blas_better_coretype(void);

#endif
