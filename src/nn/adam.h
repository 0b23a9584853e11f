/* Adam over a flat parameter slab (Kingma & Ba, "Adam: a method for stochastic
 * optimization", ICLR 2015, Algorithm 1).  At step t = 1, 2, … with gradient g:
 *   m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²
 *   m̂ = m/(1 − β1ᵗ)                v̂ = v/(1 − β2ᵗ)
 *   θ ← θ − lr·m̂/(√v̂ + ε)
 * elementwise, with m = v = 0 before step 1.  (The ε is outside the square root, as in
 * the paper and PyTorch.)  The bias corrections are computed in double in both builds.
 *
 * Weight decay: this is plain Adam, not AdamW.  Coupled L2 regularisation (a Gaussian
 * prior, MAP) is the caller's: before _step, add (λ/N)·θ to the gradient of the mean
 * loss over N points (λ the penalty ½λ‖θ‖² on the summed loss).
 *
 * Declared for both precisions (see nn/real.h): infb_adam_f32 over float slabs,
 * infb_adam_f64 over double slabs. */
#ifndef INFB_NN_ADAM_H
#define INFB_NN_ADAM_H

#include <stddef.h>
#include "nn/real.h"

/* The most threads adam_set_threads takes. */
#define INFB_ADAM_MAX_THREADS 64

#define INFB_NN_ADAM_T
#define INFB_NN_TBITS 32
#include "nn/real.h"
#include "nn/adam.h"
#undef INFB_NN_TBITS
#define INFB_NN_TBITS 64
#include "nn/real.h"
#include "nn/adam.h"
#undef INFB_NN_TBITS
#undef INFB_NN_ADAM_T
#include "nn/real.h"

#elif defined(INFB_NN_ADAM_T) /* the template part, instantiated once per precision */

/* An opaque optimiser state: the moments m, v (n each) and the step count t. */
typedef struct INFB_NN(adam) INFB_NN(adam);

/* Adam for a slab of n ≥ 1 parameters, with 0 ≤ beta1 < 1, 0 ≤ beta2 < 1, eps > 0
 * (the protocol's values: 0.9, 0.999, 1e-4; Kingma & Ba's: 0.9, 0.999, 1e-8); t = 0 and
 * m = v = 0.  NULL (error raised: GSL_EINVAL for bad arguments, GSL_ENOMEM) on
 * failure. */
INFB_NN(adam) *INFB_NN(adam_alloc)(size_t n, double beta1, double beta2, double eps);

/* One step t → t + 1 of the update above on params (n), given grads (n) = ∂L/∂θ at
 * params; lr ≥ 0 finite.  grads are read only.  Allocates nothing.  Returns GSL_SUCCESS,
 * or GSL_EINVAL (raised; nothing changed) for a negative or non-finite lr. */
int INFB_NN(adam_step)(INFB_NN(adam) *a, infb_real *restrict params,
                       const infb_real *restrict grads, double lr);

/* Threads for _step: the slab is split into T contiguous parts updated in parallel
 * (OpenMP; each element's update is independent, so the result is the same for every T).
 * T from 1 (the default) to INFB_ADAM_MAX_THREADS; GSL_EINVAL (raised) otherwise. */
int INFB_NN(adam_set_threads)(INFB_NN(adam) *a, size_t T);
/* Back to the state after _alloc: m = v = 0, t = 0. */
void INFB_NN(adam_reset)(INFB_NN(adam) *a);

/* The number of steps taken since _alloc or _reset. */
unsigned long INFB_NN(adam_iter)(const INFB_NN(adam) *a);

/* The slab length n. */
size_t INFB_NN(adam_size)(const INFB_NN(adam) *a);

/* Extension (checkpoints, infer/vaetrain.h): the moment vectors m and v (n each, owned by
 * a, writable so a saved state can be restored) through *m and *v (either may be NULL). */
void INFB_NN(adam_moments)(INFB_NN(adam) *a, infb_real **m, infb_real **v);

/* Extension (checkpoints): set the step count t (with the moments, restores a saved
 * state; the next _step is step t + 1). */
void INFB_NN(adam_set_iter)(INFB_NN(adam) *a, unsigned long t);

/* Frees the optimiser; NULL is a no-op. */
void INFB_NN(adam_free)(INFB_NN(adam) *a);

#endif
