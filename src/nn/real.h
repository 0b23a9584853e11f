/* The floating-point type of the neural-network code, which is written once over
 * `infb_real` and compiled twice (the llm.c model: float32 for the hot path, double for
 * gradient checks): src/libnn_f32.a with -DINFB_REAL_BITS=32 and src/libnn_f64.a with
 * -DINFB_REAL_BITS=64, both linked into every program.
 *
 * Names.  Every precision-dependent symbol carries its precision as a suffix, so the two
 * builds never clash: INFB_NN(mlp_forward) is infb_mlp_forward_f32 in the float build and
 * infb_mlp_forward_f64 in the double build (likewise the types: INFB_NN(mlp) is
 * struct/typedef infb_mlp_f32 or infb_mlp_f64).  Precision-independent things (enums, the
 * layout-table entry, infb_act_parse) have plain names; their functions are compiled
 * in the double build only (so the two archives never define the same symbol), and
 * library code must not call them (the float archive cannot depend on the double one,
 * which precedes it on the link line).
 *
 * Headers declare both precisions.  Including "nn/mlp.h" (or dense.h, act.h, adam.h)
 * declares the _f32 AND the _f64 functions, whatever the including file's precision.
 * Each public nn header has two parts:
 *   - a precision-independent part, inside its include guard;
 *   - a template part written with `infb_real` and INFB_NN(), which the header
 *     instantiates by including itself twice, with INFB_NN_TBITS set to 32 and then 64
 *     (and this file re-included each time to retarget the macros), then including this
 *     file once more with INFB_NN_TBITS undefined to restore the including file's own
 *     precision.
 * A new nn header copies that pattern (see nn/dense.h, the shortest one); it includes its
 * own dependencies in the precision-independent part only.
 *
 * Who sees what.
 *   - Library code (compiled with INFB_REAL_BITS) writes `infb_real`, INFB_NN(name),
 *     INFB_RM(f) (libm function f for infb_real: tanhf or tanh) and INFB_REAL_GEMM
 *     (infb_sgemm or infb_dgemm); they denote the current build's precision.
 *   - Any other code (estimators, tests, the CLI) has no INFB_REAL_BITS: after the
 *     headers, `infb_real` and INFB_NN() are undefined there, and it names the precision
 *     explicitly: infb_mlp_forward_f32(...) or infb_mlp_forward_f64(...).  Such code may
 *     also define INFB_REAL_BITS itself before including the nn headers to get the
 *     generic names (a module that is compiled twice, like the nn library).
 *
 * Accumulation.  Sums of log-likelihoods and losses over data points or pixels are
 * accumulated in double in both builds (a float sum of 55 000 × 784 terms loses digits);
 * only per-element kernels and the BLAS calls work in infb_real.  The kernels of this
 * directory return no such sums. */

/* No include guard for the selection below: it is re-evaluated on every inclusion. */
#undef infb_real
#undef INFB_NN
#undef INFB_RM
#undef INFB_REAL_GEMM
#undef INFB_NN_CUR_BITS

#if defined(INFB_NN_TBITS)
#define INFB_NN_CUR_BITS INFB_NN_TBITS
#elif defined(INFB_REAL_BITS)
#define INFB_NN_CUR_BITS INFB_REAL_BITS
#endif

#if defined(INFB_NN_CUR_BITS)
#if INFB_NN_CUR_BITS == 32
#define infb_real float
#define INFB_NN(name) infb_##name##_f32
#define INFB_RM(fn) fn##f
#define INFB_REAL_GEMM infb_sgemm
#elif INFB_NN_CUR_BITS == 64
#define infb_real double
#define INFB_NN(name) infb_##name##_f64
#define INFB_RM(fn) fn
#define INFB_REAL_GEMM infb_dgemm
#else
#error "INFB_REAL_BITS (or INFB_NN_TBITS) must be 32 or 64"
#endif
#endif

#ifndef INFB_NN_REAL_H
#define INFB_NN_REAL_H

#include <stddef.h>

/* The elementwise loops that dominate a training step once the gemms are fast (Adam over
 * the whole slab, the activations' derivatives, bias sums) are compiled three times, for
 * AVX-512, AVX2 and baseline x86-64, and the CPU's best is chosen when the program is
 * loaded (GCC's target_clones, an ifunc).  The nn archives are built with
 * -fvect-cost-model=dynamic so that -O2 vectorises these loops at all.  The results are
 * the same IEEE results in every clone: no -ffast-math, no reassociation of sums, and no
 * FMA contraction (ISO C mode, -std=c11, means -ffp-contract=off). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__)
#define INFB_NN_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define INFB_NN_HOT
#endif

/* One entry of a parameter-slab layout table: the block `name` occupies
 * slab[offset .. offset + length), a row-major rows × cols array (length = rows·cols;
 * a bias vector has cols = 1).  The same table describes the gradient slab. */
struct infb_nn_tensor {
  const char *name; /* e.g. "layer0.W", "layer0.b"; owned by the object that returned it */
  size_t offset;    /* first element in the slab */
  size_t length;    /* number of elements, rows · cols */
  size_t rows;      /* first dimension (a weight matrix: outputs) */
  size_t cols;      /* second dimension (a weight matrix: inputs; a bias: 1) */
};

#endif
