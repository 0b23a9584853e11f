/* Elementwise activations and their derivatives (see act.h); compiled once per precision
 * (INFB_REAL_BITS).  Each activation is its own simple restrict-qualified loop so the
 * compiler can vectorise it; the libm calls are the scalar ones for now. */
#include <config.h>
#include "nn/act.h"
#include "core/error.h"

#include <math.h>
#include <string.h>

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
    /* expm1 keeps eˣ − 1 accurate near 0. */
    for (size_t i = 0; i < n; i++)
      Y[i] = X[i] > 0 ? X[i] : INFB_RM(expm1)(X[i]);
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
