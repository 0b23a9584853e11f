/* Variational EM for the VAE's decoder with per-point fully factorised Gaussians and no
 * encoder (Cremer, Li & Duvenaud 2018, §2–3; MATH.md §5–6): local Adam steps on each
 * minibatch's λ_i, then one Adam step on the decoder (see vaemf.h). */
#include <config.h>
#include "infer/vaemf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/rng.h"
#include "nn/adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>

struct infb_vaemf {
  infb_vae_f32 *v;          /* the model (borrowed) */
  size_t N, D, K, S, B;     /* points, pixels, latent dimension, samples, minibatch size */
  const float *X;           /* N × D images (borrowed) */
  infb_vaemf_options o;     /* a copy of the options */
  size_t off, nd;           /* the decoder's segment of the slab: offset and length */
  infb_adam_f32 *adam;      /* the decoder's optimiser (over its segment) */
  float *MU, *LV;           /* N × K each: λ */
  float *M, *V;             /* N × 2K each: λ's Adam moments (μ part, then ℓ part) */
  unsigned long *T;         /* N: local Adam steps taken per point */
  size_t *perm;             /* N: this epoch's order */
  float *Xbin;              /* N × D: this epoch's binarisation (dynamic only) */
  float *Xr;                /* B·S × D: the minibatch, row i·S + s holding x_i */
  double *bmu, *blv;        /* B × K: the minibatch's λ (working copy) */
  double *bm, *bv;          /* B × 2K: its moments */
  unsigned long *bt;        /* B: its step counts */
  double *E, *Z, *G;        /* B·S × K: noise, latents, ∂ ln p/∂z */
  float *Zf, *Gf;           /* B·S × K: the same in float for the decoder */
  double *logp;             /* B·S */
  double *obj, *gmu, *glv;  /* B, B × K, B × K */
  size_t epochs, skipped, halvings;
};

/* ------------------------------------------------------------------ the local objective */

/* z_is = μ_i + exp(ℓ_i/2)⊙ε_is for the B·S rows. */
static void
reparam(size_t B, size_t S, size_t K, const double *MU, const double *LV, const double *E,
        double *Z)
{
  for (size_t i = 0; i < B; i++)
    for (size_t s = 0; s < S; s++) {
      const size_t r = i * S + s;
      for (size_t k = 0; k < K; k++)
        Z[r * K + k] = MU[i * K + k] + exp(0.5 * LV[i * K + k]) * E[r * K + k];
    }
}

/* L_i = mean_s ln p(x_i|z_is) + E_q ln p(z) − β E_q ln q(z) (closed forms in vaemf.h) and,
 * when G is given, its gradient with respect to μ_i and ℓ_i (GMU, GLV may then be NULL
 * independently).  obj may be NULL. */
static void
assemble(size_t B, size_t S, size_t K, const double *MU, const double *LV, const double *E,
         const double *logp, const double *G, double beta, double *obj, double *GMU,
         double *GLV)
{
  const double half_log_2pi = 0.5 * log(2.0 * M_PI);
  const double invS = 1.0 / (double)S;
  for (size_t i = 0; i < B; i++) {
    double lp = 0.0;
    for (size_t s = 0; s < S; s++)
      lp += logp[i * S + s];
    double prior = 0.0, entropy = 0.0;
    for (size_t k = 0; k < K; k++) {
      const double mu = MU[i * K + k], lv = LV[i * K + k], s2 = exp(lv);
      prior += -0.5 * (mu * mu + s2) - half_log_2pi;
      entropy += 0.5 + half_log_2pi + 0.5 * lv;
      if (!G)
        continue;
      double gm = 0.0, gl = 0.0;
      for (size_t s = 0; s < S; s++) {
        const size_t r = i * S + s;
        gm += G[r * K + k];
        gl += G[r * K + k] * E[r * K + k];
      }
      if (GMU)
        GMU[i * K + k] = gm * invS - mu;
      if (GLV)
        GLV[i * K + k] = gl * invS * 0.5 * sqrt(s2) - 0.5 * s2 + 0.5 * beta;
    }
    if (obj)
      obj[i] = lp * invS + prior + beta * entropy;
  }
}

int
infb_vaemf_local_f64(infb_vae_f64 *v, size_t B, size_t S, const double *X, const double *MU,
                     const double *LV, const double *E, double beta, double *obj, double *GMU,
                     double *GLV)
{
  if (!v || !X || !MU || !LV || !E || B == 0 || S == 0)
    return INFB_ERROR(GSL_EINVAL, "vaemf local objective: needs a model, data, λ and noise, "
                                  "B = %zu and S = %zu >= 1", B, S);
  if (!(beta >= 0.0 && beta <= 1.0))
    return INFB_ERROR(GSL_EINVAL, "vaemf local objective: beta = %g must be in [0, 1]", beta);
  const infb_vae_arch *a = infb_vae_arch_f64(v);
  const size_t D = a->D, K = a->K, R = B * S;
  double *Xr = infb_malloc(R * D, sizeof *Xr), *Z = infb_malloc(R * K, sizeof *Z);
  double *G = infb_malloc(R * K, sizeof *G), *logp = infb_malloc(R, sizeof *logp);
  int st = GSL_ENOMEM;
  if (Xr && Z && G && logp) {
    for (size_t r = 0; r < R; r++)
      memcpy(Xr + r * D, X + (r / S) * D, D * sizeof *Xr);
    reparam(B, S, K, MU, LV, E, Z);
    if (!(st = infb_vae_decoder_loglik_f64(v, R, Xr, Z, logp, G)))
      assemble(B, S, K, MU, LV, E, logp, G, beta, obj, GMU, GLV);
  }
  free(Xr);
  free(Z);
  free(G);
  free(logp);
  return st;
}

/* ------------------------------------------------------------------ the trainer */

void
infb_vaemf_free(infb_vaemf *t)
{
  if (!t)
    return;
  infb_adam_free_f32(t->adam);
  free(t->MU);
  free(t->LV);
  free(t->M);
  free(t->V);
  free(t->T);
  free(t->perm);
  free(t->Xbin);
  free(t->Xr);
  free(t->bmu);
  free(t->blv);
  free(t->bm);
  free(t->bv);
  free(t->bt);
  free(t->E);
  free(t->Z);
  free(t->G);
  free(t->Zf);
  free(t->Gf);
  free(t->logp);
  free(t->obj);
  free(t->gmu);
  free(t->glv);
  free(t);
}

static int
check_options(const infb_vaemf_options *mo)
{
  const infb_vaetrain_options *o = &mo->train;
  if (o->batch == 0 || o->samples == 0)
    return INFB_ERROR(GSL_EINVAL, "vaemf: batch = %zu and samples = %zu must be positive",
                      o->batch, o->samples);
  if (!(o->lr > 0.0) || !isfinite(o->lr))
    return INFB_ERROR(GSL_EINVAL, "vaemf: lr = %g must be positive and finite", o->lr);
  if (o->schedule != INFB_SCHEDULE_CONSTANT && o->schedule != INFB_SCHEDULE_IWAE)
    return INFB_ERROR(GSL_EINVAL, "vaemf: unknown schedule %d", o->schedule);
  if (!(o->beta1 >= 0.0 && o->beta1 < 1.0) || !(o->beta2 >= 0.0 && o->beta2 < 1.0) ||
      !(o->eps > 0.0) || !isfinite(o->eps))
    return INFB_ERROR(GSL_EINVAL, "vaemf: Adam needs beta1 = %g and beta2 = %g in [0, 1) and "
                                  "eps = %g > 0", o->beta1, o->beta2, o->eps);
  if (!(o->weight_decay >= 0.0) || !isfinite(o->weight_decay))
    return INFB_ERROR(GSL_EINVAL, "vaemf: weight_decay = %g must be finite and >= 0",
                      o->weight_decay);
  if (o->nonfinite != INFB_NONFINITE_ABORT && o->nonfinite != INFB_NONFINITE_SKIP &&
      o->nonfinite != INFB_NONFINITE_HALVE)
    return INFB_ERROR(GSL_EINVAL, "vaemf: unknown non-finite policy %d", o->nonfinite);
  if (mo->local_steps == 0)
    return INFB_ERROR(GSL_EINVAL, "vaemf: local_steps must be positive");
  if (!(mo->local_lr > 0.0) || !isfinite(mo->local_lr))
    return INFB_ERROR(GSL_EINVAL, "vaemf: local_lr = %g must be positive and finite",
                      mo->local_lr);
  return GSL_SUCCESS;
}

/* The decoder's segment of v's slab: the smallest offset of a "dec." layout entry. */
static size_t
decoder_offset(const infb_vae_f32 *v)
{
  size_t count, off = SIZE_MAX;
  const struct infb_nn_tensor *L = infb_vae_layout_f32(v, &count);
  for (size_t j = 0; j < count; j++)
    if (strncmp(L[j].name, "dec.", 4) == 0 && L[j].offset < off)
      off = L[j].offset;
  return off;
}

infb_vaemf *
infb_vaemf_alloc(infb_vae_f32 *v, size_t N, const float *X, const infb_vaemf_options *o,
                 int fresh)
{
  if (!v || !X || !o)
    INFB_ERROR_NULL(GSL_EINVAL, "vaemf: the model, data and options must be given");
  if (N == 0)
    INFB_ERROR_NULL(GSL_EINVAL, "vaemf: no training images");
  if (check_options(o))
    return NULL;
  const infb_vae_arch *arch = infb_vae_arch_f32(v);
  infb_vaemf *t = infb_calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->v = v;
  t->N = N;
  t->D = arch->D;
  t->K = arch->K;
  t->S = o->train.samples;
  t->B = o->train.batch < N ? o->train.batch : N;
  t->X = X;
  t->o = *o;
  size_t np;
  infb_vae_params_f32(v, &np);
  t->off = decoder_offset(v);
  if (t->off >= np) {
    infb_vaemf_free(t);
    INFB_ERROR_NULL(GSL_ESANITY, "vaemf: the model's layout has no decoder entries");
  }
  t->nd = np - t->off;
  const size_t D = t->D, K = t->K, B = t->B, R = t->B * t->S;
  t->adam = infb_adam_alloc_f32(t->nd, o->train.beta1, o->train.beta2, o->train.eps);
  if (t->adam) /* Adam's update split as the VAE's passes are */
    infb_adam_set_threads_f32(t->adam, infb_vae_run_threads_f32(v));
  t->MU = infb_calloc(N * K, sizeof *t->MU);
  t->LV = infb_calloc(N * K, sizeof *t->LV);
  t->M = infb_calloc(N * 2 * K, sizeof *t->M);
  t->V = infb_calloc(N * 2 * K, sizeof *t->V);
  t->T = infb_calloc(N, sizeof *t->T);
  t->perm = infb_malloc(N, sizeof *t->perm);
  t->Xbin = o->train.dynamic ? infb_malloc(N, D * sizeof *t->Xbin) : NULL;
  t->Xr = infb_malloc(R, D * sizeof *t->Xr);
  t->bmu = infb_malloc(B * K, sizeof *t->bmu);
  t->blv = infb_malloc(B * K, sizeof *t->blv);
  t->bm = infb_malloc(B * 2 * K, sizeof *t->bm);
  t->bv = infb_malloc(B * 2 * K, sizeof *t->bv);
  t->bt = infb_malloc(B, sizeof *t->bt);
  t->E = infb_malloc(R * K, sizeof *t->E);
  t->Z = infb_malloc(R * K, sizeof *t->Z);
  t->G = infb_malloc(R * K, sizeof *t->G);
  t->Zf = infb_malloc(R * K, sizeof *t->Zf);
  t->Gf = infb_malloc(R * K, sizeof *t->Gf);
  t->logp = infb_malloc(R, sizeof *t->logp);
  t->obj = infb_malloc(B, sizeof *t->obj);
  t->gmu = infb_malloc(B * K, sizeof *t->gmu);
  t->glv = infb_malloc(B * K, sizeof *t->glv);
  if (!t->adam || !t->MU || !t->LV || !t->M || !t->V || !t->T || !t->perm ||
      (o->train.dynamic && !t->Xbin) || !t->Xr || !t->bmu || !t->blv || !t->bm || !t->bv ||
      !t->bt || !t->E || !t->Z || !t->G || !t->Zf || !t->Gf || !t->logp || !t->obj ||
      !t->gmu || !t->glv) {
    infb_vaemf_free(t);
    return NULL;
  }
  if (fresh) {
    gsl_rng *r = infb_rng_stream(o->train.seed, "vaemf/init", 0);
    int st = r ? infb_vae_init_f32(v, r) : GSL_ENOMEM;
    gsl_rng_free(r);
    if (st) {
      infb_vaemf_free(t);
      return NULL;
    }
  }
  return t;
}

size_t
infb_vaemf_epochs_done(const infb_vaemf *t)
{
  return t->epochs;
}

size_t
infb_vaemf_skipped(const infb_vaemf *t)
{
  return t->skipped;
}

size_t
infb_vaemf_halvings(const infb_vaemf *t)
{
  return t->halvings;
}

double
infb_vaemf_lr(const infb_vaemf *t)
{
  return ldexp(infb_vaetrain_rate(&t->o.train, t->epochs), -(int)t->halvings);
}

const float *
infb_vaemf_mu(const infb_vaemf *t)
{
  return t->MU;
}

const float *
infb_vaemf_lv(const infb_vaemf *t)
{
  return t->LV;
}

static int
all_finite(size_t n, const double *x)
{
  int f = 1;
  for (size_t i = 0; i < n; i++)
    f &= isfinite(x[i]) != 0;
  return f;
}

/* Draw n standard normal variates into E. */
static void
draw(gsl_rng *r, size_t n, double *E)
{
  for (size_t j = 0; j < n; j++)
    E[j] = gsl_ran_gaussian_ziggurat(r, 1.0);
}

/* The batch's latents in float: Zf = float(reparam(λ, E)). */
static void
latents(infb_vaemf *t, size_t B)
{
  const size_t n = B * t->S * t->K;
  reparam(B, t->S, t->K, t->bmu, t->blv, t->E, t->Z);
  for (size_t j = 0; j < n; j++)
    t->Zf[j] = (float)t->Z[j];
}

/* One Adam step (nn/adam.h's update, in double) of every batch point on −L_i. */
static void
local_adam(infb_vaemf *t, size_t B, double lr)
{
  const size_t K = t->K;
  const double b1 = t->o.train.beta1, b2 = t->o.train.beta2, eps = t->o.train.eps;
  for (size_t i = 0; i < B; i++) {
    const unsigned long step = ++t->bt[i];
    const double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
    for (size_t j = 0; j < 2 * K; j++) {
      double *theta = j < K ? &t->bmu[i * K + j] : &t->blv[i * K + j - K];
      const double g = -(j < K ? t->gmu[i * K + j] : t->glv[i * K + j - K]);
      double *m = &t->bm[i * 2 * K + j], *s = &t->bv[i * 2 * K + j];
      *m = b1 * *m + (1.0 - b1) * g;
      *s = b2 * *s + (1.0 - b2) * g * g;
      *theta -= (lr / c1) * *m / (sqrt(*s / c2) + eps);
    }
  }
}

/* Add (λ/N)·θ to the decoder's gradient segment; 1 when every entry is finite. */
static int
decoder_grad_ok(size_t n, const float *restrict theta, float *restrict g, double lambda_N)
{
  int finite = 1;
  const float c = (float)lambda_N;
  for (size_t i = 0; i < n; i++) {
    if (lambda_N > 0.0)
      g[i] += c * theta[i];
    finite &= isfinite(g[i]) != 0;
  }
  return finite;
}

/* One minibatch of B points (t->Xr and the batch's λ copies filled).  *ok receives 0 and
 * *what the failing quantity ("loss" or "gradient") when the step is not finite, in which
 * case nothing of the decoder has moved (the λ copies are discarded by the caller). */
static int
batch_step(infb_vaemf *t, size_t B, size_t e, gsl_rng *rn, int *ok, const char **what,
           double *sum)
{
  const size_t K = t->K, S = t->S, R = B * S;
  const double beta = infb_vaetrain_beta(&t->o.train, e);
  const double llr = ldexp(t->o.local_lr, -(int)t->halvings);
  int st;
  *ok = 1;
  /* Local steps, decoder frozen.  The noise of every block is drawn even after a failure,
   * so later steps see the same draws whatever happened here. */
  for (size_t l = 0; l < t->o.local_steps; l++) {
    draw(rn, R * K, t->E);
    if (!*ok)
      continue;
    latents(t, B);
    if ((st = infb_vae_decoder_loglik_f32(t->v, R, t->Xr, t->Zf, t->logp, t->Gf)))
      return st;
    for (size_t j = 0; j < R * K; j++)
      t->G[j] = t->Gf[j];
    assemble(B, S, K, t->bmu, t->blv, t->E, t->logp, t->G, beta, t->obj, t->gmu, t->glv);
    if (!all_finite(B, t->obj)) {
      *ok = 0;
      *what = "loss";
    } else if (!all_finite(B * K, t->gmu) || !all_finite(B * K, t->glv)) {
      *ok = 0;
      *what = "gradient";
    } else {
      local_adam(t, B, llr);
    }
  }
  /* The global step at the updated λ, with fresh noise. */
  draw(rn, R * K, t->E);
  if (!*ok)
    return GSL_SUCCESS;
  latents(t, B);
  float *theta = infb_vae_params_f32(t->v, NULL) + t->off;
  float *grad = infb_vae_grads_f32(t->v, NULL) + t->off;
  if (t->o.frozen_decoder) {
    st = infb_vae_decoder_loglik_f32(t->v, R, t->Xr, t->Zf, t->logp, NULL);
  } else {
    infb_vae_zero_grad_f32(t->v);
    st = infb_vae_decoder_train_f32(t->v, R, t->Xr, t->Zf, -1.0 / (double)R, t->logp, NULL);
  }
  if (st)
    return st;
  assemble(B, S, K, t->bmu, t->blv, t->E, t->logp, NULL, beta, t->obj, NULL, NULL);
  *sum = 0.0;
  for (size_t i = 0; i < B; i++)
    *sum += t->obj[i];
  if (!isfinite(*sum)) {
    *ok = 0;
    *what = "loss";
    return GSL_SUCCESS;
  }
  if (t->o.frozen_decoder)
    return GSL_SUCCESS;
  if (!decoder_grad_ok(t->nd, theta, grad, t->o.train.weight_decay / (double)t->N)) {
    *ok = 0;
    *what = "gradient";
    return GSL_SUCCESS;
  }
  const double lr = ldexp(infb_vaetrain_rate(&t->o.train, e), -(int)t->halvings);
  return infb_adam_step_f32(t->adam, theta, grad, lr);
}

int
infb_vaemf_epoch(infb_vaemf *t, double *mean_elbo)
{
  const size_t e = t->epochs, N = t->N, D = t->D, K = t->K, S = t->S;
  gsl_rng *rb = infb_rng_stream(t->o.train.seed, "vaemf/batch", e);
  gsl_rng *rn = infb_rng_stream(t->o.train.seed, "vaemf/noise", e);
  gsl_rng *rx = t->o.train.dynamic ? infb_rng_stream(t->o.train.seed, "vaemf/binarize", e)
                                   : NULL;
  int st = GSL_SUCCESS;
  if (!rb || !rn || (t->o.train.dynamic && !rx)) {
    st = GSL_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < N; i++)
    t->perm[i] = i;
  gsl_ran_shuffle(rb, t->perm, N, sizeof *t->perm);
  const float *Xs = t->X;
  if (t->o.train.dynamic) {
    for (size_t j = 0; j < N * D; j++)
      t->Xbin[j] = gsl_rng_uniform(rx) < (double)t->X[j] ? 1.0f : 0.0f;
    Xs = t->Xbin;
  }
  double total = 0.0;
  size_t counted = 0;
  for (size_t start = 0, step = 0; start < N; start += t->B, step++) {
    if (step)
      infb_fault_point("train-step"); /* between two steps: mid-epoch */
    const size_t B = N - start < t->B ? N - start : t->B;
    const size_t *idx = t->perm + start;
    /* Gather the batch: images replicated per sample, λ and its Adam state in double. */
    for (size_t i = 0; i < B; i++) {
      const size_t p = idx[i];
      for (size_t s = 0; s < S; s++)
        memcpy(t->Xr + (i * S + s) * D, Xs + p * D, D * sizeof *t->Xr);
      for (size_t k = 0; k < K; k++) {
        t->bmu[i * K + k] = t->MU[p * K + k];
        t->blv[i * K + k] = t->LV[p * K + k];
      }
      for (size_t j = 0; j < 2 * K; j++) {
        t->bm[i * 2 * K + j] = t->M[p * 2 * K + j];
        t->bv[i * 2 * K + j] = t->V[p * 2 * K + j];
      }
      t->bt[i] = t->T[p];
    }
    int ok;
    const char *what = "loss";
    double sum = 0.0;
    if ((st = batch_step(t, B, e, rn, &ok, &what, &sum)))
      goto done;
    if (!ok) {
      if (t->o.train.nonfinite == INFB_NONFINITE_ABORT) {
        st = INFB_ERROR(GSL_EDOM,
                        "epoch %zu, step %zu: the %s is not finite; lower [train] lr or "
                        "[meanfield] local_lr, or set [train] nonfinite = skip",
                        e + 1, step + 1, what);
        goto done;
      }
      if (t->o.train.nonfinite == INFB_NONFINITE_HALVE)
        t->halvings++;
      else
        t->skipped++;
      continue;
    }
    /* Scatter the batch's λ and Adam state back. */
    for (size_t i = 0; i < B; i++) {
      const size_t p = idx[i];
      for (size_t k = 0; k < K; k++) {
        t->MU[p * K + k] = (float)t->bmu[i * K + k];
        t->LV[p * K + k] = (float)t->blv[i * K + k];
      }
      for (size_t j = 0; j < 2 * K; j++) {
        t->M[p * 2 * K + j] = (float)t->bm[i * 2 * K + j];
        t->V[p * 2 * K + j] = (float)t->bv[i * 2 * K + j];
      }
      t->T[p] = t->bt[i];
    }
    total += sum;
    counted += B;
  }
  t->epochs++;
  if (mean_elbo)
    *mean_elbo = counted ? total / (double)counted : NAN;
done:
  gsl_rng_free(rb);
  gsl_rng_free(rn);
  gsl_rng_free(rx);
  return st;
}
