/* Amortised variational inference for the linear-Gaussian model (see amortized.h): the
 * reparameterised ELBO of Kingma & Welling (2014, eq. 7, closed-form KL) with a
 * linear-Gaussian decoder, trained jointly over encoder and θ by Adam; MATH.md §3, §5. */
#include <config.h>
#include "infer/amortized.h"
#include "core/error.h"
#include "core/rng.h"
#include "infer/em.h"
#include "linalg/blas.h"
#include "nn/adam.h"
#include "nn/mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

#define LOG_2PI 1.8378770664093454836

/* ------------------------------------------------------------------ the encoder */

/* An MLP D → 2K read in chunks of `chunk` rows: q(z|x) = N(Y[:K], diag exp Y[K:]). */
typedef struct enc {
  size_t D, K, chunk;
  infb_mlp_f64 *net;
  double *Y; /* chunk × 2K outputs */
} enc;

static void
enc_free(void *self)
{
  enc *e = self;
  if (!e)
    return;
  infb_mlp_free_f64(e->net);
  free(e->Y);
  free(e);
}

int
infb_encoder_sizes(const infb_encoder_options *eo, size_t D, size_t out, const char *who,
                   size_t *sizes, size_t *nlayers, enum infb_act *act)
{
  sizes[0] = D;
  *nlayers = 1;
  *act = INFB_ACT_IDENTITY;
  if (eo->mlp) {
    if (eo->nhidden == 0 || eo->nhidden > INFB_MAX_HIDDEN)
      return INFB_ERROR(GSL_EINVAL, "%s: an MLP encoder needs 1 to %d hidden layers, not %zu",
                        who, INFB_MAX_HIDDEN, eo->nhidden);
    for (size_t l = 0; l < eo->nhidden; l++) {
      if (eo->hidden[l] == 0)
        return INFB_ERROR(GSL_EINVAL, "%s: hidden layer %zu has width 0", who, l + 1);
      sizes[l + 1] = eo->hidden[l];
    }
    if (!infb_act_name((enum infb_act)eo->activation))
      return INFB_ERROR(GSL_EINVAL, "%s: invalid activation %d", who, eo->activation);
    *nlayers = eo->nhidden + 1;
    *act = (enum infb_act)eo->activation;
  }
  sizes[*nlayers] = out;
  return GSL_SUCCESS;
}

int
infb_check_test_data(const gsl_matrix *Xte, size_t D, const char *who)
{
  if (!Xte)
    return GSL_SUCCESS;
  if (Xte->size2 != D)
    return INFB_ERROR(GSL_EBADLEN, "%s: the test data have %zu columns, the training data %zu",
                      who, Xte->size2, D);
  for (size_t i = 0; i < Xte->size1; i++)
    for (size_t j = 0; j < D; j++)
      if (!isfinite(gsl_matrix_get(Xte, i, j)))
        return INFB_ERROR(INFB_EDATA, "%s: test row %zu, column %zu is not finite", who, i + 1,
                          j + 1);
  return GSL_SUCCESS;
}

static enc *
enc_alloc(size_t D, size_t K, const infb_encoder_options *eo, size_t chunk)
{
  size_t sizes[INFB_MAX_HIDDEN + 2], nl;
  enum infb_act act;
  if (infb_encoder_sizes(eo, D, 2 * K, "amortized", sizes, &nl, &act))
    return NULL;
  enc *e = infb_calloc(1, sizeof *e);
  if (!e)
    return NULL;
  e->D = D;
  e->K = K;
  e->chunk = chunk;
  e->net = infb_mlp_alloc_f64(sizes, nl, act, chunk);
  e->Y = infb_malloc(chunk * 2 * K, sizeof *e->Y);
  if (!e->net || !e->Y) {
    enc_free(e);
    return NULL;
  }
  return e;
}

/* The infb_encoder callback: rows of X (n×D, row-major) → MU, LV (n×K). */
static int
enc_fn(void *self, size_t n, const double *X, double *MU, double *LV)
{
  enc *e = self;
  const size_t D = e->D, K = e->K;
  for (size_t i0 = 0; i0 < n; i0 += e->chunk) {
    size_t B = n - i0 < e->chunk ? n - i0 : e->chunk;
    int st = infb_mlp_forward_f64(e->net, B, X + i0 * D, e->Y);
    if (st)
      return st;
    for (size_t i = 0; i < B; i++) {
      memcpy(MU + (i0 + i) * K, e->Y + i * 2 * K, K * sizeof *MU);
      memcpy(LV + (i0 + i) * K, e->Y + i * 2 * K + K, K * sizeof *LV);
    }
  }
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ training state */

struct infb_amortized {
  size_t D, K, S, max_batch;
  size_t nenc, npsi, nparams; /* slab: encoder | W (D·K) | b (D) | ln ψ (npsi) */
  int ppca;
  double weight_decay;
  double *params, *grads;
  enc *e;                     /* its net bound to the slabs' first nenc elements */
  double *dY;                 /* max_batch × 2K: ∂loss/∂(encoder outputs) */
  double *Z, *R, *G;          /* max_batch·S × K, × D, × K: samples, residuals, WᵀΨ⁻¹r */
  double *ipsi;               /* D: 1/ψ */
};

void
infb_amortized_free(infb_amortized *a)
{
  if (!a)
    return;
  enc_free(a->e);
  free(a->params);
  free(a->grads);
  free(a->dY);
  free(a->Z);
  free(a->R);
  free(a->G);
  free(a->ipsi);
  free(a);
}

infb_amortized *
infb_amortized_alloc(size_t D, size_t K, const infb_amortized_options *o, size_t max_batch)
{
  const size_t S = o->train.samples;
  if (K == 0 || K >= D)
    INFB_ERROR_NULL(GSL_EINVAL, "amortized: latent dimension K = %zu must be between 1 and "
                                "D − 1 = %zu", K, D ? D - 1 : 0);
  if (max_batch == 0 || S == 0)
    INFB_ERROR_NULL(GSL_EINVAL, "amortized: batch (%zu) and samples (%zu) must be at least 1",
                    max_batch, S);
  if (!(o->weight_decay >= 0.0) || !isfinite(o->weight_decay))
    INFB_ERROR_NULL(GSL_EINVAL, "amortized: weight_decay = %g must be a finite number ≥ 0",
                    o->weight_decay);
  if (max_batch > ((size_t)-1 / 4) / S / D)
    INFB_ERROR_NULL(GSL_ENOMEM, "amortized: batch × samples is too large");
  infb_amortized *a = infb_calloc(1, sizeof *a);
  if (!a)
    return NULL;
  a->D = D;
  a->K = K;
  a->S = S;
  a->max_batch = max_batch;
  a->ppca = o->ppca != 0;
  a->weight_decay = o->weight_decay;
  a->npsi = a->ppca ? 1 : D;
  a->e = enc_alloc(D, K, &o->enc, max_batch);
  if (!a->e) {
    infb_amortized_free(a);
    return NULL;
  }
  a->nenc = infb_mlp_nparams_f64(a->e->net);
  a->nparams = a->nenc + D * K + D + a->npsi;
  size_t R = max_batch * S;
  a->params = infb_calloc(a->nparams, sizeof *a->params);
  a->grads = infb_calloc(a->nparams, sizeof *a->grads);
  a->dY = infb_malloc(max_batch * 2 * K, sizeof *a->dY);
  a->Z = infb_malloc(R * K, sizeof *a->Z);
  a->R = infb_malloc(R * D, sizeof *a->R);
  a->G = infb_malloc(R * K, sizeof *a->G);
  a->ipsi = infb_malloc(D, sizeof *a->ipsi);
  if (!a->params || !a->grads || !a->dY || !a->Z || !a->R || !a->G || !a->ipsi) {
    infb_amortized_free(a);
    return NULL;
  }
  infb_mlp_bind_f64(a->e->net, a->params, a->grads);
  return a;
}

double *
infb_amortized_params(infb_amortized *a, size_t *n)
{
  if (n)
    *n = a->nparams;
  return a->params;
}

double *
infb_amortized_grads(infb_amortized *a, size_t *n)
{
  if (n)
    *n = a->nparams;
  return a->grads;
}

size_t
infb_amortized_encoder_nparams(const infb_amortized *a)
{
  return a->nenc;
}

int
infb_amortized_theta(const infb_amortized *a, infb_lingauss *m)
{
  const size_t D = a->D, K = a->K;
  if (m->D != D || m->K != K)
    return INFB_ERROR(GSL_EBADLEN, "amortized: the model is %zu×%zu, the state %zu×%zu", m->D,
                      m->K, D, K);
  const double *W = a->params + a->nenc, *b = W + D * K, *lpsi = b + D;
  for (size_t d = 0; d < D; d++) {
    for (size_t k = 0; k < K; k++)
      gsl_matrix_set(m->W, d, k, W[d * K + k]);
    gsl_vector_set(m->b, d, b[d]);
    gsl_vector_set(m->psi, d, exp(lpsi[a->ppca ? 0 : d]));
  }
  m->ppca = a->ppca;
  return GSL_SUCCESS;
}

int
infb_amortized_objective(infb_amortized *a, size_t B, const double *X, const double *E,
                         size_t N, double *loss)
{
  const size_t D = a->D, K = a->K, S = a->S, R = B * S;
  if (B == 0 || B > a->max_batch || N == 0)
    return INFB_ERROR(GSL_EBADLEN, "amortized objective: %zu rows (1..%zu allowed), N = %zu",
                      B, a->max_batch, N);
  const double *W = a->params + a->nenc, *bv = W + D * K, *lpsi = bv + D;
  double *gW = a->grads + a->nenc, *gb = gW + D * K, *glpsi = gb + D;
  double *Y = a->e->Y, *dY = a->dY, *Z = a->Z, *Rs = a->R, *G = a->G;
  int st;
  memset(a->grads, 0, a->nparams * sizeof *a->grads);

  /* Encoder: Y = [μ | ln σ²] (B × 2K); samples z_is = μ_i + σ_i⊙ε_is. */
  if ((st = infb_mlp_forward_f64(a->e->net, B, X, Y)))
    return st;
  double kl = 0.0;
  for (size_t i = 0; i < B; i++) {
    const double *mu = Y + i * 2 * K, *lv = mu + K;
    for (size_t j = 0; j < K; j++) {
      double s2 = exp(lv[j]), sd = exp(0.5 * lv[j]);
      kl += 0.5 * (s2 + mu[j] * mu[j] - 1.0 - lv[j]);
      for (size_t s = 0; s < S; s++)
        Z[(i * S + s) * K + j] = mu[j] + sd * E[(i * S + s) * K + j];
    }
  }

  /* Decoder: r = x − Wz − b (R × D) by one gemm, then ln p(x|z) and the ln ψ gradient
   * ∂ln p/∂ln ψ_d = −½ + ½r_d²/ψ_d, and Rs ← Ψ⁻¹r in place. */
  double base = 0.0;
  for (size_t d = 0; d < D; d++) {
    double l = lpsi[a->ppca ? 0 : d];
    a->ipsi[d] = exp(-l);
    base += LOG_2PI + l;
  }
  if ((st = infb_dgemm(0, 1, R, D, K, -1.0, Z, K, W, K, 0.0, Rs, D)))
    return st;
  const double wr = 1.0 / (double)R; /* each (point, sample) pair's weight in the mean */
  double lp = 0.0;
  for (size_t i = 0; i < B; i++) {
    const double *x = X + i * D;
    for (size_t s = 0; s < S; s++) {
      double *r = Rs + (i * S + s) * D, q = 0.0;
      for (size_t d = 0; d < D; d++) {
        double e = r[d] + x[d] - bv[d], u = e * a->ipsi[d];
        q += e * u;
        glpsi[a->ppca ? 0 : d] -= wr * (0.5 * e * u - 0.5);
        gb[d] -= wr * u;
        r[d] = u;
      }
      lp -= 0.5 * (base + q);
    }
  }
  /* ∂ln p/∂W = Ψ⁻¹r zᵀ: gW = −(1/R)(Ψ⁻¹R)ᵀZ; the weight decay adds (λ/N)W. */
  if ((st = infb_dgemm(1, 0, D, K, R, -wr, Rs, D, Z, K, 0.0, gW, K)))
    return st;
  double wd = 0.0;
  if (a->weight_decay > 0.0) {
    double c = a->weight_decay / (double)N;
    for (size_t t = 0; t < D * K; t++) {
      wd += W[t] * W[t];
      gW[t] += c * W[t];
    }
    wd *= 0.5 * c;
  }

  /* ∂ln p/∂z = WᵀΨ⁻¹r: G = (Ψ⁻¹R)W (R × K).  Encoder outputs (loss = −mean ELBO):
   *   ∂/∂μ = −(1/B)[mean_s G − μ],
   *   ∂/∂ln σ² = −(1/B)[mean_s G⊙ε⊙σ/2 − (σ² − 1)/2]. */
  if ((st = infb_dgemm(0, 0, R, K, D, 1.0, Rs, D, W, K, 0.0, G, K)))
    return st;
  const double wb = 1.0 / (double)B, ws = 1.0 / (double)S;
  for (size_t i = 0; i < B; i++) {
    const double *mu = Y + i * 2 * K, *lv = mu + K;
    for (size_t j = 0; j < K; j++) {
      double sd = exp(0.5 * lv[j]), gm = 0.0, gl = 0.0;
      for (size_t s = 0; s < S; s++) {
        size_t r = (i * S + s) * K + j;
        gm += G[r];
        gl += G[r] * E[r];
      }
      dY[i * 2 * K + j] = -wb * (ws * gm - mu[j]);
      dY[i * 2 * K + K + j] = -wb * (ws * gl * 0.5 * sd - 0.5 * (sd * sd - 1.0));
    }
  }
  if ((st = infb_mlp_backward_f64(a->e->net, B, X, dY, NULL)))
    return st;
  *loss = -(wr * lp - wb * kl) + wd;
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ fitting */

int
infb_train_options_check(const infb_train_options *o, const char *who)
{
  if (o->batch < 1)
    return INFB_ERROR(GSL_EINVAL, "%s: [train] batch = %zu must be at least 1", who, o->batch);
  if (o->samples < 1)
    return INFB_ERROR(GSL_EINVAL, "%s: [train] samples = %zu must be at least 1", who,
                      o->samples);
  if (!(o->lr >= 0.0) || !isfinite(o->lr))
    return INFB_ERROR(GSL_EINVAL, "%s: [train] lr = %g must be a finite number ≥ 0", who, o->lr);
  if (!(o->lr_decay > 0.0) || !isfinite(o->lr_decay))
    return INFB_ERROR(GSL_EINVAL, "%s: [train] lr_decay = %g must be a finite number > 0", who,
                      o->lr_decay);
  if (!(o->beta1 >= 0.0 && o->beta1 < 1.0) || !(o->beta2 >= 0.0 && o->beta2 < 1.0))
    return INFB_ERROR(GSL_EINVAL, "%s: [train] beta1 = %g and beta2 = %g must be in [0, 1)", who,
                      o->beta1, o->beta2);
  if (!(o->eps > 0.0) || !isfinite(o->eps))
    return INFB_ERROR(GSL_EINVAL, "%s: [train] eps = %g must be a finite number > 0", who,
                      o->eps);
  return GSL_SUCCESS;
}

/* Everything one fit allocates. */
typedef struct fit_work {
  infb_amortized *a;
  infb_adam_f64 *adam;
  infb_lingauss_cache *cache;
  size_t *idx;          /* N: the epoch's permutation */
  double *Xb, *E;       /* B × D rows, B·S × K noise */
  gsl_matrix *MU, *S2;  /* max(Ntr, Nte) × K */
  gsl_matrix *Xc;       /* chunk gather buffer B × D */
  gsl_vector *out;      /* max(Ntr, Nte) */
  unsigned char *hit;   /* npsi: clamped at least once */
} fit_work;

static void
fit_work_free(fit_work *w)
{
  infb_amortized_free(w->a);
  infb_adam_free_f64(w->adam);
  infb_lingauss_cache_free(w->cache);
  free(w->idx);
  free(w->Xb);
  free(w->E);
  gsl_matrix_free(w->MU);
  gsl_matrix_free(w->S2);
  gsl_matrix_free(w->Xc);
  gsl_vector_free(w->out);
  free(w->hit);
}

/* Mean closed-form ELBO per point of the encoder's q on the rows of X, under the θ in
 * w->a (copied into m).  *mean is NAN when something is not finite. */
static int
mean_elbo(fit_work *w, infb_lingauss *m, const gsl_matrix *X, double *mean)
{
  const size_t n = X->size1, D = w->a->D, K = w->a->K, chunk = w->Xc->size1;
  int st;
  *mean = NAN;
  if ((st = infb_amortized_theta(w->a, m)) || (st = infb_lingauss_cache_set(w->cache, m)))
    return st;
  gsl_matrix_view MU = gsl_matrix_submatrix(w->MU, 0, 0, n, K);
  gsl_matrix_view S2 = gsl_matrix_submatrix(w->S2, 0, 0, n, K);
  gsl_vector_view out = gsl_vector_subvector(w->out, 0, n);
  for (size_t i0 = 0; i0 < n; i0 += chunk) {
    size_t B = n - i0 < chunk ? n - i0 : chunk;
    for (size_t i = 0; i < B; i++)
      for (size_t d = 0; d < D; d++)
        gsl_matrix_set(w->Xc, i, d, gsl_matrix_get(X, i0 + i, d));
    /* μ into MU, ln σ² into S2, then S2 ← exp S2. */
    if ((st = enc_fn(w->a->e, B, w->Xc->data, gsl_matrix_ptr(&MU.matrix, i0, 0),
                     gsl_matrix_ptr(&S2.matrix, i0, 0))))
      return st;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < K; j++) {
      double v = exp(gsl_matrix_get(&S2.matrix, i, j));
      if (!(v > 0.0) || !isfinite(v) || !isfinite(gsl_matrix_get(&MU.matrix, i, j)))
        return GSL_SUCCESS;
      gsl_matrix_set(&S2.matrix, i, j, v);
    }
  if ((st = infb_lingauss_elbo(w->cache, X, &MU.matrix, &S2.matrix, &out.vector)))
    return st;
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += gsl_vector_get(&out.vector, i);
  *mean = s / (double)n;
  return GSL_SUCCESS;
}

/* b = column means, ψ = 1/N column variances (ppca: their mean) raised to the floor,
 * W ~ N(0, scale²): the starting θ in the slab. */
static int
init_theta(infb_amortized *a, const gsl_matrix *X, double scale, double floor, gsl_rng *r,
           unsigned char *hit)
{
  const size_t n = X->size1, D = a->D, K = a->K;
  double *W = a->params + a->nenc, *b = W + D * K, *lpsi = b + D, vmean = 0.0;
  for (size_t t = 0; t < D * K; t++)
    W[t] = gsl_ran_gaussian(r, scale);
  for (size_t d = 0; d < D; d++) {
    double s = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++)
      s += gsl_matrix_get(X, i, d);
    s /= (double)n;
    for (size_t i = 0; i < n; i++) {
      double e = gsl_matrix_get(X, i, d) - s;
      ss += e * e;
    }
    ss /= (double)n;
    b[d] = s;
    vmean += ss / (double)D;
    if (!a->ppca) {
      double v = ss > floor ? ss : floor;
      hit[d] = ss < floor;
      if (!(v > 0.0))
        return INFB_ERROR(GSL_EDOM, "amortized: column %zu has no variance; set a positive "
                                    "psi_floor", d + 1);
      lpsi[d] = log(v);
    }
  }
  if (a->ppca) {
    double v = vmean > floor ? vmean : floor;
    hit[0] = vmean < floor;
    if (!(v > 0.0))
      return INFB_ERROR(GSL_EDOM, "amortized: the data have no variance; set a positive "
                                  "psi_floor");
    lpsi[0] = log(v);
  }
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

/* One epoch (1-based e): shuffle, then ⌈N/B⌉ Adam steps. */
static int
run_epoch(fit_work *w, const gsl_matrix *X, const infb_amortized_options *o, const char *name,
          size_t e, double floor_log, size_t B)
{
  infb_amortized *a = w->a;
  const size_t N = X->size1, D = a->D, K = a->K, S = a->S;
  const double lr = o->train.lr * pow(o->train.lr_decay, (double)(e - 1));
  char purpose[256];
  snprintf(purpose, sizeof purpose, "%s/batch", name);
  gsl_rng *rb = infb_rng_stream(o->train.seed, purpose, e - 1);
  snprintf(purpose, sizeof purpose, "%s/noise", name);
  gsl_rng *rn = infb_rng_stream(o->train.seed, purpose, e - 1);
  int st = GSL_SUCCESS;
  if (!rb || !rn) {
    st = GSL_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < N; i++)
    w->idx[i] = i;
  gsl_ran_shuffle(rb, w->idx, N, sizeof *w->idx);
  double *lpsi = a->params + a->nenc + D * K + D;
  size_t step = 0;
  for (size_t i0 = 0; i0 < N; i0 += B) {
    size_t nb = N - i0 < B ? N - i0 : B;
    step++;
    for (size_t i = 0; i < nb; i++)
      for (size_t d = 0; d < D; d++)
        w->Xb[i * D + d] = gsl_matrix_get(X, w->idx[i0 + i], d);
    for (size_t t = 0; t < nb * S * K; t++)
      w->E[t] = gsl_ran_gaussian(rn, 1.0);
    double loss;
    if ((st = infb_amortized_objective(a, nb, w->Xb, w->E, N, &loss)))
      goto done;
    if (!isfinite(loss)) {
      st = INFB_ERROR(GSL_EDOM, "amortized: epoch %zu, step %zu: the ELBO is not finite; "
                                "lower [train] lr", e, step);
      goto done;
    }
    if (!all_finite(a->grads, a->nparams)) {
      st = INFB_ERROR(GSL_EDOM, "amortized: epoch %zu, step %zu: the ELBO gradient is not "
                                "finite; lower [train] lr", e, step);
      goto done;
    }
    if ((st = infb_adam_step_f64(w->adam, a->params, a->grads, lr)))
      goto done;
    for (size_t d = 0; d < a->npsi; d++)
      if (lpsi[d] < floor_log) {
        lpsi[d] = floor_log;
        w->hit[d] = 1;
      }
  }
done:
  gsl_rng_free(rb);
  gsl_rng_free(rn);
  return st;
}

static void
describe(const infb_amortized_options *o, infb_latent_fit *fit)
{
  char arch[160] = "linear encoder";
  if (o->enc.mlp) {
    size_t len = (size_t)snprintf(arch, sizeof arch, "MLP encoder (hidden");
    for (size_t l = 0; l < o->enc.nhidden && len < sizeof arch; l++)
      len += (size_t)snprintf(arch + len, sizeof arch - len, " %zu", o->enc.hidden[l]);
    if (len < sizeof arch) {
      const char *an = infb_act_name((enum infb_act)o->enc.activation);
      snprintf(arch + len, sizeof arch - len, ", %s)", an ? an : "?");
    }
  }
  snprintf(fit->note, sizeof fit->note, "%s trained jointly with the %s decoder by Adam on the "
           "reparameterised ELBO%s", arch, o->ppca ? "PPCA" : "factor-analysis",
           o->weight_decay > 0 ? "; Gaussian prior of precision weight_decay on W" : "");
}

int
infb_amortized_fit(const gsl_matrix *Xtr, const gsl_matrix *Xte, size_t K,
                   const infb_amortized_options *o, infb_latent_fit *fit)
{
  infb_latent_fit_init(fit);
  int st;
  const char *name = o->name ? o->name : "amortized";
  size_t sizes[INFB_MAX_HIDDEN + 2], nl;
  enum infb_act act;
  if ((st = infb_lingauss_check_data(Xtr, K)) ||
      (st = infb_check_test_data(Xtr == Xte ? NULL : Xte, Xtr->size2, "amortized")) ||
      (st = infb_train_options_check(&o->train, "amortized")) ||
      (st = infb_encoder_sizes(&o->enc, Xtr->size2, 2 * K, "amortized", sizes, &nl, &act)))
    return st;
  if (!(o->psi_floor >= 0.0) || !isfinite(o->psi_floor))
    return INFB_ERROR(GSL_EINVAL, "amortized: psi_floor = %g must be a finite number ≥ 0",
                      o->psi_floor);
  if (!(o->weight_decay >= 0.0) || !isfinite(o->weight_decay))
    return INFB_ERROR(GSL_EINVAL, "amortized: weight_decay = %g must be a finite number ≥ 0",
                      o->weight_decay);
  if (!(o->init_scale >= 0.0) || !isfinite(o->init_scale))
    return INFB_ERROR(GSL_EINVAL, "amortized: init_scale = %g must be a finite number ≥ 0",
                      o->init_scale);
  const double scale = o->init_scale > 0.0 ? o->init_scale : INFB_AMORTIZED_INIT_SCALE;
  const size_t N = Xtr->size1, D = Xtr->size2, S = o->train.samples;
  const size_t B = o->train.batch < N ? o->train.batch : N;
  const size_t nte = Xte ? Xte->size1 : 0, nmax = nte > N ? nte : N;
  const double floor_log = o->psi_floor > 0.0 ? log(o->psi_floor) : -INFINITY;

  fit_work w;
  memset(&w, 0, sizeof w);
  enc *out = NULL;
  gsl_rng *r = NULL;
  if (!(w.a = infb_amortized_alloc(D, K, o, B))) {
    st = GSL_ENOMEM;
    goto fail;
  }
  w.adam = infb_adam_alloc_f64(w.a->nparams, o->train.beta1, o->train.beta2, o->train.eps);
  w.cache = infb_lingauss_cache_alloc(D, K);
  w.idx = infb_malloc(N, sizeof *w.idx);
  w.Xb = infb_malloc(B * D, sizeof *w.Xb);
  w.E = infb_malloc(B * S * K, sizeof *w.E);
  w.MU = gsl_matrix_alloc(nmax, K);
  w.S2 = gsl_matrix_alloc(nmax, K);
  w.Xc = gsl_matrix_alloc(B, D);
  w.out = gsl_vector_alloc(nmax);
  w.hit = infb_calloc(w.a->npsi, 1);
  fit->model = infb_lingauss_alloc(D, K, o->ppca);
  char purpose[256];
  snprintf(purpose, sizeof purpose, "%s/init", name);
  r = infb_rng_stream(o->train.seed, purpose, 0);
  if (!w.adam || !w.cache || !w.idx || !w.Xb || !w.E || !w.MU || !w.S2 || !w.Xc || !w.out ||
      !w.hit || !fit->model || !r) {
    st = INFB_ERROR(GSL_ENOMEM, "amortized: out of memory");
    goto fail;
  }
  if ((st = infb_mlp_init_f64(w.a->e->net, r)) ||
      (st = init_theta(w.a, Xtr, scale, o->psi_floor, r, w.hit)))
    goto fail;
  const size_t E = o->train.epochs;
  if ((st = infb_latent_fit_curve(fit, E + 1, "ELBO per point (nats)")))
    goto fail;
  for (size_t e = 0; e <= E; e++) {
    if (e > 0 && (st = run_epoch(&w, Xtr, o, name, e, floor_log, B)))
      goto fail;
    double tr = NAN, te = NAN;
    if ((st = mean_elbo(&w, fit->model, Xtr, &tr)) ||
        (Xte && nte > 0 && (st = mean_elbo(&w, fit->model, Xte, &te))) || !isfinite(tr)) {
      st = INFB_ERROR(GSL_EDOM, "amortized: epoch %zu, step %zu: the ELBO is not finite; lower "
                                "[train] lr", e, e > 0 ? (N + B - 1) / B : 0);
      goto fail;
    }
    fit->curve[3 * e] = (double)e;
    fit->curve[3 * e + 1] = tr;
    fit->curve[3 * e + 2] = te;
  }

  /* The fit's encoder: a copy of the trained MLP with its own slab. */
  if (!(out = enc_alloc(D, K, &o->enc, B))) {
    st = GSL_ENOMEM;
    goto fail;
  }
  memcpy(infb_mlp_params_f64(out->net, NULL), w.a->params, w.a->nenc * sizeof *w.a->params);
  if ((st = infb_amortized_theta(w.a, fit->model)))
    goto fail;
  fit->encoder.D = D;
  fit->encoder.K = K;
  fit->encoder.fn = enc_fn;
  fit->encoder.self = out;
  fit->encoder_free = enc_free;
  out = NULL;
  fit->iterations = E;
  snprintf(fit->stop_reason, sizeof fit->stop_reason, "epochs");
  for (size_t d = 0; d < w.a->npsi; d++)
    fit->nfloored += w.hit[d];
  describe(o, fit);
  gsl_rng_free(r);
  fit_work_free(&w);
  return GSL_SUCCESS;

fail:
  enc_free(out);
  gsl_rng_free(r);
  fit_work_free(&w);
  infb_latent_fit_free(fit);
  return st;
}
