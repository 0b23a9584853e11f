/* CBLAS wrappers (see blas.h).  OpenBLAS's own header cannot be included beside GSL's
 * gsl_cblas.h (the prototypes clash), so its three extensions are declared here. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "linalg/blas.h"
#include "core/error.h"

#include <limits.h>
#include <gsl/gsl_cblas.h>

#include <stdlib.h>
#include <string.h>

char *openblas_get_config(void);
char *openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);
/* A DYNAMIC_ARCH OpenBLAS's kernel selection (driver/others/dynamic.c): exported, not
 * declared in any header; weak, so that an OpenBLAS without them still links. */
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));

static int
too_big(size_t a, size_t b, size_t c, size_t d, size_t e, size_t f)
{
  return a > INT_MAX || b > INT_MAX || c > INT_MAX || d > INT_MAX || e > INT_MAX || f > INT_MAX;
}

int
infb_dgemm(int transa, int transb, size_t m, size_t n, size_t k, double alpha, const double *A,
           size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc)
{
  if (too_big(m, n, k, lda, ldb, ldc))
    return INFB_ERROR(GSL_EINVAL, "dgemm: a dimension exceeds INT_MAX");
  if (m == 0 || n == 0)
    return GSL_SUCCESS;
  /* CBLAS wants leading dimensions ≥ 1 even for empty operands. */
  cblas_dgemm(CblasRowMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans,
              (int)m, (int)n, (int)k, alpha, A, lda ? (int)lda : 1, B, ldb ? (int)ldb : 1, beta, C,
              (int)ldc);
  return GSL_SUCCESS;
}

static size_t block_nc, block_kc; /* infb_blas_set_blocking; 0: off */

void
infb_blas_set_blocking(size_t nc, size_t kc)
{
  block_nc = nc;
  block_kc = nc ? kc : 0;
}

void
infb_blas_blocking(size_t *nc, size_t *kc)
{
  if (nc)
    *nc = block_nc;
  if (kc)
    *kc = block_kc;
}

int
infb_blas_has_small_kernels(const char *core)
{
  static const char *small[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  for (size_t i = 0; core && i < sizeof small / sizeof *small; i++)
    if (strcmp(core, small[i]) == 0)
      return 1;
  return 0;
}

void
infb_blas_apply_blocking(const char *mode, size_t nc, size_t kc)
{
  int on = mode && (strcmp(mode, "on") == 0 ||
                    (strcmp(mode, "auto") == 0 && infb_blas_has_small_kernels(infb_blas_corename())));
  infb_blas_set_blocking(on ? nc : 0, on ? kc : 0);
}

/* The depth of a block for inner dimension k (all of it without depth blocks). */
static size_t
depth_block(size_t k)
{
  return block_kc && block_kc < k ? block_kc : k;
}

/* Whether the no-transpose call m×n×k goes in blocks (see blas.h). */
static int
blocked(size_t m, size_t n, size_t k)
{
  if (block_nc == 0 || m == 0 || n == 0 || k == 0)
    return 0;
  double mnk = (double)m * (double)n * (double)k;
  double bnk = (double)m * (double)(n < block_nc ? n : block_nc) * (double)depth_block(k);
  return mnk > INFB_BLAS_SMALL_MNK && bnk <= INFB_BLAS_SMALL_MNK &&
         openblas_get_num_threads() == 1;
}

int
infb_blas_blocks(int transa, int transb, size_t m, size_t n, size_t k)
{
  return !transa && !transb && blocked(m, n, k);
}

int
infb_sgemm(int transa, int transb, size_t m, size_t n, size_t k, float alpha, const float *A,
           size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
  if (too_big(m, n, k, lda, ldb, ldc))
    return INFB_ERROR(GSL_EINVAL, "sgemm: a dimension exceeds INT_MAX");
  if (m == 0 || n == 0)
    return GSL_SUCCESS;
  if (infb_blas_blocks(transa, transb, m, n, k)) {
    const size_t kd = depth_block(k);
    for (size_t j0 = 0; j0 < n; j0 += block_nc) {
      size_t nb = n - j0 < block_nc ? n - j0 : block_nc;
      for (size_t l0 = 0; l0 < k; l0 += kd) {
        size_t kb = k - l0 < kd ? k - l0 : kd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)nb, (int)kb, alpha,
                    A + l0, (int)lda, B + l0 * ldb + j0, (int)ldb, l0 ? 1.0f : beta, C + j0,
                    (int)ldc);
      }
    }
    return GSL_SUCCESS;
  }
  cblas_sgemm(CblasRowMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans,
              (int)m, (int)n, (int)k, alpha, A, lda ? (int)lda : 1, B, ldb ? (int)ldb : 1, beta, C,
              (int)ldc);
  return GSL_SUCCESS;
}

int
infb_dgemv(int trans, size_t m, size_t n, double alpha, const double *A, size_t lda,
           const double *x, double beta, double *y)
{
  if (too_big(m, n, lda, 0, 0, 0))
    return INFB_ERROR(GSL_EINVAL, "dgemv: a dimension exceeds INT_MAX");
  if (m == 0 || n == 0) {
    size_t len = trans ? n : m;
    for (size_t i = 0; i < len; i++)
      y[i] = beta == 0.0 ? 0.0 : beta * y[i];
    return GSL_SUCCESS;
  }
  cblas_dgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, (int)m, (int)n, alpha, A,
              (int)lda, x, 1, beta, y, 1);
  return GSL_SUCCESS;
}

double
infb_ddot(size_t n, const double *x, const double *y)
{
  double s = 0.0;
  while (n > 0) {
    size_t c = n > (size_t)INT_MAX ? (size_t)INT_MAX : n;
    s += cblas_ddot((int)c, x, 1, y, 1);
    x += c;
    y += c;
    n -= c;
  }
  return s;
}

const char *
infb_blas_config(void)
{
  return openblas_get_config();
}

int
infb_blas_threads(void)
{
  return openblas_get_num_threads();
}

void
infb_blas_set_threads(int n)
{
  openblas_set_num_threads(n < 1 ? 1 : n);
}

const char *
infb_blas_corename(void)
{
  return openblas_get_corename();
}

int
infb_blas_switch_coretype(const char *core)
{
  const char *now = infb_blas_corename();
  if (now && strcmp(now, core) == 0)
    return GSL_SUCCESS;
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit)
    return INFB_ERROR(GSL_EUNIMPL, "this OpenBLAS cannot change its kernels once loaded "
                                   "(not a DYNAMIC_ARCH build)");
  if (setenv("OPENBLAS_CORETYPE", core, 1) != 0)
    return INFB_ERROR(GSL_ENOMEM, "cannot set OPENBLAS_CORETYPE");
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init(); /* reads OPENBLAS_CORETYPE, as at load time */
  now = infb_blas_corename();
  if (!now || strcmp(now, core) != 0)
    return INFB_ERROR(GSL_EFAILED, "OpenBLAS took its %s kernels, not %s", now ? now : "(unknown)",
                      core);
  return GSL_SUCCESS;
}

unsigned
infb_blas_cpu_features(void)
{
  unsigned f = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  f |= __builtin_cpu_supports("avx2") ? INFB_CPU_AVX2 : 0;
  f |= __builtin_cpu_supports("fma") ? INFB_CPU_FMA : 0;
  f |= __builtin_cpu_supports("avx512f") ? INFB_CPU_AVX512F : 0;
  f |= __builtin_cpu_supports("avx512cd") ? INFB_CPU_AVX512CD : 0;
  f |= __builtin_cpu_supports("avx512bw") ? INFB_CPU_AVX512BW : 0;
  f |= __builtin_cpu_supports("avx512dq") ? INFB_CPU_AVX512DQ : 0;
  f |= __builtin_cpu_supports("avx512vl") ? INFB_CPU_AVX512VL : 0;
#endif
  return f;
}

const char *
infb_blas_choose_coretype(const char *core, unsigned features, const char *env_core,
                          const char *mode)
{
  if (env_core || (mode && strcmp(mode, "keep") == 0))
    return NULL;
  if (!core || strcmp(core, "Prescott") != 0)
    return NULL;
  if ((features & INFB_CPU_AVX512_SKX) == INFB_CPU_AVX512_SKX)
    return "SkylakeX";
  if ((features & (INFB_CPU_AVX2 | INFB_CPU_FMA)) == (INFB_CPU_AVX2 | INFB_CPU_FMA))
    return "Haswell";
  return NULL;
}
