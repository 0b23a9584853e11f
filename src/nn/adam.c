/* Adam over a flat slab (Kingma & Ba 2015, Algorithm 1; see adam.h); compiled once per
 * precision (INFB_REAL_BITS). */
#include <config.h>
#include "nn/adam.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>

struct INFB_NN(adam) {
  size_t n;             /* slab length */
  double beta1, beta2;  /* moment decay rates */
  double eps;           /* added to √v̂ */
  unsigned long t;      /* steps taken */
  size_t nthreads;      /* _step splits the slab over this many threads (OpenMP) */
  infb_real *m;         /* first moment (n) */
  infb_real *v;         /* second moment (n) */
};

void
INFB_NN(adam_free)(INFB_NN(adam) *a)
{
  if (!a)
    return;
  free(a->m);
  free(a->v);
  free(a);
}

INFB_NN(adam) *
INFB_NN(adam_alloc)(size_t n, double beta1, double beta2, double eps)
{
  if (n == 0)
    INFB_ERROR_NULL(GSL_EINVAL, "adam: the slab is empty");
  if (!(beta1 >= 0.0 && beta1 < 1.0) || !(beta2 >= 0.0 && beta2 < 1.0))
    INFB_ERROR_NULL(GSL_EINVAL, "adam: beta1 = %g and beta2 = %g must be in [0, 1)", beta1,
                    beta2);
  if (!(eps > 0.0) || !isfinite(eps))
    INFB_ERROR_NULL(GSL_EINVAL, "adam: eps = %g must be positive and finite", eps);
  INFB_NN(adam) *a = infb_calloc(1, sizeof *a);
  if (!a)
    return NULL;
  a->n = n;
  a->beta1 = beta1;
  a->beta2 = beta2;
  a->eps = eps;
  a->nthreads = 1;
  a->m = infb_calloc(n, sizeof *a->m);
  a->v = infb_calloc(n, sizeof *a->v);
  if (!a->m || !a->v) {
    INFB_NN(adam_free)(a);
    return NULL;
  }
  return a;
}

INFB_NN_HOT
int
INFB_NN(adam_step)(INFB_NN(adam) *a, infb_real *restrict params,
                   const infb_real *restrict grads, double lr)
{
  if (!(lr >= 0.0) || !isfinite(lr))
    return INFB_ERROR(GSL_EINVAL, "adam step: learning rate %g must be finite and >= 0", lr);
  a->t++;
  /* lr·m̂/(√v̂ + ε) = (lr/c1)·m/(√(v/c2) + ε), c_k = 1 − β_kᵗ (in double). */
  double c1 = 1.0 - pow(a->beta1, (double)a->t);
  double c2 = 1.0 - pow(a->beta2, (double)a->t);
  const infb_real b1 = (infb_real)a->beta1, b2 = (infb_real)a->beta2;
  const infb_real ob1 = (infb_real)(1.0 - a->beta1), ob2 = (infb_real)(1.0 - a->beta2);
  const infb_real step = (infb_real)(lr / c1), ic2 = (infb_real)(1.0 / c2);
  const infb_real eps = (infb_real)a->eps;
  infb_real *restrict m = a->m, *restrict v = a->v;
  const size_t n = a->n, T = a->nthreads;
  /* Elementwise: the result does not depend on the split. */
#pragma omp parallel for num_threads(T) schedule(static) if(T > 1)
  for (size_t i = 0; i < n; i++) {
    infb_real g = grads[i];
    m[i] = b1 * m[i] + ob1 * g;
    v[i] = b2 * v[i] + ob2 * (g * g);
    params[i] -= step * m[i] / (INFB_RM(sqrt)(v[i] * ic2) + eps);
  }
  return GSL_SUCCESS;
}

int
INFB_NN(adam_set_threads)(INFB_NN(adam) *a, size_t T)
{
  if (T == 0 || T > INFB_ADAM_MAX_THREADS)
    return INFB_ERROR(GSL_EINVAL, "adam threads: %zu threads (1 to %d)", T,
                      INFB_ADAM_MAX_THREADS);
  a->nthreads = T;
  return GSL_SUCCESS;
}

void
INFB_NN(adam_reset)(INFB_NN(adam) *a)
{
  for (size_t i = 0; i < a->n; i++) {
    a->m[i] = 0;
    a->v[i] = 0;
  }
  a->t = 0;
}

unsigned long
INFB_NN(adam_iter)(const INFB_NN(adam) *a)
{
  return a->t;
}

size_t
INFB_NN(adam_size)(const INFB_NN(adam) *a)
{
  return a->n;
}

void
INFB_NN(adam_moments)(INFB_NN(adam) *a, infb_real **m, infb_real **v)
{
  if (m)
    *m = a->m;
  if (v)
    *v = a->v;
}

void
INFB_NN(adam_set_iter)(INFB_NN(adam) *a, unsigned long t)
{
  a->t = t;
}
