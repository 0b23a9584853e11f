/* Elementwise activations and their derivatives (see act.h); compiled once per precision
 * (INFB_REAL_BITS).  Each activation is its own simple restrict-qualified loop so the
 * compiler can vectorise it.  The ELU's expm1 — the one transcendental of the protocol's
 * network, about a third of a training step when scalar — runs through a polynomial
 * expm1 of our own on AVX-512 (float build) or SLEEF's AVX2 expm1 (1.0 ulp) when the CPU
 * has them (checked at run time); tanh and softplus use scalar libm. */
#include <config.h>
#include "nn/act.h"
#include "core/error.h"

#include <math.h>
#include <string.h>

/* SLEEF's AVX2 declarations need the AVX2 target switched on while the header is read;
 * only the function marked ACT_AVX2 uses them, after the run-time check (the rest of the
 * library stays baseline x86-64; the same pattern as nn/vae.c).  clang ignores GCC's
 * target pragma: built by clang (the fuzz targets), the scalar loops run. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ACT_HAVE_AVX2 1
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f")
#include <sleef.h>
#pragma GCC pop_options
#include "nn/vmath512.h"
#define ACT_AVX2 __attribute__((target("avx2,fma")))
#define ACT_AVX512 __attribute__((target("avx2,fma,avx512f")))
#else
#define ACT_HAVE_AVX2 0
#endif

#if ACT_HAVE_AVX2
/* ELU on the first n − n mod w elements (w = 8 floats or 4 doubles); returns how many. */
ACT_AVX2 static size_t
elu_avx2(infb_real *restrict Y, const infb_real *restrict X, size_t n)
{
  size_t i = 0;
#if INFB_REAL_BITS == 32
  const __m256 zero = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(X + i);
    /* expm1 of min(0, x): no overflow for large x, and the select keeps x > 0 exact.
     * The operand order matters: vminps returns its second operand when either is a
     * NaN, so a NaN x gives expm1(NaN) = NaN, as the scalar loop does. */
    /* Clamped at −30 (expm1 is −1 in float below −17.4): no denormal arithmetic. */
    __m256 e = Sleef_expm1f8_u10avx2(_mm256_max_ps(_mm256_set1_ps(-30.0f), _mm256_min_ps(zero, x)));
    _mm256_storeu_ps(Y + i, _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, zero, _CMP_GT_OQ)));
  }
#else
  const __m256d zero = _mm256_setzero_pd();
  for (; i + 4 <= n; i += 4) {
    __m256d x = _mm256_loadu_pd(X + i);
    __m256d e = Sleef_expm1d4_u10avx2(_mm256_min_pd(zero, x));
    _mm256_storeu_pd(Y + i, _mm256_blendv_pd(e, x, _mm256_cmp_pd(x, zero, _CMP_GT_OQ)));
  }
#endif
  return i;
}

#if INFB_REAL_BITS == 32
/* 16 floats per step (AVX-512), as elu_avx2 but with the inline expm1 of nn/vmath512.h
 * (SLEEF's expm1f16 keeps 1 ulp by double-float arithmetic and was most of the ELU's
 * cost). */
ACT_AVX512 static size_t
elu_avx512(float *restrict Y, const float *restrict X, size_t n)
{
  const __m512 zero = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 x = _mm512_loadu_ps(X + i);
    __m512 e = infb_vm512_expm1_neg(_mm512_min_ps(zero, x)); /* NaN stays NaN */
    _mm512_storeu_ps(Y + i, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ), e, x));
  }
  return i;
}
#endif

/* 2: AVX-512 (float build), 1: AVX2 and FMA, 0: neither. */
static int
act_simd(void)
{
  static int cached = -1;
  if (cached < 0) {
    cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
    if (cached && INFB_REAL_BITS == 32 && __builtin_cpu_supports("avx512f"))
      cached = 2;
  }
  return cached;
}
#endif

/* The precision-independent functions live in the double build only, so that the two
 * archives never define the same symbol. */
#if INFB_REAL_BITS == 64
static const char *const act_names[INFB_ACT_COUNT] = {
  [INFB_ACT_IDENTITY] = "identity", [INFB_ACT_TANH] = "tanh",
  [INFB_ACT_RELU] = "relu",         [INFB_ACT_ELU] = "elu",
  [INFB_ACT_SOFTPLUS] = "softplus",
};

enum infb_act
infb_act_parse(const char *name)
{
  if (!name)
    return INFB_ACT_INVALID;
  for (int a = 0; a < INFB_ACT_COUNT; a++)
    if (strcmp(name, act_names[a]) == 0)
      return (enum infb_act)a;
  return INFB_ACT_INVALID;
}

const char *
infb_act_name(enum infb_act act)
{
  if ((int)act < 0 || (int)act >= INFB_ACT_COUNT)
    return NULL;
  return act_names[act];
}
#endif

int
INFB_NN(act_forward)(infb_real *restrict Y, const infb_real *restrict X, size_t n,
                     enum infb_act act)
{
  switch (act) {
  case INFB_ACT_IDENTITY:
    for (size_t i = 0; i < n; i++)
      Y[i] = X[i];
    break;
  case INFB_ACT_TANH:
    for (size_t i = 0; i < n; i++)
      Y[i] = INFB_RM(tanh)(X[i]);
    break;
  case INFB_ACT_RELU:
    for (size_t i = 0; i < n; i++)
      Y[i] = X[i] < 0 ? 0 : X[i]; /* a NaN passes through */
    break;
  case INFB_ACT_ELU:
  {
    /* expm1 keeps eˣ − 1 accurate near 0. */
    size_t i0 = 0;
#if ACT_HAVE_AVX2
    int simd = act_simd();
#if INFB_REAL_BITS == 32
    if (simd == 2)
      i0 = elu_avx512(Y, X, n);
#endif
    if (simd)
      i0 += elu_avx2(Y + i0, X + i0, n - i0);
#endif
    for (size_t i = i0; i < n; i++)
      Y[i] = X[i] > 0 ? X[i] : INFB_RM(expm1)(X[i]);
  }
    break;
  case INFB_ACT_SOFTPLUS:
    /* ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|): the exponent is never positive. */
    for (size_t i = 0; i < n; i++)
      Y[i] = (X[i] > 0 ? X[i] : 0) + INFB_RM(log1p)(INFB_RM(exp)(-INFB_RM(fabs)(X[i])));
    break;
  default:
    return INFB_ERROR(GSL_EINVAL, "activation forward: invalid activation %d", (int)act);
  }
  return GSL_SUCCESS;
}

INFB_NN_HOT
int
INFB_NN(act_backward)(infb_real *restrict dX, const infb_real *restrict dY,
                      const infb_real *restrict Y, const infb_real *restrict X, size_t n,
                      enum infb_act act)
{
  switch (act) {
  case INFB_ACT_IDENTITY:
    for (size_t i = 0; i < n; i++)
      dX[i] = dY[i];
    break;
  case INFB_ACT_TANH:
    /* tanh' = 1 − tanh². */
    for (size_t i = 0; i < n; i++)
      dX[i] = dY[i] * (1 - Y[i] * Y[i]);
    break;
  case INFB_ACT_RELU:
    /* Unconditional loads (a select, not a branch) so the loop vectorises. */
    for (size_t i = 0; i < n; i++) {
      infb_real d = dY[i];
      dX[i] = X[i] > 0 ? d : 0;
    }
    break;
  case INFB_ACT_ELU:
    /* f'(x) = 1 for x > 0 (where f(x) = x > 0), eˣ = f(x) + 1 for x ≤ 0 (where
     * f(x) ≤ 0): both are min(f(x), 0) + 1, a select on Y alone.  Written as
     * dY·min + dY, which GCC vectorises (dY·(min + 1) it does not). */
    for (size_t i = 0; i < n; i++) {
      infb_real y = Y[i], d = dY[i];
      infb_real m = y < 0 ? y : 0;
      dX[i] = d * m + d;
    }
    break;
  case INFB_ACT_SOFTPLUS:
    /* σ(x) with e = e^−|x| ≤ 1: 1/(1 + e) for x ≥ 0, e/(1 + e) for x < 0. */
    for (size_t i = 0; i < n; i++) {
      infb_real e = INFB_RM(exp)(-INFB_RM(fabs)(X[i]));
      infb_real s = (X[i] >= 0 ? 1 : e) / (1 + e);
      dX[i] = dY[i] * s;
    }
    break;
  default:
    return INFB_ERROR(GSL_EINVAL, "activation backward: invalid activation %d", (int)act);
  }
  return GSL_SUCCESS;
}
