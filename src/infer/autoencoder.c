/* A deterministic autoencoder trained by Adam on the squared reconstruction error, and
 * the principal angles of its decoder to the top-K principal subspace (see autoencoder.h;
 * Baldi & Hornik 1989; MATH.md §4). */
#include <config.h>
#include "infer/autoencoder.h"
#include "core/error.h"
#include "core/rng.h"
#include "infer/em.h"
#include "linalg/dense.h"
#include "nn/adam.h"
#include "nn/mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_randist.h>

struct infb_autoencoder {
  size_t D, K, max_batch;
  size_t nenc, ndec, nparams; /* slab: encoder (nenc) | decoder W, c (ndec = D·K + D) */
  double *params, *grads;
  infb_mlp_f64 *enc, *dec;    /* bound to the two segments of the slabs */
  double *H, *dH;             /* max_batch × K: codes and ∂loss/∂codes */
  double *Xh, *dXh;           /* max_batch × D: reconstructions and ∂loss/∂x̂ */
};

void
infb_autoencoder_free(infb_autoencoder *a)
{
  if (!a)
    return;
  infb_mlp_free_f64(a->enc);
  infb_mlp_free_f64(a->dec);
  free(a->params);
  free(a->grads);
  free(a->H);
  free(a->dH);
  free(a->Xh);
  free(a->dXh);
  free(a);
}

infb_autoencoder *
infb_autoencoder_alloc(size_t D, size_t K, const infb_encoder_options *eo, size_t max_batch)
{
  if (K == 0 || K >= D)
    INFB_ERROR_NULL(GSL_EINVAL, "autoencoder: latent dimension K = %zu must be between 1 and "
                                "D − 1 = %zu", K, D ? D - 1 : 0);
  if (max_batch == 0)
    INFB_ERROR_NULL(GSL_EINVAL, "autoencoder: batch must be at least 1");
  size_t sizes[INFB_MAX_HIDDEN + 2], nl;
  enum infb_act act;
  if (infb_encoder_sizes(eo, D, K, "autoencoder", sizes, &nl, &act))
    return NULL;
  const size_t dsizes[2] = { K, D };
  infb_autoencoder *a = infb_calloc(1, sizeof *a);
  if (!a)
    return NULL;
  a->D = D;
  a->K = K;
  a->max_batch = max_batch;
  a->enc = infb_mlp_alloc_f64(sizes, nl, act, max_batch);
  a->dec = infb_mlp_alloc_f64(dsizes, 1, INFB_ACT_IDENTITY, max_batch);
  if (!a->enc || !a->dec) {
    infb_autoencoder_free(a);
    return NULL;
  }
  a->nenc = infb_mlp_nparams_f64(a->enc);
  a->ndec = infb_mlp_nparams_f64(a->dec);
  a->nparams = a->nenc + a->ndec;
  a->params = infb_calloc(a->nparams, sizeof *a->params);
  a->grads = infb_calloc(a->nparams, sizeof *a->grads);
  a->H = infb_malloc(max_batch * K, sizeof *a->H);
  a->dH = infb_malloc(max_batch * K, sizeof *a->dH);
  a->Xh = infb_malloc(max_batch * D, sizeof *a->Xh);
  a->dXh = infb_malloc(max_batch * D, sizeof *a->dXh);
  if (!a->params || !a->grads || !a->H || !a->dH || !a->Xh || !a->dXh) {
    infb_autoencoder_free(a);
    return NULL;
  }
  infb_mlp_bind_f64(a->enc, a->params, a->grads);
  infb_mlp_bind_f64(a->dec, a->params + a->nenc, a->grads + a->nenc);
  return a;
}

double *
infb_autoencoder_params(infb_autoencoder *a, size_t *n)
{
  if (n)
    *n = a->nparams;
  return a->params;
}

double *
infb_autoencoder_grads(infb_autoencoder *a, size_t *n)
{
  if (n)
    *n = a->nparams;
  return a->grads;
}

size_t
infb_autoencoder_encoder_nparams(const infb_autoencoder *a)
{
  return a->nenc;
}

/* x̂ = dec(enc(X)) into a->Xh; the (double-accumulated) sum of squared errors in *sse. */
static int
reconstruct(infb_autoencoder *a, size_t B, const double *X, double *sse)
{
  int st;
  if ((st = infb_mlp_forward_f64(a->enc, B, X, a->H)) ||
      (st = infb_mlp_forward_f64(a->dec, B, a->H, a->Xh)))
    return st;
  double s = 0.0;
  for (size_t t = 0; t < B * a->D; t++) {
    double e = a->Xh[t] - X[t];
    s += e * e;
  }
  *sse = s;
  return GSL_SUCCESS;
}

int
infb_autoencoder_objective(infb_autoencoder *a, size_t B, const double *X, double *Xhat,
                           double *loss)
{
  if (B == 0 || B > a->max_batch)
    return INFB_ERROR(GSL_EBADLEN, "autoencoder objective: %zu rows (1..%zu allowed)", B,
                      a->max_batch);
  int st;
  double sse;
  memset(a->grads, 0, a->nparams * sizeof *a->grads);
  if ((st = reconstruct(a, B, X, &sse)))
    return st;
  /* loss = (1/B)Σ‖x̂ − x‖²: ∂loss/∂x̂ = (2/B)(x̂ − x), then back through the decoder (its
   * W, c and the codes) and the encoder. */
  const double c = 2.0 / (double)B;
  for (size_t t = 0; t < B * a->D; t++)
    a->dXh[t] = c * (a->Xh[t] - X[t]);
  if ((st = infb_mlp_backward_f64(a->dec, B, a->H, a->dXh, a->dH)) ||
      (st = infb_mlp_backward_f64(a->enc, B, X, a->dH, NULL)))
    return st;
  if (Xhat)
    memcpy(Xhat, a->Xh, B * a->D * sizeof *Xhat);
  *loss = sse / (double)B;
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ fitting */

typedef struct fit_work {
  infb_autoencoder *a;
  infb_adam_f64 *adam;
  size_t *idx; /* N: the epoch's permutation */
  double *Xb;  /* B × D gathered rows */
} fit_work;

/* Mean squared reconstruction error per point over the rows of X (NAN for no rows). */
static int
mean_mse(fit_work *w, const gsl_matrix *X, double *mean)
{
  const size_t n = X->size1, D = w->a->D, chunk = w->a->max_batch;
  double s = 0.0;
  *mean = NAN;
  if (n == 0)
    return GSL_SUCCESS;
  for (size_t i0 = 0; i0 < n; i0 += chunk) {
    size_t B = n - i0 < chunk ? n - i0 : chunk;
    for (size_t i = 0; i < B; i++)
      for (size_t d = 0; d < D; d++)
        w->Xb[i * D + d] = gsl_matrix_get(X, i0 + i, d);
    double sse;
    int st = reconstruct(w->a, B, w->Xb, &sse);
    if (st)
      return st;
    s += sse;
  }
  *mean = s / (double)n;
  return GSL_SUCCESS;
}

static int
all_finite(const double *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return 0;
  return 1;
}

static int
run_epoch(fit_work *w, const gsl_matrix *X, const infb_autoencoder_options *o, const char *name,
          size_t e)
{
  infb_autoencoder *a = w->a;
  const size_t N = X->size1, D = a->D, B = a->max_batch;
  const double lr = o->train.lr * pow(o->train.lr_decay, (double)(e - 1));
  char purpose[256];
  snprintf(purpose, sizeof purpose, "%s/batch", name);
  gsl_rng *rb = infb_rng_stream(o->train.seed, purpose, e - 1);
  if (!rb)
    return GSL_ENOMEM;
  for (size_t i = 0; i < N; i++)
    w->idx[i] = i;
  gsl_ran_shuffle(rb, w->idx, N, sizeof *w->idx);
  gsl_rng_free(rb);
  size_t step = 0;
  for (size_t i0 = 0; i0 < N; i0 += B) {
    size_t nb = N - i0 < B ? N - i0 : B;
    step++;
    for (size_t i = 0; i < nb; i++)
      for (size_t d = 0; d < D; d++)
        w->Xb[i * D + d] = gsl_matrix_get(X, w->idx[i0 + i], d);
    double loss;
    int st = infb_autoencoder_objective(a, nb, w->Xb, NULL, &loss);
    if (st)
      return st;
    if (!isfinite(loss) || !all_finite(a->grads, a->nparams))
      return INFB_ERROR(GSL_EDOM, "autoencoder: epoch %zu, step %zu: the reconstruction error "
                                  "is not finite; lower [train] lr", e, step);
    if ((st = infb_adam_step_f64(w->adam, a->params, a->grads, lr)))
      return st;
  }
  return GSL_SUCCESS;
}

/* The top-K eigenvectors U (D×K) of the 1/N sample covariance of X. */
static int
principal_subspace(const gsl_matrix *X, gsl_matrix *U)
{
  const size_t n = X->size1, D = X->size2, K = U->size2;
  gsl_matrix *Xc = gsl_matrix_alloc(n, D), *S = gsl_matrix_alloc(D, D), *V = gsl_matrix_alloc(D, D);
  gsl_vector *ev = gsl_vector_alloc(D);
  gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(D);
  int st = GSL_ENOMEM;
  if (Xc && S && V && ev && ws) {
    gsl_matrix_memcpy(Xc, X);
    for (size_t d = 0; d < D; d++) {
      gsl_vector_view col = gsl_matrix_column(Xc, d);
      double m = 0.0;
      for (size_t i = 0; i < n; i++)
        m += gsl_vector_get(&col.vector, i);
      gsl_vector_add_constant(&col.vector, -m / (double)n);
    }
    if (!(st = infb_dense_gram(1.0 / (double)n, Xc, 0.0, S)) &&
        !(st = gsl_eigen_symmv(S, ev, V, ws)) &&
        !(st = gsl_eigen_symmv_sort(ev, V, GSL_EIGEN_SORT_VAL_DESC))) {
      gsl_matrix_const_view top = gsl_matrix_const_submatrix(V, 0, 0, D, K);
      gsl_matrix_memcpy(U, &top.matrix);
    }
  }
  gsl_matrix_free(Xc);
  gsl_matrix_free(S);
  gsl_matrix_free(V);
  gsl_vector_free(ev);
  gsl_eigen_symmv_free(ws);
  return st;
}

/* fit->angles against the decoder's column space; a dependent decoder leaves them out. */
static int
angles(const infb_autoencoder *a, const gsl_matrix *X, infb_latent_fit *fit)
{
  const size_t D = a->D, K = a->K;
  gsl_matrix_const_view Wv = gsl_matrix_const_view_array(a->params + a->nenc, D, K);
  gsl_matrix *U = gsl_matrix_alloc(D, K);
  double *ang = infb_malloc(K, sizeof *ang);
  int st = U && ang ? principal_subspace(X, U) : GSL_ENOMEM;
  if (!st) {
    st = infb_principal_angles(&Wv.matrix, U, ang);
    if (st == INFB_ESINGULAR) {
      size_t len = strlen(fit->note);
      snprintf(fit->note + len, sizeof fit->note - len,
               "; no principal angles: the decoder's columns are linearly dependent");
      st = GSL_SUCCESS;
    } else if (!st) {
      /* The arccos of descending cosines is ascending already. */
      fit->angles = ang;
      fit->nangles = K;
      ang = NULL;
    }
  }
  gsl_matrix_free(U);
  free(ang);
  return st;
}

int
infb_autoencoder_fit(const gsl_matrix *Xtr, const gsl_matrix *Xte, size_t K,
                     const infb_autoencoder_options *o, infb_latent_fit *fit)
{
  infb_latent_fit_init(fit);
  int st;
  const char *name = o->name ? o->name : "autoencoder";
  size_t sizes[INFB_MAX_HIDDEN + 2], nl;
  enum infb_act act;
  if ((st = infb_lingauss_check_data(Xtr, K)) ||
      (st = infb_check_test_data(Xtr == Xte ? NULL : Xte, Xtr->size2, "autoencoder")) ||
      (st = infb_train_options_check(&o->train, "autoencoder")) ||
      (st = infb_encoder_sizes(&o->enc, Xtr->size2, K, "autoencoder", sizes, &nl, &act)))
    return st;
  const size_t N = Xtr->size1, D = Xtr->size2;
  const size_t B = o->train.batch < N ? o->train.batch : N;
  fit_work w;
  memset(&w, 0, sizeof w);
  gsl_rng *r = NULL;
  w.a = infb_autoencoder_alloc(D, K, &o->enc, B);
  w.adam = w.a ? infb_adam_alloc_f64(w.a->nparams, o->train.beta1, o->train.beta2,
                                     o->train.eps)
               : NULL;
  w.idx = infb_malloc(N, sizeof *w.idx);
  w.Xb = infb_malloc(B * D, sizeof *w.Xb);
  char purpose[256];
  snprintf(purpose, sizeof purpose, "%s/init", name);
  r = infb_rng_stream(o->train.seed, purpose, 0);
  if (!w.a || !w.adam || !w.idx || !w.Xb || !r) {
    st = INFB_ERROR(GSL_ENOMEM, "autoencoder: out of memory");
    goto done;
  }
  /* Encoder, then decoder, from the one stream; the decoder bias starts at the mean. */
  if ((st = infb_mlp_init_f64(w.a->enc, r)) || (st = infb_mlp_init_f64(w.a->dec, r)))
    goto done;
  double *c = w.a->params + w.a->nenc + D * K;
  for (size_t d = 0; d < D; d++) {
    double m = 0.0;
    for (size_t i = 0; i < N; i++)
      m += gsl_matrix_get(Xtr, i, d);
    c[d] = m / (double)N;
  }
  const size_t E = o->train.epochs;
  if ((st = infb_latent_fit_curve(fit, E + 1, "squared reconstruction error per point")))
    goto done;
  for (size_t e = 0; e <= E; e++) {
    if (e > 0 && (st = run_epoch(&w, Xtr, o, name, e)))
      goto done;
    double tr, te = NAN;
    if ((st = mean_mse(&w, Xtr, &tr)) || (Xte && (st = mean_mse(&w, Xte, &te))))
      goto done;
    if (!isfinite(tr) || (Xte && Xte->size1 && !isfinite(te))) {
      st = INFB_ERROR(GSL_EDOM, "autoencoder: epoch %zu: the reconstruction error is not "
                                "finite; lower [train] lr", e);
      goto done;
    }
    fit->curve[3 * e] = (double)e;
    fit->curve[3 * e + 1] = tr;
    fit->curve[3 * e + 2] = te;
  }
  fit->recon_mse_train = fit->curve[3 * E + 1];
  fit->recon_mse_test = fit->curve[3 * E + 2];
  snprintf(fit->note, sizeof fit->note, "%s autoencoder with a linear decoder, Adam on the "
           "squared reconstruction error", o->enc.mlp ? "MLP-encoder" : "linear");
  if ((st = angles(w.a, Xtr, fit)))
    goto done;
  fit->iterations = E;
  snprintf(fit->stop_reason, sizeof fit->stop_reason, "epochs");

done:
  gsl_rng_free(r);
  infb_autoencoder_free(w.a);
  infb_adam_free_f64(w.adam);
  free(w.idx);
  free(w.Xb);
  if (st)
    infb_latent_fit_free(fit);
  return st;
}
