/* Tests for the VAE decoder trained by variational EM without an encoder (infer/vaemf.h):
 * finite-difference checks of the decoder's training pass and of the λ gradient, the
 * decoder's Bernoulli means against logits recovered from its log-likelihood, learning on
 * data drawn from a known random decoder with K = 2 (ELBOs below the quadrature ln p(x)),
 * the frozen-decoder local steps against the q* optimiser, reproducibility, the
 * non-finite policies, the gap report without an encoder, and a gap report interrupted
 * at every group and continued from its state. */
#include <config.h>
#include "infer/vaemf.h"
#include "infer/gapeval.h"
#include "infer/qstar.h"
#include "core/error.h"
#include "core/rng.h"
#include "linalg/blas.h"
#include "tap/basic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define DPIX 24      /* pixels of the synthetic images */
#define KLAT 2       /* latent dimension (quadrature needs 2) */
#define HID 12       /* decoder hidden width */
#define NPTS 200     /* synthetic training images */
#define TRUTH_GAIN 3 /* the true decoder's weights are its init scaled by this: sharper images */
#define FD_H 1e-6    /* central-difference step (double build) */
#define QUAD_L 6.0   /* quadrature on [−L, L]² (MATH.md §5: L ≥ 5) */
#define QUAD_N 256   /* cells per axis */
#define EVAL_S 2000  /* Monte-Carlo samples for a point's ELBO */

static infb_vae_arch
arch(void)
{
  infb_vae_arch a;
  memset(&a, 0, sizeof a);
  a.D = DPIX;
  a.K = KLAT;
  a.nenc = 0; /* no encoder is trained: a linear one, never used */
  a.ndec = 1;
  a.dec_hidden[0] = HID;
  a.act = INFB_ACT_ELU;
  return a;
}

static infb_vaemf_options
options(void)
{
  infb_vaemf_options o;
  memset(&o, 0, sizeof o);
  o.train.batch = 20;
  o.train.samples = 2;
  o.train.lr = 1e-2;
  o.train.schedule = INFB_SCHEDULE_CONSTANT;
  o.train.beta1 = 0.9;
  o.train.beta2 = 0.999;
  o.train.eps = 1e-4;
  o.train.nonfinite = INFB_NONFINITE_ABORT;
  o.train.seed = 7;
  o.local_steps = 3;
  o.local_lr = 0.05;
  return o;
}

/* The decoder's segment [off, n) of the slab: the smallest "dec." offset. */
static size_t
dec_offset64(const infb_vae_f64 *v)
{
  size_t count, off = SIZE_MAX;
  const struct infb_nn_tensor *L = infb_vae_layout_f64(v, &count);
  for (size_t j = 0; j < count; j++)
    if (strncmp(L[j].name, "dec.", 4) == 0 && L[j].offset < off)
      off = L[j].offset;
  return off;
}

/* coef·Σ_r ln p(x_r|z_r) by the frozen-likelihood pass (an independent code path). */
static double
sum_loglik64(infb_vae_f64 *v, size_t R, const double *X, const double *Z, double coef)
{
  double lp[16], s = 0.0;
  if (infb_vae_decoder_loglik_f64(v, R, X, Z, lp, NULL))
    return NAN;
  for (size_t r = 0; r < R; r++)
    s += lp[r];
  return coef * s;
}

/* ------------------------------------------------------------------ gradients */

static void
test_decoder_train_fd(void)
{
  enum { R = 5 };
  infb_vae_arch a = arch();
  infb_vae_f64 *v = infb_vae_alloc_f64(&a, R, 1);
  gsl_rng *r = infb_rng_stream(11, "test/fd", 0);
  infb_vae_init_f64(v, r);
  double X[R * DPIX], Z[R * KLAT], G[R * KLAT], lp[R], lp2[R];
  for (size_t j = 0; j < R * DPIX; j++)
    X[j] = gsl_rng_uniform(r) < 0.4 ? 1.0 : 0.0;
  for (size_t j = 0; j < R * KLAT; j++)
    Z[j] = gsl_ran_gaussian(r, 1.0);
  const double coef = -0.37;
  size_t np;
  double *theta = infb_vae_params_f64(v, &np);
  double *grad = infb_vae_grads_f64(v, NULL);
  const size_t off = dec_offset64(v);
  infb_vae_zero_grad_f64(v);
  int st = infb_vae_decoder_train_f64(v, R, X, Z, coef, lp, G);
  is_int(GSL_SUCCESS, st, "decoder_train_f64 on %d rows succeeds", R);
  infb_vae_decoder_loglik_f64(v, R, X, Z, lp2, NULL);
  double dl = 0.0;
  for (size_t i = 0; i < R; i++)
    dl = fmax(dl, fabs(lp[i] - lp2[i]));
  is_double_abs(0.0, dl, 1e-12, "decoder_train's ln p(x|z) equals decoder_loglik's");
  int enc_zero = off > 0 && off < np;
  for (size_t j = 0; j < off && j < np; j++)
    enc_zero &= grad[j] == 0.0;
  ok(enc_zero, "the encoder's gradient segment (%zu entries) is untouched", off);
  double *g = malloc(np * sizeof *g);
  memcpy(g, grad, np * sizeof *g);
  double err = 0.0, gmax = 0.0;
  for (size_t j = off; j < np; j++) {
    const double t0 = theta[j];
    theta[j] = t0 + FD_H;
    double fp = sum_loglik64(v, R, X, Z, coef);
    theta[j] = t0 - FD_H;
    double fm = sum_loglik64(v, R, X, Z, coef);
    theta[j] = t0;
    err = fmax(err, fabs((fp - fm) / (2 * FD_H) - g[j]));
    gmax = fmax(gmax, fabs(g[j]));
  }
  ok(gmax > 1e-2, "the decoder gradient is not trivially zero (max |g| = %g)", gmax);
  is_double_abs(0.0, err, 1e-6 * (1.0 + gmax),
                "decoder segment gradient of coef·Σ ln p(x|z) = central differences (h = %g)",
                FD_H);
  double zerr = 0.0, zmax = 0.0;
  for (size_t j = 0; j < R * KLAT; j++) {
    const size_t row = j / KLAT;
    const double z0 = Z[j];
    Z[j] = z0 + FD_H;
    infb_vae_decoder_loglik_f64(v, R, X, Z, lp2, NULL);
    double fp = coef * lp2[row];
    Z[j] = z0 - FD_H;
    infb_vae_decoder_loglik_f64(v, R, X, Z, lp2, NULL);
    double fm = coef * lp2[row];
    Z[j] = z0;
    zerr = fmax(zerr, fabs((fp - fm) / (2 * FD_H) - G[j]));
    zmax = fmax(zmax, fabs(G[j]));
  }
  ok(zmax > 1e-2, "G = coef·∂ ln p/∂z is not trivially zero (max %g)", zmax);
  is_double_abs(0.0, zerr, 1e-6 * (1.0 + zmax),
                "G = coef·∂ ln p(x_r|z_r)/∂z_r = central differences");
  free(g);
  gsl_rng_free(r);
  infb_vae_free_f64(v);
}

/* σ(logits) from infb_vae_decode_f64 against logits recovered from the log-likelihood:
 * l_d = ln p(e_d|z) − ln p(0|z) (e_d the one-hot image of pixel d), σ(l) = 1/(1 + e^−l). */
static void
test_decode(void)
{
  enum { R = 3 };
  infb_vae_arch a = arch();
  infb_vae_f64 *v = infb_vae_alloc_f64(&a, R, 1);
  gsl_rng *r = infb_rng_stream(12, "test/decode", 0);
  infb_vae_init_f64(v, r);
  double Z[R * KLAT], P[R * DPIX], x[DPIX], l0, l1;
  for (size_t j = 0; j < R * KLAT; j++)
    Z[j] = 2.0 * gsl_ran_gaussian(r, 1.0);
  is_int(GSL_SUCCESS, infb_vae_decode_f64(v, R, Z, P), "decode_f64 on %d rows succeeds", R);
  double err = 0.0, pmin = 1.0, pmax = 0.0;
  for (size_t i = 0; i < R; i++) {
    memset(x, 0, sizeof x);
    infb_vae_decoder_loglik_f64(v, 1, x, Z + i * KLAT, &l0, NULL);
    for (size_t d = 0; d < DPIX; d++) {
      x[d] = 1.0;
      infb_vae_decoder_loglik_f64(v, 1, x, Z + i * KLAT, &l1, NULL);
      x[d] = 0.0;
      const double sig = 1.0 / (1.0 + exp(-(l1 - l0)));
      err = fmax(err, fabs(P[i * DPIX + d] - sig));
      pmin = fmin(pmin, P[i * DPIX + d]);
      pmax = fmax(pmax, P[i * DPIX + d]);
    }
  }
  is_double_abs(0.0, err, 1e-12, "decode = σ(l) with l_d = ln p(e_d|z) − ln p(0|z)");
  ok(pmax - pmin > 1e-3, "the means vary over pixels and rows (%g to %g)", pmin, pmax);
  is_int(GSL_EBADLEN, infb_vae_decode_f64(v, R + 1, Z, P),
         "decode refuses more rows than the workspace");
  gsl_rng_free(r);
  infb_vae_free_f64(v);
}

/* The double decoder as a q* callback. */
static int
dec64_fn(void *self, size_t R, const double *X, const size_t *xrow, const double *Z,
         double *logp, double *G)
{
  return infb_vae_decoder_loglik_rows_f64(self, R, X, xrow, Z, logp, G);
}

static void
test_local_grad(void)
{
  enum { B = 3, S = 4 };
  infb_vae_arch a = arch();
  infb_vae_f64 *v = infb_vae_alloc_f64(&a, B, S);
  gsl_rng *r = infb_rng_stream(13, "test/local", 0);
  infb_vae_init_f64(v, r);
  double X[B * DPIX], MU[B * KLAT], LV[B * KLAT], E[B * S * KLAT];
  double obj[B], gmu[B * KLAT], glv[B * KLAT], o2[B];
  for (size_t j = 0; j < B * DPIX; j++)
    X[j] = gsl_rng_uniform(r) < 0.5 ? 1.0 : 0.0;
  for (size_t j = 0; j < B * KLAT; j++) {
    MU[j] = gsl_ran_gaussian(r, 1.0);
    LV[j] = gsl_ran_gaussian(r, 0.5) - 1.0;
  }
  for (size_t j = 0; j < B * S * KLAT; j++)
    E[j] = gsl_ran_gaussian(r, 1.0);
  const double beta = 0.6;
  is_int(GSL_SUCCESS, infb_vaemf_local_f64(v, B, S, X, MU, LV, E, beta, obj, gmu, glv),
         "local objective with B = %d, S = %d, beta = %g", B, S, beta);
  double err = 0.0, gmax = 0.0;
  for (int which = 0; which < 2; which++)
    for (size_t j = 0; j < B * KLAT; j++) {
      double *p = which ? &LV[j] : &MU[j];
      const double g = which ? glv[j] : gmu[j];
      const size_t i = j / KLAT;
      const double p0 = *p;
      *p = p0 + FD_H;
      infb_vaemf_local_f64(v, B, S, X, MU, LV, E, beta, o2, NULL, NULL);
      double fp = o2[i];
      *p = p0 - FD_H;
      infb_vaemf_local_f64(v, B, S, X, MU, LV, E, beta, o2, NULL, NULL);
      double fm = o2[i];
      *p = p0;
      err = fmax(err, fabs((fp - fm) / (2 * FD_H) - g));
      gmax = fmax(gmax, fabs(g));
    }
  ok(gmax > 1e-2, "the λ gradient is not trivially zero (max %g)", gmax);
  is_double_abs(0.0, err, 1e-6 * (1.0 + gmax),
                "∂L_i/∂μ_i and ∂L_i/∂ln σ²_i = central differences at fixed ε (beta %g)", beta);

  /* At beta = 1 the objective is the reparameterised ELBO of the q* optimiser, computed
   * there by its own code (infer/qstar.h): the same value and gradient, point by point. */
  infb_vaemf_local_f64(v, B, S, X, MU, LV, E, 1.0, obj, gmu, glv);
  infb_decoder dec = {.D = DPIX, .K = KLAT, .fn = dec64_fn, .self = v};
  double d = 0.0;
  for (size_t i = 0; i < B; i++) {
    double el, qm[KLAT], ql[KLAT];
    infb_qstar_grad(&dec, X + i * DPIX, MU + i * KLAT, LV + i * KLAT, S, E + i * S * KLAT, &el,
                    qm, ql);
    d = fmax(d, fabs(el - obj[i]));
    for (size_t k = 0; k < KLAT; k++)
      d = fmax(d, fmax(fabs(qm[k] - gmu[i * KLAT + k]), fabs(ql[k] - glv[i * KLAT + k])));
  }
  is_double_abs(0.0, d, 1e-10, "beta = 1: objective and gradient = infb_qstar_grad's");
  /* The warm-up weight enters through the entropy only: ∂L/∂β = ½ Σ_k (1 + ln 2π + ℓ_k). */
  infb_vaemf_local_f64(v, B, S, X, MU, LV, E, 0.0, o2, NULL, NULL);
  double want = 0.0;
  for (size_t k = 0; k < KLAT; k++)
    want += 0.5 * (1.0 + log(2.0 * M_PI) + LV[k]);
  is_double_abs(want, obj[0] - o2[0], 1e-10, "L(beta = 1) − L(beta = 0) = the entropy of q");
  is_int(GSL_EINVAL, infb_vaemf_local_f64(v, B, S, X, MU, LV, E, 1.5, obj, NULL, NULL),
         "beta = 1.5 is refused");
  gsl_rng_free(r);
  infb_vae_free_f64(v);
}

/* ------------------------------------------------------------------ training */

/* NPTS images from a random decoder with weights TRUTH_GAIN× its init: z ~ N(0, I),
 * x_d ~ Bernoulli(σ(l_d(z))). */
static void
make_data(float *X)
{
  infb_vae_arch a = arch();
  infb_vae_f32 *t = infb_vae_alloc_f32(&a, NPTS, 1);
  gsl_rng *r = infb_rng_stream(99, "test/truth", 0);
  infb_vae_init_f32(t, r);
  size_t np;
  float *p = infb_vae_params_f32(t, &np);
  for (size_t j = 0; j < np; j++)
    p[j] *= TRUTH_GAIN;
  float *Z = malloc(NPTS * KLAT * sizeof *Z), *P = malloc(NPTS * DPIX * sizeof *P);
  for (size_t j = 0; j < NPTS * KLAT; j++)
    Z[j] = (float)gsl_ran_gaussian(r, 1.0);
  infb_vae_decode_f32(t, NPTS, Z, P);
  for (size_t j = 0; j < NPTS * DPIX; j++)
    X[j] = gsl_rng_uniform(r) < P[j] ? 1.0f : 0.0f;
  free(Z);
  free(P);
  gsl_rng_free(r);
  infb_vae_free_f32(t);
}

static infb_vae_f32 *
new_vae(const infb_vaemf_options *o)
{
  infb_vae_arch a = arch();
  return infb_vae_alloc_f32(&a, o->train.batch, o->train.samples);
}

/* Per-point ELBO of q = N(MU, exp LV) under v by Monte Carlo (EVAL_S samples). */
static void
elbo_points(infb_vae_f32 *v, size_t n, const float *X, const float *MU, const float *LV,
            const char *purpose, double *elbo, double *se)
{
  infb_vae_decoder *d = infb_vae_decoder_alloc(v, 40);
  infb_decoder ops = infb_vae_decoder_ops(d);
  double *Xd = malloc(n * DPIX * sizeof *Xd), *M = malloc(n * KLAT * sizeof *M);
  double *L = malloc(n * KLAT * sizeof *L);
  for (size_t j = 0; j < n * DPIX; j++)
    Xd[j] = X[j];
  for (size_t j = 0; j < n * KLAT; j++) {
    M[j] = MU[j];
    L[j] = LV[j];
  }
  infb_qstar_elbo_mc(&ops, n, Xd, M, L, EVAL_S, 5, purpose, 0, elbo, se);
  free(Xd);
  free(M);
  free(L);
  infb_vae_decoder_free(d);
}

static void
test_options(const float *X)
{
  infb_vaemf_free(NULL);
  ok(1, "infb_vaemf_free(NULL) is a no-op");
  infb_vaemf_options o = options();
  infb_vae_f32 *v = new_vae(&o);
  o.local_steps = 0;
  ok(infb_vaemf_alloc(v, NPTS, X, &o, 1) == NULL &&
         strstr(infb_error_message(), "local_steps") != NULL,
     "alloc refuses local_steps = 0 (%s)", infb_error_message());
  o = options();
  o.local_lr = 0.0;
  ok(infb_vaemf_alloc(v, NPTS, X, &o, 1) == NULL &&
         strstr(infb_error_message(), "local_lr") != NULL,
     "alloc refuses local_lr = 0 (%s)", infb_error_message());
  o = options();
  o.train.batch = 0;
  ok(infb_vaemf_alloc(v, NPTS, X, &o, 1) == NULL, "alloc refuses batch = 0");
  o = options();
  ok(infb_vaemf_alloc(v, 0, X, &o, 1) == NULL, "alloc refuses N = 0");
  infb_vae_free_f32(v);
}

/* Train, check learning and the ELBO ≤ ln p(x) bound; returns the trained model. */
static infb_vae_f32 *
test_training(const float *X)
{
  enum { EPOCHS = 60 };
  infb_vaemf_options o = options();
  infb_vae_f32 *v = new_vae(&o);
  infb_vaemf *t = infb_vaemf_alloc(v, NPTS, X, &o, 1);
  ok(t != NULL, "alloc for %d points", NPTS);
  size_t np;
  const float *theta = infb_vae_params_f32(v, &np);
  float *before = malloc(np * sizeof *before);
  memcpy(before, theta, np * sizeof *before);
  double curve[EPOCHS];
  int st = GSL_SUCCESS;
  for (size_t e = 0; e < EPOCHS && !st; e++)
    st = infb_vaemf_epoch(t, &curve[e]);
  is_int(GSL_SUCCESS, st, "%d epochs run", EPOCHS);
  is_int(EPOCHS, (long long)infb_vaemf_epochs_done(t), "epochs counted");
  double late = 0.0;
  for (size_t e = EPOCHS - 5; e < EPOCHS; e++)
    late += curve[e] / 5.0;
  diag("mean ELBO: epoch 1 %.3f, 10 %.3f, 30 %.3f, last five %.3f", curve[0], curve[9],
       curve[29], late);
  ok(late > curve[0] + 1.0, "the mean ELBO rises by more than 1 nat (%.3f → %.3f)", curve[0],
     late);
  ok(curve[19] > curve[0] && late > curve[19], "and rises between epochs 1, 20 and the end");
  /* The encoder segment (unused) never moves; the decoder does. */
  size_t count;
  const struct infb_nn_tensor *lay = infb_vae_layout_f32(v, &count);
  size_t off = np;
  for (size_t j = 0; j < count; j++)
    if (strncmp(lay[j].name, "dec.", 4) == 0 && lay[j].offset < off)
      off = lay[j].offset;
  ok(off > 0 && memcmp(before, theta, off * sizeof *theta) == 0,
     "the encoder's %zu parameters are never touched", off);
  ok(memcmp(before + off, theta + off, (np - off) * sizeof *theta) != 0, "the decoder moved");

  /* Every point's ELBO of its λ is below its ln p(x) (quadrature, MATH.md §5). */
  double *elbo = malloc(NPTS * sizeof *elbo), *se = malloc(NPTS * sizeof *se);
  double *lpx = malloc(NPTS * sizeof *lpx), *lpx2 = malloc(NPTS * sizeof *lpx2);
  elbo_points(v, NPTS, X, infb_vaemf_mu(t), infb_vaemf_lv(t), "test/lambda", elbo, se);
  infb_vae_quadrature_f32(v, NPTS, X, QUAD_L, QUAD_N, lpx);
  infb_vae_quadrature_f32(v, NPTS, X, QUAD_L, QUAD_N / 2, lpx2);
  double qmove = 0.0, gap = 0.0;
  size_t above = 0;
  for (size_t i = 0; i < NPTS; i++) {
    qmove = fmax(qmove, fabs(lpx[i] - lpx2[i]));
    if (elbo[i] > lpx[i] + 4.0 * se[i])
      above++;
    gap += (lpx[i] - elbo[i]) / NPTS;
  }
  ok(qmove < 1e-3, "the quadrature has converged (grids %d and %d differ by %.2g nats)", QUAD_N,
     QUAD_N / 2, qmove);
  is_int(0, (long long)above,
         "no point's ELBO (%d samples) exceeds its quadrature ln p(x) by 4 MC se; mean gap %.3f",
         EVAL_S, gap);
  ok(gap > 0.0 && gap < 5.0, "the mean gap ln p(x) − L[λ] = %.3f is positive and moderate", gap);
  free(elbo);
  free(se);
  free(lpx);
  free(lpx2);
  free(before);
  infb_vaemf_free(t);
  return v;
}

/* With the decoder frozen, many local steps on λ reach q*'s ELBO (infer/qstar.h). */
static void
test_frozen(infb_vae_f32 *trained, const float *X)
{
  enum { N = 20, EPOCHS = 150 };
  infb_vaemf_options o = options();
  o.train.batch = N;
  o.train.samples = 8;
  o.local_steps = 10;
  o.local_lr = 0.02;
  o.frozen_decoder = 1;
  infb_vae_f32 *v = new_vae(&o);
  size_t np;
  float *p = infb_vae_params_f32(v, &np);
  memcpy(p, infb_vae_params_f32(trained, NULL), np * sizeof *p);
  infb_vaemf *t = infb_vaemf_alloc(v, N, X, &o, 0);
  int st = GSL_SUCCESS;
  double last = NAN;
  for (size_t e = 0; e < EPOCHS && !st; e++)
    st = infb_vaemf_epoch(t, &last);
  is_int(GSL_SUCCESS, st, "frozen decoder: %d epochs of %zu local steps", EPOCHS, o.local_steps);
  ok(memcmp(p, infb_vae_params_f32(trained, NULL), np * sizeof *p) == 0,
     "frozen decoder: the parameters are unchanged");
  double el[N], se[N], qs[N], qse[N];
  elbo_points(v, N, X, infb_vaemf_mu(t), infb_vaemf_lv(t), "test/frozen", el, se);

  infb_vae_decoder *d = infb_vae_decoder_alloc(v, N * o.train.samples);
  infb_decoder ops = infb_vae_decoder_ops(d);
  infb_qstar_options qo;
  infb_qstar_options_default(&qo);
  qo.samples = 8;
  qo.lr = 1e-2;
  qo.max_steps = 5000;
  qo.eval_samples = EVAL_S;
  qo.batch_points = N;
  qo.seed = 21;
  double Xd[N * DPIX], MU[N * KLAT], LV[N * KLAT];
  for (size_t j = 0; j < N * DPIX; j++)
    Xd[j] = X[j];
  infb_qstar_point pts[N];
  st = infb_qstar_optimize(&ops, &qo, N, Xd, 0, MU, LV, pts);
  is_int(GSL_SUCCESS, st, "q* optimiser on the same %d points", N);
  double diff = 0.0, var = 0.0;
  for (size_t i = 0; i < N; i++) {
    qs[i] = pts[i].elbo;
    qse[i] = pts[i].elbo_mc_se;
    diff += (el[i] - qs[i]) / N;
    var += (se[i] * se[i] + qse[i] * qse[i]) / ((double)N * N);
  }
  diag("frozen decoder: mean L[λ] − L[q*] = %.4f, MC se %.4f (last epoch objective %.3f)", diff,
       sqrt(var), last);
  ok(fabs(diff) < 4.0 * sqrt(var),
     "the mean ELBO of λ equals q*'s within 4 MC se (%.4f, se %.4f)", diff, sqrt(var));
  infb_vae_decoder_free(d);
  infb_vaemf_free(t);
  infb_vae_free_f32(v);
}

static void
test_reproducible(const float *X)
{
  infb_vaemf_options o = options();
  infb_vae_f32 *v[2];
  infb_vaemf *t[2];
  double el[2][3];
  for (int k = 0; k < 2; k++) {
    v[k] = new_vae(&o);
    t[k] = infb_vaemf_alloc(v[k], NPTS, X, &o, 1);
    for (int e = 0; e < 3; e++)
      infb_vaemf_epoch(t[k], &el[k][e]);
  }
  size_t np;
  const float *a = infb_vae_params_f32(v[0], &np), *b = infb_vae_params_f32(v[1], NULL);
  ok(memcmp(a, b, np * sizeof *a) == 0 &&
         memcmp(infb_vaemf_mu(t[0]), infb_vaemf_mu(t[1]), NPTS * KLAT * sizeof(float)) == 0 &&
         memcmp(infb_vaemf_lv(t[0]), infb_vaemf_lv(t[1]), NPTS * KLAT * sizeof(float)) == 0 &&
         memcmp(el[0], el[1], sizeof el[0]) == 0,
     "same seed: bit-identical decoder, λ and ELBOs after 3 epochs");
  infb_vaemf_free(t[1]);
  infb_vae_free_f32(v[1]);
  o.train.seed = 8;
  v[1] = new_vae(&o);
  t[1] = infb_vaemf_alloc(v[1], NPTS, X, &o, 1);
  infb_vaemf_epoch(t[1], NULL);
  ok(memcmp(a, infb_vae_params_f32(v[1], NULL), np * sizeof *a) != 0,
     "another seed gives another decoder");
  /* Dynamic binarisation from grey levels runs and is reproducible too. */
  o = options();
  o.train.dynamic = 1;
  float *grey = malloc(NPTS * DPIX * sizeof *grey);
  for (size_t j = 0; j < NPTS * DPIX; j++)
    grey[j] = 0.1f + 0.8f * X[j];
  double d[2];
  for (int k = 0; k < 2; k++) {
    infb_vaemf_free(t[k]);
    infb_vae_free_f32(v[k]);
    v[k] = new_vae(&o);
    t[k] = infb_vaemf_alloc(v[k], NPTS, grey, &o, 1);
    infb_vaemf_epoch(t[k], &d[k]);
  }
  ok(isfinite(d[0]) && d[0] == d[1], "dynamic binarisation: finite and reproducible (%.3f)",
     d[0]);
  free(grey);
  for (int k = 0; k < 2; k++) {
    infb_vaemf_free(t[k]);
    infb_vae_free_f32(v[k]);
  }
}

/* A NaN pixel makes its minibatch's steps non-finite. */
static void
test_nonfinite(const float *X)
{
  float *Y = malloc(NPTS * DPIX * sizeof *Y);
  memcpy(Y, X, NPTS * DPIX * sizeof *Y);
  Y[5 * DPIX + 3] = NAN;
  infb_vaemf_options o = options();
  infb_vae_f32 *v = new_vae(&o);
  infb_vaemf *t = infb_vaemf_alloc(v, NPTS, Y, &o, 1);
  int st = infb_vaemf_epoch(t, NULL);
  is_int(GSL_EDOM, st, "abort: a NaN image stops the epoch");
  ok(strstr(infb_error_message(), "epoch 1, step ") &&
         strstr(infb_error_message(), "is not finite"),
     "naming the epoch and step (%s)", infb_error_message());
  is_int(0, (long long)infb_vaemf_epochs_done(t), "the aborted epoch is not counted");
  infb_vaemf_free(t);
  o.train.nonfinite = INFB_NONFINITE_SKIP;
  t = infb_vaemf_alloc(v, NPTS, Y, &o, 1);
  double el = NAN;
  st = infb_vaemf_epoch(t, &el);
  int lam0 = 1;
  for (size_t k = 0; k < KLAT; k++)
    lam0 &= infb_vaemf_mu(t)[5 * KLAT + k] == 0.0f && infb_vaemf_lv(t)[5 * KLAT + k] == 0.0f;
  ok(st == GSL_SUCCESS && infb_vaemf_skipped(t) == 1 && isfinite(el) && lam0,
     "skip: one step skipped, the ELBO finite, the NaN point's λ still at the prior");
  infb_vaemf_free(t);
  o.train.nonfinite = INFB_NONFINITE_HALVE;
  t = infb_vaemf_alloc(v, NPTS, Y, &o, 1);
  st = infb_vaemf_epoch(t, NULL);
  ok(st == GSL_SUCCESS && infb_vaemf_halvings(t) == 1 &&
         infb_vaemf_lr(t) == ldexp(o.train.lr, -1),
     "halve: one halving, the decoder's rate halved");
  infb_vaemf_free(t);
  infb_vae_free_f32(v);
  free(Y);
}

/* The gap report without an encoder: L[q] only when a q is given. */
static void
test_gapeval(infb_vae_f32 *trained, const float *X)
{
  enum { N = 6 };
  infb_vaemf_options o = options();
  infb_vae_f32 *v = new_vae(&o);
  size_t np;
  float *p = infb_vae_params_f32(v, &np);
  memcpy(p, infb_vae_params_f32(trained, NULL), np * sizeof *p);
  infb_vae_gap_options go;
  memset(&go, 0, sizeof go);
  infb_qstar_options_default(&go.qstar);
  go.qstar.samples = 4;
  go.qstar.lr = 0.05;
  go.qstar.max_steps = 300;
  go.qstar.eval_samples = 200;
  go.qstar.batch_points = N;
  go.qstar.seed = 3;
  go.q_samples = 200;
  go.iwae_k = 200;
  go.quad_L = QUAD_L;
  go.quad_n = 64;
  go.quad_tol = 1e-3;
  go.quad_max_n = 512;
  go.no_encoder = 1;
  infb_gap_report r;
  int st = infb_gapeval_vae(v, N, X, 0, &go, &r);
  is_int(GSL_SUCCESS, st, "gap report without an encoder");
  ok(!r.has_encoder && r.elbo_q.n == 0 && r.amortization_gap.n == 0 &&
         !infb_gap_report_method(&r, "iwae-encoder") && isnan(r.pts[0].elbo_q),
     "no L[q], no amortisation gap, no encoder IWAE");
  /* Converged, the quadrature is ln p(x) (exact, chosen): the gaps are taken from it, with
   * no Monte-Carlo error of its own, and the IWAE estimate (q*'s proposal only) is kept
   * beside it in the table. */
  const infb_logpx_method *mq = infb_gap_report_method(&r, "quadrature");
  const infb_logpx_method *mi = infb_gap_report_method(&r, "iwae-qstar");
  int same = r.quadrature_converged && strcmp(r.log_px_method, "quadrature") == 0 && mq && mi &&
             mq->kind == INFB_LOGPX_EXACT && mi->kind == INFB_LOGPX_LOWER;
  for (size_t i = 0; i < N && same; i++) {
    const infb_gap_point *pt = &r.pts[i];
    same = pt->log_px == pt->log_px_quadrature && isnan(pt->log_px_mc_se) &&
           pt->approximation_gap == pt->log_px_quadrature - pt->elbo_qstar &&
           mq->value[i] == pt->log_px_quadrature;
  }
  ok(r.approximation_gap.n == N && r.has_quadrature && same && isnan(r.log_px.mc_se) &&
         isfinite(r.approximation_gap.mc_se),
     "quadrature converged (grid %zu): ln p(x) is the quadrature (%.3f), gaps from it, "
     "IWAE beside it (%.3f)", r.quadrature_n, r.log_px.mean, mi ? mi->stat.mean : NAN);
  double quad = mq ? mq->stat.mean : NAN;
  infb_gap_report_free(&r);
  /* Stopped before the tolerance (no doubling allowed), IWAE stays ln p̂(x) and the
   * quadrature is a diagnostic. */
  go.quad_max_n = go.quad_n;
  st = infb_gapeval_vae(v, N, X, 0, &go, &r);
  mq = infb_gap_report_method(&r, "quadrature");
  mi = infb_gap_report_method(&r, "iwae-qstar");
  ok(st == GSL_SUCCESS && !r.quadrature_converged && strcmp(r.log_px_method, "iwae-qstar") == 0 &&
         mi && r.log_px.mean == mi->stat.mean && isfinite(r.log_px.mc_se) && mq &&
         mq->kind == INFB_LOGPX_DIAGNOSTIC && isfinite(mq->stat.mean),
     "quadrature not converged: ln p(x) is q*'s IWAE (%.3f), the quadrature (%.3f; "
     "converged %.3f) only beside it", r.log_px.mean, mq ? mq->stat.mean : NAN, quad);
  infb_gap_report_free(&r);
  go.quad_max_n = 512;
  float MU[N * KLAT], LV[N * KLAT];
  for (size_t j = 0; j < N * KLAT; j++) {
    MU[j] = 0.0f;
    LV[j] = 0.0f;
  }
  go.q_mu = MU;
  go.q_lv = LV;
  st = infb_gapeval_vae(v, N, X, 0, &go, &r);
  is_int(GSL_SUCCESS, st, "gap report with a given q (the prior)");
  /* L[prior] = E_prior ln p(x|z) is below q*'s and ln p(x) in the mean. */
  ok(r.has_encoder && r.elbo_q.n == N && r.amortization_gap.mean > 0.0 &&
         r.inference_gap.mean > r.approximation_gap.mean,
     "the given q is L[q] (%.3f < L[q*] %.3f)", r.elbo_q.mean, r.elbo_qstar.mean);
  infb_gap_report_free(&r);
  go.q_lv = NULL;
  is_int(GSL_EINVAL, infb_gapeval_vae(v, N, X, 0, &go, &r), "q_mu without q_lv is refused");
  infb_vae_free_f32(v);
}

/* Stops a gap report at its stop_at-th progress report of new points done (q* reports
 * the same count at each of its checks until another point stops). */
typedef struct stop_ctx {
  size_t calls, stop_at;
  const char *phase; /* the last report's phase and count */
  size_t done;
} stop_ctx;

static int
stop_progress(void *ctx, const char *phase, size_t done, size_t total)
{
  stop_ctx *s = ctx;
  (void)total;
  int fresh = done > 0 && (!s->phase || strcmp(phase, s->phase) != 0 || done != s->done);
  s->phase = phase;
  s->done = done;
  return fresh && ++s->calls == s->stop_at;
}

static int
count_saves(void *ctx, const infb_gap_state *state)
{
  (void)state;
  ++*(size_t *)ctx;
  return GSL_SUCCESS;
}

/* A gap report interrupted after each group in turn (L[q], q* as points stop, IWAE with
 * either proposal), then continued from the state it recorded, gives every point's numbers
 * of the uninterrupted report bit for bit (infb_gap_state); a state of another size is
 * refused. */
static void
test_gap_resume(infb_vae_f32 *v, const float *X)
{
  enum { N = 12 };
  infb_vae_gap_options go;
  memset(&go, 0, sizeof go);
  infb_qstar_options_default(&go.qstar);
  go.qstar.samples = 4;
  go.qstar.lr = 0.05;
  go.qstar.max_steps = 100;
  go.qstar.check_every = 10;
  go.qstar.eval_samples = 50;
  go.qstar.batch_points = 3;
  go.qstar.seed = 5;
  go.q_samples = 50;
  go.iwae_k = 50;
  go.quad_L = QUAD_L;
  go.quad_n = 32;
  go.quad_tol = 1e-3;
  go.quad_max_n = 32;
  go.no_encoder = 1;
  go.progress_points = 3; /* groups of 3: 4 per phase */
  float MU[N * KLAT], LV[N * KLAT];
  for (size_t j = 0; j < N * KLAT; j++) {
    MU[j] = 0.1f * (float)(j % 5);
    LV[j] = -0.2f * (float)(j % 3);
  }
  go.q_mu = MU;
  go.q_lv = LV;
  infb_gap_report ref;
  int st = infb_gapeval_vae(v, N, X, 0, &go, &ref);
  is_int(GSL_SUCCESS, st, "gap resume: the uninterrupted report");
  size_t interrupted = 0, max_saves = 0, resumed_same = 0, cases = 0;
  for (size_t k = 1; k < 100 && !st; k++) {
    infb_gap_state *s = infb_gap_state_alloc(N, KLAT);
    stop_ctx sc = {0, k, NULL, 0};
    size_t saves = 0;
    infb_vae_gap_options o = go;
    o.state = s;
    o.save = count_saves;
    o.save_ctx = &saves;
    o.progress = stop_progress;
    o.progress_ctx = &sc;
    infb_gap_report r;
    int st1 = infb_gapeval_vae(v, N, X, 0, &o, &r);
    if (st1 == GSL_SUCCESS) { /* past the last group: every interruption was tried */
      infb_gap_report_free(&r);
      infb_gap_state_free(s);
      break;
    }
    cases++;
    interrupted += st1 == INFB_EINTR;
    if (saves > max_saves)
      max_saves = saves;
    o.progress = NULL;
    st1 = infb_gapeval_vae(v, N, X, 0, &o, &r);
    int same = st1 == GSL_SUCCESS && r.n == ref.n &&
               memcmp(r.pts, ref.pts, N * sizeof *r.pts) == 0 &&
               memcmp(&r.log_px, &ref.log_px, sizeof r.log_px) == 0 &&
               memcmp(&r.elbo_q, &ref.elbo_q, sizeof r.elbo_q) == 0;
    if (!same)
      diag("interrupted at progress report %zu: the continued report differs", k);
    resumed_same += same;
    infb_gap_report_free(&r);
    infb_gap_state_free(s);
  }
  ok(cases >= 16 && interrupted == cases,
     "gap resume: interrupted at each of %zu progress reports (at least 4 + 4 + 4 + 4 groups)",
     cases);
  is_int(16, (long long)max_saves,
         "gap resume: the state is saved after each of the 16 groups (L[q], q*, IWAE, IWAE: 4 "
         "each)");
  is_int((long long)cases, (long long)resumed_same,
         "gap resume: every continued report equals the uninterrupted one bit for bit");
  /* A complete state: nothing is redone (no group saved), the numbers are the same. */
  infb_gap_state *s = infb_gap_state_alloc(N, KLAT);
  size_t saves = 0;
  infb_gap_report r;
  go.state = s;
  go.save = count_saves;
  go.save_ctx = &saves;
  st = infb_gapeval_vae(v, N, X, 0, &go, &r);
  infb_gap_report_free(&r);
  size_t first = saves;
  saves = 0;
  st = st ? st : infb_gapeval_vae(v, N, X, 0, &go, &r);
  ok(st == GSL_SUCCESS && first == 16 && saves == 0 &&
         memcmp(r.pts, ref.pts, N * sizeof *r.pts) == 0,
     "gap resume: from a complete state no group runs again (%zu saves, then %zu)", first,
     saves);
  infb_gap_report_free(&r);
  infb_gap_state_free(s);
  go.save = NULL;
  s = infb_gap_state_alloc(N + 1, KLAT);
  go.state = s;
  is_int(GSL_EBADLEN, infb_gapeval_vae(v, N, X, 0, &go, &r),
         "gap resume: a state of another number of points is refused");
  infb_gap_state_free(s);
  infb_gap_report_free(&ref);
}

/* The decoder adapter's bound points (infb_vae_decoder_bind): the Monte-Carlo ELBO and
 * q* read in place equal the unbound adapter's, which converts its double rows; a row
 * naming a point beyond the bound ones is refused. */
static void
test_bind(infb_vae_f32 *v, const float *X)
{
  enum { NB = 7 };
  infb_vae_decoder *d = infb_vae_decoder_alloc(v, 40);
  infb_decoder ops = infb_vae_decoder_ops(d);
  double Xd[NB * DPIX], M[NB * KLAT] = {0}, L[NB * KLAT] = {0}, M2[NB * KLAT], L2[NB * KLAT];
  double e1[NB], s1[NB], e2[NB], s2[NB];
  for (size_t j = 0; j < NB * DPIX; j++)
    Xd[j] = X[j];
  infb_qstar_options qo;
  infb_qstar_options_default(&qo);
  qo.samples = 3;
  qo.max_steps = 30;
  qo.eval_samples = 20;
  qo.batch_points = 3;
  infb_qstar_point p1[NB], p2[NB];
  int st = infb_qstar_elbo_mc(&ops, NB, Xd, M, L, 30, 5, "test/bind", 0, e1, s1);
  st |= infb_qstar_optimize(&ops, &qo, NB, Xd, 0, M2, L2, p1);
  infb_vae_decoder_bind(d, NB, X);
  st |= infb_qstar_elbo_mc(&ops, NB, Xd, M, L, 30, 5, "test/bind", 0, e2, s2);
  int same = st == GSL_SUCCESS;
  for (size_t i = 0; i < NB; i++)
    same &= e1[i] == e2[i] && s1[i] == s2[i];
  double M3[NB * KLAT], L3[NB * KLAT];
  same &= infb_qstar_optimize(&ops, &qo, NB, Xd, 0, M3, L3, p2) == GSL_SUCCESS;
  for (size_t i = 0; i < NB; i++)
    same &= p1[i].elbo == p2[i].elbo && p1[i].steps == p2[i].steps;
  for (size_t q = 0; q < NB * KLAT; q++)
    same &= M2[q] == M3[q] && L2[q] == L3[q];
  ok(same, "decoder bound to the float points: MC ELBO and q* equal the unbound adapter's");
  infb_vae_decoder_bind(d, NB - 1, X); /* one point short */
  st = infb_qstar_elbo_mc(&ops, NB, Xd, M, L, 30, 5, "test/bind", 0, e2, s2);
  ok(st == GSL_EBADLEN && strstr(infb_error_message(), "names point 6 of 6") != NULL,
     "a row naming a point beyond the bound ones: GSL_EBADLEN (%s)", infb_error_message());
  infb_vae_decoder_free(d);
}

/* The adapter is a snapshot of the decoder (its forward reads a transposed copy of the
 * weights taken at alloc): it gives the decoder's own ln p(x|z) and dz; after a change of
 * the weights its forward still reads the old ones until infb_vae_decoder_refresh, and
 * then gives the decoder's new values. */
static void
test_snapshot(const float *X)
{
  enum { NR = 5 };
  infb_vaemf_options o = options();
  infb_vae_f32 *v = new_vae(&o);
  gsl_rng *r = infb_rng_stream(3, "test/snapshot", 0);
  infb_vae_init_f32(v, r);
  infb_vae_decoder *d = infb_vae_decoder_alloc(v, 40);
  infb_decoder ops = infb_vae_decoder_ops(d);
  double Xd[NR * DPIX], Z[NR * KLAT], lp[NR], G[NR * KLAT];
  float Zf[NR * KLAT], Gf[NR * KLAT];
  double lpf[NR];
  size_t xrow[NR];
  for (size_t j = 0; j < NR * DPIX; j++)
    Xd[j] = X[j];
  for (size_t j = 0; j < NR * KLAT; j++)
    Zf[j] = (float)(Z[j] = gsl_ran_gaussian(r, 1.0));
  for (size_t j = 0; j < NR; j++)
    xrow[j] = NR - 1 - j;
  /* |a − b| within float rounding of sums of a few hundred terms */
#define CLOSE(a, b) (fabs((a) - (b)) <= 1e-4 * (1.0 + fabs(b)))
  int st = ops.fn(ops.self, NR, Xd, xrow, Z, lp, G);
  st |= infb_vae_decoder_loglik_rows_f32(v, NR, X, xrow, Zf, lpf, Gf);
  int same = st == 0;
  for (size_t j = 0; j < NR; j++)
    same &= CLOSE(lp[j], lpf[j]);
  for (size_t j = 0; j < NR * KLAT; j++)
    same &= CLOSE(G[j], Gf[j]);
  /* New weights: every parameter scaled by 1.5. */
  size_t np = 0;
  float *P = infb_vae_params_f32(v, &np);
  for (size_t j = 0; j < np; j++)
    P[j] *= 1.5f;
  st = ops.fn(ops.self, NR, Xd, xrow, Z, lp, NULL);
  st |= infb_vae_decoder_loglik_rows_f32(v, NR, X, xrow, Zf, lpf, Gf);
  int stale = st == 0;
  for (size_t j = 0; j < NR; j++)
    stale &= !CLOSE(lp[j], lpf[j]);
  infb_vae_decoder_refresh(d);
  st = ops.fn(ops.self, NR, Xd, xrow, Z, lp, G);
  int fresh = st == 0;
  for (size_t j = 0; j < NR; j++)
    fresh &= CLOSE(lp[j], lpf[j]);
  for (size_t j = 0; j < NR * KLAT; j++)
    fresh &= CLOSE(G[j], Gf[j]);
#undef CLOSE
  ok(same && stale && fresh,
     "decoder adapter: the decoder's ln p(x|z) and dz; a snapshot until refreshed, then the "
     "new weights' values");
  infb_vae_decoder_free(d);
  infb_vae_free_f32(v);
  gsl_rng_free(r);
}

/* q* through the VAE's decoder adapter is bit-identical on 1, 2 and 3 threads (issue "any
 * machine" §4: it differed on 16-24 of 29 points by up to 5e-7 nats): a 3-part network
 * of the protocol's width (784 pixels, 200 hidden: a part's rows × 784 × 200 are above
 * OpenBLAS's small-matrix bound, so gemm blocking engages when on), points stopping at
 * different steps so that the rows per call shrink, gemm blocking on and off. */
static void
test_qstar_threads(void)
{
  enum { NQ = 24, DQ = 784, KQ = 3, HQ = 200 };
  infb_vae_arch a;
  memset(&a, 0, sizeof a);
  a.D = DQ;
  a.K = KQ;
  a.ndec = 1;
  a.dec_hidden[0] = HQ;
  a.act = INFB_ACT_ELU;
  infb_qstar_options qo;
  infb_qstar_options_default(&qo);
  qo.samples = 4;
  qo.lr = 0.05;
  qo.max_steps = 60;
  qo.check_every = 5;
  qo.patience = 1;
  qo.eval_samples = 20;
  qo.batch_points = 12;
  qo.seed = 11;
  infb_vae_f32 *v = infb_vae_alloc_f32(&a, qo.batch_points, qo.samples);
  gsl_rng *r = infb_rng_stream(5, "test/qstar-threads", 0);
  float *Xf = malloc(NQ * DQ * sizeof *Xf);
  double *Xd = malloc(NQ * DQ * sizeof *Xd);
  double M1[NQ * KQ], L1[NQ * KQ], M[NQ * KQ], L[NQ * KQ];
  infb_qstar_point p1[NQ], p[NQ];
  int st = !v || !Xf || !Xd || infb_vae_init_f32(v, r) || infb_vae_set_parts_f32(v, 3);
  for (size_t j = 0; !st && j < (size_t)NQ * DQ; j++)
    Xd[j] = Xf[j] = gsl_rng_uniform(r) < 0.3 ? 1.0f : 0.0f;
  int threads = infb_blas_threads();
  infb_blas_set_threads(1);
  for (int b = 0; b < 2; b++) {
    infb_blas_set_blocking(b ? 32 : 0, b ? 128 : 0);
    /* a part's rows: 12 points / 3 parts × 4 samples */
    int engaged = b == infb_blas_blocks(0, 0, 16, DQ, HQ);
    int same = !st, stops = 1;
    for (size_t T = 1; !st && T <= 3; T++) {
      infb_vae_decoder *d = infb_vae_decoder_alloc(v, qo.batch_points * qo.samples);
      infb_decoder ops = d ? infb_vae_decoder_ops(d) : (infb_decoder){0};
      qo.threads = T;
      same &= d && infb_vae_set_run_threads_f32(v, T) == GSL_SUCCESS &&
              infb_qstar_optimize(&ops, &qo, NQ, Xd, 0, T == 1 ? M1 : M, T == 1 ? L1 : L,
                                  T == 1 ? p1 : p) == GSL_SUCCESS;
      infb_vae_decoder_free(d);
      if (T == 1) {
        size_t lo = p1[0].steps, hi = p1[0].steps;
        for (size_t i = 1; i < NQ; i++) {
          lo = p1[i].steps < lo ? p1[i].steps : lo;
          hi = p1[i].steps > hi ? p1[i].steps : hi;
        }
        stops = lo < hi;
        continue;
      }
      for (size_t i = 0; i < NQ; i++)
        same &= p[i].elbo == p1[i].elbo && p[i].elbo_mc_se == p1[i].elbo_mc_se &&
                p[i].steps == p1[i].steps && p[i].stop == p1[i].stop;
      for (size_t q = 0; q < (size_t)NQ * KQ; q++)
        same &= M[q] == M1[q] && L[q] == L1[q];
    }
    ok(same && engaged && stops,
       "q* through the VAE adapter (3 parts, 24 points stopping at different steps), gemm "
       "blocking %s: 2 and 3 threads equal 1 thread bit for bit", b ? "on" : "off");
  }
  infb_blas_set_blocking(0, 0);
  infb_blas_set_threads(threads);
  infb_vae_free_f32(v);
  gsl_rng_free(r);
  free(Xf);
  free(Xd);
}

int
main(void)
{
  plan(62);
  float *X = malloc(NPTS * DPIX * sizeof *X);
  make_data(X);
  test_decoder_train_fd();
  test_decode();
  test_local_grad();
  test_options(X);
  infb_vae_f32 *v = test_training(X);
  test_frozen(v, X);
  test_reproducible(X);
  test_nonfinite(X);
  test_gapeval(v, X);
  test_gap_resume(v, X);
  test_bind(v, X);
  test_snapshot(X);
  test_qstar_threads();
  infb_vae_free_f32(v);
  free(X);
  return test_done();
}
