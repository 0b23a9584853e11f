/* Multilayer perceptron: a chain of dense layers (nn/dense.h) with one hidden activation
 * (nn/act.h) and an identity output, its parameters in ONE flat slab and their gradients
 * in ONE slab of the same layout (llm.c), described by a layout table.
 *
 * Architecture: sizes[0..nlayers] = [in, h1, …, h_{nlayers−1}, out]; layer l maps
 * sizes[l] → sizes[l+1]:
 *   A_0 = X (B × in)
 *   Z_l = A_l·W_lᵀ + 1b_lᵀ                  (B × sizes[l+1])
 *   A_{l+1} = f(Z_l) for l < nlayers − 1    (f the hidden activation)
 *   Y = Z_{nlayers−1}                       (B × out: identity output)
 * A linear (affine) model is nlayers = 1, i.e. no hidden layer.
 *
 * Slab layout (the layout table lists it, in this order): for l = 0, 1, …, nlayers − 1,
 *   "layer<l>.W"  sizes[l+1] × sizes[l], row-major (one row per output unit)
 *   "layer<l>.b"  sizes[l+1] × 1
 * contiguous from offset 0, total infb_mlp_nparams_*(m) elements.
 *
 * Workspace: the network keeps the activations of the latest forward pass (for batches
 * of up to max_batch rows) and the backward's scratch; forward and backward allocate
 * nothing.  An object is therefore used by one thread at a time; several objects can
 * share one parameter slab through _bind (one workspace per thread).
 *
 * Declared for both precisions (see nn/real.h): infb_mlp_f32 with infb_mlp_*_f32 over
 * float, infb_mlp_f64 with infb_mlp_*_f64 over double.  The two are independent objects. */
#ifndef INFB_NN_MLP_H
#define INFB_NN_MLP_H

#include <stddef.h>
#include <gsl/gsl_rng.h>
#include "nn/real.h"
#include "nn/act.h"
#include "nn/dense.h"

#define INFB_NN_MLP_T
#define INFB_NN_TBITS 32
#include "nn/real.h"
#include "nn/mlp.h"
#undef INFB_NN_TBITS
#define INFB_NN_TBITS 64
#include "nn/real.h"
#include "nn/mlp.h"
#undef INFB_NN_TBITS
#undef INFB_NN_MLP_T
#include "nn/real.h"

#elif defined(INFB_NN_MLP_T) /* the template part, instantiated once per precision */

/* An opaque network: infb_mlp_f32 or infb_mlp_f64. */
typedef struct INFB_NN(mlp) INFB_NN(mlp);

/* A network with nlayers ≥ 1 dense layers of sizes sizes[0..nlayers] (each ≥ 1; copied),
 * hidden activation `act` (any INFB_ACT_*; unused when nlayers == 1), an identity
 * output, and a workspace for batches of 1..max_batch rows.  Parameters and gradients
 * start at zero (call _init).  NULL (error raised: GSL_EINVAL for bad arguments,
 * GSL_ENOMEM) on failure. */
INFB_NN(mlp) *INFB_NN(mlp_alloc)(const size_t *sizes, size_t nlayers, enum infb_act act,
                                  size_t max_batch);

/* Frees the network and its own slabs (not bound ones); NULL is a no-op. */
void INFB_NN(mlp_free)(INFB_NN(mlp) *m);

/* Draws every parameter (weights and biases) of layer l independently from
 * U(−s, +s), s = 1/√fan_in with fan_in = sizes[l] (the PyTorch nn.Linear default, used
 * by the VAE protocol): θ = s·(2u − 1), u = gsl_rng_uniform(rng), drawn in slab order, so
 * the same rng state gives the same parameters (and the f32 and f64 networks the same
 * values up to rounding).  Writes the current (possibly bound) parameter slab; the
 * gradients are untouched.  Returns GSL_SUCCESS. */
int INFB_NN(mlp_init)(INFB_NN(mlp) *m, gsl_rng *rng);

/* Y (B × out) = the network applied to X (B × in), 1 ≤ B ≤ max_batch, saving the
 * activations that _backward needs.  Y must not overlap X.  Returns GSL_SUCCESS, or
 * GSL_EBADLEN (raised) when B is 0 or exceeds max_batch; a BLAS status otherwise. */
int INFB_NN(mlp_forward)(INFB_NN(mlp) *m, size_t B, const infb_real *X, infb_real *Y);
/* As _forward, but the output layer's bias is left out: Y = A·Wᵀ for the last layer, the
 * caller adding the bias (_out_bias) where it reads Y — saving the pass that starts every
 * row of Y at the bias.  _backward and _backward_input work after it as after _forward
 * (the output is the identity). */
int INFB_NN(mlp_forward_nobias)(INFB_NN(mlp) *m, size_t B, const infb_real *X, infb_real *Y);
/* A transposed copy of the parameters for _forward_nobias_t: WT (mlp_nparams entries, the
 * caller's) gets the current slab in its layout, each layer's W (out × in) stored as Wᵀ
 * (in × out) at W's offset, the biases as they are.  A snapshot: it does not follow later
 * changes of the parameters (take it again after them).  Returns GSL_SUCCESS, or
 * GSL_EINVAL (raised) when WT is NULL. */
int INFB_NN(mlp_transpose)(const INFB_NN(mlp) *m, infb_real *WT);
/* As _forward_nobias, with the weights read from WT (from _transpose) rather than the
 * slab: each layer one no-transpose gemm (faster for a frozen network on OpenBLAS's
 * AVX-512 kernels; linalg/blas.h), the same Y up to float rounding.  The backward passes
 * after it read the slab's W, which must therefore be what WT was taken from. */
int INFB_NN(mlp_forward_nobias_t)(INFB_NN(mlp) *m, size_t B, const infb_real *X,
                                  infb_real *Y, const infb_real *WT);
/* The output layer's bias (out entries, in the current parameter slab). */
const infb_real *INFB_NN(mlp_out_bias)(const INFB_NN(mlp) *m);

/* The mirror of the latest _forward, which must have had the same B and X, given
 * dY = ∂L/∂Y (B × out): ACCUMULATES ∂L/∂θ into the gradient slab (zeroing is _zero_grad)
 * and, unless dX is NULL, OVERWRITES dX (B × in) with ∂L/∂X.  Uses the current
 * parameters: call it before changing them.  Returns GSL_SUCCESS, or GSL_EINVAL (raised)
 * when there was no forward pass with this B since _alloc, _init or _bind. */
int INFB_NN(mlp_backward)(INFB_NN(mlp) *m, size_t B, const infb_real *X,
                          const infb_real *dY, infb_real *dX);

/* As _backward, but only dX = ∂L/∂X (non-NULL) is computed and the gradient slab is left
 * alone (about half the work: for optimising inputs of a frozen network, such as the
 * latent codes of a frozen decoder). */
int INFB_NN(mlp_backward_input)(INFB_NN(mlp) *m, size_t B, const infb_real *dY,
                                infb_real *dX);

/* Sets every element of the current gradient slab to 0. */
void INFB_NN(mlp_zero_grad)(INFB_NN(mlp) *m);

/* The current parameter slab and gradient slab (same layout); the length is stored in
 * *n unless n is NULL.  Owned by the network (or by the caller after _bind). */
infb_real *INFB_NN(mlp_params)(INFB_NN(mlp) *m, size_t *n);
infb_real *INFB_NN(mlp_grads)(INFB_NN(mlp) *m, size_t *n);

/* The number of parameters, Σ_l sizes[l+1]·(sizes[l] + 1). */
size_t INFB_NN(mlp_nparams)(const INFB_NN(mlp) *m);

/* The layout table (2·nlayers entries, in slab order; count stored in *count unless
 * NULL).  Owned by the network, valid until _free. */
const struct infb_nn_tensor *INFB_NN(mlp_layout)(const INFB_NN(mlp) *m, size_t *count);

/* Makes the network read its parameters from `params` and accumulate its gradients into
 * `grads` (each nparams long, caller-owned, e.g. a segment of a larger model's slab, or
 * one parameter slab shared by per-thread networks); NULL for either means the
 * network's own slab.  The slabs are not copied.  Returns GSL_SUCCESS. */
int INFB_NN(mlp_bind)(INFB_NN(mlp) *m, infb_real *params, infb_real *grads);

/* Input width sizes[0], output width sizes[nlayers], nlayers, max_batch. */
size_t INFB_NN(mlp_in_size)(const INFB_NN(mlp) *m);
size_t INFB_NN(mlp_out_size)(const INFB_NN(mlp) *m);
size_t INFB_NN(mlp_nlayers)(const INFB_NN(mlp) *m);
size_t INFB_NN(mlp_max_batch)(const INFB_NN(mlp) *m);

#endif
