/* The variational autoencoder with a Bernoulli decoder over one parameter slab (see vae.h;
 * Kingma & Welling 2014, the IWAE bound of Burda, Grosse & Salakhutdinov 2016, MATH.md §5):
 * two MLPs bound to the segments [encoder | decoder], every pass batched over
 * (point, sample) rows; compiled once per precision (INFB_REAL_BITS). */
#include <config.h>
#include "nn/vae.h"
#include "core/bytes.h"
#include "core/error.h"
#include "linalg/blas.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* SLEEF's AVX2 declarations are guarded by __AVX__ / __AVX2__: the header is read with the
 * AVX2 target switched on, and only the functions marked VAE_AVX2 use them, after a run-time
 * check of the CPU (the rest of the library stays baseline x86-64).  clang ignores GCC's
 * target pragma: built by clang (the fuzz targets), the scalar paths run. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VAE_HAVE_AVX2 1
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f")
#include <sleef.h>
#pragma GCC pop_options
#include "nn/vmath512.h"
#define VAE_AVX2 __attribute__((target("avx2,fma")))
#define VAE_AVX512 __attribute__((target("avx2,fma,avx512f")))
#else
#define VAE_HAVE_AVX2 0
#endif

/* ln 2π. */
#define LN_2PI 1.83787706640934548356
/* Room for "enc.layer<l>.W" with l up to 20 digits. */
#define NAME_LEN 40

struct INFB_NN(vae) {
  infb_vae_arch arch;
  size_t max_batch, max_samples, max_rows; /* max_rows = max_batch·max_samples */
  INFB_NN(mlp) *enc, *dec;                 /* bound to the slab segments */
  size_t np_enc, np;                       /* encoder parameters, all parameters */
  infb_real *params, *grads;               /* [encoder | decoder] */
  struct infb_nn_tensor *layout;           /* the encoder's entries, then the decoder's */
  size_t nlayout;
  char *names; /* nlayout names of NAME_LEN bytes */
  int simd;    /* the SIMD kernel runs on this CPU */
  size_t block_rows; /* IWAE decodes at most this many rows per pass (vae_set_block_rows) */
  /* Workspaces of max_rows rows each. */
  infb_real *work;
  infb_real *H, *dH;    /* encoder output (μ | ln σ²) and its gradient, rows × 2K */
  infb_real *SIG;       /* σ = exp(½ ln σ²), rows × K */
  infb_real *E;         /* IWAE noise, rows × K */
  infb_real *Z, *dZ;    /* decoder input and its gradient, rows × K */
  infb_real *LG, *dLG;  /* logits and their gradient, rows × D */
  double *dwork;
  double *lw;           /* per-row log-weights, rows */
  double *acc;          /* per-point accumulators or a second row buffer, 2·rows */
  /* Parts (vae_set_parts): workers[t − 1] runs part t of a pass; each is a full
   * network whose parameters are this one's slab (shared, not owned) and whose
   * gradient slab and workspaces are its own.  run_threads (vae_set_run_threads; 0: one
   * per part) OpenMP threads run the parts. */
  size_t nthreads;
  size_t run_threads;
  struct INFB_NN(vae) **workers;
  int shared_params; /* a worker: params belong to the owner */
};

/* ------------------------------------------------------------------ the kernel */

/* The portable kernel: one libm exp and log1p per pixel. */
static double
bern_scalar(size_t D, const infb_real *x, const infb_real *l, const infb_real *b,
            infb_real *dl, infb_real coef)
{
  double sum = 0.0;
  for (size_t d = 0; d < D; d++) {
    infb_real ld = b ? l[d] + b[d] : l[d], xd = x ? x[d] : 0;
    infb_real t = INFB_RM(exp)(-INFB_RM(fabs)(ld)); /* e^−|l| */
    infb_real relu = ld > 0 ? ld : 0;
    sum += (double)(xd * ld - relu - INFB_RM(log1p)(t));
    if (dl) {
      infb_real r = 1 / (1 + t);
      infb_real sig = ld >= 0 ? r : t * r;
      dl[d] = coef * (xd - sig);
    }
  }
  return sum;
}

#if VAE_HAVE_AVX2
#if INFB_REAL_BITS == 32
/* log1p(t) for t ∈ [0, 1] on 8 floats: log1p(t) = 2 atanh(s) with s = t/(2 + t) ∈ [0, 1/3],
 * 2 atanh(s) = 2s Σ_{j≥0} s^{2j}/(2j + 1) (Abramowitz & Stegun 4.5.22 / 4.1.28), summed
 * to j = 6: the first omitted term is below s^14/15 ≤ 1.4e-8 relative (0.12 ulp).  A
 * third of the cost of the general-range SLEEF log1p (a few ulp; checked against libm in
 * the tests). */
VAE_AVX2 static __m256
log1p_unit8(__m256 t0)
{
  /* As log1p_unit16: below 2⁻²⁴ log1p(t) rounds to t, and the series runs on
   * max(t, 2⁻²⁴) so that no lane computes a denormal (microcode assists). */
  const __m256 two = _mm256_set1_ps(2.0f), small = _mm256_set1_ps(0x1p-24f);
  __m256 tiny = _mm256_cmp_ps(t0, small, _CMP_LT_OQ);
  __m256 t = _mm256_max_ps(small, t0);
  __m256 s = _mm256_div_ps(t, _mm256_add_ps(two, t));
  __m256 s2 = _mm256_mul_ps(s, s);
  __m256 p = _mm256_set1_ps(1.0f / 13);
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 11));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 9));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 7));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 5));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 3));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f));
  return _mm256_blendv_ps(_mm256_mul_ps(_mm256_add_ps(s, s), p), t0, tiny);
}

/* e^x for x ≤ 0 on 8 floats by SLEEF, flushed to 0 where it is below FLT_MIN (as
 * infb_vm512_exp_neg: SLEEF's denormal results and what is computed from them cost
 * microcode assists); SLEEF runs on max(x, −87.33). */
VAE_AVX2 static __m256
exp_neg8(__m256 x)
{
  __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3365f), _CMP_LT_OQ);
  __m256 e = Sleef_expf8_u10avx2(_mm256_max_ps(_mm256_set1_ps(-87.33f), x));
  return _mm256_andnot_ps(tiny, e);
}

/* 8 floats per step; the terms are widened to double for the sum.  Returns the sum over
 * the first D − D mod 8 pixels and sets *done to their number. */
VAE_AVX2 static double
bern_avx2(size_t D, const float *x, const float *l, const float *b, float *dl, float coef,
          size_t *done)
{
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f), c = _mm256_set1_ps(coef);
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  size_t d = 0;
  for (; d + 8 <= D; d += 8) {
    __m256 lv = _mm256_loadu_ps(l + d);
    if (b)
      lv = _mm256_add_ps(lv, _mm256_loadu_ps(b + d));
    __m256 xv = x ? _mm256_loadu_ps(x + d) : zero;
    __m256 t = exp_neg8(_mm256_or_ps(lv, sign)); /* e^−|l| */
    __m256 lp = log1p_unit8(t);
    __m256 relu = _mm256_max_ps(lv, zero);
    __m256 term = _mm256_sub_ps(_mm256_sub_ps(_mm256_mul_ps(xv, lv), relu), lp);
    acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(term)));
    acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(term, 1)));
    if (dl) {
      __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, t));
      __m256 sig = _mm256_blendv_ps(_mm256_mul_ps(t, r), r, _mm256_cmp_ps(lv, zero, _CMP_GE_OQ));
      _mm256_storeu_ps(dl + d, _mm256_mul_ps(c, _mm256_sub_ps(xv, sig)));
    }
  }
  double a[4];
  _mm256_storeu_pd(a, _mm256_add_pd(acc0, acc1));
  *done = d;
  return (a[0] + a[1]) + (a[2] + a[3]);
}

/* 1/d for d ∈ [1, 3] on 16 floats: the 14-bit hardware estimate and one Newton step,
 * y = y0 (2 − d y0), relative error below 2^-27 before rounding; cheaper than vdivps,
 * whose throughput bounded the kernel. */
VAE_AVX512 static __m512
recip16(__m512 d)
{
  __m512 y0 = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(y0, _mm512_fnmadd_ps(d, y0, _mm512_set1_ps(2.0f)));
}

/* The AVX-512 kernel: 16 floats per step, as bern_avx2 (the same series log1p, the
 * divisions by recip16). */
VAE_AVX512 static __m512
log1p_unit16(__m512 t0)
{
  /* Below 2⁻²⁴, log1p(t) = t − t²/2 rounds to t; the series runs on max(t, 2⁻²⁴), so that
   * s² is never a denormal (microcode assists), and those lanes take t itself. */
  const __m512 small = _mm512_set1_ps(0x1p-24f);
  __mmask16 tiny = _mm512_cmp_ps_mask(t0, small, _CMP_LT_OQ);
  __m512 t = _mm512_max_ps(small, t0);
  __m512 s = _mm512_mul_ps(t, recip16(_mm512_add_ps(_mm512_set1_ps(2.0f), t)));
  __m512 s2 = _mm512_mul_ps(s, s);
  __m512 p = _mm512_set1_ps(1.0f / 13);
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 11));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 9));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 7));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 5));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 3));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f));
  return _mm512_mask_mov_ps(_mm512_mul_ps(_mm512_add_ps(s, s), p), tiny, t0);
}

VAE_AVX512 static double
bern_avx512(size_t D, const float *x, const float *l, const float *b, float *dl, float coef,
            size_t *done)
{
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
  const __m512 c = _mm512_set1_ps(coef);
  const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  size_t d = 0;
  for (; d + 16 <= D; d += 16) {
    __m512 lv = _mm512_loadu_ps(l + d);
    if (b)
      lv = _mm512_add_ps(lv, _mm512_loadu_ps(b + d));
    __m512 xv = x ? _mm512_loadu_ps(x + d) : zero;
    __m512 nabs = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(lv), sign));
    __m512 t = infb_vm512_exp_neg(nabs); /* e^−|l|, inline (nn/vmath512.h) */
    __m512 lp = log1p_unit16(t);
    __m512 relu = _mm512_max_ps(lv, zero);
    __m512 term = _mm512_sub_ps(_mm512_sub_ps(_mm512_mul_ps(xv, lv), relu), lp);
    __m256 lo = _mm512_castps512_ps256(term);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(term), 1));
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(lo));
    acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(hi));
    if (dl) {
      __m512 r = recip16(_mm512_add_ps(one, t));
      __mmask16 ge = _mm512_cmp_ps_mask(lv, zero, _CMP_GE_OQ);
      __m512 sig = _mm512_mask_blend_ps(ge, _mm512_mul_ps(t, r), r);
      _mm512_storeu_ps(dl + d, _mm512_mul_ps(c, _mm512_sub_ps(xv, sig)));
    }
  }
  *done = d;
  return _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
}
#else
/* 4 doubles per step, as the float version. */
VAE_AVX2 static double
bern_avx2(size_t D, const double *x, const double *l, const double *b, double *dl,
          double coef, size_t *done)
{
  const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
  const __m256d sign = _mm256_set1_pd(-0.0), c = _mm256_set1_pd(coef);
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  size_t d = 0;
  for (; d + 4 <= D; d += 4) {
    __m256d lv = _mm256_loadu_pd(l + d);
    if (b)
      lv = _mm256_add_pd(lv, _mm256_loadu_pd(b + d));
    __m256d xv = x ? _mm256_loadu_pd(x + d) : zero;
    __m256d t = Sleef_expd4_u10avx2(_mm256_or_pd(lv, sign));
    __m256d lp = Sleef_log1pd4_u10avx2(t);
    __m256d relu = _mm256_max_pd(lv, zero);
    __m256d term = _mm256_sub_pd(_mm256_sub_pd(_mm256_mul_pd(xv, lv), relu), lp);
    if (d & 4)
      acc1 = _mm256_add_pd(acc1, term);
    else
      acc0 = _mm256_add_pd(acc0, term);
    if (dl) {
      __m256d r = _mm256_div_pd(one, _mm256_add_pd(one, t));
      __m256d sig = _mm256_blendv_pd(_mm256_mul_pd(t, r), r, _mm256_cmp_pd(lv, zero, _CMP_GE_OQ));
      _mm256_storeu_pd(dl + d, _mm256_mul_pd(c, _mm256_sub_pd(xv, sig)));
    }
  }
  double a[4];
  _mm256_storeu_pd(a, _mm256_add_pd(acc0, acc1));
  *done = d;
  return (a[0] + a[1]) + (a[2] + a[3]);
}
#endif
#endif

int
INFB_NN(vae_simd)(void)
{
#if VAE_HAVE_AVX2
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    return 0;
  return INFB_REAL_BITS == 32 && __builtin_cpu_supports("avx512f") ? 2 : 1;
#else
  return 0;
#endif
}

/* The kernel with the SIMD choice already made; b (NULL: none) is added to the logits l
 * first (the decoder's output bias, left out of its last gemm: mlp_forward_nobias). */
static double
bern_row(int simd, size_t D, const infb_real *x, const infb_real *l, const infb_real *b,
         infb_real *dl, infb_real coef)
{
#if VAE_HAVE_AVX2
  if (simd) {
    size_t done = 0, more = 0;
    double s = 0.0;
#if INFB_REAL_BITS == 32
    if (simd == 2)
      s = bern_avx512(D, x, l, b, dl, coef, &done);
#endif
    s += bern_avx2(D - done, x ? x + done : NULL, l + done, b ? b + done : NULL,
                   dl ? dl + done : NULL, coef, &more);
    done += more;
    return s + bern_scalar(D - done, x ? x + done : NULL, l + done, b ? b + done : NULL,
                           dl ? dl + done : NULL, coef);
  }
#else
  (void)simd;
#endif
  return bern_scalar(D, x, l, b, dl, coef);
}

double
INFB_NN(vae_bernoulli_loglik)(size_t D, const infb_real *x, const infb_real *l,
                              infb_real *dl, double coef, int vector)
{
  int simd = INFB_NN(vae_simd)();
  if (vector == 2 && simd > 1)
    simd = 1; /* the AVX2 kernel, for tests on AVX-512 machines */
  return bern_row(vector ? simd : 0, D, x, l, NULL, dl, (infb_real)coef);
}

/* ------------------------------------------------------------------ small helpers */

/* ln(e^a + e^b), stable; −∞ is the identity. */
static double
logaddexp(double a, double b)
{
  if (isnan(a) || isnan(b))
    return NAN;
  if (a == -INFINITY)
    return b;
  if (b == -INFINITY)
    return a;
  double m = a > b ? a : b;
  return m + log1p(exp(-fabs(a - b)));
}

/* ln Σ_j exp(scale·w_j) over n values, with the max subtracted (NaN if any is NaN). */
static double
logsumexp(const double *w, size_t n, double scale)
{
  double m = -INFINITY;
  for (size_t j = 0; j < n; j++) {
    if (isnan(w[j]))
      return NAN;
    if (scale * w[j] > m)
      m = scale * w[j];
  }
  if (m == -INFINITY || m == INFINITY)
    return m;
  double s = 0.0;
  for (size_t j = 0; j < n; j++)
    s += exp(scale * w[j] - m);
  return m + log(s);
}

/* σ = exp(½ ln σ²) for n points from H (n × 2K) into SIG (n × K). */
static void
compute_sigma(INFB_NN(vae) *v, size_t n)
{
  const size_t K = v->arch.K;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < K; k++)
      v->SIG[i * K + k] = INFB_RM(exp)((infb_real)0.5 * v->H[i * 2 * K + K + k]);
}

/* Z_r = μ_i + σ_i ⊙ ε_r for the rows r = i·S + s of n points. */
static void
reparam(INFB_NN(vae) *v, size_t n, size_t S, const infb_real *E)
{
  const size_t K = v->arch.K;
  for (size_t i = 0; i < n; i++)
    for (size_t s = 0; s < S; s++) {
      size_t r = i * S + s;
      for (size_t k = 0; k < K; k++)
        v->Z[r * K + k] = v->H[i * 2 * K + k] + v->SIG[i * K + k] * E[r * K + k];
    }
}

/* ln p(z_r) − ln q(z_r|x_i) = −½|z_r|² + ½ Σ_k (ε_rk² + ln σ²_ik) (the ln 2π cancel). */
static double
log_prior_ratio(const INFB_NN(vae) *v, size_t i, size_t r, const infb_real *E)
{
  const size_t K = v->arch.K;
  double s = 0.0;
  for (size_t k = 0; k < K; k++) {
    double z = v->Z[r * K + k], e = E[r * K + k];
    s += -0.5 * z * z + 0.5 * (e * e + (double)v->H[i * 2 * K + K + k]);
  }
  return s;
}

/* ------------------------------------------------------------------ construction */

void
INFB_NN(vae_free)(INFB_NN(vae) *v)
{
  if (!v)
    return;
  for (size_t t = 0; t + 1 < v->nthreads; t++)
    INFB_NN(vae_free)(v->workers[t]);
  free(v->workers);
  INFB_NN(mlp_free)(v->enc);
  INFB_NN(mlp_free)(v->dec);
  if (!v->shared_params)
    free(v->params);
  free(v->grads);
  free(v->layout);
  free(v->names);
  free(v->work);
  free(v->dwork);
  free(v);
}

INFB_NN(vae) *
INFB_NN(vae_alloc)(const infb_vae_arch *arch, size_t max_batch, size_t max_samples)
{
  enum { MAXH = sizeof arch->enc_hidden / sizeof arch->enc_hidden[0] };
  if (!arch)
    INFB_ERROR_NULL(GSL_EINVAL, "vae: no architecture");
  if (arch->D == 0 || arch->K == 0 || arch->K > SIZE_MAX / 8)
    INFB_ERROR_NULL(GSL_EINVAL, "vae: D = %zu and K = %zu must be positive", arch->D, arch->K);
  if (arch->nenc > MAXH || arch->ndec > MAXH)
    INFB_ERROR_NULL(GSL_EINVAL, "vae: %zu encoder and %zu decoder hidden layers (at most %d)",
                    arch->nenc, arch->ndec, (int)MAXH);
  for (size_t l = 0; l < arch->nenc; l++)
    if (arch->enc_hidden[l] == 0)
      INFB_ERROR_NULL(GSL_EINVAL, "vae: encoder hidden layer %zu has width 0", l);
  for (size_t l = 0; l < arch->ndec; l++)
    if (arch->dec_hidden[l] == 0)
      INFB_ERROR_NULL(GSL_EINVAL, "vae: decoder hidden layer %zu has width 0", l);
  if ((int)arch->act < 0 || (int)arch->act >= INFB_ACT_COUNT)
    INFB_ERROR_NULL(GSL_EINVAL, "vae: invalid activation %d", (int)arch->act);
  if (max_batch == 0 || max_samples == 0 || max_batch > SIZE_MAX / max_samples)
    INFB_ERROR_NULL(GSL_EINVAL, "vae: max_batch = %zu and max_samples = %zu must be positive",
                    max_batch, max_samples);
  const size_t D = arch->D, K = arch->K, rows = max_batch * max_samples;
  /* Workspace lengths: rows × (2K + 2K + K + K + K + K + D + D). */
  size_t nwork = infb_mul_add(rows, 2 * D, 0);
  nwork = infb_mul_add(rows, 8 * K, nwork);
  size_t ndwork = infb_mul_add(rows, 3, 0);
  if (nwork == SIZE_MAX || ndwork == SIZE_MAX || rows > SIZE_MAX / 2)
    INFB_ERROR_NULL(GSL_ENOMEM, "vae: workspace size overflows");

  INFB_NN(vae) *v = infb_calloc(1, sizeof *v);
  if (!v)
    return NULL;
  v->arch = *arch;
  v->max_batch = max_batch;
  v->max_samples = max_samples;
  v->max_rows = rows;
  v->simd = INFB_NN(vae_simd)();
  v->block_rows = INFB_VAE_BLOCK_ROWS;
  v->nthreads = 1;

  size_t es[MAXH + 2], ds[MAXH + 2];
  es[0] = D;
  for (size_t l = 0; l < arch->nenc; l++)
    es[l + 1] = arch->enc_hidden[l];
  es[arch->nenc + 1] = 2 * K;
  ds[0] = K;
  for (size_t l = 0; l < arch->ndec; l++)
    ds[l + 1] = arch->dec_hidden[l];
  ds[arch->ndec + 1] = D;
  v->enc = INFB_NN(mlp_alloc)(es, arch->nenc + 1, arch->act, rows);
  v->dec = v->enc ? INFB_NN(mlp_alloc)(ds, arch->ndec + 1, arch->act, rows) : NULL;
  if (!v->dec) {
    INFB_NN(vae_free)(v);
    return NULL;
  }
  v->np_enc = INFB_NN(mlp_nparams)(v->enc);
  v->np = v->np_enc + INFB_NN(mlp_nparams)(v->dec);
  size_t ne = 0, nd = 0;
  const struct infb_nn_tensor *le = INFB_NN(mlp_layout)(v->enc, &ne);
  const struct infb_nn_tensor *ld = INFB_NN(mlp_layout)(v->dec, &nd);
  v->nlayout = ne + nd;
  v->params = infb_calloc(v->np, sizeof *v->params);
  v->grads = infb_calloc(v->np, sizeof *v->grads);
  v->layout = infb_calloc(v->nlayout, sizeof *v->layout);
  v->names = infb_calloc(v->nlayout, NAME_LEN);
  v->work = infb_calloc(nwork, sizeof *v->work);
  v->dwork = infb_calloc(ndwork, sizeof *v->dwork);
  if (!v->params || !v->grads || !v->layout || !v->names || !v->work || !v->dwork) {
    INFB_NN(vae_free)(v);
    return NULL;
  }
  INFB_NN(mlp_bind)(v->enc, v->params, v->grads);
  INFB_NN(mlp_bind)(v->dec, v->params + v->np_enc, v->grads + v->np_enc);

  /* The layout: the networks' own tables, prefixed and shifted. */
  for (size_t j = 0; j < v->nlayout; j++) {
    const struct infb_nn_tensor *src = j < ne ? &le[j] : &ld[j - ne];
    char *name = v->names + j * NAME_LEN;
    snprintf(name, NAME_LEN, "%s.%s", j < ne ? "enc" : "dec", src->name);
    v->layout[j] = *src;
    v->layout[j].name = name;
    if (j >= ne)
      v->layout[j].offset += v->np_enc;
  }

  infb_real *w = v->work;
  v->H = w, w += rows * 2 * K;
  v->dH = w, w += rows * 2 * K;
  v->SIG = w, w += rows * K;
  v->E = w, w += rows * K;
  v->Z = w, w += rows * K;
  v->dZ = w, w += rows * K;
  v->LG = w, w += rows * D;
  v->dLG = w;
  v->lw = v->dwork;
  v->acc = v->dwork + rows;
  return v;
}

int
INFB_NN(vae_init)(INFB_NN(vae) *v, gsl_rng *rng)
{
  int st = INFB_NN(mlp_init)(v->enc, rng);
  return st ? st : INFB_NN(mlp_init)(v->dec, rng);
}

infb_real *
INFB_NN(vae_params)(INFB_NN(vae) *v, size_t *n)
{
  if (n)
    *n = v->np;
  return v->params;
}

infb_real *
INFB_NN(vae_grads)(INFB_NN(vae) *v, size_t *n)
{
  if (n)
    *n = v->np;
  return v->grads;
}

const struct infb_nn_tensor *
INFB_NN(vae_layout)(const INFB_NN(vae) *v, size_t *count)
{
  if (count)
    *count = v->nlayout;
  return v->layout;
}

/* The threads that run P parts: run_threads (one per part when 0), at most P. */
static size_t
parts_threads(const INFB_NN(vae) *v, size_t P)
{
  size_t T = v->run_threads ? v->run_threads : v->nthreads;
  return T < P ? T : (P ? P : 1);
}

void
INFB_NN(vae_zero_grad)(INFB_NN(vae) *v)
{
  /* Split over the threads, as the passes: a serial pass over the slab every training
   * step would leave the other threads waiting. */
  infb_real *restrict g = v->grads;
  const size_t n = v->np, T = parts_threads(v, v->nthreads);
#pragma omp parallel for num_threads(T) schedule(static) if(T > 1)
  for (size_t i = 0; i < n; i++)
    g[i] = 0;
}

const infb_vae_arch *
INFB_NN(vae_arch)(const INFB_NN(vae) *v)
{
  return &v->arch;
}

/* ------------------------------------------------------------------ threads */

/* Workers are made without workers of their own, sharing the owner's parameter slab. */
int
INFB_NN(vae_set_parts)(INFB_NN(vae) *v, size_t T)
{
  if (v->shared_params)
    return INFB_ERROR(GSL_EINVAL, "vae threads: a worker network cannot have workers");
  if (T == 0 || T > INFB_VAE_MAX_PARTS)
    return INFB_ERROR(GSL_EINVAL, "vae threads: %zu threads (1 to %d)", T,
                      INFB_VAE_MAX_PARTS);
  if (T == v->nthreads)
    return GSL_SUCCESS;
  INFB_NN(vae) **w = T > 1 ? infb_calloc(T - 1, sizeof *w) : NULL;
  if (T > 1 && !w)
    return GSL_ENOMEM;
  for (size_t t = 0; t + 1 < T; t++) {
    w[t] = INFB_NN(vae_alloc)(&v->arch, v->max_batch, v->max_samples);
    if (!w[t]) {
      for (size_t u = 0; u < t; u++)
        INFB_NN(vae_free)(w[u]);
      free(w);
      return GSL_ENOMEM;
    }
    free(w[t]->params);
    w[t]->params = v->params;
    w[t]->shared_params = 1;
    w[t]->block_rows = v->block_rows;
    INFB_NN(mlp_bind)(w[t]->enc, v->params, w[t]->grads);
    INFB_NN(mlp_bind)(w[t]->dec, v->params + v->np_enc, w[t]->grads + v->np_enc);
  }
  for (size_t t = 0; t + 1 < v->nthreads; t++)
    INFB_NN(vae_free)(v->workers[t]);
  free(v->workers);
  v->workers = w;
  v->nthreads = T;
  return GSL_SUCCESS;
}

int
INFB_NN(vae_set_block_rows)(INFB_NN(vae) *v, size_t rows)
{
  if (rows == 0)
    return INFB_ERROR(GSL_EINVAL, "vae block rows: must be at least 1");
  v->block_rows = rows;
  for (size_t t = 0; t + 1 < v->nthreads; t++)
    v->workers[t]->block_rows = rows;
  return GSL_SUCCESS;
}

size_t
INFB_NN(vae_parts)(const INFB_NN(vae) *v)
{
  return v->nthreads;
}

int
INFB_NN(vae_set_run_threads)(INFB_NN(vae) *v, size_t T)
{
  if (T > INFB_VAE_MAX_PARTS)
    return INFB_ERROR(GSL_EINVAL, "vae run threads: %zu threads (at most %d)", T,
                      INFB_VAE_MAX_PARTS);
  v->run_threads = T;
  return GSL_SUCCESS;
}

size_t
INFB_NN(vae_run_threads)(const INFB_NN(vae) *v)
{
  return parts_threads(v, v->nthreads);
}

/* The network that runs part t of a pass (part 0: v itself). */
static INFB_NN(vae) *
worker(INFB_NN(vae) *v, size_t t)
{
  return t ? v->workers[t - 1] : v;
}

/* The number of parts of a pass over n items: one per thread, none empty. */
static size_t
nparts(const INFB_NN(vae) *v, size_t n)
{
  return n < v->nthreads ? (n ? n : 1) : v->nthreads;
}

/* Part t of T covers the items [n·t/T, n·(t + 1)/T). */
static size_t
part_lo(size_t n, size_t t, size_t T)
{
  return n * t / T;
}

/* Runs the loop body once per part t < T, on parts_threads(v, T) OpenMP threads (in order
 * on one thread without them).  The body must only touch part t's worker and rows, so
 * what a part computes does not depend on the thread that runs it.  Expects `v` and `T`
 * in scope (the pragma names them). */
#define FOR_PARTS(T)                                                                   \
  _Pragma("omp parallel for num_threads(parts_threads(v, T)) schedule(static, 1) if(parts_threads(v, T) > 1)") \
  for (size_t t = 0; t < (T); t++)

/* The first failing part's status; its message was raised on its own thread, so it is
 * raised again here, on the caller's. */
static int
parts_status(const int *st, size_t T, const char *what)
{
  for (size_t t = 0; t < T; t++)
    if (st[t])
      return INFB_ERROR(st[t], "vae %s: part %zu of %zu failed (status %d)", what, t + 1, T,
                        st[t]);
  return GSL_SUCCESS;
}

/* v's gradient slab [lo, hi) += every worker's (the workers' own slabs hold their parts
 * of one pass); split over the threads by slab range. */
static void
reduce_grads(INFB_NN(vae) *v, size_t T, size_t lo, size_t hi)
{
  const size_t n = hi - lo;
  FOR_PARTS(T)
  {
    size_t a = lo + part_lo(n, t, T), b = lo + part_lo(n, t + 1, T);
    for (size_t u = 1; u < T; u++) {
      const infb_real *restrict src = v->workers[u - 1]->grads;
      infb_real *restrict dst = v->grads;
      for (size_t j = a; j < b; j++)
        dst[j] += src[j];
    }
  }
}

/* Sets worker grads [lo, hi) to 0 for the parts t ≥ 1 of a backward pass. */
static void
zero_worker_grads(INFB_NN(vae) *w, size_t lo, size_t hi)
{
  memset(w->grads + lo, 0, (hi - lo) * sizeof *w->grads);
}

/* ------------------------------------------------------------------ passes */

/* GSL_SUCCESS when 1 ≤ B·S ≤ max_rows, else GSL_EBADLEN raised. */
static int
check_rows(const INFB_NN(vae) *v, size_t B, size_t S, const char *what)
{
  if (B == 0 || S == 0 || S > v->max_rows / B)
    return INFB_ERROR(GSL_EBADLEN, "vae %s: %zu points × %zu samples (at most %zu rows)", what,
                      B, S, v->max_rows);
  return GSL_SUCCESS;
}

static int
encode_one(INFB_NN(vae) *v, size_t B, const infb_real *X, infb_real *MU, infb_real *LV)
{
  int st;
  const size_t K = v->arch.K;
  if ((st = INFB_NN(mlp_forward)(v->enc, B, X, v->H)))
    return st;
  for (size_t i = 0; i < B; i++) {
    memcpy(MU + i * K, v->H + i * 2 * K, K * sizeof *MU);
    memcpy(LV + i * K, v->H + i * 2 * K + K, K * sizeof *LV);
  }
  return GSL_SUCCESS;
}

int
INFB_NN(vae_encode)(INFB_NN(vae) *v, size_t B, const infb_real *X, infb_real *MU,
                    infb_real *LV)
{
  int st = check_rows(v, B, 1, "encode");
  if (st)
    return st;
  const size_t D = v->arch.D, K = v->arch.K, T = nparts(v, B);
  int sts[INFB_VAE_MAX_PARTS];
  FOR_PARTS(T)
  {
    size_t lo = part_lo(B, t, T), hi = part_lo(B, t + 1, T);
    sts[t] = encode_one(worker(v, t), hi - lo, X + lo * D, MU + lo * K, LV + lo * K);
  }
  return parts_status(sts, T, "encode");
}

/* The ELBO with the closed-form prior and entropy terms (vae.h):
 *   L_i = (1/S) Σ_s ln p(x_i|z_is) + C_i,
 *   C_i = −½ Σ_k (μ² + σ²) − (K/2) ln 2π + β·½ Σ_k (1 + ln 2π + ln σ²).
 * Backward, for the loss −Σ_i L_i / B:
 *   ∂/∂l_isd = −(x_id − σ(l_isd)) / (B·S)                      (the kernel's dl)
 *   ∂/∂z_is  = decoder backward
 *   ∂/∂μ_i   = Σ_s ∂/∂z_is + μ_i / B
 *   ∂/∂ln σ²_i = Σ_s ∂/∂z_is ⊙ ε_is ⊙ σ_i / 2 + (σ_i² − β) / (2B)
 * and the encoder backward from (∂/∂μ, ∂/∂ln σ²).  A part of a batch (threads) scales by
 * the whole batch's size Bden instead of its own B. */
static int
elbo_one(INFB_NN(vae) *v, size_t B, const infb_real *X, size_t S, const infb_real *E,
         double beta, int backward, size_t Bden, double *sum)
{
  int st;
  const size_t D = v->arch.D, K = v->arch.K, R = B * S;
  if ((st = INFB_NN(mlp_forward)(v->enc, B, X, v->H)))
    return st;
  compute_sigma(v, B);
  reparam(v, B, S, E);
  if ((st = INFB_NN(mlp_forward_nobias)(v->dec, R, v->Z, v->LG)))
    return st;
  const infb_real *bo = INFB_NN(mlp_out_bias)(v->dec);

  const double coef = -1.0 / ((double)Bden * (double)S);
  double total = 0.0;
  for (size_t i = 0; i < B; i++) {
    double lpx = 0.0;
    for (size_t s = 0; s < S; s++) {
      size_t r = i * S + s;
      lpx += bern_row(v->simd, D, X + i * D, v->LG + r * D, bo, backward ? v->dLG + r * D : NULL,
                      (infb_real)coef);
    }
    double c = -0.5 * (double)K * LN_2PI + 0.5 * beta * (double)K * (1.0 + LN_2PI);
    for (size_t k = 0; k < K; k++) {
      double mu = v->H[i * 2 * K + k], lv = v->H[i * 2 * K + K + k];
      c += -0.5 * (mu * mu + exp(lv)) + 0.5 * beta * lv;
    }
    total += lpx / (double)S + c;
  }
  *sum = total;
  if (!backward)
    return GSL_SUCCESS;

  if ((st = INFB_NN(mlp_backward)(v->dec, R, v->Z, v->dLG, v->dZ)))
    return st;
  const double invB = 1.0 / (double)Bden;
  for (size_t i = 0; i < B; i++)
    for (size_t k = 0; k < K; k++) {
      double mu = v->H[i * 2 * K + k], lv = v->H[i * 2 * K + K + k];
      double sig = v->SIG[i * K + k];
      double dmu = mu * invB, dlv = 0.5 * (exp(lv) - beta) * invB, dze = 0.0;
      for (size_t s = 0; s < S; s++) {
        size_t r = i * S + s;
        dmu += v->dZ[r * K + k];
        dze += (double)v->dZ[r * K + k] * E[r * K + k];
      }
      v->dH[i * 2 * K + k] = (infb_real)dmu;
      v->dH[i * 2 * K + K + k] = (infb_real)(dlv + 0.5 * sig * dze);
    }
  return INFB_NN(mlp_backward)(v->enc, B, X, v->dH, NULL);
}

int
INFB_NN(vae_elbo)(INFB_NN(vae) *v, size_t B, const infb_real *X, size_t S,
                  const infb_real *E, double beta, int backward, double *sum)
{
  int st = check_rows(v, B, S, "elbo");
  if (st)
    return st;
  if (!(beta >= 0.0 && beta <= 1.0))
    return INFB_ERROR(GSL_EDOM, "vae elbo: beta = %g is outside [0, 1]", beta);
  const size_t D = v->arch.D, K = v->arch.K, T = nparts(v, B);
  int sts[INFB_VAE_MAX_PARTS];
  double sums[INFB_VAE_MAX_PARTS];
  FOR_PARTS(T)
  {
    size_t lo = part_lo(B, t, T), hi = part_lo(B, t + 1, T);
    INFB_NN(vae) *w = worker(v, t);
    if (backward && t > 0)
      zero_worker_grads(w, 0, v->np);
    sts[t] = elbo_one(w, hi - lo, X + lo * D, S, E + lo * S * K, beta, backward, B, &sums[t]);
  }
  if ((st = parts_status(sts, T, "elbo")))
    return st;
  double total = 0.0;
  for (size_t t = 0; t < T; t++)
    total += sums[t];
  *sum = total;
  if (backward && T > 1)
    reduce_grads(v, T, 0, v->np);
  return GSL_SUCCESS;
}

static int
elbo_points_one(INFB_NN(vae) *v, size_t B, const infb_real *X, size_t S, const infb_real *E,
                double *out, double *se)
{
  int st;
  const size_t D = v->arch.D, R = B * S;
  if ((st = INFB_NN(mlp_forward)(v->enc, B, X, v->H)))
    return st;
  compute_sigma(v, B);
  reparam(v, B, S, E);
  if ((st = INFB_NN(mlp_forward_nobias)(v->dec, R, v->Z, v->LG)))
    return st;
  const infb_real *bo = INFB_NN(mlp_out_bias)(v->dec);
  for (size_t i = 0; i < B; i++) {
    double mean = 0.0;
    for (size_t s = 0; s < S; s++) {
      size_t r = i * S + s;
      v->lw[r] = bern_row(v->simd, D, X + i * D, v->LG + r * D, bo, NULL, 0) +
                 log_prior_ratio(v, i, r, E);
      mean += v->lw[r];
    }
    mean /= (double)S;
    out[i] = mean;
    if (se) {
      double ss = 0.0;
      for (size_t s = 0; s < S; s++) {
        double d = v->lw[i * S + s] - mean;
        ss += d * d;
      }
      se[i] = S > 1 ? sqrt(ss / (double)(S - 1) / (double)S) : NAN;
    }
  }
  return GSL_SUCCESS;
}

int
INFB_NN(vae_elbo_points)(INFB_NN(vae) *v, size_t B, const infb_real *X, size_t S,
                         const infb_real *E, double *out, double *se)
{
  int st = check_rows(v, B, S, "elbo_points");
  if (st)
    return st;
  const size_t D = v->arch.D, K = v->arch.K, T = nparts(v, B);
  int sts[INFB_VAE_MAX_PARTS];
  FOR_PARTS(T)
  {
    size_t lo = part_lo(B, t, T), hi = part_lo(B, t + 1, T);
    sts[t] = elbo_points_one(worker(v, t), hi - lo, X + lo * D, S, E + lo * S * K, out + lo,
                             se ? se + lo : NULL);
  }
  return parts_status(sts, T, "elbo_points");
}

/* Row r's point: X + xrow[r]·D, or X + r·D when xrow is NULL; WT: the transposed decoder
 * weights for the forward pass, or NULL. */
static int
decoder_loglik_one(INFB_NN(vae) *v, const infb_real *WT, size_t R, const infb_real *X,
                   const size_t *xrow, const infb_real *Z, double *logp, infb_real *G)
{
  int st;
  const size_t D = v->arch.D;
  st = WT ? INFB_NN(mlp_forward_nobias_t)(v->dec, R, Z, v->LG, WT)
          : INFB_NN(mlp_forward_nobias)(v->dec, R, Z, v->LG);
  if (st)
    return st;
  const infb_real *bo = INFB_NN(mlp_out_bias)(v->dec);
  for (size_t r = 0; r < R; r++)
    logp[r] = bern_row(v->simd, D, X + (xrow ? xrow[r] : r) * D, v->LG + r * D, bo,
                       G ? v->dLG + r * D : NULL, 1);
  return G ? INFB_NN(mlp_backward_input)(v->dec, R, v->dLG, G) : GSL_SUCCESS;
}

static int
decoder_loglik_parts(INFB_NN(vae) *v, const infb_real *WT, size_t R, const infb_real *X,
                     const size_t *xrow, const infb_real *Z, double *logp, infb_real *G)
{
  int st = check_rows(v, R, 1, "decoder_loglik");
  if (st)
    return st;
  const size_t D = v->arch.D, K = v->arch.K, T = nparts(v, R);
  int sts[INFB_VAE_MAX_PARTS];
  FOR_PARTS(T)
  {
    size_t lo = part_lo(R, t, T), hi = part_lo(R, t + 1, T);
    sts[t] = decoder_loglik_one(worker(v, t), WT, hi - lo, xrow ? X : X + lo * D,
                                xrow ? xrow + lo : NULL, Z + lo * K, logp + lo,
                                G ? G + lo * K : NULL);
  }
  return parts_status(sts, T, "decoder_loglik");
}

int
INFB_NN(vae_decoder_loglik)(INFB_NN(vae) *v, size_t R, const infb_real *X,
                            const infb_real *Z, double *logp, infb_real *G)
{
  return decoder_loglik_parts(v, NULL, R, X, NULL, Z, logp, G);
}

int
INFB_NN(vae_decoder_loglik_rows)(INFB_NN(vae) *v, size_t R, const infb_real *X,
                                 const size_t *xrow, const infb_real *Z, double *logp,
                                 infb_real *G)
{
  return decoder_loglik_parts(v, NULL, R, X, xrow, Z, logp, G);
}

size_t
INFB_NN(vae_decoder_nparams)(const INFB_NN(vae) *v)
{
  return INFB_NN(mlp_nparams)(v->dec);
}

int
INFB_NN(vae_decoder_transpose)(const INFB_NN(vae) *v, infb_real *WT)
{
  return INFB_NN(mlp_transpose)(v->dec, WT);
}

int
INFB_NN(vae_decoder_loglik_rows_t)(INFB_NN(vae) *v, const infb_real *WT, size_t R,
                                   const infb_real *X, const size_t *xrow, const infb_real *Z,
                                   double *logp, infb_real *G)
{
  return decoder_loglik_parts(v, WT, R, X, xrow, Z, logp, G);
}

static int
decoder_loglik_part(INFB_NN(vae) *v, const infb_real *WT, size_t part, size_t R,
                    const infb_real *X, const size_t *xrow, const infb_real *Z, double *logp,
                    infb_real *G)
{
  int st = check_rows(v, R, 1, "decoder_loglik_part");
  if (st)
    return st;
  if (part >= v->nthreads)
    return INFB_ERROR(GSL_EINVAL, "vae decoder_loglik_part: part %zu of %zu", part,
                      v->nthreads);
  return decoder_loglik_one(worker(v, part), WT, R, X, xrow, Z, logp, G);
}

int
INFB_NN(vae_decoder_loglik_part)(INFB_NN(vae) *v, size_t part, size_t R, const infb_real *X,
                                 const size_t *xrow, const infb_real *Z, double *logp,
                                 infb_real *G)
{
  return decoder_loglik_part(v, NULL, part, R, X, xrow, Z, logp, G);
}

int
INFB_NN(vae_decoder_loglik_part_t)(INFB_NN(vae) *v, const infb_real *WT, size_t part,
                                   size_t R, const infb_real *X, const size_t *xrow,
                                   const infb_real *Z, double *logp, infb_real *G)
{
  return decoder_loglik_part(v, WT, part, R, X, xrow, Z, logp, G);
}

static int
decoder_train_one(INFB_NN(vae) *v, size_t R, const infb_real *X, const infb_real *Z,
                  double coef, double *logp, infb_real *G)
{
  int st;
  const size_t D = v->arch.D;
  if ((st = INFB_NN(mlp_forward_nobias)(v->dec, R, Z, v->LG)))
    return st;
  const infb_real *bo = INFB_NN(mlp_out_bias)(v->dec);
  for (size_t r = 0; r < R; r++)
    logp[r] = bern_row(v->simd, D, X + r * D, v->LG + r * D, bo, v->dLG + r * D,
                       (infb_real)coef);
  return INFB_NN(mlp_backward)(v->dec, R, Z, v->dLG, G);
}

int
INFB_NN(vae_decoder_train)(INFB_NN(vae) *v, size_t R, const infb_real *X, const infb_real *Z,
                           double coef, double *logp, infb_real *G)
{
  int st = check_rows(v, R, 1, "decoder_train");
  if (st)
    return st;
  const size_t D = v->arch.D, K = v->arch.K, T = nparts(v, R);
  int sts[INFB_VAE_MAX_PARTS];
  FOR_PARTS(T)
  {
    size_t lo = part_lo(R, t, T), hi = part_lo(R, t + 1, T);
    INFB_NN(vae) *w = worker(v, t);
    if (t > 0)
      zero_worker_grads(w, v->np_enc, v->np);
    sts[t] = decoder_train_one(w, hi - lo, X + lo * D, Z + lo * K, coef, logp + lo,
                               G ? G + lo * K : NULL);
  }
  if ((st = parts_status(sts, T, "decoder_train")))
    return st;
  if (T > 1)
    reduce_grads(v, T, v->np_enc, v->np);
  return GSL_SUCCESS;
}

static int
decode_one(INFB_NN(vae) *v, size_t R, const infb_real *Z, infb_real *P)
{
  int st;
  const size_t D = v->arch.D;
  if ((st = INFB_NN(mlp_forward)(v->dec, R, Z, v->LG)))
    return st;
  for (size_t j = 0; j < R * D; j++) {
    infb_real l = v->LG[j], t = INFB_RM(exp)(-INFB_RM(fabs)(l)); /* e^−|l|: no overflow */
    P[j] = l >= 0 ? 1 / (1 + t) : t / (1 + t);
  }
  return GSL_SUCCESS;
}

int
INFB_NN(vae_decode)(INFB_NN(vae) *v, size_t R, const infb_real *Z, infb_real *P)
{
  int st = check_rows(v, R, 1, "decode");
  if (st)
    return st;
  const size_t D = v->arch.D, K = v->arch.K, T = nparts(v, R);
  int sts[INFB_VAE_MAX_PARTS];
  FOR_PARTS(T)
  {
    size_t lo = part_lo(R, t, T), hi = part_lo(R, t + 1, T);
    sts[t] = decode_one(worker(v, t), hi - lo, Z + lo * K, P + lo * D);
  }
  return parts_status(sts, T, "decode");
}

/* IWAE: points in groups of g, samples in chunks of c per point (g·c ≤ max_rows); row
 * r = p·cc + j holds sample j of the chunk for point p of the group.  Per point the
 * running ln Σ w and ln Σ w² are combined chunk by chunk with logaddexp.  lwo (B × k, may
 * be NULL) receives each chunk's ln w_j at columns j0.. of its point's row. */
static int
iwae_one(INFB_NN(vae) *v, size_t B, const infb_real *X, const infb_real *MU,
         const infb_real *LV, size_t k, gsl_rng *const *rngs, double *out, double *se,
         double *lwo)
{
  const size_t D = v->arch.D, K = v->arch.K;
  const size_t c = k < v->max_samples ? k : v->max_samples;
  const size_t gmax = v->max_rows / c;
  const infb_real *bo = INFB_NN(mlp_out_bias)(v->dec);
  double *acc1 = v->acc, *acc2 = v->acc + v->max_rows;
  int st;
  for (size_t i0 = 0; i0 < B; i0 += gmax) {
    const size_t g = B - i0 < gmax ? B - i0 : gmax;
    const infb_real *Xg = X + i0 * D;
    if (!MU) {
      if ((st = INFB_NN(mlp_forward)(v->enc, g, Xg, v->H)))
        return st;
    } else {
      for (size_t p = 0; p < g; p++) {
        memcpy(v->H + p * 2 * K, MU + (i0 + p) * K, K * sizeof *MU);
        memcpy(v->H + p * 2 * K + K, LV + (i0 + p) * K, K * sizeof *LV);
      }
    }
    compute_sigma(v, g);
    for (size_t p = 0; p < g; p++)
      acc1[p] = acc2[p] = -INFINITY;
    for (size_t j0 = 0; j0 < k; j0 += c) {
      const size_t cc = k - j0 < c ? k - j0 : c;
      for (size_t p = 0; p < g; p++)
        for (size_t q = 0; q < cc * K; q++)
          v->E[p * cc * K + q] = (infb_real)gsl_ran_gaussian_ziggurat(rngs[i0 + p], 1.0);
      reparam(v, g, cc, v->E);
      /* Decode in blocks of block_rows rows: the logits of a block stay in cache for the
       * Bernoulli kernel that reads them. */
      for (size_t r0 = 0; r0 < g * cc; r0 += v->block_rows) {
        const size_t nb = g * cc - r0 < v->block_rows ? g * cc - r0 : v->block_rows;
        if ((st = INFB_NN(mlp_forward_nobias)(v->dec, nb, v->Z + r0 * K, v->LG)))
          return st;
        for (size_t r = r0; r < r0 + nb; r++) {
          const size_t p = r / cc;
          v->lw[r] = bern_row(v->simd, D, Xg + p * D, v->LG + (r - r0) * D, bo, NULL, 0) +
                     log_prior_ratio(v, p, r, v->E);
        }
      }
      for (size_t p = 0; p < g; p++) {
        double *lw = v->lw + p * cc;
        acc1[p] = logaddexp(acc1[p], logsumexp(lw, cc, 1.0));
        acc2[p] = logaddexp(acc2[p], logsumexp(lw, cc, 2.0));
        if (lwo)
          memcpy(lwo + (i0 + p) * k + j0, lw, cc * sizeof *lw);
      }
    }
    for (size_t p = 0; p < g; p++) {
      out[i0 + p] = acc1[p] - log((double)k);
      if (se) {
        /* Σ w̃² = Σ w² / (Σ w)²; clamp the rounding of 1/ESS − 1/k at 0. */
        double v2 = exp(acc2[p] - 2.0 * acc1[p]) - 1.0 / (double)k;
        se[i0 + p] = isnan(v2) ? NAN : sqrt(v2 > 0 ? v2 : 0);
      }
    }
  }
  return GSL_SUCCESS;
}

/* Each point's draws come from its own stream, so splitting the points over threads
 * changes the results only by rounding. */
int
INFB_NN(vae_iwae_lw)(INFB_NN(vae) *v, size_t B, const infb_real *X, const infb_real *MU,
                     const infb_real *LV, size_t k, gsl_rng *const *rngs, double *out,
                     double *se, double *lw)
{
  if (B == 0 || k == 0)
    return INFB_ERROR(GSL_EINVAL, "vae iwae: %zu points, k = %zu (both must be positive)", B, k);
  if (!MU != !LV)
    return INFB_ERROR(GSL_EINVAL, "vae iwae: MU and LV must be both given or both NULL");
  const size_t D = v->arch.D, K = v->arch.K, T = nparts(v, B);
  int sts[INFB_VAE_MAX_PARTS];
  FOR_PARTS(T)
  {
    size_t lo = part_lo(B, t, T), hi = part_lo(B, t + 1, T);
    sts[t] = iwae_one(worker(v, t), hi - lo, X + lo * D, MU ? MU + lo * K : NULL,
                      LV ? LV + lo * K : NULL, k, rngs + lo, out + lo, se ? se + lo : NULL,
                      lw ? lw + lo * k : NULL);
  }
  return parts_status(sts, T, "iwae");
}

int
INFB_NN(vae_iwae)(INFB_NN(vae) *v, size_t B, const infb_real *X, const infb_real *MU,
                  const infb_real *LV, size_t k, gsl_rng *const *rngs, double *out,
                  double *se)
{
  return INFB_NN(vae_iwae_lw)(v, B, X, MU, LV, k, rngs, out, se, NULL);
}

/* Quadrature: the grid in chunks of max_rows cells; per cell the point-independent part
 * b_c = ln N(z_c; 0, I) − Σ_d softplus(l_cd), then per point
 * ln p(x|z_c) + ln N(z_c) = x·l_c + b_c, combined over chunks with logaddexp.  The x·l_c
 * of every point and cell are one dgemm per slice of QUAD_SLICE cells (in double, as the
 * rest of the sum: a float dot product of 784 terms is off by up to 1e-3 nats), split by
 * points over the VAE's threads; the decoder runs once per cell for all points. */
#define QUAD_SLICE 256
int
INFB_NN(vae_quadrature)(INFB_NN(vae) *v, size_t B, const infb_real *X, double L, size_t n,
                        double *out)
{
  const size_t D = v->arch.D;
  if (v->arch.K != 2)
    return INFB_ERROR(GSL_EINVAL, "vae quadrature: needs K = 2 (K = %zu)", v->arch.K);
  if (B == 0 || n == 0 || n > ((size_t)1 << (sizeof(size_t) * 4)) - 1)
    return INFB_ERROR(GSL_EINVAL, "vae quadrature: %zu points, grid %zu (both must be positive)",
                      B, n);
  if (!(L > 0.0) || !isfinite(L))
    return INFB_ERROR(GSL_EINVAL, "vae quadrature: half-width L = %g must be positive", L);
  const double h = 2.0 * L / (double)n;
  const size_t ncell = n * n, T = nparts(v, B);
  const size_t cs = QUAD_SLICE < v->max_rows ? QUAD_SLICE : v->max_rows;
  double *base = v->lw;
  /* Double copies of X and of a slice of logits, and the points × cells dot products. */
  double *Xd = infb_malloc(B, D * sizeof *Xd), *Ld = infb_malloc(cs, D * sizeof *Ld);
  double *P = infb_malloc(B, cs * sizeof *P);
  int st = GSL_SUCCESS;
  if (!Xd || !Ld || !P) {
    st = GSL_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < B * D; i++)
    Xd[i] = X[i];
  for (size_t i = 0; i < B; i++)
    out[i] = -INFINITY;
  for (size_t c0 = 0; c0 < ncell; c0 += v->max_rows) {
    const size_t m = ncell - c0 < v->max_rows ? ncell - c0 : v->max_rows;
    for (size_t j = 0; j < m; j++) {
      size_t a = (c0 + j) / n, b = (c0 + j) % n;
      v->Z[2 * j] = (infb_real)(-L + ((double)a + 0.5) * h);
      v->Z[2 * j + 1] = (infb_real)(-L + ((double)b + 0.5) * h);
    }
    if ((st = INFB_NN(mlp_forward)(v->dec, m, v->Z, v->LG)))
      goto done;
    for (size_t j = 0; j < m; j++) {
      double z1 = v->Z[2 * j], z2 = v->Z[2 * j + 1];
      base[j] = -0.5 * (z1 * z1 + z2 * z2) - LN_2PI +
                bern_row(v->simd, D, NULL, v->LG + j * D, NULL, NULL, 0);
    }
    for (size_t j0 = 0; j0 < m; j0 += cs) {
      const size_t mc = m - j0 < cs ? m - j0 : cs;
      for (size_t q = 0; q < mc * D; q++)
        Ld[q] = v->LG[j0 * D + q];
      int sts[INFB_VAE_MAX_PARTS];
      FOR_PARTS(T)
      {
        size_t lo = part_lo(B, t, T), hi = part_lo(B, t + 1, T);
        sts[t] = infb_dgemm(0, 1, hi - lo, mc, D, 1.0, Xd + lo * D, D, Ld, D, 0.0, P + lo * mc,
                            mc);
        for (size_t i = lo; !sts[t] && i < hi; i++) {
          double *pi = P + i * mc;
          for (size_t j = 0; j < mc; j++)
            pi[j] += base[j0 + j];
          out[i] = logaddexp(out[i], logsumexp(pi, mc, 1.0));
        }
      }
      if ((st = parts_status(sts, T, "quadrature")))
        goto done;
    }
  }
  for (size_t i = 0; i < B; i++)
    out[i] += 2.0 * log(h);
done:
  free(Xd);
  free(Ld);
  free(P);
  return st;
}
