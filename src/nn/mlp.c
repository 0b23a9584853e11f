/* Multilayer perceptron over one parameter slab (see mlp.h): forward as a chain of dense
 * layers and activations, backward as its mirror (backpropagation, Rumelhart, Hinton &
 * Williams 1986); compiled once per precision (INFB_REAL_BITS). */
#include <config.h>
#include "nn/mlp.h"
#include "core/error.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for "layer<l>.W" with l up to 20 digits. */
#define NAME_LEN 32

struct INFB_NN(mlp) {
  size_t nlayers;                /* dense layers, ≥ 1 */
  size_t *sizes;                 /* nlayers + 1 widths */
  enum infb_act act;             /* hidden activation */
  size_t max_batch;              /* rows the workspace holds */
  size_t nparams;                /* slab length */
  struct infb_nn_tensor *layout; /* 2·nlayers entries: W then b of each layer */
  char *names;                   /* 2·nlayers names of NAME_LEN bytes */
  infb_real *own_params;         /* the network's own slabs */
  infb_real *own_grads;
  infb_real *params;             /* the current slabs (own or bound) */
  infb_real *grads;
  infb_real *work;               /* workspace block holding the arrays below */
  infb_real **Z;                 /* Z[l]: pre-activation of hidden layer l < nlayers − 1 */
  infb_real **A;                 /* A[l] = f(Z[l]): the input of layer l + 1 */
  infb_real *dA, *dZ;            /* backward scratch, max_batch × widest hidden layer */
  size_t last_B;                 /* rows of the latest forward; 0: none valid */
};

/* a·b + c, or SIZE_MAX on overflow. */
static size_t
mul_add(size_t a, size_t b, size_t c)
{
  if (b != 0 && a > (SIZE_MAX - c) / b)
    return SIZE_MAX;
  return a * b + c;
}

void
INFB_NN(mlp_free)(INFB_NN(mlp) *m)
{
  if (!m)
    return;
  free(m->sizes);
  free(m->layout);
  free(m->names);
  free(m->own_params);
  free(m->own_grads);
  free(m->work);
  free(m->Z);
  free(m->A);
  free(m);
}

INFB_NN(mlp) *
INFB_NN(mlp_alloc)(const size_t *sizes, size_t nlayers, enum infb_act act, size_t max_batch)
{
  if (!sizes || nlayers == 0)
    INFB_ERROR_NULL(GSL_EINVAL, "mlp: needs at least one layer");
  if ((int)act < 0 || (int)act >= INFB_ACT_COUNT)
    INFB_ERROR_NULL(GSL_EINVAL, "mlp: invalid activation %d", (int)act);
  if (max_batch == 0 || max_batch > SIZE_MAX / 2)
    INFB_ERROR_NULL(GSL_EINVAL, "mlp: max_batch must be in 1..SIZE_MAX/2");
  for (size_t l = 0; l <= nlayers; l++)
    if (sizes[l] == 0 || sizes[l] == SIZE_MAX)
      INFB_ERROR_NULL(GSL_EINVAL, "mlp: layer width sizes[%zu] is %zu", l, sizes[l]);

  /* Slab length and workspace length, checked for overflow. */
  size_t np = 0, nwork = 0, widest = 0;
  for (size_t l = 0; l < nlayers; l++) {
    np = mul_add(sizes[l + 1], sizes[l] + 1, np);
    if (np == SIZE_MAX)
      INFB_ERROR_NULL(GSL_ENOMEM, "mlp: parameter count overflows");
    if (l + 1 < nlayers) {
      nwork = mul_add(2 * max_batch, sizes[l + 1], nwork);
      if (sizes[l + 1] > widest)
        widest = sizes[l + 1];
    }
  }
  nwork = mul_add(2 * max_batch, widest, nwork);
  if (nwork == SIZE_MAX)
    INFB_ERROR_NULL(GSL_ENOMEM, "mlp: workspace size overflows");

  INFB_NN(mlp) *m = infb_calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->nlayers = nlayers;
  m->act = act;
  m->max_batch = max_batch;
  m->nparams = np;
  size_t nhidden = nlayers - 1;
  m->sizes = infb_malloc(nlayers + 1, sizeof *m->sizes);
  m->layout = infb_calloc(2 * nlayers, sizeof *m->layout);
  m->names = infb_calloc(2 * nlayers, NAME_LEN);
  m->own_params = infb_calloc(np, sizeof *m->own_params);
  m->own_grads = infb_calloc(np, sizeof *m->own_grads);
  m->work = infb_calloc(nwork, sizeof *m->work);
  m->Z = infb_calloc(nhidden + 1, sizeof *m->Z);
  m->A = infb_calloc(nhidden + 1, sizeof *m->A);
  if (!m->sizes || !m->layout || !m->names || !m->own_params || !m->own_grads || !m->work ||
      !m->Z || !m->A) {
    INFB_NN(mlp_free)(m);
    return NULL;
  }
  memcpy(m->sizes, sizes, (nlayers + 1) * sizeof *sizes);
  m->params = m->own_params;
  m->grads = m->own_grads;

  /* The layout: W_l (out × in) then b_l (out), layer after layer. */
  size_t off = 0;
  for (size_t l = 0; l < nlayers; l++) {
    for (size_t k = 0; k < 2; k++) {
      struct infb_nn_tensor *t = &m->layout[2 * l + k];
      char *name = m->names + (2 * l + k) * NAME_LEN;
      snprintf(name, NAME_LEN, "layer%zu.%s", l, k == 0 ? "W" : "b");
      t->name = name;
      t->offset = off;
      t->rows = sizes[l + 1];
      t->cols = k == 0 ? sizes[l] : 1;
      t->length = t->rows * t->cols;
      off += t->length;
    }
  }

  /* The workspace: Z_l and A_{l+1} of each hidden layer, then the backward scratch. */
  infb_real *w = m->work;
  for (size_t l = 0; l < nhidden; l++) {
    m->Z[l] = w;
    w += max_batch * sizes[l + 1];
    m->A[l] = w;
    w += max_batch * sizes[l + 1];
  }
  m->dA = w;
  w += max_batch * widest;
  m->dZ = w;
  return m;
}

int
INFB_NN(mlp_init)(INFB_NN(mlp) *m, gsl_rng *rng)
{
  for (size_t l = 0; l < m->nlayers; l++) {
    double s = 1.0 / sqrt((double)m->sizes[l]);
    for (size_t k = 0; k < 2; k++) {
      const struct infb_nn_tensor *t = &m->layout[2 * l + k];
      infb_real *theta = m->params + t->offset;
      for (size_t i = 0; i < t->length; i++)
        theta[i] = (infb_real)(s * (2.0 * gsl_rng_uniform(rng) - 1.0));
    }
  }
  m->last_B = 0;
  return GSL_SUCCESS;
}

/* The forward pass; out_bias = 0 leaves the output layer's bias out; WT: the transposed
 * weights (mlp_transpose), or NULL for the slab's. */
static int
forward(INFB_NN(mlp) *m, size_t B, const infb_real *X, infb_real *Y, int out_bias,
        const infb_real *WT)
{
  if (B == 0 || B > m->max_batch)
    return INFB_ERROR(GSL_EBADLEN, "mlp forward: batch of %zu rows (allowed 1..%zu)", B,
                      m->max_batch);
  m->last_B = 0;
  const infb_real *in = X; /* A_l */
  for (size_t l = 0; l < m->nlayers; l++) {
    const infb_real *W = (WT ? WT : m->params) + m->layout[2 * l].offset;
    const infb_real *b = m->params + m->layout[2 * l + 1].offset;
    size_t nin = m->sizes[l], nout = m->sizes[l + 1];
    int st;
    /* The identity output: Y = Z_{nlayers−1}, written in place. */
    infb_real *out = l + 1 == m->nlayers ? Y : m->Z[l];
    const infb_real *bias = l + 1 == m->nlayers && !out_bias ? NULL : b;
    st = WT ? INFB_NN(dense_forward_t)(out, in, W, bias, B, nin, nout)
            : INFB_NN(dense_forward)(out, in, W, bias, B, nin, nout);
    if (l + 1 < m->nlayers) {
      if (!st)
        st = INFB_NN(act_forward)(m->A[l], m->Z[l], B * nout, m->act);
      in = m->A[l];
    }
    if (st)
      return st;
  }
  m->last_B = B;
  return GSL_SUCCESS;
}

int
INFB_NN(mlp_forward)(INFB_NN(mlp) *m, size_t B, const infb_real *X, infb_real *Y)
{
  return forward(m, B, X, Y, 1, NULL);
}

int
INFB_NN(mlp_forward_nobias)(INFB_NN(mlp) *m, size_t B, const infb_real *X, infb_real *Y)
{
  return forward(m, B, X, Y, 0, NULL);
}

int
INFB_NN(mlp_transpose)(const INFB_NN(mlp) *m, infb_real *WT)
{
  if (!WT)
    return INFB_ERROR(GSL_EINVAL, "mlp transpose: WT is NULL");
  for (size_t l = 0; l < m->nlayers; l++) {
    const size_t nin = m->sizes[l], nout = m->sizes[l + 1];
    const struct infb_nn_tensor *tW = &m->layout[2 * l], *tb = &m->layout[2 * l + 1];
    const infb_real *W = m->params + tW->offset;
    infb_real *T = WT + tW->offset;
    for (size_t j = 0; j < nout; j++)
      for (size_t k = 0; k < nin; k++)
        T[k * nout + j] = W[j * nin + k];
    memcpy(WT + tb->offset, m->params + tb->offset, tb->length * sizeof *WT);
  }
  return GSL_SUCCESS;
}

int
INFB_NN(mlp_forward_nobias_t)(INFB_NN(mlp) *m, size_t B, const infb_real *X, infb_real *Y,
                              const infb_real *WT)
{
  if (!WT)
    return INFB_ERROR(GSL_EINVAL, "mlp forward: WT is NULL");
  return forward(m, B, X, Y, 0, WT);
}

const infb_real *
INFB_NN(mlp_out_bias)(const INFB_NN(mlp) *m)
{
  return m->params + m->layout[2 * m->nlayers - 1].offset;
}

/* Backpropagation, the forward read backwards: for l = nlayers−1, …, 0,
 *   dW_l += dZ_lᵀ·A_l,  db_l += Σ_rows dZ_l,  dA_l = dZ_l·W_l   (dense_backward)
 *   dZ_{l−1} = dA_l ⊙ f'(Z_{l−1})                                (act_backward)
 * starting from dZ_{nlayers−1} = dY and ending with dX = dA_0.  want_grads selects the
 * parameter gradients. */
static int
backprop(INFB_NN(mlp) *m, size_t B, const infb_real *X, const infb_real *dY, infb_real *dX,
         int want_grads)
{
  if (m->last_B == 0 || B != m->last_B)
    return INFB_ERROR(GSL_EINVAL,
                      "mlp backward: needs a forward pass with the same batch (%zu rows)", B);
  const infb_real *dout = dY; /* dZ_l */
  for (size_t l = m->nlayers; l-- > 0;) {
    const struct infb_nn_tensor *tW = &m->layout[2 * l], *tb = &m->layout[2 * l + 1];
    size_t nin = m->sizes[l], nout = m->sizes[l + 1];
    const infb_real *in = l == 0 ? X : m->A[l - 1];
    infb_real *din = l == 0 ? dX : m->dA;
    int st = INFB_NN(dense_backward)(din, want_grads ? m->grads + tW->offset : NULL,
                                     want_grads ? m->grads + tb->offset : NULL, dout, in,
                                     m->params + tW->offset, B, nin, nout);
    if (st)
      return st;
    if (l > 0) {
      st = INFB_NN(act_backward)(m->dZ, m->dA, m->A[l - 1], m->Z[l - 1], B * nin, m->act);
      if (st)
        return st;
      dout = m->dZ;
    }
  }
  return GSL_SUCCESS;
}

int
INFB_NN(mlp_backward)(INFB_NN(mlp) *m, size_t B, const infb_real *X, const infb_real *dY,
                      infb_real *dX)
{
  return backprop(m, B, X, dY, dX, 1);
}

int
INFB_NN(mlp_backward_input)(INFB_NN(mlp) *m, size_t B, const infb_real *dY, infb_real *dX)
{
  if (!dX)
    return INFB_ERROR(GSL_EINVAL, "mlp backward_input: dX is NULL");
  return backprop(m, B, NULL, dY, dX, 0);
}

void
INFB_NN(mlp_zero_grad)(INFB_NN(mlp) *m)
{
  infb_real *restrict g = m->grads;
  for (size_t i = 0; i < m->nparams; i++)
    g[i] = 0;
}

infb_real *
INFB_NN(mlp_params)(INFB_NN(mlp) *m, size_t *n)
{
  if (n)
    *n = m->nparams;
  return m->params;
}

infb_real *
INFB_NN(mlp_grads)(INFB_NN(mlp) *m, size_t *n)
{
  if (n)
    *n = m->nparams;
  return m->grads;
}

size_t
INFB_NN(mlp_nparams)(const INFB_NN(mlp) *m)
{
  return m->nparams;
}

const struct infb_nn_tensor *
INFB_NN(mlp_layout)(const INFB_NN(mlp) *m, size_t *count)
{
  if (count)
    *count = 2 * m->nlayers;
  return m->layout;
}

int
INFB_NN(mlp_bind)(INFB_NN(mlp) *m, infb_real *params, infb_real *grads)
{
  m->params = params ? params : m->own_params;
  m->grads = grads ? grads : m->own_grads;
  m->last_B = 0; /* the saved activations belong to other parameters */
  return GSL_SUCCESS;
}

size_t
INFB_NN(mlp_in_size)(const INFB_NN(mlp) *m)
{
  return m->sizes[0];
}

size_t
INFB_NN(mlp_out_size)(const INFB_NN(mlp) *m)
{
  return m->sizes[m->nlayers];
}

size_t
INFB_NN(mlp_nlayers)(const INFB_NN(mlp) *m)
{
  return m->nlayers;
}

size_t
INFB_NN(mlp_max_batch)(const INFB_NN(mlp) *m)
{
  return m->max_batch;
}
