/* The CBLAS behind infbench is OpenBLAS, and the wrappers compute what a triple loop does. */
#define _GNU_SOURCE
#include "config.h"
#include "tap/basic.h"
#include "linalg/blas.h"

#include <dlfcn.h>
#include <gsl/gsl_cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* C = op(A) op(B), row-major, by definition. */
static void
ref_gemm(int ta, int tb, size_t m, size_t n, size_t k, const double *A, size_t lda,
         const double *B, size_t ldb, double *C, size_t ldc)
{
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (size_t l = 0; l < k; l++)
        s += (ta ? A[l * lda + i] : A[i * lda + l]) * (tb ? B[j * ldb + l] : B[l * ldb + j]);
      C[i * ldc + j] = s;
    }
}

static const char *
object_of(void *fn)
{
  Dl_info info;
  if (!fn || !dladdr(fn, &info) || !info.dli_fname)
    return "(unknown)";
  return info.dli_fname;
}

int
main(void)
{
  plan(31);
  const char *d = object_of((void *)cblas_dgemm), *s = object_of((void *)cblas_sgemm);
  diag("cblas_dgemm from %s, cblas_sgemm from %s", d, s);
  ok(strstr(d, "openblas") != NULL, "cblas_dgemm resolves into OpenBLAS (%s)", d);
  ok(strstr(s, "openblas") != NULL, "cblas_sgemm resolves into OpenBLAS (%s)", s);
  ok(strstr(d, "gslcblas") == NULL, "cblas_dgemm is not GSL's reference CBLAS");
  const char *cfg = infb_blas_config();
  ok(cfg && strstr(cfg, "OpenBLAS") != NULL, "openblas_get_config: %s", cfg ? cfg : "(null)");

  /* Odd shapes, all four transpose combinations, double and float. */
  size_t shapes[][3] = {{1, 1, 1}, {3, 7, 5}, {7, 3, 1}};
  int nshape = 0;
  for (size_t si = 0; si < 3; si++) {
    size_t m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
    double A[64], B[64], C[64], R[64];
    float Af[64], Bf[64], Cf[64];
    double maxerr = 0, maxerrf = 0;
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        for (size_t i = 0; i < 64; i++) {
          A[i] = Af[i] = (float)sin(1.0 + i * (ta + 1.3));
          B[i] = Bf[i] = (float)cos(2.0 + i * (tb + 0.7));
          C[i] = Cf[i] = 0;
        }
        size_t lda = ta ? m : k, ldb = tb ? k : n;
        ref_gemm(ta, tb, m, n, k, A, lda, B, ldb, R, n);
        infb_dgemm(ta, tb, m, n, k, 1.0, A, lda, B, ldb, 0.0, C, n);
        infb_sgemm(ta, tb, m, n, k, 1.0f, Af, lda, Bf, ldb, 0.0f, Cf, n);
        for (size_t i = 0; i < m * n; i++) {
          maxerr = fmax(maxerr, fabs(C[i] - R[i]));
          maxerrf = fmax(maxerrf, fabs(Cf[i] - R[i]));
        }
      }
    ok(maxerr < 1e-13, "dgemm %zux%zux%zu matches the triple loop (err %.2g)", m, n, k, maxerr);
    ok(maxerrf < 1e-5, "sgemm %zux%zux%zu matches the triple loop (err %.2g)", m, n, k, maxerrf);
    nshape++;
  }
  /* Blocked no-transpose sgemms (blas.h): odd shapes beyond the small-matrix bound, with
   * leading dimensions beyond the widths, alpha and beta, against the triple loop in
   * double; and which calls are blocked. */
  {
    int threads = infb_blas_threads();
    infb_blas_set_threads(1);
    infb_blas_set_blocking(32, 128);
    const size_t bs[][3] = {{50, 784, 200}, {37, 203, 301}, {61, 97, 777}};
    int blocked = 1, close = 1;
    double worst = 0;
    for (size_t si = 0; si < 3; si++) {
      const size_t m = bs[si][0], n = bs[si][1], k = bs[si][2];
      const size_t lda = k + 3, ldb = n + 5, ldc = n + 2;
      float *Af = malloc(m * lda * sizeof *Af), *Bf = malloc(k * ldb * sizeof *Bf);
      float *Cf = malloc(m * ldc * sizeof *Cf);
      double *A = malloc(m * lda * sizeof *A), *B = malloc(k * ldb * sizeof *B);
      double *R = malloc(m * n * sizeof *R);
      for (size_t i = 0; i < m * lda; i++)
        A[i] = Af[i] = (float)sin(0.37 * (double)i);
      for (size_t i = 0; i < k * ldb; i++)
        B[i] = Bf[i] = (float)cos(0.11 * (double)i);
      for (size_t i = 0; i < m * ldc; i++)
        Cf[i] = (float)(i % 7) - 3.0f;
      ref_gemm(0, 0, m, n, k, A, lda, B, ldb, R, n);
      blocked &= infb_blas_blocks(0, 0, m, n, k);
      infb_sgemm(0, 0, m, n, k, 2.0f, Af, lda, Bf, ldb, 0.5f, Cf, ldc);
      for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
          double want = 2.0 * R[i * n + j] + 0.5 * (double)((i * ldc + j) % 7 - 3.0);
          double err = fabs(Cf[i * ldc + j] - want) / (1.0 + fabs(want));
          worst = fmax(worst, err);
        }
      /* the padding between rows is left alone */
      for (size_t i = 0; i + 1 < m; i++)
        close &= Cf[i * ldc + n] == (float)((i * ldc + n) % 7) - 3.0f;
      free(Af);
      free(Bf);
      free(Cf);
      free(A);
      free(B);
      free(R);
    }
    ok(blocked && close && worst < 1e-5,
       "blocked sgemm (32 columns, depth 128) matches the triple loop on 50x784x200, "
       "37x203x301, 61x97x777 with alpha 2, beta 0.5 and padded rows (worst %.2g)", worst);
    ok(!infb_blas_blocks(1, 0, 50, 784, 200) && !infb_blas_blocks(0, 1, 50, 784, 200) &&
           !infb_blas_blocks(0, 0, 50, 100, 200) && !infb_blas_blocks(0, 0, 300, 784, 200) &&
           !infb_blas_blocks(0, 0, 50, 784, 0),
       "not blocked: transposes, calls already small (50x100x200), blocks too big for the "
       "small kernels (300 rows), k = 0");
    infb_blas_set_threads(2);
    int two = infb_blas_threads() != 2 || !infb_blas_blocks(0, 0, 50, 784, 200);
    infb_blas_set_blocking(0, 0);
    ok(two && !infb_blas_blocks(0, 0, 50, 784, 200),
       "not blocked with two OpenBLAS threads, nor with blocking off");
    infb_blas_set_threads(threads);
    ok(infb_blas_has_small_kernels("SkylakeX") && infb_blas_has_small_kernels("Cooperlake") &&
           !infb_blas_has_small_kernels("Haswell") && !infb_blas_has_small_kernels(NULL),
       "small-matrix kernels: the AVX-512 sets, not Haswell");
  }
  double A[6] = {1, 2, 3, 4, 5, 6}, x[3] = {1, -1, 2}, y[2] = {0, 0};
  infb_dgemv(0, 2, 3, 1.0, A, 3, x, 0.0, y);
  ok(y[0] == 5 && y[1] == 11, "dgemv [[1,2,3],[4,5,6]]·[1,-1,2] = [5,11]");
  ok(infb_ddot(3, x, x) == 6.0, "ddot");

  /* The kernel choice, with its inputs injected (the CLI re-executes with it;
   * tests/cli/cli-t.sh checks that end where the environment lets it run). */
  const unsigned skx = INFB_CPU_AVX512_SKX | INFB_CPU_AVX2 | INFB_CPU_FMA;
  const unsigned hsw = INFB_CPU_AVX2 | INFB_CPU_FMA;
  static const struct {
    const char *core;
    unsigned features;
    const char *env, *mode, *want, *what;
  } choice[] = {
      {"Prescott", skx, NULL, NULL, "SkylakeX", "Prescott fallback on an AVX-512 CPU"},
      {"Prescott", skx, NULL, "auto", "SkylakeX", "the same with mode auto"},
      {"Prescott", skx & ~INFB_CPU_AVX512VL, NULL, NULL, "Haswell",
       "AVX-512 without VL: Haswell"},
      {"Prescott", skx & ~INFB_CPU_AVX512CD, NULL, NULL, "Haswell",
       "AVX-512 without CD: Haswell"},
      {"Prescott", hsw, NULL, NULL, "Haswell", "Prescott fallback on an AVX2+FMA CPU"},
      {"Prescott", INFB_CPU_AVX2, NULL, NULL, NULL, "AVX2 without FMA: nothing better"},
      {"Prescott", 0, NULL, NULL, NULL, "an SSE-only CPU: nothing better"},
      {"Prescott", skx, "Haswell", NULL, NULL, "the user's OPENBLAS_CORETYPE wins"},
      {"Prescott", skx, "", NULL, NULL, "an empty OPENBLAS_CORETYPE is still the user's"},
      {"Prescott", skx, NULL, "keep", NULL, "INFBENCH_BLAS_CORETYPE=keep"},
      {"Cooperlake", skx, NULL, NULL, NULL, "OpenBLAS's own AVX-512 choice is kept"},
      {"Zen", hsw, NULL, NULL, NULL, "OpenBLAS's own Zen choice is kept"},
      {"Haswell", skx, NULL, NULL, NULL, "any choice but Prescott is kept"},
      {NULL, skx, NULL, NULL, NULL, "no core name: nothing to do"},
  };
  for (size_t i = 0; i < sizeof choice / sizeof *choice; i++) {
    const char *got = infb_blas_choose_coretype(choice[i].core, choice[i].features,
                                                choice[i].env, choice[i].mode);
    ok(choice[i].want ? got && strcmp(got, choice[i].want) == 0 : got == NULL,
       "kernel choice: %s -> %s (got %s)", choice[i].what,
       choice[i].want ? choice[i].want : "keep", got ? got : "keep");
  }
  const char *core = infb_blas_corename();
  ok(core && *core, "openblas_get_corename names the kernel set (%s)", core ? core : "(null)");
  return test_done();
}
