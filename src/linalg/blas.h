/* Thin checked wrappers over CBLAS (row-major, sizes as size_t).  Every gemm in infbench
 * goes through here; the CBLAS behind them is OpenBLAS (tests/linalg/blas-t proves it).
 * We include GSL's <gsl/gsl_cblas.h>, never OpenBLAS's <cblas.h>.
 *
 * The row contract (what reproducibility across threads, ranks and resumptions rests on).
 * A row of a gemm's result is a function of its own row of A, of B, of the kernels and
 * blocking in force, of the call's shape (m, n, k) and of the row's position in the call
 * — and of nothing else.  Shape and position both matter, so a fixed tile size alone is
 * not enough: OpenBLAS takes another path below m·n·k = INFB_BLAS_SMALL_MNK, and within
 * one shape its Haswell and Zen kernels compute rows 0-5 and 6-11 of every 12-row panel,
 * and a short last panel, in different orders (measured: a row repeated down a 16-, 50-
 * or 64-row call takes 3 distinct values; Prescott's and Sandybridge's took one).  So:
 *   - Every batch of work is cut into pieces that are a function of the work alone (its
 *     points, the config's parts; never the thread count, a rank, the timing or which
 *     neighbours are still running), and each piece makes the same sequence of calls,
 *     rows in the same places, whoever runs it.  Threads and ranks choose who runs a
 *     piece, never what is in it.
 *   - Sums over pieces (gradients, a reduction over points) are taken in piece order.
 *   - Work that must not depend even on the batch (a point's result whatever the points
 *     beside it) puts that point's rows alone in its calls, at fixed positions — or in
 *     calls of a fixed shape shared with other points, at positions fixed by the point's
 *     own index, the places of points absent from the call filled with padding rows whose
 *     outputs are ignored (a row tile: infer/ais.h's tile_points).  A padding row cannot
 *     change another row's value (gemm rows are independent), so only sums over a call's
 *     rows must leave padding out.
 * The VAE's [experiment] parts (nn/vae.h) and q*'s shares (infer/qstar.h) are such pieces;
 * tests/cli/threads-t.sh checks every model's outputs on 1, 2 and 3 threads. */
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
/* Make OpenBLAS use kernel set `core` from now on (a DYNAMIC_ARCH OpenBLAS selects again
 * with OPENBLAS_CORETYPE = core, which is left set), so that an MPI rank computes with rank
 * 0's kernels (par/par.h); call it before any gemm runs, from the only thread calling
 * OpenBLAS.  GSL_SUCCESS when core is then in use (at once when it already was);
 * GSL_EUNIMPL when this OpenBLAS cannot reselect; GSL_EFAILED when it chose another set
 * (an unknown name, or one this CPU cannot run). */
int infb_blas_switch_coretype(const char *core);
/* The CPU features that decide which of OpenBLAS's kernel sets can run: bits of
 * infb_blas_cpu_features() and the `features` argument of infb_blas_choose_coretype. */
enum {
  INFB_CPU_AVX2 = 1u << 0,
  INFB_CPU_FMA = 1u << 1,
  INFB_CPU_AVX512F = 1u << 2,
  INFB_CPU_AVX512CD = 1u << 3,
  INFB_CPU_AVX512BW = 1u << 4,
  INFB_CPU_AVX512DQ = 1u << 5,
  INFB_CPU_AVX512VL = 1u << 6
};
/* Every AVX-512 subset that OpenBLAS's SkylakeX kernels use. */
#define INFB_CPU_AVX512_SKX                                                                \
  (INFB_CPU_AVX512F | INFB_CPU_AVX512CD | INFB_CPU_AVX512BW | INFB_CPU_AVX512DQ |          \
   INFB_CPU_AVX512VL)
/* This CPU's features (cpuid through GCC's __builtin_cpu_supports; 0 off x86-64). */
unsigned infb_blas_cpu_features(void);

/* The kernel choice, a pure function of its inputs (so it is tested with injected ones):
 * the kernel set to re-execute the program with, or NULL to keep OpenBLAS's.
 *   core      the set OpenBLAS chose at load time (infb_blas_corename(); NULL allowed);
 *   features  the CPU's INFB_CPU_* bits (infb_blas_cpu_features());
 *   env_core  the environment's OPENBLAS_CORETYPE (NULL when unset): a set one chose
 *             oneself always wins, so any value gives NULL;
 *   mode      the environment's INFBENCH_BLAS_CORETYPE (NULL when unset): "keep" gives
 *             NULL, anything else is the default, "auto".
 * OpenBLAS ≤ 0.3.21 (Debian 12) does not know Intel's newer server models (e.g. family 6
 * model 207, Emerald Rapids) and falls back to its generic SSE3 "Prescott" kernels, about
 * 5× slower; over that fallback only, this returns "SkylakeX" when the CPU has every
 * subset of INFB_CPU_AVX512_SKX, "Haswell" when it has AVX2 and FMA, else NULL.  OpenBLAS
 * reads OPENBLAS_CORETYPE only when it is loaded, so acting on this means re-executing
 * the program (src/cli/kernels.c does). */
const char *infb_blas_choose_coretype(const char *core, unsigned features, const char *env_core,
                                      const char *mode);

#endif
