/* Elementwise activation functions and their backward passes: identity, tanh, ReLU,
 * ELU (Clevert, Unterthiner & Hochreiter 2016, α = 1) and softplus (computed stably).
 *
 * Shapes: X, Y, dX, dY are arrays of n elements (any layout: the functions are
 * elementwise), Y = f(X).
 *
 *   identity  f(x) = x                               f'(x) = 1
 *   tanh      f(x) = tanh x                          f'(x) = 1 − f(x)²
 *   relu      f(x) = max(x, 0)                       f'(x) = [x > 0]   (0 at x = 0)
 *   elu       f(x) = x (x > 0), eˣ − 1 (x ≤ 0)       f'(x) = min(f(x), 0) + 1
 *   softplus  f(x) = ln(1 + eˣ)                      f'(x) = σ(x) = 1/(1 + e⁻ˣ)
 *             = max(x, 0) + log1p(e^−|x|)  (never overflows)
 *
 * The kernels are declared for both precisions (see nn/real.h): infb_act_forward_f32 /
 * infb_act_forward_f64, likewise _backward. */
#ifndef INFB_NN_ACT_H
#define INFB_NN_ACT_H

#include <stddef.h>
#include "nn/real.h"

/* The activation functions (also the configuration names, see infb_act_parse). */
enum infb_act {
  INFB_ACT_INVALID = -1, /* returned by infb_act_parse for an unknown name */
  INFB_ACT_IDENTITY = 0, /* "identity" */
  INFB_ACT_TANH,         /* "tanh" */
  INFB_ACT_RELU,         /* "relu" */
  INFB_ACT_ELU,          /* "elu" */
  INFB_ACT_SOFTPLUS,     /* "softplus" */
  INFB_ACT_COUNT         /* number of valid activations (not an activation) */
};

/* The activation named `name` (exactly one of "identity", "tanh", "relu", "elu",
 * "softplus"; case-sensitive), or INFB_ACT_INVALID for any other string or NULL.  Raises
 * nothing: the caller reports the unknown name in its own context (see
 * INFB_ACT_NAMES). */
enum infb_act infb_act_parse(const char *name);

/* The name of `act` (as accepted by infb_act_parse), or NULL when act is not one of the
 * valid activations.  Static storage. */
const char *infb_act_name(enum infb_act act);

/* The accepted names, for error messages. */
#define INFB_ACT_NAMES "identity, tanh, relu, elu, softplus"

#define INFB_NN_ACT_T
#define INFB_NN_TBITS 32
#include "nn/real.h"
#include "nn/act.h"
#undef INFB_NN_TBITS
#define INFB_NN_TBITS 64
#include "nn/real.h"
#include "nn/act.h"
#undef INFB_NN_TBITS
#undef INFB_NN_ACT_T
#include "nn/real.h"

#elif defined(INFB_NN_ACT_T) /* the template part, instantiated once per precision */

/* Y_i = f(X_i), i < n (Y overwritten; must not overlap X).  Returns GSL_SUCCESS, or
 * GSL_EINVAL (raised) when act is not a valid activation. */
int INFB_NN(act_forward)(infb_real *restrict Y, const infb_real *restrict X, size_t n,
                         enum infb_act act);

/* dX_i = dY_i · f'(X_i), i < n (dX OVERWRITTEN; must not overlap the inputs), given the
 * forward's input X and output Y = f(X) (each activation reads what is cheaper: tanh
 * and elu read Y, relu and softplus read X; always pass both).  Returns
 * GSL_SUCCESS, or GSL_EINVAL (raised) when act is not a valid activation. */
int INFB_NN(act_backward)(infb_real *restrict dX, const infb_real *restrict dY,
                          const infb_real *restrict Y, const infb_real *restrict X, size_t n,
                          enum infb_act act);

#endif
