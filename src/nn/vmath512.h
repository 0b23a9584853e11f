/* Exponentials of non-positive floats on 16 lanes (AVX-512F), inline, for the hot
 * elementwise kernels of nn/act.c (the ELU) and nn/vae.c (the Bernoulli likelihood).
 * Include it only where the AVX-512 target is available to the including function (the
 * callers carry __attribute__((target("avx2,fma,avx512f"))) and check the CPU at run
 * time).  Both functions take x ≤ 0 or NaN; a NaN passes through every step (vmaxps
 * returns its second operand when either is a NaN).  Accuracy, checked against libm's
 * long double functions on dense sweeps in tests/nn/mlp-t and tests/nn/vae-t: within
 * 2 ulp of normal results, for any x ≤ 0 down to denormal x.
 *
 * Range reduction: x = n ln 2 + r, |r| ≤ ln 2 / 2, with ln 2 in two parts (Cody & Waite;
 * the high part has 16 significant bits, so n·ln2_hi is exact for |n| < 2⁸), then
 *   eˣ     = 2ⁿ · (1 + expm1(r)),
 *   eˣ − 1 = 2ⁿ · expm1(r) + (2ⁿ − 1)   (2ⁿ − 1 exact for n ≥ −24, −1 below),
 * expm1(r) = r + r²(1/2! + r/3! + … + r⁶/8!): the first omitted term, r⁹/9!, is below
 * 2.1e-10 relative to r (0.002 ulp).  Each function clamps x first (below), so that no
 * lane computes a denormal. */
#ifndef INFB_NN_VMATH512_H
#define INFB_NN_VMATH512_H

#include <immintrin.h>

#define INFB_VM512 __attribute__((target("avx2,fma,avx512f"), always_inline)) static inline

/* expm1(r) for |r| ≤ ln 2 / 2 and the reduction's n, from x ≤ 0 already clamped by the
 * caller (see above). */
INFB_VM512 __m512
infb_vm512_reduce(__m512 x, __m512 *n)
{
  *n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(*n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(*n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 q = _mm512_set1_ps(1.0f / 40320);
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 5040));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 720));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 120));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 24));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 6));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.5f));
  return _mm512_fmadd_ps(_mm512_mul_ps(r, r), q, r);
}

/* eˣ − 1 for x ≤ 0.  x is clamped at −30 first: eˣ − 1 is −1 in float below −17.4, and
 * no intermediate is then a denormal (whose arithmetic costs a microcode assist, about a
 * hundred cycles, on current x86). */
INFB_VM512 __m512
infb_vm512_expm1_neg(__m512 x)
{
  x = _mm512_max_ps(_mm512_set1_ps(-30.0f), x); /* NaN: vmaxps returns the second operand */
  __m512 n, p = infb_vm512_reduce(x, &n);
  __m512 t = _mm512_scalef_ps(_mm512_set1_ps(1.0f), n);
  return _mm512_fmadd_ps(t, p, _mm512_sub_ps(t, _mm512_set1_ps(1.0f)));
}

/* eˣ for x ≤ 0, flushed to 0 where eˣ < FLT_MIN (x < ln FLT_MIN = −87.3365): computing
 * the denormal results costs microcode assists, and trained decoders' background logits
 * reach −100 and below (the Bernoulli kernel took 4× longer on real images than on random
 * ones).  The flushed values are below FLT_MIN in absolute terms.  The reduction runs on
 * max(x, −87.33), whose eˣ is normal. */
INFB_VM512 __m512
infb_vm512_exp_neg(__m512 x)
{
  __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3365f), _CMP_LT_OQ); /* NaN: no */
  __m512 n, p = infb_vm512_reduce(_mm512_max_ps(_mm512_set1_ps(-87.33f), x), &n);
  __m512 e = _mm512_scalef_ps(_mm512_add_ps(p, _mm512_set1_ps(1.0f)), n);
  return _mm512_mask_mov_ps(e, tiny, _mm512_setzero_ps());
}

#endif
